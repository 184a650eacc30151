/* print.c: record output for the command lines (table, TSV, JSON, one record in full), exit codes, files. */
#include "kiroku/print.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int kr_exit_code(kr_status s)
{
	switch (s) {
	case KR_OK:
		return KR_EXIT_OK;
	case KR_ERR_CONFIG:
		return KR_EXIT_USAGE;
	case KR_ERR_INVALID:
	case KR_ERR_MALFORMED:
	case KR_ERR_TOO_BIG:
	case KR_ERR_NOT_FOUND:
		return KR_EXIT_INVALID;
	case KR_ERR_FORBIDDEN:
	case KR_ERR_CONFLICT:
		return KR_EXIT_REFUSED;
	case KR_ERR_TLS:
	case KR_ERR_NETWORK:
		return KR_EXIT_NETWORK;
	case KR_ERR_GAP:
		return KR_EXIT_GAP;
	case KR_ERR_NOMEM:
	case KR_ERR_IO:
	case KR_ERR_STORE:
	case KR_ERR_NOT_STORE:
	case KR_ERR_TOO_NEW:
	case KR_ERR_BUSY:
	case KR_ERR_INTERNAL:
		return KR_EXIT_STORE;
	}
	return KR_EXIT_STORE;
}

kr_status kr_print_format_parse(const char *text, enum kr_print_format *out, struct kr_error *err)
{
	if (strcmp(text, "table") == 0)
		*out = KR_PRINT_TABLE;
	else if (strcmp(text, "tsv") == 0)
		*out = KR_PRINT_TSV;
	else if (strcmp(text, "json") == 0)
		*out = KR_PRINT_JSON;
	else
		return kr_fail(err, KR_ERR_INVALID, "--format %s: use table, tsv or json", text);
	return KR_OK;
}

/* ---- Words of the output in both languages ---- */

enum word {
	W_ID,
	W_KIND,
	W_FACILITY,
	W_DATE,
	W_STATUS,
	W_CATEGORY,
	W_DESCRIPTION,
	W_CREATED,
	W_UPDATED,
	W_DELETED,
	W_YES,
	W_NO,
	W_FIELDS,
	W_CONFLICTS,
	W_KEPT,
	W_LOST,
	W_OPEN,
	W_RESOLVED,
	W_RECORD,
	W_NONE,
	W_S_KIND,
	W_S_FACILITY,
	W_S_STATE,
	W_ACTIVE,
	W_COUNT
};

static const char *const words[W_COUNT][2] = {
    [W_ID] = {"ID", "ID"},
    [W_KIND] = {"KIND", "種類"},
    [W_FACILITY] = {"FACILITY", "施設"},
    [W_DATE] = {"DATE", "日付"},
    [W_STATUS] = {"STATUS", "状態"},
    [W_CATEGORY] = {"CATEGORY", "区分"},
    [W_DESCRIPTION] = {"DESCRIPTION", "内容"},
    [W_CREATED] = {"Created", "作成"},
    [W_UPDATED] = {"Updated", "更新"},
    [W_DELETED] = {"deleted", "削除済み"},
    [W_YES] = {"yes", "はい"},
    [W_NO] = {"no", "いいえ"},
    [W_FIELDS] = {"Fields", "項目"},
    [W_CONFLICTS] = {"Conflicts", "競合"},
    [W_KEPT] = {"kept", "採用"},
    [W_LOST] = {"lost", "不採用"},
    [W_OPEN] = {"open", "未解決"},
    [W_RESOLVED] = {"resolved", "解決済み"},
    [W_RECORD] = {"record", "記録"},
    [W_NONE] = {"none", "なし"},
    [W_S_KIND] = {"Kind", "種類"},
    [W_S_FACILITY] = {"Facility", "施設"},
    [W_S_STATE] = {"State", "状態"},
    [W_ACTIVE] = {"active", "有効"},
};

static const char *word(enum word w, const char *lang)
{
	return words[w][lang && strcmp(lang, "en") == 0 ? 0 : 1];
}

/* ---- Display width ---- */

/* Decodes one UTF-8 character; returns the bytes it takes (1 for an invalid byte, *cp = U+FFFD). */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t v;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		v = c & 0x07;
	} else {
		*cp = 0xfffd;
		return 1;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*cp = 0xfffd;
			return 1;
		}
		v = (v << 6) | (s[i] & 0x3f);
	}
	*cp = v;
	return n;
}

