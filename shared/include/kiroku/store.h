/* store.h: the local SQLite store of an agent or the hub, local writes, the merge, and the exchange.
 *
 * A store is one SQLite file in WAL mode with synchronous=FULL: a committed transaction survives kill -9
 * and power loss. It holds the records (each field's value with its HLC version and the base its writer
 * saw), this node's outbox, the journal (hub) or the applied-change index (agent), and the nodes (hub).
 * One struct kr_store is used by one thread at a time; open several for parallel readers.
 *
 * Every function here that writes does so in one transaction: on error nothing is written.
 */
#ifndef KR_STORE_H
#define KR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiroku/catalogue.h"
#include "kiroku/changeset.h"
#include "kiroku/error.h"
#include "kiroku/ids.h"

typedef struct sqlite3 sqlite3;
struct kr_store;

enum kr_role {
	KR_ROLE_AGENT = 1,
	KR_ROLE_HUB = 2,
};

#define KR_SCHEMA_VERSION 4     /* number of the newest migration under schema/migrations */
#define KR_APPLICATION_ID 0x4B52524B

/* Creates a new store at path for this node (role, node id, facility: the agent's, NULL at the hub)
 * with the built-in catalogue. Refuses (KR_ERR_IO) if the file exists. On error no file is left. */
kr_status kr_store_create(const char *path, enum kr_role role, const char *node, const char *facility,
			  struct kr_error *err);

/* Opens an existing store, applying newer migrations. Refuses a file that is not a kiroku store
 * (KR_ERR_NOT_STORE) or one written by a newer kiroku (KR_ERR_TOO_NEW) without writing to it. */
kr_status kr_store_open(const char *path, struct kr_store **out, struct kr_error *err);
void kr_store_close(struct kr_store *st);

enum kr_role kr_store_role(const struct kr_store *st);
const char *kr_store_node(const struct kr_store *st);
const char *kr_store_facility(const struct kr_store *st); /* "" at the hub */
const struct kr_catalogue *kr_store_catalogue(const struct kr_store *st);
sqlite3 *kr_store_db(struct kr_store *st);

/* Explicit transactions, for callers that group many writes (bench, bulk import). The functions below
 * join an open transaction instead of starting their own. */
kr_status kr_store_begin(struct kr_store *st, struct kr_error *err);
kr_status kr_store_commit(struct kr_store *st, struct kr_error *err);
void kr_store_rollback(struct kr_store *st);

/* meta values (see schema/migrations/0001_initial.sql). */
uint64_t kr_store_meta_u64(struct kr_store *st, const char *key);
kr_status kr_store_meta_set_u64(struct kr_store *st, const char *key, uint64_t v, struct kr_error *err);
/* Text meta values: copies the value of key into out (at most n-1 bytes, NUL-terminated); KR_ERR_NOT_FOUND
 * (out "") when there is none. The setter writes in its own transaction unless one is open. */
kr_status kr_store_meta_text(struct kr_store *st, const char *key, char *out, size_t n);
kr_status kr_store_meta_set_text(struct kr_store *st, const char *key, const char *value, struct kr_error *err);

/* ---- Local writes: staff at a facility (agent), or the operator at the hub ---- */

struct kr_field_text {
	const char *name;
	const char *text; /* as typed; "" clears the field */
};

#define KR_WRITE_OPERATOR 1u /* hub only: operator-only fields may be written */

/* Validates the fields against the catalogue, stamps them with one HLC tick, applies them to the
 * record and appends the change to the outbox (agent) or journal (hub). facility NULL means the
 * node's own. On error nothing is written and err names the field and the reason. */
kr_status kr_record_create(struct kr_store *st, const char *kind, const char *facility,
			   const struct kr_field_text *fields, size_t n, unsigned flags, kr_ulid *out_id,
			   struct kr_error *err);
kr_status kr_record_edit(struct kr_store *st, const kr_ulid *id, const struct kr_field_text *fields, size_t n,
			 unsigned flags, struct kr_error *err);
kr_status kr_record_delete(struct kr_store *st, const kr_ulid *id, unsigned flags, struct kr_error *err);

/* Writes typed values as one change of this node (used by the above and by hub-side writers such as
 * conflict resolution). No catalogue check: callers validate. */
kr_status kr_record_write(struct kr_store *st, const kr_ulid *id, const char *kind, const char *facility,
			  const struct kr_write *writes, size_t n, bool is_delete, struct kr_error *err);

/* ---- Reading ---- */

struct kr_field_state {
	const char *name;
	struct kr_value value;
	struct kr_version version; /* who wrote the value, when */
	struct kr_version base;    /* the version its writer saw */
};

struct kr_record {
	kr_ulid id;
	const char *kind;
	const char *facility;
	bool deleted;
	uint64_t created_hlc, updated_hlc;
	size_t nfields;
	struct kr_field_state *fields; /* sorted by name */
	struct kr_arena arena;         /* owns the strings and arrays above */
};

/* Loads one record; KR_ERR_NOT_FOUND if absent. Release with kr_record_release in every case. */
kr_status kr_record_get(struct kr_store *st, const kr_ulid *id, struct kr_record *rec, struct kr_error *err);
void kr_record_release(struct kr_record *rec);
/* The field's state, or NULL. */
const struct kr_field_state *kr_record_field(const struct kr_record *rec, const char *name);

