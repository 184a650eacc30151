/* bench_soak.c: a soak test: many simulated agents (default 300, each its own node id, client certificate and store)
 * record and sync continuously against one real hub (kiroku-hub serve, a separate process) over mutual TLS on
 * loopback for a number of minutes, and the hub's resident memory, open file descriptors and threads are printed at
 * the start, every minute and at the end, with the latency of the sync requests (p50, p99, max) and the count of
 * failed syncs, which must be zero (nothing here injects faults: a 503 or a connection the hub closed unanswered is
 * retried with back-off and counted; a sync that still fails after 120 s of retries is a failure).
 *
 * Usage: bench_soak [--agents N] [--minutes M] [--seconds S] [--facilities N] [--interval-s S] [--records N]
 *                   [--threads N] [--hub PATH] [--retry-ms N] [--sample-s S] [--dir DIR] [--keep]
 *   --agents N      simulated agents, one thread each [300]
 *   --minutes M     how long the agents keep syncing [10] (--seconds S for a shorter run)
 *   --facilities N  the agents are spread over this many facilities [30]
 *   --interval-s S  an agent's mean pause between two syncs, each pause times a random factor 0.5..1.5 [10]: 300
 *                   agents then make about 30 syncs per second, 30 times what 300 daemons with the default
 *                   sync_interval (300 s) would
 *   --records N     before each sync an agent records 0..N incidents (uniformly) [2]
 *   --threads N     the hub's worker threads [the hub's default, 8]
 *   --hub PATH      the kiroku-hub binary [../hub/kiroku-hub next to this program]
 *   --retry-ms N    after a 503 or a connection closed unanswered: sleep N ms, then 2N, 4N, 8N ..., jitter [200]
 *   --sample-s S    print the hub's memory and descriptors every S seconds [60]
 *   --dir DIR       work directory (must not exist yet) [a fresh /tmp/kiroku-bench-soak-XXXXXX]
 *   --keep          keep the work directory
 *
 * Each sync is what `kiroku-agent sync` does (a new connection, kr_outbox_batch, POST /v1/sync, kr_merge of the
 * answer, until both directions are empty), with each request timed. At the end every agent syncs once more and
 * the hub must hold every record every agent made, and every agent's acknowledged change must be its last.
 * Exit 1 otherwise, or if any sync failed. See bench/README.md.
 */
#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "kiroku/client.h"
#include "kiroku/store.h"
#include "kiroku/sync.h"
#include "kiroku/tls.h"

#include "bench_common.h"

#define GIVE_UP_S 120.0 /* a sync that has not succeeded after this long of retries is a failure */

const char bench_prog[] = "bench_soak";

static void sleep_s(double s)
{
	if (s <= 0)
		return;
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	nanosleep(&ts, NULL);
}

/* ---- the hub process ---- */

