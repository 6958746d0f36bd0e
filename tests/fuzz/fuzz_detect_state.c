/* fuzz_detect_state.c: arbitrary bytes as a state value of detect/ (the
 * meta, burst and geo values of px_detect_int.h; the first byte picks
 * which). Checks, besides no crash and no leak: a value the decoder
 * accepts encodes to one it accepts again, to the same encoding (the
 * decoder and encoder agree on every field). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "px_detect_int.h"

static void same(const px_buf *a, const px_buf *b)
{
    if (px_buf_size(a) != px_buf_size(b) ||
        memcmp(px_buf_data(a), px_buf_data(b), px_buf_size(a)) != 0)
        abort();
}

#define ROUND(type, dec, enc)                                                                      \
    do {                                                                                           \
        type *x = calloc(1, sizeof *x), *y = calloc(1, sizeof *y);                                 \
        if (x && y && dec(v, n, x) == PX_OK) {                                                     \
            if (enc(x, &a) != PX_OK || dec(px_buf_data(&a), px_buf_size(&a), y) != PX_OK ||        \
                enc(y, &b) != PX_OK)                                                               \
                abort();                                                                           \
            same(&a, &b);                                                                          \
        }                                                                                          \
        free(x);                                                                                   \
        free(y);                                                                                   \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *v = data + 1;
    size_t n = size - 1;
    px_buf a = {0}, b = {0};
    switch (data[0] % 3) {
    case 0:
        ROUND(pxd_meta, pxd_meta_decode, pxd_meta_encode);
        break;
    case 1:
        ROUND(pxd_burst, pxd_burst_decode, pxd_burst_encode);
        break;
    default:
        ROUND(pxd_geo, pxd_geo_decode, pxd_geo_encode);
        break;
    }
    px_buf_free(&a);
    px_buf_free(&b);
    return 0;
}
