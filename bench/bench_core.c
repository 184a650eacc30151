/* bench_core.c: the offline core's figures on the work users have: 100,000 incident records of about
 * seven fields (Japanese text, ~200-byte description): records written through the library, change-sets
 * built, records merged into a hub store that already holds 100,000 records; and, in the same run, the
 * plain SQLite limit (the same rows inserted, then upserted, into an indexed table in one transaction).
 *
 * Usage: bench_core [RECORDS] [DIR]     (default 100000, a fresh directory under /tmp)
 * All stores are durable (WAL, synchronous=FULL) as in production.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "kiroku/changeset.h"
#include "kiroku/store.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const struct kr_error *err)
{
	fprintf(stderr, "bench_core: %s: %s\n", what, err->msg);
	exit(1);
}

static const char *const categories[] = {"紛失", "漏えい", "誤送付・誤送信", "不正アクセス", "その他"};

/* About 200 bytes of Japanese description, varying with i. */
static void description(char *out, size_t size, long i)
{
	snprintf(out, size,
		 "第%ld号事案：職員が校外学習の引率中に児童名簿を含むUSBメモリを紛失した可能性がある。"
		 "翌朝に気付き、校内と移動経路を捜索中。",
		 i);
}

static void write_records(struct kr_store *st, long n, const char *tag)
{
	struct kr_error err = {0};
	char desc[512], persons[16], occurred[32];
	double t0 = now_s();

	for (long i = 0; i < n; i++) {
		if (i % 1000 == 0 && kr_store_begin(st, &err))
			die("begin", &err);
		description(desc, sizeof desc, i);
		snprintf(persons, sizeof persons, "%ld", i % 40);
		snprintf(occurred, sizeof occurred, "2026-%02ld-%02ldT%02ld:%02ld", 4 + i % 9, 1 + i % 28, 8 + i % 10, i % 60);
		struct kr_field_text f[] = {
			{"occurred_at", occurred},
			{"category", categories[i % 5]},
			{"media", i % 2 ? "USB" : "紙"},
			{"personal_info", i % 3 ? "yes" : "no"},
			{"persons_affected", persons},
			{"description", desc},
			{"containment", "校内を捜索し、関係者へ連絡した。"},
		};
		kr_ulid id;
		if (kr_record_create(st, "incident", NULL, f, 7, 0, &id, &err))
			die("record", &err);
		if (i % 1000 == 999 || i == n - 1)
			if (kr_store_commit(st, &err))
				die("commit", &err);
	}
	double dt = now_s() - t0;
	printf("%-44s %8.3f s  %10.0f records/s\n", tag, dt, (double)n / dt);
}

/* Builds every change-set of the agent's outbox; returns them in sets[]. */
static size_t build_sets(struct kr_store *st, struct kr_buf *sets, size_t max_sets, double *secs, size_t *changes)
{
	struct kr_error err = {0};
	size_t nsets = 0, total = 0;
	uint64_t acked = 0;
	double t0 = now_s();

	/* Read the outbox batch by batch without acknowledging: page with a temporary ack and restore. */
	for (;;) {
		struct kr_buf out;
		size_t n;
		kr_buf_init(&out, 0);
		if (kr_outbox_batch(st, &kr_default_limits, &out, &n, &err))
			die("outbox batch", &err);
		if (n == 0 || nsets == max_sets) {
			kr_buf_release(&out);
			break;
		}
		sets[nsets++] = out;
		total += n;
		acked += n;
		if (kr_outbox_ack(st, acked, &err))
			die("ack", &err);
	}
	*secs = now_s() - t0;
	*changes = total;
	return nsets;
}

/* Decodes and merges each set; *decode_s gets the part spent decoding. */
static double merge_sets(struct kr_store *hub, struct kr_buf *sets, size_t nsets, const char *node, const char *fac,
			 double *decode_s)
{
	struct kr_error err = {0};
	double t0 = now_s(), dec = 0;
	for (size_t i = 0; i < nsets; i++) {
		struct kr_changeset cs;
		struct kr_merge_result res;
		struct kr_merge_opts o = {.peer_node = node, .peer_facility = fac};
		double d0 = now_s();
		if (kr_changeset_decode(sets[i].data, sets[i].len, &kr_default_limits, &cs, &err))
			die("decode", &err);
		dec += now_s() - d0;
		if (kr_merge(hub, &cs, &o, &res, &err))
			die("merge", &err);
		kr_changeset_release(&cs);
	}
	*decode_s = dec;
	return now_s() - t0;
}

