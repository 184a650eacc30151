/* cbor_pull.h: a pull reader over CBOR bytes, one item head at a time, with no allocation; and writers.
 *
 * Built on libcbor's cbor_stream_decode. Each kr_cbor_next reads one item head: a scalar whole, a
 * definite string whole (pointer into the input), or the count of a definite array or map (whose items
 * follow). Indefinite lengths, tags, floats, undefined and break come back as KR_CB_OTHER, with
 * item.other saying which, for the caller to refuse: none of our formats has them. Lengths are checked
 * against the bytes left; truncated input is KR_ERR_MALFORMED. Nothing here recurses.
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
	KR_CB_OTHER, /* item.other says what */
};

/* What a KR_CB_OTHER item is. */
enum kr_cbor_other {
	KR_CB_NOT_OTHER = 0, /* the item's type is not KR_CB_OTHER */
	KR_CB_INDEF_BYTES,
	KR_CB_INDEF_TEXT,
	KR_CB_INDEF_ARRAY,
	KR_CB_INDEF_MAP,
	KR_CB_TAG,   /* u: the tag number (0 for the one-byte tags 6..20, which libcbor 0.8 does not decode) */
	KR_CB_FLOAT, /* half, single or double */
	KR_CB_UNDEFINED,
	KR_CB_BREAK, /* 0xff outside an indefinite-length item */
};

struct kr_cbor_item {
	enum kr_cbor_type type;
	enum kr_cbor_other other; /* OTHER: which */
	uint64_t u;               /* UINT, NEGINT, BOOL (0/1), ARRAY/MAP count */
	const uint8_t *p;         /* BYTES, TEXT */
	size_t len;
	size_t offset;            /* where the item began */
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

/* Reads the next item head. On error r->pos is unchanged and err says "byte N: truncated input" or
 * "byte N: not well-formed CBOR". */
kr_status kr_cbor_next(struct kr_cbor_pull *r, struct kr_cbor_item *it, struct kr_error *err);

/* Why kr_cbor_read did not read an item. */
enum kr_cbor_fault {
	KR_CB_FINE = 0,
	KR_CB_TRUNCATED,  /* the input ends before the item does (or before it begins) */
	KR_CB_BAD_HEAD,   /* not well-formed: the initial byte is reserved or unassigned */
	KR_CB_HUGE,       /* only where size_t is narrower than 64 bits: a length or count (it->u) that does not fit */
	KR_CB_IMPOSSIBLE, /* libcbor returned what it cannot: a bug */
};

/* kr_cbor_next for a caller that words its own messages: says what went wrong, writes no message.
 * it->offset is always set; on a fault r->pos is unchanged. This function can't fail otherwise. */
enum kr_cbor_fault kr_cbor_read(struct kr_cbor_pull *r, struct kr_cbor_item *it);

/* For messages: "an unsigned integer", "a map", "a tag (tags are not allowed)", ... For a type alone
 * (what was expected) pass KR_CB_NOT_OTHER. Never NULL. */
const char *kr_cbor_name(enum kr_cbor_type type, enum kr_cbor_other other);

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
