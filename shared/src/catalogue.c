/* catalogue.c: parses the record-kind catalogue (schema/catalogue.ini) and checks field values against it. */
#include "kiroku/catalogue.h"

#include <assert.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embedded.h"

#define CAT_MAX_BYTES    (1024 * 1024)      /* catalogue text */
#define CAT_ARENA_MAX    (16 * 1024 * 1024) /* everything parsed from it, temporary lists included */
#define TEXT_DEFAULT_MAX 4096
#define TEXT_LIMIT       65536 /* = kr_default_limits.max_text: a longer text could not travel */
#define MAX_ALIASES      16

/* ---- Small helpers on bytes (no <ctype.h>: its answers depend on the locale) ---- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}
static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}
static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Equal, comparing ASCII letters without case and every other byte exactly. */
static bool ascii_ieq(const char *a, const char *b)
{
	while (*a && ascii_lower(*a) == ascii_lower(*b)) {
		a++;
		b++;
	}
	return *a == *b;
}

/* A name of kinds and fields: 1 to KR_NAME_MAX bytes of a-z, 0-9, _. */
static bool is_name(const char *s, size_t len)
{
	if (len == 0 || len > KR_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || is_digit(s[i]) || s[i] == '_'))
			return false;
	return true;
}

enum text_problem { TEXT_OK, TEXT_BAD_UTF8, TEXT_CONTROL };

/* Scans len bytes of s: valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF) and
 * no control character (C0, DEL, C1) other than newline and tab when multiline. On a problem *at is
 * the offset of the first offending byte. This function can't fail. */
static enum text_problem text_scan(const char *str, size_t len, bool multiline, size_t *at)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		unsigned char lo = 0x80, hi = 0xbf;
		size_t n;

		*at = i;
		if (c < 0x80) {
			if ((c < 0x20 && !(multiline && (c == '\n' || c == '\t'))) || c == 0x7f)
				return TEXT_CONTROL;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3;
		else
			return TEXT_BAD_UTF8;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		else if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		if (len - i <= n)
			return TEXT_BAD_UTF8;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return TEXT_BAD_UTF8;
		for (size_t k = 2; k <= n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return TEXT_BAD_UTF8;
		if (c == 0xc2 && s[i + 1] <= 0x9f)
			return TEXT_CONTROL; /* U+0080..U+009F */
		i += n + 1;
	}
	return TEXT_OK;
}

/* Copies s into buf (size bytes, >= 8) for quoting in a message: control characters and bytes that are
 * not UTF-8 become '?', and a long text is cut at a character boundary and ends with "...". Returns buf. */
static const char *quote_text(char *buf, size_t size, const char *s, size_t len)
{
	size_t o = 0, i = 0;

	assert(size >= 8);
	while (i < len) {
		size_t at, n = 1;
		unsigned char c = (unsigned char)s[i];

		if (c >= 0xc0)
			n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		if (n > len - i || text_scan(s + i, n, false, &at) != TEXT_OK)
			n = 1;
		if (o + n + 4 > size) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (n == 1 && text_scan(s + i, 1, false, &at) != TEXT_OK)
			buf[o] = '?';
		else
			memcpy(buf + o, s + i, n);
		o += n;
		i += n;
	}
	buf[o] = 0;
	return buf;
}

#define QUOTE_MAX 96

/* ---- Dates ---- */

/* The value of n decimal digits at s, or -1. */
static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static bool is_leap(int y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

/* "YYYY-MM-DD" at s (10 bytes readable) is a real date of the years 0001 to 9999. */
static bool date_ok(const char *s)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y = digits(s, 4), m, d;

	if (y < 1 || s[4] != '-' || s[7] != '-')
		return false;
	m = digits(s + 5, 2);
	d = digits(s + 8, 2);
	if (m < 1 || m > 12 || d < 1)
		return false;
	return d <= mdays[m - 1] + (m == 2 && is_leap(y));
}

static bool is_date(const char *s, size_t len)
{
	return len == 10 && date_ok(s);
}

/* "YYYY-MM-DDThh:mm" or "YYYY-MM-DDThh:mm:ss"; with space_ok a space may stand for the T. */
static bool is_datetime(const char *s, size_t len, bool space_ok)
{
	int h, mi, sec = 0;

	if ((len != 16 && len != 19) || !date_ok(s))
		return false;
	if (!(s[10] == 'T' || (space_ok && s[10] == ' ')) || s[13] != ':')
		return false;
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	if (len == 19) {
		if (s[16] != ':')
			return false;
		sec = digits(s + 17, 2);
	}
	return h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && sec >= 0 && sec <= 59;
}

/* ---- Names of things, for the file and for messages ---- */

static const char *const type_names[] = {
    [KR_FT_TEXT] = "text",         [KR_FT_INTEGER] = "integer", [KR_FT_BOOLEAN] = "boolean", [KR_FT_DATE] = "date",
    [KR_FT_DATETIME] = "datetime", [KR_FT_ENUM] = "enum",       [KR_FT_COUNT] = "count",
};

#define NTYPES (sizeof type_names / sizeof type_names[0])

const char *kr_field_type_name(enum kr_field_type type)
{
	if ((unsigned)type < NTYPES && type_names[type])
		return type_names[type];
	return "unknown";
}

/* What a value of the type is, for "expected ..." messages. */
static const char *type_expectation(enum kr_field_type type)
{
	switch (type) {
	case KR_FT_TEXT:
		return "text";
	case KR_FT_INTEGER:
		return "a whole number";
	case KR_FT_BOOLEAN:
		return "yes or no";
	case KR_FT_DATE:
		return "a date (YYYY-MM-DD)";
	case KR_FT_DATETIME:
		return "a date and time (YYYY-MM-DDThh:mm)";
	case KR_FT_ENUM:
		return "one of the listed values";
	case KR_FT_COUNT:
		return "a count (a whole number, 0 or more)";
	}
	return "a value";
}