/* Columns a character takes in a terminal: East Asian wide and fullwidth characters take two. */
static size_t char_width(uint32_t c)
{
	static const uint32_t zero[][2] = {{0x0300, 0x036f}, {0x200b, 0x200f}, {0x3099, 0x309a}, {0xfe00, 0xfe0f}};
	static const uint32_t wide[][2] = {
	    {0x1100, 0x115f}, {0x2e80, 0x303e},   {0x3041, 0x33ff},   {0x3400, 0x4dbf},   {0x4e00, 0x9fff},
	    {0xa000, 0xa4cf}, {0xac00, 0xd7a3},   {0xf900, 0xfaff},   {0xfe30, 0xfe4f},   {0xff00, 0xff60},
	    {0xffe0, 0xffe6}, {0x1f300, 0x1f64f}, {0x1f900, 0x1f9ff}, {0x20000, 0x3fffd},
	};
	for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
		if (c >= zero[i][0] && c <= zero[i][1])
			return 0;
	for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
		if (c >= wide[i][0] && c <= wide[i][1])
			return 2;
	return 1;
}

size_t kr_print_width(const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t w = 0;
	uint32_t cp;

	while (*s) {
		s += utf8_next(s, &cp);
		w += char_width(cp);
	}
	return w;
}

kr_status kr_print_cell(struct kr_buf *out, const char *text, size_t width, bool pad)
{
	const unsigned char *s = (const unsigned char *)(text ? text : "");
	bool cut = kr_print_width((const char *)s) > width;
	size_t room = cut && width ? width - 1 : width, used = 0;
	kr_status st = KR_OK;
	uint32_t cp;

	while (*s && !st) {
		size_t n = utf8_next(s, &cp), w = char_width(cp);
		if (used + w > room)
			break;
		if (cp < 0x20 || cp == 0x7f)
			st = kr_buf_append(out, " ", 1);
		else if (cp == 0xfffd && n == 1)
			st = kr_buf_append(out, "?", 1);
		else
			st = kr_buf_append(out, s, n);
		used += w;
		s += n;
	}
	if (!st && cut && width) {
		st = kr_buf_append(out, "…", strlen("…"));
		used++;
	}
	while (!st && pad && used < width) {
		st = kr_buf_append(out, " ", 1);
		used++;
	}
	return st;
}

/* ---- Values ---- */

/* The value as people read it: enumeration values and booleans in lang. */
static kr_status value_text(const struct kr_field_def *f, const struct kr_value *v, const char *lang,
                            struct kr_buf *out)
{
	switch (v->type) {
	case KR_VAL_TEXT:
		if (f && f->type == KR_FT_ENUM)
			return kr_buf_printf(out, "%s", kr_field_value_label(f, v->s, lang));
		return kr_buf_append(out, v->s, v->len);
	case KR_VAL_INT:
		return kr_buf_printf(out, "%" PRId64, v->i);
	case KR_VAL_BOOL:
		return kr_buf_printf(out, "%s", word(v->i ? W_YES : W_NO, lang));
	case KR_VAL_NULL:
		break;
	}
	return KR_OK;
}

/* The value as stored, for scripts: text as is, numbers in decimal, booleans as true/false. */
static kr_status value_raw(const struct kr_value *v, struct kr_buf *out)
{
	switch (v->type) {
	case KR_VAL_TEXT:
		return kr_buf_append(out, v->s, v->len);
	case KR_VAL_INT:
		return kr_buf_printf(out, "%" PRId64, v->i);
	case KR_VAL_BOOL:
		return kr_buf_printf(out, "%s", v->i ? "true" : "false");
	case KR_VAL_NULL:
		break;
	}
	return KR_OK;
}

static kr_status tsv_escape(struct kr_buf *out, const char *s, size_t len)
{
	kr_status st = KR_OK;
	for (size_t i = 0; i < len && !st; i++) {
		switch (s[i]) {
		case '\\':
			st = kr_buf_append(out, "\\\\", 2);
			break;
		case '\t':
			st = kr_buf_append(out, "\\t", 2);
			break;
		case '\n':
			st = kr_buf_append(out, "\\n", 2);
			break;
		case '\r':
			st = kr_buf_append(out, "\\r", 2);
			break;
		default:
			st = kr_buf_append(out, &s[i], 1);
		}
	}
	return st;
}

