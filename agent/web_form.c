/* web_form.c: the form of a record kind, generated from the catalogue, and its submission: each value checked
 * against its field with the error shown next to the field, in the session's language; a valid form becomes a
 * record of this agent (kr_record_create) and the browser is sent to the record's page.
 *
 * The same form corrects a record (/edit/ID): it starts with the record's values and carries them along as
 * hidden "base.FIELD" fields, so that only the fields the person changed are written (kr_record_edit), and a
 * field that a sync changed while the form was open is not overwritten unseen: the form comes back with the
 * new value named next to the field. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "web.h"

/* A radio group for a choice of at most this many values (yes/no/n.a. questions), a list box beyond. */
#define RADIO_MAX 4
/* Text fields longer than this get a text area. */
#define LINE_MAX_BYTES 400

/* Who makes a record of each kind. The catalogue has no mark for it, so the field is named here; a kind
 * missing from this table has no field for who recorded it (pi_file, audit_finding's auditor and risk's owner
 * name other people, not the recorder). training has none either: its attendee is filled in from the
 * remembered name, because staff mostly record their own attendance, but never changes it. */
static const struct {
	const char *kind, *field;
	bool remember;
} recorders[] = {
    {"incident", "reporter_name", true},      /* 報告者氏名 */
    {"pi_handling", "handled_by", true},      /* 取扱者 */
    {"self_inspection", "inspector", true},   /* 点検者 */
    {"contractor_check", "checked_by", true}, /* 確認者 */
    {"training", "attendee", false},          /* 受講者: filled in, never remembered */
};

const char *web_recorder_field(const char *kind, bool *remember)
{
	for (size_t i = 0; i < sizeof recorders / sizeof recorders[0]; i++)
		if (strcmp(recorders[i].kind, kind) == 0) {
			*remember = recorders[i].remember;
			return recorders[i].field;
		}
	*remember = false;
	return NULL;
}

/* What the form holds: per field of the kind (by index), the value typed and the error, if any. */
struct form_state {
	const struct kr_kind_def *kd;
	const struct kr_field_def *recorder;
	bool remember;
	const char **values;
	const char **errors;
	size_t nerrors;
	const char *failure; /* the store refused the record: its message */
	/* Correcting a record: its id, and per field the value the form started from (NULL for a new record). */
	const char *edit_id;
	const char **bases;
	bool changed_meanwhile; /* a sync changed a field the person changed too */
};

static bool form_init(struct web_req *r, struct form_state *fs, const struct kr_kind_def *kd)
{
	const char *rf;

	memset(fs, 0, sizeof *fs);
	fs->kd = kd;
	fs->values = kr_arena_alloc(&r->arena, (kd->nfields + 1) * sizeof *fs->values);
	fs->errors = kr_arena_alloc(&r->arena, (kd->nfields + 1) * sizeof *fs->errors);
	fs->bases = kr_arena_alloc(&r->arena, (kd->nfields + 1) * sizeof *fs->bases);
	if ((rf = web_recorder_field(kd->name, &fs->remember)))
		fs->recorder = kr_catalogue_field(kd, rf);
	if (fs->recorder && fs->recorder->operator_only)
		fs->recorder = NULL;
	if (!fs->values || !fs->errors || !fs->bases) {
		r->fail = KR_ERR_NOMEM;
		return false;
	}
	return true;
}

/* ---- Rendering ---- */

static void input_attrs(struct web_req *r, const struct form_state *fs, size_t i, bool first)
{
	const struct kr_field_def *f = &fs->kd->fields[i];

	web_printf(r, " name=\"%s\"", f->name);
	if (first)
		web_printf(r, " id=\"f-%s\"", f->name);
	if (f->required)
		web_raw(r, " required");
	if (fs->errors[i])
		web_raw(r, " aria-invalid=\"true\"");
}

/* aria-describedby: the error first (read out first), then the hint. */
static void described_by(struct web_req *r, const struct form_state *fs, size_t i, bool hint)
{
	const struct kr_field_def *f = &fs->kd->fields[i];

	if (!fs->errors[i] && !hint)
		return;
	web_raw(r, " aria-describedby=\"");
	if (fs->errors[i])
		web_printf(r, "e-%s%s", f->name, hint ? " " : "");
	if (hint)
		web_printf(r, "h-%s", f->name);
	web_raw(r, "\"");
}

