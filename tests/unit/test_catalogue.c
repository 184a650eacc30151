/* test_catalogue.c: unit tests of the catalogue: the built-in kinds, value parsing and checking, bad catalogues. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embedded.h"
#include "kiroku/buf.h"
#include "kiroku/catalogue.h"

#define assert_contains(haystack, needle)                                                                              \
	do {                                                                                                           \
		if (!strstr((haystack), (needle)))                                                                     \
			fail_msg("\"%s\" does not contain \"%s\"", (haystack), (needle));                              \
	} while (0)

static int setup_default(void **state)
{
	struct kr_catalogue *cat = NULL;
	struct kr_error err = {0};

	if (kr_catalogue_default(&cat, &err) != KR_OK) {
		print_error("%s\n", err.msg);
		return -1;
	}
	*state = cat;
	return 0;
}

static int teardown_default(void **state)
{
	kr_catalogue_free(*state);
	return 0;
}

static const struct kr_field_def *field(void **state, const char *kind, const char *name)
{
	const struct kr_kind_def *k = kr_catalogue_kind(*state, kind);
	const struct kr_field_def *f;

	assert_non_null(k);
	f = kr_catalogue_field(k, name);
	if (!f)
		fail_msg("no field %s.%s", kind, name);
	return f;
}

/* Parses text with the field; expects success and returns the value. */
static struct kr_value parse_ok(const struct kr_field_def *f, const char *text)
{
	struct kr_value v = {0};
	struct kr_error err = {0};

	if (kr_catalogue_parse_value(f, text, &v, &err) != KR_OK)
		fail_msg("%s = \"%s\" refused: %s", f->name, text, err.msg);
	return v;
}

/* Parses text with the field; expects KR_ERR_INVALID with a message containing want. */
static void parse_bad(const struct kr_field_def *f, const char *text, const char *want)
{
	struct kr_value v = {.type = KR_VAL_INT, .i = 77};
	struct kr_error err = {0};

	if (kr_catalogue_parse_value(f, text, &v, &err) != KR_ERR_INVALID)
		fail_msg("%s = \"%s\" accepted", f->name, text);
	assert_contains(err.msg, want);
	/* On error the output is untouched. */
	assert_int_equal(v.type, KR_VAL_INT);
	assert_int_equal(v.i, 77);
}

/* ---- The built-in catalogue ---- */

struct want_field {
	const char *name;
	enum kr_field_type type;
	bool required, personal, operator_only;
};

static void check_fields(void **state, const char *kind, const struct want_field *want, size_t n)
{
	const struct kr_kind_def *k = kr_catalogue_kind(*state, kind);

	assert_non_null(k);
	assert_int_equal(k->nfields, n);
	for (size_t i = 0; i < n; i++) {
		const struct kr_field_def *f = &k->fields[i];
		/* In the order of the file. */
		assert_string_equal(f->name, want[i].name);
		assert_ptr_equal(kr_catalogue_field(k, want[i].name), f);
		if (f->type != want[i].type)
			fail_msg("%s.%s is %s", kind, f->name, kr_field_type_name(f->type));
		if (f->required != want[i].required || f->personal != want[i].personal ||
		    f->operator_only != want[i].operator_only)
			fail_msg("%s.%s has the wrong flags", kind, f->name);
		if (!f->label_ja || !f->label_en)
			fail_msg("%s.%s lacks a label", kind, f->name);
		if (f->type == KR_FT_TEXT)
			assert_true(f->max_len > 0);
		if (f->type == KR_FT_ENUM)
			assert_true(f->nvalues > 0);
		else
			assert_int_equal(f->nvalues, 0);
	}
}

