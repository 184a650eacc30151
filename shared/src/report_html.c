/* report_html.c: review.html, the review material people read and print: one self-contained XHTML-compatible
 * file (no script, nothing fetched), A4 print styles with a page break before each section, the overall
 * status on the first page, charts as inline SVG (report_svg.c), and the annex of incidents streamed row by
 * row. */
#include "report_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kiroku/ids.h"

static const char css[] =
    "@page{size:A4;margin:14mm 12mm}"
    "@page annex{size:A4 landscape;margin:10mm}"
    "body{font-family:'Noto Sans CJK JP','IPAexGothic','Hiragino Sans','Yu Gothic',sans-serif;font-size:10pt;"
    "color:#222;line-height:1.45;margin:0 auto;max-width:190mm}"
    "@media screen{body{padding:8mm}section{border-top:1px dashed #aaa;margin-top:12mm}}"
    "section{break-before:page;page-break-before:always}"
    "section.cover{break-before:auto;page-break-before:auto;border-top:none}"
    "section.annex{page:annex;max-width:none}"
    "h1{font-size:18pt;margin:0 0 4pt}h2{font-size:14pt;border-bottom:2px solid #234;margin:0 0 6pt}"
    "h3{font-size:11pt;margin:10pt 0 3pt;break-after:avoid;page-break-after:avoid}"
    "p.meta{color:#444;margin:0 0 8pt}p.note{color:#555;font-size:8pt;margin:0 0 2pt}"
    "table{border-collapse:collapse;width:100%;margin:2pt 0 8pt;font-size:8.5pt}"
    "th,td{border:1px solid #bbb;padding:1.5pt 3pt;vertical-align:top;text-align:left}"
    "th{background:#eef1f5;font-weight:bold}thead{display:table-header-group}"
    "tr{break-inside:avoid;page-break-inside:avoid}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "td.id{font-family:monospace;font-size:7pt;white-space:nowrap}td.d{white-space:nowrap}"
    "td.ok,tr.ok td.rating{background:#dff0d8}td.warn,tr.warn td.rating{background:#fcf3cf}"
    "td.alert,tr.alert td.rating{background:#f8d7da;font-weight:bold}"
    "table.overall td{font-size:10pt;padding:3pt 5pt}table.overall td.rating{text-align:center;width:22mm}"
    "ul.actions li{margin:1pt 0}"
    "svg.chart{display:block;margin:4pt 0 8pt;max-width:100%;height:auto;break-inside:avoid;"
    "page-break-inside:avoid}"
    "table.annex{font-size:7.5pt}table.annex td.text{color:#333;background:#fafafa}"
    "nav ol{columns:2;font-size:9pt;margin:2pt 0}";

/* Section headings: 要綱 第11条第5項 items. */
static const struct sec {
	int item;
	const char *anchor, *ja, *en;
} sections_def[] = {
    {2, "s2", "第2号　一般教育に係る結果および効果の測定", "Item 2: general education, results and measured effect"},
    {3, "s3", "第3号　自己点検の結果および効果の測定", "Item 3: self-inspection, results and measured effect"},
    {4, "s4", "第4号　監査の結果", "Item 4: audit results"},
    {5, "s5", "第5号・第6号　リスクマネジメントの実施状況と結果",
     "Items 5 and 6: risk management, its state and results"},
    {7, "s7", "第7号　セキュリティ事故等に関する報告", "Item 7: security incidents"},
    {8, "s8", "第8号　委託事業者等の管理に関する報告", "Item 8: contractor management"},
    {9, "s9", "第9号　セキュリティマネジメントの実施状況（詳細）",
     "Item 9: the state of security management (details)"},
};

#define T(r, j, e) ((r)->en ? (e) : (j))

static const char *const palette[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00",
                                      "#56B4E9", "#F0E442", "#999999", "#332288", "#117733"};

struct html {
	const struct rpt *r;
	struct rpt_out *out;
	struct kr_buf b, cell;
	struct kr_error *err;
	kr_status s;
};

static void put(struct html *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct html *h, const char *fmt, ...)
{
	va_list ap;
	char small[512];
	int n;

	if (h->s)
		return;
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		h->s = KR_ERR_INTERNAL;
		return;
	}
	if ((size_t)n < sizeof small) {
		h->s = kr_buf_append(&h->b, small, (size_t)n);
	} else {
		char *big = malloc((size_t)n + 1);
		if (!big) {
			h->s = KR_ERR_NOMEM;
			return;
		}
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		h->s = kr_buf_append(&h->b, big, (size_t)n);
		free(big);
	}
	if (!h->s && h->b.len > (1u << 16))
		rpt_out_buf(h->out, &h->b);
}

