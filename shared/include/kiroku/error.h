/* error.h: the library's one error enum and the error struct that carries the human message.
 *
 * Every fallible libkiroku function returns kr_status (KR_OK is 0) and, when given a non-NULL
 * struct kr_error *, fills it with a message that names what failed first, then why, then what to do.
 * Foreign codes (SQLite, mbedTLS, libcurl, errno) are translated at the boundary; the native code is
 * written into the message text. The struct is plain data owned by the caller: nothing to free.
 */
#ifndef KR_ERROR_H
#define KR_ERROR_H

#include <stddef.h>

typedef enum kr_status {
	KR_OK = 0,
	KR_ERR_NOMEM,      /* an allocation failed; nothing was written */
	KR_ERR_IO,         /* a file or the disk failed (full disk, permissions, ...) */
	KR_ERR_STORE,      /* SQLite reported an error */
	KR_ERR_NOT_STORE,  /* the file is not a kiroku store */
	KR_ERR_TOO_NEW,    /* the store was written by a newer kiroku */
	KR_ERR_INVALID,    /* input failed validation (field, value, record) */
	KR_ERR_MALFORMED,  /* bytes that are not a well-formed message (CBOR, HTTP, PEM) */
	KR_ERR_TOO_BIG,    /* input over a size or count cap */
	KR_ERR_GAP,        /* a sequence gap: kr_error.expected holds the number that was expected */
	KR_ERR_FORBIDDEN,  /* a facility, record or field the sender may not write */
	KR_ERR_NOT_FOUND,  /* no such record, conflict, node, ... */
	KR_ERR_CONFLICT,   /* the operation does not fit the current state (e.g. editing a deleted record) */
	KR_ERR_TLS,        /* mbedTLS reported an error */
	KR_ERR_NETWORK,    /* connection refused, timed out, reset */
	KR_ERR_CONFIG,     /* a configuration file or option is wrong */
	KR_ERR_BUSY,       /* temporarily unable (disk full at the hub, queue full): try again later */
	KR_ERR_INTERNAL,   /* a bug: an invariant did not hold */
} kr_status;

struct kr_error {
	kr_status code;
	unsigned long long expected; /* KR_ERR_GAP: the sequence number that was expected */
	char msg[512];
};

/* Sets err (if non-NULL) to code and a printf-style message; returns code so callers can
 * `return kr_fail(err, KR_ERR_INVALID, "...")`. This function can't fail (long text is cut). */
kr_status kr_fail(struct kr_error *err, kr_status code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes err->msg with context ("importing changes.cbor: ..."), keeping the code. */
void kr_error_prefix(struct kr_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A short constant name for a status ("invalid", "gap", ...). Never NULL. */
const char *kr_status_name(kr_status code);

#endif
