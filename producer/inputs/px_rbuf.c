/* px_rbuf.c: read buffer for the file inputs. */
#include "px_rbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/px_buf.h"

struct px_rbuf {
    int fd;
    px_buf b; /* the unread bytes are px_buf_data(&b) */
    size_t chunk;
    uint64_t consumed; /* bytes consumed before px_buf_data(&b) */
};

px_rbuf *px_rbuf_create(int fd, size_t chunk)
{
    px_rbuf *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->fd = fd;
    b->chunk = chunk ? chunk : PX_RBUF_CHUNK;
    if (px_buf_reserve(&b->b, b->chunk) != PX_OK) {
        free(b);
        return NULL;
    }
    return b;
}

void px_rbuf_destroy(px_rbuf *b)
{
    if (!b)
        return;
    px_buf_free(&b->b);
    free(b);
}

const uint8_t *px_rbuf_data(const px_rbuf *b)
{
    return px_buf_data(&b->b);
}

size_t px_rbuf_avail(const px_rbuf *b)
{
    return px_buf_size(&b->b);
}

void px_rbuf_consume(px_rbuf *b, size_t n)
{
    size_t held = px_buf_size(&b->b);
    if (n > held)
        n = held;
    px_buf_consume(&b->b, n);
    b->consumed += n;
}

uint64_t px_rbuf_offset(const px_rbuf *b)
{
    return b->consumed;
}

px_err px_rbuf_fill(px_rbuf *b, size_t n)
{
    size_t held = px_buf_size(&b->b);
    if (held >= n)
        return PX_OK;
    /* Read a whole chunk behind the record asked for, so that the next
     * records are already in. */
    size_t want = n > b->chunk ? n : b->chunk;
    if (px_buf_reserve(&b->b, want - held) != PX_OK)
        return PX_ERR_NOMEM;
    while (px_buf_size(&b->b) < n) {
        ssize_t r = read(b->fd, b->b.p + b->b.len, b->b.cap - b->b.len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return PX_ERR_IO;
        if (r == 0)
            return PX_ERR_EOF;
        b->b.len += (size_t)r;
    }
    return PX_OK;
}
