/* px_rbuf.c: read buffer for the file inputs. */
#include "px_rbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct px_rbuf {
    int fd;
    uint8_t *buf;
    size_t cap, chunk;
    size_t off, len;   /* unread bytes are buf[off..len) */
    uint64_t consumed; /* bytes consumed before buf[off] */
};

px_rbuf *px_rbuf_create(int fd, size_t chunk)
{
    px_rbuf *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->fd = fd;
    b->chunk = chunk ? chunk : PX_RBUF_CHUNK;
    b->cap = b->chunk;
    b->buf = malloc(b->cap);
    if (!b->buf) {
        free(b);
        return NULL;
    }
    return b;
}

void px_rbuf_destroy(px_rbuf *b)
{
    if (!b)
        return;
    free(b->buf);
    free(b);
}

const uint8_t *px_rbuf_data(const px_rbuf *b)
{
    return b->buf + b->off;
}

size_t px_rbuf_avail(const px_rbuf *b)
{
    return b->len - b->off;
}

void px_rbuf_consume(px_rbuf *b, size_t n)
{
    if (n > b->len - b->off)
        n = b->len - b->off;
    b->off += n;
    b->consumed += n;
}

uint64_t px_rbuf_offset(const px_rbuf *b)
{
    return b->consumed;
}

/* Room for n unread bytes from buf[0]: move the unread tail to the front,
 * and grow if n is more than the buffer holds. */
static px_err px_rbuf_make_room(px_rbuf *b, size_t n)
{
    size_t held = b->len - b->off;
    if (b->off > 0) {
        memmove(b->buf, b->buf + b->off, held);
        b->off = 0;
        b->len = held;
    }
    if (n > b->cap) {
        uint8_t *nb = realloc(b->buf, n);
        if (!nb)
            return PX_ERR_NOMEM;
        b->buf = nb;
        b->cap = n;
    }
    return PX_OK;
}

px_err px_rbuf_fill(px_rbuf *b, size_t n)
{
    if (b->len - b->off >= n)
        return PX_OK;
    /* Read a whole chunk behind the record asked for, so that the next
     * records are already in. */
    size_t want = n > b->chunk ? n : b->chunk;
    if (b->off + want > b->cap) {
        px_err err = px_rbuf_make_room(b, want);
        if (err)
            return err;
    }
    while (b->len - b->off < n) {
        ssize_t r = read(b->fd, b->buf + b->len, b->cap - b->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return PX_ERR_IO;
        if (r == 0)
            return PX_ERR_EOF;
        b->len += (size_t)r;
    }
    return PX_OK;
}
