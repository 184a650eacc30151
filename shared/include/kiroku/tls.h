/* tls.h: the certificate authority, node certificates and TLS connections (the only module that calls mbedTLS).
 *
 * Certificates. All keys are ECDSA P-256 and all signatures ECDSA with SHA-256. A node certificate's subject is
 * CN=<node id>, O=kiroku, OU=<facility id>: the certificate names the node and the facility it writes for, and the
 * hub takes both from the verified client certificate, never from a payload. Client certificates carry the
 * clientAuth extended key usage, server certificates serverAuth and a subjectAltName with the DNS names and IPv4
 * addresses the agents use to reach the hub. Serial numbers are 16 random bytes. Key files are written with mode
 * 0600; every file is written under a temporary name and renamed, so on failure no half-written file is left.
 *
 * Connections. kr_tls_conn wraps one socket: server side (kr_tls_conn_accept), client side
 * (kr_tls_client_connect) or unencrypted (kr_tls_conn_plain, for a loopback-only listener). TLS is 1.2 only
 * (mbedTLS 2.28 has no 1.3), ECDHE-ECDSA with AES-128-GCM-SHA256 or AES-256-GCM-SHA384, curve P-256,
 * renegotiation off, and the peer's certificate must chain to the configured CA (mutual TLS on both sides).
 * Every blocking step has a deadline; sockets get TCP_NODELAY; nothing raises SIGPIPE.
 *
 * Threads: a kr_tls_server or kr_tls_client may be used by many threads at once (accept/connect), and a
 * server's files may be reloaded meanwhile (kr_tls_server_reload); one kr_tls_conn belongs to one thread at a time.
 */
#ifndef KR_TLS_H
#define KR_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kiroku/buf.h"
#include "kiroku/error.h"

#define KR_FINGERPRINT_HEX_LEN 64 /* SHA-256 of the certificate's DER, lower-case hex */
#define KR_SERIAL_HEX_MAX      40 /* a serial is at most 20 bytes; written in lower-case hex, no leading 00 */
#define KR_CERT_NAME_MAX       64 /* CN and OU text */
#define KR_ADDR_MAX            64 /* "[v6 address]:port" */

/* ---- Certificates ---- */

/* What to put in a node certificate. */
struct kr_cert_request {
	const char *node_id;     /* CN: a node id (kr_id_valid) */
	const char *facility_id; /* OU: a facility id (kr_id_valid); required for a client, may be NULL for a server */
	bool is_server;          /* serverAuth + subjectAltName; otherwise clientAuth */
	const char *const *dns_names; /* server only: subjectAltName DNS names, e.g. "localhost" (at most 16) */
	size_t n_dns_names;
	const char *const *ipv4_addrs; /* server only: subjectAltName IPv4 addresses, e.g. "127.0.0.1" (at most 16) */
	size_t n_ipv4_addrs;
	int days_valid;                /* > 0: valid from a day ago (clocks of school PCs run late) for days_valid days;
	                                * < 0: a window that ended -days_valid days ago (tests: an expired certificate) */
	int64_t not_before, not_after; /* Unix seconds; if either is non-zero, both are used as given */
};

/* What a certificate says, as text. */
struct kr_cert_info {
	char cn[KR_CERT_NAME_MAX + 1]; /* the node id for a node certificate */
	char ou[KR_CERT_NAME_MAX + 1]; /* the facility id; "" if the subject has none */
	char serial[KR_SERIAL_HEX_MAX + 1];
	char fingerprint[KR_FINGERPRINT_HEX_LEN + 1];
	char key_sha256[KR_FINGERPRINT_HEX_LEN + 1]; /* SHA-256 of the public key's SubjectPublicKeyInfo DER */
	int64_t not_before, not_after; /* Unix seconds */
	bool is_ca;
};

/* Creates a certificate authority in dir (created with mode 0700 if missing): ca.key (mode 0600) and ca.crt,
 * self-signed, CN=<common_name>, O=kiroku, CA:true with path length 0, keyCertSign + cRLSign, valid from a day
 * ago for 10 years. Refuses (KR_ERR_CONFLICT) if dir already holds a ca.key. On error nothing is left in dir. */
kr_status kr_ca_init(const char *dir, const char *common_name, struct kr_error *err);

/* Makes a new key pair and a certificate for it signed by the CA in ca_dir (ca.crt, ca.key); writes the key
 * (mode 0600) to out_key_path and the certificate (PEM) to out_crt_path, replacing existing files. On error
 * neither file is changed. */
