/* fstrm_feed.c: a Frame Streams receiver fed from a buffer. */
#include <string.h>

#include "pxt_producer.h"

px_err pxt_fstrm_recv_feed(px_fstrm_recv *r, const uint8_t *data, size_t len, px_fstrm_data_fn fn,
                           void *ctx)
{
    px_err err = PX_OK;
    do {
        size_t avail;
        uint8_t *p = px_fstrm_recv_space(r, &avail);
        if (!p)
            return PX_ERR_NOMEM;
        size_t n = len < avail ? len : avail;
        memcpy(p, data, n);
        data += n;
        len -= n;
        err = px_fstrm_recv_commit(r, n, fn, ctx);
    } while (err == PX_OK && len > 0);
    return err;
}
