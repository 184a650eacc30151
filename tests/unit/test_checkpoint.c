/* test_checkpoint.c: the background checkpointer (kiroku/checkpoint.h) on temporary hub stores: it takes the
 * checkpoints of the connections opened after it starts, bounds the WAL when a reader pins it, logs a failure
 * once and its end once, and leaves stores that outlive it working. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kiroku/checkpoint.h"
#include "kiroku/store.h"

struct fx {
	char dir[64];
	char path[128];
};

/* What the checkpointer logged (it calls from its own thread). */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int logged_failed, logged_again;
static char last_line[1024];

static void test_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void test_log(const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&log_lock);
	va_start(ap, fmt);
	vsnprintf(last_line, sizeof last_line, fmt, ap);
	va_end(ap);
	if (strstr(last_line, "failed"))
		logged_failed++;
	if (strstr(last_line, "succeeded again"))
		logged_again++;
	pthread_mutex_unlock(&log_lock);
}

static int logged(int *counter)
{
	pthread_mutex_lock(&log_lock);
	int v = *counter;
	pthread_mutex_unlock(&log_lock);
	return v;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	struct kr_error err = {0};

	snprintf(f->dir, sizeof f->dir, "/tmp/kiroku-ckpt-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/hub.db", f->dir);
	assert_int_equal(kr_store_create(f->path, KR_ROLE_HUB, "hub", NULL, &err), KR_OK);
	pthread_mutex_lock(&log_lock);
	logged_failed = logged_again = 0;
	last_line[0] = 0;
	pthread_mutex_unlock(&log_lock);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int pragma_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *q;
	int v = -1;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	return v;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg ? msg : "?");
}

/* One transaction of n rows of 4,000 bytes: about n pages of WAL. */
static void write_pages(struct kr_store *st, int n)
{
	char sql[160];
	snprintf(sql, sizeof sql,
		 "WITH RECURSIVE i(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM i WHERE k < %d) "
		 "INSERT INTO filler(b) SELECT randomblob(4000) FROM i",
		 n);
	exec_ok(kr_store_db(st), sql);
}