static double plain_sqlite(const char *path, long n, double *insert_s, double *upsert_s)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	char desc[512], fields[2048];
	uint8_t id[16] = {0};

	if (sqlite3_open(path, &db) != SQLITE_OK)
		exit(1);
	sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			 "CREATE TABLE t(id BLOB PRIMARY KEY, kind TEXT, facility TEXT, updated INTEGER, fields TEXT);"
			 "CREATE INDEX t_kind ON t(kind, facility);",
		     NULL, NULL, NULL);
	sqlite3_prepare_v2(db,
			   "INSERT INTO t(id, kind, facility, updated, fields) VALUES (?1, 'incident', 'school-a', ?2, ?3) "
			   "ON CONFLICT(id) DO UPDATE SET updated = excluded.updated, fields = excluded.fields",
			   -1, &q, NULL);
	for (int pass = 0; pass < 2; pass++) {
		double t0 = now_s();
		sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		for (long i = 0; i < n; i++) {
			description(desc, sizeof desc, i);
			snprintf(fields, sizeof fields,
				 "{\"occurred_at\":\"2026-04-01T10:00\",\"category\":\"%s\",\"media\":\"USB\",\"personal_info\":true,"
				 "\"persons_affected\":%ld,\"description\":\"%s\",\"containment\":\"校内を捜索し、関係者へ連絡した。\"}",
				 categories[i % 5], i % 40, desc);
			memcpy(id, &i, sizeof i);
			sqlite3_bind_blob(q, 1, id, 16, SQLITE_STATIC);
			sqlite3_bind_int64(q, 2, pass);
			sqlite3_bind_text(q, 3, fields, -1, SQLITE_STATIC);
			sqlite3_step(q);
			sqlite3_reset(q);
		}
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		*(pass ? upsert_s : insert_s) = now_s() - t0;
	}
	sqlite3_finalize(q);
	sqlite3_close(db);
	return *insert_s + *upsert_s;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
	char dir[256], path[512];
	struct kr_error err = {0};
	struct kr_store *a, *b, *hub;
	size_t max_sets = (size_t)n / 100 + 16, na, nb, ca, cb;
	struct kr_buf *sa = calloc(max_sets, sizeof *sa), *sb = calloc(max_sets, sizeof *sb);
	double build_a, build_b, ins, ups;

	if (argc > 2)
		snprintf(dir, sizeof dir, "%s", argv[2]);
	else {
		snprintf(dir, sizeof dir, "/tmp/kiroku-bench-XXXXXX");
		if (!mkdtemp(dir))
			return 1;
	}
	printf("kiroku bench_core: %ld incident records of 7 fields, stores in %s\n", n, dir);
#define STORE(var, file, role, node, fac)                                                                              \
	snprintf(path, sizeof path, "%s/%s", dir, file);                                                               \
	if (kr_store_create(path, role, node, fac, &err) || kr_store_open(path, &var, &err))                          \
		die(file, &err);
	STORE(a, "agent-a.db", KR_ROLE_AGENT, "school-a-pc1", "school-a");
	STORE(b, "agent-b.db", KR_ROLE_AGENT, "school-a-pc2", "school-a");
	STORE(hub, "hub.db", KR_ROLE_HUB, "hub", NULL);

	write_records(a, n, "records written (agent A, 1,000 per txn)");
	write_records(b, n, "records written (agent B, 1,000 per txn)");
	na = build_sets(a, sa, max_sets, &build_a, &ca);
	nb = build_sets(b, sb, max_sets, &build_b, &cb);
	printf("%-44s %8.3f s  %10.0f changes/s (%zu sets)\n", "change-sets built (agent A outbox)", build_a,
	       (double)ca / build_a, na);
	double d1, d2;
	double m1 = merge_sets(hub, sa, na, "school-a-pc1", "school-a", &d1);
	printf("%-44s %8.3f s  %10.0f records/s (decoding %.3f s)\n", "merged into an empty hub", m1, (double)ca / m1, d1);
	double m2 = merge_sets(hub, sb, nb, "school-a-pc2", "school-a", &d2);
	printf("%-44s %8.3f s  %10.0f records/s (decoding %.3f s)\n", "merged into a hub holding the first set", m2,
	       (double)cb / m2, d2);

	snprintf(path, sizeof path, "%s/plain.db", dir);
	double plain = plain_sqlite(path, n, &ins, &ups);
	printf("%-44s %8.3f s  %10.0f rows/s\n", "plain SQLite insert (one txn)", ins, (double)n / ins);
	printf("%-44s %8.3f s  %10.0f rows/s\n", "plain SQLite upsert (one txn)", ups, (double)n / ups);
	printf("%-44s %8.3f s\n", "plain SQLite insert + upsert", plain);
	printf("ratio: merge into a full hub / plain insert+upsert = %.2fx (target: within 3x)\n", m2 / plain);
	printf("ratio: merge into a full hub / plain upsert alone  = %.2fx\n", m2 / ups);

	for (size_t i = 0; i < na; i++)
		kr_buf_release(&sa[i]);
	for (size_t i = 0; i < nb; i++)
		kr_buf_release(&sb[i]);
	free(sa);
	free(sb);
	kr_store_close(a);
	kr_store_close(b);
	kr_store_close(hub);
	return 0;
}
