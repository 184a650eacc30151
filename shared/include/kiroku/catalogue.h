/* catalogue.h: the record kinds and their fields, read from data (schema/catalogue.ini), and validation.
 *
 * The catalogue is text in INI form (parsed with libinih), compiled into the library as the default and
 * stored in each store with its version. Validation reads only the catalogue: adding a field is a change
 * to schema/catalogue.ini, not to code. Error messages name the field and the reason, e.g.
 *   category: "lost" is not one of 漏えい, 紛失, 誤送付・誤送信, ...
 * A parsed catalogue is immutable and owns all its memory; kr_catalogue_free frees it.
 */
#ifndef KR_CATALOGUE_H
#define KR_CATALOGUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Parses catalogue text. On error nothing is allocated and err names the line and the problem. */
kr_status kr_catalogue_parse(const char *text, size_t len, struct kr_catalogue **out, struct kr_error *err);
/* The catalogue compiled into the library (schema/catalogue.ini). */
kr_status kr_catalogue_default(struct kr_catalogue **out, struct kr_error *err);
void kr_catalogue_free(struct kr_catalogue *cat);

/* Lookups; NULL when unknown. Pointers live as long as the catalogue. */
const struct kr_kind_def *kr_catalogue_kind(const struct kr_catalogue *cat, const char *kind);
const struct kr_field_def *kr_catalogue_field(const struct kr_kind_def *kind, const char *field);

/* Turns command-line or form text into a typed value, checking it against the field's definition.
 * An empty text gives a null value (clearing the field). Text values point into `text` (which must
 * outlive the value). On error err says e.g. `occurred_at: "2026-13-01" is not a date and time (YYYY-MM-DDThh:mm)`. */
kr_status kr_catalogue_parse_value(const struct kr_field_def *f, const char *text, struct kr_value *out,
				   struct kr_error *err);

/* Checks a typed value (from the wire or the store) against the field. Null passes unless required. */
kr_status kr_catalogue_check_value(const struct kr_field_def *f, const struct kr_value *v, struct kr_error *err);

/* Checks that every required field of kind is among the n names (for a new record). */
kr_status kr_catalogue_check_required(const struct kr_kind_def *kind, const char *const *names, size_t n,
				      struct kr_error *err);

/* The label in the language ("ja" or "en"); falls back to the other one, then to the name. */
const char *kr_field_label(const struct kr_field_def *f, const char *lang);
const char *kr_kind_label(const struct kr_kind_def *k, const char *lang);

#endif