static kr_status json_string(struct kr_buf *out, const char *s, size_t len)
{
	kr_status st = kr_buf_append(out, "\"", 1);
	for (size_t i = 0; i < len && !st; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			st = kr_buf_printf(out, "\\%c", c);
		else if (c == '\n')
			st = kr_buf_append(out, "\\n", 2);
		else if (c == '\t')
			st = kr_buf_append(out, "\\t", 2);
		else if (c < 0x20 || c == 0x7f)
			st = kr_buf_printf(out, "\\u%04x", c);
		else
			st = kr_buf_append(out, &s[i], 1);
	}
	return st ? st : kr_buf_append(out, "\"", 1);
}

static kr_status json_value(struct kr_buf *out, const struct kr_value *v)
{
	switch (v->type) {
	case KR_VAL_TEXT:
		return json_string(out, v->s, v->len);
	case KR_VAL_INT:
		return kr_buf_printf(out, "%" PRId64, v->i);
	case KR_VAL_BOOL:
		return kr_buf_printf(out, "%s", v->i ? "true" : "false");
	case KR_VAL_NULL:
		break;
	}
	return kr_buf_printf(out, "null");
}

static const char *field_text(const struct kr_record *rec, const char *name)
{
	const struct kr_field_state *f = kr_record_field(rec, name);
	return f && f->value.type == KR_VAL_TEXT ? f->value.s : NULL;
}

/* ---- The summary of a record: the columns of list ---- */

struct summary {
	const char *date;
	const struct kr_field_def *status_def, *category_def;
	const struct kr_value *status, *category;
	const char *status_default; /* a kind with a status, a record without one: its first value */
	const char *description;
};

static void summarise(const struct kr_kind_def *kd, const struct kr_record *rec, struct summary *sm)
{
	memset(sm, 0, sizeof *sm);
	if (!kd) {
		/* A system kind (conflict entries) or one of a newer catalogue: what its fields say. */
		const struct kr_field_state *f = kr_record_field(rec, "status");
		sm->status = f ? &f->value : NULL;
		f = kr_record_field(rec, "field");
		sm->category = f ? &f->value : NULL;
		sm->description = field_text(rec, "record");
		return;
	}
	for (size_t i = 0; i < kd->nfields; i++) {
		const struct kr_field_def *d = &kd->fields[i];
		const struct kr_field_state *f = kr_record_field(rec, d->name);

		if (!sm->date && (d->type == KR_FT_DATE || d->type == KR_FT_DATETIME) && f &&
		    f->value.type == KR_VAL_TEXT)
			sm->date = f->value.s;
		if (d->type == KR_FT_ENUM && strcmp(d->name, "status") == 0) {
			sm->status_def = d;
			sm->status = f ? &f->value : NULL;
			sm->status_default = d->nvalues ? d->values[0] : NULL;
		} else if (d->type == KR_FT_ENUM && !sm->category_def) {
			sm->category_def = d;
			sm->category = f ? &f->value : NULL;
		}
		if (d->type == KR_FT_TEXT && f && f->value.type == KR_VAL_TEXT &&
		    (!sm->description || strcmp(d->name, "description") == 0))
			sm->description = f->value.s;
	}
}

struct list_ctx {
	const struct kr_catalogue *cat;
	enum kr_print_format format;
	const char *lang;
	bool with_facility;
	FILE *out;
	struct kr_buf line, cell;
	size_t count;
};

#define COL_ID          26
#define COL_KIND        16
#define COL_FACILITY    16
#define COL_DATE        16
#define COL_STATUS      12
#define COL_CATEGORY    14
#define COL_DESCRIPTION 40

/* A table cell of width columns, cut with an ellipsis if longer, then the two spaces between columns. */
static kr_status col(struct kr_buf *b, const char *text, size_t width)
{
	kr_status st = kr_print_cell(b, text, width, true);
	return st ? st : kr_buf_append(b, "  ", 2);
}

