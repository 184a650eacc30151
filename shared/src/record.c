/* record.c: local writes (staff at an agent, the operator at the hub), listing, status and dumps. */
#include "store_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

kr_status kr_record_write(struct kr_store *st, const kr_ulid *id, const char *kind, const char *facility,
			  const struct kr_write *writes, size_t n, bool is_delete, struct kr_error *err)
{
	struct kr_record rec;
	struct kr_buf scratch;
	struct kr_change c;
	const struct kr_field_state *del;
	kr_status s;

	memset(&rec, 0, sizeof rec);
	kr_arena_init(&rec.arena, 0);
	kr_buf_init(&scratch, 0);
	if ((s = kr_txn_begin(st, err)))
		goto out_nokill;
	s = kr_state_load(st, id, &rec, err);
	if (s == KR_ERR_NOT_FOUND) {
		rec.id = *id;
		rec.kind = kind;
		rec.facility = facility;
		s = KR_OK;
	}
	if (s)
		goto fail;

	memset(&c, 0, sizeof c);
	c.origin = st->node;
	c.seq = ++st->last_seq;
	c.record = *id;
	c.kind = rec.kind;
	c.facility = rec.facility;
	c.hlc = st->hlc = kr_hlc_tick(st->hlc, kr_now_ms());
	c.writes = (struct kr_write *)writes;
	c.nwrites = n;
	del = kr_record_field(&rec, KR_FIELD_DELETED);
	if (del)
		c.del_base = del->version;
	if (is_delete) {
		/* A delete says which version of every field its writer saw: an edit it did not see is a conflict. */
		c.seen = kr_arena_alloc(&rec.arena, (rec.nfields + 1) * sizeof *c.seen);
		if (!c.seen) {
			s = kr_fail(err, KR_ERR_NOMEM, "out of memory deleting a record");
			goto fail;
		}
		for (size_t i = 0; i < rec.nfields; i++)
			if (rec.fields[i].name[0] != '_')
				c.seen[c.nseen++] = (struct kr_seen){rec.fields[i].name, rec.fields[i].version};
	}
	if ((s = kr_apply_change(&rec, &c, NULL, err)) || (s = kr_state_save(st, &rec, &scratch, err)) ||
	    (s = kr_log_own_change(st, &c, &scratch, err)) || (s = kr_store_save_clock(st, err)))
		goto fail;
	s = kr_txn_commit(st, err);
	goto out;
fail:
	kr_txn_rollback(st);
out:
	;
out_nokill:
	kr_record_release(&rec);
	kr_buf_release(&scratch);
	return s;
}

/* Typed writes from the user's text, checked against the catalogue. Strings point into fields[]. */
static kr_status parse_fields(struct kr_store *st, const struct kr_kind_def *kind, const struct kr_field_text *fields,
			      size_t n, unsigned flags, struct kr_arena *arena, struct kr_write *out,
			      struct kr_error *err)
{
	for (size_t i = 0; i < n; i++) {
		const struct kr_field_def *f = kr_catalogue_field(kind, fields[i].name);
		kr_status s;

		if (!f) {
			char known[1024];
			size_t len = 0;
			known[0] = 0;
			for (size_t k = 0; k < kind->nfields && len < sizeof known - 80; k++)
				len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", k ? ", " : "",
							kind->fields[k].name);
			return kr_fail(err, KR_ERR_INVALID, "%s: no such field in %s records (fields: %s)", fields[i].name,
				       kind->name, known);
		}
		if (f->operator_only && !(flags & KR_WRITE_OPERATOR && st->role == KR_ROLE_HUB))
			return kr_fail(err, KR_ERR_FORBIDDEN, "%s: this field is set only by the hub operator", f->name);
		for (size_t k = 0; k < i; k++)
			if (strcmp(fields[k].name, fields[i].name) == 0)
				return kr_fail(err, KR_ERR_INVALID, "%s: given twice", f->name);
		if ((s = kr_catalogue_parse_value_arena(f, fields[i].text, arena, &out[i].value, err)))
			return s;
		if (f->required && out[i].value.type == KR_VAL_NULL)
			return kr_fail(err, KR_ERR_INVALID, "%s: is required and cannot be empty", f->name);
		out[i].field = f->name;
		out[i].base = (struct kr_version){0, NULL};
	}
	return KR_OK;
}

