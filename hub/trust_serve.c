/* trust_serve.c: the trust half of `kiroku-hub serve` (trust_serve.h): the peer check at the TLS handshake,
 * the gate in front of every route, /v1/ca, /v1/enroll, /v1/renew, rate limiting, revocation and contact. */
#include "trust_serve.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "kiroku/enroll.h"
#include "kiroku/keyfile.h"
#include "kiroku/trust.h"

#define CERT_DAYS        365       /* node certificates; agents renew in the last 30 days */
#define RL_ADDR_BURST    10.0      /* failed enrolment attempts an address may make at once ... */
#define RL_ADDR_RATE     (1.0 / 6) /* ... and then one every 6 s */
#define RL_GLOBAL_BURST  100.0     /* the same for all addresses together */
#define RL_GLOBAL_RATE   2.0
#define CONTACT_EVERY_MS 60000
#define POLL_EVERY_MS    500
#define CA_MAX           16384
#define OUTBOX_HEADER    "Kiroku-Outbox"
#define PEM_TYPE         "application/x-pem-file"

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
	fprintf(stderr, "%s ", stamp);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
	va_end(ap);
}

static void close_store(void *p)
{
	kr_store_close(p);
}

/* This thread's own store connection (readers in parallel; writes take t->write_lock). */
static struct kr_store *trust_store(struct hub_trust *t, struct kr_error *err)
{
	struct kr_store *st = pthread_getspecific(t->store_key);
	if (!st) {
		if (kr_store_open(t->store_path, &st, err))
			return NULL;
		pthread_setspecific(t->store_key, st);
	}
	return st;
}

kr_status hub_trust_init(struct hub_trust *t, struct hub *h, const char *store_path, pthread_mutex_t *write_lock,
                         struct kr_error *err)
{
	const char *data_dir = kr_config_get(&h->cfg, "data_dir");
	const char *keys[] = {kr_config_get(&h->cfg, "key_file"), kr_config_get(&h->cfg, "ca_key_file")};
	char pseudonym_key[4096];
	kr_status s;

	memset(t, 0, sizeof *t);
	if ((s = kr_datadir_check(data_dir, err)))
		return s == KR_ERR_NOT_FOUND ? KR_ERR_CONFIG : s;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if ((s = kr_keyfile_check(keys[i], err)) && s != KR_ERR_NOT_FOUND)
			return s;
	/* The report's pseudonymisation key is a secret too. */
	snprintf(pseudonym_key, sizeof pseudonym_key, "%s/pseudonym.key", data_dir);
	if ((s = kr_keyfile_check(pseudonym_key, err)) && s != KR_ERR_NOT_FOUND)
		return s;
	t->h = h;
	t->store_path = store_path;
	t->ca_dir = data_dir;
	t->ca_file = kr_config_get(&h->cfg, "ca_file");
	t->write_lock = write_lock;
	t->cert_days = CERT_DAYS;
	t->global.tokens = RL_GLOBAL_BURST;
	pthread_mutex_init(&t->lock, NULL);
	pthread_key_create(&t->store_key, close_store);
	t->key_created = true;
	return KR_OK;
}

void hub_trust_release(struct hub_trust *t)
{
	if (!t->key_created)
		return;
	/* The main thread's connection (used by hub_trust_tick): key destructors do not run for it. */
	kr_store_close(pthread_getspecific(t->store_key));
	pthread_setspecific(t->store_key, NULL);
	pthread_key_delete(t->store_key);
	pthread_mutex_destroy(&t->lock);
	t->key_created = false;
}

kr_status hub_trust_peer_check(void *ctx, const struct kr_cert_info *peer, struct kr_error *err)
{
	struct hub_trust *t = ctx;
	struct kr_store *st = trust_store(t, err);

	if (!st) /* fail closed */
		return KR_ERR_STORE;
	if (!peer) {
		if (kr_trust_enrolment_open(st, (int64_t)kr_now_ms()))
			return KR_OK;
		return kr_fail(err, KR_ERR_FORBIDDEN, "no client certificate, and no enrolment token is open");
	}
	return kr_trust_check_peer(st, peer, err);
}

