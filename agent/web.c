/* web.c: the web form's server: listening on loopback, the Host, Origin and token checks, sessions and routing. */
#include "web.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "kiroku/ids.h"

#define WEB_MAX_BODY  (512 * 1024) /* the largest form (three 8,000-byte texts, percent-encoded) fits */
#define WEB_ARENA_MAX (4u << 20)
#define WEB_HOSTS     4
#define FORM_TYPE     "application/x-www-form-urlencoded"

struct web {
	struct web_config cfg;
	char *store_path, *lang, *hub_url, *host; /* copies behind cfg's strings */
	struct kr_httpd *srv;
	struct kr_store *st;
	pthread_mutex_t lock; /* the handler's work: the store connection and the sessions */
	struct web_sessions sessions;
	unsigned short port;
	char hosts[WEB_HOSTS][80]; /* the Host header values that name this server */
	size_t nhosts;
};

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	va_list ap;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
	va_start(ap, fmt);
	flockfile(stderr);
	fprintf(stderr, "%s kiroku-agent web: ", stamp);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
	va_end(ap);
}

/* Headers of every answer: no caching of pages that hold personal information, no framing, no sniffing, and
 * nothing loaded from anywhere but this origin (and no script at all). */
static void security_headers(struct kr_http_response *resp)
{
	kr_http_response_header(resp, "Cache-Control", "no-store");
	kr_http_response_header(resp, "X-Content-Type-Options", "nosniff");
	kr_http_response_header(resp, "X-Frame-Options", "DENY");
	kr_http_response_header(resp, "Referrer-Policy", "same-origin");
	kr_http_response_header(resp, "Content-Security-Policy",
	                        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
	                        "frame-ancestors 'none'; base-uri 'none'");
}

/* The Host header must name this server: a page of another site that a DNS name rebound to 127.0.0.1 sends
 * that name, and is refused before anything is read. */
static const char *host_allowed(const struct web *w, const struct kr_http_request *req)
{
	const char *host = kr_http_request_header(req, "Host");

	if (!host)
		return NULL;
	for (size_t i = 0; i < w->nhosts; i++)
		if (strcasecmp(host, w->hosts[i]) == 0)
			return host;
	return NULL;
}

/* A POST must come from a page of this server: its Origin (or, when a browser sends none, its Referer) is
 * http://HOST with the Host it was sent to. */
static bool origin_allowed(const struct kr_http_request *req, const char *host)
{
	const char *origin = kr_http_request_header(req, "Origin"), *referer = kr_http_request_header(req, "Referer");
	size_t hl = strlen(host);

	if (origin)
		return strncasecmp(origin, "http://", 7) == 0 && strcasecmp(origin + 7, host) == 0;
	if (referer)
		return strncasecmp(referer, "http://", 7) == 0 && strncasecmp(referer + 7, host, hl) == 0 &&
		       referer[7 + hl] == '/';
	return false;
}

static void cookie_name(const struct web *w, char out[48])
{
	/* Cookies are not kept apart by port: the port in the name keeps two servers on one PC apart. */
	snprintf(out, 48, "kiroku_session_%u", w->port);
}

static void set_cookie(struct web_req *r)
{
	char name[48], value[160];

	cookie_name(r->w, name);
	snprintf(value, sizeof value, "%s=%s; Path=/; HttpOnly; SameSite=Strict", name, r->sess->id);
	kr_http_response_header(r->resp, "Set-Cookie", value);
}

static void redirect(struct web_req *r, const char *to)
{
	r->resp->status = 303;
	kr_http_response_header(r->resp, "Location", to);
}

/* A local path to go back to after a POST: "/..." but not "//..." (another host), nothing odd. */
static const char *safe_back(const char *back)
{
	if (!back || back[0] != '/' || back[1] == '/' || back[1] == '\\' || strlen(back) > 512)
		return "/";
	for (const char *p = back; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p >= 0x7f)
			return "/";
	return back;
}

static void post_lang(struct web_req *r)
{
	const char *lang = web_form_get(&r->form, "lang");

	if (lang && (strcmp(lang, "ja") == 0 || strcmp(lang, "en") == 0))
		snprintf(r->sess->lang, sizeof r->sess->lang, "%s", lang);
	redirect(r, safe_back(web_form_get(&r->form, "back")));
}

static void post_sync(struct web_req *r)
{
	if (!r->cfg->sync_now) {
		web_page_message(r, 404, WW_NOT_FOUND, NULL);
		return;
	}
	r->cfg->sync_now(r->cfg->sync_now_ctx);
	redirect(r, "/?sync=1");
}

