/* merge.c: the merge rules (per-field last writer wins, conflicts at the hub) and kr_merge.
 *
 * The winner of two writes to one field is the one with the larger (HLC, node id): the same on every
 * replica, whatever the order of arrival (invariant 3). At the hub, where every facility's changes meet,
 * a value overwritten by a write whose writer had not seen it (its base is not that value's version), or
 * an arriving write that loses to a version whose writer had not seen it, is kept in a conflict entry
 * when the two values differ (invariant 4). An edit and a delete that did not see each other are a
 * conflict too. Conflict entries are records of the system kind "_conflict", written by the hub as its
 * own changes, so they travel to the facility's agents like any other change.
 */
#include "store_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cbor_pull.h"

static kr_status conflict_add(struct kr_conflicts *cs, const struct kr_conflict *c)
{
	if (cs->n == cs->cap) {
		size_t cap = cs->cap ? cs->cap * 2 : 8;
		struct kr_conflict *v = realloc(cs->v, cap * sizeof *v);
		if (!v)
			return KR_ERR_NOMEM;
		cs->v = v;
		cs->cap = cap;
	}
	cs->v[cs->n++] = *c;
	return KR_OK;
}

static bool is_system_field(const char *name) { return name[0] == '_'; }

static const struct kr_version *seen_version(const struct kr_change *c, const char *field)
{
	for (size_t i = 0; i < c->nseen; i++)
		if (strcmp(c->seen[i].field, field) == 0)
			return &c->seen[i].version;
	return NULL;
}

static bool change_is_delete(const struct kr_change *c)
{
	for (size_t i = 0; i < c->nwrites; i++)
		if (strcmp(c->writes[i].field, KR_FIELD_DELETED) == 0 && c->writes[i].value.type == KR_VAL_BOOL &&
		    c->writes[i].value.i)
			return true;
	return false;
}

kr_status kr_apply_change(struct kr_record *rec, const struct kr_change *c, struct kr_conflicts *conflicts,
			  struct kr_error *err)
{
	const struct kr_version cv = {c->hlc, c->origin};
	static const struct kr_version none = {0, NULL};
	const struct kr_field_state *del = kr_record_field(rec, KR_FIELD_DELETED);
	struct kr_field_state *fields;
	struct kr_conflict k;
	kr_status s = KR_OK;

	/* Delete meets edit, either way round. */
	if (conflicts && change_is_delete(c)) {
		for (size_t i = 0; i < rec->nfields && !s; i++) {
			const struct kr_field_state *g = &rec->fields[i];
			const struct kr_version *saw = seen_version(c, g->name);
			if (is_system_field(g->name) || kr_version_eq(saw ? saw : &none, &g->version))
				continue;
			k = (struct kr_conflict){.field = g->name, .is_delete = true, .winner = cv,
						 .loser = g->version, .loser_value = g->value};
			s = conflict_add(conflicts, &k);
		}
	} else if (conflicts && del && del->value.type == KR_VAL_BOOL && del->value.i &&
		   !kr_version_eq(&c->del_base, &del->version)) {
		for (size_t i = 0; i < c->nwrites && !s; i++) {
			const struct kr_write *w = &c->writes[i];
			if (is_system_field(w->field))
				continue;
			k = (struct kr_conflict){.field = w->field, .is_delete = true, .winner = del->version,
						 .loser = cv, .loser_value = w->value};
			s = conflict_add(conflicts, &k);
		}
	}
	if (s)
		return kr_fail(err, s, "out of memory merging a change");

	/* Room for every write to be a new field; the array stays sorted by name. */
	fields = kr_arena_alloc(&rec->arena, (rec->nfields + c->nwrites + 1) * sizeof *fields);
	if (!fields)
		return kr_fail(err, KR_ERR_NOMEM, "out of memory merging a change");
	if (rec->nfields)
		memcpy(fields, rec->fields, rec->nfields * sizeof *fields);
	rec->fields = fields;