static void test_default_incident(void **state)
{
	static const struct want_field want[] = {
	    {"occurred_at", KR_FT_DATETIME, true, false, false},
	    {"discovered_at", KR_FT_DATETIME, false, false, false},
	    {"reported_at", KR_FT_DATETIME, false, false, false},
	    {"category", KR_FT_ENUM, true, false, false},
	    {"media", KR_FT_ENUM, false, false, false},
	    {"personal_info", KR_FT_BOOLEAN, false, false, false},
	    {"my_number", KR_FT_BOOLEAN, false, false, false},
	    {"persons_affected", KR_FT_COUNT, false, false, false},
	    {"affected_names", KR_FT_TEXT, false, true, false},
	    {"description", KR_FT_TEXT, true, false, false},
	    {"containment", KR_FT_TEXT, false, false, false},
	    {"recurrence_prevention", KR_FT_TEXT, false, false, false},
	    {"asset_use_restricted", KR_FT_BOOLEAN, false, false, false},
	    {"reporter_name", KR_FT_TEXT, false, true, false},
	    {"reporter_contact", KR_FT_TEXT, false, true, false},
	    {"status", KR_FT_ENUM, false, false, true},
	    {"severity", KR_FT_ENUM, false, false, true},
	    {"ppc_report_required", KR_FT_BOOLEAN, false, false, true},
	    {"ppc_preliminary_due", KR_FT_DATE, false, false, true},
	    {"ppc_final_due", KR_FT_DATE, false, false, true},
	    {"ppc_preliminary_sent", KR_FT_DATE, false, false, true},
	    {"ppc_final_sent", KR_FT_DATE, false, false, true},
	    {"unauthorised_purpose", KR_FT_BOOLEAN, false, false, false},
	    {"closed_at", KR_FT_DATE, false, false, true},
	    {"reopen_count", KR_FT_COUNT, false, false, true},
	    {"reopened_at", KR_FT_DATE, false, false, true},
	    {"status_history", KR_FT_TEXT, false, false, true},
	    {"review_state", KR_FT_ENUM, false, false, true},
	    {"review_comment", KR_FT_TEXT, false, false, true},
	};
	static const char *const categories[] = {"漏えい",       "紛失",         "誤送付・誤送信",
	                                         "誤掲載",       "不正アクセス", "マルウェア",
	                                         "破壊・改ざん", "ポリシー違反", "その他"};
	static const char *const statuses[] = {"reported", "triaged", "contained", "closed"};
	static const char *const severities[] = {"low", "medium", "high", "critical"};
	const struct kr_catalogue *cat = *state;
	const struct kr_kind_def *k = kr_catalogue_kind(cat, "incident");
	const struct kr_field_def *f;

	assert_true(cat->version >= 2);
	assert_non_null(k);
	assert_false(k->append_only);
	assert_string_equal(kr_kind_label(k, "ja"), "セキュリティ事故等");
	assert_string_equal(kr_kind_label(k, "en"), "Security incident");
	check_fields(state, "incident", want, sizeof want / sizeof want[0]);

	f = field(state, "incident", "category");
	assert_int_equal(f->nvalues, 9);
	for (size_t i = 0; i < 9; i++) {
		assert_string_equal(f->values[i], categories[i]);
		/* Japanese values are their own Japanese label. */
		assert_string_equal(f->values_ja[i], categories[i]);
		assert_non_null(f->values_en[i]);
		assert_non_null(f->value_aliases[i]);
	}
	assert_string_equal(f->values_en[0], "Leak");

	f = field(state, "incident", "media");
	assert_int_equal(f->nvalues, 6);
	assert_string_equal(f->values[1], "USBメモリ等");

	f = field(state, "incident", "status");
	assert_int_equal(f->nvalues, 4);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(f->values[i], statuses[i]);
	assert_string_equal(kr_field_value_label(f, "reported", "ja"), "報告済み");
	assert_string_equal(kr_field_value_label(f, "closed", "en"), "Closed");
	assert_string_equal(kr_field_value_label(f, "bogus", "ja"), "bogus");

	f = field(state, "incident", "severity");
	assert_int_equal(f->nvalues, 4);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(f->values[i], severities[i]);

	assert_int_equal(field(state, "incident", "description")->max_len, 8000);
}

static void test_default_pi_handling(void **state)
{
	static const struct want_field want[] = {
	    {"action", KR_FT_ENUM, true, false, false},           {"medium", KR_FT_TEXT, true, false, false},
	    {"pi_file", KR_FT_TEXT, false, false, false},         {"handled_by", KR_FT_TEXT, true, true, false},
	    {"handled_at", KR_FT_DATETIME, true, false, false},   {"approved_by", KR_FT_TEXT, false, true, false},
	    {"destination", KR_FT_TEXT, false, false, false},     {"persons_count", KR_FT_COUNT, false, false, false},
	    {"returned_at", KR_FT_DATETIME, false, false, false}, {"note", KR_FT_TEXT, false, false, false},
	    {"review_state", KR_FT_ENUM, false, false, true},     {"review_comment", KR_FT_TEXT, false, false, true},
	};
	static const char *const actions[] = {"複製", "送信", "持出し", "返却", "廃棄"};
	const struct kr_kind_def *k = kr_catalogue_kind(*state, "pi_handling");
	const struct kr_field_def *f;

	assert_non_null(k);
	assert_true(k->append_only);
	check_fields(state, "pi_handling", want, sizeof want / sizeof want[0]);
	f = field(state, "pi_handling", "action");
	assert_int_equal(f->nvalues, 5);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(f->values[i], actions[i]);
	/* The default text limit. */
	assert_int_equal(field(state, "pi_handling", "note")->max_len, 4096);
}

/* The eight kinds of DOMAIN.md, each ending with the operator's review fields. */
static void test_default_other_kinds(void **state)
{
	static const char *const kinds[] = {"incident", "pi_handling",   "pi_file", "self_inspection",
	                                    "training", "audit_finding", "risk",    "contractor_check"};
	static const char *const review[] = {"received", "has_issues", "approved", "rejected"};
	const struct kr_catalogue *cat = *state;
	const struct kr_field_def *f;
	struct kr_value v;
	struct kr_error err;

	assert_int_equal(cat->nkinds, 8);
	for (size_t i = 0; i < 8; i++) {
		const struct kr_kind_def *k = kr_catalogue_kind(cat, kinds[i]);
		assert_non_null(k);
		assert_string_equal(cat->kinds[i].name, kinds[i]);
		assert_true(k->nfields >= 4);
		f = &k->fields[k->nfields - 2];
		assert_string_equal(f->name, "review_state");
		assert_true(f->operator_only);
		assert_int_equal(f->nvalues, 4);
		for (size_t j = 0; j < 4; j++)
			assert_string_equal(f->values[j], review[j]);
		assert_string_equal(k->fields[k->nfields - 1].name, "review_comment");
		assert_true(k->fields[k->nfields - 1].operator_only);
		for (size_t j = 0; j < k->nfields; j++)
			if (!k->fields[j].label_ja || !k->fields[j].label_en)
				fail_msg("%s.%s lacks a label", k->name, k->fields[j].name);
	}
	/* "has-issues" as typed on the command line. */
	f = field(state, "incident", "review_state");
	assert_int_equal(kr_catalogue_parse_value(f, "has-issues", &v, &err), KR_OK);
	assert_string_equal(v.s, "has_issues");

	/* The self-inspection checklist: q01..q20, yes / no / n.a. */
	for (int q = 1; q <= 20; q++) {
		char name[8];
		snprintf(name, sizeof name, "q%02d", q);
		f = field(state, "self_inspection", name);
		assert_int_equal(f->type, KR_FT_ENUM);
		assert_int_equal(f->nvalues, 3);
	}
	assert_null(kr_catalogue_field(kr_catalogue_kind(cat, "self_inspection"), "q21"));
	f = field(state, "self_inspection", "q07");
	assert_int_equal(kr_catalogue_parse_value(f, "n.a.", &v, &err), KR_OK);
	assert_string_equal(v.s, "該当なし");
	assert_int_equal(kr_catalogue_parse_value(f, "YES", &v, &err), KR_OK);
	assert_string_equal(v.s, "はい");
	assert_int_equal(field(state, "self_inspection", "score")->type, KR_FT_COUNT);

	/* Personal fields: the people, not the organisations. */
	assert_true(field(state, "training", "attendee")->personal);
	assert_true(field(state, "risk", "owner")->personal);
	assert_true(field(state, "contractor_check", "checked_by")->personal);
	assert_false(field(state, "contractor_check", "contractor")->personal);
	assert_true(field(state, "incident", "affected_names")->personal);
	/* Each kind's date for period filters is its first date field. */
	assert_string_equal(kr_catalogue_kind(cat, "training")->fields[1].name, "held_on");
	assert_int_equal(field(state, "contractor_check", "subcontracting")->nvalues, 3);
	assert_int_equal(kr_catalogue_parse_value(field(state, "training", "course"), "workplace", &v, &err), KR_OK);
	assert_string_equal(v.s, "職場教育");
	assert_int_equal(kr_catalogue_parse_value(field(state, "audit_finding", "status"), "in-progress", &v, &err),
	                 KR_OK);
	assert_string_equal(v.s, "in_progress");
}

