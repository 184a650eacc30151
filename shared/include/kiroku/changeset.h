/* changeset.h: changes and change-sets in memory, and their CBOR encoding (schema/changeset.cddl).
 *
 * A change is one writer's edit of one record: the record, the writer (origin node and its sequence
 * number), one HLC timestamp, and the field writes, each with the version of the field its writer saw
 * (the base). A delete is a change that writes "_deleted" = true and lists, in `seen`, the version of
 * every field its writer saw. A change-set is a batch of changes with an envelope (sender, acks, the
 * hub-journal range it covers, ...).
 *
 * Decoding never trusts the input: the size, every count, every length and every string is bounded
 * (struct kr_limits), every length is checked against the bytes left, nested items where a scalar
 * belongs, indefinite lengths, unknown keys of the wrong type and trailing bytes are refused with a
 * reason. A decoded change-set owns all its memory in its arena: kr_changeset_release frees it.
 */
#ifndef KR_CHANGESET_H
#define KR_CHANGESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiroku/buf.h"
#include "kiroku/error.h"
#include "kiroku/ids.h"

#define KR_FORMAT_VERSION 1
#define KR_NAME_MAX 64          /* kind and field names */
#define KR_FIELD_DELETED "_deleted"

enum kr_value_type {
	KR_VAL_NULL = 0, /* a cleared field */
	KR_VAL_TEXT,
	KR_VAL_INT,
	KR_VAL_BOOL,
};

struct kr_value {
	enum kr_value_type type;
	int64_t i;      /* KR_VAL_INT, KR_VAL_BOOL (0 or 1) */
	const char *s;  /* KR_VAL_TEXT: NUL-terminated UTF-8 */
	size_t len;     /* KR_VAL_TEXT: strlen(s) */
};

bool kr_value_eq(const struct kr_value *a, const struct kr_value *b);

struct kr_write {
	const char *field;
	struct kr_value value;
	struct kr_version base; /* the version of this field the writer saw; none for a new field */
};

struct kr_seen {
	const char *field;
	struct kr_version version;
};

struct kr_change {
	const char *origin;       /* node that made the change */
	uint64_t seq;             /* origin's sequence number, 1, 2, 3, ... */
	kr_ulid record;
	const char *kind;
	const char *facility;
	uint64_t hlc;             /* one timestamp for every write of the change */
	struct kr_version del_base; /* the "_deleted" version the writer saw (none if never deleted) */
	size_t nwrites;
	struct kr_write *writes;
	size_t nseen;             /* deletes only: the field versions the deleter saw */
	struct kr_seen *seen;
	/* Set by the decoder: the change's own encoded bytes inside the decoded input. */
	const uint8_t *raw;
	size_t raw_len;
};

struct kr_ack {
	const char *node;
	uint64_t seq; /* the highest sequence number of node that the hub has committed */
};

struct kr_changeset {
	uint32_t format;
	const char *sender;       /* node that built the set */
	const char *facility;     /* sender's facility, or the facility a hub export is for */
	size_t nchanges;
	struct kr_change *changes;
	size_t nacks;
	struct kr_ack *acks;
	bool has_range;           /* hub -> agent: the hub-journal range (from, to] the set covers */
	uint64_t from, to;
	bool more;                /* hub -> agent: more changes are waiting after `to` */
	bool has_since;           /* agent -> hub: the hub-journal position the agent has applied */
	uint64_t since;
	uint64_t catalogue_version;
	bool recover;             /* agent -> hub: the agent is recovering (its store was restored from a backup or
	                             reinstalled): answer with the facility's changes after `since` including the
	                             agent's own (kiroku-agent recover). Such a request carries no changes */
	struct kr_arena arena;    /* owns everything above after decode */
};

struct kr_limits {
	size_t max_bytes;    /* whole encoded set */
	size_t max_changes;  /* changes in one set */
	size_t max_writes;   /* writes (and seen entries) in one change */
	size_t max_text;     /* bytes of one text value */
	size_t max_acks;
};

/* The defaults: 8 MiB, 20,000 changes, 256 writes, 64 KiB text, 1,024 acks. */
extern const struct kr_limits kr_default_limits;

/* Decodes buf into cs (which the caller owns; call kr_changeset_release after success or failure).
 * On error cs holds nothing usable and err names the first thing that was wrong, with its byte offset. */
kr_status kr_changeset_decode(const uint8_t *buf, size_t len, const struct kr_limits *lim, struct kr_changeset *cs,
			      struct kr_error *err);
void kr_changeset_release(struct kr_changeset *cs);

/* Appends the CBOR encoding of one change to out. On error out is unchanged. */
kr_status kr_change_encode(const struct kr_change *c, struct kr_buf *out, struct kr_error *err);

/* Appends a whole change-set: the envelope fields of cs, and as its changes the nchanges encoded
 * changes lying back to back in changes_raw (as kr_change_encode writes them, or as stored in an outbox).
 * cs->changes and cs->nchanges are ignored. On error out is unchanged. */
kr_status kr_changeset_encode_raw(const struct kr_changeset *cs, const uint8_t *changes_raw, size_t changes_len,
				  size_t nchanges, struct kr_buf *out, struct kr_error *err);

/* Appends a whole change-set, encoding cs->changes. On error out is unchanged. */
kr_status kr_changeset_encode(const struct kr_changeset *cs, struct kr_buf *out, struct kr_error *err);

#endif
