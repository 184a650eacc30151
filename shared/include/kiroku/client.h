/* client.h: the agent's HTTPS client for the hub (libcurl, mutual TLS, one connection kept across requests).
 *
 * The hub's CA file is the only trust anchor (the system's CA store is not used); TLS 1.2 at least; the hub's
 * certificate must name the host of base_url (a DNS name, or an IP address in its subjectAltName). One client
 * reuses one connection for all its requests, so a sync of many batches pays for one handshake. A client is
 * used by one thread at a time; separate clients may be used from separate threads.
 */
#ifndef KR_CLIENT_H
#define KR_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "kiroku/buf.h"
#include "kiroku/error.h"

struct kr_client_config {
	const char *base_url;  /* "https://hub.example:8443" (no trailing path); https only */
	const char *ca_file;   /* PEM: the hub's CA */
	const char *cert_file; /* PEM: this node's certificate; NULL with key_file NULL for none (enrolment) */
	const char *key_file;
	long connect_timeout_ms; /* TCP and TLS handshake [10000] */
	long timeout_ms;         /* a whole request, upload and download [120000] */
};

struct kr_client;

/* Checks the configuration (files readable, URL https) and sets up the handle; connects on first use.
 * On error *out is NULL. Free with kr_client_free. */
kr_status kr_client_new(const struct kr_client_config *cfg, struct kr_client **out, struct kr_error *err);

/* POSTs len bytes of body (binary; no "Expect: 100-continue") to base_url + path (path starts with '/').
 * response must be an initialised kr_buf: it is emptied and filled with at most max_response bytes of the
 * answer (KR_ERR_TOO_BIG beyond). *status gets the HTTP status; any status is KR_OK here, the caller decides.
 * Errors: KR_ERR_NETWORK (no connection, timeout, reset), KR_ERR_TLS (handshake refused, certificate not
 * trusted, unusable certificate or key), with curl's code and text and what to check in the message. On error
 * *status is 0 and response holds whatever had arrived (the caller still releases it). */
kr_status kr_client_post(struct kr_client *c, const char *path, const char *content_type, const void *body, size_t len,
                         size_t max_response, long *status, struct kr_buf *response, struct kr_error *err);

/* GET; as kr_client_post. */
kr_status kr_client_get(struct kr_client *c, const char *path, size_t max_response, long *status,
                        struct kr_buf *response, struct kr_error *err);

/* Sends "name: value" with every later request (name NULL: none). KR_ERR_INVALID for a bad name or value,
 * KR_ERR_TOO_BIG past 250 bytes. */
kr_status kr_client_set_header(struct kr_client *c, const char *name, const char *value);

/* Enrolment, first contact: GETs base_url + /v1/ca WITHOUT verifying the hub's certificate, and accepts the
 * answer only if it is a CA certificate whose SHA-256 (of its DER) is expected_sha256, the fingerprint the
 * enrolment token carries. Appends the PEM to ca_pem. KR_ERR_TLS for a fingerprint that does not match
 * (the message shows both), KR_ERR_NETWORK / KR_ERR_TLS for a hub that cannot be reached or refused the
 * handshake, KR_ERR_BUSY for 429. Nothing but this GET is sent. */
kr_status kr_client_fetch_ca(const char *base_url, const uint8_t expected_sha256[32], long timeout_ms,
                             struct kr_buf *ca_pem, struct kr_error *err);

/* The seconds the last answer's Retry-After header asked for (a number of seconds or an HTTP date), capped at
 * 86400; 0 when it had none, or after a failed request. */
long kr_client_retry_after(const struct kr_client *c);

/* How many connections this client has opened so far (1 after any number of requests on a kept connection). */
unsigned long kr_client_connections(const struct kr_client *c);

/* Closes the connection and frees the client. NULL is fine. */
void kr_client_free(struct kr_client *c);

#endif
