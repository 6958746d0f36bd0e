/* px_pcapf.c: classic pcap savefiles, read in place. */
#include "px_pcapf.h"

#include <stdbool.h>
#include <stdlib.h>

#include "px_rbuf.h"
#include "px_wire.h"

enum {
    PX_PCAPF_HDR = 24, /* file header */
    PX_PCAPF_REC = 16, /* record header */
};

#define PX_PCAPF_MAGIC_US 0xa1b2c3d4u
#define PX_PCAPF_MAGIC_NS 0xa1b23c4du

struct px_pcapf {
    px_rbuf *rb;
    /* The buffer's unread bytes as last seen: records are taken from pos
     * without a call into px_rbuf until one is not whole there. */
    const uint8_t *pos, *end;
    bool be;     /* the file is big-endian */
    bool nano;   /* nanosecond time stamps */
    bool failed; /* an error was returned: no more records */
    uint32_t snapshot;
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

int px_pcapf_next(px_pcapf *f, struct pcap_pkthdr *h, const uint8_t **data)
{
    if (f->failed)
        return -1;
    px_err err = px_pcapf_need(f, PX_PCAPF_REC);
    if (err != PX_OK) {
        /* a clean end only between records */
        if (err == PX_ERR_EOF && f->pos == f->end)
            return 0;
        goto fail;
    }
    /* need() made the 16 header bytes readable: one check for all. */
    px_wire w;
    px_wire_init(&w, f->pos, PX_PCAPF_REC);
    const uint8_t *r = px_wire_bytes(&w, PX_PCAPF_REC);
    if (!r)
        goto fail;
    uint32_t sec = px_pcapf_ld32(r, f->be);
    uint32_t frac = px_pcapf_ld32(r + 4, f->be);
    uint32_t caplen = px_pcapf_ld32(r + 8, f->be);
    h->len = px_pcapf_ld32(r + 12, f->be);
    if (caplen > PX_PCAPF_MAX_CAPLEN)
        goto fail;
    /* The whole record must be there, even the part past the snapshot
     * length that libpcap reads and drops. */
    if (px_pcapf_need(f, PX_PCAPF_REC + (size_t)caplen) != PX_OK)
        goto fail;
    px_pcapf_time(f, sec, frac, h);
    h->caplen = caplen > f->snapshot ? f->snapshot : caplen;
    *data = f->pos + PX_PCAPF_REC;
    f->pos += PX_PCAPF_REC + (size_t)caplen; /* stays valid until the next call */
    return 1;
fail:
    f->failed = true;
    return -1;
}
