/* fuzz_seeds.c: writes the generated seed inputs of the fuzz targets: fuzz_seeds DIR writes
 * DIR/fuzz_changeset, DIR/fuzz_sync, DIR/fuzz_http, DIR/fuzz_enroll and DIR/fuzz_catalogue (the small
 * catalogues and value texts; the real schema/catalogue.ini is copied there by hand). The change-sets build on
 * the history of fuzz_common.c, so that against the fuzz hub store they reach every answer of the sync
 * handler: applied, replayed, conflict, gap, forbidden, invalid. Run it again after changing that history. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "kiroku/enroll.h"
#include "kiroku/tls.h"

static const char *outdir;

static void put(const char *target, const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", outdir, target);
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		fuzz_fail("mkdir %s: %s", path, strerror(errno));
	snprintf(path, sizeof path, "%s/%s/%s", outdir, target, name);
	if (!(f = fopen(path, "wb")) || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		fuzz_fail("writing %s: %s", path, strerror(errno));
}

/* The same set as a seed of the decoder and of the sync handler. */
static void put_set(const char *name, const struct kr_buf *b)
{
	put("fuzz_changeset", name, b->data, b->len);
	put("fuzz_sync", name, b->data, b->len);
}

/* clang-format off */
#define TXT(x) {.type = KR_VAL_TEXT, .s = (x), .len = sizeof(x) - 1}
#define INT(n) {.type = KR_VAL_INT, .i = (n)}
#define BOOL(b) {.type = KR_VAL_BOOL, .i = (b)}
#define NUL {.type = KR_VAL_NULL}
#define NONE {0, NULL}
#define V(h, n) {FUZZ_T0 + (h), (n)}
/* clang-format on */
#define N(a) (sizeof(a) / sizeof((a)[0]))
#define CHANGE(seq, rec, kind, hlc, w)                                                                                 \
	{                                                                                                              \
		FUZZ_NODE, seq, rec, kind, FUZZ_FACILITY, FUZZ_T0 + (hlc), NONE, N(w), (struct kr_write *)(w), 0,      \
		    NULL, NULL, 0                                                                                      \
	}

static const kr_ulid record_d = {
    {0x01, 0x94, 0x4d, 0x82, 0xb8, 0x00, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda}};

