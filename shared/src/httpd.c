/* httpd.c: a bounded HTTP/1.1 server (acceptor, worker pool, http-parser) over kr_tls connections. */
#include "kiroku/httpd.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>

#define MAX_HEADERS       64
#define READ_BUF_SIZE     16384 /* one TLS record */
#define REJECT_QUEUE_LEN  16    /* plain listeners: connections waiting for their 503 */
#define REJECT_TIMEOUT_MS 2000
#define LISTEN_BACKLOG    4096  /* the kernel caps it at net.core.somaxconn; see acceptor_main */
#define EXTRA_HEADERS_MAX 4096
#define WAIT_SLICE_MS     100 /* how often an idle connection looks at the stop flag */
#define LINGER_MS         1000
#define LINGER_BYTES      ((size_t)4 << 20)
#define BODY_RESERVE_MAX  ((size_t)1 << 20)
#define TOO_BIG_LOG_MS    10000 /* at most one log line per 10 s for bodies refused as too large */

/* ---- the server ---- */

struct fd_queue {
	int *fds;
	int64_t *since; /* mono_ms() when each was queued */
	unsigned cap, head, count;
};

struct kr_httpd {
	struct kr_httpd_config cfg;
	char host[64];
	struct kr_tls_server *tls; /* NULL on a plain listener */
	int listen_fd;
	int wake[2]; /* a pipe: writing to it wakes the acceptor to stop */
	unsigned short port;

	pthread_mutex_t lock;
	pthread_cond_t work_cond;   /* work queue not empty, or stopping */
	pthread_cond_t reject_cond; /* reject queue not empty, or stopping */
	struct fd_queue work, reject;
	atomic_bool stopping;
	bool stopped;

	pthread_t acceptor, rejecter, *workers; /* rejecter: plain listeners only */
	unsigned n_workers;
	bool acceptor_started, rejecter_started;

	atomic_ullong accepted, established, handshakes_failed, requests, refused_requests, timeouts, rejected_busy;
	atomic_ullong rejected_full, rejected_waited, refused_too_big;
	atomic_int write_timeout_ms; /* cfg.write_timeout_ms, changeable at run time (kr_httpd_set_write_timeout) */
	int64_t too_big_logged_ms;    /* under lock: when the last 413 line was logged (0: never) */
	unsigned long long too_big_unlogged; /* under lock: 413s since then that were not logged */
	size_t read_piece; /* kr_httpd_serve_bytes: read at most this many bytes at a time (0: a whole buffer) */

	struct session *live; /* established TLS sessions with a client certificate, under lock (close_peer) */
};

/* One line to stderr: "2024-05-01T09:30:00Z kiroku httpd: ...". */
static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
	char msg[768], stamp[32];
	struct tm tm;
	time_t now = time(NULL);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (gmtime_r(&now, &tm))
		strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		snprintf(stamp, sizeof stamp, "?");
	fprintf(stderr, "%s kiroku httpd: %s\n", stamp, msg);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool queue_push(struct fd_queue *q, int fd)
{
	unsigned i = (q->head + q->count) % q->cap;

	if (q->count == q->cap)
		return false;
	q->fds[i] = fd;
	q->since[i] = mono_ms();
	q->count++;
	return true;
}

/* Takes the oldest entry; *since (may be NULL) gets when it was queued. The queue must not be empty. */
static int queue_pop(struct fd_queue *q, int64_t *since)
{
	int fd = q->fds[q->head];

	assert(q->count > 0);
	if (since)
		*since = q->since[q->head];
	q->head = (q->head + 1) % q->cap;
	q->count--;
	return fd;
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Found";
	case 303:
		return "See Other";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 411:
		return "Length Required";
	case 413:
		return "Payload Too Large";
	case 414:
		return "URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 417:
		return "Expectation Failed";
	case 422:
		return "Unprocessable Content";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	case 507:
		return "Insufficient Storage";
	default:
		return status < 300 ? "OK" : status < 400 ? "Redirect" : status < 500 ? "Client Error" : "Server Error";
	}
}

/* Text safe in a header value: no control characters but tab. */
static bool header_text_ok(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return false;
	return true;
}

static bool token_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", c))
			return false;
	}
	return true;
}

/* kr_tls reports a passed deadline as KR_ERR_NETWORK with "timed out" in the message. */
static bool is_timeout(kr_status st, const struct kr_error *err)
{
	return st == KR_ERR_NETWORK && strstr(err->msg, "timed out") != NULL;
}

/* Writes a complete response. Bodies up to one record go out in the same write as the head. */
static kr_status send_response(struct kr_tls_conn *conn, int status, const char *content_type,
                               const struct kr_buf *extra, const uint8_t *body, size_t len, bool head_only, bool keep,
                               struct kr_error *err)
{
	struct kr_buf out;
	kr_status st;

	kr_buf_init(&out, 0);
	st = kr_buf_printf(&out, "HTTP/1.1 %d %s\r\n", status, reason_phrase(status));
	if (!st && content_type && content_type[0])
		st = kr_buf_printf(&out, "Content-Type: %s\r\n", content_type);
	if (!st)
		st = kr_buf_printf(&out, "Content-Length: %zu\r\nConnection: %s\r\n", len,
		                   keep ? "keep-alive" : "close");
	if (!st && extra && extra->len)
		st = kr_buf_append(&out, extra->data, extra->len);
	if (!st)
		st = kr_buf_append(&out, "\r\n", 2);
	if (!st && !head_only && len > 0 && len <= READ_BUF_SIZE) {
		st = kr_buf_append(&out, body, len);
		len = 0;
	}
	if (st) {
		kr_buf_release(&out);
		return kr_fail(err, st, "out of memory writing a response");
	}
	st = kr_tls_conn_write_all(conn, out.data, out.len, err);
	if (!st && !head_only && len > 0)
		st = kr_tls_conn_write_all(conn, body, len, err);
	kr_buf_release(&out);
	return st;
}

/* ---- one connection ---- */

/* The state of one connection and of the request being read on it. */
struct session {
	struct kr_httpd *srv;
	struct kr_tls_conn *conn;
	struct kr_cert_info peer;
	bool peer_verified;
	struct session *live_prev, *live_next; /* in srv->live, under srv->lock */
	atomic_bool kill;                      /* kr_httpd_close_peer: end this connection */
	char kill_reason[160];                 /* set before kill, under srv->lock */
	http_parser parser;

