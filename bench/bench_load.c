/* bench_load.c: a load generator: many simulated agents (each its own node id, facility, client certificate and
 * store) sync at once against one real hub (kiroku-hub serve, a separate process) over mutual TLS on loopback, and
 * the figures are printed: requests per second, the latency of individual sync requests (p50, p99, max), the
 * busy answers and retries, the total time.
 *
 * Usage: bench_load [--agents N] [--changes N] [--facilities N] [--hub PATH] [--threads N] [--retry-ms N]
 *                   [--nice N] [--keep-alive] [--dir DIR] [--keep]
 *   --agents N      simulated agents, one thread each with its own store and kr_client [200]
 *   --changes N     records (changes) in each agent's outbox [500]
 *   --facilities N  the agents are spread over this many facilities [20], so a facility has agents/facilities nodes
 *   --hub PATH      the kiroku-hub binary [../hub/kiroku-hub next to this program]
 *   --threads N     the hub's worker threads [the hub's default, 8]
 *   --retry-ms N    after a 503 or a connection the hub closed unanswered, sleep N ms (then 2N, 4N, 8N, 8N, ...
 *                   for further attempts of the same request), each times a random factor 0.5..1.5, and retry [100]
 *   --nice N        run the agents' threads at this nice value (0..19), so that the hub, which in production has
 *                   its machine to itself, gets the CPU first [0]
 *   --keep-alive    keep each agent's connection open after its sync until every agent is done, as kiroku-agent
 *                   run keeps its client between syncs (default: close it at once, as kiroku-agent sync does)
 *   --dir DIR       work directory (must not exist yet) [a fresh /tmp/kiroku-bench-load-XXXXXX]
 *   --keep          keep the work directory (stores, certificates, the hub's log)
 *
 * Each agent runs the agent's exchange itself (kr_outbox_batch, kr_client_post, kr_changeset_decode, kr_merge: what
 * kr_sync_run does) so that each request can be timed around kr_client_post. A request answered 503 (the hub's
 * queue is full) or whose connection the hub closed unanswered is retried after a short sleep and counted; every
 * agent must finish with an empty outbox. Everything before the start (certificates, stores, opening them, the
 * hub) is off the clock. See bench/README.md.
 */
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
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "kiroku/client.h"
#include "kiroku/store.h"
#include "kiroku/sync.h"
#include "kiroku/tls.h"

#include "bench_common.h"

#define GIVE_UP_S 120.0 /* an agent that has not finished after this long counts as failed */

const char bench_prog[] = "bench_load";

static void sleep_ms(double ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)((ms - 1000.0 * (double)(time_t)(ms / 1000)) * 1e6)};
	nanosleep(&ts, NULL);
}

/* ---- the records (as bench_core.c makes them) ---- */

static const char *const categories[] = {"紛失", "漏えい", "誤送付・誤送信", "不正アクセス", "その他"};

static void write_records(struct kr_store *st, long first, long n)
{
	struct kr_error err = {0};
	char desc[512], persons[16], occurred[32];

	if (kr_store_begin(st, &err))
		bench_die("begin", &err);
	for (long i = first; i < first + n; i++) {
		snprintf(desc, sizeof desc,
		         "第%ld号事案：職員が校外学習の引率中に児童名簿を含むUSBメモリを紛失した可能性がある。"
		         "翌朝に気付き、校内と移動経路を捜索中。",
		         i);
		snprintf(persons, sizeof persons, "%ld", i % 40);
		snprintf(occurred, sizeof occurred, "2026-%02ld-%02ldT%02ld:%02ld", 4 + i % 9, 1 + i % 28, 8 + i % 10,
		         i % 60);
		struct kr_field_text f[] = {
		    {"occurred_at", occurred},
		    {"category", categories[i % 5]},
		    {"media", i % 2 ? "USB" : "紙"},
		    {"personal_info", i % 3 ? "yes" : "no"},
		    {"persons_affected", persons},
		    {"description", desc},
		    {"containment", "校内を捜索し、関係者へ連絡した。"},
		};
		kr_ulid id;
		if (kr_record_create(st, "incident", NULL, f, 7, 0, &id, &err))
			bench_die("writing a record", &err);
	}
	if (kr_store_commit(st, &err))
		bench_die("commit", &err);
}

/* ---- the agents ---- */

struct agent {
	struct bench_agent_id id; /* first: bench_new_agents names it, bench_create_agents reads it */
	int index;
	struct kr_store *st;
	struct kr_client *client;
	unsigned seed;
	/* results */
	bool ok;
	struct kr_error err;
	double t_start, t_end;
	struct bench_lat ok_lat;   /* requests answered 200 */
	struct bench_lat busy_lat; /* requests answered 503 */
	unsigned long busy, conn_errors, requests;
	uint64_t sent, received;
	char first_conn_error[256];
};

