/* test_trust.c: the enrolment token and request codecs, the audit log's hash chain (an edited, a removed, a
 * truncated and a rewritten log are each detected and the entry named), and the hub's enrolment rules on a real
 * store and CA (single use, expiry, node ids, CSR signatures, revocation). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiroku/audit.h"
#include "kiroku/crypto.h"
#include "kiroku/enroll.h"
#include "kiroku/keyfile.h"
#include "kiroku/store.h"
#include "kiroku/tls.h"
#include "kiroku/trust.h"

static char dir[256];

static void path(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static struct kr_enroll_token sample_token(void)
{
	struct kr_enroll_token t;
	memset(&t, 0, sizeof t);
	snprintf(t.hub_url, sizeof t.hub_url, "https://hub.city.example:8443");
	for (int i = 0; i < KR_ENROLL_FP_LEN; i++)
		t.ca_sha256[i] = (uint8_t)(i * 7 + 1);
	for (int i = 0; i < KR_ENROLL_SECRET_LEN; i++)
		t.secret[i] = (uint8_t)(0xA0 + i);
	snprintf(t.facility, sizeof t.facility, "school-12");
	t.expires = 1795000000;
	return t;
}

/* ---- codecs ---- */

static void test_token_round_trip(void **state)
{
	struct kr_enroll_token t = sample_token(), back;
	struct kr_error err = {0};
	struct kr_buf b;
	char padded[1024];
	(void)state;

	kr_buf_init(&b, 0);
	assert_int_equal(kr_enroll_token_encode(&t, &b, &err), KR_OK);
	assert_true(strncmp((char *)b.data, "KR1.", 4) == 0);
	assert_true(b.len < KR_ENROLL_TOKEN_MAX);
	assert_null(strpbrk((char *)b.data, "+/= \n")); /* base64url, no padding: one word in a shell */
	assert_int_equal(kr_enroll_token_decode((char *)b.data, &back, &err), KR_OK);
	assert_memory_equal(&t, &back, sizeof t);
	/* Surrounding white space (a pasted line) is fine. */
	snprintf(padded, sizeof padded, "  %s\r\n", (char *)b.data);
	assert_int_equal(kr_enroll_token_decode(padded, &back, &err), KR_OK);
	assert_memory_equal(&t, &back, sizeof t);
	kr_buf_release(&b);
}

static void test_token_refused(void **state)
{
	struct kr_enroll_token t = sample_token(), back;
	struct kr_error err = {0};
	struct kr_buf b;
	char text[1024];
	size_t n;
	(void)state;

	kr_buf_init(&b, 0);
	assert_int_equal(kr_enroll_token_encode(&t, &b, &err), KR_OK);
	snprintf(text, sizeof text, "%s", (char *)b.data);
	n = strlen(text);
	/* Wrong prefix, empty, cut short, a character changed, one appended, a non-base64url character. */
	assert_int_equal(kr_enroll_token_decode("KR2.AAAA", &back, &err), KR_ERR_MALFORMED);
	assert_non_null(strstr(err.msg, "KR1."));
	assert_int_equal(kr_enroll_token_decode("", &back, &err), KR_ERR_MALFORMED);
	for (size_t cut = 4; cut < n; cut += 7) {
		char t2[1024];
		snprintf(t2, sizeof t2, "%.*s", (int)cut, text);
		assert_int_equal(kr_enroll_token_decode(t2, &back, &err), KR_ERR_MALFORMED);
		for (size_t i = 0; i < sizeof back; i++) /* zeroed on error */
			assert_int_equal(((uint8_t *)&back)[i], 0);
	}
	text[n - 1] = text[n - 1] == 'A' ? 'B' : 'A'; /* the last character: the expiry's low bits, or non-canonical */
	assert_true(kr_enroll_token_decode(text, &back, &err) == KR_ERR_MALFORMED || back.expires != t.expires);
	snprintf(text, sizeof text, "%sAA", (char *)b.data);
	assert_int_equal(kr_enroll_token_decode(text, &back, &err), KR_ERR_MALFORMED);
	snprintf(text, sizeof text, "%s", (char *)b.data);
	text[10] = '+';
	assert_int_equal(kr_enroll_token_decode(text, &back, &err), KR_ERR_MALFORMED);
	assert_non_null(strstr(err.msg, "base64url"));
	/* Encoding refuses what a token cannot carry. */
	b.len = 0;
	snprintf(t.hub_url, sizeof t.hub_url, "http://hub.example");
	assert_int_equal(kr_enroll_token_encode(&t, &b, &err), KR_ERR_INVALID);
	t = sample_token();
	snprintf(t.facility, sizeof t.facility, "School 12");
	assert_int_equal(kr_enroll_token_encode(&t, &b, &err), KR_ERR_INVALID);
	assert_int_equal(b.len, 0);
	kr_buf_release(&b);
}

