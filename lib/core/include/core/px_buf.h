/* px_buf.h: the grow-by-doubling byte buffer and array of pdnsx.
 *
 * px_buf holds bytes [off, len) of p: writers append at len, readers
 * consume from off. Growing first moves the unread bytes to the front when
 * that makes room (a reader that keeps up never makes the buffer grow),
 * then doubles the capacity from PX_BUF_MIN. `max`, when not 0, bounds the
 * capacity: a reserve past it fails with PX_ERR_FULL and changes nothing.
 *
 * px_array_reserve grows an array of fixed-size elements the same way.
 * Both leave the old memory in place when an allocation fails. */
#ifndef PX_BUF_H
#define PX_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"
#include "core/px_wire.h"

enum { PX_BUF_MIN = 256 };

typedef struct px_buf {
    uint8_t *p; /* owned by the buffer; NULL until the first reserve */
    size_t off; /* first unread byte */
    size_t len; /* end of the content */
    size_t cap; /* bytes allocated at p */
    size_t max; /* bound on cap; 0: none. Set by the owner. */
} px_buf;

/* Room for `extra` bytes at p + len (reserve 0 allocates nothing).
 * PX_ERR_FULL past max or on size overflow, PX_ERR_NOMEM. */
px_err px_buf_reserve(px_buf *b, size_t extra);

/* Reserves n and copies data (may be NULL when n is 0) to the end. */
px_err px_buf_append(px_buf *b, const void *data, size_t n);

/* Marks n unread bytes read (at most len - off); an emptied buffer starts
 * again at 0 without moving anything. */
void px_buf_consume(px_buf *b, size_t n);

/* Moves the unread bytes to the front (off becomes 0). */
void px_buf_compact(px_buf *b);

/* Empties the buffer and keeps its memory. */
void px_buf_clear(px_buf *b);

/* Frees the memory; the buffer is empty and reusable (max is kept). */
void px_buf_free(px_buf *b);

/* The unread bytes. */
static inline const uint8_t *px_buf_data(const px_buf *b)
{
    return b->p + b->off;
}

static inline size_t px_buf_size(const px_buf *b)
{
    return b->len - b->off;
}

/* Appends v as an unsigned LEB128 varint (1 to 10 bytes; the reader is
 * px_wire_varint), or px_zigzag(v) as one. */
static inline px_err px_buf_put_varint(px_buf *b, uint64_t v)
{
    /* Inline, with one room check per varint: the store's and the Avro
     * encoder's hot loops write a dozen per record. */
    if (b->cap - b->len < 10) {
        px_err e = px_buf_reserve(b, 10);
        if (e != PX_OK)
            return e;
    }
    uint8_t *p = b->p + b->len;
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    b->len = (size_t)(p - b->p);
    return PX_OK;
}

static inline px_err px_buf_put_zigzag(px_buf *b, int64_t v)
{
    return px_buf_put_varint(b, px_zigzag(v));
}

/* Makes *arr (of *cap elements of elem bytes) hold at least `need`
 * elements: the capacity doubles from min_cap (1 if 0) until it does.
 * *arr and *cap change only on success. PX_ERR_NOMEM (also on overflow). */
px_err px_array_reserve(void **arr, size_t *cap, size_t need, size_t elem, size_t min_cap);

/* The same for a typed pointer: PX_ARRAY_RESERVE(v, cap, n + 1, 16). */
#define PX_ARRAY_RESERVE(arr, cap, need, min_cap)                                                  \
    px_array_reserve((void **)&(arr), &(cap), (need), sizeof(*(arr)), (min_cap))

#endif