static kr_status emit(struct list_ctx *lc, struct kr_error *err)
{
	if (fwrite(lc->line.data, 1, lc->line.len, lc->out) != lc->line.len)
		return kr_fail(err, KR_ERR_IO, "writing the output: %s", strerror(errno));
	return KR_OK;
}

static kr_status table_header(struct list_ctx *lc, struct kr_error *err)
{
	struct kr_buf *b = &lc->line;
	kr_status st;

	b->len = 0;
	st = col(b, word(W_ID, lc->lang), COL_ID);
	if (!st)
		st = col(b, word(W_KIND, lc->lang), COL_KIND);
	if (!st && lc->with_facility)
		st = col(b, word(W_FACILITY, lc->lang), COL_FACILITY);
	if (!st)
		st = col(b, word(W_DATE, lc->lang), COL_DATE);
	if (!st)
		st = col(b, word(W_STATUS, lc->lang), COL_STATUS);
	if (!st)
		st = col(b, word(W_CATEGORY, lc->lang), COL_CATEGORY);
	if (!st)
		st = kr_buf_printf(b, "%s\n", word(W_DESCRIPTION, lc->lang));
	if (st)
		return kr_fail(err, st, "printing the list: %s", kr_status_name(st));
	return emit(lc, err);
}

/* The text of an enumeration cell: the value's label, or the default status for a record without one. */
static kr_status enum_cell(struct list_ctx *lc, const struct kr_field_def *d, const struct kr_value *v,
                           const char *fallback, struct kr_buf *out)
{
	if (v && v->type != KR_VAL_NULL)
		return lc->format == KR_PRINT_TABLE ? value_text(d, v, lc->lang, out) : value_raw(v, out);
	if (fallback)
		return kr_buf_printf(out, "%s",
		                     lc->format == KR_PRINT_TABLE && d ? kr_field_value_label(d, fallback, lc->lang)
		                                                       : fallback);
	return KR_OK;
}

static kr_status table_row(struct list_ctx *lc, const struct kr_record *rec, const struct summary *sm)
{
	struct kr_buf *b = &lc->line, *c = &lc->cell;
	char id[KR_ULID_LEN + 1];
	kr_status st;

	kr_ulid_format(&rec->id, id);
	b->len = 0;
	st = col(b, id, COL_ID);
	if (!st)
		st = col(b, rec->kind, COL_KIND);
	if (!st && lc->with_facility)
		st = col(b, rec->facility, COL_FACILITY);
	if (!st)
		st = col(b, sm->date, COL_DATE);
	c->len = 0;
	if (!st && rec->deleted)
		st = kr_buf_printf(c, "%s", word(W_DELETED, lc->lang));
	else if (!st)
		st = enum_cell(lc, sm->status_def, sm->status, sm->status_default, c);
	if (!st && !(st = kr_buf_terminate(c)))
		st = col(b, (const char *)c->data, COL_STATUS);
	c->len = 0;
	if (!st)
		st = enum_cell(lc, sm->category_def, sm->category, NULL, c);
	if (!st && !(st = kr_buf_terminate(c)))
		st = col(b, (const char *)c->data, COL_CATEGORY);
	if (!st)
		st = kr_print_cell(b, sm->description, COL_DESCRIPTION, false);
	if (!st)
		st = kr_buf_append(b, "\n", 1);
	return st;
}

static kr_status tsv_row(struct list_ctx *lc, const struct kr_record *rec, const struct summary *sm)
{
	struct kr_buf *b = &lc->line;
	char id[KR_ULID_LEN + 1];
	const char *d = sm->description ? sm->description : "";
	kr_status st;

	kr_ulid_format(&rec->id, id);
	b->len = 0;
	st = kr_buf_printf(b, "%s\t%s\t%s\t%d\t%s\t", id, rec->kind, rec->facility, rec->deleted ? 1 : 0,
	                   sm->date ? sm->date : "");
	if (!st)
		st = enum_cell(lc, sm->status_def, sm->status, sm->status_default, b);
	if (!st)
		st = kr_buf_append(b, "\t", 1);
	if (!st)
		st = enum_cell(lc, sm->category_def, sm->category, NULL, b);
	if (!st)
		st = kr_buf_append(b, "\t", 1);
	if (!st)
		st = tsv_escape(b, d, strlen(d));
	if (!st)
		st = kr_buf_append(b, "\n", 1);
	return st;
}

