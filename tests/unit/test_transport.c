/* test_transport.c: certificates, the TLS listener and HTTP server, and the agent's HTTPS client, end to end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kiroku/client.h"
#include "kiroku/httpd.h"
#include "kiroku/tls.h"

#define MAX_BODY   ((size_t)3 << 20)
#define REQUEST_MS 3000
#define PATH_LEN   512

/* Everything the tests share: a temporary directory with two CAs and their certificates, and a running server. */
static struct fixture {
	char dir[PATH_LEN];
	char ca1[PATH_LEN], ca1_crt[PATH_LEN], ca2[PATH_LEN];
	char srv_crt[PATH_LEN], srv_key[PATH_LEN];
	char a_crt[PATH_LEN], a_key[PATH_LEN];     /* node-a of facility f1, CA 1 */
	char x_crt[PATH_LEN], x_key[PATH_LEN];     /* node-x, CA 2 */
	char old_crt[PATH_LEN], old_key[PATH_LEN]; /* node-old, CA 1, expired */
	char url[128];
	struct kr_httpd *srv;
	struct kr_tls_client *raw; /* node-a's raw TLS client */
	unsigned short port;
	atomic_int handler_calls;
} F;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Where needle (n bytes) first occurs in hay, or NULL (memmem is a GNU extension). */
static void *find_bytes(const void *hay, size_t len, const char *needle, size_t n)
{
	const uint8_t *h = hay;
	for (size_t i = 0; h && i + n <= len; i++)
		if (memcmp(h + i, needle, n) == 0)
			return (void *)(h + i);
	return NULL;
}

static void path(char *out, const char *name)
{
	int n = snprintf(out, PATH_LEN, "%s/%s", F.dir, name);
	assert_true(n > 0 && n < PATH_LEN);
}

/* Echoes the peer's identity, the request line and the body. */
static void echo_handler(void *ctx, const struct kr_http_request *req, struct kr_http_response *resp)
{
	struct fixture *f = ctx;

	atomic_fetch_add(&f->handler_calls, 1);
	resp->status = 200;
	snprintf(resp->content_type, sizeof resp->content_type, "application/octet-stream");
	kr_http_response_header(resp, "X-Test", "yes");
	kr_buf_printf(&resp->body, "node=%s facility=%s method=%s path=%s query=%s type=%s len=%zu\n", req->peer_node,
	              req->peer_facility, req->method, req->path, req->query, req->content_type, req->body_len);
	kr_buf_append(&resp->body, req->body, req->body_len);
}

static void issue(const char *ca, const char *key, const char *crt, const char *node, const char *facility, int days)
{
	struct kr_cert_request req = {.node_id = node, .facility_id = facility, .days_valid = days};
	struct kr_error err = {0};
	kr_status st = kr_cert_issue(ca, key, crt, &req, &err);
	if (st)
		fail_msg("issuing %s: %s", node, err.msg);
}

