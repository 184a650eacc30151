/* cmd_serve.c: kiroku-hub serve (the HTTPS listener: /v1/sync, /v1/health, /v1/metrics), ca init and
 * cert issue. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "hub.h"
#include "notify.h"
#include "kiroku/checkpoint.h"
#include "kiroku/httpd.h"
#include "kiroku/sync.h"
#include "kiroku/tls.h"
#include "trust_serve.h"

/* ---- metrics (Prometheus text format) ---- */

static const int tracked_status[] = {200, 400, 403, 404, 405, 409, 413, 415, 500, 503};
#define NSTATUS (sizeof tracked_status / sizeof tracked_status[0])
static const double latency_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
#define NBOUNDS (sizeof latency_bounds / sizeof latency_bounds[0])

struct metrics {
	atomic_ullong requests[NSTATUS + 1]; /* last: any other status */
	atomic_ullong changes_merged, changes_sent, conflicts_opened;
	atomic_ullong merge_buckets[NBOUNDS + 1];
	atomic_ullong merge_count, merge_micros;
};

struct serve {
	struct hub *h;
	const char *store_path;
	pthread_mutex_t write_lock;
	pthread_key_t store_key;
	struct metrics m;
	unsigned sleep_after_commit_ms; /* test hook */
	unsigned sleep_before_commit_ms; /* test hook */
	struct hub_trust trust; /* trust_serve.c: who may connect, enrolment, revocation */
	struct kr_checkpointer *ckpt; /* WAL checkpoints off the commits of the stores opened from here on */
	_Atomic(struct kr_httpd *) srv; /* set once the server runs (the metrics read its counters) */
	/* The TLS files in use, for SIGHUP: cert_file and key_file may name new paths, ca_file is read again. */
	char crt_path[PATH_MAX], key_path[PATH_MAX];
	char serial[KR_SERIAL_HEX_MAX + 1]; /* of the certificate new connections get */
	long long timeout_s;                /* the timeout option in use */
};

#define TURNED_AWAY_EVERY_S 10 /* the summary of connections turned away: at most one line per 10 s */

static volatile sig_atomic_t stop_requested, reload_requested;

static void on_stop(int sig) { (void)sig; stop_requested = 1; }
static void on_hup(int sig) { (void)sig; reload_requested = 1; }

static void close_thread_store(void *p) { kr_store_close(p); }

/* Each connection thread keeps its own store connection: readers work in parallel, the merge takes the
 * write lock so one writer works at a time. */
static struct kr_store *thread_store(struct serve *sv, struct kr_error *err)
{
	struct kr_store *st = pthread_getspecific(sv->store_key);
	if (!st) {
		if (kr_store_open(sv->store_path, &st, err))
			return NULL;
		pthread_setspecific(sv->store_key, st);
	}
	return st;
}

static void lock(void *ctx) { pthread_mutex_lock(&((struct serve *)ctx)->write_lock); }
static void unlock(void *ctx) { pthread_mutex_unlock(&((struct serve *)ctx)->write_lock); }

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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

static void count_status(struct metrics *m, int status)
{
	size_t i;
	for (i = 0; i < NSTATUS && tracked_status[i] != status; i++)
		;
	atomic_fetch_add(&m->requests[i], 1);
}