static const char *value_type_name(enum kr_value_type t)
{
	switch (t) {
	case KR_VAL_NULL:
		return "null";
	case KR_VAL_TEXT:
		return "text";
	case KR_VAL_INT:
		return "an integer";
	case KR_VAL_BOOL:
		return "a boolean";
	}
	return "an unknown type";
}

/* ---- Parsing the catalogue ---- */

struct value_tmp {
	struct value_tmp *next;
	const char *value, *ja, *en;
	const char **aliases; /* NULL-terminated */
	int line;
};

struct field_tmp {
	struct field_tmp *next;
	struct kr_field_def def;
	struct value_tmp *values, **vtail;
	size_t nvalues;
	bool has_type;
	int line, value_line, max_len_line;
};

struct kind_tmp {
	struct kind_tmp *next;
	struct kr_kind_def def;
	struct field_tmp *fields, **ftail;
	size_t nfields;
	int line;
};

enum section { SEC_NONE, SEC_CATALOGUE, SEC_KIND, SEC_FIELD };

struct parser {
	/* the reader's place in the text */
	const char *p;
	size_t left;
	int lineno;
	/* what has been read */
	struct kr_arena *arena;
	enum section sect;
	char section[256]; /* text inside [ ] of the current section, for messages */
	unsigned seen;     /* bit i: key_rules[i] given in the current section */
	int catalogue_line;
	bool has_version;
	uint64_t version;
	struct kind_tmp *kinds, **ktail, *kind;
	size_t nkinds;
	struct field_tmp *field;
	/* the first error */
	kr_status st;
	int err_line;
	struct kr_error *err;
};

/* Records the first error, naming line (0: no line), and returns its code. */
static kr_status __attribute__((format(printf, 4, 5)))
pfail(struct parser *ps, kr_status code, int line, const char *fmt, ...)
{
	char msg[sizeof ps->err->msg];
	va_list ap;

	if (ps->st)
		return ps->st;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ps->st = code;
	ps->err_line = line;
	if (line > 0)
		kr_fail(ps->err, code, "catalogue line %d: %s", line, msg);
	else
		kr_fail(ps->err, code, "catalogue: %s", msg);
	return code;
}

static kr_status nomem(struct parser *ps)
{
	return pfail(ps, KR_ERR_NOMEM, 0, "out of memory");
}

static struct kind_tmp *find_kind(struct parser *ps, const char *name, size_t len)
{
	for (struct kind_tmp *k = ps->kinds; k; k = k->next)
		if (strlen(k->def.name) == len && memcmp(k->def.name, name, len) == 0)
			return k;
	return NULL;
}

/* Checks a name from a section header; what says "kind" or "field". */
static kr_status check_name(struct parser *ps, const char *what, const char *name, size_t len)
{
	char q[QUOTE_MAX];

	quote_text(q, sizeof q, name, len);
	if (len > 0 && name[0] == '_')
		return pfail(ps, KR_ERR_INVALID, ps->lineno,
		             "%s name \"%s\" is reserved for the system (names starting with _)", what, q);
	if (!is_name(name, len))
		return pfail(ps, KR_ERR_INVALID, ps->lineno,
		             "\"%s\" is not a valid %s name: use 1 to %d bytes of a-z, 0-9 and _", q, what,
		             KR_NAME_MAX);
	return KR_OK;
}

static kr_status open_kind(struct parser *ps, const char *name, size_t len)
{
	struct kind_tmp *k;
	kr_status st;

	if ((st = check_name(ps, "kind", name, len)))
		return st;
	if ((k = find_kind(ps, name, len)))
		return pfail(ps, KR_ERR_INVALID, ps->lineno, "kind \"%s\" is defined twice (first on line %d)",
		             k->def.name, k->line);
	k = kr_arena_alloc(ps->arena, sizeof *k);
	if (!k || !(k->def.name = kr_arena_strndup(ps->arena, name, len)))
		return nomem(ps);
	k->ftail = &k->fields;
	k->line = ps->lineno;
	*ps->ktail = k;
	ps->ktail = &k->next;
	ps->nkinds++;
	ps->kind = k;
	ps->sect = SEC_KIND;
	return KR_OK;
}

/* "KIND.NAME" */
static kr_status open_field(struct parser *ps, const char *spec, size_t len)
{
	const char *dot = memchr(spec, '.', len);
	struct kind_tmp *k;
	struct field_tmp *f;
	size_t klen, flen;
	char q[QUOTE_MAX];
	kr_status st;

	if (!dot)
		return pfail(ps, KR_ERR_INVALID, ps->lineno, "expected [field KIND.NAME], not [%s]",
		             quote_text(q, sizeof q, ps->section, strlen(ps->section)));
	klen = (size_t)(dot - spec);
	flen = len - klen - 1;
	if ((st = check_name(ps, "kind", spec, klen)) || (st = check_name(ps, "field", dot + 1, flen)))
		return st;
	if (!(k = find_kind(ps, spec, klen)))
		return pfail(ps, KR_ERR_INVALID, ps->lineno,
		             "field \"%s\" belongs to kind \"%.*s\", which is not defined above it: add a [kind %.*s] "
		             "section first",
		             quote_text(q, sizeof q, spec, len), (int)klen, spec, (int)klen, spec);
	for (f = k->fields; f; f = f->next)
		if (strlen(f->def.name) == flen && memcmp(f->def.name, dot + 1, flen) == 0)
			return pfail(ps, KR_ERR_INVALID, ps->lineno,
			             "field \"%s.%s\" is defined twice (first on line %d)", k->def.name, f->def.name,
			             f->line);
	f = kr_arena_alloc(ps->arena, sizeof *f);
	if (!f || !(f->def.name = kr_arena_strndup(ps->arena, dot + 1, flen)))
		return nomem(ps);
	f->vtail = &f->values;
	f->line = ps->lineno;
	*k->ftail = f;
	k->ftail = &f->next;
	k->nfields++;
	ps->kind = k;
	ps->field = f;
	ps->sect = SEC_FIELD;
	return KR_OK;
}

