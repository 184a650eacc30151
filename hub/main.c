/* main.c: kiroku-hub's command line: the command table, its options and texts (read by cli.c), the store. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hub.h"

enum {
	OPT_FACILITY = 0x100,
	OPT_SINCE,
	OPT_KIND,
	OPT_STATUS,
	OPT_FROM,
	OPT_TO,
	OPT_ALL,
	OPT_SYSTEM,
	OPT_FORMAT,
	OPT_FOR_NODE,
	OPT_DAYS,
	OPT_OPEN,
	OPT_OVERDUE,
	OPT_SEVERITY,
	OPT_PPC,
	OPT_TODAY,
	OPT_STATE,
	OPT_COMMENT,
	OPT_KEEP,
	OPT_VALUE,
	OPT_PERIOD,
	OPT_OUT,
	OPT_NO_PSEUDONYMISE,
	OPT_PDF,
	OPT_FACILITIES,
	OPT_YEAR,
	OPT_SEED,
	OPT_INCIDENTS,
	OPT_OTHERS,
	OPT_TOKEN_NAME,
	OPT_EXPIRES,
	OPT_QR,
	OPT_QR_PNG,
	OPT_REASON,
	OPT_ANCHOR,
	OPT_VERSION, /* of the program itself */
};

/* Every command option of the hub; a command names the ones it takes. */
static const struct kr_cli_option cmd_options[] = {
    {"facility", OPT_FACILITY, "FACILITY", "the facility (1 to 64 of a-z 0-9 . _ -)"},
    {"since", OPT_SINCE, "POSITION",
     "hub position the agents have applied (their 'status' shows it; default 0: everything)"},
    {"kind", OPT_KIND, "KIND", "only records of this kind"},
    {"status", OPT_STATUS, "STATUS", "list: only records with this status; triage: the new status"},
    {"from", OPT_FROM, "YYYY-MM-DD", "only records dated on or after this day (needs --kind)"},
    {"to", OPT_TO, "YYYY-MM-DD", "only records dated on or before this day (needs --kind)"},
    {"all", OPT_ALL, NULL,
     "include deleted records (conflicts: resolved ones; enroll-token list: used, expired, cancelled ones)"},
    {"system", OPT_SYSTEM, NULL, "include system records (conflict entries)"},
    {"format", OPT_FORMAT, "table|tsv|json", "output format (default table)"},
    {"for-node", OPT_FOR_NODE, "NODE", "the node the certificate is for"},
    {"days", OPT_DAYS, "DAYS", "validity in days (default 825; negative: already expired, for tests)"},
    {"open", OPT_OPEN, NULL, "only incidents that are not closed"},
    {"overdue", OPT_OVERDUE, NULL, "only incidents with an overdue PPC report"},
    {"severity", OPT_SEVERITY, "SEVERITY", "low, medium, high or critical (or a label)"},
    {"ppc", OPT_PPC, "yes|no", "whether the leak must be reported to the PPC"},
    {"today", OPT_TODAY, "YYYY-MM-DD", "the day deadlines are judged on (default: today)"},
    {"state", OPT_STATE, "STATE", "received, has-issues, approved or rejected"},
    {"comment", OPT_COMMENT, "TEXT", "the reviewer's comment (\"\" clears it)"},
    {"keep", OPT_KEEP, "current|other", "keep the record's current value or the other one"},
    {"value", OPT_VALUE, "VALUE", "a new value that replaces both"},
    {"period", OPT_PERIOD, "FROM..TO", "the period, e.g. 2026-04-01..2027-03-31"},
    {"out", OPT_OUT, "DIR", "the directory to write to (created if needed)"},
    {"no-pseudonymise", OPT_NO_PSEUDONYMISE, NULL, "show personal fields as they are"},
    {"pdf", OPT_PDF, NULL, "also print review.html to review.pdf with headless Chromium"},
    {"facilities", OPT_FACILITIES, "N", "number of facilities (1 to 10000)"},
    {"year", OPT_YEAR, "YYYY", "the fiscal year (April to March)"},
    {"seed", OPT_SEED, "S", "seed of the generator (default 1)"},
    {"incidents", OPT_INCIDENTS, "N", "incidents in all (default: a realistic number)"},
    {"others", OPT_OTHERS, "N", "records of the other kinds in all (default: realistic)"},
    {"name", OPT_TOKEN_NAME, "NAME", "the facility's name, e.g. 光が丘小学校"},
    {"expires", OPT_EXPIRES, "DURATION", "how long the token is valid: 30m, 72h, 7d (default 72h, at most 30d)"},
    {"qr", OPT_QR, NULL, "also draw the token as a QR code on the terminal"},
    {"qr-png", OPT_QR_PNG, "FILE", "also write the token as a QR code PNG (mode 0600)"},
    {"reason", OPT_REASON, "TEXT", "why (kept in the node or token list and the audit log)"},
    {"anchor", OPT_ANCHOR, "ID:HASH", "an anchor printed by an earlier 'audit verify'"},
};

