/* checkpoint.c: WAL checkpoints of a store in a background thread (see kiroku/checkpoint.h). */
#include "kiroku/checkpoint.h"

#include <assert.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_int.h"

#define RETRY_FIRST_MS 1000u
#define RETRY_MAX_MS 16000u

struct kr_checkpointer {
	struct kr_checkpointer *next; /* in the list of running checkpointers, under running_lock */
	const char *file;             /* the store's full path, as SQLite names it (sqlite3_db_filename) */
	pthread_mutex_t mu;
	pthread_cond_t cv; /* on CLOCK_MONOTONIC */
	pthread_t thread;
	struct kr_checkpoint_opts o; /* read-only after start */
	struct kr_store *st;         /* the thread's own connection: used by the thread only, closed by stop */
	/* Under mu: */
	bool wake;     /* a commit left the WAL at soft_pages or more */
	bool dirty;    /* commits (or an unfinished checkpoint) since the last checkpoint began */
	bool stopping; /* kr_checkpointer_stop was called */
	unsigned refs; /* the starter until stop, and each attached store */
	struct kr_checkpoint_stats stats;
	/* The thread's only: */
	bool failing; /* the last attempt failed (and that series was logged) */
};

/* The checkpointers started and not yet stopped in this process: kr_store_open hands them the connections
 * it opens to their stores. Lock order: running_lock, then a checkpointer's mu. */
static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kr_checkpointer *running;

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void wait_until(struct kr_checkpointer *ck, uint64_t when_ms)
{
	struct timespec ts = {.tv_sec = (time_t)(when_ms / 1000u), .tv_nsec = (long)(when_ms % 1000u) * 1000000L};
	pthread_cond_timedwait(&ck->cv, &ck->mu, &ts);
}

static void log_stderr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_stderr(const char *fmt, ...)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	va_list ap;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
	va_start(ap, fmt);
	flockfile(stderr);
	fprintf(stderr, "%s ", stamp);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
	va_end(ap);
}

static void release(struct kr_checkpointer *ck)
{
	unsigned left;

	pthread_mutex_lock(&ck->mu);
	left = --ck->refs;
	pthread_mutex_unlock(&ck->mu);
	if (left)
		return;
	pthread_cond_destroy(&ck->cv);
	pthread_mutex_destroy(&ck->mu);
	free(ck);
}

/* The WAL hook of attached stores: SQLite calls it in the committing thread after each commit, with the write
 * lock released and the number of frames in the WAL. It must return SQLITE_OK (anything else would be the
 * committing statement's result, though the commit is durable). */
