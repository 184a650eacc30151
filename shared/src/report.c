/* report.c: kr_report_write: computes the figures, then writes review.html, review.json and the CSV files;
 * and what the renderers share: cell texts, labels, words, and output files renamed into place at the end. */
#include "report_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiroku/print.h"

/* ---- Words of the report's own vocabulary ---- */

static const struct word {
	const char *token, *ja, *en;
} words[] = {
    {"pending", "期限前", "Pending"},
    {"overdue", "期限超過", "Overdue"},
    {"met", "期限内に報告", "Met"},
    {"late", "期限後に報告", "Late"},
    {"ok", "良好", "OK"},
    {"warn", "注意", "Attention"},
    {"alert", "要対応", "Action needed"},
    {"yes", "はい", "Yes"},
    {"no", "いいえ", "No"},
    {"untriaged", "未判定", "Not triaged"},
    {"undecided", "未定", "Undecided"},
    {"incidents_open", "未完了の事故等", "Open incidents"},
    {"ppc_overdue", "PPC報告の期限超過", "PPC reports overdue"},
    {"training_completion", "一般教育・職場教育の修了率", "Training completion"},
    {"self_inspection_completion", "自己点検を完了した施設", "Facilities with a completed self-inspection"},
    {"audit_overdue", "是正期限を過ぎた監査の指摘", "Audit corrective actions overdue"},
    {"risks_high_open", "未完了の高リスク（可能性・影響とも高）", "Open high risks (likelihood and impact high)"},
    {"risk_overdue", "対応期限を過ぎたリスク", "Risk treatments overdue"},
    {"contractor_checks_overdue", "確認期限を過ぎた委託事業者等", "Contractor checks overdue"},
    {"contractor_issues", "問題のあった委託事業者等の確認", "Contractor checks with issues"},
    {"pi_files_not_notified", "届出日の記録のない個人情報ファイル", "Personal-information files not notified"},
    {"ppc_preliminary", "PPCへの速報", "PPC preliminary report"},
    {"ppc_final", "PPCへの確報", "PPC final report"},
    {"audit_corrective_action", "監査の是正", "Audit corrective action"},
    {"risk_treatment", "リスクへの対応", "Risk treatment"},
    {"contractor_check", "委託事業者等の確認", "Contractor check"},
};

const char *rpt_word(const struct rpt *r, const char *token)
{
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strcmp(words[i].token, token) == 0)
			return r->en ? words[i].en : words[i].ja;
	return token;
}

/* The catalogue definitions behind column c (either may be NULL), from the cache. */
static void col_defs(const struct rpt *r, const struct rcol *c, const struct kr_kind_def **kd,
                     const struct kr_field_def **fd)
{
	struct rpt_cache *k = r->cache;

	for (size_t i = 0; k && i < k->ncols; i++) {
		if (k->cols[i].col == c) {
			*kd = k->cols[i].kd;
			*fd = k->cols[i].fd;
			return;
		}
	}
	*kd = c->kind ? kr_catalogue_kind(r->cat, c->kind) : NULL;
	*fd = *kd && c->field ? kr_catalogue_field(*kd, c->field) : NULL;
	if (k && k->ncols < RPT_CACHE_COLS) {
		k->cols[k->ncols].col = c;
		k->cols[k->ncols].kd = *kd;
		k->cols[k->ncols++].fd = *fd;
	}
}

const char *rpt_col_label(const struct rpt *r, const struct rcol *c)
{
	const struct kr_kind_def *kd;
	const struct kr_field_def *fd;

	if (c->ja || c->en)
		return r->en ? c->en : c->ja;
	col_defs(r, c, &kd, &fd);
	return fd ? kr_field_label(fd, r->en ? "en" : "ja") : c->key;
}

kr_status rpt_pseudonym(const struct rpt *r, const char *s, char token[KR_PSEUDONYM_LEN + 1], struct kr_error *err)
{
	struct rpt_cache *k = r->cache;
	uint64_t hash = UINT64_C(14695981039346656037);
	size_t len = strlen(s), slot;
	kr_status st;

	for (size_t i = 0; i < len; i++)
		hash = (hash ^ (unsigned char)s[i]) * UINT64_C(1099511628211);
	slot = (size_t)hash & (RPT_CACHE_NAMES - 1);
	while (k && k->names[slot].value) {
		if (k->names[slot].hash == hash && strcmp(k->names[slot].value, s) == 0) {
			memcpy(token, k->names[slot].token, KR_PSEUDONYM_LEN + 1);
			return KR_OK;
		}
		slot = (slot + 1) & (RPT_CACHE_NAMES - 1);
	}
	if ((st = kr_pseudonym(r->o->key, s, len, token, err)))
		return st;
	/* Kept while the table is at most three quarters full; a missing copy only costs time. */
	if (k && k->nnames < RPT_CACHE_NAMES / 4 * 3 && (k->names[slot].value = strdup(s))) {
		k->names[slot].hash = hash;
		memcpy(k->names[slot].token, token, KR_PSEUDONYM_LEN + 1);
		k->nnames++;
	}
	return KR_OK;
}

