/* main.c: kiroku-agent's command line: the command table, option parsing, configuration and help. */
#include <errno.h>
#include <getopt.h>
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
	OPT_VERSION,
};

/* Every command option of the agent; a command names the ones it takes. */
static const struct cmd_option {
	struct option opt;
	const char *arg;
	const char *help;
} cmd_options[] = {
    {{"set", required_argument, NULL, OPT_SET},
     "FIELD=VALUE",
     "set a field (repeat for more fields); an empty VALUE clears the field"},
    {{"kind", required_argument, NULL, OPT_KIND}, "KIND", "only records of this kind (incident, pi_handling, ...)"},
    {{"status", required_argument, NULL, OPT_STATUS},
     "STATUS",
     "only records with this status (with --kind, a label such as 報告済み works too)"},
    {{"from", required_argument, NULL, OPT_FROM},
     "YYYY-MM-DD",
     "only records dated on or after this day (needs --kind)"},
    {{"to", required_argument, NULL, OPT_TO}, "YYYY-MM-DD", "only records dated on or before this day (needs --kind)"},
    {{"all", no_argument, NULL, OPT_ALL}, NULL, "include deleted records"},
    {{"format", required_argument, NULL, OPT_FORMAT},
     "table|tsv|json",
     "output format (default table; tsv columns: id kind facility deleted date status category description)"},
};

#define NCMD_OPTIONS (sizeof cmd_options / sizeof cmd_options[0])

static const char *const opts_none[] = {NULL};
static const char *const opts_set[] = {"set", NULL};
static const char *const opts_list[] = {"kind", "status", "from", "to", "all", "format", NULL};