	/* per message, reset in on_message_begin */
	struct kr_buf url; /* NUL-terminated once complete */
	struct kr_buf hdr; /* "name\0value\0" pairs */
	size_t hdr_off[MAX_HEADERS][2];
	size_t n_hdr;
	int hdr_state; /* 0: before a header, 1: in a name, 2: in a value */
	struct kr_buf body;
	bool expect_continue;
	bool complete;
	bool keep_alive;
	int64_t deadline;
	int fail_status; /* the server's own answer, when the request is refused */
	char fail_reason[200];
	bool fail_silent; /* the connection broke: nothing to answer */
	struct kr_http_header headers[MAX_HEADERS];
};

static void session_reset(struct session *s)
{
	s->url.len = 0;
	s->hdr.len = 0;
	s->n_hdr = 0;
	s->hdr_state = 0;
	s->body.len = 0;
	s->expect_continue = false;
	s->complete = false;
	s->keep_alive = false;
	s->fail_status = 0;
	s->fail_reason[0] = 0;
	s->fail_silent = false;
}

static int refuse(struct session *s, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(struct session *s, int status, const char *fmt, ...)
{
	va_list ap;

	if (!s->fail_status) {
		s->fail_status = status;
		va_start(ap, fmt);
		vsnprintf(s->fail_reason, sizeof s->fail_reason, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Logs a body refused as too large (the handler never sees it, so nobody else would): the first in any 10 s
 * in full, the others counted into the next line. */
static void log_too_big(struct session *s, unsigned long long length, size_t cap, const char *why)
{
	struct kr_httpd *srv = s->srv;
	int64_t now = mono_ms();
	unsigned long long more = 0;
	bool log = false;

	atomic_fetch_add(&srv->refused_too_big, 1);
	pthread_mutex_lock(&srv->lock);
	if (!srv->too_big_logged_ms || now - srv->too_big_logged_ms >= TOO_BIG_LOG_MS) {
		log = true;
		more = srv->too_big_unlogged;
		srv->too_big_unlogged = 0;
		srv->too_big_logged_ms = now;
	} else {
		srv->too_big_unlogged++;
	}
	pthread_mutex_unlock(&srv->lock);
	if (!log)
		return;
	if (more)
		log_line("413: %s%s%s declared a body of %llu bytes, over the cap of %zu bytes%s (and %llu more "
		         "refused for size since the last such line)", kr_tls_conn_addr(s->conn),
		         s->peer.cn[0] ? " node " : "", s->peer.cn, length, cap, why, more);
	else
		log_line("413: %s%s%s declared a body of %llu bytes, over the cap of %zu bytes%s",
		         kr_tls_conn_addr(s->conn), s->peer.cn[0] ? " node " : "", s->peer.cn, length, cap, why);
}

static int on_message_begin(http_parser *p)
{
	session_reset(p->data);
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct session *s = p->data;

	if (s->url.len + n > s->srv->cfg.max_url)
		return refuse(s, 414, "the URL is longer than %zu bytes", s->srv->cfg.max_url);
	if (s->url.len + n + s->hdr.len > s->srv->cfg.max_header_bytes || kr_buf_append(&s->url, at, n))
		return refuse(s, 431, "the request head is larger than %zu bytes", s->srv->cfg.max_header_bytes);
	return 0;
}

/* Appends header bytes, counting them against the head's cap. */
static int hdr_append(struct session *s, const void *at, size_t n)
{
	if (s->url.len + s->hdr.len + n > s->srv->cfg.max_header_bytes || kr_buf_append(&s->hdr, at, n))
		return refuse(s, 431, "the request head is larger than %zu bytes", s->srv->cfg.max_header_bytes);
	return 0;
}

/* Ends the header being read (its value), if any. */
static int hdr_finish(struct session *s)
{
	if (s->hdr_state != 2)
		return 0;
	if (hdr_append(s, "", 1))
		return -1;
	s->n_hdr++;
	s->hdr_state = 0;
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
	struct session *s = p->data;

	if (s->hdr_state != 1) {
		if (hdr_finish(s))
			return -1;
		if (s->n_hdr == MAX_HEADERS)
			return refuse(s, 431, "more than %d header fields", MAX_HEADERS);
		s->hdr_off[s->n_hdr][0] = s->hdr.len;
		s->hdr_state = 1;
	}
	return hdr_append(s, at, n);
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
	struct session *s = p->data;

	if (s->hdr_state != 2) {
		if (s->hdr_state != 1 || hdr_append(s, "", 1))
			return refuse(s, 400, "a header value without a name");
		s->hdr_off[s->n_hdr][1] = s->hdr.len;
		s->hdr_state = 2;
	}
	return hdr_append(s, at, n);
}

static const char *session_header(const struct session *s, const char *name)
{
	for (size_t i = 0; i < s->n_hdr; i++)
		if (strcasecmp((const char *)s->hdr.data + s->hdr_off[i][0], name) == 0)
			return (const char *)s->hdr.data + s->hdr_off[i][1];
	return NULL;
}

static bool method_allowed(unsigned m)
{
	return m == HTTP_GET || m == HTTP_HEAD || m == HTTP_POST || m == HTTP_PUT || m == HTTP_DELETE;
}

static int on_headers_complete(http_parser *p)
{
	struct session *s = p->data;
	const struct kr_httpd_config *cfg = &s->srv->cfg;
	const char *expect;
	struct kr_error err;
	bool has_length = (p->flags & F_CONTENTLENGTH) != 0;
	/* content_length counts down as the body arrives: copy it now. */
	uint64_t length = has_length ? p->content_length : 0;

	if (hdr_finish(s) || kr_buf_terminate(&s->url) || kr_buf_terminate(&s->hdr))
		return refuse(s, 431, "the request head is larger than %zu bytes", cfg->max_header_bytes);
	if (!method_allowed(p->method) || p->upgrade || (p->flags & F_UPGRADE))
		return refuse(s, 501, "%s is not supported here",
		              p->upgrade ? "a protocol upgrade" : http_method_str(p->method));
	if (p->flags & F_CHUNKED)
		return refuse(s, 411, "chunked request bodies are not accepted: send Content-Length");
	if ((p->method == HTTP_POST || p->method == HTTP_PUT) && !has_length)
		return refuse(s, 411, "a %s request needs a Content-Length", http_method_str(p->method));
	if (length > cfg->max_body) {
		log_too_big(s, (unsigned long long)length, cfg->max_body, "");
		return refuse(s, 413, "the body of %llu bytes is larger than the %zu bytes accepted",
		              (unsigned long long)length, cfg->max_body);
	}
	if (s->srv->tls && !s->peer_verified && length > cfg->max_body_unverified) {
		log_too_big(s, (unsigned long long)length, cfg->max_body_unverified, " without a client certificate");
		return refuse(s, 413, "the body of %llu bytes is larger than the %zu bytes accepted without a client "
		              "certificate", (unsigned long long)length, cfg->max_body_unverified);
	}
	expect = session_header(s, "Expect");
	if (expect && strcasecmp(expect, "100-continue") != 0)
		return refuse(s, 417, "Expect: %s is not supported", expect);
	/* Room for the announced body up to 1 MiB at once; beyond that the buffer grows as bytes really arrive. */
	if (length > 0 && kr_buf_reserve(&s->body, length < BODY_RESERVE_MAX ? (size_t)length : BODY_RESERVE_MAX))
		return refuse(s, 503, "no memory for a body of %llu bytes", (unsigned long long)length);
	if (length > 0 && cfg->min_body_rate > 0) {
		uint64_t extra = length * 1000 / cfg->min_body_rate;
		s->deadline += extra > INT32_MAX ? INT32_MAX : (int64_t)extra;
	}
	if (expect && length > 0) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		if (kr_tls_conn_write_all(s->conn, cont, sizeof cont - 1, &err)) {
			s->fail_silent = true;
			return refuse(s, 500, "%s", err.msg);
		}
	}
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct session *s = p->data;

	if (kr_buf_append(&s->body, at, n))
		return refuse(s, 413, "the body is larger than %zu bytes", s->srv->cfg.max_body);
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct session *s = p->data;

	s->complete = true;
	s->keep_alive = http_should_keep_alive(p) != 0;
	/* Stop after this message: a pipelined next request stays in the read buffer until this one is answered. */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Feeds bytes to the parser. Returns how many were used (fewer than n only after a complete message), or -1
 * with s->fail_status set. */
static long feed(struct session *s, const char *data, size_t n)
{
	size_t used = http_parser_execute(&s->parser, &parser_settings, data, n);
	enum http_errno e = HTTP_PARSER_ERRNO(&s->parser);

	if (e == HPE_PAUSED && s->complete)
		return (long)used;
	if (e != HPE_OK || used != n) {
		if (e == HPE_HEADER_OVERFLOW)
			refuse(s, 431, "the request head is too large");
		else if (e == HPE_OK)
			refuse(s, 400, "malformed request: unexpected bytes after the message");
		else
			refuse(s, 400, "malformed request: %s", http_errno_description(e));
		return -1;
	}
	return (long)used;
}

/* Fills the request the handler sees; the URL is split in place. Returns false (with s->fail_status set) for a
 * bad URL or no memory. */
static bool build_request(struct session *s, struct kr_http_request *req)
{
	struct http_parser_url u;
	char *url = (char *)s->url.data;
	const char *ct;

	memset(req, 0, sizeof *req);
	http_parser_url_init(&u);
	if (!url || http_parser_parse_url(url, s->url.len, 0, &u) != 0 || !(u.field_set & (1 << UF_PATH)) ||
	    url[u.field_data[UF_PATH].off] != '/') {
		refuse(s, 400, "malformed request: the URL is not a path");
		return false;
	}
	/* The character after each field is '?', '#' or the terminating NUL: cut there. */
	url[u.field_data[UF_PATH].off + u.field_data[UF_PATH].len] = 0;
	req->path = url + u.field_data[UF_PATH].off;
	if (u.field_set & (1 << UF_QUERY)) {
		url[u.field_data[UF_QUERY].off + u.field_data[UF_QUERY].len] = 0;
		req->query = url + u.field_data[UF_QUERY].off;
	} else {
		req->query = "";
	}
	for (size_t i = 0; i < s->n_hdr; i++) {
		s->headers[i].name = (const char *)s->hdr.data + s->hdr_off[i][0];
		s->headers[i].value = (const char *)s->hdr.data + s->hdr_off[i][1];
	}
	req->headers = s->headers;
	req->n_headers = s->n_hdr;
	req->method = http_method_str(s->parser.method);
	ct = session_header(s, "Content-Type");
	req->content_type = ct ? ct : "";
	if (s->body.len) {
		if (kr_buf_terminate(&s->body)) {
			refuse(s, 503, "no memory for the request body");
			return false;
		}
		req->body = s->body.data;
	}
	req->body_len = s->body.len;
	req->peer_node = s->peer.cn;
	req->peer_facility = s->peer.ou;
	req->peer_serial = s->peer.serial;
	req->peer_addr = kr_tls_conn_addr(s->conn);
	req->peer_verified = s->peer_verified;
	req->peer = s->peer_verified ? &s->peer : NULL;
	return true;
}

/* Answers a request the server refuses itself, then ends the connection. */
static void answer_refusal(struct session *s)
{
	struct kr_error err;
	char body[256];
	int n;

	atomic_fetch_add(&s->srv->refused_requests, 1);
	if (s->fail_silent)
		return;
	n = snprintf(body, sizeof body, "%s\n", s->fail_reason);
	if (n < 0 || (size_t)n >= sizeof body)
		n = (int)strlen(body);
	/* A refused HEAD request gets the head only, like any HEAD response. The parser says HEAD as soon as it
	 * reads an 'H', so only once the URL has begun is the method known (fuzz_http found "H:..." answered so). */
	if (send_response(s->conn, s->fail_status, "text/plain; charset=utf-8", NULL, (const uint8_t *)body, (size_t)n,
	                  s->parser.method == HTTP_HEAD && s->url.len > 0, false, &err) == KR_OK)
		kr_tls_conn_linger(s->conn, LINGER_MS, LINGER_BYTES);
}

/* Calls the handler and sends its answer. Returns whether the connection may serve another request. */
static bool handle(struct session *s, bool may_keep)
{
	struct kr_httpd *srv = s->srv;
	struct kr_http_request req;
	struct kr_http_response resp;
	struct kr_error err;
	bool keep;
	kr_status st;

	if (!build_request(s, &req)) {
		answer_refusal(s);
		return false;
	}
	memset(&resp, 0, sizeof resp);
	kr_buf_init(&resp.body, srv->cfg.max_response);
	kr_buf_init(&resp.headers, EXTRA_HEADERS_MAX);
	atomic_fetch_add(&srv->requests, 1);
	srv->cfg.handler(srv->cfg.handler_ctx, &req, &resp);
	resp.content_type[sizeof resp.content_type - 1] = 0;
	if (resp.status < 200 || resp.status > 599 || !header_text_ok(resp.content_type)) {
		log_line("%s %s from %s: the handler gave status %d%s; answering 500", req.method, req.path,
		         req.peer_addr, resp.status,
		         header_text_ok(resp.content_type) ? "" : " and a bad content type");
		resp.status = 500;
		resp.content_type[0] = 0;
		resp.body.len = 0;
		resp.headers.len = 0;
	}
	keep = may_keep && s->keep_alive && !resp.close && !atomic_load(&srv->stopping);
	st = send_response(s->conn, resp.status, resp.content_type, &resp.headers, resp.body.data, resp.body.len,
	                   s->parser.method == HTTP_HEAD, keep, &err);
	if (st) {
		if (is_timeout(st, &err))
			atomic_fetch_add(&srv->timeouts, 1);
		log_line("%s %s from %s: sending the response failed: %s", req.method, req.path, req.peer_addr,
		         err.msg);
		keep = false;
	}
	kr_buf_release(&resp.body);
	kr_buf_release(&resp.headers);
	return keep;
}

/* Waits for the first byte of the next request, looking at the stop flag now and then. */
static bool wait_request(struct session *s, int timeout_ms, bool *timed_out)
{
	int64_t deadline = mono_ms() + timeout_ms;

	*timed_out = false;
	for (;;) {
		int64_t left = deadline - mono_ms();
		int r;
		if (atomic_load(&s->srv->stopping) || atomic_load(&s->kill))
			return false;
		if (left <= 0) {
			*timed_out = true;
			return false;
		}
		r = kr_tls_conn_wait(s->conn, left < WAIT_SLICE_MS ? (int)left : WAIT_SLICE_MS);
		if (r != 0)
			return r > 0;
	}
}

/* Serves requests on an established connection until it ends. */
static void serve(struct session *s)
{
	struct kr_httpd *srv = s->srv;
	const struct kr_httpd_config *cfg = &srv->cfg;
	char buf[READ_BUF_SIZE];
	size_t off = 0, len = 0;
	unsigned served = 0;
	struct kr_error err;

	http_parser_init(&s->parser, HTTP_REQUEST);
	s->parser.data = s;
	for (;;) {
		size_t received = 0;
		bool timed_out;

		if (off == len) {
			/* The first request is due at once; later ones within the keep-alive time. */
			if (!wait_request(s, served ? cfg->idle_timeout_ms : cfg->request_timeout_ms, &timed_out)) {
				if (timed_out && !served) {
					atomic_fetch_add(&srv->timeouts, 1);
					log_line("%s sent no request within %d ms; closing", kr_tls_conn_addr(s->conn),
					         cfg->request_timeout_ms);
				}
				return;
			}
		}
		session_reset(s);
		s->deadline = mono_ms() + cfg->request_timeout_ms;
		http_parser_pause(&s->parser, 0);
		while (!s->complete && !s->fail_status) {
			int64_t left;
			ssize_t n;

			if (off < len) {
				long used = feed(s, buf + off, len - off);
				if (used < 0)
					break;
				off += (size_t)used;
				continue;
			}
			left = s->deadline - mono_ms();
			n = left > 0 ? kr_tls_conn_read(s->conn, buf,
			                                srv->read_piece && srv->read_piece < sizeof buf ? srv->read_piece
			                                                                                : sizeof buf,
			                                left > INT32_MAX ? INT32_MAX : (int)left, &err)
			             : KR_TLS_TIMEOUT;
			if (n == KR_TLS_TIMEOUT) {
				atomic_fetch_add(&srv->timeouts, 1);
				log_line("%s: the request took longer than its deadline (%zu bytes received); closing",
				         kr_tls_conn_addr(s->conn), received);
				refuse(s, 408, "the request took too long");
				break;
			}
			if (n < 0) {
				if (received)
					log_line("%s: reading the request failed: %s", kr_tls_conn_addr(s->conn),
					         err.msg);
				return;
			}
			if (n == 0) {
				if (received)
					log_line(
					    "%s closed the connection in the middle of a request (%zu bytes received)",
					    kr_tls_conn_addr(s->conn), received);
				return;
			}
			off = 0;
			len = (size_t)n;
			received += (size_t)n;
		}
		if (s->fail_status) {
			answer_refusal(s);
			return;
		}
		if (atomic_load(&s->kill))
			return; /* the peer was cut off (kr_httpd_close_peer) while this request came in */
		served++;
		if (!handle(s, served < cfg->max_requests_per_conn))
			return;
		if (s->body.cap > BODY_RESERVE_MAX) /* do not keep a large body's memory while idle */
			kr_buf_release(&s->body);
	}
}

static void session_release(struct session *s)
{
	kr_buf_release(&s->url);
	kr_buf_release(&s->hdr);
	kr_buf_release(&s->body);
}

static void live_add(struct kr_httpd *srv, struct session *s)
{
	pthread_mutex_lock(&srv->lock);
	s->live_prev = NULL;
	s->live_next = srv->live;
	if (srv->live)
		srv->live->live_prev = s;
	srv->live = s;
	pthread_mutex_unlock(&srv->lock);
}

static void live_remove(struct kr_httpd *srv, struct session *s)
{
	pthread_mutex_lock(&srv->lock);
	if (s->live_prev)
		s->live_prev->live_next = s->live_next;
	else
		srv->live = s->live_next;
	if (s->live_next)
		s->live_next->live_prev = s->live_prev;
	s->live_prev = s->live_next = NULL;
	pthread_mutex_unlock(&srv->lock);
}

unsigned kr_httpd_close_peer(struct kr_httpd *srv, const char *node, const char *reason)
{
	unsigned n = 0;

	pthread_mutex_lock(&srv->lock);
	for (struct session *s = srv->live; s; s = s->live_next) {
		if (strcmp(s->peer.cn, node) != 0 || atomic_load(&s->kill))
			continue;
		snprintf(s->kill_reason, sizeof s->kill_reason, "%s", reason ? reason : "closed by the server");
		atomic_store(&s->kill, true);
		n++;
	}
	pthread_mutex_unlock(&srv->lock);
	return n;
}

/* Handshake, identify the peer, serve. Takes ownership of fd. */
static void serve_fd(struct kr_httpd *srv, int fd)
{
	struct session *s = calloc(1, sizeof *s);
	struct kr_error err;
	kr_status st;

	if (!s) {
		close(fd);
		log_line("out of memory for a new connection; closing it");
		return;
	}
	s->srv = srv;
	kr_buf_init(&s->url, srv->cfg.max_url + 1);
	kr_buf_init(&s->hdr, srv->cfg.max_header_bytes + 1);
	kr_buf_init(&s->body, srv->cfg.max_body + 1);
	if (srv->tls)
		st = kr_tls_conn_accept(srv->tls, fd, srv->cfg.handshake_timeout_ms, &s->conn, &err);
	else
		st = kr_tls_conn_plain(fd, &s->conn, &err);
	if (st) {
		atomic_fetch_add(&srv->handshakes_failed, 1);
		if (is_timeout(st, &err))
			atomic_fetch_add(&srv->timeouts, 1);
		log_line("%s", err.msg);
		goto out;
	}
	if (srv->tls && (st = kr_tls_conn_peer(s->conn, &s->peer, &err)) != KR_OK) {
		/* No certificate at all gets this far only when the peer check let the client in. */
		if (!(st == KR_ERR_NOT_FOUND && srv->cfg.peer_check)) {
			atomic_fetch_add(&srv->handshakes_failed, 1);
			log_line("refusing %s: %s", kr_tls_conn_addr(s->conn), err.msg);
			goto out;
		}
	} else if (srv->tls) {
		s->peer_verified = true;
	}
	atomic_fetch_add(&srv->established, 1);
	kr_tls_conn_set_write_timeout(s->conn, atomic_load(&srv->write_timeout_ms));
	if (s->peer_verified)
		live_add(srv, s);
	serve(s);
	if (s->peer_verified)
		live_remove(srv, s);
	if (atomic_load(&s->kill))
		log_line("closed the connection of node %s from %s: %s", s->peer.cn, kr_tls_conn_addr(s->conn),
		         s->kill_reason);
out:
	kr_tls_conn_close(s->conn);
	session_release(s);
	free(s);
}

/* Answers 503 to a connection on a plain listener for which there is no room, then closes it. */
static void reject_fd(struct kr_httpd *srv, int fd)
{
#define BUSY_TEXT "the server is busy; try again in a second\n"
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
	                           "Content-Length: 42\r\nRetry-After: 1\r\nConnection: close\r\n\r\n" BUSY_TEXT;
	struct kr_tls_conn *conn;
	struct kr_error err;
	char sink[READ_BUF_SIZE];

	_Static_assert(sizeof BUSY_TEXT - 1 == 42, "the Content-Length above must match BUSY_TEXT");
	assert(!srv->tls); /* a TLS client is turned away before its handshake: see turn_away */
	if (kr_tls_conn_plain(fd, &conn, &err) != KR_OK)
		return;
	kr_tls_conn_set_write_timeout(conn, REJECT_TIMEOUT_MS);
	/* Read (part of) the request first, so the client is listening for the answer when it comes. */
	(void)kr_tls_conn_read(conn, sink, sizeof sink, REJECT_TIMEOUT_MS / 2, NULL);
	if (kr_tls_conn_write_all(conn, busy, sizeof busy - 1, &err) == KR_OK)
		kr_tls_conn_linger(conn, LINGER_MS, LINGER_BYTES);
	kr_tls_conn_close(conn);
}

/* Turns away a connection for which there is no room in the queue, or that waited there longer than
 * queue_wait_ms, without spending a TLS handshake on it: refusing with a 503 would cost the same handshake as
 * serving, and under a crowd of clients those handshakes took the CPU the accepted ones needed. A TLS client sees
 * its connection closed during the handshake, which kr_client reports as "busy or restarting" and retries later.
 * On a plain listener an answer costs nothing: the rejecter thread answers 503 while it has room. Called with
 * srv->lock held. full: the queue was full (else the connection waited queue_wait_ms). */
static void turn_away(struct kr_httpd *srv, int fd, bool full)
{
	atomic_fetch_add(&srv->rejected_busy, 1);
	atomic_fetch_add(full ? &srv->rejected_full : &srv->rejected_waited, 1);
	if (!srv->tls && queue_push(&srv->reject, fd))
		pthread_cond_signal(&srv->reject_cond);
	else
		close(fd);
}

/* Turns away the queued connections that have waited queue_wait_ms (the oldest are at the head). Returns the ms
 * until the next one is due, or -1 when the queue is empty or has no time limit. Called with srv->lock held. */
static int expire_queued(struct kr_httpd *srv)
{
	int64_t now = mono_ms();

	while (srv->cfg.queue_wait_ms && srv->work.count) {
		int64_t due = srv->work.since[srv->work.head] + srv->cfg.queue_wait_ms;
		if (due > now)
			return (int)(due - now);
		turn_away(srv, queue_pop(&srv->work, NULL), false);
	}
	return -1;
}

static void *worker_main(void *arg)
{
	struct kr_httpd *srv = arg;

	for (;;) {
		int fd = -1;
		int64_t since;
		pthread_mutex_lock(&srv->lock);
		while (fd < 0) {
			while (srv->work.count == 0 && !atomic_load(&srv->stopping))
				pthread_cond_wait(&srv->work_cond, &srv->lock);
			if (atomic_load(&srv->stopping)) {
				pthread_mutex_unlock(&srv->lock);
				return NULL;
			}
			/* The acceptor turns away connections as they pass queue_wait_ms; this catches the few ms
			 * until it wakes up, so that no connection is started after waiting longer. */
			fd = queue_pop(&srv->work, &since);
			if (srv->cfg.queue_wait_ms && mono_ms() - since >= srv->cfg.queue_wait_ms) {
				turn_away(srv, fd, false);
				fd = -1;
			}
		}
		pthread_mutex_unlock(&srv->lock);
		serve_fd(srv, fd);
	}
}

static void *rejecter_main(void *arg)
{
	struct kr_httpd *srv = arg;

	for (;;) {
		int fd;
		pthread_mutex_lock(&srv->lock);
		while (srv->reject.count == 0 && !atomic_load(&srv->stopping))
			pthread_cond_wait(&srv->reject_cond, &srv->lock);
		if (atomic_load(&srv->stopping)) {
			pthread_mutex_unlock(&srv->lock);
			return NULL;
		}
		fd = queue_pop(&srv->reject, NULL);
		pthread_mutex_unlock(&srv->lock);
		reject_fd(srv, fd);
	}
}

/* Accepts every connection at once and queues it for the workers; turns it away (turn_away) when the queue is
 * full, and turns queued connections away as they pass queue_wait_ms. Accepting at once keeps the kernel's
 * listen backlog from overflowing, which would drop the client's SYN and cost it a 1 s retransmission; the wait
 * bound keeps a crowd from queueing longer than it takes a worker to be free (a sync then finishes in about
 * queue_wait_ms plus its own time, and the clients turned away come back later instead of waiting). */
static void *acceptor_main(void *arg)
{
	struct kr_httpd *srv = arg;

	for (;;) {
		struct pollfd p[2] = {{.fd = srv->listen_fd, .events = POLLIN}, {.fd = srv->wake[0], .events = POLLIN}};
		int fd, timeout;

		pthread_mutex_lock(&srv->lock);
		timeout = expire_queued(srv);
		pthread_mutex_unlock(&srv->lock);
		if (poll(p, 2, timeout) < 0) {
			if (errno == EINTR)
				continue;
			log_line("poll on the listening socket failed: %s", strerror(errno));
			return NULL;
		}
		if (p[1].revents || atomic_load(&srv->stopping))
			return NULL;
		if (!p[0].revents)
			continue;
		fd = accept(srv->listen_fd, NULL, NULL);
		if (fd >= 0)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				log_line("accepting a connection failed: %s; pausing 100 ms", strerror(errno));
				poll(NULL, 0, 100);
			}
			continue;
		}
		atomic_fetch_add(&srv->accepted, 1);
		pthread_mutex_lock(&srv->lock);
		expire_queued(srv); /* room first for the newcomer, rather than for one that waited too long */
		if (queue_push(&srv->work, fd))
			pthread_cond_signal(&srv->work_cond);
		else
			turn_away(srv, fd, true);
		pthread_mutex_unlock(&srv->lock);
	}
}

/* ---- start and stop ---- */

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return false;
}

static kr_status listen_on(struct kr_httpd *srv, struct kr_error *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *res;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char port[8];
	int rc, one = 1;

	snprintf(port, sizeof port, "%u", srv->cfg.port);
	rc = getaddrinfo(srv->host, port, &hints, &res);
	if (rc != 0)
		return kr_fail(err, KR_ERR_CONFIG, "listen address \"%s\" is not a numeric IP address: %s", srv->host,
		               gai_strerror(rc));
	if (srv->cfg.plain && !is_loopback(res->ai_addr)) {
		freeaddrinfo(res);
		return kr_fail(err, KR_ERR_CONFIG, "a plain (unencrypted) listener must use a loopback address, not %s",
		               srv->host);
	}
	srv->listen_fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, res->ai_protocol);
	if (srv->listen_fd < 0) {
		freeaddrinfo(res);
		return kr_fail(err, KR_ERR_NETWORK, "creating a socket failed: %s", strerror(errno));
	}
	setsockopt(srv->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(srv->listen_fd, res->ai_addr, res->ai_addrlen) != 0 || listen(srv->listen_fd, LISTEN_BACKLOG) != 0) {
		int e = errno;
		freeaddrinfo(res);
		return kr_fail(err, KR_ERR_NETWORK, "listening on %s port %u failed: %s%s", srv->host, srv->cfg.port,
		               strerror(e), e == EADDRINUSE ? " (is another hub running?)" : "");
	}
	freeaddrinfo(res);
	if (getsockname(srv->listen_fd, (struct sockaddr *)&ss, &sl) != 0)
		return kr_fail(err, KR_ERR_NETWORK, "getsockname failed: %s", strerror(errno));
	srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                           : ((struct sockaddr_in *)&ss)->sin_port);
	return KR_OK;
}