static void serve_sync(struct serve *sv, const struct kr_http_request *req, struct kr_http_response *resp)
{
	struct kr_sync_answer ans;
	struct kr_error err = {0};
	struct kr_sync_hooks hooks = {lock, unlock, sv, sv->sleep_after_commit_ms, sv->sleep_before_commit_ms};
	struct kr_store *st;
	double t0 = mono_s(), dt;

	if (strcmp(req->method, "POST") != 0) {
		kr_http_response_text(resp, 405, "use POST for %s\n", KR_SYNC_PATH);
		return;
	}
	if (strncmp(req->content_type, KR_SYNC_CONTENT_TYPE, strlen(KR_SYNC_CONTENT_TYPE)) != 0) {
		kr_http_response_text(resp, 415, "the body must be %s\n", KR_SYNC_CONTENT_TYPE);
		return;
	}
	if (!(st = thread_store(sv, &err))) {
		kr_http_response_text(resp, 503, "the hub cannot open its store: %s\n", err.msg);
		kr_http_response_header(resp, "Retry-After", "30");
		return;
	}
	kr_sync_serve(st, req->peer_node, req->peer_facility, req->body, req->body_len, &hooks, &resp->body, &ans);
	hub_trust_after_sync(&sv->trust, req, ans.status);
	resp->status = ans.status;
	if (ans.status == 200) {
		snprintf(resp->content_type, sizeof resp->content_type, "%s", KR_SYNC_CONTENT_TYPE);
	} else {
		snprintf(resp->content_type, sizeof resp->content_type, "text/plain; charset=utf-8");
		if (ans.status == 409) {
			char v[32];
			snprintf(v, sizeof v, "%" PRIu64, ans.expected);
			kr_http_response_header(resp, "Kiroku-Expected-Seq", v);
		}
		if (ans.status == 503)
			kr_http_response_header(resp, "Retry-After", "30");
	}
	dt = mono_s() - t0;
	atomic_fetch_add(&sv->m.changes_merged, ans.merged.applied);
	atomic_fetch_add(&sv->m.changes_sent, ans.changes_out);
	atomic_fetch_add(&sv->m.conflicts_opened, ans.merged.conflicts);
	size_t b;
	for (b = 0; b < NBOUNDS && dt > latency_bounds[b]; b++)
		;
	atomic_fetch_add(&sv->m.merge_buckets[b], 1);
	atomic_fetch_add(&sv->m.merge_count, 1);
	atomic_fetch_add(&sv->m.merge_micros, (unsigned long long)(dt * 1e6));
	if (ans.status == 200 && ans.merged.applied &&
	    (ans.merged.skew_ms > 5 * 60000 || ans.merged.skew_ms < -5 * 60000))
		log_line("clock: node %s runs %.1f hours %s of the hub's clock (its changes are ordered by hybrid logical "
			 "clock all the same; set its clock right)",
			 req->peer_node, (double)(ans.merged.skew_ms < 0 ? -ans.merged.skew_ms : ans.merged.skew_ms) / 3600000.0,
			 ans.merged.skew_ms < 0 ? "behind" : "ahead");
	log_line("sync node=%s facility=%s addr=%s status=%d in=%zu skipped=%zu conflicts=%zu out=%zu ms=%.1f%s%.*s",
		 req->peer_node, req->peer_facility, req->peer_addr, ans.status, ans.merged.applied, ans.merged.skipped,
		 ans.merged.conflicts, ans.changes_out, dt * 1000, ans.status == 200 ? "" : " reason=",
		 ans.status == 200 ? 0 : (int)(resp->body.len ? resp->body.len - 1 : 0), (const char *)resp->body.data);
}