static void sets(void)
{
	static const struct kr_write edit_stale[] = {
	    {"description", TXT("翌朝、バスの座席で発見。回収済み"), V(1, FUZZ_NODE)}};
	static const struct kr_write edit_current[] = {{"containment", TXT("関係者に連絡"), NONE},
	                                               {"persons_affected", INT(30), V(1, FUZZ_NODE)}};
	static const struct kr_write create_d[] = {
	    {"occurred_at", TXT("2025-01-11T10:05"), NONE},
	    {"discovered_at", TXT("2025-01-11T10:20"), NONE},
	    {"category", TXT("誤送付・誤送信"), NONE},
	    {"media", TXT("電子メール"), NONE},
	    {"personal_info", BOOL(1), NONE},
	    {"my_number", BOOL(0), NONE},
	    {"persons_affected", INT(1), NONE},
	    {"affected_names", TXT("区民 一名"), NONE},
	    {"description", TXT("通知メールを誤った宛先に送信"), NONE},
	    {"reporter_name", TXT("佐藤"), NONE},
	};
	static const struct kr_write clear[] = {{"media", NUL, V(1, FUZZ_NODE)}};
	static const struct kr_write del[] = {{KR_FIELD_DELETED, BOOL(1), NONE}};
	static const struct kr_seen seen_a[] = {{"category", V(1, FUZZ_NODE)},
	                                        {"description", V(2, FUZZ_NODE)},
	                                        {"media", V(1, FUZZ_NODE)},
	                                        {"occurred_at", V(1, FUZZ_NODE)},
	                                        {"persons_affected", V(1, FUZZ_NODE)},
	                                        {"personal_info", V(1, FUZZ_NODE)}};
	static const struct kr_write ledger_edit[] = {{"note", TXT("追記"), NONE}};
	static const struct kr_write operator_field[] = {{"status", TXT("closed"), NONE}};
	static const struct kr_write bad_enum[] = {{"category", TXT("lost"), NONE}};
	static const struct kr_write bad_date[] = {{"occurred_at", TXT("2025-02-30T10:00"), NONE}};
	static const struct kr_write undelete[] = {{KR_FIELD_DELETED, BOOL(0), V(5, FUZZ_NODE)}};
	struct kr_buf b;

	kr_buf_init(&b, 0);
	fuzz_history_set(0, &b);
	put_set("history-n1-replay", &b);
	b.len = 0;
	fuzz_history_set(1, &b);
	put_set("history-n2-wrong-sender", &b);

	b.len = 0;
	fuzz_encode_set(FUZZ_NODE, NULL, 0, true, 0, &b);
	put_set("pull-from-0", &b);
	b.len = 0;
	fuzz_encode_set(FUZZ_NODE, NULL, 0, false, 0, &b);
	put_set("empty-no-since", &b);

	struct kr_change c[3] = {CHANGE(FUZZ_NODE_SEQ + 1, fuzz_record_a, "incident", 10, edit_stale)};
	b.len = 0;
	fuzz_encode_set(FUZZ_NODE, c, 1, true, 0, &b);
	put_set("edit-stale-base-conflict", &b);

	c[0] = (struct kr_change)CHANGE(FUZZ_NODE_SEQ + 1, fuzz_record_a, "incident", 10, edit_current);
	b.len = 0;
	fuzz_encode_set(FUZZ_NODE, c, 1, true, 2, &b);
	put_set("edit-two-fields", &b);

	c[0] = (struct kr_change)CHANGE(FUZZ_NODE_SEQ + 1, record_d, "incident", 10, create_d);
	b.len = 0;
	fuzz_encode_set(FUZZ_NODE, c, 1, true, 0, &b);
	put_set("create-incident", &b);

	c[0] = (struct kr_change)CHANGE(FUZZ_NODE_SEQ + 1, fuzz_record_a, "incident", 10, del);
	c[0].seen = (struct kr_seen *)seen_a;
	c[0].nseen = N(seen_a);
	b.len = 0;
	fuzz_encode_set(FUZZ_NODE, c, 1, true, 0, &b);
	put_set("delete-with-seen", &b);

	c[0] = (struct kr_change)CHANGE(FUZZ_NODE_SEQ + 1, fuzz_record_c, "incident", 10, undelete);
	b.len = 0;
	fuzz_encode_set(FUZZ_NODE, c, 1, true, 0, &b);
	put_set("undelete", &b);

	c[0] = (struct kr_change)CHANGE(FUZZ_NODE_SEQ + 1, fuzz_record_b, "pi_handling", 10, ledger_edit);
	b.len = 0;
	fuzz_encode_set(FUZZ_NODE, c, 1, true, 0, &b);
	put_set("ledger-edit-forbidden", &b);

	c[0] = (struct kr_change)CHANGE(FUZZ_NODE_SEQ + 1, fuzz_record_a, "incident", 10, operator_field);
	b.len = 0;
	fuzz_encode_set(FUZZ_NODE, c, 1, true, 0, &b);
	put_set("operator-field-forbidden", &b);

	c[0] = (struct kr_change)CHANGE(FUZZ_NODE_SEQ + 1, fuzz_record_a, "incident", 10, bad_enum);
	c[1] = (struct kr_change)CHANGE(FUZZ_NODE_SEQ + 2, fuzz_record_a, "incident", 11, bad_date);
	b.len = 0;
	fuzz_encode_set(FUZZ_NODE, c, 2, true, 0, &b);
	put_set("invalid-values", &b);

	c[0] = (struct kr_change)CHANGE(FUZZ_NODE_SEQ + 2, fuzz_record_a, "incident", 10, edit_current);
	b.len = 0;
	fuzz_encode_set(FUZZ_NODE, c, 1, true, 0, &b);
	put_set("gap", &b);

	c[0] = (struct kr_change)CHANGE(FUZZ_NODE_SEQ + 1, record_d, "incident", 10, create_d);
	c[0].facility = "f2";
	b.len = 0;
	fuzz_encode_set(FUZZ_NODE, c, 1, true, 0, &b);
	put_set("other-facility", &b);

	c[0] = (struct kr_change)CHANGE(FUZZ_NODE_SEQ + 1, record_d, "_conflict", 10, create_d);
	b.len = 0;
	fuzz_encode_set(FUZZ_NODE, c, 1, true, 0, &b);
	put_set("system-kind", &b);

	c[0] = (struct kr_change)CHANGE(FUZZ_NODE_SEQ + 1, record_d, "incident", 10, create_d);
	c[1] = (struct kr_change)CHANGE(FUZZ_NODE_SEQ + 2, record_d, "incident", 11, clear);
	c[1].writes = (struct kr_write *)(const struct kr_write[]){{"media", NUL, V(10, FUZZ_NODE)}};
	c[2] = (struct kr_change)CHANGE(FUZZ_NODE_SEQ + 3, record_d, "incident", 12, del);
	b.len = 0;
	fuzz_encode_set(FUZZ_NODE, c, 3, true, 0, &b);
	put_set("create-edit-delete", &b);

	/* A hub's answer: sender, range, more, acks, catalogue version (decoder only; the hub refuses it). */
	{
		struct kr_ack acks[] = {{FUZZ_NODE, FUZZ_NODE_SEQ}, {FUZZ_NODE2, 1}};
		struct kr_change hc = CHANGE(1, fuzz_record_a, "incident", 3, edit_stale);
		struct kr_changeset cs = {.format = KR_FORMAT_VERSION,
		                          .sender = FUZZ_HUB_NODE,
		                          .facility = FUZZ_FACILITY,
		                          .nchanges = 1,
		                          .changes = &hc,
		                          .nacks = 2,
		                          .acks = acks,
		                          .has_range = true,
		                          .from = 3,
		                          .to = 7,
		                          .more = true,
		                          .catalogue_version = 2};
		struct kr_error err = {0};
		hc.origin = FUZZ_NODE2;
		hc.del_base = (struct kr_version)V(5, FUZZ_NODE);
		b.len = 0;
		if (kr_changeset_encode(&cs, &b, &err))
			fuzz_fail("%s", err.msg);
		put("fuzz_changeset", "hub-answer", b.data, b.len);
	}
	/* Values of every type, negative and large integers, a long text. */
	{
		static char longtext[300];
		memset(longtext, 'a', sizeof longtext - 1);
		struct kr_write w[] = {
		    {"persons_affected", INT(-5), NONE},
		    {"reopen_count", INT(INT64_MAX), NONE},
		    {"description", {.type = KR_VAL_TEXT, .s = longtext, .len = sizeof longtext - 1}, NONE},
		    {"media", NUL, V(2, FUZZ_NODE2)},
		    {"personal_info", BOOL(0), NONE}};
		c[0] = (struct kr_change)CHANGE(FUZZ_NODE_SEQ + 1, record_d, "incident", 10, w);
		b.len = 0;
		fuzz_encode_set(FUZZ_NODE, c, 1, true, 0, &b);
		put_set("value-types", &b);
	}
	kr_buf_release(&b);
}