static void apply_defaults(struct kr_httpd_config *c)
{
	if (!c->workers)
		c->workers = 8;
	if (!c->queue_len)
		c->queue_len = 64;
	if (c->queue_wait_ms < 0)
		c->queue_wait_ms = 0;
	if (c->handshake_timeout_ms <= 0)
		c->handshake_timeout_ms = 10000;
	if (c->request_timeout_ms <= 0)
		c->request_timeout_ms = 10000;
	if (!c->min_body_rate)
		c->min_body_rate = 65536;
	if (c->idle_timeout_ms <= 0)
		c->idle_timeout_ms = 5000;
	if (c->write_timeout_ms <= 0)
		c->write_timeout_ms = 10000;
	if (!c->max_header_bytes)
		c->max_header_bytes = 16384;
	if (!c->max_url)
		c->max_url = 2048;
	if (!c->max_body)
		c->max_body = (size_t)16 << 20;
	if (!c->max_body_unverified)
		c->max_body_unverified = 65536;
	if (!c->max_response)
		c->max_response = (size_t)64 << 20;
	if (!c->max_requests_per_conn)
		c->max_requests_per_conn = 1000;
}

kr_status kr_httpd_start(const struct kr_httpd_config *cfg, struct kr_httpd **out, struct kr_error *err)
{
	struct kr_httpd *srv;
	kr_status st;
	int rc;

	*out = NULL;
	if (!cfg->handler)
		return kr_fail(err, KR_ERR_CONFIG, "the HTTP server needs a request handler");
	if (cfg->workers > 1024 || cfg->queue_len > 65536)
		return kr_fail(err, KR_ERR_CONFIG, "at most 1024 workers and a queue of 65536");
	if (cfg->max_body > ((size_t)1 << 32) || cfg->max_response > ((size_t)1 << 32) ||
	    cfg->max_header_bytes > ((size_t)1 << 20) || cfg->max_url > ((size_t)1 << 20))
		return kr_fail(err, KR_ERR_CONFIG, "size limits: body and response at most 4 GiB, head and URL 1 MiB");
	srv = calloc(1, sizeof *srv);
	if (!srv)
		return kr_fail(err, KR_ERR_NOMEM, "out of memory starting the HTTP server");
	srv->cfg = *cfg;
	apply_defaults(&srv->cfg);
	snprintf(srv->host, sizeof srv->host, "%s", cfg->host ? cfg->host : "127.0.0.1");
	srv->cfg.host = srv->host;
	srv->cfg.ca_crt = srv->cfg.crt = srv->cfg.key = NULL; /* not kept: the TLS server has loaded them */
	srv->listen_fd = srv->wake[0] = srv->wake[1] = -1;
	atomic_init(&srv->write_timeout_ms, srv->cfg.write_timeout_ms);
	pthread_mutex_init(&srv->lock, NULL);
	pthread_cond_init(&srv->work_cond, NULL);
	pthread_cond_init(&srv->reject_cond, NULL);
	srv->stopped = true; /* until the threads run, kr_httpd_stop has nothing to join */
	srv->work.cap = srv->cfg.queue_len;
	srv->reject.cap = REJECT_QUEUE_LEN;
	srv->work.fds = calloc(srv->work.cap, sizeof(int));
	srv->work.since = calloc(srv->work.cap, sizeof(int64_t));
	srv->reject.fds = calloc(srv->reject.cap, sizeof(int));
	srv->reject.since = calloc(srv->reject.cap, sizeof(int64_t));
	srv->workers = calloc(srv->cfg.workers, sizeof(pthread_t));
	if (!srv->work.fds || !srv->work.since || !srv->reject.fds || !srv->reject.since || !srv->workers) {
		st = kr_fail(err, KR_ERR_NOMEM, "out of memory starting the HTTP server");
		goto fail;
	}
	if (!cfg->plain && (st = kr_tls_server_new(cfg->ca_crt, cfg->crt, cfg->key, &srv->tls, err)))
		goto fail;
	if (srv->tls && cfg->peer_check)
		kr_tls_server_set_peer_check(srv->tls, cfg->peer_check, cfg->peer_check_ctx);
	if ((st = listen_on(srv, err)))
		goto fail;
	if (pipe(srv->wake) != 0 || fcntl(srv->wake[0], F_SETFD, FD_CLOEXEC) != 0 ||
	    fcntl(srv->wake[1], F_SETFD, FD_CLOEXEC) != 0) {
		st = kr_fail(err, KR_ERR_IO, "creating a pipe failed: %s", strerror(errno));
		goto fail;
	}
	srv->stopped = false;
	for (srv->n_workers = 0; srv->n_workers < srv->cfg.workers; srv->n_workers++) {
		rc = pthread_create(&srv->workers[srv->n_workers], NULL, worker_main, srv);
		if (rc)
			goto thread_fail;
	}
	if (!srv->tls) {
		rc = pthread_create(&srv->rejecter, NULL, rejecter_main, srv);
		if (rc)
			goto thread_fail;
		srv->rejecter_started = true;
	}
	rc = pthread_create(&srv->acceptor, NULL, acceptor_main, srv);
	if (rc)
		goto thread_fail;
	srv->acceptor_started = true;
	*out = srv;
	return KR_OK;
thread_fail:
	st = kr_fail(err, KR_ERR_INTERNAL, "starting a thread failed: %s", strerror(rc));
fail:
	kr_httpd_free(srv);
	return st;
}