/* Appends a literal (no formatting: the hot path of big tables). */
static void lit(struct html *h, const char *s)
{
	if (!h->s)
		h->s = kr_buf_append(&h->b, s, strlen(s));
}

static void td(struct html *h, const char *cls)
{
	if (!cls) {
		lit(h, "<td>");
		return;
	}
	lit(h, "<td class=\"");
	lit(h, cls);
	lit(h, "\">");
}

static void text(struct html *h, const char *s)
{
	if (!h->s)
		h->s = xml_text(&h->b, s ? s : "");
}

static void flush(struct html *h)
{
	if (!h->s)
		rpt_out_buf(h->out, &h->b);
}

/* The text of a cell, as rpt_cell_text makes it, NUL-terminated in h->cell. */
static const char *cell_text(struct html *h, const struct rcol *c, const struct rcell *v)
{
	h->cell.len = 0;
	if (!h->s)
		h->s = rpt_cell_text(h->r, c, v, &h->cell, h->err);
	if (!h->s)
		h->s = kr_buf_terminate(&h->cell);
	return h->s ? "" : (const char *)h->cell.data;
}

static const char *cell_class(const struct rcol *c, const struct rcell *v)
{
	if (c->type == RT_INT || c->type == RT_RATE)
		return "n";
	if (c->type == RT_ID)
		return "id";
	if (c->type == RT_DATE || c->type == RT_MONTH)
		return "d";
	if (v->null)
		return NULL;
	if (c->type == RT_WORD)
		return strcmp(v->s, "overdue") == 0 || strcmp(v->s, "alert") == 0 ? "alert"
		       : strcmp(v->s, "late") == 0 || strcmp(v->s, "warn") == 0   ? "warn"
		       : strcmp(v->s, "met") == 0 || strcmp(v->s, "ok") == 0      ? "ok"
		                                                                  : NULL;
	if (c->type == RT_BOOL && strcmp(c->key, "overdue") == 0)
		return v->i ? "alert" : NULL;
	return NULL;
}

static void table(struct html *h, const struct rtable *t)
{
	const struct rpt *r = h->r;

	if (!t)
		return;
	put(h, "<h3 id=\"t-%s\">", t->id);
	text(h, T(r, t->ja, t->en));
	put(h, "</h3>");
	if (t->note_ja) {
		put(h, "<p class=\"note\">");
		text(h, T(r, t->note_ja, t->note_en));
		put(h, "</p>");
	}
	put(h, "<table><thead><tr>");
	for (size_t c = 0; c < t->ncols; c++) {
		put(h, "<th>");
		text(h, rpt_col_label(r, &t->cols[c]));
		put(h, "</th>");
	}
	put(h, "</tr></thead><tbody>");
	if (!t->nrows)
		put(h, "<tr><td colspan=\"%zu\">%s</td></tr>", t->ncols, T(r, "該当なし", "None"));
	for (size_t row = 0; row < t->nrows && !h->s; row++) {
		lit(h, "<tr>");
		for (size_t c = 0; c < t->ncols; c++) {
			const struct rcell *v = rt_cell(t, row, c);
			td(h, cell_class(&t->cols[c], v));
			text(h, cell_text(h, &t->cols[c], v));
			lit(h, "</td>");
		}
		lit(h, "</tr>");
		if (h->b.len > (1u << 16))
			flush(h);
	}
	put(h, "</tbody></table>");
	flush(h);
}

static void chart_done(struct html *h, kr_status s)
{
	if (!h->s && s)
		h->s = s;
}

/* Horizontal bars from a table: label column, value column (a count or a rate), the n rows order gives. */
static void hbars_of(struct html *h, const char *title, const struct rtable *t, const size_t *rows, size_t n,
                     const char *label_key, const char *value_key, const char *color)
{
	size_t lc = rt_col(t, label_key), vc = rt_col(t, value_key);
	const char **labels;
	double *values;
	struct kr_buf lb;
	size_t *offs;
	bool percent;

	if (!t || !n || lc == (size_t)-1 || vc == (size_t)-1 || h->s)
		return;
	percent = t->cols[vc].type == RT_RATE;
	labels = calloc(n, sizeof *labels);
	values = calloc(n, sizeof *values);
	offs = calloc(n, sizeof *offs);
	kr_buf_init(&lb, 0);
	if (!labels || !values || !offs) {
		h->s = KR_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n && !h->s; i++) {
		const struct rcell *v = rt_cell(t, rows[i], vc);
		offs[i] = lb.len;
		h->cell.len = 0;
		h->s = rpt_cell_text(h->r, &t->cols[lc], rt_cell(t, rows[i], lc), &h->cell, h->err);
		if (!h->s)
			h->s = kr_buf_append(&lb, h->cell.data, h->cell.len);
		if (!h->s)
			h->s = kr_buf_append(&lb, "", 1);
		values[i] = v->null ? 0 : percent ? v->r : (double)v->i;
	}
	for (size_t i = 0; i < n && !h->s; i++)
		labels[i] = (const char *)lb.data + offs[i];
	if (!h->s)
		chart_done(h, svg_hbars(&h->b, title, n, labels, values, percent, color));
out:
	free(labels);
	free(values);
	free(offs);
	kr_buf_release(&lb);
	flush(h);
}

