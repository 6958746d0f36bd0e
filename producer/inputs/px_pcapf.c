/* px_pcapf.c: classic pcap savefiles, read in place. */
#include "px_pcapf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_rbuf.h"
#include "core/px_wire.h"

enum {
    PX_PCAPF_HDR = 24, /* file header */
    PX_PCAPF_REC = 16, /* record header */
};

#define PX_PCAPF_MAGIC_US 0xa1b2c3d4u
#define PX_PCAPF_MAGIC_NS 0xa1b23c4du
/* Resynchronising: a candidate header's time may lie this far from the
 * next one's, and this far before the last good record's. A day is far
 * more than consecutive packets of a DNS capture are apart, and rules out
 * all but about 1 in 25,000 random times. */
#define PX_PCAPF_RESYNC_SKEW 86400

struct px_pcapf {
    px_rbuf *rb;
    /* The buffer's unread bytes as last seen: records are taken from pos
     * without a call into px_rbuf until one is not whole there. */
    const uint8_t *pos, *end;
    bool be;     /* the file is big-endian */
    bool nano;   /* nanosecond time stamps */
    bool failed; /* an error was returned: no more records until a resync */
    uint32_t snapshot;
    /* the last good record's seconds, for resynchronising */
    bool have_last;
    uint32_t last_sec;
    /* the last error: where (the record header's file offset) and why;
     * resumable unless reading itself failed */
    uint64_t err_off;
    px_err err_kind;
    bool resumable;
    char why[160];
};

