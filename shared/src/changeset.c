/* changeset.c: the change-set codec (schema/changeset.cddl): an encoder and a bounded pull decoder over cbor_pull. */
#include "kiroku/changeset.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cbor_pull.h"

const struct kr_limits kr_default_limits = {
    .max_bytes = 8 * 1024 * 1024,
    .max_changes = 20000,
    .max_writes = 256,
    .max_text = 65536,
    .max_acks = 1024,
};

/* The envelope's keys, in the order they are written. */
enum {
	KEY_FORMAT = 1,
	KEY_SENDER = 2,
	KEY_FACILITY = 3,
	KEY_CHANGES = 4,
	KEY_ACKS = 5,
	KEY_FROM = 6,
	KEY_TO = 7,
	KEY_MORE = 8,
	KEY_SINCE = 9,
	KEY_CATALOGUE = 10,
	KEY_RECOVER = 11,
	KEY_LAST = KEY_RECOVER,
};

static const char *const key_names[KEY_LAST + 1] = {
    [KEY_FORMAT] = "format",
    [KEY_SENDER] = "sender",
    [KEY_FACILITY] = "facility",
    [KEY_CHANGES] = "changes",
    [KEY_ACKS] = "acks",
    [KEY_FROM] = "from",
    [KEY_TO] = "to",
    [KEY_MORE] = "more",
    [KEY_SINCE] = "since",
    [KEY_CATALOGUE] = "catalogue_version",
    [KEY_RECOVER] = "recover",
};

/* The fewest bytes one element can take on the wire. An array that claims more elements than the bytes
 * left could hold is refused before anything is allocated for it, so memory follows the input size. */
#define MIN_CHANGE_BYTES 28 /* 0x88, origin 2, seq 1, record 17, kind 2, facility 2, hlc 1, del_base 1, writes 1 */
#define MIN_WRITE_BYTES  5  /* 0x83, field 2, value 1, base 1 */
#define MIN_SEEN_BYTES   7  /* 0x82, field 2, version 4 (0x82, hlc 1, node 2) */
#define MIN_ACK_BYTES    3  /* node 2, seq 1 */

/* The arena cap, per input byte. Strings take one pool of len + 1 bytes (each string's head byte pays for
 * its NUL). Structs take at most 56 bytes per 5 wire bytes (a write, the densest element); a change's
 * claim on the bytes left overlaps its writes', so a hostile prefix can reach about 17 bytes per byte. */
#define ARENA_PER_BYTE 20
#define ARENA_SLACK    (64 * 1024)

/* ------------------------------------------------------------------------------------------------- */
/* Checks shared by the encoder and the decoder. */

bool kr_value_eq(const struct kr_value *a, const struct kr_value *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case KR_VAL_NULL:
		return true;
	case KR_VAL_TEXT:
		return a->len == b->len && (a->len == 0 || memcmp(a->s, b->s, a->len) == 0);
	case KR_VAL_INT:
		return a->i == b->i;
	case KR_VAL_BOOL:
		return (a->i != 0) == (b->i != 0);
	}
	return false;
}

/* Kind and field names: 1..KR_NAME_MAX bytes of [a-z0-9_]. A leading '_' marks a system kind or field
 * ("_conflict", "_deleted"): well-formed on the wire; who may write one is the merge's decision. */
static bool name_valid(const uint8_t *p, size_t n, bool underscore_first)
{
	if (n == 0 || n > KR_NAME_MAX)
		return false;
	if (p[0] == '_' && !underscore_first)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

/* Returns n if p[0..n) is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF), else the offset of the first byte of the first bad sequence. */
static size_t utf8_check(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = p[i], lo = 0x80, hi = 0xbf;
		size_t more;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			more = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			more = 2;
			if (c == 0xe0)
				lo = 0xa0; /* overlong */
			if (c == 0xed)
				hi = 0x9f; /* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3;
			if (c == 0xf0)
				lo = 0x90; /* overlong */
			if (c == 0xf4)
				hi = 0x8f; /* past U+10FFFF */
		} else {
			return i;
		}
		if (n - i - 1 < more || p[i + 1] < lo || p[i + 1] > hi)
			return i;
		for (size_t k = 2; k <= more; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return i;
		i += more + 1;
	}
	return n;
}

/* What is wrong with a text value, or NULL; *at gets the offset of the bad byte in the text. */
static const char *text_problem(const uint8_t *p, size_t n, size_t *at)
{
	const uint8_t *nul = n ? memchr(p, 0, n) : NULL;

	if (nul) {
		*at = (size_t)(nul - p);
		return "contains a NUL byte";
	}
	*at = utf8_check(p, n);
	if (*at != n)
		return "is not valid UTF-8";
	return NULL;
}