	for (size_t i = 0; i < c->nwrites; i++) {
		const struct kr_write *w = &c->writes[i];
		size_t lo = 0, hi = rec->nfields;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (strcmp(fields[mid].name, w->field) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		struct kr_field_state *f = &fields[lo];
		if (lo == rec->nfields || strcmp(f->name, w->field) != 0) {
			memmove(f + 1, f, (rec->nfields - lo) * sizeof *f);
			rec->nfields++;
			*f = (struct kr_field_state){.name = w->field, .value = w->value, .version = cv, .base = w->base};
			continue;
		}
		int cmp = kr_version_cmp(&cv, &f->version);
		if (cmp == 0)
			continue; /* this very write, delivered again */
		if (cmp > 0) {
			if (conflicts && !kr_version_eq(&w->base, &f->version) && !kr_value_eq(&w->value, &f->value)) {
				k = (struct kr_conflict){.field = f->name, .winner = cv, .winner_value = w->value,
							 .loser = f->version, .loser_value = f->value};
				if (conflict_add(conflicts, &k))
					return kr_fail(err, KR_ERR_NOMEM, "out of memory merging a change");
			}
			f->value = w->value;
			f->version = cv;
			f->base = w->base;
		} else if (conflicts && !kr_version_eq(&f->base, &cv) && !kr_value_eq(&w->value, &f->value)) {
			k = (struct kr_conflict){.field = f->name, .winner = f->version, .winner_value = f->value,
						 .loser = cv, .loser_value = w->value};
			if (conflict_add(conflicts, &k))
				return kr_fail(err, KR_ERR_NOMEM, "out of memory merging a change");
		}
	}
	del = kr_record_field(rec, KR_FIELD_DELETED);
	rec->deleted = del && del->value.type == KR_VAL_BOOL && del->value.i;
	if (c->hlc > rec->updated_hlc)
		rec->updated_hlc = c->hlc;
	if (!rec->created_hlc)
		rec->created_hlc = c->hlc;
	return KR_OK;
}

/* ---- The hub side ---- */

struct node_row {
	bool known;
	char facility[KR_ID_MAX + 1];
	uint64_t last_seq;
	bool revoked;
};

static kr_status node_get(struct kr_store *st, const char *node, struct node_row *row, struct kr_error *err)
{
	sqlite3_stmt *q = st->stmt[STMT_NODE_GET];
	int rc;

	memset(row, 0, sizeof *row);
	sqlite3_bind_text(q, 1, node, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		row->known = true;
		snprintf(row->facility, sizeof row->facility, "%s", (const char *)sqlite3_column_text(q, 0));
		row->last_seq = (uint64_t)sqlite3_column_int64(q, 1);
		row->revoked = sqlite3_column_int(q, 2) != 0;
	}
	sqlite3_reset(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return kr_store_fail(st, err, rc, "reading the node list");
	return KR_OK;
}

/* What a node may write: checked for every change before anything is applied. */
static kr_status hub_check_change(struct kr_store *st, const struct kr_change *c, uint64_t idx, const char *facility,
				  struct kr_error *err)
{
	const struct kr_kind_def *kind = kr_catalogue_kind(st->cat, c->kind);

	if (strcmp(c->facility, facility) != 0)
		return kr_fail(err, KR_ERR_FORBIDDEN, "change %" PRIu64 ": record of facility \"%s\", but the sender belongs to \"%s\"",
			       idx, c->facility, facility);
	if (!kind)
		return kr_fail(err, c->kind[0] == '_' ? KR_ERR_FORBIDDEN : KR_ERR_INVALID,
			       "change %" PRIu64 ": unknown record kind \"%s\"", idx, c->kind);
	for (size_t i = 0; i < c->nwrites; i++) {
		const struct kr_write *w = &c->writes[i];
		const struct kr_field_def *f;
		kr_status s;

		if (strcmp(w->field, KR_FIELD_DELETED) == 0) {
			if (w->value.type != KR_VAL_BOOL || !w->value.i)
				return kr_fail(err, KR_ERR_FORBIDDEN, "change %" PRIu64 ": only the hub can restore a deleted record",
					       idx);
			if (kind->append_only)
				return kr_fail(err, KR_ERR_FORBIDDEN,
					       "change %" PRIu64 ": %s records are a ledger and cannot be deleted", idx, c->kind);
			continue;
		}
		if (is_system_field(w->field))
			return kr_fail(err, KR_ERR_FORBIDDEN, "change %" PRIu64 ": field \"%s\" is reserved for the system", idx,
				       w->field);
		f = kr_catalogue_field(kind, w->field);
		if (!f)
			continue; /* a field of a newer catalogue: kept, not dropped */
		if (f->operator_only)
			return kr_fail(err, KR_ERR_FORBIDDEN, "change %" PRIu64 ": field \"%s\" is written only at the hub", idx,
				       w->field);
		if ((s = kr_catalogue_check_value(f, &w->value, err))) {
			kr_error_prefix(err, "change %" PRIu64 "", idx);
			return s;
		}
	}
	return KR_OK;
}

/* Writes one conflict entry as a "_conflict" record of the hub: a change of the hub's own. */
static kr_status open_conflict(struct kr_store *st, const struct kr_record *rec, const struct kr_conflict *k,
			       struct kr_error *err)
{
	char id_text[KR_ULID_LEN + 1];
	struct kr_write w[10];
	kr_ulid cid;
	size_t n = 0;
	kr_status s;

	kr_ulid_format(&rec->id, id_text);
	if ((s = kr_ulid_new(kr_now_ms(), &cid, err)))
		return s;
#define TEXT(name, str) w[n++] = (struct kr_write){name, {.type = KR_VAL_TEXT, .s = (str), .len = strlen(str)}, {0, NULL}}
#define INT(name, v) w[n++] = (struct kr_write){name, {.type = KR_VAL_INT, .i = (int64_t)(v)}, {0, NULL}}
	TEXT("record", id_text);
	TEXT("field", k->field);
	TEXT("type", k->is_delete ? "delete" : "value");
	w[n++] = (struct kr_write){"winner_value", k->winner_value, {0, NULL}};
	TEXT("winner_node", k->winner.node);
	INT("winner_hlc", k->winner.hlc);
	w[n++] = (struct kr_write){"loser_value", k->loser_value, {0, NULL}};
	TEXT("loser_node", k->loser.node);
	INT("loser_hlc", k->loser.hlc);
	TEXT("status", "open");
#undef TEXT
#undef INT
	return kr_record_write(st, &cid, "_conflict", rec->facility, w, n, false, err);
}

static kr_status journal_add(struct kr_store *st, const char *facility, const char *origin, uint64_t first,
			     uint64_t last, size_t n, const uint8_t *raw, size_t len, struct kr_error *err)
{
	sqlite3_stmt *q = st->stmt[STMT_JOURNAL_ADD];
	int rc;

	sqlite3_bind_text(q, 1, facility, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)first);
	sqlite3_bind_int64(q, 4, (sqlite3_int64)last);
	sqlite3_bind_int64(q, 5, (sqlite3_int64)n);
	sqlite3_bind_blob(q, 6, raw, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	if (rc != SQLITE_DONE)
		return kr_store_fail(st, err, rc, "writing the journal");
	return KR_OK;
}

kr_status kr_log_own_change(struct kr_store *st, const struct kr_change *c, struct kr_buf *scratch,
			    struct kr_error *err)
{
	kr_status s;
	int rc;

	scratch->len = 0;
	if ((s = kr_change_encode(c, scratch, err)))
		return s;
	if (st->role == KR_ROLE_HUB)
		return journal_add(st, c->facility, c->origin, c->seq, c->seq, 1, scratch->data, scratch->len, err);
	sqlite3_stmt *q = st->stmt[STMT_OUTBOX_ADD];
	sqlite3_bind_int64(q, 1, (sqlite3_int64)c->seq);
	sqlite3_bind_blob(q, 2, scratch->data, (int)scratch->len, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	if (rc != SQLITE_DONE)
		return kr_store_fail(st, err, rc, "writing the outbox");
	return KR_OK;
}

static kr_status load_or_new(struct kr_store *st, const struct kr_change *c, struct kr_record *rec, bool *is_new,
			     struct kr_error *err)
{
	kr_status s;

	memset(rec, 0, sizeof *rec);
	kr_arena_init(&rec->arena, 0);
	s = kr_state_load(st, &c->record, rec, err);
	*is_new = s == KR_ERR_NOT_FOUND;
	if (*is_new) {
		rec->id = c->record;
		rec->kind = c->kind;
		rec->facility = c->facility;
		return KR_OK;
	}
	return s;
}

/* The changes cs->changes[0..n) are ones the hub already has (origin, seq): each must be the very change the
 * hub committed, byte for byte. A node whose store was restored from a backup, or reinstalled, may have made
 * new changes under numbers it had used before; skipping those as replays would lose them without a word.
 * Replays are rare (an answer lost on the way), so reading the journal rows that hold them costs little. */
static kr_status check_replays(struct kr_store *st, const struct kr_changeset *cs, size_t n, struct kr_error *err)
{
	const uint64_t lo = cs->changes[0].seq, hi = cs->changes[n - 1].seq;
	sqlite3_stmt *q;
	kr_status s = KR_OK;
	int rc = sqlite3_prepare_v2(st->db,
				    "SELECT n, changes FROM journal WHERE origin = ?1 AND last_seq >= ?2 AND first_seq <= ?3 "
				    "ORDER BY first_seq",
				    -1, &q, NULL);

	if (rc != SQLITE_OK)
		return kr_store_fail(st, err, rc, "reading the journal");
	sqlite3_bind_text(q, 1, cs->sender, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)lo);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)hi);
	while (!s && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		size_t rows = (size_t)sqlite3_column_int64(q, 0), len = (size_t)sqlite3_column_bytes(q, 1);
		struct kr_changeset env = {.format = KR_FORMAT_VERSION, .sender = cs->sender}, got = {0};
		struct kr_limits lim = kr_default_limits;
		struct kr_buf buf;

		/* The row is the changes' bytes back to back: wrap them in an envelope to split them. */
		kr_buf_init(&buf, len + 128);
		s = kr_changeset_encode_raw(&env, len ? sqlite3_column_blob(q, 1) : NULL, len, rows, &buf, err);
		lim.max_bytes = buf.len;
		lim.max_changes = rows;
		if (!s && (s = kr_changeset_decode(buf.data, buf.len, &lim, &got, err)) != KR_OK) {
			kr_error_prefix(err, "reading the journal of node \"%s\"", cs->sender);
			s = KR_ERR_STORE;
		}
		for (size_t i = 0; !s && i < got.nchanges; i++) {
			const struct kr_change *had = &got.changes[i], *c;
			if (had->seq < lo || had->seq > hi)
				continue;
			c = &cs->changes[had->seq - lo];
			if (c->raw_len != had->raw_len || memcmp(c->raw, had->raw, c->raw_len) != 0)
				s = kr_fail(err, KR_ERR_CONFLICT,
					    "change %" PRIu64 " of node \"%s\" differs from the change %" PRIu64
					    " the hub committed earlier under that number (nothing was applied): a store "
					    "restored from a backup or reinstalled reuses change numbers; run 'kiroku-agent "
					    "recover' on it",
					    c->seq, cs->sender, had->seq);
		}
		kr_changeset_release(&got);
		kr_buf_release(&buf);
	}
	if (!s && rc != SQLITE_DONE)
		s = kr_store_fail(st, err, rc, "reading the journal");
	sqlite3_finalize(q);
	return s;
}