static long long wal_size(const struct fx *f)
{
	char wal[160];
	struct stat sb;
	snprintf(wal, sizeof wal, "%s-wal", f->path);
	return stat(wal, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* Waits up to ms for the counter picked by what to reach at least want. */
static uint64_t wait_stat(struct kr_checkpointer *ck, size_t offset, uint64_t want, unsigned ms)
{
	struct kr_checkpoint_stats s;
	uint64_t v = 0;
	for (unsigned waited = 0; waited <= ms; waited += 20) {
		kr_checkpointer_stats(ck, &s);
		memcpy(&v, (const char *)&s + offset, sizeof v);
		if (v >= want)
			break;
		sleep_ms(20);
	}
	return v;
}

static void test_checkpoints_leave_the_commits(void **state)
{
	struct fx *f = *state;
	struct kr_error err = {0};
	struct kr_store *before, *st;
	struct kr_checkpointer *ck;
	struct kr_checkpoint_opts o = {.soft_pages = 50, .interval_ms = 100, .log = test_log};
	struct kr_checkpoint_stats s;

	assert_int_equal(kr_store_open(f->path, &before, &err), KR_OK);
	assert_int_equal(kr_checkpointer_start(f->path, &o, &ck, &err), KR_OK);
	assert_int_equal(kr_store_open(f->path, &st, &err), KR_OK);
	/* The connection opened while it runs no longer checkpoints in its commits; the one from before does. */
	assert_int_equal(pragma_int(kr_store_db(st), "PRAGMA wal_autocheckpoint"), 0);
	assert_int_equal(pragma_int(kr_store_db(before), "PRAGMA wal_autocheckpoint"), 1000);
	kr_store_close(before);

	exec_ok(kr_store_db(st), "CREATE TABLE filler(b BLOB)");
	for (int i = 0; i < 5; i++)
		write_pages(st, 100);
	assert_true(wait_stat(ck, offsetof(struct kr_checkpoint_stats, checkpoints), 1, 5000) >= 1);

	/* A small commit to an idle checkpointer is checkpointed on the timer. */
	sleep_ms(500);
	kr_checkpointer_stats(ck, &s);
	write_pages(st, 2);
	assert_true(wait_stat(ck, offsetof(struct kr_checkpoint_stats, checkpoints), s.checkpoints + 1, 5000) >
		    s.checkpoints);

	/* The last checkpoint empties the WAL file. */
	kr_checkpointer_stop(ck);
	assert_int_equal(wal_size(f), 0);
	assert_int_equal(logged(&logged_failed), 0);
	kr_store_close(st);

	assert_int_equal(kr_store_open(f->path, &st, &err), KR_OK);
	assert_int_equal(pragma_int(kr_store_db(st), "SELECT count(*) FROM filler"), 502);
	assert_int_equal(pragma_int(kr_store_db(st), "PRAGMA wal_autocheckpoint"), 1000); /* not running: SQLite's */
	kr_store_close(st);
}

static void test_pinned_wal_is_truncated_and_failure_logged_once(void **state)
{
	struct fx *f = *state;
	struct kr_error err = {0};
	struct kr_store *st;
	struct kr_checkpointer *ck;
	struct kr_checkpoint_opts o = {.soft_pages = 16, .hard_pages = 200, .interval_ms = 100, .busy_ms = 100,
				       .log = test_log};
	struct kr_checkpoint_stats s;
	sqlite3 *reader;
	sqlite3_stmt *q;

	assert_int_equal(kr_checkpointer_start(f->path, &o, &ck, &err), KR_OK);
	assert_int_equal(kr_store_open(f->path, &st, &err), KR_OK);
	exec_ok(kr_store_db(st), "CREATE TABLE filler(b BLOB)");
	write_pages(st, 10);

	/* A reader holds its snapshot: no checkpoint can finish, the WAL cannot start over and grows. */
	assert_int_equal(sqlite3_open_v2(f->path, &reader, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	exec_ok(reader, "BEGIN");
	assert_int_equal(sqlite3_prepare_v2(reader, "SELECT count(*) FROM filler", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	sqlite3_finalize(q);
	for (int i = 0; i < 10; i++)
		write_pages(st, 30);
	/* Past hard_pages: the truncating checkpoint waits busy_ms for the reader and fails, then again after 1 s. */
	assert_true(wait_stat(ck, offsetof(struct kr_checkpoint_stats, failures), 2, 8000) >= 2);
	assert_int_equal(logged(&logged_failed), 1);
	pthread_mutex_lock(&log_lock);
	assert_non_null(strstr(last_line, "kept the WAL busy"));
	pthread_mutex_unlock(&log_lock);
	assert_int_equal(logged(&logged_again), 0);

	/* The reader goes: the next attempt truncates the WAL, and says so once. */
	exec_ok(reader, "COMMIT");
	assert_true(wait_stat(ck, offsetof(struct kr_checkpoint_stats, truncations), 1, 10000) >= 1);
	for (int waited = 0; waited < 2000 && logged(&logged_again) == 0; waited += 20)
		sleep_ms(20);
	assert_int_equal(logged(&logged_again), 1);
	assert_int_equal(logged(&logged_failed), 1);
	assert_int_equal(wal_size(f), 0);
	kr_checkpointer_stats(ck, &s);
	assert_true(s.failures >= 2);

	sqlite3_close(reader);
	kr_checkpointer_stop(ck);
	assert_int_equal(pragma_int(kr_store_db(st), "SELECT count(*) FROM filler"), 310);
	kr_store_close(st);
}

/* Stores attached to a checkpointer that stops keep working (they checkpoint in their commits again) and free
 * it when the last of them closes: AddressSanitizer checks the second half. */
static void test_stores_outlive_the_checkpointer(void **state)
{
	struct fx *f = *state;
	struct kr_error err = {0};
	struct kr_store *a, *b, *after;
	struct kr_checkpointer *ck;
	struct kr_checkpoint_opts o = {.soft_pages = 20, .log = test_log};

	assert_int_equal(kr_checkpointer_start(f->path, &o, &ck, &err), KR_OK);
	assert_int_equal(kr_store_open(f->path, &a, &err), KR_OK);
	assert_int_equal(kr_store_open(f->path, &b, &err), KR_OK);
	exec_ok(kr_store_db(a), "CREATE TABLE filler(b BLOB)");
	kr_checkpointer_stop(ck);
	write_pages(a, 50); /* checkpointed in this commit, as SQLite would */
	assert_int_equal(pragma_int(kr_store_db(a), "PRAGMA wal_checkpoint(PASSIVE)"), 0);
	kr_store_close(a);
	assert_int_equal(kr_store_open(f->path, &after, &err), KR_OK);
	assert_int_equal(pragma_int(kr_store_db(after), "PRAGMA wal_autocheckpoint"), 1000);
	write_pages(b, 50);
	kr_store_close(b);
	assert_int_equal(pragma_int(kr_store_db(after), "SELECT count(*) FROM filler"), 100);
	kr_store_close(after);
	assert_int_equal(logged(&logged_failed), 0);
}

/* Starting on a file that is not there fails cleanly and starts nothing. */
static void test_start_fails_cleanly(void **state)
{
	struct fx *f = *state;
	struct kr_error err = {0};
	struct kr_checkpointer *ck = (struct kr_checkpointer *)1;
	char missing[160];

	snprintf(missing, sizeof missing, "%s/none.db", f->dir);
	assert_int_not_equal(kr_checkpointer_start(missing, NULL, &ck, &err), KR_OK);
	assert_null(ck);
	assert_non_null(strstr(err.msg, "starting the checkpoints"));
	kr_checkpointer_stop(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_checkpoints_leave_the_commits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pinned_wal_is_truncated_and_failure_logged_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stores_outlive_the_checkpointer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_fails_cleanly, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