/* A 32-bit field of a record header px_wire_bytes() has bounds-checked. */
static inline uint32_t px_pcapf_ld32(const uint8_t *p, bool be)
{
    if (be)
        return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint16_t px_pcapf_u16(px_wire *w, bool be)
{
    return be ? px_wire_u16(w) : px_wire_u16le(w);
}

/* The file header: magic, version 2.4 (older versions may swap the length
 * fields, which libpcap guesses at: left to it). */
static bool px_pcapf_header(px_pcapf *f)
{
    if (px_rbuf_fill(f->rb, PX_PCAPF_HDR) != PX_OK)
        return false;
    px_wire w;
    px_wire_init(&w, px_rbuf_data(f->rb), PX_PCAPF_HDR);
    uint32_t magic = px_wire_u32le(&w);
    if (magic == PX_PCAPF_MAGIC_US || magic == PX_PCAPF_MAGIC_NS) {
        f->be = false;
    } else {
        px_wire_init(&w, px_rbuf_data(f->rb), PX_PCAPF_HDR);
        magic = px_wire_u32(&w);
        if (magic != PX_PCAPF_MAGIC_US && magic != PX_PCAPF_MAGIC_NS)
            return false;
        f->be = true;
    }
    f->nano = magic == PX_PCAPF_MAGIC_NS;
    uint16_t major = px_pcapf_u16(&w, f->be);
    uint16_t minor = px_pcapf_u16(&w, f->be);
    if (px_wire_err(&w) || major != 2 || minor != 4)
        return false;
    px_rbuf_consume(f->rb, PX_PCAPF_HDR); /* zone, sigfigs, snaplen, link type: libpcap's */
    f->pos = px_rbuf_data(f->rb);
    f->end = f->pos + px_rbuf_avail(f->rb);
    return true;
}

px_pcapf *px_pcapf_open(int fd, uint32_t snapshot)
{
    px_pcapf *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->snapshot = snapshot;
    f->rb = px_rbuf_create(fd, 0);
    if (!f->rb || !px_pcapf_header(f)) {
        px_pcapf_destroy(f);
        return NULL;
    }
    return f;
}

void px_pcapf_destroy(px_pcapf *f)
{
    if (!f)
        return;
    px_rbuf_destroy(f->rb);
    free(f);
}

/* What libpcap 1.10 puts in struct timeval: a file in the host's byte
 * order has its 32-bit time fields read as signed, a file of the other
 * byte order has them swapped as unsigned; a microsecond fraction read at
 * nanosecond precision is multiplied by 1000 after widening. Garbage
 * times thus come out as they did with libpcap. */
static void px_pcapf_time(const px_pcapf *f, uint32_t sec, uint32_t frac, struct pcap_pkthdr *h)
{
    bool host_be = __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__;
    if (f->be == host_be) {
        h->ts.tv_sec = (int32_t)sec;
        h->ts.tv_usec = (suseconds_t)(int32_t)frac * (f->nano ? 1 : 1000);
    } else {
        h->ts.tv_sec = (time_t)sec;
        h->ts.tv_usec = (suseconds_t)frac * (f->nano ? 1 : 1000);
    }
}

/* At least n bytes at f->pos, reading more if they are not there. */
static px_err px_pcapf_need(px_pcapf *f, size_t n)
{
    if ((size_t)(f->end - f->pos) >= n)
        return PX_OK;
    px_rbuf_consume(f->rb, (size_t)(f->pos - px_rbuf_data(f->rb)));
    px_err err = px_rbuf_fill(f->rb, n);
    f->pos = px_rbuf_data(f->rb);
    f->end = f->pos + px_rbuf_avail(f->rb);
    return err;
}

/* The file offset of f->pos. */
static uint64_t px_pcapf_offset(const px_pcapf *f)
{
    return px_rbuf_offset(f->rb) + (uint64_t)(f->pos - px_rbuf_data(f->rb));
}

static int px_pcapf_fail(px_pcapf *f, uint64_t off, px_err kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int px_pcapf_fail(px_pcapf *f, uint64_t off, px_err kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->why, sizeof(f->why), fmt, ap);
    va_end(ap);
    f->err_off = off;
    f->err_kind = kind;
    f->resumable = kind != PX_ERR_IO;
    f->failed = true;
    return -1;
}

/* A failed need(): the file ended (a record cut short) or reading failed. */
static int px_pcapf_short(px_pcapf *f, px_err err, uint64_t off, size_t want, const char *what)
{
    if (err == PX_ERR_EOF)
        return px_pcapf_fail(f, off, PX_ERR_TRUNC, "the file ends %zu bytes into a %zu-byte %s",
                             (size_t)(f->end - f->pos), want, what);
    if (err == PX_ERR_IO)
        return px_pcapf_fail(f, off, PX_ERR_IO, "read error: %s", strerror(errno));
    return px_pcapf_fail(f, off, PX_ERR_IO, "%s", px_strerror(err));
}

int px_pcapf_next(px_pcapf *f, struct pcap_pkthdr *h, const uint8_t **data)
{
    if (f->failed)
        return -1;
    px_err err = px_pcapf_need(f, PX_PCAPF_REC);
    if (err != PX_OK) {
        /* a clean end only between records */
        if (err == PX_ERR_EOF && f->pos == f->end)
            return 0;
        return px_pcapf_short(f, err, px_pcapf_offset(f), PX_PCAPF_REC, "record header");
    }
    /* need() made the 16 header bytes readable: one check for all. */
    px_wire w;
    px_wire_init(&w, f->pos, PX_PCAPF_REC);
    const uint8_t *r = px_wire_bytes(&w, PX_PCAPF_REC);
    if (!r)
        return px_pcapf_fail(f, px_pcapf_offset(f), PX_ERR_IO, "internal error");
    uint32_t sec = px_pcapf_ld32(r, f->be);
    uint32_t frac = px_pcapf_ld32(r + 4, f->be);
    uint32_t caplen = px_pcapf_ld32(r + 8, f->be);
    h->len = px_pcapf_ld32(r + 12, f->be);
    if (caplen > PX_PCAPF_MAX_CAPLEN)
        return px_pcapf_fail(f, px_pcapf_offset(f), PX_ERR_MALFORMED,
                             "record length (caplen) %" PRIu32 " is over the maximum of %u", caplen,
                             PX_PCAPF_MAX_CAPLEN);
    /* The whole record must be there, even the part past the snapshot
     * length that libpcap reads and drops. */
    uint64_t off = px_pcapf_offset(f);
    err = px_pcapf_need(f, PX_PCAPF_REC + (size_t)caplen);
    if (err != PX_OK)
        return px_pcapf_short(f, err, off, PX_PCAPF_REC + (size_t)caplen, "record");
    px_pcapf_time(f, sec, frac, h);
    h->caplen = caplen > f->snapshot ? f->snapshot : caplen;
    *data = f->pos + PX_PCAPF_REC;
    f->pos += PX_PCAPF_REC + (size_t)caplen; /* stays valid until the next call */
    f->have_last = true;
    f->last_sec = sec;
    return 1;
}

const char *px_pcapf_error(const px_pcapf *f, uint64_t *offset, px_err *kind)
{
    if (!f->failed)
        return NULL;
    if (offset)
        *offset = f->err_off;
    if (kind)
        *kind = f->err_kind;
    return f->why;
}

/* ---- resynchronising ------------------------------------------------------ */

typedef struct px_pcapf_rec {
    uint32_t sec, frac, caplen, len;
} px_pcapf_rec;

static px_pcapf_rec px_pcapf_rec_at(const px_pcapf *f, const uint8_t *p)
{
    return (px_pcapf_rec){px_pcapf_ld32(p, f->be), px_pcapf_ld32(p + 4, f->be),
                          px_pcapf_ld32(p + 8, f->be), px_pcapf_ld32(p + 12, f->be)};
}

static bool px_pcapf_near(uint32_t a, uint32_t b)
{
    return (a > b ? a - b : b - a) <= PX_PCAPF_RESYNC_SKEW;
}

/* A header a writer could have written: what libpcap takes, and more that
 * random bytes seldom are. Empty records and time 0 are left out: runs of
 * zeros would pass otherwise. */
static bool px_pcapf_plausible(const px_pcapf *f, const px_pcapf_rec *r)
{
    return r->caplen > 0 && r->caplen <= f->snapshot && r->len >= r->caplen &&
           r->len <= PX_PCAPF_MAX_CAPLEN && r->frac < (f->nano ? 1000000000u : 1000000u) &&
           r->sec > 0 &&
           (!f->have_last || r->sec >= f->last_sec || px_pcapf_near(r->sec, f->last_sec));
}

/* Is there a record f could resume at f->pos? -1 if reading failed. */
static int px_pcapf_candidate(px_pcapf *f)
{
    px_pcapf_rec r = px_pcapf_rec_at(f, f->pos);
    if (!px_pcapf_plausible(f, &r))
        return 0;
    size_t rec = PX_PCAPF_REC + (size_t)r.caplen;
    px_err err = px_pcapf_need(f, rec + PX_PCAPF_REC);
    size_t have = (size_t)(f->end - f->pos);
    if (err == PX_ERR_EOF) /* the file ends with this record, or in the header after it */
        return have >= rec;
    if (err != PX_OK)
        return -1;
    px_pcapf_rec next = px_pcapf_rec_at(f, f->pos + rec);
    return px_pcapf_plausible(f, &next) && px_pcapf_near(next.sec, r.sec);
}

int px_pcapf_resync(px_pcapf *f, uint64_t *skipped)
{
    *skipped = 0;
    if (!f->failed || !f->resumable)
        return -1;
    /* need() left the damaged header at f->pos; look from its next byte. */
    f->pos++;
    for (;;) {
        px_err err = px_pcapf_need(f, PX_PCAPF_REC);
        if (err == PX_ERR_EOF) {
            f->pos = f->end; /* too few bytes left for a record */
            *skipped = px_pcapf_offset(f) - f->err_off;
            f->failed = false; /* px_pcapf_next() says end of file */
            return 0;
        }
        int found = err == PX_OK ? px_pcapf_candidate(f) : -1;
        if (found < 0) {
            f->resumable = false;
            f->err_kind = PX_ERR_IO;
            *skipped = px_pcapf_offset(f) - f->err_off;
            snprintf(f->why, sizeof(f->why), "read error: %s", strerror(errno));
            return -1;
        }
        if (found) {
            *skipped = px_pcapf_offset(f) - f->err_off;
            f->failed = false;
            return 1;
        }
        f->pos++;
    }
}
