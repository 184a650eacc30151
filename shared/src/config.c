/* config.c: the option table of kiroku-agent and kiroku-hub, and reading it from INI files and flags. */
#include "kiroku/config.h"

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiroku/ids.h"

#define CONFIG_MAX_BYTES (64 * 1024)
#define BOTH             (KR_PROG_AGENT | KR_PROG_HUB)

static kr_status check_path(const struct kr_config_option *opt, const char *value, struct kr_error *err);
static kr_status check_id(const struct kr_config_option *opt, const char *value, struct kr_error *err);
static kr_status check_url(const struct kr_config_option *opt, const char *value, struct kr_error *err);
static kr_status check_hostport(const struct kr_config_option *opt, const char *value, struct kr_error *err);
static kr_status check_lang(const struct kr_config_option *opt, const char *value, struct kr_error *err);

/* The one table. Add an option here (and to docs/cli.md and packaging/): nothing else needs to change. */
static const struct kr_config_option options[] = {
    {"data_dir", BOTH, "data-dir", "DIR", KR_CFG_TEXT, "/var/lib/kiroku", NULL, check_path, 0, 0, false,
     "directory of the store, this node's key and certificates"},
    {"node", BOTH, "node", "ID", KR_CFG_TEXT, "", "hub", check_id, 0, 0, false,
     "this node's id (1 to 64 of a-z 0-9 . _ -); an agent's is fixed by init"},
    {"facility", KR_PROG_AGENT, "facility", "ID", KR_CFG_TEXT, "", NULL, check_id, 0, 0, false,
     "the facility this agent records for; fixed by init"},
    {"hub_url", BOTH, "hub-url", "URL", KR_CFG_TEXT, "https://127.0.0.1:8443", NULL, check_url, 0, 0, false,
     "the hub's address (https://HOST[:PORT]); at the hub, the one written into enrolment tokens"},
    {"listen", KR_PROG_HUB, "listen", "HOST:PORT", KR_CFG_TEXT, "127.0.0.1:8443", NULL, check_hostport, 0, 0, false,
     "address and port the hub listens on"},
    {"ca_file", BOTH, "ca-file", "FILE", KR_CFG_TEXT, "hub-ca.crt", "ca.crt", check_path, 0, 0, true,
     "the hub's CA certificate (PEM); relative to data_dir"},
    {"ca_key_file", KR_PROG_HUB, "ca-key-file", "FILE", KR_CFG_TEXT, "ca.key", NULL, check_path, 0, 0, true,
     "the hub CA's private key (PEM); relative to data_dir"},
    {"cert_file", BOTH, "cert-file", "FILE", KR_CFG_TEXT, "agent.crt", "hub.crt", check_path, 0, 0, true,
     "this node's certificate (PEM); relative to data_dir"},
    {"key_file", BOTH, "key-file", "FILE", KR_CFG_TEXT, "agent.key", "hub.key", check_path, 0, 0, true,
     "this node's private key (PEM); relative to data_dir"},
    {"sync_interval", KR_PROG_AGENT, "sync-interval", "SECONDS", KR_CFG_INTEGER, "300", NULL, NULL, 5, 86400, false,
     "seconds between two syncs of the agent's daemon"},
    {"timeout", BOTH, "timeout", "SECONDS", KR_CFG_INTEGER, "30", NULL, NULL, 1, 600, false,
     "network read and write timeout"},
    {"threads", KR_PROG_HUB, "threads", "N", KR_CFG_INTEGER, "8", NULL, NULL, 1, 256, false,
     "connection threads of the hub"},
    {"lang", BOTH, "lang", "ja|en", KR_CFG_TEXT, "ja", NULL, check_lang, 0, 0, false, "language of labels in output"},
    {"web_port", KR_PROG_AGENT, "web-port", "PORT", KR_CFG_INTEGER, "8765", NULL, NULL, 0, 65535, false,
     "port of the staff's web form on 127.0.0.1 (0: run serves none, web takes a free one)"},
};

#define NOPTIONS (sizeof options / sizeof options[0])
_Static_assert(NOPTIONS <= KR_CONFIG_MAX_OPTIONS, "raise KR_CONFIG_MAX_OPTIONS");

const struct kr_config_option *kr_config_options(size_t *n)
{
	*n = NOPTIONS;
	return options;
}

static long option_index(enum kr_program program, const char *name)
{
	for (size_t i = 0; i < NOPTIONS; i++)
		if ((options[i].programs & program) &&
		    (strcmp(options[i].name, name) == 0 || strcmp(options[i].flag, name) == 0))
			return (long)i;
	return -1;
}

