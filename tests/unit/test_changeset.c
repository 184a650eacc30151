/* test_changeset.c: unit tests of the change-set codec: round trips, raw bytes, limits and every malformed shape. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiroku/changeset.h"

/* ------------------------------------------------------------------------------------------------- */
/* A test-side CBOR writer, independent of libcbor, so that a bug in the codec can't hide in both. */

static void w_bytes(struct kr_buf *b, const void *p, size_t n)
{
	assert_int_equal(kr_buf_append(b, p, n), KR_OK);
}

static void w_head(struct kr_buf *b, unsigned major, uint64_t v)
{
	uint8_t h[9];
	size_t n, k;

	h[0] = (uint8_t)(major << 5);
	if (v < 24) {
		h[0] |= (uint8_t)v;
		n = 0;
	} else if (v <= 0xff) {
		h[0] |= 24;
		n = 1;
	} else if (v <= 0xffff) {
		h[0] |= 25;
		n = 2;
	} else if (v <= 0xffffffff) {
		h[0] |= 26;
		n = 4;
	} else {
		h[0] |= 27;
		n = 8;
	}
	for (k = 0; k < n; k++)
		h[1 + k] = (uint8_t)(v >> (8 * (n - 1 - k)));
	w_bytes(b, h, 1 + n);
}

static void w_uint(struct kr_buf *b, uint64_t v)
{
	w_head(b, 0, v);
}
static void w_array(struct kr_buf *b, uint64_t n)
{
	w_head(b, 4, n);
}
static void w_map(struct kr_buf *b, uint64_t n)
{
	w_head(b, 5, n);
}
static void w_null(struct kr_buf *b)
{
	w_bytes(b, "\xf6", 1);
}
static void w_bool(struct kr_buf *b, bool v)
{
	w_bytes(b, v ? "\xf5" : "\xf4", 1);
}

static void w_int(struct kr_buf *b, int64_t v)
{
	if (v >= 0)
		w_head(b, 0, (uint64_t)v);
	else
		w_head(b, 1, (uint64_t)(-1 - v));
}

static void w_textn(struct kr_buf *b, const void *s, size_t n)
{
	w_head(b, 3, n);
	w_bytes(b, s, n);
}

static void w_text(struct kr_buf *b, const char *s)
{
	w_textn(b, s, strlen(s));
}

static void w_bstr(struct kr_buf *b, const void *p, size_t n)
{
	w_head(b, 2, n);
	w_bytes(b, p, n);
}

static const uint8_t record_a[16] = {0x01, 0x93, 0x4a, 0x6b, 0x2c, 0x10, 0x7e, 0x51,
                                     0x9a, 0x00, 0xff, 0x13, 0x37, 0x42, 0x08, 0xc4};
static const uint8_t record_b[16] = {0x01, 0x93, 0x4a, 0x6b, 0x2c, 0x11, 0x00, 0x00,
                                     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};

#define HLC_1 ((UINT64_C(1763650000123) << 16) | 2)
#define HLC_2 ((UINT64_C(1763650000500) << 16) | 0)

#define MIN_CHANGE_BYTES 28 /* the smallest possible change, see changeset.c */

/* The parts of a hand-built set that a test can replace (see w_set). */
enum slot {
	S_NONE,
	S_ORIGIN,
	S_SEQ,
	S_RECORD,
	S_KIND,
	S_FACILITY,
	S_HLC,
	S_DEL_BASE,
	S_WRITES,
	S_SEEN, /* adds a 9th element to the change */
	S_FIELD,
	S_VALUE,
	S_BASE,
	S_SEEN_VERSION,
	S_CHANGE, /* the whole change */
};

/* {1: 1, 2: "agent-1", 4: [change]} with one valid change, one part of which is replaced by the bytes
 * (raw, n). The change is [origin, seq, record, kind, facility, hlc, null, [[field, value, base]], ? seen]. */
static void w_set(struct kr_buf *b, enum slot slot, const void *raw, size_t n)
{
	w_map(b, 3);
	w_uint(b, 1);
	w_uint(b, 1);
	w_uint(b, 2);
	w_text(b, "agent-1");
	w_uint(b, 4);
	w_array(b, 1);
	if (slot == S_CHANGE) {
		/* The padding after the set is refused as trailing bytes, but only after the change: without
		 * it, a short change would be refused sooner, as too short for the array's claim. */
		static const uint8_t pad[MIN_CHANGE_BYTES];
		w_bytes(b, raw, n);
		w_bytes(b, pad, sizeof pad);
		return;
	}
	w_array(b, slot == S_SEEN || slot == S_SEEN_VERSION ? 9 : 8);
	for (enum slot s = S_ORIGIN; s <= S_SEEN; s++) {
		if (s == slot) {
			w_bytes(b, raw, n);
			continue;
		}
		switch (s) {
		case S_ORIGIN:
			w_text(b, "agent-1");
			break;
		case S_SEQ:
			w_uint(b, 7);
			break;
		case S_RECORD:
			w_bstr(b, record_a, 16);
			break;
		case S_KIND:
			w_text(b, "incident");
			break;
		case S_FACILITY:
			w_text(b, "school-12");
			break;
		case S_HLC:
			w_uint(b, HLC_2);
			break;
		case S_DEL_BASE:
			w_null(b);
			break;
		case S_WRITES:
			w_array(b, 1);
			w_array(b, 3);
			if (slot == S_FIELD)
				w_bytes(b, raw, n);
			else
				w_text(b, "title");
			if (slot == S_VALUE)
				w_bytes(b, raw, n);
			else
				w_text(b, "ok");
			if (slot == S_BASE)
				w_bytes(b, raw, n);
			else
				w_null(b);
			break;
		case S_SEEN:
			if (slot != S_SEEN_VERSION)
				break;
			w_array(b, 1);
			w_array(b, 2);
			w_text(b, "title");
			w_bytes(b, raw, n);
			break;
		default:
			break;
		}
	}
}

/* {1: 1, 2: "agent-1", 4: []} with key `key` replaced or added (keys in ascending order). */
static void w_envelope(struct kr_buf *b, unsigned key, const void *raw, size_t n)
{
	bool base = key == 1 || key == 2 || key == 4;

	w_map(b, base ? 3 : 4);
	for (unsigned k = 1; k <= 32; k++) {
		if (k == key) {
			w_uint(b, k);
			w_bytes(b, raw, n);
		} else if (k == 1) {
			w_uint(b, 1);
			w_uint(b, 1);
		} else if (k == 2) {
			w_uint(b, 2);
			w_text(b, "agent-1");
		} else if (k == 4) {
			w_uint(b, 4);
			w_array(b, 0);
		}
	}
}

/* ------------------------------------------------------------------------------------------------- */
/* Decoding helpers. */

static bool verbose(void)
{
	const char *v = getenv("KIROKU_TEST_VERBOSE");
	return v && *v;
}

/* Decodes and expects failure with code and a message containing needle; cs must be left empty. */
static void expect_fail(const uint8_t *buf, size_t len, const struct kr_limits *lim, kr_status code, const char *needle)
{
	struct kr_changeset cs;
	struct kr_error err;
	kr_status st;

	memset(&err, 0, sizeof err);
	st = kr_changeset_decode(buf, len, lim, &cs, &err);
	if (st != code || !strstr(err.msg, needle))
		print_message("got %s \"%s\", expected %s with \"%s\"\n", kr_status_name(st), err.msg,
		              kr_status_name(code), needle);
	else if (verbose())
		print_message("  [%s] %s\n", kr_status_name(st), err.msg);
	assert_int_equal(st, code);
	assert_int_equal(err.code, code);
	assert_non_null(strstr(err.msg, needle));
	assert_null(cs.sender);
	assert_null(cs.changes);
	assert_int_equal(cs.nchanges, 0);
	assert_null(cs.arena.head);
	kr_changeset_release(&cs);
}

static void expect_ok(const uint8_t *buf, size_t len, const struct kr_limits *lim)
{
	struct kr_changeset cs;
	struct kr_error err;
	kr_status st;

	memset(&err, 0, sizeof err);
	st = kr_changeset_decode(buf, len, lim, &cs, &err);
	if (st)
		print_message("unexpected failure: %s\n", err.msg);
	assert_int_equal(st, KR_OK);
	kr_changeset_release(&cs);
}

/* A set with one part replaced by raw bytes must fail with code and needle. */
static void slot_fails(enum slot slot, const void *raw, size_t n, kr_status code, const char *needle)
{
	struct kr_buf b;

	kr_buf_init(&b, 0);
	w_set(&b, slot, raw, n);
	expect_fail(b.data, b.len, NULL, code, needle);
	kr_buf_release(&b);
}

