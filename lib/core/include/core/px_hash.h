/* px_hash.h: the 64-bit hash of pdnsx's in-memory tables (window keys,
 * store batches, PSL and GeoIP caches, privacy zone sets): XXH3-64,
 * inlined because the keys are short (17-96 bytes) and a call would cost
 * as much as the hash.
 *
 * Not a stable format: never write these values to a file. Tables whose
 * keys an attacker picks (names from DNS traffic) seed with px_hash_seed(),
 * xored with a constant per table. */
#ifndef PX_HASH_H
#define PX_HASH_H

#include <stddef.h>
#include <stdint.h>

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

static inline uint64_t px_hash64(const void *data, size_t len, uint64_t seed)
{
    return XXH3_64bits_withSeed(data, len, (XXH64_hash_t)seed);
}

/* A random 64-bit value drawn once per process (getrandom), the same on
 * every call. Thread-safe. */
uint64_t px_hash_seed(void);

#endif
