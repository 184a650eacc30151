/* audit.c: the hash-chained audit log (audit.h): appending, listing and verifying. */
#include "kiroku/audit.h"

#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kiroku/crypto.h"
#include "store_int.h"

#define HASH_DOMAIN "kiroku-audit-v1" /* hashed with its NUL */

static void put_u64(struct kr_buf *b, uint64_t v, kr_status *s)
{
	uint8_t be[8];
	for (int i = 0; i < 8; i++)
		be[i] = (uint8_t)(v >> (56 - 8 * i));
	if (!*s)
		*s = kr_buf_append(b, be, sizeof be);
}

static void put_text(struct kr_buf *b, const char *t, size_t len, kr_status *s)
{
	uint8_t be[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
	if (!*s)
		*s = kr_buf_append(b, be, sizeof be);
	if (!*s && len)
		*s = kr_buf_append(b, t, len);
}

/* The entry's hash: SHA-256 over the domain string and the fields, each of fixed size or length-prefixed, so
 * that no two different entries give the same bytes. */
static kr_status entry_hash(uint64_t id, int64_t ts_ms, const char *actor, size_t actor_len, const char *action,
                            size_t action_len, const char *detail, size_t detail_len,
                            const uint8_t prev[KR_AUDIT_HASH_LEN], uint8_t out[KR_AUDIT_HASH_LEN], struct kr_error *err)
{
	struct kr_buf b;
	kr_status s;

	kr_buf_init(&b, 0);
	s = kr_buf_append(&b, HASH_DOMAIN, sizeof HASH_DOMAIN);
	put_u64(&b, id, &s);
	put_u64(&b, (uint64_t)ts_ms, &s);
	put_text(&b, actor, actor_len, &s);
	put_text(&b, action, action_len, &s);
	put_text(&b, detail, detail_len, &s);
	if (!s)
		s = kr_buf_append(&b, prev, KR_AUDIT_HASH_LEN);
	if (s) {
		kr_buf_release(&b);
		return kr_fail(err, s, "out of memory hashing an audit entry");
	}
	s = kr_sha256(b.data, b.len, out, err);
	kr_buf_release(&b);
	return s;
}

static bool action_ok(const char *a)
{
	size_t n = strlen(a);
	if (n == 0 || n > KR_AUDIT_ACTION_MAX)
		return false;
	for (; *a; a++)
		if (!((*a >= 'a' && *a <= 'z') || (*a >= 'A' && *a <= 'Z') || (*a >= '0' && *a <= '9') || *a == '.' ||
		      *a == '_' || *a == '-'))
			return false;
	return true;
}

kr_status kr_audit_append(struct kr_store *st, const char *actor, const char *action, const char *detail,
                          struct kr_error *err)
{
	uint8_t prev[KR_AUDIT_HASH_LEN] = {0}, hash[KR_AUDIT_HASH_LEN];
	char head[32 + 2 * KR_AUDIT_HASH_LEN];
	sqlite3_stmt *q = NULL;
	uint64_t id = 1;
	int64_t now = (int64_t)kr_now_ms();
	kr_status s;
	int rc;

	if (!actor || !*actor || strlen(actor) > KR_AUDIT_ACTOR_MAX)
		return kr_fail(err, KR_ERR_INVALID, "an audit entry needs an actor of 1 to %d bytes",
		               KR_AUDIT_ACTOR_MAX);
	if (!action || !action_ok(action))
		return kr_fail(err, KR_ERR_INVALID, "audit action \"%s\" is not a dotted word of at most %d characters",
		               action ? action : "", KR_AUDIT_ACTION_MAX);
	if (!detail || strlen(detail) > KR_AUDIT_DETAIL_MAX)
		return kr_fail(err, KR_ERR_INVALID, "an audit entry's detail must be text of at most %d bytes",
		               KR_AUDIT_DETAIL_MAX);
	if ((s = kr_txn_begin(st, err)))
		return s;
	rc = sqlite3_prepare_v2(st->db, "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1", -1, &q, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		id = (uint64_t)sqlite3_column_int64(q, 0) + 1;
		if (sqlite3_column_bytes(q, 1) == KR_AUDIT_HASH_LEN)
			memcpy(prev, sqlite3_column_blob(q, 1), KR_AUDIT_HASH_LEN);
		rc = SQLITE_DONE;
	}
	sqlite3_finalize(q);
	q = NULL;
	if (rc != SQLITE_DONE && rc != SQLITE_OK) {
		s = kr_store_fail(st, err, rc, "reading the audit log");
		goto fail;
	}
	if ((s = entry_hash(id, now, actor, strlen(actor), action, strlen(action), detail, strlen(detail), prev, hash,
	                    err)))
		goto fail;
	rc = sqlite3_prepare_v2(st->db,
	                        "INSERT INTO audit_log(id, ts_ms, actor, action, detail, prev_hash, hash) "
	                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	                        -1, &q, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
		sqlite3_bind_int64(q, 2, now);
		sqlite3_bind_text(q, 3, actor, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, action, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 5, detail, -1, SQLITE_STATIC);
		sqlite3_bind_blob(q, 6, prev, KR_AUDIT_HASH_LEN, SQLITE_STATIC);
		sqlite3_bind_blob(q, 7, hash, KR_AUDIT_HASH_LEN, SQLITE_STATIC);
		rc = sqlite3_step(q);
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		s = kr_store_fail(st, err, rc, "writing the audit log");
		goto fail;
	}
	snprintf(head, sizeof head, "%" PRIu64 " ", id);
	kr_hex(hash, sizeof hash, head + strlen(head));
	if ((s = kr_store_meta_set_text(st, "audit_head", head, err)) || (s = kr_txn_commit(st, err)))
		goto fail;
	return KR_OK;
fail:
	kr_txn_rollback(st);
	kr_error_prefix(err, "appending \"%s\" to the audit log", action);
	return s;
}

void kr_audit_operator(char *out, size_t n)
{
	struct passwd pw, *res = NULL;
	char buf[1024];
	const char *sudo = getenv("SUDO_USER");
	int w;

	if (getpwuid_r(getuid(), &pw, buf, sizeof buf, &res) == 0 && res)
		w = snprintf(out, n, "operator:%s", res->pw_name);
	else
		w = snprintf(out, n, "operator:uid%u", (unsigned)getuid());
	if (w > 0 && (size_t)w < n && sudo && *sudo && getuid() == 0)
		snprintf(out + w, n - (size_t)w, "(sudo:%s)", sudo);
}

/* One row of audit_log, read into e. */
static void read_row(sqlite3_stmt *q, struct kr_audit_entry *e)
{
	memset(e, 0, sizeof *e);
	e->id = (uint64_t)sqlite3_column_int64(q, 0);
	e->ts_ms = sqlite3_column_int64(q, 1);
	e->actor = (const char *)sqlite3_column_text(q, 2);
	e->action = (const char *)sqlite3_column_text(q, 3);
	e->detail = (const char *)sqlite3_column_text(q, 4);
	if (!e->actor)
		e->actor = "";
	if (!e->action)
		e->action = "";
	if (!e->detail)
		e->detail = "";
	if (sqlite3_column_bytes(q, 5) == KR_AUDIT_HASH_LEN)
		memcpy(e->prev_hash, sqlite3_column_blob(q, 5), KR_AUDIT_HASH_LEN);
	if (sqlite3_column_bytes(q, 6) == KR_AUDIT_HASH_LEN)
		memcpy(e->hash, sqlite3_column_blob(q, 6), KR_AUDIT_HASH_LEN);
}

static const char select_sql[] =
    "SELECT id, ts_ms, actor, action, detail, prev_hash, hash FROM audit_log WHERE id >= ?1 ORDER BY id";

kr_status kr_audit_list(struct kr_store *st, uint64_t from_id, kr_audit_fn fn, void *ctx, struct kr_error *err)
{
	sqlite3_stmt *q;
	kr_status s = KR_OK;
	int rc = sqlite3_prepare_v2(st->db, select_sql, -1, &q, NULL);

	if (rc != SQLITE_OK)
		return kr_store_fail(st, err, rc, "reading the audit log");
	sqlite3_bind_int64(q, 1, (sqlite3_int64)from_id);
	while (!s && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct kr_audit_entry e;
		read_row(q, &e);
		s = fn(ctx, &e, err);
	}
	if (!s && rc != SQLITE_DONE)
		s = kr_store_fail(st, err, rc, "reading the audit log");
	sqlite3_finalize(q);
	return s;
}

static bool bad(struct kr_audit_verify_result *res, uint64_t id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool bad(struct kr_audit_verify_result *res, uint64_t id, const char *fmt, ...)
{
	va_list ap;

	res->intact = false;
	res->bad_id = id;
	va_start(ap, fmt);
	vsnprintf(res->problem, sizeof res->problem, fmt, ap);
	va_end(ap);
	return false;
}

kr_status kr_audit_verify(struct kr_store *st, uint64_t anchor_id, const char *anchor_hash_hex,
                          struct kr_audit_verify_result *res, struct kr_error *err)
{
	uint8_t prev[KR_AUDIT_HASH_LEN] = {0}, calc[KR_AUDIT_HASH_LEN];
	char head_text[32 + 2 * KR_AUDIT_HASH_LEN + 8], hex[2 * KR_AUDIT_HASH_LEN + 1];
	bool anchor_seen = false, going = true;
	uint64_t expected = 1;
	sqlite3_stmt *q;
	kr_status s = KR_OK;
	int rc;

	memset(res, 0, sizeof *res);
	res->intact = true;
	rc = sqlite3_prepare_v2(st->db, select_sql, -1, &q, NULL);
	if (rc != SQLITE_OK)
		return kr_store_fail(st, err, rc, "reading the audit log");
	sqlite3_bind_int64(q, 1, 0);
	while (going && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct kr_audit_entry e;
		read_row(q, &e);
		res->entries++;
		if (e.id != expected) {
			going = e.id > expected
			            ? bad(res, expected,
			                  "audit entry %" PRIu64 " was removed (the log goes from entry %" PRIu64
			                  " to entry %" PRIu64 ")",
			                  expected, expected - 1, e.id)
			            : bad(res, e.id, "audit entry %" PRIu64 " appears twice", e.id);
			break;
		}
		if ((s = entry_hash(e.id, e.ts_ms, e.actor, (size_t)sqlite3_column_bytes(q, 2), e.action,
		                    (size_t)sqlite3_column_bytes(q, 3), e.detail, (size_t)sqlite3_column_bytes(q, 4),
		                    e.prev_hash, calc, err)))
			break;
		if (memcmp(calc, e.hash, sizeof calc) != 0) {
			going = bad(res, e.id,
			            "audit entry %" PRIu64
			            " was changed: its contents no longer give the hash it was written "
			            "with",
			            e.id);
			break;
		}
		if (memcmp(prev, e.prev_hash, sizeof prev) != 0) {
			going = bad(res, e.id - 1,
			            "audit entry %" PRIu64 " was changed or replaced: entry %" PRIu64
			            " was chained to a different one",
			            e.id - 1, e.id);
			break;
		}
		if (anchor_hash_hex && e.id == anchor_id) {
			anchor_seen = true;
			kr_hex(e.hash, sizeof e.hash, hex);
			if (strcmp(hex, anchor_hash_hex) != 0) {
				going = bad(res, e.id,
				            "audit entry %" PRIu64
				            " does not match the anchor recorded earlier (%.16s...): the "
				            "log up to it was rewritten",
				            e.id, anchor_hash_hex);
				break;
			}
		}
		memcpy(prev, e.hash, sizeof prev);
		res->head_id = e.id;
		kr_hex(e.hash, sizeof e.hash, res->head_hash);
		expected++;
	}
	if (!s && rc != SQLITE_DONE && rc != SQLITE_ROW)
		s = kr_store_fail(st, err, rc, "reading the audit log");
	sqlite3_finalize(q);
	if (s || !res->intact)
		return s;
	/* The head in meta catches entries removed from the end. */
	if (kr_store_meta_text(st, "audit_head", head_text, sizeof head_text) == KR_OK) {
		char *end;
		uint64_t head_id = strtoull(head_text, &end, 10);
		const char *head_hash = *end == ' ' ? end + 1 : "";
		if (head_id > res->head_id)
			bad(res, res->head_id + 1,
			    "audit entry %" PRIu64 " was removed (the log ends at entry %" PRIu64 " but entry %" PRIu64
			    " was written)",
			    res->head_id + 1, res->head_id, head_id);
		else if (head_id == res->head_id && strcmp(head_hash, res->head_hash) != 0)
			bad(res, head_id,
			    "audit entry %" PRIu64
			    " was changed: the newest entry's hash is not the one recorded when it "
			    "was written",
			    head_id);
		else if (head_id < res->head_id)
			bad(res, head_id + 1,
			    "audit entry %" PRIu64 " was added outside kiroku (the log's recorded end is entry %" PRIu64
			    ")",
			    head_id + 1, head_id);
	} else if (res->head_id > 0) {
		bad(res, res->head_id, "the record of the audit log's newest entry is missing from the store");
	}
	if (res->intact && anchor_hash_hex && !anchor_seen)
		bad(res, anchor_id, "audit entry %" PRIu64 " (the anchor) is not in the log: it was removed",
		    anchor_id);
	return KR_OK;
}