/* A line that starts with '[' (len bytes, no newline). */
static kr_status open_section(struct parser *ps, const char *line, size_t len)
{
	const char *rb = memchr(line, ']', len), *in, *rest, *word_end;
	size_t inlen, wlen, restlen;
	char q[QUOTE_MAX];

	if (!rb)
		return pfail(ps, KR_ERR_INVALID, ps->lineno, "a section line must end with ]");
	for (rest = rb + 1; rest < line + len && is_blank(*rest); rest++)
		;
	if (rest < line + len && *rest != ';' && *rest != '#')
		return pfail(ps, KR_ERR_INVALID, ps->lineno, "unexpected text after ]: \"%s\"",
		             quote_text(q, sizeof q, rest, (size_t)(line + len - rest)));
	for (in = line + 1; in < rb && is_blank(*in); in++)
		;
	inlen = (size_t)(rb - in);
	while (inlen && is_blank(in[inlen - 1]))
		inlen--;
	if (inlen >= sizeof ps->section)
		inlen = sizeof ps->section - 1; /* can't be: a line is shorter */
	memcpy(ps->section, in, inlen);
	ps->section[inlen] = 0;
	for (word_end = in; word_end < in + inlen && !is_blank(*word_end); word_end++)
		;
	wlen = (size_t)(word_end - in);
	for (rest = word_end; rest < in + inlen && is_blank(*rest); rest++)
		;
	restlen = (size_t)(in + inlen - rest);
	ps->seen = 0;
	ps->sect = SEC_NONE;
	ps->field = NULL;
	ps->kind = NULL;

	if (wlen == 9 && memcmp(in, "catalogue", 9) == 0 && restlen == 0) {
		if (ps->catalogue_line)
			return pfail(ps, KR_ERR_INVALID, ps->lineno, "[catalogue] is given twice (first on line %d)",
			             ps->catalogue_line);
		ps->catalogue_line = ps->lineno;
		ps->sect = SEC_CATALOGUE;
		return KR_OK;
	}
	if (wlen == 4 && memcmp(in, "kind", 4) == 0 && restlen)
		return open_kind(ps, rest, restlen);
	if (wlen == 5 && memcmp(in, "field", 5) == 0 && restlen)
		return open_field(ps, rest, restlen);
	return pfail(ps, KR_ERR_INVALID, ps->lineno,
	             "unknown section [%s]: expected [catalogue], [kind NAME] or [field KIND.NAME]",
	             quote_text(q, sizeof q, ps->section, inlen));
}

/* libinih's fgets-like reader. It hands inih one line at a time and so knows the number of the line
 * inih is working on; it strips a BOM, a CR before the newline and leading blanks (so that inih never
 * takes a line for the continuation of the previous value), refuses a line that does not fit inih's
 * buffer instead of letting it be cut, and reads section lines itself: inih cuts section names at 49
 * bytes. After the first error it returns NULL, which ends the parse. */
static char *read_line(char *str, int num, void *stream)
{
	struct parser *ps = stream;
	const char *line, *nl;
	size_t len, used;

	if (ps->st || ps->left == 0 || num < 2)
		return NULL;
	line = ps->p;
	nl = memchr(line, '\n', ps->left);
	len = nl ? (size_t)(nl - line) : ps->left;
	used = nl ? len + 1 : len;
	ps->p += used;
	ps->left -= used;
	ps->lineno++;
	if (ps->lineno == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3;
		len -= 3;
	}
	if (len && line[len - 1] == '\r')
		len--;
	while (len && is_blank(*line)) {
		line++;
		len--;
	}
	if (len + 2 > (size_t)num) {
		pfail(ps, KR_ERR_INVALID, ps->lineno,
		      "the line is %zu bytes long, more than the limit of %d (give each enumeration value its own "
		      "\"value =\" line)",
		      len, num - 2);
		return NULL;
	}
	if (len && line[0] == '[' && open_section(ps, line, len))
		return NULL;
	memcpy(str, line, len);
	str[len] = '\n';
	str[len + 1] = 0;
	return str;
}

/* Key setters: target is the member named by the rule's offset in the current section's struct. */

static kr_status set_version(struct parser *ps, void *target, const char *value)
{
	uint64_t *v = target;
	unsigned long long n;
	char *end;
	char q[QUOTE_MAX];

	errno = 0;
	n = is_digit(value[0]) ? strtoull(value, &end, 10) : 0;
	if (!is_digit(value[0]) || *end || errno || n == 0)
		return pfail(ps, KR_ERR_INVALID, ps->lineno, "version \"%s\" is not a whole number of 1 or more",
		             quote_text(q, sizeof q, value, strlen(value)));
	*v = n;
	ps->has_version = true;
	return KR_OK;
}

static kr_status set_flag(struct parser *ps, void *target, const char *value)
{
	bool *b = target;
	char q[QUOTE_MAX];

	if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0)
		*b = true;
	else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0)
		*b = false;
	else
		return pfail(ps, KR_ERR_INVALID, ps->lineno, "expected yes or no, not \"%s\"",
		             quote_text(q, sizeof q, value, strlen(value)));
	return KR_OK;
}

