/* bench_sync.c: the end-to-end sync figure: one agent store holding N incident records of about seven fields
 * (Japanese text, ~200-byte description) in its outbox syncs them to the real hub over mutual TLS on loopback
 * (kr_client + kr_sync_run, one kept connection); in the same run, the plain SQLite limit (the same rows upserted
 * into an indexed table in one transaction) and the ratio of the two; the peak resident memory of both sides.
 *
 * Usage: bench_sync [--records N] [--hub PATH] [--threads N] [--dir DIR] [--keep] [--verbose]
 *   --records N   records in the agent's outbox [100000]
 *   --hub PATH    the kiroku-hub binary [../hub/kiroku-hub next to this program]
 *   --threads N   the hub's worker threads [the hub's default]
 *   --dir DIR     work directory (must not exist yet) [a fresh /tmp/kiroku-bench-sync-XXXXXX]
 *   --keep        keep the work directory (stores, certificates, the hub's log) instead of removing it
 *   --verbose     also print the sync's window in CLOCK_MONOTONIC seconds (to cut a perf recording to it)
 *
 * The hub runs as its own process (kiroku-hub serve, with a configuration file written here), so its peak memory
 * (VmHWM of /proc/PID/status, read just before it is stopped) is its own. The agent's store is built in a child
 * process before the clock starts, so the agent figure (this process's VmHWM, reset just before the sync) is the
 * sync's. Every store is durable as in production (WAL, synchronous=FULL). See bench/README.md.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_acked / tcpi_bytes_received (glibc's lacks them) */
#include <sqlite3.h>

#include "kiroku/client.h"
#include "kiroku/store.h"
#include "kiroku/sync.h"
#include "kiroku/tls.h"

#include "bench_common.h"

#define AGENT_NODE     "school-a-pc1"
#define AGENT_FACILITY "school-a"

const char bench_prog[] = "bench_sync";

/* ---- the records (as bench_core.c makes them) ---- */

static const char *const categories[] = {"紛失", "漏えい", "誤送付・誤送信", "不正アクセス", "その他"};
#define CONTAINMENT "校内を捜索し、関係者へ連絡した。"

/* About 200 bytes of Japanese description, varying with i. */
static void description(char *out, size_t size, long i)
{
	snprintf(out, size,
	         "第%ld号事案：職員が校外学習の引率中に児童名簿を含むUSBメモリを紛失した可能性がある。"
	         "翌朝に気付き、校内と移動経路を捜索中。",
	         i);
}

static void occurred_at(char *out, size_t size, long i)
{
	snprintf(out, size, "2026-%02ld-%02ldT%02ld:%02ld", 4 + i % 9, 1 + i % 28, 8 + i % 10, i % 60);
}

/* Writes n records through the library, 1,000 per transaction. */
static void write_records(struct kr_store *st, long n)
{
	struct kr_error err = {0};
	char desc[512], persons[16], occurred[32];

	for (long i = 0; i < n; i++) {
		if (i % 1000 == 0 && kr_store_begin(st, &err))
			bench_die("begin", &err);
		description(desc, sizeof desc, i);
		snprintf(persons, sizeof persons, "%ld", i % 40);
		occurred_at(occurred, sizeof occurred, i);
		struct kr_field_text f[] = {
		    {"occurred_at", occurred},       {"category", categories[i % 5]},
		    {"media", i % 2 ? "USB" : "紙"}, {"personal_info", i % 3 ? "yes" : "no"},
		    {"persons_affected", persons},   {"description", desc},
		    {"containment", CONTAINMENT},
		};
		kr_ulid id;
		if (kr_record_create(st, "incident", NULL, f, 7, 0, &id, &err))
			bench_die("writing a record", &err);
		if ((i % 1000 == 999 || i == n - 1) && kr_store_commit(st, &err))
			bench_die("commit", &err);
	}
}

/* ---- memory and the wire ---- */

/* Resets this process's VmHWM to its current RSS (Linux 4.0+); false if the kernel refused. */
static bool reset_peak_rss(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);
	bool ok = fd >= 0 && write(fd, "5", 1) == 1;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* The bytes this process's TCP connections to 127.0.0.1:port carried, as the kernel counts them (TLS records and
 * HTTP heads included): sent and acknowledged, and received. */