static void test_token_hand_made(void **state)
{
	/* CBOR made by hand: version 2, and a 31-byte fingerprint, are refused with what is wrong. */
	struct kr_enroll_token back;
	struct kr_error err = {0};
	struct kr_buf b, text;
	uint8_t cbor[200];
	size_t n = 0;
	(void)state;

	kr_buf_init(&b, 0);
	kr_buf_init(&text, 0);
	cbor[n++] = 0x86; /* array(6) */
	cbor[n++] = 0x02; /* version 2 */
	cbor[n++] = 0x71; /* text(17) */
	memcpy(cbor + n, "https://hub.local", 17);
	n += 17;
	cbor[n++] = 0x58; /* bytes(32) */
	cbor[n++] = 32;
	memset(cbor + n, 1, 32);
	n += 32;
	cbor[n++] = 0x58; /* bytes(24) */
	cbor[n++] = 24;
	memset(cbor + n, 2, 24);
	n += 24;
	cbor[n++] = 0x62; /* text(2) */
	cbor[n++] = 'f';
	cbor[n++] = '1';
	cbor[n++] = 0x1a; /* uint32 */
	cbor[n++] = 0x6a;
	cbor[n++] = 0;
	cbor[n++] = 0;
	cbor[n++] = 0;
	kr_buf_append(&text, "KR1.", 4);
	kr_base64url_encode(cbor, n, &text);
	assert_int_equal(kr_enroll_token_decode((char *)text.data, &back, &err), KR_ERR_MALFORMED);
	assert_non_null(strstr(err.msg, "version 2"));
	cbor[1] = 0x01; /* version 1: accepted */
	text.len = 0;
	kr_buf_append(&text, "KR1.", 4);
	kr_base64url_encode(cbor, n, &text);
	assert_int_equal(kr_enroll_token_decode((char *)text.data, &back, &err), KR_OK);
	assert_string_equal(back.facility, "f1");
	cbor[20] = 31; /* the fingerprint's length */
	text.len = 0;
	kr_buf_append(&text, "KR1.", 4);
	kr_base64url_encode(cbor, n, &text);
	assert_int_equal(kr_enroll_token_decode((char *)text.data, &back, &err), KR_ERR_MALFORMED);
	kr_buf_release(&b);
	kr_buf_release(&text);
}

static void test_request_codec(void **state)
{
	uint8_t secret[KR_ENROLL_SECRET_LEN];
	struct kr_enroll_request req;
	struct kr_error err = {0};
	struct kr_buf b;
	(void)state;

	memset(secret, 0x5a, sizeof secret);
	kr_buf_init(&b, 0);
	assert_int_equal(kr_enroll_request_encode(secret, "pc-1", "CSR", 3, &b, &err), KR_OK);
	assert_int_equal(kr_enroll_request_decode(b.data, b.len, &req, &err), KR_OK);
	assert_string_equal(req.node, "pc-1");
	assert_memory_equal(req.secret, secret, sizeof secret);
	assert_int_equal(req.csr_len, 3);
	assert_int_equal(kr_enroll_request_decode(b.data, b.len - 1, &req, &err), KR_ERR_MALFORMED);
	kr_buf_append(&b, "", 1);
	assert_int_equal(kr_enroll_request_decode(b.data, b.len, &req, &err), KR_ERR_MALFORMED);
	assert_int_equal(kr_enroll_request_encode(secret, "PC 1", "CSR", 3, &b, &err), KR_ERR_INVALID);
	kr_buf_release(&b);
}

/* ---- the audit chain ---- */

static struct kr_store *new_hub(const char *name)
{
	char p[512];
	struct kr_store *st;
	struct kr_error err = {0};