/* The rows of t ordered by a column (a count or a rate), descending or ascending, the first max of them;
 * rows whose value is null are left out. *n gets how many. The caller frees the result. */
struct sort_item {
	size_t row;
	double v;
};
static int by_v_desc(const void *a, const void *b)
{
	const struct sort_item *x = a, *y = b;
	return x->v < y->v ? 1 : x->v > y->v ? -1 : x->row < y->row ? -1 : x->row > y->row;
}
static int by_v_asc(const void *a, const void *b)
{
	const struct sort_item *x = a, *y = b;
	return x->v > y->v ? 1 : x->v < y->v ? -1 : x->row < y->row ? -1 : x->row > y->row;
}
static size_t *rows_by(const struct rtable *t, const char *key, bool desc, size_t max, size_t *n)
{
	size_t c = rt_col(t, key), k = 0;
	struct sort_item *items;
	size_t *rows;

	*n = 0;
	if (!t || c == (size_t)-1 || !(items = calloc(t->nrows + 1, sizeof *items)))
		return NULL;
	for (size_t i = 0; i < t->nrows; i++) {
		const struct rcell *v = rt_cell(t, i, c);
		if (v->null)
			continue;
		items[k].row = i;
		items[k++].v = t->cols[c].type == RT_RATE ? v->r : (double)v->i;
	}
	qsort(items, k, sizeof *items, desc ? by_v_desc : by_v_asc);
	if (k > max)
		k = max;
	rows = calloc(k + 1, sizeof *rows);
	for (size_t i = 0; rows && i < k; i++)
		rows[i] = items[i].row;
	free(items);
	*n = rows ? k : 0;
	return rows;
}

static void section_open(struct html *h, int item)
{
	for (size_t i = 0; i < sizeof sections_def / sizeof sections_def[0]; i++) {
		if (sections_def[i].item != item)
			continue;
		put(h, "<section id=\"%s\"><h2>", sections_def[i].anchor);
		text(h, T(h->r, sections_def[i].ja, sections_def[i].en));
		put(h, "</h2>");
	}
}

/* ---- The first page ---- */

static void overall_value(struct html *h, const struct rtable *t, size_t row)
{
	const struct rcell *count = rt_cell(t, row, rt_col(t, "count")), *of = rt_cell(t, row, rt_col(t, "of"));
	const struct rcell *rate = rt_cell(t, row, rt_col(t, "rate"));

	if (!rate->null)
		put(h, "%.1f%%（%" PRId64 " / %" PRId64 "）", rate->r * 100.0, count->i, of->i);
	else if (!of->null)
		put(h, "%s", T(h->r, "記録なし", "no records"));
	else
		put(h, "%" PRId64 "%s", count->i, T(h->r, " 件", ""));
}

