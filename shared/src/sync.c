/* sync.c: the two halves of POST /v1/sync: the hub's handler and the agent's loop. */
#include "kiroku/sync.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store_int.h"

const struct kr_limits kr_sync_limits = {
	.max_bytes = 4u << 20,
	.max_changes = 5000,
	.max_writes = 256,
	.max_text = 65536,
	.max_acks = 1024,
};

static int status_of(kr_status s)
{
	switch (s) {
	case KR_OK:
		return 200;
	case KR_ERR_MALFORMED:
	case KR_ERR_INVALID:
		return 400;
	case KR_ERR_FORBIDDEN:
		return 403;
	case KR_ERR_GAP:
	case KR_ERR_CONFLICT:
		return 409;
	case KR_ERR_TOO_BIG:
		return 413;
	case KR_ERR_BUSY:
	case KR_ERR_IO:
		return 503;
	default:
		return 500;
	}
}

void kr_sync_serve(struct kr_store *st, const char *peer_node, const char *peer_facility, const uint8_t *body,
		   size_t len, const struct kr_sync_hooks *hooks, struct kr_buf *out, struct kr_sync_answer *answer)
{
	struct kr_changeset cs;
	struct kr_error err = {0};
	struct kr_merge_opts o = {.peer_node = peer_node, .peer_facility = peer_facility};
	bool more = false;
	kr_status s;

	memset(answer, 0, sizeof *answer);
	out->len = 0;
	if (!peer_node || !*peer_node || !peer_facility || !*peer_facility) {
		s = kr_fail(&err, KR_ERR_FORBIDDEN, "the client certificate names no node and facility");
		goto fail_nocs;
	}
	s = kr_changeset_decode(body, len, &kr_sync_limits, &cs, &err);
	if (s)
		goto fail_nocs;
	if (cs.recover && cs.nchanges) {
		s = kr_fail(&err, KR_ERR_INVALID, "a recover request carries no changes; this one has %zu", cs.nchanges);
		goto fail;
	}
	if (hooks) {
		o.sleep_after_commit_ms = hooks->sleep_after_commit_ms;
		o.sleep_before_commit_ms = hooks->sleep_before_commit_ms;
	}
	if (hooks && hooks->lock)
		hooks->lock(hooks->ctx);
	s = kr_merge(st, &cs, &o, &answer->merged, &err);
	if (hooks && hooks->unlock)
		hooks->unlock(hooks->ctx);
	if (s)
		goto fail;
	/* Committed: now the answer, from the position the agent says it has; for a recovering agent (its store
	 * restored from a backup or reinstalled) with its own changes too, which it may have lost. */
	s = kr_hub_export(st, peer_facility, cs.recover ? NULL : peer_node, cs.has_since ? cs.since : 0, &kr_sync_limits,
			  out, &answer->changes_out, &more, &err);
	if (s)
		goto fail;
	kr_changeset_release(&cs);
	answer->status = 200;
	return;
fail:
	kr_changeset_release(&cs);
fail_nocs:
	answer->status = status_of(s);
	if (s == KR_ERR_IO)
		/* The hub's own store (a full disk, an I/O error): say whose, since the agent shows this text. */
		kr_error_prefix(&err, "the hub cannot store changes now, nothing was applied; retry later");
	answer->expected = s == KR_ERR_GAP ? err.expected : 0;
	out->len = 0;
	kr_buf_printf(out, "%s\n", err.msg);
}