/* "127.0.0.1:40312" -> "127.0.0.1"; "[::1]:40312" -> "::1". */
static void addr_host(const char *addr, char *out, size_t n)
{
	const char *colon = strrchr(addr, ':');
	size_t len = colon ? (size_t)(colon - addr) : strlen(addr);

	if (len >= 2 && addr[0] == '[' && addr[len - 1] == ']') {
		addr++;
		len -= 2;
	}
	if (len >= n)
		len = n - 1;
	memcpy(out, addr, len);
	out[len] = 0;
}

static void refill(struct trust_bucket *b, double burst, double rate, int64_t now)
{
	if (b->at_ms) {
		b->tokens += (double)(now - b->at_ms) / 1000.0 * rate;
		if (b->tokens > burst)
			b->tokens = burst;
	}
	b->at_ms = now;
}

/* The address's bucket (a free or the stalest slot when it has none). Under t->lock. */
static struct trust_bucket *bucket_of(struct hub_trust *t, const char *host, int64_t now)
{
	struct trust_bucket *oldest = &t->buckets[0];

	for (size_t i = 0; i < TRUST_RL_SLOTS; i++) {
		struct trust_bucket *b = &t->buckets[i];
		if (strcmp(b->addr, host) == 0)
			return b;
		if (!b->addr[0] || b->at_ms < oldest->at_ms)
			oldest = b;
	}
	snprintf(oldest->addr, sizeof oldest->addr, "%s", host);
	oldest->tokens = RL_ADDR_BURST;
	oldest->at_ms = now;
	return oldest;
}

/* Whether host may make an enrolment attempt now; *retry_after gets the seconds to wait when not. */
static bool rl_allow(struct hub_trust *t, const char *host, int *retry_after)
{
	int64_t now = (int64_t)kr_now_ms();
	struct trust_bucket *b;
	bool ok;

	pthread_mutex_lock(&t->lock);
	b = bucket_of(t, host, now);
	refill(b, RL_ADDR_BURST, RL_ADDR_RATE, now);
	refill(&t->global, RL_GLOBAL_BURST, RL_GLOBAL_RATE, now);
	ok = b->tokens >= 1.0 && t->global.tokens >= 1.0;
	if (!ok) {
		double need =
		    b->tokens < 1.0 ? (1.0 - b->tokens) / RL_ADDR_RATE : (1.0 - t->global.tokens) / RL_GLOBAL_RATE;
		*retry_after = (int)need + 1;
	}
	pthread_mutex_unlock(&t->lock);
	return ok;
}

/* A failed attempt costs host one token (successful ones cost nothing). */
static void rl_charge(struct hub_trust *t, const char *host)
{
	int64_t now = (int64_t)kr_now_ms();
	struct trust_bucket *b;

	pthread_mutex_lock(&t->lock);
	b = bucket_of(t, host, now);
	refill(b, RL_ADDR_BURST, RL_ADDR_RATE, now);
	refill(&t->global, RL_GLOBAL_BURST, RL_GLOBAL_RATE, now);
	b->tokens -= 1.0;
	t->global.tokens -= 1.0;
	pthread_mutex_unlock(&t->lock);
}

static int status_of(kr_status s)
{
	switch (s) {
	case KR_OK:
		return 200;
	case KR_ERR_FORBIDDEN:
		return 403;
	case KR_ERR_CONFLICT:
		return 409;
	case KR_ERR_MALFORMED:
	case KR_ERR_INVALID:
		return 400;
	case KR_ERR_TOO_BIG:
		return 413;
	case KR_ERR_CONFIG:
	case KR_ERR_BUSY:
	case KR_ERR_IO:
	case KR_ERR_STORE:
		return 503;
	default:
		return 500;
	}
}

/* GET /v1/ca: the CA certificate (public), so that an enrolling agent can check it against its token. */
static void serve_ca(struct hub_trust *t, const struct kr_http_request *req, struct kr_http_response *resp)
{
	FILE *f;
	char buf[CA_MAX];
	size_t n;

	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
		kr_http_response_text(resp, 405, "use GET for %s\n", KR_CA_PATH);
		return;
	}
	f = fopen(t->ca_file, "rb");
	if (!f) {
		kr_http_response_text(resp, 503, "the hub cannot read its CA certificate: %s\n", strerror(errno));
		return;
	}
	n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	if (n == 0 || n == sizeof buf) {
		kr_http_response_text(resp, 503, "the hub's CA certificate file is empty or too large\n");
		return;
	}
	resp->status = 200;
	snprintf(resp->content_type, sizeof resp->content_type, PEM_TYPE);
	if (kr_buf_append(&resp->body, buf, n))
		kr_http_response_text(resp, 500, "no room for the CA certificate\n");
}

