/* cmd_sync.c: kiroku-agent sync (once) and run (the daemon: sync on an interval, soon after new local
 * records, and with exponential back-off plus jitter after failures). */
#include <inttypes.h>
#include <stdarg.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "kiroku/client.h"
#include "kiroku/keyfile.h"
#include "kiroku/sync.h"
#include "web.h"

static volatile sig_atomic_t stop_requested, reload_requested;
static atomic_int sync_requested; /* the web form's "sync now" (another thread) */
static void on_stop(int sig) { (void)sig; stop_requested = 1; }
static void on_hup(int sig) { (void)sig; reload_requested = 1; }

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
	fprintf(stderr, "%s %s: ", stamp, AGENT_PROG);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static kr_status make_client(struct agent *a, struct kr_client **out, struct kr_error *err)
{
	static char url[1024];
	struct kr_client_config cc = {
		.base_url = agent_hub_url(a, url, sizeof url),
		.ca_file = kr_config_get(&a->cfg, "ca_file"),
		.cert_file = kr_config_get(&a->cfg, "cert_file"),
		.key_file = kr_config_get(&a->cfg, "key_file"),
		.connect_timeout_ms = 10000,
		.timeout_ms = kr_config_get_int(&a->cfg, "timeout") * 1000,
	};
	return kr_client_new(&cc, out, err);
}

/* Before talking to the hub: the data directory must be private, a certificate swap cut short is finished,
 * and a certificate with less than 30 days left is renewed (a failed renewal is only reported: the old
 * certificate still works). *renewed says whether the certificate changed. */
static kr_status prepare(struct agent *a, bool *renewed, struct kr_error *err)
{
	struct kr_error why = {0};
	kr_status s;

	*renewed = false;
	if ((s = kr_datadir_check(kr_config_get(&a->cfg, "data_dir"), err)) || (s = agent_finish_pending(a, err)))
		return s;
	if (agent_renew(a, true, renewed, &why))
		fprintf(stderr, "%s: renewing the certificate failed (the current one is used): %s\n", AGENT_PROG,
		        why.msg);
	return KR_OK;
}

/* A progress bar on a terminal when the backlog is large. */
struct progress {
	bool tty;
	uint64_t total;
};

static void show_progress(void *ctx, const struct kr_sync_progress *p)
{
	struct progress *pr = ctx;
	if (!pr->tty || pr->total < 2000)
		return;
	uint64_t done = pr->total > p->outbox_left ? pr->total - p->outbox_left : 0;
	int width = 40, fill = pr->total ? (int)(done * 40 / pr->total) : width;
	fprintf(stderr, "\r[%.*s%*s] %" PRIu64 "/%" PRIu64 " sent, %" PRIu64 " received", fill,
		"########################################", width - fill, "", done, pr->total, p->received);
	fflush(stderr);
}

/* Records the outcome of a sync attempt in the store's meta, for the web form's "hub reachable" state:
 * last_attempt_ms, last_attempt_error ("" after a success) and last_attempt_reached (1 when the hub answered
 * over HTTP, even with a refusal). A failure to write them is ignored: they are only shown. */
static void note_attempt(struct agent *a, kr_status s, const struct kr_error *err, bool reached)
{
	struct kr_error ignored;
	const char *why = s ? (err->msg[0] ? err->msg : kr_status_name(s)) : "";

	if (kr_store_meta_set_u64(a->st, "last_attempt_ms", kr_now_ms(), &ignored) == KR_OK &&
	    kr_store_meta_set_u64(a->st, "last_attempt_reached", reached, &ignored) == KR_OK)
		kr_store_meta_set_text(a->st, "last_attempt_error", why, &ignored);
}

static kr_status sync_once(struct agent *a, struct kr_client *c, struct kr_sync_result *res, struct kr_error *err)
{
	struct kr_store_status s;
	struct progress pr = {.tty = isatty(STDERR_FILENO) != 0};
	kr_status st;

	if (!kr_store_status(a->st, &s, err))
		pr.total = s.outbox_changes;
	st = kr_sync_run(a->st, c, 0, show_progress, &pr, res, err);
	if (pr.tty && pr.total >= 2000)
		fputc('\n', stderr);
	note_attempt(a, st, err, res->http_status != 0);
	return st;
}

static void request_sync(void *ctx)
{
	(void)ctx;
	atomic_store(&sync_requested, 1);
}

