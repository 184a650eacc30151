/* trust.c: enrolment tokens, certificates, revocation and node contact in the hub's store (trust.h). */
#include "kiroku/trust.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kiroku/audit.h"
#include "kiroku/crypto.h"
#include "store_int.h"

/* "2026-11-22T09:30:00Z" for Unix ms. */
static void utc_text(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm))
		strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		snprintf(out, 32, "%lld ms", (long long)ms);
}

/* Prepares sql or reports the failure. */
static kr_status prep(struct kr_store *st, const char *sql, sqlite3_stmt **q, struct kr_error *err)
{
	int rc = sqlite3_prepare_v2(st->db, sql, -1, q, NULL);
	if (rc != SQLITE_OK) {
		*q = NULL;
		return kr_store_fail(st, err, rc, "reading the trust tables");
	}
	return KR_OK;
}

/* Steps a statement that writes; finalizes it. */
static kr_status run_write(struct kr_store *st, sqlite3_stmt *q, const char *what, struct kr_error *err)
{
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return kr_store_fail(st, err, rc, what);
	return KR_OK;
}

static const char *col_text(sqlite3_stmt *q, int i)
{
	const char *t = (const char *)sqlite3_column_text(q, i);
	return t ? t : "";
}

kr_status kr_trust_token_create(struct kr_store *st, const struct kr_token_issue *ti,
                                uint8_t secret_out[KR_ENROLL_SECRET_LEN], char id_out[KR_TOKEN_ID_LEN + 1],
                                struct kr_error *err)
{
	uint8_t hash[KR_SHA256_LEN];
	char hex[2 * KR_SHA256_LEN + 1], expires[32], detail[512];
	sqlite3_stmt *q;
	int64_t now = (int64_t)kr_now_ms();
	kr_status s;