struct run {
	const char *url, *ca;
	double retry_ms;
	int nice;
	bool keep_alive;
	pthread_mutex_t lock;
	pthread_cond_t all_done;
	int done;
	pthread_barrier_t start;
	struct agent *agents;
	int nagents;
};

static struct run R;

/* One request, retried after a short sleep while the hub is busy (503) or drops the connection unanswered. */
static kr_status post_retrying(struct agent *a, const struct kr_buf *req, struct kr_buf *resp)
{
	for (unsigned attempt = 0;; attempt++) {
		long status = 0;
		double t0 = bench_now_s();
		kr_status s = kr_client_post(a->client, KR_SYNC_PATH, KR_SYNC_CONTENT_TYPE, req->data, req->len,
		                             kr_sync_limits.max_bytes + 65536, &status, resp, &a->err);
		double dt = bench_now_s() - t0;

		a->requests++;
		if (s == KR_OK && status == 200) {
			bench_lat_add(&a->ok_lat, dt);
			return KR_OK;
		}
		if (s == KR_OK && status == 503) {
			a->busy++;
			bench_lat_add(&a->busy_lat, dt);
		} else if (s == KR_ERR_NETWORK || s == KR_ERR_TLS) {
			/* The hub closes a connection at once when its queue and its 503 thread are full (the client
			 * sees a failed handshake); a connection left in the queue past the client's connect timeout
			 * fails too. */
			if (!a->conn_errors++)
				snprintf(a->first_conn_error, sizeof a->first_conn_error, "%s", a->err.msg);
		} else if (s) {
			return s;
		} else {
			kr_buf_terminate(resp);
			return kr_fail(&a->err, KR_ERR_NETWORK, "the hub answered HTTP %ld: %.200s", status,
			               resp->len ? (const char *)resp->data : "");
		}
		if (bench_now_s() - a->t_start > GIVE_UP_S)
			return kr_fail(&a->err, KR_ERR_NETWORK, "gave up after %.0f s of retries (last: %s)", GIVE_UP_S,
			               s ? a->err.msg : "HTTP 503");
		/* Back off: retry_ms, twice that, 4 times, then 8 times that, each with jitter x0.5..1.5. */
		double factor = (double)(1u << (attempt < 3 ? attempt : 3));
		sleep_ms(R.retry_ms * factor * (0.5 + (double)rand_r(&a->seed) / RAND_MAX));
	}
}

/* What kr_sync_run does, with each request timed. */
static kr_status agent_sync(struct agent *a)
{
	struct kr_buf req, resp;
	uint64_t acked_before = kr_store_meta_u64(a->st, "acked"), acked_round = acked_before;
	kr_status s;

	kr_buf_init(&req, 0);
	kr_buf_init(&resp, kr_sync_limits.max_bytes + 65536);
	for (;;) {
		struct kr_changeset cs;
		struct kr_merge_result mr;
		size_t n;

		req.len = 0;
		if ((s = kr_outbox_batch(a->st, &kr_sync_limits, &req, &n, &a->err)) ||
		    (s = post_retrying(a, &req, &resp)))
			break;
		if ((s = kr_changeset_decode(resp.data, resp.len, &kr_sync_limits, &cs, &a->err))) {
			kr_error_prefix(&a->err, "the hub's answer");
			break;
		}
		s = kr_merge(a->st, &cs, NULL, &mr, &a->err);
		bool more = cs.more;
		kr_changeset_release(&cs);
		if (s) {
			kr_error_prefix(&a->err, "applying the hub's answer");
			break;
		}
		a->received += mr.applied;
		uint64_t acked_now = kr_store_meta_u64(a->st, "acked");
		if (kr_store_meta_u64(a->st, "last_seq") == acked_now && !more)
			break;
		if (n > 0 && acked_now == acked_round) {
			s = kr_fail(&a->err, KR_ERR_INTERNAL, "the hub acknowledged none of the %zu changes sent", n);
			break;
		}
		acked_round = acked_now;
	}
	a->sent = kr_store_meta_u64(a->st, "acked") - acked_before;
	kr_buf_release(&req);
	kr_buf_release(&resp);
	return s;
}

