/* exchange.c: the two halves of the sync exchange: the agent's next outbox batch, and the hub's
 * changes for a facility since a journal position. Both read in bounded batches and encode as they read. */
#include "store_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

kr_status kr_outbox_batch(struct kr_store *st, const struct kr_limits *lim, struct kr_buf *out, size_t *nchanges,
			  struct kr_error *err)
{
	struct kr_changeset cs;
	struct kr_buf raw;
	sqlite3_stmt *q;
	size_t n = 0;
	kr_status s = KR_OK;
	int rc;

	*nchanges = 0;
	rc = sqlite3_prepare_v2(st->db, "SELECT change FROM outbox ORDER BY seq LIMIT ?1", -1, &q, NULL);
	if (rc != SQLITE_OK)
		return kr_store_fail(st, err, rc, "reading the outbox");
	sqlite3_bind_int64(q, 1, (sqlite3_int64)lim->max_changes);
	kr_buf_init(&raw, 0);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		size_t len = (size_t)sqlite3_column_bytes(q, 0);
		/* Leave room for the envelope (well under 1 KiB). */
		if (n > 0 && raw.len + len + 1024 > lim->max_bytes)
			break;
		if ((s = kr_buf_append(&raw, sqlite3_column_blob(q, 0), len))) {
			kr_fail(err, s, "reading the outbox: %s", kr_status_name(s));
			break;
		}
		n++;
	}
	if (!s && rc != SQLITE_ROW && rc != SQLITE_DONE)
		s = kr_store_fail(st, err, rc, "reading the outbox");
	sqlite3_finalize(q);
	if (!s) {
		memset(&cs, 0, sizeof cs);
		cs.format = KR_FORMAT_VERSION;
		cs.sender = st->node;
		cs.facility = st->facility;
		cs.has_since = true;
		cs.since = kr_store_meta_u64(st, "cursor");
		cs.catalogue_version = st->cat->version;
		s = kr_changeset_encode_raw(&cs, raw.data, raw.len, n, out, err);
		if (!s)
			*nchanges = n;
	}
	kr_buf_release(&raw);
	return s;
}

kr_status kr_outbox_ack(struct kr_store *st, uint64_t acked, struct kr_error *err)
{
	sqlite3_stmt *q;
	kr_status s;
	int rc;

	if (acked > st->last_seq)
		return kr_fail(err, KR_ERR_INVALID,
			       "the hub acknowledges change %" PRIu64 " but this node has made only %" PRIu64
			       ": this store looks older than the hub's view of it (restored from a backup, or reinstalled?); "
			       "run 'kiroku-agent recover' to take this node's changes back from the hub",
			       acked, st->last_seq);
	if (acked <= kr_store_meta_u64(st, "acked"))
		return KR_OK;
	if ((s = kr_txn_begin(st, err)))
		return s;
	rc = sqlite3_prepare_v2(st->db, "DELETE FROM outbox WHERE seq <= ?1", -1, &q, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)acked);
		rc = sqlite3_step(q);
		sqlite3_finalize(q);
	}
	if (rc != SQLITE_DONE) {
		s = kr_store_fail(st, err, rc, "trimming the outbox");
		kr_txn_rollback(st);
		return s;
	}
	if ((s = kr_store_meta_set_u64(st, "acked", acked, err))) {
		kr_txn_rollback(st);
		return s;
	}
	return kr_txn_commit(st, err);
}

static kr_status add_acks(struct kr_store *st, struct kr_changeset *cs, const char *facility, const char *node,
			  struct kr_error *err)
{
	sqlite3_stmt *q;
	int rc = sqlite3_prepare_v2(st->db,
				    node ? "SELECT node, last_seq FROM nodes WHERE node = ?2"
					 : "SELECT node, last_seq FROM nodes WHERE facility = ?1 ORDER BY node LIMIT 1024",
				    -1, &q, NULL);
	if (rc != SQLITE_OK)
		return kr_store_fail(st, err, rc, "reading the node list");
	sqlite3_bind_text(q, 1, facility, -1, SQLITE_STATIC);
	if (node)
		sqlite3_bind_text(q, 2, node, -1, SQLITE_STATIC);
	cs->acks = kr_arena_alloc(&cs->arena, 1024 * sizeof *cs->acks);
	if (!cs->acks) {
		sqlite3_finalize(q);
		return kr_fail(err, KR_ERR_NOMEM, "out of memory");
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW && cs->nacks < 1024) {
		struct kr_ack *a = &cs->acks[cs->nacks++];
		a->node = kr_arena_strdup(&cs->arena, (const char *)sqlite3_column_text(q, 0));
		a->seq = (uint64_t)sqlite3_column_int64(q, 1);
		if (!a->node) {
			sqlite3_finalize(q);
			return kr_fail(err, KR_ERR_NOMEM, "out of memory");
		}
	}
	sqlite3_finalize(q);
	return KR_OK;
}

kr_status kr_hub_export(struct kr_store *st, const char *facility, const char *exclude_node, uint64_t since,
			const struct kr_limits *lim, struct kr_buf *out, size_t *nchanges, bool *more,
			struct kr_error *err)
{
	struct kr_changeset cs;
	struct kr_buf raw;
	sqlite3_stmt *q;
	uint64_t to = since;
	size_t n = 0;
	kr_status s = KR_OK;
	int rc;

	*nchanges = 0;
	*more = false;
	rc = sqlite3_prepare_v2(st->db,
				"SELECT id, origin, n, changes FROM journal WHERE facility = ?1 AND id > ?2 ORDER BY id", -1,
				&q, NULL);
	if (rc != SQLITE_OK)
		return kr_store_fail(st, err, rc, "reading the journal");
	sqlite3_bind_text(q, 1, facility, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)since);
	kr_buf_init(&raw, 0);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		uint64_t id = (uint64_t)sqlite3_column_int64(q, 0);
		const char *origin = (const char *)sqlite3_column_text(q, 1);
		size_t rows = (size_t)sqlite3_column_int64(q, 2), len = (size_t)sqlite3_column_bytes(q, 3);

		if (exclude_node && strcmp(origin, exclude_node) == 0) {
			to = id; /* the node has these already */
			continue;
		}
		if (n > 0 && (n + rows > lim->max_changes || raw.len + len + 64 * 1024 > lim->max_bytes)) {
			*more = true;
			break;
		}
		if ((s = kr_buf_append(&raw, sqlite3_column_blob(q, 3), len))) {
			kr_fail(err, s, "reading the journal: %s", kr_status_name(s));
			break;
		}
		n += rows;
		to = id;
	}
	if (!s && rc != SQLITE_ROW && rc != SQLITE_DONE)
		s = kr_store_fail(st, err, rc, "reading the journal");
	sqlite3_finalize(q);
	memset(&cs, 0, sizeof cs);
	kr_arena_init(&cs.arena, 0);
	if (!s)
		s = add_acks(st, &cs, facility, exclude_node, err);
	if (!s) {
		cs.format = KR_FORMAT_VERSION;
		cs.sender = st->node;
		cs.facility = facility;
		cs.has_range = true;
		cs.from = since;
		cs.to = to;
		cs.more = *more;
		cs.catalogue_version = st->cat->version;
		s = kr_changeset_encode_raw(&cs, raw.data, raw.len, n, out, err);
		if (!s)
			*nchanges = n;
	}
	kr_arena_release(&cs.arena);
	kr_buf_release(&raw);
	return s;
}
