/* main.c: kiroku-agent's command line: the command table, its options and texts (read by cli.c), the store. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent.h"

enum {
	OPT_SET = 0x100,
	OPT_KIND,
	OPT_STATUS,
	OPT_FROM,
	OPT_TO,
	OPT_ALL,
	OPT_FORMAT,
	OPT_VERSION, /* of the program itself */
};

/* Every command option of the agent; a command names the ones it takes. */
static const struct kr_cli_option cmd_options[] = {
    {"set", OPT_SET, "FIELD=VALUE", "set a field (repeat for more fields); an empty VALUE clears the field"},
    {"kind", OPT_KIND, "KIND", "only records of this kind (incident, pi_handling, ...)"},
    {"status", OPT_STATUS, "STATUS", "only records with this status (with --kind, a label such as 報告済み works too)"},
    {"from", OPT_FROM, "YYYY-MM-DD", "only records dated on or after this day (needs --kind)"},
    {"to", OPT_TO, "YYYY-MM-DD", "only records dated on or before this day (needs --kind)"},
    {"all", OPT_ALL, NULL, "include deleted records"},
    {"format", OPT_FORMAT, "table|tsv|json",
     "output format (default table; tsv columns: id kind facility deleted date status category description)"},
};

static const char *const opts_none[] = {NULL};
static const char *const opts_set[] = {"set", NULL};
static const char *const opts_list[] = {"kind", "status", "from", "to", "all", "format", NULL};