/* A label or a part of an enumeration value: one line of UTF-8 without control characters. */
static kr_status check_label(struct parser *ps, const char *what, const char *s, size_t len)
{
	size_t at;

	if (len == 0)
		return pfail(ps, KR_ERR_INVALID, ps->lineno, "%s is empty", what);
	switch (text_scan(s, len, false, &at)) {
	case TEXT_OK:
		return KR_OK;
	case TEXT_BAD_UTF8:
		return pfail(ps, KR_ERR_INVALID, ps->lineno, "%s is not valid UTF-8 (byte %zu)", what, at + 1);
	case TEXT_CONTROL:
		return pfail(ps, KR_ERR_INVALID, ps->lineno, "%s contains a control character (byte %zu)", what,
		             at + 1);
	}
	return KR_OK;
}

static kr_status set_label(struct parser *ps, void *target, const char *value)
{
	const char **label = target;
	kr_status st;

	if ((st = check_label(ps, "the label", value, strlen(value))))
		return st;
	if (!(*label = kr_arena_strdup(ps->arena, value)))
		return nomem(ps);
	return KR_OK;
}

static kr_status set_type(struct parser *ps, void *target, const char *value)
{
	enum kr_field_type *type = target;
	char q[QUOTE_MAX];

	for (size_t i = 0; i < NTYPES; i++) {
		if (type_names[i] && strcmp(value, type_names[i]) == 0) {
			*type = (enum kr_field_type)i;
			ps->field->has_type = true;
			return KR_OK;
		}
	}
	return pfail(ps, KR_ERR_INVALID, ps->lineno,
	             "unknown type \"%s\": expected text, integer, boolean, date, datetime, enum or count",
	             quote_text(q, sizeof q, value, strlen(value)));
}

static kr_status set_max_len(struct parser *ps, void *target, const char *value)
{
	size_t *max = target;
	unsigned long long n = 0;
	char *end = NULL;
	char q[QUOTE_MAX];

	errno = 0;
	if (is_digit(value[0]))
		n = strtoull(value, &end, 10);
	if (!end || *end || errno || n < 1 || n > TEXT_LIMIT)
		return pfail(ps, KR_ERR_INVALID, ps->lineno, "max_len \"%s\" is not a number from 1 to %d",
		             quote_text(q, sizeof q, value, strlen(value)), TEXT_LIMIT);
	*max = (size_t)n;
	ps->field->max_len_line = ps->lineno;
	return KR_OK;
}

/* All spellings of an enumeration value, to look for clashes. Returns how many (at most 3 + MAX_ALIASES). */
static size_t spellings(const struct value_tmp *v, const char **out)
{
	size_t n = 0;
	out[n++] = v->value;
	out[n++] = v->ja;
	out[n++] = v->en;
	for (size_t i = 0; v->aliases[i]; i++)
		out[n++] = v->aliases[i];
	return n;
}

/* value = STORED | 日本語 | English [| ALIAS ...] */
static kr_status add_value(struct parser *ps, void *target, const char *value)
{
	struct field_tmp *f = ps->field;
	const char *parts[3 + MAX_ALIASES], *mine[3 + MAX_ALIASES], *theirs[3 + MAX_ALIASES];
	size_t nparts = 0, nmine;
	const char *p = value;
	struct value_tmp *v;
	char q[QUOTE_MAX];
	kr_status st;

	(void)target;
	for (;;) {
		const char *bar = strchr(p, '|'), *end = bar ? bar : p + strlen(p);
		char *part;

		while (p < end && is_blank(*p))
			p++;
		while (end > p && is_blank(end[-1]))
			end--;
		if (nparts == sizeof parts / sizeof parts[0])
			return pfail(ps, KR_ERR_INVALID, ps->lineno, "a value may have at most %d aliases",
			             MAX_ALIASES);
		if ((st = check_label(ps, "a part of the value", p, (size_t)(end - p))))
			return st;
		if (!(part = kr_arena_strndup(ps->arena, p, (size_t)(end - p))))
			return nomem(ps);
		parts[nparts++] = part;
		if (!bar)
			break;
		p = bar + 1;
	}
	if (nparts < 3)
		return pfail(ps, KR_ERR_INVALID, ps->lineno,
		             "value \"%s\" needs at least three parts: STORED | 日本語 | English [| ALIAS ...]",
		             quote_text(q, sizeof q, value, strlen(value)));
	if (strcmp(parts[0], parts[1]) != 0 && !is_name(parts[0], strlen(parts[0])))
		return pfail(ps, KR_ERR_INVALID, ps->lineno,
		             "stored value \"%s\" must be its Japanese label (\"%s\") or a lowercase ASCII token "
		             "(a-z, 0-9, _)",
		             quote_text(q, sizeof q, parts[0], strlen(parts[0])), parts[1]);

	v = kr_arena_alloc(ps->arena, sizeof *v);
	if (!v || !(v->aliases = kr_arena_alloc(ps->arena, (nparts - 2) * sizeof *v->aliases)))
		return nomem(ps);
	v->value = parts[0];
	v->ja = parts[1];
	v->en = parts[2];
	for (size_t i = 3; i < nparts; i++)
		v->aliases[i - 3] = parts[i];
	v->line = ps->lineno;

	nmine = spellings(v, mine);
	for (const struct value_tmp *o = f->values; o; o = o->next) {
		size_t ntheirs = spellings(o, theirs);
		if (strcmp(o->value, v->value) == 0)
			return pfail(ps, KR_ERR_INVALID, ps->lineno, "value \"%s\" is listed twice (first on line %d)",
			             v->value, o->line);
		for (size_t i = 0; i < nmine; i++)
			for (size_t j = 0; j < ntheirs; j++)
				if (ascii_ieq(mine[i], theirs[j]))
					return pfail(ps, KR_ERR_INVALID, ps->lineno,
					             "\"%s\" already stands for the value \"%s\" (line %d): a spelling "
					             "may name only one value",
					             mine[i], o->value, o->line);
	}
	*f->vtail = v;
	f->vtail = &v->next;
	f->nvalues++;
	if (!f->value_line)
		f->value_line = ps->lineno;
	return KR_OK;
}