static long proc_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	long n = 0;
	DIR *d;

	snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
	if (!(d = opendir(path)))
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Interrupted (Ctrl-C, SIGTERM): the hub goes too, not left running on its own. */
static volatile pid_t hub_pid_for_signal;
static void on_signal(int sig)
{
	if (hub_pid_for_signal > 0)
		kill(hub_pid_for_signal, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- the agents ---- */

static const char *const categories[] = {"紛失", "漏えい", "誤送付・誤送信", "不正アクセス", "その他"};

struct agent {
	struct bench_agent_id id; /* first: bench_new_agents names it, bench_create_agents reads it */
	int index;
	struct kr_store *st;
	unsigned seed;
	struct kr_error err;        /* the first failure */
	struct bench_lat ok_lat;    /* requests answered 200, during the soak */
	struct bench_lat sync_lat;  /* whole syncs that succeeded during the soak, retries included */
	struct bench_lat final_lat; /* the last sync, which every agent makes at the same moment when the time is up */
	bool final;                 /* making that last sync */
	unsigned long syncs_ok, syncs_failed, requests, busy, conn_errors, records;
	unsigned long final_busy, final_conn_errors;
	uint64_t received;
	bool setup_failed;
};

struct run {
	const char *url, *ca;
	double retry_ms, interval_s, end_s;
	long records;
	pthread_barrier_t start;
	atomic_ulong syncs_ok, syncs_failed;
};

static struct run R;

static double jitter(struct agent *a) { return 0.5 + (double)rand_r(&a->seed) / RAND_MAX; }

static kr_status write_records(struct agent *a, long n)
{
	char desc[256], persons[16], occurred[32];
	kr_status s;

	if (n <= 0)
		return KR_OK;
	if ((s = kr_store_begin(a->st, &a->err)))
		return s;
	for (long i = 0; i < n; i++) {
		unsigned long k = a->records + (unsigned long)i;
		snprintf(desc, sizeof desc, "%s の %lu 件目：校外学習の引率中に名簿を紛失した可能性。", a->id.node, k);
		snprintf(persons, sizeof persons, "%lu", k % 40);
		snprintf(occurred, sizeof occurred, "2026-%02lu-%02luT%02lu:%02lu", 4 + k % 9, 1 + k % 28, 8 + k % 10, k % 60);
		struct kr_field_text f[] = {
			{"occurred_at", occurred},  {"category", categories[k % 5]}, {"media", k % 2 ? "USB" : "紙"},
			{"personal_info", "yes"},   {"persons_affected", persons},    {"description", desc},
		};
		kr_ulid id;
		if ((s = kr_record_create(a->st, "incident", NULL, f, 6, 0, &id, &a->err))) {
			kr_store_rollback(a->st);
			return s;
		}
	}
	if ((s = kr_store_commit(a->st, &a->err)))
		return s;
	a->records += (unsigned long)n;
	return KR_OK;
}

/* One POST, retried while the hub is busy (503) or drops the connection unanswered, until deadline. */
static kr_status post_retrying(struct agent *a, struct kr_client **client, const struct kr_client_config *cc,
			       const struct kr_buf *req, struct kr_buf *resp, struct kr_error *err, double deadline)
{
	for (unsigned attempt = 0;; attempt++) {
		long status = 0;
		double t0 = bench_now_s();
		kr_status s = kr_client_post(*client, KR_SYNC_PATH, KR_SYNC_CONTENT_TYPE, req->data, req->len,
					     kr_sync_limits.max_bytes + 65536, &status, resp, err);
		double dt = bench_now_s() - t0;

		a->requests++;
		if (s == KR_OK && status == 200) {
			if (!a->final)
				bench_lat_add(&a->ok_lat, dt);
			return KR_OK;
		}
		if (s == KR_OK && status == 503) {
			if (a->final)
				a->final_busy++;
			else
				a->busy++;
		} else if (s == KR_ERR_NETWORK || s == KR_ERR_TLS) {
			if (a->final)
				a->final_conn_errors++;
			else
				a->conn_errors++;
			/* A new connection for the next attempt. */
			kr_client_free(*client);
			*client = NULL;
			if ((s = kr_client_new(cc, client, err)))
				return s;
		} else if (s) {
			return s;
		} else {
			kr_buf_terminate(resp);
			return kr_fail(err, KR_ERR_NETWORK, "the hub answered HTTP %ld: %.200s", status,
				       resp->len ? (const char *)resp->data : "");
		}
		if (bench_now_s() > deadline)
			return kr_fail(err, KR_ERR_NETWORK, "gave up after %.0f s of retries (last: %s)", GIVE_UP_S,
				       s ? err->msg : "HTTP 503");
		double factor = (double)(1u << (attempt < 4 ? attempt : 4));
		sleep_s(R.retry_ms / 1000.0 * factor * jitter(a));
	}
}

/* One sync as `kiroku-agent sync` makes it: a new connection, batches until both directions are empty. */
static kr_status agent_sync(struct agent *a, struct kr_error *err)
{
	struct kr_client_config cc = {.base_url = R.url, .ca_file = R.ca, .cert_file = a->id.crt, .key_file = a->id.key,
				      .timeout_ms = 60000};
	struct kr_client *client = NULL;
	struct kr_buf req, resp;
	double t0 = bench_now_s(), deadline = t0 + GIVE_UP_S;
	kr_status s;

	if ((s = kr_client_new(&cc, &client, err)))
		return s;
	kr_buf_init(&req, 0);
	kr_buf_init(&resp, 0);
	for (;;) {
		struct kr_changeset cs;
		struct kr_merge_result mr;
		size_t n;

		req.len = 0;
		if ((s = kr_outbox_batch(a->st, &kr_sync_limits, &req, &n, err)) ||
		    (s = post_retrying(a, &client, &cc, &req, &resp, err, deadline)))
			break;
		if ((s = kr_changeset_decode(resp.data, resp.len, &kr_sync_limits, &cs, err))) {
			kr_error_prefix(err, "the hub's answer");
			break;
		}
		s = kr_merge(a->st, &cs, NULL, &mr, err);
		bool more = cs.more;
		kr_changeset_release(&cs);
		if (s) {
			kr_error_prefix(err, "applying the hub's answer");
			break;
		}
		a->received += mr.applied;
		if (kr_store_meta_u64(a->st, "last_seq") == kr_store_meta_u64(a->st, "acked") && !more)
			break;
	}
	kr_client_free(client);
	kr_buf_release(&req);
	kr_buf_release(&resp);
	if (!s)
		bench_lat_add(a->final ? &a->final_lat : &a->sync_lat, bench_now_s() - t0);
	return s;
}

static void count_sync(struct agent *a, kr_status s, struct kr_error *err)
{
	if (!s) {
		a->syncs_ok++;
		atomic_fetch_add(&R.syncs_ok, 1);
		return;
	}
	if (!a->syncs_failed++)
		a->err = *err;
	atomic_fetch_add(&R.syncs_failed, 1);
}

static void *agent_main(void *arg)
{
	struct agent *a = arg;
	struct kr_error err = {0};

	if (kr_store_open(a->id.store_path, &a->st, &a->err))
		a->setup_failed = true;
	pthread_barrier_wait(&R.start);
	if (a->setup_failed)
		return NULL;
	/* Spread the first syncs over one interval, as daemons started at different times would be. */
	sleep_s(R.interval_s * (double)rand_r(&a->seed) / RAND_MAX);
	while (bench_now_s() < R.end_s) {
		if (write_records(a, rand_r(&a->seed) % (R.records + 1))) {
			count_sync(a, KR_ERR_STORE, &a->err);
			break;
		}
		count_sync(a, agent_sync(a, &err), &err);
		double pause = R.interval_s * jitter(a), left = R.end_s - bench_now_s();
		sleep_s(pause < left ? pause : left);
	}
	/* The last sync: everything made must reach the hub. Every agent makes it at the same moment, a stampede
	 * that the figures show apart from the soak's. */
	a->final = true;
	count_sync(a, agent_sync(a, &err), &err);
	return NULL;
}

/* ---- set-up ---- */

static void usage(FILE *out)
{
	fputs("Usage: bench_soak [--agents N] [--minutes M] [--seconds S] [--facilities N] [--interval-s S]\n"
	      "                  [--records N] [--threads N] [--hub PATH] [--retry-ms N] [--sample-s S] [--dir DIR] [--keep]\n"
	      "N simulated agents (default 300) record and sync continuously for M minutes (default 10) against one\n"
	      "kiroku-hub serve; prints the hub's resident memory, open descriptors and threads at the start, every\n"
	      "minute and at the end, the sync requests' p50/p99/max latency, and the failed syncs (must be 0).\n"
	      "See bench/README.md.\n",
	      out);
}

struct sample {
	double t;
	long rss_kib, fds, threads;
};

static struct sample sample_hub(pid_t pid, double t0)
{
	struct sample s = {bench_now_s() - t0, bench_proc_status_kib(pid, "VmRSS"), proc_fds(pid),
			   bench_proc_status_kib(pid, "Threads")};
	return s;
}

static void print_sample(const char *label, const struct sample *s)
{
	printf("%-10s t=%6.0f s  hub RSS %7.1f MiB  open fds %4ld  threads %3ld  syncs ok %8lu  failed %lu\n", label,
	       s->t, (double)s->rss_kib / 1024.0, s->fds, s->threads, atomic_load(&R.syncs_ok),
	       atomic_load(&R.syncs_failed));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	long nagents = 300, nfac = 30, threads = 0, retry_ms = 200, records = 2, sample_s = 60;
	double duration_s = 600, interval_s = 10;
	struct bench_options opts = {0};
	char dir[PATH_MAX], hub_bin[PATH_MAX], url[64], ca[PATH_MAX];
	struct kr_error err = {0};
	struct bench_hub hub;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--agents") == 0)
			nagents = bench_arg_long(a, v, 1, 5000), i++;
		else if (strcmp(a, "--minutes") == 0)
			duration_s = 60.0 * (double)bench_arg_long(a, v, 1, 1440), i++;
		else if (strcmp(a, "--seconds") == 0)
			duration_s = (double)bench_arg_long(a, v, 1, 86400), i++;
		else if (strcmp(a, "--facilities") == 0)
			nfac = bench_arg_long(a, v, 1, 5000), i++;
		else if (strcmp(a, "--interval-s") == 0)
			interval_s = (double)bench_arg_long(a, v, 1, 3600), i++;
		else if (strcmp(a, "--records") == 0)
			records = bench_arg_long(a, v, 0, 1000), i++;
		else if (strcmp(a, "--threads") == 0)
			threads = bench_arg_long(a, v, 1, 256), i++;
		else if (strcmp(a, "--retry-ms") == 0)
			retry_ms = bench_arg_long(a, v, 1, 60000), i++;
		else if (strcmp(a, "--sample-s") == 0)
			sample_s = bench_arg_long(a, v, 1, 3600), i++;
		else
			bench_option(argc, argv, &i, &opts, usage);
	}
	if (nfac > nagents)
		nfac = nagents;
	bench_find_hub(opts.hub, hub_bin);
	bench_work_dir(opts.dir, "soak", dir);
	/* 300 agents keep up to a few hundred descriptors open at once (stores, connections). */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max && rl.rlim_cur < 65536) {
		rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	printf("kiroku bench_soak: %ld agents (%ld facilities) record 0..%ld incidents and sync, every %.0f s on average,\n"
	       "for %.0f s against kiroku-hub serve (worker threads: %ld), mutual TLS on loopback; work directory %s\n",
	       nagents, nfac, records, interval_s, duration_s, threads ? threads : 8, dir);

	double t_setup = bench_now_s();
	bench_make_pki(dir);
	struct agent *ag = bench_new_agents((int)nagents, sizeof *ag, nfac, dir);
	for (int i = 0; i < nagents; i++) {
		ag[i].index = i;
		ag[i].seed = (unsigned)i * 2654435761u + 7;
	}
	bench_create_agents(dir, ag, sizeof *ag, (int)nagents, NULL, NULL);
	bench_hub_start(hub_bin, dir, (int)threads, &hub);
	hub_pid_for_signal = hub.pid;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	snprintf(url, sizeof url, "https://127.0.0.1:%u", hub.port);
	snprintf(ca, sizeof ca, "%s/pki/ca.crt", dir);
	R.url = url;
	R.ca = ca;
	R.retry_ms = (double)retry_ms;
	R.interval_s = interval_s;
	R.records = records;
	if (pthread_barrier_init(&R.start, NULL, (unsigned)nagents + 1))
		bench_die("pthread_barrier_init", NULL);
	pthread_t *tids = bench_start_threads((int)nagents, agent_main, ag, sizeof *ag);
	printf("%-40s %8.1f s\n", "set-up: certificates, stores, hub", bench_now_s() - t_setup);

	/* The soak. */
	double t0 = bench_now_s(), hub_cpu0 = bench_proc_cpu_s(hub.pid);
	R.end_s = t0 + duration_s;
	struct sample first = sample_hub(hub.pid, t0);
	print_sample("start", &first);
	pthread_barrier_wait(&R.start);
	struct sample s1 = first, last;
	for (double next = t0 + (double)sample_s; bench_now_s() < R.end_s;) {
		sleep_s((next < R.end_s ? next : R.end_s) - bench_now_s());
		if (bench_now_s() >= next) {
			struct sample s = sample_hub(hub.pid, t0);
			print_sample("", &s);
			if (next == t0 + (double)sample_s)
				s1 = s;
			next += (double)sample_s;
		}
	}
	for (int i = 0; i < nagents; i++)
		pthread_join(tids[i], NULL);
	double total = bench_now_s() - t0;
	last = sample_hub(hub.pid, t0);
	print_sample("end", &last);
	double hub_cpu = bench_proc_cpu_s(hub.pid) - hub_cpu0;
	long hub_hwm = bench_proc_status_kib(hub.pid, "VmHWM");
	int hub_status = bench_hub_stop(&hub, 30);
	hub_pid_for_signal = 0;

	/* Figures. */
	struct bench_lat ok = {0}, syncs = {0}, final = {0};
	unsigned long nok = 0, nfailed = 0, nreq = 0, nbusy = 0, nconn = 0, nrec = 0, setup_failed = 0, fbusy = 0,
		      fconn = 0;
	uint64_t received = 0;
	for (int i = 0; i < nagents; i++) {
		struct agent *a = &ag[i];
		for (size_t k = 0; k < a->ok_lat.n; k++)
			bench_lat_add(&ok, a->ok_lat.v[k]);
		for (size_t k = 0; k < a->sync_lat.n; k++)
			bench_lat_add(&syncs, a->sync_lat.v[k]);
		for (size_t k = 0; k < a->final_lat.n; k++)
			bench_lat_add(&final, a->final_lat.v[k]);
		fbusy += a->final_busy;
		fconn += a->final_conn_errors;
		nok += a->syncs_ok;
		nreq += a->requests;
		nbusy += a->busy;
		nconn += a->conn_errors;
		nrec += a->records;
		received += a->received;
		setup_failed += a->setup_failed;
		if (a->syncs_failed || a->setup_failed) {
			if (nfailed < 5)
				fprintf(stderr, "bench_soak: agent %s: %lu syncs failed, the first: %s\n", a->id.node, a->syncs_failed,
					a->err.msg);
			nfailed += a->syncs_failed + a->setup_failed;
		}
		free(a->ok_lat.v);
		free(a->sync_lat.v);
		free(a->final_lat.v);
	}
	printf("%-40s %8.1f s   (%ld agents)\n", "soak time, last syncs included", total, nagents);
	printf("%-40s %8lu      (%.1f per second; %lu requests in all, retries included)\n", "syncs completed", nok,
	       (double)nok / total, nreq);
	printf("%-40s %8lu      (must be 0: nothing injects faults here)\n", "syncs failed", nfailed);
	printf("%-40s %8lu      (%lu answered 503 busy, %lu connections failed unanswered; each retried with back-off)\n",
	       "retried requests, soak", nbusy + nconn, nbusy, nconn);
	bench_print_lat("latency of a sync request (200), soak", &ok);
	bench_print_lat("latency of a whole sync, soak", &syncs);
	printf("%-40s %8lu      (%lu answered 503 busy, %lu connections failed unanswered)\n",
	       "retried requests, last syncs", fbusy + fconn, fbusy, fconn);
	bench_print_lat("last syncs, all agents at once", &final);
	printf("%-40s %8lu      records made by the agents; %" PRIu64 " changes delivered to other nodes of their facility\n",
	       "records", nrec, received);
	printf("%-40s RSS %.1f -> %.1f MiB (after the first %lds: %.1f), open fds %ld -> %ld, threads %ld -> %ld, peak RSS "
	       "%.1f MiB\n",
	       "hub, start -> end", (double)first.rss_kib / 1024, (double)last.rss_kib / 1024, sample_s,
	       (double)s1.rss_kib / 1024, first.fds, last.fds, first.threads, last.threads, (double)hub_hwm / 1024);
	printf("%-40s %8.1f s of CPU in %.0f s (%.0f%% of one core)\n", "CPU used: hub", hub_cpu, total,
	       100 * hub_cpu / total);

	/* The hub holds every record; every agent's last change is acknowledged. */
	uint64_t hub_records = bench_hub_records(dir);
	unsigned long unacked = 0;
	for (int i = 0; i < nagents; i++) {
		struct kr_store *st;
		if (kr_store_open(ag[i].id.store_path, &st, &err))
			bench_die("reading an agent's store", &err);
		if (kr_store_meta_u64(st, "acked") != kr_store_meta_u64(st, "last_seq"))
			unacked++;
		kr_store_close(st);
	}
	printf("%-40s %8" PRIu64 "      records (expected %lu); agents with unacknowledged changes: %lu\n", "hub store holds",
	       hub_records, nrec, unacked);
	bench_hub_check_exit(&hub, hub_status);
	free(ok.v);
	free(syncs.v);
	free(final.v);
	free(tids);
	free(ag);
	bool complete = !nfailed && !setup_failed && !unacked && hub_records == nrec;
	printf("%s\n", complete ? "result: every sync succeeded and the hub holds every record"
				: "result: FAILED (see above)");
	bench_finish(dir, &hub, opts.keep);
	return complete ? 0 : 1;
}
