/* trust.h: the hub's record of who may connect: enrolment tokens, issued certificates, revocation, contact.
 *
 * Tables: enroll_tokens, certs, facilities and the trust columns of nodes (schema/migrations/0002_trust.sql,
 * 0004_token_cancel.sql).
 * Every function that writes does so in one transaction (joining the caller's if one is open) together with
 * its audit entry (audit.h): on error nothing is written, and what was done is in the audit log.
 * The rules:
 *  - a token is random (KR_ENROLL_SECRET_LEN bytes), kept only as its SHA-256, used once, refused after its
 *    expiry or once the operator cancelled it; it names the facility, and the certificate's OU comes from it,
 *    never from the request;
 *  - a node id that this hub already knows (enrolled, seen in a certificate or a change-set, or the hub's
 *    own) cannot be enrolled again: a new PC gets a new id;
 *  - a revoked node is refused whatever certificate it presents; revoking marks its certificates too.
 * Thread safety: as for the store (one struct kr_store per thread).
 */
#ifndef KR_TRUST_H
#define KR_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiroku/buf.h"
#include "kiroku/enroll.h"
#include "kiroku/error.h"
#include "kiroku/store.h"
#include "kiroku/tls.h"

#define KR_TOKEN_ID_LEN 16 /* hex digits of the token's hash shown to operators and in the audit log */

struct kr_token_issue {
	const char *facility;      /* a facility id */
	const char *facility_name; /* display name ("" for none) */
	const char *hub_url;       /* written into the token */
	const char *actor;         /* who issues it, for the audit log */
	int64_t expires_ms;        /* Unix ms */
};

/* Makes a new token: draws the secret (out), stores its hash, the facility and its name, and audits
 * "token.issue". id_out gets the token's id (first KR_TOKEN_ID_LEN hex digits of the hash). */
kr_status kr_trust_token_create(struct kr_store *st, const struct kr_token_issue *ti,
                                uint8_t secret_out[KR_ENROLL_SECRET_LEN], char id_out[KR_TOKEN_ID_LEN + 1],
                                struct kr_error *err);

/* Whether some token is unused, not cancelled and unexpired at now_ms: only then does the hub let clients
 * without a certificate finish a TLS handshake. On a store error: false. */
bool kr_trust_enrolment_open(struct kr_store *st, int64_t now_ms);

/* What has become of a token, at a given instant. A token is used, cancelled or expired, in that order of
 * precedence (a used or cancelled token may also have expired since). */
enum kr_token_state {
	KR_TOKEN_OPEN = 0,  /* it can still enrol one node */
	KR_TOKEN_USED,      /* a node enrolled with it */
	KR_TOKEN_CANCELLED, /* the operator cancelled it before it was used */
	KR_TOKEN_EXPIRED,   /* it was neither used nor cancelled before its expiry */
};

/* "open", "used", "cancelled", "expired". Never NULL. */
const char *kr_trust_token_state_name(enum kr_token_state state);

struct kr_token_info {
	char id[KR_TOKEN_ID_LEN + 1];             /* the first hex digits of the secret's SHA-256: never the secret */
	const char *facility, *facility_name;     /* facility_name: "" when none was given */
	const char *hub_url;                      /* written into the token */
	const char *created_by;                   /* "operator:alice"; "" when not recorded */
	int64_t created_ms, expires_ms;           /* Unix ms */
	enum kr_token_state state;                /* at the now_ms given to kr_trust_token_list */
	int64_t used_ms;                          /* 0 unless used */
	const char *used_by, *cert_serial;        /* the node that enrolled with it and its certificate; "" */
	int64_t cancelled_ms;                     /* 0 unless cancelled */
	const char *cancelled_by, *cancel_reason; /* "" unless cancelled */
};

/* Calls fn for each enrolment token, oldest first: with all, every token; else only the open ones at now_ms.
 * The strings are valid during the call only. Reads only; stops at fn's first error and returns it. */
kr_status kr_trust_token_list(struct kr_store *st, bool all, int64_t now_ms,
                              kr_status (*fn)(void *ctx, const struct kr_token_info *t, struct kr_error *err),
                              void *ctx, struct kr_error *err);

/* Cancels the open token whose id (the KR_TOKEN_ID_LEN hex digits kr_trust_token_list and the audit log show,
 * or more of the hash, up to all 64; either case) is id: from then on enrolment with it is refused
 * (KR_ERR_FORBIDDEN, saying it was cancelled) and it no longer keeps enrolment open. Records who (actor), when
 * and why (reason, may be "" or NULL) and audits "token.cancel", in one transaction. id_out gets the token's id,
 * facility_out its facility. Errors: KR_ERR_INVALID (not such an id, or one that names several tokens),
 * KR_ERR_NOT_FOUND (no such token), KR_ERR_CONFLICT (the token was used, already cancelled, or has expired:
 * the message says which and when). On error nothing is written. */
