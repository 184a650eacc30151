/* web_pages.c: the web form's home page (what to record, the sync state, the facility's records with the hub's
 * review) and the page of one record (its fields, the hub's review and status, and every conflict naming it). */
#include <stdio.h>
#include <string.h>

#include "kiroku/print.h"
#include "web.h"

#define HOME_ROWS 100 /* the newest records the home page lists */

/* The kinds staff record most, in the order the home page offers them, with a line saying what each is for.
 * Other kinds of the catalogue follow as plain links. */
static const struct {
	const char *kind;
	enum web_word hint;
} staff_kinds[] = {
    {"incident", WW_KIND_HINT_INCIDENT},
    {"pi_handling", WW_KIND_HINT_PI_HANDLING},
    {"training", WW_KIND_HINT_TRAINING},
    {"self_inspection", WW_KIND_HINT_SELF_INSPECTION},
};
#define NSTAFF (sizeof staff_kinds / sizeof staff_kinds[0])

static bool is_staff_kind(const char *kind)
{
	for (size_t i = 0; i < NSTAFF; i++)
		if (strcmp(staff_kinds[i].kind, kind) == 0)
			return true;
	return false;
}

static const char *field_text(const struct kr_record *rec, const char *name)
{
	const struct kr_field_state *f = kr_record_field(rec, name);
	return f && f->value.type == KR_VAL_TEXT ? f->value.s : NULL;
}

/* The kind's date: its first date or date-and-time field (the catalogue's rule for periods). */
static const struct kr_field_def *date_field(const struct kr_kind_def *kd)
{
	for (size_t i = 0; i < kd->nfields; i++)
		if (kd->fields[i].type == KR_FT_DATE || kd->fields[i].type == KR_FT_DATETIME)
			return &kd->fields[i];
	return NULL;
}

/* ---- Conflicts of the facility ---- */

struct conflict_ref {
	char record[KR_ULID_LEN + 1];
	bool open;
};

struct conflict_list {
	struct web_req *r;
	struct conflict_ref *v;
	size_t n, cap;
};

static kr_status collect_conflict(void *ctx, const struct kr_record *c, struct kr_error *err)
{
	struct conflict_list *cl = ctx;
	const char *record = field_text(c, "record"), *status = field_text(c, "status");

	if (!record)
		return KR_OK;
	if (cl->n == cl->cap) {
		size_t cap = cl->cap ? cl->cap * 2 : 16;
		struct conflict_ref *v = kr_arena_alloc(&cl->r->arena, cap * sizeof *v);
		if (!v)
			return kr_fail(err, KR_ERR_NOMEM, "out of memory listing conflicts");
		if (cl->n)
			memcpy(v, cl->v, cl->n * sizeof *v);
		cl->v = v;
		cl->cap = cap;
	}
	snprintf(cl->v[cl->n].record, sizeof cl->v[0].record, "%s", record);
	cl->v[cl->n].open = !status || strcmp(status, "open") == 0;
	cl->n++;
	return KR_OK;
}

static bool has_open_conflict(const struct conflict_list *cl, const char *id)
{
	for (size_t i = 0; i < cl->n; i++)
		if (cl->v[i].open && strcmp(cl->v[i].record, id) == 0)
			return true;
	return false;
}

/* ---- The sync state ---- */