static void label_text(struct web_req *r, const struct kr_field_def *f)
{
	web_text(r, kr_field_label(f, r->lang));
	if (f->required) {
		web_raw(r, " <span class=\"req\">");
		web_text(r, web_word(WW_REQUIRED, r->lang));
		web_raw(r, "</span>");
	}
}

static void hint_and_error(struct web_req *r, const struct form_state *fs, size_t i, const char *hint)
{
	const struct kr_field_def *f = &fs->kd->fields[i];

	if (hint) {
		web_printf(r, "<p class=\"hint\" id=\"h-%s\">", f->name);
		web_text(r, hint);
		web_raw(r, "</p>\n");
	}
	if (fs->errors[i]) {
		web_printf(r, "<p class=\"error\" id=\"e-%s\"><strong>", f->name);
		web_text(r, web_word(WW_FORM_ERROR_PREFIX, r->lang));
		web_raw(r, "</strong>");
		web_text(r, fs->errors[i]);
		web_raw(r, "</p>\n");
	}
}

static const char *hint_of(struct web_req *r, const struct form_state *fs, const struct kr_field_def *f)
{
	switch (f->type) {
	case KR_FT_DATETIME:
		return web_word(WW_HINT_DATETIME, r->lang);
	case KR_FT_DATE:
		return web_word(WW_HINT_DATE, r->lang);
	case KR_FT_COUNT:
		return web_word(WW_HINT_COUNT, r->lang);
	case KR_FT_INTEGER:
		return web_word(WW_HINT_INTEGER, r->lang);
	default:
		if (f == fs->recorder && !fs->edit_id)
			return web_word(fs->remember ? WW_RECORDER_HINT : WW_RECORDER_ATTENDEE_HINT, r->lang);
		return NULL;
	}
}

/* A choice as radio buttons in a fieldset: the legend is the label, each value its own label. */
static void radio_group(struct web_req *r, const struct form_state *fs, size_t i, const char *const *values,
                        const char *const *labels, size_t n, const char *hint)
{
	const struct kr_field_def *f = &fs->kd->fields[i];
	const char *cur = fs->values[i] ? fs->values[i] : "";

	web_printf(r, "<fieldset class=\"field choice%s\" id=\"w-%s\"", fs->errors[i] ? " has-error" : "", f->name);
	described_by(r, fs, i, hint != NULL);
	web_raw(r, ">\n<legend>");
	label_text(r, f);
	web_raw(r, "</legend>\n");
	hint_and_error(r, fs, i, hint);
	web_raw(r, "<div class=\"options\">\n");
	for (size_t k = 0; k < n; k++) {
		web_raw(r, "<label><input type=\"radio\" value=\"");
		web_text(r, values[k]);
		web_raw(r, "\"");
		input_attrs(r, fs, i, k == 0);
		if (strcmp(cur, values[k]) == 0)
			web_raw(r, " checked");
		web_raw(r, "> ");
		web_text(r, labels[k]);
		web_raw(r, "</label>\n");
	}
	web_raw(r, "</div>\n</fieldset>\n");
}