static const struct agent_cmd commands[] = {
    {{"init", 0, 0, opts_none, "init --node NODE --facility FACILITY",
      "Create this agent's store in the data directory.",
      "Creates the data directory (mode 0700) if needed and a new store, DATA_DIR/agent.db, for the node and the\n"
      "facility given as flags or in the configuration file. Refuses to touch an existing store.",
      "kiroku-agent init --node school-12-pc1 --facility school-12"},
     agent_cmd_init,
     false},
    {{"record", 1, 1, opts_set, "record KIND --set FIELD=VALUE [--set FIELD=VALUE ...]",
      "Record a new record of KIND and print its id.",
      "Values are checked against the catalogue: an enumeration takes its Japanese or English label or an alias\n"
      "(USB, usb); a date is YYYY-MM-DD; a date and time YYYY-MM-DDThh:mm; a yes/no field yes/no, true/false,\n"
      "1/0 or はい/いいえ. Required fields must be given. The id alone is printed on stdout.",
      "kiroku-agent record incident --set category=紛失 --set media=USB --set occurred_at=2026-11-20T15:10 "
      "--set description=\"USBメモリを紛失\""},
     agent_cmd_record,
     true},
    {{"edit", 1, 1, opts_set, "edit ID --set FIELD=VALUE [--set FIELD=VALUE ...]", "Change fields of a record.",
      "Only the fields named change. An empty VALUE clears a field (not a required one). Deleted records,\n"
      "ledger entries (pi_handling) and fields the hub operator sets (status, severity, ...) can't be edited.",
      "kiroku-agent edit 01KAB3C4D5E6F7G8H9J0KMNPQR --set containment=\"端末の利用を停止\""},
     agent_cmd_edit,
     true},
    {{"delete", 1, 1, opts_none, "delete ID", "Delete a record.",
      "The record is marked deleted (list --all still shows it) and the deletion travels to the hub like any\n"
      "other change. Ledger entries (pi_handling) can't be deleted.",
      "kiroku-agent delete 01KAB3C4D5E6F7G8H9J0KMNPQR"},
     agent_cmd_delete,
     true},
    {{"list", 0, 0, opts_list,
      "list [--kind KIND] [--status STATUS] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--all] [--format table|tsv|json]",
      "List records, oldest first.",
      "The period (--from, --to) applies to the kind's date (an incident's occurred_at, ...). A record with no\n"
      "status is shown with the first status (報告済み / reported).",
      "kiroku-agent list --kind incident --from 2026-04-01 --to 2027-03-31"},
     agent_cmd_list,
     true},
    {{"show", 1, 1, opts_none, "show ID [--lang ja|en]",
      "Show every field of a record with its label, its version, and the conflicts that name it.",
      "Each field is printed as LABEL (name): VALUE  [VERSION NODE], the version being the hybrid-logical-clock\n"
      "time of the write and the node that made it.",
      "kiroku-agent show 01KAB3C4D5E6F7G8H9J0KMNPQR --lang en"},
     agent_cmd_show,
     true},
    {{"export-changes", 1, 1, opts_none, "export-changes FILE",
      "Write the changes waiting for the hub (the outbox) to FILE, for a USB stick.",
      "FILE holds one change-set (at most 8 MiB and 20,000 changes); when more are waiting, the rest follows in\n"
      "the next export, after the hub's answer has been imported. Nothing leaves the outbox until the hub has\n"
      "acknowledged it, so exporting twice is harmless. FILE is created readable by its owner only.",
      "kiroku-agent export-changes /media/usb/school-12-pc1.krcs"},
     agent_cmd_export,
     true},
    {{"import-changes", 1, 1, opts_none, "import-changes FILE",
      "Apply a file exported by the hub (kiroku-hub export-changes) for this facility.",
      "Hub exports must be imported in order; a file that starts after what this agent has seen is refused\n"
      "(exit 6) with the position to export from. Importing a file twice changes nothing. The hub's\n"
      "acknowledgements in the file trim the outbox.",
      "kiroku-agent import-changes /media/usb/for-school-12.krcs"},
     agent_cmd_import,
     true},
    {{"status", 0, 0, opts_none, "status", "Show this agent's node, facility, records, outbox and exchange state.",
      NULL, "kiroku-agent status"},
     agent_cmd_status,
     true},
    {{"sync", 0, 0, opts_none, "sync [--hub-url URL]",
      "Exchange changes with the hub once: send the outbox, receive the facility's changes, until both are empty.",
      "Connects to hub_url over HTTPS with this node's certificate (cert_file, key_file), trusting only the hub's\n"
      "CA (ca_file). Changes leave the outbox only once the hub has committed them, so an interrupted sync\n"
      "loses nothing: run it again. Exit 5 when the hub cannot be reached; the records stay safe here.",
      "kiroku-agent sync"},
     agent_cmd_sync,
     true},
    {{"recover", 0, 0, opts_none, "recover [--hub-url URL]",
      "Take this node's records and changes back from the hub after a restore from a backup or a reinstall.",
      "For a PC whose store was restored from an old backup, or created anew (init) with the same node, facility,\n"
      "key and certificate: asks the hub for every change of the facility, this node's own included, and applies\n"
      "them (nothing twice); drops from the outbox what the hub already has; gives changes made on the restored\n"
      "store under numbers the old store had already used new numbers after the hub's; then syncs as usual.\n"
      "'sync' says when it is needed (\"this store looks older than the hub's view of it\"). Stop the daemon\n"
      "first. Safe to run again; on a store that needs nothing it changes nothing. See docs/design.md, Recovery.",
      "kiroku-agent recover"},
     agent_cmd_recover,
     true},
    {{"run", 0, 0, opts_none, "run [--sync-interval SECONDS]",
      "Run as a daemon: sync on an interval, soon after new records, with back-off while the hub is away.",
      "Syncs every sync_interval seconds, a couple of seconds after new local records, and after a failure\n"
      "retries with exponential back-off (5 s doubling up to sync_interval) and jitter; when the hub asks\n"
      "for a wait (Retry-After, when it is busy or its disk is full), not sooner. Logs one line per\n"
      "outcome on stderr. SIGTERM or SIGINT stop it cleanly between syncs. Unless web_port is 0, it also\n"
      "serves the staff's web form on http://127.0.0.1:WEB_PORT/ (see 'kiroku-agent help web').",
      "kiroku-agent run --config /etc/kiroku/agent.conf"},
     agent_cmd_run,
     true},
    {{"web", 0, 0, opts_none, "web [--web-port PORT]",
      "Serve the staff's web form on this PC only (http://127.0.0.1:PORT/), without syncing.",
      "Teachers and office staff open the address in this PC's browser to see the facility's records, the\n"
      "sync state and city hall's review, and to record incidents, ledger entries, training and the\n"
      "self-inspection in forms made from the catalogue (Japanese by default, English selectable), and to\n"
      "correct a record (only the fields changed are written; ledger entries are never changed). It works\n"
      "with no network. Only 127.0.0.1 is listened on; requests naming another host, and changes without the\n"
      "page's session token or from another site, are refused. The first line on stdout is the address;\n"
      "--web-port 0 takes any free port. 'kiroku-agent run' serves the same form beside its syncs.",
      "kiroku-agent web --web-port 8765"},
     agent_cmd_web,
     true},
    {{"enroll", 1, 1, opts_none, "enroll TOKEN [--node NODE] [--hub-url URL]",
      "Enrol this computer with the hub: make a key here, get a certificate for the token's facility.",
      "TOKEN comes from the hub's operator (kiroku-hub enroll-token). The key (key_file, mode 0600) is made on\n"
      "this computer and never leaves it; only a certificate request is sent. The hub is trusted only if its\n"
      "CA has the fingerprint the token carries; its CA certificate is kept as ca_file. The node id is the\n"
      "store's, else --node, else this computer's name; the facility is the token's. Creates the store when\n"
      "there is none. Exit 4 when the hub refuses (token used or expired, node id taken), 5 when it cannot be\n"
      "reached or is not the hub the token names.",
      "kiroku-agent enroll KR1.gqFodHRwczovL2h1Yi5jaXR5LmV4YW1wbGU6ODQ0Mw..."},
     agent_cmd_enroll,
     false},
    {{"renew", 0, 0, opts_none, "renew",
      "Renew this node's certificate now, over the existing mutual-TLS connection (a new key, made here).",
      "sync and run do this by themselves when less than 30 days are left. An expired certificate cannot be\n"
      "renewed: enrol again with a new token.",
      "kiroku-agent renew"},
     agent_cmd_renew,
     true},
    {{"backup", 1, 1, opts_none, "backup FILE", "Write a consistent copy of this agent's store to FILE, and verify it.",
      "Uses SQLite's online backup (the daemon may keep running), then PRAGMA integrity_check on the copy.\n"
      "FILE must not exist; it is created readable by its owner only. To restore: stop the daemon, replace\n"
      "DATA_DIR/agent.db (and remove agent.db-wal and agent.db-shm) with the copy, run 'kiroku-agent recover'\n"
      "(it takes back from the hub what the PC synced after the backup), start the daemon again.",
      "kiroku-agent backup /media/usb/agent-backup.db"},
     agent_cmd_backup,
     true},
    {{"dump", 0, 0, opts_none, "dump",
      "Print a canonical dump of this agent's records (every field with its value and version), for comparing "
      "replicas.",
      NULL, "kiroku-agent dump"},
     agent_cmd_dump,
     true},
};