static void sync_panel(struct web_req *r, const struct kr_store_status *s)
{
	uint64_t attempt = kr_store_meta_u64(r->st, "last_attempt_ms");
	bool reached = kr_store_meta_u64(r->st, "last_attempt_reached") != 0;
	char error[512], last[32], tried[32];
	bool never, failed;
	enum web_word state;

	if (kr_store_meta_text(r->st, "last_attempt_error", error, sizeof error) != KR_OK)
		error[0] = 0;
	/* The outcome of the last attempt, as the sync recorded it (cmd_sync.c): never tried, fine, the hub
	 * answered but refused, or the hub could not be reached. */
	never = !attempt && !s->last_sync_ms;
	failed = attempt && error[0];
	state = never ? WW_SYNC_NEVER : !failed ? WW_SYNC_OK : reached ? WW_SYNC_REFUSED : WW_SYNC_FAILED;
	web_local_time(s->last_sync_ms, last);
	web_local_time(attempt, tried);
	web_printf(r, "<section class=\"panel sync %s\" aria-labelledby=\"sync-h\">\n<h2 id=\"sync-h\">",
	           never    ? "never"
	           : failed ? "failed"
	                    : "ok");
	web_text(r, web_word(WW_SYNC_TITLE, r->lang));
	web_raw(r, "</h2>\n<p class=\"state\"><strong>");
	web_text(r, web_word(state, r->lang));
	web_raw(r, "</strong>");
	if (never || failed) {
		web_raw(r, " ");
		web_text(r, web_word(WW_SYNC_SAFE, r->lang));
	}
	web_raw(r, "</p>\n<dl class=\"facts\">\n");
	web_raw(r, "<div><dt>");
	web_text(r, web_word(WW_SYNC_LAST, r->lang));
	web_raw(r, "</dt><dd>");
	web_text(r, last[0] ? last : "—");
	web_raw(r, "</dd></div>\n");
	if (attempt && strcmp(tried, last) != 0) {
		web_raw(r, "<div><dt>");
		web_text(r, web_word(WW_SYNC_LAST_ATTEMPT, r->lang));
		web_raw(r, "</dt><dd>");
		web_text(r, tried);
		web_raw(r, "</dd></div>\n");
	}
	web_raw(r, "<div><dt>");
	web_text(r, web_word(WW_SYNC_WAITING, r->lang));
	web_raw(r, "</dt><dd id=\"outbox\">");
	if (s->outbox_changes)
		web_text(r, web_wordf(r, WW_COUNT_ITEMS, s->outbox_changes, 0));
	else
		web_text(r, web_word(WW_SYNC_WAITING_NONE, r->lang));
	web_raw(r, "</dd></div>\n</dl>\n");
	if (s->conflicts_open) {
		web_raw(r, "<p class=\"conflicts\">");
		web_text(r, web_wordf(r, WW_CONFLICTS_OPEN, s->conflicts_open, 0));
		web_raw(r, "</p>\n");
	}
	if (r->cfg->sync_interval > 0) {
		web_raw(r, "<p class=\"auto\">");
		web_text(r, web_wordf(r, WW_SYNC_AUTO, (unsigned long long)r->cfg->sync_interval, 0));
		web_raw(r, "</p>\n");
	} else {
		web_raw(r, "<p class=\"auto\">");
		web_text(r, web_word(WW_SYNC_MANUAL, r->lang));
		web_raw(r, "</p>\n");
	}
	if (r->cfg->sync_now) {
		web_raw(r, "<form method=\"post\" action=\"/sync\">");
		web_token_field(r);
		web_raw(r, "<button type=\"submit\" class=\"secondary\">");
		web_text(r, web_word(WW_SYNC_NOW, r->lang));
		web_raw(r, "</button></form>\n");
	}
	if (failed || r->cfg->hub_url[0]) {
		web_raw(r, "<details><summary>");
		web_text(r, web_word(WW_SYNC_DETAILS, r->lang));
		web_raw(r, "</summary>\n<p>");
		web_text(r, web_word(WW_SYNC_HUB, r->lang));
		web_raw(r, ": <code>");
		web_text(r, r->cfg->hub_url);
		web_raw(r, "</code></p>\n");
		if (failed) {
			web_raw(r, "<p><code>");
			web_text(r, error);
			web_raw(r, "</code></p>\n");
		}
		web_raw(r, "</details>\n");
	}
	web_raw(r, "</section>\n");
}

/* ---- What to record ---- */

