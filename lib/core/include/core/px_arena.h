/* px_arena.h: a region allocator. Everything of one aggregation window is
 * allocated here and freed at once when the window flushes (as Unbound's
 * util/regional.h). Not thread-safe. */
#ifndef PX_ARENA_H
#define PX_ARENA_H

#include <stddef.h>

typedef struct px_arena px_arena;

/* chunk_size: bytes per chunk (0: 64 KiB). Returns NULL on no memory. */
px_arena *px_arena_create(size_t chunk_size);
void px_arena_destroy(px_arena *a); /* NULL is fine */
/* 8-byte aligned block of n bytes, NULL on no memory. Larger than a chunk is fine. */
void *px_arena_alloc(px_arena *a, size_t n);
/* As px_arena_alloc(), but placed so that its first `hot` bytes (<= n)
 * span as few 64-byte cache lines as they can: a block read on a hot path
 * then costs the fewest cache misses. Pads at most 56 bytes. */
void *px_arena_alloc_lines(px_arena *a, size_t n, size_t hot);
/* Copy of s[0..n) with a terminating NUL. */
char *px_arena_strndup(px_arena *a, const char *s, size_t n);
/* Frees every block but keeps the first chunk for reuse. */
void px_arena_reset(px_arena *a);
/* Bytes held from the system (for metrics and memory bounds). */
size_t px_arena_bytes(const px_arena *a);

#endif