static void wire_bytes(unsigned short port, unsigned long long *sent, unsigned long long *received, int *conns)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	*sent = *received = 0;
	*conns = 0;
	if (!d)
		return;
	while ((e = readdir(d))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		struct sockaddr_in peer;
		socklen_t pl = sizeof peer;
		struct tcp_info ti;
		socklen_t tl = sizeof ti;
		struct stat sb;

		if (*end || fd < 0 || fd == dirfd(d) || fstat((int)fd, &sb) != 0 || !S_ISSOCK(sb.st_mode))
			continue;
		if (getpeername((int)fd, (struct sockaddr *)&peer, &pl) != 0 || peer.sin_family != AF_INET ||
		    ntohs(peer.sin_port) != port)
			continue;
		memset(&ti, 0, sizeof ti);
		if (getsockopt((int)fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) != 0 ||
		    tl < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received)
			continue;
		*sent += ti.tcpi_bytes_acked;
		*received += ti.tcpi_bytes_received;
		(*conns)++;
	}
	closedir(d);
}

/* ---- the hub, as a separate process ---- */

/* Issues the agent's client certificate from the CA in dir/pki (bench_make_pki). */
static void issue_agent_cert(const char *dir)
{
	struct kr_error err = {0};
	char pki[PATH_MAX], key[PATH_MAX], crt[PATH_MAX];
	struct kr_cert_request agent = {.node_id = AGENT_NODE, .facility_id = AGENT_FACILITY, .days_valid = 30};

	snprintf(pki, sizeof pki, "%s/pki", dir);
	snprintf(key, sizeof key, "%s/agent.key", pki);
	snprintf(crt, sizeof crt, "%s/agent.crt", pki);
	if (kr_cert_issue(pki, key, crt, &agent, &err))
		bench_die("issuing the agent's certificate", &err);
}

/* Sums the "ms=" of the hub's per-request log lines: the time the hub spent in its sync handler
 * (decode, merge and commit, export). */
static double hub_handler_ms(const char *log, unsigned *lines)
{
	char line[1024];
	double sum = 0;
	FILE *f = fopen(log, "r");

	*lines = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f)) {
		const char *p = strstr(line, " ms=");
		if (strstr(line, " sync node=") && p) {
			sum += strtod(p + 4, NULL);
			(*lines)++;
		}
	}
	fclose(f);
	return sum;
}

/* ---- the plain SQLite limit ---- */

/* The same rows (the records' fields as JSON, as the store keeps them) upserted into an indexed table in one
 * transaction, WAL with synchronous=FULL. Returns the seconds. */
static double plain_sqlite(const char *path, long n)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	char desc[512], occurred[32], fields[2048];
	uint8_t id[16] = {0};
	double t0;

	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db,
	                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	                 "CREATE TABLE t(id BLOB PRIMARY KEY, kind TEXT, facility TEXT, updated INTEGER, fields TEXT);"
	                 "CREATE INDEX t_kind ON t(kind, facility);",
	                 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
	                       "INSERT INTO t(id, kind, facility, updated, fields) VALUES (?1, 'incident', ?2, ?3, ?4) "
	                       "ON CONFLICT(id) DO UPDATE SET updated = excluded.updated, fields = excluded.fields",
	                       -1, &q, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_sync: plain SQLite: %s\n", sqlite3_errmsg(db));
		exit(1);
	}
	t0 = bench_now_s();
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (long i = 0; i < n; i++) {
		description(desc, sizeof desc, i);
		occurred_at(occurred, sizeof occurred, i);
		snprintf(fields, sizeof fields,
		         "{\"category\":\"%s\",\"containment\":\"" CONTAINMENT
		         "\",\"description\":\"%s\",\"media\":\"%s\","
		         "\"occurred_at\":\"%s\",\"persons_affected\":%ld,\"personal_info\":%s}",
		         categories[i % 5], desc, i % 2 ? "USB" : "紙", occurred, i % 40, i % 3 ? "true" : "false");
		memcpy(id, &i, sizeof i);
		sqlite3_bind_blob(q, 1, id, 16, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, AGENT_FACILITY, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, i);
		sqlite3_bind_text(q, 4, fields, -1, SQLITE_STATIC);
		if (sqlite3_step(q) != SQLITE_DONE) {
			fprintf(stderr, "bench_sync: plain SQLite: %s\n", sqlite3_errmsg(db));
			exit(1);
		}
		sqlite3_reset(q);
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_sync: plain SQLite commit: %s\n", sqlite3_errmsg(db));
		exit(1);
	}
	double dt = bench_now_s() - t0;
	sqlite3_finalize(q);
	sqlite3_close(db);
	return dt;
}

