/* cmd_report.c: kiroku-hub's review material (report) and the demonstration data generator (demo-data). */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hub.h"
#include "kiroku/demo.h"
#include "kiroku/pseudonym.h"
#include "kiroku/report.h"

/* A whole number from min to max given with flag; a usage error otherwise. */
static int number(struct hub *h, const char *flag, const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = text && *text >= '0' && *text <= '9' ? strtoull(text, &end, 10) : 0;
	if (!text || *text < '0' || *text > '9' || *end || errno || v < min || v > max)
		return hub_usage(h, "%s: \"%s\" is not a whole number from %" PRIu64 " to %" PRIu64, flag,
		                 text ? text : "", min, max);
	*out = v;
	return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* Removes a directory of our own making and everything in it; errors are ignored (it is in /tmp). */
static void remove_tree(const char *dir) { nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* The first chromium on the machine, or NULL. */
static const char *find_chromium(void)
{
	static const char *const candidates[] = {"/usr/bin/chromium", "/usr/bin/chromium-browser",
						 "/usr/bin/google-chrome", NULL};
	const char *env = getenv("KIROKU_CHROMIUM");
	if (env && *env)
		return access(env, X_OK) == 0 ? env : NULL;
	for (size_t i = 0; candidates[i]; i++)
		if (access(candidates[i], X_OK) == 0)
			return candidates[i];
	return NULL;
}

/* Prints DIR/review.html to DIR/review.pdf with headless Chromium (A4, the page's own print styles).
 * Chromium runs with no network use and a throw-away profile; it is given two minutes. */
static int write_pdf(const char *out_dir)
{
	const char *chromium = find_chromium();
	char html[4200], pdf[4200], arg_pdf[4300], profile[] = "/tmp/kiroku-chromium-XXXXXX", arg_profile[64];
	char real[4096];
	pid_t pid;
	int status = 0;

	if (!chromium) {
		fprintf(stderr, HUB_PROG ": --pdf needs Chromium (Debian package 'chromium'), which is not installed; "
				"review.html prints to PDF from any browser as well\n");
		return KR_EXIT_STORE;
	}
	if (!realpath(out_dir, real) || !mkdtemp(profile)) {
		fprintf(stderr, HUB_PROG ": --pdf: %s: %s\n", out_dir, strerror(errno));
		return KR_EXIT_STORE;
	}
	snprintf(html, sizeof html, "file://%s/review.html", real);
	snprintf(pdf, sizeof pdf, "%s/review.pdf", real);
	snprintf(arg_pdf, sizeof arg_pdf, "--print-to-pdf=%s", pdf);
	snprintf(arg_profile, sizeof arg_profile, "--user-data-dir=%s", profile);
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0) {
			dup2(devnull, STDIN_FILENO);
			dup2(devnull, STDOUT_FILENO);
			dup2(devnull, STDERR_FILENO);
		}
		alarm(120);
		execl(chromium, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		      "--disable-background-networking", "--disable-component-update", "--disable-sync",
		      "--no-pdf-header-footer", arg_profile, arg_pdf, html, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    access(pdf, R_OK) != 0) {
		fprintf(stderr, HUB_PROG ": --pdf: %s could not print %s (exit status %d)\n", chromium, html,
			WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		remove_tree(profile);
		return KR_EXIT_STORE;
	}
	remove_tree(profile);
	chmod(pdf, 0600);
	printf("wrote %s with %s\n", pdf, chromium);
	return KR_EXIT_OK;
}

int hub_cmd_report(struct hub *h)
{
	struct kr_report_opts o = {.lang = kr_config_get(&h->cfg, "lang"), .pseudonymise = !h->no_pseudonymise};
	uint8_t key[KR_PSEUDONYM_KEY_LEN];
	struct kr_report_summary sum;
	struct kr_error err;
	char key_path[4096];
	bool created = false;
	int rc;

	if (!h->period)
		return hub_usage(h, "give --period FROM..TO (e.g. --period 2026-04-01..2027-03-31)");
	if (!h->out_dir)
		return hub_usage(h, "give --out DIR, the directory to write the review material to");
	if (kr_period_parse(h->period, &o.from, &o.to, &err))
		return hub_usage(h, "%s", err.msg);
	if ((rc = hub_today(h, &o.today)))
		return rc;
	o.out_dir = h->out_dir;
	if (o.pseudonymise) {
		snprintf(key_path, sizeof key_path, "%s/%s", kr_config_get(&h->cfg, "data_dir"), KR_PSEUDONYM_KEY_FILE);
		if (kr_pseudonym_key(key_path, key, &created, &err))
			return hub_fail(&err);
		if (created)
			fprintf(stderr,
			        "made a new pseudonymisation key %s (keep it with the hub's backups: the same key "
			        "gives the same pseudonyms)\n",
			        key_path);
		o.key = key;
	}
	rc = kr_report_write(h->st, &o, &sum, &err);
	memset(key, 0, sizeof key);
	/* Every export of review material is in the audit log, and a non-pseudonymised one says so. */
	if (!rc)
		rc = hub_audit(h, "report.export", &err, "period %s to %s, %s", h->period, h->out_dir,
			       o.pseudonymise ? "pseudonymised" : "personal fields NOT pseudonymised");
	if (rc) {
		kr_error_prefix(&err, "report");
		return hub_fail(&err);
	}
	printf("wrote the review material for %s to %s: review.html, review.json and %zu CSV files\n", h->period,
	       h->out_dir, sum.files - 2);
	printf("%zu facilities; %" PRIu64 " incidents in the period, %" PRIu64 " open; %" PRIu64 " overdue items%s\n",
	       sum.facilities, sum.incidents, sum.open_incidents, sum.overdue_items,
	       o.pseudonymise ? "" : "; personal fields NOT pseudonymised: handle the files with care");
	return h->pdf ? write_pdf(h->out_dir) : KR_EXIT_OK;
}

static void demo_progress(void *ctx, uint64_t done)
{
	(void)ctx;
	if (done % 20000 < 2000)
		fprintf(stderr, "  %" PRIu64 " records\n", done);
}

int hub_cmd_demo_data(struct hub *h)
{
	struct kr_demo_opts o = {.seed = 1};
	struct kr_demo_result res;
	const struct kr_catalogue *cat = kr_store_catalogue(h->st);
	struct kr_error err;
	uint64_t v;
	int rc;

	if (!h->facilities || !h->year)
		return hub_usage(h, "give --facilities N and --year YYYY");
	if ((rc = number(h, "--facilities", h->facilities, 1, KR_DEMO_MAX_FACILITIES, &v)))
		return rc;
	o.facilities = (unsigned)v;
	if ((rc = number(h, "--year", h->year, 2000, 2100, &v)))
		return rc;
	o.year = (int)v;
	if (h->seed && (rc = number(h, "--seed", h->seed, 0, UINT64_MAX, &o.seed)))
		return rc;
	if (h->incidents_n && (rc = number(h, "--incidents", h->incidents_n, 1, 100000000, &o.incidents)))
		return rc;
	if (h->others_n && (rc = number(h, "--others", h->others_n, 1, 100000000, &o.others)))
		return rc;
	if (o.incidents + o.others > 20000)
		o.progress = demo_progress;
	if (kr_demo_generate(h->st, &o, &res, &err)) {
		if (res.records)
			fprintf(stderr, HUB_PROG ": %" PRIu64 " records were written before the failure\n",
			        res.records);
		return hub_fail(&err);
	}
	printf("wrote %" PRIu64 " records for %u facilities, fiscal year %d (seed %" PRIu64 "):", res.records,
	       o.facilities, o.year, o.seed);
	for (size_t k = 0; k < 8 && k < cat->nkinds; k++)
		printf("%s %s %" PRIu64, k ? "," : "", cat->kinds[k].name, res.by_kind[k]);
	printf("\n");
	return 0;
}
