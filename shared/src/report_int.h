/* report_int.h: the review material's insides: the figures as tables, shared by report*.c only.
 *
 * report_figures.c fills a struct rpt with tables of figures (SQL over the store); report_html.c,
 * report_csv.c and report_json.c render them; report_svg.c draws the charts; report.c runs the whole and
 * writes the files. A table is a list of typed columns and rows of cells; every string a table holds lives
 * in the rpt's arena until rpt_release.
 */
#ifndef KR_REPORT_INT_H
#define KR_REPORT_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kiroku/buf.h"
#include "kiroku/catalogue.h"
#include "kiroku/report.h"

enum rtype {
	RT_TEXT,  /* free text */
	RT_ID,    /* a record id or a facility id: shown as is, in monospace */
	RT_DATE,  /* "YYYY-MM-DD" */
	RT_INT,   /* a count */
	RT_RATE,  /* a fraction 0..1, or null when there is nothing to divide by; shown as a percentage */
	RT_BOOL,  /* 0/1: shown as はい/いいえ */
	RT_ENUM,  /* a stored enumeration value of (kind, field): shown as its label */
	RT_FIELD, /* a field name of kind: shown as the field's label */
	RT_WORD,  /* a token of the report's own vocabulary (deadline states, ratings): shown in words */
	RT_MONTH, /* "YYYY-MM" */
};

struct rcol {
	const char *key;     /* JSON key, and the CSV header in English */
	const char *ja, *en; /* header */
	enum rtype type;
	const char *kind, *field; /* RT_ENUM: where the labels are; RT_FIELD: the kind */
	bool personal;            /* pseudonymised unless the operator asks otherwise */
	bool block;               /* annex: long text, shown below the row's cells in the HTML */
};

struct rcell {
	bool null;
	int64_t i;     /* RT_INT, RT_BOOL */
	double r;      /* RT_RATE */
	const char *s; /* the others */
};

struct rtable {
	const char *id;                /* file and JSON name, e.g. "incidents_by_month" */
	int item;                      /* 要綱 第11条第5項 item (2..9); 10 for the annex */
	const char *ja, *en;           /* title */
	const char *note_ja, *note_en; /* what the figures count (may be NULL) */
	size_t ncols;
	const struct rcol *cols;
	size_t nrows, cap;
	struct rcell *cells; /* nrows * ncols, row-major */
};

enum rating { RATING_OK, RATING_WARN, RATING_ALERT };

/* Lookups the renderers repeat for every cell: the catalogue definitions behind a column, and the
 * pseudonyms already made (HMAC costs more than a table lookup). */
#define RPT_CACHE_COLS  128
#define RPT_CACHE_NAMES 65536 /* a power of two */
struct rpt_cache {
	struct {
		const struct rcol *col;
		const struct kr_kind_def *kd;
		const struct kr_field_def *fd;
	} cols[RPT_CACHE_COLS];
	size_t ncols;
	struct {
		uint64_t hash;
		char *value; /* malloc'd; NULL: empty slot */
		char token[KR_PSEUDONYM_LEN + 1];
	} names[RPT_CACHE_NAMES];
	size_t nnames;
	struct kr_buf cell; /* the HTML annex's cell texts */
};

#define RPT_MAX_TABLES 40

struct rpt {
	struct kr_store *st;
	sqlite3 *db;
	const struct kr_catalogue *cat;
	const struct kr_report_opts *o;
	char from[11], to[11], today[11];
	bool en;
	struct kr_arena arena;
	size_t ntables;
	struct rtable *tables[RPT_MAX_TABLES];
	size_t nfacilities;
	uint64_t annex_rows;     /* incidents of the period, as the annex lists them */
	struct rpt_cache *cache; /* mutable through a const struct rpt */
};

/* report_figures.c */
kr_status rpt_compute(struct rpt *r, struct kr_error *err);
/* Frees every table and the arena. */
void rpt_release(struct rpt *r);
struct rtable *rpt_table(const struct rpt *r, const char *id);
/* A cell; NULL when row or column is out of range. */
const struct rcell *rt_cell(const struct rtable *t, size_t row, size_t col);
/* The index of column key, or (size_t)-1. */
size_t rt_col(const struct rtable *t, const char *key);
/* The integer in (row, key), 0 when absent or null. */
int64_t rt_int(const struct rtable *t, size_t row, const char *key);
/* Rating of an overall indicator ("ok", "warn", "alert"). */
const char *rpt_rating_name(enum rating r);