static void slot_ok(enum slot slot, const void *raw, size_t n)
{
	struct kr_buf b;

	kr_buf_init(&b, 0);
	w_set(&b, slot, raw, n);
	expect_ok(b.data, b.len, NULL);
	kr_buf_release(&b);
}

/* The same with the replacement given as one encoded text string. */
static void slot_text_fails(enum slot slot, const char *text, kr_status code, const char *needle)
{
	struct kr_buf t;

	kr_buf_init(&t, 0);
	w_text(&t, text);
	slot_fails(slot, t.data, t.len, code, needle);
	kr_buf_release(&t);
}

static void key_fails(unsigned key, const void *raw, size_t n, kr_status code, const char *needle)
{
	struct kr_buf b;

	kr_buf_init(&b, 0);
	w_envelope(&b, key, raw, n);
	expect_fail(b.data, b.len, NULL, code, needle);
	kr_buf_release(&b);
}

/* ------------------------------------------------------------------------------------------------- */
/* A full change-set in memory: every envelope key, every value type, a delete with seen entries. */

static const char japanese[] = "体育館の床が濡れていて、生徒が転倒しました。";

static struct kr_write writes_a[] = {
    {.field = "title", .value = {.type = KR_VAL_TEXT, .s = "Fall in the gym", .len = 15}},
    {.field = "summary",
     .value = {.type = KR_VAL_TEXT, .s = japanese, .len = sizeof japanese - 1},
     .base = {.hlc = HLC_1, .node = "hub"}},
    {.field = "zero", .value = {.type = KR_VAL_INT, .i = 0}},
    {.field = "minus_one", .value = {.type = KR_VAL_INT, .i = -1}},
    {.field = "small", .value = {.type = KR_VAL_INT, .i = 24}},
    {.field = "wide", .value = {.type = KR_VAL_INT, .i = -65537}},
    {.field = "int_min", .value = {.type = KR_VAL_INT, .i = INT64_MIN}},
    {.field = "int_max", .value = {.type = KR_VAL_INT, .i = INT64_MAX}, .base = {.hlc = 1, .node = "a"}},
    {.field = "injured", .value = {.type = KR_VAL_BOOL, .i = 1}},
    {.field = "reported", .value = {.type = KR_VAL_BOOL, .i = 0}},
    {.field = "cleared", .value = {.type = KR_VAL_NULL}, .base = {.hlc = HLC_1, .node = "agent-1"}},
    {.field = "empty", .value = {.type = KR_VAL_TEXT, .s = "", .len = 0}},
};

static struct kr_write writes_b[] = {
    {.field = KR_FIELD_DELETED, .value = {.type = KR_VAL_BOOL, .i = 1}},
};

static struct kr_seen seen_b[] = {
    {.field = "title", .version = {.hlc = HLC_1, .node = "agent-1"}},
    {.field = "summary", .version = {.hlc = HLC_2, .node = "hub"}},
};

static struct kr_change changes_full[] = {
    {
        .origin = "agent-1",
        .seq = 41,
        .kind = "incident",
        .facility = "school-12",
        .hlc = HLC_2,
        .nwrites = sizeof writes_a / sizeof writes_a[0],
        .writes = writes_a,
    },
    {
        .origin = "agent-1",
        .seq = 42,
        .kind = "incident",
        .facility = "school-12",
        .hlc = HLC_2 + 1,
        .del_base = {.hlc = HLC_1, .node = "hub"},
        .nwrites = 1,
        .writes = writes_b,
        .nseen = 2,
        .seen = seen_b,
    },
    {
        .origin = "agent-2.gym_pc",
        .seq = UINT64_MAX,
        .kind = "pi_handling",
        .facility = "school-12",
        .hlc = UINT64_MAX,
    },
};

static struct kr_ack acks_full[] = {
    {.node = "agent-1", .seq = 40},
    {.node = "agent-2.gym_pc", .seq = 0},
};

static void full_set(struct kr_changeset *cs)
{
	memset(cs, 0, sizeof *cs);
	memcpy(changes_full[0].record.b, record_a, 16);
	memcpy(changes_full[1].record.b, record_a, 16);
	memcpy(changes_full[2].record.b, record_b, 16);
	cs->format = KR_FORMAT_VERSION;
	cs->sender = "hub";
	cs->facility = "school-12";
	cs->nchanges = sizeof changes_full / sizeof changes_full[0];
	cs->changes = changes_full;
	cs->nacks = 2;
	cs->acks = acks_full;
	cs->has_range = true;
	cs->from = 100;
	cs->to = 250;
	cs->more = true;
	cs->has_since = true;
	cs->since = 99;
	cs->catalogue_version = 3;
}

static void encode_full(struct kr_buf *out)
{
	struct kr_changeset cs;
	struct kr_error err;

	full_set(&cs);
	kr_buf_init(out, 0);
	if (kr_changeset_encode(&cs, out, &err))
		fail_msg("encoding the full set: %s", err.msg);
}

static void assert_version_eq(const struct kr_version *a, const struct kr_version *b)
{
	assert_true(a->hlc == b->hlc);
	if (a->hlc == 0) {
		assert_null(b->node);
		return;
	}
	assert_string_equal(a->node, b->node);
}

static void assert_change_eq(const struct kr_change *a, const struct kr_change *b)
{
	assert_string_equal(a->origin, b->origin);
	assert_true(a->seq == b->seq);
	assert_memory_equal(a->record.b, b->record.b, 16);
	assert_string_equal(a->kind, b->kind);
	assert_string_equal(a->facility, b->facility);
	assert_true(a->hlc == b->hlc);
	assert_version_eq(&a->del_base, &b->del_base);
	assert_int_equal(a->nwrites, b->nwrites);
	for (size_t i = 0; i < a->nwrites; i++) {
		assert_string_equal(a->writes[i].field, b->writes[i].field);
		assert_true(kr_value_eq(&a->writes[i].value, &b->writes[i].value));
		assert_int_equal(a->writes[i].value.type, b->writes[i].value.type);
		assert_true(a->writes[i].value.i == b->writes[i].value.i);
		if (b->writes[i].value.type == KR_VAL_TEXT) {
			assert_int_equal(strlen(b->writes[i].value.s), b->writes[i].value.len);
			assert_string_equal(a->writes[i].value.s, b->writes[i].value.s);
		}
		assert_version_eq(&a->writes[i].base, &b->writes[i].base);
	}
	assert_int_equal(a->nseen, b->nseen);
	for (size_t i = 0; i < a->nseen; i++) {
		assert_string_equal(a->seen[i].field, b->seen[i].field);
		assert_version_eq(&a->seen[i].version, &b->seen[i].version);
	}
}

/* ------------------------------------------------------------------------------------------------- */
/* Round trips. */

static void test_roundtrip_full(void **state)
{
	struct kr_changeset cs, want;
	struct kr_error err;
	struct kr_buf enc, again;

	(void)state;
	full_set(&want);
	encode_full(&enc);
	assert_int_equal(kr_changeset_decode(enc.data, enc.len, NULL, &cs, &err), KR_OK);

	assert_int_equal(cs.format, 1);
	assert_string_equal(cs.sender, "hub");
	assert_string_equal(cs.facility, "school-12");
	assert_int_equal(cs.nacks, 2);
	assert_string_equal(cs.acks[0].node, "agent-1");
	assert_int_equal(cs.acks[0].seq, 40);
	assert_string_equal(cs.acks[1].node, "agent-2.gym_pc");
	assert_int_equal(cs.acks[1].seq, 0);
	assert_true(cs.has_range);
	assert_int_equal(cs.from, 100);
	assert_int_equal(cs.to, 250);
	assert_true(cs.more);
	assert_true(cs.has_since);
	assert_int_equal(cs.since, 99);
	assert_int_equal(cs.catalogue_version, 3);
	assert_int_equal(cs.nchanges, want.nchanges);
	for (size_t i = 0; i < cs.nchanges; i++)
		assert_change_eq(&cs.changes[i], &want.changes[i]);
	assert_true(cs.changes[0].writes[6].value.i == INT64_MIN);
	assert_true(cs.changes[0].writes[7].value.i == INT64_MAX);
	assert_string_equal(cs.changes[0].writes[1].value.s, japanese);
	assert_null(cs.changes[2].writes);
	assert_null(cs.changes[2].seen);

	/* Re-encoding the decoded set gives the same bytes. */
	kr_buf_init(&again, 0);
	assert_int_equal(kr_changeset_encode(&cs, &again, &err), KR_OK);
	assert_int_equal(again.len, enc.len);
	assert_memory_equal(again.data, enc.data, enc.len);

	kr_buf_release(&again);
	kr_changeset_release(&cs);
	kr_buf_release(&enc);
}