static void serve_enroll(struct hub_trust *t, const struct kr_http_request *req, struct kr_http_response *resp)
{
	struct kr_enroll_request er = {0};
	struct kr_enroll_outcome out = {0};
	struct kr_error err = {0};
	struct kr_store *st;
	char host[64], retry[16];
	int retry_after = 1;
	kr_status s;

	addr_host(req->peer_addr, host, sizeof host);
	if (!rl_allow(t, host, &retry_after)) {
		snprintf(retry, sizeof retry, "%d", retry_after);
		kr_http_response_text(resp, 429, "too many failed enrolment attempts from %s; wait %d s\n", host,
		                      retry_after);
		kr_http_response_header(resp, "Retry-After", retry);
		log_line("enrol addr=%s status=429 reason=rate limited (retry after %d s)", req->peer_addr,
		         retry_after);
		return;
	}
	if (strcmp(req->method, "POST") != 0) {
		s = kr_fail(&err, KR_ERR_INVALID, "use POST for %s", KR_ENROLL_PATH);
		resp->status = 405;
	} else if (strncmp(req->content_type, "application/cbor", 16) != 0) {
		s = kr_fail(&err, KR_ERR_INVALID, "the body must be application/cbor");
		resp->status = 415;
	} else if ((s = kr_enroll_request_decode(req->body, req->body_len, &er, &err)) == KR_OK) {
		if (!(st = trust_store(t, &err))) {
			s = KR_ERR_STORE;
		} else {
			pthread_mutex_lock(t->write_lock);
			s = kr_trust_enroll(st, t->ca_dir, &er, req->peer_addr, t->cert_days, &resp->body, &out, &err);
			pthread_mutex_unlock(t->write_lock);
		}
	}
	if (s == KR_OK) {
		resp->status = 200;
		snprintf(resp->content_type, sizeof resp->content_type, PEM_TYPE);
		log_line("enrol node=%s facility=%s addr=%s status=200 serial=%s%s", out.node, out.facility,
		         req->peer_addr, out.serial, out.repeated ? " repeated=1" : "");
		return;
	}
	rl_charge(t, host);
	if (!resp->status)
		resp->status = status_of(s);
	kr_http_response_text(resp, resp->status, "%s\n", err.msg);
	log_line("enrol node=%s addr=%s status=%d reason=%s", s == KR_ERR_MALFORMED ? "?" : er.node, req->peer_addr,
	         resp->status, err.msg);
}

static void serve_renew(struct hub_trust *t, const struct kr_http_request *req, struct kr_http_response *resp)
{
	struct kr_enroll_outcome out = {0};
	struct kr_error err = {0};
	struct kr_store *st;
	kr_status s;

	if (strcmp(req->method, "POST") != 0) {
		kr_http_response_text(resp, 405, "use POST for %s\n", KR_RENEW_PATH);
		return;
	}
	if (strncmp(req->content_type, "application/pkcs10", 18) != 0) {
		kr_http_response_text(resp, 415, "the body must be application/pkcs10 (a certificate request)\n");
		return;
	}
	if (!(st = trust_store(t, &err))) {
		s = KR_ERR_STORE;
	} else {
		pthread_mutex_lock(t->write_lock);
		s = kr_trust_renew(st, t->ca_dir, req->peer, req->body, req->body_len, req->peer_addr, t->cert_days,
		                   &resp->body, &out, &err);
		pthread_mutex_unlock(t->write_lock);
	}
	if (s == KR_OK) {
		resp->status = 200;
		snprintf(resp->content_type, sizeof resp->content_type, PEM_TYPE);
		log_line("renew node=%s facility=%s addr=%s status=200 serial=%s previous=%s", out.node, out.facility,
		         req->peer_addr, out.serial, req->peer_serial);
		return;
	}
	kr_http_response_text(resp, status_of(s), "%s\n", err.msg);
	log_line("renew node=%s addr=%s status=%d reason=%s", req->peer_node, req->peer_addr, resp->status, err.msg);
}