static const char *const opts_none[] = {NULL};
static const char *const opts_import[] = {"facility", NULL};
static const char *const opts_export[] = {"facility", "since", NULL};
static const char *const opts_list[] = {"facility", "kind", "status", "from", "to", "all", "system", "format", NULL};
static const char *const opts_conflicts[] = {"facility", "all", "format", NULL};
static const char *const opts_cert[] = {"for-node", "facility", "days", NULL};
static const char *const opts_dump[] = {"facility", NULL};
static const char *const opts_incidents[] = {"facility", "open", "overdue", "today", "format", NULL};
static const char *const opts_triage[] = {"status", "severity", "ppc", "today", NULL};
static const char *const opts_review[] = {"state", "comment", NULL};
static const char *const opts_resolve[] = {"keep", "value", NULL};
static const char *const opts_report[] = {"period", "out", "no-pseudonymise", "today", "pdf", NULL};
static const char *const opts_demo[] = {"facilities", "year", "seed", "incidents", "others", NULL};
static const char *const opts_token[] = {"facility", "name", "expires", "qr", "qr-png", NULL};
static const char *const opts_token_list[] = {"all", "format", NULL};
static const char *const opts_token_cancel[] = {"reason", NULL};
static const char *const opts_node_list[] = {"format", NULL};
static const char *const opts_revoke[] = {"reason", NULL};
static const char *const opts_audit[] = {"anchor", NULL};