static void serve_metrics(struct serve *sv, struct kr_http_response *resp)
{
	struct kr_buf *b = &resp->body;
	struct kr_error err = {0};
	struct kr_store *st = thread_store(sv, &err);
	unsigned long long cum = 0, nodes = 0;

	resp->status = 200;
	snprintf(resp->content_type, sizeof resp->content_type, "text/plain; version=0.0.4; charset=utf-8");
	kr_buf_printf(b, "# HELP kiroku_requests_total Sync requests answered, by HTTP status.\n"
			 "# TYPE kiroku_requests_total counter\n");
	for (size_t i = 0; i < NSTATUS; i++)
		kr_buf_printf(b, "kiroku_requests_total{status=\"%d\"} %llu\n", tracked_status[i],
			      (unsigned long long)atomic_load(&sv->m.requests[i]));
	kr_buf_printf(b, "kiroku_requests_total{status=\"other\"} %llu\n",
		      (unsigned long long)atomic_load(&sv->m.requests[NSTATUS]));
	kr_buf_printf(b,
		      "# HELP kiroku_changes_merged_total Changes from nodes merged into the hub.\n"
		      "# TYPE kiroku_changes_merged_total counter\nkiroku_changes_merged_total %llu\n"
		      "# HELP kiroku_changes_sent_total Changes sent to nodes in sync answers.\n"
		      "# TYPE kiroku_changes_sent_total counter\nkiroku_changes_sent_total %llu\n"
		      "# HELP kiroku_conflicts_opened_total Conflict entries opened by merges.\n"
		      "# TYPE kiroku_conflicts_opened_total counter\nkiroku_conflicts_opened_total %llu\n"
		      "# HELP kiroku_sync_duration_seconds Time to merge a sync request and build its answer.\n"
		      "# TYPE kiroku_sync_duration_seconds histogram\n",
		      (unsigned long long)atomic_load(&sv->m.changes_merged),
		      (unsigned long long)atomic_load(&sv->m.changes_sent),
		      (unsigned long long)atomic_load(&sv->m.conflicts_opened));
	for (size_t i = 0; i <= NBOUNDS; i++) {
		cum += atomic_load(&sv->m.merge_buckets[i]);
		if (i < NBOUNDS)
			kr_buf_printf(b, "kiroku_sync_duration_seconds_bucket{le=\"%g\"} %llu\n", latency_bounds[i], cum);
		else
			kr_buf_printf(b, "kiroku_sync_duration_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
	}
	kr_buf_printf(b, "kiroku_sync_duration_seconds_sum %.6f\nkiroku_sync_duration_seconds_count %llu\n",
		      (double)atomic_load(&sv->m.merge_micros) / 1e6, (unsigned long long)atomic_load(&sv->m.merge_count));
	if (st) {
		sqlite3_stmt *q;
		if (sqlite3_prepare_v2(kr_store_db(st), "SELECT count(*) FROM nodes WHERE last_seen_ms >= ?1", -1, &q,
				       NULL) == SQLITE_OK) {
			sqlite3_bind_int64(q, 1, (sqlite3_int64)(kr_now_ms() - 15 * 60 * 1000));
			if (sqlite3_step(q) == SQLITE_ROW)
				nodes = (unsigned long long)sqlite3_column_int64(q, 0);
			sqlite3_finalize(q);
		}
	}
	struct kr_httpd *srv = atomic_load(&sv->srv);
	if (srv) {
		struct kr_httpd_stats hs;
		kr_httpd_stats(srv, &hs);
		kr_buf_printf(b,
			      "# HELP kiroku_connections_turned_away_total Connections closed before their TLS handshake "
			      "because the hub was busy: the queue was full, or they waited in it over 1 s.\n"
			      "# TYPE kiroku_connections_turned_away_total counter\n"
			      "kiroku_connections_turned_away_total{reason=\"queue_full\"} %llu\n"
			      "kiroku_connections_turned_away_total{reason=\"queue_wait\"} %llu\n"
			      "# HELP kiroku_requests_refused_too_big_total Requests answered 413 (body over the cap) "
			      "without reaching the hub's handlers.\n"
			      "# TYPE kiroku_requests_refused_too_big_total counter\n"
			      "kiroku_requests_refused_too_big_total %llu\n",
			      hs.rejected_full, hs.rejected_waited, hs.refused_too_big);
	}
	kr_buf_printf(b,
		      "# HELP kiroku_connected_nodes Nodes that synced in the last 15 minutes.\n"
		      "# TYPE kiroku_connected_nodes gauge\nkiroku_connected_nodes %llu\n",
		      nodes);
}

static void handle(void *ctx, const struct kr_http_request *req, struct kr_http_response *resp)
{
	struct serve *sv = ctx;

	/* Clients without a certificate, revoked peers, /v1/enroll, /v1/renew, /v1/ca. */
	if (hub_trust_handle(&sv->trust, req, resp)) {
		count_status(&sv->m, resp->status);
		return;
	}
	if (strcmp(req->path, KR_SYNC_PATH) == 0) {
		serve_sync(sv, req, resp);
	} else if (strcmp(req->path, "/v1/health") == 0) {
		struct kr_error err = {0};
		struct kr_store *st = thread_store(sv, &err);
		if (st)
			kr_http_response_text(resp, 200, "ok\n");
		else
			kr_http_response_text(resp, 503, "store unavailable: %s\n", err.msg);
	} else if (strcmp(req->path, "/v1/metrics") == 0) {
		serve_metrics(sv, resp);
	} else {
		kr_http_response_text(resp, 404, "no such resource: %s (try %s)\n", req->path, KR_SYNC_PATH);
	}
	if (strcmp(req->path, KR_SYNC_PATH) != 0 && resp->status != 200)
		log_line("%s %s node=%s addr=%s status=%d", req->method, req->path, req->peer_node, req->peer_addr,
			 resp->status);
	count_status(&sv->m, resp->status);
}

static int split_listen(const char *listen, char *host, size_t hostsz, unsigned short *port)
{
	const char *colon = strrchr(listen, ':');
	char *end;
	long p;

	if (!colon || (size_t)(colon - listen) >= hostsz)
		return -1;
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = 0;
	p = strtol(colon + 1, &end, 10);
	if (*end || p < 0 || p > 65535)
		return -1;
	*port = (unsigned short)p;
	return 0;
}

static void format_utc(int64_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm))
		strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		snprintf(out, n, "?");
}

