/* client.c: the agent's HTTPS client (libcurl easy handle, reused across requests). */
#include "kiroku/client.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "kiroku/keyfile.h"
#include "kiroku/tls.h"

#define URL_MAX 2048

struct kr_client {
	CURL *h;
	char base[1024];
	char ca_file[1024];
	char cert_file[1024]; /* "" if none */
	char errbuf[CURL_ERROR_SIZE];
	char extra_header[256]; /* "Name: value" sent with every request, "" for none */
	unsigned long connections;
	long retry_after; /* of the last answer, seconds; 0 for none */
	/* the transfer in progress */
	struct kr_buf *response;
	kr_status write_status;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct kr_client *c = ctx;
	size_t n = size * nmemb;
	kr_status st = kr_buf_append(c->response, p, n);

	if (st) {
		c->write_status = st;
		return 0; /* makes curl stop with CURLE_WRITE_ERROR */
	}
	return n;
}

static kr_status copy_text(char *out, size_t n, const char *what, const char *value, struct kr_error *err)
{
	int w = snprintf(out, n, "%s", value);
	if (w < 0 || (size_t)w >= n)
		return kr_fail(err, KR_ERR_CONFIG, "the %s is longer than %zu characters", what, n - 1);
	return KR_OK;
}

static kr_status check_readable(const char *what, const char *path, struct kr_error *err)
{
	if (access(path, R_OK) != 0)
		return kr_fail(err, KR_ERR_CONFIG, "cannot read the %s %s: %s", what, path, strerror(errno));
	return KR_OK;
}

kr_status kr_client_new(const struct kr_client_config *cfg, struct kr_client **out, struct kr_error *err)
{
	struct kr_client *c;
	kr_status st;
	size_t n;
	long connect_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 10000;
	long total_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 120000;
	CURLcode rc = CURLE_OK;

	*out = NULL;
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return kr_fail(err, KR_ERR_INTERNAL, "initialising libcurl failed: %s", curl_easy_strerror(global_rc));
	if (!cfg->base_url || strncasecmp(cfg->base_url, "https://", 8) != 0 || !cfg->base_url[8])
		return kr_fail(err, KR_ERR_CONFIG, "the hub URL \"%s\" must start with https://",
		               cfg->base_url ? cfg->base_url : "");
	if (!cfg->ca_file)
		return kr_fail(err, KR_ERR_CONFIG, "no CA file for the hub is configured");
	if ((cfg->cert_file == NULL) != (cfg->key_file == NULL))
		return kr_fail(err, KR_ERR_CONFIG, "give both a client certificate and its key, or neither");
	if ((st = check_readable("hub CA file", cfg->ca_file, err)) ||
	    (cfg->cert_file && (st = check_readable("client certificate", cfg->cert_file, err))) ||
	    (cfg->key_file && (st = check_readable("client key", cfg->key_file, err))))
		return st;
	/* A private key others can read is refused, whoever would use it. */
	if (cfg->key_file && (st = kr_keyfile_check(cfg->key_file, err)))
		return st == KR_ERR_NOT_FOUND ? KR_ERR_CONFIG : st;
	c = calloc(1, sizeof *c);
	if (!c)
		return kr_fail(err, KR_ERR_NOMEM, "out of memory setting up the hub client");
	if ((st = copy_text(c->base, sizeof c->base, "hub URL", cfg->base_url, err)) ||
	    (st = copy_text(c->ca_file, sizeof c->ca_file, "CA file path", cfg->ca_file, err)) ||
	    (cfg->cert_file &&
	     (st = copy_text(c->cert_file, sizeof c->cert_file, "certificate path", cfg->cert_file, err))))
		goto fail;
	n = strlen(c->base);
	while (n > 8 && c->base[n - 1] == '/')
		c->base[--n] = 0;
	c->h = curl_easy_init();
	if (!c->h) {
		st = kr_fail(err, KR_ERR_NOMEM, "creating a libcurl handle failed");
		goto fail;
	}
#define SET(opt, val)                                                                                                  \
	do {                                                                                                           \
		if (rc == CURLE_OK)                                                                                    \
			rc = curl_easy_setopt(c->h, opt, val);                                                         \
	} while (0)
	SET(CURLOPT_ERRORBUFFER, c->errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	/* The hub's CA is the only trust anchor: no system store, no CA directory. */
	SET(CURLOPT_CAINFO, cfg->ca_file);
	SET(CURLOPT_CAPATH, (char *)NULL);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (cfg->cert_file) {
		SET(CURLOPT_SSLCERT, cfg->cert_file);
		SET(CURLOPT_SSLCERTTYPE, "PEM");
		SET(CURLOPT_SSLKEY, cfg->key_file);
		SET(CURLOPT_SSLKEYTYPE, "PEM");
	}
	SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	SET(CURLOPT_TIMEOUT_MS, total_ms);
	SET(CURLOPT_TCP_NODELAY, 1L);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_USERAGENT, "kiroku/" KR_VERSION);
	SET(CURLOPT_WRITEFUNCTION, on_data);
	SET(CURLOPT_WRITEDATA, c);
#undef SET
	if (rc != CURLE_OK) {
		st = kr_fail(err, KR_ERR_CONFIG, "setting up libcurl failed: %s (is libcurl built with TLS?)",
		             curl_easy_strerror(rc));
		goto fail;
	}
	*out = c;
	return KR_OK;
fail:
	kr_client_free(c);
	return st;
}

