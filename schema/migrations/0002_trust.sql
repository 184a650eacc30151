-- 0002_trust.sql: enrolment tokens, issued certificates, facility names, node revocation and the hash-chained
-- audit log (the hub's "Trust" tables; an agent's store has them too, empty). Applied in one transaction by the
-- store after 0001; PRAGMA user_version becomes 2.
--
-- New meta keys:
--   hub_url        agent: the hub's URL, from the enrolment token (used when no hub_url is configured)
--   audit_head     hub: "<id> <sha256 hex>" of the last audit entry, written in the same transaction as it

-- enroll_tokens (hub): one-time enrolment tokens. Only the SHA-256 of the token's secret is kept: the store
-- cannot give a token away. A token is used once (used_ms set in the transaction that issues the certificate).
--   hash          SHA-256 of the secret (32 bytes); what the agent sends is hashed and looked up here
--   facility      the facility the node will belong to (the certificate's OU comes from here, never from a request)
--   facility_name the operator's name for it, e.g. 光が丘小学校 (informational)
--   hub_url       the URL written into the token
--   created_ms    when it was issued (Unix ms)
--   expires_ms    after this instant it is refused (Unix ms, hub clock)
--   created_by    the operator who issued it ("operator:alice")
--   used_ms       when it was used; NULL while unused
--   used_by       the node id that enrolled with it; NULL while unused
--   cert_serial   the serial of the certificate issued with it; NULL while unused
CREATE TABLE enroll_tokens (
  hash          BLOB PRIMARY KEY,
  facility      TEXT NOT NULL,
  facility_name TEXT NOT NULL DEFAULT '',
  hub_url       TEXT NOT NULL DEFAULT '',
  created_ms    INTEGER NOT NULL,
  expires_ms    INTEGER NOT NULL,
  created_by    TEXT NOT NULL DEFAULT '',
  used_ms       INTEGER,
  used_by       TEXT,
  cert_serial   TEXT
) WITHOUT ROWID;
CREATE INDEX enroll_tokens_live ON enroll_tokens(used_ms, expires_ms);

-- facilities (hub): the operator's names for facility ids (set by enroll-token --name).
--   facility   facility id ([a-z0-9._-]{1,64})
--   name       display name, any UTF-8 text
CREATE TABLE facilities (
  facility TEXT PRIMARY KEY,
  name     TEXT NOT NULL
) WITHOUT ROWID;

-- certs (hub): every node certificate this hub issued through enrolment or renewal.
--   serial      lower-case hex, no leading zero byte (as tls.h prints it)
--   node        the certificate's CN
--   facility    the certificate's OU
--   not_before  validity start (Unix seconds)
--   not_after   validity end (Unix seconds)
--   issued_ms   when it was issued (Unix ms)
--   how         'enrol' or 'renew'
--   pem         the certificate (PEM), so that an enrolment whose answer was lost can be answered again
--   revoked_ms  when it was revoked; NULL if not
CREATE TABLE certs (
  serial     TEXT PRIMARY KEY,
  node       TEXT NOT NULL,
  facility   TEXT NOT NULL,
  not_before INTEGER NOT NULL,
  not_after  INTEGER NOT NULL,
  issued_ms  INTEGER NOT NULL,
  how        TEXT NOT NULL,
  pem        TEXT NOT NULL,
  revoked_ms INTEGER
) WITHOUT ROWID;
CREATE INDEX certs_node ON certs(node);

-- nodes (hub), new columns. A revoked node (revoked = 1) is refused at the TLS handshake whatever
-- certificate it presents, and its open connections are closed.
--   cert_not_after   expiry (Unix seconds) of cert_serial, the certificate last issued or last seen in use
--   enrolled_ms      when the node enrolled (Unix ms); NULL for nodes that never enrolled (manual certificates,
--                    change-set files)
--   contact_ms       the node's last successful sync (Unix ms), even one that carried no changes
--   outbox_pending   changes the node said were still waiting in its outbox after its last sync request;
--                    NULL if it never said
--   revoked_ms       when the operator revoked it (Unix ms); NULL if not revoked
--   revoke_reason    the operator's reason, free text
ALTER TABLE nodes ADD COLUMN cert_not_after INTEGER;
ALTER TABLE nodes ADD COLUMN enrolled_ms INTEGER;
ALTER TABLE nodes ADD COLUMN contact_ms INTEGER;
ALTER TABLE nodes ADD COLUMN outbox_pending INTEGER;
ALTER TABLE nodes ADD COLUMN revoked_ms INTEGER;
ALTER TABLE nodes ADD COLUMN revoke_reason TEXT;

-- audit_log (hub): append-only, hash-chained record of what was done: enrolments, renewals, revocations,
-- operator actions and commands, exports of review material. Rows are never updated or deleted by kiroku.
--   id         1, 2, 3, ... without gaps
--   ts_ms      when (Unix ms, hub clock)
--   actor      who: "operator:<user>", "node:<id>", "hub"
--   action     what, a dotted word: "node.enrol", "node.revoke", "token.issue", "incident.triage", ...
--   detail     the particulars as text (ids, values, addresses)
--   prev_hash  hash of entry id-1 (32 zero bytes for entry 1)
--   hash       SHA-256 over "kiroku-audit-v1" NUL, id (8 bytes big-endian), ts_ms (8 bytes big-endian),
--              then actor, action and detail each as a 4-byte big-endian length and its UTF-8 bytes, then
--              prev_hash (32 bytes) - see shared/src/audit.c
CREATE TABLE audit_log (
  id        INTEGER PRIMARY KEY,
  ts_ms     INTEGER NOT NULL,
  actor     TEXT NOT NULL,
  action    TEXT NOT NULL,
  detail    TEXT NOT NULL,
  prev_hash BLOB NOT NULL,
  hash      BLOB NOT NULL
);
