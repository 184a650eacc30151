/* report_csv.c: the review material's tables as CSV for spreadsheets: UTF-8 with a BOM (so that the
 * spreadsheet of a city office reads Japanese right), CRLF line ends, and RFC 4180 quoting: a field with a
 * comma, a double quote, CR or LF is put in double quotes, with its double quotes doubled. */
#include "report_int.h"

#include <string.h>

static bool needs_quotes(const char *s, size_t len)
{
	return memchr(s, ',', len) || memchr(s, '"', len) || memchr(s, '\n', len) || memchr(s, '\r', len);
}

static kr_status csv_field(struct kr_buf *b, const char *s, size_t len)
{
	kr_status st;

	if (!needs_quotes(s, len))
		return kr_buf_append(b, s, len);
	st = kr_buf_append(b, "\"", 1);
	for (size_t i = 0; i < len && !st; i++)
		st = s[i] == '"' ? kr_buf_append(b, "\"\"", 2) : kr_buf_append(b, &s[i], 1);
	return st ? st : kr_buf_append(b, "\"", 1);
}

kr_status rpt_csv_header(const struct rpt *r, const struct rcol *cols, size_t ncols, struct rpt_out *out,
                         struct kr_error *err)
{
	struct kr_buf b;
	kr_status s = KR_OK;

	kr_buf_init(&b, 0);
	s = kr_buf_append(&b, "\xef\xbb\xbf", 3);
	for (size_t i = 0; i < ncols && !s; i++) {
		const char *label = rpt_col_label(r, &cols[i]);
		if (i)
			s = kr_buf_append(&b, ",", 1);
		if (!s)
			s = csv_field(&b, label, strlen(label));
	}
	if (!s)
		s = kr_buf_append(&b, "\r\n", 2);
	if (!s)
		rpt_out_buf(out, &b);
	kr_buf_release(&b);
	return s ? kr_fail(err, s, "out of memory writing CSV") : KR_OK;
}

/* Puts the len bytes at the end of b (from at) in double quotes, doubling the double quotes in them. */
static kr_status quote_tail(struct kr_buf *b, size_t at)
{
	size_t len = b->len - at, q = 0, to;
	kr_status s;
	char *d;

	for (size_t k = 0; k < len; k++)
		q += b->data[at + k] == '"';
	if ((s = kr_buf_reserve(b, q + 2)))
		return s;
	d = (char *)b->data + at;
	to = len + q + 2;
	d[--to] = '"';
	for (size_t from = len; from > 0;) {
		char ch = d[--from];
		d[--to] = ch;
		if (ch == '"')
			d[--to] = '"';
	}
	d[0] = '"';
	b->len = at + len + q + 2;
	return KR_OK;
}

kr_status rpt_csv_row(const struct rpt *r, const struct rcol *cols, size_t ncols, const struct rcell *cells,
                      struct rpt_out *out, struct kr_buf *scratch, struct kr_error *err)
{
	kr_status s = KR_OK;

	scratch->len = 0;
	for (size_t i = 0; i < ncols && !s; i++) {
		size_t cell;
		if (i)
			s = kr_buf_append(scratch, ",", 1);
		cell = scratch->len;
		if (!s)
			s = rpt_cell_text(r, &cols[i], &cells[i], scratch, err);
		if (!s && needs_quotes((const char *)scratch->data + cell, scratch->len - cell))
			s = quote_tail(scratch, cell);
	}
	if (!s)
		s = kr_buf_append(scratch, "\r\n", 2);
	if (!s)
		rpt_out_write(out, scratch->data, scratch->len);
	scratch->len = 0;
	if (s == KR_ERR_NOMEM)
		return kr_fail(err, s, "out of memory writing CSV");
	return s;
}

kr_status rpt_csv_table(const struct rpt *r, const struct rtable *t, struct rpt_out *out, struct kr_error *err)
{
	struct kr_buf scratch;
	kr_status s;

	kr_buf_init(&scratch, 0);
	s = rpt_csv_header(r, t->cols, t->ncols, out, err);
	for (size_t row = 0; row < t->nrows && !s; row++)
		s = rpt_csv_row(r, t->cols, t->ncols, &t->cells[row * t->ncols], out, &scratch, err);
	kr_buf_release(&scratch);
	return s;
}
