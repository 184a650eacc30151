/* cli.c: the command line of kiroku-agent and kiroku-hub: command table, option parsing, help, usage errors. */
#include "kiroku/cli.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiroku/print.h"

enum parse_result { PARSE_OK, PARSE_HELP, PARSE_VERSION, PARSE_ERROR };

/* Row i of the program's command table. */
static const struct kr_cli_command *command_at(const struct kr_cli *cli, size_t i)
{
	return (const struct kr_cli_command *)((const char *)cli->commands + i * cli->command_size);
}

/* The command whose one or two words start argv (argc > 0); *words gets how many it took. NULL if none. */
static const struct kr_cli_command *find_command(const struct kr_cli *cli, int argc, char **argv, int *words)
{
	for (size_t i = 0; i < cli->ncommands; i++) {
		const struct kr_cli_command *c = command_at(cli, i);
		const char *space = strchr(c->name, ' ');
		if (!space && strcmp(c->name, argv[0]) == 0) {
			*words = 1;
			return c;
		}
		if (space && argc > 1 && strncmp(c->name, argv[0], (size_t)(space - c->name)) == 0 &&
		    argv[0][space - c->name] == 0 && strcmp(space + 1, argv[1]) == 0) {
			*words = 2;
			return c;
		}
	}
	return NULL;
}

/* The command option called name; the table is the program's, so a name a command lists must be in it. */
static const struct kr_cli_option *find_option(const struct kr_cli *cli, const char *name)
{
	for (size_t i = 0; i < cli->noptions; i++)
		if (strcmp(cli->options[i].name, name) == 0)
			return &cli->options[i];
	abort(); /* a command lists an option the table lacks: a mistake in the program's tables */
}

int kr_cli_fail(const struct kr_cli *cli, const struct kr_error *err)
{
	fprintf(stderr, "%s: %s\n", cli->prog, err->msg);
	return kr_exit_code(err->code);
}

int kr_cli_vusage(const struct kr_cli *cli, const struct kr_cli_command *cmd, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", cli->prog);
	if (cmd)
		fprintf(stderr, "%s: ", cmd->name);
	vfprintf(stderr, fmt, ap);
	if (cmd)
		fprintf(stderr, "\nUsage: %s %s\nSee '%s help %s'.\n", cli->prog, cmd->usage, cli->prog, cmd->name);
	else
		fprintf(stderr, "\nSee '%s --help'.\n", cli->prog);
	return KR_EXIT_USAGE;
}

