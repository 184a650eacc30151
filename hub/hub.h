/* hub.h: what the files of kiroku-hub share: the parsed command line and the command functions.
 *
 * main.c holds the command table: a command is one row (name, function, whether it needs the store,
 * operands, options, help) and one function returning the process exit code (print.h, enum kr_exit).
 * A name may be two words ("ca init"). A command prints its own message on failure.
 */
#ifndef KR_HUB_H
#define KR_HUB_H

#include <stdbool.h>
#include <stdint.h>

#include "kiroku/cli.h"
#include "kiroku/config.h"
#include "kiroku/day.h"
#include "kiroku/error.h"
#include "kiroku/print.h"
#include "kiroku/store.h"

#define HUB_PROG "kiroku-hub"

struct hub {
	const struct hub_cmd *cmd;
	struct kr_config cfg;
	struct kr_store *st; /* open when cmd->needs_store */
	/* command options */
	const char *facility, *since, *kind, *status, *from, *to, *format;
	const char *node_opt, *days; /* cert issue */
	bool all, system;
	/* operator commands (cmd_operator.c, cmd_report.c) */
	const char *severity, *ppc, *today, *state, *comment, *keep, *value;
	const char *period, *out_dir, *facilities, *year, *seed, *incidents_n, *others_n;
	bool open, overdue, no_pseudonymise;
	/* trust commands (cmd_trust.c) */
	const char *token_name, *expires, *qr_png, *reason, *anchor;
	bool qr;
	bool pdf; /* report: also review.pdf */
	/* operands */
	char **args;
	int nargs;
};

/* A row of the command table. */
struct hub_cmd {
	struct kr_cli_command cli; /* first: name (one or two words), operands, options and help (kiroku/cli.h) */
	int (*run)(struct hub *h);
	bool needs_store;
};

/* Prints "kiroku-hub: MESSAGE" on stderr and returns the exit code for err's status. */
int hub_fail(const struct kr_error *err);
/* Prints a usage error for the running command with a pointer to its help; returns KR_EXIT_USAGE. */
int hub_usage(const struct hub *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends an entry to the hub's audit log for what the operator running this command did (actor from
 * kr_audit_operator): inside the command's transaction when one is open. */
kr_status hub_audit(struct hub *h, const char *action, struct kr_error *err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* cmd_exchange.c: the store and the exchange by file. */
int hub_cmd_init(struct hub *h);
int hub_cmd_import(struct hub *h);
int hub_cmd_export(struct hub *h);

/* cmd_records.c: reading the merged records. */
int hub_cmd_list(struct hub *h);
int hub_cmd_show(struct hub *h);
int hub_cmd_conflicts(struct hub *h);
int hub_cmd_status(struct hub *h);
int hub_cmd_dump(struct hub *h);
int hub_cmd_backup(struct hub *h);

/* cmd_operator.c: the operator's incident list, triage, review and conflict resolution. */
int hub_cmd_incidents(struct hub *h);
int hub_cmd_triage(struct hub *h);
int hub_cmd_review(struct hub *h);
int hub_cmd_conflicts_resolve(struct hub *h);
/* --today DAY, else the hub's local date; a usage error (exit code) for a bad day. */
int hub_today(struct hub *h, kr_day *out);

/* cmd_report.c: the review material and the demonstration data. */
int hub_cmd_report(struct hub *h);
int hub_cmd_demo_data(struct hub *h);

/* cmd_serve.c: the HTTPS listener and the certificates. */
int hub_cmd_serve(struct hub *h);
int hub_cmd_ca_init(struct hub *h);
int hub_cmd_cert_issue(struct hub *h);

/* cmd_trust.c: enrolment tokens (issue, list, cancel), the node list and revocation, the audit log. */
int hub_cmd_enroll_token(struct hub *h);
int hub_cmd_enroll_token_list(struct hub *h);
int hub_cmd_enroll_token_cancel(struct hub *h);
int hub_cmd_node_list(struct hub *h);
int hub_cmd_node_revoke(struct hub *h);
int hub_cmd_audit_verify(struct hub *h);
int hub_cmd_audit_list(struct hub *h);
/* Appends "cert.issue" (a certificate issued by hand, without a token) to the audit log, when the store exists;
 * otherwise warns. Can't fail the command: the certificate is already written. */
void hub_audit_cert_issue(struct hub *h, const char *crt_path);

#endif