kr_status kr_cert_issue(const char *ca_dir, const char *out_key_path, const char *out_crt_path,
                        const struct kr_cert_request *req, struct kr_error *err);

/* Enrolment, node side: makes a new key pair, writes the key (mode 0600) to out_key_path and appends a PEM
 * certificate signing request with subject CN=<node_id>, O=kiroku[, OU=<facility_id>] to csr_pem (facility_id
 * may be NULL). On error the key file is not written and csr_pem is unchanged. */
kr_status kr_csr_make(const char *out_key_path, const char *node_id, const char *facility_id, struct kr_buf *csr_pem,
                      struct kr_error *err);

/* The same for the key already in key_path (mode 0600 required; not rewritten): an enrolment whose answer was
 * lost is repeated with the same key, and the hub then answers with the certificate it issued. */
kr_status kr_csr_make_for_key(const char *key_path, const char *node_id, const char *facility_id,
                              struct kr_buf *csr_pem, struct kr_error *err);

/* Enrolment, hub side: checks a CSR (PEM or DER, at most 16 KiB) - its signature must verify with its own
 * ECDSA P-256 key - and appends a certificate for that key, signed by the CA in ca_dir, to crt_pem. The subject
 * and extensions come from req (what the hub decided, e.g. from the enrolment token), never from the CSR.
 * KR_ERR_MALFORMED for bytes that are not a CSR, KR_ERR_INVALID for a bad signature or key type.
 * On error crt_pem is unchanged. */
kr_status kr_cert_issue_from_csr(const char *ca_dir, const void *csr, size_t csr_len, const struct kr_cert_request *req,
                                 struct kr_buf *crt_pem, struct kr_error *err);

/* SHA-256 of the (first) certificate's DER in crt_path, 64 lower-case hex digits and a NUL. */
kr_status kr_cert_fingerprint(const char *crt_path, char out_hex[KR_FINGERPRINT_HEX_LEN + 1], struct kr_error *err);

/* Reads the first certificate of a PEM file, or of PEM/DER bytes in memory (len without any NUL). */
kr_status kr_cert_info_file(const char *crt_path, struct kr_cert_info *out, struct kr_error *err);
kr_status kr_cert_info_mem(const void *crt, size_t len, struct kr_cert_info *out, struct kr_error *err);

/* ---- Connections ---- */

struct kr_tls_server;
struct kr_tls_client;
struct kr_tls_conn;

/* kr_tls_conn_read's result when the deadline passed (err says so too). */
#define KR_TLS_TIMEOUT (-2)

/* Loads the CA certificate (the only trust anchor for client certificates), the server certificate and its key,
 * and checks that the key matches and the certificate is currently valid under the CA. The server requires a
 * client certificate (unless a peer check, below, lets a client without one in). A private key file that group
 * or others may read is refused (KR_ERR_CONFIG, keyfile.h). Free with kr_tls_server_free (NULL is fine). On error *out is NULL. */
kr_status kr_tls_server_new(const char *ca_crt, const char *crt, const char *key, struct kr_tls_server **out,
                            struct kr_error *err);
void kr_tls_server_free(struct kr_tls_server *srv);

/* Loads the three files again, with every check of kr_tls_server_new (key mode, key matching the certificate,
 * certificate valid under the CA), and makes them what new handshakes use; connections already set up keep
 * the files they started with until they close (each holds a reference to its configuration). On error the
 * server keeps what it had and err says why; info (may be NULL) gets the new certificate's summary on success.
 * Thread-safe with kr_tls_conn_accept and with itself; not with kr_tls_server_set_peer_check. */
kr_status kr_tls_server_reload(struct kr_tls_server *srv, const char *ca_crt, const char *crt, const char *key,
                               struct kr_cert_info *info, struct kr_error *err);

/* The summary of the certificate new handshakes present. Thread-safe. */
kr_status kr_tls_server_cert(struct kr_tls_server *srv, struct kr_cert_info *out, struct kr_error *err);

/* A server's say on each client, called during the handshake (from the thread running it) right after the
 * client's Certificate message: with the verified certificate, or with peer NULL when the client sent none.
 * KR_OK lets the handshake go on; anything else ends it with a fatal alert (certificate_revoked for a
 * certificate, handshake_failure for none), and err's message, prefixed with the peer's address, becomes the
 * handshake's error. A certificate that does not verify is refused as before, without calling fn. */
typedef kr_status (*kr_tls_peer_check_fn)(void *ctx, const struct kr_cert_info *peer, struct kr_error *err);

