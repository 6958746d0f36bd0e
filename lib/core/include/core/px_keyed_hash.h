/* px_keyed_hash.h: a keyed 64-bit hash (SipHash-2-4, libsodium's
 * crypto_shorthash_siphash24) for values that must not be reversible or
 * predictable without the key: the producer's per-window client sets, whose
 * hashes stand for client addresses.
 *
 * The key is drawn per process (or fixed, for tests); the values are not a
 * stable format. */
#ifndef PX_KEYED_HASH_H
#define PX_KEYED_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"

typedef struct px_keyed_hash {
    uint8_t key[16];
} px_keyed_hash;

/* Sets the key: a copy of the 16 bytes at fixed, or 16 random bytes
 * (getrandom; PX_ERR_IO when the system has none) when fixed is NULL. */
px_err px_keyed_hash_init(px_keyed_hash *h, const uint8_t *fixed);

/* SipHash-2-4 of data under h's key; the 8 output bytes read as a
 * little-endian integer (the reference implementation's byte order). */
uint64_t px_keyed_hash64(const px_keyed_hash *h, const void *data, size_t len);

/* Overwrites the key. */
void px_keyed_hash_wipe(px_keyed_hash *h);

#endif
