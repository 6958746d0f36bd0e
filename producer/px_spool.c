#include "px_spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/px_buf.h"
#include "core/px_wire.h"

#define PX_SPOOL_MAGIC 0x50585331u /* "PXS1" */
#define PX_SPOOL_HDR 16            /* magic, klen, vlen, checksum */
#define PX_SPOOL_MAX_RECORD (16u << 20)

struct px_spool {
    int fd;
    uint64_t max_bytes;
    uint64_t end;     /* file size: where the next record goes */
    uint64_t read;    /* offset of the oldest pending record */
    uint64_t pending; /* records between read and end */
    uint64_t corrupt;
    uint64_t peeked_len; /* size of the record px_spool_peek() returned, 0 if none */
    px_buf buf;          /* the record px_spool_read_at() read last */
};

static uint32_t px_spool_sum(const void *a, size_t alen, const void *b, size_t blen)
{
    /* FNV-1a: catches torn and garbled records, which is all we need. */
    uint32_t h = 2166136261u;
    const uint8_t *p = a;
    for (size_t i = 0; i < alen; i++)
        h = (h ^ p[i]) * 16777619u;
    p = b;
    for (size_t i = 0; i < blen; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void px_spool_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static int px_spool_pread_all(int fd, void *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (uint8_t *)buf + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

/* Reads the record at off into s->buf. Returns its total length, 0 if the
 * bytes there are not a whole valid record. */
static uint64_t px_spool_read_at(px_spool *s, uint64_t off, size_t *klen, size_t *vlen)
{
    uint8_t hdr[PX_SPOOL_HDR];
    if (off + PX_SPOOL_HDR > s->end || px_spool_pread_all(s->fd, hdr, sizeof(hdr), off) < 0)
        return 0;
    px_wire w;
    px_wire_init(&w, hdr, sizeof(hdr));
    uint32_t magic = px_wire_u32le(&w), kl = px_wire_u32le(&w), vl = px_wire_u32le(&w);
    uint32_t sum = px_wire_u32le(&w);
    if (magic != PX_SPOOL_MAGIC || kl > PX_SPOOL_MAX_RECORD || vl > PX_SPOOL_MAX_RECORD)
        return 0;
    uint64_t total = PX_SPOOL_HDR + (uint64_t)kl + vl;
    px_buf_clear(&s->buf);
    if (off + total > s->end || px_buf_reserve(&s->buf, (size_t)kl + vl) != PX_OK ||
        px_spool_pread_all(s->fd, s->buf.p, (size_t)kl + vl, off + PX_SPOOL_HDR) < 0)
        return 0;
    if (px_spool_sum(s->buf.p, kl, s->buf.p + kl, vl) != sum)
        return 0;
    *klen = kl;
    *vlen = vl;
    return total;
}

/* Counts the records an earlier run left and cuts a torn tail. */
static void px_spool_scan(px_spool *s)
{
    uint64_t off = 0;
    size_t kl, vl;
    for (;;) {
        uint64_t n = px_spool_read_at(s, off, &kl, &vl);
        if (n == 0)
            break;
        off += n;
        s->pending++;
    }
    if (off < s->end) {
        s->corrupt++;
        if (ftruncate(s->fd, (off_t)off) == 0)
            s->end = off;
    }
}

px_err px_spool_open(const char *path, uint64_t max_bytes, px_spool **out)
{
    px_spool *s = calloc(1, sizeof(*s));
    if (!s)
        return PX_ERR_NOMEM;
    s->max_bytes = max_bytes ? max_bytes : (1ull << 30);
    s->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    struct stat st;
    if (s->fd < 0 || fstat(s->fd, &st) < 0) {
        px_spool_close(s);
        return PX_ERR_IO;
    }
    s->end = (uint64_t)st.st_size;
    px_spool_scan(s);
    *out = s;
    return PX_OK;
}

void px_spool_close(px_spool *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    px_buf_free(&s->buf);
    free(s);
}

px_err px_spool_append(px_spool *s, const void *key, size_t klen, const void *val, size_t vlen)
{
    if (klen > PX_SPOOL_MAX_RECORD || vlen > PX_SPOOL_MAX_RECORD)
        return PX_ERR_TOOLONG;
    uint64_t total = PX_SPOOL_HDR + klen + vlen;
    if (s->end + total > s->max_bytes)
        return PX_ERR_FULL;
    uint8_t hdr[PX_SPOOL_HDR];
    px_spool_put32(hdr, PX_SPOOL_MAGIC);
    px_spool_put32(hdr + 4, (uint32_t)klen);
    px_spool_put32(hdr + 8, (uint32_t)vlen);
    px_spool_put32(hdr + 12, px_spool_sum(key, klen, val, vlen));
    if (pwrite(s->fd, hdr, sizeof(hdr), (off_t)s->end) != (ssize_t)sizeof(hdr) ||
        pwrite(s->fd, key, klen, (off_t)(s->end + PX_SPOOL_HDR)) != (ssize_t)klen ||
        pwrite(s->fd, val, vlen, (off_t)(s->end + PX_SPOOL_HDR + klen)) != (ssize_t)vlen) {
        /* Leave no torn record behind us. */
        if (ftruncate(s->fd, (off_t)s->end) != 0)
            s->corrupt++;
        return PX_ERR_IO;
    }
    s->end += total;
    s->pending++;
    return PX_OK;
}

px_err px_spool_peek(px_spool *s, const void **key, size_t *klen, const void **val, size_t *vlen)
{
    while (s->pending > 0) {
        uint64_t n = px_spool_read_at(s, s->read, klen, vlen);
        if (n > 0) {
            s->peeked_len = n;
            *key = s->buf.p;
            *val = s->buf.p + *klen;
            return PX_OK;
        }
        /* Damaged after it was written: nothing behind it can be framed. */
        s->corrupt++;
        s->pending = 0;
    }
    if (s->read > 0 || s->end > 0) {
        if (ftruncate(s->fd, 0) == 0)
            s->read = s->end = 0;
    }
    return PX_ERR_EOF;
}

void px_spool_consume(px_spool *s)
{
    if (s->peeked_len == 0)
        return;
    s->read += s->peeked_len;
    s->peeked_len = 0;
    s->pending--;
    if (s->pending == 0 && ftruncate(s->fd, 0) == 0)
        s->read = s->end = 0;
}

uint64_t px_spool_pending(const px_spool *s)
{
    return s ? s->pending : 0;
}

uint64_t px_spool_corrupt(const px_spool *s)
{
    return s ? s->corrupt : 0;
}