static void field_html(struct web_req *r, const struct form_state *fs, size_t i)
{
	const struct kr_field_def *f = &fs->kd->fields[i];
	const char *hint = hint_of(r, fs, f), *cur = fs->values[i] ? fs->values[i] : "";

	if (f->type == KR_FT_BOOLEAN) {
		const char *values[2] = {"yes", "no"};
		const char *labels[2] = {web_word(WW_YES, r->lang), web_word(WW_NO, r->lang)};
		radio_group(r, fs, i, values, labels, 2, hint);
		return;
	}
	if (f->type == KR_FT_ENUM && f->nvalues <= RADIO_MAX) {
		const char *labels[RADIO_MAX];
		for (size_t k = 0; k < f->nvalues; k++)
			labels[k] = kr_field_value_label(f, f->values[k], r->lang);
		radio_group(r, fs, i, (const char *const *)f->values, labels, f->nvalues, hint);
		return;
	}
	web_printf(r, "<div class=\"field%s\" id=\"w-%s\">\n<label for=\"f-%s\">", fs->errors[i] ? " has-error" : "",
	           f->name, f->name);
	label_text(r, f);
	web_raw(r, "</label>\n");
	hint_and_error(r, fs, i, hint);
	if (f->type == KR_FT_ENUM) {
		web_raw(r, "<select");
		input_attrs(r, fs, i, true);
		described_by(r, fs, i, hint != NULL);
		web_raw(r, ">\n<option value=\"\">");
		web_text(r, web_word(WW_CHOOSE, r->lang));
		web_raw(r, "</option>\n");
		for (size_t k = 0; k < f->nvalues; k++) {
			web_raw(r, "<option value=\"");
			web_text(r, f->values[k]);
			web_raw(r, strcmp(cur, f->values[k]) == 0 ? "\" selected>" : "\">");
			web_text(r, kr_field_value_label(f, f->values[k], r->lang));
			web_raw(r, "</option>\n");
		}
		web_raw(r, "</select>\n</div>\n");
		return;
	}
	if (f->type == KR_FT_TEXT && f->max_len > LINE_MAX_BYTES) {
		web_printf(r, "<textarea rows=\"%d\"", f->max_len >= 4000 ? 5 : 3);
		input_attrs(r, fs, i, true);
		described_by(r, fs, i, hint != NULL);
		web_raw(r, ">");
		web_text(r, cur);
		web_raw(r, "</textarea>\n</div>\n");
		return;
	}
	switch (f->type) {
	case KR_FT_DATE:
		web_raw(r, "<input type=\"date\"");
		break;
	case KR_FT_DATETIME:
		web_raw(r, "<input type=\"datetime-local\"");
		break;
	case KR_FT_COUNT:
	case KR_FT_INTEGER:
		/* Not type="number": what was typed comes back as typed, and the error says what is wrong. */
		web_raw(r, "<input type=\"text\" inputmode=\"numeric\" class=\"short\"");
		break;
	default:
		web_raw(r, "<input type=\"text\"");
		if (f == fs->recorder)
			web_raw(r, " autocomplete=\"name\"");
	}
	input_attrs(r, fs, i, true);
	described_by(r, fs, i, hint != NULL);
	web_raw(r, " value=\"");
	web_text(r, cur);
	web_raw(r, "\">\n</div>\n");
}

