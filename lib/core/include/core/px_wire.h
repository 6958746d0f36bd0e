/* px_wire.h: the one bounds-checked cursor for all wire parsing (DNS,
 * link/IP/UDP/TCP headers, Frame Streams control frames).
 *
 * Every read checks the remaining length. The first failure sets a sticky
 * error (PX_ERR_TRUNC); after it every read returns 0 and moves nothing, so
 * a parser can read a whole header and check px_wire_err() once. Never trust
 * a length from the input: px_wire_skip()/px_wire_bytes() check it. */
#ifndef PX_WIRE_H
#define PX_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/px_error.h"

typedef struct px_wire {
    const uint8_t *start; /* first byte of the buffer (for offsets) */
    const uint8_t *pos;   /* next byte to read */
    const uint8_t *end;   /* one past the last byte */
    px_err err;           /* sticky: first error, PX_OK if none */
} px_wire;

static inline void px_wire_init(px_wire *w, const uint8_t *buf, size_t len)
{
    w->start = buf;
    w->pos = buf;
    w->end = buf + len;
    w->err = PX_OK;
}

static inline size_t px_wire_avail(const px_wire *w)
{
    return w->err ? 0 : (size_t)(w->end - w->pos);
}

static inline size_t px_wire_offset(const px_wire *w)
{
    return (size_t)(w->pos - w->start);
}

static inline size_t px_wire_size(const px_wire *w)
{
    return (size_t)(w->end - w->start);
}

static inline px_err px_wire_err(const px_wire *w)
{
    return w->err;
}

/* Set the sticky error (keeps the first one). */
static inline void px_wire_fail(px_wire *w, px_err err)
{
    if (w->err == PX_OK)
        w->err = err;
}

static inline int px_wire_need(px_wire *w, size_t n)
{
    if (w->err)
        return 0;
    if ((size_t)(w->end - w->pos) < n) {
        w->err = PX_ERR_TRUNC;
        return 0;
    }
    return 1;
}

static inline uint8_t px_wire_u8(px_wire *w)
{
    if (!px_wire_need(w, 1))
        return 0;
    return *w->pos++;
}

/* Big-endian (network order) reads. */
static inline uint16_t px_wire_u16(px_wire *w)
{
    if (!px_wire_need(w, 2))
        return 0;
    uint16_t v = (uint16_t)((w->pos[0] << 8) | w->pos[1]);
    w->pos += 2;
    return v;
}

static inline uint32_t px_wire_u32(px_wire *w)
{
    if (!px_wire_need(w, 4))
        return 0;
    uint32_t v = ((uint32_t)w->pos[0] << 24) | ((uint32_t)w->pos[1] << 16) |
                 ((uint32_t)w->pos[2] << 8) | (uint32_t)w->pos[3];
    w->pos += 4;
    return v;
}

/* Little-endian reads (pcap headers of the other byte order, Linux SLL2). */
static inline uint16_t px_wire_u16le(px_wire *w)
{
    if (!px_wire_need(w, 2))
        return 0;
    uint16_t v = (uint16_t)(w->pos[0] | (w->pos[1] << 8));
    w->pos += 2;
    return v;
}

static inline uint32_t px_wire_u32le(px_wire *w)
{
    if (!px_wire_need(w, 4))
        return 0;
    uint32_t v = (uint32_t)w->pos[0] | ((uint32_t)w->pos[1] << 8) | ((uint32_t)w->pos[2] << 16) |
                 ((uint32_t)w->pos[3] << 24);
    w->pos += 4;
    return v;
}

static inline void px_wire_skip(px_wire *w, size_t n)
{
    if (px_wire_need(w, n))
        w->pos += n;
}

/* Returns a pointer to n bytes in the buffer and moves past them, or NULL
 * (and sets the error) if fewer than n remain. */
static inline const uint8_t *px_wire_bytes(px_wire *w, size_t n)
{
    if (!px_wire_need(w, n))
        return NULL;
    const uint8_t *p = w->pos;
    w->pos += n;
    return p;
}

static inline void px_wire_copy(px_wire *w, void *dst, size_t n)
{
    const uint8_t *p = px_wire_bytes(w, n);
    if (p)
        memcpy(dst, p, n);
}

/* Moves to an absolute offset from the start (DNS compression pointers). */
static inline void px_wire_seek(px_wire *w, size_t off)
{
    if (w->err)
        return;
    if (off > (size_t)(w->end - w->start)) {
        w->err = PX_ERR_TRUNC;
        return;
    }
    w->pos = w->start + off;
}

/* A sub-cursor over the next n bytes, advancing the parent past them. On
 * failure the sub-cursor carries the error and is empty. */
static inline px_wire px_wire_sub(px_wire *w, size_t n)
{
    px_wire s;
    const uint8_t *p = px_wire_bytes(w, n);
    px_wire_init(&s, p ? p : w->pos, p ? n : 0);
    if (!p)
        s.err = PX_ERR_TRUNC;
    return s;
}

#endif