/* Writes s (n bytes) into out as a quoted, escaped, shortened string for an error message. Can't fail. */
#define QUOTE_SIZE 200
static const char *quoted(char out[QUOTE_SIZE], const void *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *p = s;
	size_t o = 0, show = n > 40 ? 40 : n;

	out[o++] = '"';
	for (size_t i = 0; i < show; i++) {
		uint8_t c = p[i];
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o++] = '"';
	if (show < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = 0;
	return out;
}

/* ------------------------------------------------------------------------------------------------- */
/* The decoder walks the fixed shape of the schema with cbor_pull, one item head at a time; nothing here
 * recurses, and values are scalars. */

struct reader {
	struct kr_cbor_pull in;
	const struct kr_limits *lim;
	struct kr_arena *arena;
	char *pool; /* every decoded string, back to back, NUL-terminated */
	size_t pool_used, pool_size;
	size_t change, write, seen, ack; /* where we are, 1-based, for messages; 0 outside */
	struct kr_error *err;
};

static void appendf(char *buf, size_t size, size_t *n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void appendf(char *buf, size_t size, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (*n >= size - 1)
		return;
	va_start(ap, fmt);
	k = vsnprintf(buf + *n, size - *n, fmt, ap);
	va_end(ap);
	if (k > 0)
		*n = *n + (size_t)k < size - 1 ? *n + (size_t)k : size - 1;
}

/* "change 3: write 2: " for wherever the reader is. */
static void append_path(const struct reader *rd, char *buf, size_t size, size_t *n)
{
	if (rd->change)
		appendf(buf, size, n, "change %zu: ", rd->change);
	if (rd->write)
		appendf(buf, size, n, "write %zu: ", rd->write);
	if (rd->seen)
		appendf(buf, size, n, "seen %zu: ", rd->seen);
	if (rd->ack)
		appendf(buf, size, n, "ack %zu: ", rd->ack);
}

/* Sets the error to "byte OFF: <path>: <message>" and returns code. */
static kr_status fail_at(const struct reader *rd, size_t off, kr_status code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static kr_status fail_at(const struct reader *rd, size_t off, kr_status code, const char *fmt, ...)
{
	struct kr_error *err = rd->err;
	va_list ap;
	size_t n = 0;

	if (!err)
		return code;
	err->code = code;
	err->msg[0] = 0;
	appendf(err->msg, sizeof err->msg, &n, "byte %zu: ", off);
	append_path(rd, err->msg, sizeof err->msg, &n);
	va_start(ap, fmt);
	vsnprintf(err->msg + n, sizeof err->msg - n, fmt, ap);
	va_end(ap);
	return code;
}

/* "byte OFF: truncated input (detail) in change 3: write 2": the position in the byte stream comes first. */
static kr_status fail_truncated(const struct reader *rd, size_t off, const char *detail)
{
	struct kr_error *err = rd->err;
	size_t n = 0;

	if (!err)
		return KR_ERR_MALFORMED;
	err->code = KR_ERR_MALFORMED;
	err->msg[0] = 0;
	appendf(err->msg, sizeof err->msg, &n, "byte %zu: truncated input", off);
	if (detail)
		appendf(err->msg, sizeof err->msg, &n, " (%s)", detail);
	if (rd->change || rd->ack) {
		size_t mark;
		appendf(err->msg, sizeof err->msg, &n, " in ");
		mark = n;
		append_path(rd, err->msg, sizeof err->msg, &n);
		if (n >= mark + 2)
			err->msg[n - 2] = 0; /* drop the path's trailing ": " */
	}
	return KR_ERR_MALFORMED;
}

/* The message for a fault of kr_cbor_read; returns its code. Apart from next_item so that it stays small. */
static kr_status __attribute__((noinline, cold))
fail_read(const struct reader *rd, const struct kr_cbor_item *it, enum kr_cbor_fault fault)
{
	switch (fault) {
	case KR_CB_TRUNCATED:
		return fail_truncated(rd, it->offset, NULL);
	case KR_CB_BAD_HEAD:
		return fail_at(rd, it->offset, KR_ERR_MALFORMED,
		               "not well-formed CBOR (initial byte 0x%02x is reserved or unassigned)",
		               rd->in.buf[it->offset]);
	case KR_CB_HUGE:
		return fail_at(rd, it->offset, KR_ERR_TOO_BIG, "a length of %llu does not fit in memory",
		               (unsigned long long)it->u);
	case KR_CB_FINE:
	case KR_CB_IMPOSSIBLE:
		break;
	}
	return fail_at(rd, it->offset, KR_ERR_INTERNAL, "the CBOR decoder returned an impossible result");
}

/* Reads the next item head (a definite string with its bytes). On error the reader stays where it was. */
static inline kr_status next_item(struct reader *rd, struct kr_cbor_item *it)
{
	enum kr_cbor_fault fault = kr_cbor_read(&rd->in, it);

	return fault == KR_CB_FINE ? KR_OK : fail_read(rd, it, fault);
}

static const char *item_name(const struct kr_cbor_item *it)
{
	return kr_cbor_name(it->type, it->other);
}

/* Reads an item that must be of type want; what names it in the message (NULL: the path says it). */
static kr_status expect(struct reader *rd, struct kr_cbor_item *it, enum kr_cbor_type want, const char *what)
{
	kr_status st = next_item(rd, it);

	if (st)
		return st;
	if (it->type != want)
		return fail_at(rd, it->offset, KR_ERR_MALFORMED, "%s%sexpected %s, found %s", what ? what : "",
		               what ? ": " : "", kr_cbor_name(want, KR_CB_NOT_OTHER), item_name(it));
	return KR_OK;
}

static kr_status read_uint(struct reader *rd, const char *what, uint64_t *v)
{
	struct kr_cbor_item it;
	kr_status st = expect(rd, &it, KR_CB_UINT, what);

	if (st)
		return st;
	*v = it.u;
	return KR_OK;
}

/* Reads a definite array or map head whose count is bounded by max (TOO_BIG) and by the bytes left,
 * at min_bytes an element (MALFORMED). Nothing is allocated before both checks. */
static kr_status read_count(struct reader *rd, enum kr_cbor_type want, const char *what, const char *noun, size_t max,
                            size_t min_bytes, size_t *count)
{
	struct kr_cbor_item it;
	size_t left;
	kr_status st = expect(rd, &it, want, what);

	if (st)
		return st;
	left = rd->in.len - rd->in.pos;
	if (it.u > max)
		return fail_at(rd, it.offset, KR_ERR_TOO_BIG, "%s: %llu %s exceed the limit of %zu", what,
		               (unsigned long long)it.u, noun, max);
	if (it.u > left / min_bytes) {
		char detail[160];
		snprintf(detail, sizeof detail, "%s claims %llu %s, more than the %zu bytes left can hold", what,
		         (unsigned long long)it.u, noun, left);
		return fail_truncated(rd, it.offset, detail);
	}
	*count = (size_t)it.u;
	return KR_OK;
}

/* Zeroed arena memory for count elements of size bytes. */
static kr_status alloc_array(struct reader *rd, size_t off, size_t count, size_t size, void **out)
{
	struct kr_arena *a = rd->arena;

	*out = NULL;
	if (count == 0)
		return KR_OK;
	if (count > SIZE_MAX / size)
		return fail_at(rd, off, KR_ERR_TOO_BIG, "%zu elements do not fit in memory", count);
	*out = kr_arena_alloc(a, count * size);
	if (*out)
		return KR_OK;
	if (a->max && a->used + count * size + 16 > a->max)
		return fail_at(rd, off, KR_ERR_TOO_BIG,
		               "decoding needs more than the %zu bytes of memory allowed for "
		               "a change-set of %zu bytes",
		               a->max, rd->in.len);
	return fail_at(rd, off, KR_ERR_NOMEM, "out of memory");
}

/* A NUL-terminated copy of a string of the input, in the pool. */
static kr_status pool_copy(struct reader *rd, const struct kr_cbor_item *it, const char **out)
{
	size_t n = it->len;
	char *p;

	/* The pool holds len + 1 bytes and every string's head byte pays for its NUL, so this can't run out;
	 * the check stays in case a change of the schema breaks that. */
	assert(rd->pool_used <= rd->pool_size);
	if (n >= rd->pool_size - rd->pool_used)
		return fail_at(rd, it->offset, KR_ERR_INTERNAL, "string pool overflow");
	p = rd->pool + rd->pool_used;
	memcpy(p, it->p, n);
	p[n] = 0;
	rd->pool_used += n + 1;
	*out = p;
	return KR_OK;
}

/* A node or facility id (kr_id_valid). */
static kr_status read_id(struct reader *rd, const char *what, const char **out)
{
	struct kr_cbor_item it;
	char q[QUOTE_SIZE];
	kr_status st = expect(rd, &it, KR_CB_TEXT, what);

	if (st)
		return st;
	/* kr_id_valid reads a C string: a NUL inside would hide the rest, so refuse it first. */
	if (it.len == 0 || it.len > KR_ID_MAX || memchr(it.p, 0, it.len))
		goto invalid;
	if ((st = pool_copy(rd, &it, out)) != KR_OK)
		return st;
	if (kr_id_valid(*out))
		return KR_OK;
invalid:
	return fail_at(rd, it.offset, KR_ERR_INVALID,
	               "%s %s is not a valid id (1 to %d characters of a-z, 0-9, '.', '_' and '-')", what,
	               quoted(q, it.p, it.len), KR_ID_MAX);
}

/* A kind or field name. */
static kr_status read_name(struct reader *rd, const char *what, bool underscore_first, const char **out)
{
	struct kr_cbor_item it;
	char q[QUOTE_SIZE];
	kr_status st = expect(rd, &it, KR_CB_TEXT, what);

	if (st)
		return st;
	if (!name_valid(it.p, it.len, underscore_first))
		return fail_at(rd, it.offset, KR_ERR_INVALID,
		               "%s %s is not a valid %s name (1 to %d characters of a-z, "
		               "0-9 and '_'%s)",
		               what, quoted(q, it.p, it.len), what, KR_NAME_MAX,
		               underscore_first ? "" : ", not starting with '_'");
	return pool_copy(rd, &it, out);
}

/* version = [hlc, node]; with nullable, null stands for "no version". */
static kr_status read_version(struct reader *rd, const char *what, bool nullable, struct kr_version *v)
{
	struct kr_cbor_item it;
	char name[48];
	kr_status st = next_item(rd, &it);

	if (st)
		return st;
	v->hlc = 0;
	v->node = NULL;
	if (it.type == KR_CB_NULL && nullable)
		return KR_OK;
	if (it.type != KR_CB_ARRAY)
		return fail_at(rd, it.offset, KR_ERR_MALFORMED, "%s: expected a version [hlc, node]%s, found %s", what,
		               nullable ? " or null" : "", item_name(&it));
	if (it.u != 2)
		return fail_at(rd, it.offset, KR_ERR_MALFORMED, "%s: a version is an array of 2 elements, found %llu",
		               what, (unsigned long long)it.u);
	snprintf(name, sizeof name, "%s hlc", what);
	st = read_uint(rd, name, &v->hlc);
	if (st)
		return st;
	if (v->hlc == 0)
		return fail_at(rd, it.offset, KR_ERR_INVALID, "%s: hlc 0 is not a version%s", what,
		               nullable ? " (null stands for no version)" : "");
	snprintf(name, sizeof name, "%s node", what);
	return read_id(rd, name, &v->node);
}

/* value = null / tstr / int / bool: scalars only. */
static kr_status read_value(struct reader *rd, struct kr_value *v)
{
	struct kr_cbor_item it;
	const char *why;
	size_t at;
	kr_status st = next_item(rd, &it);

	if (st)
		return st;
	memset(v, 0, sizeof *v);
	switch (it.type) {
	case KR_CB_NULL:
		v->type = KR_VAL_NULL;
		return KR_OK;
	case KR_CB_BOOL:
		v->type = KR_VAL_BOOL;
		v->i = it.u ? 1 : 0;
		return KR_OK;
	case KR_CB_UINT:
		if (it.u > (uint64_t)INT64_MAX)
			return fail_at(rd, it.offset, KR_ERR_INVALID,
			               "value: %llu does not fit in a 64-bit signed integer",
			               (unsigned long long)it.u);
		v->type = KR_VAL_INT;
		v->i = (int64_t)it.u;
		return KR_OK;
	case KR_CB_NEGINT:
		if (it.u > (uint64_t)INT64_MAX)
			return fail_at(rd, it.offset, KR_ERR_INVALID,
			               "value: a negative integer below %lld does not fit in a 64-bit signed integer",
			               (long long)INT64_MIN);
		v->type = KR_VAL_INT;
		v->i = -1 - (int64_t)it.u;
		return KR_OK;
	case KR_CB_TEXT:
		if (it.len > rd->lim->max_text)
			return fail_at(rd, it.offset, KR_ERR_TOO_BIG,
			               "value: text of %zu bytes exceeds the limit of %zu bytes", it.len,
			               rd->lim->max_text);
		why = text_problem(it.p, it.len, &at);
		if (why)
			return fail_at(rd, (size_t)(it.p - rd->in.buf) + at, KR_ERR_INVALID, "value: text %s", why);
		v->type = KR_VAL_TEXT;
		v->len = it.len;
		return pool_copy(rd, &it, &v->s);
	default:
		return fail_at(rd, it.offset, KR_ERR_MALFORMED,
		               "value: expected null, a text string, an integer or a boolean, found %s",
		               item_name(&it));
	}
}

/* write = [field, value, base] */
static kr_status read_write(struct reader *rd, struct kr_write *w)
{
	struct kr_cbor_item it;
	kr_status st = expect(rd, &it, KR_CB_ARRAY, NULL);

	if (st)
		return st;
	if (it.u != 3)
		return fail_at(rd, it.offset, KR_ERR_MALFORMED, "a write is an array of 3 elements, found %llu",
		               (unsigned long long)it.u);
	st = read_name(rd, "field", true, &w->field);
	if (!st)
		st = read_value(rd, &w->value);
	if (!st)
		st = read_version(rd, "base", true, &w->base);
	return st;
}

/* seen = [field, version] */
static kr_status read_seen(struct reader *rd, struct kr_seen *s)
{
	struct kr_cbor_item it;
	kr_status st = expect(rd, &it, KR_CB_ARRAY, NULL);

	if (st)
		return st;
	if (it.u != 2)
		return fail_at(rd, it.offset, KR_ERR_MALFORMED, "a seen entry is an array of 2 elements, found %llu",
		               (unsigned long long)it.u);
	st = read_name(rd, "field", true, &s->field);
	if (!st)
		st = read_version(rd, "version", false, &s->version);
	return st;
}

static kr_status read_change(struct reader *rd, struct kr_change *c)
{
	struct kr_cbor_item it;
	char q[QUOTE_SIZE];
	size_t start = rd->in.pos, nelem, off;
	kr_status st = expect(rd, &it, KR_CB_ARRAY, NULL);

	if (st)
		return st;
	if (it.u != 8 && it.u != 9)
		return fail_at(rd, it.offset, KR_ERR_MALFORMED, "a change is an array of 8 or 9 elements, found %llu",
		               (unsigned long long)it.u);
	nelem = (size_t)it.u;
	if ((st = read_id(rd, "origin", &c->origin)) != KR_OK)
		return st;
	off = rd->in.pos;
	if ((st = read_uint(rd, "seq", &c->seq)) != KR_OK)
		return st;
	if (c->seq == 0)
		return fail_at(rd, off, KR_ERR_INVALID, "seq 0: sequence numbers start at 1");
	if ((st = expect(rd, &it, KR_CB_BYTES, "record")) != KR_OK)
		return st;
	if (it.len != sizeof c->record.b)
		return fail_at(rd, it.offset, KR_ERR_INVALID, "record: a record id is %zu bytes, found %zu",
		               sizeof c->record.b, it.len);
	memcpy(c->record.b, it.p, sizeof c->record.b);
	if ((st = read_name(rd, "kind", true, &c->kind)) != KR_OK)
		return st;
	if ((st = read_id(rd, "facility", &c->facility)) != KR_OK)
		return st;
	off = rd->in.pos;
	if ((st = read_uint(rd, "hlc", &c->hlc)) != KR_OK)
		return st;
	if (c->hlc == 0)
		return fail_at(rd, off, KR_ERR_INVALID, "hlc 0: a change needs a timestamp");
	if ((st = read_version(rd, "del_base", true, &c->del_base)) != KR_OK)
		return st;

	off = rd->in.pos;
	st = read_count(rd, KR_CB_ARRAY, "writes", "writes", rd->lim->max_writes, MIN_WRITE_BYTES, &c->nwrites);
	if (!st)
		st = alloc_array(rd, off, c->nwrites, sizeof *c->writes, (void **)&c->writes);
	if (st)
		return st;
	for (size_t i = 0; i < c->nwrites; i++) {
		off = rd->in.pos;
		rd->write = i + 1;
		if ((st = read_write(rd, &c->writes[i])) != KR_OK)
			return st;
		for (size_t k = 0; k < i; k++)
			if (strcmp(c->writes[k].field, c->writes[i].field) == 0)
				return fail_at(rd, off, KR_ERR_INVALID, "field %s is also written by write %zu",
				               quoted(q, c->writes[i].field, strlen(c->writes[i].field)), k + 1);
	}
	rd->write = 0;

	if (nelem == 9) {
		off = rd->in.pos;
		st = read_count(rd, KR_CB_ARRAY, "seen", "seen entries", rd->lim->max_writes, MIN_SEEN_BYTES, &c->nseen);
		if (!st)
			st = alloc_array(rd, off, c->nseen, sizeof *c->seen, (void **)&c->seen);
		if (st)
			return st;
		for (size_t i = 0; i < c->nseen; i++) {
			off = rd->in.pos;
			rd->seen = i + 1;
			if ((st = read_seen(rd, &c->seen[i])) != KR_OK)
				return st;
			for (size_t k = 0; k < i; k++)
				if (strcmp(c->seen[k].field, c->seen[i].field) == 0)
					return fail_at(rd, off, KR_ERR_INVALID, "field %s is also listed by seen %zu",
					               quoted(q, c->seen[i].field, strlen(c->seen[i].field)), k + 1);
		}
		rd->seen = 0;
	}
	c->raw = rd->in.buf + start;
	c->raw_len = rd->in.pos - start;
	return KR_OK;
}

static kr_status read_changes(struct reader *rd, struct kr_changeset *cs)
{
	size_t off = rd->in.pos;
	kr_status st =
	    read_count(rd, KR_CB_ARRAY, "changes", "changes", rd->lim->max_changes, MIN_CHANGE_BYTES, &cs->nchanges);

	if (!st)
		st = alloc_array(rd, off, cs->nchanges, sizeof *cs->changes, (void **)&cs->changes);
	for (size_t i = 0; !st && i < cs->nchanges; i++) {
		rd->change = i + 1;
		st = read_change(rd, &cs->changes[i]);
	}
	if (!st)
		rd->change = 0;
	return st;
}

static kr_status read_acks(struct reader *rd, struct kr_changeset *cs)
{
	char q[QUOTE_SIZE];
	size_t off = rd->in.pos;
	kr_status st = read_count(rd, KR_CB_MAP, "acks", "acks", rd->lim->max_acks, MIN_ACK_BYTES, &cs->nacks);

	if (!st)
		st = alloc_array(rd, off, cs->nacks, sizeof *cs->acks, (void **)&cs->acks);
	for (size_t i = 0; !st && i < cs->nacks; i++) {
		struct kr_ack *a = &cs->acks[i];

		rd->ack = i + 1;
		off = rd->in.pos;
		st = read_id(rd, "node", &a->node);
		if (!st)
			st = read_uint(rd, "seq", &a->seq);
		for (size_t k = 0; !st && k < i; k++)
			if (strcmp(cs->acks[k].node, a->node) == 0)
				st = fail_at(rd, off, KR_ERR_INVALID, "node %s is also acknowledged by ack %zu",
				             quoted(q, a->node, strlen(a->node)), k + 1);
	}
	if (!st)
		rd->ack = 0;
	return st;
}

static kr_status read_bool(struct reader *rd, const char *what, bool *v)
{
	struct kr_cbor_item it;
	kr_status st = expect(rd, &it, KR_CB_BOOL, what);

	if (!st)
		*v = it.u != 0;
	return st;
}

/* The envelope: a definite map with unsigned keys, in any order, each at most once. */
static kr_status read_changeset(struct reader *rd, struct kr_changeset *cs)
{
	struct kr_cbor_item it;
	unsigned keys = 0;
	uint64_t format;
	size_t npairs, off;
	kr_status st = next_item(rd, &it);

	if (st)
		return st;
	if (it.type != KR_CB_MAP)
		return fail_at(rd, it.offset, KR_ERR_MALFORMED, "expected a change-set (a map), found %s",
		               item_name(&it));
	/* No allocation depends on npairs: every round reads a key, and an unknown or repeated key ends it. */
	npairs = (size_t)it.u;
	for (size_t i = 0; i < npairs; i++) {
		unsigned key;

		if ((st = next_item(rd, &it)) != KR_OK)
			return st;
		if (it.type != KR_CB_UINT)
			return fail_at(rd, it.offset, KR_ERR_MALFORMED, "expected a key (an unsigned integer), found %s",
			               item_name(&it));
		if (it.u < KEY_FORMAT || it.u > KEY_LAST)
			return fail_at(rd, it.offset, KR_ERR_MALFORMED, "unknown key %llu", (unsigned long long)it.u);
		key = (unsigned)it.u;
		if (keys & (1u << key))
			return fail_at(rd, it.offset, KR_ERR_MALFORMED, "duplicate key %u (%s)", key, key_names[key]);
		keys |= 1u << key;
		off = rd->in.pos;
		switch (key) {
		case KEY_FORMAT:
			st = read_uint(rd, key_names[key], &format);
			if (!st && format != KR_FORMAT_VERSION)
				st = fail_at(rd, off, KR_ERR_INVALID,
				             "format version %llu is not supported (this build reads version %d)",
				             (unsigned long long)format, KR_FORMAT_VERSION);
			if (!st)
				cs->format = (uint32_t)format;
			break;
		case KEY_SENDER:
			st = read_id(rd, key_names[key], &cs->sender);
			break;
		case KEY_FACILITY:
			st = read_id(rd, key_names[key], &cs->facility);
			break;
		case KEY_CHANGES:
			st = read_changes(rd, cs);
			break;
		case KEY_ACKS:
			st = read_acks(rd, cs);
			break;
		case KEY_FROM:
			st = read_uint(rd, key_names[key], &cs->from);
			break;
		case KEY_TO:
			st = read_uint(rd, key_names[key], &cs->to);
			break;
		case KEY_MORE:
			st = read_bool(rd, key_names[key], &cs->more);
			break;
		case KEY_SINCE:
			st = read_uint(rd, key_names[key], &cs->since);
			cs->has_since = true;
			break;
		case KEY_CATALOGUE:
			st = read_uint(rd, key_names[key], &cs->catalogue_version);
			break;
		case KEY_RECOVER:
			st = read_bool(rd, key_names[key], &cs->recover);
			break;
		}
		if (st)
			return st;
	}

	static const unsigned required[] = {KEY_FORMAT, KEY_SENDER, KEY_CHANGES};
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
		if (!(keys & (1u << required[i])))
			return fail_at(rd, 0, KR_ERR_MALFORMED, "missing key %u (%s)", required[i],
			               key_names[required[i]]);
	if (!(keys & (1u << KEY_FROM)) != !(keys & (1u << KEY_TO)))
		return fail_at(rd, 0, KR_ERR_MALFORMED,
		               "key %d (from) and key %d (to) come together; only %s is present", KEY_FROM, KEY_TO,
		               keys & (1u << KEY_FROM) ? "from" : "to");
	cs->has_range = (keys & (1u << KEY_FROM)) != 0;
	if (cs->has_range && cs->from > cs->to)
		return fail_at(rd, 0, KR_ERR_INVALID, "the range is backwards: from %llu is after to %llu",
		               (unsigned long long)cs->from, (unsigned long long)cs->to);
	if (rd->in.pos != rd->in.len)
		return fail_at(rd, rd->in.pos, KR_ERR_MALFORMED, "%zu trailing byte%s after the change-set",
		               rd->in.len - rd->in.pos, rd->in.len - rd->in.pos == 1 ? "" : "s");
	return KR_OK;
}

/* On error cs is left zeroed (its arena released) and err says what was wrong and at which byte.
 * lim NULL means kr_default_limits. Strings and arrays live in cs->arena; change->raw points into buf. */
kr_status kr_changeset_decode(const uint8_t *buf, size_t len, const struct kr_limits *lim, struct kr_changeset *cs,
                              struct kr_error *err)
{
	struct reader rd = {.in = {.buf = buf, .len = len}, .err = err};
	size_t cap;
	kr_status st;

	memset(cs, 0, sizeof *cs);
	kr_arena_init(&cs->arena, 0);
	if (!lim)
		lim = &kr_default_limits;
	rd.lim = lim;
	rd.arena = &cs->arena;
	if (!buf && len)
		return kr_fail(err, KR_ERR_INTERNAL, "kr_changeset_decode: NULL buffer of %zu bytes", len);
	if (len > lim->max_bytes)
		return kr_fail(err, KR_ERR_TOO_BIG, "change-set of %zu bytes exceeds the limit of %zu bytes", len,
		               lim->max_bytes);
	if (len == 0)
		return kr_fail(err, KR_ERR_MALFORMED, "byte 0: truncated input (the change-set is empty)");

	cap = len <= (SIZE_MAX - ARENA_SLACK) / (ARENA_PER_BYTE + 1) ? len * ARENA_PER_BYTE + ARENA_SLACK : SIZE_MAX;
	cs->arena.max = cap;
	rd.pool_size = len + 1;
	rd.pool = kr_arena_alloc(&cs->arena, rd.pool_size);
	if (!rd.pool)
		return kr_fail(err, KR_ERR_NOMEM, "out of memory for a change-set of %zu bytes", len);

	st = read_changeset(&rd, cs);
	if (st) {
		kr_changeset_release(cs);
		return st;
	}
	return KR_OK;
}

void kr_changeset_release(struct kr_changeset *cs)
{
	kr_arena_release(&cs->arena);
	memset(cs, 0, sizeof *cs);
}

/* ------------------------------------------------------------------------------------------------- */
/* The encoder. Validation mirrors the decoder (but not its limits), so what is encoded decodes. Errors
 * are sticky: after the first, nothing more is written, and the caller's buffer is put back as it was. */

struct writer {
	struct kr_buf *out;
	size_t start;
	kr_status st;
	bool told; /* err already says what was wrong */
	struct kr_error *err;
};

/* The cbor_pull writers, made sticky: after the first error nothing more is written. */
static void put_uint(struct writer *w, uint64_t v)
{
	if (!w->st)
		w->st = kr_cbor_put_uint(w->out, v);
}

static void put_int(struct writer *w, int64_t i)
{
	if (!w->st)
		w->st = kr_cbor_put_int(w->out, i);
}

static void put_array(struct writer *w, size_t n)
{
	if (!w->st)
		w->st = kr_cbor_put_array(w->out, n);
}

static void put_map(struct writer *w, size_t n)
{
	if (!w->st)
		w->st = kr_cbor_put_map(w->out, n);
}

static void put_null(struct writer *w)
{
	if (!w->st)
		w->st = kr_cbor_put_null(w->out);
}

static void put_bool(struct writer *w, bool v)
{
	if (!w->st)
		w->st = kr_cbor_put_bool(w->out, v);
}

static void put_tstr(struct writer *w, const char *s, size_t n)
{
	if (!w->st)
		w->st = kr_cbor_put_text(w->out, s, n);
}

static void put_bstr(struct writer *w, const void *p, size_t n)
{
	if (!w->st)
		w->st = kr_cbor_put_bytes(w->out, p, n);
}

/* Bytes already encoded. */
static void put_raw(struct writer *w, const void *p, size_t n)
{
	if (!w->st)
		w->st = kr_buf_append(w->out, p, n);
}

/* Records the first error, with its message. */
static void refuse(struct writer *w, kr_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void refuse(struct writer *w, kr_status code, const char *fmt, ...)
{
	va_list ap;

	if (w->st)
		return;
	w->st = code;
	w->told = true;
	if (w->err) {
		w->err->code = code;
		va_start(ap, fmt);
		vsnprintf(w->err->msg, sizeof w->err->msg, fmt, ap);
		va_end(ap);
	}
}

static void writer_init(struct writer *w, struct kr_buf *out, struct kr_error *err)
{
	w->out = out;
	w->start = out->len;
	w->st = KR_OK;
	w->told = false;
	w->err = err;
}

/* On error puts the buffer back as it was and makes sure err says why. */
static kr_status writer_finish(struct writer *w, const char *what)
{
	if (!w->st)
		return KR_OK;
	w->out->len = w->start;
	if (!w->told) {
		if (w->st == KR_ERR_TOO_BIG)
			kr_fail(w->err, w->st, "encoding %s: the output would exceed its cap of %zu bytes", what,
			        w->out->max);
		else
			kr_fail(w->err, w->st, "encoding %s: %s", what, kr_status_name(w->st));
	}
	return w->st;
}

static void check_id(struct writer *w, const char *what, const char *id)
{
	char q[QUOTE_SIZE];

	if (!id)
		refuse(w, KR_ERR_INVALID, "%s is missing", what);
	else if (!kr_id_valid(id))
		refuse(w, KR_ERR_INVALID, "%s %s is not a valid id (1 to %d characters of a-z, 0-9, '.', '_' and '-')",
		       what, quoted(q, id, strlen(id)), KR_ID_MAX);
}

static void put_name(struct writer *w, const char *what, bool underscore_first, const char *name)
{
	char q[QUOTE_SIZE];

	if (!name)
		refuse(w, KR_ERR_INVALID, "%s is missing", what);
	else if (!name_valid((const uint8_t *)name, strlen(name), underscore_first))
		refuse(w, KR_ERR_INVALID, "%s %s is not a valid %s name (1 to %d characters of a-z, 0-9 and '_'%s)",
		       what, quoted(q, name, strlen(name)), what, KR_NAME_MAX,
		       underscore_first ? "" : ", not starting with '_'");
	else
		put_tstr(w, name, strlen(name));
}

static void put_id(struct writer *w, const char *what, const char *id)
{
	check_id(w, what, id);
	if (!w->st)
		put_tstr(w, id, strlen(id));
}

static void put_version(struct writer *w, const char *what, bool nullable, const struct kr_version *v)
{
	char name[48];

	if (v->hlc == 0) {
		if (nullable)
			put_null(w);
		else
			refuse(w, KR_ERR_INVALID, "%s: hlc 0 is not a version", what);
		return;
	}
	put_array(w, 2);
	put_uint(w, v->hlc);
	snprintf(name, sizeof name, "%s node", what);
	put_id(w, name, v->node);
}

static void put_value(struct writer *w, const struct kr_value *v)
{
	const char *why;
	size_t at;

	switch (v->type) {
	case KR_VAL_NULL:
		put_null(w);
		return;
	case KR_VAL_BOOL:
		put_bool(w, v->i != 0);
		return;
	case KR_VAL_INT:
		put_int(w, v->i);
		return;
	case KR_VAL_TEXT:
		if (!v->s && v->len) {
			refuse(w, KR_ERR_INVALID, "value: text of %zu bytes is missing", v->len);
			return;
		}
		why = text_problem((const uint8_t *)(v->s ? v->s : ""), v->len, &at);
		if (why) {
			refuse(w, KR_ERR_INVALID, "value: text %s (at byte %zu of the text)", why, at);
			return;
		}
		put_tstr(w, v->s, v->len);
		return;
	}
	refuse(w, KR_ERR_INVALID, "value: unknown value type %d", (int)v->type);
}

static void put_change(struct writer *w, const struct kr_change *c)
{
	char q[QUOTE_SIZE];

	if ((c->nwrites && !c->writes) || (c->nseen && !c->seen)) {
		refuse(w, KR_ERR_INVALID, "the change has %zu writes and %zu seen entries but no arrays for them",
		       c->nwrites, c->nseen);
		return;
	}
	put_array(w, c->nseen ? 9 : 8);
	put_id(w, "origin", c->origin);
	if (c->seq == 0)
		refuse(w, KR_ERR_INVALID, "seq 0: sequence numbers start at 1");
	put_uint(w, c->seq);
	put_bstr(w, c->record.b, sizeof c->record.b);
	put_name(w, "kind", true, c->kind);
	put_id(w, "facility", c->facility);
	if (c->hlc == 0)
		refuse(w, KR_ERR_INVALID, "hlc 0: a change needs a timestamp");
	put_uint(w, c->hlc);
	put_version(w, "del_base", true, &c->del_base);

	put_array(w, c->nwrites);
	for (size_t i = 0; i < c->nwrites && !w->st; i++) {
		const struct kr_write *wr = &c->writes[i];

		put_array(w, 3);
		put_name(w, "field", true, wr->field);
		for (size_t k = 0; k < i && !w->st; k++)
			if (strcmp(c->writes[k].field, wr->field) == 0)
				refuse(w, KR_ERR_INVALID, "field %s is also written by write %zu",
				       quoted(q, wr->field, strlen(wr->field)), k + 1);
		put_value(w, &wr->value);
		put_version(w, "base", true, &wr->base);
		if (w->st && w->told)
			kr_error_prefix(w->err, "write %zu", i + 1);
	}
	if (!c->nseen)
		return;
	put_array(w, c->nseen);
	for (size_t i = 0; i < c->nseen && !w->st; i++) {
		const struct kr_seen *s = &c->seen[i];

		put_array(w, 2);
		put_name(w, "field", true, s->field);
		for (size_t k = 0; k < i && !w->st; k++)
			if (strcmp(c->seen[k].field, s->field) == 0)
				refuse(w, KR_ERR_INVALID, "field %s is also listed by seen %zu",
				       quoted(q, s->field, strlen(s->field)), k + 1);
		put_version(w, "version", false, &s->version);
		if (w->st && w->told)
			kr_error_prefix(w->err, "seen %zu", i + 1);
	}
}

kr_status kr_change_encode(const struct kr_change *c, struct kr_buf *out, struct kr_error *err)
{
	struct writer w;

	writer_init(&w, out, err);
	put_change(&w, c);
	return writer_finish(&w, "a change");
}

/* Both set encoders: changes_raw holds the encoded changes, or is NULL to encode cs->changes. */
static kr_status encode_set(const struct kr_changeset *cs, const uint8_t *changes_raw, size_t changes_len,
                            size_t nchanges, struct kr_buf *out, struct kr_error *err)
{
	struct writer w;
	char q[QUOTE_SIZE];
	size_t npairs = 3;

	writer_init(&w, out, err);
	check_id(&w, "sender", cs->sender);
	if (cs->facility)
		check_id(&w, "facility", cs->facility);
	if (cs->nacks && !cs->acks)
		refuse(&w, KR_ERR_INVALID, "the change-set has %zu acks but no array for them", cs->nacks);
	for (size_t i = 0; i < cs->nacks && !w.st; i++) {
		check_id(&w, "node", cs->acks[i].node);
		for (size_t k = 0; k < i && !w.st; k++)
			if (strcmp(cs->acks[k].node, cs->acks[i].node) == 0)
				refuse(&w, KR_ERR_INVALID, "node %s is also acknowledged by ack %zu",
				       quoted(q, cs->acks[i].node, strlen(cs->acks[i].node)), k + 1);
		if (w.st && w.told)
			kr_error_prefix(err, "ack %zu", i + 1);
	}
	if (cs->has_range && cs->from > cs->to)
		refuse(&w, KR_ERR_INVALID, "the range is backwards: from %llu is after to %llu",
		       (unsigned long long)cs->from, (unsigned long long)cs->to);
	if (changes_raw && (changes_len == 0) != (nchanges == 0))
		refuse(&w, KR_ERR_INVALID, "%zu encoded changes cannot take %zu bytes", nchanges, changes_len);
	if (!changes_raw && nchanges && !cs->changes)
		refuse(&w, KR_ERR_INVALID, "the change-set has %zu changes but no array for them", nchanges);

	npairs += (cs->facility != NULL) + (cs->nacks != 0) + 2 * cs->has_range + cs->more + cs->has_since +
	          (cs->catalogue_version != 0) + cs->recover;
	put_map(&w, npairs);
	put_uint(&w, KEY_FORMAT);
	put_uint(&w, KR_FORMAT_VERSION);
	put_uint(&w, KEY_SENDER);
	put_id(&w, "sender", cs->sender);
	if (cs->facility) {
		put_uint(&w, KEY_FACILITY);
		put_id(&w, "facility", cs->facility);
	}
	put_uint(&w, KEY_CHANGES);
	put_array(&w, nchanges);
	if (changes_raw) {
		put_raw(&w, changes_raw, changes_len);
	} else {
		for (size_t i = 0; i < nchanges && !w.st; i++) {
			put_change(&w, &cs->changes[i]);
			if (w.st && w.told)
				kr_error_prefix(err, "change %zu", i + 1);
		}
	}
	if (cs->nacks) {
		put_uint(&w, KEY_ACKS);
		put_map(&w, cs->nacks);
		for (size_t i = 0; i < cs->nacks && !w.st; i++) {
			put_tstr(&w, cs->acks[i].node, strlen(cs->acks[i].node));
			put_uint(&w, cs->acks[i].seq);
		}
	}
	if (cs->has_range) {
		put_uint(&w, KEY_FROM);
		put_uint(&w, cs->from);
		put_uint(&w, KEY_TO);
		put_uint(&w, cs->to);
	}
	if (cs->more) {
		put_uint(&w, KEY_MORE);
		put_bool(&w, true);
	}
	if (cs->has_since) {
		put_uint(&w, KEY_SINCE);
		put_uint(&w, cs->since);
	}
	if (cs->catalogue_version) {
		put_uint(&w, KEY_CATALOGUE);
		put_uint(&w, cs->catalogue_version);
	}
	if (cs->recover) {
		put_uint(&w, KEY_RECOVER);
		put_bool(&w, true);
	}
	return writer_finish(&w, "a change-set");
}

kr_status kr_changeset_encode_raw(const struct kr_changeset *cs, const uint8_t *changes_raw, size_t changes_len,
                                  size_t nchanges, struct kr_buf *out, struct kr_error *err)
{
	static const uint8_t none[1];

	if (!changes_raw && changes_len)
		return kr_fail(err, KR_ERR_INVALID, "encoding a change-set: %zu bytes of changes at NULL", changes_len);
	/* A non-NULL pointer tells encode_set to copy, even for an empty set. */
	return encode_set(cs, changes_raw ? changes_raw : none, changes_len, nchanges, out, err);
}

kr_status kr_changeset_encode(const struct kr_changeset *cs, struct kr_buf *out, struct kr_error *err)
{
	return encode_set(cs, NULL, 0, cs->nchanges, out, err);
}