static void form_html(struct web_req *r, const struct form_state *fs, int status)
{
	const struct kr_kind_def *kd = fs->kd;

	web_page_begin(r, status, kr_kind_label(kd, r->lang));
	web_raw(r, "<h1>");
	web_text(r, kr_kind_label(kd, r->lang));
	if (fs->edit_id) {
		web_raw(r, " <span class=\"date\">");
		web_text(r, web_word(WW_EDIT_TITLE, r->lang));
		web_raw(r, "</span>");
	}
	web_raw(r, "</h1>\n");
	if (fs->nerrors || fs->failure) {
		/* Focused when the page opens, so that a screen reader reads it first. */
		web_raw(r,
		        "<div class=\"error-summary\" id=\"errors\" role=\"alert\" tabindex=\"-1\" autofocus>\n<h2>");
		if (fs->changed_meanwhile)
			web_text(r, web_word(WW_EDIT_CHANGED_TITLE, r->lang));
		else if (fs->nerrors)
			web_text(r, web_wordf(r, WW_FORM_ERRORS, fs->nerrors, 0));
		else
			web_text(r, web_word(WW_ERROR_TITLE, r->lang));
		web_raw(r, "</h2>\n<p>");
		web_text(r, web_word(fs->edit_id ? WW_EDIT_NOT_SAVED : WW_FORM_NOT_SAVED, r->lang));
		web_raw(r, "</p>\n");
		if (fs->failure) {
			web_raw(r, "<p>");
			web_text(r, web_word(WW_ERROR_DETAIL, r->lang));
			web_raw(r, " <code>");
			web_text(r, fs->failure);
			web_raw(r, "</code></p>\n");
		}
		if (fs->nerrors) {
			web_raw(r, "<ul>\n");
			for (size_t i = 0; i < kd->nfields; i++) {
				if (!fs->errors[i])
					continue;
				web_printf(r, "<li><a href=\"#f-%s\">", kd->fields[i].name);
				web_text(r, kr_field_label(&kd->fields[i], r->lang));
				web_raw(r, ": ");
				web_text(r, fs->errors[i]);
				web_raw(r, "</a></li>\n");
			}
			web_raw(r, "</ul>\n");
		}
		web_raw(r, "</div>\n");
	}
	web_raw(r, "<p class=\"lead\">");
	web_text(r, web_word(WW_FORM_INTRO, r->lang));
	if (kd->append_only) {
		web_raw(r, " <strong>");
		web_text(r, web_word(WW_FORM_LEDGER_NOTE, r->lang));
		web_raw(r, "</strong>");
	}
	web_raw(r, "</p>\n");
	if (fs->edit_id)
		web_printf(r, "<form class=\"record\" method=\"post\" action=\"/edit/%s\" accept-charset=\"utf-8\" "
		              "novalidate>\n",
		           fs->edit_id);
	else
		web_printf(r,
		           "<form class=\"record\" method=\"post\" action=\"/new/%s\" accept-charset=\"utf-8\" "
		           "novalidate>\n",
		           kd->name);
	web_token_field(r);
	web_raw(r, "\n");
	if (fs->edit_id)
		for (size_t i = 0; i < kd->nfields; i++) {
			if (kd->fields[i].operator_only)
				continue;
			web_printf(r, "<input type=\"hidden\" name=\"base.%s\" value=\"", kd->fields[i].name);
			web_text(r, fs->bases[i] ? fs->bases[i] : "");
			web_raw(r, "\">\n");
		}
	if (fs->recorder) {
		web_raw(r, "<section class=\"recorder\" aria-labelledby=\"recorder-h\">\n<h2 id=\"recorder-h\">");
		web_text(r, web_word(WW_RECORDER_TITLE, r->lang));
		web_raw(r, "</h2>\n");
		field_html(r, fs, (size_t)(fs->recorder - kd->fields));
		web_raw(r, "</section>\n");
	}
	for (size_t i = 0; i < kd->nfields; i++)
		if (!kd->fields[i].operator_only && &kd->fields[i] != fs->recorder)
			field_html(r, fs, i);
	web_raw(r, "<div class=\"actions\">\n<button type=\"submit\" class=\"primary\" id=\"submit\">");
	web_text(r, web_word(fs->edit_id ? WW_EDIT_SUBMIT : WW_FORM_SUBMIT, r->lang));
	if (fs->edit_id)
		web_printf(r, "</button>\n<a class=\"button secondary\" href=\"/record/%s\">", fs->edit_id);
	else
		web_raw(r, "</button>\n<a class=\"button secondary\" href=\"/\">");
	web_text(r, web_word(WW_FORM_CANCEL, r->lang));
	web_raw(r, "</a>\n</div>\n</form>\n");
	web_page_end(r);
}

/* ---- Defaults of a new form ---- */

/* Values a new form starts with where one is almost always right: the moment of a ledger entry, the day and
 * fiscal year (April to March) of a self-inspection, and who is recording. */
static void defaults(struct web_req *r, struct form_state *fs)
{
	time_t now = time(NULL);
	struct tm tm;
	char buf[32];

	if (!localtime_r(&now, &tm))
		return;
	for (size_t i = 0; i < fs->kd->nfields; i++) {
		const struct kr_field_def *f = &fs->kd->fields[i];
		const char *kind = fs->kd->name;
		buf[0] = 0;
		if (strcmp(kind, "pi_handling") == 0 && strcmp(f->name, "handled_at") == 0)
			strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M", &tm);
		else if (strcmp(kind, "self_inspection") == 0 && strcmp(f->name, "inspected_on") == 0)
			strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
		else if (strcmp(kind, "self_inspection") == 0 && strcmp(f->name, "fiscal_year") == 0)
			snprintf(buf, sizeof buf, "%d", tm.tm_year + 1900 - (tm.tm_mon < 3 ? 1 : 0));
		else if (f == fs->recorder && r->sess->recorder[0])
			fs->values[i] = r->sess->recorder;
		if (buf[0])
			fs->values[i] = kr_arena_strdup(&r->arena, buf);
	}
}

