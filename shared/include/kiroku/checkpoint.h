/* checkpoint.h: WAL checkpoints of a store in a background thread, off the writers' commits.
 *
 * SQLite's automatic checkpoint runs inside the commit of whichever connection pushed the WAL past 1,000
 * pages: the writer (and, at the hub, the agent waiting for its answer) pays for copying the WAL into the
 * database file and its fsync. A checkpointer takes that work to a thread of its own, with its own connection
 * to the store:
 *   - every connection to the same file that kr_store_open opens in this process while it runs is attached to
 *     it: it stops checkpointing in its commits (wal_autocheckpoint=0), and a commit that leaves the WAL at
 *     soft_pages or more wakes the thread, which runs a PASSIVE checkpoint (it waits for no one). Connections
 *     opened before the start, and other processes, keep SQLite's automatic checkpoint;
 *   - the frames of commits that leave the WAL smaller are checkpointed interval_ms after the first of them;
 *   - when the WAL holds hard_pages or more (readers that never let a checkpoint finish, or writers faster
 *     than it), it runs a TRUNCATE checkpoint, which makes writers wait (at most busy_ms) while it finishes and
 *     empties the WAL file: the file stays bounded;
 *   - a checkpoint that fails (a full disk, an I/O error) changes nothing that was committed: the WAL keeps
 *     every frame until a checkpoint has copied it and synced the database file. It is retried after 1 s, then
 *     after twice as long each time, up to 16 s. The first failure is logged with its reason, and the first
 *     success after failures; the attempts between are not.
 * Durability is SQLite's: the checkpointer's connection uses synchronous=FULL like every store, and a process
 * killed during a checkpoint recovers from the WAL on its next open.
 */
#ifndef KR_CHECKPOINT_H
#define KR_CHECKPOINT_H

#include <stdint.h>

#include "kiroku/error.h"
#include "kiroku/store.h"

struct kr_checkpointer;

struct kr_checkpoint_opts {
	/* A commit leaving this many WAL pages wakes the thread [4096: 16 MiB]. SQLite's automatic checkpoint uses
	 * 1,000; off the commit path fewer, larger checkpoints cost less (fewer fsyncs of the database file, pages
	 * written by several commits copied once): bench_sync's hub handler was ~0.1 s faster than with 1,000. */
	unsigned soft_pages;
	unsigned hard_pages;  /* WAL pages from which the thread truncates, making writers wait [16384: 64 MiB] */
	unsigned interval_ms; /* WALs under soft_pages: checkpointed this long after the first commit [1000] */
	unsigned busy_ms;     /* how long a truncating checkpoint waits for writers and readers [2000] */
	/* One line, without a newline: the first failure and the recovery. NULL: stderr, with a UTC time stamp. */
	void (*log)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
};

struct kr_checkpoint_stats {
	uint64_t checkpoints; /* checkpoints that succeeded, passive or truncating */
	uint64_t truncations; /* truncating ones run because the WAL reached hard_pages */
	uint64_t failures;    /* attempts that failed (logged: the first of each series) */
	uint64_t busy;        /* passive ones that found another checkpoint running, retried later */
};

/* Opens a connection to the store at path and starts the thread; from then on kr_store_open attaches the
 * connections it opens to that file. opts may be NULL (the defaults); a zero field takes its default. On error
 * nothing is left running and *out is NULL. One checkpointer per store at a time. */
kr_status kr_checkpointer_start(const char *path, const struct kr_checkpoint_opts *opts, struct kr_checkpointer **out,
				struct kr_error *err);

/* Counters since start; safe from any thread until kr_checkpointer_stop. */
void kr_checkpointer_stats(struct kr_checkpointer *ck, struct kr_checkpoint_stats *out);

/* Stops the thread after a last checkpoint (TRUNCATE) and closes its connection; stores opened afterwards are
 * not attached. Stores still attached go back to checkpointing in their commits (PASSIVE, from soft_pages); ck
 * is freed when the last of them is closed. NULL is allowed. */
void kr_checkpointer_stop(struct kr_checkpointer *ck);

#endif
