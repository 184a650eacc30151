/* store.c: opening, creating and migrating a kiroku store; meta values; transactions. */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "embedded.h"

static const char *const stmt_sql[STMT_COUNT] = {
	[STMT_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[STMT_META_SET] = "INSERT INTO meta(key, value) VALUES (?1, ?2) "
			  "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	[STMT_REC_GET] = "SELECT kind, facility, deleted, created_hlc, updated_hlc, state FROM records WHERE id = ?1",
	[STMT_REC_PUT] = "INSERT INTO records(id, kind, facility, deleted, created_hlc, updated_hlc, state, fields) "
			 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(id) DO UPDATE SET "
			 "deleted = excluded.deleted, updated_hlc = excluded.updated_hlc, "
			 "state = excluded.state, fields = excluded.fields",
	[STMT_OUTBOX_ADD] = "INSERT INTO outbox(seq, change) VALUES (?1, ?2)",
	[STMT_JOURNAL_ADD] = "INSERT INTO journal(facility, origin, first_seq, last_seq, n, changes) "
			     "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[STMT_APPLIED_ADD] = "INSERT OR IGNORE INTO applied(origin, seq) VALUES (?1, ?2)",
	[STMT_NODE_GET] = "SELECT facility, last_seq, revoked FROM nodes WHERE node = ?1",
	[STMT_NODE_PUT] = "INSERT INTO nodes(node, facility, last_seq, last_seen_ms, skew_ms) VALUES (?1, ?2, ?3, ?4, ?5) "
			  "ON CONFLICT(node) DO UPDATE SET last_seq = excluded.last_seq, "
			  "last_seen_ms = excluded.last_seen_ms, skew_ms = excluded.skew_ms",
};

kr_status kr_store_fail(struct kr_store *st, struct kr_error *err, int rc, const char *what)
{
	const char *msg = st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
	int prim = rc & 0xff;

	if (prim == SQLITE_FULL || (prim == SQLITE_IOERR && st && st->db && sqlite3_system_errno(st->db) == ENOSPC))
		return kr_fail(err, KR_ERR_IO, "%s: the disk is full (SQLite %d: %s); free some space and try again",
			       what, rc, msg);
	if (prim == SQLITE_IOERR || prim == SQLITE_CANTOPEN || prim == SQLITE_READONLY || prim == SQLITE_PERM)
		return kr_fail(err, KR_ERR_IO, "%s: SQLite %d (%s)", what, rc, msg);
	if (prim == SQLITE_NOTADB)
		return kr_fail(err, KR_ERR_NOT_STORE, "%s: not a kiroku store (SQLite %d: %s)", what, rc, msg);
	if (prim == SQLITE_CORRUPT)
		return kr_fail(err, KR_ERR_STORE,
			       "%s: the store is damaged (SQLite %d: %s); restore it from a backup", what, rc, msg);
	if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
		return kr_fail(err, KR_ERR_BUSY, "%s: the store is in use by another process (SQLite %d: %s)", what,
			       rc, msg);
	return kr_fail(err, KR_ERR_STORE, "%s: SQLite %d (%s)", what, rc, msg);
}

static kr_status exec(struct kr_store *st, const char *sql, struct kr_error *err)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return kr_store_fail(st, err, rc, "store");
	return KR_OK;
}

kr_status kr_txn_begin(struct kr_store *st, struct kr_error *err)
{
	if (st->txn_depth++ > 0)
		return KR_OK;
	kr_status s = exec(st, "BEGIN IMMEDIATE", err);
	if (s) {
		st->txn_depth = 0;
		return s;
	}
	/* Another process (the CLI beside the daemon) may have written since: the clock and the sequence
	 * number are read afresh under the write lock. */
	st->hlc = kr_store_meta_u64(st, "hlc");
	st->last_seq = kr_store_meta_u64(st, "last_seq");
	return KR_OK;
}

kr_status kr_txn_commit(struct kr_store *st, struct kr_error *err)
{
	if (st->txn_depth <= 0)
		return kr_fail(err, KR_ERR_INTERNAL, "commit without a transaction");
	if (--st->txn_depth > 0)
		return KR_OK;
	kr_status s = exec(st, "COMMIT", err);
	if (s) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		/* The clock and sequence in memory may be ahead of the store: reload them. */
		st->hlc = kr_store_meta_u64(st, "hlc");
		st->last_seq = kr_store_meta_u64(st, "last_seq");
	}
	return s;
}