void web_page_new(struct web_req *r, const char *kind)
{
	const struct kr_kind_def *kd = kr_catalogue_kind(kr_store_catalogue(r->st), kind);
	struct form_state fs;

	if (!kd) {
		web_page_message(r, 404, WW_NOT_FOUND, NULL);
		return;
	}
	if (!form_init(r, &fs, kd))
		return;
	defaults(r, &fs);
	form_html(r, &fs, 200);
}

/* ---- Checking what was sent ---- */

static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* The error for a value the catalogue refused, in the session's language: what is wrong and how to write it. */
static const char *error_for(struct web_req *r, const struct kr_field_def *f, const char *text)
{
	size_t max = f->max_len ? f->max_len : 4096;

	switch (f->type) {
	case KR_FT_TEXT:
		if (strlen(text) > max)
			return web_wordf(r, WW_ERR_TOO_LONG, max / 3, utf8_chars(text));
		return web_word(WW_ERR_CHARACTERS, r->lang);
	case KR_FT_INTEGER:
		return web_word(WW_ERR_INTEGER, r->lang);
	case KR_FT_COUNT:
		return web_word(WW_ERR_COUNT, r->lang);
	case KR_FT_BOOLEAN:
		return web_word(WW_ERR_BOOLEAN, r->lang);
	case KR_FT_DATE:
		return web_word(WW_ERR_DATE, r->lang);
	case KR_FT_DATETIME:
		return web_word(WW_ERR_DATETIME, r->lang);
	case KR_FT_ENUM:
		return web_word(WW_ERR_CHOICE, r->lang);
	}
	return web_word(WW_ERR_CHARACTERS, r->lang);
}

/* What was typed, as the form keeps and compares it: a text's line breaks made "\n", a number's full-width
 * digits made ASCII, leading and trailing spaces removed. A copy in r's arena (NULL when out of memory). */
static char *normalised(struct web_req *r, const struct kr_field_def *f, const char *sent)
{
	char *text = kr_arena_strdup(&r->arena, sent ? sent : "");

	if (!text)
		return NULL;
	if (f->type == KR_FT_TEXT)
		web_text_trim(web_text_newlines(text));
	else if (f->type == KR_FT_COUNT || f->type == KR_FT_INTEGER)
		web_text_number(text);
	else
		web_text_trim(text);
	return text;
}

/* Reads and checks every field the form offers into fs (values and errors) and set (the valid, non-empty
 * values, as the store takes them). False when out of memory (r->fail is set). */
static bool read_fields(struct web_req *r, struct form_state *fs, struct kr_field_text *set, size_t *nset)
{
	const struct kr_kind_def *kd = fs->kd;
	struct kr_error err = {0};

	*nset = 0;
	for (size_t i = 0; i < kd->nfields; i++) {
		const struct kr_field_def *f = &kd->fields[i];
		struct kr_value v;
		char *text;

		if (f->operator_only)
			continue; /* never offered: whatever was sent is ignored */
		if (!(text = normalised(r, f, web_form_get(&r->form, f->name)))) {
			r->fail = KR_ERR_NOMEM;
			return false;
		}
		fs->values[i] = text;
		set[i] = (struct kr_field_text){f->name, text};
		if (!*text) {
			if (f->required) {
				fs->errors[i] = web_word(f->type == KR_FT_ENUM      ? WW_ERR_CHOICE
				                         : f->type == KR_FT_BOOLEAN ? WW_ERR_BOOLEAN
				                                                    : WW_ERR_REQUIRED,
				                         r->lang);
				fs->nerrors++;
			}
			continue;
		}
		if (kr_catalogue_parse_value_arena(f, text, &r->arena, &v, &err)) {
			fs->errors[i] = error_for(r, f, text);
			fs->nerrors++;
			continue;
		}
		/* A date and time is stored with the T even when typed with a space. */
		set[i].text = f->type == KR_FT_DATETIME ? v.s : text;
		(*nset)++;
	}
	return true;
}