unsigned short kr_httpd_port(const struct kr_httpd *srv)
{
	return srv->port;
}

void kr_httpd_stats(const struct kr_httpd *srv, struct kr_httpd_stats *out)
{
	struct kr_httpd *s = (struct kr_httpd *)srv; /* atomic loads take non-const pointers in C11 */

	out->accepted = atomic_load(&s->accepted);
	out->established = atomic_load(&s->established);
	out->handshakes_failed = atomic_load(&s->handshakes_failed);
	out->requests = atomic_load(&s->requests);
	out->refused_requests = atomic_load(&s->refused_requests);
	out->timeouts = atomic_load(&s->timeouts);
	out->rejected_busy = atomic_load(&s->rejected_busy);
	out->rejected_full = atomic_load(&s->rejected_full);
	out->rejected_waited = atomic_load(&s->rejected_waited);
	out->refused_too_big = atomic_load(&s->refused_too_big);
}

kr_status kr_httpd_reload_tls(struct kr_httpd *srv, const char *ca_crt, const char *crt, const char *key,
                              struct kr_cert_info *info, struct kr_error *err)
{
	if (!srv->tls)
		return kr_fail(err, KR_ERR_CONFIG, "a plain listener has no certificate to reload");
	return kr_tls_server_reload(srv->tls, ca_crt, crt, key, info, err);
}

