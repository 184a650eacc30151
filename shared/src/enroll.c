/* enroll.c: the enrolment token's text form and the POST /v1/enroll request (enroll.h, schema/enroll.cddl). */
#include "kiroku/enroll.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cbor_pull.h"

#define FORMAT_VERSION 1

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

kr_status kr_base64url_encode(const void *data, size_t n, struct kr_buf *out)
{
	const uint8_t *p = data;
	size_t before = out->len;
	kr_status s = KR_OK;
	char quad[4];

	for (size_t i = 0; i < n && !s; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t k = n - i >= 3 ? 4 : n - i + 1;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		quad[0] = b64url[(v >> 18) & 63];
		quad[1] = b64url[(v >> 12) & 63];
		quad[2] = b64url[(v >> 6) & 63];
		quad[3] = b64url[v & 63];
		s = kr_buf_append(out, quad, k);
	}
	if (!s)
		s = kr_buf_terminate(out);
	if (s)
		out->len = before;
	return s;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

kr_status kr_base64url_decode(const char *text, size_t len, uint8_t *out, size_t cap, size_t *out_len,
                              struct kr_error *err)
{
	uint32_t acc = 0;
	size_t n = 0;
	int bits = 0;

	*out_len = 0;
	if (len % 4 == 1)
		return kr_fail(err, KR_ERR_MALFORMED, "base64url text of %zu characters cannot be complete", len);
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(text[i]);
		if (v < 0)
			return kr_fail(err, KR_ERR_MALFORMED, "character %zu (\"%c\") is not base64url", i + 1,
			               isprint((unsigned char)text[i]) ? text[i] : '?');
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == cap)
				return kr_fail(err, KR_ERR_TOO_BIG, "more than %zu bytes of base64url", cap);
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	/* The unused low bits of the last character must be zero: one text per byte string. */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return kr_fail(err, KR_ERR_MALFORMED, "the base64url text does not end cleanly");
	*out_len = n;
	return KR_OK;
}

static bool url_ok(const char *u)
{
	size_t n = strlen(u);
	if (n <= 8 || n > KR_ENROLL_URL_MAX || strncasecmp(u, "https://", 8) != 0)
		return false;
	for (; *u; u++)
		if ((unsigned char)*u <= 0x20 || (unsigned char)*u >= 0x7f)
			return false;
	return true;
}

kr_status kr_enroll_token_encode(const struct kr_enroll_token *t, struct kr_buf *out, struct kr_error *err)
{
	struct kr_buf cbor;
	size_t before = out->len;
	kr_status s;

	if (!url_ok(t->hub_url))
		return kr_fail(err, KR_ERR_INVALID, "the hub URL \"%s\" must be https:// and at most %d characters",
		               t->hub_url, KR_ENROLL_URL_MAX);
	if (!kr_id_valid(t->facility))
		return kr_fail(err, KR_ERR_INVALID, "facility id \"%s\" is not valid", t->facility);
	if (t->expires <= 0)
		return kr_fail(err, KR_ERR_INVALID, "a token needs an expiry");
	kr_buf_init(&cbor, 1024);
	s = kr_cbor_put_array(&cbor, 6);
	if (!s)
		s = kr_cbor_put_uint(&cbor, FORMAT_VERSION);
	if (!s)
		s = kr_cbor_put_text(&cbor, t->hub_url, strlen(t->hub_url));
	if (!s)
		s = kr_cbor_put_bytes(&cbor, t->ca_sha256, KR_ENROLL_FP_LEN);
	if (!s)
		s = kr_cbor_put_bytes(&cbor, t->secret, KR_ENROLL_SECRET_LEN);
	if (!s)
		s = kr_cbor_put_text(&cbor, t->facility, strlen(t->facility));
	if (!s)
		s = kr_cbor_put_uint(&cbor, (uint64_t)t->expires);
	if (!s)
		s = kr_buf_append(out, KR_ENROLL_TOKEN_PREFIX, strlen(KR_ENROLL_TOKEN_PREFIX));
	if (!s)
		s = kr_base64url_encode(cbor.data, cbor.len, out);
	kr_buf_release(&cbor);
	if (s) {
		out->len = before;
		return kr_fail(err, s, "out of memory writing a token");
	}
	return KR_OK;
}

