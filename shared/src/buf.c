/* buf.c: bounded buffers and arenas. */
#include "kiroku/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kr_buf_init(struct kr_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void kr_buf_release(struct kr_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

kr_status kr_buf_reserve(struct kr_buf *b, size_t extra)
{
	size_t want, ncap;
	uint8_t *p;

	if (extra > SIZE_MAX - b->len - 1)
		return KR_ERR_TOO_BIG;
	want = b->len + extra;
	if (b->max && want > b->max)
		return KR_ERR_TOO_BIG;
	if (want + 1 <= b->cap)
		return KR_OK;
	ncap = b->cap ? b->cap : 256;
	while (ncap < want + 1)
		ncap = ncap > SIZE_MAX / 2 ? want + 1 : ncap * 2;
	if (b->max && ncap > b->max + 1)
		ncap = b->max + 1;
	p = realloc(b->data, ncap);
	if (!p)
		return KR_ERR_NOMEM;
	b->data = p;
	b->cap = ncap;
	return KR_OK;
}

kr_status kr_buf_append(struct kr_buf *b, const void *p, size_t n)
{
	kr_status st;

	if (n == 0)
		return KR_OK;
	st = kr_buf_reserve(b, n);
	if (st)
		return st;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return KR_OK;
}

kr_status kr_buf_printf(struct kr_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	kr_status st;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return KR_ERR_INTERNAL;
	st = kr_buf_reserve(b, (size_t)n + 1);
	if (st)
		return st;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return KR_OK;
}

kr_status kr_buf_terminate(struct kr_buf *b)
{
	kr_status st = kr_buf_reserve(b, 0);
	if (st)
		return st;
	b->data[b->len] = 0;
	return KR_OK;
}

uint8_t *kr_buf_take(struct kr_buf *b, size_t *len)
{
	uint8_t *p = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

/* Arena chunks: a header followed by the memory handed out. */
struct kr_arena_chunk {
	struct kr_arena_chunk *next;
	size_t size;
	size_t off;
	_Alignas(16) unsigned char mem[];
};

void kr_arena_init(struct kr_arena *a, size_t max)
{
	a->head = NULL;
	a->used = 0;
	a->max = max;
}

void kr_arena_release(struct kr_arena *a)
{
	struct kr_arena_chunk *c = a->head, *next;
	while (c) {
		next = c->next;
		free(c);
		c = next;
	}
	a->head = NULL;
	a->used = 0;
}

void *kr_arena_alloc(struct kr_arena *a, size_t n)
{
	struct kr_arena_chunk *c = a->head;
	size_t need = (n + 15) & ~(size_t)15;
	void *p;

	if (n > SIZE_MAX / 2 || (a->max && a->used + need > a->max))
		return NULL;
	if (!c || c->size - c->off < need) {
		size_t size = need > 16384 ? need : 16384;
		c = malloc(sizeof *c + size);
		if (!c)
			return NULL;
		c->size = size;
		c->off = 0;
		c->next = a->head;
		a->head = c;
	}
	p = c->mem + c->off;
	c->off += need;
	a->used += need;
	memset(p, 0, n);
	return p;
}

char *kr_arena_strndup(struct kr_arena *a, const char *s, size_t n)
{
	char *p = kr_arena_alloc(a, n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

char *kr_arena_strdup(struct kr_arena *a, const char *s)
{
	return kr_arena_strndup(a, s, strlen(s));
}
