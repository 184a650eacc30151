/* catalogue.h: the record kinds and their fields, read from data (schema/catalogue.ini), and validation.
 *
 * The catalogue is text in INI form (parsed with libinih), compiled into the library as the default and
 * stored in each store with its version. Validation reads only the catalogue: adding a field is a change
 * to schema/catalogue.ini, not to code. Error messages name the field and the reason, e.g.
 *   category: "lost" is not one of 漏えい, 紛失, 誤送付・誤送信, ...
 * A parsed catalogue is immutable and owns all its memory (one arena); kr_catalogue_free frees it.
 * The file format and the rule for enumeration values are described at the top of schema/catalogue.ini.
 * Nothing here touches global state: a parsed catalogue may be read from several threads.
 */
#ifndef KR_CATALOGUE_H
#define KR_CATALOGUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiroku/buf.h"
#include "kiroku/changeset.h"
#include "kiroku/error.h"

enum kr_field_type {
	KR_FT_TEXT,     /* UTF-8 text, at most max_len bytes */
	KR_FT_INTEGER,  /* signed 64-bit */
	KR_FT_BOOLEAN,  /* yes/no; on the command line: true/false, yes/no, 1/0, はい/いいえ */
	KR_FT_DATE,     /* "YYYY-MM-DD", a real calendar date */
	KR_FT_DATETIME, /* "YYYY-MM-DDThh:mm" or "YYYY-MM-DDThh:mm:ss", local time of the facility */
	KR_FT_ENUM,     /* one of values[] */
	KR_FT_COUNT,    /* a non-negative integer (number of persons, ...) */
};

struct kr_field_def {
	const char *name;
	enum kr_field_type type;
	bool required;       /* must be present when the record is created */
	bool personal;       /* identifies a person: pseudonymised in review material */
	bool operator_only;  /* written only at the hub */
	size_t max_len;      /* text: bytes (default 4096) */
	const char *label_ja;
	const char *label_en;
	size_t nvalues;      /* enum */
	const char *const *values;
	const char *const *values_en; /* English label of each value (may equal the value) */
	const char *const *values_ja; /* Japanese label of each value (equals the value when it is Japanese) */
	/* For each value, a NULL-terminated list of further spellings accepted on input (may be empty). */
	const char *const *const *value_aliases;
};

struct kr_kind_def {
	const char *name;
	const char *label_ja;
	const char *label_en;
	bool append_only;    /* a ledger: records are never edited or deleted once written */
	size_t nfields;
	const struct kr_field_def *fields;
};

struct kr_catalogue {
	uint64_t version;
	size_t nkinds;
	const struct kr_kind_def *kinds;
	void *priv; /* the memory behind the above */
};

/* Parses catalogue text (len bytes; need not be NUL-terminated; at most 1 MiB). On success *out is a
 * catalogue the caller frees with kr_catalogue_free. On error (KR_ERR_INVALID for a wrong catalogue,
 * KR_ERR_TOO_BIG, KR_ERR_NOMEM) *out is untouched, nothing stays allocated and err names the line and the
 * problem: `catalogue line 42: unknown type "txt": ...`. */
kr_status kr_catalogue_parse(const char *text, size_t len, struct kr_catalogue **out, struct kr_error *err);
/* The catalogue compiled into the library (schema/catalogue.ini). Fails only on memory. */
kr_status kr_catalogue_default(struct kr_catalogue **out, struct kr_error *err);
/* Frees the catalogue and everything it points to; NULL is fine. */
void kr_catalogue_free(struct kr_catalogue *cat);

/* Lookups; NULL when unknown. Pointers live as long as the catalogue. */
const struct kr_kind_def *kr_catalogue_kind(const struct kr_catalogue *cat, const char *kind);
const struct kr_field_def *kr_catalogue_field(const struct kr_kind_def *kind, const char *field);

/* Turns command-line or form text into a typed value, checking it against the field's definition.
 * An empty text gives a null value (clearing the field); for a required field it is refused. An
 * enumeration accepts the stored value, its labels and aliases (ASCII without case) and gives the stored
 * value. Text, date and date-and-time values point into `text` (which must outlive the value);
 * enumeration values point into the catalogue. A date and time written with a space instead of the T
 * ("2026-04-01 10:00") is refused here, because normalising it needs a copy: use
 * kr_catalogue_parse_value_arena for input typed by people.
 * On error (KR_ERR_INVALID) *out is untouched and err says e.g.
 * `occurred_at: "2026-13-01" is not a date and time (YYYY-MM-DDThh:mm)`. */
kr_status kr_catalogue_parse_value(const struct kr_field_def *f, const char *text, struct kr_value *out,
				   struct kr_error *err);

/* The same, but every text value (s) is a copy in arena, so `text` may go away, and a date and time
 * with a space instead of the T is accepted and stored with the T. On error (KR_ERR_INVALID, or
 * KR_ERR_NOMEM when the arena is full) *out is untouched; the arena may hold an unused copy. */
kr_status kr_catalogue_parse_value_arena(const struct kr_field_def *f, const char *text, struct kr_arena *arena,
					 struct kr_value *out, struct kr_error *err);

/* Checks a typed value (from the wire or the store) against the field. Null passes unless required.
 * Only canonical forms pass: an enumeration's stored value (not a label or alias), a date and time with
 * the T, a text that is not empty (an empty text must be sent as null). Can't fail otherwise than
 * KR_ERR_INVALID with the reason in err. */
kr_status kr_catalogue_check_value(const struct kr_field_def *f, const struct kr_value *v, struct kr_error *err);

/* Checks that every required field of kind is among the n names (for a new record). */
kr_status kr_catalogue_check_required(const struct kr_kind_def *kind, const char *const *names, size_t n,
				      struct kr_error *err);

/* The label in the language ("ja" or "en"); falls back to the other one, then to the name. */
const char *kr_field_label(const struct kr_field_def *f, const char *lang);
const char *kr_kind_label(const struct kr_kind_def *k, const char *lang);
/* The label in the language of an enumeration value ("reported" -> "報告済み" in "ja"); the value itself
 * when it is not one of f's values. */
const char *kr_field_value_label(const struct kr_field_def *f, const char *value, const char *lang);
/* The catalogue's word for a type ("text", "datetime", ...). Never NULL. */
const char *kr_field_type_name(enum kr_field_type type);

#endif