static void cache_free(struct rpt_cache *k)
{
	for (size_t i = 0; k && i < RPT_CACHE_NAMES; i++)
		free(k->names[i].value);
	if (k)
		kr_buf_release(&k->cell);
	free(k);
}

static kr_status append_str(struct kr_buf *out, const char *s)
{
	return kr_buf_append(out, s, strlen(s));
}

kr_status rpt_cell_text(const struct rpt *r, const struct rcol *c, const struct rcell *v, struct kr_buf *out,
                        struct kr_error *err)
{
	const char *lang = r->en ? "en" : "ja";
	const struct kr_kind_def *kd;
	const struct kr_field_def *fd;
	kr_status s = KR_OK;

	if (v->null) {
		if (c->type == RT_ENUM && c->field && strcmp(c->field, "severity") == 0)
			s = append_str(out, rpt_word(r, "untriaged"));
		else if (c->type == RT_ENUM && c->field && strcmp(c->field, "treatment") == 0)
			s = append_str(out, rpt_word(r, "undecided"));
		return s ? kr_fail(err, s, "out of memory writing the review material") : KR_OK;
	}
	switch (c->type) {
	case RT_INT:
		s = kr_buf_printf(out, "%" PRId64, v->i);
		break;
	case RT_RATE:
		s = kr_buf_printf(out, "%.1f%%", v->r * 100.0);
		break;
	case RT_BOOL:
		s = append_str(out, rpt_word(r, v->i ? "yes" : "no"));
		break;
	case RT_ENUM:
		col_defs(r, c, &kd, &fd);
		s = append_str(out, kr_field_value_label(fd, v->s, lang));
		break;
	case RT_FIELD:
		col_defs(r, c, &kd, &fd);
		fd = kr_catalogue_field(kd, v->s);
		s = append_str(out, fd ? kr_field_label(fd, lang) : v->s);
		break;
	case RT_WORD:
		s = append_str(out, rpt_word(r, v->s));
		break;
	default:
		if (c->personal && r->o->pseudonymise) {
			char token[KR_PSEUDONYM_LEN + 1];
			if ((s = rpt_pseudonym(r, v->s, token, err)))
				return s;
			s = kr_buf_append(out, token, KR_PSEUDONYM_LEN);
		} else {
			s = append_str(out, v->s);
		}
	}
	return s ? kr_fail(err, s, "out of memory writing the review material") : KR_OK;
}

/* ---- Output files ---- */

kr_status rpt_out_open(struct rpt_out *o, const char *dir, const char *name, struct kr_error *err)
{
	int fd;

	memset(o, 0, sizeof *o);
	if ((size_t)snprintf(o->path, sizeof o->path, "%s/%s", dir, name) >= sizeof o->path ||
	    (size_t)snprintf(o->tmp, sizeof o->tmp, "%s/.%s.tmp", dir, name) >= sizeof o->tmp)
		return kr_fail(err, KR_ERR_IO, "the path %s/%s is too long", dir, name);
	fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !(o->f = fdopen(fd, "wb"))) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		o->tmp[0] = 0;
		return kr_fail(err, KR_ERR_IO, "cannot create %s: %s", o->path, strerror(e));
	}
	setvbuf(o->f, NULL, _IOFBF, 1 << 16);
	return KR_OK;
}

void rpt_out_write(struct rpt_out *o, const void *p, size_t n)
{
	if (o->failed || !n)
		return;
	if (fwrite(p, 1, n, o->f) != n) {
		o->failed = true;
		o->err_no = errno;
	}
}

void rpt_out_buf(struct rpt_out *o, struct kr_buf *b)
{
	rpt_out_write(o, b->data, b->len);
	b->len = 0;
}

kr_status rpt_out_finish(struct rpt_out *o, struct kr_error *err)
{
	if (!o->f)
		return KR_OK;
	if (!o->failed && (fflush(o->f) != 0 || fsync(fileno(o->f)) != 0)) {
		o->failed = true;
		o->err_no = errno;
	}
	if (fclose(o->f) != 0 && !o->failed) {
		o->failed = true;
		o->err_no = errno;
	}
	o->f = NULL;
	if (o->failed)
		return kr_fail(err, KR_ERR_IO, "writing %s failed: %s%s", o->path, strerror(o->err_no),
		               o->err_no == ENOSPC ? " (free some space and run the report again)" : "");
	return KR_OK;
}

kr_status rpt_out_commit(struct rpt_out *o, struct kr_error *err)
{
	if (!o->tmp[0])
		return KR_OK;
	if (rename(o->tmp, o->path) != 0)
		return kr_fail(err, KR_ERR_IO, "cannot rename %s to %s: %s", o->tmp, o->path, strerror(errno));
	o->tmp[0] = 0;
	return KR_OK;
}