kr_status kr_record_create(struct kr_store *st, const char *kind, const char *facility,
			   const struct kr_field_text *fields, size_t n, unsigned flags, kr_ulid *out_id,
			   struct kr_error *err)
{
	const struct kr_kind_def *kd = kr_catalogue_kind(st->cat, kind);
	const char *names[256];
	struct kr_write *writes;
	struct kr_arena arena;
	kr_status s;

	if (!kd || kind[0] == '_') {
		char known[512];
		size_t len = 0;
		known[0] = 0;
		for (size_t k = 0; k < st->cat->nkinds && len < sizeof known - 80; k++)
			len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", k ? ", " : "",
						st->cat->kinds[k].name);
		return kr_fail(err, KR_ERR_INVALID, "unknown record kind \"%s\" (kinds: %s)", kind, known);
	}
	if (!facility || st->role == KR_ROLE_AGENT)
		facility = st->facility;
	if (!kr_id_valid(facility))
		return kr_fail(err, KR_ERR_INVALID, "a record needs a valid facility id (got \"%s\")", facility);
	if (n > 256)
		return kr_fail(err, KR_ERR_TOO_BIG, "%zu fields: at most 256", n);
	for (size_t i = 0; i < n; i++)
		names[i] = fields[i].name;
	writes = calloc(n ? n : 1, sizeof *writes);
	if (!writes)
		return kr_fail(err, KR_ERR_NOMEM, "out of memory");
	kr_arena_init(&arena, 0);
	if (!(s = parse_fields(st, kd, fields, n, flags, &arena, writes, err)) &&
	    !(s = kr_catalogue_check_required(kd, names, n, err)) && !(s = kr_ulid_new(kr_now_ms(), out_id, err)))
		s = kr_record_write(st, out_id, kd->name, facility, writes, n, false, err);
	kr_arena_release(&arena);
	free(writes);
	return s;
}

static kr_status load_editable(struct kr_store *st, const kr_ulid *id, struct kr_record *rec,
			       const struct kr_kind_def **kd, const char *what, struct kr_error *err)
{
	char text[KR_ULID_LEN + 1];
	kr_status s = kr_record_get(st, id, rec, err);

	if (s)
		return s;
	kr_ulid_format(id, text);
	*kd = kr_catalogue_kind(st->cat, rec->kind);
	if (!*kd)
		return kr_fail(err, KR_ERR_FORBIDDEN, "record %s is a %s and cannot be %s here", text, rec->kind, what);
	if (rec->deleted)
		return kr_fail(err, KR_ERR_CONFLICT, "record %s was deleted and cannot be %s", text, what);
	if ((*kd)->append_only)
		return kr_fail(err, KR_ERR_FORBIDDEN,
			       "record %s is a %s ledger entry: ledger entries are never %s; record a new entry instead",
			       text, rec->kind, what);
	if (st->role == KR_ROLE_AGENT && strcmp(rec->facility, st->facility) != 0)
		return kr_fail(err, KR_ERR_FORBIDDEN, "record %s belongs to facility %s", text, rec->facility);
	return KR_OK;
}

