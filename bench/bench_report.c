/* bench_report.c: the review material on a large hub: generation of the records (kr_demo_generate) and of the
 * report (kr_report_write: HTML, CSV, JSON, pseudonymised), each in its own process, with its wall time and
 * its peak memory (VmHWM). The target is 100,000 incidents + 100,000 other records across 300 facilities:
 * the report in at most 5 s and 256 MiB.
 *
 * Usage: bench_report [FACILITIES [INCIDENTS [OTHERS [DIR]]]]   (default 300 100000 100000, a fresh
 * directory under /tmp, removed afterwards unless DIR is given). Exits 1 if the report misses the target.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kiroku/day.h"
#include "kiroku/demo.h"
#include "kiroku/pseudonym.h"
#include "kiroku/report.h"
#include "kiroku/store.h"

#define TARGET_SECONDS 5.0
#define TARGET_MIB     256.0

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Peak resident memory of this process, MiB (VmHWM of /proc/self/status). */
static double peak_mib(void)
{
	char line[256];
	double kib = 0;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			kib = strtod(line + 6, NULL);
	if (f)
		fclose(f);
	return kib / 1024.0;
}

static void die(const char *what, const struct kr_error *err)
{
	fprintf(stderr, "bench_report: %s: %s\n", what, err->msg);
	exit(2);
}

static double dir_mib(const char *dir, size_t *files)
{
	char path[4096];
	struct dirent *e;
	struct stat sb;
	double total = 0;
	DIR *d = opendir(dir);

	*files = 0;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
			total += (double)sb.st_size;
			(*files)++;
		}
	}
	if (d)
		closedir(d);
	return total / (1024.0 * 1024.0);
}

/* Child: generate the records. Writes "seconds peak_mib records" to fd. */
static void generate(const char *db, unsigned facilities, uint64_t incidents, uint64_t others, int fd)
{
	struct kr_demo_opts o = {
	    .facilities = facilities, .year = 2026, .seed = 1, .incidents = incidents, .others = others};
	struct kr_demo_result res;
	struct kr_store *st;
	struct kr_error err;
	char out[128];
	double t0 = now_s();
	int n;

	if (kr_store_create(db, KR_ROLE_HUB, "hub", NULL, &err) || kr_store_open(db, &st, &err))
		die("creating the hub store", &err);
	if (kr_demo_generate(st, &o, &res, &err))
		die("generating the records", &err);
	kr_store_close(st);
	n = snprintf(out, sizeof out, "%.3f %.1f %" PRIu64 "\n", now_s() - t0, peak_mib(), res.records);
	if (write(fd, out, (size_t)n) != n)
		exit(2);
	exit(0);
}

/* Child: the report. Writes "seconds peak_mib incidents" to fd. */
static void report(const char *dir, const char *db, int fd)
{
	struct kr_report_opts o = {.lang = "ja", .pseudonymise = true};
	uint8_t key[KR_PSEUDONYM_KEY_LEN];
	struct kr_report_summary sum;
	char key_path[4096], out_dir[4096], out[128];
	struct kr_store *st;
	struct kr_error err;
	double t0 = now_s();
	int n;

	snprintf(key_path, sizeof key_path, "%s/%s", dir, KR_PSEUDONYM_KEY_FILE);
	snprintf(out_dir, sizeof out_dir, "%s/review", dir);
	o.from = kr_day_from_ymd(2026, 4, 1);
	o.to = kr_day_from_ymd(2027, 3, 31);
	o.today = kr_day_from_ymd(2027, 4, 15);
	o.out_dir = out_dir;
	if (kr_pseudonym_key(key_path, key, NULL, &err))
		die("the pseudonym key", &err);
	o.key = key;
	if (kr_store_open(db, &st, &err))
		die("opening the hub store", &err);
	if (kr_report_write(st, &o, &sum, &err))
		die("writing the report", &err);
	kr_store_close(st);
	n = snprintf(out, sizeof out, "%.3f %.1f %" PRIu64 "\n", now_s() - t0, peak_mib(), sum.incidents);
	if (write(fd, out, (size_t)n) != n)
		exit(2);
	exit(0);
}

/* Runs fn in a child process and reads its three figures. */
static void in_child(int which, const char *dir, const char *db, unsigned facilities, uint64_t incidents,
                     uint64_t others, double *secs, double *mib, uint64_t *count)
{
	char buf[128] = "";
	int fds[2], status;
	ssize_t got;
	pid_t pid;

	fflush(stdout);
	if (pipe(fds) != 0 || (pid = fork()) < 0) {
		perror("bench_report");
		exit(2);
	}
	if (pid == 0) {
		close(fds[0]);
		if (which == 0)
			generate(db, facilities, incidents, others, fds[1]);
		report(dir, db, fds[1]);
	}
	close(fds[1]);
	got = read(fds[0], buf, sizeof buf - 1);
	close(fds[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || got <= 0) {
		fprintf(stderr, "bench_report: the %s process failed\n", which == 0 ? "generation" : "report");
		exit(2);
	}
	buf[got] = 0;
	if (sscanf(buf, "%lf %lf %" SCNu64, secs, mib, count) != 3)
		exit(2);
}

int main(int argc, char **argv)
{
	unsigned facilities = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 300;
	uint64_t incidents = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000;
	uint64_t others = argc > 3 ? strtoull(argv[3], NULL, 10) : 100000;
	char dir[4096], db[4200], review[4200];
	double gs, gm, rs, rm, mib;
	uint64_t records, inc;
	size_t files;
	bool ok;

	if (argc > 4) {
		snprintf(dir, sizeof dir, "%s", argv[4]);
		mkdir(dir, 0700);
	} else {
		snprintf(dir, sizeof dir, "/tmp/kiroku-bench-report.XXXXXX");
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			return 2;
		}
	}
	snprintf(db, sizeof db, "%s/hub.db", dir);
	snprintf(review, sizeof review, "%s/review", dir);
	printf("bench_report: %u facilities, %" PRIu64 " incidents + %" PRIu64 " other records, in %s\n", facilities,
	       incidents, others, dir);
	in_child(0, dir, db, facilities, incidents, others, &gs, &gm, &records);
	printf("generate: %" PRIu64 " records in %.2f s (%.0f records/s), peak memory %.1f MiB\n", records, gs,
	       (double)records / gs, gm);
	in_child(1, dir, db, facilities, incidents, others, &rs, &rm, &inc);
	mib = dir_mib(review, &files);
	ok = rs <= TARGET_SECONDS && rm <= TARGET_MIB;
	printf("report:   %" PRIu64 " incidents in the period; %zu files, %.1f MiB; %.2f s, peak memory %.1f MiB "
	       "(target: %.0f s, %.0f MiB): %s\n",
	       inc, files, mib, rs, rm, TARGET_SECONDS, TARGET_MIB, ok ? "met" : "MISSED");
	if (argc <= 4) {
		char cmd[4300];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_report: could not remove %s\n", dir);
	}
	return ok ? 0 : 1;
}