static kr_status hub_merge(struct kr_store *st, const struct kr_changeset *cs, const struct kr_merge_opts *o,
			   struct kr_merge_result *res, struct kr_error *err)
{
	const char *facility = o && o->peer_facility ? o->peer_facility : NULL;
	struct kr_conflicts conflicts = {0};
	struct kr_buf scratch;
	struct node_row node;
	size_t first_new = cs->nchanges;
	uint64_t expected, max_hlc = 0;
	kr_status s;

	if (o && o->peer_node && strcmp(cs->sender, o->peer_node) != 0)
		return kr_fail(err, KR_ERR_FORBIDDEN, "the change-set is from node \"%s\" but was sent by node \"%s\"",
			       cs->sender, o->peer_node);
	if (strcmp(cs->sender, st->node) == 0)
		return kr_fail(err, KR_ERR_FORBIDDEN, "the change-set is from this hub itself (node \"%s\")", st->node);
	if ((s = node_get(st, cs->sender, &node, err)))
		return s;
	if (node.revoked)
		return kr_fail(err, KR_ERR_FORBIDDEN, "node \"%s\" has been revoked", cs->sender);
	/* The facility comes from the certificate or the operator, or from what the hub already knows of
	 * the node: never from the payload. */
	if (!facility && node.known)
		facility = node.facility;
	if (!facility)
		return kr_fail(err, KR_ERR_FORBIDDEN,
			       "node \"%s\" is not known to this hub: the operator must name its facility", cs->sender);
	if (node.known && strcmp(node.facility, facility) != 0)
		return kr_fail(err, KR_ERR_FORBIDDEN, "node \"%s\" belongs to facility \"%s\", not \"%s\"", cs->sender,
			       node.facility, facility);
	if (cs->facility && strcmp(cs->facility, facility) != 0)
		return kr_fail(err, KR_ERR_FORBIDDEN, "the change-set names facility \"%s\" but its sender belongs to \"%s\"",
			       cs->facility, facility);