	path(p, sizeof p, name);
	assert_int_equal(kr_store_create(p, KR_ROLE_HUB, "hub", NULL, &err), KR_OK);
	assert_int_equal(kr_store_open(p, &st, &err), KR_OK);
	return st;
}

static void exec(struct kr_store *st, const char *sql)
{
	assert_int_equal(sqlite3_exec(kr_store_db(st), sql, NULL, NULL, NULL), SQLITE_OK);
}

static struct kr_audit_verify_result verify(struct kr_store *st)
{
	struct kr_audit_verify_result r;
	struct kr_error err = {0};
	assert_int_equal(kr_audit_verify(st, 0, NULL, &r, &err), KR_OK);
	return r;
}

static void test_audit_chain(void **state)
{
	struct kr_store *st = new_hub("audit.db");
	struct kr_audit_verify_result r;
	struct kr_error err = {0};
	char detail[64], anchor_hash[65];
	(void)state;

	r = verify(st);
	assert_true(r.intact);
	assert_int_equal(r.entries, 0);
	for (int i = 1; i <= 5; i++) {
		snprintf(detail, sizeof detail, "record=%d 値=変更", i);
		assert_int_equal(kr_audit_append(st, "operator:alice", "incident.triage", detail, &err), KR_OK);
	}
	r = verify(st);
	assert_true(r.intact);
	assert_int_equal(r.entries, 5);
	assert_int_equal(r.head_id, 5);
	snprintf(anchor_hash, sizeof anchor_hash, "%s", r.head_hash);
	/* Bad input is refused and writes nothing. */
	assert_int_equal(kr_audit_append(st, "", "x", "", &err), KR_ERR_INVALID);
	assert_int_equal(kr_audit_append(st, "hub", "two words", "", &err), KR_ERR_INVALID);
	assert_int_equal(verify(st).entries, 5);
	/* An entry written inside a transaction that is rolled back leaves nothing. */
	assert_int_equal(kr_store_begin(st, &err), KR_OK);
	assert_int_equal(kr_audit_append(st, "hub", "test.rollback", "", &err), KR_OK);
	kr_store_rollback(st);
	r = verify(st);
	assert_true(r.intact);
	assert_int_equal(r.entries, 5);

	/* One entry edited: named. */
	exec(st, "SAVEPOINT t; UPDATE audit_log SET detail = 'record=3 値=なし' WHERE id = 3");
	r = verify(st);
	assert_false(r.intact);
	assert_int_equal(r.bad_id, 3);
	assert_non_null(strstr(r.problem, "entry 3 was changed"));
	exec(st, "ROLLBACK TO t; RELEASE t");
	assert_true(verify(st).intact);

	/* Edited and its hash recomputed by someone who knows the format: the next entry's link names it. */
	exec(st, "SAVEPOINT t; UPDATE audit_log SET hash = zeroblob(32) WHERE id = 2");
	r = verify(st);
	assert_false(r.intact);
	assert_int_equal(r.bad_id, 2);
	exec(st, "ROLLBACK TO t; RELEASE t");

	/* One entry removed from the middle: named. */
	exec(st, "SAVEPOINT t; DELETE FROM audit_log WHERE id = 4");
	r = verify(st);
	assert_false(r.intact);
	assert_int_equal(r.bad_id, 4);
	assert_non_null(strstr(r.problem, "entry 4 was removed"));
	exec(st, "ROLLBACK TO t; RELEASE t");

	/* The last entry removed: the head kept in meta names it. */
	exec(st, "SAVEPOINT t; DELETE FROM audit_log WHERE id = 5");
	r = verify(st);
	assert_false(r.intact);
	assert_int_equal(r.bad_id, 5);
	assert_non_null(strstr(r.problem, "entry 5 was removed"));
	/* ... and with the head rewritten too, only an anchor recorded earlier shows it. */
	exec(st, "UPDATE meta SET value = (SELECT '4 ' || lower(hex(hash)) FROM audit_log WHERE id = 4) "
	         "WHERE key = 'audit_head'");
	assert_true(verify(st).intact);
	assert_int_equal(kr_audit_verify(st, 5, anchor_hash, &r, &err), KR_OK);
	assert_false(r.intact);
	assert_int_equal(r.bad_id, 5);
	exec(st, "ROLLBACK TO t; RELEASE t");
	assert_int_equal(kr_audit_verify(st, 5, anchor_hash, &r, &err), KR_OK);
	assert_true(r.intact);
	kr_store_close(st);
}

