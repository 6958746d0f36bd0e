#include "core/px_buf.h"
#include "core/px_wire.h"

#include <stdlib.h>
#include <string.h>

/* The capacity that holds `need` bytes: doubling from cap (PX_BUF_MIN at
 * least), cut down to max; 0 when none does. */
static size_t px_buf_grown(const px_buf *b, size_t need)
{
    size_t nc = b->cap > PX_BUF_MIN ? b->cap : PX_BUF_MIN;
    while (nc < need) {
        if (nc > SIZE_MAX / 2)
            return 0;
        nc *= 2;
    }
    if (b->max && nc > b->max)
        nc = need <= b->max ? b->max : 0;
    return nc;
}

px_err px_buf_reserve(px_buf *b, size_t extra)
{
    size_t size = b->len - b->off;
    if (extra <= b->cap - b->len)
        return PX_OK;
    if (extra > SIZE_MAX - size)
        return PX_ERR_FULL;
    if (size + extra <= b->cap) {
        px_buf_compact(b);
        return PX_OK;
    }
    size_t nc = px_buf_grown(b, size + extra);
    if (!nc)
        return PX_ERR_FULL;
    px_buf_compact(b);
    uint8_t *p = realloc(b->p, nc);
    if (!p)
        return PX_ERR_NOMEM;
    b->p = p;
    b->cap = nc;
    return PX_OK;
}

px_err px_buf_append(px_buf *b, const void *data, size_t n)
{
    px_err e = px_buf_reserve(b, n);
    if (e != PX_OK)
        return e;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    return PX_OK;
}

void px_buf_consume(px_buf *b, size_t n)
{
    size_t size = b->len - b->off;
    b->off += n < size ? n : size;
    if (b->off == b->len)
        b->off = b->len = 0;
}

void px_buf_compact(px_buf *b)
{
    if (!b->off)
        return;
    memmove(b->p, b->p + b->off, b->len - b->off);
    b->len -= b->off;
    b->off = 0;
}

void px_buf_clear(px_buf *b)
{
    b->off = b->len = 0;
}

void px_buf_free(px_buf *b)
{
    free(b->p);
    *b = (px_buf){.max = b->max};
}

px_err px_array_reserve(void **arr, size_t *cap, size_t need, size_t elem, size_t min_cap)
{
    if (need <= *cap)
        return PX_OK;
    size_t nc = *cap ? *cap : (min_cap ? min_cap : 1);
    while (nc < need) {
        if (nc > SIZE_MAX / 2)
            return PX_ERR_NOMEM;
        nc *= 2;
    }
    if (elem && nc > SIZE_MAX / elem)
        return PX_ERR_NOMEM;
    void *p = realloc(*arr, nc * elem);
    if (!p)
        return PX_ERR_NOMEM;
    *arr = p;
    *cap = nc;
    return PX_OK;
}