struct kr_list_filter {
	const char *kind;       /* NULL: every kind except system kinds */
	const char *facility;   /* NULL: any */
	const char *status;     /* NULL: any; else the "status" field must equal it */
	const char *from, *to;  /* period on the record's date ("occurred_at", "handled_at", ... the kind's
	                           first date/datetime field), inclusive, "YYYY-MM-DD"; NULL: open */
	bool include_deleted;
	bool system;            /* include system kinds ("_conflict") */
};

typedef kr_status (*kr_record_fn)(void *ctx, const struct kr_record *rec, struct kr_error *err);
/* Calls fn for each matching record in id (creation) order; stops at the first error fn returns. */
kr_status kr_record_list(struct kr_store *st, const struct kr_list_filter *f, kr_record_fn fn, void *ctx,
			 struct kr_error *err);

/* ---- Merge: apply a change-set from elsewhere ---- */

struct kr_merge_opts {
	/* Hub: who sent the set, as established by the transport (the client certificate) or by the
	 * operator (a file carried in). The set's sender must be this node, and its changes this facility. */
	const char *peer_node;
	const char *peer_facility;
	/* Test hook: milliseconds to sleep after the commit (widens the kill -9 window). */
	unsigned sleep_after_commit_ms;
	/* Test hook: milliseconds to sleep inside the hub's transaction, after the merge and before the commit
	 * (widens the kill -9 window in the merge). */
	unsigned sleep_before_commit_ms;
	/* Agent, kr_sync_recover: the set answers a recover request. Its ack of this node is reported in
	 * res->acked and does not trim the outbox (the store may be older than the hub's view of it). */
	bool recover;
};

struct kr_merge_result {
	size_t applied;     /* changes applied */
	size_t skipped;     /* changes already applied before (replays) */
	size_t conflicts;   /* conflict entries opened (hub) */
	uint64_t acked;     /* hub: the sender's high-water mark after the merge; agent with opts->recover: the
	                       hub's ack of this node in the set (0 if none) */
	uint64_t cursor;    /* agent: the hub-journal position after the merge */
	int64_t skew_ms;    /* hub: how far the sender's newest HLC runs ahead of the hub's clock */
};

/* Applies a decoded change-set in one durable transaction: all or nothing.
 * Hub: each (origin, seq) at most once, a gap refused (KR_ERR_GAP, err->expected), another facility or
 * an operator-only field refused (KR_ERR_FORBIDDEN), invalid values refused (KR_ERR_INVALID); conflicts
 * become "_conflict" records of the hub. Agent: the set must continue from the agent's cursor
 * (KR_ERR_GAP otherwise); last writer wins by (HLC, node); acks trim the outbox. */
kr_status kr_merge(struct kr_store *st, const struct kr_changeset *cs, const struct kr_merge_opts *opts,
		   struct kr_merge_result *res, struct kr_error *err);

/* ---- The exchange ---- */

/* Agent: the next change-set to send: the oldest outbox changes up to lim (count and bytes), with
 * since = the agent's cursor. *nchanges 0: the outbox is empty (the set still carries since, so the hub
 * can answer with its changes). out gets the encoding appended. Reads only. */
kr_status kr_outbox_batch(struct kr_store *st, const struct kr_limits *lim, struct kr_buf *out, size_t *nchanges,
			  struct kr_error *err);
/* Agent: the hub has committed own changes 1..acked: drop them from the outbox. */
kr_status kr_outbox_ack(struct kr_store *st, uint64_t acked, struct kr_error *err);

/* Hub: the changes for facility after journal position since, excluding those whose origin is
 * exclude_node (may be NULL), up to lim, with the facility's nodes' acks (or only exclude_node's ack
 * when given). Reads only. */
kr_status kr_hub_export(struct kr_store *st, const char *facility, const char *exclude_node, uint64_t since,
			const struct kr_limits *lim, struct kr_buf *out, size_t *nchanges, bool *more,
			struct kr_error *err);

struct kr_store_status {
	uint64_t outbox_changes;  /* agent: changes waiting to be sent */
	uint64_t outbox_bytes;
	uint64_t last_seq;        /* this node's last change number */
	uint64_t acked;           /* agent: own changes the hub has committed */
	uint64_t cursor;          /* agent: hub-journal position applied */
	uint64_t last_sync_ms;    /* agent: 0 = never */
	uint64_t records;         /* records, not counting deleted and system ones */
	uint64_t conflicts_open;  /* open conflict entries */
};
kr_status kr_store_status(struct kr_store *st, struct kr_store_status *s, struct kr_error *err);

/* Checks the store's structure (PRAGMA quick_check). KR_ERR_STORE with what SQLite found and what to do
 * (restore a backup) when it is damaged. Reads the whole file: call it at the start of a long-running
 * process, not on every command. */
kr_status kr_store_check(struct kr_store *st, struct kr_error *err);

/* Writes a consistent copy of the store to path (which must not exist) with SQLite's online backup, while
 * other connections go on writing, then verifies the copy with PRAGMA integrity_check. The copy is mode
 * 0600. On error no file is left at path. */
kr_status kr_store_backup(struct kr_store *st, const char *path, struct kr_error *err);

/* A canonical text dump of the records of facility (NULL: all), for comparing replicas: one line per
 * record and field, sorted, with values and versions. Appended to out. */
kr_status kr_store_dump(struct kr_store *st, const char *facility, struct kr_buf *out, struct kr_error *err);

#endif
