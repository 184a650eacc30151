/* report_json.c: review.json: the figures of the review material for programs (stored values, not labels).
 *
 *   {"format": "kiroku-review/1", "period": {"from": D, "to": D}, "today": D, "lang": "ja", "pseudonymised": b,
 *    "hub_node": s, "catalogue_version": n, "generated_at": "YYYY-MM-DDThh:mm:ssZ", "facilities": n,
 *    "annex_incidents": n,
 *    "tables": {ID: {"item": n, "title": s, "columns": [KEY, ...], "rows": [{KEY: value, ...}, ...]}, ...}}
 *
 * Values: counts are integers, rates fractions (6 decimals) or null, yes/no fields true/false, enumerations
 * their stored value, dates "YYYY-MM-DD"; personal fields are pseudonyms when the report is pseudonymised.
 */
#include "report_int.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "kiroku/ids.h"

static kr_status json_str(struct kr_buf *b, const char *s)
{
	kr_status st = kr_buf_append(b, "\"", 1);
	for (; *s && !st; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			st = kr_buf_printf(b, "\\%c", c);
		else if (c == '\n')
			st = kr_buf_append(b, "\\n", 2);
		else if (c == '\r')
			st = kr_buf_append(b, "\\r", 2);
		else if (c == '\t')
			st = kr_buf_append(b, "\\t", 2);
		else if (c < 0x20 || c == 0x7f)
			st = kr_buf_printf(b, "\\u%04x", c);
		else
			st = kr_buf_append(b, s, 1);
	}
	return st ? st : kr_buf_append(b, "\"", 1);
}

static kr_status json_cell(const struct rpt *r, const struct rcol *c, const struct rcell *v, struct kr_buf *b,
                           struct kr_error *err)
{
	if (v->null)
		return kr_buf_append(b, "null", 4);
	switch (c->type) {
	case RT_INT:
		return kr_buf_printf(b, "%" PRId64, v->i);
	case RT_BOOL:
		return kr_buf_printf(b, "%s", v->i ? "true" : "false");
	case RT_RATE:
		return kr_buf_printf(b, "%.6f", v->r);
	default:
		if (c->personal && r->o->pseudonymise) {
			char token[KR_PSEUDONYM_LEN + 1];
			kr_status s = rpt_pseudonym(r, v->s, token, err);
			return s ? s : json_str(b, token);
		}
		return json_str(b, v->s);
	}
}

static kr_status json_table(const struct rpt *r, const struct rtable *t, struct kr_buf *b, struct kr_error *err)
{
	kr_status s = json_str(b, t->id);

	if (!s)
		s = kr_buf_printf(b, ": {\"item\": %d, \"title\": ", t->item);
	if (!s)
		s = json_str(b, r->en ? t->en : t->ja);
	if (!s)
		s = kr_buf_printf(b, ", \"columns\": [");
	for (size_t c = 0; c < t->ncols && !s; c++) {
		if (c)
			s = kr_buf_append(b, ", ", 2);
		if (!s)
			s = json_str(b, t->cols[c].key);
	}
	if (!s)
		s = kr_buf_printf(b, "], \"rows\": [");
	for (size_t row = 0; row < t->nrows && !s; row++) {
		s = kr_buf_printf(b, "%s\n   {", row ? "," : "");
		for (size_t c = 0; c < t->ncols && !s; c++) {
			if (c)
				s = kr_buf_append(b, ", ", 2);
			if (!s)
				s = json_str(b, t->cols[c].key);
			if (!s)
				s = kr_buf_append(b, ": ", 2);
			if (!s)
				s = json_cell(r, &t->cols[c], rt_cell(t, row, c), b, err);
		}
		if (!s)
			s = kr_buf_append(b, "}", 1);
	}
	if (!s)
		s = kr_buf_printf(b, "]}");
	return s;
}

kr_status rpt_json(const struct rpt *r, struct rpt_out *out, struct kr_error *err)
{
	uint64_t ms = r->o->generated_ms ? r->o->generated_ms : kr_now_ms();
	time_t secs = (time_t)(ms / 1000);
	char generated[32] = "";
	struct kr_buf b;
	struct tm tm;
	kr_status s;

	if (gmtime_r(&secs, &tm))
		strftime(generated, sizeof generated, "%Y-%m-%dT%H:%M:%SZ", &tm);
	kr_buf_init(&b, 0);
	s = kr_buf_printf(&b,
	                  "{\"format\": \"kiroku-review/1\",\n \"period\": {\"from\": \"%s\", \"to\": \"%s\"},\n"
	                  " \"today\": \"%s\", \"lang\": \"%s\", \"pseudonymised\": %s,\n \"hub_node\": ",
	                  r->from, r->to, r->today, r->en ? "en" : "ja", r->o->pseudonymise ? "true" : "false");
	if (!s)
		s = json_str(&b, kr_store_node(r->st));
	if (!s)
		s = kr_buf_printf(&b,
		                  ", \"catalogue_version\": %" PRIu64
		                  ", \"generated_at\": \"%s\",\n \"facilities\": %zu, "
		                  "\"annex_incidents\": %" PRIu64 ",\n \"tables\": {",
		                  r->cat->version, generated, r->nfacilities, r->annex_rows);
	for (size_t i = 0; i < r->ntables && !s; i++) {
		s = kr_buf_printf(&b, "%s\n  ", i ? "," : "");
		if (!s)
			s = json_table(r, r->tables[i], &b, err);
		if (!s)
			rpt_out_buf(out, &b);
	}
	if (!s)
		s = kr_buf_printf(&b, "\n }\n}\n");
	if (!s)
		rpt_out_buf(out, &b);
	kr_buf_release(&b);
	if (s == KR_ERR_NOMEM)
		return kr_fail(err, s, "out of memory writing review.json");
	return s;
}