/* The commands. To add one: a row here and its function (declared in hub.h). */
static const struct hub_cmd commands[] = {
    {{"init", 0, 0, opts_none, "init [--node NODE]", "Create the hub's store.",
      "Creates the data directory (mode 0700) if needed and a new store, DATA_DIR/hub.db, for the hub's node\n"
      "(default \"hub\"). Refuses to touch an existing store.",
      "kiroku-hub init --data-dir /var/lib/kiroku"},
     hub_cmd_init,
     false},
    {{"import-changes", 1, 1, opts_import, "import-changes [--facility FACILITY] FILE",
      "Merge a change-set file an agent exported (kiroku-agent export-changes), e.g. carried on a USB stick.",
      "The first file of a node the hub does not know yet needs --facility: the operator, not the file, says\n"
      "which facility the node belongs to. Each change is applied once: importing a file again changes\n"
      "nothing. A file that skips changes of its node is refused (exit 6) with the change expected.\n"
      "Conflicting edits are kept as conflict entries (see 'kiroku-hub conflicts').",
      "kiroku-hub import-changes --facility school-12 /media/usb/school-12-pc1.krcs"},
     hub_cmd_import,
     true},
    {{"export-changes", 1, 1, opts_export, "export-changes --facility FACILITY [--since POSITION] FILE",
      "Write the facility's changes after POSITION to FILE, to carry back to its agents.",
      "FILE holds the changes of every node of the facility, the hub's own (conflict entries, operator\n"
      "edits) and the acknowledgements that let agents trim their outboxes. It covers at most 8 MiB or\n"
      "20,000 changes; the command says the position reached and how to continue. Agents must import the\n"
      "files in order. FILE is created readable by its owner only.",
      "kiroku-hub export-changes --facility school-12 --since 0 /media/usb/for-school-12.krcs"},
     hub_cmd_export,
     true},
    {{"list", 0, 0, opts_list,
      "list [--facility F] [--kind KIND] [--status S] [--from DAY] [--to DAY] [--all] [--system] [--format F]",
      "List the merged records of every facility (or one).", NULL,
      "kiroku-hub list --facility school-12 --kind incident"},
     hub_cmd_list,
     true},
    {{"show", 1, 1, opts_none, "show ID [--lang ja|en]",
      "Show every field of a record with its label, its version, and the conflicts that name it.", NULL,
      "kiroku-hub show 01KAB3C4D5E6F7G8H9J0KMNPQR"},
     hub_cmd_show,
     true},
    {{"incidents", 0, 0, opts_incidents,
      "incidents [--facility F] [--open] [--overdue] [--today DAY] [--format table|tsv]",
      "List incidents with their status, severity and PPC report deadlines.",
      "A record with no status is reported. PPC deadlines count from the day of discovery (else of occurrence):\n"
      "preliminary report 5 days after, final report 30 days after (60 for an unauthorised purpose). A deadline\n"
      "is overdue when its report was not sent and --today (default: today) is after the due day.\n"
      "tsv columns: id facility occurred_at status severity category ppc preliminary_due preliminary_state\n"
      "final_due final_state overdue.",
      "kiroku-hub incidents --open --overdue"},
     hub_cmd_incidents,
     true},
    {{"triage", 1, 1, opts_triage, "triage ID [--status S] [--severity S] [--ppc yes|no] [--today DAY]",
      "Set an incident's status, severity and PPC decision (a hub change that reaches the facility).",
      "Status goes reported -> triaged -> contained -> closed; a closed incident may be reopened (--status\n"
      "triaged), which is counted and dated. Other moves are refused (exit 4). --ppc yes writes the preliminary\n"
      "and final report deadlines; --ppc no clears them. Every change of status is added to status_history.",
      "kiroku-hub triage 01KAB3C4D5E6F7G8H9J0KMNPQR --status triaged --severity high --ppc yes"},
     hub_cmd_triage,
     true},
    {{"review", 1, 1, opts_review, "review ID --state received|has-issues|approved|rejected [--comment TEXT]",
      "Write the operator's review of any record (a hub change that reaches the facility).",
      "review_state and review_comment are operator-only fields of every kind; ledger entries may be reviewed too.",
      "kiroku-hub review 01KAB3C4D5E6F7G8H9J0KMNPQR --state has-issues --comment \"発見日時を記入してください\""},
     hub_cmd_review,
     true},
    {{"report", 0, 0, opts_report,
      "report --period FROM..TO --out DIR [--lang ja|en] [--no-pseudonymise] [--today DAY]",
      "Write the consolidated review material for the CISO (要綱 第11条第5項): HTML, CSV and JSON.",
      "Writes DIR/review.html (one self-contained, printable file: the overall status on its first page, a\n"
      "section per item of the management review, charts, and an annex listing each incident), one CSV file per\n"
      "table (UTF-8 with BOM, CRLF) and DIR/review.json with the same figures. Personal fields are pseudonymised\n"
      "with a key kept in DATA_DIR/pseudonym.key (made on first use) unless --no-pseudonymise is given.\n"
      "Deadlines are judged on --today (default: today). docs/report.md defines every figure.",
      "kiroku-hub report --period 2026-04-01..2027-03-31 --out /srv/review/2026"},
     hub_cmd_report,
     true},
    {{"demo-data", 0, 0, opts_demo, "demo-data --facilities N --year YYYY [--seed S] [--incidents N] [--others N]",
      "Fill the hub's store with realistic made-up records of schools and offices (for demonstrations and tests).",
      "The same options give the same records. Every kind of the catalogue is made, as hub changes (they reach\n"
      "the facilities' agents like operator edits). --incidents and --others set totals instead of realistic\n"
      "numbers per facility (for benchmarks). Never run it on a hub that holds real records.",
      "kiroku-hub demo-data --facilities 30 --year 2026 --seed 7"},
     hub_cmd_demo_data,
     true},
    {{"conflicts resolve", 1, 1, opts_resolve, "conflicts resolve ID (--keep current|other | --value VALUE)",
      "Resolve a conflict entry: write the chosen value over both sides and mark the entry resolved.",
      "ID is the conflict entry's id (see 'kiroku-hub conflicts'). --keep current keeps the value the record holds,\n"
      "--keep other the value the entry kept aside, --value a new one (checked against the catalogue). The value is\n"
      "written as a hub change with base = the current version, so it supersedes both on every replica. For an edit\n"
      "that met a delete, other or a value restores the record.",
      "kiroku-hub conflicts resolve 01KAB3C4D5E6F7G8H9J0KMNPQR --keep other"},
     hub_cmd_conflicts_resolve,
     true},
    {{"conflicts", 0, 0, opts_conflicts, "conflicts [--facility F] [--all] [--format table|tsv]",
      "List open conflict entries: concurrent writes to one field, with the value kept and the value lost.",
      "tsv columns: id facility record field type status winner_value winner_node winner_hlc loser_value\n"
      "loser_node loser_hlc.",
      "kiroku-hub conflicts --facility school-12"},
     hub_cmd_conflicts,
     true},
    {{"status", 0, 0, opts_none, "status", "Show the hub's node, records, open conflicts and the nodes it knows.", NULL,
      "kiroku-hub status"},
     hub_cmd_status,
     true},
    {{"serve", 0, 0, opts_none, "serve [--listen HOST:PORT] [--threads N]",
      "Serve agents over HTTPS with mutual TLS: POST /v1/sync, GET /v1/health, GET /v1/metrics.",
      "Requires the CA and the hub's certificate (see 'kiroku-hub ca init'). Agents must present a certificate\n"
      "issued by the hub's CA; its CN names the node and its OU the facility, and a node may write only its\n"
      "own facility. One log line per request on stderr. SIGTERM or SIGINT finish the requests in flight and\n"
      "stop; SIGHUP reloads the hub's certificate, key and CA for new connections (a bad file is refused and\n"
      "logged, the old ones kept) and the options that can change while serving. A listen port of 0 picks a\n"
      "free port, printed on stdout.",
      "kiroku-hub serve --listen 0.0.0.0:8443"},
     hub_cmd_serve,
     true},
    {{"ca init", 0, 0, opts_none, "ca init",
      "Create the hub's certificate authority (P-256) and the hub's own server certificate.",
      "Writes DATA_DIR/ca.key (mode 0600) and DATA_DIR/ca.crt, then the hub's certificate and key (cert_file,\n"
      "key_file) named for localhost, 127.0.0.1 and the host of --listen. Prints the CA's SHA-256 fingerprint.\n"
      "Refuses to overwrite an existing CA.",
      "kiroku-hub ca init --listen hub.city.example:8443"},
     hub_cmd_ca_init,
     false},
    {{"cert issue", 0, 1, opts_cert, "cert issue --for-node NODE --facility FACILITY [--days N] [DIR]",
      "Issue a client certificate and key for an agent's node (written to DIR, default the current directory).",
      "Writes DIR/NODE.crt and DIR/NODE.key (mode 0600). Copy both and the hub's ca.crt to the agent's data\n"
      "directory as agent.crt, agent.key and hub-ca.crt (or point cert_file, key_file and ca_file at them).",
      "kiroku-hub cert issue --for-node school-12-pc1 --facility school-12 /tmp/certs"},
     hub_cmd_cert_issue,
     false},
    {{"backup", 1, 1, opts_none, "backup FILE",
      "Write a consistent copy of the hub's store to FILE while the hub keeps serving, and verify it.",
      "Uses SQLite's online backup, then PRAGMA integrity_check on the copy. FILE must not exist; it is created\n"
      "readable by its owner only. To restore: stop the hub, replace DATA_DIR/hub.db (and remove hub.db-wal and\n"
      "hub.db-shm) with the copy, start the hub. Agents then send again what the restored hub is missing.",
      "kiroku-hub backup /var/backups/kiroku/hub-$(date +%F).db"},
     hub_cmd_backup,
     true},
    {{"enroll-token list", 0, 0, opts_token_list, "enroll-token list [--all] [--format table|tsv]",
      "List the open enrolment tokens (--all: used, expired and cancelled ones too), never their secrets.",
      "A token is shown by its id, the first 16 hex digits of its secret's SHA-256 (the hub keeps only that hash),\n"
      "as in enroll-token's message and the audit log; with its facility, when and by whom it was issued and when\n"
      "it expires. --all adds the state: used (by which node, when), expired, or cancelled (when, by whom, why).\n"
      "tsv columns: id facility facility_name created_ms created_by expires_ms state(open, used, expired,\n"
      "cancelled) used_ms used_by cert_serial cancelled_ms cancelled_by reason (times in Unix ms, 0 for none).",
      "kiroku-hub enroll-token list --all"},
     hub_cmd_enroll_token_list,
     true},
    {{"enroll-token cancel", 1, 1, opts_token_cancel, "enroll-token cancel ID [--reason TEXT]",
      "Cancel an open enrolment token (a PC that was not installed, a token that leaked).",
      "ID is the token's id ('kiroku-hub enroll-token list'), or the token itself. From then on a PC presenting it\n"
      "is refused, told that the token was cancelled, and nothing is written; the token no longer keeps\n"
      "enrolment open. The cancellation (who, when, --reason) is written to the audit log. A used, expired or\n"
      "already cancelled token cannot be cancelled (exit 4: revoke a node that enrolled with 'node revoke'); an\n"
      "unknown ID fails with exit 2.",
      "kiroku-hub enroll-token cancel 3f2a9c0d51e7b846 --reason \"PC not installed\""},
     hub_cmd_enroll_token_cancel,
     true},
    {{"enroll-token", 0, 0, opts_token,
      "enroll-token --facility FACILITY [--name NAME] [--expires DURATION] [--qr] [--qr-png FILE]",
      "Issue a one-time enrolment token for a new PC of a facility (printed alone on stdout).",
      "The token carries the hub's URL (hub_url, else https://HOST:PORT of --listen), the SHA-256 fingerprint of\n"
      "the hub's CA, a 192-bit secret, the facility and the expiry. On the PC, 'kiroku-agent enroll TOKEN' makes\n"
      "a key there, trusts only the hub whose CA has that fingerprint, and gets a certificate for the facility.\n"
      "The hub keeps only the secret's SHA-256; the token enrols one node, once, before it expires. While a token\n"
      "is open a running hub accepts TLS connections without a client certificate, for /v1/ca and /v1/enroll only.\n"
      "'enroll-token list' shows the tokens issued; 'enroll-token cancel ID' cancels one before it is used.",
      "kiroku-hub enroll-token --facility school-12 --name \"光が丘小学校\" --expires 72h --qr"},
     hub_cmd_enroll_token,
     true},
    {{"node list", 0, 0, opts_node_list, "node list [--format table|tsv]",
      "List every node: facility, certificate serial and expiry, last seen, clock skew, outbox, revoked or not.",
      "OUTBOX is the number of changes the node said were still waiting to be sent at its last sync (? if it never\n"
      "said). SKEW is how far the node's clock ran ahead of the hub's at its last change-set. tsv columns: node\n"
      "facility facility_name serial cert_not_after(Unix s) enrolled_ms last_seen_ms skew_ms outbox state\n"
      "revoked_ms reason.",
      "kiroku-hub node list"},
     hub_cmd_node_list,
     true},
    {{"node revoke", 1, 1, opts_revoke, "node revoke NODE [--reason TEXT]",
      "Revoke a node (a lost or stolen PC): refused from its next TLS handshake, its open connections closed.",
      "Marks the node and all its certificates revoked and writes the audit log. A running hub sees it within a\n"
      "second, without a restart. The node's records stay. A replacement PC enrols with a new token and node id.",
      "kiroku-hub node revoke school-12-pc1 --reason \"stolen 2026-11-20\""},
     hub_cmd_node_revoke,
     true},
    {{"audit verify", 0, 0, opts_audit, "audit verify [--anchor ID:HASH]",
      "Check the audit log's hash chain; name the first entry that was changed or removed (exit 4).",
      "Each entry holds the SHA-256 of the one before it. Prints the anchor (newest entry's id and hash): keep it\n"
      "elsewhere, and give it back with --anchor later to detect a log rewritten from scratch.",
      "kiroku-hub audit verify"},
     hub_cmd_audit_verify,
     true},
    {{"audit list", 0, 0, opts_none, "audit list",
      "Print the audit log, oldest first: id, time (UTC), actor, action, detail, hash (tab-separated).", NULL,
      "kiroku-hub audit list"},
     hub_cmd_audit_list,
     true},
    {{"dump", 0, 0, opts_dump, "dump [--facility F]",
      "Print a canonical dump of the merged records (every field with its value and version), for comparing replicas.",
      NULL, "kiroku-hub dump --facility school-12"},
     hub_cmd_dump,
     true},
};