static void *agent_main(void *arg)
{
	struct agent *a = arg;
	struct kr_client_config cc = {
	    .base_url = R.url, .ca_file = R.ca, .cert_file = a->id.crt, .key_file = a->id.key, .timeout_ms = 60000};
	kr_status s;

	if (R.nice)
		setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), R.nice);
	/* Off the clock: open the store, set up the client (it connects on first use). */
	s = kr_store_open(a->id.store_path, &a->st, &a->err);
	if (!s)
		s = kr_client_new(&cc, &a->client, &a->err);
	pthread_barrier_wait(&R.start);
	a->t_start = bench_now_s();
	if (!s)
		s = agent_sync(a);
	a->t_end = bench_now_s();
	if (R.keep_alive) {
		/* As kiroku-agent run does: keep the client (and its connection) for the next sync. */
		pthread_mutex_lock(&R.lock);
		if (++R.done == R.nagents)
			pthread_cond_broadcast(&R.all_done);
		while (R.done < R.nagents)
			pthread_cond_wait(&R.all_done, &R.lock);
		pthread_mutex_unlock(&R.lock);
	}
	/* Close the connection: the hub's worker waits on a kept-alive connection until it closes (or for its idle
	 * timeout). */
	kr_client_free(a->client);
	a->client = NULL;
	kr_store_close(a->st);
	a->st = NULL;
	a->ok = s == KR_OK;
	return NULL;
}

/* ---- set-up ---- */

/* Writes an agent's records into its new store (a bench_create_agents fill function). */
static void fill_store(void *agent, int i, void *ctx)
{
	const struct agent *a = agent;
	long changes = *(const long *)ctx;
	struct kr_error err = {0};
	struct kr_store *st;

	if (kr_store_open(a->id.store_path, &st, &err))
		bench_die("creating an agent's store", &err);
	write_records(st, (long)i * changes, changes);
	kr_store_close(st);
}

static const char *argv_threads(long threads)
{
	static char text[24];
	snprintf(text, sizeof text, "%ld", threads);
	return text;
}

static void usage(FILE *out)
{
	fputs("Usage: bench_load [--agents N] [--changes N] [--facilities N] [--hub PATH] [--threads N]\n"
	      "                  [--retry-ms N] [--nice N] [--keep-alive] [--dir DIR] [--keep]\n"
	      "N simulated agents (default 200, over 20 facilities) with N changes each (default 500) sync at once\n"
	      "against one kiroku-hub serve over mutual TLS on loopback; prints requests/s, p50/p99/max latency of\n"
	      "the sync requests, busy answers and retries, and the total time. See bench/README.md.\n",
	      out);
}

