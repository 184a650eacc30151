/* cbor_pull.c: one-item-at-a-time CBOR reading over cbor_stream_decode. */
#include "cbor_pull.h"

#include <cbor.h>
#include <string.h>

static void on_u8(void *c, uint8_t v) { struct kr_cbor_item *it = c; it->type = KR_CB_UINT; it->u = v; }
static void on_u16(void *c, uint16_t v) { struct kr_cbor_item *it = c; it->type = KR_CB_UINT; it->u = v; }
static void on_u32(void *c, uint32_t v) { struct kr_cbor_item *it = c; it->type = KR_CB_UINT; it->u = v; }
static void on_u64(void *c, uint64_t v) { struct kr_cbor_item *it = c; it->type = KR_CB_UINT; it->u = v; }
static void on_n8(void *c, uint8_t v) { struct kr_cbor_item *it = c; it->type = KR_CB_NEGINT; it->u = v; }
static void on_n16(void *c, uint16_t v) { struct kr_cbor_item *it = c; it->type = KR_CB_NEGINT; it->u = v; }
static void on_n32(void *c, uint32_t v) { struct kr_cbor_item *it = c; it->type = KR_CB_NEGINT; it->u = v; }
static void on_n64(void *c, uint64_t v) { struct kr_cbor_item *it = c; it->type = KR_CB_NEGINT; it->u = v; }

static void on_bytes(void *c, cbor_data d, size_t n)
{
	struct kr_cbor_item *it = c;
	it->type = KR_CB_BYTES;
	it->p = d;
	it->len = (size_t)n;
}

static void on_text(void *c, cbor_data d, size_t n)
{
	struct kr_cbor_item *it = c;
	it->type = KR_CB_TEXT;
	it->p = d;
	it->len = (size_t)n;
}

static void on_array(void *c, size_t n) { struct kr_cbor_item *it = c; it->type = KR_CB_ARRAY; it->u = n; }
static void on_map(void *c, size_t n) { struct kr_cbor_item *it = c; it->type = KR_CB_MAP; it->u = n; }
static void on_bool(void *c, bool v) { struct kr_cbor_item *it = c; it->type = KR_CB_BOOL; it->u = v; }
static void on_null(void *c) { struct kr_cbor_item *it = c; it->type = KR_CB_NULL; }
static void other(void *c, enum kr_cbor_other o)
{
	struct kr_cbor_item *it = c;
	it->type = KR_CB_OTHER;
	it->other = o;
}
static void on_indef_bytes(void *c) { other(c, KR_CB_INDEF_BYTES); }
static void on_indef_text(void *c) { other(c, KR_CB_INDEF_TEXT); }
static void on_indef_array(void *c) { other(c, KR_CB_INDEF_ARRAY); }
static void on_indef_map(void *c) { other(c, KR_CB_INDEF_MAP); }
static void on_tag(void *c, uint64_t v) { other(c, KR_CB_TAG); ((struct kr_cbor_item *)c)->u = v; }
static void on_float(void *c, float v) { other(c, KR_CB_FLOAT); (void)v; }
static void on_double(void *c, double v) { other(c, KR_CB_FLOAT); (void)v; }
static void on_undefined(void *c) { other(c, KR_CB_UNDEFINED); }
static void on_break(void *c) { other(c, KR_CB_BREAK); }

/* libcbor 0.8's header comments on these members are swapped: byte_string and string get the definite
 * strings, byte_string_start and string_start the indefinite ones. Every member must be set: the
 * decoder calls them without checking for NULL. */
static const struct cbor_callbacks pull_callbacks = {
	.uint8 = on_u8, .uint16 = on_u16, .uint32 = on_u32, .uint64 = on_u64,
	.negint8 = on_n8, .negint16 = on_n16, .negint32 = on_n32, .negint64 = on_n64,
	.byte_string = on_bytes, .byte_string_start = on_indef_bytes,
	.string = on_text, .string_start = on_indef_text,
	.array_start = on_array, .indef_array_start = on_indef_array,
	.map_start = on_map, .indef_map_start = on_indef_map,
	.tag = on_tag,
	.float2 = on_float, .float4 = on_float, .float8 = on_double,
	.undefined = on_undefined, .null = on_null, .boolean = on_bool,
	.indef_break = on_break,
};

enum kr_cbor_fault kr_cbor_read(struct kr_cbor_pull *r, struct kr_cbor_item *it)
{
	struct cbor_decoder_result res;
	size_t left;
	uint8_t head;

	memset(it, 0, sizeof *it);
	it->type = KR_CB_OTHER; /* with KR_CB_NOT_OTHER: no callback ran */
	it->offset = r->pos;
	if (r->pos >= r->len)
		return KR_CB_TRUNCATED;
	left = r->len - r->pos;
	head = r->buf[r->pos];
	res = cbor_stream_decode(r->buf + r->pos, left, &pull_callbacks, it);
	if (res.status == CBOR_DECODER_NEDATA)
		return KR_CB_TRUNCATED;
	if (res.status != CBOR_DECODER_FINISHED) {
		/* libcbor 0.8 refuses the one-byte tags 6..20 (0xc6..0xd4) as errors instead of calling .tag:
		 * they are well-formed CBOR, and come back as tags like every other tag. */
		if (head >= 0xc6 && head <= 0xd4) {
			other(it, KR_CB_TAG);
			r->pos++;
			return KR_CB_FINE;
		}
		return KR_CB_BAD_HEAD;
	}
	if ((it->type == KR_CB_OTHER && it->other == KR_CB_NOT_OTHER) || res.read == 0 || res.read > left)
		return KR_CB_IMPOSSIBLE;
#if SIZE_MAX < UINT64_MAX
	/* libcbor hands 64-bit lengths and counts to the callbacks as size_t, cut to 32 bits here. */
	if ((head & 0x1f) == 27 && (head >> 5) >= 2 && (head >> 5) <= 5) {
		uint64_t v = 0;
		for (int i = 1; i <= 8; i++)
			v = v << 8 | r->buf[r->pos + i];
		if (v > SIZE_MAX) {
			it->u = v;
			return KR_CB_HUGE;
		}
	}
#endif
	r->pos += res.read;
	return KR_CB_FINE;
}

