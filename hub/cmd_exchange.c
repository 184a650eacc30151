/* cmd_exchange.c: kiroku-hub's store and its exchange by file: init, import-changes, export-changes. */
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hub.h"

int hub_cmd_init(struct hub *h)
{
	const char *node = kr_config_get(&h->cfg, "node"), *dir = kr_config_get(&h->cfg, "data_dir");
	const char *path = h->cfg.store_path;
	struct kr_error err;
	struct stat sb;

	if (stat(path, &sb) == 0) {
		fprintf(stderr,
		        HUB_PROG ": a store already exists at %s; init never overwrites one. To start afresh, move it "
		                 "(with its -wal and -shm files) away first\n",
		        path);
		return KR_EXIT_REFUSED;
	}
	if (kr_dir_make(dir, &err) || kr_store_create(path, KR_ROLE_HUB, node, NULL, &err)) {
		kr_error_prefix(&err, "init");
		return hub_fail(&err);
	}
	printf("created the hub's store %s (node %s)\n", path, node);
	return 0;
}

/* The facility the hub has on record for node; *known false when the node has never sent anything. */
static kr_status node_facility(struct kr_store *st, const char *node, char facility[KR_ID_MAX + 1], bool *known,
                               struct kr_error *err)
{
	sqlite3 *db = kr_store_db(st);
	sqlite3_stmt *q;
	int rc;

	*known = false;
	facility[0] = 0;
	rc = sqlite3_prepare_v2(db, "SELECT facility FROM nodes WHERE node = ?1", -1, &q, NULL);
	if (rc != SQLITE_OK)
		return kr_fail(err, KR_ERR_STORE, "reading the node list: SQLite %d (%s)", rc, sqlite3_errmsg(db));
	sqlite3_bind_text(q, 1, node, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*known = true;
		snprintf(facility, KR_ID_MAX + 1, "%s", (const char *)sqlite3_column_text(q, 0));
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return kr_fail(err, KR_ERR_STORE, "reading the node list: SQLite %d (%s)", rc, sqlite3_errmsg(db));
	return KR_OK;
}

int hub_cmd_import(struct hub *h)
{
	const char *path = h->args[0];
	char known_facility[KR_ID_MAX + 1];
	struct kr_merge_opts opts = {0};
	struct kr_merge_result res;
	struct kr_changeset cs;
	struct kr_error err;
	struct kr_buf in;
	bool known;
	int rc = 0;

	memset(&cs, 0, sizeof cs);
	kr_buf_init(&in, kr_default_limits.max_bytes);
	if (h->facility && !kr_id_valid(h->facility)) {
		rc = hub_usage(h, "--facility \"%s\" is not a valid facility id (1 to 64 of a-z 0-9 . _ -)",
		               h->facility);
		goto out;
	}
	if (kr_file_read(path, kr_default_limits.max_bytes, &in, &err)) {
		kr_error_prefix(&err, "import-changes");
		rc = hub_fail(&err);
		goto out;
	}
	if (kr_changeset_decode(in.data, in.len, &kr_default_limits, &cs, &err)) {
		kr_error_prefix(&err,
		                "import-changes: %s is not a usable change-set file (damaged or cut short? copy it "
		                "again); nothing was imported",
		                path);
		rc = hub_fail(&err);
		goto out;
	}
	if (cs.has_range) {
		fprintf(stderr,
		        HUB_PROG
		        ": import-changes: %s is a hub's export for facility \"%s\", not an agent's change-set: "
		        "import it on an agent of that facility; nothing was imported\n",
		        path, cs.facility ? cs.facility : "?");
		rc = KR_EXIT_REFUSED;
		goto out;
	}
	if (node_facility(h->st, cs.sender, known_facility, &known, &err)) {
		rc = hub_fail(&err);
		goto out;
	}
	/* Invariant 5: the facility comes from the operator (or the node's enrolment), never from the file. */
	if (!known && !h->facility) {
		fprintf(stderr,
		        HUB_PROG
		        ": import-changes: node \"%s\" is not known to this hub yet; check where the file comes "
		        "from and name the node's facility: " HUB_PROG " import-changes --facility FACILITY %s "
		        "(the file claims facility \"%s\"); nothing was imported\n",
		        cs.sender, path, cs.facility ? cs.facility : "");
		rc = KR_EXIT_REFUSED;
		goto out;
	}
	opts.peer_node = cs.sender;
	opts.peer_facility = h->facility ? h->facility : known_facility;
	if (kr_merge(h->st, &cs, &opts, &res, &err)) {
		kr_error_prefix(&err, "import-changes: nothing was imported from %s", path);
		rc = hub_fail(&err);
		goto out;
	}
	if (hub_audit(h, "changes.import", &err, "%s from node %s (facility %s): %zu applied, %zu already present",
		      path, cs.sender, opts.peer_facility, res.applied, res.skipped))
		fprintf(stderr, HUB_PROG ": the changes were imported, but the audit log could not be written: %s\n",
			err.msg);
	printf("applied %zu changes, %zu already present, %zu conflicts opened\n", res.applied, res.skipped,
	       res.conflicts);
	printf("node %s (facility %s): acknowledged up to change %" PRIu64 "\n", cs.sender, opts.peer_facility,
	       res.acked);
	if (cs.has_since)
		printf("to answer it: " HUB_PROG " export-changes --facility %s --since %" PRIu64 " FILE\n",
		       opts.peer_facility, cs.since);
out:
	kr_changeset_release(&cs);
	kr_buf_release(&in);
	return rc;
}

static int parse_position(struct hub *h, const char *text, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || text[0] == '+')
		return hub_usage(h, "--since \"%s\" is not a position (a whole number, 0 or more)", text);
	*out = v;
	return 0;
}