int agent_cmd_sync(struct agent *a)
{
	struct kr_client *c = NULL;
	struct kr_sync_result res;
	struct kr_error err = {0};
	char url[1024];
	bool renewed;
	kr_status s;

	if ((s = prepare(a, &renewed, &err)) || (s = make_client(a, &c, &err)))
		return agent_fail(&err);
	s = sync_once(a, c, &res, &err);
	kr_client_free(c);
	if (s) {
		if (res.sent)
			fprintf(stderr, "%s: %" PRIu64 " changes were acknowledged before the failure\n", AGENT_PROG, res.sent);
		return agent_fail(&err);
	}
	printf("synced with %s: sent %" PRIu64 ", received %" PRIu64 " (%u requests); outbox %s\n",
	       agent_hub_url(a, url, sizeof url), res.sent, res.received, res.round_trips,
	       res.outbox_left ? "not empty" : "empty");
	return KR_EXIT_OK;
}

int agent_cmd_recover(struct agent *a)
{
	struct kr_client *c = NULL;
	struct kr_recover_result rr;
	struct kr_sync_result res;
	struct kr_error err = {0};
	char url[1024];
	bool renewed;
	kr_status s;

	if ((s = kr_store_check(a->st, &err)) || (s = prepare(a, &renewed, &err)) || (s = make_client(a, &c, &err)))
		return agent_fail(&err);
	s = kr_sync_recover(a->st, c, &rr, &err);
	if (s) {
		kr_client_free(c);
		note_attempt(a, s, &err, false);
		return agent_fail(&err);
	}
	printf("recovered from %s: %" PRIu64 " changes taken back from the hub (%" PRIu64 " of them this node's own); "
	       "the hub holds this node's changes 1..%" PRIu64 "\n",
	       agent_hub_url(a, url, sizeof url), rr.received, rr.own, rr.hub_acked);
	if (rr.already)
		printf("%" PRIu64 " changes waiting here were already at the hub: dropped from the outbox\n", rr.already);
	if (rr.renumbered)
		printf("%" PRIu64 " changes made on this store under numbers the hub holds other changes for: renumbered "
		       "%" PRIu64 "..%" PRIu64 "\n",
		       rr.renumbered, rr.first_new, rr.first_new + rr.renumbered - 1);
	s = sync_once(a, c, &res, &err);
	kr_client_free(c);
	if (s) {
		fprintf(stderr, "%s: the recovery is complete; the sync after it failed (run 'kiroku-agent sync' later)\n",
		        AGENT_PROG);
		return agent_fail(&err);
	}
	printf("synced: sent %" PRIu64 ", received %" PRIu64 "; outbox %s\n", res.sent, res.received,
	       res.outbox_left ? "not empty" : "empty");
	return KR_EXIT_OK;
}

static double jitter(void)
{
	uint32_t r = 0;
	if (getrandom(&r, sizeof r, 0) != sizeof r)
		r = (uint32_t)time(NULL);
	return 0.8 + 0.4 * ((double)r / 4294967295.0); /* x0.8 .. x1.2 */
}

static void sleep_until(double deadline_s, uint64_t *seen_seq, struct agent *a, bool *woken)
{
	/* Sleep in short steps: stop quickly on SIGTERM and wake soon after a new local record. */
	*woken = false;
	while (!stop_requested && !reload_requested) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((double)now.tv_sec + (double)now.tv_nsec / 1e9 >= deadline_s)
			return;
		struct timespec step = {0, 250 * 1000000L};
		nanosleep(&step, NULL);
		if (atomic_exchange(&sync_requested, 0)) {
			*woken = true;
			return;
		}
		uint64_t seq = kr_store_meta_u64(a->st, "last_seq");
		if (seq != *seen_seq) {
			*seen_seq = seq;
			*woken = true;
			step.tv_sec = 2; /* let a burst of records finish */
			step.tv_nsec = 0;
			nanosleep(&step, NULL);
			return;
		}
	}
}

/* SIGHUP, from the main loop: reads the configuration file again and takes sync_interval; the certificate and
 * key are read on each sync anyway. Other options need a restart: one line names those that changed. */