static const struct kr_cli hub_cli = {
    .prog = HUB_PROG,
    .program = KR_PROG_HUB,
    .about = "the city hall's hub of kiroku: merges the records of every facility, keeps the\n"
             "conflicts for the operator, and exchanges changes with the agents over the network or as files.",
    .refused = "another facility, an unknown node without --facility, an existing store, a spent enrolment token",
    .gap = "a node's changes imported out of order",
    .config_section = "hub",
    .config_file = "/etc/kiroku/hub.conf",
    .output_note = "Messages go to stderr; results to stdout. Text is UTF-8.",
    .options_note = "The options of every command (--config FILE, --data-dir DIR, --lang ja|en, ...) are listed by\n"
                    "'" HUB_PROG " --help'.",
    .version_val = OPT_VERSION,
    KR_CLI_TABLES(cmd_options, commands),
};

int hub_fail(const struct kr_error *err)
{
	return kr_cli_fail(&hub_cli, err);
}

int hub_usage(const struct hub *h, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = kr_cli_vusage(&hub_cli, h->cmd ? &h->cmd->cli : NULL, fmt, ap);
	va_end(ap);
	return rc;
}

/* Takes the value of a command option (kr_cli_take_fn). Can't fail. */
static int take_option(void *ctx, int val, char *arg)
{
	struct hub *h = ctx;

	switch (val) {
	case OPT_FACILITY:
		h->facility = arg;
		break;
	case OPT_SINCE:
		h->since = arg;
		break;
	case OPT_KIND:
		h->kind = arg;
		break;
	case OPT_STATUS:
		h->status = arg;
		break;
	case OPT_FROM:
		h->from = arg;
		break;
	case OPT_TO:
		h->to = arg;
		break;
	case OPT_ALL:
		h->all = true;
		break;
	case OPT_SYSTEM:
		h->system = true;
		break;
	case OPT_FOR_NODE:
		h->node_opt = arg;
		break;
	case OPT_DAYS:
		h->days = arg;
		break;
	case OPT_OPEN:
		h->open = true;
		break;
	case OPT_OVERDUE:
		h->overdue = true;
		break;
	case OPT_SEVERITY:
		h->severity = arg;
		break;
	case OPT_PPC:
		h->ppc = arg;
		break;
	case OPT_TODAY:
		h->today = arg;
		break;
	case OPT_STATE:
		h->state = arg;
		break;
	case OPT_COMMENT:
		h->comment = arg;
		break;
	case OPT_KEEP:
		h->keep = arg;
		break;
	case OPT_VALUE:
		h->value = arg;
		break;
	case OPT_PERIOD:
		h->period = arg;
		break;
	case OPT_OUT:
		h->out_dir = arg;
		break;
	case OPT_PDF:
		h->pdf = true;
		break;
	case OPT_NO_PSEUDONYMISE:
		h->no_pseudonymise = true;
		break;
	case OPT_FACILITIES:
		h->facilities = arg;
		break;
	case OPT_YEAR:
		h->year = arg;
		break;
	case OPT_SEED:
		h->seed = arg;
		break;
	case OPT_INCIDENTS:
		h->incidents_n = arg;
		break;
	case OPT_OTHERS:
		h->others_n = arg;
		break;
	case OPT_TOKEN_NAME:
		h->token_name = arg;
		break;
	case OPT_EXPIRES:
		h->expires = arg;
		break;
	case OPT_QR:
		h->qr = true;
		break;
	case OPT_QR_PNG:
		h->qr_png = arg;
		break;
	case OPT_REASON:
		h->reason = arg;
		break;
	case OPT_ANCHOR:
		h->anchor = arg;
		break;
	case OPT_FORMAT:
		h->format = arg;
		break;
	}
	return 0;
}