/* Options serve uses only at start: a new value in the file needs a restart. (hub_url and lang are read by the
 * commands that use them, not by serve; cert_file, key_file and timeout are taken on SIGHUP.) */
static const char *const restart_options[] = {"data_dir", "node", "listen", "ca_file", "ca_key_file", "threads"};

/* SIGHUP, from the main loop: reads the configuration file again and takes what can change at run time (the
 * timeout; the certificate and key paths), then loads the CA, certificate and key again for new connections.
 * Whatever fails leaves what runs as it was, with one log line saying why. */
static void reload(struct serve *sv, struct kr_httpd *srv)
{
	struct hub *h = sv->h;
	struct kr_config nc;
	struct kr_error err = {0};
	struct kr_cert_info ci;
	const char *crt = sv->crt_path, *key = sv->key_path;
	char restart[256] = "", until[32];
	bool have_cfg;

	have_cfg = kr_config_reread(&h->cfg, &nc, &err) == KR_OK;
	if (!have_cfg) {
		log_line("reload: configuration not read again, the options stay as they were: %s", err.msg);
	} else {
		size_t used = 0;
		for (size_t i = 0; i < sizeof restart_options / sizeof restart_options[0]; i++) {
			const char *name = restart_options[i];
			if (strcmp(kr_config_get(&h->cfg, name), kr_config_get(&nc, name)) != 0 && used < sizeof restart)
				used += (size_t)snprintf(restart + used, sizeof restart - used, "%s%s", used ? ", " : "",
							 name);
		}
		if (restart[0])
			log_line("reload: changed in %s but taken only at start (restart the hub for them): %s",
				 nc.path ? nc.path : "the configuration", restart);
		if (kr_config_get_int(&nc, "timeout") != sv->timeout_s) {
			log_line("reload: timeout %llds -> %llds for new connections", sv->timeout_s,
				 kr_config_get_int(&nc, "timeout"));
			sv->timeout_s = kr_config_get_int(&nc, "timeout");
			kr_httpd_set_write_timeout(srv, (int)sv->timeout_s * 1000);
		}
		crt = kr_config_get(&nc, "cert_file");
		key = kr_config_get(&nc, "key_file");
	}
	memset(&err, 0, sizeof err);
	if (kr_httpd_reload_tls(srv, kr_config_get(&h->cfg, "ca_file"), crt, key, &ci, &err)) {
		log_line("reload: certificate NOT reloaded, new connections still get serial %s: %s", sv->serial,
			 err.msg);
	} else {
		if (crt != sv->crt_path)
			snprintf(sv->crt_path, sizeof sv->crt_path, "%s", crt);
		if (key != sv->key_path)
			snprintf(sv->key_path, sizeof sv->key_path, "%s", key);
		format_utc(ci.not_after, until, sizeof until);
		log_line("reload: new connections get certificate CN=%s serial %s (SHA-256 %s), valid until %s, from %s; "
			 "connections in progress keep the previous one (serial %s)",
			 ci.cn, ci.serial, ci.fingerprint, until, sv->crt_path, sv->serial);
		snprintf(sv->serial, sizeof sv->serial, "%s", ci.serial);
	}
	if (have_cfg)
		kr_config_release(&nc);
}

/* At most every TURNED_AWAY_EVERY_S: one line for the connections turned away since the last one. */
static void log_turned_away(struct kr_httpd *srv, struct kr_httpd_stats *last, double *last_s)
{
	struct kr_httpd_stats now;
	double t = mono_s();
	unsigned long long full, waited;

	if (t - *last_s < TURNED_AWAY_EVERY_S)
		return;
	kr_httpd_stats(srv, &now);
	full = now.rejected_full - last->rejected_full;
	waited = now.rejected_waited - last->rejected_waited;
	if (full + waited)
		log_line("turned away %llu connection%s in the last %.0f s: queue full %llu, queued over 1 s %llu "
			 "(they retry later; if this lasts, the hub needs more threads or CPU)",
			 full + waited, full + waited == 1 ? "" : "s", t - *last_s, full, waited);
	*last = now;
	*last_s = t;
}