/* What needs doing, in a sentence per indicator that is not ok. */
static void action(struct html *h, const char *indicator, const struct rtable *ov, size_t row)
{
	const struct rpt *r = h->r;
	int64_t n = rt_int(ov, row, "count"), of = rt_int(ov, row, "of");

	if (strcmp(indicator, "incidents_open") == 0) {
		const struct rtable *inc = rpt_table(r, "incidents_totals");
		const struct rtable *open = rpt_table(r, "incidents_open");
		int64_t hi = 0;
		for (size_t i = 0; open && i < open->nrows; i++) {
			const struct rcell *v = rt_cell(open, i, rt_col(open, "severity"));
			hi += !v->null && (strcmp(v->s, "high") == 0 || strcmp(v->s, "critical") == 0);
		}
		put(h,
		    T(r,
		      "未完了の事故等が %" PRId64 " 件あります（うち重大度「高」「重大」%" PRId64
		      " 件、前期間からの継続 %" PRId64 " 件）。対応状況を確認してください。",
		      "%" PRId64 " incidents are still open (%" PRId64 " high or critical, %" PRId64
		      " carried over from before the period)."),
		    n, hi, rt_int(inc, 0, "open_carried_over"));
	} else if (strcmp(indicator, "ppc_overdue") == 0) {
		put(h,
		    T(r,
		      "個人情報保護委員会への報告期限を過ぎた事案が %" PRId64
		      " 件あります（下の一覧）。直ちに報告してください。",
		      "%" PRId64 " reports to the PPC are past their deadline (listed below): report at once."),
		    n);
	} else if (strcmp(indicator, "training_completion") == 0) {
		put(h,
		    T(r,
		      "一般教育・職場教育の修了者は受講者 %" PRId64 " 名のうち %" PRId64
		      " 名です（目標 95%%）。未修了者に受講を促してください。",
		      "%" PRId64 " attendees, %" PRId64 " completed (target 95%%): follow up those who have not."),
		    of, n);
	} else if (strcmp(indicator, "self_inspection_completion") == 0) {
		const struct rtable *f = rpt_table(r, "self_inspection_by_facility");
		size_t listed = 0;
		put(h,
		    T(r, "自己点検を完了していない施設が %" PRId64 " 施設あります：",
		      "%" PRId64 " facilities have not completed their self-inspection: "),
		    of - n);
		for (size_t i = 0; f && i < f->nrows; i++) {
			if (rt_int(f, i, "completed") > 0)
				continue;
			if (listed++ < 12) {
				put(h, "%s", listed > 1 ? T(r, "、", ", ") : "");
				text(h, rt_cell(f, i, 0)->s);
			}
		}
		if (listed > 12)
			put(h, T(r, " ほか %zu 施設", " and %zu more"), listed - 12);
		put(h, "%s", T(r, "。", "."));
	} else if (strcmp(indicator, "audit_overdue") == 0) {
		put(h,
		    T(r, "是正期限を過ぎた監査の指摘が %" PRId64 " 件あります。",
		      "%" PRId64 " audit corrective actions are overdue."),
		    n);
	} else if (strcmp(indicator, "risks_high_open") == 0) {
		put(h,
		    T(r, "発生可能性・影響度とも「高」のリスク %" PRId64 " 件が未完了です。",
		      "%" PRId64 " risks of high likelihood and high impact are open."),
		    n);
	} else if (strcmp(indicator, "risk_overdue") == 0) {
		put(h,
		    T(r, "対応期限を過ぎたリスクが %" PRId64 " 件あります。",
		      "%" PRId64 " risk treatments are past their due date."),
		    n);
	} else if (strcmp(indicator, "contractor_checks_overdue") == 0) {
		put(h,
		    T(r, "年1回以上の確認（指針第20条第3項）の期限を過ぎた委託事業者等が %" PRId64 " 件あります。",
		      "%" PRId64 " contractors are past their yearly check (Shishin Art. 20(3))."),
		    n);
	} else if (strcmp(indicator, "contractor_issues") == 0) {
		put(h,
		    T(r, "特記事項の不遵守・不適合・未承認の再委託があった確認が %" PRId64 " 件あります。",
		      "%" PRId64 " contractor checks found the special clauses broken, an unsatisfactory result or "
		                 "unapproved sub-contracting."),
		    n);
	} else if (strcmp(indicator, "pi_files_not_notified") == 0) {
		put(h,
		    T(r, "情報公開課長への届出日の記録がない個人情報ファイルが %" PRId64 " 件あります（指針第10条）。",
		      "%" PRId64 " personal-information files have no notification date (Shishin Art. 10)."),
		    n);
	} else {
		text(h, rpt_word(r, indicator));
	}
}