static int open_store(struct hub *h)
{
	const char *path = h->cfg.store_path;
	struct kr_error err;
	struct stat sb;

	if (stat(path, &sb) != 0 && errno == ENOENT) {
		fprintf(stderr,
		        HUB_PROG ": no store at %s: create it with '" HUB_PROG
		                 " init' (or give --data-dir DIR if it is "
		                 "elsewhere)\n",
		        path);
		return KR_EXIT_STORE;
	}
	if (kr_store_open(path, &h->st, &err))
		return hub_fail(&err);
	if (kr_store_role(h->st) != KR_ROLE_HUB) {
		fprintf(stderr, HUB_PROG ": %s is an agent's store, not the hub's: use kiroku-agent with it\n", path);
		return KR_EXIT_STORE;
	}
	return 0;
}

static int run(struct hub *h, int argc, char **argv)
{
	struct kr_cli_line line;
	int rc;

	if ((rc = kr_cli_choose(&hub_cli, &h->cfg, argc, argv, &line)) != KR_CLI_CONTINUE)
		return rc;
	h->cmd = (const struct hub_cmd *)line.cmd;
	if ((rc = kr_cli_parse(&hub_cli, &h->cfg, &line, take_option, h)) != KR_CLI_CONTINUE)
		return rc;
	h->args = line.args;
	h->nargs = line.nargs;
	if (h->cmd->needs_store && (rc = open_store(h)))
		return rc;
	return h->cmd->run(h);
}

int main(int argc, char **argv)
{
	struct hub h;
	int rc;

	memset(&h, 0, sizeof h);
	rc = run(&h, argc, argv);
	kr_store_close(h.st);
	kr_config_release(&h.cfg);
	if (fflush(stdout) != 0 && rc == 0) {
		fprintf(stderr, HUB_PROG ": writing the output failed: %s\n", strerror(errno));
		rc = KR_EXIT_STORE;
	}
	return rc;
}
