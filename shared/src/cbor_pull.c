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
static void on_other(void *c) { struct kr_cbor_item *it = c; it->type = KR_CB_OTHER; }
static void on_other_u64(void *c, uint64_t v) { struct kr_cbor_item *it = c; it->type = KR_CB_OTHER; (void)v; }
static void on_other_f(void *c, float v) { struct kr_cbor_item *it = c; it->type = KR_CB_OTHER; (void)v; }
static void on_other_d(void *c, double v) { struct kr_cbor_item *it = c; it->type = KR_CB_OTHER; (void)v; }

static const struct cbor_callbacks pull_callbacks = {
	.uint8 = on_u8, .uint16 = on_u16, .uint32 = on_u32, .uint64 = on_u64,
	.negint8 = on_n8, .negint16 = on_n16, .negint32 = on_n32, .negint64 = on_n64,
	.byte_string = on_bytes, .byte_string_start = on_other,
	.string = on_text, .string_start = on_other,
	.array_start = on_array, .indef_array_start = on_other,
	.map_start = on_map, .indef_map_start = on_other,
	.tag = on_other_u64,
	.float2 = on_other_f, .float4 = on_other_f, .float8 = on_other_d,
	.undefined = on_other, .null = on_null, .boolean = on_bool,
	.indef_break = on_other,
};

kr_status kr_cbor_next(struct kr_cbor_pull *r, struct kr_cbor_item *it, struct kr_error *err)
{
	struct cbor_decoder_result res;

	memset(it, 0, sizeof *it);
	it->type = KR_CB_OTHER;
	it->offset = r->pos;
	if (r->pos >= r->len)
		return kr_fail(err, KR_ERR_MALFORMED, "byte %zu: truncated input (expected more CBOR)", r->pos);
	res = cbor_stream_decode(r->buf + r->pos, r->len - r->pos, &pull_callbacks, it);
	switch (res.status) {
	case CBOR_DECODER_FINISHED:
		break;
	case CBOR_DECODER_NEDATA:
		return kr_fail(err, KR_ERR_MALFORMED, "byte %zu: truncated input", r->pos);
	default:
		return kr_fail(err, KR_ERR_MALFORMED, "byte %zu: not well-formed CBOR", r->pos);
	}
	if (res.read == 0 || res.read > r->len - r->pos)
		return kr_fail(err, KR_ERR_MALFORMED, "byte %zu: truncated input", r->pos);
	r->pos += res.read;
	return KR_OK;
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
