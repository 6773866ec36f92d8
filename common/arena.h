/*
 * arena.h - per-request memory and growable byte buffers.
 *
 * Request-lifetime memory comes from one arena that the worker resets after
 * each request, so handlers never free individual objects. A struct buf is a
 * growable byte string whose storage lives in an arena; growing the most
 * recent allocation extends it in place.
 */
#ifndef MG_ARENA_H
#define MG_ARENA_H

#include <stddef.h>
#include "mg.h"

struct arena_chunk;

struct arena {
	struct arena_chunk *head;	/* current chunk, newest first */
	size_t total;			/* bytes handed out since reset */
	size_t limit;			/* 0 = unlimited; else MG_ENOMEM past it */
	struct arena_chunk *spare;	/* chunks kept by arena_reset for the next request */
	size_t spare_bytes;
};

struct buf {
	struct arena *arena;
	char *data;	/* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
};

void arena_init(struct arena *a);
/*
 * Forgets every allocation. The chunks are kept for the next request (up to
 * ARENA_KEEP bytes; the rest is freed), so a worker serving requests of
 * similar size stops asking the kernel for memory: no page-fault churn. A
 * kept chunk that no request used in ARENA_IDLE_RESETS resets is freed.
 * Returns the bytes of chunks it freed.
 */
size_t arena_reset(struct arena *a);
/* Frees everything. */
void arena_free(struct arena *a);

/* Returns zeroed memory owned by the arena, or NULL. */
void *arena_alloc(struct arena *a, size_t size);
/* Returns a NUL-terminated copy owned by the arena, or NULL. */
char *arena_strndup(struct arena *a, const char *s, size_t len);
char *arena_strdup(struct arena *a, const char *s);
/* printf into arena memory; returns NULL on failure. */
char *arena_printf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void buf_init(struct buf *b, struct arena *a);
enum mg_err buf_reserve(struct buf *b, size_t extra);
enum mg_err buf_append(struct buf *b, const void *data, size_t len);
enum mg_err buf_appends(struct buf *b, const char *s);
enum mg_err buf_appendc(struct buf *b, char c);
enum mg_err buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Appends s as the inside of a JSON string literal (no quotes). */
enum mg_err buf_append_json_escaped(struct buf *b, const char *s, size_t len);
/* Drops the first n bytes. */
void buf_consume(struct buf *b, size_t n);
void buf_clear(struct buf *b);

#endif