static kr_status json_row(struct list_ctx *lc, const struct kr_record *rec)
{
	struct kr_buf *b = &lc->line;
	char id[KR_ULID_LEN + 1];
	bool first = true;
	kr_status st;

	kr_ulid_format(&rec->id, id);
	b->len = 0;
	st = kr_buf_printf(b, "%s\n  {\"id\": \"%s\", \"kind\": ", lc->count ? "," : "", id);
	if (!st)
		st = json_string(b, rec->kind, strlen(rec->kind));
	if (!st)
		st = kr_buf_printf(b, ", \"facility\": ");
	if (!st)
		st = json_string(b, rec->facility, strlen(rec->facility));
	if (!st)
		st = kr_buf_printf(b, ", \"deleted\": %s, \"fields\": {", rec->deleted ? "true" : "false");
	for (size_t i = 0; i < rec->nfields && !st; i++) {
		const struct kr_field_state *f = &rec->fields[i];
		if (f->name[0] == '_')
			continue;
		st = kr_buf_printf(b, "%s", first ? "" : ", ");
		if (!st)
			st = json_string(b, f->name, strlen(f->name));
		if (!st)
			st = kr_buf_append(b, ": ", 2);
		if (!st)
			st = json_value(b, &f->value);
		first = false;
	}
	if (!st)
		st = kr_buf_printf(b, "}}");
	return st;
}

static kr_status list_one(void *ctx, const struct kr_record *rec, struct kr_error *err)
{
	struct list_ctx *lc = ctx;
	struct summary sm;
	kr_status st;

	summarise(kr_catalogue_kind(lc->cat, rec->kind), rec, &sm);
	if (lc->format == KR_PRINT_TABLE)
		st = table_row(lc, rec, &sm);
	else if (lc->format == KR_PRINT_TSV)
		st = tsv_row(lc, rec, &sm);
	else
		st = json_row(lc, rec);
	if (st)
		return kr_fail(err, st, "printing the list: %s", kr_status_name(st));
	if ((st = emit(lc, err)))
		return st;
	lc->count++;
	return KR_OK;
}

kr_status kr_print_list(struct kr_store *st, const struct kr_list_filter *f, enum kr_print_format format,
                        const char *lang, FILE *out, size_t *count, struct kr_error *err)
{
	struct list_ctx lc = {.cat = kr_store_catalogue(st), .format = format, .lang = lang, .out = out};
	kr_status s = KR_OK;

	lc.with_facility = kr_store_role(st) == KR_ROLE_HUB;
	kr_buf_init(&lc.line, 0);
	kr_buf_init(&lc.cell, 0);
	if (format == KR_PRINT_TABLE)
		s = table_header(&lc, err);
	else if (format == KR_PRINT_JSON && fputs("[", out) == EOF)
		s = kr_fail(err, KR_ERR_IO, "writing the output: %s", strerror(errno));
	if (!s)
		s = kr_record_list(st, f, list_one, &lc, err);
	if (!s && format == KR_PRINT_JSON && fputs(lc.count ? "\n]\n" : "]\n", out) == EOF)
		s = kr_fail(err, KR_ERR_IO, "writing the output: %s", strerror(errno));
	if (count)
		*count = lc.count;
	kr_buf_release(&lc.line);
	kr_buf_release(&lc.cell);
	return s;
}

/* ---- One record in full ---- */

static kr_status version_text(struct kr_buf *b, const struct kr_version *v)
{
	char hlc[64];
	kr_hlc_format(v->hlc, hlc);
	return kr_buf_printf(b, "%s %s", hlc, v->node ? v->node : "-");
}

/* "label (name): value  [version]"; lines after the first of a multi-line value are indented. */
static kr_status field_line(struct kr_buf *b, const struct kr_field_def *d, const struct kr_field_state *f,
                            const char *lang, struct kr_buf *scratch)
{
	kr_status st;

	if (d)
		st = kr_buf_printf(b, "  %s (%s): ", kr_field_label(d, lang), f->name);
	else
		st = kr_buf_printf(b, "  %s: ", f->name);
	scratch->len = 0;
	if (!st)
		st = value_text(d, &f->value, lang, scratch);
	for (size_t i = 0; i < scratch->len && !st; i++)
		st =
		    scratch->data[i] == '\n' ? kr_buf_append(b, "\n      ", 7) : kr_buf_append(b, &scratch->data[i], 1);
	if (!st)
		st = kr_buf_append(b, "  [", 3);
	if (!st)
		st = version_text(b, &f->version);
	if (!st)
		st = kr_buf_append(b, "]\n", 2);
	return st;
}