/* Routes a request whose Host, session and (for a POST) Origin and token have been checked. */
static void route(struct web_req *r)
{
	const char *path = r->http->path, *method = r->http->method;
	bool post = strcmp(method, "POST") == 0;

	if (!post && strcmp(path, "/") == 0)
		web_page_home(r);
	else if (!post && strncmp(path, "/record/", 8) == 0)
		web_page_record(r, path + 8);
	else if (strncmp(path, "/new/", 5) == 0 && post)
		web_post_new(r, path + 5);
	else if (strncmp(path, "/new/", 5) == 0)
		web_page_new(r, path + 5);
	else if (strncmp(path, "/edit/", 6) == 0 && post)
		web_post_edit(r, path + 6);
	else if (strncmp(path, "/edit/", 6) == 0)
		web_page_edit(r, path + 6);
	else if (post && strcmp(path, "/lang") == 0)
		post_lang(r);
	else if (post && strcmp(path, "/sync") == 0)
		post_sync(r);
	else
		web_page_message(r, 404, WW_NOT_FOUND, NULL);
}

static void refuse(struct web_req *r, const char *host, enum web_word why)
{
	web_page_message(r, 403, WW_REFUSED_TITLE, web_word(why, r->lang));
	if (r->cfg->log_requests)
		log_line("refused %s %s from %s (Host %s): %s", r->http->method, r->http->path, r->http->peer_addr,
		         host, web_word(why, "en"));
}

/* Everything after the Host check; called with w->lock held. */
static void handle_locked(struct web *w, const char *host, const struct kr_http_request *req,
                          struct kr_http_response *resp, struct web_req *r)
{
	struct kr_error err = {0};
	bool post = strcmp(req->method, "POST") == 0;
	char name[48], cookie[WEB_SESSION_ID_LEN + 8];
	uint64_t now = kr_now_ms();

	cookie_name(w, name);
	if (web_cookie_get(kr_http_request_header(req, "Cookie"), name, cookie, sizeof cookie))
		r->sess = web_session_find(&w->sessions, cookie, now);
	if (r->sess)
		r->lang = r->sess->lang;
	if (post) {
		const char *token;
		if (!r->sess) {
			refuse(r, host, WW_REFUSED_SESSION);
			return;
		}
		if (!origin_allowed(req, host)) {
			refuse(r, host, WW_REFUSED_ORIGIN);
			return;
		}
		if (strncasecmp(req->content_type, FORM_TYPE, strlen(FORM_TYPE)) != 0) {
			kr_http_response_text(resp, 415, "a form must be sent as %s\n", FORM_TYPE);
			return;
		}
		if (web_form_parse((const char *)req->body, req->body_len, &r->form, &r->arena, &err)) {
			kr_http_response_text(resp, 400, "the form could not be read: %s\n", err.msg);
			return;
		}
		token = web_form_get(&r->form, "csrf");
		if (!token || !web_token_equal(token, r->sess->token)) {
			refuse(r, host, WW_REFUSED_TOKEN);
			return;
		}
	} else if (!r->sess) {
		if (web_session_new(&w->sessions, w->cfg.lang, now, &r->sess, &err)) {
			kr_http_response_text(resp, 500, "cannot start a session: %s\n", err.msg);
			return;
		}
		r->lang = r->sess->lang;
		set_cookie(r);
	}
	if (web_form_parse(req->query, strlen(req->query), &r->query, &r->arena, &err)) {
		kr_http_response_text(resp, 400, "the address could not be read: %s\n", err.msg);
		return;
	}
	route(r);
	if (post && w->cfg.log_requests)
		log_line("%s %s from %s: %d", req->method, req->path, req->peer_addr, resp->status);
}