static const struct agent_cmd commands[] = {
    {"init", agent_cmd_init, false, 0, 0, opts_none, "init --node NODE --facility FACILITY",
     "Create this agent's store in the data directory.",
     "Creates the data directory (mode 0700) if needed and a new store, DATA_DIR/agent.db, for the node and the\n"
     "facility given as flags or in the configuration file. Refuses to touch an existing store.",
     "kiroku-agent init --node school-12-pc1 --facility school-12"},
    {"record", agent_cmd_record, true, 1, 1, opts_set, "record KIND --set FIELD=VALUE [--set FIELD=VALUE ...]",
     "Record a new record of KIND and print its id.",
     "Values are checked against the catalogue: an enumeration takes its Japanese or English label or an alias\n"
     "(USB, usb); a date is YYYY-MM-DD; a date and time YYYY-MM-DDThh:mm; a yes/no field yes/no, true/false,\n"
     "1/0 or はい/いいえ. Required fields must be given. The id alone is printed on stdout.",
     "kiroku-agent record incident --set category=紛失 --set media=USB --set occurred_at=2026-11-20T15:10 "
     "--set description=\"USBメモリを紛失\""},
    {"edit", agent_cmd_edit, true, 1, 1, opts_set, "edit ID --set FIELD=VALUE [--set FIELD=VALUE ...]",
     "Change fields of a record.",
     "Only the fields named change. An empty VALUE clears a field (not a required one). Deleted records,\n"
     "ledger entries (pi_handling) and fields the hub operator sets (status, severity, ...) can't be edited.",
     "kiroku-agent edit 01KAB3C4D5E6F7G8H9J0KMNPQR --set containment=\"端末の利用を停止\""},
    {"delete", agent_cmd_delete, true, 1, 1, opts_none, "delete ID", "Delete a record.",
     "The record is marked deleted (list --all still shows it) and the deletion travels to the hub like any\n"
     "other change. Ledger entries (pi_handling) can't be deleted.",
     "kiroku-agent delete 01KAB3C4D5E6F7G8H9J0KMNPQR"},
    {"list", agent_cmd_list, true, 0, 0, opts_list,
     "list [--kind KIND] [--status STATUS] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--all] [--format table|tsv|json]",
     "List records, oldest first.",
     "The period (--from, --to) applies to the kind's date (an incident's occurred_at, ...). A record with no\n"
     "status is shown with the first status (報告済み / reported).",
     "kiroku-agent list --kind incident --from 2026-04-01 --to 2027-03-31"},
    {"show", agent_cmd_show, true, 1, 1, opts_none, "show ID [--lang ja|en]",
     "Show every field of a record with its label, its version, and the conflicts that name it.",
     "Each field is printed as LABEL (name): VALUE  [VERSION NODE], the version being the hybrid-logical-clock\n"
     "time of the write and the node that made it.",
     "kiroku-agent show 01KAB3C4D5E6F7G8H9J0KMNPQR --lang en"},
    {"export-changes", agent_cmd_export, true, 1, 1, opts_none, "export-changes FILE",
     "Write the changes waiting for the hub (the outbox) to FILE, for a USB stick.",
     "FILE holds one change-set (at most 8 MiB and 20,000 changes); when more are waiting, the rest follows in\n"
     "the next export, after the hub's answer has been imported. Nothing leaves the outbox until the hub has\n"
     "acknowledged it, so exporting twice is harmless. FILE is created readable by its owner only.",
     "kiroku-agent export-changes /media/usb/school-12-pc1.krcs"},
    {"import-changes", agent_cmd_import, true, 1, 1, opts_none, "import-changes FILE",
     "Apply a file exported by the hub (kiroku-hub export-changes) for this facility.",
     "Hub exports must be imported in order; a file that starts after what this agent has seen is refused\n"
     "(exit 6) with the position to export from. Importing a file twice changes nothing. The hub's\n"
     "acknowledgements in the file trim the outbox.",
     "kiroku-agent import-changes /media/usb/for-school-12.krcs"},
    {"status", agent_cmd_status, true, 0, 0, opts_none, "status",
     "Show this agent's node, facility, records, outbox and exchange state.", NULL, "kiroku-agent status"},
    {"sync", agent_cmd_sync, true, 0, 0, opts_none, "sync [--hub-url URL]",
     "Exchange changes with the hub once: send the outbox, receive the facility's changes, until both are empty.",
     "Connects to hub_url over HTTPS with this node's certificate (cert_file, key_file), trusting only the hub's\n"
     "CA (ca_file). Changes leave the outbox only once the hub has committed them, so an interrupted sync\n"
     "loses nothing: run it again. Exit 5 when the hub cannot be reached; the records stay safe here.",
     "kiroku-agent sync"},
    {"recover", agent_cmd_recover, true, 0, 0, opts_none, "recover [--hub-url URL]",
     "Take this node's records and changes back from the hub after a restore from a backup or a reinstall.",
     "For a PC whose store was restored from an old backup, or created anew (init) with the same node, facility,\n"
     "key and certificate: asks the hub for every change of the facility, this node's own included, and applies\n"
     "them (nothing twice); drops from the outbox what the hub already has; gives changes made on the restored\n"
     "store under numbers the old store had already used new numbers after the hub's; then syncs as usual.\n"
     "'sync' says when it is needed (\"this store looks older than the hub's view of it\"). Stop the daemon\n"
     "first. Safe to run again; on a store that needs nothing it changes nothing. See docs/design.md, Recovery.",
     "kiroku-agent recover"},
    {"run", agent_cmd_run, true, 0, 0, opts_none, "run [--sync-interval SECONDS]",
     "Run as a daemon: sync on an interval, soon after new records, with back-off while the hub is away.",
     "Syncs every sync_interval seconds, a couple of seconds after new local records, and after a failure\n"
     "retries with exponential back-off (5 s doubling up to sync_interval) and jitter. Logs one line per\n"
     "outcome on stderr. SIGTERM or SIGINT stop it cleanly between syncs. Unless web_port is 0, it also\n"
     "serves the staff's web form on http://127.0.0.1:WEB_PORT/ (see 'kiroku-agent help web').",
     "kiroku-agent run --config /etc/kiroku/agent.conf"},
    {"web", agent_cmd_web, true, 0, 0, opts_none, "web [--web-port PORT]",
     "Serve the staff's web form on this PC only (http://127.0.0.1:PORT/), without syncing.",
     "Teachers and office staff open the address in this PC's browser to see the facility's records, the\n"
     "sync state and city hall's review, and to record incidents, ledger entries, training and the\n"
     "self-inspection in forms made from the catalogue (Japanese by default, English selectable). It works\n"
     "with no network. Only 127.0.0.1 is listened on; requests naming another host, and changes without the\n"
     "page's session token or from another site, are refused. The first line on stdout is the address;\n"
     "--web-port 0 takes any free port. 'kiroku-agent run' serves the same form beside its syncs.",
     "kiroku-agent web --web-port 8765"},
    {"enroll", agent_cmd_enroll, false, 1, 1, opts_none, "enroll TOKEN [--node NODE] [--hub-url URL]",
     "Enrol this computer with the hub: make a key here, get a certificate for the token's facility.",
     "TOKEN comes from the hub's operator (kiroku-hub enroll-token). The key (key_file, mode 0600) is made on\n"
     "this computer and never leaves it; only a certificate request is sent. The hub is trusted only if its\n"
     "CA has the fingerprint the token carries; its CA certificate is kept as ca_file. The node id is the\n"
     "store's, else --node, else this computer's name; the facility is the token's. Creates the store when\n"
     "there is none. Exit 4 when the hub refuses (token used or expired, node id taken), 5 when it cannot be\n"
     "reached or is not the hub the token names.",
     "kiroku-agent enroll KR1.gqFodHRwczovL2h1Yi5jaXR5LmV4YW1wbGU6ODQ0Mw..."},
    {"renew", agent_cmd_renew, true, 0, 0, opts_none, "renew",
     "Renew this node's certificate now, over the existing mutual-TLS connection (a new key, made here).",
     "sync and run do this by themselves when less than 30 days are left. An expired certificate cannot be\n"
     "renewed: enrol again with a new token.",
     "kiroku-agent renew"},
    {"backup", agent_cmd_backup, true, 1, 1, opts_none, "backup FILE",
     "Write a consistent copy of this agent's store to FILE, and verify it.",
     "Uses SQLite's online backup (the daemon may keep running), then PRAGMA integrity_check on the copy.\n"
     "FILE must not exist; it is created readable by its owner only. To restore: stop the daemon, replace\n"
     "DATA_DIR/agent.db (and remove agent.db-wal and agent.db-shm) with the copy, run 'kiroku-agent recover'\n"
     "(it takes back from the hub what the PC synced after the backup), start the daemon again.",
     "kiroku-agent backup /media/usb/agent-backup.db"},
    {"dump", agent_cmd_dump, true, 0, 0, opts_none, "dump",
     "Print a canonical dump of this agent's records (every field with its value and version), for comparing "
     "replicas.",
     NULL, "kiroku-agent dump"},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

int agent_fail(const struct kr_error *err)
{
	fprintf(stderr, AGENT_PROG ": %s\n", err->msg);
	return kr_exit_code(err->code);
}

int agent_usage(const struct agent *a, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, AGENT_PROG ": ");
	if (a->cmd)
		fprintf(stderr, "%s: ", a->cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (a->cmd)
		fprintf(stderr, "\nUsage: " AGENT_PROG " %s\nSee '" AGENT_PROG " help %s'.\n", a->cmd->usage,
		        a->cmd->name);
	else
		fprintf(stderr, "\nSee '" AGENT_PROG " --help'.\n");
	return KR_EXIT_USAGE;
}

static const struct agent_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static const struct cmd_option *find_option(const char *name)
{
	for (size_t i = 0; i < NCMD_OPTIONS; i++)
		if (strcmp(cmd_options[i].opt.name, name) == 0)
			return &cmd_options[i];
	return NULL;
}

static void print_exit_codes(FILE *out)
{
	fputs("Exit codes:\n"
	      "  0  success\n"
	      "  1  usage or configuration error\n"
	      "  2  invalid input (unknown kind or field, bad value, damaged change-set file)\n"
	      "  3  store or system problem (not a kiroku store, too new, damaged, disk full)\n"
	      "  4  refused (a deleted record, a ledger entry, an operator-only field, an existing store)\n"
	      "  5  network problem\n"
	      "  6  sequence gap (change-set files imported out of order)\n",
	      out);
}

static void print_common_options(FILE *out)
{
	size_t n;
	const struct kr_config_option *o = kr_config_options(&n);

	fputs("Options of every command (each is also a key of [agent] in the configuration file):\n"
	      "  --config FILE             configuration file (default /etc/kiroku/agent.conf, or $KIROKU_CONFIG)\n",
	      out);
	for (size_t i = 0; i < n; i++) {
		char flag[64];
		const char *def = kr_config_default(&o[i], KR_PROG_AGENT);
		if (!(o[i].programs & KR_PROG_AGENT))
			continue;
		snprintf(flag, sizeof flag, "--%s %s", o[i].flag, o[i].arg);
		fprintf(out, "  %-25s %s", flag, o[i].help);
		if (*def)
			fprintf(out, " (default %s%s)", o[i].under_data_dir ? "DATA_DIR/" : "", def);
		fputc('\n', out);
	}
	fputs("  -h, --help                show help\n", out);
}

static void print_main_help(FILE *out)
{
	fprintf(out,
	        AGENT_PROG " %s: record a facility's incidents and other records offline, and exchange them with\n"
	                   "the hub (kiroku-hub) over the network or as files carried on a USB stick.\n\n"
	                   "Usage: " AGENT_PROG " [OPTIONS] COMMAND [ARGUMENTS] [OPTIONS]\n\nCommands:\n",
	        KR_VERSION);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-16s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "  %-16s %s\n\n", "help [COMMAND]", "Show help for a command.");
	print_common_options(out);
	fputs("  --version                 print the version\n\n", out);
	print_exit_codes(out);
	fputs("\nMessages go to stderr; results (ids, lists) to stdout. Text is UTF-8.\n", out);
}

