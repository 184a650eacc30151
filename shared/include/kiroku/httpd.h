/* httpd.h: the HTTP/1.1 server of the hub (mutual TLS) and of a loopback web form (plain), over kr_tls.
 *
 * One acceptor thread accepts connections as they come (the kernel's listen backlog stays short) and queues them
 * (at most queue_len) for a fixed pool of worker threads; each worker runs the TLS handshake, then serves the
 * connection's requests one after the other (keep-alive) by calling the handler. A connection for which there is
 * no room in the queue, or that no worker has started within queue_wait_ms, is turned away without a TLS
 * handshake (a handshake to say "busy" costs the CPU as much as one to serve, and a crowd of them starved the
 * syncs): it is closed, and the client sees its connection closed during the handshake (kr_client reports
 * "busy or restarting" and the agent retries later). On a plain listener, where an answer is cheap, one extra
 * thread answers "503 Service Unavailable" with "Retry-After: 1" instead; if it is busy too, the socket is
 * closed at once. Every input from the network is bounded: URL (max_url), URL plus header names and values
 * (max_header_bytes, at most 64 headers), body (max_body; Content-Length required for POST and PUT, chunked
 * bodies refused), and time: the handshake, each request from its first byte (request_timeout_ms, extended
 * by Content-Length / min_body_rate for large bodies), the wait for the next request (idle_timeout_ms), and
 * each write (write_timeout_ms without progress). The server answers by itself, without calling the handler:
 * 400 (malformed, with the parser's reason as text), 408, 411, 413, 414, 417, 431, 501, 503.
 * "Expect: 100-continue" is answered with "100 Continue" before the body is read (or with 413 instead).
 * Connection-level failures (handshake refused and why, timeouts) are logged to stderr with a UTC timestamp, and
 * so are bodies refused with 413 (at most one line per 10 s, counting the others); logging each request the
 * handler sees is the handler's job, it knows what the request meant. Connections turned away are only
 * counted (kr_httpd_stats): the caller summarises them.
 */
#ifndef KR_HTTPD_H
#define KR_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiroku/buf.h"
#include "kiroku/error.h"
#include "kiroku/tls.h"

struct kr_http_header {
	const char *name; /* as sent (compare case-insensitively) */
	const char *value;
};

/* A request as the handler sees it. Everything points into the server's per-connection memory and is valid only
 * during the handler call. All strings are NUL-terminated and never NULL. */
struct kr_http_request {
	const char *method;       /* "GET", "HEAD", "POST", "PUT" or "DELETE" (the server answers 501 to others) */
	const char *path;         /* the URL's path as sent, not percent-decoded, e.g. "/v1/sync" */
	const char *query;        /* after '?', "" if none */
	const char *content_type; /* "" if none */
	const uint8_t *body;      /* body_len bytes (NULL when body_len is 0), followed by a NUL not counted */
	size_t body_len;
	const struct kr_http_header *headers;
	size_t n_headers;
	/* The peer, from its verified client certificate (CN, OU, serial; see tls.h); "" on a plain listener and
	 * for a client without a certificate (only possible when cfg.peer_check lets it in). */
	const char *peer_node;
	const char *peer_facility;
	const char *peer_serial;
	const char *peer_addr; /* "127.0.0.1:40312" */
	bool peer_verified;    /* the client presented a certificate that chains to the CA (and passed peer_check) */
	const struct kr_cert_info *peer; /* the whole certificate summary when peer_verified, else NULL */
};

/* The handler's answer. The server sets status 0, no content type, an empty body capped at max_response and no
 * extra headers before the call; a status left at 0 (or outside 200..599) is sent as 500. */
struct kr_http_response {
	int status;
	char content_type[128]; /* e.g. "application/cbor"; control characters make the server answer 500 */
	struct kr_buf body;     /* owned by the server; append with kr_buf_append / kr_buf_printf */
	struct kr_buf headers;  /* extra header lines; add with kr_http_response_header */
	bool close;             /* close the connection after this response */
};

typedef void (*kr_http_handler)(void *ctx, const struct kr_http_request *req, struct kr_http_response *resp);

/* The value of the first header called name (case-insensitive), or NULL. */
const char *kr_http_request_header(const struct kr_http_request *req, const char *name);

/* Adds "name: value" to the response. KR_ERR_INVALID for a name that is not a token or a value with control
 * characters; KR_ERR_TOO_BIG past 4 KiB of extra headers. On error the response is unchanged. */
kr_status kr_http_response_header(struct kr_http_response *resp, const char *name, const char *value);

/* Sets status, "text/plain; charset=utf-8" and the body to the formatted text (replacing any body). On error
 * (the text is over max_response) the body is empty and the status still set. */