/* The keys of each section: one table, not a chain of strcmp. At most 32 rules (the `seen` bits). */
static const struct key_rule {
	enum section sect;
	const char *name;
	kr_status (*set)(struct parser *ps, void *target, const char *value);
	size_t offset; /* of the member set: in struct parser, struct kr_kind_def or struct kr_field_def */
	bool repeatable;
} key_rules[] = {
    {SEC_CATALOGUE, "version", set_version, offsetof(struct parser, version), false},
    {SEC_KIND, "label_ja", set_label, offsetof(struct kr_kind_def, label_ja), false},
    {SEC_KIND, "label_en", set_label, offsetof(struct kr_kind_def, label_en), false},
    {SEC_KIND, "append_only", set_flag, offsetof(struct kr_kind_def, append_only), false},
    {SEC_FIELD, "type", set_type, offsetof(struct kr_field_def, type), false},
    {SEC_FIELD, "required", set_flag, offsetof(struct kr_field_def, required), false},
    {SEC_FIELD, "personal", set_flag, offsetof(struct kr_field_def, personal), false},
    {SEC_FIELD, "operator_only", set_flag, offsetof(struct kr_field_def, operator_only), false},
    {SEC_FIELD, "max_len", set_max_len, offsetof(struct kr_field_def, max_len), false},
    {SEC_FIELD, "label_ja", set_label, offsetof(struct kr_field_def, label_ja), false},
    {SEC_FIELD, "label_en", set_label, offsetof(struct kr_field_def, label_en), false},
    {SEC_FIELD, "value", add_value, 0, true},
};
_Static_assert(sizeof key_rules / sizeof key_rules[0] <= sizeof(unsigned) * 8, "struct parser.seen has a bit per rule");

/* libinih's handler: one key = value of the current section. The section inih passes is ignored: the
 * reader has read it, uncut. Returns 0 (an error for inih) when the key is wrong. */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parser *ps = user;
	char q[QUOTE_MAX];
	unsigned char *base;

	(void)section;
	if (ps->st)
		return 0;
	if (ps->sect == SEC_NONE) {
		pfail(ps, KR_ERR_INVALID, ps->lineno, "key \"%s\" comes before any section",
		      quote_text(q, sizeof q, name, strlen(name)));
		return 0;
	}
	base = ps->sect == SEC_CATALOGUE ? (unsigned char *)ps
	       : ps->sect == SEC_KIND    ? (unsigned char *)&ps->kind->def
	                                 : (unsigned char *)&ps->field->def;
	for (size_t i = 0; i < sizeof key_rules / sizeof key_rules[0]; i++) {
		const struct key_rule *r = &key_rules[i];
		if (r->sect != ps->sect || strcmp(r->name, name) != 0)
			continue;
		if (!r->repeatable && (ps->seen & (1u << i))) {
			pfail(ps, KR_ERR_INVALID, ps->lineno, "\"%s\" is given twice in [%s]", name, ps->section);
			return 0;
		}
		ps->seen |= 1u << i;
		return r->set(ps, base + r->offset, value) == KR_OK;
	}
	pfail(ps, KR_ERR_INVALID, ps->lineno, "unknown key \"%s\" in [%s]", quote_text(q, sizeof q, name, strlen(name)),
	      ps->section);
	return 0;
}

/* Checks what only the whole file shows and lays the lists out as the arrays of the public structs. */
static kr_status finish(struct parser *ps, struct kr_catalogue *cat)
{
	struct kr_kind_def *kinds;
	size_t ki = 0;

	if (!ps->has_version)
		return pfail(ps, KR_ERR_INVALID, 0, "no [catalogue] section with a version");
	if (!ps->nkinds)
		return pfail(ps, KR_ERR_INVALID, 0, "no [kind NAME] section: a catalogue defines at least one kind");
	if (!(kinds = kr_arena_alloc(ps->arena, ps->nkinds * sizeof *kinds)))
		return nomem(ps);
	for (struct kind_tmp *k = ps->kinds; k; k = k->next) {
		struct kr_field_def *fields;
		size_t fi = 0;

		if (!k->nfields)
			return pfail(ps, KR_ERR_INVALID, k->line,
			             "kind \"%s\" has no fields: add a [field %s.NAME] section", k->def.name,
			             k->def.name);
		if (!(fields = kr_arena_alloc(ps->arena, k->nfields * sizeof *fields)))
			return nomem(ps);
		for (struct field_tmp *f = k->fields; f; f = f->next) {
			struct kr_field_def *d = &f->def;
			const char **vals, **ja, **en;
			const char *const **aliases;
			size_t vi = 0;

			if (!f->has_type)
				return pfail(ps, KR_ERR_INVALID, f->line, "field \"%s.%s\" has no type", k->def.name,
				             d->name);
			if (d->type == KR_FT_ENUM && !f->nvalues)
				return pfail(ps, KR_ERR_INVALID, f->line,
				             "enum field \"%s.%s\" has no values: add \"value =\" lines", k->def.name,
				             d->name);
			if (d->type != KR_FT_ENUM && f->nvalues)
				return pfail(ps, KR_ERR_INVALID, f->value_line,
				             "\"value\" is only for enum fields, and %s.%s is %s", k->def.name, d->name,
				             kr_field_type_name(d->type));
			if (d->type != KR_FT_TEXT && f->max_len_line)
				return pfail(ps, KR_ERR_INVALID, f->max_len_line,
				             "max_len is only for text fields, and %s.%s is %s", k->def.name, d->name,
				             kr_field_type_name(d->type));
			if (d->required && d->operator_only)
				return pfail(ps, KR_ERR_INVALID, f->line,
				             "field \"%s.%s\" can't be both required and operator_only: staff could "
				             "never create the record",
				             k->def.name, d->name);
			if (d->type == KR_FT_TEXT && !d->max_len)
				d->max_len = TEXT_DEFAULT_MAX;
			if (f->nvalues) {
				vals = kr_arena_alloc(ps->arena, f->nvalues * sizeof *vals);
				ja = kr_arena_alloc(ps->arena, f->nvalues * sizeof *ja);
				en = kr_arena_alloc(ps->arena, f->nvalues * sizeof *en);
				aliases = kr_arena_alloc(ps->arena, f->nvalues * sizeof *aliases);
				if (!vals || !ja || !en || !aliases)
					return nomem(ps);
				for (struct value_tmp *v = f->values; v; v = v->next, vi++) {
					vals[vi] = v->value;
					ja[vi] = v->ja;
					en[vi] = v->en;
					aliases[vi] = v->aliases;
				}
				d->nvalues = f->nvalues;
				d->values = vals;
				d->values_ja = ja;
				d->values_en = en;
				d->value_aliases = aliases;
			}
			fields[fi++] = *d;
		}
		k->def.nfields = k->nfields;
		k->def.fields = fields;
		kinds[ki++] = k->def;
	}
	cat->version = ps->version;
	cat->nkinds = ps->nkinds;
	cat->kinds = kinds;
	return KR_OK;
}

