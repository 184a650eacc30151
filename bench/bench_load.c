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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kiroku/client.h"
#include "kiroku/store.h"
#include "kiroku/sync.h"
#include "kiroku/tls.h"

#define GIVE_UP_S 120.0 /* an agent that has not finished after this long counts as failed */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const struct kr_error *err)
{
	fprintf(stderr, "bench_load: %s: %s\n", what, err ? err->msg : strerror(errno));
	exit(1);
}

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
		die("begin", &err);
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
			die("writing a record", &err);
	}
	if (kr_store_commit(st, &err))
		die("commit", &err);
}

/* ---- files, processes ---- */

static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;

	if (!d) {
		unlink(path);
		return;
	}
	while ((e = readdir(d))) {
		char sub[PATH_MAX];
		struct stat sb;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
		if (lstat(sub, &sb) == 0 && S_ISDIR(sb.st_mode))
			remove_tree(sub);
		else
			unlink(sub);
	}
	closedir(d);
	rmdir(path);
}

/* VmHWM or VmRSS of a process in KiB; -1 if unreadable. */
static long proc_status_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* CPU seconds (user + system) a process has used so far; -1 if unreadable. */
static double proc_cpu_s(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long ut, stt;
	FILE *f;
	char *p;
	size_t n;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	/* After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15. */
	if (!(p = strrchr(buf, ')')) ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &stt) != 2)
		return -1;
	return (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

struct hub_proc {
	pid_t pid;
	unsigned short port;
	int out_fd;
	char log[PATH_MAX];
};

static void find_hub(char *out, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	char *slash;

	if (n <= 0) {
		snprintf(out, size, "kiroku-hub");
		return;
	}
	self[n] = 0;
	if ((slash = strrchr(self, '/')))
		*slash = 0;
	snprintf(out, size, "%s/../hub/kiroku-hub", self);
}

/* Creates the hub's store and configuration in dir (certificates in dir/pki) and starts `kiroku-hub serve` on a
 * free loopback port. */
static void hub_start(const char *hub_bin, const char *dir, int threads, struct hub_proc *h)
{
	struct kr_error err = {0};
	char conf[PATH_MAX], data[PATH_MAX], store[PATH_MAX], line[256];
	size_t got = 0;
	int pipefd[2];
	FILE *f;

	snprintf(data, sizeof data, "%s/hub", dir);
	snprintf(store, sizeof store, "%s/hub.db", data);
	if (mkdir(data, 0700) != 0)
		die(data, NULL);
	if (kr_store_create(store, KR_ROLE_HUB, "hub", NULL, &err))
		die("creating the hub's store", &err);
	snprintf(conf, sizeof conf, "%s/hub.conf", dir);
	if (!(f = fopen(conf, "w")))
		die(conf, NULL);
	fprintf(f,
	        "[hub]\ndata_dir = %s\nnode = hub\nlisten = 127.0.0.1:0\nca_file = %s/pki/ca.crt\n"
	        "cert_file = %s/pki/hub.crt\nkey_file = %s/pki/hub.key\n",
	        data, dir, dir, dir);
	if (threads > 0)
		fprintf(f, "threads = %d\n", threads);
	fclose(f);
	snprintf(h->log, sizeof h->log, "%s/hub.log", dir);

	if (pipe(pipefd) != 0)
		die("pipe", NULL);
	fflush(NULL);
	h->pid = fork();
	if (h->pid < 0)
		die("fork", NULL);
	if (h->pid == 0) {
		int logfd = open(h->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (logfd < 0 || dup2(pipefd[1], 1) < 0 || dup2(logfd, 2) < 0)
			_exit(127);
		close(pipefd[0]);
		close(pipefd[1]);
		close(logfd);
		unsetenv("KIROKU_TEST_SLEEP_AFTER_COMMIT_MS");
		execl(hub_bin, hub_bin, "--config", conf, "serve", (char *)NULL);
		fprintf(stderr, "bench: cannot run %s: %s\n", hub_bin, strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	h->out_fd = pipefd[0];
	for (double deadline = now_s() + 15; got < sizeof line - 1 && !memchr(line, '\n', got);) {
		struct pollfd p = {.fd = h->out_fd, .events = POLLIN};
		int left = (int)((deadline - now_s()) * 1000);
		ssize_t n;
		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		n = read(h->out_fd, line + got, sizeof line - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	line[got] = 0;
	unsigned port = 0;
	if (sscanf(line, "listening on %*[^:]:%u", &port) != 1 || port == 0 || port > 65535) {
		fprintf(stderr, "bench: the hub (%s) did not start; its log %s says:\n", hub_bin, h->log);
		if ((f = fopen(h->log, "r"))) {
			while (fgets(line, sizeof line, f))
				fputs(line, stderr);
			fclose(f);
		}
		kill(h->pid, SIGKILL);
		waitpid(h->pid, NULL, 0);
		exit(1);
	}
	h->port = (unsigned short)port;
}

static int hub_stop(struct hub_proc *h)
{
	int status = 0;

	kill(h->pid, SIGTERM);
	for (int i = 0; i < 2000; i++) {
		if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
			close(h->out_fd);
			return status;
		}
		sleep_ms(10);
	}
	kill(h->pid, SIGKILL);
	waitpid(h->pid, &status, 0);
	close(h->out_fd);
	return status;
}

/* ---- the agents ---- */

struct lat {
	double *v;
	size_t n, cap;
};

static void lat_add(struct lat *l, double x)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		double *v = realloc(l->v, cap * sizeof *v);
		if (!v) {
			fprintf(stderr, "bench_load: out of memory\n");
			exit(1);
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = x;
}

struct agent {
	int index;
	char node[32], facility[32];
	char store_path[PATH_MAX], crt[PATH_MAX], key[PATH_MAX];
	struct kr_store *st;
	struct kr_client *client;
	unsigned seed;
	/* results */
	bool ok;
	struct kr_error err;
	double t_start, t_end;
	struct lat ok_lat;   /* requests answered 200 */
	struct lat busy_lat; /* requests answered 503 */
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
		double t0 = now_s();
		kr_status s = kr_client_post(a->client, KR_SYNC_PATH, KR_SYNC_CONTENT_TYPE, req->data, req->len,
		                             kr_sync_limits.max_bytes + 65536, &status, resp, &a->err);
		double dt = now_s() - t0;

		a->requests++;
		if (s == KR_OK && status == 200) {
			lat_add(&a->ok_lat, dt);
			return KR_OK;
		}
		if (s == KR_OK && status == 503) {
			a->busy++;
			lat_add(&a->busy_lat, dt);
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
		if (now_s() - a->t_start > GIVE_UP_S)
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
	    .base_url = R.url, .ca_file = R.ca, .cert_file = a->crt, .key_file = a->key, .timeout_ms = 60000};
	kr_status s;

	if (R.nice)
		setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), R.nice);
	/* Off the clock: open the store, set up the client (it connects on first use). */
	s = kr_store_open(a->store_path, &a->st, &a->err);
	if (!s)
		s = kr_client_new(&cc, &a->client, &a->err);
	pthread_barrier_wait(&R.start);
	a->t_start = now_s();
	if (!s)
		s = agent_sync(a);
	a->t_end = now_s();
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

/* Issues the agents' certificates and builds their stores, agents i with i % nworkers == worker. */
static void build_agents(const char *pki, struct agent *ag, int nagents, long changes, int worker, int nworkers)
{
	struct kr_error err = {0};

	for (int i = worker; i < nagents; i += nworkers) {
		struct agent *a = &ag[i];
		struct kr_cert_request req = {.node_id = a->node, .facility_id = a->facility, .days_valid = 30};
		struct kr_store *st;

		if (kr_cert_issue(pki, a->key, a->crt, &req, &err))
			die("issuing an agent's certificate", &err);
		if (kr_store_create(a->store_path, KR_ROLE_AGENT, a->node, a->facility, &err) ||
		    kr_store_open(a->store_path, &st, &err))
			die("creating an agent's store", &err);
		write_records(st, (long)i * changes, changes);
		kr_store_close(st);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v. */
static double pct(const double *v, size_t n, double q)
{
	size_t k;
	if (!n)
		return 0;
	k = (size_t)(q * (double)n + 0.999999);
	return v[k ? k - 1 : 0];
}

static void print_lat(const char *what, struct lat *l)
{
	qsort(l->v, l->n, sizeof *l->v, cmp_double);
	printf("%-40s p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms  (%zu)\n", what, 1000 * pct(l->v, l->n, 0.50),
	       1000 * pct(l->v, l->n, 0.99), l->n ? 1000 * l->v[l->n - 1] : 0, l->n);
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

static long arg_long(const char *opt, const char *v, long min, long max)
{
	char *end;
	long x;
	errno = 0;
	x = v ? strtol(v, &end, 10) : 0;
	if (!v || errno || *end || x < min || x > max) {
		fprintf(stderr, "bench_load: %s wants a whole number from %ld to %ld\n", opt, min, max);
		exit(2);
	}
	return x;
}

int main(int argc, char **argv)
{
	long nagents = 200, changes = 500, nfac = 20, threads = 0, retry_ms = 100;
	const char *hub_opt = NULL, *dir_opt = NULL;
	bool keep = false, keep_alive = false;
	long nice_opt = 0;
	char dir[PATH_MAX], hub_bin[PATH_MAX], pki[PATH_MAX], path[PATH_MAX], url[64], ca[PATH_MAX];
	struct kr_error err = {0};
	struct hub_proc hub;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--agents") == 0)
			nagents = arg_long(a, v, 1, 5000), i++;
		else if (strcmp(a, "--changes") == 0)
			changes = arg_long(a, v, 1, 1000000), i++;
		else if (strcmp(a, "--facilities") == 0)
			nfac = arg_long(a, v, 1, 5000), i++;
		else if (strcmp(a, "--threads") == 0)
			threads = arg_long(a, v, 1, 256), i++;
		else if (strcmp(a, "--nice") == 0)
			nice_opt = arg_long(a, v, 0, 19), i++;
		else if (strcmp(a, "--keep-alive") == 0)
			keep_alive = true;
		else if (strcmp(a, "--retry-ms") == 0)
			retry_ms = arg_long(a, v, 1, 60000), i++;
		else if (strcmp(a, "--hub") == 0 && v)
			hub_opt = v, i++;
		else if (strcmp(a, "--dir") == 0 && v)
			dir_opt = v, i++;
		else if (strcmp(a, "--keep") == 0)
			keep = true;
		else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "bench_load: unknown or incomplete option %s\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (nfac > nagents)
		nfac = nagents;
	if (hub_opt)
		snprintf(hub_bin, sizeof hub_bin, "%s", hub_opt);
	else
		find_hub(hub_bin, sizeof hub_bin);
	if (access(hub_bin, X_OK) != 0) {
		fprintf(stderr, "bench_load: no kiroku-hub at %s (give --hub PATH)\n", hub_bin);
		return 2;
	}
	if (dir_opt) {
		if (!realpath(".", path))
			die("realpath", NULL);
		if (dir_opt[0] == '/')
			snprintf(dir, sizeof dir, "%s", dir_opt);
		else
			snprintf(dir, sizeof dir, "%s/%s", path, dir_opt);
		if (mkdir(dir, 0700) != 0)
			die(dir, NULL);
	} else {
		snprintf(dir, sizeof dir, "/tmp/kiroku-bench-load-XXXXXX");
		if (!mkdtemp(dir))
			die("mkdtemp", NULL);
	}
	signal(SIGPIPE, SIG_IGN);
	printf("kiroku bench_load: %ld agents (%ld facilities), %ld changes each, all syncing at once with kiroku-hub "
	       "serve\n(worker threads: %s), mutual TLS on loopback; work directory %s\n",
	       nagents, nfac, changes, threads ? argv_threads(threads) : "the hub's default", dir);

	/* Set-up, off the clock. */
	double t_setup = now_s();
	struct kr_cert_request hreq = {.node_id = "hub",
	                               .is_server = true,
	                               .dns_names = (const char *[]){"localhost"},
	                               .n_dns_names = 1,
	                               .ipv4_addrs = (const char *[]){"127.0.0.1"},
	                               .n_ipv4_addrs = 1,
	                               .days_valid = 30};
	char hkey[PATH_MAX], hcrt[PATH_MAX];
	snprintf(pki, sizeof pki, "%s/pki", dir);
	snprintf(hkey, sizeof hkey, "%s/hub.key", pki);
	snprintf(hcrt, sizeof hcrt, "%s/hub.crt", pki);
	if (kr_ca_init(pki, "kiroku bench CA", &err) || kr_cert_issue(pki, hkey, hcrt, &hreq, &err))
		die("making the CA and the hub's certificate", &err);
	snprintf(path, sizeof path, "%s/agents", dir);
	if (mkdir(path, 0700) != 0)
		die(path, NULL);
	struct agent *ag = calloc((size_t)nagents, sizeof *ag);
	if (!ag)
		die("out of memory", NULL);
	long per_fac = (nagents + nfac - 1) / nfac;
	for (int i = 0; i < nagents; i++) {
		struct agent *a = &ag[i];
		a->index = i;
		snprintf(a->facility, sizeof a->facility, "school-%02ld", i / per_fac);
		snprintf(a->node, sizeof a->node, "school-%02ld-pc%ld", i / per_fac, i % per_fac);
		snprintf(a->store_path, sizeof a->store_path, "%s/agents/%s.db", dir, a->node);
		snprintf(a->crt, sizeof a->crt, "%s/%s.crt", pki, a->node);
		snprintf(a->key, sizeof a->key, "%s/%s.key", pki, a->node);
		a->seed = (unsigned)i * 2654435761u + 1;
	}
	/* Both cores build: one child process per core. */
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int nworkers = ncpu > 1 ? (int)ncpu : 1;
	pid_t *kids = calloc((size_t)nworkers, sizeof *kids);
	fflush(NULL);
	for (int w = 0; w < nworkers; w++) {
		kids[w] = fork();
		if (kids[w] < 0)
			die("fork", NULL);
		if (kids[w] == 0) {
			build_agents(pki, ag, (int)nagents, changes, w, nworkers);
			_exit(0);
		}
	}
	for (int w = 0; w < nworkers; w++) {
		int ws;
		if (waitpid(kids[w], &ws, 0) != kids[w] || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
			fprintf(stderr, "bench_load: building the agents failed\n");
			return 1;
		}
	}
	free(kids);
	hub_start(hub_bin, dir, (int)threads, &hub);
	snprintf(url, sizeof url, "https://127.0.0.1:%u", hub.port);
	snprintf(ca, sizeof ca, "%s/ca.crt", pki);
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
		die("pthread_barrier_init", NULL);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, (size_t)1 << 20);
	pthread_t *tids = calloc((size_t)nagents, sizeof *tids);
	for (int i = 0; i < nagents; i++)
		if (pthread_create(&tids[i], &attr, agent_main, &ag[i])) {
			fprintf(stderr, "bench_load: cannot start thread %d\n", i);
			return 1;
		}
	printf("%-40s %8.3f s\n", "set-up: certificates, stores, hub", now_s() - t_setup);
	fflush(stdout);

	/* On the clock: from the start signal until the last agent is done. */
	double hub_cpu0 = proc_cpu_s(hub.pid), gen_cpu0 = self_cpu_s();
	pthread_barrier_wait(&R.start);
	double t0 = now_s();
	for (int i = 0; i < nagents; i++)
		pthread_join(tids[i], NULL);
	double total = 0;
	for (int i = 0; i < nagents; i++)
		if (ag[i].t_end - t0 > total)
			total = ag[i].t_end - t0;
	double hub_cpu = proc_cpu_s(hub.pid) - hub_cpu0, gen_cpu = self_cpu_s() - gen_cpu0;
	long hub_hwm = proc_status_kib(hub.pid, "VmHWM");
	int hub_status = hub_stop(&hub);

	/* Figures. */
	struct lat ok = {0}, busy = {0}, whole = {0};
	unsigned long nbusy = 0, nconn = 0, nreq = 0, failed = 0;
	uint64_t sent = 0, received = 0;
	const char *conn_example = NULL;
	for (int i = 0; i < nagents; i++) {
		struct agent *a = &ag[i];
		for (size_t k = 0; k < a->ok_lat.n; k++)
			lat_add(&ok, a->ok_lat.v[k]);
		for (size_t k = 0; k < a->busy_lat.n; k++)
			lat_add(&busy, a->busy_lat.v[k]);
		lat_add(&whole, a->t_end - t0);
		nbusy += a->busy;
		nconn += a->conn_errors;
		nreq += a->requests;
		sent += a->sent;
		received += a->received;
		if (a->conn_errors && !conn_example)
			conn_example = a->first_conn_error;
		if (!a->ok) {
			if (failed++ < 5)
				fprintf(stderr, "bench_load: agent %s failed: %s\n", a->node, a->err.msg);
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
	print_lat("latency of a sync request (200)", &ok);
	if (busy.n)
		print_lat("latency of a 503 answer", &busy);
	print_lat("time until an agent was done", &whole);
	printf("%-40s %8" PRIu64 "      (acknowledged by the hub; expected %ld); %" PRIu64
	       " received from other nodes of their facility\n",
	       "changes sent", sent, nagents * changes, received);
	printf("%-40s %8.1f MiB\n", "peak memory, hub (kiroku-hub's VmHWM)", (double)hub_hwm / 1024.0);
	printf("%-40s %8.2f s of CPU, the agents (this process) %.2f s, on %ld cores in %.2f s\n", "CPU used: hub",
	       hub_cpu, gen_cpu, sysconf(_SC_NPROCESSORS_ONLN), total);
	printf("target: p99 of a sync request <= 2 s: %s\n", pct(ok.v, ok.n, 0.99) <= 2.0 ? "met" : "NOT met");

	/* Check that the hub holds every record. */
	struct kr_store *hs;
	struct kr_store_status hss = {0};
	snprintf(path, sizeof path, "%s/hub/hub.db", dir);
	if (kr_store_open(path, &hs, &err) || kr_store_status(hs, &hss, &err))
		die("reading the hub's store", &err);
	kr_store_close(hs);
	printf("%-40s %8" PRIu64 "      records (expected %ld)\n", "hub store holds", hss.records, nagents * changes);
	if (!WIFEXITED(hub_status) || WEXITSTATUS(hub_status) != 0)
		printf("warning: the hub did not exit cleanly (status 0x%x); see %s\n", (unsigned)hub_status, hub.log);
	free(ok.v);
	free(busy.v);
	free(whole.v);
	free(tids);
	free(ag);
	bool complete =
	    !failed && sent == (uint64_t)(nagents * changes) && hss.records == (uint64_t)(nagents * changes);
	if (keep)
		printf("kept %s (hub log: %s)\n", dir, hub.log);
	else
		remove_tree(dir);
	return complete ? 0 : 1;
}