static int group_setup(void **state)
{
	static const char *const dns[] = {"localhost"};
	static const char *const ips[] = {"127.0.0.1"};
	struct kr_cert_request sreq = {.node_id = "hub",
	                               .is_server = true,
	                               .dns_names = dns,
	                               .n_dns_names = 1,
	                               .ipv4_addrs = ips,
	                               .n_ipv4_addrs = 1,
	                               .days_valid = 30};
	struct kr_httpd_config cfg = {0};
	struct kr_error err = {0};
	(void)state;

	snprintf(F.dir, sizeof F.dir, "/tmp/kiroku-transport-XXXXXX");
	if (!mkdtemp(F.dir))
		return -1;
	path(F.ca1, "ca1");
	path(F.ca2, "ca2");
	path(F.ca1_crt, "ca1/ca.crt");
	path(F.srv_crt, "server.crt");
	path(F.srv_key, "server.key");
	path(F.a_crt, "a.crt");
	path(F.a_key, "a.key");
	path(F.x_crt, "x.crt");
	path(F.x_key, "x.key");
	path(F.old_crt, "old.crt");
	path(F.old_key, "old.key");
	if (kr_ca_init(F.ca1, "kiroku test CA", &err) || kr_ca_init(F.ca2, "another CA", &err) ||
	    kr_cert_issue(F.ca1, F.srv_key, F.srv_crt, &sreq, &err)) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	issue(F.ca1, F.a_key, F.a_crt, "node-a", "f1", 30);
	issue(F.ca2, F.x_key, F.x_crt, "node-x", "f1", 30);
	issue(F.ca1, F.old_key, F.old_crt, "node-old", "f1", -2);

	cfg.host = "127.0.0.1";
	cfg.ca_crt = F.ca1_crt;
	cfg.crt = F.srv_crt;
	cfg.key = F.srv_key;
	cfg.workers = 4;
	cfg.queue_len = 8;
	cfg.handshake_timeout_ms = REQUEST_MS;
	cfg.request_timeout_ms = REQUEST_MS;
	cfg.max_body = MAX_BODY;
	cfg.max_response = MAX_BODY + 4096;
	cfg.handler = echo_handler;
	cfg.handler_ctx = &F;
	if (kr_httpd_start(&cfg, &F.srv, &err)) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	F.port = kr_httpd_port(F.srv);
	snprintf(F.url, sizeof F.url, "https://127.0.0.1:%u", F.port);
	if (kr_tls_client_new(F.ca1_crt, F.a_crt, F.a_key, &F.raw, &err)) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[PATH_LEN + 32];
	(void)state;

	kr_httpd_free(F.srv);
	kr_tls_client_free(F.raw);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", F.dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct kr_client *client_for(const char *crt, const char *key)
{
	struct kr_client_config cfg = {.base_url = F.url,
	                               .ca_file = F.ca1_crt,
	                               .cert_file = crt,
	                               .key_file = key,
	                               .connect_timeout_ms = 5000,
	                               .timeout_ms = 10000};
	struct kr_client *c = NULL;
	struct kr_error err = {0};

	if (kr_client_new(&cfg, &c, &err))
		fail_msg("kr_client_new: %s", err.msg);
	return c;
}

static struct kr_tls_conn *raw_connect(void)
{
	struct kr_tls_conn *c = NULL;
	struct kr_error err = {0};

	if (kr_tls_client_connect(F.raw, "127.0.0.1", F.port, 5000, &c, &err))
		fail_msg("raw connect: %s", err.msg);
	return c;
}

static void raw_send(struct kr_tls_conn *c, const char *text)
{
	struct kr_error err = {0};
	if (kr_tls_conn_write_all(c, text, strlen(text), &err))
		fail_msg("raw send: %s", err.msg);
}

/* Reads until the peer closes (or timeout_ms pass); buf is NUL-terminated. */
static size_t read_to_close(struct kr_tls_conn *c, char *buf, size_t cap, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	size_t len = 0;

	while (len + 1 < cap) {
		int64_t left = deadline - now_ms();
		ssize_t n;
		if (left <= 0)
			break;
		n = kr_tls_conn_read(c, buf + len, cap - 1 - len, (int)left, NULL);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = 0;
	return len;
}

/* The server counts a failed handshake after the client has seen it fail: wait for the counter. */
static unsigned long long wait_failed_handshakes(unsigned long long want)
{
	struct kr_httpd_stats st;
	int64_t deadline = now_ms() + 2000;

	do {
		kr_httpd_stats(F.srv, &st);
		if (st.handshakes_failed >= want)
			break;
		usleep(10000);
	} while (now_ms() < deadline);
	return st.handshakes_failed;
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* Runs a command, returns its exit status and (part of) its output. */
static int run(const char *cmd, char *out, size_t cap)
{
	FILE *p = popen(cmd, "r");
	size_t len = 0, n;
	int status;

	assert_non_null(p);
	while (len + 1 < cap && (n = fread(out + len, 1, cap - 1 - len, p)) > 0)
		len += n;
	out[len] = 0;
	{
		char sink[4096];
		while (fread(sink, 1, sizeof sink, p) > 0)
			;
	}
	status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- certificates ---- */

static void test_certificates(void **state)
{
	struct kr_cert_info info;
	struct kr_error err = {0};
	char fp[KR_FINGERPRINT_HEX_LEN + 1], out[8192], cmd[1024], want[200];
	struct stat st;
	(void)state;

	/* Keys are private to their owner. */
	assert_int_equal(stat(F.a_key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	path(cmd, "ca1/ca.key");
	assert_int_equal(stat(cmd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* The subject names the node and its facility; the serial is 16 bytes. */
	assert_int_equal(kr_cert_info_file(F.a_crt, &info, &err), KR_OK);
	assert_string_equal(info.cn, "node-a");
	assert_string_equal(info.ou, "f1");
	assert_int_equal(strlen(info.serial), 32);
	assert_false(info.is_ca);
	assert_true(info.not_after > (int64_t)time(NULL) + 29 * 86400);
	assert_int_equal(kr_cert_info_file(F.old_crt, &info, &err), KR_OK);
	assert_true(info.not_after < (int64_t)time(NULL) - 86400);
	assert_int_equal(kr_cert_info_file(F.ca1_crt, &info, &err), KR_OK);
	assert_true(info.is_ca);
	assert_string_equal(info.cn, "kiroku test CA");

	/* OpenSSL agrees on the chain, the extensions and the fingerprint. */
	snprintf(cmd, sizeof cmd, "openssl verify -CAfile '%s' '%s' '%s' 2>&1", F.ca1_crt, F.srv_crt, F.a_crt);
	assert_int_equal(run(cmd, out, sizeof out), 0);
	snprintf(cmd, sizeof cmd, "openssl x509 -noout -text -in '%s'", F.srv_crt);
	assert_int_equal(run(cmd, out, sizeof out), 0);
	assert_non_null(strstr(out, "DNS:localhost, IP Address:127.0.0.1"));
	assert_non_null(strstr(out, "TLS Web Server Authentication"));
	assert_non_null(strstr(out, "ecdsa-with-SHA256"));
	assert_non_null(strstr(out, "CA:FALSE"));
	snprintf(cmd, sizeof cmd, "openssl x509 -noout -subject -ext extendedKeyUsage -in '%s'", F.a_crt);
	assert_int_equal(run(cmd, out, sizeof out), 0);
	assert_non_null(strstr(out, "subject=CN = node-a, O = kiroku, OU = f1"));
	assert_non_null(strstr(out, "TLS Web Client Authentication"));
	snprintf(cmd, sizeof cmd, "openssl x509 -noout -text -in '%s'", F.ca1_crt);
	assert_int_equal(run(cmd, out, sizeof out), 0);
	assert_non_null(strstr(out, "CA:TRUE, pathlen:0"));
	assert_non_null(strstr(out, "Certificate Sign, CRL Sign"));

	assert_int_equal(kr_cert_fingerprint(F.a_crt, fp, &err), KR_OK);
	snprintf(cmd, sizeof cmd, "openssl x509 -noout -fingerprint -sha256 -in '%s' | tr -d ':' | tr A-F a-f",
	         F.a_crt);
	assert_int_equal(run(cmd, out, sizeof out), 0);
	snprintf(want, sizeof want, "sha256 fingerprint=%s", fp);
	assert_non_null(strstr(out, want));

	/* An existing CA is never overwritten; bad names are refused. */
	assert_int_equal(kr_ca_init(F.ca1, "again", &err), KR_ERR_CONFLICT);
	assert_int_equal(kr_ca_init(F.ca1, "bad,name", &err), KR_ERR_INVALID);
	{
		struct kr_cert_request bad = {.node_id = "Node A", .facility_id = "f1", .days_valid = 1};
		path(cmd, "bad.crt");
		path(out, "bad.key");
		assert_int_equal(kr_cert_issue(F.ca1, out, cmd, &bad, &err), KR_ERR_INVALID);
		assert_int_not_equal(access(cmd, F_OK), 0);
		bad.node_id = "node-b";
		bad.facility_id = NULL; /* a client certificate must name its facility */
		assert_int_equal(kr_cert_issue(F.ca1, out, cmd, &bad, &err), KR_ERR_INVALID);
		bad.facility_id = "f1";
		bad.not_before = (int64_t)time(NULL) - 10 * 86400; /* explicit window */
		bad.not_after = (int64_t)time(NULL) - 9 * 86400;
		assert_int_equal(kr_cert_issue(F.ca1, out, cmd, &bad, &err), KR_OK);
		assert_int_equal(kr_cert_info_file(cmd, &info, &err), KR_OK);
		assert_int_equal(info.not_after, bad.not_after);
	}
}

static void test_csr_enrolment(void **state)
{
	struct kr_cert_request req = {.node_id = "node-e", .facility_id = "f2", .days_valid = 30};
	struct kr_buf csr, crt, resp;
	struct kr_error err = {0};
	struct kr_cert_info info;
	struct kr_client *c;
	char key[PATH_LEN], crt_path[PATH_LEN];
	long status = 0;
	FILE *f;
	(void)state;

	kr_buf_init(&csr, 16384);
	kr_buf_init(&crt, 16384);
	kr_buf_init(&resp, 65536);
	path(key, "e.key");
	path(crt_path, "e.crt");
	assert_int_equal(kr_csr_make(key, "node-e", NULL, &csr, &err), KR_OK);
	assert_non_null(find_bytes(csr.data, csr.len, "BEGIN CERTIFICATE REQUEST", 25));
	/* The hub decides the facility (f2), whatever the CSR says. */
	assert_int_equal(kr_cert_issue_from_csr(F.ca1, csr.data, csr.len, &req, &crt, &err), KR_OK);
	assert_int_equal(kr_cert_info_mem(crt.data, crt.len, &info, &err), KR_OK);
	assert_string_equal(info.cn, "node-e");
	assert_string_equal(info.ou, "f2");
	f = fopen(crt_path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(crt.data, 1, crt.len, f), crt.len);
	fclose(f);
	c = client_for(crt_path, key);
	assert_int_equal(kr_client_post(c, "/enrolled", "text/plain", "x", 1, 65536, &status, &resp, &err), KR_OK);
	assert_int_equal(status, 200);
	assert_non_null(find_bytes(resp.data, resp.len, "node=node-e facility=f2", 23));
	kr_client_free(c);

	/* A CSR whose signature does not verify is refused; so is garbage. */
	{
		struct kr_buf tampered;
		char *p;
		kr_buf_init(&tampered, 16384);
		/* Flip a character inside the base64 near the end (the signature). */
		assert_int_equal(kr_buf_append(&tampered, csr.data, csr.len), KR_OK);
		p = find_bytes(tampered.data, tampered.len, "-----END", 8);
		assert_non_null(p);
		p -= 10;
		*p = *p == 'A' ? 'B' : 'A';
		crt.len = 0;
		kr_status st = kr_cert_issue_from_csr(F.ca1, tampered.data, tampered.len, &req, &crt, &err);
		assert_true(st == KR_ERR_INVALID || st == KR_ERR_MALFORMED);
		assert_int_equal(crt.len, 0);
		assert_int_equal(kr_cert_issue_from_csr(F.ca1, "hello", 5, &req, &crt, &err), KR_ERR_MALFORMED);
		kr_buf_release(&tampered);
	}
	kr_buf_release(&csr);
	kr_buf_release(&crt);
	kr_buf_release(&resp);
}

/* ---- the server through the agent's client ---- */

static void test_post_round_trip(void **state)
{
	struct kr_client *c = client_for(F.a_crt, F.a_key);
	struct kr_buf resp;
	struct kr_error err = {0};
	long status = 0;
	static const char expect[] =
	    "node=node-a facility=f1 method=POST path=/v1/sync query=x=1 type=application/cbor len=5\nhello";
	(void)state;

	kr_buf_init(&resp, 0);
	assert_int_equal(kr_client_post(c, "/v1/sync?x=1", "application/cbor", "hello", 5, 65536, &status, &resp, &err),
	                 KR_OK);
	assert_int_equal(status, 200);
	assert_int_equal(resp.len, sizeof expect - 1);
	assert_memory_equal(resp.data, expect, sizeof expect - 1);

	/* GET, and an empty POST body. */
	assert_int_equal(kr_client_get(c, "/v1/health", 65536, &status, &resp, &err), KR_OK);
	assert_int_equal(status, 200);
	assert_non_null(find_bytes(resp.data, resp.len, "method=GET path=/v1/health", 26));
	assert_int_equal(kr_client_post(c, "/empty", "application/cbor", NULL, 0, 65536, &status, &resp, &err), KR_OK);
	assert_int_equal(status, 200);
	assert_non_null(find_bytes(resp.data, resp.len, "len=0", 5));

	/* The response cap holds. */
	assert_int_equal(kr_client_post(c, "/v1/sync", "application/cbor", "hello", 5, 10, &status, &resp, &err),
	                 KR_ERR_TOO_BIG);
	kr_buf_release(&resp);
	kr_client_free(c);
}

static void test_connection_reused(void **state)
{
	struct kr_client *c = client_for(F.a_crt, F.a_key);
	struct kr_httpd_stats before, after;
	struct kr_buf resp;
	struct kr_error err = {0};
	long status = 0;
	(void)state;

	kr_buf_init(&resp, 0);
	kr_httpd_stats(F.srv, &before);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(
		    kr_client_post(c, "/v1/sync", "application/cbor", "abc", 3, 65536, &status, &resp, &err), KR_OK);
		assert_int_equal(status, 200);
	}
	kr_httpd_stats(F.srv, &after);
	assert_int_equal(kr_client_connections(c), 1);
	assert_int_equal(after.accepted - before.accepted, 1);
	assert_int_equal(after.established - before.established, 1);
	assert_int_equal(after.requests - before.requests, 5);
	kr_buf_release(&resp);
	kr_client_free(c);
}

static void test_body_too_big(void **state)
{
	struct kr_client *c = client_for(F.a_crt, F.a_key);
	size_t len = MAX_BODY + 1;
	uint8_t *body = calloc(1, len);
	struct kr_buf resp;
	struct kr_error err = {0};
	long status = 0;
	int calls = atomic_load(&F.handler_calls);
	(void)state;

	assert_non_null(body);
	kr_buf_init(&resp, 0);
	assert_int_equal(kr_client_post(c, "/v1/sync", "application/cbor", body, len, 65536, &status, &resp, &err),
	                 KR_OK);
	assert_int_equal(status, 413);
	assert_non_null(find_bytes(resp.data, resp.len, "larger than", 11));
	assert_int_equal(atomic_load(&F.handler_calls), calls);
	/* The client recovers on a new connection. */
	assert_int_equal(kr_client_post(c, "/v1/sync", "application/cbor", "ok", 2, 65536, &status, &resp, &err),
	                 KR_OK);
	assert_int_equal(status, 200);
	free(body);
	kr_buf_release(&resp);
	kr_client_free(c);
}

static void test_refused_at_handshake(void **state)
{
	const char *certs[3][2] = {{F.x_crt, F.x_key}, {F.old_crt, F.old_key}, {NULL, NULL}};
	const char *names[3] = {"other CA", "expired", "no certificate"};
	struct kr_httpd_stats before, after;
	int calls = atomic_load(&F.handler_calls);
	(void)state;

	kr_httpd_stats(F.srv, &before);
	for (int i = 0; i < 3; i++) {
		struct kr_client *c = client_for(certs[i][0], certs[i][1]);
		struct kr_buf resp;
		struct kr_error err = {0};
		long status = -1;
		kr_status st;

		kr_buf_init(&resp, 0);
		st = kr_client_post(c, "/v1/sync", "application/cbor", "hello", 5, 65536, &status, &resp, &err);
		printf("  %s: %s: %s\n", names[i], kr_status_name(st), err.msg);
		assert_true(st == KR_ERR_TLS || st == KR_ERR_NETWORK);
		assert_int_equal(status, 0);
		assert_non_null(strstr(err.msg, "curl "));
		if (i == 1) /* the hub's "expired" alert, not a problem with the hub's certificate */
			assert_non_null(strstr(err.msg, "refused this node's certificate"));
		if (i == 2) /* told, not just dropped */
			assert_non_null(strstr(err.msg, "alert handshake failure"));
		kr_buf_release(&resp);
		kr_client_free(c);
	}
	assert_int_equal(wait_failed_handshakes(before.handshakes_failed + 3) - before.handshakes_failed, 3);
	kr_httpd_stats(F.srv, &after);
	assert_int_equal(atomic_load(&F.handler_calls), calls);
	assert_int_equal(after.established - before.established, 0);

	/* The raw client sees the mbedTLS side of the same refusal. */
	{
		struct kr_tls_client *cli;
		struct kr_tls_conn *conn = NULL;
		struct kr_error err = {0};
		char buf[256];
		assert_int_equal(kr_tls_client_new(F.ca1_crt, NULL, NULL, &cli, &err), KR_OK);
		kr_status st = kr_tls_client_connect(cli, "127.0.0.1", F.port, 5000, &conn, &err);
		if (st == KR_OK) { /* TLS 1.2: the server's refusal may arrive only after the client's Finished */
			raw_send(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
			assert_int_equal(read_to_close(conn, buf, sizeof buf, 2000), 0);
			kr_tls_conn_close(conn);
		}
		printf("  raw client without a certificate: %s\n", st ? err.msg : "closed");
		kr_tls_client_free(cli);
		/* A client that trusts another CA refuses the hub. */
		path(buf, "ca2/ca.crt");
		assert_int_equal(kr_tls_client_new(buf, F.x_crt, F.x_key, &cli, &err), KR_OK);
		assert_int_equal(kr_tls_client_connect(cli, "127.0.0.1", F.port, 5000, &conn, &err), KR_ERR_TLS);
		printf("  client trusting another CA: %s\n", err.msg);
		assert_non_null(strstr(err.msg, "mbedTLS -0x2700"));
		kr_tls_client_free(cli);
	}
}

/* A server certificate that does not name the address the client used is refused by both clients. */
static void test_server_name_checked(void **state)
{
	static const char *const dns[] = {"localhost"};
	struct kr_cert_request req = {
	    .node_id = "hub2", .is_server = true, .dns_names = dns, .n_dns_names = 1, .days_valid = 30};
	struct kr_httpd_config cfg = {.workers = 1, .handler = echo_handler, .handler_ctx = &F};
	char crt[PATH_LEN], key[PATH_LEN], url[64];
	struct kr_client_config ccfg = {.ca_file = F.ca1_crt, .cert_file = F.a_crt, .key_file = F.a_key};
	struct kr_httpd *srv;
	struct kr_tls_conn *conn = NULL;
	struct kr_client *c;
	struct kr_buf resp;
	struct kr_error err = {0};
	long status;
	(void)state;

	path(crt, "dnsonly.crt");
	path(key, "dnsonly.key");
	assert_int_equal(kr_cert_issue(F.ca1, key, crt, &req, &err), KR_OK);
	cfg.ca_crt = F.ca1_crt;
	cfg.crt = crt;
	cfg.key = key;
	assert_int_equal(kr_httpd_start(&cfg, &srv, &err), KR_OK);
	assert_int_equal(kr_tls_client_connect(F.raw, "127.0.0.1", kr_httpd_port(srv), 3000, &conn, &err), KR_ERR_TLS);
	assert_non_null(strstr(err.msg, "does not name IP address 127.0.0.1"));
	/* By name it is fine. */
	assert_int_equal(kr_tls_client_connect(F.raw, "localhost", kr_httpd_port(srv), 3000, &conn, &err), KR_OK);
	kr_tls_conn_close(conn);
	snprintf(url, sizeof url, "https://127.0.0.1:%u", kr_httpd_port(srv));
	ccfg.base_url = url;
	kr_buf_init(&resp, 0);
	assert_int_equal(kr_client_new(&ccfg, &c, &err), KR_OK);
	assert_int_equal(kr_client_get(c, "/", 1024, &status, &resp, &err), KR_ERR_TLS);
	printf("  %s\n", err.msg);
	assert_non_null(strstr(err.msg, "curl 60 "));
	kr_client_free(c);
	kr_buf_release(&resp);
	kr_httpd_free(srv);
}

static void test_large_body_fast(void **state)
{
	struct kr_client *c = client_for(F.a_crt, F.a_key);
	size_t len = (size_t)2 << 20;
	uint8_t *body = malloc(len);
	struct kr_buf resp;
	struct kr_error err = {0};
	long status = 0;
	int64_t t0, t1, t2;
	(void)state;

	assert_non_null(body);
	for (size_t i = 0; i < len; i++)
		body[i] = (uint8_t)(i * 31 + 7);
	kr_buf_init(&resp, 0);
	t0 = now_ms();
	assert_int_equal(kr_client_post(c, "/warm", "text/plain", "x", 1, 65536, &status, &resp, &err), KR_OK);
	t1 = now_ms();
	assert_int_equal(kr_client_post(c, "/v1/sync", "application/cbor", body, len, len + 4096, &status, &resp, &err),
	                 KR_OK);
	t2 = now_ms();
	assert_int_equal(status, 200);
	assert_true(resp.len > len);
	assert_memory_equal(resp.data + resp.len - len, body, len);
	printf("  first request (with handshake): %lld ms; 2 MiB POST echoed: %lld ms\n", (long long)(t1 - t0),
	       (long long)(t2 - t1));
	assert_true(t2 - t1 < 500);
	free(body);
	kr_buf_release(&resp);
	kr_client_free(c);
}

static void test_handshake_time(void **state)
{
	const int rounds = 20;
	int64_t t0 = now_ms();
	(void)state;

	for (int i = 0; i < rounds; i++)
		kr_tls_conn_close(raw_connect());
	printf("  mbedTLS handshake (client and server in this process): %.1f ms on average\n",
	       (double)(now_ms() - t0) / rounds);
}

/* ---- HTTP edge cases with the raw TLS client ---- */

static void test_garbage_gets_400(void **state)
{
	struct kr_tls_conn *c = raw_connect();
	char buf[4096];
	int calls = atomic_load(&F.handler_calls);
	(void)state;

	raw_send(c, "HELLO \x01\x02\x03 WORLD\r\n\r\n");
	read_to_close(c, buf, sizeof buf, 3000);
	assert_non_null(strstr(buf, "HTTP/1.1 400 Bad Request\r\n"));
	assert_non_null(strstr(buf, "malformed request"));
	assert_non_null(strstr(buf, "Connection: close\r\n"));
	kr_tls_conn_close(c);
	assert_int_equal(atomic_load(&F.handler_calls), calls);
}

static void test_pipelined_and_split(void **state)
{
	struct kr_tls_conn *c = raw_connect();
	char buf[8192];
	(void)state;

	/* Two requests in one write; the second closes. */
	raw_send(c, "GET /one HTTP/1.1\r\nHost: x\r\n\r\nPOST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
	            "Connection: close\r\n\r\nabc");
	read_to_close(c, buf, sizeof buf, 3000);
	assert_int_equal(count_of(buf, "HTTP/1.1 200 OK\r\n"), 2);
	assert_non_null(strstr(buf, "path=/one"));
	assert_non_null(strstr(buf, "path=/two"));
	assert_true(strstr(buf, "path=/one") < strstr(buf, "path=/two"));
	assert_non_null(strstr(buf, "X-Test: yes\r\n"));
	kr_tls_conn_close(c);

	/* A request in small pieces: names, values and the URL arrive split. */
	c = raw_connect();
	{
		static const char *const parts[] = {"PO",
		                                    "ST /sp",
		                                    "lit?q",
		                                    "=1 HTTP/1.1\r\nHo",
		                                    "st: x\r\nCont",
		                                    "ent-Ty",
		                                    "pe: text/",
		                                    "plain\r\nContent-Length: 4\r\nConnection: cl",
		                                    "ose\r\n\r\nab",
		                                    "cd"};
		for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
			raw_send(c, parts[i]);
			usleep(2000);
		}
	}
	read_to_close(c, buf, sizeof buf, 3000);
	assert_non_null(strstr(buf, "path=/split query=q=1 type=text/plain len=4\nabcd"));
	kr_tls_conn_close(c);
}

static void test_expect_continue(void **state)
{
	struct kr_tls_conn *c = raw_connect();
	char buf[4096];
	ssize_t n;
	int calls;
	(void)state;

	raw_send(c, "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
	n = kr_tls_conn_read(c, buf, sizeof buf - 1, 3000, NULL);
	assert_true(n > 0);
	buf[n] = 0;
	assert_string_equal(buf, "HTTP/1.1 100 Continue\r\n\r\n");
	raw_send(c, "hello");
	n = kr_tls_conn_read(c, buf, sizeof buf - 1, 3000, NULL);
	assert_true(n > 0);
	buf[n] = 0;
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(buf, "len=5\nhello"));
	kr_tls_conn_close(c);

	/* Too large: 413 at once, no 100, and no body is read; counted (and logged) by the server. */
	struct kr_httpd_stats st0, st1;
	kr_httpd_stats(F.srv, &st0);
	calls = atomic_load(&F.handler_calls);
	c = raw_connect();
	raw_send(c, "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\nExpect: 100-continue\r\n\r\n");
	read_to_close(c, buf, sizeof buf, 3000);
	assert_true(strncmp(buf, "HTTP/1.1 413 Payload Too Large\r\n", 32) == 0);
	kr_tls_conn_close(c);
	assert_int_equal(atomic_load(&F.handler_calls), calls);
	kr_httpd_stats(F.srv, &st1);
	assert_int_equal(st1.refused_too_big, st0.refused_too_big + 1);
}

/* The server certificate of new connections, as the client sees it. */
static void server_serial(char out[KR_SERIAL_HEX_MAX + 1])
{
	struct kr_tls_conn *c = raw_connect();
	struct kr_cert_info info;
	struct kr_error err = {0};

	if (kr_tls_conn_peer(c, &info, &err))
		fail_msg("the server's certificate: %s", err.msg);
	snprintf(out, KR_SERIAL_HEX_MAX + 1, "%s", info.serial);
	kr_tls_conn_close(c);
}

/* SIGHUP's work: a reload gives new connections the new certificate while a connection set up before goes on
 * with the old configuration (freed only when it closes: the sanitizer build checks that); bad files (a key that
 * does not match, a key others may read, a missing file) change nothing. */
static void test_tls_reload(void **state)
{
	static const char *const dns[] = {"localhost"};
	static const char *const ips[] = {"127.0.0.1"};
	struct kr_cert_request sreq = {.node_id = "hub", .is_server = true, .dns_names = dns, .n_dns_names = 1,
	                               .ipv4_addrs = ips, .n_ipv4_addrs = 1, .days_valid = 60};
	char crt2[PATH_LEN], key2[PATH_LEN], before[KR_SERIAL_HEX_MAX + 1], after[KR_SERIAL_HEX_MAX + 1];
	char buf[4096];
	struct kr_cert_info info, want;
	struct kr_error err = {0};
	struct kr_tls_conn *old;
	(void)state;

	path(crt2, "server2.crt");
	path(key2, "server2.key");
	assert_int_equal(kr_cert_issue(F.ca1, key2, crt2, &sreq, &err), KR_OK);
	assert_int_equal(kr_cert_info_file(crt2, &want, &err), KR_OK);
	server_serial(before);
	assert_string_not_equal(before, want.serial);
	old = raw_connect(); /* set up with the first configuration */

	assert_int_equal(kr_httpd_reload_tls(F.srv, F.ca1_crt, crt2, key2, &info, &err), KR_OK);
	assert_string_equal(info.serial, want.serial);
	assert_int_equal(info.not_after, want.not_after);
	server_serial(after);
	assert_string_equal(after, want.serial);

	/* The old connection still works, and closes cleanly (its configuration is freed then). */
	raw_send(old, "GET /old HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	read_to_close(old, buf, sizeof buf, 3000);
	assert_true(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	kr_tls_conn_close(old);

	/* A key of another certificate. */
	assert_int_equal(kr_httpd_reload_tls(F.srv, F.ca1_crt, crt2, F.srv_key, &info, &err), KR_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "does not belong to the certificate"));
	/* A key others may read. */
	assert_int_equal(chmod(key2, 0644), 0);
	assert_int_equal(kr_httpd_reload_tls(F.srv, F.ca1_crt, crt2, key2, &info, &err), KR_ERR_CONFIG);
	assert_int_equal(chmod(key2, 0600), 0);
	/* A missing certificate. */
	assert_int_not_equal(kr_httpd_reload_tls(F.srv, F.ca1_crt, "/nonexistent.crt", key2, &info, &err), KR_OK);
	server_serial(after);
	assert_string_equal(after, want.serial);

	/* Back to the first certificate for the tests that follow. */
	assert_int_equal(kr_httpd_reload_tls(F.srv, F.ca1_crt, F.srv_crt, F.srv_key, NULL, &err), KR_OK);
	server_serial(after);
	assert_string_equal(after, before);
}

static void expect_refusal(const char *request, const char *status_line)
{
	struct kr_tls_conn *c = raw_connect();
	char buf[4096];

	raw_send(c, request);
	read_to_close(c, buf, sizeof buf, 3000);
	if (strncmp(buf, status_line, strlen(status_line)) != 0)
		fail_msg("expected %s, got: %.200s", status_line, buf);
	kr_tls_conn_close(c);
}

static void test_refusals(void **state)
{
	char *big = malloc(40000);
	int calls = atomic_load(&F.handler_calls);
	(void)state;

	expect_refusal("POST /x HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 411 ");
	expect_refusal("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	               "HTTP/1.1 411 ");
	expect_refusal("CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 501 ");
	expect_refusal("PATCH /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 501 ");
	expect_refusal("GET /x HTTP/1.1\r\nHost: x\r\nExpect: something\r\n\r\n", "HTTP/1.1 417 ");
	expect_refusal("GET * HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400 ");
	size_t n;

	assert_non_null(big);
	/* A URL over max_url (2048). */
	memcpy(big, "GET /", 5);
	memset(big + 5, 'a', 3000);
	snprintf(big + 3005, 100, " HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_refusal(big, "HTTP/1.1 414 ");
	/* A head over max_header_bytes (16 KiB). */
	n = (size_t)snprintf(big, 100, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(big + n, 'b', 20000);
	memcpy(big + n + 20000, "\r\n\r\n", 5);
	expect_refusal(big, "HTTP/1.1 431 ");
	/* More than 64 header fields. */
	big[0] = 0;
	for (int i = 0; i < 70; i++)
		snprintf(big + strlen(big), 40000 - strlen(big), "%sX-H%d: v\r\n", i ? "" : "GET / HTTP/1.1\r\n", i);
	snprintf(big + strlen(big), 40000 - strlen(big), "\r\n");
	expect_refusal(big, "HTTP/1.1 431 ");
	free(big);
	assert_int_equal(atomic_load(&F.handler_calls), calls);
}

struct slow_result {
	int64_t elapsed_ms;
	char answer[512];
};

/* Sends a request one byte a second until the server answers or closes. */
static void *slow_client(void *arg)
{
	struct slow_result *r = arg;
	static const char req[] = "GET /slow HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaa\r\n\r\n";
	struct kr_tls_conn *c = raw_connect();
	int64_t t0 = now_ms();

	for (size_t i = 0; i < sizeof req - 1; i++) {
		if (kr_tls_conn_write_all(c, req + i, 1, NULL) != KR_OK)
			break;
		if (kr_tls_conn_wait(c, 1000) != 0)
			break;
	}
	read_to_close(c, r->answer, sizeof r->answer, 3000);
	r->elapsed_ms = now_ms() - t0;
	kr_tls_conn_close(c);
	return NULL;
}

static void test_slow_client_cut_off(void **state)
{
	struct slow_result r = {0};
	struct kr_httpd_stats before, after;
	struct kr_client *c = client_for(F.a_crt, F.a_key);
	struct kr_buf resp;
	struct kr_error err = {0};
	long status = 0;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	pthread_t t;
	int64_t t0;
	char byte;
	int silent;
	(void)state;

	kr_buf_init(&resp, 0);
	kr_httpd_stats(F.srv, &before);
	/* One client that never starts the handshake, one that sends its request a byte a second. */
	silent = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_port = htons(F.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(silent, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(pthread_create(&t, NULL, slow_client, &r), 0);
	usleep(500000);
	/* Meanwhile another client is served at once. */
	t0 = now_ms();
	assert_int_equal(kr_client_post(c, "/v1/sync", "application/cbor", "fast", 4, 65536, &status, &resp, &err),
	                 KR_OK);
	assert_int_equal(status, 200);
	assert_true(now_ms() - t0 < 1000);
	pthread_join(t, NULL);
	kr_httpd_stats(F.srv, &after);
	printf("  slow client cut off after %lld ms: %.40s\n", (long long)r.elapsed_ms, r.answer);
	assert_true(strncmp(r.answer, "HTTP/1.1 408 ", 13) == 0);
	assert_true(r.elapsed_ms >= REQUEST_MS - 200 && r.elapsed_ms < REQUEST_MS + 2000);
	/* The silent one was dropped at the handshake deadline (same length as the request deadline here). */
	assert_int_equal(read(silent, &byte, 1), 0);
	close(silent);
	kr_httpd_stats(F.srv, &after);
	assert_true(after.timeouts - before.timeouts >= 2);
	kr_buf_release(&resp);
	kr_client_free(c);
}

static void test_old_tls_refused(void **state)
{
	char cmd[1024], out[16384];
	struct kr_httpd_stats before, after;
	const char *versions[] = {"-tls1", "-tls1_1"};
	(void)state;

	for (int i = 0; i < 2; i++) {
		kr_httpd_stats(F.srv, &before);
		snprintf(cmd, sizeof cmd,
		         "openssl s_client -connect 127.0.0.1:%u %s -cipher 'DEFAULT@SECLEVEL=0' -cert '%s' -key '%s' "
		         "-CAfile '%s' </dev/null 2>&1",
		         F.port, versions[i], F.a_crt, F.a_key, F.ca1_crt);
		assert_int_not_equal(run(cmd, out, sizeof out), 0);
		wait_failed_handshakes(before.handshakes_failed + 1);
		kr_httpd_stats(F.srv, &after);
		/* The hub refused (its alert, its counter), not OpenSSL on its own side. */
		if (!strstr(out, "alert protocol version"))
			fail_msg("%s: no protocol_version alert from the hub:\n%s", versions[i], out);
		assert_int_equal(after.handshakes_failed - before.handshakes_failed, 1);
	}
	/* The same command with TLS 1.2 gets an answer: the refusal above was about the version. */
	snprintf(cmd, sizeof cmd,
	         "printf 'GET /openssl HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' | openssl s_client "
	         "-quiet -ign_eof -connect 127.0.0.1:%u -tls1_2 -cert '%s' -key '%s' -CAfile '%s' 2>&1",
	         F.port, F.a_crt, F.a_key, F.ca1_crt);
	run(cmd, out, sizeof out);
	assert_non_null(strstr(out, "HTTP/1.1 200 OK"));
	assert_non_null(strstr(out, "node=node-a facility=f1"));
}

/* A plain TCP connection to the loopback port. */
static int tcp_connect(unsigned short port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	return fd;
}

/* Whether the server closes fd (end of stream or reset) within timeout_ms, without sending anything. */
static bool closed_within(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c;

	return poll(&p, 1, timeout_ms) == 1 && recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

/* A TLS server turns away a connection it has no room for, or that waited queue_wait_ms for a worker, without
 * spending a handshake on it (a 503 would cost one, as much CPU as serving); the agent's client reports a busy
 * hub, not a refused certificate. A plain listener answers 503 instead. */
static void test_busy_turned_away(void **state)
{
	struct kr_httpd_config cfg = {0};
	struct kr_client_config ccfg = {.ca_file = F.ca1_crt,
	                                .cert_file = F.a_crt,
	                                .key_file = F.a_key,
	                                .connect_timeout_ms = 5000,
	                                .timeout_ms = 10000};
	struct kr_httpd *srv;
	struct kr_httpd_stats stats;
	struct kr_tls_conn *c1, *c3 = NULL;
	struct kr_client *client;
	struct kr_buf resp;
	struct kr_error err = {0};
	char buf[2048], url[64];
	unsigned short port;
	int64_t t0, waited;
	long status = 0;
	int c2;
	(void)state;

	cfg.ca_crt = F.ca1_crt;
	cfg.crt = F.srv_crt;
	cfg.key = F.srv_key;
	cfg.workers = 1;
	cfg.queue_len = 1;
	cfg.queue_wait_ms = 1000;
	cfg.handshake_timeout_ms = 3000;
	cfg.request_timeout_ms = 10000; /* c1 holds the worker throughout */
	cfg.handler = echo_handler;
	cfg.handler_ctx = &F;
	assert_int_equal(kr_httpd_start(&cfg, &srv, &err), KR_OK);
	port = kr_httpd_port(srv);

	/* c1 holds the only worker, c2 (plain TCP) fills the queue, c3 finds no room: closed at once. */
	assert_int_equal(kr_tls_client_connect(F.raw, "127.0.0.1", port, 3000, &c1, &err), KR_OK);
	c2 = tcp_connect(port);
	t0 = now_ms();
	usleep(100000);
	assert_int_not_equal(kr_tls_client_connect(F.raw, "127.0.0.1", port, 3000, &c3, &err), KR_OK);
	assert_null(c3);
	kr_httpd_stats(srv, &stats);
	assert_int_equal(stats.rejected_busy, 1); /* c3: c2 is still queued */
	assert_int_equal(stats.rejected_full, 1);
	assert_int_equal(stats.rejected_waited, 0);
	assert_int_equal(stats.established, 1);
	assert_int_equal(stats.handshakes_failed, 0); /* no handshake was spent on c3 */

	/* c2 is closed unanswered once it has waited queue_wait_ms. */
	assert_true(closed_within(c2, 5000));
	waited = now_ms() - t0;
	if (waited < 900 || waited > 4000)
		fail_msg("c2 was closed after %lld ms in the queue, not about 1000", (long long)waited);
	close(c2);
	kr_httpd_stats(srv, &stats);
	assert_int_equal(stats.rejected_busy, 2);
	assert_int_equal(stats.rejected_full, 1);
	assert_int_equal(stats.rejected_waited, 1); /* c2 */
	assert_int_equal(stats.handshakes_failed, 0);

	/* The agent's client, queued behind c1 and turned away, reports a busy hub, retried later. */
	snprintf(url, sizeof url, "https://127.0.0.1:%u", port);
	ccfg.base_url = url;
	assert_int_equal(kr_client_new(&ccfg, &client, &err), KR_OK);
	kr_buf_init(&resp, 65536);
	assert_int_equal(kr_client_get(client, "/v1/health", 65536, &status, &resp, &err), KR_ERR_NETWORK);
	if (!strstr(err.msg, "busy or restarting"))
		fail_msg("the client did not see a busy hub: %s", err.msg);
	kr_buf_release(&resp);
	kr_client_free(client);
	kr_httpd_stats(srv, &stats);
	assert_int_equal(stats.rejected_busy, 3);
	assert_int_equal(stats.rejected_full + stats.rejected_waited, 3);
	assert_int_equal(stats.handshakes_failed, 0);
	assert_int_equal(stats.accepted, 4);

	/* c1 is still served. */
	raw_send(c1, "GET /still HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	read_to_close(c1, buf, sizeof buf, 3000);
	assert_non_null(strstr(buf, "path=/still"));
	kr_tls_conn_close(c1);
	kr_httpd_free(srv);

	/* A plain listener answers 503 with Retry-After: an answer there costs no handshake. */
	memset(&cfg, 0, sizeof cfg);
	cfg.host = "127.0.0.1";
	cfg.plain = true;
	cfg.workers = 1;
	cfg.queue_len = 1;
	cfg.request_timeout_ms = 10000;
	cfg.handler = echo_handler;
	cfg.handler_ctx = &F;
	assert_int_equal(kr_httpd_start(&cfg, &srv, &err), KR_OK);
	port = kr_httpd_port(srv);
	{
		static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
		int p1 = tcp_connect(port), p2, p3;
		size_t len = 0;
		ssize_t n;

		usleep(100000); /* p1 is the worker's */
		p2 = tcp_connect(port);
		usleep(100000); /* p2 is queued */
		p3 = tcp_connect(port);
		assert_int_equal(write(p3, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
		while (len + 1 < sizeof buf && (n = read(p3, buf + len, sizeof buf - 1 - len)) > 0)
			len += (size_t)n;
		buf[len] = 0;
		assert_true(strncmp(buf, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0);
		assert_non_null(strstr(buf, "Retry-After: 1\r\n"));
		kr_httpd_stats(srv, &stats);
		assert_int_equal(stats.rejected_busy, 1);
		close(p3);
		close(p2);
		close(p1);
	}
	kr_httpd_free(srv);
}

static void test_plain_listener(void **state)
{
	struct kr_httpd_config cfg = {
	    .host = "127.0.0.1", .plain = true, .workers = 1, .handler = echo_handler, .handler_ctx = &F};
	struct kr_httpd *srv;
	struct kr_error err = {0};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	static const char req[] = "GET /form HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	char buf[2048];
	size_t len = 0;
	ssize_t n;
	int fd;
	(void)state;

	assert_int_equal(kr_httpd_start(&cfg, &srv, &err), KR_OK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_port = htons(kr_httpd_port(srv));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
	while (len + 1 < sizeof buf && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = 0;
	close(fd);
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK"));
	assert_non_null(strstr(buf, "node= facility= method=GET path=/form"));
	kr_httpd_free(srv);

	/* Plain is for loopback only. */
	cfg.host = "0.0.0.0";
	assert_int_equal(kr_httpd_start(&cfg, &srv, &err), KR_ERR_CONFIG);
	assert_null(srv);
}

static void test_client_errors(void **state)
{
	struct kr_client_config cfg = {.base_url = "https://127.0.0.1:1",
	                               .ca_file = F.ca1_crt,
	                               .cert_file = F.a_crt,
	                               .key_file = F.a_key,
	                               .connect_timeout_ms = 2000};
	struct kr_client *c;
	struct kr_buf resp;
	struct kr_error err = {0};
	long status;
	(void)state;

	kr_buf_init(&resp, 0);
	assert_int_equal(kr_client_new(&cfg, &c, &err), KR_OK);
	assert_int_equal(kr_client_get(c, "/v1/health", 1024, &status, &resp, &err), KR_ERR_NETWORK);
	assert_non_null(strstr(err.msg, "curl 7 "));
	assert_non_null(strstr(err.msg, "is the hub running at https://127.0.0.1:1?"));
	printf("  %s\n", err.msg);
	kr_client_free(c);
	cfg.base_url = "http://127.0.0.1:1";
	assert_int_equal(kr_client_new(&cfg, &c, &err), KR_ERR_CONFIG);
	cfg.base_url = "https://127.0.0.1:1";
	cfg.ca_file = "/nonexistent/ca.crt";
	assert_int_equal(kr_client_new(&cfg, &c, &err), KR_ERR_CONFIG);
	kr_buf_release(&resp);
}

/* Last: a graceful stop with an idle kept-alive connection does not wait for its idle timeout. */
static void test_stop_is_prompt(void **state)
{
	struct kr_client *c = client_for(F.a_crt, F.a_key);
	struct kr_buf resp;
	struct kr_error err = {0};
	long status = 0;
	int64_t t0;
	(void)state;

	kr_buf_init(&resp, 0);
	assert_int_equal(kr_client_get(c, "/v1/health", 65536, &status, &resp, &err), KR_OK);
	t0 = now_ms();
	kr_httpd_stop(F.srv);
	printf("  stop with an idle connection took %lld ms\n", (long long)(now_ms() - t0));
	assert_true(now_ms() - t0 < 1000);
	kr_httpd_stop(F.srv); /* again: nothing */
	assert_int_not_equal(kr_client_get(c, "/v1/health", 65536, &status, &resp, &err), KR_OK);
	kr_buf_release(&resp);
	kr_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_certificates),
	    cmocka_unit_test(test_csr_enrolment),
	    cmocka_unit_test(test_post_round_trip),
	    cmocka_unit_test(test_connection_reused),
	    cmocka_unit_test(test_body_too_big),
	    cmocka_unit_test(test_refused_at_handshake),
	    cmocka_unit_test(test_server_name_checked),
	    cmocka_unit_test(test_large_body_fast),
	    cmocka_unit_test(test_handshake_time),
	    cmocka_unit_test(test_garbage_gets_400),
	    cmocka_unit_test(test_pipelined_and_split),
	    cmocka_unit_test(test_expect_continue),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_slow_client_cut_off),
	    cmocka_unit_test(test_old_tls_refused),
	    cmocka_unit_test(test_busy_turned_away),
	    cmocka_unit_test(test_tls_reload),
	    cmocka_unit_test(test_plain_listener),
	    cmocka_unit_test(test_client_errors),
	    cmocka_unit_test(test_stop_is_prompt),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
