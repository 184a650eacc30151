/* cmd_enroll.c: kiroku-agent enroll TOKEN and renew, and what sync and run need of them: the hub URL learnt at
 * enrolment, finishing a certificate replacement that was cut short, renewing before expiry.
 *
 * Files (all under data_dir by default): key_file (agent.key, mode 0600, made here and never sent),
 * cert_file (agent.crt), ca_file (hub-ca.crt). A new key and certificate are written beside the old ones as
 * KEY.new and CERT.new and renamed over them only once the hub has answered: an interrupted enrolment or
 * renewal leaves the old pair working, and agent_finish_pending completes or discards a half-done swap.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "kiroku/client.h"
#include "kiroku/crypto.h"
#include "kiroku/enroll.h"
#include "kiroku/keyfile.h"
#include "kiroku/tls.h"

#define RENEW_DAYS 30 /* renew when less than this is left */
#define ANSWER_MAX 65536

static void with_suffix(char *out, size_t n, const char *path, const char *suffix)
{
	snprintf(out, n, "%s%s", path, suffix);
}

static bool exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

const char *agent_hub_url(struct agent *a, char *buf, size_t n)
{
	if (kr_config_origin_of(&a->cfg, "hub_url") == KR_CFG_DEFAULT && a->st &&
	    kr_store_meta_text(a->st, "hub_url", buf, n) == KR_OK && buf[0])
		return buf;
	snprintf(buf, n, "%s", kr_config_get(&a->cfg, "hub_url"));
	return buf;
}

kr_status agent_finish_pending(struct agent *a, struct kr_error *err)
{
	const char *key = kr_config_get(&a->cfg, "key_file"), *crt = kr_config_get(&a->cfg, "cert_file");
	char key_new[PATH_MAX], crt_new[PATH_MAX];

	with_suffix(key_new, sizeof key_new, key, ".new");
	with_suffix(crt_new, sizeof crt_new, crt, ".new");
	if (exists(crt_new)) {
		/* The certificate arrived: finish the swap (the key first: they were renamed in this order). */
		if (exists(key_new) && rename(key_new, key) != 0)
			return kr_fail(err, KR_ERR_IO, "finishing the certificate replacement: rename %s: %s", key_new,
			               strerror(errno));
		if (rename(crt_new, crt) != 0)
			return kr_fail(err, KR_ERR_IO, "finishing the certificate replacement: rename %s: %s", crt_new,
			               strerror(errno));
	} else if (exists(key_new)) {
		unlink(key_new); /* an attempt that never got its certificate */
	}
	return KR_OK;
}

/* Checks the hub's answer (a certificate for node/facility and for the key in key_new) and puts the pair in
 * place. On error the old pair is untouched and the new files are gone. */
static kr_status install(struct agent *a, const struct kr_buf *pem, const char *key_new, const char *node,
                         const char *facility, struct kr_cert_info *info, struct kr_error *err)
{
	const char *key = kr_config_get(&a->cfg, "key_file"), *crt = kr_config_get(&a->cfg, "cert_file");
	char crt_new[PATH_MAX], key_sha[65];
	kr_status s;

	with_suffix(crt_new, sizeof crt_new, crt, ".new");
	if ((s = kr_cert_info_mem(pem->data, pem->len, info, err)) || (s = kr_key_file_sha256(key_new, key_sha, err)))
		goto fail;
	if (strcmp(info->cn, node) != 0 || (facility && strcmp(info->ou, facility) != 0) || info->is_ca ||
	    strcmp(info->key_sha256, key_sha) != 0) {
		s = kr_fail(
		    err, KR_ERR_TLS,
		    "the hub answered with a certificate for node \"%s\" of facility \"%s\"%s; expected node \"%s\" "
		    "of facility \"%s\" for this computer's new key",
		    info->cn, info->ou, strcmp(info->key_sha256, key_sha) ? " and another key" : "", node,
		    facility ? facility : info->ou);
		goto fail;
	}
	if ((s = kr_file_write(crt_new, pem->data, pem->len, err)))
		goto fail;
	if (rename(key_new, key) != 0 || rename(crt_new, crt) != 0) {
		s = kr_fail(err, KR_ERR_IO, "putting the new certificate in place: %s", strerror(errno));
		return s; /* agent_finish_pending completes it next time */
	}
	return KR_OK;
fail:
	unlink(key_new);
	unlink(crt_new);
	return s;
}

