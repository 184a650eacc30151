/* report.h: the consolidated review material (要綱 第11条第5項, the CISO's management review), made at the hub.
 *
 * For a period (a fiscal year runs April to March) and over every facility, kr_report_write writes into a
 * directory:
 *   review.html  one self-contained file (no scripts, no fetches), A4 print styles, charts as inline SVG;
 *                its first page is the overall status, then a section per item of 第11条第5項 and an
 *                annex listing each incident of the period;
 *   NN-TABLE.csv one file per table of figures (NN: the item number of 第11条第5項, 10 for the annex):
 *                UTF-8 with a BOM, CRLF line ends, RFC 4180 quoting, labels in the report's language;
 *   review.json  the same figures for programs: stored values (not labels), rates as fractions.
 * docs/report.md defines every figure. Personal fields (the catalogue's personal flag) are pseudonymised
 * with kr_pseudonym unless the caller asks otherwise (指針 第20条第6項).
 *
 * Figures are computed with SQL over the records' JSON fields, in temporary tables (in memory) of the store's
 * connection, and the annex is streamed: memory grows with the lists of figures (open incidents, ...) and
 * about 200 bytes per incident, not with the annex (100,000 incidents: about 60 MiB). Files are written under
 * temporary names and renamed when complete (mode 0600: they may hold personal data). Reads the store only
 * (its own temporary tables aside); the connection's temp_store is set back to its default afterwards.
 */
#ifndef KR_REPORT_H
#define KR_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiroku/day.h"
#include "kiroku/error.h"
#include "kiroku/pseudonym.h"
#include "kiroku/store.h"

struct kr_report_opts {
	kr_day from, to;       /* the period, inclusive */
	kr_day today;          /* the day deadlines and overdue items are judged on */
	const char *lang;      /* "ja" (default when NULL) or "en" */
	bool pseudonymise;     /* replace personal fields by pseudonyms (then key must be set) */
	const uint8_t *key;    /* KR_PSEUDONYM_KEY_LEN bytes */
	const char *out_dir;   /* created (0700) if missing */
	uint64_t generated_ms; /* the time written as "generated at" (0: now) */
};

struct kr_report_summary {
	size_t facilities;
	uint64_t incidents;      /* incidents of the period */
	uint64_t open_incidents; /* not closed, occurred up to the period's end */
	uint64_t overdue_items;  /* PPC reports, corrective actions, risk treatments and contractor checks overdue */
	size_t files;            /* files written */
	size_t tables;
};

/* Computes the figures and writes the files. On error (KR_ERR_IO naming the file, KR_ERR_STORE, KR_ERR_NOMEM,
 * KR_ERR_INVALID for bad options) the temporary files are removed and no file of DIR is replaced; the files
 * are renamed into place only when all of them are complete. Reads the store only. */
kr_status kr_report_write(struct kr_store *st, const struct kr_report_opts *opts, struct kr_report_summary *sum,
                          struct kr_error *err);

#endif
