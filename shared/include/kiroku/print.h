/* print.h: what the command lines of the agent and the hub share: record output, exit codes and files.
 *
 * Records are printed with the catalogue's labels in Japanese ("ja", the default) or English ("en"), as
 * a table for people (columns padded by display width, so Japanese text lines up), as TSV for scripts
 * or as JSON. Output goes to a FILE the caller gives; nothing here keeps state between calls.
 *
 * Exit codes (the same for kiroku-agent and kiroku-hub; docs/cli.md lists them):
 *   0 ok, 1 usage or configuration error, 2 invalid input, 3 store or system problem,
 *   4 refused (conflict, forbidden), 5 network, 6 sequence gap.
 */
#ifndef KR_PRINT_H
#define KR_PRINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "kiroku/buf.h"
#include "kiroku/error.h"
#include "kiroku/store.h"

enum kr_exit {
	KR_EXIT_OK = 0,
	KR_EXIT_USAGE = 1,   /* a wrong command line or configuration */
	KR_EXIT_INVALID = 2, /* input that failed validation: unknown kind or field, bad value, bad file */
	KR_EXIT_STORE = 3,   /* the store or the system: not a store, too new, damaged, disk full, no memory */
	KR_EXIT_REFUSED = 4, /* does not fit the state or the rights: a deleted record, an operator-only field */
	KR_EXIT_NETWORK = 5, /* the hub could not be reached */
	KR_EXIT_GAP = 6,     /* changes imported out of order */
};

/* The exit code for a status. Can't fail. */
int kr_exit_code(kr_status s);

enum kr_print_format {
	KR_PRINT_TABLE,
	KR_PRINT_TSV,  /* no header; columns: id kind facility deleted date status category description */
	KR_PRINT_JSON, /* one array of {id, kind, facility, deleted, fields: {name: value}} */
};

/* Parses "table", "tsv" or "json". KR_ERR_INVALID otherwise. */
kr_status kr_print_format_parse(const char *text, enum kr_print_format *out, struct kr_error *err);

/* Lists the records that match f. *count (may be NULL) gets the number printed. On error the output may
 * hold part of the list (a JSON array is then not closed). */
kr_status kr_print_list(struct kr_store *st, const struct kr_list_filter *f, enum kr_print_format format,
                        const char *lang, FILE *out, size_t *count, struct kr_error *err);

/* Prints one record: every field with its catalogue label in lang and its version (time and node), then
 * the conflict entries that name the record. */
kr_status kr_print_record(struct kr_store *st, const struct kr_record *rec, const char *lang, FILE *out,
                          struct kr_error *err);

/* Lists conflict entries (the "_conflict" records), open ones only unless include_resolved; facility
 * NULL means every facility. */
kr_status kr_print_conflicts(struct kr_store *st, const char *facility, bool include_resolved,
                             enum kr_print_format format, const char *lang, FILE *out, size_t *count,
                             struct kr_error *err);

/* Appends text to out cut to at most width display columns (a CJK character counts two) and padded with
 * spaces to exactly width when pad. A cut text ends with "…". Newlines and tabs become spaces. */
kr_status kr_print_cell(struct kr_buf *out, const char *text, size_t width, bool pad);
/* Display columns of UTF-8 text (invalid bytes count one). */
size_t kr_print_width(const char *text);

/* ---- Files ---- */

/* Reads the whole file at path into out (appended), refusing one larger than max bytes
 * (KR_ERR_TOO_BIG, with the size and the limit in the message). A path that does not exist or is not a
 * regular file is KR_ERR_INVALID; other failures KR_ERR_IO. On error out is as it was. */
kr_status kr_file_read(const char *path, size_t max, struct kr_buf *out, struct kr_error *err);

/* Writes len bytes to path, readable by the owner only (0600): into a temporary file beside it, flushed
 * to disk, then renamed over path, so path holds either its old content or the whole new one. On error
 * path is untouched and no temporary file is left. */
kr_status kr_file_write(const char *path, const void *data, size_t len, struct kr_error *err);

/* Creates directory path and any missing parents with mode 0700; an existing directory is fine. */
kr_status kr_dir_make(const char *path, struct kr_error *err);

#endif