void kr_httpd_set_write_timeout(struct kr_httpd *srv, int timeout_ms)
{
	atomic_store(&srv->write_timeout_ms, timeout_ms > 0 ? timeout_ms : 10000);
}

void kr_httpd_stop(struct kr_httpd *srv)
{
	if (!srv || srv->stopped)
		return;
	atomic_store(&srv->stopping, true);
	if (srv->wake[1] >= 0) {
		ssize_t w;
		do
			w = write(srv->wake[1], "x", 1);
		while (w < 0 && errno == EINTR);
	}
	if (srv->acceptor_started)
		pthread_join(srv->acceptor, NULL);
	pthread_mutex_lock(&srv->lock);
	pthread_cond_broadcast(&srv->work_cond);
	pthread_cond_broadcast(&srv->reject_cond);
	pthread_mutex_unlock(&srv->lock);
	for (unsigned i = 0; i < srv->n_workers; i++)
		pthread_join(srv->workers[i], NULL);
	if (srv->rejecter_started)
		pthread_join(srv->rejecter, NULL);
	while (srv->work.count)
		close(queue_pop(&srv->work, NULL));
	while (srv->reject.count)
		close(queue_pop(&srv->reject, NULL));
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	srv->listen_fd = -1;
	srv->stopped = true;
}