void kr_txn_rollback(struct kr_store *st)
{
	if (st->txn_depth <= 0)
		return;
	if (--st->txn_depth > 0)
		return; /* the outer owner rolls back */
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	st->hlc = kr_store_meta_u64(st, "hlc");
	st->last_seq = kr_store_meta_u64(st, "last_seq");
}

kr_status kr_store_begin(struct kr_store *st, struct kr_error *err) { return kr_txn_begin(st, err); }
kr_status kr_store_commit(struct kr_store *st, struct kr_error *err) { return kr_txn_commit(st, err); }
void kr_store_rollback(struct kr_store *st)
{
	if (st->txn_depth > 0) {
		st->txn_depth = 1;
		kr_txn_rollback(st);
	}
}

static kr_status meta_get(struct kr_store *st, const char *key, char *out, size_t outsz)
{
	sqlite3_stmt *s = st->stmt[STMT_META_GET];
	kr_status ret = KR_ERR_NOT_FOUND;

	out[0] = 0;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(s, 0);
		snprintf(out, outsz, "%s", v ? v : "");
		ret = KR_OK;
	}
	sqlite3_reset(s);
	return ret;
}

static kr_status meta_set(struct kr_store *st, const char *key, const char *value, struct kr_error *err)
{
	sqlite3_stmt *s = st->stmt[STMT_META_SET];
	int rc;

	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return kr_store_fail(st, err, rc, "writing store settings");
	return KR_OK;
}

uint64_t kr_store_meta_u64(struct kr_store *st, const char *key)
{
	char v[32];
	if (meta_get(st, key, v, sizeof v))
		return 0;
	return strtoull(v, NULL, 10);
}

kr_status kr_store_meta_set_u64(struct kr_store *st, const char *key, uint64_t v, struct kr_error *err)
{
	char text[32];
	snprintf(text, sizeof text, "%" PRIu64, v);
	return meta_set(st, key, text, err);
}

kr_status kr_store_meta_text(struct kr_store *st, const char *key, char *out, size_t n)
{
	return meta_get(st, key, out, n);
}

kr_status kr_store_meta_set_text(struct kr_store *st, const char *key, const char *value, struct kr_error *err)
{
	return meta_set(st, key, value, err);
}

kr_status kr_store_save_clock(struct kr_store *st, struct kr_error *err)
{
	kr_status s = kr_store_meta_set_u64(st, "hlc", st->hlc, err);
	if (!s)
		s = kr_store_meta_set_u64(st, "last_seq", st->last_seq, err);
	return s;
}

static kr_status prepare_all(struct kr_store *st, struct kr_error *err)
{
	for (int i = 0; i < STMT_COUNT; i++) {
		int rc = sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[i], NULL);
		if (rc != SQLITE_OK)
			return kr_store_fail(st, err, rc, "preparing the store");
	}
	return KR_OK;
}

/* The integer a PRAGMA answers, or -1 with *rc the SQLite error (rc may be NULL). */
static int pragma_int_rc(struct kr_store *st, const char *sql, int *rc)
{
	sqlite3_stmt *s;
	int v = -1, r;
	if ((r = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL)) != SQLITE_OK) {
		if (rc)
			*rc = r;
		return -1;
	}
	if ((r = sqlite3_step(s)) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	else if (rc)
		*rc = r;
	sqlite3_finalize(s);
	return v;
}

static int migration_number(const char *name)
{
	char *end;
	long v = strtol(name, &end, 10);
	return end != name && *end == '_' && v > 0 && v < 100000 ? (int)v : -1;
}

static kr_status migrate(struct kr_store *st, int from, struct kr_error *err)
{
	for (size_t i = 0; i < kr_embedded_migration_count; i++) {
		const struct kr_embedded_migration *m = &kr_embedded_migrations[i];
		int n = migration_number(m->name);
		char sql[64];
		kr_status s;

		if (n < 0)
			return kr_fail(err, KR_ERR_INTERNAL, "migration %s has no number", m->name);
		if (n <= from)
			continue;
		if ((s = exec(st, "BEGIN IMMEDIATE", err)))
			return s;
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", n);
		if ((s = exec(st, m->sql, err)) || (s = exec(st, sql, err))) {
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
			kr_error_prefix(err, "applying store migration %s", m->name);
			return s;
		}
		if ((s = exec(st, "COMMIT", err)))
			return s;
	}
	return KR_OK;
}