static void test_raw_bytes_reencode(void **state)
{
	struct kr_changeset cs, want;
	struct kr_error err;
	struct kr_buf enc, one, raws, again;

	(void)state;
	full_set(&want);
	encode_full(&enc);
	assert_int_equal(kr_changeset_decode(enc.data, enc.len, NULL, &cs, &err), KR_OK);
	kr_buf_init(&raws, 0);
	for (size_t i = 0; i < cs.nchanges; i++) {
		const struct kr_change *c = &cs.changes[i];

		/* raw lies inside the input, the changes back to back */
		assert_true(c->raw > enc.data && c->raw + c->raw_len <= enc.data + enc.len);
		if (i > 0)
			assert_ptr_equal(c->raw, cs.changes[i - 1].raw + cs.changes[i - 1].raw_len);
		/* the decoded change encodes to its raw bytes, and so does the original */
		kr_buf_init(&one, 0);
		assert_int_equal(kr_change_encode(c, &one, &err), KR_OK);
		assert_int_equal(one.len, c->raw_len);
		assert_memory_equal(one.data, c->raw, c->raw_len);
		one.len = 0;
		assert_int_equal(kr_change_encode(&want.changes[i], &one, &err), KR_OK);
		assert_int_equal(one.len, c->raw_len);
		assert_memory_equal(one.data, c->raw, c->raw_len);
		kr_buf_release(&one);
		assert_int_equal(kr_buf_append(&raws, c->raw, c->raw_len), KR_OK);
	}

	/* encode_raw over the raws (cs->changes ignored) reproduces the input byte for byte */
	kr_buf_init(&again, 0);
	want.changes = NULL;
	want.nchanges = 0;
	assert_int_equal(kr_changeset_encode_raw(&want, raws.data, raws.len, cs.nchanges, &again, &err), KR_OK);
	assert_int_equal(again.len, enc.len);
	assert_memory_equal(again.data, enc.data, enc.len);

	kr_buf_release(&again);
	kr_buf_release(&raws);
	kr_changeset_release(&cs);
	kr_buf_release(&enc);
}

/* Byte-exact encodings, checked against the test's own writer. */
static void test_encoding_exact(void **state)
{
	struct kr_changeset cs;
	struct kr_error err;
	struct kr_buf got, want;
	struct kr_write w[] = {
	    {.field = "a", .value = {.type = KR_VAL_INT, .i = 23}},
	    {.field = "b", .value = {.type = KR_VAL_INT, .i = 255}, .base = {.hlc = 24, .node = "n"}},
	    {.field = "c", .value = {.type = KR_VAL_INT, .i = 256}},
	    {.field = "d", .value = {.type = KR_VAL_INT, .i = 65536}},
	    {.field = "e", .value = {.type = KR_VAL_INT, .i = -24}},
	    {.field = "f", .value = {.type = KR_VAL_INT, .i = -25}},
	    {.field = "g", .value = {.type = KR_VAL_INT, .i = INT64_C(4294967296)}},
	    {.field = "h", .value = {.type = KR_VAL_BOOL, .i = 0}},
	    {.field = "i", .value = {.type = KR_VAL_NULL}},
	};
	struct kr_change c = {
	    .origin = "n", .seq = 24, .kind = "k", .facility = "f", .hlc = HLC_1, .nwrites = 9, .writes = w};

	(void)state;
	memcpy(c.record.b, record_b, 16);
	kr_buf_init(&want, 0);
	w_array(&want, 8);
	w_text(&want, "n");
	w_uint(&want, 24);
	w_bstr(&want, record_b, 16);
	w_text(&want, "k");
	w_text(&want, "f");
	w_uint(&want, HLC_1);
	w_null(&want);
	w_array(&want, 9);
	for (size_t i = 0; i < 9; i++) {
		w_array(&want, 3);
		w_text(&want, w[i].field);
		if (w[i].value.type == KR_VAL_INT)
			w_int(&want, w[i].value.i);
		else if (w[i].value.type == KR_VAL_BOOL)
			w_bool(&want, w[i].value.i != 0);
		else
			w_null(&want);
		if (w[i].base.hlc) {
			w_array(&want, 2);
			w_uint(&want, w[i].base.hlc);
			w_text(&want, w[i].base.node);
		} else {
			w_null(&want);
		}
	}
	kr_buf_init(&got, 0);
	assert_int_equal(kr_change_encode(&c, &got, &err), KR_OK);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);

	/* The smallest set: optional keys omitted. */
	memset(&cs, 0, sizeof cs);
	cs.sender = "a";
	got.len = 0;
	assert_int_equal(kr_changeset_encode(&cs, &got, &err), KR_OK);
	assert_int_equal(got.len, 8);
	assert_memory_equal(got.data, "\xa3\x01\x01\x02\x61\x61\x04\x80", 8);

	/* Every envelope key, in ascending order. */
	cs.facility = "f";
	cs.nacks = 1;
	cs.acks = acks_full;
	cs.has_range = true;
	cs.from = 1;
	cs.to = 2;
	cs.more = true;
	cs.has_since = true;
	cs.since = 3;
	cs.catalogue_version = 4;
	cs.recover = true;
	got.len = 0;
	assert_int_equal(kr_changeset_encode(&cs, &got, &err), KR_OK);
	static const uint8_t all[] = {0xab, 0x01, 0x01, 0x02, 0x61, 'a',  0x03, 0x61, 'f',  0x04, 0x80,
	                              0x05, 0xa1, 0x67, 'a',  'g',  'e',  'n',  't',  '-',  '1',  0x18,
	                              0x28, 0x06, 0x01, 0x07, 0x02, 0x08, 0xf5, 0x09, 0x03, 0x0a, 0x04,
	                              0x0b, 0xf5};
	assert_int_equal(got.len, sizeof all);
	assert_memory_equal(got.data, all, sizeof all);

	kr_buf_release(&got);
	kr_buf_release(&want);
}

static void test_keys_in_any_order(void **state)
{
	struct kr_buf b;
	struct kr_changeset cs;
	struct kr_error err;

	(void)state;
	kr_buf_init(&b, 0);
	w_map(&b, 5);
	w_uint(&b, 9);
	w_uint(&b, 5);
	w_uint(&b, 4);
	w_array(&b, 0);
	w_uint(&b, 8);
	w_bool(&b, false);
	w_uint(&b, 2);
	w_text(&b, "agent-1");
	w_uint(&b, 1);
	w_uint(&b, 1);
	assert_int_equal(kr_changeset_decode(b.data, b.len, NULL, &cs, &err), KR_OK);
	assert_string_equal(cs.sender, "agent-1");
	assert_true(cs.has_since);
	assert_int_equal(cs.since, 5);
	assert_false(cs.more);
	assert_false(cs.has_range);
	assert_null(cs.facility);
	assert_int_equal(cs.nchanges, 0);
	assert_int_equal(cs.catalogue_version, 0);
	assert_false(cs.recover);
	kr_changeset_release(&cs);
	kr_buf_release(&b);
}

static void test_value_eq(void **state)
{
	struct kr_value n1 = {.type = KR_VAL_NULL}, n2 = {.type = KR_VAL_NULL, .i = 5};
	struct kr_value t1 = {.type = KR_VAL_TEXT, .s = "abc", .len = 3};
	struct kr_value t2 = {.type = KR_VAL_TEXT, .s = "abcd", .len = 3};
	struct kr_value t3 = {.type = KR_VAL_TEXT, .s = "abd", .len = 3};
	struct kr_value e1 = {.type = KR_VAL_TEXT, .s = "", .len = 0};
	struct kr_value i1 = {.type = KR_VAL_INT, .i = 1}, i2 = {.type = KR_VAL_INT, .i = 2};
	struct kr_value b1 = {.type = KR_VAL_BOOL, .i = 1}, b0 = {.type = KR_VAL_BOOL, .i = 0};

	(void)state;
	assert_true(kr_value_eq(&n1, &n2));
	assert_true(kr_value_eq(&t1, &t2));
	assert_false(kr_value_eq(&t1, &t3));
	assert_false(kr_value_eq(&t1, &e1));
	assert_true(kr_value_eq(&e1, &e1));
	assert_false(kr_value_eq(&i1, &i2));
	assert_false(kr_value_eq(&i1, &b1)); /* same i, different type */
	assert_false(kr_value_eq(&b1, &b0));
	assert_false(kr_value_eq(&n1, &b0));
	assert_true(kr_value_eq(&b1, &b1));
}

static void test_default_limits(void **state)
{
	(void)state;
	assert_int_equal(kr_default_limits.max_bytes, 8 * 1024 * 1024);
	assert_int_equal(kr_default_limits.max_changes, 20000);
	assert_int_equal(kr_default_limits.max_writes, 256);
	assert_int_equal(kr_default_limits.max_text, 65536);
	assert_int_equal(kr_default_limits.max_acks, 1024);
}