/* A node id from the machine's name: lower case, other characters as '-'. */
static void node_from_hostname(char *out, size_t n)
{
	char host[256] = "";
	size_t j = 0;

	if (gethostname(host, sizeof host) != 0)
		host[0] = 0;
	host[sizeof host - 1] = 0;
	for (size_t i = 0; host[i] && j + 1 < n && j < KR_ID_MAX; i++) {
		char c = host[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			c = '-';
		out[j++] = c;
	}
	out[j] = 0;
	if (!kr_id_valid(out))
		snprintf(out, n, "agent");
}

/* Turns a refused answer into an error carrying the hub's reason. */
static kr_status refused(const char *what, long status, struct kr_buf *resp, struct kr_error *err)
{
	char reason[400];
	size_t n = resp->len < sizeof reason - 1 ? resp->len : sizeof reason - 1;
	kr_status code = status == 403                    ? KR_ERR_FORBIDDEN
	                 : status == 409                  ? KR_ERR_CONFLICT
	                 : status == 429                  ? KR_ERR_BUSY
	                 : status == 400 || status == 413 ? KR_ERR_INVALID
	                                                  : KR_ERR_NETWORK;

	memcpy(reason, resp->data ? (const char *)resp->data : "", n);
	reason[n] = 0;
	while (n && (reason[n - 1] == '\n' || reason[n - 1] == '\r'))
		reason[--n] = 0;
	return kr_fail(err, code, "the hub refused the %s (HTTP %ld): %s", what, status,
	               n ? reason : "no reason given");
}

int agent_cmd_enroll(struct agent *a)
{
	const char *dir = kr_config_get(&a->cfg, "data_dir"), *path = a->cfg.store_path;
	const char *key = kr_config_get(&a->cfg, "key_file"), *ca = kr_config_get(&a->cfg, "ca_file");
	char node[KR_ID_MAX + 1], url[KR_ENROLL_URL_MAX + 1], key_new[PATH_MAX] = "", ca_new[PATH_MAX] = "";
	bool sent = false;
	struct kr_client_config cc = {0};
	struct kr_client *c = NULL;
	struct kr_enroll_token tok;
	struct kr_buf ca_pem, csr, body, resp;
	struct kr_cert_info info;
	struct kr_error err = {0};
	long status = 0;
	bool have_store = exists(path);
	int rc = KR_EXIT_OK;
	kr_status s;

	if (kr_enroll_token_decode(a->args[0], &tok, &err)) {
		kr_error_prefix(&err, "enroll");
		return agent_fail(&err);
	}
	kr_buf_init(&ca_pem, 65536);
	kr_buf_init(&csr, 65536);
	kr_buf_init(&body, 65536);
	kr_buf_init(&resp, ANSWER_MAX);
	if ((s = kr_dir_make(dir, &err)) || (s = kr_datadir_check(dir, &err)))
		goto fail;
	/* Node and facility: the store's when there is one (it must be of the token's facility), else the
	 * configured node (or the machine's name) and the token's facility. */
	if (have_store) {
		if ((s = kr_store_open(path, &a->st, &err)))
			goto fail;
		if (kr_store_role(a->st) != KR_ROLE_AGENT) {
			s = kr_fail(&err, KR_ERR_CONFIG, "%s is a hub's store, not an agent's", path);
			goto fail;
		}
		if (strcmp(kr_store_facility(a->st), tok.facility) != 0) {
			s = kr_fail(
			    &err, KR_ERR_FORBIDDEN,
			    "this token is for facility \"%s\" but this agent's store %s belongs to facility \"%s\": "
			    "ask for a token of \"%s\", or use another data directory",
			    tok.facility, path, kr_store_facility(a->st), kr_store_facility(a->st));
			goto fail;
		}
		snprintf(node, sizeof node, "%s", kr_store_node(a->st));
		if (*kr_config_get(&a->cfg, "node") && strcmp(kr_config_get(&a->cfg, "node"), node) != 0) {
			s = kr_fail(&err, KR_ERR_CONFIG, "the store %s belongs to node \"%s\", not \"%s\"", path, node,
			            kr_config_get(&a->cfg, "node"));
			goto fail;
		}
	} else if (*kr_config_get(&a->cfg, "node")) {
		snprintf(node, sizeof node, "%s", kr_config_get(&a->cfg, "node"));
	} else {
		node_from_hostname(node, sizeof node);
	}
	if (kr_config_origin_of(&a->cfg, "hub_url") != KR_CFG_DEFAULT)
		snprintf(url, sizeof url, "%s", kr_config_get(&a->cfg, "hub_url"));
	else
		snprintf(url, sizeof url, "%s", tok.hub_url);
	if (tok.expires < (int64_t)time(NULL))
		fprintf(stderr, AGENT_PROG ": warning: by this computer's clock the token has expired; trying anyway "
		                           "(the hub's clock decides)\n");
	fprintf(stderr, AGENT_PROG ": enrolling node %s of facility %s at %s\n", node, tok.facility, url);

	/* 1. The hub's CA, accepted only if it is the one the token pins. */
	if ((s = kr_client_fetch_ca(url, tok.ca_sha256, kr_config_get_int(&a->cfg, "timeout") * 1000, &ca_pem, &err))) {
		if (s == KR_ERR_TLS && strstr(err.msg, "curl "))
			kr_error_prefix(
			    &err, "the hub refused a connection without a certificate: no enrolment is open there "
			          "(has the token expired, been used or been cancelled?)");
		goto fail;
	}
	with_suffix(ca_new, sizeof ca_new, ca, ".new");
	if ((s = kr_file_write(ca_new, ca_pem.data, ca_pem.len, &err)))
		goto fail;
	/* 2. A new key, made here and never sent; its certificate request. */
	with_suffix(key_new, sizeof key_new, key, ".new");
	/* A KEY.new left by an enrolment whose answer was lost is used again: the hub then sends the same
	 * certificate. */
	if ((s = exists(key_new) ? kr_csr_make_for_key(key_new, node, tok.facility, &csr, &err)
	                         : kr_csr_make(key_new, node, tok.facility, &csr, &err)) ||
	    (s = kr_enroll_request_encode(tok.secret, node, csr.data, csr.len, &body, &err)))
		goto fail;
	/* 3. The request, to a hub that must chain to the pinned CA. */
	cc.base_url = url;
	cc.ca_file = ca_new;
	cc.timeout_ms = kr_config_get_int(&a->cfg, "timeout") * 1000;
	if ((s = kr_client_new(&cc, &c, &err)))
		goto fail;
	sent = true;
	if ((s = kr_client_post(c, KR_ENROLL_PATH, "application/cbor", body.data, body.len, ANSWER_MAX, &status, &resp,
	                        &err))) {
		if (s == KR_ERR_TLS)
			kr_error_prefix(&err, "the hub refused the connection (no enrolment open? the token may have "
			                      "expired, been used or been cancelled)");
		goto fail;
	}
	if (status != 200) {
		s = refused("enrolment", status, &resp, &err);
		goto fail;
	}
	/* 4. The certificate, checked, and the files in place; then the store. */
	if ((s = install(a, &resp, key_new, node, tok.facility, &info, &err)))
		goto fail;
	if (rename(ca_new, ca) != 0) {
		s = kr_fail(&err, KR_ERR_IO, "rename %s: %s", ca_new, strerror(errno));
		goto fail;
	}
	if (!have_store && (s = kr_store_create(path, KR_ROLE_AGENT, node, tok.facility, &err)))
		goto fail;
	if (!a->st && (s = kr_store_open(path, &a->st, &err)))
		goto fail;
	if ((s = kr_store_meta_set_text(a->st, "hub_url", url, &err)))
		goto fail;
	{
		char until[32];
		time_t t = (time_t)info.not_after;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(until, sizeof until, "%Y-%m-%d", &tm);
		printf("enrolled node %s of facility %s at %s\ncertificate %s (serial %s, valid until %s)\nkey %s "
		       "(made here, mode 0600)\nhub CA %s\nready to sync: kiroku-agent sync\n",
		       node, tok.facility, url, kr_config_get(&a->cfg, "cert_file"), info.serial, until, key, ca);
	}
	goto out;
fail:
	kr_error_prefix(&err, "enroll");
	rc = agent_fail(&err);
	/* Keep the new key when the answer may have been lost on the way (see above); otherwise it is useless. */
	if (key_new[0] && s != KR_ERR_IO && !(sent && (s == KR_ERR_NETWORK || s == KR_ERR_TLS) && status == 0))
		unlink(key_new);
	unlink(ca_new);
out:
	memset(&tok, 0, sizeof tok);
	if (body.data)
		memset(body.data, 0, body.len); /* it holds the token's secret */
	kr_client_free(c);
	kr_buf_release(&ca_pem);
	kr_buf_release(&csr);
	kr_buf_release(&body);
	kr_buf_release(&resp);
	return rc;
}

kr_status agent_renew(struct agent *a, bool only_if_due, bool *renewed, struct kr_error *err)
{
	const char *key = kr_config_get(&a->cfg, "key_file"), *crt = kr_config_get(&a->cfg, "cert_file");
	char key_new[PATH_MAX], url[KR_ENROLL_URL_MAX + 1];
	struct kr_cert_info cur, info;
	struct kr_client *c = NULL;
	struct kr_buf csr, resp;
	long status = 0;
	kr_status s;

	*renewed = false;
	if ((s = agent_finish_pending(a, err)))
		return s;
	if (only_if_due && !exists(crt))
		return KR_OK; /* not enrolled: the connection attempt says so */
	if ((s = kr_cert_info_file(crt, &cur, err)))
		return s;
	if (only_if_due && cur.not_after - (int64_t)time(NULL) > (int64_t)RENEW_DAYS * 86400)
		return KR_OK;
	if (cur.not_after <= (int64_t)time(NULL))
		return kr_fail(err, KR_ERR_TLS,
		               "the certificate %s expired; it can no longer be renewed: enrol again with a new token",
		               crt);
	{
		struct kr_client_config cc = {
		    .base_url = agent_hub_url(a, url, sizeof url),
		    .ca_file = kr_config_get(&a->cfg, "ca_file"),
		    .cert_file = crt,
		    .key_file = key,
		    .timeout_ms = kr_config_get_int(&a->cfg, "timeout") * 1000,
		};
		if ((s = kr_client_new(&cc, &c, err)))
			return s;
	}
	kr_buf_init(&csr, 65536);
	kr_buf_init(&resp, ANSWER_MAX);
	with_suffix(key_new, sizeof key_new, key, ".new");
	if ((s = kr_csr_make(key_new, cur.cn, cur.ou[0] ? cur.ou : NULL, &csr, err)) ||
	    (s = kr_client_post(c, KR_RENEW_PATH, "application/pkcs10", csr.data, csr.len, ANSWER_MAX, &status, &resp,
	                        err)))
		goto out;
	if (status != 200) {
		s = refused("renewal", status, &resp, err);
		goto out;
	}
	if ((s = install(a, &resp, key_new, cur.cn, cur.ou, &info, err)))
		goto out;
	*renewed = true;
	fprintf(stderr, AGENT_PROG ": renewed the certificate %s: serial %s replaces %s\n", crt, info.serial,
	        cur.serial);
out:
	if (s && !*renewed)
		unlink(key_new);
	kr_client_free(c);
	kr_buf_release(&csr);
	kr_buf_release(&resp);
	return s;
}

int agent_cmd_renew(struct agent *a)
{
	struct kr_error err = {0};
	bool renewed;

	if (agent_renew(a, false, &renewed, &err)) {
		kr_error_prefix(&err, "renew");
		return agent_fail(&err);
	}
	printf("certificate renewed: %s\n", kr_config_get(&a->cfg, "cert_file"));
	return KR_EXIT_OK;
}
