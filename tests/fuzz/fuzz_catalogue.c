/* fuzz_catalogue.c: the catalogue parser (kr_catalogue_parse) on any bytes, and the value checks
 * (kr_catalogue_parse_value_arena, kr_catalogue_parse_value, kr_catalogue_check_value) of the built-in
 * catalogue's fields on fuzzed text: the first byte picks a field, the bytes after it (to a NUL) are the text.
 * A catalogue that parses must hold together: every lookup finds what it lists, and every spelling of an
 * enumeration value reads as that value. A value that parses must pass the check the wire applies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define ARENA_MAX (1u << 20)

static struct kr_catalogue *builtin;
static const struct kr_field_def *all_fields[1024];
static size_t nall;
static const struct kr_field_def *one_of_type[KR_FT_COUNT + 1];

static void setup(void)
{
	struct kr_error err = {0};

	if (builtin)
		return;
	if (kr_catalogue_default(&builtin, &err))
		fuzz_fail("the built-in catalogue: %s", err.msg);
	for (size_t k = 0; k < builtin->nkinds; k++)
		for (size_t i = 0; i < builtin->kinds[k].nfields && nall < sizeof all_fields / sizeof all_fields[0];
		     i++) {
			const struct kr_field_def *f = &builtin->kinds[k].fields[i];
			all_fields[nall++] = f;
			if ((unsigned)f->type <= KR_FT_COUNT && !one_of_type[f->type])
				one_of_type[f->type] = f;
		}
}

/* text through the input path and the wire check of field f. */
static void check_value_text(const struct kr_field_def *f, const char *text, const uint8_t *raw, size_t raw_len)
{
	struct kr_arena arena;
	struct kr_value v, plain, wire;
	struct kr_error err = {0};
	kr_status st, st_plain;

	kr_arena_init(&arena, ARENA_MAX);
	st = kr_catalogue_parse_value_arena(f, text, &arena, &v, &err);
	if (st && (st != KR_ERR_INVALID || err.code != st || !err.msg[0]))
		fuzz_fail("%s: parse_value_arena gave %s \"%s\"", f->name, kr_status_name(st), err.msg);
	if (!st && kr_catalogue_check_value(f, &v, &err))
		fuzz_fail("%s: \"%s\" parses but the wire check refuses it: %s", f->name, text, err.msg);
	st_plain = kr_catalogue_parse_value(f, text, &plain, &err);
	/* Without an arena only a date and time with a space for the T is refused more. */
	if (!st_plain && st)
		fuzz_fail("%s: \"%s\" parses without an arena but not with one", f->name, text);
	if (!st_plain && !kr_value_eq(&plain, &v))
		fuzz_fail("%s: \"%s\" parses to different values with and without an arena", f->name, text);
	if (st_plain && !st && f->type != KR_FT_DATETIME)
		fuzz_fail("%s: \"%s\" parses with an arena but not without one: %s", f->name, text, err.msg);
	if (!st_plain && kr_catalogue_check_value(f, &plain, &err))
		fuzz_fail("%s: \"%s\" parses but the wire check refuses it: %s", f->name, text, err.msg);

	/* The raw bytes as a text value from the wire (NULs and all), and as other types. */
	wire = (struct kr_value){.type = KR_VAL_TEXT, .s = (const char *)raw, .len = raw_len};
	if (kr_catalogue_check_value(f, &wire, &err) == KR_OK && raw_len && memchr(raw, 0, raw_len))
		fuzz_fail("%s: the wire check let a text with a NUL byte through", f->name);
	wire = (struct kr_value){.type = KR_VAL_INT, .i = raw_len ? (int64_t)raw[0] - 128 : 0};
	(void)kr_catalogue_check_value(f, &wire, &err);
	wire = (struct kr_value){.type = KR_VAL_BOOL, .i = raw_len ? raw[0] % 3 : 0};
	(void)kr_catalogue_check_value(f, &wire, &err);
	(void)kr_catalogue_check_value(f, NULL, &err);
	kr_arena_release(&arena);
}