static void test_release_is_safe(void **state)
{
	struct kr_changeset cs;
	struct kr_error err;
	struct kr_buf enc;

	(void)state;
	memset(&cs, 0, sizeof cs);
	kr_changeset_release(&cs);
	kr_changeset_release(&cs);
	assert_int_equal(kr_changeset_decode((const uint8_t *)"\xa0", 1, NULL, &cs, &err), KR_ERR_MALFORMED);
	kr_changeset_release(&cs);
	encode_full(&enc);
	assert_int_equal(kr_changeset_decode(enc.data, enc.len, NULL, &cs, &err), KR_OK);
	assert_non_null(cs.arena.head);
	kr_changeset_release(&cs);
	assert_null(cs.arena.head);
	assert_null(cs.changes);
	assert_int_equal(cs.nchanges, 0);
	kr_changeset_release(&cs);
	kr_buf_release(&enc);
}

/* ------------------------------------------------------------------------------------------------- */
/* Malformed input. */

static void test_truncated_everywhere(void **state)
{
	struct kr_buf enc;

	(void)state;
	encode_full(&enc);
	for (size_t n = 0; n < enc.len; n++)
		expect_fail(enc.data, n, NULL, KR_ERR_MALFORMED, "truncated input");
	expect_ok(enc.data, enc.len, NULL);
	/* The message names the byte where the cut item begins. */
	expect_fail(enc.data, 1, NULL, KR_ERR_MALFORMED, "byte 1: truncated input");
	kr_buf_release(&enc);
}