void kr_httpd_free(struct kr_httpd *srv)
{
	if (!srv)
		return;
	kr_httpd_stop(srv);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->wake[0] >= 0)
		close(srv->wake[0]);
	if (srv->wake[1] >= 0)
		close(srv->wake[1]);
	kr_tls_server_free(srv->tls);
	pthread_cond_destroy(&srv->work_cond);
	pthread_cond_destroy(&srv->reject_cond);
	pthread_mutex_destroy(&srv->lock);
	free(srv->work.fds);
	free(srv->work.since);
	free(srv->reject.fds);
	free(srv->reject.since);
	free(srv->workers);
	free(srv);
}

/* ---- request and response helpers ---- */

const char *kr_http_request_header(const struct kr_http_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

kr_status kr_http_response_header(struct kr_http_response *resp, const char *name, const char *value)
{
	size_t before = resp->headers.len;
	kr_status st;

	if (!token_ok(name) || !header_text_ok(value))
		return KR_ERR_INVALID;
	st = kr_buf_printf(&resp->headers, "%s: %s\r\n", name, value);
	if (st)
		resp->headers.len = before;
	return st;
}

kr_status kr_http_response_text(struct kr_http_response *resp, int status, const char *fmt, ...)
{
	va_list ap;
	int n;
	kr_status st;

	resp->status = status;
	snprintf(resp->content_type, sizeof resp->content_type, "text/plain; charset=utf-8");
	resp->body.len = 0;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return KR_ERR_INTERNAL;
	st = kr_buf_reserve(&resp->body, (size_t)n + 1);
	if (st)
		return st;
	va_start(ap, fmt);
	vsnprintf((char *)resp->body.data, (size_t)n + 1, fmt, ap);
	va_end(ap);
	resp->body.len = (size_t)n;
	return KR_OK;
}

/* ---- for tests and fuzzing (kr_httpd_serve_bytes) ---- */

struct bytes_client {
	int fd;
	const uint8_t *in;
	size_t len;
	struct kr_buf *out;
	kr_status st; /* KR_ERR_TOO_BIG: out's cap was reached; KR_ERR_IO: the socket failed */
};

/* The client of kr_httpd_serve_bytes: sends the input and then ends its side, reading all the while, until the
 * server closes. Writing stops early if the server closes first (a refusal does not read the rest). */
static void *bytes_client_main(void *arg)
{
	struct bytes_client *c = arg;
	size_t sent = 0;
	bool writing = true;
	uint8_t buf[READ_BUF_SIZE];

	for (;;) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		ssize_t n;

		if (writing && sent == c->len) {
			shutdown(c->fd, SHUT_WR);
			writing = false;
		}
		if (writing)
			p.events |= POLLOUT;
		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			c->st = KR_ERR_IO;
			break;
		}
		if (writing && (p.revents & (POLLOUT | POLLERR | POLLHUP))) {
			n = send(c->fd, c->in + sent, c->len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				sent = c->len; /* the server closed its side: nothing more to send */
		}
		if (!(p.revents & (POLLIN | POLLERR | POLLHUP)))
			continue;
		n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n > 0) {
			if (c->st == KR_OK && kr_buf_append(c->out, buf, (size_t)n) != KR_OK)
				c->st = KR_ERR_TOO_BIG; /* keep reading, so that the server is not stuck writing */
			continue;
		}
		if (n == 0 || errno == ECONNRESET)
			break;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			c->st = KR_ERR_IO;
			break;
		}
	}
	close(c->fd);
	return NULL;
}