struct conflict_ctx {
	const char *record; /* the record the entries must name, or NULL for every entry */
	const char *lang;
	enum kr_print_format format;
	struct kr_buf *out;
	size_t count;
};

/* "採用 "X" (n2 2026-...)": one side of a conflict. */
static kr_status conflict_side(struct kr_buf *b, const struct kr_record *c, const char *prefix, const char *lang)
{
	char name[32];
	const struct kr_field_state *v, *node, *hlc;
	struct kr_version ver = {0, NULL};
	kr_status st;

	snprintf(name, sizeof name, "%s_value", prefix);
	v = kr_record_field(c, name);
	snprintf(name, sizeof name, "%s_node", prefix);
	node = kr_record_field(c, name);
	snprintf(name, sizeof name, "%s_hlc", prefix);
	hlc = kr_record_field(c, name);
	if (node && node->value.type == KR_VAL_TEXT)
		ver.node = node->value.s;
	if (hlc && hlc->value.type == KR_VAL_INT)
		ver.hlc = (uint64_t)hlc->value.i;
	st = kr_buf_printf(b, "%s ", word(strcmp(prefix, "winner") == 0 ? W_KEPT : W_LOST, lang));
	if (!st && (!v || v->value.type == KR_VAL_NULL))
		st = kr_buf_printf(b, "(%s)", word(W_NONE, lang));
	else if (!st)
		st = json_value(b, &v->value);
	if (!st)
		st = kr_buf_append(b, " (", 2);
	if (!st)
		st = version_text(b, &ver);
	if (!st)
		st = kr_buf_append(b, ")", 1);
	return st;
}

static kr_status conflict_one(void *ctx, const struct kr_record *c, struct kr_error *err)
{
	struct conflict_ctx *cc = ctx;
	const char *record = field_text(c, "record"), *field = field_text(c, "field"), *type = field_text(c, "type");
	const char *status = field_text(c, "status");
	struct kr_buf *b = cc->out;
	char id[KR_ULID_LEN + 1];
	kr_status st;

	if (cc->record && (!record || strcmp(record, cc->record) != 0))
		return KR_OK;
	kr_ulid_format(&c->id, id);
	if (!status)
		status = "open";
	if (cc->format == KR_PRINT_TSV) {
		static const char *const cols[] = {"winner_value", "winner_node", "winner_hlc",
		                                   "loser_value",  "loser_node",  "loser_hlc"};
		st = kr_buf_printf(b, "%s\t%s\t%s\t%s\t%s\t%s", id, c->facility, record ? record : "",
		                   field ? field : "", type ? type : "", status);
		for (size_t i = 0; i < sizeof cols / sizeof cols[0] && !st; i++) {
			const struct kr_field_state *f = kr_record_field(c, cols[i]);
			st = kr_buf_append(b, "\t", 1);
			if (!st && f) {
				struct kr_buf raw;
				kr_buf_init(&raw, 0);
				st = value_raw(&f->value, &raw);
				if (!st)
					st = tsv_escape(b, (const char *)raw.data, raw.len);
				kr_buf_release(&raw);
			}
		}
		if (!st)
			st = kr_buf_append(b, "\n", 1);
	} else {
		const char *label = strcmp(status, "open") == 0       ? word(W_OPEN, cc->lang)
		                    : strcmp(status, "resolved") == 0 ? word(W_RESOLVED, cc->lang)
		                                                      : status;
		st = kr_buf_printf(b, "  %s %s [%s]", id, label, c->facility);
		if (!st && !cc->record)
			st = kr_buf_printf(b, " %s %s", word(W_RECORD, cc->lang), record ? record : "?");
		if (!st)
			st = kr_buf_printf(b, " %s%s: ", field ? field : "?",
			                   type && strcmp(type, "delete") == 0 ? " (delete)" : "");
		if (!st)
			st = conflict_side(b, c, "winner", cc->lang);
		if (!st)
			st = kr_buf_append(b, ", ", 2);
		if (!st)
			st = conflict_side(b, c, "loser", cc->lang);
		if (!st)
			st = kr_buf_append(b, "\n", 1);
	}
	if (st)
		return kr_fail(err, st, "printing conflicts: %s", kr_status_name(st));
	cc->count++;
	return KR_OK;
}

