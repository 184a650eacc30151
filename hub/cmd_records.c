/* cmd_records.c: kiroku-hub's commands that read the merged records: list, show, conflicts, status. */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hub.h"

/* A real calendar day written YYYY-MM-DD, checked as the catalogue checks a date field. */
static int check_day(const char *flag, const char *text)
{
	const struct kr_field_def day = {.name = flag, .type = KR_FT_DATE, .required = true};
	struct kr_error err;
	struct kr_value v;

	if (text && kr_catalogue_parse_value(&day, text, &v, &err)) {
		kr_error_prefix(&err, "list");
		return hub_fail(&err);
	}
	return 0;
}

int hub_cmd_list(struct hub *h)
{
	struct kr_list_filter f = {.kind = h->kind,
	                           .facility = h->facility,
	                           .status = h->status,
	                           .from = h->from,
	                           .to = h->to,
	                           .include_deleted = h->all,
	                           .system = h->system};
	enum kr_print_format format = KR_PRINT_TABLE;
	struct kr_error err;
	int rc;

	if (h->format && kr_print_format_parse(h->format, &format, &err))
		return hub_usage(h, "%s", err.msg);
	if ((rc = check_day("--from", h->from)) || (rc = check_day("--to", h->to)))
		return rc;
	if (h->kind && h->kind[0] != '_' && !kr_catalogue_kind(kr_store_catalogue(h->st), h->kind)) {
		fprintf(stderr, HUB_PROG ": list: unknown record kind \"%s\"\n", h->kind);
		return KR_EXIT_INVALID;
	}
	if (kr_print_list(h->st, &f, format, kr_config_get(&h->cfg, "lang"), stdout, NULL, &err)) {
		kr_error_prefix(&err, "list");
		return hub_fail(&err);
	}
	return 0;
}

int hub_cmd_show(struct hub *h)
{
	struct kr_record rec;
	struct kr_error err;
	kr_ulid id;
	int rc = 0;

	if (kr_ulid_parse(h->args[0], &id, &err))
		return hub_fail(&err);
	if (kr_record_get(h->st, &id, &rec, &err) ||
	    kr_print_record(h->st, &rec, kr_config_get(&h->cfg, "lang"), stdout, &err))
		rc = hub_fail(&err);
	kr_record_release(&rec);
	return rc;
}

int hub_cmd_conflicts(struct hub *h)
{
	enum kr_print_format format = KR_PRINT_TABLE;
	struct kr_error err;
	size_t n;

	if (h->format && kr_print_format_parse(h->format, &format, &err))
		return hub_usage(h, "%s", err.msg);
	if (format == KR_PRINT_JSON)
		return hub_usage(h, "conflicts are printed as table or tsv");
	if (kr_print_conflicts(h->st, h->facility, h->all, format, kr_config_get(&h->cfg, "lang"), stdout, &n, &err)) {
		kr_error_prefix(&err, "conflicts");
		return hub_fail(&err);
	}
	if (n == 0 && format == KR_PRINT_TABLE)
		fprintf(stderr, "no %sconflicts\n", h->all ? "" : "open ");
	return 0;
}

/* "2026-11-20 06:10:00 UTC", or "never" for 0. */
static void format_time(uint64_t ms, char *out, size_t size)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	if (!ms || !gmtime_r(&secs, &tm)) {
		snprintf(out, size, "never");
		return;
	}
	strftime(out, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

int hub_cmd_status(struct hub *h)
{
	sqlite3 *db = kr_store_db(h->st);
	struct kr_store_status s;
	struct kr_error err;
	sqlite3_stmt *q;
	int rc;

	if (kr_store_status(h->st, &s, &err))
		return hub_fail(&err);
	printf("node:            %s\n"
	       "store:           %s\n"
	       "records:         %" PRIu64 "\n"
	       "conflicts open:  %" PRIu64 "\n"
	       "nodes:\n",
	       kr_store_node(h->st), h->cfg.store_path, s.records, s.conflicts_open);
	rc = sqlite3_prepare_v2(db,
	                        "SELECT node, facility, last_seq, last_seen_ms, skew_ms, revoked FROM nodes "
	                        "ORDER BY facility, node",
	                        -1, &q, NULL);
	if (rc != SQLITE_OK) {
		kr_fail(&err, KR_ERR_STORE, "status: reading the node list: SQLite %d (%s)", rc, sqlite3_errmsg(db));
		return hub_fail(&err);
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		char seen[64];
		format_time((uint64_t)sqlite3_column_int64(q, 3), seen, sizeof seen);
		printf("  %-20s facility %-16s acknowledged up to %-8" PRId64 " last seen %s, clock %+" PRId64
		       " ms%s\n",
		       (const char *)sqlite3_column_text(q, 0), (const char *)sqlite3_column_text(q, 1),
		       (int64_t)sqlite3_column_int64(q, 2), seen, (int64_t)sqlite3_column_int64(q, 4),
		       sqlite3_column_int(q, 5) ? " (revoked)" : "");
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		kr_fail(&err, KR_ERR_STORE, "status: reading the node list: SQLite %d (%s)", rc, sqlite3_errmsg(db));
		return hub_fail(&err);
	}
	return 0;
}

int hub_cmd_dump(struct hub *h)
{
	struct kr_buf out;
	struct kr_error err = {0};

	kr_buf_init(&out, 0);
	if (kr_store_dump(h->st, h->facility, &out, &err)) {
		kr_buf_release(&out);
		return hub_fail(&err);
	}
	fwrite(out.data, 1, out.len, stdout);
	kr_buf_release(&out);
	return KR_EXIT_OK;
}

int hub_cmd_backup(struct hub *h)
{
	struct kr_error err = {0};

	if (kr_store_backup(h->st, h->args[0], &err) || hub_audit(h, "store.backup", &err, "to %s", h->args[0]))
		return hub_fail(&err);
	printf("backed up %s to %s (integrity check: ok)\n", h->cfg.store_path, h->args[0]);
	return KR_EXIT_OK;
}
