/* config.h: the settings of kiroku-agent and kiroku-hub: one table of options, read from an INI file and flags.
 *
 * Every option is a row of one table (kr_config_options): its key in the file, the program(s) it belongs
 * to, its flag, its type, its default, its validator and a line of help. A value comes from, in rising
 * precedence: the default, the configuration file, a command-line flag. The file is INI (parsed with
 * libinih): options of kiroku-agent live in [agent], those of kiroku-hub in [hub]; other sections are
 * refused, so a typo does not pass unseen. Errors name the file and line:
 *   agent.conf line 4: unknown option "nod" in [agent] (options: data_dir, node, ...)
 *
 * Which file: the --config flag, else the environment variable KIROKU_CONFIG, else the default
 * (/etc/kiroku/agent.conf or /etc/kiroku/hub.conf). A missing default file is fine (the defaults apply);
 * a missing file that was named explicitly is an error.
 *
 * Paths: a relative file option (ca_file, cert_file, ...) is taken under data_dir, so the defaults
 * ("agent.crt") land in the data directory. The store is data_dir/agent.db (hub: data_dir/hub.db).
 *
 * Ownership: struct kr_config holds copies of every string; kr_config_release frees them. No function
 * here touches global state. On error a function leaves the config as it was and fills err.
 */
#ifndef KR_CONFIG_H
#define KR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "kiroku/error.h"

enum kr_program {
	KR_PROG_AGENT = 1,
	KR_PROG_HUB = 2,
};

/* Where the value of an option came from; a later source wins over an earlier one. */
enum kr_config_origin {
	KR_CFG_DEFAULT = 0,
	KR_CFG_FILE,
	KR_CFG_FLAG,
};

enum kr_config_type {
	KR_CFG_TEXT,    /* a string, checked by the option's validator */
	KR_CFG_INTEGER, /* a whole number between min and max */
};

struct kr_config_option;

/* A validator: KR_OK, or KR_ERR_CONFIG with the reason in err (without the option's name or place). */
typedef kr_status (*kr_config_check_fn)(const struct kr_config_option *opt, const char *value, struct kr_error *err);

struct kr_config_option {
	const char *name;  /* key in the file, e.g. "data_dir" */
	unsigned programs; /* KR_PROG_AGENT | KR_PROG_HUB */
	const char *flag;  /* command-line flag without the dashes, e.g. "data-dir" */
	const char *arg;   /* the flag's argument in help, e.g. "DIR" */
	enum kr_config_type type;
	const char *def;          /* default as text (agent's; see def_hub) */
	const char *def_hub;      /* the hub's default when it differs, else NULL */
	kr_config_check_fn check; /* NULL: any non-empty text */
	long long min, max;       /* KR_CFG_INTEGER */
	bool under_data_dir;      /* a file: a relative value is taken under data_dir */
	const char *help;
};

#define KR_CONFIG_MAX_OPTIONS 32

struct kr_config {
	enum kr_program program;
	char *path; /* the file that was read, NULL if none */
	/* The values, by option; text options as given, integers also as numbers. */
	char *text[KR_CONFIG_MAX_OPTIONS];
	long long num[KR_CONFIG_MAX_OPTIONS];
	enum kr_config_origin origin[KR_CONFIG_MAX_OPTIONS];
	/* Set by kr_config_finish: the store file, and file options resolved under data_dir. */
	char *store_path;
	char *resolved[KR_CONFIG_MAX_OPTIONS];
};

/* The table of every option, in the order help shows them. Never NULL. */
const struct kr_config_option *kr_config_options(size_t *n);
/* The option called name (its key or its flag) for program, or NULL. */
const struct kr_config_option *kr_config_option(enum kr_program program, const char *name);
/* The default for program ("" when none). Never NULL. */
const char *kr_config_default(const struct kr_config_option *opt, enum kr_program program);

/* Sets every option of program to its default. On error (KR_ERR_NOMEM) nothing stays allocated. */
kr_status kr_config_init(struct kr_config *cfg, enum kr_program program, struct kr_error *err);
/* Frees every string; the struct may be reused after kr_config_init. */
void kr_config_release(struct kr_config *cfg);

/* Sets one option (by key or flag name) from text, after checking it. A value given with a lower
 * origin than the one it has is checked but ignored (so a flag set before the file is read still wins).
 * Errors (KR_ERR_CONFIG): unknown option, value refused; the message names the option and the reason
 * and lists the known options when the name is unknown. */
kr_status kr_config_set(struct kr_config *cfg, const char *name, const char *value, enum kr_config_origin origin,
                        struct kr_error *err);

/* The path of the configuration file: flag_path if given, else $KIROKU_CONFIG, else the default for the
 * program. *explicit says whether the user named it (then it must exist). Never NULL. */
const char *kr_config_path(enum kr_program program, const char *flag_path, bool *explicit_path);

/* Reads path (at most 64 KiB) into cfg with origin KR_CFG_FILE. A missing file is an error only when
 * must_exist; otherwise nothing is read. On error (KR_ERR_CONFIG, KR_ERR_IO, KR_ERR_NOMEM) err names the
 * file and line, and options already read from the file may have been set. */
kr_status kr_config_load(struct kr_config *cfg, const char *path, bool must_exist, struct kr_error *err);

/* Works out the derived values: the store path and the file options under data_dir. Call once, after
 * the file and the flags. KR_ERR_NOMEM only. */
kr_status kr_config_finish(struct kr_config *cfg, struct kr_error *err);

/* Reads the configuration again for a running daemon (SIGHUP): the defaults, the flags cur was given (they
 * still win), the file cur was read from (cur->path; when none was read, the default path, which may still be
 * missing), then kr_config_finish. cur is not changed. On error out holds nothing to release and err names the
 * file and line. */
kr_status kr_config_reread(const struct kr_config *cur, struct kr_config *out, struct kr_error *err);

/* The value of an option by key: text as set (or resolved, for file options after kr_config_finish).
 * NULL when the option does not exist for the program. */
const char *kr_config_get(const struct kr_config *cfg, const char *name);
long long kr_config_get_int(const struct kr_config *cfg, const char *name);
enum kr_config_origin kr_config_origin_of(const struct kr_config *cfg, const char *name);

/* ---- Flags ----
 * Every option of the table is also a long flag (--data-dir DIR, --node N, ...), accepted by every
 * command of the program. kr_config_getopt builds the getopt_long table: the command's own options
 * first, then one per config option (val KR_CONFIG_OPT_BASE + its index in the table), then
 * --config FILE (val KR_CONFIG_OPT_FILE) and --help (val 'h'). */
#define KR_CONFIG_OPT_FILE 0x0fff
#define KR_CONFIG_OPT_BASE 0x1000

struct option;
/* A malloc'd, terminated array (the caller frees it), or NULL when out of memory. cmd may be NULL. */
struct option *kr_config_getopt(enum kr_program program, const struct option *cmd);
/* True when val (from getopt_long) is one of the config options' flags. */
bool kr_config_is_flag(int val);
/* Sets the option behind val from arg, with origin KR_CFG_FLAG; the message names the flag. */
kr_status kr_config_take_flag(struct kr_config *cfg, int val, const char *arg, struct kr_error *err);

#endif
