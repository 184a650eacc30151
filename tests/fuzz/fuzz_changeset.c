/* fuzz_changeset.c: the change-set decoder on any bytes, with the default and with small limits; what it
 * accepts must encode again (kr_changeset_encode, and kr_changeset_encode_raw as the hub does with received
 * changes) and decode to an equal set, and the encoding of that must be the same bytes. */
#include <string.h>

#include "fuzz.h"

static const struct kr_limits small_limits = {
    .max_bytes = 2048, .max_changes = 3, .max_writes = 3, .max_text = 24, .max_acks = 2};

static bool str_eq(const char *a, const char *b)
{
	return (!a || !b) ? a == b : strcmp(a, b) == 0;
}

static bool version_eq(const struct kr_version *a, const struct kr_version *b)
{
	if (a->hlc == 0 || b->hlc == 0)
		return a->hlc == b->hlc;
	return a->hlc == b->hlc && str_eq(a->node, b->node);
}

static void check_equal(const char *what, const struct kr_changeset *a, const struct kr_changeset *b)
{
	if (a->format != b->format || !str_eq(a->sender, b->sender) || !str_eq(a->facility, b->facility) ||
	    a->nchanges != b->nchanges || a->nacks != b->nacks || a->has_range != b->has_range ||
	    (a->has_range && (a->from != b->from || a->to != b->to)) || a->more != b->more ||
	    a->has_since != b->has_since || (a->has_since && a->since != b->since) ||
	    a->catalogue_version != b->catalogue_version)
		fuzz_fail("%s: the envelope differs", what);
	for (size_t i = 0; i < a->nacks; i++)
		if (!str_eq(a->acks[i].node, b->acks[i].node) || a->acks[i].seq != b->acks[i].seq)
			fuzz_fail("%s: ack %zu differs", what, i + 1);
	for (size_t i = 0; i < a->nchanges; i++) {
		const struct kr_change *x = &a->changes[i], *y = &b->changes[i];

		if (!str_eq(x->origin, y->origin) || x->seq != y->seq ||
		    memcmp(&x->record, &y->record, sizeof x->record) || !str_eq(x->kind, y->kind) ||
		    !str_eq(x->facility, y->facility) || x->hlc != y->hlc || !version_eq(&x->del_base, &y->del_base) ||
		    x->nwrites != y->nwrites || x->nseen != y->nseen)
			fuzz_fail("%s: change %zu differs", what, i + 1);
		for (size_t k = 0; k < x->nwrites; k++)
			if (!str_eq(x->writes[k].field, y->writes[k].field) ||
			    !kr_value_eq(&x->writes[k].value, &y->writes[k].value) ||
			    !version_eq(&x->writes[k].base, &y->writes[k].base))
				fuzz_fail("%s: change %zu, write %zu differs", what, i + 1, k + 1);
		for (size_t k = 0; k < x->nseen; k++)
			if (!str_eq(x->seen[k].field, y->seen[k].field) ||
			    !version_eq(&x->seen[k].version, &y->seen[k].version))
				fuzz_fail("%s: change %zu, seen %zu differs", what, i + 1, k + 1);
	}
}

/* A refusal must say why, with one of the codes a decoder may give. */
static void check_refusal(kr_status st, const struct kr_error *err)
{
	if (st != KR_ERR_MALFORMED && st != KR_ERR_INVALID && st != KR_ERR_TOO_BIG)
		fuzz_fail("the decoder refused with %s: %s", kr_status_name(st), err->msg);
	if (err->code != st || !err->msg[0] || !memchr(err->msg, 0, sizeof err->msg))
		fuzz_fail("the decoder refused with %s but the error says %s \"%.*s\"", kr_status_name(st),
		          kr_status_name(err->code), (int)sizeof err->msg, err->msg);
}

/* Encodes cs (from its structs, or from its changes' received bytes), decodes that and compares. */
static void round_trip(const struct kr_changeset *cs, bool raw, struct kr_buf *out)
{
	struct kr_changeset again;
	struct kr_error err = {0};
	const char *what = raw ? "kr_changeset_encode_raw" : "kr_changeset_encode";
	kr_status st;

	out->len = 0;
	if (raw) {
		const uint8_t *first = cs->nchanges ? cs->changes[0].raw : NULL;
		size_t len = 0;
		if (cs->nchanges) {
			const struct kr_change *last = &cs->changes[cs->nchanges - 1];
			len = (size_t)(last->raw + last->raw_len - first);
		}
		st = kr_changeset_encode_raw(cs, first, len, cs->nchanges, out, &err);
	} else {
		st = kr_changeset_encode(cs, out, &err);
	}
	if (st)
		fuzz_fail("%s refused a decoded change-set: %s", what, err.msg);
	st = kr_changeset_decode(out->data, out->len, NULL, &again, &err);
	if (st)
		fuzz_fail("%s wrote %zu bytes the decoder refuses: %s", what, out->len, err.msg);
	check_equal(what, cs, &again);
	kr_changeset_release(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kr_changeset cs;
	struct kr_error err = {0};
	struct kr_buf enc, enc2, raw;
	kr_status small_st, st;

	small_st = kr_changeset_decode(data, size, &small_limits, &cs, &err);
	if (small_st)
		check_refusal(small_st, &err);
	kr_changeset_release(&cs);

	st = kr_changeset_decode(data, size, NULL, &cs, &err);
	if (st) {
		check_refusal(st, &err);
		if (small_st == KR_OK)
			fuzz_fail("accepted under small limits, refused under the default ones: %s", err.msg);
		kr_changeset_release(&cs);
		return 0;
	}

	kr_buf_init(&enc, 0);
	kr_buf_init(&enc2, 0);
	kr_buf_init(&raw, 0);
	round_trip(&cs, false, &enc);
	round_trip(&cs, true, &raw);
	/* The encoding is canonical: what the encoder wrote, decoded and encoded again, is the same bytes. */
	{
		struct kr_changeset again;
		if (kr_changeset_decode(enc.data, enc.len, NULL, &again, &err) ||
		    kr_changeset_encode(&again, &enc2, &err))
			fuzz_fail("re-encoding: %s", err.msg);
		if (enc.len != enc2.len || memcmp(enc.data, enc2.data, enc.len) != 0)
			fuzz_fail("the encoding is not stable: %zu bytes, then %zu", enc.len, enc2.len);
		kr_changeset_release(&again);
	}
	/* Each change alone, as an agent writes it to its outbox. */
	for (size_t i = 0; i < cs.nchanges; i++) {
		raw.len = 0;
		if (kr_change_encode(&cs.changes[i], &raw, &err))
			fuzz_fail("kr_change_encode refused decoded change %zu: %s", i + 1, err.msg);
	}
	kr_buf_release(&enc);
	kr_buf_release(&enc2);
	kr_buf_release(&raw);
	kr_changeset_release(&cs);
	return 0;
}

#ifdef KR_LIBFUZZER
/* A quarter of the mutations are structure-aware (fuzz_mutate_changeset), the rest libFuzzer's own on bytes:
 * the decoder is the target here, and byte mutations are cheaper. */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	size_t n = (seed & 3) == 0 ? fuzz_mutate_changeset(data, size, max_size, seed >> 2) : 0;
	return n ? n : LLVMFuzzerMutate(data, size, max_size);
}
#endif
