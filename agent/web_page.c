/* web_page.c: writing the web form's HTML: escaped text, the page frame (head, top bar, footer), dates and values. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "web.h"

static void note(struct web_req *r, kr_status s)
{
	if (s && !r->fail)
		r->fail = s;
}

void web_raw(struct web_req *r, const char *markup)
{
	if (!r->fail)
		note(r, kr_buf_append(&r->resp->body, markup, strlen(markup)));
}

void web_printf(struct web_req *r, const char *fmt, ...)
{
	struct kr_buf *b = &r->resp->body;
	kr_status s;
	va_list ap;
	int n;

	if (r->fail)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		note(r, KR_ERR_INTERNAL);
		return;
	}
	if ((s = kr_buf_reserve(b, (size_t)n + 1))) {
		note(r, s);
		return;
	}
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void web_textn(struct web_req *r, const char *text, size_t n)
{
	if (!r->fail && text)
		note(r, web_html_escape(&r->resp->body, text, n));
}

void web_text(struct web_req *r, const char *text)
{
	if (text)
		web_textn(r, text, strlen(text));
}

void web_token_field(struct web_req *r)
{
	if (!r->sess)
		return;
	web_raw(r, "<input type=\"hidden\" name=\"csrf\" value=\"");
	web_text(r, r->sess->token);
	web_raw(r, "\">");
}

void web_page_begin(struct web_req *r, int status, const char *title)
{
	const char *other = strcmp(r->lang, "en") == 0 ? "ja" : "en";

	r->resp->status = status;
	snprintf(r->resp->content_type, sizeof r->resp->content_type, "text/html; charset=utf-8");
	web_printf(r,
	           "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n"
	           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
	           strcmp(r->lang, "en") == 0 ? "en" : "ja");
	web_text(r, title);
	web_raw(r, " – ");
	web_text(r, web_word(WW_APP_TITLE, r->lang));
	web_raw(r, "</title>\n<link rel=\"stylesheet\" href=\"/static/style.css\">\n</head>\n<body>\n<a class=\"skip\" "
	           "href=\"#main\">");
	web_text(r, web_word(WW_SKIP, r->lang));
	web_raw(r, "</a>\n<header class=\"bar\">\n<a class=\"brand\" href=\"/\">");
	web_text(r, web_word(WW_APP_TITLE, r->lang));
	web_raw(r, "</a>\n<p class=\"where\">");
	web_text(r, web_word(WW_FACILITY, r->lang));
	web_raw(r, " <strong>");
	web_text(r, kr_store_facility(r->st));
	web_raw(r, "</strong> · ");
	web_text(r, web_word(WW_NODE, r->lang));
	web_raw(r, " ");
	web_text(r, kr_store_node(r->st));
	web_raw(r, "</p>\n");
	if (r->sess) {
		/* The language switch is a POST like every change: a GET never changes anything. */
		web_raw(r, "<form class=\"lang\" method=\"post\" action=\"/lang\">");
		web_token_field(r);
		web_printf(r, "<input type=\"hidden\" name=\"lang\" value=\"%s\">", other);
		web_raw(r, "<input type=\"hidden\" name=\"back\" value=\"");
		web_text(r, r->http->path);
		if (r->http->query[0]) {
			web_raw(r, "?");
			web_text(r, r->http->query);
		}
		web_printf(r, "\"><button type=\"submit\" lang=\"%s\">", other);
		web_text(r, web_word(WW_LANG_SWITCH, r->lang));
		web_raw(r, "</button></form>\n");
	}
	web_raw(r, "</header>\n<main id=\"main\" tabindex=\"-1\">\n");
}

void web_page_end(struct web_req *r)
{
	web_raw(r, "</main>\n<footer>");
	web_text(r, web_word(WW_FOOTER, r->lang));
	web_raw(r, " kiroku " KR_VERSION "</footer>\n</body>\n</html>\n");
}

void web_local_time(uint64_t ms, char out[32])
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	out[0] = 0;
	if (ms && localtime_r(&secs, &tm))
		strftime(out, 32, "%Y-%m-%d %H:%M", &tm);
}

const char *web_display_date(const char *stored, char out[32])
{
	snprintf(out, 32, "%s", stored ? stored : "");
	if (strlen(out) > 10 && out[10] == 'T')
		out[10] = ' ';
	return out;
}

const char *web_value_text(struct web_req *r, const struct kr_field_def *f, const struct kr_value *v)
{
	char buf[32], *copy;

	switch (v->type) {
	case KR_VAL_TEXT:
		if (f && f->type == KR_FT_ENUM)
			return kr_field_value_label(f, v->s, r->lang);
		if (f && (f->type == KR_FT_DATE || f->type == KR_FT_DATETIME)) {
			copy = kr_arena_strdup(&r->arena, web_display_date(v->s, buf));
			return copy ? copy : v->s;
		}
		return v->s;
	case KR_VAL_INT:
		snprintf(buf, sizeof buf, "%lld", (long long)v->i);
		copy = kr_arena_strdup(&r->arena, buf);
		return copy ? copy : "";
	case KR_VAL_BOOL:
		return web_word(v->i ? WW_YES : WW_NO, r->lang);
	default:
		return "";
	}
}

void web_page_message(struct web_req *r, int status, enum web_word title, const char *detail)
{
	web_page_begin(r, status, web_word(title, r->lang));
	web_raw(r, "<h1>");
	web_text(r, web_word(title, r->lang));
	web_raw(r, "</h1>\n");
	if (detail) {
		web_raw(r, "<p class=\"message\" role=\"alert\">");
		web_text(r, detail);
		web_raw(r, "</p>\n");
	}
	web_raw(r, "<p><a class=\"button\" href=\"/\">");
	web_text(r, web_word(WW_HOME, r->lang));
	web_raw(r, "</a></p>\n");
	web_page_end(r);
}
