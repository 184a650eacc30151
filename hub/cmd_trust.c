/* cmd_trust.c: kiroku-hub enroll-token (issue, list, cancel), node list, node revoke, audit verify and audit list. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hub.h"
#include "kiroku/audit.h"
#include "kiroku/crypto.h"
#include "kiroku/enroll.h"
#include "kiroku/print.h"
#include "kiroku/tls.h"
#include "kiroku/trust.h"
#include "qr.h"

#define DEFAULT_EXPIRES_S (72 * 3600)
#define MAX_EXPIRES_S     (30 * 86400)

/* "2026-11-20 06:10 UTC", or "-" for 0. */
static void utc(int64_t ms, char *out, size_t n)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	if (!ms || !gmtime_r(&secs, &tm)) {
		snprintf(out, n, "-");
		return;
	}
	strftime(out, n, "%Y-%m-%d %H:%M UTC", &tm);
}

/* "90s", "45m", "72h", "7d" (or plain seconds) into seconds; -1 if it is not one. */
static long long parse_duration(const char *text)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno || end == text || v <= 0)
		return -1;
	if (*end && end[1])
		return -1;
	switch (*end) {
	case 0:
	case 's':
		return v;
	case 'm':
		return v > LLONG_MAX / 60 ? -1 : v * 60;
	case 'h':
		return v > LLONG_MAX / 3600 ? -1 : v * 3600;
	case 'd':
		return v > LLONG_MAX / 86400 ? -1 : v * 86400;
	default:
		return -1;
	}
}

/* The URL written into tokens: hub_url when configured, else https://HOST:PORT from listen (the machine's
 * name when listening on every address). */
static void token_url(struct hub *h, char *out, size_t n)
{
	const char *listen = kr_config_get(&h->cfg, "listen");
	const char *colon = strrchr(listen, ':');
	char host[256];

	if (kr_config_origin_of(&h->cfg, "hub_url") != KR_CFG_DEFAULT || !colon) {
		snprintf(out, n, "%s", kr_config_get(&h->cfg, "hub_url"));
		return;
	}
	snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
	if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || !host[0]) {
		if (gethostname(host, sizeof host) != 0)
			snprintf(host, sizeof host, "localhost");
		host[sizeof host - 1] = 0;
	}
	snprintf(out, n, "https://%s:%s", host, colon + 1);
}