kr_status kr_httpd_serve_bytes(const struct kr_httpd_config *cfg, const uint8_t *in, size_t len, size_t piece,
                               struct kr_buf *out, struct kr_httpd_stats *stats, struct kr_error *err)
{
	struct bytes_client client = {.in = in, .len = len, .out = out};
	struct kr_httpd *srv;
	pthread_t thread;
	int sv[2], rc;

	if (!cfg->handler)
		return kr_fail(err, KR_ERR_CONFIG, "the HTTP server needs a request handler");
	if (!in && len)
		return kr_fail(err, KR_ERR_INTERNAL, "kr_httpd_serve_bytes: NULL input of %zu bytes", len);
	srv = calloc(1, sizeof *srv);
	if (!srv)
		return kr_fail(err, KR_ERR_NOMEM, "out of memory for a test connection");
	srv->cfg = *cfg;
	apply_defaults(&srv->cfg);
	srv->cfg.plain = true;
	srv->cfg.host = srv->cfg.ca_crt = srv->cfg.crt = srv->cfg.key = NULL;
	srv->listen_fd = srv->wake[0] = srv->wake[1] = -1;
	srv->stopped = true; /* no threads, no listener: nothing to stop */
	srv->read_piece = piece;
	atomic_init(&srv->write_timeout_ms, srv->cfg.write_timeout_ms);
	pthread_mutex_init(&srv->lock, NULL); /* log_too_big */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		pthread_mutex_destroy(&srv->lock);
		free(srv);
		return kr_fail(err, KR_ERR_IO, "socketpair failed: %s", strerror(errno));
	}
	client.fd = sv[1];
	rc = pthread_create(&thread, NULL, bytes_client_main, &client);
	if (rc) {
		close(sv[0]);
		close(sv[1]);
		pthread_mutex_destroy(&srv->lock);
		free(srv);
		return kr_fail(err, KR_ERR_NOMEM, "starting the test client thread failed: %s", strerror(rc));
	}
	atomic_fetch_add(&srv->accepted, 1);
	serve_fd(srv, sv[0]); /* closes sv[0]: the client then sees the end of the stream */
	pthread_join(thread, NULL);
	if (stats)
		kr_httpd_stats(srv, stats);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
	if (client.st == KR_ERR_TOO_BIG)
		return kr_fail(err, KR_ERR_TOO_BIG, "the server's output exceeded the cap of %zu bytes", out->max);
	if (client.st)
		return kr_fail(err, client.st, "the test client's socket failed");
	return KR_OK;
}