static void print_command_help(const struct agent_cmd *c, FILE *out)
{
	fprintf(out, "Usage: " AGENT_PROG " %s\n\n%s\n", c->usage, c->summary);
	if (c->details)
		fprintf(out, "\n%s\n", c->details);
	if (c->opts[0]) {
		fputs("\nOptions:\n", out);
		for (const char *const *name = c->opts; *name; name++) {
			const struct cmd_option *o = find_option(*name);
			char flag[64];
			snprintf(flag, sizeof flag, "--%s%s%s", o->opt.name, o->arg ? " " : "", o->arg ? o->arg : "");
			fprintf(out, "  %-25s %s\n", flag, o->help);
		}
	}
	fprintf(out, "\nExample:\n  %s\n\n", c->example);
	fputs("The options of every command (--config FILE, --data-dir DIR, --node NODE, --lang ja|en, ...)\n"
	      "are listed by '" AGENT_PROG " --help'.\n\n",
	      out);
	print_exit_codes(out);
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

/* The getopt table of command c: its own options and those of every command. NULL when out of memory. */
static struct option *command_options(const struct agent_cmd *c)
{
	struct option own[NCMD_OPTIONS + 2];
	size_t n = 0;

	for (const char *const *name = c ? c->opts : opts_none; *name; name++)
		own[n++] = find_option(*name)->opt;
	if (!c)
		own[n++] = (struct option){"version", no_argument, NULL, OPT_VERSION};
	own[n] = (struct option){NULL, 0, NULL, 0};
	return kr_config_getopt(KR_PROG_AGENT, own);
}

enum parse_result { PARSE_OK, PARSE_HELP, PARSE_VERSION, PARSE_ERROR };

/* Parses options of argv (argv[0] being the program or the command); with c NULL, stops at the first
 * operand (the command). */
static enum parse_result parse_options(struct agent *a, const struct agent_cmd *c, int argc, char **argv,
                                       const char **config_path, int *next)
{
	struct option *longopts = command_options(c);
	enum parse_result r = PARSE_OK;
	struct kr_error err;
	int ch;

	if (!longopts) {
		fprintf(stderr, AGENT_PROG ": out of memory\n");
		return PARSE_ERROR;
	}
	opterr = 0;
	optind = 0;
	while (r == PARSE_OK && (ch = getopt_long(argc, argv, c ? ":h" : "+:hV", longopts, NULL)) != -1) {
		if (kr_config_is_flag(ch)) {
			if (kr_config_take_flag(&a->cfg, ch, optarg, &err)) {
				agent_fail(&err);
				r = PARSE_ERROR;
			}
			continue;
		}
		switch (ch) {
		case 'h':
			r = PARSE_HELP;
			break;
		case 'V':
		case OPT_VERSION:
			r = PARSE_VERSION;
			break;
		case KR_CONFIG_OPT_FILE:
			*config_path = optarg;
			break;
		case OPT_SET:
			if (add_set(a, optarg))
				r = PARSE_ERROR;
			break;
		case OPT_KIND:
			a->kind = optarg;
			break;
		case OPT_STATUS:
			a->status = optarg;
			break;
		case OPT_FROM:
			a->from = optarg;
			break;
		case OPT_TO:
			a->to = optarg;
			break;
		case OPT_ALL:
			a->all = true;
			break;
		case OPT_FORMAT:
			a->format = optarg;
			break;
		case ':':
			agent_usage(a, "%s needs a value", argv[optind - 1]);
			r = PARSE_ERROR;
			break;
		default:
			if (optopt)
				agent_usage(a, "unknown option -%c", optopt);
			else
				agent_usage(a, "unknown option %s", argv[optind - 1]);
			r = PARSE_ERROR;
		}
	}
	*next = optind;
	free(longopts);
	return r;
}

/* Reads the configuration file under the flags already set, and works out the paths. */
static int load_config(struct agent *a, const char *config_path)
{
	struct kr_error err;
	bool explicit_path;
	const char *path = kr_config_path(KR_PROG_AGENT, config_path, &explicit_path);

	if (kr_config_load(&a->cfg, path, explicit_path, &err) || kr_config_finish(&a->cfg, &err))
		return agent_fail(&err);
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
	const char *config_path = NULL;
	const struct agent_cmd *c;
	enum parse_result r;
	struct kr_error err;
	int next, rc;

	if (kr_config_init(&a->cfg, KR_PROG_AGENT, &err))
		return agent_fail(&err);
	r = parse_options(a, NULL, argc, argv, &config_path, &next);
	if (r == PARSE_ERROR)
		return KR_EXIT_USAGE;
	if (r == PARSE_VERSION) {
		printf(AGENT_PROG " %s\n", KR_VERSION);
		return 0;
	}
	if (r == PARSE_HELP) {
		print_main_help(stdout);
		return 0;
	}
	if (next >= argc) {
		print_main_help(stderr);
		return KR_EXIT_USAGE;
	}
	if (strcmp(argv[next], "help") == 0) {
		if (next + 1 >= argc) {
			print_main_help(stdout);
			return 0;
		}
		if (!(c = find_command(argv[next + 1])))
			return agent_usage(a, "no command \"%s\"", argv[next + 1]);
		print_command_help(c, stdout);
		return 0;
	}
	if (!(c = find_command(argv[next])))
		return agent_usage(a, "no command \"%s\"", argv[next]);
	a->cmd = c;
	argc -= next;
	argv += next;
	if (!(a->sets = calloc((size_t)argc, sizeof *a->sets))) {
		fprintf(stderr, AGENT_PROG ": out of memory\n");
		return KR_EXIT_STORE;
	}
	r = parse_options(a, c, argc, argv, &config_path, &next);
	if (r == PARSE_ERROR)
		return KR_EXIT_USAGE;
	if (r == PARSE_HELP) {
		print_command_help(c, stdout);
		return 0;
	}
	if (r == PARSE_VERSION)
		return agent_usage(a, "--version is an option of " AGENT_PROG " itself");
	a->args = argv + next;
	a->nargs = argc - next;
	if (a->nargs < c->min_args)
		return agent_usage(a, "missing %s", c->min_args - a->nargs > 1 ? "arguments" : "an argument");
	if (a->nargs > c->max_args)
		return agent_usage(a, "unexpected argument \"%s\"", a->args[c->max_args]);
	if ((rc = load_config(a, config_path)))
		return rc;
	if (c->needs_store && (rc = open_store(a)))
		return rc;
	return c->run(a);
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
