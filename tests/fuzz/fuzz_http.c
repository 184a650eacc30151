/* fuzz_http.c: the HTTP server from bytes to response, without TLS (kr_httpd_serve_bytes): the input is what a
 * client sends on one connection; the server parses it with its limits, answers what it refuses itself, and
 * calls a handler that looks at everything a request carries and echoes some of it back. It runs twice: with
 * the default limits, and with small ones and the input read a few bytes at a time. What the server writes must read as
 * well-formed HTTP/1.1 responses, one for each request it handled or refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>

#include "fuzz.h"
#include "kiroku/httpd.h"

#define OUT_MAX ((size_t)8 << 20)

struct seen {
	unsigned requests;
	bool head; /* a HEAD request was handled: its response has no body, which a response parser can't know */
};

static void handler(void *ctx, const struct kr_http_request *req, struct kr_http_response *resp)
{
	struct seen *seen = ctx;
	const char *h;
	size_t bytes = 0;

	seen->requests++;
	if (!req->method || !req->path || !req->query || !req->content_type || !req->peer_node || !req->peer_facility ||
	    !req->peer_serial || !req->peer_addr || (req->n_headers && !req->headers))
		fuzz_fail("a request string is NULL");
	if (req->path[0] != '/')
		fuzz_fail("the path \"%s\" does not start with /", req->path);
	if (req->body_len ? !req->body || req->body[req->body_len] != 0 : req->body != NULL)
		fuzz_fail("a body of %zu bytes is not as promised (NUL-terminated, NULL when empty)", req->body_len);
	if (strcmp(req->method, "HEAD") == 0)
		seen->head = true;
	for (size_t i = 0; i < req->n_headers; i++)
		bytes += strlen(req->headers[i].name) + strlen(req->headers[i].value);

	/* Headers that steer the answer, to reach the response helpers with fuzzed text. */
	if ((h = kr_http_request_header(req, "x-echo")))
		(void)kr_http_response_header(resp, "X-Echo", h);
	if ((h = kr_http_request_header(req, "x-header-name")))
		(void)kr_http_response_header(resp, h, "1");
	if (strcmp(req->path, "/close") == 0)
		resp->close = true;
	if (strncmp(req->path, "/status/", 8) == 0) {
		resp->status = (int)strtol(req->path + 8, NULL, 10);
		(void)kr_buf_append(&resp->body, req->body ? req->body : (const uint8_t *)"", req->body_len);
	} else if (strcmp(req->path, "/big") == 0) {
		/* Larger than one record: the server writes the head and the body separately. */
		static uint8_t big[40000];
		memset(big, 'x', sizeof big);
		resp->status = 200;
		(void)kr_buf_append(&resp->body, big, sizeof big);
	} else {
		kr_http_response_text(resp, 200, "%s %s ? %s (%zu headers, %zu bytes; %s) %zu body bytes\n",
		                      req->method, req->path, req->query, req->n_headers, bytes, req->content_type,
		                      req->body_len);
	}
	if ((h = kr_http_request_header(req, "x-content-type")))
		snprintf(resp->content_type, sizeof resp->content_type, "%s", h);
}

/* ---- reading the server's output back ---- */

struct reading {
	unsigned final, interim; /* complete responses: final ones, and "100 Continue" */
	bool in_message;
};

static int on_begin(http_parser *p)
{
	((struct reading *)p->data)->in_message = true;
	return 0;
}

static int on_complete(http_parser *p)
{
	struct reading *r = p->data;

	if (p->status_code < 100 || p->status_code > 599)
		fuzz_fail("the server answered with status %u", p->status_code);
	if (p->status_code == 100)
		r->interim++;
	else
		r->final++;
	r->in_message = false;
	return 0;
}

static void check_output(const struct kr_buf *out, const struct kr_httpd_stats *stats)
{
	static const http_parser_settings settings = {.on_message_begin = on_begin, .on_message_complete = on_complete};
	struct reading r = {0};
	http_parser p;
	size_t used;

	http_parser_init(&p, HTTP_RESPONSE);
	p.data = &r;
	used = http_parser_execute(&p, &settings, (const char *)out->data, out->len);
	if (HTTP_PARSER_ERRNO(&p) != HPE_OK || used != out->len)
		fuzz_fail("the server's output (%zu bytes) is not well-formed HTTP at byte %zu: %s", out->len, used,
		          http_errno_description(HTTP_PARSER_ERRNO(&p)));
	if (r.in_message)
		fuzz_fail("the server's output ends inside a response");
	if (r.final != stats->requests + stats->refused_requests)
		fuzz_fail("%u responses for %llu requests handled and %llu refused", r.final, stats->requests,
		          stats->refused_requests);
}

static void serve(const struct kr_httpd_config *base, const uint8_t *data, size_t size, size_t piece, bool check)
{
	struct kr_httpd_config cfg = *base;
	struct kr_httpd_stats stats;
	struct seen seen = {0};
	struct kr_error err = {0};
	struct kr_buf out;

	cfg.handler = handler;
	cfg.handler_ctx = &seen;
	kr_buf_init(&out, OUT_MAX);
	if (kr_httpd_serve_bytes(&cfg, data, size, piece, &out, &stats, &err))
		fuzz_fail("kr_httpd_serve_bytes: %s", err.msg);
	if (stats.requests != seen.requests)
		fuzz_fail("the handler ran %u times, the server counted %llu", seen.requests, stats.requests);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "--- %zu bytes out (%llu handled, %llu refused):\n%.*s\n", out.len, stats.requests,
		        stats.refused_requests, (int)(out.len > 2000 ? 2000 : out.len), (const char *)out.data);
	if (check && !seen.head)
		check_output(&out, &stats);
	kr_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct kr_httpd_config defaults = {.max_body = (size_t)1 << 20};
	static const struct kr_httpd_config small = {
	    .max_header_bytes = 300, .max_url = 40, .max_body = 100, .max_response = 1000, .max_requests_per_conn = 3};
	/* The response to a HEAD request (handled or refused) has a Content-Length but no body: reading the
	 * output back would need to know which response answers a HEAD, so output of such input is not read back. */
	bool check = true;

	for (size_t i = 0; i + 4 <= size && check; i++)
		check = memcmp(data + i, "HEAD", 4) != 0;

	serve(&defaults, data, size, 0, check);
	/* Small limits, and the input read in pieces of 1 to 16 bytes: split URLs, headers and bodies. */
	serve(&small, data, size, 1 + size % 16, check);
	return 0;
}