int main(int argc, char **argv)
{
	long nagents = 200, changes = 500, nfac = 20, threads = 0, retry_ms = 100;
	struct bench_options opts = {0};
	bool keep_alive = false;
	long nice_opt = 0;
	char dir[PATH_MAX], hub_bin[PATH_MAX], url[64], ca[PATH_MAX];
	struct bench_hub hub;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--agents") == 0)
			nagents = bench_arg_long(a, v, 1, 5000), i++;
		else if (strcmp(a, "--changes") == 0)
			changes = bench_arg_long(a, v, 1, 1000000), i++;
		else if (strcmp(a, "--facilities") == 0)
			nfac = bench_arg_long(a, v, 1, 5000), i++;
		else if (strcmp(a, "--threads") == 0)
			threads = bench_arg_long(a, v, 1, 256), i++;
		else if (strcmp(a, "--nice") == 0)
			nice_opt = bench_arg_long(a, v, 0, 19), i++;
		else if (strcmp(a, "--keep-alive") == 0)
			keep_alive = true;
		else if (strcmp(a, "--retry-ms") == 0)
			retry_ms = bench_arg_long(a, v, 1, 60000), i++;
		else
			bench_option(argc, argv, &i, &opts, usage);
	}
	if (nfac > nagents)
		nfac = nagents;
	bench_find_hub(opts.hub, hub_bin);
	bench_work_dir(opts.dir, "load", dir);
	signal(SIGPIPE, SIG_IGN);
	printf("kiroku bench_load: %ld agents (%ld facilities), %ld changes each, all syncing at once with kiroku-hub "
	       "serve\n(worker threads: %s), mutual TLS on loopback; work directory %s\n",
	       nagents, nfac, changes, threads ? argv_threads(threads) : "the hub's default", dir);

	/* Set-up, off the clock. */
	double t_setup = bench_now_s();
	bench_make_pki(dir);
	struct agent *ag = bench_new_agents((int)nagents, sizeof *ag, nfac, dir);
	for (int i = 0; i < nagents; i++) {
		ag[i].index = i;
		ag[i].seed = (unsigned)i * 2654435761u + 1;
	}
	/* Both cores build: one child process per core. */
	bench_create_agents(dir, ag, sizeof *ag, (int)nagents, fill_store, &changes);
	bench_hub_start(hub_bin, dir, (int)threads, &hub);
	snprintf(url, sizeof url, "https://127.0.0.1:%u", hub.port);
	snprintf(ca, sizeof ca, "%s/pki/ca.crt", dir);
	R.url = url;
	R.ca = ca;
	R.retry_ms = (double)retry_ms;
	R.nice = (int)nice_opt;
	R.keep_alive = keep_alive;
	pthread_mutex_init(&R.lock, NULL);
	pthread_cond_init(&R.all_done, NULL);
	R.agents = ag;
	R.nagents = (int)nagents;
	if (pthread_barrier_init(&R.start, NULL, (unsigned)nagents + 1))
		bench_die("pthread_barrier_init", NULL);
	pthread_t *tids = bench_start_threads((int)nagents, agent_main, ag, sizeof *ag);
	printf("%-40s %8.3f s\n", "set-up: certificates, stores, hub", bench_now_s() - t_setup);
	fflush(stdout);

	/* On the clock: from the start signal until the last agent is done. */
	double hub_cpu0 = bench_proc_cpu_s(hub.pid), gen_cpu0 = bench_self_cpu_s();
	pthread_barrier_wait(&R.start);
	double t0 = bench_now_s();
	for (int i = 0; i < nagents; i++)
		pthread_join(tids[i], NULL);
	double total = 0;
	for (int i = 0; i < nagents; i++)
		if (ag[i].t_end - t0 > total)
			total = ag[i].t_end - t0;
	double hub_cpu = bench_proc_cpu_s(hub.pid) - hub_cpu0, gen_cpu = bench_self_cpu_s() - gen_cpu0;
	long hub_hwm = bench_proc_status_kib(hub.pid, "VmHWM");
	int hub_status = bench_hub_stop(&hub, 20);

	/* Figures. */
	struct bench_lat ok = {0}, busy = {0}, whole = {0};
	unsigned long nbusy = 0, nconn = 0, nreq = 0, failed = 0;
	uint64_t sent = 0, received = 0;
	const char *conn_example = NULL;
	for (int i = 0; i < nagents; i++) {
		struct agent *a = &ag[i];
		for (size_t k = 0; k < a->ok_lat.n; k++)
			bench_lat_add(&ok, a->ok_lat.v[k]);
		for (size_t k = 0; k < a->busy_lat.n; k++)
			bench_lat_add(&busy, a->busy_lat.v[k]);
		bench_lat_add(&whole, a->t_end - t0);
		nbusy += a->busy;
		nconn += a->conn_errors;
		nreq += a->requests;
		sent += a->sent;
		received += a->received;
		if (a->conn_errors && !conn_example)
			conn_example = a->first_conn_error;
		if (!a->ok) {
			if (failed++ < 5)
				fprintf(stderr, "bench_load: agent %s failed: %s\n", a->id.node, a->err.msg);
		}
		free(a->ok_lat.v);
		free(a->busy_lat.v);
	}
	printf("%-40s %8.3f s   (%lu of %ld agents succeeded)\n", "total time, all agents synced", total,
	       (unsigned long)nagents - failed, nagents);
	printf("%-40s %8.0f /s  (%zu sync requests answered 200, %.1f per agent; %lu attempts in all)\n",
	       "requests per second", (double)ok.n / total, ok.n, (double)ok.n / (double)nagents, nreq);
	printf("%-40s %8lu      (%lu answered 503 busy, %lu connections reset or timed out unanswered; retried with "
	       "back-off from ~%ld ms)\n",
	       "retried requests", nbusy + nconn, nbusy, nconn, retry_ms);
	if (conn_example)
		printf("  e.g. %s\n", conn_example);
	bench_print_lat("latency of a sync request (200)", &ok);
	if (busy.n)
		bench_print_lat("latency of a 503 answer", &busy);
	bench_print_lat("time until an agent was done", &whole);
	printf("%-40s %8" PRIu64 "      (acknowledged by the hub; expected %ld); %" PRIu64
	       " received from other nodes of their facility\n",
	       "changes sent", sent, nagents * changes, received);
	printf("%-40s %8.1f MiB\n", "peak memory, hub (kiroku-hub's VmHWM)", (double)hub_hwm / 1024.0);
	printf("%-40s %8.2f s of CPU, the agents (this process) %.2f s, on %ld cores in %.2f s\n", "CPU used: hub",
	       hub_cpu, gen_cpu, sysconf(_SC_NPROCESSORS_ONLN), total);
	printf("target: p99 of a sync request <= 2 s: %s\n", bench_pct(ok.v, ok.n, 0.99) <= 2.0 ? "met" : "NOT met");

	/* Check that the hub holds every record. */
	uint64_t hub_records = bench_hub_records(dir);
	printf("%-40s %8" PRIu64 "      records (expected %ld)\n", "hub store holds", hub_records, nagents * changes);
	bench_hub_check_exit(&hub, hub_status);
	free(ok.v);
	free(busy.v);
	free(whole.v);
	free(tids);
	free(ag);
	bool complete =
	    !failed && sent == (uint64_t)(nagents * changes) && hub_records == (uint64_t)(nagents * changes);
	bench_finish(dir, &hub, opts.keep);
	return complete ? 0 : 1;
}