int hub_cmd_export(struct hub *h)
{
	const char *path = h->args[0];
	struct kr_changeset cs;
	struct kr_error err;
	struct kr_buf out;
	uint64_t since = 0;
	size_t n;
	bool more;
	int rc = 0;

	memset(&cs, 0, sizeof cs);
	kr_buf_init(&out, kr_default_limits.max_bytes);
	if (!h->facility) {
		rc = hub_usage(h, "name the facility to export for: --facility FACILITY");
		goto out;
	}
	if (!kr_id_valid(h->facility)) {
		rc = hub_usage(h, "--facility \"%s\" is not a valid facility id (1 to 64 of a-z 0-9 . _ -)",
		               h->facility);
		goto out;
	}
	if (h->since && (rc = parse_position(h, h->since, &since)))
		goto out;
	if (kr_hub_export(h->st, h->facility, NULL, since, &kr_default_limits, &out, &n, &more, &err)) {
		kr_error_prefix(&err, "export-changes");
		rc = hub_fail(&err);
		goto out;
	}
	/* The position reached is in the set's envelope: read it back rather than guess it. */
	if (kr_changeset_decode(out.data, out.len, &kr_default_limits, &cs, &err)) {
		kr_error_prefix(&err, "export-changes: the change-set just built does not decode (a bug)");
		rc = hub_fail(&err);
		goto out;
	}
	if (kr_file_write(path, out.data, out.len, &err) ||
	    hub_audit(h, "changes.export", &err, "%zu changes of facility %s (positions %" PRIu64 " to %" PRIu64 ") to %s",
		      n, h->facility, cs.from, cs.to, path)) {
		kr_error_prefix(&err, "export-changes");
		rc = hub_fail(&err);
		goto out;
	}
	printf("wrote %zu changes for facility %s (hub positions %" PRIu64 " to %" PRIu64 ", %zu bytes) to %s\n", n,
	       h->facility, cs.from, cs.to, out.len, path);
	if (more)
		printf("more changes remain: after this file, export the next with: " HUB_PROG
		       " export-changes --facility %s --since %" PRIu64 " FILE\n",
		       h->facility, cs.to);
	else
		printf("that is everything for %s so far; next time: " HUB_PROG
		       " export-changes --facility %s --since %" PRIu64 " FILE\n",
		       h->facility, h->facility, cs.to);
	printf("at each agent of %s, run: kiroku-agent import-changes %s\n", h->facility, path);
out:
	kr_changeset_release(&cs);
	kr_buf_release(&out);
	return rc;
}