static void record_choices(struct web_req *r, const struct kr_catalogue *cat)
{
	bool others = false;

	web_raw(r, "<section aria-labelledby=\"new-h\">\n<h1 id=\"new-h\">");
	web_text(r, web_word(WW_RECORD_NEW, r->lang));
	web_raw(r, "</h1>\n<p class=\"lead\">");
	web_text(r, web_word(WW_RECORD_STAFF_HINT, r->lang));
	web_raw(r, "</p>\n<ul class=\"choices\">\n");
	for (size_t i = 0; i < NSTAFF; i++) {
		const struct kr_kind_def *kd = kr_catalogue_kind(cat, staff_kinds[i].kind);
		if (!kd)
			continue;
		web_printf(r, "<li><a class=\"choice%s\" href=\"/new/%s\" id=\"new-%s\"><span class=\"title\">",
		           i == 0 ? " primary" : "", kd->name, kd->name);
		web_text(r, kr_kind_label(kd, r->lang));
		web_raw(r, "</span><span class=\"hint\">");
		web_text(r, web_word(staff_kinds[i].hint, r->lang));
		web_raw(r, "</span></a></li>\n");
	}
	web_raw(r, "</ul>\n");
	for (size_t i = 0; i < cat->nkinds; i++) {
		const struct kr_kind_def *kd = &cat->kinds[i];
		if (is_staff_kind(kd->name))
			continue;
		if (!others) {
			web_raw(r, "<p class=\"others\">");
			web_text(r, web_word(WW_RECORD_OTHER, r->lang));
			web_raw(r, ": ");
			others = true;
		} else {
			web_raw(r, " · ");
		}
		web_printf(r, "<a href=\"/new/%s\">", kd->name);
		web_text(r, kr_kind_label(kd, r->lang));
		web_raw(r, "</a>");
	}
	if (others)
		web_raw(r, "</p>\n");
	web_raw(r, "</section>\n");
}

/* ---- The records ---- */

struct row {
	char id[KR_ULID_LEN + 1];
	const char *kind, *date, *summary, *status, *review, *review_value;
	bool comment, conflict;
};

struct rows {
	struct web_req *r;
	const struct conflict_list *conflicts;
	struct row v[HOME_ROWS]; /* a ring of the newest */
	size_t total;
};

/* "事故等の区分 · description cut to fit": the first required choice and the first required text. */
static const char *summary_of(struct web_req *r, const struct kr_kind_def *kd, const struct kr_record *rec)
{
	const struct kr_field_def *choice = NULL, *text = NULL, *other = NULL, *date = date_field(kd);
	struct kr_buf b;
	const char *out;

	for (size_t i = 0; i < kd->nfields; i++) {
		const struct kr_field_def *f = &kd->fields[i];
		const struct kr_field_state *fs = kr_record_field(rec, f->name);
		if (!f->required || !fs || fs->value.type == KR_VAL_NULL || f == date)
			continue;
		if (f->type == KR_FT_ENUM && !choice)
			choice = f;
		else if (f->type == KR_FT_TEXT && !text)
			text = f;
		else if (!other)
			other = f;
	}
	kr_buf_init(&b, 4096);
	if (choice)
		kr_buf_printf(&b, "%s", web_value_text(r, choice, &kr_record_field(rec, choice->name)->value));
	if (text || (!choice && other)) {
		const struct kr_field_def *f = text ? text : other;
		if (b.len)
			kr_buf_printf(&b, " · ");
		if (!text)
			kr_buf_printf(&b, "%s ", kr_field_label(f, r->lang));
		kr_print_cell(&b, web_value_text(r, f, &kr_record_field(rec, f->name)->value), 72, false);
	}
	kr_buf_terminate(&b);
	out = kr_arena_strndup(&r->arena, b.data ? (const char *)b.data : "", b.len);
	kr_buf_release(&b);
	return out ? out : "";
}