bool hub_trust_handle(struct hub_trust *t, const struct kr_http_request *req, struct kr_http_response *resp)
{
	struct kr_error err = {0};
	struct kr_store *st;
	kr_status s;

	if (!req->peer_verified)
		resp->close = true; /* one request per connection without a certificate */
	if (strcmp(req->path, KR_ENROLL_PATH) == 0) {
		serve_enroll(t, req, resp);
		return true;
	}
	if (strcmp(req->path, KR_CA_PATH) == 0) {
		serve_ca(t, req, resp);
		return true;
	}
	if (!req->peer_verified) {
		kr_http_response_text(resp, 401,
		                      "%s needs a client certificate issued by this hub's CA; only %s and %s are open "
		                      "without one (enrol with: kiroku-agent enroll TOKEN)\n",
		                      req->path, KR_CA_PATH, KR_ENROLL_PATH);
		log_line("%s %s addr=%s status=401 reason=no client certificate", req->method, req->path,
		         req->peer_addr);
		return true;
	}
	/* Revocation takes effect on every request too, not only at the next handshake. */
	if (!(st = trust_store(t, &err)) || (s = kr_trust_check_peer(st, req->peer, &err)) != KR_OK) {
		kr_http_response_text(resp, st ? 403 : 503, "%s\n", err.msg);
		resp->close = true;
		log_line("%s %s node=%s addr=%s status=%d reason=%s", req->method, req->path, req->peer_node,
		         req->peer_addr, resp->status, err.msg);
		return true;
	}
	if (strcmp(req->path, KR_RENEW_PATH) == 0) {
		serve_renew(t, req, resp);
		return true;
	}
	return false;
}

void hub_trust_after_sync(struct hub_trust *t, const struct kr_http_request *req, int status)
{
	const char *h = kr_http_request_header(req, OUTBOX_HEADER);
	int64_t now = (int64_t)kr_now_ms(), pending = -1;
	struct trust_contact *slot = NULL, *oldest = &t->contacts[0];
	struct kr_error err = {0};
	struct kr_store *st;
	bool write;

	if (status != 200 || !req->peer)
		return;
	if (h && *h) {
		char *end;
		long long v = strtoll(h, &end, 10);
		if (*end == 0 && v >= 0)
			pending = v;
	}
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < TRUST_CONTACT_SLOTS && !slot; i++) {
		if (strcmp(t->contacts[i].node, req->peer_node) == 0)
			slot = &t->contacts[i];
		else if (!t->contacts[i].node[0] || t->contacts[i].at_ms < oldest->at_ms)
			oldest = &t->contacts[i];
	}
	if (!slot) {
		slot = oldest;
		snprintf(slot->node, sizeof slot->node, "%s", req->peer_node);
		slot->at_ms = 0;
		slot->pending = -2;
	}
	write = now - slot->at_ms >= CONTACT_EVERY_MS || slot->pending != pending;
	if (write) {
		slot->at_ms = now;
		slot->pending = pending;
	}
	pthread_mutex_unlock(&t->lock);
	if (!write || !(st = trust_store(t, &err)))
		return;
	pthread_mutex_lock(t->write_lock);
	if (kr_trust_contact(st, req->peer, pending, &err))
		log_line("recording the contact of node %s failed: %s", req->peer_node, err.msg);
	pthread_mutex_unlock(t->write_lock);
}

static void close_revoked(void *ctx, const char *node)
{
	struct hub_trust *t = ctx;
	unsigned n = kr_httpd_close_peer(t->srv, node, "the node was revoked");

	if (n)
		log_line("revocation: closing %u open connection%s of node %s", n, n == 1 ? "" : "s", node);
}

void hub_trust_tick(struct hub_trust *t, struct kr_httpd *srv)
{
	int64_t now = (int64_t)kr_now_ms();
	struct kr_error err = {0};
	struct kr_store *st;
	uint64_t stamp;

	t->srv = srv;
	if (now < t->next_poll_ms)
		return;
	t->next_poll_ms = now + POLL_EVERY_MS;
	if (!(st = trust_store(t, &err)))
		return;
	stamp = kr_trust_revocation_stamp(st);
	if (stamp == 0 || stamp == t->revocation_stamp)
		return;
	t->revocation_stamp = stamp;
	if (kr_trust_revoked_nodes(st, close_revoked, t, &err))
		log_line("reading the revoked nodes failed: %s", err.msg);
}