	id_out[0] = 0;
	if (!kr_id_valid(ti->facility))
		return kr_fail(err, KR_ERR_INVALID, "facility id \"%s\" is not valid: use 1 to 64 of a-z 0-9 . _ -",
		               ti->facility ? ti->facility : "");
	if (ti->expires_ms <= now)
		return kr_fail(err, KR_ERR_INVALID, "a token must expire in the future");
	if ((s = kr_random_bytes(secret_out, KR_ENROLL_SECRET_LEN, err)) ||
	    (s = kr_sha256(secret_out, KR_ENROLL_SECRET_LEN, hash, err)))
		return s;
	kr_hex(hash, sizeof hash, hex);
	if ((s = kr_txn_begin(st, err)))
		return s;
	if ((s = prep(st,
	              "INSERT INTO enroll_tokens(hash, facility, facility_name, hub_url, created_ms, expires_ms, "
	              "created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	              &q, err)))
		goto fail;
	sqlite3_bind_blob(q, 1, hash, sizeof hash, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, ti->facility, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, ti->facility_name ? ti->facility_name : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, ti->hub_url ? ti->hub_url : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, now);
	sqlite3_bind_int64(q, 6, ti->expires_ms);
	sqlite3_bind_text(q, 7, ti->actor ? ti->actor : "", -1, SQLITE_STATIC);
	if ((s = run_write(st, q, "storing the enrolment token", err)))
		goto fail;
	if (ti->facility_name && *ti->facility_name) {
		if ((s = prep(st,
		              "INSERT INTO facilities(facility, name) VALUES (?1, ?2) "
		              "ON CONFLICT(facility) DO UPDATE SET name = excluded.name",
		              &q, err)))
			goto fail;
		sqlite3_bind_text(q, 1, ti->facility, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, ti->facility_name, -1, SQLITE_STATIC);
		if ((s = run_write(st, q, "storing the facility's name", err)))
			goto fail;
	}
	utc_text(ti->expires_ms, expires);
	snprintf(detail, sizeof detail, "token=%.*s facility=%s name=%s expires=%s hub_url=%s", KR_TOKEN_ID_LEN, hex,
	         ti->facility, ti->facility_name ? ti->facility_name : "", expires, ti->hub_url ? ti->hub_url : "");
	if ((s = kr_audit_append(st, ti->actor && *ti->actor ? ti->actor : "hub", "token.issue", detail, err)) ||
	    (s = kr_txn_commit(st, err)))
		goto fail;
	memcpy(id_out, hex, KR_TOKEN_ID_LEN);
	id_out[KR_TOKEN_ID_LEN] = 0;
	return KR_OK;
fail:
	kr_txn_rollback(st);
	memset(secret_out, 0, KR_ENROLL_SECRET_LEN);
	return s;
}

bool kr_trust_enrolment_open(struct kr_store *st, int64_t now_ms)
{
	sqlite3_stmt *q;
	bool open = false;

	if (prep(st,
	         "SELECT 1 FROM enroll_tokens WHERE used_ms IS NULL AND cancelled_ms IS NULL AND expires_ms > ?1 "
	         "LIMIT 1",
	         &q, NULL))
		return false;
	sqlite3_bind_int64(q, 1, now_ms);
	open = sqlite3_step(q) == SQLITE_ROW;
	sqlite3_finalize(q);
	return open;
}

/* Whether node is known to this hub in any way: a nodes row, a certificate, or the hub itself. */
static kr_status node_known(struct kr_store *st, const char *node, char facility[KR_ID_MAX + 1], bool *known,
                            struct kr_error *err)
{
	sqlite3_stmt *q;
	kr_status s;
	int rc;

	*known = strcmp(node, st->node) == 0;
	facility[0] = 0;
	if (*known)
		return KR_OK;
	if ((s = prep(st,
	              "SELECT facility FROM nodes WHERE node = ?1 UNION ALL "
	              "SELECT facility FROM certs WHERE node = ?1 LIMIT 1",
	              &q, err)))
		return s;
	sqlite3_bind_text(q, 1, node, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*known = true;
		snprintf(facility, KR_ID_MAX + 1, "%s", col_text(q, 0));
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return kr_store_fail(st, err, rc, "reading the node list");
	return KR_OK;
}

/* Records an issued certificate (certs) and makes it the node's current one (nodes). */
static kr_status record_cert(struct kr_store *st, const struct kr_cert_info *ci, const char *pem, const char *how,
                             bool enrolled, struct kr_error *err)
{
	int64_t now = (int64_t)kr_now_ms();
	sqlite3_stmt *q;
	kr_status s;

	if ((s = prep(st,
	              "INSERT INTO certs(serial, node, facility, not_before, not_after, issued_ms, how, pem) "
	              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	              &q, err)))
		return s;
	sqlite3_bind_text(q, 1, ci->serial, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, ci->cn, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, ci->ou, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, ci->not_before);
	sqlite3_bind_int64(q, 5, ci->not_after);
	sqlite3_bind_int64(q, 6, now);
	sqlite3_bind_text(q, 7, how, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 8, pem, -1, SQLITE_STATIC);
	if ((s = run_write(st, q, "recording the certificate", err)))
		return s;
	if ((s = prep(st,
	              "INSERT INTO nodes(node, facility, cert_serial, cert_not_after, enrolled_ms) "
	              "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(node) DO UPDATE SET "
	              "cert_serial = excluded.cert_serial, cert_not_after = excluded.cert_not_after, "
	              "enrolled_ms = coalesce(nodes.enrolled_ms, excluded.enrolled_ms)",
	              &q, err)))
		return s;
	sqlite3_bind_text(q, 1, ci->cn, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, ci->ou, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, ci->serial, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, ci->not_after);
	if (enrolled)
		sqlite3_bind_int64(q, 5, now);
	else
		sqlite3_bind_null(q, 5);
	return run_write(st, q, "recording the node", err);
}

static void outcome_from(struct kr_enroll_outcome *out, const struct kr_cert_info *ci)
{
	snprintf(out->node, sizeof out->node, "%s", ci->cn);
	snprintf(out->facility, sizeof out->facility, "%s", ci->ou);
	snprintf(out->serial, sizeof out->serial, "%s", ci->serial);
	out->not_after = ci->not_after;
}

/* The enrolment token's row. */
struct token_row {
	bool found;
	char facility[KR_ID_MAX + 1];
	int64_t expires_ms, used_ms, cancelled_ms;
	char used_by[KR_ID_MAX + 1];
	char serial[KR_SERIAL_HEX_MAX + 1];
};

static kr_status token_get(struct kr_store *st, const uint8_t hash[KR_SHA256_LEN], struct token_row *t,
                           struct kr_error *err)
{
	sqlite3_stmt *q;
	kr_status s;
	int rc;

	memset(t, 0, sizeof *t);
	if ((s = prep(st,
	              "SELECT facility, expires_ms, coalesce(used_ms, 0), coalesce(used_by, ''), "
	              "coalesce(cert_serial, ''), coalesce(cancelled_ms, 0) FROM enroll_tokens WHERE hash = ?1",
	              &q, err)))
		return s;
	sqlite3_bind_blob(q, 1, hash, KR_SHA256_LEN, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		t->found = true;
		snprintf(t->facility, sizeof t->facility, "%s", col_text(q, 0));
		t->expires_ms = sqlite3_column_int64(q, 1);
		t->used_ms = sqlite3_column_int64(q, 2);
		snprintf(t->used_by, sizeof t->used_by, "%s", col_text(q, 3));
		snprintf(t->serial, sizeof t->serial, "%s", col_text(q, 4));
		t->cancelled_ms = sqlite3_column_int64(q, 5);
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return kr_store_fail(st, err, rc, "reading the enrolment tokens");
	return KR_OK;
}

const char *kr_trust_token_state_name(enum kr_token_state state)
{
	switch (state) {
	case KR_TOKEN_OPEN:
		return "open";
	case KR_TOKEN_USED:
		return "used";
	case KR_TOKEN_CANCELLED:
		return "cancelled";
	case KR_TOKEN_EXPIRED:
		return "expired";
	}
	return "?";
}

static enum kr_token_state token_state(int64_t used_ms, int64_t cancelled_ms, int64_t expires_ms, int64_t now_ms)
{
	if (used_ms)
		return KR_TOKEN_USED;
	if (cancelled_ms)
		return KR_TOKEN_CANCELLED;
	return expires_ms <= now_ms ? KR_TOKEN_EXPIRED : KR_TOKEN_OPEN;
}

kr_status kr_trust_token_list(struct kr_store *st, bool all, int64_t now_ms,
                              kr_status (*fn)(void *ctx, const struct kr_token_info *t, struct kr_error *err),
                              void *ctx, struct kr_error *err)
{
	sqlite3_stmt *q;
	kr_status s;
	int rc;

	if ((s = prep(st,
	              "SELECT lower(hex(hash)), facility, facility_name, hub_url, created_by, created_ms, expires_ms, "
	              "coalesce(used_ms, 0), coalesce(used_by, ''), coalesce(cert_serial, ''), "
	              "coalesce(cancelled_ms, 0), coalesce(cancelled_by, ''), coalesce(cancel_reason, '') "
	              "FROM enroll_tokens WHERE ?1 OR (used_ms IS NULL AND cancelled_ms IS NULL AND expires_ms > ?2) "
	              "ORDER BY created_ms, hash",
	              &q, err)))
		return s;
	sqlite3_bind_int(q, 1, all ? 1 : 0);
	sqlite3_bind_int64(q, 2, now_ms);
	while (!s && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct kr_token_info t = {
		    .facility = col_text(q, 1),
		    .facility_name = col_text(q, 2),
		    .hub_url = col_text(q, 3),
		    .created_by = col_text(q, 4),
		    .created_ms = sqlite3_column_int64(q, 5),
		    .expires_ms = sqlite3_column_int64(q, 6),
		    .used_ms = sqlite3_column_int64(q, 7),
		    .used_by = col_text(q, 8),
		    .cert_serial = col_text(q, 9),
		    .cancelled_ms = sqlite3_column_int64(q, 10),
		    .cancelled_by = col_text(q, 11),
		    .cancel_reason = col_text(q, 12),
		};
		snprintf(t.id, sizeof t.id, "%.*s", KR_TOKEN_ID_LEN, col_text(q, 0));
		t.state = token_state(t.used_ms, t.cancelled_ms, t.expires_ms, now_ms);
		s = fn(ctx, &t, err);
	}
	if (!s && rc != SQLITE_DONE)
		s = kr_store_fail(st, err, rc, "reading the enrolment tokens");
	sqlite3_finalize(q);
	return s;
}

/* Whether id is 16 to 64 hex digits (a token id or more of its hash); lowers it into out. */
static bool token_id_parse(const char *id, char out[2 * KR_SHA256_LEN + 1])
{
	size_t n = id ? strlen(id) : 0;

	if (n < KR_TOKEN_ID_LEN || n > 2 * KR_SHA256_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
		out[i] = c;
	}
	out[n] = 0;
	return true;
}

kr_status kr_trust_token_cancel(struct kr_store *st, const char *id, const char *reason, const char *actor,
                                char id_out[KR_TOKEN_ID_LEN + 1], char facility_out[KR_ID_MAX + 1],
                                struct kr_error *err)
{
	char want[2 * KR_SHA256_LEN + 1], hex[2 * KR_SHA256_LEN + 1], when[32], detail[1024];
	char name[256] = "", cancelled_by[KR_AUDIT_ACTOR_MAX + 1] = "";
	uint8_t hash[KR_SHA256_LEN] = {0};
	struct token_row t;
	int64_t now = (int64_t)kr_now_ms();
	const char *who = actor && *actor ? actor : "hub";
	sqlite3_stmt *q;
	int matches = 0, rc;
	kr_status s;

	id_out[0] = 0;
	facility_out[0] = 0;
	if (!token_id_parse(id, want))
		return kr_fail(err, KR_ERR_INVALID,
		               "\"%s\" is not an enrolment token id: it is the %d hex digits 'kiroku-hub enroll-token "
		               "list' shows",
		               id ? id : "", KR_TOKEN_ID_LEN);
	if ((s = kr_txn_begin(st, err)))
		return s;
	if ((s = prep(st,
	              "SELECT hash, lower(hex(hash)), facility_name, coalesce(cancelled_by, '') FROM enroll_tokens "
	              "WHERE substr(lower(hex(hash)), 1, ?2) = ?1 LIMIT 2",
	              &q, err)))
		goto fail;
	sqlite3_bind_text(q, 1, want, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 2, (int)strlen(want));
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (matches++)
			break;
		if (sqlite3_column_bytes(q, 0) == KR_SHA256_LEN)
			memcpy(hash, sqlite3_column_blob(q, 0), KR_SHA256_LEN);
		snprintf(hex, sizeof hex, "%s", col_text(q, 1));
		snprintf(name, sizeof name, "%s", col_text(q, 2));
		snprintf(cancelled_by, sizeof cancelled_by, "%s", col_text(q, 3));
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		s = kr_store_fail(st, err, rc, "reading the enrolment tokens");
		goto fail;
	}
	if (matches == 0) {
		s = kr_fail(err, KR_ERR_NOT_FOUND,
		            "no enrolment token %s at this hub (see 'kiroku-hub enroll-token list --all')", want);
		goto fail;
	}
	if (matches > 1) {
		s = kr_fail(err, KR_ERR_INVALID, "%s names more than one enrolment token: give more of its digits",
		            want);
		goto fail;
	}
	if ((s = token_get(st, hash, &t, err)))
		goto fail;
	if (t.used_ms) {
		utc_text(t.used_ms, when);
		s = kr_fail(
		    err, KR_ERR_CONFLICT,
		    "the enrolment token %.*s was already used (by node \"%s\" at %s): there is nothing to cancel; "
		    "to shut that node out, revoke it: kiroku-hub node revoke %s",
		    KR_TOKEN_ID_LEN, hex, t.used_by, when, t.used_by);
		goto fail;
	}
	if (t.cancelled_ms) {
		utc_text(t.cancelled_ms, when);
		s = kr_fail(err, KR_ERR_CONFLICT, "the enrolment token %.*s was already cancelled (at %s%s%s)",
		            KR_TOKEN_ID_LEN, hex, when, cancelled_by[0] ? " by " : "", cancelled_by);
		goto fail;
	}
	if (t.expires_ms <= now) {
		utc_text(t.expires_ms, when);
		s = kr_fail(err, KR_ERR_CONFLICT,
		            "the enrolment token %.*s already expired at %s: it can no longer enrol a node, there is "
		            "nothing to cancel",
		            KR_TOKEN_ID_LEN, hex, when);
		goto fail;
	}
	if ((s = prep(st,
	              "UPDATE enroll_tokens SET cancelled_ms = ?2, cancelled_by = ?3, cancel_reason = ?4 "
	              "WHERE hash = ?1 AND used_ms IS NULL AND cancelled_ms IS NULL",
	              &q, err)))
		goto fail;
	sqlite3_bind_blob(q, 1, hash, sizeof hash, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, now);
	sqlite3_bind_text(q, 3, who, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, reason ? reason : "", -1, SQLITE_STATIC);
	if ((s = run_write(st, q, "cancelling the enrolment token", err)))
		goto fail;
	if (sqlite3_changes(st->db) != 1) {
		s = kr_fail(err, KR_ERR_INTERNAL, "cancelling the enrolment token %.*s changed %d rows",
		            KR_TOKEN_ID_LEN, hex, sqlite3_changes(st->db));
		goto fail;
	}
	utc_text(t.expires_ms, when);
	snprintf(detail, sizeof detail, "token=%.*s facility=%s name=%s expires=%s reason=%s", KR_TOKEN_ID_LEN, hex,
	         t.facility, name, when, reason ? reason : "");
	if ((s = kr_audit_append(st, who, "token.cancel", detail, err)) || (s = kr_txn_commit(st, err)))
		goto fail;
	snprintf(id_out, KR_TOKEN_ID_LEN + 1, "%.*s", KR_TOKEN_ID_LEN, hex);
	snprintf(facility_out, KR_ID_MAX + 1, "%s", t.facility);
	return KR_OK;
fail:
	kr_txn_rollback(st);
	return s;
}

/* A used token presented again by the same node with the same key: the answer was lost, send it again. */
static kr_status repeat_answer(struct kr_store *st, const struct token_row *t, const struct kr_enroll_request *req,
                               struct kr_buf *crt_pem, struct kr_enroll_outcome *out, bool *done, struct kr_error *err)
{
	char csr_key[65];
	struct kr_cert_info ci;
	sqlite3_stmt *q;
	kr_status s;
	int rc;

	*done = false;
	if (strcmp(t->used_by, req->node) != 0 || kr_csr_key_sha256(req->csr, req->csr_len, csr_key, NULL))
		return KR_OK;
	if ((s = prep(st, "SELECT pem FROM certs WHERE serial = ?1 AND revoked_ms IS NULL", &q, err)))
		return s;
	sqlite3_bind_text(q, 1, t->serial, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		const char *pem = col_text(q, 0);
		size_t len = strlen(pem);
		if (kr_cert_info_mem(pem, len, &ci, NULL) == KR_OK && strcmp(ci.key_sha256, csr_key) == 0) {
			if ((s = kr_buf_append(crt_pem, pem, len))) {
				sqlite3_finalize(q);
				return kr_fail(err, s, "no room for the certificate");
			}
			outcome_from(out, &ci);
			out->repeated = true;
			*done = true;
		}
	}
	sqlite3_finalize(q);
	return KR_OK;
}

kr_status kr_trust_enroll(struct kr_store *st, const char *ca_dir, const struct kr_enroll_request *req,
                          const char *peer_addr, int cert_days, struct kr_buf *crt_pem, struct kr_enroll_outcome *out,
                          struct kr_error *err)
{
	uint8_t hash[KR_SHA256_LEN];
	char hex[2 * KR_SHA256_LEN + 1], when[32], known_facility[KR_ID_MAX + 1], detail[512];
	struct kr_cert_request creq = {.days_valid = cert_days};
	struct token_row t;
	struct kr_cert_info ci;
	size_t pem_before = crt_pem->len;
	int64_t now = (int64_t)kr_now_ms();
	sqlite3_stmt *q;
	bool known, done;
	kr_status s;

	memset(out, 0, sizeof *out);
	if ((s = kr_sha256(req->secret, KR_ENROLL_SECRET_LEN, hash, err)))
		return s;
	kr_hex(hash, sizeof hash, hex);
	if ((s = kr_txn_begin(st, err)))
		return s;
	if ((s = token_get(st, hash, &t, err)))
		goto fail;
	if (!t.found) {
		s = kr_fail(err, KR_ERR_FORBIDDEN,
		            "the enrolment token is not known to this hub: it was mistyped, cut short, or issued by "
		            "another hub; ask the operator for a new one");
		goto fail;
	}
	if (t.used_ms) {
		if ((s = repeat_answer(st, &t, req, crt_pem, out, &done, err)))
			goto fail;
		if (done) {
			kr_txn_rollback(st); /* nothing was written */
			return KR_OK;
		}
		utc_text(t.used_ms, when);
		s = kr_fail(err, KR_ERR_FORBIDDEN,
		            "the enrolment token %.*s was already used (by node \"%s\" at %s); a token enrols one node "
		            "only: ask the operator for a new one",
		            KR_TOKEN_ID_LEN, hex, t.used_by, when);
		goto fail;
	}
	if (t.cancelled_ms) {
		/* The operator's reason stays at the hub: whoever holds a leaked token need not learn it. */
		utc_text(t.cancelled_ms, when);
		s = kr_fail(
		    err, KR_ERR_FORBIDDEN,
		    "the enrolment token %.*s was cancelled by the hub's operator at %s; it can no longer enrol "
		    "a node: ask the operator for a new one",
		    KR_TOKEN_ID_LEN, hex, when);
		goto fail;
	}
	if (t.expires_ms <= now) {
		utc_text(t.expires_ms, when);
		s = kr_fail(err, KR_ERR_FORBIDDEN,
		            "the enrolment token %.*s expired at %s; ask the operator for a new one", KR_TOKEN_ID_LEN,
		            hex, when);
		goto fail;
	}
	if ((s = node_known(st, req->node, known_facility, &known, err)))
		goto fail;
	if (known) {
		s = kr_fail(
		    err, KR_ERR_CONFLICT,
		    "node id \"%s\" is already in use at this hub%s%s%s: a node id belongs to one computer; enrol "
		    "with another one (kiroku-agent enroll --node NEW-ID)",
		    req->node, known_facility[0] ? " (facility " : "", known_facility, known_facility[0] ? ")" : "");
		goto fail;
	}
	creq.node_id = req->node;
	creq.facility_id = t.facility; /* from the token, never from the request */
	if ((s = kr_cert_issue_from_csr(ca_dir, req->csr, req->csr_len, &creq, crt_pem, err)))
		goto fail;
	if ((s = kr_buf_terminate(crt_pem)) ||
	    (s = kr_cert_info_mem(crt_pem->data + pem_before, crt_pem->len - pem_before, &ci, err)))
		goto fail;
	if ((s = prep(st, "UPDATE enroll_tokens SET used_ms = ?2, used_by = ?3, cert_serial = ?4 WHERE hash = ?1", &q,
	              err)))
		goto fail;
	sqlite3_bind_blob(q, 1, hash, sizeof hash, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, now);
	sqlite3_bind_text(q, 3, req->node, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, ci.serial, -1, SQLITE_STATIC);
	if ((s = run_write(st, q, "marking the token used", err)) ||
	    (s = record_cert(st, &ci, (const char *)crt_pem->data + pem_before, "enrol", true, err)))
		goto fail;
	utc_text(ci.not_after * 1000, when);
	snprintf(detail, sizeof detail, "node=%s facility=%s serial=%s expires=%s token=%.*s addr=%s", ci.cn, ci.ou,
	         ci.serial, when, KR_TOKEN_ID_LEN, hex, peer_addr ? peer_addr : "");
	{
		char actor[KR_ID_MAX + 8];
		snprintf(actor, sizeof actor, "node:%s", ci.cn);
		if ((s = kr_audit_append(st, actor, "node.enrol", detail, err)))
			goto fail;
	}
	if ((s = kr_txn_commit(st, err)))
		goto fail;
	outcome_from(out, &ci);
	return KR_OK;
fail:
	kr_txn_rollback(st);
	crt_pem->len = pem_before;
	memset(out, 0, sizeof *out);
	return s;
}

kr_status kr_trust_renew(struct kr_store *st, const char *ca_dir, const struct kr_cert_info *peer, const void *csr,
                         size_t csr_len, const char *peer_addr, int cert_days, struct kr_buf *crt_pem,
                         struct kr_enroll_outcome *out, struct kr_error *err)
{
	struct kr_cert_request creq = {.node_id = peer->cn, .facility_id = peer->ou, .days_valid = cert_days};
	char known_facility[KR_ID_MAX + 1], when[32], detail[512], actor[KR_ID_MAX + 8];
	struct kr_cert_info ci;
	size_t pem_before = crt_pem->len;
	bool known;
	kr_status s;

	memset(out, 0, sizeof *out);
	if (!peer->ou[0])
		return kr_fail(err, KR_ERR_FORBIDDEN, "the certificate of node \"%s\" names no facility", peer->cn);
	if ((s = kr_txn_begin(st, err)))
		return s;
	if ((s = kr_trust_check_peer(st, peer, err)) || (s = node_known(st, peer->cn, known_facility, &known, err)))
		goto fail;
	if (known && known_facility[0] && strcmp(known_facility, peer->ou) != 0) {
		s = kr_fail(err, KR_ERR_FORBIDDEN, "node \"%s\" belongs to facility \"%s\", not \"%s\"", peer->cn,
		            known_facility, peer->ou);
		goto fail;
	}
	if ((s = kr_cert_issue_from_csr(ca_dir, csr, csr_len, &creq, crt_pem, err)) ||
	    (s = kr_buf_terminate(crt_pem)) ||
	    (s = kr_cert_info_mem(crt_pem->data + pem_before, crt_pem->len - pem_before, &ci, err)) ||
	    (s = record_cert(st, &ci, (const char *)crt_pem->data + pem_before, "renew", false, err)))
		goto fail;
	utc_text(ci.not_after * 1000, when);
	snprintf(detail, sizeof detail, "node=%s facility=%s serial=%s expires=%s previous=%s addr=%s", ci.cn, ci.ou,
	         ci.serial, when, peer->serial, peer_addr ? peer_addr : "");
	snprintf(actor, sizeof actor, "node:%s", ci.cn);
	if ((s = kr_audit_append(st, actor, "node.renew", detail, err)) || (s = kr_txn_commit(st, err)))
		goto fail;
	outcome_from(out, &ci);
	return KR_OK;
fail:
	kr_txn_rollback(st);
	crt_pem->len = pem_before;
	memset(out, 0, sizeof *out);
	return s;
}

kr_status kr_trust_check_peer(struct kr_store *st, const struct kr_cert_info *peer, struct kr_error *err)
{
	sqlite3_stmt *q;
	kr_status s;
	int rc;
	int64_t node_revoked = 0, cert_revoked = 0;

	if ((s = prep(st,
	              "SELECT (SELECT coalesce(revoked_ms, 1) FROM nodes WHERE node = ?1 AND revoked != 0), "
	              "(SELECT revoked_ms FROM certs WHERE serial = ?2)",
	              &q, err)))
		return s;
	sqlite3_bind_text(q, 1, peer->cn, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, peer->serial, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		node_revoked = sqlite3_column_int64(q, 0);
		cert_revoked = sqlite3_column_int64(q, 1);
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW)
		return kr_store_fail(st, err, rc, "reading the revocations");
	if (node_revoked)
		return kr_fail(err, KR_ERR_FORBIDDEN, "node \"%s\" (certificate %s) has been revoked", peer->cn,
		               peer->serial);
	if (cert_revoked)
		return kr_fail(err, KR_ERR_FORBIDDEN, "the certificate %s of node \"%s\" has been revoked",
		               peer->serial, peer->cn);
	return KR_OK;
}

kr_status kr_trust_revoke(struct kr_store *st, const char *node, const char *reason, const char *actor, unsigned *certs,
                          struct kr_error *err)
{
	char facility[KR_ID_MAX + 1], detail[768], when[32];
	int64_t now = (int64_t)kr_now_ms(), revoked_ms = 0;
	sqlite3_stmt *q;
	bool known;
	kr_status s;
	int rc;

	*certs = 0;
	if (!kr_id_valid(node))
		return kr_fail(err, KR_ERR_INVALID, "node id \"%s\" is not valid", node);
	if (strcmp(node, st->node) == 0)
		return kr_fail(err, KR_ERR_INVALID, "\"%s\" is this hub itself", node);
	if ((s = kr_txn_begin(st, err)))
		return s;
	if ((s = node_known(st, node, facility, &known, err)))
		goto fail;
	if (!known) {
		s = kr_fail(err, KR_ERR_NOT_FOUND, "no node \"%s\" at this hub (see 'kiroku-hub node list')", node);
		goto fail;
	}
	if ((s = prep(st, "SELECT coalesce(revoked_ms, 1) FROM nodes WHERE node = ?1 AND revoked != 0", &q, err)))
		goto fail;
	sqlite3_bind_text(q, 1, node, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		revoked_ms = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	if (revoked_ms) {
		utc_text(revoked_ms, when);
		s = kr_fail(err, KR_ERR_CONFLICT, "node \"%s\" was already revoked (at %s)", node, when);
		goto fail;
	}
	if ((s = prep(
	         st,
	         "INSERT INTO nodes(node, facility, revoked, revoked_ms, revoke_reason) VALUES (?1, ?2, 1, ?3, ?4) "
	         "ON CONFLICT(node) DO UPDATE SET revoked = 1, revoked_ms = excluded.revoked_ms, "
	         "revoke_reason = excluded.revoke_reason",
	         &q, err)))
		goto fail;
	sqlite3_bind_text(q, 1, node, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, facility, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, now);
	sqlite3_bind_text(q, 4, reason ? reason : "", -1, SQLITE_STATIC);
	if ((s = run_write(st, q, "revoking the node", err)))
		goto fail;
	if ((s = prep(st, "UPDATE certs SET revoked_ms = ?2 WHERE node = ?1 AND revoked_ms IS NULL", &q, err)))
		goto fail;
	sqlite3_bind_text(q, 1, node, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, now);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		s = kr_store_fail(st, err, rc, "revoking the node's certificates");
		goto fail;
	}
	*certs = (unsigned)sqlite3_changes(st->db);
	snprintf(detail, sizeof detail, "node=%s facility=%s certificates=%u reason=%s", node, facility, *certs,
	         reason ? reason : "");
	if ((s = kr_audit_append(st, actor && *actor ? actor : "hub", "node.revoke", detail, err)) ||
	    (s = kr_txn_commit(st, err)))
		goto fail;
	return KR_OK;
fail:
	kr_txn_rollback(st);
	*certs = 0;
	return s;
}

uint64_t kr_trust_revocation_stamp(struct kr_store *st)
{
	sqlite3_stmt *q;
	uint64_t stamp = 0;

	if (prep(st, "SELECT count(*), coalesce(max(revoked_ms), 0) FROM nodes WHERE revoked != 0", &q, NULL))
		return 0;
	if (sqlite3_step(q) == SQLITE_ROW)
		stamp = (uint64_t)sqlite3_column_int64(q, 1) * 1000003u + (uint64_t)sqlite3_column_int64(q, 0) + 1;
	sqlite3_finalize(q);
	return stamp;
}

kr_status kr_trust_revoked_nodes(struct kr_store *st, void (*fn)(void *ctx, const char *node), void *ctx,
                                 struct kr_error *err)
{
	sqlite3_stmt *q;
	kr_status s;
	int rc;

	if ((s = prep(st, "SELECT node FROM nodes WHERE revoked != 0", &q, err)))
		return s;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		fn(ctx, col_text(q, 0));
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return kr_store_fail(st, err, rc, "reading the revoked nodes");
	return KR_OK;
}

kr_status kr_trust_contact(struct kr_store *st, const struct kr_cert_info *peer, int64_t outbox_pending,
                           struct kr_error *err)
{
	sqlite3_stmt *q;
	kr_status s;

	if ((s = prep(st,
	              "INSERT INTO nodes(node, facility, cert_serial, cert_not_after, contact_ms, outbox_pending) "
	              "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(node) DO UPDATE SET "
	              "cert_serial = excluded.cert_serial, cert_not_after = excluded.cert_not_after, "
	              "contact_ms = excluded.contact_ms, "
	              "outbox_pending = coalesce(excluded.outbox_pending, nodes.outbox_pending)",
	              &q, err)))
		return s;
	sqlite3_bind_text(q, 1, peer->cn, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, peer->ou, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, peer->serial, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, peer->not_after);
	sqlite3_bind_int64(q, 5, (int64_t)kr_now_ms());
	if (outbox_pending >= 0)
		sqlite3_bind_int64(q, 6, outbox_pending);
	else
		sqlite3_bind_null(q, 6);
	return run_write(st, q, "recording the node's contact", err);
}

kr_status kr_trust_node_list(struct kr_store *st,
                             kr_status (*fn)(void *ctx, const struct kr_node_info *n, struct kr_error *err), void *ctx,
                             struct kr_error *err)
{
	sqlite3_stmt *q;
	kr_status s;
	int rc;

	if ((s = prep(st,
	              "SELECT n.node, n.facility, coalesce(f.name, ''), coalesce(n.cert_serial, ''), "
	              "coalesce(n.cert_not_after, 0), coalesce(n.enrolled_ms, 0), "
	              "max(n.last_seen_ms, coalesce(n.contact_ms, 0)), n.skew_ms, n.last_seq, "
	              "coalesce(n.outbox_pending, -1), n.revoked, coalesce(n.revoked_ms, 0), "
	              "coalesce(n.revoke_reason, '') "
	              "FROM nodes n LEFT JOIN facilities f ON f.facility = n.facility ORDER BY n.facility, n.node",
	              &q, err)))
		return s;
	while (!s && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct kr_node_info n = {
		    .node = col_text(q, 0),
		    .facility = col_text(q, 1),
		    .facility_name = col_text(q, 2),
		    .serial = col_text(q, 3),
		    .cert_not_after = sqlite3_column_int64(q, 4),
		    .enrolled_ms = sqlite3_column_int64(q, 5),
		    .last_seen_ms = sqlite3_column_int64(q, 6),
		    .skew_ms = sqlite3_column_int64(q, 7),
		    .acked = (uint64_t)sqlite3_column_int64(q, 8),
		    .outbox_pending = sqlite3_column_int64(q, 9),
		    .revoked = sqlite3_column_int(q, 10) != 0,
		    .revoked_ms = sqlite3_column_int64(q, 11),
		    .revoke_reason = col_text(q, 12),
		};
		s = fn(ctx, &n, err);
	}
	if (!s && rc != SQLITE_DONE)
		s = kr_store_fail(st, err, rc, "reading the node list");
	sqlite3_finalize(q);
	return s;
}