static void test_lookups_and_labels(void **state)
{
	const struct kr_kind_def *k = kr_catalogue_kind(*state, "incident");
	struct kr_field_def bare = {.name = "x"}, ja_only = {.name = "y", .label_ja = "ワイ"};

	assert_null(kr_catalogue_kind(*state, "no_such_kind"));
	assert_null(kr_catalogue_kind(*state, NULL));
	assert_null(kr_catalogue_field(k, "no_such_field"));
	assert_string_equal(kr_field_label(field(state, "incident", "recurrence_prevention"), "ja"), "再発防止策");
	assert_string_equal(kr_field_label(field(state, "incident", "recurrence_prevention"), "en"),
	                    "Recurrence prevention");
	/* Falls back to the other language, then to the name. */
	assert_string_equal(kr_field_label(&ja_only, "en"), "ワイ");
	assert_string_equal(kr_field_label(&bare, "ja"), "x");
	assert_string_equal(kr_field_type_name(KR_FT_DATETIME), "datetime");
	kr_catalogue_free(NULL);
}

/* The embedded bytes are the file. */
static void test_embedded_is_the_file(void **state)
{
	(void)state;
	assert_int_equal(strlen(kr_embedded_catalogue), kr_embedded_catalogue_len);
	assert_non_null(strstr(kr_embedded_catalogue, "[kind incident]"));
}

/* ---- Values typed by people ---- */

static void test_text(void **state)
{
	const struct kr_field_def *d = field(state, "incident", "description");
	const struct kr_field_def *name = field(state, "incident", "reporter_name");
	char *big = malloc(9001);
	struct kr_value v;

	v = parse_ok(d, "USBメモリを紛失した。\n\t詳細は別紙。");
	assert_int_equal(v.type, KR_VAL_TEXT);
	assert_string_equal(v.s, "USBメモリを紛失した。\n\t詳細は別紙。");
	assert_int_equal(v.len, strlen(v.s));

	assert_non_null(big);
	memset(big, 'a', 9000);
	big[9000] = 0;
	parse_bad(d, big, "description: 9000 bytes is longer than the limit of 8000");
	big[8000] = 0;
	v = parse_ok(d, big);
	assert_int_equal(v.len, 8000);
	free(big);

	parse_bad(d, "bad \xff byte", "not valid UTF-8 (at byte 5)");
	parse_bad(d, "overlong \xc0\xaf", "not valid UTF-8");
	parse_bad(d, "surrogate \xed\xa0\x80", "not valid UTF-8");
	parse_bad(d, "cut \xe6\xbc", "not valid UTF-8");
	parse_bad(d, "bell \a", "control character (byte 6)");
	parse_bad(d, "line\r\nend", "control character");
	parse_bad(d, "esc \x1b[31m", "control character");
	parse_bad(d, "c1 \xc2\x85", "control character");
	{
		char names[67 * 3 + 1] = "";
		for (int i = 0; i < 67; i++)
			memcpy(names + 3 * i, "名", 4);
		parse_bad(name, names, "reporter_name: 201 bytes is longer than the limit of 200");
		memcpy(names + 198, "ab", 3); /* 66 characters of 3 bytes and 2 of 1: exactly the limit */
		assert_int_equal(parse_ok(name, names).len, 200);
	}
}

static void test_empty_clears(void **state)
{
	struct kr_value v = {.type = KR_VAL_INT};
	struct kr_error err = {0};

	assert_int_equal(kr_catalogue_parse_value(field(state, "incident", "containment"), "", &v, &err), KR_OK);
	assert_int_equal(v.type, KR_VAL_NULL);
	parse_bad(field(state, "incident", "description"), "", "description: a value is required");
	parse_bad(field(state, "incident", "category"), "", "category: a value is required");
}