static void cover(struct html *h)
{
	const struct rpt *r = h->r;
	const struct rtable *ov = rpt_table(r, "overall"), *ppc = rpt_table(r, "incidents_ppc");
	const struct rtable *inc = rpt_table(r, "incidents_totals"), *od = rpt_table(r, "overdue_items");
	uint64_t ms = r->o->generated_ms ? r->o->generated_ms : kr_now_ms();
	time_t secs = (time_t)(ms / 1000);
	char generated[32] = "";
	size_t actions = 0, listed = 0;
	struct tm tm;

	if (gmtime_r(&secs, &tm))
		strftime(generated, sizeof generated, "%Y-%m-%d %H:%M UTC", &tm);
	put(h, "<section class=\"cover\" id=\"s1\"><h1>%s</h1>",
	    T(r, "情報セキュリティ マネジメントレビュー資料", "Information security management review"));
	put(h, "<p class=\"meta\">%s %s – %s ／ %s %s ／ %s %zu ／ %s %s（kiroku-hub, ", T(r, "対象期間", "Period"),
	    r->from, r->to, T(r, "基準日", "As of"), r->today, T(r, "施設数", "Facilities"), r->nfacilities,
	    T(r, "作成", "Made"), generated);
	text(h, kr_store_node(r->st));
	put(h, "）%s</p>",
	    r->o->pseudonymise
	        ? T(r, " ／ 個人に関する項目は仮名化（指針第20条第6項）",
	            " / personal fields pseudonymised (Shishin Art. 20(6))")
	        : T(r, " ／ 個人に関する項目を仮名化していません", " / personal fields NOT pseudonymised"));
	put(h, "<h2>%s</h2>", T(r, "総合評価（要綱第11条第5項第9号）", "Overall status (Yoko Art. 11(5)(9))"));
	if (inc)
		put(h,
		    T(r,
		      "<p>期間中の事故等 <b>%" PRId64 "</b> 件（個人情報を含むもの %" PRId64
		      " 件、個人情報保護委員会への報告対象 %" PRId64 " 件）。</p>",
		      "<p>Incidents in the period: <b>%" PRId64 "</b> (%" PRId64 " with personal information, %" PRId64
		      " to report to the PPC).</p>"),
		    rt_int(inc, 0, "incidents"), rt_int(inc, 0, "personal_info"), rt_int(inc, 0, "ppc_required"));
	put(h, "<table class=\"overall\"><thead><tr><th>%s</th><th>%s</th><th>%s</th></tr></thead><tbody>",
	    T(r, "項目", "Indicator"), T(r, "状況", "Figure"), T(r, "評価", "Rating"));
	for (size_t i = 0; ov && i < ov->nrows && !h->s; i++) {
		const struct rcell *ind = rt_cell(ov, i, rt_col(ov, "indicator")),
		                   *rt = rt_cell(ov, i, rt_col(ov, "rating"));
		put(h, "<tr class=\"%s\"><td>", rt->s);
		text(h, rpt_word(r, ind->s));
		put(h, "</td><td class=\"n\">");
		overall_value(h, ov, i);
		put(h, "</td><td class=\"rating\">");
		text(h, rpt_word(r, rt->s));
		put(h, "</td></tr>");
	}
	put(h, "</tbody></table>");
	put(h, "<h3>%s</h3><ul class=\"actions\">", T(r, "要対応・注意事項", "Needing action or attention"));
	for (int pass = 0; pass < 2; pass++) {
		/* the alerts first, then the warnings */
		for (size_t i = 0; ov && i < ov->nrows; i++) {
			const struct rcell *ind = rt_cell(ov, i, rt_col(ov, "indicator")),
			                   *rt = rt_cell(ov, i, rt_col(ov, "rating"));
			if (strcmp(rt->s, pass ? "warn" : "alert") != 0)
				continue;
			actions++;
			put(h, "<li>【");
			text(h, rpt_word(r, rt->s));
			put(h, "】");
			action(h, ind->s, ov, i);
			put(h, "</li>");
		}
	}
	if (!actions)
		put(h, "<li>%s</li>", T(r, "ありません。", "Nothing."));
	put(h, "</ul>");
	/* The PPC reports overdue, one by one: a legal deadline. */
	for (size_t i = 0; ppc && i < ppc->nrows && listed < 10; i++) {
		const struct rcell *p = rt_cell(ppc, i, rt_col(ppc, "preliminary_state"));
		const struct rcell *f = rt_cell(ppc, i, rt_col(ppc, "final_state"));
		bool pov = !p->null && strcmp(p->s, "overdue") == 0, fov = !f->null && strcmp(f->s, "overdue") == 0;
		if (!pov && !fov)
			continue;
		if (!listed++)
			put(h, "<p>%s</p><ul class=\"actions\">",
			    T(r, "個人情報保護委員会への報告期限を過ぎた事案：", "PPC reports overdue:"));
		put(h, "<li class=\"alert\">");
		text(h, rt_cell(ppc, i, rt_col(ppc, "facility"))->s);
		put(h, " <code>");
		text(h, rt_cell(ppc, i, rt_col(ppc, "id"))->s);
		put(h, "</code> %s %s</li>", pov ? T(r, "速報期限", "preliminary due") : T(r, "確報期限", "final due"),
		    rt_cell(ppc, i, rt_col(ppc, pov ? "preliminary_due" : "final_due"))->s);
	}
	if (listed)
		put(h, "</ul>");
	if (od && od->nrows) {
		size_t rows[16], n = od->nrows < 16 ? od->nrows : 16;
		for (size_t i = 0; i < n; i++)
			rows[i] = i;
		hbars_of(h, T(r, "期限を過ぎた事項（件数）", "Overdue items (count)"), od, rows, n, "item", "count",
		         "#C0392B");
	}
	put(h, "<nav><h3>%s</h3><ol>", T(r, "目次", "Contents"));
	for (size_t i = 0; i < sizeof sections_def / sizeof sections_def[0]; i++) {
		put(h, "<li><a href=\"#%s\">", sections_def[i].anchor);
		text(h, T(r, sections_def[i].ja, sections_def[i].en));
		put(h, "</a></li>");
	}
	put(h, "<li><a href=\"#annex\">%s</a></li></ol></nav></section>",
	    T(r, "別表　事故等の一覧", "Annex: incidents"));
	flush(h);
}

