/* agent.h: what the files of kiroku-agent share: the parsed command line and the command functions.
 *
 * main.c parses the command line into struct agent (configuration, options, operands) with kiroku/cli.h,
 * opens the store for commands that need one, and calls the command. A command returns the process exit
 * code (print.h, enum kr_exit) and has printed its own message on failure.
 */
#ifndef KR_AGENT_H
#define KR_AGENT_H

#include <stdbool.h>
#include <stddef.h>

#include "kiroku/cli.h"
#include "kiroku/config.h"
#include "kiroku/error.h"
#include "kiroku/print.h"
#include "kiroku/store.h"

#define AGENT_PROG "kiroku-agent"

struct agent {
	const struct agent_cmd *cmd;
	struct kr_config cfg;
	struct kr_store *st; /* open when cmd->needs_store */
	/* command options */
	const char *kind, *status, *from, *to, *format;
	bool all;
	struct kr_field_text *sets; /* --set FIELD=VALUE, split in place */
	size_t nsets;
	/* operands */
	char **args;
	int nargs;
};

/* A row of the command table. */
struct agent_cmd {
	struct kr_cli_command cli; /* first: name, operands, options and help (kiroku/cli.h) */
	int (*run)(struct agent *a);
	bool needs_store;
};

/* Prints "kiroku-agent: MESSAGE" on stderr and returns the exit code for err's status. */
int agent_fail(const struct kr_error *err);
/* Prints a usage error for the running command with a pointer to its help; returns KR_EXIT_USAGE. */
int agent_usage(const struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Commands (cmd_records.c). */
int agent_cmd_init(struct agent *a);
int agent_cmd_record(struct agent *a);
int agent_cmd_edit(struct agent *a);
int agent_cmd_delete(struct agent *a);
int agent_cmd_list(struct agent *a);
int agent_cmd_show(struct agent *a);
int agent_cmd_status(struct agent *a);

/* Commands (cmd_exchange.c). */
int agent_cmd_export(struct agent *a);
int agent_cmd_import(struct agent *a);
int agent_cmd_dump(struct agent *a);
int agent_cmd_backup(struct agent *a);

/* Commands (cmd_sync.c). */
int agent_cmd_sync(struct agent *a);
int agent_cmd_run(struct agent *a);
int agent_cmd_recover(struct agent *a);
/* Commands (cmd_web.c): the local web form for staff. */
struct web;
int agent_cmd_web(struct agent *a);
/* Starts the form on web_port for this agent's store; sync_interval (0: none) and sync_now (may be NULL)
 * tell it about the daemon serving it. On error nothing runs and err says why (a port in use, ...). */
kr_status agent_web_start(struct agent *a, long long sync_interval, void (*sync_now)(void *ctx), void *ctx,
                          struct web **out, struct kr_error *err);

/* Commands (cmd_enroll.c): enrolment with a token, certificate renewal. */
int agent_cmd_enroll(struct agent *a);
int agent_cmd_renew(struct agent *a);
/* The hub's URL: hub_url when configured, else the one enrolment stored, else the default. Returns buf. */
const char *agent_hub_url(struct agent *a, char *buf, size_t n);
/* Completes (or discards) a key and certificate replacement that was cut short. */
kr_status agent_finish_pending(struct agent *a, struct kr_error *err);
/* Renews this node's certificate over mutual TLS (only when less than 30 days are left, if only_if_due). */
kr_status agent_renew(struct agent *a, bool only_if_due, bool *renewed, struct kr_error *err);

#endif