static void test_count(void **state)
{
	const struct kr_field_def *f = field(state, "incident", "persons_affected");
	struct kr_value v;

	v = parse_ok(f, "0");
	assert_int_equal(v.type, KR_VAL_INT);
	assert_int_equal(v.i, 0);
	assert_null(v.s);
	v = parse_ok(f, "1234");
	assert_int_equal(v.i, 1234);
	v = parse_ok(f, "9223372036854775807");
	assert_true(v.i == INT64_MAX);
	parse_bad(f, "-3", "persons_affected: \"-3\" is not a count (a whole number, 0 or more)");
	parse_bad(f, "+3", "is not a count");
	parse_bad(f, "3.5", "is not a count");
	parse_bad(f, " 3", "is not a count");
	parse_bad(f, "3 ", "is not a count");
	parse_bad(f, "three", "is not a count");
	parse_bad(f, "9223372036854775808", "is too large for a count");
}

static void test_boolean(void **state)
{
	static const char *const yes[] = {"yes", "YES", "true", "True", "1", "はい"};
	static const char *const no[] = {"no", "No", "false", "FALSE", "0", "いいえ"};
	const struct kr_field_def *f = field(state, "incident", "my_number");
	struct kr_value v;

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		v = parse_ok(f, yes[i]);
		assert_int_equal(v.type, KR_VAL_BOOL);
		assert_int_equal(v.i, 1);
	}
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		v = parse_ok(f, no[i]);
		assert_int_equal(v.type, KR_VAL_BOOL);
		assert_int_equal(v.i, 0);
	}
	parse_bad(f, "maybe", "my_number: \"maybe\" is not yes or no");
	parse_bad(f, "2", "is not yes or no");
	parse_bad(f, "y", "is not yes or no");
}

static void test_date(void **state)
{
	static const char *const good[] = {"2026-04-01", "2024-02-29", "2000-02-29", "2026-12-31",
	                                   "2026-01-31", "2026-04-30", "0001-01-01"};
	static const char *const bad[] = {"2026-02-30",     "2026-13-01",      "2023-02-29", "1900-02-29",
	                                  "2026-04-31",     "2026-00-10",      "2026-01-00", "2026-4-1",
	                                  "2026/04/01",     "2026-04-01x",     "26-04-01",   "0000-01-01",
	                                  "２０２６-04-01", "2026-04-01T10:00"};
	const struct kr_field_def *f = field(state, "incident", "ppc_final_due");
	struct kr_value v;

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		v = parse_ok(f, good[i]);
		assert_int_equal(v.type, KR_VAL_TEXT);
		assert_ptr_equal(v.s, good[i]); /* points into the text */
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		parse_bad(f, bad[i], "is not a date (YYYY-MM-DD)");
	parse_bad(f, "2026-02-30", "ppc_final_due: \"2026-02-30\" is not a date (YYYY-MM-DD)");
}

static void test_datetime(void **state)
{
	static const char *const good[] = {"2026-04-01T10:00", "2026-04-01T00:00:00", "2024-02-29T23:59:59"};
	static const char *const bad[] = {
	    "2026-04-01",        "2026-04-01T24:00", "2026-04-01T10:60", "2026-04-01T10:00:60", "2026-04-01T1:00",
	    "2026-04-01T10:00Z", "2026-04-01t10:00", "2023-02-29T10:00", "2026-04-01T10:00:0",  "2026-04-01 10:00"};
	const struct kr_field_def *f = field(state, "incident", "occurred_at");
	struct kr_value v;

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		v = parse_ok(f, good[i]);
		assert_string_equal(v.s, good[i]);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		parse_bad(f, bad[i], "is not a date and time (YYYY-MM-DDThh:mm)");
	parse_bad(f, "2026-13-01T10:00", "occurred_at: \"2026-13-01T10:00\" is not a date and time (YYYY-MM-DDThh:mm)");
}

/* With an arena a space may stand for the T; the value is a normalised copy. */
static void test_parse_value_arena(void **state)
{
	const struct kr_field_def *dt = field(state, "incident", "occurred_at");
	const struct kr_field_def *media = field(state, "incident", "media");
	const struct kr_field_def *d = field(state, "incident", "description");
	struct kr_arena arena;
	struct kr_error err = {0};
	struct kr_value v;
	char text[] = "2026-04-01 10:00:30";

	kr_arena_init(&arena, 0);
	assert_int_equal(kr_catalogue_parse_value_arena(dt, text, &arena, &v, &err), KR_OK);
	assert_string_equal(v.s, "2026-04-01T10:00:30");
	assert_int_equal(v.len, 19);
	assert_string_equal(text, "2026-04-01 10:00:30"); /* the input is left alone */
	assert_int_equal(kr_catalogue_parse_value_arena(dt, "2026-04-01T10:00", &arena, &v, &err), KR_OK);
	assert_string_equal(v.s, "2026-04-01T10:00");
	assert_int_equal(kr_catalogue_parse_value_arena(dt, "2026-04-01  10:00", &arena, &v, &err), KR_ERR_INVALID);
	assert_contains(err.msg, "is not a date and time");
	assert_int_equal(kr_catalogue_parse_value_arena(dt, "2026-02-30 10:00", &arena, &v, &err), KR_ERR_INVALID);

	assert_int_equal(kr_catalogue_parse_value_arena(media, "usb", &arena, &v, &err), KR_OK);
	assert_string_equal(v.s, "USBメモリ等");
	assert_ptr_not_equal(v.s, media->values[1]); /* a copy */

	{
		char typed[] = "kept";
		assert_int_equal(kr_catalogue_parse_value_arena(d, typed, &arena, &v, &err), KR_OK);
		typed[0] = 'X';
		assert_string_equal(v.s, "kept");
	}
	/* A full arena: out of memory, not a crash. */
	{
		struct kr_arena tiny;
		kr_arena_init(&tiny, 1);
		v.type = KR_VAL_INT;
		assert_int_equal(kr_catalogue_parse_value_arena(d, "text", &tiny, &v, &err), KR_ERR_NOMEM);
		assert_int_equal(v.type, KR_VAL_INT);
		kr_arena_release(&tiny);
	}
	kr_arena_release(&arena);
}

