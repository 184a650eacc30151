/* state.c: a record's merged state in memory, in its CBOR column and as the derived JSON column. */
#include "store_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbor_pull.h"

#define STATE_MAX_FIELDS 1024
#define STATE_MAX_BYTES (4u << 20)

static kr_status put_value(struct kr_buf *b, const struct kr_value *v)
{
	switch (v->type) {
	case KR_VAL_TEXT:
		return kr_cbor_put_text(b, v->s, v->len);
	case KR_VAL_INT:
		return kr_cbor_put_int(b, v->i);
	case KR_VAL_BOOL:
		return kr_cbor_put_bool(b, (int)v->i);
	case KR_VAL_NULL:
	default:
		return kr_cbor_put_null(b);
	}
}

kr_status kr_state_encode(const struct kr_record *rec, struct kr_buf *out, struct kr_error *err)
{
	size_t mark = out->len;
	kr_status s = kr_cbor_put_array(out, rec->nfields);

	for (size_t i = 0; !s && i < rec->nfields; i++) {
		const struct kr_field_state *f = &rec->fields[i];
		if ((s = kr_cbor_put_array(out, 6)) || (s = kr_cbor_put_text(out, f->name, strlen(f->name))) ||
		    (s = put_value(out, &f->value)) || (s = kr_cbor_put_uint(out, f->version.hlc)) ||
		    (s = kr_cbor_put_text(out, f->version.node, strlen(f->version.node))) ||
		    (s = kr_cbor_put_uint(out, f->base.hlc)))
			break;
		if (kr_version_none(&f->base))
			s = kr_cbor_put_null(out);
		else
			s = kr_cbor_put_text(out, f->base.node, strlen(f->base.node));
	}
	if (s) {
		out->len = mark;
		return kr_fail(err, s, "encoding a record's state: %s", kr_status_name(s));
	}
	return KR_OK;
}

static char *dup_text(struct kr_arena *a, const struct kr_cbor_item *it)
{
	if (memchr(it->p, 0, it->len))
		return NULL;
	return kr_arena_strndup(a, (const char *)it->p, it->len);
}

kr_status kr_state_decode(const uint8_t *blob, size_t len, struct kr_record *rec, struct kr_error *err)
{
	struct kr_cbor_pull r;
	struct kr_cbor_item it;
	kr_status s;

	if (len > STATE_MAX_BYTES)
		return kr_fail(err, KR_ERR_STORE, "a record's state is %zu bytes, over the limit", len);
	kr_cbor_pull_init(&r, blob, len);
	if ((s = kr_cbor_next(&r, &it, err)))
		return s;
	if (it.type != KR_CB_ARRAY || it.u > STATE_MAX_FIELDS)
		goto bad;
	rec->nfields = (size_t)it.u;
	rec->fields = kr_arena_alloc(&rec->arena, (rec->nfields ? rec->nfields : 1) * sizeof *rec->fields);
	if (!rec->fields)
		return kr_fail(err, KR_ERR_NOMEM, "out of memory reading a record");
	for (size_t i = 0; i < rec->nfields; i++) {
		struct kr_field_state *f = &rec->fields[i];
		if (kr_cbor_next(&r, &it, err) || it.type != KR_CB_ARRAY || it.u != 6)
			goto bad;
		if (kr_cbor_next(&r, &it, err) || it.type != KR_CB_TEXT || !(f->name = dup_text(&rec->arena, &it)))
			goto bad;
		if (kr_cbor_next(&r, &it, err))
			goto bad;
		switch (it.type) {
		case KR_CB_NULL:
			f->value.type = KR_VAL_NULL;
			break;
		case KR_CB_TEXT:
			f->value.type = KR_VAL_TEXT;
			if (!(f->value.s = dup_text(&rec->arena, &it)))
				goto bad;
			f->value.len = it.len;
			break;
		case KR_CB_UINT:
			if (it.u > INT64_MAX)
				goto bad;
			f->value.type = KR_VAL_INT;
			f->value.i = (int64_t)it.u;
			break;
		case KR_CB_NEGINT:
			if (it.u > INT64_MAX)
				goto bad;
			f->value.type = KR_VAL_INT;
			f->value.i = -1 - (int64_t)it.u;
			break;
		case KR_CB_BOOL:
			f->value.type = KR_VAL_BOOL;
			f->value.i = (int64_t)it.u;
			break;
		default:
			goto bad;
		}
		if (kr_cbor_next(&r, &it, err) || it.type != KR_CB_UINT)
			goto bad;
		f->version.hlc = it.u;
		if (kr_cbor_next(&r, &it, err) || it.type != KR_CB_TEXT ||
		    !(f->version.node = dup_text(&rec->arena, &it)))
			goto bad;
		if (kr_cbor_next(&r, &it, err) || it.type != KR_CB_UINT)
			goto bad;
		f->base.hlc = it.u;
		if (kr_cbor_next(&r, &it, err))
			goto bad;
		if (it.type == KR_CB_TEXT) {
			if (!(f->base.node = dup_text(&rec->arena, &it)))
				goto bad;
		} else if (it.type != KR_CB_NULL) {
			goto bad;
		}
		if (i > 0 && strcmp(rec->fields[i - 1].name, f->name) >= 0)
			goto bad;
	}
	if (r.pos != len)
		goto bad;
	return KR_OK;
bad:
	return kr_fail(err, KR_ERR_STORE, "a record's state in the store is damaged; restore the store from a backup");
}