/* Turns a failed transfer into a status and a message that says what to check. */
static kr_status translate(struct kr_client *c, CURLcode rc, const char *method, const char *url, struct kr_error *err)
{
	const char *text = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
	char what[256];
	kr_status code = KR_ERR_NETWORK;

	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(what, sizeof what, "check the hub address %s in the configuration", c->base);
		break;
	case CURLE_COULDNT_CONNECT:
		snprintf(what, sizeof what, "is the hub running at %s?", c->base);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(what, sizeof what, "the hub at %s did not answer in time; is the network up?", c->base);
		break;
	case CURLE_SSL_CONNECT_ERROR:
		code = KR_ERR_TLS;
		if (!c->cert_file[0]) {
			snprintf(what, sizeof what,
			         "the hub at %s requires a client certificate: enrol this node first", c->base);
			break;
		}
		/* A hub that refuses a certificate says so with a TLS alert; one that is overloaded or restarting
		 * just closes the connection, which is no reason to suspect the certificate. */
		if (!strstr(text, "alert") && (strstr(text, "reset") || strstr(text, "SYSCALL") ||
		                               strstr(text, "unexpected eof") || strstr(text, "EOF"))) {
			code = KR_ERR_NETWORK;
			snprintf(what, sizeof what,
			         "the hub at %s closed the connection during the TLS handshake (busy or restarting?); "
			         "it will be retried",
			         c->base);
			break;
		}
		snprintf(what, sizeof what,
		         "the TLS handshake with %s failed; if the hub refused this node's certificate %s, it may be "
		         "expired, revoked or issued by another CA: enrol again",
		         c->base, c->cert_file);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		code = KR_ERR_TLS;
		/* curl (OpenSSL backend) also reports the hub's "certificate expired" alert about this node's own
		 * certificate as 60, with this generic text instead of "SSL certificate problem: ..." or a name
		 * mismatch (CURLINFO_SSL_VERIFYRESULT does not tell them apart: it is 1 in both cases). */
		if (strcmp(text, "SSL certificate verification failed") == 0) {
			snprintf(what, sizeof what,
			         "most likely the hub refused this node's certificate %s as expired or not yet valid: "
			         "check this computer's clock, or enrol again",
			         c->cert_file[0] ? c->cert_file : "(none configured)");
			break;
		}
		snprintf(what, sizeof what,
		         "the hub's certificate is not trusted by %s (another CA, expired, or not issued for this host "
		         "name); check the hub URL and CA file",
		         c->ca_file);
		break;
	case CURLE_SSL_CERTPROBLEM:
		code = KR_ERR_TLS;
		snprintf(what, sizeof what, "cannot use the client certificate %s or its key", c->cert_file);
		break;
	case CURLE_SSL_CACERT_BADFILE:
		code = KR_ERR_TLS;
		snprintf(what, sizeof what, "cannot read the CA file %s", c->ca_file);
		break;
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
		code = KR_ERR_TLS;
		snprintf(what, sizeof what, "the TLS setup does not match the hub's");
		break;
	case CURLE_OUT_OF_MEMORY:
		code = KR_ERR_NOMEM;
		snprintf(what, sizeof what, "out of memory");
		break;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		code = KR_ERR_CONFIG;
		snprintf(what, sizeof what, "check the hub URL %s", c->base);
		break;
	default:
		/* A TLS alert after the handshake (e.g. the hub dropped a revoked node) arrives as a receive error. */
		if (strstr(text, "alert"))
			code = KR_ERR_TLS;
		snprintf(what, sizeof what, "the connection to %s broke; it will be retried", c->base);
		break;
	}
	return kr_fail(err, code, "%s %s failed: curl %d (%s); %s", method, url, (int)rc, text, what);
}