/* ---- enrolment at the hub ---- */

static void issue_token(struct kr_store *st, const char *facility, int64_t ttl_ms, uint8_t secret[KR_ENROLL_SECRET_LEN])
{
	struct kr_token_issue ti = {.facility = facility,
	                            .facility_name = "光が丘小学校",
	                            .hub_url = "https://h:1",
	                            .actor = "operator:test",
	                            .expires_ms = (int64_t)kr_now_ms() + ttl_ms};
	char id[KR_TOKEN_ID_LEN + 1];
	struct kr_error err = {0};
	assert_int_equal(kr_trust_token_create(st, &ti, secret, id, &err), KR_OK);
	assert_int_equal(strlen(id), KR_TOKEN_ID_LEN);
}

static kr_status enroll(struct kr_store *st, const uint8_t *secret, const char *node, const char *key_name,
                        struct kr_buf *pem, struct kr_error *err)
{
	struct kr_enroll_request req = {.secret = secret};
	struct kr_enroll_outcome out;
	struct kr_buf csr;
	char key[512];
	kr_status s;

	path(key, sizeof key, key_name);
	kr_buf_init(&csr, 0);
	if (access(key, F_OK) == 0)
		assert_int_equal(kr_csr_make_for_key(key, node, NULL, &csr, err), KR_OK);
	else
		assert_int_equal(kr_csr_make(key, node, NULL, &csr, err), KR_OK);
	snprintf(req.node, sizeof req.node, "%s", node);
	req.csr = csr.data;
	req.csr_len = csr.len;
	s = kr_trust_enroll(st, dir, &req, "127.0.0.1:1", 365, pem, &out, err);
	kr_buf_release(&csr);
	return s;
}

