/* demo.h: a deterministic generator of realistic records (schools and offices, every kind of the catalogue),
 * for the demonstration, the tests and the benchmarks.
 *
 * The same options give the same records (fields and facilities; ids and HLC timestamps are made afresh),
 * in Japanese as the city's staff write them. Facilities are named es-NNN (小学校), jhs-NNN (中学校) and
 * sec-NNN (区の課). Records are written at the hub as the hub's own changes (they travel to the facilities'
 * agents like operator edits), in transactions of a few thousand records. Names of persons are made up from
 * common family and given names.
 */
#ifndef KR_DEMO_H
#define KR_DEMO_H

#include <stddef.h>
#include <stdint.h>

#include "kiroku/error.h"
#include "kiroku/store.h"

#define KR_DEMO_MAX_FACILITIES 10000

struct kr_demo_opts {
	unsigned facilities; /* 1 to KR_DEMO_MAX_FACILITIES */
	int year;            /* fiscal year: April of year to March of year + 1 (2000 to 2100) */
	uint64_t seed;
	uint64_t incidents; /* 0: a realistic number per facility; else this many in all, spread evenly */
	uint64_t others;    /* 0: realistic; else this many records of the other kinds in all */
	void (*progress)(void *ctx, uint64_t done); /* may be NULL; called after each transaction */
	void *progress_ctx;
};

struct kr_demo_result {
	uint64_t records;
	uint64_t by_kind[8]; /* in the catalogue's order of kinds */
};

/* Generates the records into a hub store. On error (KR_ERR_INVALID for bad options, KR_ERR_FORBIDDEN for
 * an agent's store, or a store error) the transaction in progress is rolled back; records of earlier
 * transactions stay (res says how many). */
kr_status kr_demo_generate(struct kr_store *st, const struct kr_demo_opts *o, struct kr_demo_result *res,
                           struct kr_error *err);

#endif