static const struct kr_cli agent_cli = {
    .prog = AGENT_PROG,
    .program = KR_PROG_AGENT,
    .about = "record a facility's incidents and other records offline, and exchange them with\n"
             "the hub (kiroku-hub) over the network or as files carried on a USB stick.",
    .refused = "a deleted record, a ledger entry, an operator-only field, an existing store",
    .gap = "change-set files imported out of order",
    .config_section = "agent",
    .config_file = "/etc/kiroku/agent.conf",
    .output_note = "Messages go to stderr; results (ids, lists) to stdout. Text is UTF-8.",
    .options_note = "The options of every command (--config FILE, --data-dir DIR, --node NODE, --lang ja|en, ...)\n"
                    "are listed by '" AGENT_PROG " --help'.",
    .version_val = OPT_VERSION,
    KR_CLI_TABLES(cmd_options, commands),
};

int agent_fail(const struct kr_error *err)
{
	return kr_cli_fail(&agent_cli, err);
}

int agent_usage(const struct agent *a, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = kr_cli_vusage(&agent_cli, a->cmd ? &a->cmd->cli : NULL, fmt, ap);
	va_end(ap);
	return rc;
}

/* Splits --set FIELD=VALUE in place. */
static int add_set(struct agent *a, char *arg)
{
	char *eq = strchr(arg, '=');

	if (!eq || eq == arg)
		return agent_usage(a, "--set %s: expected FIELD=VALUE (an empty VALUE clears the field)", arg);
	*eq = 0;
	a->sets[a->nsets].name = arg;
	a->sets[a->nsets].text = eq + 1;
	a->nsets++;
	return 0;
}