	/* Validate the whole set before writing anything. */
	expected = node.last_seq + 1;
	for (size_t i = 0; i < cs->nchanges; i++) {
		const struct kr_change *c = &cs->changes[i];
		if (strcmp(c->origin, cs->sender) != 0)
			return kr_fail(err, KR_ERR_FORBIDDEN, "change %" PRIu64 ": made by node \"%s\"; a node sends only its own changes",
				       c->seq, c->origin);
		if (i > 0 && c->seq != cs->changes[i - 1].seq + 1)
			return kr_fail(err, KR_ERR_MALFORMED, "change %zu of the set: sequence %" PRIu64 " does not follow %" PRIu64, i + 1,
				       c->seq, cs->changes[i - 1].seq);
		if (c->seq < expected)
			continue;
		if (first_new == cs->nchanges) {
			first_new = i;
			if (c->seq > expected) {
				if (err)
					err->expected = expected;
				return kr_fail(err, KR_ERR_GAP, "sequence gap from node \"%s\": expected change %" PRIu64
								", got %" PRIu64, cs->sender, expected, c->seq);
			}
		}
		if ((s = hub_check_change(st, c, c->seq, facility, err)))
			return s;
		if (c->hlc > max_hlc)
			max_hlc = c->hlc;
	}
	if (first_new > 0 && (s = check_replays(st, cs, first_new, err)))
		return s;
	res->skipped = first_new;
	res->acked = node.last_seq;