/* ---- The sections ---- */

static void education(struct html *h)
{
	const struct rpt *r = h->r;
	const struct rtable *c = rpt_table(r, "education_by_course"),
	                    *fc = rpt_table(r, "education_by_facility_course");
	struct rtable per = {0};
	static const struct rcol cols[] = {{.key = "facility", .ja = "施設", .en = "Facility", .type = RT_ID},
	                                   {.key = "rate", .ja = "修了率", .en = "Rate", .type = RT_RATE}};
	size_t n = 0, *rows;

	section_open(h, 2);
	if (c && c->nrows) {
		size_t all[8], k = c->nrows < 8 ? c->nrows : 8;
		for (size_t i = 0; i < k; i++)
			all[i] = i;
		hbars_of(h, T(r, "研修の区分ごとの修了率", "Completion by course"), c, all, k, "course",
		         "completion_rate", "#009E73");
	}
	/* Per facility over both courses: the 15 lowest completion rates. */
	per.cols = cols;
	per.ncols = 2;
	if (fc && (per.cells = calloc(fc->nrows + 1, 2 * sizeof *per.cells))) {
		for (size_t i = 0; i < fc->nrows; i++) {
			const struct rcell *f = rt_cell(fc, i, 0);
			int64_t att = rt_int(fc, i, "attendees"), done = rt_int(fc, i, "completed");
			struct rcell *last = per.nrows ? &per.cells[(per.nrows - 1) * 2] : NULL;
			if (!last || strcmp(last[0].s, f->s) != 0) {
				last = &per.cells[per.nrows++ * 2];
				last[0] = (struct rcell){.s = f->s};
				last[1] = (struct rcell){.null = true};
			}
			/* keep attendees and completed in i and r until the rate is made */
			last[1].i += att;
			last[1].r += (double)done;
		}
		for (size_t i = 0; i < per.nrows; i++) {
			struct rcell *v = &per.cells[i * 2 + 1];
			int64_t att = v->i;
			v->null = att == 0;
			v->r = att ? v->r / (double)att : 0;
		}
		rows = rows_by(&per, "rate", false, 15, &n);
		if (rows)
			hbars_of(
			    h, T(r, "修了率の低い施設（下位15）", "Facilities with the lowest completion (bottom 15)"),
			    &per, rows, n, "facility", "rate", "#E69F00");
		free(rows);
		free(per.cells);
	}
	table(h, c);
	table(h, fc);
	put(h, "</section>");
}

static void self_inspection(struct html *h)
{
	const struct rpt *r = h->r;
	const struct rtable *items = rpt_table(r, "self_inspection_items"),
	                    *fac = rpt_table(r, "self_inspection_by_facility");
	size_t n = 0, *rows;

	section_open(h, 3);
	table(h, rpt_table(r, "self_inspection_totals"));
	if (items && items->nrows) {
		struct rtable yes = {0};
		static const struct rcol cols[] = {
		    {.key = "item", .ja = "点検項目", .en = "Item", .type = RT_FIELD, .kind = "self_inspection"},
		    {.key = "yes_rate", .ja = "はい", .en = "Yes", .type = RT_RATE}};
		yes.cols = cols;
		yes.ncols = 2;
		if ((yes.cells = calloc(items->nrows + 1, 2 * sizeof *yes.cells))) {
			for (size_t i = 0; i < items->nrows; i++) {
				int64_t y = rt_int(items, i, "yes"), no = rt_int(items, i, "no");
				yes.cells[i * 2] = *rt_cell(items, i, 0);
				yes.cells[i * 2 + 1] =
				    (struct rcell){.null = y + no == 0, .r = y + no ? (double)y / (double)(y + no) : 0};
			}
			yes.nrows = items->nrows;
			{
				size_t all[64], k = yes.nrows < 64 ? yes.nrows : 64;
				for (size_t i = 0; i < k; i++)
					all[i] = i;
				hbars_of(h,
				         T(r, "点検項目ごとの「はい」の割合（弱い項目から）",
				           "Share of yes by item (weakest first)"),
				         &yes, all, k, "item", "yes_rate", "#0072B2");
			}
			free(yes.cells);
		}
	}
	rows = rows_by(fac, "yes_rate", false, 15, &n);
	if (rows)
		hbars_of(h, T(r, "「はい」の割合の低い施設（下位15）", "Facilities with the lowest scores (bottom 15)"),
		         fac, rows, n, "facility", "yes_rate", "#CC79A7");
	free(rows);
	table(h, items);
	table(h, fac);
	put(h, "</section>");
}

