/* fuzz.h: what the fuzz targets under tests/fuzz share (see README.md there).
 *
 * Each fuzz_*.c defines LLVMFuzzerTestOneInput. Built with KIROKU_FUZZ (clang) it is a libFuzzer program;
 * otherwise replay_main.c runs it once on each file named on its command line (ctest replays the seeds
 * and the regression inputs that way, with any compiler). A target reports a broken invariant with
 * fuzz_fail, which aborts: libFuzzer then keeps the input as a crash.
 */
#ifndef KR_FUZZ_H
#define KR_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiroku/buf.h"
#include "kiroku/changeset.h"
#include "kiroku/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints "fuzz invariant broken: ..." on stderr and aborts. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* A scratch directory of this process (in $FUZZ_TMPDIR if set, else /dev/shm when it exists, else $TMPDIR or
 * /tmp), created on the first call and removed with its contents at a normal exit (not after a crash). Aborts
 * if it can't be made. */
const char *fuzz_tmpdir(void);

/* ---- The hub of fuzz_sync and fuzz_enroll, and the history the seeds build on ---- */

#define FUZZ_HUB_NODE "hub"
#define FUZZ_NODE     "n1" /* the peer of every fuzzed sync request */
#define FUZZ_NODE2    "n2" /* another node of the same facility */
#define FUZZ_FACILITY "f1"
#define FUZZ_T0       ((uint64_t)1736467200000 << 16) /* the history's first HLC: 2025-01-10T00:00Z */

/* The records of the history: A an incident (edited by n1 and, concurrently, by n2: one open conflict),
 * B a pi_handling ledger entry, C an incident that n1 deleted. */
extern const kr_ulid fuzz_record_a, fuzz_record_b, fuzz_record_c;

/* The history: n1's changes 1 to FUZZ_NODE_SEQ, then n2's change 1. */
#define FUZZ_NODE_SEQ 5
/* Appends the change-set of step (0: n1's five changes, 1: n2's one) to out; false past the last step. */
bool fuzz_history_set(unsigned step, struct kr_buf *out);
/* Appends a change-set of sender's changes, with since when has_since, to out. Aborts on an encoding error. */
void fuzz_encode_set(const char *sender, const struct kr_change *changes, size_t n, bool has_since, uint64_t since,
                     struct kr_buf *out);

/* A structure-aware mutation for libFuzzer's custom mutator: decodes data (size bytes) as a change-set, changes
 * one thing the way a confused or hostile agent might (a sequence number, a record, a field, a value of the
 * field's type, a base version, a delete, the sender, since, acks), with names and values taken from the
 * built-in catalogue and the history, and writes the encoding back. Returns the new size, or 0 when data is
 * not a change-set or the result would not fit max_size (the caller then mutates bytes as usual). */
size_t fuzz_mutate_changeset(uint8_t *data, size_t size, size_t max_size, unsigned seed);

/* A hub store in fuzz_tmpdir() holding the history, made on the first call and kept open (the same
 * pointer every time). Aborts if it can't be made. */
struct kr_store *fuzz_hub_store(void);

#endif