kr_status kr_record_edit(struct kr_store *st, const kr_ulid *id, const struct kr_field_text *fields, size_t n,
			 unsigned flags, struct kr_error *err)
{
	const struct kr_kind_def *kd;
	struct kr_record rec;
	struct kr_write *writes = NULL;
	struct kr_arena arena;
	kr_status s;

	kr_arena_init(&arena, 0);
	if (n == 0)
		return kr_fail(err, KR_ERR_INVALID, "nothing to change: give at least one --set field=value");
	if (n > 256)
		return kr_fail(err, KR_ERR_TOO_BIG, "%zu fields: at most 256", n);
	if ((s = load_editable(st, id, &rec, &kd, "edited", err)))
		goto out;
	if (!(writes = calloc(n, sizeof *writes))) {
		s = kr_fail(err, KR_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((s = parse_fields(st, kd, fields, n, flags, &arena, writes, err)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct kr_field_state *f = kr_record_field(&rec, writes[i].field);
		if (f)
			writes[i].base = f->version; /* rec stays loaded until the write is done */
	}
	s = kr_record_write(st, id, rec.kind, rec.facility, writes, n, false, err);
out:
	kr_arena_release(&arena);
	free(writes);
	kr_record_release(&rec);
	return s;
}

kr_status kr_record_delete(struct kr_store *st, const kr_ulid *id, unsigned flags, struct kr_error *err)
{
	const struct kr_kind_def *kd;
	struct kr_record rec;
	struct kr_write w = {KR_FIELD_DELETED, {.type = KR_VAL_BOOL, .i = 1}, {0, NULL}};
	kr_status s;

	(void)flags;
	if (!(s = load_editable(st, id, &rec, &kd, "deleted", err))) {
		const struct kr_field_state *f = kr_record_field(&rec, KR_FIELD_DELETED);
		if (f)
			w.base = f->version;
		s = kr_record_write(st, id, rec.kind, rec.facility, &w, 1, true, err);
	}
	kr_record_release(&rec);
	return s;
}

/* The field that dates a record of this kind: its first date or datetime field. */
static const char *date_field(const struct kr_catalogue *cat, const char *kind)
{
	const struct kr_kind_def *kd = kind ? kr_catalogue_kind(cat, kind) : NULL;
	if (!kd)
		return NULL;
	for (size_t i = 0; i < kd->nfields; i++)
		if (kd->fields[i].type == KR_FT_DATE || kd->fields[i].type == KR_FT_DATETIME)
			return kd->fields[i].name;
	return NULL;
}

kr_status kr_record_list(struct kr_store *st, const struct kr_list_filter *f, kr_record_fn fn, void *ctx,
			 struct kr_error *err)
{
	char sql[1024], path[80];
	const char *dfield = date_field(st->cat, f->kind);
	sqlite3_stmt *q;
	kr_status s = KR_OK;
	int rc, len;

	if ((f->from || f->to) && !dfield)
		return kr_fail(err, KR_ERR_INVALID, "--from/--to need --kind (the period applies to the kind's date)");
	snprintf(path, sizeof path, "$.%s", dfield ? dfield : "");
	len = snprintf(sql, sizeof sql,
		       "SELECT id FROM records WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR facility = ?2) "
		       "AND (?3 IS NULL OR json_extract(fields, '$.status') = ?3) "
		       "AND (?4 IS NULL OR substr(json_extract(fields, ?6), 1, 10) >= ?4) "
		       "AND (?5 IS NULL OR substr(json_extract(fields, ?6), 1, 10) <= ?5) %s %s ORDER BY id",
		       f->include_deleted ? "" : "AND deleted = 0",
		       f->system || (f->kind && f->kind[0] == '_') ? "" : "AND substr(kind, 1, 1) <> '_'");
	(void)len;
	rc = sqlite3_prepare_v2(st->db, sql, -1, &q, NULL);
	if (rc != SQLITE_OK)
		return kr_store_fail(st, err, rc, "listing records");
	sqlite3_bind_text(q, 1, f->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, f->facility, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, f->status, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, f->from, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, f->to, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, path, -1, SQLITE_STATIC);
	while (!s && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct kr_record rec;
		kr_ulid id;
		if (sqlite3_column_bytes(q, 0) != 16) {
			s = kr_fail(err, KR_ERR_STORE, "a record id in the store is damaged");
			break;
		}
		memcpy(id.b, sqlite3_column_blob(q, 0), 16);
		s = kr_record_get(st, &id, &rec, err);
		if (!s)
			s = fn(ctx, &rec, err);
		kr_record_release(&rec);
	}
	if (!s && rc != SQLITE_DONE)
		s = kr_store_fail(st, err, rc, "listing records");
	sqlite3_finalize(q);
	return s;
}

static uint64_t count(struct kr_store *st, const char *sql)
{
	sqlite3_stmt *q;
	uint64_t v = 0;
	if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(q) == SQLITE_ROW)
		v = (uint64_t)sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return v;
}

kr_status kr_store_status(struct kr_store *st, struct kr_store_status *s, struct kr_error *err)
{
	memset(s, 0, sizeof *s);
	s->outbox_changes = count(st, "SELECT count(*) FROM outbox");
	s->outbox_bytes = count(st, "SELECT coalesce(sum(length(change)), 0) FROM outbox");
	s->records = count(st, "SELECT count(*) FROM records WHERE deleted = 0 AND substr(kind, 1, 1) <> '_'");
	s->conflicts_open = count(st, "SELECT count(*) FROM records WHERE kind = '_conflict' AND deleted = 0 "
				      "AND json_extract(fields, '$.status') = 'open'");
	s->last_seq = st->last_seq;
	s->acked = kr_store_meta_u64(st, "acked");
	s->cursor = kr_store_meta_u64(st, "cursor");
	s->last_sync_ms = kr_store_meta_u64(st, "last_sync_ms");
	(void)err;
	return KR_OK;
}

static kr_status dump_value(struct kr_buf *out, const struct kr_value *v)
{
	switch (v->type) {
	case KR_VAL_TEXT:
		return kr_buf_printf(out, "\"%s\"", v->s);
	case KR_VAL_INT:
		return kr_buf_printf(out, "%" PRId64, v->i);
	case KR_VAL_BOOL:
		return kr_buf_printf(out, "%s", v->i ? "true" : "false");
	default:
		return kr_buf_printf(out, "null");
	}
}

kr_status kr_store_dump(struct kr_store *st, const char *facility, struct kr_buf *out, struct kr_error *err)
{
	sqlite3_stmt *q;
	kr_status s = KR_OK;
	int rc = sqlite3_prepare_v2(st->db,
				    "SELECT id, kind, facility, deleted, state FROM records WHERE (?1 IS NULL OR facility = ?1) "
				    "ORDER BY id",
				    -1, &q, NULL);
	if (rc != SQLITE_OK)
		return kr_store_fail(st, err, rc, "dumping the store");
	sqlite3_bind_text(q, 1, facility, -1, SQLITE_STATIC);
	while (!s && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct kr_record rec;
		char id[KR_ULID_LEN + 1];
		memset(&rec, 0, sizeof rec);
		kr_arena_init(&rec.arena, 0);
		if (sqlite3_column_bytes(q, 0) != 16) {
			s = kr_fail(err, KR_ERR_STORE, "a record id in the store is damaged");
			break;
		}
		memcpy(rec.id.b, sqlite3_column_blob(q, 0), 16);
		kr_ulid_format(&rec.id, id);
		s = kr_state_decode(sqlite3_column_blob(q, 4), (size_t)sqlite3_column_bytes(q, 4), &rec, err);
		if (!s)
			s = kr_buf_printf(out, "%s %s %s%s\n", id, (const char *)sqlite3_column_text(q, 1),
					  (const char *)sqlite3_column_text(q, 2), sqlite3_column_int(q, 3) ? " deleted" : "");
		for (size_t i = 0; !s && i < rec.nfields; i++) {
			const struct kr_field_state *f = &rec.fields[i];
			s = kr_buf_printf(out, "  %s=", f->name);
			if (!s)
				s = dump_value(out, &f->value);
			if (!s)
				s = kr_buf_printf(out, " @%" PRIu64 "/%s base %" PRIu64 "/%s\n", f->version.hlc, f->version.node,
						  f->base.hlc, f->base.node ? f->base.node : "-");
		}
		kr_record_release(&rec);
	}
	if (!s && rc != SQLITE_DONE)
		s = kr_store_fail(st, err, rc, "dumping the store");
	sqlite3_finalize(q);
	return s;
}