kr_status kr_cbor_next(struct kr_cbor_pull *r, struct kr_cbor_item *it, struct kr_error *err)
{
	switch (kr_cbor_read(r, it)) {
	case KR_CB_FINE:
		return KR_OK;
	case KR_CB_BAD_HEAD:
		return kr_fail(err, KR_ERR_MALFORMED, "byte %zu: not well-formed CBOR", r->pos);
	case KR_CB_HUGE:
		return kr_fail(err, KR_ERR_TOO_BIG, "byte %zu: a length of %llu does not fit in memory", r->pos,
		               (unsigned long long)it->u);
	case KR_CB_TRUNCATED:
		if (r->pos >= r->len)
			return kr_fail(err, KR_ERR_MALFORMED, "byte %zu: truncated input (expected more CBOR)", r->pos);
		break;
	case KR_CB_IMPOSSIBLE:
		break;
	}
	return kr_fail(err, KR_ERR_MALFORMED, "byte %zu: truncated input", r->pos);
}

const char *kr_cbor_name(enum kr_cbor_type type, enum kr_cbor_other other)
{
	static const char *const types[] = {
		[KR_CB_UINT] = "an unsigned integer", [KR_CB_NEGINT] = "a negative integer",
		[KR_CB_BYTES] = "a byte string",      [KR_CB_TEXT] = "a text string",
		[KR_CB_ARRAY] = "an array",           [KR_CB_MAP] = "a map",
		[KR_CB_BOOL] = "a boolean",           [KR_CB_NULL] = "null",
	};
	static const char *const others[] = {
		[KR_CB_INDEF_BYTES] = "an indefinite-length byte string (only definite lengths are allowed)",
		[KR_CB_INDEF_TEXT] = "an indefinite-length text string (only definite lengths are allowed)",
		[KR_CB_INDEF_ARRAY] = "an indefinite-length array (only definite lengths are allowed)",
		[KR_CB_INDEF_MAP] = "an indefinite-length map (only definite lengths are allowed)",
		[KR_CB_TAG] = "a tag (tags are not allowed)",
		[KR_CB_FLOAT] = "a floating-point number (floats are not allowed)",
		[KR_CB_UNDEFINED] = "undefined",
		[KR_CB_BREAK] = "a break code outside an indefinite-length item",
	};

	if (type < KR_CB_OTHER)
		return types[type];
	if (type == KR_CB_OTHER && other > KR_CB_NOT_OTHER && other <= KR_CB_BREAK)
		return others[other];
	return "nothing";
}

/* Each writer reserves the largest head (9 bytes) and lets libcbor write it. */
#define PUT_HEAD(b, call)                                                                                              \
	do {                                                                                                           \
		kr_status s_ = kr_buf_reserve((b), 9);                                                                 \
		if (s_)                                                                                                \
			return s_;                                                                                     \
		size_t n_ = call;                                                                                      \
		if (n_ == 0)                                                                                           \
			return KR_ERR_INTERNAL;                                                                        \
		(b)->len += n_;                                                                                        \
	} while (0)

kr_status kr_cbor_put_uint(struct kr_buf *b, uint64_t v)
{
	PUT_HEAD(b, cbor_encode_uint(v, b->data + b->len, b->cap - b->len));
	return KR_OK;
}

kr_status kr_cbor_put_int(struct kr_buf *b, int64_t v)
{
	if (v >= 0)
		return kr_cbor_put_uint(b, (uint64_t)v);
	PUT_HEAD(b, cbor_encode_negint((uint64_t)(-1 - v), b->data + b->len, b->cap - b->len));
	return KR_OK;
}

kr_status kr_cbor_put_text(struct kr_buf *b, const char *s, size_t len)
{
	size_t mark = b->len;
	PUT_HEAD(b, cbor_encode_string_start(len, b->data + b->len, b->cap - b->len));
	kr_status st = kr_buf_append(b, s, len);
	if (st)
		b->len = mark;
	return st;
}

kr_status kr_cbor_put_bytes(struct kr_buf *b, const void *p, size_t len)
{
	size_t mark = b->len;
	PUT_HEAD(b, cbor_encode_bytestring_start(len, b->data + b->len, b->cap - b->len));
	kr_status st = kr_buf_append(b, p, len);
	if (st)
		b->len = mark;
	return st;
}

kr_status kr_cbor_put_array(struct kr_buf *b, size_t n)
{
	PUT_HEAD(b, cbor_encode_array_start(n, b->data + b->len, b->cap - b->len));
	return KR_OK;
}

kr_status kr_cbor_put_map(struct kr_buf *b, size_t n)
{
	PUT_HEAD(b, cbor_encode_map_start(n, b->data + b->len, b->cap - b->len));
	return KR_OK;
}

kr_status kr_cbor_put_bool(struct kr_buf *b, int v)
{
	PUT_HEAD(b, cbor_encode_bool(v != 0, b->data + b->len, b->cap - b->len));
	return KR_OK;
}

kr_status kr_cbor_put_null(struct kr_buf *b)
{
	PUT_HEAD(b, cbor_encode_null(b->data + b->len, b->cap - b->len));
	return KR_OK;
}