static void audit(struct html *h)
{
	const struct rpt *r = h->r;
	const struct rtable *sev = rpt_table(r, "audit_by_severity_status");

	section_open(h, 4);
	table(h, rpt_table(r, "audit_totals"));
	if (sev && sev->nrows) {
		size_t all[8], k = sev->nrows < 8 ? sev->nrows : 8;
		for (size_t i = 0; i < k; i++)
			all[i] = i;
		hbars_of(h, T(r, "重要度別の指摘事項", "Findings by severity"), sev, all, k, "severity", "total",
		         "#D55E00");
	}
	table(h, sev);
	table(h, rpt_table(r, "audit_overdue"));
	put(h, "</section>");
}

static void risk(struct html *h)
{
	section_open(h, 5);
	table(h, rpt_table(h->r, "risk_matrix"));
	table(h, rpt_table(h->r, "risk_by_treatment"));
	table(h, rpt_table(h->r, "risk_open"));
	put(h, "</section>");
}

static void incidents(struct html *h)
{
	const struct rpt *r = h->r;
	const struct rtable *m = rpt_table(r, "incidents_by_month"), *fac = rpt_table(r, "incidents_by_facility");
	const struct rtable *sev = rpt_table(r, "incidents_by_severity");
	size_t n = 0, *rows;

	section_open(h, 7);
	table(h, rpt_table(r, "incidents_totals"));
	if (m && m->nrows && m->ncols > 2 && !h->s) {
		size_t ns = m->ncols - 2;
		struct svg_series *series = calloc(ns, sizeof *series);
		const char **labels = calloc(m->nrows, sizeof *labels);
		double *values = calloc(m->nrows * ns + 1, sizeof *values);
		if (series && labels && values) {
			for (size_t s = 0; s < ns; s++)
				series[s] = (struct svg_series){rpt_col_label(r, &m->cols[1 + s]),
				                                palette[s % (sizeof palette / sizeof palette[0])]};
			for (size_t i = 0; i < m->nrows; i++) {
				labels[i] = rt_cell(m, i, 0)->s;
				for (size_t s = 0; s < ns; s++)
					values[i * ns + s] = (double)rt_cell(m, i, 1 + s)->i;
			}
			chart_done(h, svg_stacked_bars(
			                  &h->b, T(r, "月別の事故等（区分別）", "Incidents per month by category"),
			                  m->nrows, labels, ns, series, values));
			flush(h);
		} else {
			h->s = KR_ERR_NOMEM;
		}
		free(series);
		free(labels);
		free(values);
	}
	rows = rows_by(fac, "incidents", true, 15, &n);
	if (rows && n)
		hbars_of(h, T(r, "事故等の多い施設（上位15）", "Facilities with the most incidents (top 15)"), fac,
		         rows, n, "facility", "incidents", "#0072B2");
	free(rows);
	if (sev && sev->nrows) {
		size_t all[8], k = sev->nrows < 8 ? sev->nrows : 8;
		for (size_t i = 0; i < k; i++)
			all[i] = i;
		hbars_of(h, T(r, "重大度別の事故等", "Incidents by severity"), sev, all, k, "severity", "incidents",
		         "#D55E00");
	}
	table(h, m);
	table(h, rpt_table(r, "incidents_by_category"));
	table(h, sev);
	table(h, rpt_table(r, "incidents_by_status"));
	table(h, rpt_table(r, "incidents_ppc"));
	table(h, rpt_table(r, "incidents_open"));
	table(h, rpt_table(r, "incidents_recurrence"));
	table(h, fac);
	put(h, "</section>");
}

static void contractors(struct html *h)
{
	section_open(h, 8);
	table(h, rpt_table(h->r, "contractor_totals"));
	table(h, rpt_table(h->r, "contractor_issues"));
	table(h, rpt_table(h->r, "contractors"));
	put(h, "</section>");
}

