/* web_text.h: the text handling of the agent's web form: HTML escaping, form and query decoding, cookies.
 *
 * Nothing here touches the store or global state; every function may be called from any thread. These are
 * the only places where bytes from the browser are decoded and where text is put into HTML, so that one
 * function decides what is safe (tests/unit/test_web_text.c).
 */
#ifndef KR_WEB_TEXT_H
#define KR_WEB_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "kiroku/buf.h"
#include "kiroku/error.h"

/* Appends the n bytes of s to out as HTML text, safe in element content and in a quoted attribute value:
 * & < > " ' become character references; control characters other than tab, newline and carriage return,
 * and bytes that are not well-formed UTF-8, become U+FFFD. On error (KR_ERR_NOMEM, KR_ERR_TOO_BIG) out is as
 * it was before the call. */
kr_status web_html_escape(struct kr_buf *out, const char *s, size_t n);

/* Decoded name=value pairs of an application/x-www-form-urlencoded body or a query string. */
struct web_pair {
	const char *name, *value; /* NUL-terminated, percent-decoded, '+' read as a space */
};

#define WEB_FORM_MAX_PAIRS 128

struct web_form {
	size_t n;
	struct web_pair v[WEB_FORM_MAX_PAIRS];
};

/* Decodes len bytes of text into form (which it empties first), with copies in arena. A malformed escape
 * ("%4", "%zz") is KR_ERR_MALFORMED; more than WEB_FORM_MAX_PAIRS pairs KR_ERR_TOO_BIG; a name or value
 * holding a NUL byte (%00) KR_ERR_MALFORMED. A pair without "=" has the value "". Empty pairs ("a=1&&b=2")
 * are skipped. On error form is empty. */
kr_status web_form_parse(const char *text, size_t len, struct web_form *form, struct kr_arena *arena,
                         struct kr_error *err);

/* The value of the first pair called name, or NULL. */
const char *web_form_get(const struct web_form *form, const char *name);

/* Copies the value of the cookie called name from a Cookie header ("a=1; b=2") into out (at most n-1 bytes).
 * False when there is none or it does not fit. header may be NULL. */
bool web_cookie_get(const char *header, const char *name, char *out, size_t n);

/* True when a and b are equal, in a time that depends on their lengths only (for secret tokens). */
bool web_token_equal(const char *a, const char *b);

/* In place: replaces "\r\n" and a lone "\r" by "\n" (browsers send a textarea's line breaks as CRLF, and the
 * catalogue allows only newline and tab). Returns s. */
char *web_text_newlines(char *s);

/* In place, for a number typed with a Japanese input method: full-width digits, minus and plus (０-９, －,
 * ＋) become ASCII, and leading and trailing spaces (ASCII or U+3000) are removed. Returns s. */
char *web_text_number(char *s);

/* Removes leading and trailing ASCII spaces and U+3000 (ideographic space) in place. Returns s. */
char *web_text_trim(char *s);

#endif
