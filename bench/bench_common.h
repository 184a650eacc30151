/* bench_common.h: what the benchmarks that run the real hub (bench_sync, bench_load, bench_soak) share.
 *
 * The clock, readers of /proc, the work directory, the test CA, starting and stopping `kiroku-hub serve` as a
 * child process on a free loopback port, latency lists and their percentiles. These are benchmarks, not the
 * library: a function that cannot do its part prints "PROG: what: why" on stderr and exits 1 (2 for a bad
 * command line), PROG being the bench_prog the benchmark defines.
 */
#ifndef KR_BENCH_COMMON_H
#define KR_BENCH_COMMON_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "kiroku/error.h"

/* The benchmark's name, the start of every message: each benchmark defines it, e.g. "bench_sync". */
extern const char bench_prog[];

/* CLOCK_MONOTONIC in seconds. */
double bench_now_s(void);
/* Prints "PROG: what: MESSAGE" (err's, else errno's) and exits 1. */
void bench_die(const char *what, const struct kr_error *err) __attribute__((noreturn));
/* The whole number v of option opt, from min to max; else says so and exits 2 (v NULL: the value is missing). */
long bench_arg_long(const char *opt, const char *v, long min, long max);

/* The options every benchmark takes. */
struct bench_options {
	const char *hub; /* --hub PATH */
	const char *dir; /* --dir DIR */
	bool keep;       /* --keep */
};

/* Takes argv[*i] when it is one of the options every benchmark takes, moving *i past its value; -h or --help
 * prints usage on stdout and exits 0; anything else (or a value missing) is said to be unknown, usage printed
 * on stderr, exit 2. */
void bench_option(int argc, char **argv, int *i, struct bench_options *o, void (*usage)(FILE *out));

/* ---- files ---- */

/* Makes the work directory into dir (PATH_MAX): dir_opt (relative to the current directory; it must not exist
 * yet), else a fresh /tmp/kiroku-bench-NAME-XXXXXX. */
void bench_work_dir(const char *dir_opt, const char *name, char *dir);
/* Removes path and everything below it, as far as it can. */
void bench_remove_tree(const char *path);

/* ---- /proc ---- */

/* A "Key: N kB" line of /proc/PID/status (VmHWM, VmRSS, Threads, ...), pid 0 meaning this process; -1 if
 * unreadable. */
long bench_proc_status_kib(pid_t pid, const char *key);
/* CPU seconds (user + system) process pid has used so far; -1 if unreadable. */
double bench_proc_cpu_s(pid_t pid);
/* CPU seconds (user + system) this process has used so far. */
double bench_self_cpu_s(void);

/* ---- the hub, as a separate process ---- */

struct bench_hub {
	pid_t pid;
	unsigned short port;
	int out_fd; /* its stdout */
	char log[PATH_MAX];
};

/* The kiroku-hub binary into out (PATH_MAX): hub_opt, else ../hub/kiroku-hub next to this program. Exits 2
 * when it is not executable. */
void bench_find_hub(const char *hub_opt, char *out);
/* Makes a CA and the hub's server certificate (localhost, 127.0.0.1) in dir/pki. */
void bench_make_pki(const char *dir);
/* Creates the hub's store (dir/hub) and configuration (dir/hub.conf, certificates from dir/pki, threads
 * workers unless 0) and starts `kiroku-hub serve` on a free loopback port, its log in dir/hub.log. Exits
 * with the log on stderr when the hub does not say where it listens within 15 s. */
void bench_hub_start(const char *hub_bin, const char *dir, int threads, struct bench_hub *h);
/* SIGTERM, then wait (SIGKILL after wait_s seconds). Returns the exit status as waitpid gives it. */
int bench_hub_stop(struct bench_hub *h, int wait_s);
/* The records the hub's store in dir holds (read after the hub has stopped). */
uint64_t bench_hub_records(const char *dir);
/* Prints a warning naming the hub's log when status (from bench_hub_stop) is not a clean exit. */
void bench_hub_check_exit(const struct bench_hub *h, int status);
/* Keeps the work directory (and says so) or removes it. */
void bench_finish(const char *dir, const struct bench_hub *h, bool keep);

/* ---- simulated agents (bench_load, bench_soak) ---- */

/* Who a simulated agent is and where its files are. */
struct bench_agent_id {
	char node[32], facility[32];
	char store_path[PATH_MAX], crt[PATH_MAX], key[PATH_MAX];
};

/* Allocates n agents of size bytes each, zeroed but for the struct bench_agent_id each starts with: agent i is
 * node school-FF-pcN of facility school-FF (the agents spread over nfac facilities), its store
 * dir/agents/NODE.db, its certificate and key dir/pki/NODE.crt and NODE.key. Free it; exits 1 when out of
 * memory. */
void *bench_new_agents(int n, size_t size, long nfac, const char *dir);
/* Makes dir/agents, then for each of the n agents first, first + size, ... (from bench_new_agents) issues its
 * certificate from the CA in dir/pki (bench_make_pki), creates its empty store and calls fill(agent, i, ctx) unless
 * fill is NULL: in one child process per core, so whatever fill changes in memory is lost. Exits 1 if any of that
 * failed. */
void bench_create_agents(const char *dir, void *first, size_t size, int n, void (*fill)(void *agent, int i, void *ctx),
                         void *ctx);
/* Starts n threads fn(first + i * size), with 1 MiB stacks. Returns the thread ids (to free); exits 1 if one
 * cannot start. */
pthread_t *bench_start_threads(int n, void *(*fn)(void *), void *first, size_t size);

/* ---- latencies ---- */

/* A growing list of durations in seconds; {0} is empty. */
struct bench_lat {
	double *v;
	size_t n, cap;
};

/* Appends x; exits 1 when out of memory. */
void bench_lat_add(struct bench_lat *l, double x);
/* Sorts l (for bench_pct) and prints "WHAT p50 ... p99 ... max ... (N)" in milliseconds. */
void bench_print_lat(const char *what, struct bench_lat *l);
/* Nearest-rank percentile q (0..1) of the sorted v; 0 when empty. */
double bench_pct(const double *v, size_t n, double q);

#endif