static kr_status collect_row(void *ctx, const struct kr_record *rec, struct kr_error *err)
{
	struct rows *rs = ctx;
	struct web_req *r = rs->r;
	const struct kr_kind_def *kd = kr_catalogue_kind(kr_store_catalogue(r->st), rec->kind);
	const struct kr_field_def *df, *sf, *rf;
	const struct kr_field_state *fs;
	struct row *row;

	if (!kd)
		return KR_OK;
	row = &rs->v[rs->total % HOME_ROWS];
	memset(row, 0, sizeof *row);
	rs->total++;
	kr_ulid_format(&rec->id, row->id);
	row->kind = kr_kind_label(kd, r->lang);
	df = date_field(kd);
	row->date = "";
	if (df && (fs = kr_record_field(rec, df->name)) && fs->value.type != KR_VAL_NULL)
		row->date = web_value_text(r, df, &fs->value);
	row->summary = summary_of(r, kd, rec);
	if ((sf = kr_catalogue_field(kd, "status"))) {
		fs = kr_record_field(rec, "status");
		if (fs && fs->value.type == KR_VAL_TEXT)
			row->status = web_value_text(r, sf, &fs->value);
		else if (strcmp(kd->name, "incident") == 0)
			row->status = web_word(WW_STATUS_DEFAULT, r->lang); /* staff can't write it: "reported" */
	}
	if ((rf = kr_catalogue_field(kd, "review_state")) && (fs = kr_record_field(rec, "review_state")) &&
	    fs->value.type == KR_VAL_TEXT) {
		row->review = web_value_text(r, rf, &fs->value);
		row->review_value = kr_arena_strdup(&r->arena, fs->value.s);
	}
	fs = kr_record_field(rec, "review_comment");
	row->comment = fs && fs->value.type == KR_VAL_TEXT && fs->value.len;
	row->conflict = has_open_conflict(rs->conflicts, row->id);
	if (!row->summary || !row->kind)
		return kr_fail(err, KR_ERR_NOMEM, "out of memory listing records");
	return KR_OK;
}

/* A CSS class name for a review state: the stored value when it is a plain token, else "other". */
static const char *review_class(const char *value)
{
	if (!value)
		return "none";
	for (const char *p = value; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
			return "other";
	return value;
}

static void records_table(struct web_req *r, const struct kr_catalogue *cat, const char *kind,
                          const struct conflict_list *conflicts)
{
	struct kr_list_filter f = {.kind = kind, .facility = kr_store_facility(r->st)};
	struct kr_error err = {0};
	struct rows *rs = kr_arena_alloc(&r->arena, sizeof *rs);
	size_t shown;

	web_raw(r, "<section aria-labelledby=\"records-h\">\n<h2 id=\"records-h\">");
	web_text(r, web_word(WW_RECORDS, r->lang));
	web_raw(r, "</h2>\n<nav class=\"tabs\" aria-label=\"");
	web_text(r, web_word(WW_COL_KIND, r->lang));
	web_printf(r, "\">\n<a href=\"/\"%s>", kind ? "" : " aria-current=\"page\"");
	web_text(r, web_word(WW_RECORDS_ALL, r->lang));
	web_raw(r, "</a>\n");
	for (size_t i = 0; i < cat->nkinds; i++) {
		const struct kr_kind_def *kd = &cat->kinds[i];
		web_printf(r, "<a href=\"/?kind=%s\"%s>", kd->name,
		           kind && strcmp(kind, kd->name) == 0 ? " aria-current=\"page\"" : "");
		web_text(r, kr_kind_label(kd, r->lang));
		web_raw(r, "</a>\n");
	}
	web_raw(r, "</nav>\n");
	if (!rs) {
		r->fail = KR_ERR_NOMEM;
		return;
	}
	rs->r = r;
	rs->conflicts = conflicts;
	rs->total = 0;
	if (kr_record_list(r->st, &f, collect_row, rs, &err)) {
		web_raw(r, "<p class=\"message\" role=\"alert\">");
		web_text(r, err.msg);
		web_raw(r, "</p>\n</section>\n");
		return;
	}
	if (!rs->total) {
		web_raw(r, "<p class=\"empty\">");
		web_text(r, web_word(WW_RECORDS_NONE, r->lang));
		web_raw(r, "</p>\n</section>\n");
		return;
	}
	shown = rs->total < HOME_ROWS ? rs->total : HOME_ROWS;
	web_raw(r, "<table class=\"records\" id=\"records\">\n<caption>");
	web_text(r, web_wordf(r, WW_RECORDS_SHOWN, shown, rs->total));
	web_raw(r, "</caption>\n<thead><tr>");
	static const enum web_word cols[] = {WW_COL_DATE, WW_COL_KIND, WW_COL_SUMMARY, WW_COL_STATUS, WW_COL_REVIEW};
	for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
		web_raw(r, "<th scope=\"col\">");
		web_text(r, web_word(cols[c], r->lang));
		web_raw(r, "</th>");
	}
	web_raw(r, "</tr></thead>\n<tbody>\n");
	/* Newest first: walk the ring backwards from the last row collected. */
	for (size_t k = 0; k < shown; k++) {
		const struct row *row = &rs->v[(rs->total - 1 - k) % HOME_ROWS];
		web_printf(r, "<tr id=\"r-%s\"><td data-label=\"", row->id);
		web_text(r, web_word(WW_COL_DATE, r->lang));
		web_raw(r, "\">");
		web_text(r, row->date);
		web_raw(r, "</td><td data-label=\"");
		web_text(r, web_word(WW_COL_KIND, r->lang));
		web_raw(r, "\">");
		web_text(r, row->kind);
		web_raw(r, "</td><td data-label=\"");
		web_text(r, web_word(WW_COL_SUMMARY, r->lang));
		web_printf(r, "\"><a href=\"/record/%s\">", row->id);
		web_text(r, row->summary[0] ? row->summary : row->id);
		web_raw(r, "</a></td><td data-label=\"");
		web_text(r, web_word(WW_COL_STATUS, r->lang));
		web_raw(r, "\">");
		web_text(r, row->status ? row->status : "—");
		web_raw(r, "</td><td data-label=\"");
		web_text(r, web_word(WW_COL_REVIEW, r->lang));
		web_raw(r, "\">");
		web_printf(r, "<span class=\"badge review-%s\">", review_class(row->review_value));
		web_text(r, row->review ? row->review : web_word(WW_REC_REVIEW_NONE, r->lang));
		web_raw(r, "</span>");
		if (row->comment) {
			web_raw(r, " <span class=\"badge note\">");
			web_text(r, web_word(WW_COMMENT, r->lang));
			web_raw(r, "</span>");
		}
		if (row->conflict) {
			web_raw(r, " <span class=\"badge conflict\">");
			web_text(r, web_word(WW_CONFLICT_BADGE, r->lang));
			web_raw(r, "</span>");
		}
		web_raw(r, "</td></tr>\n");
	}
	web_raw(r, "</tbody>\n</table>\n</section>\n");
}

