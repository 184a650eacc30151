/* ids.c: ULIDs, ids and the hybrid logical clock. */
#include "kiroku/ids.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

kr_status kr_ulid_new(uint64_t now_ms, kr_ulid *out, struct kr_error *err)
{
	uint8_t rnd[10];
	ssize_t n = getrandom(rnd, sizeof rnd, 0);

	if (n != (ssize_t)sizeof rnd)
		return kr_fail(err, KR_ERR_IO, "cannot read random bytes for a record id: %s", strerror(errno));
	for (int i = 0; i < 6; i++)
		out->b[i] = (uint8_t)(now_ms >> (8 * (5 - i)));
	memcpy(out->b + 6, rnd, sizeof rnd);
	return KR_OK;
}

void kr_ulid_format(const kr_ulid *id, char out[KR_ULID_LEN + 1])
{
	/* 128 bits as 26 base32 digits: the first digit holds the top 3 bits. */
	for (int i = 0; i < KR_ULID_LEN; i++) {
		int bit = 128 - 5 * (KR_ULID_LEN - i); /* position of this digit's lowest... from the top */
		unsigned v = 0;
		for (int k = 0; k < 5; k++) {
			int pos = bit + k; /* bit index from the most significant, may be negative */
			v <<= 1;
			if (pos >= 0)
				v |= (id->b[pos / 8] >> (7 - pos % 8)) & 1;
		}
		out[i] = crockford[v];
	}
	out[KR_ULID_LEN] = 0;
}

static int crockford_value(char c)
{
	if (c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	if (c == 'I' || c == 'L')
		c = '1';
	if (c == 'O')
		c = '0';
	const char *p = c ? strchr(crockford, c) : NULL;
	return p ? (int)(p - crockford) : -1;
}

kr_status kr_ulid_parse(const char *text, kr_ulid *out, struct kr_error *err)
{
	if (!text || strlen(text) != KR_ULID_LEN)
		return kr_fail(err, KR_ERR_INVALID, "\"%s\" is not a record id (26 characters of Crockford base32)",
			       text ? text : "");
	if (crockford_value(text[0]) > 7)
		return kr_fail(err, KR_ERR_INVALID, "\"%s\" is not a record id (too large)", text);
	memset(out->b, 0, sizeof out->b);
	for (int i = 0; i < KR_ULID_LEN; i++) {
		int v = crockford_value(text[i]);
		if (v < 0)
			return kr_fail(err, KR_ERR_INVALID, "\"%s\" is not a record id (bad character '%c')", text, text[i]);
		int bit = 128 - 5 * (KR_ULID_LEN - i);
		for (int k = 0; k < 5; k++) {
			int pos = bit + k;
			if (pos >= 0 && ((v >> (4 - k)) & 1))
				out->b[pos / 8] |= (uint8_t)(1u << (7 - pos % 8));
		}
	}
	return KR_OK;
}

uint64_t kr_ulid_time(const kr_ulid *id)
{
	uint64_t t = 0;
	for (int i = 0; i < 6; i++)
		t = (t << 8) | id->b[i];
	return t;
}

bool kr_id_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > KR_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

uint64_t kr_now_ms(void)
{
	struct timespec ts;
	int64_t offset = 0;
	const char *fake = getenv("KIROKU_FAKE_CLOCK_OFFSET_MS");

	clock_gettime(CLOCK_REALTIME, &ts);
	if (fake && *fake) {
		char *end;
		long long v = strtoll(fake, &end, 10);
		if (*end == 0)
			offset = v;
	}
	int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + offset;
	return ms > 0 ? (uint64_t)ms : 0;
}

static uint64_t hlc_next_after(uint64_t hlc)
{
	/* One step up; an overflowing counter moves the physical part on. */
	if (kr_hlc_counter(hlc) == 0xffff)
		return kr_hlc_make(kr_hlc_phys(hlc) + 1, 0);
	return hlc + 1;
}

uint64_t kr_hlc_tick(uint64_t last, uint64_t now_ms)
{
	if (now_ms > KR_HLC_MAX_PHYS)
		now_ms = KR_HLC_MAX_PHYS;
	if (now_ms > kr_hlc_phys(last))
		return kr_hlc_make(now_ms, 0);
	return hlc_next_after(last);
}

uint64_t kr_hlc_recv(uint64_t last, uint64_t remote, uint64_t now_ms)
{
	uint64_t top = last > remote ? last : remote;
	if (now_ms > KR_HLC_MAX_PHYS)
		now_ms = KR_HLC_MAX_PHYS;
	if (now_ms > kr_hlc_phys(top))
		return kr_hlc_make(now_ms, 0);
	return top;
}

void kr_hlc_format(uint64_t hlc, char out[64])
{
	uint64_t ms = kr_hlc_phys(hlc);
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ+%u", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000), (unsigned)kr_hlc_counter(hlc));
}

int kr_version_cmp(const struct kr_version *a, const struct kr_version *b)
{
	if (a->hlc != b->hlc)
		return a->hlc < b->hlc ? -1 : 1;
	if (a->hlc == 0)
		return 0;
	int c = strcmp(a->node ? a->node : "", b->node ? b->node : "");
	return c < 0 ? -1 : c > 0;
}

bool kr_version_eq(const struct kr_version *a, const struct kr_version *b)
{
	return kr_version_cmp(a, b) == 0;
}
