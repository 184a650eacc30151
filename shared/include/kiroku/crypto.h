/* crypto.h: SHA-256, random bytes and key fingerprints, for enrolment tokens and the audit chain.
 *
 * Implemented in shared/src/tls.c, the one module that calls mbedTLS. Nothing here keeps state between calls;
 * every function may be called from any thread.
 */
#ifndef KR_CRYPTO_H
#define KR_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "kiroku/error.h"

#define KR_SHA256_LEN 32

/* out = SHA-256(data). KR_ERR_TLS only if mbedTLS fails, which it does not for valid arguments; out is then
 * zeroed. */
kr_status kr_sha256(const void *data, size_t len, uint8_t out[KR_SHA256_LEN], struct kr_error *err);

/* Fills out with n bytes from a CTR-DRBG seeded from the operating system's entropy. On error (KR_ERR_TLS) out
 * is zeroed: never use it. */
kr_status kr_random_bytes(void *out, size_t n, struct kr_error *err);

/* Lower-case hex of n bytes into out (2n+1 bytes with the NUL). Can't fail. */
void kr_hex(const void *p, size_t n, char *out);

/* SHA-256 of the public key (its SubjectPublicKeyInfo DER) of a certificate request (PEM or DER, at most 16 KiB)
 * or of the private key in a PEM file, as 64 hex digits: the same value as kr_cert_info.key_sha256 for a
 * certificate of that key. The request's signature is not checked here (kr_cert_issue_from_csr does). */
kr_status kr_csr_key_sha256(const void *csr, size_t len, char out_hex[65], struct kr_error *err);
kr_status kr_key_file_sha256(const char *key_path, char out_hex[65], struct kr_error *err);

#endif
