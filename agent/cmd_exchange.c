/* cmd_exchange.c: kiroku-agent's side of the exchange by file: export-changes and import-changes. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"

int agent_cmd_export(struct agent *a)
{
	const char *path = a->args[0];
	struct kr_store_status s;
	struct kr_error err;
	struct kr_buf out;
	size_t n;
	int rc = 0;

	kr_buf_init(&out, kr_default_limits.max_bytes);
	if (kr_outbox_batch(a->st, &kr_default_limits, &out, &n, &err) || kr_store_status(a->st, &s, &err)) {
		kr_error_prefix(&err, "export-changes");
		rc = agent_fail(&err);
		goto out;
	}
	if (n == 0) {
		printf("nothing to export: the outbox is empty (the hub has acknowledged all %" PRIu64
		       " changes of this node); %s was not written\n",
		       s.last_seq, path);
		goto out;
	}
	if (kr_file_write(path, out.data, out.len, &err)) {
		kr_error_prefix(&err, "export-changes");
		rc = agent_fail(&err);
		goto out;
	}
	printf("wrote %zu changes (%zu bytes) to %s\n", n, out.len, path);
	if (s.outbox_changes > n)
		printf("%" PRIu64
		       " more changes are waiting: once the hub has imported this file and its answer has been "
		       "imported here, export again\n",
		       s.outbox_changes - n);
	printf("at the hub, run: kiroku-hub import-changes %s\n", path);
out:
	kr_buf_release(&out);
	return rc;
}

int agent_cmd_import(struct agent *a)
{
	const char *path = a->args[0], *facility = kr_store_facility(a->st);
	struct kr_merge_result res;
	struct kr_store_status s;
	struct kr_changeset cs;
	struct kr_error err;
	struct kr_buf in;
	int rc = 0;

	memset(&cs, 0, sizeof cs);
	kr_buf_init(&in, kr_default_limits.max_bytes);
	if (kr_file_read(path, kr_default_limits.max_bytes, &in, &err)) {
		kr_error_prefix(&err, "import-changes");
		rc = agent_fail(&err);
		goto out;
	}
	if (kr_changeset_decode(in.data, in.len, &kr_default_limits, &cs, &err)) {
		kr_error_prefix(&err,
		                "import-changes: %s is not a usable change-set file (damaged or cut short? copy it "
		                "again); nothing was imported",
		                path);
		rc = agent_fail(&err);
		goto out;
	}
	/* A hub export names the facility it is for; its positions are meaningless to another facility. */
	if (cs.has_range && cs.facility && strcmp(cs.facility, facility) != 0) {
		fprintf(stderr,
		        AGENT_PROG
		        ": import-changes: %s is the hub's export for facility \"%s\", but this agent belongs to "
		        "\"%s\"; nothing was imported\n",
		        path, cs.facility, facility);
		rc = KR_EXIT_REFUSED;
		goto out;
	}
	if (kr_merge(a->st, &cs, NULL, &res, &err)) {
		kr_error_prefix(&err, "import-changes: nothing was imported from %s", path);
		rc = agent_fail(&err);
		goto out;
	}
	if (kr_store_meta_set_u64(a->st, "last_sync_ms", kr_now_ms(), &err) || kr_store_status(a->st, &s, &err)) {
		kr_error_prefix(&err, "import-changes: the changes were imported, but");
		rc = agent_fail(&err);
		goto out;
	}
	printf("applied %zu changes, %zu already present; outbox: %" PRIu64 " waiting\n", res.applied, res.skipped,
	       s.outbox_changes);
	printf("hub position: %" PRIu64 "%s\n", res.cursor,
	       cs.more ? " (the hub has more: export from the hub again with --since this position)" : "");
out:
	kr_changeset_release(&cs);
	kr_buf_release(&in);
	return rc;
}

int agent_cmd_dump(struct agent *a)
{
	struct kr_buf out;
	struct kr_error err = {0};

	kr_buf_init(&out, 0);
	if (kr_store_dump(a->st, NULL, &out, &err)) {
		kr_buf_release(&out);
		return agent_fail(&err);
	}
	fwrite(out.data, 1, out.len, stdout);
	kr_buf_release(&out);
	return KR_EXIT_OK;
}

int agent_cmd_backup(struct agent *a)
{
	struct kr_error err = {0};

	if (kr_store_backup(a->st, a->args[0], &err))
		return agent_fail(&err);
	printf("backed up %s to %s (integrity check: ok)\n", a->cfg.store_path, a->args[0]);
	return KR_EXIT_OK;
}
