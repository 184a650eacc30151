/* trust_serve.h: the trust half of `kiroku-hub serve`: who may connect, enrolment and renewal over HTTPS,
 * the revocation watcher, and the node contact record. cmd_serve.c calls these; they keep their own
 * per-thread store connections and take the serve's write lock around every write.
 *
 * Rules enforced here (docs/design.md, "Trust"):
 *  - a client without a certificate finishes the TLS handshake only while an enrolment token is open, and
 *    may then only GET /v1/ca and POST /v1/enroll (everything else: 401), one request per connection;
 *  - a certificate of a revoked node, or a revoked certificate, is refused at the handshake, on every
 *    request, and the node's open connections are closed when the revocation is seen (within about 0.5 s);
 *  - enrolment attempts that fail are rate limited per client address (429 with Retry-After).
 */
#ifndef KR_HUB_TRUST_SERVE_H
#define KR_HUB_TRUST_SERVE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hub.h"
#include "kiroku/httpd.h"

#define TRUST_RL_SLOTS      64
#define TRUST_CONTACT_SLOTS 256

struct trust_bucket {
	char addr[64]; /* the client's address without the port; "" for a free slot */
	double tokens;
	int64_t at_ms;
};

struct trust_contact {
	char node[65];
	int64_t at_ms;
	int64_t pending;
};

struct hub_trust {
	struct hub *h;
	const char *store_path, *ca_dir, *ca_file;
	pthread_mutex_t *write_lock;
	pthread_key_t store_key;
	bool key_created;
	int cert_days;
	struct kr_httpd *srv; /* for closing revoked nodes' connections; set by hub_trust_tick */
	uint64_t revocation_stamp;
	int64_t next_poll_ms;
	pthread_mutex_t lock; /* the buckets and the contact slots */
	struct trust_bucket buckets[TRUST_RL_SLOTS];
	struct trust_bucket global;
	struct trust_contact contacts[TRUST_CONTACT_SLOTS];
};

/* Checks the hub's key files (key_file, the CA key) and data directory and sets t up. On error (a key others
 * can read, with the chmod to run) nothing needs releasing. */
kr_status hub_trust_init(struct hub_trust *t, struct hub *h, const char *store_path, pthread_mutex_t *write_lock,
                         struct kr_error *err);
void hub_trust_release(struct hub_trust *t);

/* The httpd's peer check (kr_tls_peer_check_fn): ctx is the struct hub_trust. */
kr_status hub_trust_peer_check(void *ctx, const struct kr_cert_info *peer, struct kr_error *err);

/* Answers the request when it is the trust half's: a client without a verified certificate (only /v1/ca and
 * /v1/enroll), a revoked peer, /v1/enroll, /v1/renew, /v1/ca. Returns false when cmd_serve.c should route it. */
bool hub_trust_handle(struct hub_trust *t, const struct kr_http_request *req, struct kr_http_response *resp);

/* After a sync answered with status: records the node's contact (at most once a minute per node unless the
 * outbox count it sent changed). */
void hub_trust_after_sync(struct hub_trust *t, const struct kr_http_request *req, int status);

/* Called from the serve loop (every 100 ms): polls for new revocations and closes those nodes' connections. */
void hub_trust_tick(struct hub_trust *t, struct kr_httpd *srv);

#endif
