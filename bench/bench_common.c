/* bench_common.c: what the benchmarks that run the real hub share: clock, /proc, work directory, CA, the hub. */
#include "bench_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kiroku/store.h"
#include "kiroku/tls.h"

double bench_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bench_die(const char *what, const struct kr_error *err)
{
	fprintf(stderr, "%s: %s: %s\n", bench_prog, what, err ? err->msg : strerror(errno));
	exit(1);
}

long bench_arg_long(const char *opt, const char *v, long min, long max)
{
	char *end;
	long x;
	errno = 0;
	x = v ? strtol(v, &end, 10) : 0;
	if (!v || errno || *end || x < min || x > max) {
		fprintf(stderr, "%s: %s wants a whole number from %ld to %ld\n", bench_prog, opt, min, max);
		exit(2);
	}
	return x;
}

void bench_option(int argc, char **argv, int *i, struct bench_options *o, void (*usage)(FILE *out))
{
	const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;

	if (strcmp(a, "--hub") == 0 && v) {
		o->hub = v;
		++*i;
	} else if (strcmp(a, "--dir") == 0 && v) {
		o->dir = v;
		++*i;
	} else if (strcmp(a, "--keep") == 0) {
		o->keep = true;
	} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
		usage(stdout);
		exit(0);
	} else {
		fprintf(stderr, "%s: unknown or incomplete option %s\n", bench_prog, a);
		usage(stderr);
		exit(2);
	}
}

/* ---- files ---- */

void bench_work_dir(const char *dir_opt, const char *name, char *dir)
{
	char cwd[PATH_MAX];

	if (dir_opt) {
		if (!realpath(".", cwd))
			bench_die("realpath", NULL);
		if (dir_opt[0] == '/')
			snprintf(dir, PATH_MAX, "%s", dir_opt);
		else
			snprintf(dir, PATH_MAX, "%s/%s", cwd, dir_opt);
		if (mkdir(dir, 0700) != 0)
			bench_die(dir, NULL);
	} else {
		snprintf(dir, PATH_MAX, "/tmp/kiroku-bench-%s-XXXXXX", name);
		if (!mkdtemp(dir))
			bench_die("mkdtemp", NULL);
	}
}

void bench_remove_tree(const char *path)
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
			bench_remove_tree(sub);
		else
			unlink(sub);
	}
	closedir(d);
	rmdir(path);
}

/* ---- /proc ---- */

long bench_proc_status_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	if (pid)
		snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	else
		snprintf(path, sizeof path, "/proc/self/status");
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

double bench_proc_cpu_s(pid_t pid)
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

double bench_self_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- the hub, as a separate process ---- */

void bench_find_hub(const char *hub_opt, char *out)
{
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (hub_opt) {
		snprintf(out, PATH_MAX, "%s", hub_opt);
	} else if ((n = readlink("/proc/self/exe", self, sizeof self - 1)) <= 0) {
		snprintf(out, PATH_MAX, "kiroku-hub");
	} else {
		self[n] = 0;
		if ((slash = strrchr(self, '/')))
			*slash = 0;
		snprintf(out, PATH_MAX, "%s/../hub/kiroku-hub", self);
	}
	if (access(out, X_OK) != 0) {
		fprintf(stderr, "%s: no kiroku-hub at %s (give --hub PATH)\n", bench_prog, out);
		exit(2);
	}
}

void bench_make_pki(const char *dir)
{
	struct kr_error err = {0};
	char pki[PATH_MAX], key[PATH_MAX], crt[PATH_MAX];
	const char *dns[] = {"localhost"}, *ips[] = {"127.0.0.1"};
	struct kr_cert_request hub = {.node_id = "hub",
	                              .is_server = true,
	                              .dns_names = dns,
	                              .n_dns_names = 1,
	                              .ipv4_addrs = ips,
	                              .n_ipv4_addrs = 1,
	                              .days_valid = 30};

	snprintf(pki, sizeof pki, "%s/pki", dir);
	if (kr_ca_init(pki, "kiroku bench CA", &err))
		bench_die("making the CA", &err);
	snprintf(key, sizeof key, "%s/hub.key", pki);
	snprintf(crt, sizeof crt, "%s/hub.crt", pki);
	if (kr_cert_issue(pki, key, crt, &hub, &err))
		bench_die("issuing the hub's certificate", &err);
}