/* The annex: each incident of the period, in occurrence order. Calls fn with the row's cells (in the
 * order of rpt_annex_cols) for each. */
extern const struct rcol rpt_annex_cols[];
extern const size_t rpt_annex_ncols;
typedef kr_status (*rpt_row_fn)(void *ctx, const struct rcell *cells, struct kr_error *err);
kr_status rpt_annex(struct rpt *r, rpt_row_fn fn, void *ctx, struct kr_error *err);

/* Text of a cell as people read it (labels, words, percentages), pseudonymised if the column is personal
 * and the report says so. Appended to out. */
kr_status rpt_cell_text(const struct rpt *r, const struct rcol *c, const struct rcell *v, struct kr_buf *out,
                        struct kr_error *err);
/* Header and title in the report's language. */
const char *rpt_col_label(const struct rpt *r, const struct rcol *c);
const char *rpt_word(const struct rpt *r, const char *token);
/* The pseudonym of s (made with the report's key, or found in the cache) into token. */
kr_status rpt_pseudonym(const struct rpt *r, const char *s, char token[KR_PSEUDONYM_LEN + 1], struct kr_error *err);

/* ---- Output files: written to a temporary name, renamed by rpt_out_commit ---- */
struct rpt_out {
	char path[4096], tmp[4096];
	FILE *f;
	bool failed;
	int err_no;
};
kr_status rpt_out_open(struct rpt_out *o, const char *dir, const char *name, struct kr_error *err);
/* Appends; errors are remembered and reported by rpt_out_finish. */
void rpt_out_write(struct rpt_out *o, const void *p, size_t n);
void rpt_out_buf(struct rpt_out *o, struct kr_buf *b); /* writes b and empties it */
/* Flushes to disk and closes (the file keeps its temporary name). */
kr_status rpt_out_finish(struct rpt_out *o, struct kr_error *err);
kr_status rpt_out_commit(struct rpt_out *o, struct kr_error *err);
/* Closes and removes the temporary file. Can't fail. */
void rpt_out_abort(struct rpt_out *o);

/* report_csv.c: one table as CSV (BOM, CRLF, RFC 4180). */
kr_status rpt_csv_table(const struct rpt *r, const struct rtable *t, struct rpt_out *out, struct kr_error *err);
kr_status rpt_csv_header(const struct rpt *r, const struct rcol *cols, size_t ncols, struct rpt_out *out,
                         struct kr_error *err);
kr_status rpt_csv_row(const struct rpt *r, const struct rcol *cols, size_t ncols, const struct rcell *cells,
                      struct rpt_out *out, struct kr_buf *scratch, struct kr_error *err);

/* report_json.c */
kr_status rpt_json(const struct rpt *r, struct rpt_out *out, struct kr_error *err);

/* report_html.c: everything up to the annex's rows, one annex row, and the end. */
kr_status rpt_html_begin(const struct rpt *r, struct rpt_out *out, struct kr_error *err);
kr_status rpt_html_annex_row(const struct rpt *r, const struct rcell *cells, struct rpt_out *out,
                             struct kr_buf *scratch, struct kr_error *err);
kr_status rpt_html_end(const struct rpt *r, struct rpt_out *out, struct kr_error *err);

/* report_svg.c: charts. Values are counts or (percent) fractions; labels are UTF-8. Appended to out. */
struct svg_series {
	const char *label;
	const char *color;
};
/* Vertical bars, one per label, each stacked from nseries values (values[bar * nseries + series]). */
kr_status svg_stacked_bars(struct kr_buf *out, const char *title, size_t nbars, const char *const *labels,
                           size_t nseries, const struct svg_series *series, const double *values);
/* Horizontal bars, one per label; percent: values are fractions shown as %, the axis runs to 100 %. */
kr_status svg_hbars(struct kr_buf *out, const char *title, size_t n, const char *const *labels, const double *values,
                    bool percent, const char *color);
/* Escapes text for XML (&, <, >, ", ') and appends it. */
kr_status xml_text(struct kr_buf *out, const char *s);

#endif
