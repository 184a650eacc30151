/* enroll.h: the enrolment token and the POST /v1/enroll request (schema/enroll.cddl), encoded and decoded.
 *
 * A token is what the operator hands to the installer of a facility PC: "KR1." followed by the base64url (no
 * padding) of the CBOR array [1, hub URL, SHA-256 of the hub CA's certificate (32 bytes), secret (24 random
 * bytes), facility id, expiry (Unix seconds)]. The secret is what proves the right to enrol; the hub keeps
 * only its SHA-256. The CA fingerprint lets the agent trust, on first contact, only the hub that issued the
 * token. The facility and the expiry are there to tell the installer; the hub decides both from its own record
 * of the token.
 *
 * The enrolment request is the CBOR array [1, secret (bytes), proposed node id (text), certificate request
 * (bytes: PEM or DER)]. Decoders never allocate: decoded strings point into the caller's buffer (token: into
 * the struct) and are checked for type, length and form.
 */
#ifndef KR_ENROLL_H
#define KR_ENROLL_H

#include <stddef.h>
#include <stdint.h>

#include "kiroku/buf.h"
#include "kiroku/error.h"
#include "kiroku/ids.h"

#define KR_ENROLL_SECRET_LEN   24 /* 192 bits */
#define KR_ENROLL_FP_LEN       32 /* SHA-256 */
#define KR_ENROLL_URL_MAX      256
#define KR_ENROLL_TOKEN_MAX    600 /* characters of the text form, with room to spare */
#define KR_ENROLL_TOKEN_PREFIX "KR1."
#define KR_ENROLL_CSR_MAX      16384
#define KR_ENROLL_PATH         "/v1/enroll"
#define KR_RENEW_PATH          "/v1/renew"
#define KR_CA_PATH             "/v1/ca"

struct kr_enroll_token {
	char hub_url[KR_ENROLL_URL_MAX + 1]; /* "https://..." */
	uint8_t ca_sha256[KR_ENROLL_FP_LEN]; /* of the CA certificate's DER */
	uint8_t secret[KR_ENROLL_SECRET_LEN];
	char facility[KR_ID_MAX + 1];
	int64_t expires; /* Unix seconds */
};

/* Appends the token's text form (NUL-terminated, not counted) to out. KR_ERR_INVALID for a URL that is not
 * https:// or too long, or a facility id that is not valid; on error out is unchanged. */
kr_status kr_enroll_token_encode(const struct kr_enroll_token *t, struct kr_buf *out, struct kr_error *err);

/* Parses a token's text form (surrounding white space is ignored). KR_ERR_MALFORMED (with what is wrong) for
 * anything else: wrong prefix, bad base64url, bad CBOR, wrong version, a field of the wrong type or size. On
 * error *t is zeroed. */
kr_status kr_enroll_token_decode(const char *text, struct kr_enroll_token *t, struct kr_error *err);

/* The enrolment request. */
struct kr_enroll_request {
	const uint8_t *secret; /* KR_ENROLL_SECRET_LEN bytes */
	char node[KR_ID_MAX + 1];
	const uint8_t *csr; /* csr_len bytes, at most KR_ENROLL_CSR_MAX */
	size_t csr_len;
};

kr_status kr_enroll_request_encode(const uint8_t secret[KR_ENROLL_SECRET_LEN], const char *node, const void *csr,
                                   size_t csr_len, struct kr_buf *out, struct kr_error *err);
/* KR_ERR_MALFORMED for bytes that are not such a request, KR_ERR_INVALID for a node id that is not valid.
 * The request's pointers point into buf. */
kr_status kr_enroll_request_decode(const uint8_t *buf, size_t len, struct kr_enroll_request *req, struct kr_error *err);

/* base64url without padding (RFC 4648 section 5). Encode appends (NUL-terminated, not counted); decode writes
 * at most cap bytes and fails (KR_ERR_MALFORMED) on any other character, on '=' and on a bad length. */
kr_status kr_base64url_encode(const void *p, size_t n, struct kr_buf *out);
kr_status kr_base64url_decode(const char *text, size_t len, uint8_t *out, size_t cap, size_t *out_len,
                              struct kr_error *err);

#endif
