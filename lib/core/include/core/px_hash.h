/* px_hash.h: a fast seeded 64-bit hash for in-memory tables (the filter's
 * zone set, the window's key table). Not a cryptographic hash and not a
 * stable format: values may change between versions, never store them.
 *
 * Construction: 16 input bytes per 64x64->128 bit multiply, folding high
 * and low halves (the wyhash idea, written from scratch here). */
#ifndef PX_HASH_H
#define PX_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PX_HASH_K0 0xa0761d6478bd642fULL
#define PX_HASH_K1 0xe7037ed1a0b428dbULL
#define PX_HASH_K2 0x8ebc6af09c88c6e3ULL

static inline uint64_t px_hash_mix(uint64_t a, uint64_t b)
{
    __extension__ typedef unsigned __int128 px_u128;
    px_u128 r = (px_u128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t px_hash_read(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    memcpy(&v, p, n); /* n <= 8; unaligned-safe */
    return v;
}

static inline uint64_t px_hash64(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data;
    size_t n = len;
    seed ^= px_hash_mix(seed ^ PX_HASH_K0, PX_HASH_K1);
    while (n > 16) {
        seed = px_hash_mix(px_hash_read(p, 8) ^ PX_HASH_K1, px_hash_read(p + 8, 8) ^ seed);
        p += 16;
        n -= 16;
    }
    uint64_t a = px_hash_read(p, n < 8 ? n : 8);
    uint64_t b = n > 8 ? px_hash_read(p + 8, n - 8) : 0;
    return px_hash_mix(PX_HASH_K2 ^ len, px_hash_mix(a ^ PX_HASH_K1, b ^ seed));
}

#endif