static kr_status list_conflicts(struct web_req *r, struct conflict_list *cl, struct kr_error *err)
{
	struct kr_list_filter f = {.kind = "_conflict", .facility = kr_store_facility(r->st), .system = true};

	memset(cl, 0, sizeof *cl);
	cl->r = r;
	return kr_record_list(r->st, &f, collect_conflict, cl, err);
}

void web_page_home(struct web_req *r)
{
	const struct kr_catalogue *cat = kr_store_catalogue(r->st);
	const char *kind = web_form_get(&r->query, "kind");
	struct kr_store_status s;
	struct conflict_list cl;
	struct kr_error err = {0};

	if (kind && !kr_catalogue_kind(cat, kind))
		kind = NULL;
	if (kr_store_status(r->st, &s, &err) || list_conflicts(r, &cl, &err)) {
		web_page_message(r, 500, WW_ERROR_TITLE, err.msg);
		return;
	}
	web_page_begin(r, 200, web_word(WW_HOME, r->lang));
	if (web_form_get(&r->query, "sync")) {
		web_raw(r, "<p class=\"notice\" role=\"status\">");
		web_text(r, web_word(WW_SYNC_REQUESTED, r->lang));
		web_raw(r, "</p>\n");
	}
	record_choices(r, cat);
	sync_panel(r, &s);
	records_table(r, cat, kind, &cl);
	web_page_end(r);
}

/* ---- One record ---- */

