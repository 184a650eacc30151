/* test_web_text.c: the web form's text handling (agent/web_text.c): HTML escaping, form decoding, cookies. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web_text.h"

/* Escapes n bytes of s and returns the result as a NUL-terminated string (static buffer). */
static const char *esc_n(const char *s, size_t n)
{
	static char out[1024];
	struct kr_buf b;

	kr_buf_init(&b, 0);
	assert_int_equal(web_html_escape(&b, s, n), KR_OK);
	assert_true(b.len < sizeof out);
	memcpy(out, b.data ? (const char *)b.data : "", b.len);
	out[b.len] = 0;
	kr_buf_release(&b);
	return out;
}

static const char *esc(const char *s)
{
	return esc_n(s, strlen(s));
}

static void test_escape_markup(void **state)
{
	(void)state;
	assert_string_equal(esc(""), "");
	assert_string_equal(esc("plain 日本語 text"), "plain 日本語 text");
	assert_string_equal(esc("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
	assert_string_equal(esc("a & b"), "a &amp; b");
	assert_string_equal(esc("&amp;"), "&amp;amp;");
	/* Safe inside a quoted attribute value, either quote. */
	assert_string_equal(esc("\" onmouseover=\"x"), "&quot; onmouseover=&quot;x");
	assert_string_equal(esc("' onfocus='x"), "&#39; onfocus=&#39;x");
	assert_string_equal(esc("</textarea><img src=x>"), "&lt;/textarea&gt;&lt;img src=x&gt;");
}

static void test_escape_controls_and_utf8(void **state)
{
	(void)state;
	/* Tab and newlines stay; other control characters and DEL become U+FFFD. */
	assert_string_equal(esc("a\tb\nc\r\n"), "a\tb\nc\r\n");
	assert_string_equal(esc("a\001b\033c\177"), "a\357\277\275b\357\277\275c\357\277\275");
	assert_string_equal(esc_n("a\0b", 3), "a\357\277\275b");
	/* Well-formed UTF-8 of every length passes; ill-formed bytes become U+FFFD one by one. */
	assert_string_equal(esc("\xc3\xa9 \xe8\xa8\x98 \xf0\x9f\x98\x80"), "\xc3\xa9 \xe8\xa8\x98 \xf0\x9f\x98\x80");
	assert_string_equal(esc("\xff"), "\xef\xbf\xbd");
	assert_string_equal(esc("\xc0\xbc"), "\xef\xbf\xbd\xef\xbf\xbd");                 /* overlong '<' */
	assert_string_equal(esc("\xe0\x80\xbc"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* overlong, 3 bytes */
	assert_string_equal(esc("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* a surrogate */
	assert_string_equal(esc("\xf4\x90\x80\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(esc("\xe8\xa8"), "\xef\xbf\xbd\xef\xbf\xbd"); /* cut short at the end */
	assert_string_equal(esc("\xe8<"), "\xef\xbf\xbd&lt;");            /* cut short by markup */
}

static void test_escape_cap_leaves_buffer(void **state)
{
	struct kr_buf b;
	(void)state;

	kr_buf_init(&b, 8);
	assert_int_equal(web_html_escape(&b, "ok", 2), KR_OK);
	assert_int_equal(web_html_escape(&b, "<<<<", 4), KR_ERR_TOO_BIG);
	assert_int_equal(b.len, 2); /* as it was */
	assert_memory_equal(b.data, "ok", 2);
	kr_buf_release(&b);
}

static void test_form_parse(void **state)
{
	struct kr_arena arena;
	struct kr_error err = {0};
	struct web_form *f = calloc(1, sizeof *f);
	const char *body = "csrf=ab12&description=%E7%B4%9B%E5%A4%B1+%26+more%0D%0Aline&empty=&flag&&x=%3Cb%3E";
	(void)state;

	kr_arena_init(&arena, 0);
	assert_int_equal(web_form_parse(body, strlen(body), f, &arena, &err), KR_OK);
	assert_int_equal(f->n, 5);
	assert_string_equal(web_form_get(f, "csrf"), "ab12");
	assert_string_equal(web_form_get(f, "description"), "紛失 & more\r\nline");
	assert_string_equal(web_form_get(f, "empty"), "");
	assert_string_equal(web_form_get(f, "flag"), "");
	assert_string_equal(web_form_get(f, "x"), "<b>");
	assert_null(web_form_get(f, "missing"));
	/* Only len bytes are read. */
	assert_int_equal(web_form_parse("a=1&b=2", 3, f, &arena, &err), KR_OK);
	assert_int_equal(f->n, 1);
	assert_string_equal(web_form_get(f, "a"), "1");
	assert_int_equal(web_form_parse("", 0, f, &arena, &err), KR_OK);
	assert_int_equal(f->n, 0);
	/* Malformed escapes and NUL are refused, and leave the form empty. */
	assert_int_equal(web_form_parse("a=%4", 4, f, &arena, &err), KR_ERR_MALFORMED);
	assert_int_equal(f->n, 0);
	assert_int_equal(web_form_parse("a=%zz", 5, f, &arena, &err), KR_ERR_MALFORMED);
	assert_int_equal(web_form_parse("a=%00", 5, f, &arena, &err), KR_ERR_MALFORMED);
	assert_int_equal(web_form_parse("a=x%", 4, f, &arena, &err), KR_ERR_MALFORMED);
	kr_arena_release(&arena);
	free(f);
}

static void test_form_too_many_pairs(void **state)
{
	struct kr_arena arena;
	struct kr_error err = {0};
	struct web_form *f = calloc(1, sizeof *f);
	char body[WEB_FORM_MAX_PAIRS * 4 + 8];
	size_t len = 0;
	(void)state;

	for (int i = 0; i <= WEB_FORM_MAX_PAIRS; i++)
		len += (size_t)snprintf(body + len, sizeof body - len, "a=1&");
	kr_arena_init(&arena, 0);
	assert_int_equal(web_form_parse(body, len, f, &arena, &err), KR_ERR_TOO_BIG);
	assert_int_equal(f->n, 0);
	assert_int_equal(web_form_parse(body, len - 4, f, &arena, &err), KR_OK);
	assert_int_equal(f->n, WEB_FORM_MAX_PAIRS);
	kr_arena_release(&arena);
	free(f);
}

static void test_cookie_get(void **state)
{
	char v[40];
	(void)state;

	assert_true(web_cookie_get("kiroku_session_8765=abc", "kiroku_session_8765", v, sizeof v));
	assert_string_equal(v, "abc");
	assert_true(web_cookie_get("other=1; kiroku_session_8765=def ; x=2", "kiroku_session_8765", v, sizeof v));
	assert_string_equal(v, "def");
	/* The name must match whole: neither a prefix nor a longer name. */
	assert_false(web_cookie_get("kiroku_session_87650=abc", "kiroku_session_8765", v, sizeof v));
	assert_false(web_cookie_get("xkiroku_session_8765=abc", "kiroku_session_8765", v, sizeof v));
	assert_false(web_cookie_get(NULL, "a", v, sizeof v));
	assert_false(web_cookie_get("", "a", v, sizeof v));
	/* A value that does not fit is not cut. */
	assert_false(web_cookie_get("a=0123456789", "a", v, 5));
}

static void test_token_equal(void **state)
{
	(void)state;
	assert_true(web_token_equal("abc", "abc"));
	assert_true(web_token_equal("", ""));
	assert_false(web_token_equal("abc", "abd"));
	assert_false(web_token_equal("abc", "ab"));
	assert_false(web_token_equal("", "a"));
}

static void test_text_fixes(void **state)
{
	char s[64];
	(void)state;

	snprintf(s, sizeof s, "a\r\nb\rc\nd");
	assert_string_equal(web_text_newlines(s), "a\nb\nc\nd");
	snprintf(s, sizeof s, "\xe3\x80\x80 山田 太郎 \xe3\x80\x80\n");
	assert_string_equal(web_text_trim(s), "山田 太郎");
	snprintf(s, sizeof s, "   ");
	assert_string_equal(web_text_trim(s), "");
	snprintf(s, sizeof s, " \xef\xbc\x93\xef\xbc\x92 "); /* ３２ */
	assert_string_equal(web_text_number(s), "32");
	snprintf(s, sizeof s, "\xef\xbc\x8d\xef\xbc\x91"); /* －１ */
	assert_string_equal(web_text_number(s), "-1");
	snprintf(s, sizeof s, "たくさん");
	assert_string_equal(web_text_number(s), "たくさん");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escape_markup),
	    cmocka_unit_test(test_escape_controls_and_utf8),
	    cmocka_unit_test(test_escape_cap_leaves_buffer),
	    cmocka_unit_test(test_form_parse),
	    cmocka_unit_test(test_form_too_many_pairs),
	    cmocka_unit_test(test_cookie_get),
	    cmocka_unit_test(test_token_equal),
	    cmocka_unit_test(test_text_fixes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
