/* audit.h: the hub's append-only audit log, hash-chained so that a changed or removed entry shows.
 *
 * Each entry is (id, time, actor, action, detail) and carries the SHA-256 of the entry before it; its own hash
 * covers all of these and that previous hash (schema/migrations/0002_trust.sql gives the exact bytes). The id
 * and hash of the newest entry are also kept in the store's meta ("audit_head"), in the same transaction, so
 * that removing entries from the end shows too. The chain has no secret: someone who can write the store can
 * rebuild it entirely; kr_audit_verify therefore also takes an anchor (an id and hash recorded elsewhere
 * earlier: printed by `kiroku-hub audit verify`, written into the review material) that a rebuilt chain cannot
 * match.
 *
 * Who calls kr_audit_append: every command and request that changes trust or personal data at the hub, in the
 * same transaction as the change where it has one (kr_audit_append joins an open kr_store_begin), so that
 * the action and its entry are written together or not at all.
 */
#ifndef KR_AUDIT_H
#define KR_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiroku/error.h"
#include "kiroku/store.h"

#define KR_AUDIT_HASH_LEN   32
#define KR_AUDIT_ACTOR_MAX  128 /* bytes */
#define KR_AUDIT_ACTION_MAX 64
#define KR_AUDIT_DETAIL_MAX 4096

/* Appends one entry: actor ("operator:alice", "node:school-12-pc1", "hub"), action (a dotted word such as
 * "incident.triage": letters, digits, '.', '_', '-'), detail (free text; may be "" but not NULL). Joins the
 * caller's open transaction, else writes in its own. KR_ERR_INVALID for an empty or over-long actor or
 * action, or an over-long detail; on error nothing is written. */
kr_status kr_audit_append(struct kr_store *st, const char *actor, const char *action, const char *detail,
                          struct kr_error *err);

/* The actor text for the operator running this process: "operator:<login>", with "(sudo:<user>)" appended when
 * run through sudo. Can't fail (falls back to the numeric uid). */
void kr_audit_operator(char *out, size_t n);

struct kr_audit_entry {
	uint64_t id;
	int64_t ts_ms;
	const char *actor, *action, *detail; /* valid during the callback only */
	uint8_t prev_hash[KR_AUDIT_HASH_LEN];
	uint8_t hash[KR_AUDIT_HASH_LEN];
};

typedef kr_status (*kr_audit_fn)(void *ctx, const struct kr_audit_entry *e, struct kr_error *err);

/* Calls fn for each entry with id >= from_id, oldest first; stops at fn's first error. Reads only. */
kr_status kr_audit_list(struct kr_store *st, uint64_t from_id, kr_audit_fn fn, void *ctx, struct kr_error *err);

struct kr_audit_verify_result {
	bool intact;      /* the whole chain checks out (and matches the anchor, if one was given) */
	uint64_t entries; /* entries read */
	uint64_t head_id; /* the newest entry that checked out (0: none) */
	char head_hash[2 * KR_AUDIT_HASH_LEN + 1]; /* its hash, hex: record it somewhere else as an anchor */
	uint64_t bad_id;                           /* !intact: the first entry found changed or removed */
	char problem[384];                         /* !intact: what was found, naming the entry */
};

/* Walks the chain from entry 1: ids without gaps, each entry's hash recomputed, each link to the previous
 * entry, the head in meta; and, when anchor_hash_hex is not NULL, that entry anchor_id has that hash.
 * KR_OK when the walk could be done (res->intact says the verdict); an error only when the store cannot be
 * read. Reads only. */
kr_status kr_audit_verify(struct kr_store *st, uint64_t anchor_id, const char *anchor_hash_hex,
                          struct kr_audit_verify_result *res, struct kr_error *err);

#endif