/* What kr_catalogue_free frees: the struct handed out, and the arena behind everything it points to. */
struct catalogue_mem {
	struct kr_catalogue cat;
	struct kr_arena arena;
};

kr_status kr_catalogue_parse(const char *text, size_t len, struct kr_catalogue **out, struct kr_error *err)
{
	struct catalogue_mem *mem;
	struct parser ps;
	const char *nul;
	int r;

	assert(out && (text || len == 0));
	if (len > CAT_MAX_BYTES)
		return kr_fail(err, KR_ERR_TOO_BIG, "catalogue: %zu bytes is more than the limit of %d", len,
		               CAT_MAX_BYTES);
	if (len && (nul = memchr(text, 0, len))) {
		int line = 1;
		for (const char *c = text; c < nul; c++)
			line += *c == '\n';
		return kr_fail(err, KR_ERR_INVALID, "catalogue line %d: contains a NUL byte", line);
	}
	if (!(mem = calloc(1, sizeof *mem)))
		return kr_fail(err, KR_ERR_NOMEM, "catalogue: out of memory");
	kr_arena_init(&mem->arena, CAT_ARENA_MAX);
	memset(&ps, 0, sizeof ps);
	ps.p = text;
	ps.left = len;
	ps.arena = &mem->arena;
	ps.ktail = &ps.kinds;
	ps.err = err;

	r = ini_parse_stream(read_line, &ps, on_key, &ps);
	if (r == -2 && !ps.st)
		nomem(&ps);
	else if (r > 0 && (!ps.st || r < ps.err_line)) {
		/* inih's own complaint: a line that is neither a section, a comment nor key = value. */
		ps.st = KR_OK;
		pfail(&ps, KR_ERR_INVALID, r, "expected [section], key = value or a comment");
	} else if (r != 0 && !ps.st) {
		pfail(&ps, KR_ERR_INTERNAL, 0, "libinih returned %d", r);
	}
	if (!ps.st)
		finish(&ps, &mem->cat);
	if (ps.st) {
		kr_arena_release(&mem->arena);
		free(mem);
		return ps.st;
	}
	mem->cat.priv = mem;
	*out = &mem->cat;
	return KR_OK;
}

kr_status kr_catalogue_default(struct kr_catalogue **out, struct kr_error *err)
{
	kr_status st = kr_catalogue_parse(kr_embedded_catalogue, kr_embedded_catalogue_len, out, err);
	if (st)
		kr_error_prefix(err, "the built-in catalogue (schema/catalogue.ini)");
	return st;
}

void kr_catalogue_free(struct kr_catalogue *cat)
{
	struct catalogue_mem *mem;

	if (!cat)
		return;
	mem = cat->priv;
	assert(&mem->cat == cat);
	kr_arena_release(&mem->arena);
	free(mem);
}

/* ---- Lookups and labels ---- */

const struct kr_kind_def *kr_catalogue_kind(const struct kr_catalogue *cat, const char *kind)
{
	if (!cat || !kind)
		return NULL;
	for (size_t i = 0; i < cat->nkinds; i++)
		if (strcmp(cat->kinds[i].name, kind) == 0)
			return &cat->kinds[i];
	return NULL;
}

const struct kr_field_def *kr_catalogue_field(const struct kr_kind_def *kind, const char *field)
{
	if (!kind || !field)
		return NULL;
	for (size_t i = 0; i < kind->nfields; i++)
		if (strcmp(kind->fields[i].name, field) == 0)
			return &kind->fields[i];
	return NULL;
}

static const char *pick_label(const char *ja, const char *en, const char *name, const char *lang)
{
	bool want_en = lang && strcmp(lang, "en") == 0;
	const char *first = want_en ? en : ja, *second = want_en ? ja : en;
	return first ? first : second ? second : name;
}

const char *kr_field_label(const struct kr_field_def *f, const char *lang)
{
	return pick_label(f->label_ja, f->label_en, f->name, lang);
}

const char *kr_kind_label(const struct kr_kind_def *k, const char *lang)
{
	return pick_label(k->label_ja, k->label_en, k->name, lang);
}