static kr_status load_catalogue(struct kr_store *st, struct kr_error *err)
{
	struct kr_catalogue *def = NULL, *stored = NULL;
	sqlite3_stmt *s;
	kr_status ret;

	ret = kr_catalogue_default(&def, err);
	if (ret)
		return ret;
	if (sqlite3_prepare_v2(st->db, "SELECT version, text FROM catalogue ORDER BY version DESC LIMIT 1", -1, &s,
			       NULL) != SQLITE_OK) {
		kr_catalogue_free(def);
		return kr_store_fail(st, err, sqlite3_errcode(st->db), "reading the catalogue");
	}
	if (sqlite3_step(s) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(s, 1);
		int len = sqlite3_column_bytes(s, 1);
		ret = kr_catalogue_parse(text ? text : "", (size_t)len, &stored, err);
		if (ret)
			kr_error_prefix(err, "the catalogue in the store");
	}
	sqlite3_finalize(s);
	if (ret) {
		kr_catalogue_free(def);
		return ret;
	}
	if (!stored || stored->version < def->version) {
		/* This binary carries a newer catalogue: record it so the store says what it was checked against. */
		sqlite3_stmt *ins;
		int rc = sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO catalogue(version, text) VALUES (?1, ?2)", -1,
					    &ins, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_int64(ins, 1, (sqlite3_int64)def->version);
			sqlite3_bind_text(ins, 2, kr_embedded_catalogue, (int)kr_embedded_catalogue_len, SQLITE_STATIC);
			rc = sqlite3_step(ins);
			sqlite3_finalize(ins);
		}
		if (rc != SQLITE_DONE && rc != SQLITE_OK) {
			kr_catalogue_free(def);
			kr_catalogue_free(stored);
			return kr_store_fail(st, err, rc, "saving the catalogue");
		}
		kr_catalogue_free(stored);
		st->cat = def;
	} else {
		kr_catalogue_free(def);
		st->cat = stored;
	}
	return KR_OK;
}