static void http(void)
{
	static const char *const reqs[][2] = {
	    {"get-health", "GET /v1/health HTTP/1.1\r\nHost: hub\r\n\r\n"},
	    {"pipelined", "GET /a?x=1 HTTP/1.1\r\nHost: hub\r\n\r\nGET /b#frag HTTP/1.1\r\nHost: hub\r\n\r\n"
	                  "DELETE /c HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n"},
	    {"post-body", "POST /v1/x HTTP/1.1\r\nHost: hub\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\n"
	                  "hello world"},
	    {"expect-continue", "PUT /v1/x HTTP/1.1\r\nHost: hub\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"
	                        "abcd"},
	    {"expect-other", "POST /v1/x HTTP/1.1\r\nHost: hub\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nz"},
	    {"chunked", "POST /v1/x HTTP/1.1\r\nHost: hub\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
	    {"post-no-length", "POST /v1/x HTTP/1.1\r\nHost: hub\r\n\r\n"},
	    {"http10", "GET / HTTP/1.0\r\n\r\n"},
	    {"head", "HEAD /status/204 HTTP/1.1\r\nHost: hub\r\n\r\n"},
	    {"status-0", "GET /status/0 HTTP/1.1\r\nHost: hub\r\n\r\nGET /status/999 HTTP/1.1\r\n\r\n"},
	    {"status-body", "POST /status/418 HTTP/1.1\r\nContent-Length: 5\r\n\r\nteapo"},
	    {"echo-headers",
	     "GET /e HTTP/1.1\r\nX-Echo: a\tb\r\nX-Header-Name: X-Ok\r\nX-Content-Type: text/x\r\n"
	     "Host: hub\r\n\r\nGET /e HTTP/1.1\r\nX-Header-Name: bad name\r\nX-Content-Type: \x01\r\n\r\n"},
	    {"big", "GET /big HTTP/1.1\r\nHost: hub\r\n\r\nGET /close HTTP/1.1\r\n\r\nGET /never HTTP/1.1\r\n\r\n"},
	    {"garbage", "GARBAGE\r\n\r\n"},
	    {"connect", "CONNECT hub:443 HTTP/1.1\r\nHost: hub\r\n\r\n"},
	    {"upgrade", "GET /ws HTTP/1.1\r\nHost: hub\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"},
	    {"long-url",
	     "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa?b=cccccccccc HTTP/1.1\r\n\r\n"},
	    {"absolute-url", "GET http://hub:8443/v1/health?q HTTP/1.1\r\nHost: hub\r\n\r\n"},
	    {"split-header", "GET / HTTP/1.1\r\nX-Long: one\r\n two\r\nHost: hub\r\n\r\n"},
	    {"incomplete", "POST /v1/x HTTP/1.1\r\nContent-Length: 100\r\n\r\nshort"},
	    {"too-large", "POST /v1/x HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n"},
	};
	char many[2400];
	size_t o = 0;
	struct kr_buf b, set;

	for (size_t i = 0; i < N(reqs); i++)
		put("fuzz_http", reqs[i][0], reqs[i][1], strlen(reqs[i][1]));
	o += (size_t)snprintf(many + o, sizeof many - o, "GET /h HTTP/1.1\r\n");
	for (int i = 0; i < 66; i++)
		o += (size_t)snprintf(many + o, sizeof many - o, "H%d: v\r\n", i);
	o += (size_t)snprintf(many + o, sizeof many - o, "\r\n");
	put("fuzz_http", "too-many-headers", many, o);

	/* A sync request as the agent sends it. */
	kr_buf_init(&set, 0);
	kr_buf_init(&b, 0);
	fuzz_encode_set(FUZZ_NODE, NULL, 0, true, 0, &set);
	kr_buf_printf(&b,
	              "POST /v1/sync HTTP/1.1\r\nHost: 127.0.0.1:8443\r\nAccept: */*\r\n"
	              "Content-Type: application/cbor\r\nContent-Length: %zu\r\nExpect:\r\n\r\n",
	              set.len);
	kr_buf_append(&b, set.data, set.len);
	put("fuzz_http", "post-sync", b.data, b.len);
	kr_buf_release(&b);
	kr_buf_release(&set);
}

static void enroll(void)
{
	struct kr_enroll_token t = {
	    .hub_url = "https://hub.example.jp:8443", .facility = FUZZ_FACILITY, .expires = 1767225600};
	uint8_t secret[KR_ENROLL_SECRET_LEN];
	struct kr_error err = {0};
	struct kr_buf csr, req, text;
	char key[4200];

	memset(t.ca_sha256, 0xca, sizeof t.ca_sha256);
	memset(t.secret, 0x5e, sizeof t.secret);
	memset(secret, 'K', sizeof secret);
	kr_buf_init(&csr, 0);
	kr_buf_init(&req, 0);
	kr_buf_init(&text, 0);
	if (kr_enroll_token_encode(&t, &text, &err))
		fuzz_fail("%s", err.msg);
	put("fuzz_enroll", "token", text.data, text.len);

	snprintf(key, sizeof key, "%s/n9.key", fuzz_tmpdir());
	if (kr_csr_make(key, "n9", NULL, &csr, &err))
		fuzz_fail("%s", err.msg);
	if (kr_enroll_request_encode(secret, "n9", csr.data, csr.len, &req, &err))
		fuzz_fail("%s", err.msg);
	put("fuzz_enroll", "request-new-node", req.data, req.len);
	req.len = 0;
	if (kr_enroll_request_encode(secret, FUZZ_NODE, csr.data, csr.len, &req, &err))
		fuzz_fail("%s", err.msg);
	put("fuzz_enroll", "request-known-node", req.data, req.len);
	req.len = 0;
	memset(secret, 'x', sizeof secret);
	if (kr_enroll_request_encode(secret, "n9", csr.data, csr.len, &req, &err))
		fuzz_fail("%s", err.msg);
	put("fuzz_enroll", "request-unknown-token", req.data, req.len);
	req.len = 0;
	memset(secret, 'K', sizeof secret);
	if (kr_enroll_request_encode(secret, "n9", "not a CSR", 9, &req, &err))
		fuzz_fail("%s", err.msg);
	put("fuzz_enroll", "request-bad-csr", req.data, req.len);
	kr_buf_release(&csr);
	kr_buf_release(&req);
	kr_buf_release(&text);
}

static void catalogue(void)
{
	static const char small[] =
	    "[catalogue]\nversion = 3\n\n[kind visit]\nlabel_ja = 来訪\nlabel_en = Visit\nappend_only = yes\n\n"
	    "[field visit.at]\ntype = datetime\nrequired = yes\n\n[field visit.kind]\ntype = enum\n"
	    "value = 来客 | 来客 | Guest | guest | visitor\nvalue = repair | 修理 | Repair\n\n"
	    "[field visit.who]\ntype = text\nmax_len = 10\npersonal = yes\n\n[field visit.n]\ntype = count\n"
	    "[field visit.ok]\ntype = boolean\noperator_only = yes\n[field visit.on]\ntype = date\n"
	    "[field visit.delta]\ntype = integer\n";
	static const char *const values[][2] = {
	    {"datetime", "\x01"
	                 "2025-01-10 09:00"},
	    {"date", "\x02"
	             "2024-02-29"},
	    {"enum-alias", "\x03usb"},
	    {"enum-ja", "\x04紛失"},
	    {"count", "\x05"
	              "32"},
	    {"integer", "\x06-9223372036854775808"},
	    {"bool", "\x07はい"},
	    {"text", "\x08line one\nline two\ttab"},
	    {"bad-utf8", "\x09\xed\xa0\x80"},
	};

	put("fuzz_catalogue", "small.ini", small, sizeof small - 1);
	for (size_t i = 0; i < N(values); i++)
		put("fuzz_catalogue", values[i][0], values[i][1], strlen(values[i][1]));
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seeds DIR (writes DIR/fuzz_<target>/...)\n");
		return 2;
	}
	outdir = argv[1];
	if (mkdir(outdir, 0755) != 0 && errno != EEXIST)
		fuzz_fail("mkdir %s: %s", outdir, strerror(errno));
	sets();
	http();
	enroll();
	catalogue();
	return 0;
}