const char *kr_field_value_label(const struct kr_field_def *f, const char *value, const char *lang)
{
	if (!value)
		return value;
	for (size_t i = 0; i < f->nvalues; i++)
		if (strcmp(f->values[i], value) == 0)
			return pick_label(f->values_ja[i], f->values_en[i], f->values[i], lang);
	return value;
}

/* ---- Values ---- */

/* "category: "lost" is not one of 漏えい, 紛失, ..." */
static kr_status enum_fail(const struct kr_field_def *f, const char *text, size_t len, struct kr_error *err)
{
	char list[400], q[QUOTE_MAX];
	size_t o = 0;

	list[0] = 0;
	for (size_t i = 0; i < f->nvalues && o < sizeof list; i++) {
		int n = snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", f->values[i]);
		if (n < 0)
			break;
		o += (size_t)n;
	}
	return kr_fail(err, KR_ERR_INVALID, "%s: \"%s\" is not one of %s", f->name, quote_text(q, sizeof q, text, len),
	               list);
}

/* A text's content: UTF-8, no control characters but newline and tab, not longer than the field allows. */
static kr_status check_text(const struct kr_field_def *f, const char *s, size_t len, struct kr_error *err)
{
	size_t at, max = f->max_len ? f->max_len : TEXT_DEFAULT_MAX;

	if (len > max)
		return kr_fail(err, KR_ERR_INVALID, "%s: %zu bytes is longer than the limit of %zu", f->name, len, max);
	switch (text_scan(s, len, true, &at)) {
	case TEXT_OK:
		return KR_OK;
	case TEXT_BAD_UTF8:
		return kr_fail(err, KR_ERR_INVALID, "%s: the text is not valid UTF-8 (at byte %zu); save it as UTF-8",
		               f->name, at + 1);
	case TEXT_CONTROL:
		return kr_fail(err, KR_ERR_INVALID,
		               "%s: the text contains a control character (byte %zu); only newline and tab are allowed",
		               f->name, at + 1);
	}
	return KR_OK;
}

/* Digits with an optional sign (signed) into *v. Returns false when not a number; *range says it was
 * one but out of range. */
static bool parse_int(const char *s, bool is_signed, int64_t *v, bool *range)
{
	const char *p = s;
	char *end;
	long long n;

	*range = false;
	if (is_signed && (*p == '-' || *p == '+'))
		p++;
	if (!is_digit(*p))
		return false;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (*end)
		return false;
	if (errno == ERANGE) {
		*range = true;
		return false;
	}
	*v = n;
	return true;
}

static bool parse_bool(const char *s, bool *b)
{
	static const char *const yes[] = {"yes", "true", "1", "はい"}, *const no[] = {"no", "false", "0", "いいえ"};

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (ascii_ieq(s, yes[i])) {
			*b = true;
			return true;
		}
		if (ascii_ieq(s, no[i])) {
			*b = false;
			return true;
		}
	}
	return false;
}

/* The index of the value text stands for, or -1: the stored value exactly, else any spelling without case. */
static long find_enum(const struct kr_field_def *f, const char *text)
{
	for (size_t i = 0; i < f->nvalues; i++)
		if (strcmp(f->values[i], text) == 0)
			return (long)i;
	for (size_t i = 0; i < f->nvalues; i++) {
		if (ascii_ieq(f->values[i], text) || (f->values_ja && ascii_ieq(f->values_ja[i], text)) ||
		    (f->values_en && ascii_ieq(f->values_en[i], text)))
			return (long)i;
		if (f->value_aliases)
			for (const char *const *a = f->value_aliases[i]; *a; a++)
				if (ascii_ieq(*a, text))
					return (long)i;
	}
	return -1;
}

kr_status kr_catalogue_parse_value_arena(const struct kr_field_def *f, const char *text, struct kr_arena *arena,
                                         struct kr_value *out, struct kr_error *err)
{
	struct kr_value v = {.type = KR_VAL_TEXT};
	size_t len;
	char q[QUOTE_MAX];
	bool range, b;
	kr_status st;
	long idx;

	assert(f && text && out);
	len = strlen(text);
	if (len == 0) {
		if (f->required)
			return kr_fail(err, KR_ERR_INVALID, "%s: a value is required (the field can't be cleared)",
			               f->name);
		*out = (struct kr_value){.type = KR_VAL_NULL};
		return KR_OK;
	}
	v.s = text;
	v.len = len;
	switch (f->type) {
	case KR_FT_TEXT:
		if ((st = check_text(f, text, len, err)))
			return st;
		break;
	case KR_FT_INTEGER:
		v.type = KR_VAL_INT;
		if (!parse_int(text, true, &v.i, &range))
			return kr_fail(err, KR_ERR_INVALID,
			               range
			                   ? "%s: \"%s\" is out of range (a whole number from -9223372036854775808 to "
			                     "9223372036854775807)"
			                   : "%s: \"%s\" is not a whole number",
			               f->name, quote_text(q, sizeof q, text, len));
		break;
	case KR_FT_COUNT:
		v.type = KR_VAL_INT;
		if (!parse_int(text, false, &v.i, &range))
			return kr_fail(err, KR_ERR_INVALID,
			               range ? "%s: \"%s\" is too large for a count"
			                     : "%s: \"%s\" is not a count (a whole number, 0 or more)",
			               f->name, quote_text(q, sizeof q, text, len));
		break;
	case KR_FT_BOOLEAN:
		if (!parse_bool(text, &b))
			return kr_fail(err, KR_ERR_INVALID,
			               "%s: \"%s\" is not yes or no (yes/no, true/false, 1/0, はい/いいえ)", f->name,
			               quote_text(q, sizeof q, text, len));
		v.type = KR_VAL_BOOL;
		v.i = b;
		break;
	case KR_FT_DATE:
		if (!is_date(text, len))
			return kr_fail(err, KR_ERR_INVALID, "%s: \"%s\" is not a date (YYYY-MM-DD)", f->name,
			               quote_text(q, sizeof q, text, len));
		break;
	case KR_FT_DATETIME:
		if (!is_datetime(text, len, arena != NULL))
			return kr_fail(err, KR_ERR_INVALID, "%s: \"%s\" is not a date and time (YYYY-MM-DDThh:mm)",
			               f->name, quote_text(q, sizeof q, text, len));
		break;
	case KR_FT_ENUM:
		if ((idx = find_enum(f, text)) < 0)
			return enum_fail(f, text, len, err);
		v.s = f->values[idx];
		v.len = strlen(v.s);
		break;
	default:
		return kr_fail(err, KR_ERR_INTERNAL, "%s: unknown field type %d", f->name, (int)f->type);
	}
	if (v.type == KR_VAL_TEXT && arena) {
		char *copy = kr_arena_strndup(arena, v.s, v.len);
		if (!copy)
			return kr_fail(err, KR_ERR_NOMEM, "%s: out of memory copying the value", f->name);
		if (f->type == KR_FT_DATETIME)
			copy[10] = 'T';
		v.s = copy;
	}
	if (v.type != KR_VAL_TEXT) {
		v.s = NULL;
		v.len = 0;
	}
	*out = v;
	return KR_OK;
}