/* Everything a parsed catalogue lists must be found again, and each spelling must name its own value. */
static void walk(const struct kr_catalogue *cat)
{
	struct kr_error err = {0};

	for (size_t k = 0; k < cat->nkinds; k++) {
		const struct kr_kind_def *kd = &cat->kinds[k];
		const char *names[256];
		size_t nnames = 0;

		if (kr_catalogue_kind(cat, kd->name) != kd)
			fuzz_fail("kind %s is not found by its name", kd->name);
		(void)strlen(kr_kind_label(kd, "ja"));
		(void)strlen(kr_kind_label(kd, "en"));
		for (size_t i = 0; i < kd->nfields; i++) {
			const struct kr_field_def *f = &kd->fields[i];

			if (kr_catalogue_field(kd, f->name) != f)
				fuzz_fail("field %s.%s is not found by its name", kd->name, f->name);
			(void)strlen(kr_field_label(f, "ja"));
			(void)strlen(kr_field_label(f, "en"));
			(void)strlen(kr_field_type_name(f->type));
			if (f->required && nnames < sizeof names / sizeof names[0])
				names[nnames++] = f->name;
			for (size_t v = 0; v < f->nvalues; v++) {
				const char *spell[3] = {f->values[v], f->values_ja ? f->values_ja[v] : NULL,
				                        f->values_en ? f->values_en[v] : NULL};
				struct kr_value out;

				(void)strlen(kr_field_value_label(f, f->values[v], "ja"));
				(void)strlen(kr_field_value_label(f, f->values[v], "en"));
				for (size_t s = 0; s < 3; s++) {
					if (!spell[s])
						continue;
					if (kr_catalogue_parse_value(f, spell[s], &out, &err))
						fuzz_fail("%s.%s: the spelling \"%s\" is refused: %s", kd->name,
						          f->name, spell[s], err.msg);
					if (out.type != KR_VAL_TEXT || strcmp(out.s, f->values[v]) != 0)
						fuzz_fail("%s.%s: \"%s\" does not read as \"%s\"", kd->name, f->name,
						          spell[s], f->values[v]);
				}
				for (const char *const *a = f->value_aliases ? f->value_aliases[v] : NULL; a && *a;
				     a++) {
					if (kr_catalogue_parse_value(f, *a, &out, &err) || out.type != KR_VAL_TEXT ||
					    strcmp(out.s, f->values[v]) != 0)
						fuzz_fail("%s.%s: the alias \"%s\" does not read as \"%s\"", kd->name,
						          f->name, *a, f->values[v]);
				}
			}
			check_value_text(f, "1", (const uint8_t *)"1", 1);
		}
		if (nnames < sizeof names / sizeof names[0] && kr_catalogue_check_required(kd, names, nnames, &err))
			fuzz_fail("%s: its own required fields are refused: %s", kd->name, err.msg);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kr_catalogue *cat = NULL;
	struct kr_error err = {0};
	kr_status st;
	char *text;
	size_t tlen;

	setup();
	st = kr_catalogue_parse((const char *)data, size, &cat, &err);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "catalogue: %s %s\n", kr_status_name(st), st ? err.msg : "");
	if (st == KR_OK) {
		walk(cat);
		kr_catalogue_free(cat);
	} else if ((st != KR_ERR_INVALID && st != KR_ERR_TOO_BIG) || err.code != st || !err.msg[0]) {
		fuzz_fail("kr_catalogue_parse gave %s \"%s\"", kr_status_name(st), err.msg);
	}

	if (size == 0)
		return 0;
	tlen = strnlen((const char *)data + 1, size - 1);
	text = malloc(tlen + 1);
	if (!text)
		return 0;
	memcpy(text, data + 1, tlen);
	text[tlen] = 0;
	check_value_text(all_fields[data[0] % nall], text, data + 1, size - 1);
	for (size_t t = 0; t <= KR_FT_COUNT; t++)
		if (one_of_type[t])
			check_value_text(one_of_type[t], text, data + 1, size - 1);
	free(text);
	return 0;
}
