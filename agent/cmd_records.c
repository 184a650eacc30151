/* cmd_records.c: kiroku-agent's commands on its own store: init, record, edit, delete, list, show, status. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent.h"

int agent_cmd_init(struct agent *a)
{
	const char *node = kr_config_get(&a->cfg, "node"), *facility = kr_config_get(&a->cfg, "facility");
	const char *dir = kr_config_get(&a->cfg, "data_dir"), *path = a->cfg.store_path;
	struct kr_error err;
	struct stat sb;

	if (!*node || !*facility)
		return agent_usage(a, "give this agent's node id and its facility: --node NODE --facility FACILITY "
		                      "(or node = and facility = under [agent] in the configuration file)");
	if (stat(path, &sb) == 0) {
		fprintf(stderr,
		        AGENT_PROG
		        ": a store already exists at %s; init never overwrites one. To start afresh, move it "
		        "(with its -wal and -shm files) away first\n",
		        path);
		return KR_EXIT_REFUSED;
	}
	if (kr_dir_make(dir, &err) || kr_store_create(path, KR_ROLE_AGENT, node, facility, &err)) {
		kr_error_prefix(&err, "init");
		return agent_fail(&err);
	}
	printf("created the store %s for node %s of facility %s\n", path, node, facility);
	return 0;
}

int agent_cmd_record(struct agent *a)
{
	char text[KR_ULID_LEN + 1];
	struct kr_error err;
	kr_ulid id;

	if (kr_record_create(a->st, a->args[0], NULL, a->sets, a->nsets, 0, &id, &err)) {
		kr_error_prefix(&err, "nothing was recorded");
		return agent_fail(&err);
	}
	kr_ulid_format(&id, text);
	printf("%s\n", text);
	return 0;
}

static int parse_id(const char *text, kr_ulid *id)
{
	struct kr_error err;

	if (kr_ulid_parse(text, id, &err))
		return agent_fail(&err);
	return 0;
}

int agent_cmd_edit(struct agent *a)
{
	struct kr_error err;
	kr_ulid id;
	int rc;

	if ((rc = parse_id(a->args[0], &id)))
		return rc;
	if (kr_record_edit(a->st, &id, a->sets, a->nsets, 0, &err)) {
		kr_error_prefix(&err, "nothing was changed");
		return agent_fail(&err);
	}
	printf("edited %s\n", a->args[0]);
	return 0;
}

int agent_cmd_delete(struct agent *a)
{
	struct kr_error err;
	kr_ulid id;
	int rc;

	if ((rc = parse_id(a->args[0], &id)))
		return rc;
	if (kr_record_delete(a->st, &id, 0, &err)) {
		kr_error_prefix(&err, "nothing was deleted");
		return agent_fail(&err);
	}
	printf("deleted %s\n", a->args[0]);
	return 0;
}

/* A real calendar day written YYYY-MM-DD, checked as the catalogue checks a date field. */
static int check_day(const char *flag, const char *text)
{
	const struct kr_field_def day = {.name = flag, .type = KR_FT_DATE, .required = true};
	struct kr_error err;
	struct kr_value v;

	if (text && kr_catalogue_parse_value(&day, text, &v, &err)) {
		kr_error_prefix(&err, "list");
		return agent_fail(&err);
	}
	return 0;
}

static int unknown_kind(const struct kr_catalogue *cat, const char *kind)
{
	char known[512];
	size_t len = 0;

	known[0] = 0;
	for (size_t i = 0; i < cat->nkinds && len < sizeof known - 80; i++)
		len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", cat->kinds[i].name);
	fprintf(stderr, AGENT_PROG ": list: unknown record kind \"%s\" (kinds: %s)\n", kind, known);
	return KR_EXIT_INVALID;
}

int agent_cmd_list(struct agent *a)
{
	const struct kr_catalogue *cat = kr_store_catalogue(a->st);
	struct kr_list_filter f = {
	    .kind = a->kind, .status = a->status, .from = a->from, .to = a->to, .include_deleted = a->all};
	enum kr_print_format format = KR_PRINT_TABLE;
	const struct kr_kind_def *kd = NULL;
	struct kr_value status;
	struct kr_error err;
	int rc;

	if (a->format && kr_print_format_parse(a->format, &format, &err))
		return agent_usage(a, "%s", err.msg);
	if (a->kind && !(kd = kr_catalogue_kind(cat, a->kind)))
		return unknown_kind(cat, a->kind);
	if ((rc = check_day("--from", a->from)) || (rc = check_day("--to", a->to)))
		return rc;
	if (a->status && kd) {
		/* Take the status as typed (label or alias) and filter on the stored value. */
		const struct kr_field_def *sf = kr_catalogue_field(kd, "status");
		if (!sf) {
			fprintf(stderr, AGENT_PROG ": list: %s records have no status\n", kd->name);
			return KR_EXIT_INVALID;
		}
		if (kr_catalogue_parse_value(sf, a->status, &status, &err)) {
			kr_error_prefix(&err, "list --status");
			return agent_fail(&err);
		}
		if (status.type == KR_VAL_TEXT)
			f.status = status.s;
	}
	if (kr_print_list(a->st, &f, format, kr_config_get(&a->cfg, "lang"), stdout, NULL, &err)) {
		kr_error_prefix(&err, "list");
		return agent_fail(&err);
	}
	return 0;
}

int agent_cmd_show(struct agent *a)
{
	struct kr_record rec;
	struct kr_error err;
	kr_ulid id;
	int rc = 0;

	if ((rc = parse_id(a->args[0], &id)))
		return rc;
	if (kr_record_get(a->st, &id, &rec, &err) ||
	    kr_print_record(a->st, &rec, kr_config_get(&a->cfg, "lang"), stdout, &err))
		rc = agent_fail(&err);
	kr_record_release(&rec);
	return rc;
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

int agent_cmd_status(struct agent *a)
{
	struct kr_store_status s;
	struct kr_error err;
	char when[64];

	if (kr_store_status(a->st, &s, &err))
		return agent_fail(&err);
	format_time(s.last_sync_ms, when, sizeof when);
	printf("node:            %s\n"
	       "facility:        %s\n"
	       "store:           %s\n"
	       "records:         %" PRIu64 "\n"
	       "outbox:          %" PRIu64 " changes waiting (%" PRIu64 " bytes)\n"
	       "changes made:    %" PRIu64 "\n"
	       "acknowledged:    %" PRIu64 " (the hub has committed this node's changes up to here)\n"
	       "hub position:    %" PRIu64 " (hub changes applied up to here; the hub exports with --since %" PRIu64
	       ")\n"
	       "last exchange:   %s\n"
	       "conflicts open:  %" PRIu64 "\n",
	       kr_store_node(a->st), kr_store_facility(a->st), a->cfg.store_path, s.records, s.outbox_changes,
	       s.outbox_bytes, s.last_seq, s.acked, s.cursor, s.cursor, when, s.conflicts_open);
	return 0;
}