kr_status kr_print_record(struct kr_store *st, const struct kr_record *rec, const char *lang, FILE *out,
                          struct kr_error *err)
{
	const struct kr_kind_def *kd = kr_catalogue_kind(kr_store_catalogue(st), rec->kind);
	struct kr_list_filter f = {
	    .kind = "_conflict", .facility = rec->facility, .include_deleted = false, .system = true};
	struct kr_buf b, scratch, conflicts;
	struct conflict_ctx cc;
	char id[KR_ULID_LEN + 1];
	kr_status s = KR_OK;

	kr_buf_init(&b, 0);
	kr_buf_init(&scratch, 0);
	kr_buf_init(&conflicts, 0);
	kr_ulid_format(&rec->id, id);
#define LINE(w, ...)                                                                                                   \
	do {                                                                                                           \
		if (!s)                                                                                                \
			s = kr_print_cell(&b, word(w, lang), 10, true);                                                \
		if (!s)                                                                                                \
			s = kr_buf_printf(&b, __VA_ARGS__);                                                            \
	} while (0)
	LINE(W_ID, "%s\n", id);
	if (kd)
		LINE(W_S_KIND, "%s (%s)\n", kr_kind_label(kd, lang), rec->kind);
	else
		LINE(W_S_KIND, "%s\n", rec->kind);
	LINE(W_S_FACILITY, "%s\n", rec->facility);
	LINE(W_S_STATE, "%s\n", word(rec->deleted ? W_DELETED : W_ACTIVE, lang));
	if (!s && !(s = kr_print_cell(&b, word(W_CREATED, lang), 10, true))) {
		char hlc[64];
		kr_hlc_format(rec->created_hlc, hlc);
		s = kr_buf_printf(&b, "%s\n", hlc);
	}
	if (!s && !(s = kr_print_cell(&b, word(W_UPDATED, lang), 10, true))) {
		char hlc[64];
		kr_hlc_format(rec->updated_hlc, hlc);
		s = kr_buf_printf(&b, "%s\n", hlc);
	}
#undef LINE
	if (!s)
		s = kr_buf_printf(&b, "%s:\n", word(W_FIELDS, lang));
	/* Catalogue fields in the catalogue's order, then fields this catalogue does not know. */
	for (size_t i = 0; kd && i < kd->nfields && !s; i++) {
		const struct kr_field_state *fs = kr_record_field(rec, kd->fields[i].name);
		if (fs && fs->value.type != KR_VAL_NULL)
			s = field_line(&b, &kd->fields[i], fs, lang, &scratch);
	}
	for (size_t i = 0; i < rec->nfields && !s; i++) {
		const struct kr_field_state *fs = &rec->fields[i];
		if (fs->name[0] == '_' || (kd && kr_catalogue_field(kd, fs->name)) || fs->value.type == KR_VAL_NULL)
			continue;
		s = field_line(&b, NULL, fs, lang, &scratch);
	}
	if (s) {
		kr_fail(err, s, "printing the record: %s", kr_status_name(s));
		goto out;
	}
	if (rec->kind[0] != '_') {
		cc = (struct conflict_ctx){.record = id, .lang = lang, .format = KR_PRINT_TABLE, .out = &conflicts};
		if ((s = kr_record_list(st, &f, conflict_one, &cc, err)))
			goto out;
		if (cc.count && (s = kr_buf_printf(&b, "%s (%zu):\n", word(W_CONFLICTS, lang), cc.count)) == KR_OK)
			s = kr_buf_append(&b, conflicts.data, conflicts.len);
		if (s) {
			kr_fail(err, s, "printing the record: %s", kr_status_name(s));
			goto out;
		}
	}
	if (fwrite(b.data, 1, b.len, out) != b.len)
		s = kr_fail(err, KR_ERR_IO, "writing the output: %s", strerror(errno));
out:
	kr_buf_release(&b);
	kr_buf_release(&scratch);
	kr_buf_release(&conflicts);
	return s;
}