kr_status kr_sync_run(struct kr_store *st, struct kr_client *client, unsigned max_rounds, kr_sync_progress_fn progress,
		      void *progress_ctx, struct kr_sync_result *res, struct kr_error *err)
{
	struct kr_buf req, resp;
	uint64_t acked_before = kr_store_meta_u64(st, "acked"), acked_round = acked_before;
	kr_status s = KR_OK;

	memset(res, 0, sizeof *res);
	kr_buf_init(&req, 0);
	kr_buf_init(&resp, kr_sync_limits.max_bytes + 65536);
	for (;;) {
		struct kr_changeset cs;
		struct kr_merge_result mr;
		size_t n;
		long status = 0;

		if (max_rounds && res->round_trips >= max_rounds)
			break;
		req.len = 0;
		if ((s = kr_outbox_batch(st, &kr_sync_limits, &req, &n, err)))
			break;
		{
			/* What will still wait after this batch, for the hub's node list ("outbox lag"). */
			uint64_t waiting = kr_store_meta_u64(st, "last_seq") - kr_store_meta_u64(st, "acked");
			char v[24];
			snprintf(v, sizeof v, "%" PRIu64, waiting > n ? waiting - n : 0);
			kr_client_set_header(client, "Kiroku-Outbox", v);
		}
		s = kr_client_post(client, KR_SYNC_PATH, KR_SYNC_CONTENT_TYPE, req.data, req.len,
				   kr_sync_limits.max_bytes + 65536, &status, &resp, err);
		res->http_status = status;
		if (s)
			break;
		if (status == 503 || status == 429)
			res->retry_after = kr_client_retry_after(client);
		res->round_trips++;
		if (status != 200) {
			kr_buf_terminate(&resp);
			char *reason = resp.len ? (char *)resp.data : "";
			size_t rl = strlen(reason);
			while (rl && (reason[rl - 1] == '\n' || reason[rl - 1] == '\r'))
				reason[--rl] = 0;
			kr_status code = status == 403   ? KR_ERR_FORBIDDEN
					 : status == 409 ? KR_ERR_GAP
					 : status == 413 ? KR_ERR_TOO_BIG
					 : status == 503 ? KR_ERR_BUSY
					 : status == 400 ? KR_ERR_INVALID
							 : KR_ERR_NETWORK;
			s = kr_fail(err, code, "the hub refused the sync (HTTP %ld): %s", status,
				    rl ? reason : "no reason given");
			if (res->retry_after) {
				size_t used = strlen(err->msg);
				snprintf(err->msg + used, sizeof err->msg - used, "; it asks to be tried again in %ld s",
					 res->retry_after);
			}
			break;
		}
		if ((s = kr_changeset_decode(resp.data, resp.len, &kr_sync_limits, &cs, err))) {
			kr_error_prefix(err, "the hub's answer");
			break;
		}
		s = kr_merge(st, &cs, NULL, &mr, err);
		bool more = cs.more;
		kr_changeset_release(&cs);
		if (s) {
			kr_error_prefix(err, "applying the hub's answer");
			break;
		}
		res->received += mr.applied;
		res->outbox_left = kr_store_meta_u64(st, "last_seq") - kr_store_meta_u64(st, "acked");
		if (progress) {
			struct kr_sync_progress p = {.sent = kr_store_meta_u64(st, "acked") - acked_before,
						     .received = res->received,
						     .outbox_left = res->outbox_left,
						     .round_trips = res->round_trips};
			progress(progress_ctx, &p);
		}
		/* Done when the outbox is empty (all of it acknowledged) and nothing more waits to come down. */
		if (res->outbox_left == 0 && !more)
			break;
		uint64_t acked_now = kr_store_meta_u64(st, "acked");
		if (n > 0 && acked_now == acked_round) {
			/* The hub answered 200 without acknowledging what we sent: going on would loop. */
			s = kr_fail(err, KR_ERR_INTERNAL,
				    "the hub answered but acknowledged none of the %zu changes sent; stopping", n);
			break;
		}
		acked_round = acked_now;
		res->sent = kr_store_meta_u64(st, "acked") - acked_before;
	}
	res->sent = kr_store_meta_u64(st, "acked") - acked_before;
	res->outbox_left = kr_store_meta_u64(st, "last_seq") - kr_store_meta_u64(st, "acked");
	if (!s) {
		struct kr_error e2;
		kr_store_meta_set_u64(st, "last_sync_ms", kr_now_ms(), &e2);
	}
	kr_buf_release(&req);
	kr_buf_release(&resp);
	return s;
}
