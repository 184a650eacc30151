/* fuzz_enroll.c: enrolment input. The bytes are read as a POST /v1/enroll body (kr_enroll_request_decode) and,
 * when that accepts them, handed to the hub's enrolment (kr_trust_enroll: token, node id, certificate request,
 * certificate) and renewal (kr_trust_renew, the same request's CSR from node n1) on the fuzz hub store with a CA
 * and one open token, inside a transaction rolled back after each input. The secret the seeds carry (24 bytes
 * of 'K') stands for the open token's secret, which is random. The bytes are also read as an enrolment token's
 * text form (kr_enroll_token_decode), which must encode back to a token that decodes to the same, and as
 * base64url. hub/trust_serve.c's serve_enroll wraps exactly these calls (rate limit, method, content type). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "kiroku/enroll.h"
#include "kiroku/trust.h"

#define SEED_SECRET 'K'

static uint8_t secret[KR_ENROLL_SECRET_LEN];
static char ca_dir[4200];

static void setup(struct kr_store **out)
{
	static struct kr_store *st;
	struct kr_token_issue ti = {.facility = FUZZ_FACILITY,
	                            .facility_name = "fuzz facility",
	                            .hub_url = "https://127.0.0.1:8443",
	                            .actor = "fuzz",
	                            .expires_ms = (int64_t)kr_now_ms() + (int64_t)30 * 24 * 3600 * 1000};
	struct kr_error err = {0};
	char id[KR_TOKEN_ID_LEN + 1];

	if (!st) {
		st = fuzz_hub_store();
		snprintf(ca_dir, sizeof ca_dir, "%s/ca", fuzz_tmpdir());
		if (kr_ca_init(ca_dir, "kiroku fuzz CA", &err) || kr_trust_token_create(st, &ti, secret, id, &err))
			fuzz_fail("setting up the CA and a token: %s", err.msg);
	}
	*out = st;
}

static void check_status(const char *what, kr_status s, const struct kr_error *err)
{
	switch (s) {
	case KR_OK:
	case KR_ERR_FORBIDDEN:
	case KR_ERR_CONFLICT:
	case KR_ERR_MALFORMED:
	case KR_ERR_INVALID:
		if (s && (err->code != s || !err->msg[0]))
			fuzz_fail("%s: %s without a message", what, kr_status_name(s));
		return;
	default:
		fuzz_fail("%s: %s: %s", what, kr_status_name(s), err->msg);
	}
}

static void enrol(const uint8_t *data, size_t size)
{
	struct kr_enroll_request req;
	struct kr_enroll_outcome out;
	struct kr_cert_info peer = {.cn = FUZZ_NODE, .ou = FUZZ_FACILITY, .serial = "01"};
	struct kr_error err = {0};
	struct kr_store *st;
	struct kr_buf pem;
	uint8_t own[KR_ENROLL_SECRET_LEN];
	kr_status s;

	s = kr_enroll_request_decode(data, size, &req, &err);
	if (s) {
		if ((s != KR_ERR_MALFORMED && s != KR_ERR_INVALID) || err.code != s || !err.msg[0])
			fuzz_fail("kr_enroll_request_decode gave %s \"%s\"", kr_status_name(s), err.msg);
		return;
	}
	if (!req.secret || !req.csr || req.csr_len == 0 || req.csr_len > KR_ENROLL_CSR_MAX || !kr_id_valid(req.node))
		fuzz_fail("a decoded request breaks the promises of enroll.h");
	memset(own, SEED_SECRET, sizeof own);
	setup(&st);
	if (memcmp(req.secret, own, sizeof own) == 0)
		req.secret = secret;

	kr_buf_init(&pem, 1 << 20);
	if (kr_store_begin(st, &err))
		fuzz_fail("BEGIN: %s", err.msg);
	s = kr_trust_enroll(st, ca_dir, &req, "127.0.0.1:40000", 365, &pem, &out, &err);
	check_status("kr_trust_enroll", s, &err);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "enrol %s: %s %s\n", req.node, kr_status_name(s), s ? err.msg : out.serial);
	if (s == KR_OK && (strcmp(out.node, req.node) != 0 || strcmp(out.facility, FUZZ_FACILITY) != 0 || pem.len == 0))
		fuzz_fail("enrolled node \"%s\" of \"%s\" for a request of \"%s\"", out.node, out.facility, req.node);
	kr_store_rollback(st);

	pem.len = 0;
	if (kr_store_begin(st, &err))
		fuzz_fail("BEGIN: %s", err.msg);
	s = kr_trust_renew(st, ca_dir, &peer, req.csr, req.csr_len, "127.0.0.1:40000", 365, &pem, &out, &err);
	check_status("kr_trust_renew", s, &err);
	kr_store_rollback(st);
	kr_buf_release(&pem);
}

static void token(const uint8_t *data, size_t size)
{
	struct kr_enroll_token t, again;
	struct kr_error err = {0};
	struct kr_buf text;
	uint8_t raw[1024];
	size_t n;
	char *s = malloc(size + 1);

	if (!s)
		return;
	memcpy(s, data, size);
	s[size] = 0;
	(void)kr_base64url_decode(s, strnlen(s, size), raw, sizeof raw, &n, &err);
	if (kr_enroll_token_decode(s, &t, &err) == KR_OK) {
		kr_buf_init(&text, 4096);
		if (kr_enroll_token_encode(&t, &text, &err))
			fuzz_fail("a decoded token does not encode: %s", err.msg);
		if (kr_enroll_token_decode((const char *)text.data, &again, &err))
			fuzz_fail("a re-encoded token does not decode: %s", err.msg);
		if (memcmp(&t, &again, sizeof t) != 0)
			fuzz_fail("a token changed through encoding and decoding");
		kr_buf_release(&text);
	} else if (err.code != KR_ERR_MALFORMED || !err.msg[0]) {
		fuzz_fail("kr_enroll_token_decode gave %s \"%s\"", kr_status_name(err.code), err.msg);
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enrol(data, size);
	token(data, size);
	return 0;
}
