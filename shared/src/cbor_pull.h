/* cbor_pull.h: a pull reader over CBOR bytes, one item head at a time, with no allocation.
 *
 * Built on libcbor's cbor_stream_decode. Each kr_cbor_next reads one item head: a scalar whole, a
 * definite string whole (pointer into the input), or the count of a definite array or map (whose items
 * follow). Indefinite lengths, tags, floats and undefined come back as KR_CB_OTHER for the caller to
 * refuse. Lengths are checked against the bytes left; truncated input is KR_ERR_MALFORMED.
 */
#ifndef KR_CBOR_PULL_H
#define KR_CBOR_PULL_H

#include <stddef.h>
#include <stdint.h>

#include "kiroku/error.h"

enum kr_cbor_type {
	KR_CB_UINT,
	KR_CB_NEGINT, /* value is -1 - u */
	KR_CB_BYTES,
	KR_CB_TEXT,
	KR_CB_ARRAY,
	KR_CB_MAP,
	KR_CB_BOOL,
	KR_CB_NULL,
	KR_CB_OTHER,
};

struct kr_cbor_item {
	enum kr_cbor_type type;
	uint64_t u;         /* UINT, NEGINT, BOOL (0/1), ARRAY/MAP count */
	const uint8_t *p;   /* BYTES, TEXT */
	size_t len;
	size_t offset;      /* where the item began */
};

struct kr_cbor_pull {
	const uint8_t *buf;
	size_t len;
	size_t pos;
};

static inline void kr_cbor_pull_init(struct kr_cbor_pull *r, const uint8_t *buf, size_t len)
{
	r->buf = buf;
	r->len = len;
	r->pos = 0;
}

/* Reads the next item head. On error r->pos is unchanged. */
kr_status kr_cbor_next(struct kr_cbor_pull *r, struct kr_cbor_item *it, struct kr_error *err);



/* Writers: append one item head (and a string's bytes) to a buffer. On error the buffer is unchanged. */
#include "kiroku/buf.h"
kr_status kr_cbor_put_uint(struct kr_buf *b, uint64_t v);
kr_status kr_cbor_put_int(struct kr_buf *b, int64_t v);
kr_status kr_cbor_put_text(struct kr_buf *b, const char *s, size_t len);
kr_status kr_cbor_put_bytes(struct kr_buf *b, const void *p, size_t len);
kr_status kr_cbor_put_array(struct kr_buf *b, size_t n);
kr_status kr_cbor_put_map(struct kr_buf *b, size_t n);
kr_status kr_cbor_put_bool(struct kr_buf *b, int v);
kr_status kr_cbor_put_null(struct kr_buf *b);
#endif