kr_status kr_trust_token_cancel(struct kr_store *st, const char *id, const char *reason, const char *actor,
                                char id_out[KR_TOKEN_ID_LEN + 1], char facility_out[KR_ID_MAX + 1],
                                struct kr_error *err);

struct kr_enroll_outcome {
	char node[KR_ID_MAX + 1];
	char facility[KR_ID_MAX + 1];
	char serial[KR_SERIAL_HEX_MAX + 1];
	int64_t not_after; /* Unix seconds */
	bool repeated;     /* the same request again (its answer was lost): the certificate issued then */
};

/* POST /v1/enroll: checks the token and the node id, issues a certificate for the request's key with the CA in
 * ca_dir (CN = the node, OU = the token's facility, valid cert_days), marks the token used, records the node
 * and the certificate, audits "node.enrol" (actor "node:<id>", with peer_addr) and appends the certificate
 * (PEM) to crt_pem. Errors: KR_ERR_FORBIDDEN (token unknown, used, cancelled or expired), KR_ERR_CONFLICT
 * (node id taken), KR_ERR_MALFORMED / KR_ERR_INVALID (the certificate request: not one, or its signature does not
 * match its key), KR_ERR_CONFIG (the CA). A request repeated with the same token, node id and key gets the
 * same certificate again (out->repeated). On error nothing is written and crt_pem is unchanged. */
kr_status kr_trust_enroll(struct kr_store *st, const char *ca_dir, const struct kr_enroll_request *req,
                          const char *peer_addr, int cert_days, struct kr_buf *crt_pem, struct kr_enroll_outcome *out,
                          struct kr_error *err);

/* POST /v1/renew over mutual TLS: a new certificate for the same node and facility as peer's (verified)
 * certificate, for the key of csr. Refused (KR_ERR_FORBIDDEN) for a revoked node or a certificate without a
 * facility. Audits "node.renew". */
kr_status kr_trust_renew(struct kr_store *st, const char *ca_dir, const struct kr_cert_info *peer, const void *csr,
                         size_t csr_len, const char *peer_addr, int cert_days, struct kr_buf *crt_pem,
                         struct kr_enroll_outcome *out, struct kr_error *err);

/* KR_OK when peer's node and certificate are not revoked; KR_ERR_FORBIDDEN (saying which) otherwise;
 * KR_ERR_STORE etc. when the store cannot be read (callers refuse then too). Reads only. */
kr_status kr_trust_check_peer(struct kr_store *st, const struct kr_cert_info *peer, struct kr_error *err);

/* Revokes node: its row is marked revoked (with reason), its certificates too; audits "node.revoke".
 * KR_ERR_NOT_FOUND for a node this hub does not know, KR_ERR_CONFLICT if already revoked. *certs gets the
 * number of certificates marked. */
kr_status kr_trust_revoke(struct kr_store *st, const char *node, const char *reason, const char *actor, unsigned *certs,
                          struct kr_error *err);

/* A number that changes whenever a node is revoked (for a watcher that polls). 0 on error. */
uint64_t kr_trust_revocation_stamp(struct kr_store *st);

/* Calls fn for each revoked node id. */
kr_status kr_trust_revoked_nodes(struct kr_store *st, void (*fn)(void *ctx, const char *node), void *ctx,
                                 struct kr_error *err);

/* Records a successful exchange with a node: its certificate in use, the time, and the changes it said were
 * still waiting in its outbox (-1: it did not say). Creates the node's row (facility from the certificate) if
 * the hub did not have one. */
kr_status kr_trust_contact(struct kr_store *st, const struct kr_cert_info *peer, int64_t outbox_pending,
                           struct kr_error *err);

struct kr_node_info {
	const char *node, *facility, *facility_name; /* "" when unknown */
	const char *serial;                          /* "" when none recorded */
	int64_t cert_not_after;                      /* Unix seconds, 0 unknown */
	int64_t enrolled_ms;                         /* 0: never enrolled */
	int64_t last_seen_ms;                        /* last exchange or change-set, 0: never */
	int64_t skew_ms;                             /* node clock minus hub clock at the last merge */
	uint64_t acked;                              /* the node's changes the hub holds (1..acked) */
	int64_t outbox_pending;                      /* -1: unknown */
	bool revoked;
	int64_t revoked_ms;
	const char *revoke_reason;
};

/* Calls fn for each node, by facility then node id. The strings are valid during the call only. */
kr_status kr_trust_node_list(struct kr_store *st,
                             kr_status (*fn)(void *ctx, const struct kr_node_info *n, struct kr_error *err), void *ctx,
                             struct kr_error *err);

#endif