static void test_enum_and_aliases(void **state)
{
	const struct kr_field_def *cat = field(state, "incident", "category");
	const struct kr_field_def *media = field(state, "incident", "media");
	const struct kr_field_def *status = field(state, "incident", "status");
	const struct kr_field_def *action = field(state, "pi_handling", "action");
	struct kr_value v;

	v = parse_ok(cat, "漏えい");
	assert_int_equal(v.type, KR_VAL_TEXT);
	assert_ptr_equal(v.s, cat->values[0]);
	assert_int_equal(v.len, strlen("漏えい"));
	assert_string_equal(parse_ok(cat, "leak").s, "漏えい");
	assert_string_equal(parse_ok(cat, "LEAK").s, "漏えい");
	assert_string_equal(parse_ok(cat, "Mis-delivery").s, "誤送付・誤送信");
	assert_string_equal(parse_ok(cat, "unauthorized_access").s, "不正アクセス");
	assert_string_equal(parse_ok(cat, "other").s, "その他");

	assert_string_equal(parse_ok(media, "USB").s, "USBメモリ等");
	assert_string_equal(parse_ok(media, "usb").s, "USBメモリ等");
	assert_string_equal(parse_ok(media, "Usb").s, "USBメモリ等");
	assert_string_equal(parse_ok(media, "e-mail").s, "電子メール");
	assert_string_equal(parse_ok(media, "紙").s, "紙");

	assert_string_equal(parse_ok(status, "triaged").s, "triaged");
	assert_string_equal(parse_ok(status, "Closed").s, "closed");
	assert_string_equal(parse_ok(status, "報告済み").s, "reported");

	assert_string_equal(parse_ok(action, "take_out").s, "持出し");
	assert_string_equal(parse_ok(action, "Take out").s, "持出し");

	parse_bad(cat, "lost",
	          "category: \"lost\" is not one of 漏えい, 紛失, 誤送付・誤送信, 誤掲載, 不正アクセス, マルウェア, "
	          "破壊・改ざん, ポリシー違反, その他");
	parse_bad(cat, "漏えい ", "is not one of");
	parse_bad(media, "usbx", "media: \"usbx\" is not one of 紙, USBメモリ等, 電子メール");
	parse_bad(status, "open", "status: \"open\" is not one of reported, triaged, contained, closed");
}

/* A catalogue with an integer field, which the built-in one does not have. */
static void test_integer(void **state)
{
	static const char text[] = "[catalogue]\nversion = 3\n[kind k]\n[field k.n]\ntype = integer\n";
	struct kr_catalogue *cat = NULL;
	struct kr_error err = {0};
	const struct kr_field_def *f;
	struct kr_value v;

	(void)state;
	assert_int_equal(kr_catalogue_parse(text, strlen(text), &cat, &err), KR_OK);
	assert_int_equal(cat->version, 3);
	f = kr_catalogue_field(kr_catalogue_kind(cat, "k"), "n");
	assert_non_null(f);
	v = parse_ok(f, "-42");
	assert_int_equal(v.type, KR_VAL_INT);
	assert_int_equal(v.i, -42);
	assert_int_equal(parse_ok(f, "+7").i, 7);
	assert_true(parse_ok(f, "-9223372036854775808").i == INT64_MIN);
	parse_bad(f, "9223372036854775808", "n: \"9223372036854775808\" is out of range");
	parse_bad(f, "-9223372036854775809", "is out of range");
	parse_bad(f, "12abc", "n: \"12abc\" is not a whole number");
	parse_bad(f, "-", "is not a whole number");
	parse_bad(f, "0x10", "is not a whole number");
	parse_bad(f, "1e3", "is not a whole number");
	kr_catalogue_free(cat);
}

/* ---- Values from the wire ---- */

static void check_bad(const struct kr_field_def *f, struct kr_value v, const char *want)
{
	struct kr_error err = {0};

	if (kr_catalogue_check_value(f, &v, &err) != KR_ERR_INVALID)
		fail_msg("%s: value accepted", f->name);
	assert_contains(err.msg, want);
}

static void check_good(const struct kr_field_def *f, struct kr_value v)
{
	struct kr_error err = {0};

	if (kr_catalogue_check_value(f, &v, &err) != KR_OK)
		fail_msg("%s: refused: %s", f->name, err.msg);
}

#define TEXT(str) ((struct kr_value){.type = KR_VAL_TEXT, .s = (str), .len = sizeof(str) - 1})

