/* report_svg.c: the review material's charts, drawn as inline SVG (no script, no font or image to fetch). */
#include "report_int.h"

#include <math.h>
#include <string.h>

#include "kiroku/print.h"

#define FONT "font-family=\"'Noto Sans CJK JP','IPAexGothic','Hiragino Sans',sans-serif\""

kr_status xml_text(struct kr_buf *out, const char *s)
{
	kr_status st = KR_OK;
	const char *run = s;

	for (; *s && !st; s++) {
		const char *rep = NULL;
		switch (*s) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		default:
			/* Control characters other than tab and newlines are not allowed in XML 1.0. */
			if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n' && *s != '\r')
				rep = " ";
		}
		if (!rep)
			continue;
		st = kr_buf_append(out, run, (size_t)(s - run));
		if (!st)
			st = kr_buf_append(out, rep, strlen(rep));
		run = s + 1;
	}
	return st ? st : kr_buf_append(out, run, strlen(run));
}

/* The top of an axis from 0 to at least max: 1, 2 or 5 times a power of ten (at least 1). */
static double nice_max(double max)
{
	double p;

	if (max <= 1)
		return 1;
	p = pow(10, floor(log10(max)));
	for (const double *m = (const double[]){1, 2, 5, 10}; *m <= 10; m++)
		if (*m * p >= max)
			return *m * p;
	return 10 * p;
}

/* A label cut to width display columns. */
static kr_status short_label(struct kr_buf *out, const char *text, size_t width)
{
	struct kr_buf cut;
	kr_status st;

	kr_buf_init(&cut, 0);
	st = kr_print_cell(&cut, text ? text : "", width, false);
	if (!st)
		st = kr_buf_terminate(&cut);
	if (!st)
		st = xml_text(out, (const char *)cut.data);
	kr_buf_release(&cut);
	return st;
}

static kr_status svg_open(struct kr_buf *out, const char *title, int w, int h)
{
	kr_status st =
	    kr_buf_printf(out,
	                  "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" role=\"img\" width=\"%d\" "
	                  "height=\"%d\" viewBox=\"0 0 %d %d\" " FONT " font-size=\"11\"><title>",
	                  w, h, w, h);
	if (!st)
		st = xml_text(out, title);
	if (!st)
		st = kr_buf_printf(out, "</title><text x=\"0\" y=\"14\" font-size=\"13\" font-weight=\"bold\">");
	if (!st)
		st = xml_text(out, title);
	return st ? st : kr_buf_printf(out, "</text>");
}

static kr_status fmt_value(struct kr_buf *out, double v, bool percent)
{
	if (percent)
		return kr_buf_printf(out, "%.1f%%", v * 100.0);
	return kr_buf_printf(out, "%.0f", v);
}

kr_status svg_stacked_bars(struct kr_buf *out, const char *title, size_t nbars, const char *const *labels,
                           size_t nseries, const struct svg_series *series, const double *values)
{
	const int w = 700, left = 44, right = 8, top = 28, plot_h = 200;
	const int legend_rows = (int)((nseries + 2) / 3), h = top + plot_h + 36 + legend_rows * 18;
	double max = 0, axis;
	double slot = nbars ? (double)(w - left - right) / (double)nbars : 0;
	kr_status st;

	for (size_t b = 0; b < nbars; b++) {
		double sum = 0;
		for (size_t s = 0; s < nseries; s++)
			sum += values[b * nseries + s];
		if (sum > max)
			max = sum;
	}
	axis = nice_max(max);
	st = svg_open(out, title, w, h);
	for (int i = 0; i <= 4 && !st; i++) {
		double y = top + plot_h - plot_h * i / 4.0;
		st = kr_buf_printf(
		    out,
		    "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ccc\" stroke-width=\"0.5\"/>"
		    "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>",
		    left, y, w - right, y, left - 4, y + 4, axis * i / 4.0);
	}
	for (size_t b = 0; b < nbars && !st; b++) {
		double x = left + slot * (double)b + slot * 0.15, bw = slot * 0.7, y = top + plot_h, sum = 0;
		for (size_t s = 0; s < nseries && !st; s++) {
			double v = values[b * nseries + s], bh = plot_h * v / axis;
			sum += v;
			if (v <= 0)
				continue;
			y -= bh;
			st = kr_buf_printf(out,
			                   "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>",
			                   x, y, bw, bh, series[s].color);
		}
		if (!st && sum > 0)
			st = kr_buf_printf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>",
			                   x + bw / 2, y - 3, sum);
		if (!st)
			st = kr_buf_printf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", x + bw / 2,
			                   top + plot_h + 14);
		if (!st)
			st = short_label(out, labels[b], 8);
		if (!st)
			st = kr_buf_printf(out, "</text>");
	}
	for (size_t s = 0; s < nseries && !st; s++) {
		int lx = left + (int)(s % 3) * 210, ly = top + plot_h + 32 + (int)(s / 3) * 18;
		st = kr_buf_printf(
		    out, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">", lx,
		    ly - 9, series[s].color, lx + 14, ly);
		if (!st)
			st = short_label(out, series[s].label, 30);
		if (!st)
			st = kr_buf_printf(out, "</text>");
	}
	return st ? st : kr_buf_printf(out, "</svg>");
}

kr_status svg_hbars(struct kr_buf *out, const char *title, size_t n, const char *const *labels, const double *values,
                    bool percent, const char *color)
{
	const int w = 700, label_w = 290, top = 26, bar = 14, gap = 5, right = 60;
	const int h = top + (int)n * (bar + gap) + 8;
	double max = 0, axis;
	kr_status st;

	for (size_t i = 0; i < n; i++)
		if (values[i] > max)
			max = values[i];
	axis = percent ? 1.0 : nice_max(max);
	st = svg_open(out, title, w, h);
	for (size_t i = 0; i < n && !st; i++) {
		int y = top + (int)i * (bar + gap);
		double bw = (w - label_w - right) * (values[i] > 0 ? values[i] : 0) / axis;
		st = kr_buf_printf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", label_w - 6, y + bar - 3);
		if (!st)
			st = short_label(out, labels[i], 46);
		if (!st)
			st = kr_buf_printf(
			    out,
			    "</text><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#eee\"/>"
			    "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/><text x=\"%.1f\" "
			    "y=\"%d\">",
			    label_w, y, w - label_w - right, bar, label_w, y, bw, bar, color, label_w + bw + 4,
			    y + bar - 3);
		if (!st)
			st = fmt_value(out, values[i], percent);
		if (!st)
			st = kr_buf_printf(out, "</text>");
	}
	return st ? st : kr_buf_printf(out, "</svg>");
}