int kr_cli_usage(const struct kr_cli *cli, const struct kr_cli_command *cmd, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = kr_cli_vusage(cli, cmd, fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- help ---- */

static void print_exit_codes(const struct kr_cli *cli, FILE *out)
{
	fprintf(out,
	        "Exit codes:\n"
	        "  0  success\n"
	        "  1  usage or configuration error\n"
	        "  2  invalid input (unknown kind or field, bad value, damaged change-set file)\n"
	        "  3  store or system problem (not a kiroku store, too new, damaged, disk full)\n"
	        "  4  refused (%s)\n"
	        "  5  network problem\n"
	        "  6  sequence gap (%s)\n",
	        cli->refused, cli->gap);
}

/* The options every command takes: the configuration's, as flags. */
static void print_common_options(const struct kr_cli *cli, FILE *out)
{
	size_t n;
	const struct kr_config_option *o = kr_config_options(&n);

	fprintf(out,
	        "Options of every command (each is also a key of [%s] in the configuration file):\n"
	        "  --config FILE             configuration file (default %s, or $KIROKU_CONFIG)\n",
	        cli->config_section, cli->config_file);
	for (size_t i = 0; i < n; i++) {
		char flag[64];
		const char *def = kr_config_default(&o[i], cli->program);
		if (!(o[i].programs & cli->program))
			continue;
		snprintf(flag, sizeof flag, "--%s %s", o[i].flag, o[i].arg);
		fprintf(out, "  %-25s %s", flag, o[i].help);
		if (*def)
			fprintf(out, " (default %s%s)", o[i].under_data_dir ? "DATA_DIR/" : "", def);
		fputc('\n', out);
	}
	fputs("  -h, --help                show help\n", out);
}

static void print_main_help(const struct kr_cli *cli, FILE *out)
{
	fprintf(out, "%s %s: %s\n\nUsage: %s [OPTIONS] COMMAND [ARGUMENTS] [OPTIONS]\n\nCommands:\n", cli->prog,
	        KR_VERSION, cli->about, cli->prog);
	int width = 16; /* the names in one column, wider when a name is longer */
	for (size_t i = 0; i < cli->ncommands; i++)
		if ((int)strlen(command_at(cli, i)->name) > width)
			width = (int)strlen(command_at(cli, i)->name);
	for (size_t i = 0; i < cli->ncommands; i++)
		fprintf(out, "  %-*s %s\n", width, command_at(cli, i)->name, command_at(cli, i)->summary);
	fprintf(out, "  %-*s %s\n\n", width, "help [COMMAND]", "Show help for a command.");
	print_common_options(cli, out);
	fputs("  --version                 print the version\n\n", out);
	print_exit_codes(cli, out);
	fprintf(out, "\n%s\n", cli->output_note);
}

static void print_command_help(const struct kr_cli *cli, const struct kr_cli_command *c, FILE *out)
{
	fprintf(out, "Usage: %s %s\n\n%s\n", cli->prog, c->usage, c->summary);
	if (c->details)
		fprintf(out, "\n%s\n", c->details);
	if (c->opts[0]) {
		fputs("\nOptions:\n", out);
		for (const char *const *name = c->opts; *name; name++) {
			const struct kr_cli_option *o = find_option(cli, *name);
			char flag[64];
			snprintf(flag, sizeof flag, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
			fprintf(out, "  %-25s %s\n", flag, o->help);
		}
	}
	fprintf(out, "\nExample:\n  %s\n\n%s\n\n", c->example, cli->options_note);
	print_exit_codes(cli, out);
}

/* ---- parsing ---- */

/* The getopt table of command c (or of the program itself when c is NULL): c's own options, --version for the
 * program, then the configuration's flags, --config and --help. NULL when out of memory. */
static struct option *getopt_table(const struct kr_cli *cli, const struct kr_cli_command *c)
{
	const char *const *names = c ? c->opts : NULL;
	size_t n = 0, nnames = 0;
	struct option *own, *all;

	while (names && names[nnames])
		nnames++;
	if (!(own = calloc(nnames + 2, sizeof *own)))
		return NULL;
	for (size_t i = 0; i < nnames; i++) {
		const struct kr_cli_option *o = find_option(cli, names[i]);
		own[n++] = (struct option){o->name, o->arg ? required_argument : no_argument, NULL, o->val};
	}
	if (!c)
		own[n++] = (struct option){"version", no_argument, NULL, cli->version_val};
	all = kr_config_getopt(cli->program, own);
	free(own);
	return all;
}

/* Parses the options of argv (argv[0] being the program or the command); with c NULL, stops at the first
 * operand (the command). *next gets the index of the first operand. */
static enum parse_result parse_options(const struct kr_cli *cli, const struct kr_cli_command *c, struct kr_config *cfg,
                                       int argc, char **argv, kr_cli_take_fn take, void *ctx, const char **config_path,
                                       int *next)
{
	struct option *longopts = getopt_table(cli, c);
	enum parse_result r = PARSE_OK;
	struct kr_error err;
	int ch;

	if (!longopts) {
		fprintf(stderr, "%s: out of memory\n", cli->prog);
		return PARSE_ERROR;
	}
	opterr = 0;
	optind = 0;
	while (r == PARSE_OK && (ch = getopt_long(argc, argv, c ? ":h" : "+:hV", longopts, NULL)) != -1) {
		if (kr_config_is_flag(ch)) {
			if (kr_config_take_flag(cfg, ch, optarg, &err)) {
				kr_cli_fail(cli, &err);
				r = PARSE_ERROR;
			}
			continue;
		}
		if (ch == 'h') {
			r = PARSE_HELP;
		} else if (ch == 'V' || ch == cli->version_val) {
			r = PARSE_VERSION;
		} else if (ch == KR_CONFIG_OPT_FILE) {
			*config_path = optarg;
		} else if (ch == ':') {
			kr_cli_usage(cli, c, "%s needs a value", argv[optind - 1]);
			r = PARSE_ERROR;
		} else if (ch == '?') {
			const char *arg = argv[optind - 1], *eq = strchr(arg, '=');
			/* getopt_long sets optopt to a long option's value (not a letter) when it was given a value
			 * it does not take ("--all=1"). */
			if (optopt > ' ' && optopt < 127)
				kr_cli_usage(cli, c, "unknown option -%c", optopt);
			else if (optopt && strncmp(arg, "--", 2) == 0 && eq)
				kr_cli_usage(cli, c, "%.*s takes no value", (int)(eq - arg), arg);
			else
				kr_cli_usage(cli, c, "unknown option %s", arg);
			r = PARSE_ERROR;
		} else if (take(ctx, ch, optarg)) {
			r = PARSE_ERROR;
		}
	}
	*next = optind;
	free(longopts);
	return r;
}

/* Reads the configuration file under the flags already set, and works out the paths. */
static int load_config(const struct kr_cli *cli, struct kr_config *cfg, const char *config_path)
{
	struct kr_error err;
	bool explicit_path;
	const char *path = kr_config_path(cli->program, config_path, &explicit_path);

	if (kr_config_load(cfg, path, explicit_path, &err) || kr_config_finish(cfg, &err))
		return kr_cli_fail(cli, &err);
	return 0;
}

/* The program's own options take no command option: nothing to hand over. */
static int take_none(void *ctx, int val, char *arg)
{
	return 0;
}

int kr_cli_choose(const struct kr_cli *cli, struct kr_config *cfg, int argc, char **argv, struct kr_cli_line *line)
{
	const struct kr_cli_command *c;
	enum parse_result r;
	struct kr_error err;
	int next, words;

	memset(line, 0, sizeof *line);
	if (kr_config_init(cfg, cli->program, &err))
		return kr_cli_fail(cli, &err);
	r = parse_options(cli, NULL, cfg, argc, argv, take_none, NULL, &line->config_path, &next);
	if (r == PARSE_ERROR)
		return KR_EXIT_USAGE;
	if (r == PARSE_VERSION) {
		printf("%s %s\n", cli->prog, KR_VERSION);
		return 0;
	}
	if (r == PARSE_HELP) {
		print_main_help(cli, stdout);
		return 0;
	}
	if (next >= argc) {
		print_main_help(cli, stderr);
		return KR_EXIT_USAGE;
	}
	if (strcmp(argv[next], "help") == 0) {
		if (next + 1 >= argc) {
			print_main_help(cli, stdout);
			return 0;
		}
		if (!(c = find_command(cli, argc - next - 1, argv + next + 1, &words)))
			return kr_cli_usage(cli, NULL, "no command \"%s\"", argv[next + 1]);
		print_command_help(cli, c, stdout);
		return 0;
	}
	if (!(c = find_command(cli, argc - next, argv + next, &words)))
		return kr_cli_usage(cli, NULL, "no command \"%s\"", argv[next]);
	line->cmd = c;
	line->argc = argc - (next + words - 1);
	line->argv = argv + next + words - 1;
	return KR_CLI_CONTINUE;
}

int kr_cli_parse(const struct kr_cli *cli, struct kr_config *cfg, struct kr_cli_line *line, kr_cli_take_fn take,
                 void *ctx)
{
	const struct kr_cli_command *c = line->cmd;
	enum parse_result r;
	int next, rc;

	r = parse_options(cli, c, cfg, line->argc, line->argv, take, ctx, &line->config_path, &next);
	if (r == PARSE_ERROR)
		return KR_EXIT_USAGE;
	if (r == PARSE_HELP) {
		print_command_help(cli, c, stdout);
		return 0;
	}
	if (r == PARSE_VERSION)
		return kr_cli_usage(cli, c, "--version is an option of %s itself", cli->prog);
	line->args = line->argv + next;
	line->nargs = line->argc - next;
	if (line->nargs < c->min_args)
		return kr_cli_usage(cli, c, "missing %s", c->min_args - line->nargs > 1 ? "arguments" : "an argument");
	if (line->nargs > c->max_args)
		return kr_cli_usage(cli, c, "unexpected argument \"%s\"", line->args[c->max_args]);
	if ((rc = load_config(cli, cfg, line->config_path)))
		return rc;
	return KR_CLI_CONTINUE;
}
