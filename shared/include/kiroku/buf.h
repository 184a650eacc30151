/* buf.h: bounded growable byte buffers and per-message arenas.
 *
 * struct kr_buf grows on append up to its cap (max); an append past the cap fails with KR_ERR_TOO_BIG
 * and leaves the buffer as it was. struct kr_arena hands out memory that lives until kr_arena_release,
 * which frees it all in one call: a decoded change-set keeps its strings and arrays in one arena.
 */
#ifndef KR_BUF_H
#define KR_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "kiroku/error.h"

struct kr_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max; /* 0 means no cap (only for data the program makes itself) */
};

/* Sets up an empty buffer with a size cap. Can't fail; allocates nothing yet. */
void kr_buf_init(struct kr_buf *b, size_t max);
/* Frees the data; the struct may be reused after kr_buf_init. */
void kr_buf_release(struct kr_buf *b);
/* Appends n bytes. On error (NOMEM, TOO_BIG) the buffer is unchanged. */
kr_status kr_buf_append(struct kr_buf *b, const void *p, size_t n);
kr_status kr_buf_reserve(struct kr_buf *b, size_t extra);
kr_status kr_buf_printf(struct kr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a NUL without counting it in len, so data can be read as a C string. */
kr_status kr_buf_terminate(struct kr_buf *b);
/* Hands the data to the caller (who frees it with free()); the buffer is left empty. */
uint8_t *kr_buf_take(struct kr_buf *b, size_t *len);

struct kr_arena_chunk;
struct kr_arena {
	struct kr_arena_chunk *head;
	size_t used;  /* total bytes handed out */
	size_t max;   /* cap on used; 0 means no cap */
};

void kr_arena_init(struct kr_arena *a, size_t max);
void kr_arena_release(struct kr_arena *a);
/* Zeroed, 16-byte aligned memory that lives until kr_arena_release. NULL on failure or past the cap. */
void *kr_arena_alloc(struct kr_arena *a, size_t n);
/* A NUL-terminated copy of n bytes of s. NULL on failure. */
char *kr_arena_strndup(struct kr_arena *a, const char *s, size_t n);
char *kr_arena_strdup(struct kr_arena *a, const char *s);

#endif