static void field_row(struct web_req *r, const struct kr_field_def *f, const struct kr_field_state *fs)
{
	const char *v = fs ? web_value_text(r, f, &fs->value) : "";

	web_printf(r, "<div id=\"v-%s\"><dt>", f->name);
	web_text(r, kr_field_label(f, r->lang));
	web_raw(r, "</dt><dd>");
	web_text(r, v && *v ? v : "—");
	web_raw(r, "</dd></div>\n");
}

/* The hub's side: the review (state and comment) first, then the other operator-only fields that hold a
 * value (an incident's status, severity, PPC deadlines, ...). */
static void hub_section(struct web_req *r, const struct kr_kind_def *kd, const struct kr_record *rec)
{
	const struct kr_field_def *rs = kr_catalogue_field(kd, "review_state"),
	                          *rc = kr_catalogue_field(kd, "review_comment");
	const struct kr_field_state *state = kr_record_field(rec, "review_state"),
	                            *comment = kr_record_field(rec, "review_comment");
	bool has_state = state && state->value.type == KR_VAL_TEXT, any = has_state;

	web_raw(r, "<section class=\"panel hub\" aria-labelledby=\"hub-h\">\n<h2 id=\"hub-h\">");
	web_text(r, web_word(WW_REC_HUB, r->lang));
	web_raw(r, "</h2>\n");
	if (rs) {
		web_raw(r, "<p class=\"review\">");
		web_text(r, web_word(WW_REC_REVIEW_STATE, r->lang));
		web_printf(r, ": <span class=\"badge review-%s\" id=\"review-state\">",
		           review_class(has_state ? state->value.s : NULL));
		web_text(r, has_state ? web_value_text(r, rs, &state->value) : web_word(WW_REC_REVIEW_NONE, r->lang));
		web_raw(r, "</span></p>\n");
	}
	if (rc && comment && comment->value.type == KR_VAL_TEXT && comment->value.len) {
		any = true;
		web_raw(r, "<figure class=\"comment\"><figcaption>");
		web_text(r, kr_field_label(rc, r->lang));
		web_raw(r, "</figcaption><blockquote id=\"review-comment\">");
		web_text(r, comment->value.s);
		web_raw(r, "</blockquote></figure>\n");
	}
	web_raw(r, "<dl class=\"fields\">\n");
	for (size_t i = 0; i < kd->nfields; i++) {
		const struct kr_field_def *f = &kd->fields[i];
		const struct kr_field_state *fs = kr_record_field(rec, f->name);
		if (!f->operator_only || f == rs || f == rc)
			continue;
		if (fs && fs->value.type != KR_VAL_NULL) {
			field_row(r, f, fs);
			any = true;
		} else if (strcmp(f->name, "status") == 0 && strcmp(kd->name, "incident") == 0) {
			web_raw(r, "<div id=\"v-status\"><dt>");
			web_text(r, kr_field_label(f, r->lang));
			web_raw(r, "</dt><dd>");
			web_text(r, web_word(WW_STATUS_DEFAULT, r->lang));
			web_raw(r, "</dd></div>\n");
		}
	}
	web_raw(r, "</dl>\n");
	if (!any) {
		web_raw(r, "<p class=\"empty\">");
		web_text(r, web_word(WW_REC_HUB_NONE, r->lang));
		web_raw(r, "</p>\n");
	}
	web_raw(r, "</section>\n");
}

struct conflict_page {
	struct web_req *r;
	const char *record;
	const struct kr_kind_def *kd;
	size_t count;
};

static void conflict_value(struct web_req *r, const struct kr_field_def *f, const struct kr_record *c,
                           const char *prefix, enum web_word label)
{
	char name[40];
	const struct kr_field_state *v, *node;
	const char *text;

	snprintf(name, sizeof name, "%s_value", prefix);
	v = kr_record_field(c, name);
	snprintf(name, sizeof name, "%s_node", prefix);
	node = kr_record_field(c, name);
	text = v && v->value.type != KR_VAL_NULL ? web_value_text(r, f, &v->value) : "";
	web_raw(r, "<div><dt>");
	web_text(r, web_word(label, r->lang));
	web_raw(r, "</dt><dd>");
	web_text(r, text && *text ? text : web_word(WW_CONFLICT_NONE_VALUE, r->lang));
	if (node && node->value.type == KR_VAL_TEXT) {
		web_raw(r, " <span class=\"who\">(");
		web_text(r, node->value.s);
		web_raw(r, ")</span>");
	}
	web_raw(r, "</dd></div>\n");
}