static int on_commit(void *ctx, sqlite3 *db, const char *name, int frames)
{
	struct kr_checkpointer *ck = ctx;
	bool inline_ckpt = false;

	pthread_mutex_lock(&ck->mu);
	if (ck->stopping) {
		inline_ckpt = frames >= (int)ck->o.soft_pages; /* as SQLite's own automatic checkpoint */
	} else {
		bool notify = !ck->dirty; /* the thread sets its timer */
		ck->dirty = true;
		if (frames >= (int)ck->o.soft_pages && !ck->wake) {
			ck->wake = true;
			notify = true;
		}
		if (notify)
			pthread_cond_signal(&ck->cv);
	}
	pthread_mutex_unlock(&ck->mu);
	if (inline_ckpt)
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

enum ckpt_result { CKPT_DONE, CKPT_UNFINISHED, CKPT_FAILED };

/* One checkpoint: PASSIVE, or TRUNCATE when the WAL has reached hard_pages (or truncate is set: the last one).
 * Logs the first failure of a series and the success that ends it. */
static enum ckpt_result checkpoint(struct kr_checkpointer *ck, bool truncate)
{
	sqlite3 *db = ck->st->db;
	int nlog = -1, ndone = -1, rc = SQLITE_OK;
	bool truncating = truncate;
	enum ckpt_result res;

	if (!truncate) {
		rc = sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE, &nlog, &ndone);
		truncating = rc == SQLITE_OK && nlog >= (int)ck->o.hard_pages;
	}
	if (truncating)
		rc = sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_TRUNCATE, &nlog, &ndone);

	if (rc == SQLITE_OK)
		res = ndone < nlog ? CKPT_UNFINISHED : CKPT_DONE;
	else if ((rc & 0xff) == SQLITE_BUSY && !truncating)
		res = CKPT_UNFINISHED; /* another connection (the sqlite3 shell, a CLI command) is checkpointing */
	else
		res = CKPT_FAILED;

	pthread_mutex_lock(&ck->mu);
	if (res == CKPT_FAILED)
		ck->stats.failures++;
	else if (rc != SQLITE_OK)
		ck->stats.busy++;
	else
		ck->stats.checkpoints++;
	if (truncating && !truncate && rc == SQLITE_OK)
		ck->stats.truncations++;
	pthread_mutex_unlock(&ck->mu);

	if (res == CKPT_FAILED && !ck->failing) {
		struct kr_error e = {0};
		if ((rc & 0xff) == SQLITE_BUSY)
			kr_fail(&e, KR_ERR_BUSY,
				"readers and writers kept the WAL busy for %u ms while it held %d pages (limit %u)",
				ck->o.busy_ms, nlog, ck->o.hard_pages);
		else
			kr_store_fail(ck->st, &e, rc, "copying the WAL into the database file");
		if (truncate)
			ck->o.log("checkpoint of %s failed: %s. Nothing committed is lost (the WAL keeps it); the store's "
				  "next user checkpoints it", ck->st->path, e.msg);
		else
			ck->o.log("checkpoint of %s failed: %s. Nothing committed is lost (the WAL keeps it); retrying "
				  "every %u to %u s, logged again when it succeeds",
				  ck->st->path, e.msg, RETRY_FIRST_MS / 1000, RETRY_MAX_MS / 1000);
		ck->failing = true;
	} else if (res != CKPT_FAILED && rc == SQLITE_OK && ck->failing) {
		ck->o.log("checkpoint of %s succeeded again", ck->st->path);
		ck->failing = false;
	}
	return res;
}

static void *checkpoint_main(void *arg)
{
	struct kr_checkpointer *ck = arg;
	uint64_t due = 0;       /* dirty: when the timer checkpoint is due (0: not set) */
	uint64_t not_before = 0; /* after a failure: no attempt before this */
	unsigned retry_ms = RETRY_FIRST_MS;

	pthread_mutex_lock(&ck->mu);
	while (!ck->stopping) {
		uint64_t now = mono_ms();
		enum ckpt_result res;

		if (now < not_before) {
			wait_until(ck, not_before);
			continue;
		}
		if (!ck->wake) {
			if (!ck->dirty) {
				pthread_cond_wait(&ck->cv, &ck->mu);
				continue;
			}
			if (!due)
				due = now + ck->o.interval_ms;
			if (now < due) {
				wait_until(ck, due);
				continue;
			}
		}
		ck->wake = ck->dirty = false;
		due = 0;
		pthread_mutex_unlock(&ck->mu);
		res = checkpoint(ck, false);
		pthread_mutex_lock(&ck->mu);
		if (res == CKPT_UNFINISHED)
			ck->dirty = true; /* frames are left: try again on the timer, or sooner if a commit wakes us */
		if (res == CKPT_FAILED) {
			ck->wake = true; /* try again as soon as the pause is over */
			not_before = mono_ms() + retry_ms;
			retry_ms = retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retry_ms * 2;
		} else {
			retry_ms = RETRY_FIRST_MS;
		}
	}
	pthread_mutex_unlock(&ck->mu);
	checkpoint(ck, true); /* the last one: the WAL file is left empty */
	return NULL;
}

kr_status kr_checkpointer_start(const char *path, const struct kr_checkpoint_opts *opts, struct kr_checkpointer **out,
				struct kr_error *err)
{
	struct kr_checkpointer *ck = calloc(1, sizeof *ck);
	pthread_condattr_t ca;
	sigset_t all, old;
	kr_status s;
	int rc;