/* Reads the next item and checks its type; text/bytes must fit [min, max] bytes. */
static kr_status expect(struct kr_cbor_pull *r, enum kr_cbor_type type, size_t min, size_t max, const char *what,
                        struct kr_cbor_item *it, struct kr_error *err)
{
	struct kr_error why = {0};

	if (kr_cbor_next(r, it, &why))
		return kr_fail(err, KR_ERR_MALFORMED, "%s: %s", what, why.msg);
	if (it->type != type)
		return kr_fail(err, KR_ERR_MALFORMED, "%s has the wrong type", what);
	if (type == KR_CB_TEXT && memchr(it->p, 0, it->len))
		return kr_fail(err, KR_ERR_MALFORMED, "%s holds a NUL character", what);
	if ((type == KR_CB_TEXT || type == KR_CB_BYTES) && (it->len < min || it->len > max))
		return kr_fail(err, KR_ERR_MALFORMED, "%s has %zu bytes, not %zu to %zu", what, it->len, min, max);
	return KR_OK;
}

kr_status kr_enroll_token_decode(const char *text, struct kr_enroll_token *t, struct kr_error *err)
{
	uint8_t raw[KR_ENROLL_TOKEN_MAX];
	struct kr_cbor_pull r;
	struct kr_cbor_item it;
	size_t len, n, plen = strlen(KR_ENROLL_TOKEN_PREFIX);
	kr_status s;

	memset(t, 0, sizeof *t);
	while (*text && isspace((unsigned char)*text))
		text++;
	len = strlen(text);
	while (len && isspace((unsigned char)text[len - 1]))
		len--;
	if (len < plen || strncmp(text, KR_ENROLL_TOKEN_PREFIX, plen) != 0)
		return kr_fail(err, KR_ERR_MALFORMED, "not a kiroku enrolment token (it should start with %s)",
		               KR_ENROLL_TOKEN_PREFIX);
	if (len > KR_ENROLL_TOKEN_MAX)
		return kr_fail(err, KR_ERR_MALFORMED, "the token is %zu characters long; a token has at most %d", len,
		               KR_ENROLL_TOKEN_MAX);
	if ((s = kr_base64url_decode(text + plen, len - plen, raw, sizeof raw, &n, err))) {
		kr_error_prefix(err, "the token is damaged (was it copied whole?)");
		return KR_ERR_MALFORMED;
	}
	kr_cbor_pull_init(&r, raw, n);
	if ((s = expect(&r, KR_CB_ARRAY, 0, 0, "the token", &it, err)))
		goto bad;
	if (it.u != 6) {
		s = kr_fail(err, KR_ERR_MALFORMED, "the token has %llu parts, not 6", (unsigned long long)it.u);
		goto bad;
	}
	if ((s = expect(&r, KR_CB_UINT, 0, 0, "the token's version", &it, err)))
		goto bad;
	if (it.u != FORMAT_VERSION) {
		s = kr_fail(err, KR_ERR_MALFORMED, "token version %llu is not known to this kiroku (it knows %d)",
		            (unsigned long long)it.u, FORMAT_VERSION);
		goto bad;
	}
	if ((s = expect(&r, KR_CB_TEXT, 9, KR_ENROLL_URL_MAX, "the token's hub URL", &it, err)))
		goto bad;
	memcpy(t->hub_url, it.p, it.len);
	if (!url_ok(t->hub_url)) {
		s = kr_fail(err, KR_ERR_MALFORMED, "the token's hub URL is not an https:// URL");
		goto bad;
	}
	if ((s = expect(&r, KR_CB_BYTES, KR_ENROLL_FP_LEN, KR_ENROLL_FP_LEN, "the token's CA fingerprint", &it, err)))
		goto bad;
	memcpy(t->ca_sha256, it.p, KR_ENROLL_FP_LEN);
	if ((s = expect(&r, KR_CB_BYTES, KR_ENROLL_SECRET_LEN, KR_ENROLL_SECRET_LEN, "the token's secret", &it, err)))
		goto bad;
	memcpy(t->secret, it.p, KR_ENROLL_SECRET_LEN);
	if ((s = expect(&r, KR_CB_TEXT, 1, KR_ID_MAX, "the token's facility", &it, err)))
		goto bad;
	memcpy(t->facility, it.p, it.len);
	if (!kr_id_valid(t->facility)) {
		s = kr_fail(err, KR_ERR_MALFORMED, "the token's facility id is not valid");
		goto bad;
	}
	if ((s = expect(&r, KR_CB_UINT, 0, 0, "the token's expiry", &it, err)))
		goto bad;
	if (it.u == 0 || it.u > (uint64_t)INT64_MAX) {
		s = kr_fail(err, KR_ERR_MALFORMED, "the token's expiry is out of range");
		goto bad;
	}
	t->expires = (int64_t)it.u;
	if (r.pos != r.len) {
		s = kr_fail(err, KR_ERR_MALFORMED, "the token has %zu bytes after its end", r.len - r.pos);
		goto bad;
	}
	return KR_OK;
bad:
	memset(t, 0, sizeof *t);
	return s;
}