/* ---- main ---- */

static void usage(FILE *out)
{
	fputs("Usage: bench_sync [--records N] [--hub PATH] [--threads N] [--dir DIR] [--keep] [--verbose]\n"
	      "Syncs N incident records (default 100000) from one agent store to kiroku-hub serve over mutual TLS\n"
	      "on loopback and prints the time, changes/s, round trips, bytes on the wire, peak memory of both\n"
	      "sides, and the plain SQLite limit for the same rows. See bench/README.md.\n",
	      out);
}

int main(int argc, char **argv)
{
	long n = 100000, threads = 0;
	struct bench_options opts = {0};
	bool verbose = false;
	char dir[PATH_MAX], hub_bin[PATH_MAX], path[PATH_MAX], url[64];
	struct kr_error err = {0};
	struct bench_hub hub;
	struct kr_store *st;
	struct kr_client *client;
	struct kr_store_status ss;
	struct kr_sync_result res;
	pid_t child;
	int wstatus;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--records") == 0)
			n = bench_arg_long(a, i + 1 < argc ? argv[++i] : NULL, 1, 100000000);
		else if (strcmp(a, "--threads") == 0)
			threads = bench_arg_long(a, i + 1 < argc ? argv[++i] : NULL, 1, 256);
		else if (strcmp(a, "--verbose") == 0)
			verbose = true;
		else
			bench_option(argc, argv, &i, &opts, usage);
	}
	bench_find_hub(opts.hub, hub_bin);
	bench_work_dir(opts.dir, "sync", dir);
	signal(SIGPIPE, SIG_IGN);
	printf("kiroku bench_sync: %ld incident records of 7 fields, one agent -> kiroku-hub serve, mutual TLS on "
	       "loopback\nwork directory %s, hub %s\n",
	       n, dir, hub_bin);

	/* Set-up, off the clock: certificates, the agent's store (in a child, so its memory is not ours), the hub. */
	double t_setup = bench_now_s();
	bench_make_pki(dir);
	issue_agent_cert(dir);
	snprintf(path, sizeof path, "%s/agent.db", dir);
	fflush(NULL);
	child = fork();
	if (child < 0)
		bench_die("fork", NULL);
	if (child == 0) {
		if (kr_store_create(path, KR_ROLE_AGENT, AGENT_NODE, AGENT_FACILITY, &err) ||
		    kr_store_open(path, &st, &err))
			bench_die("creating the agent's store", &err);
		write_records(st, n);
		kr_store_close(st);
		_exit(0);
	}
	if (waitpid(child, &wstatus, 0) != child || !WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
		fprintf(stderr, "bench_sync: building the agent's store failed\n");
		return 1;
	}
	if (kr_store_open(path, &st, &err) || kr_store_status(st, &ss, &err))
		bench_die("opening the agent's store", &err);
	printf("%-44s %8.3f s  (%" PRIu64 " changes, %.1f MiB of encoded changes in the outbox)\n",
	       "set-up: certificates, agent store written", bench_now_s() - t_setup, ss.outbox_changes,
	       (double)ss.outbox_bytes / 1048576.0);
	bench_hub_start(hub_bin, dir, (int)threads, &hub);

	char ca[PATH_MAX], crt[PATH_MAX], key[PATH_MAX];
	snprintf(url, sizeof url, "https://127.0.0.1:%u", hub.port);
	snprintf(ca, sizeof ca, "%s/pki/ca.crt", dir);
	snprintf(crt, sizeof crt, "%s/pki/agent.crt", dir);
	snprintf(key, sizeof key, "%s/pki/agent.key", dir);
	struct kr_client_config cc = {
	    .base_url = url, .ca_file = ca, .cert_file = crt, .key_file = key, .timeout_ms = 600000};
	if (kr_client_new(&cc, &client, &err))
		bench_die("setting up the client", &err);

	/* The sync, on the clock: connection and handshake included. */
	long rss_before = bench_proc_status_kib(0, "VmRSS");
	bool peak_reset = reset_peak_rss();
	double hub_cpu0 = bench_proc_cpu_s(hub.pid), agent_cpu0 = bench_self_cpu_s();
	double t0 = bench_now_s();
	kr_status s = kr_sync_run(st, client, 0, NULL, NULL, &res, &err);
	double t_sync = bench_now_s() - t0;
	double hub_cpu = bench_proc_cpu_s(hub.pid) - hub_cpu0, agent_cpu = bench_self_cpu_s() - agent_cpu0;
	long agent_hwm = bench_proc_status_kib(0, "VmHWM");
	long hub_hwm = bench_proc_status_kib(hub.pid, "VmHWM");
	long hub_rss = bench_proc_status_kib(hub.pid, "VmRSS");
	unsigned long long sent, received;
	int conns;
	wire_bytes(hub.port, &sent, &received, &conns);
	unsigned long opened = kr_client_connections(client);
	kr_client_free(client);
	if (s) {
		bench_hub_stop(&hub, 20);
		bench_die("the sync", &err);
	}
	int hub_status = bench_hub_stop(&hub, 20);
	unsigned hub_requests;
	double hub_ms = hub_handler_ms(hub.log, &hub_requests);

	/* Check that the hub holds what was sent. */
	uint64_t hub_records = bench_hub_records(dir);
	kr_store_close(st);
	if (res.sent != (uint64_t)n || res.outbox_left != 0 || hub_records != (uint64_t)n) {
		fprintf(stderr,
		        "bench_sync: incomplete: %" PRIu64 " acknowledged, %" PRIu64
		        " left in the outbox, the hub holds %" PRIu64 " records (expected %ld)\n",
		        res.sent, res.outbox_left, hub_records, n);
		return 1;
	}

	if (verbose)
		printf(
		    "sync window, CLOCK_MONOTONIC: %.6f .. %.6f (perf record -k CLOCK_MONOTONIC; perf report --time)\n",
		    t0, t0 + t_sync);
	printf("%-44s %8.3f s  %10.0f changes/s   (target: at most 1.5 s for 100,000)\n",
	       "sync, end to end (kr_sync_run)", t_sync, (double)n / t_sync);
	printf("%-44s %8u      (%lu TLS connection%s opened)\n", "round trips", res.round_trips, opened,
	       opened == 1 ? "" : "s");
	printf("%-44s %8.1f MiB up, %.1f MiB down (%.0f bytes per change; %d connection%s)\n",
	       "bytes on the wire (TCP)", (double)sent / 1048576.0, (double)received / 1048576.0,
	       (double)(sent + received) / (double)n, conns, conns == 1 ? "" : "s");
	printf("%-44s %8.3f s  (%u requests, %.1f%% of the sync; the rest: agent side and transport)\n",
	       "hub: time in the sync handler (its log)", hub_ms / 1000.0, hub_requests, hub_ms / 10.0 / t_sync);
	printf("%-44s %8.3f s  (agent %.3f s; the two mostly take turns)\n", "CPU used during the sync: hub", hub_cpu,
	       agent_cpu);
	printf("%-44s %8.1f MiB%s (RSS before the sync %.1f MiB; target: at most 64 MiB)\n",
	       "peak memory, agent (this process's VmHWM)", (double)agent_hwm / 1024.0,
	       peak_reset ? "" : " since start", (double)rss_before / 1024.0);
	printf("%-44s %8.1f MiB  (RSS at the end %.1f MiB; target: at most 64 MiB)\n",
	       "peak memory, hub (kiroku-hub's VmHWM)", (double)hub_hwm / 1024.0, (double)hub_rss / 1024.0);
	bench_hub_check_exit(&hub, hub_status);

	snprintf(path, sizeof path, "%s/plain.db", dir);
	double plain = plain_sqlite(path, n);
	printf("%-44s %8.3f s  %10.0f rows/s\n", "plain SQLite upsert, indexed, one txn", plain, (double)n / plain);
	printf("ratio: sync end to end / plain SQLite upsert = %.2fx (target: within 3x)\n", t_sync / plain);

	bench_finish(dir, &hub, opts.keep);
	return 0;
}