	kr_buf_init(&scratch, 0);
	if ((s = kr_txn_begin(st, err)))
		goto out;
	for (size_t i = first_new; i < cs->nchanges; i++) {
		const struct kr_change *c = &cs->changes[i];
		struct kr_record rec;
		bool is_new;

		conflicts.n = 0;
		if ((s = load_or_new(st, c, &rec, &is_new, err)))
			goto rec_out;
		if (!is_new && strcmp(rec.facility, c->facility) != 0) {
			s = kr_fail(err, KR_ERR_FORBIDDEN, "change %" PRIu64 ": the record belongs to facility \"%s\"", c->seq,
				    rec.facility);
			goto rec_out;
		}
		if (!is_new && strcmp(rec.kind, c->kind) != 0) {
			s = kr_fail(err, KR_ERR_INVALID, "change %" PRIu64 ": the record is a %s, not a %s", c->seq, rec.kind, c->kind);
			goto rec_out;
		}
		if (!is_new) {
			const struct kr_kind_def *kd = kr_catalogue_kind(st->cat, c->kind);
			if (kd && kd->append_only) {
				s = kr_fail(err, KR_ERR_FORBIDDEN, "change %" PRIu64 ": %s records are a ledger and cannot be edited",
					    c->seq, c->kind);
				goto rec_out;
			}
		}
		if ((s = kr_apply_change(&rec, c, &conflicts, err)) || (s = kr_state_save(st, &rec, &scratch, err)))
			goto rec_out;
		for (size_t k = 0; k < conflicts.n && !s; k++)
			s = open_conflict(st, &rec, &conflicts.v[k], err);
		res->conflicts += conflicts.n;
	rec_out:
		kr_record_release(&rec);
		if (s)
			goto fail;
		res->applied++;
	}
	if (first_new < cs->nchanges) {
		const struct kr_change *a = &cs->changes[first_new], *z = &cs->changes[cs->nchanges - 1];
		int64_t skew = (int64_t)kr_hlc_phys(max_hlc) - (int64_t)kr_now_ms();
		sqlite3_stmt *q = st->stmt[STMT_NODE_PUT];
		int rc;

		if ((s = journal_add(st, facility, cs->sender, a->seq, z->seq, cs->nchanges - first_new, a->raw,
				     (size_t)(z->raw + z->raw_len - a->raw), err)))
			goto fail;
		sqlite3_bind_text(q, 1, cs->sender, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, facility, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, (sqlite3_int64)z->seq);
		sqlite3_bind_int64(q, 4, (sqlite3_int64)kr_now_ms());
		sqlite3_bind_int64(q, 5, skew);
		rc = sqlite3_step(q);
		sqlite3_reset(q);
		if (rc != SQLITE_DONE) {
			s = kr_store_fail(st, err, rc, "updating the node list");
			goto fail;
		}
		st->hlc = kr_hlc_recv(st->hlc, max_hlc, kr_now_ms());
		if ((s = kr_store_save_clock(st, err)))
			goto fail;
		res->acked = z->seq;
		res->skew_ms = skew;
	}
	if (o && o->sleep_before_commit_ms && first_new < cs->nchanges) {
		struct timespec ts = {o->sleep_before_commit_ms / 1000, (long)(o->sleep_before_commit_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	if ((s = kr_txn_commit(st, err)))
		goto out;
	if (o && o->sleep_after_commit_ms) {
		struct timespec ts = {o->sleep_after_commit_ms / 1000, (long)(o->sleep_after_commit_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	goto out;
fail:
	kr_txn_rollback(st);
	res->applied = 0;
	res->conflicts = 0;
out:
	free(conflicts.v);
	kr_buf_release(&scratch);
	return s;
}

/* ---- The agent side ---- */

static kr_status agent_merge(struct kr_store *st, const struct kr_changeset *cs, const struct kr_merge_opts *o,
			     struct kr_merge_result *res, struct kr_error *err)
{
	bool recover = o && o->recover;
	uint64_t cursor = kr_store_meta_u64(st, "cursor"), max_hlc = 0;
	sqlite3_stmt *q = st->stmt[STMT_APPLIED_ADD];
	struct kr_buf scratch;
	kr_status s;

	if (!cs->has_range)
		return kr_fail(err, KR_ERR_FORBIDDEN,
			       "these changes come from node \"%s\", not from the hub: agents take changes only from the "
			       "hub (carry this file to the hub and import it there)",
			       cs->sender);
	if (cs->from > cursor) {
		if (err)
			err->expected = cursor;
		return kr_fail(err, KR_ERR_GAP,
			       "these hub changes start after position %" PRIu64 " but this agent has applied up to %" PRIu64
			       ": import the earlier export first, or export from the hub with --since %" PRIu64,
			       cs->from, cursor, cursor);
	}
	if (cs->facility && strcmp(cs->facility, st->facility) != 0)
		return kr_fail(err, KR_ERR_FORBIDDEN, "these changes are for facility \"%s\", not this agent's \"%s\"",
			       cs->facility, st->facility);
	for (size_t i = 0; i < cs->nchanges; i++)
		if (strcmp(cs->changes[i].facility, st->facility) != 0)
			return kr_fail(err, KR_ERR_FORBIDDEN, "change %zu of the set is for facility \"%s\", not this agent's \"%s\"", i + 1,
				       cs->changes[i].facility, st->facility);

	kr_buf_init(&scratch, 0);
	if ((s = kr_txn_begin(st, err)))
		goto out;
	for (size_t i = 0; i < cs->nchanges; i++) {
		const struct kr_change *c = &cs->changes[i];
		struct kr_record rec;
		bool is_new;
		int rc;

		sqlite3_bind_text(q, 1, c->origin, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)c->seq);
		rc = sqlite3_step(q);
		sqlite3_reset(q);
		if (rc != SQLITE_DONE) {
			s = kr_store_fail(st, err, rc, "recording an applied change");
			goto fail;
		}
		if (sqlite3_changes(st->db) == 0) {
			res->skipped++;
			continue;
		}
		if (c->hlc > max_hlc)
			max_hlc = c->hlc;
		s = load_or_new(st, c, &rec, &is_new, err);
		if (!s)
			s = kr_apply_change(&rec, c, NULL, err);
		if (!s)
			s = kr_state_save(st, &rec, &scratch, err);
		kr_record_release(&rec);
		if (s)
			goto fail;
		res->applied++;
	}
	st->hlc = kr_hlc_recv(st->hlc, max_hlc, kr_now_ms());
	if ((s = kr_store_save_clock(st, err)))
		goto fail;
	if (cs->to > cursor && (s = kr_store_meta_set_u64(st, "cursor", cs->to, err)))
		goto fail;
	res->cursor = cs->to > cursor ? cs->to : cursor;
	for (size_t i = 0; i < cs->nacks; i++) {
		if (strcmp(cs->acks[i].node, st->node) != 0)
			continue;
		if (recover)
			res->acked = cs->acks[i].seq; /* kr_sync_recover reconciles the outbox with it */
		else if ((s = kr_outbox_ack(st, cs->acks[i].seq, err)))
			goto fail;
	}
	if ((s = kr_txn_commit(st, err)))
		goto out;
	goto out;
fail:
	kr_txn_rollback(st);
	res->applied = 0;
out:
	kr_buf_release(&scratch);
	return s;
}

kr_status kr_merge(struct kr_store *st, const struct kr_changeset *cs, const struct kr_merge_opts *opts,
		   struct kr_merge_result *res, struct kr_error *err)
{
	memset(res, 0, sizeof *res);
	if (cs->format != KR_FORMAT_VERSION)
		return kr_fail(err, KR_ERR_MALFORMED, "change-set format %u is not supported", cs->format);
	if (st->role == KR_ROLE_HUB)
		return hub_merge(st, cs, opts, res, err);
	return agent_merge(st, cs, opts, res, err);
}