kr_status kr_enroll_request_encode(const uint8_t secret[KR_ENROLL_SECRET_LEN], const char *node, const void *csr,
                                   size_t csr_len, struct kr_buf *out, struct kr_error *err)
{
	size_t before = out->len;
	kr_status s;

	if (!kr_id_valid(node))
		return kr_fail(err, KR_ERR_INVALID, "node id \"%s\" is not valid: use 1 to 64 of a-z 0-9 . _ -", node);
	if (csr_len == 0 || csr_len > KR_ENROLL_CSR_MAX)
		return kr_fail(err, KR_ERR_INVALID, "a certificate request of %zu bytes", csr_len);
	s = kr_cbor_put_array(out, 4);
	if (!s)
		s = kr_cbor_put_uint(out, FORMAT_VERSION);
	if (!s)
		s = kr_cbor_put_bytes(out, secret, KR_ENROLL_SECRET_LEN);
	if (!s)
		s = kr_cbor_put_text(out, node, strlen(node));
	if (!s)
		s = kr_cbor_put_bytes(out, csr, csr_len);
	if (s) {
		out->len = before;
		return kr_fail(err, s, "out of memory writing the enrolment request");
	}
	return KR_OK;
}

kr_status kr_enroll_request_decode(const uint8_t *buf, size_t len, struct kr_enroll_request *req, struct kr_error *err)
{
	struct kr_cbor_pull r;
	struct kr_cbor_item it;
	kr_status s;

	memset(req, 0, sizeof *req);
	kr_cbor_pull_init(&r, buf, len);
	if ((s = expect(&r, KR_CB_ARRAY, 0, 0, "the enrolment request", &it, err)))
		return s;
	if (it.u != 4)
		return kr_fail(err, KR_ERR_MALFORMED, "the enrolment request has %llu parts, not 4",
		               (unsigned long long)it.u);
	if ((s = expect(&r, KR_CB_UINT, 0, 0, "the request's version", &it, err)))
		return s;
	if (it.u != FORMAT_VERSION)
		return kr_fail(err, KR_ERR_MALFORMED, "enrolment request version %llu is not supported",
		               (unsigned long long)it.u);
	if ((s = expect(&r, KR_CB_BYTES, KR_ENROLL_SECRET_LEN, KR_ENROLL_SECRET_LEN, "the token secret", &it, err)))
		return s;
	req->secret = it.p;
	if ((s = expect(&r, KR_CB_TEXT, 1, KR_ID_MAX, "the node id", &it, err)))
		return s;
	memcpy(req->node, it.p, it.len);
	req->node[it.len] = 0;
	if (!kr_id_valid(req->node)) {
		s = kr_fail(err, KR_ERR_INVALID, "node id \"%s\" is not valid: use 1 to 64 of a-z 0-9 . _ -",
		            req->node);
		memset(req, 0, sizeof *req);
		return s;
	}
	if ((s = expect(&r, KR_CB_BYTES, 1, KR_ENROLL_CSR_MAX, "the certificate request", &it, err))) {
		memset(req, 0, sizeof *req);
		return s;
	}
	req->csr = it.p;
	req->csr_len = it.len;
	if (r.pos != r.len) {
		memset(req, 0, sizeof *req);
		return kr_fail(err, KR_ERR_MALFORMED, "%zu bytes after the enrolment request", r.len - r.pos);
	}
	return KR_OK;
}