kr_status kr_catalogue_parse_value(const struct kr_field_def *f, const char *text, struct kr_value *out,
                                   struct kr_error *err)
{
	return kr_catalogue_parse_value_arena(f, text, NULL, out, err);
}

kr_status kr_catalogue_check_value(const struct kr_field_def *f, const struct kr_value *v, struct kr_error *err)
{
	char q[QUOTE_MAX];

	assert(f);
	if (!v || v->type == KR_VAL_NULL) {
		if (f->required)
			return kr_fail(err, KR_ERR_INVALID, "%s: a value is required", f->name);
		return KR_OK;
	}
	switch (f->type) {
	case KR_FT_TEXT:
	case KR_FT_DATE:
	case KR_FT_DATETIME:
	case KR_FT_ENUM:
		if (v->type != KR_VAL_TEXT || !v->s)
			break;
		if (memchr(v->s, 0, v->len))
			return kr_fail(err, KR_ERR_INVALID, "%s: the text contains a NUL byte", f->name);
		if (v->len == 0)
			return kr_fail(err, KR_ERR_INVALID, "%s: an empty text must be sent as null", f->name);
		if (f->type == KR_FT_TEXT)
			return check_text(f, v->s, v->len, err);
		if (f->type == KR_FT_DATE && !is_date(v->s, v->len))
			return kr_fail(err, KR_ERR_INVALID, "%s: \"%s\" is not a date (YYYY-MM-DD)", f->name,
			               quote_text(q, sizeof q, v->s, v->len));
		if (f->type == KR_FT_DATETIME && !is_datetime(v->s, v->len, false))
			return kr_fail(err, KR_ERR_INVALID, "%s: \"%s\" is not a date and time (YYYY-MM-DDThh:mm)",
			               f->name, quote_text(q, sizeof q, v->s, v->len));
		if (f->type == KR_FT_ENUM) {
			for (size_t i = 0; i < f->nvalues; i++)
				if (strlen(f->values[i]) == v->len && memcmp(f->values[i], v->s, v->len) == 0)
					return KR_OK;
			return enum_fail(f, v->s, v->len, err);
		}
		return KR_OK;
	case KR_FT_INTEGER:
		if (v->type == KR_VAL_INT)
			return KR_OK;
		break;
	case KR_FT_COUNT:
		if (v->type != KR_VAL_INT)
			break;
		if (v->i < 0)
			return kr_fail(err, KR_ERR_INVALID, "%s: %lld is not a count (a whole number, 0 or more)",
			               f->name, (long long)v->i);
		return KR_OK;
	case KR_FT_BOOLEAN:
		if (v->type != KR_VAL_BOOL)
			break;
		if (v->i != 0 && v->i != 1)
			return kr_fail(err, KR_ERR_INVALID, "%s: a boolean must be 0 or 1, not %lld", f->name,
			               (long long)v->i);
		return KR_OK;
	default:
		return kr_fail(err, KR_ERR_INTERNAL, "%s: unknown field type %d", f->name, (int)f->type);
	}
	return kr_fail(err, KR_ERR_INVALID, "%s: expected %s, got %s", f->name, type_expectation(f->type),
	               v->type == KR_VAL_TEXT && !v->s ? "text without a string" : value_type_name(v->type));
}

kr_status kr_catalogue_check_required(const struct kr_kind_def *kind, const char *const *names, size_t n,
                                      struct kr_error *err)
{
	char missing[400];
	size_t o = 0, nmissing = 0;

	assert(kind && (names || n == 0));
	missing[0] = 0;
	for (size_t i = 0; i < kind->nfields; i++) {
		const struct kr_field_def *f = &kind->fields[i];
		bool found = false;

		if (!f->required)
			continue;
		for (size_t j = 0; j < n && !found; j++)
			found = names[j] && strcmp(names[j], f->name) == 0;
		if (found)
			continue;
		if (o < sizeof missing) {
			int w = snprintf(missing + o, sizeof missing - o, "%s%s", nmissing ? ", " : "", f->name);
			if (w > 0)
				o += (size_t)w;
		}
		nmissing++;
	}
	if (nmissing)
		return kr_fail(err, KR_ERR_INVALID, "%s: required field%s missing: %s", kind->name,
		               nmissing > 1 ? "s" : "", missing);
	return KR_OK;
}