const struct kr_config_option *kr_config_option(enum kr_program program, const char *name)
{
	long i = option_index(program, name);
	return i < 0 ? NULL : &options[i];
}

const char *kr_config_default(const struct kr_config_option *opt, enum kr_program program)
{
	if (program == KR_PROG_HUB && opt->def_hub)
		return opt->def_hub;
	return opt->def ? opt->def : "";
}

/* ---- Validators ---- */

static kr_status check_path(const struct kr_config_option *opt, const char *value, struct kr_error *err)
{
	if (strlen(value) >= PATH_MAX - 64)
		return kr_fail(err, KR_ERR_CONFIG, "the path is too long (at most %d bytes)", PATH_MAX - 64);
	return KR_OK;
}

static kr_status check_id(const struct kr_config_option *opt, const char *value, struct kr_error *err)
{
	if (!kr_id_valid(value))
		return kr_fail(err, KR_ERR_CONFIG, "\"%s\" is not a valid id: use 1 to %d of a-z 0-9 . _ -", value,
		               KR_ID_MAX);
	return KR_OK;
}

static kr_status check_url(const struct kr_config_option *opt, const char *value, struct kr_error *err)
{
	const char *host = value + 8;

	if (strncmp(value, "https://", 8) != 0 || !*host || *host == '/' || *host == ':')
		return kr_fail(err, KR_ERR_CONFIG, "\"%s\" is not an https:// address (e.g. https://hub.example:8443)",
		               value);
	return KR_OK;
}

static kr_status check_hostport(const struct kr_config_option *opt, const char *value, struct kr_error *err)
{
	const char *colon = strrchr(value, ':');
	char *end;
	long port;

	if (!colon || colon == value)
		return kr_fail(err, KR_ERR_CONFIG, "\"%s\" is not HOST:PORT (e.g. 0.0.0.0:8443)", value);
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || port < 0 || port > 65535)
		return kr_fail(err, KR_ERR_CONFIG, "\"%s\": the port must be a number from 0 (any free port) to 65535", value);
	return KR_OK;
}

static kr_status check_lang(const struct kr_config_option *opt, const char *value, struct kr_error *err)
{
	if (strcmp(value, "ja") != 0 && strcmp(value, "en") != 0)
		return kr_fail(err, KR_ERR_CONFIG, "\"%s\" is not a language kiroku speaks: use ja or en", value);
	return KR_OK;
}

static kr_status check_integer(const struct kr_config_option *opt, const char *value, long long *out,
                               struct kr_error *err)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(value, &end, 10);
	if (errno || end == value || *end || v < opt->min || v > opt->max)
		return kr_fail(err, KR_ERR_CONFIG, "\"%s\" is not a whole number from %lld to %lld", value, opt->min,
		               opt->max);
	*out = v;
	return KR_OK;
}

/* ---- Values ---- */

kr_status kr_config_init(struct kr_config *cfg, enum kr_program program, struct kr_error *err)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->program = program;
	for (size_t i = 0; i < NOPTIONS; i++) {
		const struct kr_config_option *o = &options[i];
		if (!(o->programs & program))
			continue;
		cfg->text[i] = strdup(kr_config_default(o, program));
		if (!cfg->text[i]) {
			kr_config_release(cfg);
			return kr_fail(err, KR_ERR_NOMEM, "out of memory reading the configuration");
		}
		if (o->type == KR_CFG_INTEGER)
			cfg->num[i] = strtoll(cfg->text[i], NULL, 10);
	}
	return KR_OK;
}

void kr_config_release(struct kr_config *cfg)
{
	for (size_t i = 0; i < KR_CONFIG_MAX_OPTIONS; i++) {
		free(cfg->text[i]);
		free(cfg->resolved[i]);
		cfg->text[i] = cfg->resolved[i] = NULL;
	}
	free(cfg->path);
	free(cfg->store_path);
	cfg->path = cfg->store_path = NULL;
}

static void list_options(enum kr_program program, char *out, size_t size)
{
	size_t len = 0;

	out[0] = 0;
	for (size_t i = 0; i < NOPTIONS && len < size; i++) {
		if (!(options[i].programs & program))
			continue;
		int n = snprintf(out + len, size - len, "%s%s", len ? ", " : "", options[i].name);
		if (n < 0)
			break;
		len += (size_t)n;
	}
}

/* Checks and sets option i; the message does not name the option. */
static kr_status set_value(struct kr_config *cfg, size_t i, const char *value, enum kr_config_origin origin,
                           struct kr_error *err)
{
	const struct kr_config_option *o = &options[i];
	long long num = 0;
	char *copy;
	kr_status s;