static void test_check_value(void **state)
{
	const struct kr_field_def *occurred = field(state, "incident", "occurred_at");
	const struct kr_field_def *due = field(state, "incident", "ppc_final_due");
	const struct kr_field_def *cat = field(state, "incident", "category");
	const struct kr_field_def *media = field(state, "incident", "media");
	const struct kr_field_def *count = field(state, "incident", "persons_affected");
	const struct kr_field_def *flag = field(state, "incident", "personal_info");
	const struct kr_field_def *desc = field(state, "incident", "description");
	const struct kr_field_def *note = field(state, "pi_handling", "note");
	const struct kr_value null = {.type = KR_VAL_NULL};
	struct kr_error err = {0};

	check_good(occurred, TEXT("2026-04-01T10:00"));
	check_good(occurred, TEXT("2026-04-01T10:00:59"));
	check_bad(occurred, TEXT("2026-04-01 10:00"), "is not a date and time");
	check_bad(occurred, TEXT("2026-02-29T10:00"), "occurred_at: \"2026-02-29T10:00\" is not a date and time");
	check_bad(occurred, (struct kr_value){.type = KR_VAL_INT, .i = 5}, "occurred_at: expected a date and time");
	check_bad(occurred, null, "occurred_at: a value is required");
	assert_int_equal(kr_catalogue_check_value(occurred, NULL, &err), KR_ERR_INVALID);

	check_good(due, TEXT("2028-02-29"));
	check_bad(due, TEXT("2027-02-29"), "is not a date");
	check_good(due, null);

	check_good(cat, TEXT("紛失"));
	check_bad(cat, TEXT("loss"), "category: \"loss\" is not one of 漏えい, 紛失");
	check_bad(media, TEXT("usb"), "is not one of");
	check_bad(cat, (struct kr_value){.type = KR_VAL_BOOL, .i = 1},
	          "expected one of the listed values, got a boolean");
	check_bad(cat, (struct kr_value){.type = KR_VAL_TEXT, .s = "紛失\0x", .len = 8}, "NUL byte");
	check_bad(cat, (struct kr_value){.type = KR_VAL_TEXT, .s = NULL, .len = 0}, "text without a string");

	check_good(count, (struct kr_value){.type = KR_VAL_INT, .i = 0});
	check_good(count, (struct kr_value){.type = KR_VAL_INT, .i = 100000});
	check_bad(count, (struct kr_value){.type = KR_VAL_INT, .i = -3}, "persons_affected: -3 is not a count");
	check_bad(count, TEXT("3"), "expected a count");

	check_good(flag, (struct kr_value){.type = KR_VAL_BOOL, .i = 1});
	check_good(flag, (struct kr_value){.type = KR_VAL_BOOL, .i = 0});
	check_bad(flag, (struct kr_value){.type = KR_VAL_BOOL, .i = 2}, "must be 0 or 1");
	check_bad(flag, (struct kr_value){.type = KR_VAL_INT, .i = 1},
	          "personal_info: expected yes or no, got an integer");

	check_good(desc, TEXT("内容\n詳細"));
	check_bad(desc, TEXT(""), "an empty text must be sent as null");
	check_bad(desc, TEXT("a\x01"), "control character");
	check_bad(desc, TEXT("a\xfe"), "not valid UTF-8");
	{
		static char big[5000];
		memset(big, 'x', sizeof big - 1);
		check_bad(note, (struct kr_value){.type = KR_VAL_TEXT, .s = big, .len = sizeof big - 1},
		          "note: 4999 bytes is longer than the limit of 4096");
	}
}

static void test_check_required(void **state)
{
	const struct kr_kind_def *incident = kr_catalogue_kind(*state, "incident");
	const struct kr_kind_def *ledger = kr_catalogue_kind(*state, "pi_handling");
	static const char *const all[] = {"description", "media", "occurred_at", "category"};
	static const char *const some[] = {"media", "category"};
	static const char *const one_short[] = {"action", "medium", "handled_at"};
	struct kr_error err = {0};

	assert_int_equal(kr_catalogue_check_required(incident, all, 4, &err), KR_OK);
	assert_int_equal(kr_catalogue_check_required(incident, some, 2, &err), KR_ERR_INVALID);
	assert_string_equal(err.msg, "incident: required fields missing: occurred_at, description");
	assert_int_equal(kr_catalogue_check_required(incident, NULL, 0, &err), KR_ERR_INVALID);
	assert_contains(err.msg, "occurred_at, category, description");
	assert_int_equal(kr_catalogue_check_required(ledger, one_short, 3, &err), KR_ERR_INVALID);
	assert_string_equal(err.msg, "pi_handling: required field missing: handled_by");
}

/* ---- Catalogue texts ---- */

static void test_format_details(void **state)
{
	/* BOM, CRLF, indentation, comments (whole-line and inline), ':' as separator, 64-byte names (longer
	 * than inih's 49-byte section buffer), an alias list, and kinds in file order. */
	static const char text[] = "\xef\xbb\xbf# comment\r\n"
	                           "; another\r\n"
	                           "[catalogue]   ; the version\r\n"
	                           "  version = 12\r\n"
	                           "[kind a_kind_name_of_sixty_four_bytes_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n"
	                           "label_ja = 種類 ; inline comment\n"
	                           "[field a_kind_name_of_sixty_four_bytes_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	                           "a_field_name_of_sixty_four_bytes_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb]\n"
	                           "\ttype: enum\n"
	                           "value = ok | 良 | Fine | good | alright\n"
	                           "value = ng | 不良 | Not fine\n"
	                           "[kind second]\n"
	                           "append_only = true\n"
	                           "[field second.t]\n"
	                           "type = text\n"
	                           "max_len = 3\n";
	struct kr_catalogue *cat = NULL;
	struct kr_error err = {0};
	const struct kr_kind_def *k;
	const struct kr_field_def *f;

	(void)state;
	if (kr_catalogue_parse(text, strlen(text), &cat, &err) != KR_OK)
		fail_msg("%s", err.msg);
	assert_int_equal(cat->version, 12);
	assert_int_equal(cat->nkinds, 2);
	k = &cat->kinds[0];
	assert_int_equal(strlen(k->name), 64);
	assert_string_equal(k->label_ja, "種類");
	assert_null(k->label_en);
	assert_string_equal(kr_kind_label(k, "en"), "種類");
	f = kr_catalogue_field(k, "a_field_name_of_sixty_four_bytes_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	assert_non_null(f);
	assert_int_equal(f->nvalues, 2);
	assert_string_equal(f->value_aliases[0][0], "good");
	assert_string_equal(f->value_aliases[0][1], "alright");
	assert_null(f->value_aliases[0][2]);
	assert_null(f->value_aliases[1][0]);
	assert_string_equal(parse_ok(f, "ALRIGHT").s, "ok");
	assert_string_equal(parse_ok(f, "不良").s, "ng");
	assert_string_equal(parse_ok(f, "not fine").s, "ng");
	assert_string_equal(cat->kinds[1].name, "second");
	assert_true(cat->kinds[1].append_only);
	f = kr_catalogue_field(&cat->kinds[1], "t");
	assert_int_equal(f->max_len, 3);
	parse_ok(f, "abc");
	parse_bad(f, "abcd", "t: 4 bytes is longer than the limit of 3");
	kr_catalogue_free(cat);

	/* Not NUL-terminated: only len bytes are read. */
	{
		static const char cut[] = "[catalogue]\nversion = 1\n[kind k]\n[field k.f]\ntype = count\nGARBAGE";
		assert_int_equal(kr_catalogue_parse(cut, sizeof cut - 1 - 7, &cat, &err), KR_OK);
		kr_catalogue_free(cat);
	}
}