static void store_free(struct kr_store *st)
{
	if (!st)
		return;
	kr_checkpointer_detach(st);
	for (int i = 0; i < STMT_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	if (st->db)
		sqlite3_close(st->db);
	kr_catalogue_free(st->cat);
	free(st->path);
	free(st);
}

void kr_store_close(struct kr_store *st) { store_free(st); }

/* Opens the database; is_new says whether to create and initialise it. */
static kr_status store_open(const char *path, bool is_new, struct kr_store **out, struct kr_error *err)
{
	struct kr_store *st = calloc(1, sizeof *st);
	int rc, appid, version;
	kr_status s;
	char v[KR_ID_MAX + 1];

	*out = NULL;
	if (!st || !(st->path = strdup(path))) {
		free(st);
		return kr_fail(err, KR_ERR_NOMEM, "out of memory opening %s", path);
	}
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | (is_new ? SQLITE_OPEN_CREATE : 0), NULL);
	if (rc != SQLITE_OK) {
		s = (rc & 0xff) == SQLITE_CANTOPEN && !is_new
			    ? kr_fail(err, KR_ERR_IO, "cannot open the store %s: %s (run 'init' first?)", path,
				      strerror(errno))
			    : kr_store_fail(st, err, rc, path);
		store_free(st);
		return s;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, 10000);
	appid = pragma_int_rc(st, "PRAGMA application_id", &rc);
	version = appid < 0 ? -1 : pragma_int_rc(st, "PRAGMA user_version", &rc);
	if ((appid < 0 || version < 0) && (rc & 0xff) != SQLITE_NOTADB && (rc & 0xff) != SQLITE_CORRUPT) {
		/* Not a verdict on the file: it could not be read (a full disk, where SQLite cannot make the -shm file
		 * it needs, an I/O error, a lock). */
		s = kr_store_fail(st, err, rc, "reading the store");
		kr_error_prefix(err, "cannot open %s; it was left untouched", path);
		store_free(st);
		return s;
	}
	if (appid < 0 || version < 0) {
		s = kr_fail(err, KR_ERR_NOT_STORE, "%s is not a kiroku store (not an SQLite database: %s); it was left untouched",
			    path, sqlite3_errmsg(st->db));
		store_free(st);
		return s;
	}
	if (!is_new && (unsigned)appid != KR_APPLICATION_ID) {
		s = kr_fail(err, KR_ERR_NOT_STORE,
			    "%s is an SQLite database but not a kiroku store; it was left untouched", path);
		store_free(st);
		return s;
	}
	if (version > KR_SCHEMA_VERSION) {
		s = kr_fail(err, KR_ERR_TOO_NEW,
			    "%s was written by a newer kiroku (store schema %d, this program knows up to %d); "
			    "upgrade kiroku. The store was left untouched",
			    path, version, KR_SCHEMA_VERSION);
		store_free(st);
		return s;
	}
	bool catalogue_read = false;
	if ((s = exec(st, "PRAGMA journal_mode = WAL", err)) || (s = exec(st, "PRAGMA synchronous = FULL", err)) ||
	    (is_new && (s = exec(st, "PRAGMA application_id = 1263686219", err))) || (s = migrate(st, version, err)) ||
	    (s = prepare_all(st, err)) || (catalogue_read = true, s = load_catalogue(st, err))) {
		/* A damaged file fails here in many ways (a catalogue that does not parse, a table SQLite cannot
		 * read): say that it is damaged and what to do, rather than what broke first. */
		if (!is_new && s != KR_ERR_NOMEM && s != KR_ERR_BUSY) {
			char first[sizeof err->msg > 256 ? 256 : sizeof err->msg], found[200] = "";
			sqlite3_stmt *q;
			snprintf(first, sizeof first, "%s", err ? err->msg : "");
			if (sqlite3_prepare_v2(st->db, "PRAGMA quick_check", -1, &q, NULL) == SQLITE_OK) {
				if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
					snprintf(found, sizeof found, "%s", (const char *)sqlite3_column_text(q, 0));
				else
					snprintf(found, sizeof found, "%s", sqlite3_errmsg(st->db));
				sqlite3_finalize(q);
			} else {
				snprintf(found, sizeof found, "%s", sqlite3_errmsg(st->db));
			}
			/* The catalogue in a store is written by kiroku only: text that does not parse is damage that
			 * SQLite's structural check cannot see (it has no checksums of the data). */
			if (strcmp(found, "ok") == 0 && catalogue_read && s != KR_ERR_STORE && s != KR_ERR_IO)
				snprintf(found, sizeof found, "ok, but the catalogue it holds does not parse");
			if (strcmp(found, "ok") != 0) {
				for (char *c = found; *c; c++)
					if (*c == '\n')
						*c = ' ';
				s = kr_fail(err, KR_ERR_STORE,
					    "%s is damaged (SQLite quick_check: %.120s); stop using it, keep a copy, and "
					    "restore the latest backup (see 'backup'). Opening it said: %s",
					    path, found, first);
				store_free(st);
				return s;
			}
		}
		kr_error_prefix(err, "opening %s", path);
		store_free(st);
		return s;
	}
	if (!is_new) {
		if (meta_get(st, "role", v, sizeof v) == KR_OK)
			st->role = strcmp(v, "hub") == 0 ? KR_ROLE_HUB : KR_ROLE_AGENT;
		meta_get(st, "node", st->node, sizeof st->node);
		meta_get(st, "facility", st->facility, sizeof st->facility);
		st->hlc = kr_store_meta_u64(st, "hlc");
		st->last_seq = kr_store_meta_u64(st, "last_seq");
		if (!st->role || !st->node[0]) {
			s = kr_fail(err, KR_ERR_NOT_STORE, "%s has no node identity: it was never initialised", path);
			store_free(st);
			return s;
		}
	}
	kr_checkpointer_adopt(st);
	*out = st;
	return KR_OK;
}

kr_status kr_store_open(const char *path, struct kr_store **out, struct kr_error *err)
{
	/* The file is examined only through SQLite: opening and closing a descriptor of a database file
	 * that other connections of this process use would drop their POSIX locks. */
	return store_open(path, false, out, err);
}

static void unlink_store(const char *path)
{
	char side[4096];
	unlink(path);
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);
}

kr_status kr_store_create(const char *path, enum kr_role role, const char *node, const char *facility,
			  struct kr_error *err)
{
	struct kr_store *st;
	struct stat sb;
	kr_status s;