	if (!*value)
		return kr_fail(err, KR_ERR_CONFIG, "the value is empty; give one or leave the option out");
	if (o->type == KR_CFG_INTEGER)
		s = check_integer(o, value, &num, err);
	else
		s = o->check ? o->check(o, value, err) : KR_OK;
	if (s)
		return s;
	if (origin < cfg->origin[i])
		return KR_OK; /* a flag given before the file was read wins */
	if (!(copy = strdup(value)))
		return kr_fail(err, KR_ERR_NOMEM, "out of memory reading the configuration");
	free(cfg->text[i]);
	cfg->text[i] = copy;
	cfg->num[i] = num;
	cfg->origin[i] = origin;
	return KR_OK;
}

kr_status kr_config_set(struct kr_config *cfg, const char *name, const char *value, enum kr_config_origin origin,
                        struct kr_error *err)
{
	long i = option_index(cfg->program, name);
	kr_status s;

	if (i < 0) {
		char known[400];
		list_options(cfg->program, known, sizeof known);
		return kr_fail(err, KR_ERR_CONFIG, "unknown option \"%s\" (options: %s)", name, known);
	}
	s = set_value(cfg, (size_t)i, value, origin, err);
	if (s)
		kr_error_prefix(err, "%s", options[i].name);
	return s;
}

const char *kr_config_path(enum kr_program program, const char *flag_path, bool *explicit_path)
{
	const char *env = getenv("KIROKU_CONFIG");

	*explicit_path = true;
	if (flag_path && *flag_path)
		return flag_path;
	if (env && *env)
		return env;
	*explicit_path = false;
	return program == KR_PROG_HUB ? "/etc/kiroku/hub.conf" : "/etc/kiroku/agent.conf";
}

/* ---- The file ---- */