/* Takes the value of a command option (kr_cli_take_fn). */
static int take_option(void *ctx, int val, char *arg)
{
	struct agent *a = ctx;

	switch (val) {
	case OPT_SET:
		return add_set(a, arg);
	case OPT_KIND:
		a->kind = arg;
		break;
	case OPT_STATUS:
		a->status = arg;
		break;
	case OPT_FROM:
		a->from = arg;
		break;
	case OPT_TO:
		a->to = arg;
		break;
	case OPT_ALL:
		a->all = true;
		break;
	case OPT_FORMAT:
		a->format = arg;
		break;
	}
	return 0;
}

/* Opens the store of the configuration, checking that it is an agent's and the node the configuration
 * names (when it names one). */
static int open_store(struct agent *a)
{
	const char *path = a->cfg.store_path, *node = kr_config_get(&a->cfg, "node");
	const char *facility = kr_config_get(&a->cfg, "facility");
	struct kr_error err;
	struct stat sb;

	if (stat(path, &sb) != 0 && errno == ENOENT) {
		fprintf(stderr,
		        AGENT_PROG ": no store at %s: create it with '" AGENT_PROG
		                   " init --node NODE --facility FACILITY'"
		                   " (or give --data-dir DIR if it is elsewhere)\n",
		        path);
		return KR_EXIT_STORE;
	}
	if (kr_store_open(path, &a->st, &err))
		return agent_fail(&err);
	if (kr_store_role(a->st) != KR_ROLE_AGENT) {
		fprintf(stderr, AGENT_PROG ": %s is a hub's store, not an agent's: use kiroku-hub with it\n", path);
		return KR_EXIT_STORE;
	}
	if (*node && strcmp(node, kr_store_node(a->st)) != 0) {
		fprintf(stderr,
		        AGENT_PROG ": the store %s belongs to node \"%s\" but the configuration names node \"%s\"\n",
		        path, kr_store_node(a->st), node);
		return KR_EXIT_USAGE;
	}
	if (*facility && strcmp(facility, kr_store_facility(a->st)) != 0) {
		fprintf(stderr,
		        AGENT_PROG
		        ": the store %s belongs to facility \"%s\" but the configuration names facility \"%s\"\n",
		        path, kr_store_facility(a->st), facility);
		return KR_EXIT_USAGE;
	}
	return 0;
}

static int run(struct agent *a, int argc, char **argv)
{
	struct kr_cli_line line;
	int rc;

	if ((rc = kr_cli_choose(&agent_cli, &a->cfg, argc, argv, &line)) != KR_CLI_CONTINUE)
		return rc;
	a->cmd = (const struct agent_cmd *)line.cmd;
	if (!(a->sets = calloc((size_t)line.argc, sizeof *a->sets))) {
		fprintf(stderr, AGENT_PROG ": out of memory\n");
		return KR_EXIT_STORE;
	}
	if ((rc = kr_cli_parse(&agent_cli, &a->cfg, &line, take_option, a)) != KR_CLI_CONTINUE)
		return rc;
	a->args = line.args;
	a->nargs = line.nargs;
	if (a->cmd->needs_store && (rc = open_store(a)))
		return rc;
	return a->cmd->run(a);
}

int main(int argc, char **argv)
{
	struct agent a;
	int rc;

	memset(&a, 0, sizeof a);
	rc = run(&a, argc, argv);
	kr_store_close(a.st);
	kr_config_release(&a.cfg);
	free(a.sets);
	if (fflush(stdout) != 0 && rc == 0) {
		fprintf(stderr, AGENT_PROG ": writing the output failed: %s\n", strerror(errno));
		rc = KR_EXIT_STORE;
	}
	return rc;
}