int hub_cmd_serve(struct hub *h)
{
	struct kr_httpd_config hc = {0};
	struct kr_httpd *srv = NULL;
	struct kr_error err = {0};
	struct serve sv;
	char host[256];
	unsigned short port;
	struct sigaction sa = {0};
	const char *hook = getenv("KIROKU_TEST_SLEEP_AFTER_COMMIT_MS");
	struct kr_httpd_stats turned = {0};
	double turned_s;
	struct kr_cert_info ci;

	memset(&sv, 0, sizeof sv);
	sv.h = h;
	sv.store_path = h->cfg.store_path;
	if (hook && *hook)
		sv.sleep_after_commit_ms = (unsigned)strtoul(hook, NULL, 10);
	hook = getenv("KIROKU_TEST_SLEEP_BEFORE_COMMIT_MS");
	if (hook && *hook)
		sv.sleep_before_commit_ms = (unsigned)strtoul(hook, NULL, 10);
	if (split_listen(kr_config_get(&h->cfg, "listen"), host, sizeof host, &port))
		return hub_usage(h, "listen must be HOST:PORT, got \"%s\"", kr_config_get(&h->cfg, "listen"));
	if (kr_store_check(h->st, &err))
		return hub_fail(&err);
	pthread_mutex_init(&sv.write_lock, NULL);
	if (hub_trust_init(&sv.trust, h, sv.store_path, &sv.write_lock, &err)) {
		pthread_mutex_destroy(&sv.write_lock);
		return hub_fail(&err);
	}
	pthread_key_create(&sv.store_key, close_thread_store);
	if (kr_checkpointer_start(sv.store_path, &(struct kr_checkpoint_opts){.log = log_line}, &sv.ckpt, &err))
		log_line("%s; checkpoints run in the merges' commits instead", err.msg);

	hc.host = host;
	hc.port = port;
	hc.ca_crt = kr_config_get(&h->cfg, "ca_file");
	hc.crt = kr_config_get(&h->cfg, "cert_file");
	hc.key = kr_config_get(&h->cfg, "key_file");
	hc.workers = (unsigned)kr_config_get_int(&h->cfg, "threads");
	/* Many agents at once (every school at the start of the day): queue them for at most a second, then turn
	 * the rest away before their TLS handshake, so that the CPU goes to the syncs in progress; they retry. */
	hc.queue_len = 256;
	hc.queue_wait_ms = 1000;
	sv.timeout_s = kr_config_get_int(&h->cfg, "timeout");
	hc.write_timeout_ms = (int)sv.timeout_s * 1000;
	snprintf(sv.crt_path, sizeof sv.crt_path, "%s", hc.crt);
	snprintf(sv.key_path, sizeof sv.key_path, "%s", hc.key);
	hc.handler = handle;
	hc.handler_ctx = &sv;
	hc.peer_check = hub_trust_peer_check;
	hc.peer_check_ctx = &sv.trust;
	if (kr_httpd_start(&hc, &srv, &err)) {
		kr_error_prefix(&err, "cannot serve on %s", kr_config_get(&h->cfg, "listen"));
		kr_checkpointer_stop(sv.ckpt);
		hub_trust_release(&sv.trust);
		return hub_fail(&err);
	}
	atomic_store(&sv.srv, srv);
	if (kr_cert_info_file(sv.crt_path, &ci, &err) == KR_OK)
		snprintf(sv.serial, sizeof sv.serial, "%s", ci.serial);
	turned_s = mono_s();
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sa.sa_flags = SA_RESTART; /* a reload must not cut short another thread's read or write */
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_line("kiroku-hub %s listening on https://%s:%u (node %s, %u threads, store %s)", KR_VERSION, host,
		 kr_httpd_port(srv), kr_store_node(h->st), hc.workers ? hc.workers : 8, sv.store_path);
	printf("listening on %s:%u\n", host, kr_httpd_port(srv));
	fflush(stdout);
	hub_notify_ready(host, kr_httpd_port(srv));
	while (!stop_requested) {
		struct timespec ts = {0, 100 * 1000000L};
		nanosleep(&ts, NULL);
		hub_trust_tick(&sv.trust, srv); /* revocations: close the revoked nodes' connections */
		log_turned_away(srv, &turned, &turned_s);
		if (reload_requested) {
			reload_requested = 0;
			/* The node list, revocations and the catalogue are read from the store on every request and
			 * need no reload; the certificate and the options are read here, outside the signal handler. */
			log_line("SIGHUP: reloading the certificate and the configuration");
			reload(&sv, srv);
		}
	}
	log_line("stopping: finishing requests in flight");
	hub_notify_stopping();
	kr_httpd_free(srv);
	kr_checkpointer_stop(sv.ckpt); /* after the workers: its last checkpoint has their last commits */
	hub_trust_release(&sv.trust);
	pthread_key_delete(sv.store_key);
	pthread_mutex_destroy(&sv.write_lock);
	log_line("stopped");
	return KR_EXIT_OK;
}

