/* hmac.h: HMAC-SHA256, for pseudonymising personal fields with a secret key (指針 第20条第6項).
 *
 * Implemented in shared/src/tls.c, the one module that calls mbedTLS.
 */
#ifndef KR_HMAC_H
#define KR_HMAC_H

#include <stddef.h>
#include <stdint.h>

#include "kiroku/error.h"

#define KR_HMAC_SHA256_LEN 32

/* out = HMAC-SHA256(key, data). KR_ERR_TLS (with mbedTLS's code in the message) only if mbedTLS fails,
 * which it does not for valid arguments; out is then zeroed. */
kr_status kr_hmac_sha256(const uint8_t *key, size_t key_len, const void *data, size_t len,
                         uint8_t out[KR_HMAC_SHA256_LEN], struct kr_error *err);

#endif
