/* agent.h: what the files of kiroku-agent share: the parsed command line and the command functions.
 *
 * main.c parses the command line into struct agent (configuration, options, operands), opens the store
 * for commands that need one, and calls the command. A command returns the process exit code
 * (print.h, enum kr_exit) and has printed its own message on failure.
 */
#ifndef KR_AGENT_H
#define KR_AGENT_H

#include <stdbool.h>
#include <stddef.h>

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

struct agent_cmd {
	const char *name;
	int (*run)(struct agent *a);
	bool needs_store;
	int min_args, max_args;
	const char *const *opts; /* names of the command's own options, NULL-terminated */
	const char *usage;       /* after "kiroku-agent " */
	const char *summary;
	const char *details;
	const char *example;
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

#endif
