/* sync.h: the sync exchange over HTTPS (POST /v1/sync, schema/sync.cddl), both halves.
 *
 * The agent posts its next bounded batch of outbox changes as a change-set whose `since` is the hub-journal
 * position it has applied; the hub checks the sender against the client certificate, merges in one durable
 * transaction, and only then answers with a change-set holding the sender's acknowledged sequence and the
 * next bounded batch of its facility's changes after `since`. The agent applies the answer (trimming its
 * outbox by the ack) and repeats until both directions are empty. A kill -9 anywhere loses nothing: the
 * outbox is trimmed only by an answer, and the hub answers only after commit; a resent batch is a replay.
 */
#ifndef KR_SYNC_H
#define KR_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiroku/buf.h"
#include "kiroku/changeset.h"
#include "kiroku/client.h"
#include "kiroku/error.h"
#include "kiroku/store.h"

#define KR_SYNC_PATH "/v1/sync"
#define KR_SYNC_CONTENT_TYPE "application/cbor"

/* Batch bounds on the wire: small enough that memory stays flat, large enough that the per-request
 * commit (one fsync) is amortised. */
extern const struct kr_limits kr_sync_limits;

/* ---- Hub side ---- */

struct kr_sync_answer {
	int status;            /* HTTP status: 200, 400, 403, 409, 413, 503, 500 */
	struct kr_merge_result merged;
	size_t changes_out;    /* changes in the answer */
	uint64_t expected;     /* 409: the sequence number the hub expected */
};

/* Handles one POST /v1/sync body from peer (node and facility from its client certificate). On success
 * out holds the CBOR answer; otherwise out holds a one-line text reason and answer->status says which error.
 * merge_lock (may be NULL) is held around the merge so that one writer works at a time. Never partial: the
 * merge is all or nothing. */
struct kr_sync_hooks {
	void (*lock)(void *ctx);
	void (*unlock)(void *ctx);
	void *ctx;
	unsigned sleep_after_commit_ms; /* test hook: widen the window between commit and answer */
	unsigned sleep_before_commit_ms; /* test hook: widen the window between merge and commit */
};
void kr_sync_serve(struct kr_store *st, const char *peer_node, const char *peer_facility, const uint8_t *body,
		   size_t len, const struct kr_sync_hooks *hooks, struct kr_buf *out, struct kr_sync_answer *answer);

/* ---- Agent side ---- */

struct kr_sync_progress {
	uint64_t sent, received;   /* changes so far in this run */
	uint64_t outbox_left;      /* changes still waiting */
	unsigned round_trips;
};

typedef void (*kr_sync_progress_fn)(void *ctx, const struct kr_sync_progress *p);

struct kr_sync_result {
	uint64_t sent;        /* own changes the hub acknowledged in this run */
	uint64_t received;    /* hub changes applied */
	unsigned round_trips;
	uint64_t outbox_left; /* 0 after a complete sync */
	long http_status;     /* of the last request */
	long retry_after;     /* seconds the hub asked to wait (Retry-After with 503 or 429), 0 for none */
};

/* Runs the exchange until both directions are empty (or max_rounds requests, 0 = no limit). Safe to
 * interrupt at any point: what was acknowledged is trimmed, the rest is sent again next time.
 * Errors: KR_ERR_NETWORK/KR_ERR_TLS (hub unreachable; try later), KR_ERR_GAP (the hub lacks changes this
 * agent no longer has), KR_ERR_FORBIDDEN, KR_ERR_INVALID/MALFORMED (the hub refused a batch, with its reason). */
kr_status kr_sync_run(struct kr_store *st, struct kr_client *client, unsigned max_rounds, kr_sync_progress_fn progress,
		      void *progress_ctx, struct kr_sync_result *res, struct kr_error *err);

/* ---- Agent side: recovery (kiroku-agent recover; docs/design.md "Recovery") ---- */

struct kr_recover_result {
	uint64_t received;    /* changes the hub sent back that were applied here (other nodes' and this node's) */
	uint64_t own;         /* of the changes the hub sent, this node's own */
	uint64_t hub_acked;   /* the hub's high-water mark of this node: it holds its changes 1..hub_acked */
	uint64_t already;     /* outbox changes the hub already held (the same bytes): dropped from the outbox */
	uint64_t renumbered;  /* outbox changes made under numbers the hub holds other changes for: renumbered */
	uint64_t first_new;   /* ... to first_new, first_new + 1, ... (when renumbered > 0) */
	uint64_t last_seq;    /* this node's last change number afterwards */
	unsigned round_trips;
};

/* For an agent whose store was restored from an old backup, or reinstalled blank with the same identity: takes
 * back every change of its facility from the hub, this node's own included (recover requests), then, in one
 * transaction, drops from the outbox the changes the hub already holds and renumbers those made under numbers the
 * hub holds other changes for, and adopts the hub's high-water mark. Afterwards kr_sync_run works as usual (and
 * sends what is left in the outbox). Safe to interrupt and to run again; on an up-to-date store it changes
 * nothing. Errors as kr_sync_run; KR_ERR_GAP when the hub holds fewer of this node's changes than it once
 * acknowledged (the hub's store is the older one). */
kr_status kr_sync_recover(struct kr_store *st, struct kr_client *client, struct kr_recover_result *res,
			  struct kr_error *err);

#endif
