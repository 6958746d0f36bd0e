/* px_arena.c: region allocator. Chunks form a list; the first chunk is kept
 * across resets so a window that stays small never touches malloc again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/px_arena.h"

#define PX_ARENA_DEFAULT_CHUNK (64 * 1024)
#define PX_ARENA_ALIGN 8

typedef struct px_chunk {
    struct px_chunk *next;
    size_t size; /* usable bytes in data[] */
    /* Keeps data[] 8-byte aligned whatever the header size. */
    _Alignas(PX_ARENA_ALIGN) unsigned char data[];
} px_chunk;

struct px_arena {
    px_chunk *head;  /* chunk being filled; list runs to the first one */
    px_chunk *first; /* kept on reset */
    size_t used;     /* bytes used in head */
    size_t chunk_size;
    size_t bytes; /* total held from the system, headers included */
};

static px_chunk *chunk_new(px_arena *a, size_t size)
{
    px_chunk *c = malloc(sizeof(*c) + size);
    if (!c)
        return NULL;
    c->next = NULL;
    c->size = size;
    a->bytes += sizeof(*c) + size;
    return c;
}

px_arena *px_arena_create(size_t chunk_size)
{
    px_arena *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->chunk_size = chunk_size ? chunk_size : PX_ARENA_DEFAULT_CHUNK;
    a->bytes = sizeof(*a);
    a->first = chunk_new(a, a->chunk_size);
    if (!a->first) {
        free(a);
        return NULL;
    }
    a->head = a->first;
    return a;
}

void px_arena_destroy(px_arena *a)
{
    if (!a)
        return;
    px_chunk *c = a->head;
    while (c) {
        px_chunk *next = c->next;
        free(c);
        c = next;
    }
    free(a);
}

void *px_arena_alloc(px_arena *a, size_t n)
{
    size_t need = (n + PX_ARENA_ALIGN - 1) & ~(size_t)(PX_ARENA_ALIGN - 1);
    if (need < n)
        return NULL; /* overflow */
    if (a->head->size - a->used >= need) {
        void *p = a->head->data + a->used;
        a->used += need;
        return p;
    }
    /* Oversized requests get a chunk of their own, linked behind the
     * current head so the head's free space is not wasted. Reset frees every
     * chunk but `first`, so list order does not matter. */
    if (need > a->chunk_size / 4) {
        if (need > SIZE_MAX - sizeof(px_chunk))
            return NULL;
        px_chunk *big = chunk_new(a, need);
        if (!big)
            return NULL;
        big->next = a->head->next;
        a->head->next = big;
        return big->data;
    }
    px_chunk *c = chunk_new(a, a->chunk_size);
    if (!c)
        return NULL;
    c->next = a->head;
    a->head = c;
    a->used = need;
    return c->data;
}

#define PX_ARENA_LINE 64

/* Bytes to skip at p so that `hot` bytes from there span the fewest
 * cache lines; a multiple of 8 since blocks are 8-aligned. */
static size_t line_pad(const unsigned char *p, size_t hot)
{
    size_t off = (uintptr_t)p % PX_ARENA_LINE;
    size_t least = (hot + PX_ARENA_LINE - 1) / PX_ARENA_LINE;
    if ((off + hot + PX_ARENA_LINE - 1) / PX_ARENA_LINE <= least)
        return 0;
    return PX_ARENA_LINE - off;
}

void *px_arena_alloc_lines(px_arena *a, size_t n, size_t hot)
{
    const size_t slack = PX_ARENA_LINE - PX_ARENA_ALIGN;
    if (n > SIZE_MAX - slack)
        return NULL;
    if (hot > n)
        hot = n;
    size_t pad = line_pad(a->head->data + a->used, hot);
    size_t need = (n + PX_ARENA_ALIGN - 1) & ~(size_t)(PX_ARENA_ALIGN - 1);
    if (a->head->size - a->used >= pad + need) {
        a->used += pad;
        return px_arena_alloc(a, n);
    }
    /* A new chunk: room for the worst padding, which is then known. */
    unsigned char *p = px_arena_alloc(a, n + slack);
    return p ? p + line_pad(p, hot) : NULL;
}

char *px_arena_strndup(px_arena *a, const char *s, size_t n)
{
    char *p = px_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void px_arena_reset(px_arena *a)
{
    /* Everything reachable from head except `first` goes. */
    px_chunk *c = a->head;
    while (c) {
        px_chunk *next = c->next;
        if (c != a->first) {
            a->bytes -= sizeof(*c) + c->size;
            free(c);
        }
        c = next;
    }
    a->first->next = NULL;
    a->head = a->first;
    a->used = 0;
}

size_t px_arena_bytes(const px_arena *a)
{
    return a ? a->bytes : 0;
}