	*out = NULL;
	if (!ck)
		return kr_fail(err, KR_ERR_NOMEM, "out of memory starting the checkpoints of %s", path);
	if (opts)
		ck->o = *opts;
	ck->o.soft_pages = ck->o.soft_pages ? ck->o.soft_pages : 4096;
	ck->o.hard_pages = ck->o.hard_pages ? ck->o.hard_pages : 16384;
	ck->o.interval_ms = ck->o.interval_ms ? ck->o.interval_ms : 1000;
	ck->o.busy_ms = ck->o.busy_ms ? ck->o.busy_ms : 2000;
	ck->o.log = ck->o.log ? ck->o.log : log_stderr;
	if ((s = kr_store_open(path, &ck->st, err))) {
		kr_error_prefix(err, "starting the checkpoints");
		free(ck);
		return s;
	}
	ck->file = sqlite3_db_filename(ck->st->db, "main"); /* valid while the connection is open */
	/* How long a truncating checkpoint waits for the writer and the readers of the old WAL. */
	sqlite3_busy_timeout(ck->st->db, (int)ck->o.busy_ms);
	ck->refs = 1;
	pthread_mutex_init(&ck->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ck->cv, &ca);
	pthread_condattr_destroy(&ca);
	/* Signals go to the process's other threads (the hub's main loop waits for SIGTERM). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&ck->thread, NULL, checkpoint_main, ck);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		kr_store_close(ck->st);
		pthread_cond_destroy(&ck->cv);
		pthread_mutex_destroy(&ck->mu);
		free(ck);
		return kr_fail(err, KR_ERR_NOMEM, "cannot start the checkpoint thread for %s: error %d", path, rc);
	}
	pthread_mutex_lock(&running_lock);
	ck->next = running;
	running = ck;
	pthread_mutex_unlock(&running_lock);
	*out = ck;
	return KR_OK;
}

void kr_checkpointer_adopt(struct kr_store *st)
{
	const char *file;
	struct kr_checkpointer *ck;

	assert(!st->ckpt);
	pthread_mutex_lock(&running_lock);
	file = running ? sqlite3_db_filename(st->db, "main") : NULL;
	for (ck = running; ck && !(file && strcmp(ck->file, file) == 0); ck = ck->next)
		;
	if (ck) {
		pthread_mutex_lock(&ck->mu);
		ck->refs++;
		pthread_mutex_unlock(&ck->mu);
	}
	pthread_mutex_unlock(&running_lock);
	if (!ck)
		return;
	st->ckpt = ck;
	/* PRAGMA wal_autocheckpoint is itself a WAL hook: turning it off and setting ours are one change. */
	sqlite3_wal_autocheckpoint(st->db, 0);
	sqlite3_wal_hook(st->db, on_commit, ck);
}

void kr_checkpointer_detach(struct kr_store *st)
{
	struct kr_checkpointer *ck = st->ckpt;

	if (!ck)
		return;
	sqlite3_wal_hook(st->db, NULL, NULL);
	st->ckpt = NULL;
	release(ck);
}

void kr_checkpointer_stats(struct kr_checkpointer *ck, struct kr_checkpoint_stats *out)
{
	pthread_mutex_lock(&ck->mu);
	*out = ck->stats;
	pthread_mutex_unlock(&ck->mu);
}

void kr_checkpointer_stop(struct kr_checkpointer *ck)
{
	if (!ck)
		return;
	pthread_mutex_lock(&running_lock);
	for (struct kr_checkpointer **p = &running; *p; p = &(*p)->next)
		if (*p == ck) {
			*p = ck->next;
			break;
		}
	pthread_mutex_lock(&ck->mu);
	ck->stopping = true;
	pthread_cond_signal(&ck->cv);
	pthread_mutex_unlock(&ck->mu);
	pthread_mutex_unlock(&running_lock);
	pthread_join(ck->thread, NULL);
	kr_store_close(ck->st);
	ck->st = NULL;
	release(ck);
}