struct bad_catalogue {
	const char *text;
	const char *want;
};

#define HEAD "[catalogue]\nversion = 1\n[kind k]\n" /* lines 1 to 3 */

static void test_malformed(void **state)
{
	static const struct bad_catalogue cases[] = {
	    {HEAD "[field k.f]\ntype = txt\n", "catalogue line 5: unknown type \"txt\""},
	    {HEAD "[field k.f]\ntype = text\n[field k.f]\ntype = date\n",
	     "catalogue line 6: field \"k.f\" is defined twice (first on line 4)"},
	    {HEAD "[field k.f]\ntype = enum\nlabel_ja = 区分\n", "catalogue line 4: enum field \"k.f\" has no values"},
	    {HEAD "[field k._deleted]\ntype = text\n",
	     "catalogue line 4: field name \"_deleted\" is reserved for the system"},
	    {"[catalogue]\nversion = 1\n[kind _system]\n", "catalogue line 3: kind name \"_system\" is reserved"},
	    {HEAD "[field k.f]\ntype = text\nlable_ja = x\n",
	     "catalogue line 6: unknown key \"lable_ja\" in [field k.f]"},
	    {HEAD "[field other.f]\ntype = text\n",
	     "catalogue line 4: field \"other.f\" belongs to kind \"other\", which is not defined above it"},
	    {HEAD "[field k.f]\ntype = text\n[kind k]\n",
	     "catalogue line 6: kind \"k\" is defined twice (first on line 3)"},
	    {HEAD "[field k.f]\ntype = enum\nvalue = a | あ | A\nvalue = b | い | B\nvalue = a | う | C\n",
	     "catalogue line 8: value \"a\" is listed twice (first on line 6)"},
	    {HEAD "[field k.f]\ntype = enum\nvalue = a | あ | A | x\nvalue = b | い | X\n",
	     "catalogue line 7: \"X\" already stands for the value \"a\" (line 6)"},
	    {HEAD "[field k.f]\ntype = enum\nvalue = a | A\n",
	     "catalogue line 6: value \"a | A\" needs at least three parts"},
	    {HEAD "[field k.f]\ntype = enum\nvalue = a |  | A\n", "catalogue line 6: a part of the value is empty"},
	    {HEAD "[field k.f]\ntype = enum\nvalue = Big | 大 | Big\n",
	     "catalogue line 6: stored value \"Big\" must be its Japanese label"},
	    {HEAD "[field k.f]\ntype = text\ntype = date\n",
	     "catalogue line 6: \"type\" is given twice in [field k.f]"},
	    {"[catalogue]\n[kind k]\n[field k.f]\ntype = text\n", "catalogue: no [catalogue] section with a version"},
	    {"[catalogue]\nversion = 0\n", "catalogue line 2: version \"0\" is not a whole number of 1 or more"},
	    {"[catalogue]\nversion = 1\n[catalogue]\n", "catalogue line 3: [catalogue] is given twice"},
	    {"[catalogue]\nversion = 1\n", "no [kind NAME] section"},
	    {HEAD "[kind j]\n[field j.f]\ntype = text\n", "catalogue line 3: kind \"k\" has no fields"},
	    {HEAD "[field k.f]\nrequired = yes\n", "catalogue line 4: field \"k.f\" has no type"},
	    {HEAD "[field k.f]\ntype = text\nvalue = a | あ | A\n",
	     "catalogue line 6: \"value\" is only for enum fields, and k.f is text"},
	    {HEAD "[field k.f]\ntype = date\nmax_len = 10\n", "catalogue line 6: max_len is only for text fields"},
	    {HEAD "[field k.f]\ntype = text\nmax_len = 0\n", "catalogue line 6: max_len \"0\" is not a number from 1"},
	    {HEAD "[field k.f]\ntype = text\nmax_len = 65537\n", "catalogue line 6: max_len \"65537\""},
	    {HEAD "[field k.f]\ntype = text\nrequired = maybe\n",
	     "catalogue line 6: expected yes or no, not \"maybe\""},
	    {HEAD "[field k.f]\ntype = text\nrequired = yes\noperator_only = yes\n",
	     "catalogue line 4: field \"k.f\" can't be both required and operator_only"},
	    {HEAD "[field k.Category]\ntype = text\n", "catalogue line 4: \"Category\" is not a valid field name"},
	    {HEAD "[field k.f-g]\ntype = text\n", "catalogue line 4: \"f-g\" is not a valid field name"},
	    {HEAD "[field k.]\ntype = text\n", "catalogue line 4: \"\" is not a valid field name"},
	    {HEAD "[field k]\ntype = text\n", "catalogue line 4: expected [field KIND.NAME], not [field k]"},
	    {HEAD "[field k.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\ntype = text\n",
	     "catalogue line 4: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" is not a valid "
	     "field name"},
	    {HEAD "[fields k.f]\n", "catalogue line 4: unknown section [fields k.f]"},
	    {HEAD "[kind]\n", "catalogue line 4: unknown section [kind]"},
	    {HEAD "[field k.f\ntype = text\n", "catalogue line 4: a section line must end with ]"},
	    {HEAD "[field k.f] junk\n", "catalogue line 4: unexpected text after ]: \"junk\""},
	    {"version = 1\n", "catalogue line 1: key \"version\" comes before any section"},
	    {HEAD "[field k.f]\ntype = text\njust some words\nlabel_ja = x\n",
	     "catalogue line 6: expected [section], key = value or a comment"},
	    {HEAD "[field k.f]\ntype = text\n  continued\n", "catalogue line 6: expected [section]"},
	    {HEAD "[field k.f]\ntype = text\nlabel_ja = bad \xff\n", "catalogue line 6: the label is not valid UTF-8"},
	    {HEAD "[field k.f]\ntype = text\nlabel_en =\n", "catalogue line 6: the label is empty"},
	    {HEAD "[field k.f]\ntype = text\nlabel_en = a\tb\n", "catalogue line 6: the label contains a control"},
	    {"[catalogue]\nversion = 1\n[kind k]\nlabel_ja = x\0y\n", "catalogue line 4: contains a NUL byte"},
	    {"", "catalogue: no [catalogue] section with a version"},
	};
	static struct kr_catalogue sentinel;
	struct kr_catalogue *cat;
	struct kr_error err;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		/* The NUL case needs its real length. */
		size_t len = strlen(cases[i].text);
		if (strstr(cases[i].want, "NUL"))
			len += strlen(cases[i].text + len + 1) + 1;
		cat = &sentinel; /* must stay untouched */
		memset(&err, 0, sizeof err);
		if (kr_catalogue_parse(cases[i].text, len, &cat, &err) == KR_OK)
			fail_msg("case %zu accepted", i);
		assert_int_equal(err.code, KR_ERR_INVALID);
		assert_ptr_equal(cat, &sentinel);
		if (!strstr(err.msg, cases[i].want))
			fail_msg("case %zu: \"%s\" does not contain \"%s\"", i, err.msg, cases[i].want);
	}
}