static int hex_to_bytes(const char *hex, uint8_t *out, size_t n)
{
	if (strlen(hex) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

int hub_cmd_enroll_token(struct hub *h)
{
	struct kr_token_issue ti = {0};
	struct kr_enroll_token tok;
	struct kr_error err = {0};
	char fp[KR_FINGERPRINT_HEX_LEN + 1], id[KR_TOKEN_ID_LEN + 1], actor[256], url[KR_ENROLL_URL_MAX + 1];
	char expires_text[64];
	struct kr_buf text;
	long long secs = DEFAULT_EXPIRES_S;
	int rc = KR_EXIT_OK;

	if (!h->facility || !kr_id_valid(h->facility))
		return hub_usage(h, "--facility FACILITY is required (1 to 64 of a-z 0-9 . _ -)");
	if (h->expires && ((secs = parse_duration(h->expires)) < 0 || secs > MAX_EXPIRES_S))
		return hub_usage(h, "--expires takes a duration such as 30m, 72h or 7d, at most 30d; got \"%s\"",
		                 h->expires);
	if (h->token_name && strlen(h->token_name) > 200)
		return hub_usage(h, "--name is at most 200 bytes");
	if (h->qr_png && !hub_qr_available())
		return hub_usage(h, "--qr-png: this kiroku-hub was built without libqrencode");
	token_url(h, url, sizeof url);
	memset(&tok, 0, sizeof tok);
	snprintf(tok.hub_url, sizeof tok.hub_url, "%s", url);
	snprintf(tok.facility, sizeof tok.facility, "%s", h->facility);
	if (kr_cert_fingerprint(kr_config_get(&h->cfg, "ca_file"), fp, &err)) {
		kr_error_prefix(&err, "the hub's CA (create it with 'kiroku-hub ca init')");
		return hub_fail(&err);
	}
	hex_to_bytes(fp, tok.ca_sha256, sizeof tok.ca_sha256);
	kr_audit_operator(actor, sizeof actor);
	ti.facility = h->facility;
	ti.facility_name = h->token_name ? h->token_name : "";
	ti.hub_url = url;
	ti.actor = actor;
	ti.expires_ms = (int64_t)kr_now_ms() + secs * 1000;
	tok.expires = (ti.expires_ms + 999) / 1000;
	kr_buf_init(&text, 4096);
	/* Check the token can be written before a row exists for it. */
	if (kr_enroll_token_encode(&tok, &text, &err))
		return hub_fail(&err);
	text.len = 0;
	if (kr_trust_token_create(h->st, &ti, tok.secret, id, &err) || kr_enroll_token_encode(&tok, &text, &err)) {
		memset(tok.secret, 0, sizeof tok.secret);
		kr_buf_release(&text);
		return hub_fail(&err);
	}
	memset(tok.secret, 0, sizeof tok.secret);
	utc(ti.expires_ms, expires_text, sizeof expires_text);
	printf("%s\n", (const char *)text.data);
	fprintf(stderr,
	        "enrolment token %s for facility %s%s%s%s, valid once until %s\n"
	        "hub %s, CA fingerprint (SHA-256) %s\n"
	        "on the facility's PC: kiroku-agent enroll TOKEN\n",
	        id, h->facility, ti.facility_name[0] ? " (" : "", ti.facility_name, ti.facility_name[0] ? ")" : "",
	        expires_text, url, fp);
	if (h->qr && hub_qr_print((const char *)text.data, stdout, &err))
		rc = hub_fail(&err);
	if (h->qr_png && hub_qr_png((const char *)text.data, h->qr_png, &err))
		rc = hub_fail(&err);
	else if (h->qr_png)
		fprintf(stderr, "QR code written to %s (mode 0600: it holds the token)\n", h->qr_png);
	memset(text.data, 0, text.len);
	kr_buf_release(&text);
	return rc;
}

/* ---- node list ---- */

struct node_list_ctx {
	bool tsv;
	size_t count;
	struct kr_buf line;
};

static kr_status cell(struct kr_buf *b, const char *text, size_t width)
{
	kr_status s = kr_print_cell(b, text ? text : "", width, true);
	return s ? s : kr_buf_append(b, "  ", 2);
}

static kr_status tsv(struct kr_buf *b, const char *text, bool last)
{
	kr_status s = KR_OK;
	for (const char *p = text ? text : ""; *p && !s; p++)
		s = *p == '\t'   ? kr_buf_append(b, "\\t", 2)
		    : *p == '\n' ? kr_buf_append(b, "\\n", 2)
		    : *p == '\\' ? kr_buf_append(b, "\\\\", 2)
		                 : kr_buf_append(b, p, 1);
	return s ? s : kr_buf_append(b, last ? "\n" : "\t", 1);
}

/* One TSV line of n columns. */
static kr_status tsv_row(struct kr_buf *b, const char *const *cols, size_t n)
{
	kr_status s = KR_OK;
	for (size_t i = 0; i < n && !s; i++)
		s = tsv(b, cols[i], i + 1 == n);
	return s;
}

/* n padded table cells (the line's last column is the caller's). */
static kr_status cells(struct kr_buf *b, const char *const *cols, const size_t *widths, size_t n)
{
	kr_status s = KR_OK;
	for (size_t i = 0; i < n && !s; i++)
		s = cell(b, cols[i], widths[i]);
	return s;
}

/* "f1 (光が丘小学校)", or "f1" for a facility without a name. */
static void facility_label(const char *facility, const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s%s%s%s", facility, name[0] ? " (" : "", name, name[0] ? ")" : "");
}

static kr_status node_line(void *ctx, const struct kr_node_info *n, struct kr_error *err)
{
	struct node_list_ctx *c = ctx;
	char expires[40], seen[40], skew[32], outbox[32], state[96], enrolled[40];
	kr_status s;

	utc(n->cert_not_after * 1000, expires, sizeof expires);
	utc(n->last_seen_ms, seen, sizeof seen);
	utc(n->enrolled_ms, enrolled, sizeof enrolled);
	/* Seconds, or hours or days when a PC's clock is that far off (a year is common: a lost CMOS battery). */
	if (n->skew_ms >= 86400000 || n->skew_ms <= -86400000)
		snprintf(skew, sizeof skew, "%+.1fd", (double)n->skew_ms / 86400000.0);
	else if (n->skew_ms >= 3600000 || n->skew_ms <= -3600000)
		snprintf(skew, sizeof skew, "%+.1fh", (double)n->skew_ms / 3600000.0);
	else
		snprintf(skew, sizeof skew, "%+.1fs", (double)n->skew_ms / 1000.0);
	if (n->outbox_pending >= 0)
		snprintf(outbox, sizeof outbox, "%" PRId64, n->outbox_pending);
	else
		snprintf(outbox, sizeof outbox, "?");
	if (n->revoked) {
		char when[40];
		utc(n->revoked_ms, when, sizeof when);
		snprintf(state, sizeof state, c->tsv ? "revoked" : "REVOKED %s", when);
	} else {
		snprintf(state, sizeof state, "active");
	}
	c->line.len = 0;
	if (c->tsv) {
		char ts[5][24];
		snprintf(ts[0], sizeof ts[0], "%" PRId64, n->cert_not_after);
		snprintf(ts[1], sizeof ts[1], "%" PRId64, n->enrolled_ms);
		snprintf(ts[2], sizeof ts[2], "%" PRId64, n->last_seen_ms);
		snprintf(ts[3], sizeof ts[3], "%" PRId64, n->skew_ms);
		snprintf(ts[4], sizeof ts[4], "%" PRId64, n->revoked_ms);
		const char *cols[] = {n->node, n->facility, n->facility_name, n->serial, ts[0], ts[1], ts[2], ts[3],
		                      n->outbox_pending >= 0 ? outbox : "", state, ts[4], n->revoke_reason};
		s = tsv_row(&c->line, cols, sizeof cols / sizeof cols[0]);
	} else {
		char facility[200];
		facility_label(n->facility, n->facility_name, facility, sizeof facility);
		const char *cols[] = {n->node, facility, n->serial[0] ? n->serial : "-", expires, seen, skew, outbox};
		static const size_t widths[] = {20, 26, 32, 20, 20, 9, 7};
		s = cells(&c->line, cols, widths, sizeof cols / sizeof cols[0]);
		if (!s)
			s = kr_buf_printf(&c->line, "%s%s%s\n", state, n->revoke_reason[0] ? ": " : "",
			                  n->revoke_reason);
	}
	if (s)
		return kr_fail(err, s, "out of memory listing nodes");
	fwrite(c->line.data, 1, c->line.len, stdout);
	c->count++;
	return KR_OK;
}

int hub_cmd_node_list(struct hub *h)
{
	struct node_list_ctx c = {0};
	struct kr_error err = {0};
	kr_status s;

	if (h->format && strcmp(h->format, "table") != 0 && strcmp(h->format, "tsv") != 0)
		return hub_usage(h, "--format is table or tsv");
	c.tsv = h->format && strcmp(h->format, "tsv") == 0;
	kr_buf_init(&c.line, 0);
	if (!c.tsv) {
		kr_print_cell(&c.line, "NODE", 20, true);
		kr_buf_printf(&c.line, "  ");
		kr_print_cell(&c.line, "FACILITY", 26, true);
		kr_buf_printf(&c.line, "  %-32s  %-20s  %-20s  %-9s  %-7s  %s\n", "CERTIFICATE SERIAL", "CERT EXPIRES",
		              "LAST SEEN", "SKEW", "OUTBOX", "STATE");
		fwrite(c.line.data, 1, c.line.len, stdout);
	}
	s = kr_trust_node_list(h->st, node_line, &c, &err);
	kr_buf_release(&c.line);
	if (s)
		return hub_fail(&err);
	if (c.count == 0 && !c.tsv)
		fprintf(stderr, "no nodes yet (enrol one: kiroku-hub enroll-token --facility F)\n");
	return KR_EXIT_OK;
}

/* ---- enroll-token list, enroll-token cancel ---- */

struct token_list_ctx {
	bool tsv;
	size_t count;
	struct kr_buf line;
};

static kr_status token_line(void *ctx, const struct kr_token_info *t, struct kr_error *err)
{
	struct token_list_ctx *c = ctx;
	char created[40], expires[40], when[40], state[800];
	kr_status s;

	c->line.len = 0;
	if (c->tsv) {
		char ts[4][24];
		snprintf(ts[0], sizeof ts[0], "%" PRId64, t->created_ms);
		snprintf(ts[1], sizeof ts[1], "%" PRId64, t->expires_ms);
		snprintf(ts[2], sizeof ts[2], "%" PRId64, t->used_ms);
		snprintf(ts[3], sizeof ts[3], "%" PRId64, t->cancelled_ms);
		const char *cols[] = {t->id, t->facility, t->facility_name, ts[0], t->created_by, ts[1],
		                      kr_trust_token_state_name(t->state), ts[2], t->used_by, t->cert_serial, ts[3],
		                      t->cancelled_by, t->cancel_reason};
		s = tsv_row(&c->line, cols, sizeof cols / sizeof cols[0]);
	} else {
		char facility[300];
		utc(t->created_ms, created, sizeof created);
		utc(t->expires_ms, expires, sizeof expires);
		switch (t->state) {
		case KR_TOKEN_USED:
			utc(t->used_ms, when, sizeof when);
			snprintf(state, sizeof state, "used by %s %s", t->used_by, when);
			break;
		case KR_TOKEN_CANCELLED:
			utc(t->cancelled_ms, when, sizeof when);
			snprintf(state, sizeof state, "CANCELLED %s%s%s%s%s", when, t->cancelled_by[0] ? " by " : "",
			         t->cancelled_by, t->cancel_reason[0] ? ": " : "", t->cancel_reason);
			break;
		case KR_TOKEN_EXPIRED:
			snprintf(state, sizeof state, "expired");
			break;
		default:
			snprintf(state, sizeof state, "open");
			break;
		}
		facility_label(t->facility, t->facility_name, facility, sizeof facility);
		const char *cols[] = {t->id, facility, created, t->created_by[0] ? t->created_by : "-", expires};
		static const size_t widths[] = {KR_TOKEN_ID_LEN, 26, 20, 20, 20};
		s = cells(&c->line, cols, widths, sizeof cols / sizeof cols[0]);
		if (!s)
			s = kr_buf_printf(&c->line, "%s\n", state);
	}
	if (s)
		return kr_fail(err, s, "out of memory listing enrolment tokens");
	fwrite(c->line.data, 1, c->line.len, stdout);
	c->count++;
	return KR_OK;
}

int hub_cmd_enroll_token_list(struct hub *h)
{
	struct token_list_ctx c = {0};
	struct kr_error err = {0};
	kr_status s;

	if (h->format && strcmp(h->format, "table") != 0 && strcmp(h->format, "tsv") != 0)
		return hub_usage(h, "--format is table or tsv");
	c.tsv = h->format && strcmp(h->format, "tsv") == 0;
	kr_buf_init(&c.line, 0);
	if (!c.tsv) {
		kr_buf_printf(&c.line, "%-*s  ", KR_TOKEN_ID_LEN, "TOKEN");
		kr_print_cell(&c.line, "FACILITY", 26, true);
		kr_buf_printf(&c.line, "  %-20s  %-20s  %-20s  %s\n", "CREATED", "BY", "EXPIRES", "STATE");
		fwrite(c.line.data, 1, c.line.len, stdout);
	}
	s = kr_trust_token_list(h->st, h->all, (int64_t)kr_now_ms(), token_line, &c, &err);
	kr_buf_release(&c.line);
	if (s)
		return hub_fail(&err);
	if (c.count == 0 && !c.tsv)
		fprintf(stderr, h->all
		                    ? "no enrolment tokens yet (issue one: kiroku-hub enroll-token --facility F)\n"
		                    : "no open enrolment tokens (--all shows used, expired and cancelled ones; issue "
		                      "one: kiroku-hub enroll-token --facility F)\n");
	return KR_EXIT_OK;
}

int hub_cmd_enroll_token_cancel(struct hub *h)
{
	struct kr_error err = {0};
	char actor[256], id[KR_TOKEN_ID_LEN + 1], facility[KR_ID_MAX + 1], hash_hex[2 * KR_SHA256_LEN + 1];
	const char *which = h->args[0];

	if (h->reason && strlen(h->reason) > 500)
		return hub_usage(h, "--reason is at most 500 bytes");
	/* The token itself (a leaked one, say) names its row by the hash of its secret. */
	if (strncmp(which, KR_ENROLL_TOKEN_PREFIX, strlen(KR_ENROLL_TOKEN_PREFIX)) == 0) {
		struct kr_enroll_token tok;
		uint8_t hash[KR_SHA256_LEN];
		kr_status s = kr_enroll_token_decode(which, &tok, &err);
		if (!s)
			s = kr_sha256(tok.secret, sizeof tok.secret, hash, &err);
		memset(&tok, 0, sizeof tok);
		if (s) {
			kr_error_prefix(&err, "the token given to cancel");
			return hub_fail(&err);
		}
		kr_hex(hash, sizeof hash, hash_hex);
		which = hash_hex;
	}
	kr_audit_operator(actor, sizeof actor);
	if (kr_trust_token_cancel(h->st, which, h->reason ? h->reason : "", actor, id, facility, &err))
		return hub_fail(&err);
	printf("enrolment token %s for facility %s cancelled; enrolment with it is refused from now on\n", id,
	       facility);
	return KR_EXIT_OK;
}

int hub_cmd_node_revoke(struct hub *h)
{
	struct kr_error err = {0};
	char actor[256];
	unsigned certs = 0;

	if (h->reason && strlen(h->reason) > 500)
		return hub_usage(h, "--reason is at most 500 bytes");
	kr_audit_operator(actor, sizeof actor);
	if (kr_trust_revoke(h->st, h->args[0], h->reason ? h->reason : "", actor, &certs, &err))
		return hub_fail(&err);
	printf("node %s revoked (%u certificate%s); a running hub refuses it from its next handshake and closes "
	       "its open connections\n",
	       h->args[0], certs, certs == 1 ? "" : "s");
	return KR_EXIT_OK;
}

/* ---- audit ---- */

int hub_cmd_audit_verify(struct hub *h)
{
	struct kr_audit_verify_result res;
	struct kr_error err = {0};
	char anchor_hash[2 * KR_AUDIT_HASH_LEN + 1] = "";
	uint64_t anchor_id = 0;

	if (h->anchor) {
		char *end;
		errno = 0;
		anchor_id = strtoull(h->anchor, &end, 10);
		if (errno || end == h->anchor || *end != ':' || anchor_id == 0 ||
		    strlen(end + 1) != 2 * KR_AUDIT_HASH_LEN ||
		    strspn(end + 1, "0123456789abcdef") != 2 * KR_AUDIT_HASH_LEN)
			return hub_usage(h, "--anchor takes ID:HASH as printed by an earlier 'audit verify'");
		snprintf(anchor_hash, sizeof anchor_hash, "%s", end + 1);
	}
	if (kr_audit_verify(h->st, anchor_id, h->anchor ? anchor_hash : NULL, &res, &err))
		return hub_fail(&err);
	if (!res.intact) {
		fprintf(stderr, HUB_PROG ": the audit log was tampered with: %s\n", res.problem);
		printf("TAMPERED first bad entry %" PRIu64 "\n", res.bad_id);
		return KR_EXIT_REFUSED;
	}
	printf("audit log intact: %" PRIu64 " entries\n", res.entries);
	if (res.head_id)
		printf("anchor: %" PRIu64 ":%s\n", res.head_id, res.head_hash);
	fprintf(stderr, "keep the anchor line somewhere else (a printed report, another machine): a later\n"
	                "'kiroku-hub audit verify --anchor ID:HASH' then also shows a log rewritten from scratch\n");
	return KR_EXIT_OK;
}

static kr_status audit_line(void *ctx, const struct kr_audit_entry *e, struct kr_error *err)
{
	char when[40], hash[2 * KR_AUDIT_HASH_LEN + 1];
	time_t secs = (time_t)(e->ts_ms / 1000);
	struct tm tm;
	struct kr_buf line;
	kr_status s;

	(void)ctx;
	if (gmtime_r(&secs, &tm))
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		snprintf(when, sizeof when, "?");
	kr_hex(e->hash, sizeof e->hash, hash);
	kr_buf_init(&line, 0);
	s = kr_buf_printf(&line, "%" PRIu64 "\t%s\t", e->id, when);
	if (!s)
		s = tsv(&line, e->actor, false);
	if (!s)
		s = tsv(&line, e->action, false);
	if (!s)
		s = tsv(&line, e->detail, false);
	if (!s)
		s = tsv(&line, hash, true);
	if (!s)
		fwrite(line.data, 1, line.len, stdout);
	kr_buf_release(&line);
	return s ? kr_fail(err, s, "out of memory listing the audit log") : KR_OK;
}

int hub_cmd_audit_list(struct hub *h)
{
	struct kr_error err = {0};

	if (kr_audit_list(h->st, 1, audit_line, NULL, &err))
		return hub_fail(&err);
	return KR_EXIT_OK;
}

void hub_audit_cert_issue(struct hub *h, const char *crt_path)
{
	struct kr_store *st = h->st;
	struct kr_cert_info ci;
	struct kr_error err = {0};
	char actor[256], detail[512], until[40];

	if (kr_cert_info_file(crt_path, &ci, &err))
		goto warn;
	/* cert issue runs without the store; the audit needs it, when it exists. */
	if (!st && (access(h->cfg.store_path, F_OK) != 0 || kr_store_open(h->cfg.store_path, &st, &err)))
		goto warn;
	utc(ci.not_after * 1000, until, sizeof until);
	snprintf(detail, sizeof detail, "node=%s facility=%s serial=%s expires=%s file=%s (manual, no token)", ci.cn,
	         ci.ou, ci.serial, until, crt_path);
	kr_audit_operator(actor, sizeof actor);
	if (kr_audit_append(st, actor, "cert.issue", detail, &err) == KR_OK) {
		if (st != h->st)
			kr_store_close(st);
		return;
	}
	if (st != h->st)
		kr_store_close(st);
warn:
	fprintf(stderr, HUB_PROG ": warning: the certificate was issued but not written to the audit log%s%s\n",
	        err.msg[0] ? ": " : " (no store yet)", err.msg);
}