/* ---- certificates ---- */

int hub_cmd_ca_init(struct hub *h)
{
	struct kr_error err = {0};
	const char *dir = kr_config_get(&h->cfg, "data_dir");
	char key[4096], crt[4096], ca_crt[4096];
	char fp[KR_FINGERPRINT_HEX_LEN + 1];
	const char *dns[] = {"localhost"};
	const char *ips[] = {"127.0.0.1"};
	struct kr_cert_request req = {.node_id = "hub", .is_server = true, .dns_names = dns, .n_dns_names = 1,
				      .ipv4_addrs = ips, .n_ipv4_addrs = 1, .days_valid = 825};
	char host[256];
	unsigned short port;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		kr_fail(&err, KR_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
		return hub_fail(&err);
	}
	if (kr_ca_init(dir, "kiroku hub CA", &err))
		return hub_fail(&err);
	/* The hub's own server certificate, named for the address it listens on. */
	if (split_listen(kr_config_get(&h->cfg, "listen"), host, sizeof host, &port) == 0 && strcmp(host, "127.0.0.1") &&
	    strcmp(host, "0.0.0.0")) {
		if (strspn(host, "0123456789.") == strlen(host)) {
			static const char *ips2[2];
			ips2[0] = "127.0.0.1";
			ips2[1] = host;
			req.ipv4_addrs = ips2;
			req.n_ipv4_addrs = 2;
		} else {
			static const char *dns2[2];
			dns2[0] = "localhost";
			dns2[1] = host;
			req.dns_names = dns2;
			req.n_dns_names = 2;
		}
	}
	snprintf(key, sizeof key, "%s", kr_config_get(&h->cfg, "key_file"));
	snprintf(crt, sizeof crt, "%s", kr_config_get(&h->cfg, "cert_file"));
	req.node_id = kr_config_get(&h->cfg, "node");
	if (kr_cert_issue(dir, key, crt, &req, &err))
		return hub_fail(&err);
	snprintf(ca_crt, sizeof ca_crt, "%s/ca.crt", dir);
	if (kr_cert_fingerprint(ca_crt, fp, &err))
		return hub_fail(&err);
	printf("CA created in %s (ca.crt, ca.key)\nhub certificate: %s\nCA fingerprint (SHA-256): %s\n", dir, crt, fp);
	return KR_EXIT_OK;
}

int hub_cmd_cert_issue(struct hub *h)
{
	struct kr_error err = {0};
	const char *dir = kr_config_get(&h->cfg, "data_dir");
	const char *out = h->nargs > 0 ? h->args[0] : ".";
	char key[4096], crt[4096];
	struct kr_cert_request req = {.days_valid = 825};

	if (!h->node_opt || !kr_id_valid(h->node_opt))
		return hub_usage(h, "--for-node NODE is required (1 to 64 of a-z 0-9 . _ -)");
	if (!h->facility || !kr_id_valid(h->facility))
		return hub_usage(h, "--facility FACILITY is required (1 to 64 of a-z 0-9 . _ -)");
	req.node_id = h->node_opt;
	req.facility_id = h->facility;
	if (h->days) {
		char *end;
		long d = strtol(h->days, &end, 10);
		if (*end || d == 0 || d < -3650 || d > 3650)
			return hub_usage(h, "--days must be a whole number of days, not 0 (negative: already expired)");
		req.days_valid = (int)d;
	}
	if (mkdir(out, 0700) != 0 && errno != EEXIST) {
		kr_fail(&err, KR_ERR_IO, "cannot create %s: %s", out, strerror(errno));
		return hub_fail(&err);
	}
	snprintf(key, sizeof key, "%s/%s.key", out, h->node_opt);
	snprintf(crt, sizeof crt, "%s/%s.crt", out, h->node_opt);
	if (kr_cert_issue(dir, key, crt, &req, &err))
		return hub_fail(&err);
	hub_audit_cert_issue(h, crt);
	printf("certificate for node %s of facility %s:\n  %s\n  %s (mode 0600: move it to the agent's data directory)\n"
	       "  with the hub's CA: %s/ca.crt\n",
	       h->node_opt, h->facility, crt, key, dir);
	return KR_EXIT_OK;
}