static void details(struct html *h)
{
	section_open(h, 9);
	table(h, rpt_table(h->r, "overall"));
	table(h, rpt_table(h->r, "overdue_items"));
	table(h, rpt_table(h->r, "pi_files"));
	table(h, rpt_table(h->r, "pi_handling_by_action"));
	put(h, "</section>");
}

kr_status rpt_html_begin(const struct rpt *r, struct rpt_out *out, struct kr_error *err)
{
	struct html h = {.r = r, .out = out, .err = err};

	kr_buf_init(&h.b, 0);
	kr_buf_init(&h.cell, 0);
	put(&h,
	    "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\"/><title>%s %s – %s</title>"
	    "<style>%s</style></head><body>\n",
	    r->en ? "en" : "ja", T(r, "マネジメントレビュー資料", "Management review"), r->from, r->to, css);
	cover(&h);
	education(&h);
	self_inspection(&h);
	audit(&h);
	risk(&h);
	incidents(&h);
	contractors(&h);
	details(&h);
	/* The annex: its rows follow from rpt_html_annex_row. */
	put(&h, "<section class=\"annex\" id=\"annex\"><h2>%s</h2><p class=\"note\">",
	    T(r, "別表　事故等の一覧", "Annex: incidents of the period"));
	put(&h, "%s %" PRIu64 "%s", T(r, "期間中に発生した事故等", "Incidents that occurred in the period:"),
	    r->annex_rows, T(r, " 件（発生日順）。", " (by occurrence)."));
	put(&h, "%s</p>",
	    r->o->pseudonymise ? T(r, "報告者・連絡先・本人の氏名等は仮名（同じ値は同じ仮名）。",
	                           "Reporter, contact and affected persons are pseudonyms (one value, one pseudonym).")
	                       : T(r, "個人に関する項目をそのまま表示しています。取扱いに注意してください。",
	                           "Personal fields are shown as they are: handle with care."));
	put(&h, "<table class=\"annex\"><thead><tr>");
	for (size_t c = 0; c < rpt_annex_ncols; c++) {
		if (rpt_annex_cols[c].block)
			continue;
		put(&h, "<th>");
		text(&h, rpt_col_label(r, &rpt_annex_cols[c]));
		put(&h, "</th>");
	}
	put(&h, "</tr></thead><tbody>\n");
	flush(&h);
	kr_buf_release(&h.b);
	kr_buf_release(&h.cell);
	if (h.s && h.s == KR_ERR_NOMEM)
		return kr_fail(err, h.s, "out of memory writing review.html");
	return h.s;
}

kr_status rpt_html_annex_row(const struct rpt *r, const struct rcell *cells, struct rpt_out *out,
                             struct kr_buf *scratch, struct kr_error *err)
{
	struct html h = {.r = r, .out = out, .err = err};
	size_t ncols = 0;

	/* The caller's scratch buffer serves as h.b, and r's cell buffer as h.cell: no allocation per row. */
	h.b = *scratch;
	h.b.len = 0;
	h.cell = r->cache->cell;
	lit(&h, "<tr>");
	for (size_t c = 0; c < rpt_annex_ncols; c++) {
		if (rpt_annex_cols[c].block)
			continue;
		ncols++;
		td(&h, cell_class(&rpt_annex_cols[c], &cells[c]));
		text(&h, cell_text(&h, &rpt_annex_cols[c], &cells[c]));
		lit(&h, "</td>");
	}
	put(&h, "</tr><tr><td class=\"text\" colspan=\"%zu\">", ncols);
	for (size_t c = 0, first = 1; c < rpt_annex_ncols; c++) {
		if (!rpt_annex_cols[c].block)
			continue;
		lit(&h, first ? "<b>" : "<br/><b>");
		first = 0;
		text(&h, rpt_col_label(r, &rpt_annex_cols[c]));
		lit(&h, "：</b>");
		text(&h, cells[c].null ? "—" : cells[c].s);
	}
	lit(&h, "</td></tr>\n");
	if (!h.s)
		rpt_out_buf(out, &h.b);
	*scratch = h.b;
	r->cache->cell = h.cell;
	if (h.s == KR_ERR_NOMEM)
		return kr_fail(err, h.s, "out of memory writing review.html");
	return h.s;
}

kr_status rpt_html_end(const struct rpt *r, struct rpt_out *out, struct kr_error *err)
{
	static const char end[] = "</tbody></table></section>\n</body></html>\n";

	(void)r;
	(void)err;
	rpt_out_write(out, end, sizeof end - 1);
	return KR_OK;
}