void web_post_new(struct web_req *r, const char *kind)
{
	const struct kr_kind_def *kd = kr_catalogue_kind(kr_store_catalogue(r->st), kind);
	struct kr_field_text *set, *given;
	struct form_state fs;
	struct kr_error err = {0};
	char id[KR_ULID_LEN + 1], where[KR_ULID_LEN + 32];
	size_t nset = 0, n = 0;
	kr_ulid uid;

	if (!kd) {
		web_page_message(r, 404, WW_NOT_FOUND, NULL);
		return;
	}
	if (!form_init(r, &fs, kd))
		return;
	set = kr_arena_alloc(&r->arena, (kd->nfields + 1) * sizeof *set);
	given = kr_arena_alloc(&r->arena, (kd->nfields + 1) * sizeof *given);
	if (!set || !given) {
		r->fail = KR_ERR_NOMEM;
		return;
	}
	memset(set, 0, (kd->nfields + 1) * sizeof *set);
	if (!read_fields(r, &fs, set, &nset))
		return;
	if (fs.nerrors) {
		form_html(r, &fs, 422);
		return;
	}
	for (size_t i = 0; i < kd->nfields; i++)
		if (set[i].name && set[i].text && *set[i].text)
			given[n++] = set[i];
	if (kr_record_create(r->st, kd->name, NULL, given, n, 0, &uid, &err)) {
		fs.failure = err.msg;
		form_html(r, &fs, err.code == KR_ERR_INVALID ? 422 : 500);
		return;
	}
	if (fs.recorder && fs.remember) {
		const char *name = fs.values[fs.recorder - kd->fields];
		snprintf(r->sess->recorder, sizeof r->sess->recorder, "%s", name ? name : "");
	}
	kr_ulid_format(&uid, id);
	snprintf(where, sizeof where, "/record/%s?new=1", id);
	r->resp->status = 303;
	kr_http_response_header(r->resp, "Location", where);
}

/* ---- Correcting a record ---- */

/* A stored value as the form shows it for typing: text as it is, numbers in decimal, yes/no; "" for none. */
static const char *form_text(struct web_req *r, const struct kr_field_state *st)
{
	char buf[32];

	if (!st)
		return "";
	switch (st->value.type) {
	case KR_VAL_TEXT:
		return st->value.s;
	case KR_VAL_INT:
		snprintf(buf, sizeof buf, "%lld", (long long)st->value.i);
		return kr_arena_strdup(&r->arena, buf);
	case KR_VAL_BOOL:
		return st->value.i ? "yes" : "no";
	default:
		return "";
	}
}

/* Loads the record named by id_text for correcting: *kd its kind. False after writing the page that says why
 * not (unknown, another facility's, deleted, a ledger entry, a kind this agent does not know). */
static bool load_for_edit(struct web_req *r, const char *id_text, struct kr_record *rec,
                          const struct kr_kind_def **kd)
{
	if (!web_load_record(r, id_text, rec, kd))
		return false;
	if (rec->deleted || (*kd)->append_only) {
		kr_record_release(rec);
		web_page_message(r, 409, WW_EDIT_NOT_EDITABLE,
		                 (*kd)->append_only ? web_word(WW_EDIT_LEDGER, r->lang) : web_word(WW_REC_DELETED, r->lang));
		return false;
	}
	return true;
}

void web_page_edit(struct web_req *r, const char *id_text)
{
	const struct kr_kind_def *kd;
	struct kr_record rec;
	struct form_state fs;
	char id[KR_ULID_LEN + 1];

	if (!load_for_edit(r, id_text, &rec, &kd))
		return;
	if (form_init(r, &fs, kd)) {
		kr_ulid_format(&rec.id, id);
		fs.edit_id = id;
		for (size_t i = 0; i < kd->nfields; i++) {
			const char *t = form_text(r, kr_record_field(&rec, kd->fields[i].name));
			if (!(fs.values[i] = fs.bases[i] = kr_arena_strdup(&r->arena, t)))
				r->fail = KR_ERR_NOMEM;
		}
		if (!r->fail)
			form_html(r, &fs, 200);
	}
	kr_record_release(&rec);
}