kr_status kr_http_response_text(struct kr_http_response *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Zero (or 0/NULL) fields take the default in brackets. */
struct kr_httpd_config {
	const char *host;    /* numeric address to listen on ["127.0.0.1"]; "0.0.0.0" or "::" for all */
	unsigned short port; /* [0]: the system picks a free port, see kr_httpd_port */
	const char *ca_crt;  /* TLS: the CA whose certificates clients must present (the only trust anchor) */
	const char *crt;     /* TLS: the server's certificate and key */
	const char *key;
	bool plain;                     /* no TLS, no client certificates: only allowed on a loopback address */
	unsigned workers;               /* connection threads [8] */
	unsigned queue_len;             /* accepted connections waiting for a thread [64] */
	int queue_wait_ms;              /* turn away a queued connection no thread has started by then [0: no limit] */
	int handshake_timeout_ms;       /* [10000] */
	int request_timeout_ms;         /* one request, headers and body, from its first byte [10000] */
	size_t min_body_rate;           /* bytes/s a large body is allowed to take on top of that [65536] */
	int idle_timeout_ms;            /* wait for the next request on a kept-alive connection [5000] */
	int write_timeout_ms;           /* a write that makes no progress for this long fails [10000] */
	size_t max_header_bytes;        /* URL + header names and values [16384] */
	size_t max_url;                 /* [2048] */
	size_t max_body;                /* larger bodies get 413 without being read [16 MiB] */
	size_t max_body_unverified;     /* the same for clients without a certificate (peer_check) [64 KiB] */
	size_t max_response;            /* cap of kr_http_response.body [64 MiB] */
	unsigned max_requests_per_conn; /* [1000] */
	/* TLS: with a peer check (tls.h) the server lets fn judge each client's verified certificate during the
	 * handshake, and lets in clients without a certificate when fn says so (their requests come with
	 * peer_verified false: the handler must refuse what they may not do). NULL: a certificate is required. */
	kr_tls_peer_check_fn peer_check;
	void *peer_check_ctx;
	kr_http_handler handler;        /* required; called from worker threads, several at once */
	void *handler_ctx;
};

/* Counters since start, for tests and monitoring. */
struct kr_httpd_stats {
	unsigned long long accepted;          /* TCP connections accepted */
	unsigned long long established;       /* connections that completed the handshake (all, if plain) */
	unsigned long long handshakes_failed; /* refused or broken handshakes (timeouts included) */
	unsigned long long requests;          /* handler calls */
	unsigned long long refused_requests;  /* requests the server answered itself (4xx/5xx) */
	unsigned long long timeouts;          /* handshake, request or write deadlines that passed */
	unsigned long long rejected_busy;     /* connections turned away: queue full or queue_wait_ms passed */
	unsigned long long rejected_full;     /* ... of which because the queue was full */
	unsigned long long rejected_waited;   /* ... of which because they waited queue_wait_ms */
	unsigned long long refused_too_big;   /* requests answered 413 for their declared Content-Length */
};

struct kr_httpd;

/* Loads the TLS files, listens and starts the threads. On error nothing is left running and *out is NULL.
 * The caller owns *out: kr_httpd_free. cfg is copied (its strings are not needed after the call). */
kr_status kr_httpd_start(const struct kr_httpd_config *cfg, struct kr_httpd **out, struct kr_error *err);

/* The port the server listens on (the chosen one if cfg.port was 0). */
unsigned short kr_httpd_port(const struct kr_httpd *srv);

void kr_httpd_stats(const struct kr_httpd *srv, struct kr_httpd_stats *out);

/* TLS: loads the CA, certificate and key files again (kr_tls_server_reload) for the connections accepted from
 * now on; those in progress keep theirs. On error (KR_ERR_CONFIG for a plain listener or bad files) the server
 * goes on with what it had. info (may be NULL) gets the new certificate's summary. Thread-safe. */
kr_status kr_httpd_reload_tls(struct kr_httpd *srv, const char *ca_crt, const char *crt, const char *key,
                              struct kr_cert_info *info, struct kr_error *err);

/* Sets cfg.write_timeout_ms for the connections started from now on. Thread-safe; can't fail. */
void kr_httpd_set_write_timeout(struct kr_httpd *srv, int timeout_ms);

/* Closes every open connection whose client certificate names node (CN): a connection waiting for its next
 * request is closed within about 100 ms; one in the middle of a request is closed before the handler is
 * called (the request gets no answer). Logs one line per connection with reason. Returns how many
 * connections were marked. Thread-safe. */
unsigned kr_httpd_close_peer(struct kr_httpd *srv, const char *node, const char *reason);

/* Graceful stop: stops accepting, closes queued connections that no worker has started, lets requests in
 * progress finish (their responses say "Connection: close"), closes idle connections, and joins all threads.
 * Blocks for at most about the longest handshake, request or handler time. Not async-signal-safe: call it from
 * the main loop after a signal handler has set a flag. Calling it again does nothing. */
void kr_httpd_stop(struct kr_httpd *srv);

/* Stops the server if needed and frees it. NULL is fine. */
void kr_httpd_free(struct kr_httpd *srv);

/* ---- For tests and fuzzing ---- */

/* Serves one connection whose client sends the len bytes of in and then ends its side, without TLS and without
 * a listener: the same parser, limits, refusals and handler calls as a real connection (the peer is plain, so
 * peer_node and peer_facility are ""), over a socketpair, with a thread playing the client. The server reads at
 * most piece bytes at a time (0: a whole buffer, as in service), so that the parser also meets URLs, headers and
 * bodies cut across reads. Everything the server writes (responses, "100 Continue") is appended to out, up to
 * out's cap; stats (may be NULL) gets this connection's counters. Returns when the server has closed the
 * connection. cfg is read as by kr_httpd_start (handler required; host, port, TLS files, workers, queue_len and
 * queue_wait_ms unused). KR_ERR_TOO_BIG when out's cap cut the output short; KR_ERR_IO or KR_ERR_NOMEM when the
 * socketpair or the thread could not be made. */
kr_status kr_httpd_serve_bytes(const struct kr_httpd_config *cfg, const uint8_t *in, size_t len, size_t piece,
                               struct kr_buf *out, struct kr_httpd_stats *stats, struct kr_error *err);

#endif
