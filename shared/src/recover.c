/* recover.c: kiroku-agent recover: an agent whose store was restored from an old backup, or reinstalled blank with
 * the same identity (node id, key and certificate), takes back from the hub what it lost, without duplicates.
 *
 * 1. Download. Recover requests (sync requests with the envelope's recover flag and no changes) from position 0:
 *    the hub answers with every change of the facility, this node's own included, and the acks of the facility's
 *    nodes. Each answer is merged as usual (idempotent: the applied index skips other nodes' changes already here;
 *    an own change already here is the very write delivered again). The hub's copies of this node's own changes
 *    are kept in a temporary table for step 2. Interrupted, the step starts again from 0 next time: it writes
 *    nothing the next run would not write too.
 * 2. Reconcile, in one transaction. H is the hub's high-water mark of this node: it holds changes 1..H. Each
 *    outbox change numbered <= H is either the very change the hub holds (the same bytes: it was sent before the
 *    disk died) and leaves the outbox, or a change made on the restored store under a number the old store had
 *    already used for another change: it is renumbered after max(last_seq, H) (decoded, given its new number,
 *    encoded again; its HLC and content are unchanged). last_seq becomes max(last_seq, H) + renumbered, acked H.
 * 3. The caller then syncs as usual: the outbox continues the hub's numbers without a gap.
 * See docs/design.md "Recovery".
 */
#include "kiroku/sync.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

static kr_status exec(struct kr_store *st, const char *sql, const char *what, struct kr_error *err)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? KR_OK : kr_store_fail(st, err, rc, what);
}

/* One recover request from position since; the decoded answer in ans (release it in every case). */
static kr_status recover_request(struct kr_store *st, struct kr_client *client, uint64_t since, struct kr_buf *req,
				 struct kr_buf *resp, struct kr_changeset *ans, struct kr_error *err)
{
	struct kr_changeset cs;
	long status = 0;
	kr_status s;

	memset(ans, 0, sizeof *ans);
	memset(&cs, 0, sizeof cs);
	cs.format = KR_FORMAT_VERSION;
	cs.sender = st->node;
	cs.facility = st->facility;
	cs.has_since = true;
	cs.since = since;
	cs.catalogue_version = st->cat->version;
	cs.recover = true;
	req->len = 0;
	if ((s = kr_changeset_encode_raw(&cs, NULL, 0, 0, req, err)))
		return s;
	s = kr_client_post(client, KR_SYNC_PATH, KR_SYNC_CONTENT_TYPE, req->data, req->len, kr_sync_limits.max_bytes + 65536,
			   &status, resp, err);
	if (s)
		return s;
	if (status != 200) {
		kr_buf_terminate(resp);
		char *reason = resp->len ? (char *)resp->data : "";
		size_t rl = strlen(reason);
		while (rl && (reason[rl - 1] == '\n' || reason[rl - 1] == '\r'))
			reason[--rl] = 0;
		kr_status code = status == 403   ? KR_ERR_FORBIDDEN
				 : status == 409 ? KR_ERR_GAP
				 : status == 503 ? KR_ERR_BUSY
				 : status == 400 ? KR_ERR_INVALID
						 : KR_ERR_NETWORK;
		return kr_fail(err, code, "the hub refused the recover request (HTTP %ld): %s", status,
			       rl ? reason : "no reason given");
	}
	if ((s = kr_changeset_decode(resp->data, resp->len, &kr_sync_limits, ans, err))) {
		kr_error_prefix(err, "the hub's answer");
		return s;
	}
	if (!ans->has_range) {
		kr_changeset_release(ans);
		return kr_fail(err, KR_ERR_MALFORMED, "the hub's answer to a recover request names no journal range");
	}
	return KR_OK;
}

/* Step 1 for one answer, in one transaction: keeps the hub's copies of this node's changes, merges the rest. */
static kr_status take_answer(struct kr_store *st, const struct kr_changeset *ans, struct kr_recover_result *res,
			     struct kr_error *err)
{
	struct kr_merge_opts o = {.recover = true};
	struct kr_merge_result mr;
	sqlite3_stmt *q = NULL;
	kr_status s;
	int rc;