void web_post_edit(struct web_req *r, const char *id_text)
{
	const struct kr_kind_def *kd;
	struct kr_record rec;
	struct kr_field_text *set, *changed;
	struct form_state fs;
	struct kr_error err = {0};
	char id[KR_ULID_LEN + 1], where[KR_ULID_LEN + 40];
	size_t nset = 0, n = 0;

	if (!load_for_edit(r, id_text, &rec, &kd))
		return;
	kr_ulid_format(&rec.id, id);
	if (!form_init(r, &fs, kd))
		goto out;
	fs.edit_id = id;
	set = kr_arena_alloc(&r->arena, (kd->nfields + 1) * sizeof *set);
	changed = kr_arena_alloc(&r->arena, (kd->nfields + 1) * sizeof *changed);
	if (!set || !changed) {
		r->fail = KR_ERR_NOMEM;
		goto out;
	}
	memset(set, 0, (kd->nfields + 1) * sizeof *set);
	if (!read_fields(r, &fs, set, &nset))
		goto out;
	/* Which fields the person changed, from the values the form started with; a field a sync changed
	 * meanwhile is not overwritten unseen: the form comes back with the new value named, as the new base. */
	for (size_t i = 0; i < kd->nfields; i++) {
		const struct kr_field_def *f = &kd->fields[i];
		char name[80];
		const char *sent_base, *base, *now, *typed = set[i].text ? set[i].text : fs.values[i];

		if (f->operator_only)
			continue;
		snprintf(name, sizeof name, "base.%s", f->name);
		sent_base = web_form_get(&r->form, name);
		base = normalised(r, f, sent_base);
		now = normalised(r, f, form_text(r, kr_record_field(&rec, f->name)));
		if (!base || !now) {
			r->fail = KR_ERR_NOMEM;
			goto out;
		}
		fs.bases[i] = now;
		if (!sent_base || strcmp(typed, base) == 0) {
			/* Unchanged (or a form without its base: nothing can be compared, nothing is written). Should
			 * the form come back, it shows the value as it is now. */
			fs.values[i] = now;
			continue;
		}
		if (strcmp(now, base) != 0 && strcmp(now, typed) != 0) {
			const char *why = web_word(WW_EDIT_CHANGED_MEANWHILE, r->lang);
			const char *shown = *now ? now : web_word(WW_CONFLICT_NONE_VALUE, r->lang);
			size_t a = strlen(why), b = strlen(shown);
			char *msg = kr_arena_alloc(&r->arena, a + b + 1);
			if (!msg) {
				r->fail = KR_ERR_NOMEM;
				goto out;
			}
			memcpy(msg, why, a);
			memcpy(msg + a, shown, b + 1);
			if (!fs.errors[i])
				fs.nerrors++;
			fs.errors[i] = msg;
			fs.changed_meanwhile = true;
			continue;
		}
		if (strcmp(now, typed) == 0)
			continue; /* already so */
		if (!fs.errors[i])
			changed[n++] = set[i];
	}
	if (fs.nerrors) {
		form_html(r, &fs, fs.changed_meanwhile ? 409 : 422);
		goto out;
	}
	if (n == 0) {
		snprintf(where, sizeof where, "/record/%s?unchanged=1", id);
	} else {
		if (kr_record_edit(r->st, &rec.id, changed, n, 0, &err)) {
			fs.failure = err.msg;
			form_html(r, &fs, err.code == KR_ERR_INVALID ? 422 : 500);
			goto out;
		}
		snprintf(where, sizeof where, "/record/%s?edited=1", id);
	}
	r->resp->status = 303;
	kr_http_response_header(r->resp, "Location", where);
out:
	kr_record_release(&rec);
}