static kr_status perform(struct kr_client *c, bool post, const char *path, const char *content_type, const void *body,
                         size_t len, size_t max_response, long *status, struct kr_buf *response, struct kr_error *err)
{
	const char *method = post ? "POST" : "GET";
	struct curl_slist *headers = NULL, *next;
	char url[URL_MAX], ctype[256];
	long connects = 0, code = 0;
	CURLcode rc = CURLE_OK;
	int w;

	*status = 0;
	c->retry_after = 0;
	response->len = 0;
	response->max = max_response;
	if (max_response == 0)
		return kr_fail(err, KR_ERR_INVALID, "a response cap of 0 bytes");
	if (!path || path[0] != '/')
		return kr_fail(err, KR_ERR_INVALID, "request path \"%s\" must start with /", path ? path : "");
	w = snprintf(url, sizeof url, "%s%s", c->base, path);
	if (w < 0 || (size_t)w >= sizeof url)
		return kr_fail(err, KR_ERR_INVALID, "the URL %s%s is too long", c->base, path);
	/* No "Expect: 100-continue": curl would otherwise wait up to a second before sending bodies over 1 MiB. */
	next = curl_slist_append(headers, "Expect:");
	if (next && post && content_type) {
		if (strpbrk(content_type, "\r\n")) {
			curl_slist_free_all(next);
			return kr_fail(err, KR_ERR_INVALID, "bad content type");
		}
		snprintf(ctype, sizeof ctype, "Content-Type: %s", content_type);
		headers = next;
		next = curl_slist_append(headers, ctype);
	}
	if (!next) {
		curl_slist_free_all(headers);
		return kr_fail(err, KR_ERR_NOMEM, "out of memory building a request");
	}
	headers = next;
	if (c->extra_header[0]) {
		if (!(next = curl_slist_append(headers, c->extra_header))) {
			curl_slist_free_all(headers);
			return kr_fail(err, KR_ERR_NOMEM, "out of memory building a request");
		}
		headers = next;
	}
	c->errbuf[0] = 0;
	c->response = response;
	c->write_status = KR_OK;
	rc = curl_easy_setopt(c->h, CURLOPT_URL, url);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, headers);
	if (rc == CURLE_OK && post) {
		/* A NULL POSTFIELDS would make curl read the body from stdin. */
		rc = curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, len ? body : "");
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else if (rc == CURLE_OK) {
		rc = curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
	}
	if (rc == CURLE_OK)
		rc = curl_easy_perform(c->h);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
	curl_slist_free_all(headers);
	c->response = NULL;
	if (curl_easy_getinfo(c->h, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK && connects > 0)
		c->connections += (unsigned long)connects;
	if (rc == CURLE_WRITE_ERROR && c->write_status == KR_ERR_TOO_BIG)
		return kr_fail(err, KR_ERR_TOO_BIG, "%s %s failed: the answer is larger than %zu bytes", method, url,
		               max_response);
	if (rc == CURLE_WRITE_ERROR && c->write_status)
		return kr_fail(err, c->write_status, "%s %s failed: out of memory for the answer", method, url);
	if (rc != CURLE_OK)
		return translate(c, rc, method, url, err);
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code);
	*status = code;
	{
		/* curl parses both forms of the header (seconds, or a date it turns into seconds from now). */
		curl_off_t ra = 0;
		if (curl_easy_getinfo(c->h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
			c->retry_after = ra > 86400 ? 86400 : (long)ra;
	}
	return KR_OK;
}

long kr_client_retry_after(const struct kr_client *c)
{
	return c->retry_after;
}

kr_status kr_client_post(struct kr_client *c, const char *path, const char *content_type, const void *body, size_t len,
                         size_t max_response, long *status, struct kr_buf *response, struct kr_error *err)
{
	return perform(c, true, path, content_type, body, len, max_response, status, response, err);
}

kr_status kr_client_get(struct kr_client *c, const char *path, size_t max_response, long *status,
                        struct kr_buf *response, struct kr_error *err)
{
	return perform(c, false, path, NULL, NULL, 0, max_response, status, response, err);
}

kr_status kr_client_set_header(struct kr_client *c, const char *name, const char *value)
{
	int n;

	if (!name) {
		c->extra_header[0] = 0;
		return KR_OK;
	}
	if (strpbrk(name, "\r\n: ") || !*name || !value || strpbrk(value, "\r\n"))
		return KR_ERR_INVALID;
	n = snprintf(c->extra_header, sizeof c->extra_header, "%s: %s", name, value);
	if (n < 0 || (size_t)n >= sizeof c->extra_header) {
		c->extra_header[0] = 0;
		return KR_ERR_TOO_BIG;
	}
	return KR_OK;
}

static size_t on_ca_data(char *p, size_t size, size_t nmemb, void *ctx)
{
	return kr_buf_append(ctx, p, size * nmemb) ? 0 : size * nmemb;
}

kr_status kr_client_fetch_ca(const char *base_url, const uint8_t expected_sha256[32], long timeout_ms,
                             struct kr_buf *ca_pem, struct kr_error *err)
{
	char url[URL_MAX], errbuf[CURL_ERROR_SIZE] = "", want[65], have[65];
	struct kr_cert_info info;
	struct kr_buf body;
	long code = 0;
	CURLcode rc = CURLE_OK;
	CURL *h;
	size_t n;
	int w;

	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return kr_fail(err, KR_ERR_INTERNAL, "initialising libcurl failed: %s", curl_easy_strerror(global_rc));
	if (!base_url || strncasecmp(base_url, "https://", 8) != 0)
		return kr_fail(err, KR_ERR_CONFIG, "the hub URL \"%s\" must start with https://", base_url ? base_url : "");
	n = strlen(base_url);
	while (n > 8 && base_url[n - 1] == '/')
		n--;
	w = snprintf(url, sizeof url, "%.*s/v1/ca", (int)n, base_url);
	if (w < 0 || (size_t)w >= sizeof url)
		return kr_fail(err, KR_ERR_CONFIG, "the hub URL is too long");
	if (!(h = curl_easy_init()))
		return kr_fail(err, KR_ERR_NOMEM, "creating a libcurl handle failed");
	kr_buf_init(&body, 16384);
#define SET(opt, val)                                                                                                  \
	do {                                                                                                           \
		if (rc == CURLE_OK)                                                                                    \
			rc = curl_easy_setopt(h, opt, val);                                                            \
	} while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	/* Not verified on purpose: nothing is sent but this GET, and what comes back is trusted only if its
	 * SHA-256 is the one the enrolment token pins (checked below). */
	SET(CURLOPT_SSL_VERIFYPEER, 0L);
	SET(CURLOPT_SSL_VERIFYHOST, 0L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	SET(CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 30000L);
	SET(CURLOPT_USERAGENT, "kiroku/" KR_VERSION);
	SET(CURLOPT_WRITEFUNCTION, on_ca_data);
	SET(CURLOPT_WRITEDATA, &body);
#undef SET
	if (rc == CURLE_OK)
		rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(h);
	if (rc != CURLE_OK) {
		kr_status code_st = rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_RECV_ERROR ? KR_ERR_TLS : KR_ERR_NETWORK;
		kr_buf_release(&body);
		return kr_fail(err, code_st, "GET %s failed: curl %d (%s)", url, (int)rc,
		               errbuf[0] ? errbuf : curl_easy_strerror(rc));
	}
	if (code != 200) {
		kr_buf_release(&body);
		return kr_fail(err, code == 429 ? KR_ERR_BUSY : KR_ERR_NETWORK, "GET %s answered HTTP %ld", url, code);
	}
	if (kr_cert_info_mem(body.data, body.len, &info, err)) {
		kr_buf_release(&body);
		kr_error_prefix(err, "the CA certificate from %s", url);
		return KR_ERR_TLS;
	}
	for (int i = 0; i < 32; i++)
		snprintf(want + 2 * i, 3, "%02x", expected_sha256[i]);
	snprintf(have, sizeof have, "%s", info.fingerprint);
	if (strcmp(want, have) != 0 || !info.is_ca) {
		kr_buf_release(&body);
		return kr_fail(err, KR_ERR_TLS,
		               "the hub at %.*s presented a CA whose SHA-256 fingerprint is %s, but the enrolment token "
		               "pins %s: the token is for another hub, or the connection is being intercepted; nothing "
		               "was sent",
		               (int)n, base_url, have, want);
	}
	if (kr_buf_append(ca_pem, body.data, body.len)) {
		kr_buf_release(&body);
		return kr_fail(err, KR_ERR_NOMEM, "out of memory keeping the CA certificate");
	}
	kr_buf_release(&body);
	return KR_OK;
}

unsigned long kr_client_connections(const struct kr_client *c)
{
	return c->connections;
}

void kr_client_free(struct kr_client *c)
{
	if (!c)
		return;
	if (c->h)
		curl_easy_cleanup(c->h);
	free(c);
}