	if ((s = kr_txn_begin(st, err)))
		return s;
	rc = sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO temp.recover_own(seq, change) VALUES (?1, ?2)", -1, &q,
				NULL);
	if (rc != SQLITE_OK) {
		s = kr_store_fail(st, err, rc, "recovering");
		goto fail;
	}
	for (size_t i = 0; i < ans->nchanges; i++) {
		const struct kr_change *c = &ans->changes[i];
		if (strcmp(c->origin, st->node) != 0)
			continue;
		sqlite3_bind_int64(q, 1, (sqlite3_int64)c->seq);
		sqlite3_bind_blob(q, 2, c->raw, (int)c->raw_len, SQLITE_STATIC);
		rc = sqlite3_step(q);
		sqlite3_reset(q);
		if (rc != SQLITE_DONE) {
			s = kr_store_fail(st, err, rc, "recovering: keeping this node's changes");
			goto fail;
		}
		res->own++;
	}
	sqlite3_finalize(q);
	q = NULL;
	if ((s = kr_merge(st, ans, &o, &mr, err))) {
		kr_error_prefix(err, "applying the hub's answer");
		goto fail;
	}
	res->received += mr.applied;
	if (mr.acked > res->hub_acked)
		res->hub_acked = mr.acked;
	return kr_txn_commit(st, err);
fail:
	sqlite3_finalize(q);
	kr_store_rollback(st);
	return s;
}

/* A change's bytes with another sequence number: decoded (inside a one-change envelope), renumbered, encoded. */
static kr_status renumber(struct kr_store *st, const uint8_t *raw, size_t len, uint64_t seq, struct kr_buf *out,
			  struct kr_error *err)
{
	struct kr_changeset env = {.format = KR_FORMAT_VERSION, .sender = st->node}, cs = {0};
	struct kr_buf buf;
	kr_status s;

	kr_buf_init(&buf, len + 128);
	s = kr_changeset_encode_raw(&env, raw, len, 1, &buf, err);
	if (!s)
		s = kr_changeset_decode(buf.data, buf.len, &kr_default_limits, &cs, err);
	if (!s && (cs.nchanges != 1 || strcmp(cs.changes[0].origin, st->node) != 0))
		s = kr_fail(err, KR_ERR_STORE, "an outbox change is not one change of this node");
	if (!s) {
		cs.changes[0].seq = seq;
		out->len = 0;
		s = kr_change_encode(&cs.changes[0], out, err);
	}
	if (s)
		kr_error_prefix(err, "renumbering an outbox change");
	kr_changeset_release(&cs);
	kr_buf_release(&buf);
	return s;
}

struct outbox_row {
	uint64_t seq;
	bool same;      /* the hub holds this very change */
	uint8_t *raw;   /* a change to renumber: its bytes */
	size_t len;
};