/* A line longer than inih's buffer is refused with its number, not cut; a long enumeration spread over
 * one value line per value is fine. */
static void test_long_lines(void **state)
{
	struct kr_buf b;
	struct kr_catalogue *cat = NULL;
	struct kr_error err = {0};
	const struct kr_field_def *f;

	(void)state;
	kr_buf_init(&b, 0);
	assert_int_equal(kr_buf_printf(&b, HEAD "[field k.f]\ntype = text\nlabel_ja = "), KR_OK);
	for (int i = 0; i < 70; i++)
		assert_int_equal(kr_buf_printf(&b, "長"), KR_OK);
	assert_int_equal(kr_buf_printf(&b, "\n"), KR_OK);
	assert_int_equal(kr_catalogue_parse((const char *)b.data, b.len, &cat, &err), KR_ERR_INVALID);
	assert_contains(err.msg, "catalogue line 6: the line is 221 bytes long, more than the limit of 198");
	kr_buf_release(&b);

	kr_buf_init(&b, 0);
	assert_int_equal(kr_buf_printf(&b, HEAD "[field k.f]\ntype = enum\n"), KR_OK);
	for (int i = 0; i < 300; i++)
		assert_int_equal(kr_buf_printf(&b, "value = v%d | 値%d | Value %d | alias_%d\n", i, i, i, i), KR_OK);
	if (kr_catalogue_parse((const char *)b.data, b.len, &cat, &err) != KR_OK)
		fail_msg("%s", err.msg);
	f = kr_catalogue_field(kr_catalogue_kind(cat, "k"), "f");
	assert_int_equal(f->nvalues, 300);
	assert_string_equal(f->values[299], "v299");
	assert_string_equal(parse_ok(f, "ALIAS_150").s, "v150");
	kr_catalogue_free(cat);
	kr_buf_release(&b);
}

static void test_too_big(void **state)
{
	size_t len = 1024 * 1024 + 1;
	char *big = malloc(len);
	struct kr_catalogue *cat = NULL;
	struct kr_error err = {0};

	(void)state;
	assert_non_null(big);
	memset(big, '\n', len);
	assert_int_equal(kr_catalogue_parse(big, len, &cat, &err), KR_ERR_TOO_BIG);
	assert_null(cat);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_incident),
	    cmocka_unit_test(test_default_pi_handling),
	    cmocka_unit_test(test_default_other_kinds),
	    cmocka_unit_test(test_lookups_and_labels),
	    cmocka_unit_test(test_embedded_is_the_file),
	    cmocka_unit_test(test_text),
	    cmocka_unit_test(test_empty_clears),
	    cmocka_unit_test(test_count),
	    cmocka_unit_test(test_boolean),
	    cmocka_unit_test(test_date),
	    cmocka_unit_test(test_datetime),
	    cmocka_unit_test(test_parse_value_arena),
	    cmocka_unit_test(test_enum_and_aliases),
	    cmocka_unit_test(test_integer),
	    cmocka_unit_test(test_check_value),
	    cmocka_unit_test(test_check_required),
	    cmocka_unit_test(test_format_details),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_long_lines),
	    cmocka_unit_test(test_too_big),
	};
	return cmocka_run_group_tests(tests, setup_default, teardown_default);
}