void bench_hub_start(const char *hub_bin, const char *dir, int threads, struct bench_hub *h)
{
	struct kr_error err = {0};
	char conf[PATH_MAX], data[PATH_MAX], store[PATH_MAX], line[256];
	size_t got = 0;
	int pipefd[2];
	FILE *f;

	snprintf(data, sizeof data, "%s/hub", dir);
	snprintf(store, sizeof store, "%s/hub.db", data);
	if (mkdir(data, 0700) != 0)
		bench_die(data, NULL);
	if (kr_store_create(store, KR_ROLE_HUB, "hub", NULL, &err))
		bench_die("creating the hub's store", &err);
	snprintf(conf, sizeof conf, "%s/hub.conf", dir);
	if (!(f = fopen(conf, "w")))
		bench_die(conf, NULL);
	fprintf(f,
	        "[hub]\ndata_dir = %s\nnode = hub\nlisten = 127.0.0.1:0\nca_file = %s/pki/ca.crt\n"
	        "cert_file = %s/pki/hub.crt\nkey_file = %s/pki/hub.key\n",
	        data, dir, dir, dir);
	if (threads > 0)
		fprintf(f, "threads = %d\n", threads);
	fclose(f);
	snprintf(h->log, sizeof h->log, "%s/hub.log", dir);

	if (pipe(pipefd) != 0)
		bench_die("pipe", NULL);
	fflush(NULL);
	h->pid = fork();
	if (h->pid < 0)
		bench_die("fork", NULL);
	if (h->pid == 0) {
		int logfd = open(h->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (logfd < 0 || dup2(pipefd[1], 1) < 0 || dup2(logfd, 2) < 0)
			_exit(127);
		close(pipefd[0]);
		close(pipefd[1]);
		close(logfd);
		/* The tests' slow-commit knobs would slow the hub measured here. */
		unsetenv("KIROKU_TEST_SLEEP_AFTER_COMMIT_MS");
		unsetenv("KIROKU_TEST_SLEEP_BEFORE_COMMIT_MS");
		execl(hub_bin, hub_bin, "--config", conf, "serve", (char *)NULL);
		fprintf(stderr, "%s: cannot run %s: %s\n", bench_prog, hub_bin, strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	h->out_fd = pipefd[0];
	/* "listening on 127.0.0.1:PORT\n" on stdout once it serves. */
	for (double deadline = bench_now_s() + 15; got < sizeof line - 1 && !memchr(line, '\n', got);) {
		struct pollfd p = {.fd = h->out_fd, .events = POLLIN};
		int left = (int)((deadline - bench_now_s()) * 1000);
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
		fprintf(stderr, "%s: the hub (%s) did not start; its log %s says:\n", bench_prog, hub_bin, h->log);
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

int bench_hub_stop(struct bench_hub *h, int wait_s)
{
	int status = 0;

	kill(h->pid, SIGTERM);
	for (int i = 0; i < wait_s * 100; i++) {
		if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
			close(h->out_fd);
			return status;
		}
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
	kill(h->pid, SIGKILL);
	waitpid(h->pid, &status, 0);
	close(h->out_fd);
	return status;
}

uint64_t bench_hub_records(const char *dir)
{
	struct kr_error err = {0};
	struct kr_store *hs;
	struct kr_store_status hss = {0};
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/hub/hub.db", dir);
	if (kr_store_open(path, &hs, &err) || kr_store_status(hs, &hss, &err))
		bench_die("reading the hub's store", &err);
	kr_store_close(hs);
	return hss.records;
}

void bench_hub_check_exit(const struct bench_hub *h, int status)
{
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		printf("warning: the hub did not exit cleanly (status 0x%x); see %s\n", (unsigned)status, h->log);
}

void bench_finish(const char *dir, const struct bench_hub *h, bool keep)
{
	if (keep)
		printf("kept %s (hub log: %s)\n", dir, h->log);
	else
		bench_remove_tree(dir);
}

/* ---- simulated agents ---- */

void *bench_new_agents(int n, size_t size, long nfac, const char *dir)
{
	char *agents = calloc((size_t)n, size);
	long per_fac = (n + nfac - 1) / nfac;

	if (!agents)
		bench_die("out of memory", NULL);
	for (int i = 0; i < n; i++) {
		struct bench_agent_id *id = (void *)(agents + (size_t)i * size);
		snprintf(id->facility, sizeof id->facility, "school-%02ld", i / per_fac);
		snprintf(id->node, sizeof id->node, "school-%02ld-pc%ld", i / per_fac, i % per_fac);
		snprintf(id->store_path, sizeof id->store_path, "%s/agents/%s.db", dir, id->node);
		snprintf(id->crt, sizeof id->crt, "%s/pki/%s.crt", dir, id->node);
		snprintf(id->key, sizeof id->key, "%s/pki/%s.key", dir, id->node);
	}
	return agents;
}

/* In a child: creates the agents i with i % nworkers == worker. */
static void create_agents(const char *dir, void *first, size_t size, int n, int worker, int nworkers,
                          void (*fill)(void *agent, int i, void *ctx), void *ctx)
{
	struct kr_error err = {0};
	char pki[PATH_MAX];

	snprintf(pki, sizeof pki, "%s/pki", dir);
	for (int i = worker; i < n; i += nworkers) {
		const struct bench_agent_id *id = (const void *)((char *)first + (size_t)i * size);
		struct kr_cert_request req = {.node_id = id->node, .facility_id = id->facility, .days_valid = 30};

		if (kr_cert_issue(pki, id->key, id->crt, &req, &err))
			bench_die("issuing an agent's certificate", &err);
		if (kr_store_create(id->store_path, KR_ROLE_AGENT, id->node, id->facility, &err))
			bench_die("creating an agent's store", &err);
		if (fill)
			fill((char *)first + (size_t)i * size, i, ctx);
	}
}

void bench_create_agents(const char *dir, void *first, size_t size, int n, void (*fill)(void *agent, int i, void *ctx),
                         void *ctx)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int nworkers = ncpu > 1 ? (int)ncpu : 1;
	char path[PATH_MAX];
	pid_t *kids;

	snprintf(path, sizeof path, "%s/agents", dir);
	if (mkdir(path, 0700) != 0)
		bench_die(path, NULL);
	if (!(kids = calloc((size_t)nworkers, sizeof *kids)))
		bench_die("out of memory", NULL);
	fflush(NULL);
	for (int w = 0; w < nworkers; w++) {
		if ((kids[w] = fork()) < 0)
			bench_die("fork", NULL);
		if (kids[w] == 0) {
			create_agents(dir, first, size, n, w, nworkers, fill, ctx);
			_exit(0);
		}
	}
	for (int w = 0; w < nworkers; w++) {
		int ws;
		if (waitpid(kids[w], &ws, 0) != kids[w] || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
			fprintf(stderr, "%s: building the agents failed\n", bench_prog);
			exit(1);
		}
	}
	free(kids);
}

pthread_t *bench_start_threads(int n, void *(*fn)(void *), void *first, size_t size)
{
	pthread_attr_t attr;
	pthread_t *tids = calloc((size_t)n, sizeof *tids);

	if (!tids)
		bench_die("out of memory", NULL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, (size_t)1 << 20);
	for (int i = 0; i < n; i++)
		if (pthread_create(&tids[i], &attr, fn, (char *)first + (size_t)i * size)) {
			fprintf(stderr, "%s: cannot start thread %d\n", bench_prog, i);
			exit(1);
		}
	pthread_attr_destroy(&attr);
	return tids;
}

/* ---- latencies ---- */

void bench_lat_add(struct bench_lat *l, double x)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		double *v = realloc(l->v, cap * sizeof *v);
		if (!v) {
			fprintf(stderr, "%s: out of memory\n", bench_prog);
			exit(1);
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = x;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double bench_pct(const double *v, size_t n, double q)
{
	size_t k;
	if (!n)
		return 0;
	k = (size_t)(q * (double)n + 0.999999);
	return v[k ? k - 1 : 0];
}

void bench_print_lat(const char *what, struct bench_lat *l)
{
	qsort(l->v, l->n, sizeof *l->v, cmp_double);
	printf("%-40s p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms  (%zu)\n", what, 1000 * bench_pct(l->v, l->n, 0.50),
	       1000 * bench_pct(l->v, l->n, 0.99), l->n ? 1000 * l->v[l->n - 1] : 0, l->n);
}
