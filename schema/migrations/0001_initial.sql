-- 0001_initial.sql: the first kiroku store schema (agent and hub share one schema; the role decides
-- which tables fill up). Applied in one transaction by the store; PRAGMA user_version records the number
-- of the last migration applied and PRAGMA application_id (0x4B52524B, "KRRK") marks a kiroku store.

-- meta: one value per key.
--   role           'agent' or 'hub'
--   node           this node's id ([a-z0-9._-]{1,64})
--   facility       the agent's facility (empty at the hub)
--   hlc            the last hybrid-logical-clock value this node issued or received
--   last_seq       this node's last change sequence number (1, 2, 3, ...)
--   acked          agent: the highest own sequence number the hub has committed
--   cursor         agent: the hub-journal position up to which hub changes are applied
--   last_sync_ms   agent: wall-clock time of the last successful exchange with the hub
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

-- catalogue: the record-kind catalogue text (schema/catalogue.ini) in force, by version.
CREATE TABLE catalogue (
  version INTEGER PRIMARY KEY,
  text    TEXT NOT NULL
);

-- records: the merged current state, one row per record.
--   id          16-byte ULID
--   kind        catalogue kind ('incident', ...) or a system kind ('_conflict')
--   facility    owning facility id
--   deleted     1 once the "_deleted" field holds true
--   created_hlc HLC of the record's first change seen here
--   updated_hlc the largest field-version HLC
--   state       CBOR: array of [field tstr, value, hlc uint, node tstr, base_hlc uint, base_node tstr / null],
--               one entry per field (the per-field clocks live here)
--   fields      JSON object field -> value (derived from state, for queries with SQLite's JSON functions)
CREATE TABLE records (
  id          BLOB PRIMARY KEY,
  kind        TEXT NOT NULL,
  facility    TEXT NOT NULL,
  deleted     INTEGER NOT NULL DEFAULT 0,
  created_hlc INTEGER NOT NULL,
  updated_hlc INTEGER NOT NULL,
  state       BLOB NOT NULL,
  fields      TEXT NOT NULL
);
CREATE INDEX records_kind ON records(kind, facility);

-- outbox: this node's own changes not yet acknowledged by the hub, numbered 1, 2, 3, ... per node.
--   change   the change's CBOR encoding (schema/changeset.cddl), sent byte for byte
CREATE TABLE outbox (
  seq    INTEGER PRIMARY KEY,
  change BLOB NOT NULL
);

-- journal (hub): every change-set accepted, in commit order. id is the hub sequence ("cursor") agents
-- follow; changes holds the encoded changes back to back (origin's seqs first_seq..last_seq).
CREATE TABLE journal (
  id        INTEGER PRIMARY KEY,
  facility  TEXT NOT NULL,
  origin    TEXT NOT NULL,
  first_seq INTEGER NOT NULL,
  last_seq  INTEGER NOT NULL,
  n         INTEGER NOT NULL,
  changes   BLOB NOT NULL
);
CREATE INDEX journal_facility ON journal(facility, id);

-- applied (agent): remote changes applied here, so a change delivered twice is applied once.
CREATE TABLE applied (
  origin TEXT NOT NULL,
  seq    INTEGER NOT NULL,
  PRIMARY KEY (origin, seq)
) WITHOUT ROWID;

-- nodes (hub): every node that has sent changes. last_seq is the high-water mark: the hub has
-- committed the node's changes 1..last_seq. skew_ms: how far the node's clock ran ahead of the hub's
-- (negative: behind) at its last exchange.
CREATE TABLE nodes (
  node         TEXT PRIMARY KEY,
  facility     TEXT NOT NULL,
  last_seq     INTEGER NOT NULL DEFAULT 0,
  last_seen_ms INTEGER NOT NULL DEFAULT 0,
  skew_ms      INTEGER NOT NULL DEFAULT 0,
  cert_serial  TEXT,
  revoked      INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