static kr_status show_conflict(void *ctx, const struct kr_record *c, struct kr_error *err)
{
	struct conflict_page *cp = ctx;
	struct web_req *r = cp->r;
	const char *record = field_text(c, "record"), *field = field_text(c, "field"), *type = field_text(c, "type");
	const char *status = field_text(c, "status");
	const struct kr_field_def *f;
	bool open = !status || strcmp(status, "open") == 0;

	if (!record || strcmp(record, cp->record) != 0)
		return KR_OK;
	if (!cp->count++) {
		web_raw(r,
		        "<section class=\"panel conflicts\" aria-labelledby=\"conflicts-h\">\n<h2 id=\"conflicts-h\">");
		web_text(r, web_word(WW_REC_CONFLICTS, r->lang));
		web_raw(r, "</h2>\n");
	}
	f = field ? kr_catalogue_field(cp->kd, field) : NULL;
	web_printf(r, "<article class=\"conflict %s\">\n<h3>", open ? "open" : "resolved");
	web_text(r, f ? kr_field_label(f, r->lang) : field ? field : "?");
	if (type && strcmp(type, "delete") == 0) {
		web_raw(r, " ");
		web_text(r, web_word(WW_CONFLICT_DELETE, r->lang));
	}
	web_printf(r, " <span class=\"badge %s\">", open ? "conflict" : "review-approved");
	web_text(r, web_word(open ? WW_CONFLICT_OPEN : WW_CONFLICT_RESOLVED, r->lang));
	web_raw(r, "</span></h3>\n<dl class=\"fields\">\n");
	if (open) {
		conflict_value(r, f, c, "winner", WW_CONFLICT_KEPT);
		conflict_value(r, f, c, "loser", WW_CONFLICT_ASIDE);
	} else {
		const struct kr_field_state *chosen = kr_record_field(c, "resolved_value");
		const char *text =
		    chosen && chosen->value.type != KR_VAL_NULL ? web_value_text(r, f, &chosen->value) : "";
		web_raw(r, "<div class=\"chosen\"><dt>");
		web_text(r, web_word(WW_CONFLICT_CHOSEN, r->lang));
		web_raw(r, "</dt><dd>");
		web_text(r, text && *text ? text : web_word(WW_CONFLICT_NONE_VALUE, r->lang));
		web_raw(r, "</dd></div>\n");
		conflict_value(r, f, c, "winner", WW_CONFLICT_SIDE);
		conflict_value(r, f, c, "loser", WW_CONFLICT_SIDE);
	}
	web_raw(r, "</dl>\n");
	if (open) {
		web_raw(r, "<p>");
		web_text(r, web_word(WW_CONFLICT_WAIT, r->lang));
		web_raw(r, "</p>\n");
	}
	web_raw(r, "</article>\n");
	return r->fail ? kr_fail(err, r->fail, "writing the page") : KR_OK;
}

bool web_load_record(struct web_req *r, const char *id_text, struct kr_record *rec, const struct kr_kind_def **kd)
{
	struct kr_error err = {0};
	kr_ulid uid;
	kr_status s;

	memset(rec, 0, sizeof *rec);
	if (kr_ulid_parse(id_text, &uid, &err)) {
		web_page_message(r, 404, WW_NOT_FOUND, web_word(WW_NOT_FOUND_DETAIL, r->lang));
		return false;
	}
	s = kr_record_get(r->st, &uid, rec, &err);
	*kd = s ? NULL : kr_catalogue_kind(kr_store_catalogue(r->st), rec->kind);
	if (s == KR_ERR_NOT_FOUND || (!s && (!*kd || strcmp(rec->facility, kr_store_facility(r->st)) != 0))) {
		kr_record_release(rec);
		web_page_message(r, 404, WW_NOT_FOUND, web_word(WW_NOT_FOUND_DETAIL, r->lang));
		return false;
	}
	if (s) {
		kr_record_release(rec);
		web_page_message(r, 500, WW_ERROR_TITLE, err.msg);
		return false;
	}
	return true;
}