void rpt_out_abort(struct rpt_out *o)
{
	if (o->f)
		fclose(o->f);
	o->f = NULL;
	if (o->tmp[0])
		unlink(o->tmp);
	o->tmp[0] = 0;
}

/* ---- The whole ---- */

struct annex_ctx {
	const struct rpt *r;
	struct rpt_out *html, *csv;
	struct kr_buf scratch;
};

static kr_status annex_row(void *ctx, const struct rcell *cells, struct kr_error *err)
{
	struct annex_ctx *a = ctx;
	kr_status s = rpt_html_annex_row(a->r, cells, a->html, &a->scratch, err);
	if (!s)
		s = rpt_csv_row(a->r, rpt_annex_cols, rpt_annex_ncols, cells, a->csv, &a->scratch, err);
	return s;
}

#define MAX_OUT (RPT_MAX_TABLES + 3)

kr_status kr_report_write(struct kr_store *st, const struct kr_report_opts *opts, struct kr_report_summary *sum,
                          struct kr_error *err)
{
	struct rpt r;
	struct rpt_out *outs;
	struct annex_ctx a;
	size_t nout = 0;
	kr_status s;

	memset(sum, 0, sizeof *sum);
	if (opts->from > opts->to)
		return kr_fail(err, KR_ERR_INVALID, "the period ends before it starts");
	if (opts->pseudonymise && !opts->key)
		return kr_fail(err, KR_ERR_INVALID, "pseudonymising needs the key");
	if (opts->lang && strcmp(opts->lang, "ja") != 0 && strcmp(opts->lang, "en") != 0)
		return kr_fail(err, KR_ERR_INVALID, "--lang: \"%s\" is not ja or en", opts->lang);
	if ((s = kr_dir_make(opts->out_dir, err)))
		return s;
	if (!(outs = calloc(MAX_OUT, sizeof *outs)))
		return kr_fail(err, KR_ERR_NOMEM, "out of memory");
	memset(&r, 0, sizeof r);
	r.st = st;
	r.o = opts;
	r.en = opts->lang && strcmp(opts->lang, "en") == 0;
	kr_arena_init(&r.arena, 0);
	if (!(r.cache = calloc(1, sizeof *r.cache))) {
		free(outs);
		return kr_fail(err, KR_ERR_NOMEM, "out of memory");
	}
	kr_buf_init(&a.scratch, 0);
	if ((s = rpt_compute(&r, err)))
		goto out;

	/* review.json and a CSV per table. */
	if ((s = rpt_out_open(&outs[nout], opts->out_dir, "review.json", err)))
		goto out;
	s = rpt_json(&r, &outs[nout], err);
	if (!s)
		s = rpt_out_finish(&outs[nout], err);
	nout++;
	for (size_t i = 0; !s && i < r.ntables; i++) {
		char name[128];
		snprintf(name, sizeof name, "%02d-%s.csv", r.tables[i]->item, r.tables[i]->id);
		if ((s = rpt_out_open(&outs[nout], opts->out_dir, name, err)))
			break;
		s = rpt_csv_table(&r, r.tables[i], &outs[nout], err);
		if (!s)
			s = rpt_out_finish(&outs[nout], err);
		nout++;
	}
	if (s)
		goto out;

	/* review.html, and the annex as HTML rows and CSV rows in one pass. */
	a = (struct annex_ctx){.r = &r, .html = &outs[nout], .csv = &outs[nout + 1], .scratch = a.scratch};
	if ((s = rpt_out_open(a.html, opts->out_dir, "review.html", err)))
		goto out;
	nout++;
	if ((s = rpt_out_open(a.csv, opts->out_dir, "10-annex_incidents.csv", err)))
		goto out;
	nout++;
	if (!(s = rpt_html_begin(&r, a.html, err)) &&
	    !(s = rpt_csv_header(&r, rpt_annex_cols, rpt_annex_ncols, a.csv, err)) &&
	    !(s = rpt_annex(&r, annex_row, &a, err)) && !(s = rpt_html_end(&r, a.html, err)) &&
	    !(s = rpt_out_finish(a.html, err)))
		s = rpt_out_finish(a.csv, err);
	for (size_t i = 0; !s && i < nout; i++)
		s = rpt_out_commit(&outs[i], err);
	if (!s) {
		const struct rtable *inc = rpt_table(&r, "incidents_totals"), *ov = rpt_table(&r, "overdue_items");
		sum->facilities = r.nfacilities;
		sum->incidents = (uint64_t)rt_int(inc, 0, "incidents");
		sum->open_incidents = (uint64_t)rt_int(inc, 0, "open");
		for (size_t i = 0; ov && i < ov->nrows; i++)
			sum->overdue_items += (uint64_t)rt_int(ov, i, "count");
		sum->files = nout;
		sum->tables = r.ntables;
	}
out:
	for (size_t i = 0; i < nout; i++)
		rpt_out_abort(&outs[i]);
	free(outs);
	kr_buf_release(&a.scratch);
	rpt_release(&r);
	cache_free(r.cache);
	return s;
}