static void handle(void *ctx, const struct kr_http_request *req, struct kr_http_response *resp)
{
	struct web *w = ctx;
	struct web_req r;
	const char *host, *method = req->method;

	security_headers(resp);
	pthread_mutex_lock(&w->lock);
	if (!(host = host_allowed(w, req))) {
		const char *h = kr_http_request_header(req, "Host");
		kr_http_response_text(resp, 403,
		                      "refused: this is the kiroku agent's local form; open it as http://127.0.0.1:%u/ "
		                      "(the Host header named another server)\n",
		                      w->port);
		if (w->cfg.log_requests)
			log_line("refused %s %s from %s: foreign Host \"%.80s\"", method, req->path, req->peer_addr,
			         h ? h : "(none)");
		pthread_mutex_unlock(&w->lock);
		return;
	}
	if (strcmp(method, "POST") != 0 && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		kr_http_response_text(resp, 405, "use GET or POST\n");
		kr_http_response_header(resp, "Allow", "GET, HEAD, POST");
	} else if (strcmp(method, "POST") != 0 && strcmp(req->path, "/static/style.css") == 0) {
		resp->status = 200;
		snprintf(resp->content_type, sizeof resp->content_type, "text/css; charset=utf-8");
		kr_buf_append(&resp->body, web_style_css, strlen(web_style_css));
	} else if (strcmp(method, "POST") != 0 && strcmp(req->path, "/favicon.ico") == 0) {
		resp->status = 204;
	} else {
		memset(&r, 0, sizeof r);
		r.w = w;
		r.st = w->st;
		r.cfg = &w->cfg;
		r.http = req;
		r.resp = resp;
		r.lang = w->cfg.lang;
		kr_arena_init(&r.arena, WEB_ARENA_MAX);
		handle_locked(w, host, req, resp, &r);
		if (r.fail) {
			log_line("%s %s: writing the page failed: %s", method, req->path, kr_status_name(r.fail));
			kr_http_response_text(resp, 500, "the page could not be written (%s)\n",
			                      kr_status_name(r.fail));
		}
		kr_arena_release(&r.arena);
	}
	pthread_mutex_unlock(&w->lock);
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

kr_status web_start(const struct web_config *cfg, struct web **out, struct kr_error *err)
{
	struct kr_httpd_config hc = {0};
	struct web *w;
	kr_status s;

	*out = NULL;
	if (!(w = calloc(1, sizeof *w)))
		return kr_fail(err, KR_ERR_NOMEM, "out of memory starting the web form");
	w->cfg = *cfg;
	w->store_path = dup_or_empty(cfg->store_path);
	w->lang = dup_or_empty(cfg->lang && strcmp(cfg->lang, "en") == 0 ? "en" : "ja");
	w->hub_url = dup_or_empty(cfg->hub_url);
	w->host = dup_or_empty(cfg->host && *cfg->host ? cfg->host : "127.0.0.1");
	if (!w->store_path || !w->lang || !w->hub_url || !w->host) {
		s = kr_fail(err, KR_ERR_NOMEM, "out of memory starting the web form");
		goto fail;
	}
	w->cfg.store_path = w->store_path;
	w->cfg.lang = w->lang;
	w->cfg.hub_url = w->hub_url;
	w->cfg.host = w->host;
	pthread_mutex_init(&w->lock, NULL);
	if ((s = kr_store_open(w->store_path, &w->st, err)))
		goto fail_lock;
	/* Requests wait until the Host names below are known. */
	pthread_mutex_lock(&w->lock);
	hc.host = w->host;
	hc.port = cfg->port;
	hc.plain = true;
	hc.workers = 4;
	hc.queue_len = 32;
	hc.max_body = WEB_MAX_BODY;
	hc.max_response = 16u << 20;
	hc.handler = handle;
	hc.handler_ctx = w;
	if ((s = kr_httpd_start(&hc, &w->srv, err))) {
		pthread_mutex_unlock(&w->lock);
		goto fail_store;
	}
	w->port = kr_httpd_port(w->srv);
	{
		const char *names[WEB_HOSTS] = {"127.0.0.1", "localhost", "[::1]", w->host};
		bool v6 = strchr(w->host, ':') != NULL;
		for (size_t i = 0; i < WEB_HOSTS; i++) {
			if (i == 3 && (strcmp(w->host, "127.0.0.1") == 0 || v6))
				continue; /* already listed, or an IPv6 literal (only [::1] is allowed) */
			if (w->port == 80)
				snprintf(w->hosts[w->nhosts++], sizeof w->hosts[0], "%s", names[i]);
			else
				snprintf(w->hosts[w->nhosts++], sizeof w->hosts[0], "%s:%u", names[i], w->port);
		}
	}
	pthread_mutex_unlock(&w->lock);
	*out = w;
	return KR_OK;
fail_store:
	kr_store_close(w->st);
fail_lock:
	pthread_mutex_destroy(&w->lock);
fail:
	free(w->store_path);
	free(w->lang);
	free(w->hub_url);
	free(w->host);
	free(w);
	return s;
}

unsigned short web_port(const struct web *w)
{
	return w->port;
}

void web_free(struct web *w)
{
	if (!w)
		return;
	kr_httpd_free(w->srv);
	kr_store_close(w->st);
	pthread_mutex_destroy(&w->lock);
	memset(&w->sessions, 0, sizeof w->sessions);
	free(w->store_path);
	free(w->lang);
	free(w->hub_url);
	free(w->host);
	free(w);
}