/* Installs fn (NULL removes it). With a check installed the server asks for a client certificate without
 * requiring one (mbedTLS VERIFY_OPTIONAL) and lets fn decide about clients without one; presented
 * certificates must still verify. Call before the first kr_tls_conn_accept; not thread-safe with it. */
void kr_tls_server_set_peer_check(struct kr_tls_server *srv, kr_tls_peer_check_fn fn, void *ctx);

/* Takes ownership of the connected socket fd (always: on error it is closed), sets TCP_NODELAY and runs the
 * server handshake, all of it within timeout_ms. On error the message names the peer address and the
 * mbedTLS code and text ("tls handshake with 127.0.0.1:40312 failed: mbedTLS -0x7480 (...)"), plus the
 * certificate verification result when that was the reason; KR_ERR_TLS, or KR_ERR_NETWORK for a timeout
 * (the message then says "timed out") or a peer that went away. On success the caller closes *out with
 * kr_tls_conn_close. */
kr_status kr_tls_conn_accept(struct kr_tls_server *srv, int fd, int timeout_ms, struct kr_tls_conn **out,
                             struct kr_error *err);

/* Client side, for tests and the load generator (the agent uses libcurl, see client.h). ca_crt is the only
 * trust anchor; crt and key may both be NULL for a client without a certificate. Free with kr_tls_client_free. */
kr_status kr_tls_client_new(const char *ca_crt, const char *crt, const char *key, struct kr_tls_client **out,
                            struct kr_error *err);
void kr_tls_client_free(struct kr_tls_client *cli);

/* Connects to host:port (a name or a numeric address) and runs the client handshake within timeout_ms. The
 * server's certificate must chain to the CA and name host (a DNS subjectAltName, or an IPv4 subjectAltName for
 * an IPv4 address). On success the caller closes *out with kr_tls_conn_close; on error *out is NULL. */
kr_status kr_tls_client_connect(struct kr_tls_client *cli, const char *host, unsigned short port, int timeout_ms,
                                struct kr_tls_conn **out, struct kr_error *err);

/* Wraps an unencrypted connected socket (always taking ownership of fd), for a loopback-only listener. */
kr_status kr_tls_conn_plain(int fd, struct kr_tls_conn **out, struct kr_error *err);

/* The verified peer certificate's subject, serial and validity. kr_tls_conn_peer also checks that CN is a
 * valid node id and OU is empty or a valid facility id (KR_ERR_FORBIDDEN otherwise); KR_ERR_NOT_FOUND on a
 * plain connection. On error *out is zeroed. */
kr_status kr_tls_conn_peer(const struct kr_tls_conn *conn, struct kr_cert_info *out, struct kr_error *err);

/* "127.0.0.1:40312" or "[::1]:40312"; valid until kr_tls_conn_close. Never NULL. */
const char *kr_tls_conn_addr(const struct kr_tls_conn *conn);

/* Whether a read would find data within timeout_ms (without consuming any): 1 yes (or end of stream),
 * 0 not yet, -1 the socket failed. Used to wait for the next request on a kept-alive connection. */
int kr_tls_conn_wait(struct kr_tls_conn *conn, int timeout_ms);

/* Reads up to n bytes (at most one TLS record) within timeout_ms. Returns the number of bytes, 0 when the peer
 * closed (close_notify or end of stream), KR_TLS_TIMEOUT when the deadline passed, -1 on another error; err (may
 * be NULL) says what failed. After a negative result only kr_tls_conn_close is useful. */
ssize_t kr_tls_conn_read(struct kr_tls_conn *conn, void *buf, size_t n, int timeout_ms, struct kr_error *err);

/* Writes all n bytes. Fails (KR_ERR_NETWORK) if the peer takes no data for the write timeout (default 10 s). */
kr_status kr_tls_conn_write_all(struct kr_tls_conn *conn, const void *buf, size_t n, struct kr_error *err);
void kr_tls_conn_set_write_timeout(struct kr_tls_conn *conn, int timeout_ms);

/* Ends the sending side (close_notify, then TCP FIN) and reads and discards what the peer still sends, until it
 * closes, timeout_ms pass or max_bytes were discarded: closing a socket with unread data makes the kernel send a
 * reset, which can destroy an error response (413, 503) before the peer has read it. Can't fail. */
void kr_tls_conn_linger(struct kr_tls_conn *conn, int timeout_ms, size_t max_bytes);

/* Sends close_notify (unless already sent; waits at most 500 ms), closes the socket and frees conn. NULL is fine. */
void kr_tls_conn_close(struct kr_tls_conn *conn);

#endif