static int count(struct kr_store *st, const char *sql)
{
	sqlite3_stmt *q;
	int n = -1;
	assert_int_equal(sqlite3_prepare_v2(kr_store_db(st), sql, -1, &q, NULL), SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	return n;
}

static void test_enrolment_rules(void **state)
{
	struct kr_store *st = new_hub("enrol.db");
	uint8_t secret[KR_ENROLL_SECRET_LEN], other[KR_ENROLL_SECRET_LEN], old[KR_ENROLL_SECRET_LEN];
	struct kr_error err = {0};
	struct kr_cert_info ci;
	struct kr_buf pem, again;
	unsigned certs;
	(void)state;

	kr_buf_init(&pem, 0);
	kr_buf_init(&again, 0);
	issue_token(st, "f1", 3600 * 1000, secret);
	issue_token(st, "f1", 3600 * 1000, other);
	assert_true(kr_trust_enrolment_open(st, (int64_t)kr_now_ms()));
	/* An unknown secret. */
	memset(old, 0x11, sizeof old);
	assert_int_equal(enroll(st, old, "pc-1", "k0", &pem, &err), KR_ERR_FORBIDDEN);
	assert_non_null(strstr(err.msg, "not known"));
	/* The node id of the hub itself. */
	assert_int_equal(enroll(st, secret, "hub", "k1", &pem, &err), KR_ERR_CONFLICT);
	/* The right one: the certificate names the node and the token's facility. */
	assert_int_equal(enroll(st, secret, "pc-1", "k2", &pem, &err), KR_OK);
	assert_int_equal(kr_cert_info_mem(pem.data, pem.len, &ci, &err), KR_OK);
	assert_string_equal(ci.cn, "pc-1");
	assert_string_equal(ci.ou, "f1");
	assert_int_equal(count(st, "SELECT count(*) FROM enroll_tokens WHERE used_by = 'pc-1'"), 1);
	assert_int_equal(count(st, "SELECT count(*) FROM nodes WHERE node = 'pc-1' AND enrolled_ms > 0"), 1);
	/* The same request again (its answer lost): the same certificate. */
	assert_int_equal(enroll(st, secret, "pc-1", "k2", &again, &err), KR_OK);
	assert_int_equal(again.len, pem.len);
	assert_memory_equal(again.data, pem.data, pem.len);
	/* The used token with another key, or for another node: refused. */
	assert_int_equal(enroll(st, secret, "pc-1", "k3", &again, &err), KR_ERR_FORBIDDEN);
	assert_non_null(strstr(err.msg, "already used"));
	assert_int_equal(enroll(st, secret, "pc-2", "k4", &again, &err), KR_ERR_FORBIDDEN);
	/* A fresh token cannot take an enrolled node's id. */
	assert_int_equal(enroll(st, other, "pc-1", "k5", &again, &err), KR_ERR_CONFLICT);
	assert_non_null(strstr(err.msg, "already in use"));
	/* An expired token. */
	issue_token(st, "f1", 1000, old);
	setenv("KIROKU_FAKE_CLOCK_OFFSET_MS", "5000", 1);
	assert_int_equal(enroll(st, old, "pc-3", "k6", &again, &err), KR_ERR_FORBIDDEN);
	assert_non_null(strstr(err.msg, "expired"));
	unsetenv("KIROKU_FAKE_CLOCK_OFFSET_MS");
	/* Revocation: the node and its certificates. */
	assert_int_equal(kr_trust_check_peer(st, &ci, &err), KR_OK);
	assert_int_equal(kr_trust_revoke(st, "pc-1", "lost", "operator:test", &certs, &err), KR_OK);
	assert_int_equal(certs, 1);
	assert_int_equal(kr_trust_check_peer(st, &ci, &err), KR_ERR_FORBIDDEN);
	assert_int_equal(kr_trust_revoke(st, "pc-1", "again", "operator:test", &certs, &err), KR_ERR_CONFLICT);
	assert_int_equal(kr_trust_revoke(st, "nobody", "", "operator:test", &certs, &err), KR_ERR_NOT_FOUND);
	/* Everything that was done is in the audit log, intact. */
	assert_int_equal(count(st, "SELECT count(*) FROM audit_log WHERE action = 'token.issue'"), 3);
	assert_int_equal(count(st, "SELECT count(*) FROM audit_log WHERE action = 'node.enrol'"), 1);
	assert_int_equal(count(st, "SELECT count(*) FROM audit_log WHERE action = 'node.revoke'"), 1);
	assert_true(verify(st).intact);
	kr_buf_release(&pem);
	kr_buf_release(&again);
	kr_store_close(st);
}

/* The id operators see for a token: the first hex digits of its secret's SHA-256. */
static void token_id(const uint8_t secret[KR_ENROLL_SECRET_LEN], char id[KR_TOKEN_ID_LEN + 1])
{
	uint8_t hash[KR_SHA256_LEN];
	char hex[2 * KR_SHA256_LEN + 1];
	struct kr_error err = {0};

	assert_int_equal(kr_sha256(secret, KR_ENROLL_SECRET_LEN, hash, &err), KR_OK);
	kr_hex(hash, sizeof hash, hex);
	snprintf(id, KR_TOKEN_ID_LEN + 1, "%.*s", KR_TOKEN_ID_LEN, hex);
}

struct token_seen {
	int n;
	char states[8][16];
};

static kr_status note_token(void *ctx, const struct kr_token_info *t, struct kr_error *err)
{
	struct token_seen *seen = ctx;
	(void)err;
	assert_int_equal(strlen(t->id), KR_TOKEN_ID_LEN);
	if (seen->n < 8)
		snprintf(seen->states[seen->n], sizeof seen->states[0], "%s", kr_trust_token_state_name(t->state));
	seen->n++;
	return KR_OK;
}

static void test_token_cancel(void **state)
{
	struct kr_store *st = new_hub("cancel.db");
	uint8_t used[KR_ENROLL_SECRET_LEN], spare[KR_ENROLL_SECRET_LEN], leaked[KR_ENROLL_SECRET_LEN];
	char used_id[KR_TOKEN_ID_LEN + 1], spare_id[KR_TOKEN_ID_LEN + 1], leaked_id[KR_TOKEN_ID_LEN + 1];
	char id[KR_TOKEN_ID_LEN + 1], facility[KR_ID_MAX + 1], upper[KR_TOKEN_ID_LEN + 1];
	struct token_seen seen = {0};
	struct kr_error err = {0};
	struct kr_buf pem;
	(void)state;

	kr_buf_init(&pem, 0);
	issue_token(st, "f1", 3600 * 1000, used);
	issue_token(st, "f2", 3600 * 1000, leaked);
	issue_token(st, "f3", 3600 * 1000, spare);
	token_id(used, used_id);
	token_id(leaked, leaked_id);
	token_id(spare, spare_id);
	assert_int_equal(enroll(st, used, "pc-1", "kc1", &pem, &err), KR_OK);
	/* Open tokens only; then every one with its state. */
	assert_int_equal(kr_trust_token_list(st, false, (int64_t)kr_now_ms(), note_token, &seen, &err), KR_OK);
	assert_int_equal(seen.n, 2);
	/* Cancelled by its id, in capitals too. */
	for (int i = 0; i < KR_TOKEN_ID_LEN; i++)
		upper[i] = (char)(leaked_id[i] >= 'a' ? leaked_id[i] - 'a' + 'A' : leaked_id[i]);
	upper[KR_TOKEN_ID_LEN] = 0;
	assert_int_equal(kr_trust_token_cancel(st, upper, "leaked", "operator:test", id, facility, &err), KR_OK);
	assert_string_equal(id, leaked_id);
	assert_string_equal(facility, "f2");
	assert_int_equal(count(st, "SELECT count(*) FROM enroll_tokens WHERE cancelled_ms > 0 AND "
	                           "cancelled_by = 'operator:test' AND cancel_reason = 'leaked'"),
	                 1);
	/* Enrolment with it is refused and writes nothing. */
	assert_int_equal(enroll(st, leaked, "pc-2", "kc2", &pem, &err), KR_ERR_FORBIDDEN);
	assert_non_null(strstr(err.msg, "cancelled"));
	assert_null(strstr(err.msg, "leaked")); /* the operator's reason stays at the hub */
	assert_int_equal(count(st, "SELECT count(*) FROM nodes WHERE node = 'pc-2'"), 0);
	assert_int_equal(count(st, "SELECT count(*) FROM certs WHERE node = 'pc-2'"), 0);
	assert_int_equal(count(st, "SELECT count(*) FROM enroll_tokens WHERE used_ms IS NOT NULL"), 1);
	/* Refusals: again, unknown, used, not an id. */
	assert_int_equal(kr_trust_token_cancel(st, leaked_id, "", "operator:test", id, facility, &err),
	                 KR_ERR_CONFLICT);
	assert_non_null(strstr(err.msg, "already cancelled"));
	assert_int_equal(kr_trust_token_cancel(st, "0000000000000000", "", "operator:test", id, facility, &err),
	                 KR_ERR_NOT_FOUND);
	assert_int_equal(kr_trust_token_cancel(st, used_id, "", "operator:test", id, facility, &err), KR_ERR_CONFLICT);
	assert_non_null(strstr(err.msg, "already used (by node \"pc-1\""));
	assert_int_equal(kr_trust_token_cancel(st, "12ab", "", "operator:test", id, facility, &err), KR_ERR_INVALID);
	assert_int_equal(kr_trust_token_cancel(st, "zzzzzzzzzzzzzzzz", "", "operator:test", id, facility, &err),
	                 KR_ERR_INVALID);
	/* A cancelled token keeps no enrolment open: with the spare one cancelled too, none is. */
	assert_true(kr_trust_enrolment_open(st, (int64_t)kr_now_ms()));
	assert_int_equal(kr_trust_token_cancel(st, spare_id, NULL, "operator:test", id, facility, &err), KR_OK);
	assert_false(kr_trust_enrolment_open(st, (int64_t)kr_now_ms()));
	memset(&seen, 0, sizeof seen);
	assert_int_equal(kr_trust_token_list(st, false, (int64_t)kr_now_ms(), note_token, &seen, &err), KR_OK);
	assert_int_equal(seen.n, 0);
	/* An expired token cannot be cancelled; --all shows every state. */
	issue_token(st, "f1", 1000, spare);
	setenv("KIROKU_FAKE_CLOCK_OFFSET_MS", "5000", 1);
	token_id(spare, spare_id);
	assert_int_equal(kr_trust_token_cancel(st, spare_id, "", "operator:test", id, facility, &err), KR_ERR_CONFLICT);
	assert_non_null(strstr(err.msg, "expired"));
	assert_int_equal(kr_trust_token_list(st, true, (int64_t)kr_now_ms(), note_token, &seen, &err), KR_OK);
	unsetenv("KIROKU_FAKE_CLOCK_OFFSET_MS");
	assert_int_equal(seen.n, 4);
	assert_string_equal(seen.states[0], "used");
	assert_string_equal(seen.states[1], "cancelled");
	assert_string_equal(seen.states[2], "cancelled");
	assert_string_equal(seen.states[3], "expired");
	assert_int_equal(count(st, "SELECT count(*) FROM audit_log WHERE action = 'token.cancel'"), 2);
	assert_true(verify(st).intact);
	kr_buf_release(&pem);
	kr_store_close(st);
}

static void test_bad_csr_changes_nothing(void **state)
{
	struct kr_store *st = new_hub("csr.db");
	uint8_t secret[KR_ENROLL_SECRET_LEN];
	struct kr_enroll_request req = {0};
	struct kr_enroll_outcome out;
	struct kr_error err = {0};
	struct kr_buf csr, pem;
	char key[512], *sig;
	(void)state;

	issue_token(st, "f2", 3600 * 1000, secret);
	kr_buf_init(&csr, 0);
	kr_buf_init(&pem, 0);
	path(key, sizeof key, "kb");
	assert_int_equal(kr_csr_make(key, "pc-9", NULL, &csr, &err), KR_OK);
	assert_int_equal(kr_buf_terminate(&csr), KR_OK);
	/* Flip a base64 character near the end of the PEM: inside the signature. */
	sig = strstr((char *)csr.data, "-----END");
	sig[-6] = sig[-6] == 'A' ? 'B' : 'A';
	req.secret = secret;
	snprintf(req.node, sizeof req.node, "pc-9");
	req.csr = csr.data;
	req.csr_len = csr.len;
	assert_true(kr_trust_enroll(st, dir, &req, "a", 365, &pem, &out, &err) != KR_OK);
	printf("  a CSR with a bad signature: %s\n", err.msg);
	assert_int_equal(pem.len, 0);
	assert_int_equal(count(st, "SELECT count(*) FROM enroll_tokens WHERE used_ms IS NULL"), 1);
	assert_int_equal(count(st, "SELECT count(*) FROM nodes"), 0);
	assert_int_equal(count(st, "SELECT count(*) FROM certs"), 0);
	assert_int_equal(count(st, "SELECT count(*) FROM audit_log"), 1); /* the token's issue only */
	kr_buf_release(&csr);
	kr_buf_release(&pem);
	kr_store_close(st);
}

static void test_keyfile_modes(void **state)
{
	char p[512];
	struct kr_error err = {0};
	FILE *f;
	(void)state;

	path(p, sizeof p, "some.key");
	f = fopen(p, "w");
	fputs("x", f);
	fclose(f);
	chmod(p, 0644);
	assert_int_equal(kr_keyfile_check(p, &err), KR_ERR_CONFIG);
	assert_non_null(strstr(err.msg, p));
	assert_non_null(strstr(err.msg, "0644"));
	assert_non_null(strstr(err.msg, "chmod 600"));
	chmod(p, 0600);
	assert_int_equal(kr_keyfile_check(p, &err), KR_OK);
	chmod(dir, 0750);
	assert_int_equal(kr_datadir_check(dir, &err), KR_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "chmod 700"));
	chmod(dir, 0700);
	assert_int_equal(kr_datadir_check(dir, &err), KR_OK);
}

static int setup(void **state)
{
	struct kr_error err = {0};
	(void)state;
	snprintf(dir, sizeof dir, "%s/kiroku-trust-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	return kr_ca_init(dir, "test CA", &err) == KR_OK ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[600];
	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_token_round_trip),
	    cmocka_unit_test(test_token_refused),
	    cmocka_unit_test(test_token_hand_made),
	    cmocka_unit_test(test_request_codec),
	    cmocka_unit_test(test_audit_chain),
	    cmocka_unit_test(test_enrolment_rules),
	    cmocka_unit_test(test_token_cancel),
	    cmocka_unit_test(test_bad_csr_changes_nothing),
	    cmocka_unit_test(test_keyfile_modes),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