static kr_status json_string(struct kr_buf *b, const char *s, size_t len)
{
	kr_status st = kr_buf_reserve(b, len + 2);
	size_t run = 0;

	if (!st)
		st = kr_buf_append(b, "\"", 1);
	for (size_t i = 0; !st && i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		st = kr_buf_append(b, s + run, i - run);
		run = i + 1;
		if (st)
			break;
		switch (c) {
		case '"':
			st = kr_buf_append(b, "\\\"", 2);
			break;
		case '\\':
			st = kr_buf_append(b, "\\\\", 2);
			break;
		case '\n':
			st = kr_buf_append(b, "\\n", 2);
			break;
		case '\t':
			st = kr_buf_append(b, "\\t", 2);
			break;
		case '\r':
			st = kr_buf_append(b, "\\r", 2);
			break;
		default:
			st = kr_buf_printf(b, "\\u%04x", c);
		}
	}
	if (!st)
		st = kr_buf_append(b, s + run, len - run);
	if (!st)
		st = kr_buf_append(b, "\"", 1);
	return st;
}

kr_status kr_state_json(const struct kr_record *rec, struct kr_buf *out, struct kr_error *err)
{
	kr_status s = kr_buf_append(out, "{", 1);
	bool first = true;

	for (size_t i = 0; !s && i < rec->nfields; i++) {
		const struct kr_field_state *f = &rec->fields[i];
		if (!first)
			s = kr_buf_append(out, ",", 1);
		first = false;
		if (!s)
			s = json_string(out, f->name, strlen(f->name));
		if (!s)
			s = kr_buf_append(out, ":", 1);
		if (s)
			break;
		switch (f->value.type) {
		case KR_VAL_TEXT:
			s = json_string(out, f->value.s, f->value.len);
			break;
		case KR_VAL_INT:
			s = kr_buf_printf(out, "%" PRId64, f->value.i);
			break;
		case KR_VAL_BOOL:
			s = kr_buf_append(out, f->value.i ? "true" : "false", f->value.i ? 4 : 5);
			break;
		default:
			s = kr_buf_append(out, "null", 4);
		}
	}
	if (!s)
		s = kr_buf_append(out, "}", 1);
	if (s)
		return kr_fail(err, s, "writing a record's fields as JSON: %s", kr_status_name(s));
	return KR_OK;
}

kr_status kr_state_load(struct kr_store *st, const kr_ulid *id, struct kr_record *rec, struct kr_error *err)
{
	sqlite3_stmt *q = st->stmt[STMT_REC_GET];
	kr_status s = KR_OK;
	int rc;

	sqlite3_bind_blob(q, 1, id->b, 16, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		rec->id = *id;
		rec->kind = kr_arena_strdup(&rec->arena, (const char *)sqlite3_column_text(q, 0));
		rec->facility = kr_arena_strdup(&rec->arena, (const char *)sqlite3_column_text(q, 1));
		rec->deleted = sqlite3_column_int(q, 2) != 0;
		rec->created_hlc = (uint64_t)sqlite3_column_int64(q, 3);
		rec->updated_hlc = (uint64_t)sqlite3_column_int64(q, 4);
		if (!rec->kind || !rec->facility)
			s = kr_fail(err, KR_ERR_NOMEM, "out of memory reading a record");
		else
			s = kr_state_decode(sqlite3_column_blob(q, 5), (size_t)sqlite3_column_bytes(q, 5), rec, err);
	} else if (rc == SQLITE_DONE) {
		s = KR_ERR_NOT_FOUND; /* the merge's common case (a new record): no message to build */
	} else {
		s = kr_store_fail(st, err, rc, "reading a record");
	}
	sqlite3_reset(q);
	return s;
}

kr_status kr_state_save(struct kr_store *st, const struct kr_record *rec, struct kr_buf *scratch, struct kr_error *err)
{
	sqlite3_stmt *q = st->stmt[STMT_REC_PUT];
	size_t json_at;
	kr_status s;
	int rc;

	scratch->len = 0;
	if ((s = kr_state_encode(rec, scratch, err)))
		return s;
	json_at = scratch->len;
	if ((s = kr_state_json(rec, scratch, err)))
		return s;
	sqlite3_bind_blob(q, 1, rec->id.b, 16, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, rec->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, rec->facility, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 4, rec->deleted);
	sqlite3_bind_int64(q, 5, (sqlite3_int64)rec->created_hlc);
	sqlite3_bind_int64(q, 6, (sqlite3_int64)rec->updated_hlc);
	sqlite3_bind_blob(q, 7, scratch->data, (int)json_at, SQLITE_STATIC);
	sqlite3_bind_text(q, 8, (const char *)scratch->data + json_at, (int)(scratch->len - json_at), SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	if (rc != SQLITE_DONE)
		return kr_store_fail(st, err, rc, "writing a record");
	return KR_OK;
}

const struct kr_field_state *kr_record_field(const struct kr_record *rec, const char *name)
{
	size_t lo = 0, hi = rec->nfields;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(rec->fields[mid].name, name);
		if (c == 0)
			return &rec->fields[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void kr_record_release(struct kr_record *rec)
{
	kr_arena_release(&rec->arena);
	memset(rec, 0, sizeof *rec);
}

kr_status kr_record_get(struct kr_store *st, const kr_ulid *id, struct kr_record *rec, struct kr_error *err)
{
	kr_status s;

	memset(rec, 0, sizeof *rec);
	kr_arena_init(&rec->arena, 0);
	s = kr_state_load(st, id, rec, err);
	if (s == KR_ERR_NOT_FOUND) {
		char text[KR_ULID_LEN + 1];
		kr_ulid_format(id, text);
		kr_fail(err, KR_ERR_NOT_FOUND, "no record %s in this store", text);
	}
	return s;
}
