/* pseudonym.h: stable pseudonyms for personal fields in review material (指針 第20条第6項).
 *
 * A pseudonym is "PN-" and 12 characters of Crockford base32 taken from HMAC-SHA256(key, value): the same
 * value gives the same token in every report made with the same key, so a reader can tell that two
 * incidents name the same person without learning who it is; without the key the token can't be turned
 * back into the name or checked against a guess. The key is 32 random bytes in a file of the hub's data
 * directory, created with mode 0600 on first use and never printed.
 */
#ifndef KR_PSEUDONYM_H
#define KR_PSEUDONYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiroku/error.h"

#define KR_PSEUDONYM_KEY_LEN  32
#define KR_PSEUDONYM_KEY_FILE "pseudonym.key" /* under the hub's data_dir */
#define KR_PSEUDONYM_LEN      15              /* "PN-" + 12 */

/* Reads the key at path; when there is no file, makes a new key and writes it (mode 0600, atomically:
 * two processes starting at once end up with the same key). *created (may be NULL) says whether it was
 * made now. Refuses (KR_ERR_CONFIG) a file that is not exactly 32 bytes or that group or others may read,
 * saying how to fix it; KR_ERR_IO when it can't be read or written. On error key is zeroed. */
kr_status kr_pseudonym_key(const char *path, uint8_t key[KR_PSEUDONYM_KEY_LEN], bool *created, struct kr_error *err);

/* Writes the pseudonym of the len bytes at value and a NUL into out. Fails only if HMAC fails (KR_ERR_TLS). */
kr_status kr_pseudonym(const uint8_t key[KR_PSEUDONYM_KEY_LEN], const char *value, size_t len,
                       char out[KR_PSEUDONYM_LEN + 1], struct kr_error *err);

#endif
