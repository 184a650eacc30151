/* cli.h: the command line of kiroku-agent and kiroku-hub: a table of commands, option parsing, help, usage errors.
 *
 * A program describes itself in one constant struct kr_cli: its name, its texts, its command options and its
 * table of commands. Each row of that table is the program's own struct, whose first member is a struct
 * kr_cli_command (name, operands, options, help); the rest (the function to run, whether it needs the store)
 * stays the program's, so this module never calls a command. The command line is then read in two steps:
 *
 *   kr_cli_choose   the program's own options (--data-dir DIR, --version, --help, ...) up to the command's name;
 *                   prints the program's help for "--help", "help" and "help COMMAND"
 *   kr_cli_parse    the command's options and operands, then the configuration file; prints the command's
 *                   help for "COMMAND --help"
 *
 * Between the two the program may note which command runs (so that its usage errors name it). Every option of
 * the configuration (config.h) is also a flag of every command; the command options of the table are handed to
 * the program's take function one by one.
 *
 * Messages go to stderr as "PROG: ..." (a usage error adds the command's usage and where to find its help);
 * help goes to stdout, or to stderr when no command was given. Nothing here keeps state between calls, but
 * parsing uses getopt_long and so resets its globals (optind, opterr).
 */
#ifndef KR_CLI_H
#define KR_CLI_H

#include <stdarg.h>
#include <stddef.h>

#include "kiroku/config.h"
#include "kiroku/error.h"

/* Returned by kr_cli_choose and kr_cli_parse when the program should go on; any other value is the exit code
 * (print.h, enum kr_exit) to end with, the help or the error already printed. */
#define KR_CLI_CONTINUE (-1)

/* An option a command may take. The program's getopt values must not collide with 'h', 'V', the version value
 * of struct kr_cli, KR_CONFIG_OPT_FILE or the configuration's flags (KR_CONFIG_OPT_BASE and up): 0x100 and up
 * to a few hundred is safe. */
struct kr_cli_option {
	const char *name; /* the long flag without its dashes, e.g. "kind" */
	int val;          /* what getopt_long returns for it, handed to the program's take function */
	const char *arg;  /* the value in help, e.g. "KIND"; NULL when the flag takes no value */
	const char *help;
};

/* The first member of a row of a program's command table. */
struct kr_cli_command {
	const char *name; /* one word, or two ("ca init") */
	int min_args, max_args;
	const char *const *opts; /* names of the command's own options (struct kr_cli_option), NULL-terminated */
	const char *usage;       /* after "PROG " */
	const char *summary;     /* one line, in the list of commands and on top of the command's help */
	const char *details;     /* NULL or more lines of the command's help */
	const char *example;
};

struct kr_cli {
	const char *prog; /* "kiroku-agent": the start of every message */
	enum kr_program program;
	const char *about; /* the main help's first lines, after "PROG VERSION: " */
	/* What exit codes 4 and 6 mean for this program, in the "Exit codes:" list, e.g. "an existing store". */
	const char *refused, *gap;
	const char *config_section; /* "agent": the section of the configuration file */
	const char *config_file;    /* the default configuration file, as help shows it */
	const char *output_note;    /* the main help's last line: where messages and results go */
	const char *options_note;   /* ends a command's help: where the options of every command are listed */
	int version_val;            /* getopt value of --version, unused by any command option */
	const struct kr_cli_option *options;
	size_t noptions;
	/* The command table (set with KR_CLI_TABLES): its first row's struct kr_cli_command, the rows and the
	 * size of one row (the program's struct), in the order the main help lists them. A two-word name must
	 * come before a one-word name that is its first word ("conflicts resolve" before "conflicts"). */
	const struct kr_cli_command *commands;
	size_t ncommands, command_size;
};

/* The table members of a struct kr_cli initializer, from the program's array of struct kr_cli_option and its
 * array of command rows (whose first member, cli, is the struct kr_cli_command). */
#define KR_CLI_TABLES(option_array, command_array)                                                                     \
	.options = (option_array), .noptions = sizeof(option_array) / sizeof(option_array)[0],                         \
	.commands = &(command_array)[0].cli, .ncommands = sizeof(command_array) / sizeof(command_array)[0],            \
	.command_size = sizeof(command_array)[0]

/* The command line as far as it has been read. */
struct kr_cli_line {
	const struct kr_cli_command *cmd; /* the command named; a row of the program's table */
	int argc;                         /* from the command's (last) name on */
	char **argv;
	const char *config_path; /* --config FILE, or NULL */
	char **args;             /* the command's operands (set by kr_cli_parse) */
	int nargs;
};

/* Gives a command option's value to the program (arg NULL for a flag without a value). Returns 0, or an exit
 * code after printing why the value is refused (kr_cli_usage). */
typedef int (*kr_cli_take_fn)(void *ctx, int val, char *arg);

/* Sets up cfg with the program's defaults (kr_config_init), reads the program's own options from argv, and
 * finds the command. Returns KR_CLI_CONTINUE with line->cmd, argc, argv and config_path set, or an exit code
 * once --version, the help or an error has been printed. cfg is to be released by the caller either way. */
int kr_cli_choose(const struct kr_cli *cli, struct kr_config *cfg, int argc, char **argv, struct kr_cli_line *line);

/* Reads the options of line->cmd (its own through take, the configuration's into cfg) and its operands into
 * line->args and nargs, checks their number, then reads the configuration file and completes cfg
 * (kr_config_load, kr_config_finish). Returns KR_CLI_CONTINUE, or an exit code once the command's help or an
 * error has been printed. Strings in line point into argv. */
int kr_cli_parse(const struct kr_cli *cli, struct kr_config *cfg, struct kr_cli_line *line, kr_cli_take_fn take,
                 void *ctx);

/* Prints "PROG: MESSAGE" on stderr and returns the exit code for err's status. */
int kr_cli_fail(const struct kr_cli *cli, const struct kr_error *err);

/* Prints a usage error, "PROG: [COMMAND: ]MESSAGE", with cmd's usage and where its help is (cmd may be NULL:
 * the program's help), on stderr. Returns KR_EXIT_USAGE. */
int kr_cli_usage(const struct kr_cli *cli, const struct kr_cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int kr_cli_vusage(const struct kr_cli *cli, const struct kr_cli_command *cmd, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