void web_page_record(struct web_req *r, const char *id_text)
{
	const struct kr_kind_def *kd;
	const struct kr_field_def *df;
	const struct kr_field_state *fs;
	struct kr_list_filter f = {.kind = "_conflict", .facility = kr_store_facility(r->st), .system = true};
	struct conflict_page cp = {.r = r};
	struct kr_record rec;
	struct kr_error err = {0};
	char id[KR_ULID_LEN + 1];

	if (!web_load_record(r, id_text, &rec, &kd))
		return;
	kr_ulid_format(&rec.id, id);
	web_page_begin(r, 200, kr_kind_label(kd, r->lang));
	if (web_form_get(&r->query, "new") || web_form_get(&r->query, "edited")) {
		bool edited = web_form_get(&r->query, "edited") != NULL;
		web_raw(r, "<div class=\"notice saved\" role=\"status\" id=\"saved\"><strong>");
		web_text(r, web_word(edited ? WW_EDITED : WW_SAVED, r->lang));
		web_raw(r, "</strong> ");
		web_text(r, web_word(edited ? WW_EDITED_DETAIL : WW_SAVED_DETAIL, r->lang));
		web_raw(r, "</div>\n");
	} else if (web_form_get(&r->query, "unchanged")) {
		web_raw(r, "<div class=\"notice\" role=\"status\" id=\"saved\">");
		web_text(r, web_word(WW_EDIT_UNCHANGED, r->lang));
		web_raw(r, "</div>\n");
	}
	web_raw(r, "<h1>");
	web_text(r, kr_kind_label(kd, r->lang));
	if ((df = date_field(kd)) && (fs = kr_record_field(&rec, df->name)) && fs->value.type != KR_VAL_NULL) {
		web_raw(r, " <span class=\"date\">");
		web_text(r, web_value_text(r, df, &fs->value));
		web_raw(r, "</span>");
	}
	web_raw(r, "</h1>\n");
	if (rec.deleted) {
		web_raw(r, "<p class=\"message\" role=\"alert\">");
		web_text(r, web_word(WW_REC_DELETED, r->lang));
		web_raw(r, "</p>\n");
	}
	hub_section(r, kd, &rec);
	cp.record = id;
	cp.kd = kd;
	if (kr_record_list(r->st, &f, show_conflict, &cp, &err) && !r->fail) {
		web_raw(r, "<p class=\"message\" role=\"alert\">");
		web_text(r, err.msg);
		web_raw(r, "</p>\n");
	}
	if (cp.count)
		web_raw(r, "</section>\n");
	web_raw(r, "<section class=\"panel\" aria-labelledby=\"content-h\">\n<h2 id=\"content-h\">");
	web_text(r, web_word(WW_REC_CONTENT, r->lang));
	web_raw(r, "</h2>\n<dl class=\"fields\">\n");
	for (size_t i = 0; i < kd->nfields; i++)
		if (!kd->fields[i].operator_only)
			field_row(r, &kd->fields[i], kr_record_field(&rec, kd->fields[i].name));
	web_raw(r, "</dl>\n<p class=\"meta\">");
	web_text(r, web_word(WW_REC_ID, r->lang));
	web_raw(r, ": <code id=\"record-id\">");
	web_text(r, id);
	web_raw(r, "</code></p>\n</section>\n<p class=\"actions\">");
	if (!rec.deleted && !kd->append_only) {
		web_printf(r, "<a class=\"button primary\" id=\"edit\" href=\"/edit/%s\">", id);
		web_text(r, web_word(WW_EDIT, r->lang));
		web_raw(r, "</a> ");
	}
	web_raw(r, "<a class=\"button secondary\" href=\"/\">");
	web_text(r, web_word(WW_REC_BACK, r->lang));
	web_raw(r, "</a></p>\n");
	web_page_end(r);
	kr_record_release(&rec);
}
