/* store_int.h: the store's insides, shared by store.c, state.c, record.c, merge.c, exchange.c and checkpoint.c only. */
#ifndef KR_STORE_INT_H
#define KR_STORE_INT_H

#include <sqlite3.h>

#include "kiroku/store.h"

enum kr_stmt_id {
	STMT_META_GET,
	STMT_META_SET,
	STMT_REC_GET,
	STMT_REC_PUT,
	STMT_OUTBOX_ADD,
	STMT_JOURNAL_ADD,
	STMT_APPLIED_ADD,
	STMT_NODE_GET,
	STMT_NODE_PUT,
	STMT_COUNT
};

struct kr_store {
	sqlite3 *db;
	char *path;
	enum kr_role role;
	char node[KR_ID_MAX + 1];
	char facility[KR_ID_MAX + 1];
	struct kr_catalogue *cat;
	sqlite3_stmt *stmt[STMT_COUNT];
	int txn_depth;      /* >0 while a caller's kr_store_begin is open */
	uint64_t hlc;       /* the clock, as last saved or advanced in the open transaction */
	uint64_t last_seq;  /* this node's last change number */
	struct kr_checkpointer *ckpt; /* checkpoint.c: takes this connection's checkpoints, or NULL (SQLite's own) */
};

/* Translates a SQLite failure: "what: SQLite <code> (<message>)". Disk full and I/O errors map to
 * KR_ERR_IO with a hint to free space. */
kr_status kr_store_fail(struct kr_store *st, struct kr_error *err, int rc, const char *what);

/* checkpoint.c. adopt: when a checkpointer runs in this process for st's file, hands it st's checkpoints
 * (store_open). detach: gives them back to SQLite and drops st's hold on the checkpointer (kr_store_close). */
void kr_checkpointer_adopt(struct kr_store *st);
void kr_checkpointer_detach(struct kr_store *st);

/* A transaction that joins the caller's if one is open. */
kr_status kr_txn_begin(struct kr_store *st, struct kr_error *err);
kr_status kr_txn_commit(struct kr_store *st, struct kr_error *err);
void kr_txn_rollback(struct kr_store *st);

/* Saves st->hlc and st->last_seq in meta (inside the open transaction). */
kr_status kr_store_save_clock(struct kr_store *st, struct kr_error *err);

/* Record state <-> row. state.c. */
kr_status kr_state_decode(const uint8_t *blob, size_t len, struct kr_record *rec, struct kr_error *err);
kr_status kr_state_encode(const struct kr_record *rec, struct kr_buf *out, struct kr_error *err);
kr_status kr_state_json(const struct kr_record *rec, struct kr_buf *out, struct kr_error *err);
/* Loads the record row into rec (arena initialised by the caller); KR_ERR_NOT_FOUND if absent. */
kr_status kr_state_load(struct kr_store *st, const kr_ulid *id, struct kr_record *rec, struct kr_error *err);
/* Writes rec back (insert or replace). */
kr_status kr_state_save(struct kr_store *st, const struct kr_record *rec, struct kr_buf *scratch,
			struct kr_error *err);

/* Applies one change to rec in memory: per-field last-writer-wins. When conflicts is non-NULL (the
 * hub), fills it with the conflicts the change makes. merge.c. */
struct kr_conflict {
	const char *field;
	bool is_delete;              /* an edit and a delete that did not see each other */
	struct kr_value winner_value, loser_value;
	struct kr_version winner, loser;
};
struct kr_conflicts {
	size_t n, cap;
	struct kr_conflict *v;
};
kr_status kr_apply_change(struct kr_record *rec, const struct kr_change *c, struct kr_conflicts *conflicts,
			  struct kr_error *err);

/* Appends a change made here to the outbox (agent) or the journal (hub), with its own encoding. */
kr_status kr_log_own_change(struct kr_store *st, const struct kr_change *c, struct kr_buf *scratch,
			    struct kr_error *err);

#endif
