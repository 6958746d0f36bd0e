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

/* ---- varints (LEB128: 7 bits a byte, low group first, high bit = more) ---- */

/* The varint readers below: at most max_bytes bytes; with bits, nothing
 * may be set past bit `bits` either. */
static inline uint64_t px_wire__varint(px_wire *w, unsigned max_bytes, unsigned bits)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < max_bytes && i < 10; i++) {
        uint8_t b = px_wire_u8(w);
        if (w->err)
            return 0;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            unsigned spare = bits && 7 * (i + 1) > bits ? 7 * (i + 1) - bits : 0;
            if (spare && (b >> (7 - spare)) != 0)
                break;
            return v;
        }
    }
    px_wire_fail(w, PX_ERR_MALFORMED);
    return 0;
}

/* An unsigned varint of at most max_bytes bytes (1..10): protobuf's rule,
 * bits past the 64th are dropped. Longer: PX_ERR_MALFORMED; cut short:
 * PX_ERR_TRUNC. */
static inline uint64_t px_wire_varint(px_wire *w, unsigned max_bytes)
{
    return px_wire__varint(w, max_bytes, 0);
}

/* An unsigned varint of a `bits`-bit integer (32 or 64): Avro's rule, at
 * most ceil(bits / 7) bytes and nothing set past bit `bits` (a 10-byte
 * value ends in 0x00 or 0x01). Otherwise PX_ERR_MALFORMED. */
static inline uint64_t px_wire_varint_strict(px_wire *w, unsigned bits)
{
    return px_wire__varint(w, (bits + 6) / 7, bits);
}

/* Zigzag maps signed to unsigned so that small magnitudes stay short
 * (0, -1, 1, -2 ... -> 0, 1, 2, 3 ...): Avro's int and long, protobuf's
 * sint32/sint64. */
static inline uint64_t px_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t) - (int64_t)((uint64_t)v >> 63);
}

static inline int64_t px_unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

#endif