kr_status kr_print_conflicts(struct kr_store *st, const char *facility, bool include_resolved,
                             enum kr_print_format format, const char *lang, FILE *out, size_t *count,
                             struct kr_error *err)
{
	struct kr_list_filter f = {
	    .kind = "_conflict", .facility = facility, .status = include_resolved ? NULL : "open", .system = true};
	struct kr_buf b;
	struct conflict_ctx cc = {
	    .lang = lang, .format = format == KR_PRINT_TSV ? KR_PRINT_TSV : KR_PRINT_TABLE, .out = &b};
	kr_status s;

	kr_buf_init(&b, 0);
	s = kr_record_list(st, &f, conflict_one, &cc, err);
	if (!s && b.len && fwrite(b.data, 1, b.len, out) != b.len)
		s = kr_fail(err, KR_ERR_IO, "writing the output: %s", strerror(errno));
	if (count)
		*count = cc.count;
	kr_buf_release(&b);
	return s;
}

/* ---- Files ---- */

kr_status kr_file_read(const char *path, size_t max, struct kr_buf *out, struct kr_error *err)
{
	size_t before = out->len;
	struct stat sb;
	uint8_t chunk[65536];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kr_fail(err, errno == ENOENT || errno == ENOTDIR ? KR_ERR_INVALID : KR_ERR_IO,
		               "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return kr_fail(err, KR_ERR_INVALID, "%s is not a regular file", path);
	}
	if ((uint64_t)sb.st_size > max) {
		close(fd);
		return kr_fail(err, KR_ERR_TOO_BIG,
		               "%s is %lld bytes, more than the limit of %zu bytes; nothing was read", path,
		               (long long)sb.st_size, max);
	}
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		kr_status s;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			s = kr_fail(err, KR_ERR_IO, "cannot read %s: %s", path, strerror(errno));
		} else if (out->len - before + (size_t)n > max) {
			s = kr_fail(err, KR_ERR_TOO_BIG, "%s has grown past the limit of %zu bytes while being read",
			            path, max);
		} else if ((s = kr_buf_append(out, chunk, (size_t)n))) {
			kr_fail(err, s, "reading %s: %s", path, kr_status_name(s));
		}
		if (s) {
			close(fd);
			out->len = before;
			return s;
		}
	}
	close(fd);
	return KR_OK;
}

/* fsyncs the directory holding path, so a rename in it is durable. */
static void sync_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	int fd;

	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

kr_status kr_file_write(const char *path, const void *data, size_t len, struct kr_error *err)
{
	const uint8_t *p = data;
	size_t plen = strlen(path), left = len;
	char *tmp = malloc(plen + 16);
	kr_status s;
	int fd, e;

	if (!tmp)
		return kr_fail(err, KR_ERR_NOMEM, "out of memory writing %s", path);
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp-XXXXXX", 12);
	fd = mkstemp(tmp);
	if (fd < 0) {
		s = kr_fail(err, KR_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return s;
	}
	while (left) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		p += n;
		left -= (size_t)n;
	}
	if (fsync(fd) != 0)
		goto fail;
	e = close(fd);
	fd = -1;
	if (e != 0 || rename(tmp, path) != 0)
		goto fail;
	sync_dir_of(path);
	free(tmp);
	return KR_OK;
fail:
	e = errno;
	s = kr_fail(err, KR_ERR_IO, "cannot write %s: %s%s", path, strerror(e),
	            e == ENOSPC ? " (free some space and try again)" : "");
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return s;
}

kr_status kr_dir_make(const char *path, struct kr_error *err)
{
	char buf[4096];
	size_t len = strlen(path);
	struct stat sb;

	if (len == 0 || len >= sizeof buf)
		return kr_fail(err, KR_ERR_INVALID, "\"%s\" is not a usable directory path", path);
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != 0)
			continue;
		buf[i] = 0;
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return kr_fail(err, KR_ERR_IO, "cannot create the directory %s: %s", buf, strerror(errno));
		if (stat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode))
			return kr_fail(err, KR_ERR_IO, "%s exists and is not a directory", buf);
		buf[i] = path[i];
	}
	return KR_OK;
}