static void test_wrong_envelope_types(void **state)
{
	static const struct {
		unsigned key;
		uint8_t raw[4];
		size_t n;
		const char *needle;
	} cases[] = {
	    {1, {0x61, '1'}, 2, "format: expected an unsigned integer, found a text string"},
	    {1, {0x20}, 1, "format: expected an unsigned integer, found a negative integer"},
	    {2, {0x07}, 1, "sender: expected a text string, found an unsigned integer"},
	    {2, {0x41, 'a'}, 2, "sender: expected a text string, found a byte string"},
	    {3, {0xf6}, 1, "facility: expected a text string, found null"},
	    {4, {0xa0}, 1, "changes: expected an array, found a map"},
	    {4, {0x61, 'x'}, 2, "changes: expected an array, found a text string"},
	    {5, {0x80}, 1, "acks: expected a map, found an array"},
	    {6, {0x61, '1'}, 2, "from: expected an unsigned integer, found a text string"},
	    {7, {0x20}, 1, "to: expected an unsigned integer, found a negative integer"},
	    {8, {0x01}, 1, "more: expected a boolean, found an unsigned integer"},
	    {8, {0xf6}, 1, "more: expected a boolean, found null"},
	    {9, {0xf5}, 1, "since: expected an unsigned integer, found a boolean"},
	    {10, {0xf6}, 1, "catalogue_version: expected an unsigned integer, found null"},
	    {10, {0x81, 0x01}, 2, "catalogue_version: expected an unsigned integer, found an array"},
	    {11, {0x01}, 1, "recover: expected a boolean, found an unsigned integer"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		key_fails(cases[i].key, cases[i].raw, cases[i].n, KR_ERR_MALFORMED, cases[i].needle);

	/* Not a map at all, and a key that is not an unsigned integer. */
	expect_fail((const uint8_t *)"\x80", 1, NULL, KR_ERR_MALFORMED,
	            "expected a change-set (a map), found an array");
	expect_fail((const uint8_t *)"\x61\x61", 2, NULL, KR_ERR_MALFORMED, "found a text string");
	expect_fail((const uint8_t *)"\xa1\x61\x61\x01", 4, NULL, KR_ERR_MALFORMED,
	            "byte 1: expected a key (an unsigned integer), found a text string");
	expect_fail((const uint8_t *)"\xa1\x20\x01", 3, NULL, KR_ERR_MALFORMED, "found a negative integer");
}

static void test_missing_keys_and_range(void **state)
{
	struct kr_buf b;
	uint8_t one = 0x01, five = 0x05;

	(void)state;
	expect_fail((const uint8_t *)"\xa2\x01\x01\x04\x80", 5, NULL, KR_ERR_MALFORMED, "missing key 2 (sender)");
	expect_fail((const uint8_t *)"\xa2\x01\x01\x02\x61\x61", 6, NULL, KR_ERR_MALFORMED, "missing key 4 (changes)");
	expect_fail((const uint8_t *)"\xa2\x02\x61\x61\x04\x80", 6, NULL, KR_ERR_MALFORMED, "missing key 1 (format)");
	expect_fail((const uint8_t *)"\xa0", 1, NULL, KR_ERR_MALFORMED, "missing key 1 (format)");
	key_fails(6, &one, 1, KR_ERR_MALFORMED, "only from is present");
	key_fails(7, &one, 1, KR_ERR_MALFORMED, "only to is present");

	/* from > to */
	kr_buf_init(&b, 0);
	w_map(&b, 5);
	w_uint(&b, 1);
	w_uint(&b, 1);
	w_uint(&b, 2);
	w_text(&b, "hub");
	w_uint(&b, 4);
	w_array(&b, 0);
	w_uint(&b, 6);
	w_bytes(&b, &five, 1);
	w_uint(&b, 7);
	w_bytes(&b, &one, 1);
	expect_fail(b.data, b.len, NULL, KR_ERR_INVALID, "from 5 is after to 1");
	/* from == to is an empty range, and fine */
	b.data[b.len - 1] = 0x05;
	expect_ok(b.data, b.len, NULL);
	kr_buf_release(&b);
}

static void test_huge_array_header(void **state)
{
	static const uint8_t huge[] = {0x9b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00};
	static const uint8_t huge_map[] = {0xbb, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00};
	static const uint8_t huge_text[] = {0x7b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00};
	static const uint8_t max_array[] = {0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	struct kr_limits no_counts = kr_default_limits;
	struct kr_buf b;

	(void)state;
	expect_fail(huge, sizeof huge, NULL, KR_ERR_MALFORMED, "expected a change-set (a map), found an array");
	key_fails(4, huge, sizeof huge, KR_ERR_TOO_BIG, "changes: 4294967296 changes exceed the limit of 20000");
	key_fails(5, huge_map, sizeof huge_map, KR_ERR_TOO_BIG, "acks: 4294967296 acks exceed the limit of 1024");
	key_fails(2, huge_text, sizeof huge_text, KR_ERR_MALFORMED, "byte 4: truncated input");
	slot_fails(S_WRITES, huge, sizeof huge, KR_ERR_TOO_BIG, "writes: 4294967296 writes exceed the limit of 256");
	slot_fails(S_VALUE, huge_text, sizeof huge_text, KR_ERR_MALFORMED, "truncated input");

	/* With no count limits at all, the bytes left still bound what is allocated: a decoder that
	 * trusted the count would ask for hundreds of gigabytes (and ASan would abort). */
	no_counts.max_changes = SIZE_MAX;
	no_counts.max_writes = SIZE_MAX;
	no_counts.max_acks = SIZE_MAX;
	kr_buf_init(&b, 0);
	w_envelope(&b, 4, huge, sizeof huge);
	expect_fail(b.data, b.len, &no_counts, KR_ERR_MALFORMED, "truncated input (changes claims 4294967296 changes");
	b.len = 0;
	w_envelope(&b, 4, max_array, sizeof max_array);
	expect_fail(b.data, b.len, &no_counts, KR_ERR_MALFORMED, "more than the 0 bytes left can hold");
	b.len = 0;
	w_envelope(&b, 5, huge_map, sizeof huge_map);
	expect_fail(b.data, b.len, &no_counts, KR_ERR_MALFORMED, "acks claims 4294967296 acks");
	b.len = 0;
	w_set(&b, S_WRITES, max_array, sizeof max_array);
	expect_fail(b.data, b.len, &no_counts, KR_ERR_MALFORMED, "writes claims 18446744073709551615 writes");
	kr_buf_release(&b);
}

static void test_oversized_counts(void **state)
{
	static const uint8_t changes_20001[] = {0x99, 0x4e, 0x21};
	static const uint8_t writes_257[] = {0x99, 0x01, 0x01};
	static const uint8_t acks_1025[] = {0xb9, 0x04, 0x01};
	struct kr_changeset cs;
	struct kr_error err;
	struct kr_limits lim = kr_default_limits;
	struct kr_buf enc, b;

	(void)state;
	key_fails(4, changes_20001, sizeof changes_20001, KR_ERR_TOO_BIG,
	          "changes: 20001 changes exceed the limit of 20000");
	key_fails(5, acks_1025, sizeof acks_1025, KR_ERR_TOO_BIG, "acks: 1025 acks exceed the limit of 1024");
	slot_fails(S_WRITES, writes_257, sizeof writes_257, KR_ERR_TOO_BIG,
	           "change 1: writes: 257 writes exceed the limit of 256");
	kr_buf_init(&b, 0);
	w_array(&b, 257);
	slot_fails(S_SEEN, b.data, b.len, KR_ERR_TOO_BIG, "seen: 257 seen entries exceed the limit of 256");
	kr_buf_release(&b);

	/* Real elements against small limits: at the limit passes, one over fails. */
	encode_full(&enc);
	lim.max_changes = 3;
	assert_int_equal(kr_changeset_decode(enc.data, enc.len, &lim, &cs, &err), KR_OK);
	kr_changeset_release(&cs);
	lim.max_changes = 2;
	expect_fail(enc.data, enc.len, &lim, KR_ERR_TOO_BIG, "changes: 3 changes exceed the limit of 2");
	lim = kr_default_limits;
	lim.max_acks = 1;
	expect_fail(enc.data, enc.len, &lim, KR_ERR_TOO_BIG, "acks: 2 acks exceed the limit of 1");
	lim = kr_default_limits;
	lim.max_writes = 12;
	expect_ok(enc.data, enc.len, &lim);
	lim.max_writes = 11;
	expect_fail(enc.data, enc.len, &lim, KR_ERR_TOO_BIG, "change 1: writes: 12 writes exceed the limit of 11");
	lim.max_writes = 1;
	expect_fail(enc.data, enc.len, &lim, KR_ERR_TOO_BIG, "change 1: writes: 12 writes exceed");
	kr_buf_release(&enc);
}

static void test_text_too_long(void **state)
{
	struct kr_limits lim = kr_default_limits;
	struct kr_buf t, b;
	char *big;

	(void)state;
	lim.max_text = 10;
	kr_buf_init(&t, 0);
	kr_buf_init(&b, 0);
	w_text(&t, "0123456789");
	w_set(&b, S_VALUE, t.data, t.len);
	expect_ok(b.data, b.len, &lim);
	t.len = b.len = 0;
	w_text(&t, "0123456789a");
	w_set(&b, S_VALUE, t.data, t.len);
	expect_fail(b.data, b.len, &lim, KR_ERR_TOO_BIG,
	            "change 1: write 1: value: text of 11 bytes exceeds the limit of 10 bytes");

	/* The default: 64 KiB of text. */
	big = malloc(65537);
	assert_non_null(big);
	memset(big, 'x', 65537);
	t.len = b.len = 0;
	w_textn(&t, big, 65536);
	w_set(&b, S_VALUE, t.data, t.len);
	expect_ok(b.data, b.len, NULL);
	t.len = b.len = 0;
	w_textn(&t, big, 65537);
	w_set(&b, S_VALUE, t.data, t.len);
	expect_fail(b.data, b.len, NULL, KR_ERR_TOO_BIG, "text of 65537 bytes exceeds the limit of 65536 bytes");
	free(big);
	kr_buf_release(&t);
	kr_buf_release(&b);
}

static void test_invalid_utf8(void **state)
{
	static const struct {
		const char *bytes;
		size_t n;
	} bad[] = {
	    {"\xff", 1},                 /* never in UTF-8 */
	    {"\x80", 1},                 /* lone continuation byte */
	    {"ab\xc3", 3},               /* sequence cut at the end */
	    {"\xe3\x81", 2},             /* three-byte sequence cut */
	    {"\xc0\xaf", 2},             /* overlong '/' */
	    {"\xe0\x80\xaf", 3},         /* overlong, three bytes */
	    {"\xf0\x82\x82\xac", 4},     /* overlong, four bytes */
	    {"\xed\xa0\x80", 3},         /* a UTF-16 surrogate */
	    {"\xf4\x90\x80\x80", 4},     /* past U+10FFFF */
	    {"\xf8\x88\x80\x80\x80", 5}, /* five-byte form */
	    {"\xe3\x81\x41", 3},         /* ASCII where a continuation belongs */
	};
	static const char *const good[] = {"\xc3\xa9", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf", "\xf0\x9f\x98\x80",
	                                   "\xe3\x81\x82"};
	struct kr_buf t;

	(void)state;
	kr_buf_init(&t, 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		t.len = 0;
		w_textn(&t, bad[i].bytes, bad[i].n);
		slot_fails(S_VALUE, t.data, t.len, KR_ERR_INVALID, "change 1: write 1: value: text is not valid UTF-8");
	}
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		t.len = 0;
		w_text(&t, good[i]);
		slot_ok(S_VALUE, t.data, t.len);
	}
	/* NUL bytes are refused too, and the message points at the bad byte itself. */
	t.len = 0;
	w_textn(&t, "ab\0c", 4);
	slot_fails(S_VALUE, t.data, t.len, KR_ERR_INVALID, "value: text contains a NUL byte");
	kr_buf_release(&t);
}

static void test_record_id_length(void **state)
{
	struct kr_buf t;

	(void)state;
	kr_buf_init(&t, 0);
	w_bstr(&t, record_a, 15);
	slot_fails(S_RECORD, t.data, t.len, KR_ERR_INVALID, "change 1: record: a record id is 16 bytes, found 15");
	t.len = 0;
	w_bstr(&t, "0123456789abcdefg", 17);
	slot_fails(S_RECORD, t.data, t.len, KR_ERR_INVALID, "found 17");
	t.len = 0;
	w_text(&t, "01JD5M8W0000000000000000AB");
	slot_fails(S_RECORD, t.data, t.len, KR_ERR_MALFORMED, "record: expected a byte string, found a text string");
	kr_buf_release(&t);
}

static void test_seq_and_hlc_zero(void **state)
{
	uint8_t zero = 0x00;

	(void)state;
	slot_fails(S_SEQ, &zero, 1, KR_ERR_INVALID, "change 1: seq 0: sequence numbers start at 1");
	slot_fails(S_HLC, &zero, 1, KR_ERR_INVALID, "change 1: hlc 0: a change needs a timestamp");
	slot_fails(S_BASE, "\x82\x00\x61\x61", 4, KR_ERR_INVALID, "write 1: base: hlc 0 is not a version");
	slot_fails(S_DEL_BASE, "\x82\x00\x61\x61", 4, KR_ERR_INVALID, "del_base: hlc 0 is not a version");
	slot_fails(S_SEEN_VERSION, "\x82\x00\x61\x61", 4, KR_ERR_INVALID, "seen 1: version: hlc 0 is not a version");
	/* seen versions are never null */
	slot_fails(S_SEEN_VERSION, "\xf6", 1, KR_ERR_MALFORMED, "version: expected a version [hlc, node], found null");
	slot_ok(S_SEEN_VERSION, "\x82\x01\x61\x61", 4);
	slot_ok(S_BASE, "\x82\x01\x61\x61", 4);
}

static void test_indefinite_lengths(void **state)
{
	(void)state;
	/* 0x9f: indefinite array */
	slot_fails(S_WRITES, "\x9f\xff", 2, KR_ERR_MALFORMED,
	           "writes: expected an array, found an indefinite-length array");
	slot_fails(S_CHANGE, "\x9f\xff", 2, KR_ERR_MALFORMED, "found an indefinite-length array");
	slot_fails(S_VALUE, "\x9f\xff", 2, KR_ERR_MALFORMED, "found an indefinite-length array");
	/* 0x7f: indefinite text string */
	slot_fails(S_VALUE, "\x7f\x61\x61\xff", 4, KR_ERR_MALFORMED,
	           "value: expected null, a text string, an integer or a "
	           "boolean, found an indefinite-length text string");
	slot_fails(S_ORIGIN, "\x7f\x61\x61\xff", 4, KR_ERR_MALFORMED,
	           "origin: expected a text string, found an "
	           "indefinite-length text string");
	/* 0xbf: indefinite map */
	expect_fail((const uint8_t *)"\xbf\x01\x01\xff", 4, NULL, KR_ERR_MALFORMED, "found an indefinite-length map");
	key_fails(5, "\xbf\xff", 2, KR_ERR_MALFORMED, "acks: expected a map, found an indefinite-length map");
	/* 0x5f: indefinite byte string */
	slot_fails(S_RECORD, "\x5f\x41\x00\xff", 4, KR_ERR_MALFORMED, "found an indefinite-length byte string");
}

static void test_tags_refused(void **state)
{
	(void)state;
	slot_fails(S_VALUE, "\xc1\x00", 2, KR_ERR_MALFORMED,
	           "value: expected null, a text string, an integer or a "
	           "boolean, found a tag (tags are not allowed)");
	/* libcbor 0.8 reports the one-byte tags 6..20 as errors rather than tags: still "a tag" here */
	slot_fails(S_VALUE, "\xc6\x00", 2, KR_ERR_MALFORMED, "found a tag");
	slot_fails(S_VALUE, "\xd8\x20\x60", 3, KR_ERR_MALFORMED, "found a tag");
	slot_fails(S_SEQ, "\xc2\x41\x01", 3, KR_ERR_MALFORMED, "seq: expected an unsigned integer, found a tag");
	expect_fail((const uint8_t *)"\xd9\xd9\xf7\xa0", 4, NULL, KR_ERR_MALFORMED,
	            "expected a change-set (a map), found a tag");
}

static void test_floats_refused(void **state)
{
	(void)state;
	slot_fails(S_VALUE, "\xf9\x3c\x00", 3, KR_ERR_MALFORMED,
	           "value: expected null, a text string, an integer or a "
	           "boolean, found a floating-point number");
	slot_fails(S_VALUE, "\xfa\x3f\x80\x00\x00", 5, KR_ERR_MALFORMED, "found a floating-point number");
	slot_fails(S_VALUE, "\xfb\x3f\xf0\x00\x00\x00\x00\x00\x00", 9, KR_ERR_MALFORMED,
	           "found a floating-point number");
	slot_fails(S_HLC, "\xfb\x41\xd9\x00\x00\x00\x00\x00\x00", 9, KR_ERR_MALFORMED,
	           "hlc: expected an unsigned integer, found a floating-point number");
	slot_fails(S_VALUE, "\xf7", 1, KR_ERR_MALFORMED, "found undefined");
}

/* The whole message, byte offset and path included, for each kind of item the schema has no place for. */
static void test_other_items_named_exactly(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *msg;
	} cases[] = {
	    {"\xc6\x00", 2, "byte 0: expected a change-set (a map), found a tag (tags are not allowed)"},
	    {"\xd4\xa0", 2, "byte 0: expected a change-set (a map), found a tag (tags are not allowed)"},
	    {"\xa1\xc5\x00", 3, "byte 1: expected a key (an unsigned integer), found a tag (tags are not allowed)"},
	    {"\xa1\xd5\x00", 3, "byte 1: expected a key (an unsigned integer), found a tag (tags are not allowed)"},
	    {"\xa1\xff", 2,
	     "byte 1: expected a key (an unsigned integer), found a break code outside an indefinite-length item"},
	    {"\xa1\x01\xf9\x3c\x00", 5,
	     "byte 2: format: expected an unsigned integer, found a floating-point number (floats are not allowed)"},
	    {"\xa1\x01\xf7", 3, "byte 2: format: expected an unsigned integer, found undefined"},
	    {"\xa1\x01\x5f\xff", 4,
	     "byte 2: format: expected an unsigned integer, found an indefinite-length byte string (only definite "
	     "lengths are allowed)"},
	    {"\xa1\x08\x9f\xff", 4,
	     "byte 2: more: expected a boolean, found an indefinite-length array (only definite lengths are allowed)"},
	    {"\xa1\x02\x7f\xff", 4,
	     "byte 2: sender: expected a text string, found an indefinite-length text string (only definite lengths "
	     "are allowed)"},
	    {"\xa1\x05\xbf\xff", 4,
	     "byte 2: acks: expected a map, found an indefinite-length map (only definite lengths are allowed)"},
	    {"\xa1\x01\xf8\x20", 4, "byte 2: not well-formed CBOR (initial byte 0xf8 is reserved or unassigned)"},
	    {"\xa1\x01\x19\x01", 4, "byte 2: truncated input"},
	    {"\xa1\x01", 2, "byte 2: truncated input"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct kr_changeset cs;
		struct kr_error err;

		memset(&err, 0, sizeof err);
		assert_int_equal(kr_changeset_decode((const uint8_t *)cases[i].in, cases[i].len, NULL, &cs, &err),
		                 KR_ERR_MALFORMED);
		assert_int_equal(err.code, KR_ERR_MALFORMED);
		if (strcmp(err.msg, cases[i].msg) != 0)
			print_message("case %zu: got \"%s\", expected \"%s\"\n", i, err.msg, cases[i].msg);
		assert_string_equal(err.msg, cases[i].msg);
		assert_null(cs.arena.head);
	}
}

static void test_nested_value_refused(void **state)
{
	(void)state;
	slot_fails(S_VALUE, "\x81\x01", 2, KR_ERR_MALFORMED,
	           "change 1: write 1: value: expected null, a text string, an "
	           "integer or a boolean, found an array");
	slot_fails(S_VALUE, "\xa1\x01\x01", 3, KR_ERR_MALFORMED,
	           "value: expected null, a text string, an integer or a "
	           "boolean, found a map");
	slot_fails(S_VALUE, "\x41\x01", 2, KR_ERR_MALFORMED, "found a byte string");
	/* deep nesting is refused at the first level, without recursion */
	{
		uint8_t deep[4096];
		memset(deep, 0x81, sizeof deep);
		slot_fails(S_VALUE, deep, sizeof deep, KR_ERR_MALFORMED, "found an array");
		slot_fails(S_CHANGE, deep, sizeof deep, KR_ERR_MALFORMED,
		           "a change is an array of 8 or 9 elements, found 1");
	}
	slot_fails(S_KIND, "\x81\x61\x61", 3, KR_ERR_MALFORMED, "kind: expected a text string, found an array");
	slot_fails(S_FIELD, "\xa0", 1, KR_ERR_MALFORMED, "field: expected a text string, found a map");
}

static void test_wrong_array_lengths(void **state)
{
	struct kr_buf c;

	(void)state;
	kr_buf_init(&c, 0);
	w_array(&c, 7);
	slot_fails(S_CHANGE, c.data, c.len, KR_ERR_MALFORMED,
	           "change 1: a change is an array of 8 or 9 elements, found 7");
	c.len = 0;
	w_array(&c, 10);
	slot_fails(S_CHANGE, c.data, c.len, KR_ERR_MALFORMED, "found 10");
	slot_fails(S_WRITES, "\x81\x82\x62\x61\x62\x63xyz", 9, KR_ERR_MALFORMED,
	           "write 1: a write is an array of 3 elements, found 2");
	slot_fails(S_BASE, "\x83\x01\x61\x61\x01", 5, KR_ERR_MALFORMED,
	           "base: a version is an array of 2 elements, found 3");
	slot_fails(S_SEEN, "\x81\x83\x63\x61\x62\x63\xf6\xf6", 8, KR_ERR_MALFORMED,
	           "seen 1: a seen entry is an array of 2 elements");
	/* an empty seen list is accepted */
	slot_ok(S_SEEN, "\x80", 1);
	kr_buf_release(&c);
}

static void test_integer_range(void **state)
{
	(void)state;
	/* 2^63 does not fit in int64, either way */
	slot_fails(S_VALUE, "\x1b\x80\x00\x00\x00\x00\x00\x00\x00", 9, KR_ERR_INVALID,
	           "value: 9223372036854775808 does not fit in a 64-bit signed integer");
	slot_fails(S_VALUE, "\x3b\x80\x00\x00\x00\x00\x00\x00\x00", 9, KR_ERR_INVALID,
	           "value: a negative integer below -9223372036854775808 does not fit");
	slot_fails(S_VALUE, "\x3b\xff\xff\xff\xff\xff\xff\xff\xff", 9, KR_ERR_INVALID, "does not fit");
	slot_ok(S_VALUE, "\x1b\x7f\xff\xff\xff\xff\xff\xff\xff", 9);
	slot_ok(S_VALUE, "\x3b\x7f\xff\xff\xff\xff\xff\xff\xff", 9);
	/* non-shortest integer forms are well-formed CBOR and accepted */
	slot_ok(S_SEQ, "\x1b\x00\x00\x00\x00\x00\x00\x00\x07", 9);
	slot_fails(S_SEQ, "\x20", 1, KR_ERR_MALFORMED, "seq: expected an unsigned integer, found a negative integer");
}

static void test_trailing_bytes(void **state)
{
	struct kr_buf enc;

	(void)state;
	encode_full(&enc);
	assert_int_equal(kr_buf_append(&enc, "\x00", 1), KR_OK);
	expect_fail(enc.data, enc.len, NULL, KR_ERR_MALFORMED, "1 trailing byte after the change-set");
	assert_int_equal(kr_buf_append(&enc, "\xa0", 1), KR_OK);
	expect_fail(enc.data, enc.len, NULL, KR_ERR_MALFORMED, "2 trailing bytes");
	kr_buf_release(&enc);
}

static void test_duplicates(void **state)
{
	struct kr_buf b;

	(void)state;
	/* {1: 1, 2: "a", 2: "b", 4: []} */
	expect_fail((const uint8_t *)"\xa4\x01\x01\x02\x61\x61\x02\x61\x62\x04\x80", 11, NULL, KR_ERR_MALFORMED,
	            "byte 6: duplicate key 2 (sender)");
	expect_fail((const uint8_t *)"\xa4\x01\x01\x02\x61\x61\x04\x80\x04\x80", 10, NULL, KR_ERR_MALFORMED,
	            "duplicate key 4 (changes)");
	/* a field written twice, listed twice in seen, a node acknowledged twice */
	slot_fails(S_WRITES, "\x82\x83\x61\x61\x01\xf6\x83\x61\x61\x02\xf6", 11, KR_ERR_INVALID,
	           "change 1: write 2: field \"a\" is also written by write 1");
	slot_fails(S_SEEN, "\x82\x82\x61\x61\x82\x01\x61\x6e\x82\x61\x61\x82\x02\x61\x6e", 15, KR_ERR_INVALID,
	           "seen 2: field \"a\" is also listed by seen 1");
	kr_buf_init(&b, 0);
	w_map(&b, 2);
	w_text(&b, "n1");
	w_uint(&b, 1);
	w_text(&b, "n1");
	w_uint(&b, 2);
	key_fails(5, b.data, b.len, KR_ERR_INVALID, "ack 2: node \"n1\" is also acknowledged by ack 1");
	kr_buf_release(&b);
}

static void test_unknown_key(void **state)
{
	(void)state;
	key_fails(12, "\x01", 1, KR_ERR_MALFORMED, "unknown key 12");
	expect_fail((const uint8_t *)"\xa1\x00\x01", 3, NULL, KR_ERR_MALFORMED, "byte 1: unknown key 0");
	expect_fail((const uint8_t *)"\xa1\x1b\x00\x00\x00\x01\x00\x00\x00\x01\x01", 11, NULL, KR_ERR_MALFORMED,
	            "unknown key 4294967297");
}

static void test_format_version(void **state)
{
	(void)state;
	key_fails(1, "\x02", 1, KR_ERR_INVALID, "format version 2 is not supported (this build reads version 1)");
	key_fails(1, "\x00", 1, KR_ERR_INVALID, "format version 0 is not supported");
	key_fails(1, "\x1b\x00\x00\x00\x01\x00\x00\x00\x01", 9, KR_ERR_INVALID, "format version 4294967297");
}

static void test_invalid_ids(void **state)
{
	static const char long_id[] = "a234567890123456789012345678901234567890123456789012345678901234x"; /* 65 */
	struct kr_buf t;

	(void)state;
	assert_int_equal(strlen(long_id), 65);
	kr_buf_init(&t, 0);
	w_text(&t, "Agent 1");
	key_fails(2, t.data, t.len, KR_ERR_INVALID, "sender \"Agent 1\" is not a valid id");
	key_fails(3, t.data, t.len, KR_ERR_INVALID, "facility \"Agent 1\" is not a valid id");
	slot_text_fails(S_ORIGIN, "", KR_ERR_INVALID, "change 1: origin \"\" is not a valid id");
	slot_text_fails(S_ORIGIN, long_id, KR_ERR_INVALID, "origin \"a234567890");
	slot_text_fails(S_FACILITY, "school/12", KR_ERR_INVALID, "change 1: facility \"school/12\" is not a valid id");
	slot_text_fails(S_FACILITY, "学校", KR_ERR_INVALID, "facility \"\\xe5\\xad\\xa6\\xe6\\xa0\\xa1\" is not");
	slot_fails(S_BASE, "\x82\x01\x63\x61\x2f\x62", 6, KR_ERR_INVALID,
	           "write 1: base node \"a/b\" is not a valid id");
	slot_fails(S_DEL_BASE, "\x82\x01\x61\x41", 4, KR_ERR_INVALID, "del_base node \"A\" is not a valid id");
	slot_fails(S_ORIGIN, "\x63\x61\x00\x62", 4, KR_ERR_INVALID, "origin \"a\\x00b\" is not a valid id");
	t.len = 0;
	w_map(&t, 1);
	w_text(&t, "X");
	w_uint(&t, 1);
	key_fails(5, t.data, t.len, KR_ERR_INVALID, "ack 1: node \"X\" is not a valid id");
	/* and 64 bytes is fine */
	t.len = 0;
	w_textn(&t, long_id, 64);
	slot_ok(S_ORIGIN, t.data, t.len);
	kr_buf_release(&t);
}

static void test_invalid_names(void **state)
{
	static const char long_name[] = "a2345678901234567890123456789012345678901234567890123456789012345"; /* 65 */

	(void)state;
	slot_text_fails(S_FIELD, "x y", KR_ERR_INVALID, "change 1: write 1: field \"x y\" is not a valid field name");
	slot_text_fails(S_FIELD, "", KR_ERR_INVALID, "field \"\" is not a valid field name");
	slot_text_fails(S_FIELD, "Title", KR_ERR_INVALID, "field \"Title\" is not");
	slot_text_fails(S_FIELD, long_name, KR_ERR_INVALID, "is not a valid field name");
	slot_text_fails(S_KIND, "Private", KR_ERR_INVALID, "change 1: kind \"Private\" is not a valid kind name");
	slot_text_fails(S_KIND, "pi-handling", KR_ERR_INVALID, "kind \"pi-handling\"");
	/* field names may start with '_' ("_deleted"), kind names may not; digits are fine */
	slot_ok(S_FIELD, "\x68_deleted", 9);
	slot_ok(S_KIND, "\x63\x6b\x5f\x32", 4);
}

/* The densest valid input (writes of 6 bytes, 56 bytes each in memory) decodes within the arena's cap. */
static void test_dense_input_fits(void **state)
{
	struct kr_changeset cs;
	struct kr_error err;
	struct kr_buf b;
	const size_t nchanges = 400;

	(void)state;
	kr_buf_init(&b, 0);
	w_map(&b, 3);
	w_uint(&b, 1);
	w_uint(&b, 1);
	w_uint(&b, 2);
	w_text(&b, "a");
	w_uint(&b, 4);
	w_array(&b, nchanges);
	for (size_t i = 0; i < nchanges; i++) {
		w_array(&b, 8);
		w_text(&b, "a");
		w_uint(&b, i + 1);
		w_bstr(&b, record_a, 16);
		w_text(&b, "k");
		w_text(&b, "f");
		w_uint(&b, 1);
		w_null(&b);
		w_array(&b, 256);
		for (size_t k = 0; k < 256; k++) {
			char field[2] = {(char)('a' + k / 26), (char)('a' + k % 26)};
			w_array(&b, 3);
			w_textn(&b, field, 2);
			w_null(&b);
			w_null(&b);
		}
	}
	if (kr_changeset_decode(b.data, b.len, NULL, &cs, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(cs.nchanges, nchanges);
	assert_string_equal(cs.changes[nchanges - 1].writes[255].field, "jv");
	print_message("  %zu bytes in, %zu bytes of arena (%.1f per byte)\n", b.len, cs.arena.used,
	              (double)cs.arena.used / (double)b.len);
	assert_true(cs.arena.used < 20 * b.len);
	kr_changeset_release(&cs);
	kr_buf_release(&b);
}

static void test_too_big(void **state)
{
	struct kr_limits lim = kr_default_limits;
	struct kr_buf enc;

	(void)state;
	encode_full(&enc);
	lim.max_bytes = enc.len - 1;
	expect_fail(enc.data, enc.len, &lim, KR_ERR_TOO_BIG, "exceeds the limit of");
	lim.max_bytes = enc.len;
	expect_ok(enc.data, enc.len, &lim);
	kr_buf_release(&enc);
}

static void test_not_well_formed(void **state)
{
	(void)state;
	expect_fail((const uint8_t *)"\x1c", 1, NULL, KR_ERR_MALFORMED,
	            "byte 0: not well-formed CBOR (initial byte 0x1c is reserved or unassigned)");
	slot_fails(S_VALUE, "\xff", 1, KR_ERR_MALFORMED, "found a break code");
	slot_fails(S_VALUE, "\xf8\x20", 2, KR_ERR_MALFORMED, "not well-formed CBOR");
	slot_fails(S_VALUE, "\xe0", 1, KR_ERR_MALFORMED, "not well-formed CBOR");
	expect_fail(NULL, 0, NULL, KR_ERR_MALFORMED, "byte 0: truncated input");
}

/* Every single-byte change of a valid encoding decodes or fails cleanly (ASan/UBSan watch the rest). */
static void test_byte_flips(void **state)
{
	static const uint8_t subst[] = {0x00, 0x01, 0x17, 0x18, 0x1b, 0x20, 0x3b, 0x40, 0x5b, 0x5f,
	                                0x60, 0x7b, 0x7f, 0x80, 0x9b, 0x9f, 0xa0, 0xbb, 0xbf, 0xc0,
	                                0xc6, 0xd8, 0xf4, 0xf6, 0xf7, 0xf9, 0xfb, 0xff};
	struct kr_buf enc;
	size_t ok = 0, failed = 0;

	(void)state;
	encode_full(&enc);
	for (size_t i = 0; i < enc.len; i++) {
		uint8_t keep = enc.data[i];
		for (size_t k = 0; k < sizeof subst; k++) {
			struct kr_changeset cs;
			struct kr_error err;

			enc.data[i] = subst[k];
			err.msg[0] = 0;
			if (kr_changeset_decode(enc.data, enc.len, NULL, &cs, &err) == KR_OK) {
				ok++;
			} else {
				failed++;
				assert_true(strlen(err.msg) > 10);
				assert_null(cs.arena.head);
			}
			kr_changeset_release(&cs);
		}
		enc.data[i] = keep;
	}
	assert_true(failed > ok);
	kr_buf_release(&enc);
}

/* ------------------------------------------------------------------------------------------------- */
/* The encoder refuses what the decoder would refuse, and leaves its output as it was. */

static void expect_encode_fail(const struct kr_changeset *cs, kr_status code, const char *needle)
{
	struct kr_buf out;
	struct kr_error err;
	kr_status st;

	kr_buf_init(&out, 0);
	assert_int_equal(kr_buf_append(&out, "prefix", 6), KR_OK);
	memset(&err, 0, sizeof err);
	st = kr_changeset_encode(cs, &out, &err);
	if (st != code || !strstr(err.msg, needle))
		print_message("got %s \"%s\", expected %s with \"%s\"\n", kr_status_name(st), err.msg,
		              kr_status_name(code), needle);
	else if (verbose())
		print_message("  [%s] %s\n", kr_status_name(st), err.msg);
	assert_int_equal(st, code);
	assert_non_null(strstr(err.msg, needle));
	assert_int_equal(out.len, 6);
	assert_memory_equal(out.data, "prefix", 6);
	kr_buf_release(&out);
}

static void test_encode_refuses_invalid(void **state)
{
	struct kr_changeset cs;
	struct kr_write w[2] = {{.field = "title", .value = {.type = KR_VAL_TEXT, .s = "ok", .len = 2}},
	                        {.field = "other", .value = {.type = KR_VAL_INT, .i = 3}}};
	struct kr_change c = {
	    .origin = "agent-1", .seq = 1, .kind = "incident", .facility = "f", .hlc = 5, .nwrites = 2, .writes = w};
	struct kr_ack ack = {.node = "Bad Node", .seq = 1};

	(void)state;
	memset(&cs, 0, sizeof cs);
	cs.sender = "agent-1";
	cs.nchanges = 1;
	cs.changes = &c;

	cs.sender = "Agent";
	expect_encode_fail(&cs, KR_ERR_INVALID, "sender \"Agent\" is not a valid id");
	cs.sender = NULL;
	expect_encode_fail(&cs, KR_ERR_INVALID, "sender is missing");
	cs.sender = "agent-1";
	cs.nacks = 1;
	cs.acks = &ack;
	expect_encode_fail(&cs, KR_ERR_INVALID, "ack 1: node \"Bad Node\" is not a valid id");
	/* A missing node, or a count without its array, is refused, not dereferenced. */
	ack.node = NULL;
	expect_encode_fail(&cs, KR_ERR_INVALID, "ack 1: node is missing");
	ack.node = "agent-2";
	cs.acks = NULL;
	expect_encode_fail(&cs, KR_ERR_INVALID, "has 1 acks but no array for them");
	cs.acks = &ack;
	cs.nacks = 0;
	cs.has_range = true;
	cs.from = 3;
	cs.to = 2;
	expect_encode_fail(&cs, KR_ERR_INVALID, "from 3 is after to 2");
	cs.has_range = false;

	c.seq = 0;
	expect_encode_fail(&cs, KR_ERR_INVALID, "change 1: seq 0");
	c.seq = 1;
	c.hlc = 0;
	expect_encode_fail(&cs, KR_ERR_INVALID, "change 1: hlc 0");
	c.hlc = 5;
	c.kind = "x-y";
	expect_encode_fail(&cs, KR_ERR_INVALID, "change 1: kind \"x-y\" is not a valid kind name");
	c.kind = "incident";
	w[1].field = "x y";
	expect_encode_fail(&cs, KR_ERR_INVALID, "change 1: write 2: field \"x y\" is not a valid field name");
	w[1].field = "title";
	expect_encode_fail(&cs, KR_ERR_INVALID, "change 1: write 2: field \"title\" is also written by write 1");
	w[1].field = "other";
	w[0].value.s = "\xc3(";
	expect_encode_fail(&cs, KR_ERR_INVALID, "change 1: write 1: value: text is not valid UTF-8");
	w[0].value.s = "ok";
	w[1].base.hlc = 9;
	w[1].base.node = "Hub";
	expect_encode_fail(&cs, KR_ERR_INVALID, "change 1: write 2: base node \"Hub\" is not a valid id");
	w[1].base.node = "hub";

	/* A capped buffer: TOO_BIG, output unchanged. */
	{
		struct kr_buf out;
		struct kr_error err;
		kr_buf_init(&out, 20);
		assert_int_equal(kr_changeset_encode(&cs, &out, &err), KR_ERR_TOO_BIG);
		assert_int_equal(out.len, 0);
		assert_non_null(strstr(err.msg, "cap of 20 bytes"));
		kr_buf_release(&out);
		kr_buf_init(&out, 0);
		assert_int_equal(kr_changeset_encode(&cs, &out, &err), KR_OK);
		kr_buf_release(&out);
	}
}

static void test_encode_raw_checks(void **state)
{
	struct kr_changeset cs;
	struct kr_buf out;
	struct kr_error err;

	(void)state;
	memset(&cs, 0, sizeof cs);
	cs.sender = "hub";
	kr_buf_init(&out, 0);
	assert_int_equal(kr_changeset_encode_raw(&cs, NULL, 0, 0, &out, &err), KR_OK);
	assert_int_equal(out.len, 10);
	assert_memory_equal(out.data, "\xa3\x01\x01\x02\x63hub\x04\x80", 10);
	assert_int_equal(kr_changeset_encode_raw(&cs, NULL, 5, 1, &out, &err), KR_ERR_INVALID);
	assert_int_equal(kr_changeset_encode_raw(&cs, (const uint8_t *)"x", 1, 0, &out, &err), KR_ERR_INVALID);
	assert_int_equal(kr_changeset_encode_raw(&cs, (const uint8_t *)"x", 0, 2, &out, &err), KR_ERR_INVALID);
	assert_int_equal(out.len, 10);
	kr_buf_release(&out);
}

/* With KIROKU_TEST_DUMP set to a directory, writes the full set there for tests/unit/cbor_crosscheck.py. */
static void test_dump_for_crosscheck(void **state)
{
	const char *dir = getenv("KIROKU_TEST_DUMP");
	struct kr_buf enc;
	char path[4096];
	FILE *f;

	(void)state;
	if (!dir || !*dir)
		skip();
	encode_full(&enc);
	snprintf(path, sizeof path, "%s/changeset_full.cbor", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(enc.data, 1, enc.len, f), enc.len);
	assert_int_equal(fclose(f), 0);
	kr_buf_release(&enc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_full),
	    cmocka_unit_test(test_raw_bytes_reencode),
	    cmocka_unit_test(test_encoding_exact),
	    cmocka_unit_test(test_keys_in_any_order),
	    cmocka_unit_test(test_value_eq),
	    cmocka_unit_test(test_default_limits),
	    cmocka_unit_test(test_release_is_safe),
	    cmocka_unit_test(test_truncated_everywhere),
	    cmocka_unit_test(test_wrong_envelope_types),
	    cmocka_unit_test(test_missing_keys_and_range),
	    cmocka_unit_test(test_huge_array_header),
	    cmocka_unit_test(test_oversized_counts),
	    cmocka_unit_test(test_text_too_long),
	    cmocka_unit_test(test_invalid_utf8),
	    cmocka_unit_test(test_record_id_length),
	    cmocka_unit_test(test_seq_and_hlc_zero),
	    cmocka_unit_test(test_indefinite_lengths),
	    cmocka_unit_test(test_tags_refused),
	    cmocka_unit_test(test_floats_refused),
    cmocka_unit_test(test_other_items_named_exactly),
	    cmocka_unit_test(test_nested_value_refused),
	    cmocka_unit_test(test_wrong_array_lengths),
	    cmocka_unit_test(test_integer_range),
	    cmocka_unit_test(test_trailing_bytes),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_unknown_key),
	    cmocka_unit_test(test_format_version),
	    cmocka_unit_test(test_invalid_ids),
	    cmocka_unit_test(test_invalid_names),
	    cmocka_unit_test(test_dense_input_fits),
	    cmocka_unit_test(test_too_big),
	    cmocka_unit_test(test_not_well_formed),
	    cmocka_unit_test(test_byte_flips),
	    cmocka_unit_test(test_encode_refuses_invalid),
	    cmocka_unit_test(test_encode_raw_checks),
	    cmocka_unit_test(test_dump_for_crosscheck),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
