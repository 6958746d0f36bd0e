#include "core/px_keyed_hash.h"

#include <sodium.h>
#include <string.h>
#include <sys/random.h>

/* The key and output sizes this API promises are SipHash-2-4's. */
_Static_assert(crypto_shorthash_siphash24_KEYBYTES == 16, "SipHash-2-4 key");
_Static_assert(crypto_shorthash_siphash24_BYTES == 8, "SipHash-2-4 output");

px_err px_keyed_hash_init(px_keyed_hash *h, const uint8_t *fixed)
{
    if (fixed) {
        memcpy(h->key, fixed, sizeof(h->key));
        return PX_OK;
    }
    if (getrandom(h->key, sizeof(h->key), 0) != (ssize_t)sizeof(h->key))
        return PX_ERR_IO;
    return PX_OK;
}

uint64_t px_keyed_hash64(const px_keyed_hash *h, const void *data, size_t len)
{
    static const uint8_t none[1];
    uint8_t out[8];
    /* libsodium's hash needs no sodium_init(): it is plain code, no RNG */
    crypto_shorthash_siphash24(out, len ? data : none, len, h->key);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | out[i];
    return v;
}

void px_keyed_hash_wipe(px_keyed_hash *h)
{
    sodium_memzero(h->key, sizeof(h->key));
}
