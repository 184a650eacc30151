/* web_text.c: HTML escaping, form and query decoding, cookies and small text fixes of the web form. */
#include "web_text.h"

#include <string.h>

/* The length of the well-formed UTF-8 sequence at s (at most n bytes), or 0 when it is not one: no overlong
 * forms, no surrogates, nothing above U+10FFFF (RFC 3629). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

kr_status web_html_escape(struct kr_buf *out, const char *s, size_t n)
{
	static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
	const unsigned char *p = (const unsigned char *)s, *end = p + n, *run = p;
	size_t before = out->len;
	kr_status st = KR_OK;

	while (p < end && !st) {
		const char *rep = NULL;
		size_t adv = 1;

		switch (*p) {
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
		case '\t':
		case '\n':
		case '\r':
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				rep = replacement;
			else if (*p >= 0x80 && !(adv = utf8_len(p, (size_t)(end - p)))) {
				rep = replacement;
				adv = 1;
			}
		}
		if (!rep) {
			p += adv;
			continue;
		}
		st = kr_buf_append(out, run, (size_t)(p - run));
		if (!st)
			st = kr_buf_append(out, rep, strlen(rep));
		p += adv;
		run = p;
	}
	if (!st)
		st = kr_buf_append(out, run, (size_t)(p - run));
	if (st)
		out->len = before;
	return st;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes n bytes of one name or value into a NUL-terminated copy in arena; NULL with *bad set when an
 * escape is malformed or decodes to NUL, NULL alone when out of memory. */
static char *decode(const char *s, size_t n, struct kr_arena *arena, bool *bad)
{
	char *out = kr_arena_alloc(arena, n + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			*o++ = ' ';
		} else if (s[i] == '%') {
			int h, l;
			if (i + 2 >= n) {
				*bad = true;
				return NULL;
			}
			h = hex_value(s[i + 1]);
			l = hex_value(s[i + 2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0)) {
				*bad = true;
				return NULL;
			}
			*o++ = (char)(h * 16 + l);
			i += 2;
		} else if (s[i] == 0) {
			*bad = true;
			return NULL;
		} else {
			*o++ = s[i];
		}
	}
	*o = 0;
	return out;
}

kr_status web_form_parse(const char *text, size_t len, struct web_form *form, struct kr_arena *arena,
                         struct kr_error *err)
{
	const char *p = text, *end = text + len;

	form->n = 0;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p)), *stop = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		const char *name_end = eq ? eq : stop;
		bool bad = false;
		char *name, *value;

		if (stop == p) {
			p = stop + 1;
			continue;
		}
		if (form->n == WEB_FORM_MAX_PAIRS) {
			form->n = 0;
			return kr_fail(err, KR_ERR_TOO_BIG, "the form has more than %d fields", WEB_FORM_MAX_PAIRS);
		}
		name = decode(p, (size_t)(name_end - p), arena, &bad);
		value = name ? decode(eq ? eq + 1 : stop, eq ? (size_t)(stop - eq - 1) : 0, arena, &bad) : NULL;
		if (!value) {
			form->n = 0;
			if (bad)
				return kr_fail(err, KR_ERR_MALFORMED, "the form holds a malformed %%-escape");
			return kr_fail(err, KR_ERR_NOMEM, "out of memory reading the form");
		}
		form->v[form->n++] = (struct web_pair){name, value};
		p = stop + 1;
	}
	return KR_OK;
}

const char *web_form_get(const struct web_form *form, const char *name)
{
	for (size_t i = 0; i < form->n; i++)
		if (strcmp(form->v[i].name, name) == 0)
			return form->v[i].value;
	return NULL;
}

bool web_cookie_get(const char *header, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name);
	const char *p = header;

	while (p && *p) {
		const char *end = strchr(p, ';'), *stop = end ? end : p + strlen(p);
		while (p < stop && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(stop - p) > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			const char *v = p + nl + 1;
			size_t vl = (size_t)(stop - v);
			while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
				vl--;
			if (vl >= n)
				return false;
			memcpy(out, v, vl);
			out[vl] = 0;
			return true;
		}
		p = end ? end + 1 : NULL;
	}
	return false;
}

bool web_token_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;

	for (size_t i = 0; i < la && i < lb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

char *web_text_newlines(char *s)
{
	char *o = s;

	for (const char *p = s; *p; p++) {
		if (*p == '\r') {
			*o++ = '\n';
			if (p[1] == '\n')
				p++;
		} else {
			*o++ = *p;
		}
	}
	*o = 0;
	return s;
}

static bool is_ideographic_space(const char *p)
{
	return (unsigned char)p[0] == 0xe3 && (unsigned char)p[1] == 0x80 && (unsigned char)p[2] == 0x80;
}

char *web_text_trim(char *s)
{
	char *p = s, *end;

	for (;;) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		else if (is_ideographic_space(p))
			p += 3;
		else
			break;
	}
	end = p + strlen(p);
	for (;;) {
		if (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
			end--;
		else if (end - p >= 3 && is_ideographic_space(end - 3))
			end -= 3;
		else
			break;
	}
	memmove(s, p, (size_t)(end - p));
	s[end - p] = 0;
	return s;
}

char *web_text_number(char *s)
{
	char *o = s;

	web_text_trim(s);
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		/* U+FF10..U+FF19 are EF BC 90..99; U+FF0B (＋) EF BC 8B; U+FF0D (－) EF BC 8D. */
		if (p[0] == 0xef && p[1] == 0xbc && p[2] >= 0x90 && p[2] <= 0x99) {
			*o++ = (char)('0' + (p[2] - 0x90));
			p += 3;
		} else if (p[0] == 0xef && p[1] == 0xbc && (p[2] == 0x8b || p[2] == 0x8d)) {
			*o++ = p[2] == 0x8b ? '+' : '-';
			p += 3;
		} else {
			*o++ = (char)*p++;
		}
	}
	*o = 0;
	return s;
}
