/* test_httpd_bytes.c: the HTTP server without a listener (kr_httpd_serve_bytes, the entry point of fuzz_http):
 * requests from bytes to responses, pipelining, refusals, and a refused HEAD request getting no body. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "kiroku/httpd.h"

static void echo(void *ctx, const struct kr_http_request *req, struct kr_http_response *resp)
{
	unsigned *calls = ctx;

	(*calls)++;
	kr_http_response_text(resp, 200, "%s %s %zu\n", req->method, req->path, req->body_len);
}

/* Serves in and returns the output as a string (in out, NUL-terminated). */
static size_t piece; /* kr_httpd_serve_bytes's read size: each test runs whole, then 1 and 5 bytes at a time */

static const char *serve(const char *in, struct kr_buf *out, struct kr_httpd_stats *stats, unsigned *calls)
{
	struct kr_httpd_config cfg = {.handler = echo, .handler_ctx = calls, .max_body = 64};
	struct kr_error err = {0};

	kr_buf_init(out, 1 << 20);
	assert_int_equal(kr_httpd_serve_bytes(&cfg, (const uint8_t *)in, strlen(in), piece, out, stats, &err), KR_OK);
	assert_int_equal(kr_buf_terminate(out), KR_OK);
	return (const char *)out->data;
}

static void test_pipelined(void **state)
{
	struct kr_buf out;
	struct kr_httpd_stats stats;
	unsigned calls = 0;
	const char *o = serve("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
	                      "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
	                      "HEAD /c HTTP/1.1\r\nConnection: close\r\n\r\n",
	                      &out, &stats, &calls);

	(void)state;
	assert_int_equal(calls, 3);
	assert_int_equal(stats.requests, 3);
	assert_int_equal(stats.refused_requests, 0);
	assert_non_null(strstr(o, "\r\n\r\nGET /a 0\n"));
	assert_non_null(strstr(o, "\r\n\r\nPOST /b 3\n"));
	/* The HEAD response: the head of "HEAD /c 0\n", no body, and the connection closes. */
	assert_non_null(strstr(o, "Content-Length: 10\r\nConnection: close\r\n\r\n"));
	assert_true(o[out.len - 1] == '\n' && o[out.len - 2] == '\r');
	kr_buf_release(&out);
}

static void test_refusals(void **state)
{
	struct kr_buf out;
	struct kr_httpd_stats stats;
	unsigned calls = 0;
	const char *o;

	(void)state;
	o = serve("POST /x HTTP/1.1\r\nContent-Length: 65\r\n\r\n", &out, &stats, &calls);
	assert_int_equal(calls, 0);
	assert_int_equal(stats.refused_requests, 1);
	assert_true(strncmp(o, "HTTP/1.1 413 ", 13) == 0);
	assert_non_null(strstr(o, "\r\n\r\nthe body of 65 bytes"));
	kr_buf_release(&out);

	o = serve("GARBAGE\r\n\r\n", &out, &stats, &calls);
	assert_true(strncmp(o, "HTTP/1.1 400 ", 13) == 0);
	kr_buf_release(&out);

	/* A refused HEAD request gets the head of the refusal only. */
	o = serve("HEAD /x HTTP/1.1\r\nExpect: something\r\n\r\n", &out, &stats, &calls);
	assert_true(strncmp(o, "HTTP/1.1 417 ", 13) == 0);
	assert_true(out.len > 4 && strcmp(o + out.len - 4, "\r\n\r\n") == 0);
	kr_buf_release(&out);

	/* Garbage that starts with an 'H' is not a HEAD request: its refusal has its body (fuzz_http found it cut). */
	o = serve("GET /a HTTP/1.1\r\n\r\nH: v\r\n\r\n", &out, &stats, &calls);
	assert_non_null(strstr(o, "HTTP/1.1 400 "));
	assert_non_null(strstr(o, "Connection: close\r\n\r\nmalformed request"));
	kr_buf_release(&out);

	/* Nothing at all, and a request cut short: no answer, no handler call. */
	o = serve("", &out, &stats, &calls);
	assert_int_equal(out.len, 0);
	kr_buf_release(&out);
	calls = 0;
	o = serve("GET /never HTTP/1.1\r\nHost:", &out, &stats, &calls);
	assert_int_equal(out.len, 0);
	assert_int_equal(calls, 0);
	kr_buf_release(&out);
}

static void test_continue(void **state)
{
	struct kr_buf out;
	struct kr_httpd_stats stats;
	unsigned calls = 0;
	const char *o =
	    serve("PUT /p HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok", &out, &stats, &calls);

	(void)state;
	assert_true(strncmp(o, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", 42) == 0);
	assert_non_null(strstr(o, "PUT /p 2\n"));
	kr_buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pipelined),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_continue),
	};
	static const size_t pieces[] = {0, 1, 5};
	int failed = 0;

	for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
		piece = pieces[i];
		failed += cmocka_run_group_tests(tests, NULL, NULL);
	}
	return failed;
}
