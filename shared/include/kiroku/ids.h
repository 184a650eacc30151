/* ids.h: record ids (ULIDs), node and facility ids, and the hybrid logical clock.
 *
 * A record id is a ULID: 48-bit Unix milliseconds then 80 random bits, 16 bytes, written as 26
 * characters of Crockford base32. Ids made on one node in one millisecond are kept increasing.
 *
 * Time is a hybrid logical clock: a uint64 whose high 48 bits are physical milliseconds and low 16 bits
 * a counter. Versions of a field are ordered by (hlc, node id) - see kr_version_cmp.
 */
#ifndef KR_IDS_H
#define KR_IDS_H

#include <stdbool.h>
#include <stdint.h>

#include "kiroku/error.h"

#define KR_ULID_LEN 26
#define KR_ID_MAX 64 /* node and facility ids: 1..64 bytes of [a-z0-9._-] */

typedef struct kr_ulid {
	uint8_t b[16];
} kr_ulid;

/* A new ULID for now_ms. Reads the OS random source; KR_ERR_IO if it can't. */
kr_status kr_ulid_new(uint64_t now_ms, kr_ulid *out, struct kr_error *err);
/* Writes 26 characters and a NUL into out[27]. Can't fail. */
void kr_ulid_format(const kr_ulid *id, char out[KR_ULID_LEN + 1]);
/* Parses 26 Crockford base32 characters (case-insensitive; I, L -> 1, O -> 0). */
kr_status kr_ulid_parse(const char *text, kr_ulid *out, struct kr_error *err);
uint64_t kr_ulid_time(const kr_ulid *id);

/* True if s is a valid node or facility id. */
bool kr_id_valid(const char *s);

/* Milliseconds since the Unix epoch, from the wall clock (or the test override KIROKU_FAKE_CLOCK_OFFSET_MS). */
uint64_t kr_now_ms(void);

#define KR_HLC_COUNTER_BITS 16
#define KR_HLC_MAX_PHYS ((UINT64_C(1) << 48) - 1)

static inline uint64_t kr_hlc_make(uint64_t phys_ms, uint16_t counter)
{
	return (phys_ms << KR_HLC_COUNTER_BITS) | counter;
}
static inline uint64_t kr_hlc_phys(uint64_t hlc) { return hlc >> KR_HLC_COUNTER_BITS; }
static inline uint16_t kr_hlc_counter(uint64_t hlc) { return (uint16_t)(hlc & 0xffff); }

/* The next timestamp for a local event: greater than last and than any timestamp received so far.
 * When the wall clock jumps backwards the physical part stays and the counter grows; when the counter
 * would overflow, the physical part moves on by one millisecond. Can't fail. */
uint64_t kr_hlc_tick(uint64_t last, uint64_t now_ms);
/* The clock after receiving remote: max(last, remote, now) with the counter rules above.
 * The result is >= remote, so the next local tick orders after what was seen. Can't fail. */
uint64_t kr_hlc_recv(uint64_t last, uint64_t remote, uint64_t now_ms);
/* Formats "2026-11-20T15:10:00.123Z+5" (physical time in UTC, then the counter). */
void kr_hlc_format(uint64_t hlc, char out[64]);

/* A version of a field: who wrote it, when. hlc 0 (node NULL or "") means "no version". */
struct kr_version {
	uint64_t hlc;
	const char *node;
};

static inline bool kr_version_none(const struct kr_version *v) { return v->hlc == 0; }
/* Orders by hlc, then node id bytewise; "no version" is below every version. */
int kr_version_cmp(const struct kr_version *a, const struct kr_version *b);
bool kr_version_eq(const struct kr_version *a, const struct kr_version *b);

#endif