	if (!kr_id_valid(node))
		return kr_fail(err, KR_ERR_INVALID, "node id \"%s\" is not valid: use 1 to 64 of a-z 0-9 . _ -", node);
	if (role == KR_ROLE_AGENT && !kr_id_valid(facility))
		return kr_fail(err, KR_ERR_INVALID, "facility id \"%s\" is not valid: use 1 to 64 of a-z 0-9 . _ -",
			       facility ? facility : "");
	if (stat(path, &sb) == 0)
		return kr_fail(err, KR_ERR_IO, "%s already exists; refusing to overwrite a store", path);
	/* The store holds personal information: readable by its owner only (SQLite gives its -wal and -shm
	 * files the same mode). No SQLite connection exists yet, so opening the file here drops no lock. */
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return kr_fail(err, KR_ERR_IO, "cannot create the store %s: %s", path, strerror(errno));
	close(fd);
	s = store_open(path, true, &st, err);
	if (s) {
		unlink_store(path);
		return s;
	}
	if ((s = kr_txn_begin(st, err)) || (s = meta_set(st, "role", role == KR_ROLE_HUB ? "hub" : "agent", err)) ||
	    (s = meta_set(st, "node", node, err)) ||
	    (s = meta_set(st, "facility", role == KR_ROLE_HUB ? "" : facility, err)) ||
	    (s = kr_store_save_clock(st, err)) || (s = kr_txn_commit(st, err))) {
		kr_txn_rollback(st);
		store_free(st);
		unlink_store(path);
		return s;
	}
	store_free(st);
	return KR_OK;
}

enum kr_role kr_store_role(const struct kr_store *st) { return st->role; }
const char *kr_store_node(const struct kr_store *st) { return st->node; }
const char *kr_store_facility(const struct kr_store *st) { return st->facility; }
const struct kr_catalogue *kr_store_catalogue(const struct kr_store *st) { return st->cat; }
sqlite3 *kr_store_db(struct kr_store *st) { return st->db; }

kr_status kr_store_check(struct kr_store *st, struct kr_error *err)
{
	sqlite3_stmt *q;
	kr_status s = KR_OK;
	int rc = sqlite3_prepare_v2(st->db, "PRAGMA quick_check", -1, &q, NULL);

	if (rc != SQLITE_OK)
		return kr_store_fail(st, err, rc, "checking the store");
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(q, 0);
		if (!v || strcmp(v, "ok") != 0)
			s = kr_fail(err, KR_ERR_STORE,
				    "%s is damaged (SQLite quick_check: %s); stop using it, keep a copy, and restore the "
				    "latest backup (see 'backup')",
				    st->path, v ? v : "no answer");
	} else {
		s = kr_store_fail(st, err, rc, "checking the store");
		kr_error_prefix(err, "%s is damaged or unreadable; restore the latest backup", st->path);
	}
	sqlite3_finalize(q);
	return s;
}

kr_status kr_store_backup(struct kr_store *st, const char *path, struct kr_error *err)
{
	sqlite3 *dst = NULL;
	sqlite3_backup *b;
	struct stat sb;
	kr_status s = KR_OK;
	int rc, fd;

	if (stat(path, &sb) == 0)
		return kr_fail(err, KR_ERR_IO, "%s already exists; choose a new file for the backup", path);
	/* Create the file first so that it is private from the start. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return kr_fail(err, KR_ERR_IO, "cannot create %s: %s", path, strerror(errno));
	close(fd);
	rc = sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK) {
		s = kr_fail(err, KR_ERR_IO, "cannot open %s: %s", path, sqlite3_errstr(rc));
		goto out;
	}
	b = sqlite3_backup_init(dst, "main", st->db, "main");
	if (!b) {
		s = kr_fail(err, KR_ERR_IO, "cannot start the backup to %s: %s", path, sqlite3_errmsg(dst));
		goto out;
	}
	/* In steps, so that writers of the live store wait at most one step. */
	do {
		rc = sqlite3_backup_step(b, 256);
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			sqlite3_sleep(20);
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		s = kr_fail(err, KR_ERR_IO, "backing up to %s failed: SQLite %d (%s)", path, rc, sqlite3_errstr(rc));
		goto out;
	}
	{
		sqlite3_stmt *q;
		rc = sqlite3_prepare_v2(dst, "PRAGMA integrity_check", -1, &q, NULL);
		if (rc == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) {
			const char *v = (const char *)sqlite3_column_text(q, 0);
			if (!v || strcmp(v, "ok") != 0)
				s = kr_fail(err, KR_ERR_STORE, "the backup %s failed its integrity check: %s", path,
					    v ? v : "no answer");
		} else {
			s = kr_fail(err, KR_ERR_STORE, "cannot check the backup %s: %s", path, sqlite3_errmsg(dst));
		}
		if (rc == SQLITE_OK)
			sqlite3_finalize(q);
	}
out:
	if (dst)
		sqlite3_close(dst);
	if (s)
		unlink_store(path);
	return s;
}