static void reload_config(struct agent *a, long long *interval)
{
	struct kr_config nc;
	struct kr_error err = {0};
	char restart[256] = "";
	size_t n, used = 0;
	const struct kr_config_option *o = kr_config_options(&n);

	if (kr_config_reread(&a->cfg, &nc, &err)) {
		log_line("SIGHUP: configuration not read again, sync_interval stays %llds: %s", *interval, err.msg);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *was, *now;
		if (!(o[i].programs & KR_PROG_AGENT) || strcmp(o[i].name, "sync_interval") == 0)
			continue;
		was = kr_config_get(&a->cfg, o[i].name);
		now = kr_config_get(&nc, o[i].name);
		if (was && now && strcmp(was, now) != 0 && used < sizeof restart)
			used += (size_t)snprintf(restart + used, sizeof restart - used, "%s%s", used ? ", " : "", o[i].name);
	}
	if (kr_config_get_int(&nc, "sync_interval") != *interval) {
		log_line("SIGHUP: sync_interval %llds -> %llds", *interval, kr_config_get_int(&nc, "sync_interval"));
		*interval = kr_config_get_int(&nc, "sync_interval");
	} else {
		log_line("SIGHUP: configuration read again; sync_interval stays %llds", *interval);
	}
	if (restart[0])
		log_line("SIGHUP: changed in %s but taken only at start (restart the agent for them): %s",
			 nc.path ? nc.path : "the configuration", restart);
	kr_config_release(&nc);
}

int agent_cmd_run(struct agent *a)
{
	struct kr_client *c = NULL;
	struct kr_error err = {0};
	struct sigaction sa = {0};
	long long interval = kr_config_get_int(&a->cfg, "sync_interval");
	double backoff = 0;
	unsigned failures = 0;
	uint64_t seen_seq = kr_store_meta_u64(a->st, "last_seq");
	char url[1024];

	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	bool renewed;

	if (kr_store_check(a->st, &err) || prepare(a, &renewed, &err) || make_client(a, &c, &err))
		return agent_fail(&err);
	/* The staff's web form beside the syncs. A port in use stops the form, not the syncs. */
	struct web *web = NULL;
	if (kr_config_get_int(&a->cfg, "web_port") > 0) {
		if (agent_web_start(a, interval, request_sync, NULL, &web, &err))
			log_line("the web form is not served: %s", err.msg);
		else
			log_line("web form for staff: http://127.0.0.1:%u/", web_port(web));
	}
	log_line("started: node %s of facility %s, hub %s, every %llds", kr_store_node(a->st), kr_store_facility(a->st),
		 agent_hub_url(a, url, sizeof url), interval);
	while (!stop_requested) {
		struct kr_sync_result res = {0};
		struct timespec now;
		double wait;
		bool woken;

		struct kr_client *conn = NULL;
		kr_status s;

		memset(&err, 0, sizeof err);
		prepare(a, &renewed, &err); /* renews the certificate when it is due; a failure shows in the sync */
		/* One connection per sync, closed after it: a connection kept alive between syncs would hold one of
		 * the hub's connection threads while idle; a new one also picks up a renewed certificate. */
		memset(&err, 0, sizeof err);
		s = make_client(a, &conn, &err);
		if (!s)
			s = sync_once(a, conn, &res, &err);
		kr_client_free(conn);
		if (s == KR_OK) {
			if (failures)
				log_line("hub reachable again after %u failed attempts", failures);
			log_line("sync ok: sent %" PRIu64 ", received %" PRIu64 " (%u requests)", res.sent, res.received,
				 res.round_trips);
			failures = 0;
			backoff = 0;
			wait = (double)interval;
		} else {
			failures++;
			backoff = backoff ? backoff * 2 : 5;
			if (backoff > (double)interval)
				backoff = (double)interval;
			wait = backoff * jitter();
			/* A hub that is busy or out of disk space says when to come back (Retry-After): not sooner,
			 * spread a little so that agents it turned away together do not return together; at most an
			 * hour, whatever it asked. */
			if (res.retry_after > 0) {
				double asked = (double)(res.retry_after < 3600 ? res.retry_after : 3600);
				if (wait < asked)
					wait = asked * (jitter() + 0.2); /* x1.0 .. x1.4 */
			}
			log_line("sync failed (attempt %u, next in %.0fs): %s", failures, wait, err.msg);
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		double since = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
		/* New local records cut the wait short: they go to the hub soon after they are made. A SIGHUP
		 * interrupts the wait to read the configuration; a new sync_interval applies to the wait under way
		 * (after a successful sync; a back-off is kept). */
		for (;;) {
			sleep_until(since + wait, &seen_seq, a, &woken);
			if (!reload_requested || stop_requested)
				break;
			reload_requested = 0;
			reload_config(a, &interval);
			if (s == KR_OK)
				wait = (double)interval;
		}
		if (woken)
			log_line("new local records: syncing now");
	}
	log_line("stopping");
	web_free(web);
	kr_client_free(c);
	return KR_EXIT_OK;
}