struct file_parser {
	struct kr_config *cfg;
	const char *path;
	const char *p; /* the reader's place in the text */
	size_t left;
	int lineno; /* the line inih is working on */
	int set_line[KR_CONFIG_MAX_OPTIONS];
	kr_status st; /* the first error */
	int err_line;
	struct kr_error *err;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Records the first error only; returns 0 so that inih sees a failure. */
static int file_fail(struct file_parser *fp, kr_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int file_fail(struct file_parser *fp, kr_status code, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	if (fp->st)
		return 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fp->st = kr_fail(fp->err, code, "%s line %d: %s", fp->path, fp->lineno, msg);
	fp->err_line = fp->lineno;
	return 0;
}

/* Checks a section line here, because inih tells the handler nothing about a section without keys. */
static bool known_section(struct file_parser *fp, const char *line, size_t len)
{
	const char *own = fp->cfg->program == KR_PROG_HUB ? "hub" : "agent";
	const char *rb = memchr(line, ']', len);
	size_t n;

	if (!rb) {
		file_fail(fp, KR_ERR_CONFIG, "a section line must end with ]");
		return false;
	}
	n = (size_t)(rb - line - 1);
	if ((n == 5 && memcmp(line + 1, "agent", 5) == 0) || (n == 3 && memcmp(line + 1, "hub", 3) == 0))
		return true;
	file_fail(fp, KR_ERR_CONFIG, "unknown section [%.*s]: expected [%s]", (int)(n > 64 ? 64 : n), line + 1, own);
	return false;
}

/* libinih's fgets-like reader: one line at a time, so the parser knows the line number. Strips a BOM, the
 * CR of CRLF and leading blanks (a line starting with a blank would otherwise continue the previous
 * value) and refuses a line longer than inih's buffer instead of letting inih cut it. */
static char *read_line(char *str, int num, void *stream)
{
	struct file_parser *fp = stream;
	const char *line, *nl;
	size_t len, used;

	if (fp->st || fp->left == 0 || num < 2)
		return NULL;
	line = fp->p;
	nl = memchr(line, '\n', fp->left);
	len = nl ? (size_t)(nl - line) : fp->left;
	used = nl ? len + 1 : len;
	fp->p += used;
	fp->left -= used;
	fp->lineno++;
	if (fp->lineno == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3;
		len -= 3;
	}
	if (len && line[len - 1] == '\r')
		len--;
	while (len && is_blank(*line)) {
		line++;
		len--;
	}
	if (len + 2 > (size_t)num) {
		file_fail(fp, KR_ERR_CONFIG, "the line is longer than %d bytes", num - 2);
		return NULL;
	}
	if (len && line[0] == '[' && !known_section(fp, line, len))
		return NULL;
	memcpy(str, line, len);
	str[len] = '\n';
	str[len + 1] = 0;
	return str;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct file_parser *fp = user;
	enum kr_program program = fp->cfg->program;
	const char *own = program == KR_PROG_HUB ? "hub" : "agent";
	struct kr_error kerr;
	long i;

	if (fp->st)
		return 0;
	if (!*section)
		return file_fail(fp, KR_ERR_CONFIG, "\"%s\" comes before any section: put it under [%s]", name, own);
	if (strcmp(section, "agent") != 0 && strcmp(section, "hub") != 0)
		return file_fail(fp, KR_ERR_CONFIG, "unknown section [%s]: expected [%s]", section, own);
	if (strcmp(section, own) != 0)
		return 1; /* the other program's section: one file may serve both */
	i = option_index(program, name);
	if (i >= 0 && strcmp(options[i].name, name) != 0)
		i = -1; /* the file uses keys (data_dir), not flags (data-dir) */
	if (i < 0) {
		char known[400];
		list_options(program, known, sizeof known);
		return file_fail(fp, KR_ERR_CONFIG, "unknown option \"%s\" in [%s] (options: %s)", name, own, known);
	}
	if (fp->set_line[i]) {
		return file_fail(fp, KR_ERR_CONFIG, "%s is given twice (first on line %d)", name, fp->set_line[i]);
	}
	fp->set_line[i] = fp->lineno;
	if (kr_config_set(fp->cfg, name, value, KR_CFG_FILE, &kerr))
		return file_fail(fp, kerr.code, "%s", kerr.msg);
	return 1;
}

/* Reads the whole file, at most CONFIG_MAX_BYTES. *missing says it does not exist. */
static kr_status read_file(const char *path, char **out, size_t *len, bool *missing, struct kr_error *err)
{
	FILE *f = fopen(path, "rb");
	char *data;
	size_t n;

	*missing = false;
	if (!f) {
		*missing = errno == ENOENT;
		return kr_fail(err, *missing ? KR_ERR_CONFIG : KR_ERR_IO, "cannot read the configuration file %s: %s",
		               path, strerror(errno));
	}
	if (!(data = malloc(CONFIG_MAX_BYTES + 1))) {
		fclose(f);
		return kr_fail(err, KR_ERR_NOMEM, "out of memory reading %s", path);
	}
	n = fread(data, 1, CONFIG_MAX_BYTES + 1, f);
	if (ferror(f)) {
		kr_fail(err, KR_ERR_IO, "cannot read the configuration file %s: %s", path, strerror(errno));
		fclose(f);
		free(data);
		return KR_ERR_IO;
	}
	fclose(f);
	if (n > CONFIG_MAX_BYTES) {
		free(data);
		return kr_fail(err, KR_ERR_CONFIG, "%s is larger than %d bytes: is it really a configuration file?",
		               path, CONFIG_MAX_BYTES);
	}
	data[n] = 0;
	*out = data;
	*len = n;
	return KR_OK;
}

kr_status kr_config_load(struct kr_config *cfg, const char *path, bool must_exist, struct kr_error *err)
{
	struct file_parser fp;
	bool missing;
	char *text = NULL;
	size_t len = 0;
	const char *nul;
	kr_status s;
	int r;

	if ((s = read_file(path, &text, &len, &missing, err))) {
		if (missing && !must_exist)
			return KR_OK;
		return s;
	}
	if ((nul = memchr(text, 0, len))) {
		int line = 1;
		for (const char *c = text; c < nul; c++)
			line += *c == '\n';
		free(text);
		return kr_fail(err, KR_ERR_CONFIG,
		               "%s line %d: contains a NUL byte: is it really a configuration file?", path, line);
	}
	memset(&fp, 0, sizeof fp);
	fp.cfg = cfg;
	fp.path = path;
	fp.p = text;
	fp.left = len;
	fp.err = err;
	r = ini_parse_stream(read_line, &fp, on_key, &fp);
	if (r > 0 && (!fp.st || r < fp.err_line)) {
		/* inih's own complaint: neither a section, a comment nor key = value. */
		fp.st = KR_OK;
		fp.lineno = r;
		file_fail(&fp, KR_ERR_CONFIG, "expected [section], key = value or a comment");
	} else if (r < 0 && !fp.st) {
		fp.st = kr_fail(err, KR_ERR_NOMEM, "out of memory reading %s", path);
	}
	free(text);
	if (fp.st)
		return fp.st;
	free(cfg->path);
	if (!(cfg->path = strdup(path)))
		return kr_fail(err, KR_ERR_NOMEM, "out of memory reading %s", path);
	return KR_OK;
}

static char *join_path(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	char *p;

	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	if (!(p = malloc(dl + nl + 2)))
		return NULL;
	memcpy(p, dir, dl);
	p[dl] = '/';
	memcpy(p + dl + 1, name, nl + 1);
	return p;
}

kr_status kr_config_finish(struct kr_config *cfg, struct kr_error *err)
{
	long d = option_index(cfg->program, "data_dir");

	assert(d >= 0 && cfg->text[d]);
	free(cfg->store_path);
	cfg->store_path = join_path(cfg->text[d], cfg->program == KR_PROG_HUB ? "hub.db" : "agent.db");
	if (!cfg->store_path)
		return kr_fail(err, KR_ERR_NOMEM, "out of memory reading the configuration");
	for (size_t i = 0; i < NOPTIONS; i++) {
		if (!(options[i].programs & cfg->program) || !options[i].under_data_dir || !cfg->text[i])
			continue;
		free(cfg->resolved[i]);
		cfg->resolved[i] = NULL;
		if (cfg->text[i][0] == '/')
			continue;
		if (!(cfg->resolved[i] = join_path(cfg->text[d], cfg->text[i])))
			return kr_fail(err, KR_ERR_NOMEM, "out of memory reading the configuration");
	}
	return KR_OK;
}

kr_status kr_config_reread(const struct kr_config *cur, struct kr_config *out, struct kr_error *err)
{
	bool explicit_path = cur->path != NULL;
	const char *path = cur->path ? cur->path : kr_config_path(cur->program, NULL, &explicit_path);
	kr_status s;

	if ((s = kr_config_init(out, cur->program, err)))
		return s;
	for (size_t i = 0; i < NOPTIONS; i++)
		if ((options[i].programs & cur->program) && cur->origin[i] == KR_CFG_FLAG && cur->text[i] &&
		    (s = set_value(out, i, cur->text[i], KR_CFG_FLAG, err)))
			goto fail;
	if ((s = kr_config_load(out, path, explicit_path, err)) || (s = kr_config_finish(out, err)))
		goto fail;
	return KR_OK;
fail:
	kr_config_release(out);
	return s;
}

const char *kr_config_get(const struct kr_config *cfg, const char *name)
{
	long i = option_index(cfg->program, name);
	if (i < 0)
		return NULL;
	return cfg->resolved[i] ? cfg->resolved[i] : cfg->text[i];
}

long long kr_config_get_int(const struct kr_config *cfg, const char *name)
{
	long i = option_index(cfg->program, name);
	return i < 0 ? 0 : cfg->num[i];
}

enum kr_config_origin kr_config_origin_of(const struct kr_config *cfg, const char *name)
{
	long i = option_index(cfg->program, name);
	return i < 0 ? KR_CFG_DEFAULT : cfg->origin[i];
}

/* ---- Flags ---- */

struct option *kr_config_getopt(enum kr_program program, const struct option *cmd)
{
	size_t ncmd = 0, n = 0;
	struct option *v;

	while (cmd && cmd[ncmd].name)
		ncmd++;
	v = calloc(ncmd + NOPTIONS + 3, sizeof *v);
	if (!v)
		return NULL;
	for (size_t i = 0; i < ncmd; i++)
		v[n++] = cmd[i];
	for (size_t i = 0; i < NOPTIONS; i++)
		if (options[i].programs & program)
			v[n++] = (struct option){options[i].flag, required_argument, NULL, KR_CONFIG_OPT_BASE + (int)i};
	v[n++] = (struct option){"config", required_argument, NULL, KR_CONFIG_OPT_FILE};
	v[n++] = (struct option){"help", no_argument, NULL, 'h'};
	return v;
}

bool kr_config_is_flag(int val)
{
	return val >= KR_CONFIG_OPT_BASE && val < KR_CONFIG_OPT_BASE + (int)NOPTIONS;
}

kr_status kr_config_take_flag(struct kr_config *cfg, int val, const char *arg, struct kr_error *err)
{
	const struct kr_config_option *o;
	kr_status s;

	assert(kr_config_is_flag(val));
	o = &options[val - KR_CONFIG_OPT_BASE];
	s = set_value(cfg, (size_t)(val - KR_CONFIG_OPT_BASE), arg, KR_CFG_FLAG, err);
	if (s)
		kr_error_prefix(err, "--%s", o->flag);
	return s;
}