/* Step 2, in one transaction. */
static kr_status reconcile(struct kr_store *st, struct kr_recover_result *res, struct kr_error *err)
{
	const uint64_t H = res->hub_acked;
	struct outbox_row *rows = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *q = NULL;
	struct kr_buf enc;
	uint64_t acked, held = 0, next;
	kr_status s;
	int rc;

	kr_buf_init(&enc, 0);
	if ((s = kr_txn_begin(st, err)))
		return s;
	/* Under the write lock: records made meanwhile by another process are counted in. */
	acked = kr_store_meta_u64(st, "acked");
	if (H < acked) {
		s = kr_fail(err, KR_ERR_GAP,
			    "the hub holds changes 1..%" PRIu64 " of this node but had acknowledged up to %" PRIu64
			    " before: the hub's store is older than this one (restored from a backup?); this node cannot "
			    "send those changes again. Ask the hub's operator",
			    H, acked);
		goto fail;
	}
	rc = sqlite3_prepare_v2(st->db, "SELECT count(*) FROM temp.recover_own WHERE seq BETWEEN 1 AND ?1", -1, &q, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)H);
		if ((rc = sqlite3_step(q)) == SQLITE_ROW)
			held = (uint64_t)sqlite3_column_int64(q, 0);
	}
	sqlite3_finalize(q);
	q = NULL;
	if (rc != SQLITE_ROW) {
		s = kr_store_fail(st, err, rc, "recovering");
		goto fail;
	}
	if (held != H) {
		s = kr_fail(err, KR_ERR_INTERNAL,
			    "the hub acknowledges changes 1..%" PRIu64 " of this node but sent back %" PRIu64
			    " of them; nothing was changed",
			    H, held);
		goto fail;
	}

	/* The outbox changes numbered 1..H: the same as the hub's, or other changes under a used number. */
	rc = sqlite3_prepare_v2(st->db,
				"SELECT o.seq, o.change, r.change FROM outbox o LEFT JOIN temp.recover_own r ON r.seq = o.seq "
				"WHERE o.seq <= ?1 ORDER BY o.seq",
				-1, &q, NULL);
	if (rc != SQLITE_OK) {
		s = kr_store_fail(st, err, rc, "recovering: reading the outbox");
		goto fail;
	}
	sqlite3_bind_int64(q, 1, (sqlite3_int64)H);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const void *mine = sqlite3_column_blob(q, 1), *hubs = sqlite3_column_blob(q, 2);
		size_t ml = (size_t)sqlite3_column_bytes(q, 1), hl = (size_t)sqlite3_column_bytes(q, 2);
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct outbox_row *v = realloc(rows, nc * sizeof *v);
			if (!v) {
				s = kr_fail(err, KR_ERR_NOMEM, "out of memory recovering");
				goto fail;
			}
			rows = v;
			cap = nc;
		}
		struct outbox_row *r = &rows[n++];
		memset(r, 0, sizeof *r);
		r->seq = (uint64_t)sqlite3_column_int64(q, 0);
		r->same = hubs && ml == hl && memcmp(mine, hubs, ml) == 0;
		if (!r->same) {
			if (!(r->raw = malloc(ml ? ml : 1))) {
				s = kr_fail(err, KR_ERR_NOMEM, "out of memory recovering");
				goto fail;
			}
			memcpy(r->raw, mine, ml);
			r->len = ml;
		}
	}
	sqlite3_finalize(q);
	q = NULL;
	if (rc != SQLITE_DONE) {
		s = kr_store_fail(st, err, rc, "recovering: reading the outbox");
		goto fail;
	}

	next = st->last_seq > H ? st->last_seq : H;
	res->first_new = next + 1;
	for (size_t i = 0; i < n; i++) {
		struct outbox_row *r = &rows[i];
		if (!r->same && (s = renumber(st, r->raw, r->len, ++next, &enc, err)))
			goto fail;
		rc = sqlite3_prepare_v2(st->db, "DELETE FROM outbox WHERE seq = ?1", -1, &q, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_int64(q, 1, (sqlite3_int64)r->seq);
			rc = sqlite3_step(q);
		}
		sqlite3_finalize(q);
		q = NULL;
		if (rc == SQLITE_DONE && !r->same) {
			rc = sqlite3_prepare_v2(st->db, "INSERT INTO outbox(seq, change) VALUES (?1, ?2)", -1, &q, NULL);
			if (rc == SQLITE_OK) {
				sqlite3_bind_int64(q, 1, (sqlite3_int64)next);
				sqlite3_bind_blob(q, 2, enc.data, (int)enc.len, SQLITE_STATIC);
				rc = sqlite3_step(q);
			}
			sqlite3_finalize(q);
			q = NULL;
		}
		if (rc != SQLITE_DONE) {
			s = kr_store_fail(st, err, rc, "recovering: rewriting the outbox");
			goto fail;
		}
		if (r->same)
			res->already++;
		else
			res->renumbered++;
	}
	if (next > st->last_seq)
		st->last_seq = next;
	res->last_seq = st->last_seq;
	if ((s = kr_store_save_clock(st, err)) || (s = kr_store_meta_set_u64(st, "acked", H, err)))
		goto fail;
	s = kr_txn_commit(st, err);
	goto out;
fail:
	sqlite3_finalize(q);
	kr_store_rollback(st);
out:
	for (size_t i = 0; i < n; i++)
		free(rows[i].raw);
	free(rows);
	kr_buf_release(&enc);
	return s;
}

kr_status kr_sync_recover(struct kr_store *st, struct kr_client *client, struct kr_recover_result *res,
			  struct kr_error *err)
{
	struct kr_buf req, resp;
	uint64_t since = 0;
	kr_status s;

	memset(res, 0, sizeof *res);
	if (st->role != KR_ROLE_AGENT)
		return kr_fail(err, KR_ERR_INVALID, "only an agent's store recovers from the hub");
	if ((s = exec(st,
		      "CREATE TEMP TABLE IF NOT EXISTS recover_own(seq INTEGER PRIMARY KEY, change BLOB NOT NULL);"
		      "DELETE FROM temp.recover_own",
		      "recovering", err)))
		return s;
	kr_buf_init(&req, 0);
	kr_buf_init(&resp, kr_sync_limits.max_bytes + 65536);
	for (;;) {
		struct kr_changeset ans;
		bool more;

		if ((s = recover_request(st, client, since, &req, &resp, &ans, err)))
			break;
		res->round_trips++;
		if (ans.to < since) {
			kr_changeset_release(&ans);
			s = kr_fail(err, KR_ERR_MALFORMED, "the hub's answer goes back from position %" PRIu64, since);
			break;
		}
		s = take_answer(st, &ans, res, err);
		more = ans.more;
		if (!s && more && ans.to == since)
			s = kr_fail(err, KR_ERR_MALFORMED, "the hub says more changes wait but sent none after position %" PRIu64,
				    since);
		since = ans.to;
		kr_changeset_release(&ans);
		if (s || !more)
			break;
	}
	kr_buf_release(&req);
	kr_buf_release(&resp);
	if (!s)
		s = reconcile(st, res, err);
	exec(st, "DROP TABLE IF EXISTS temp.recover_own", "recovering", NULL);
	return s;
}
