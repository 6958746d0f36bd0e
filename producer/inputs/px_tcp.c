/* px_tcp.c: DNS over TCP reassembly with a bounded flow table. */
#include "px_tcp.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/px_buf.h"
#include "core/px_hash.h"
#include "core/px_wire.h"

#define PX_TCP_OOO_CAP 16
#define PX_TCP_MSG_MAX (65535 + 2) /* largest prefixed message */
#define PX_TCP_DNS_HDR 12

typedef struct px_tcp_seg {
    uint32_t seq;
    uint32_t len;
    uint8_t *data;
} px_tcp_seg;

/* One direction of a connection. */
typedef struct px_tcp_half {
    bool have_seq; /* next_seq is known */
    bool syn_seen;
    bool resync; /* not known to be at a message boundary */
    bool fin;
    bool have_acked; /* acked is known */
    uint32_t isn;
    uint32_t acked; /* highest ack the other side sent for this direction */
    uint32_t next_seq;
    px_buf pend; /* bytes of an incomplete message, prefix included */
    px_tcp_seg ooo[PX_TCP_OOO_CAP];
    size_t n_ooo, ooo_bytes;
} px_tcp_half;

typedef struct px_tcp_flow {
    struct px_tcp_flow *hnext;       /* hash chain */
    struct px_tcp_flow *prev, *next; /* least recently used first */
    uint64_t hash;
    uint8_t version;
    uint8_t a[16], b[16]; /* canonical order: endpoint a sorts first */
    uint16_t aport, bport;
    int64_t last;
    px_tcp_half half[2]; /* [0]: a to b, [1]: b to a */
} px_tcp_flow;

struct px_tcp {
    px_tcp_limits lim;
    px_tcp_msg_fn fn;
    void *ctx;
    px_tcp_flow **buckets;
    size_t mask;
    uint64_t seed; /* the flows' keys come from the traffic: not guessable */
    size_t nflows;
    size_t bytes; /* buffered: pending buffers' capacity + out-of-order data */
    px_tcp_flow *lru_head, *lru_tail;
    px_tcp_stats stats;
};

px_tcp *px_tcp_create(const px_tcp_limits *lim, px_tcp_msg_fn fn, void *ctx)
{
    px_tcp *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    if (lim)
        t->lim = *lim;
    if (!t->lim.max_flows)
        t->lim.max_flows = 16384;
    if (!t->lim.max_ooo)
        t->lim.max_ooo = 8;
    if (t->lim.max_ooo > PX_TCP_OOO_CAP)
        t->lim.max_ooo = PX_TCP_OOO_CAP;
    if (!t->lim.max_ooo_bytes)
        t->lim.max_ooo_bytes = 128 * 1024;
    if (t->lim.idle_timeout <= 0)
        t->lim.idle_timeout = 60;
    if (!t->lim.max_total_bytes)
        t->lim.max_total_bytes = 64u << 20;
    size_t n = 16;
    while (n < t->lim.max_flows)
        n *= 2;
    t->buckets = calloc(n, sizeof(*t->buckets));
    if (!t->buckets) {
        free(t);
        return NULL;
    }
    t->mask = n - 1;
    t->seed = px_hash_seed() ^ 0x7463702d666c6f77ULL; /* per process, per table */
    t->fn = fn;
    t->ctx = ctx;
    return t;
}

static void px_tcp_half_clear(px_tcp *t, px_tcp_half *h)
{
    for (size_t i = 0; i < h->n_ooo; i++)
        free(h->ooo[i].data);
    t->bytes -= h->ooo_bytes + h->pend.cap;
    h->n_ooo = 0;
    h->ooo_bytes = 0;
    px_buf_free(&h->pend);
}

static void px_tcp_flow_free(px_tcp *t, px_tcp_flow *f)
{
    px_tcp_flow **pp = &t->buckets[f->hash & t->mask];
    while (*pp != f)
        pp = &(*pp)->hnext;
    *pp = f->hnext;
    if (f->prev)
        f->prev->next = f->next;
    else
        t->lru_head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        t->lru_tail = f->prev;
    px_tcp_half_clear(t, &f->half[0]);
    px_tcp_half_clear(t, &f->half[1]);
    free(f);
    t->nflows--;
}

void px_tcp_destroy(px_tcp *t)
{
    if (!t)
        return;
    while (t->lru_head)
        px_tcp_flow_free(t, t->lru_head);
    free(t->buckets);
    free(t);
}

size_t px_tcp_flow_count(const px_tcp *t)
{
    return t->nflows;
}

const px_tcp_stats *px_tcp_get_stats(const px_tcp *t)
{
    return &t->stats;
}

/* ---- flow table ---- */

typedef struct px_tcp_key {
    uint8_t version;
    const uint8_t *a, *b;
    uint16_t aport, bport;
    int dir; /* 0 if the segment goes from a to b */
} px_tcp_key;

static px_tcp_key px_tcp_key_of(const px_pkt *seg)
{
    size_t alen = seg->ip_version == 4 ? 4 : 16;
    int c = memcmp(seg->src, seg->dst, alen);
    bool src_first = c < 0 || (c == 0 && seg->sport <= seg->dport);
    px_tcp_key k = {.version = seg->ip_version};
    k.a = src_first ? seg->src : seg->dst;
    k.b = src_first ? seg->dst : seg->src;
    k.aport = src_first ? seg->sport : seg->dport;
    k.bport = src_first ? seg->dport : seg->sport;
    k.dir = src_first ? 0 : 1;
    return k;
}

/* The flow's endpoints, packed, through the tables' hash. */
static uint64_t px_tcp_hash(const px_tcp *t, const px_tcp_key *k)
{
    size_t alen = k->version == 4 ? 4 : 16;
    uint8_t buf[1 + 16 + 16 + 2 + 2];
    buf[0] = k->version;
    memcpy(buf + 1, k->a, alen);
    memcpy(buf + 1 + alen, k->b, alen);
    memcpy(buf + 1 + 2 * alen, &k->aport, 2);
    memcpy(buf + 3 + 2 * alen, &k->bport, 2);
    return px_hash64(buf, 5 + 2 * alen, t->seed);
}

static px_tcp_flow *px_tcp_find(px_tcp *t, const px_tcp_key *k, uint64_t hash)
{
    size_t alen = k->version == 4 ? 4 : 16;
    for (px_tcp_flow *f = t->buckets[hash & t->mask]; f; f = f->hnext)
        if (f->hash == hash && f->version == k->version && f->aport == k->aport &&
            f->bport == k->bport && memcmp(f->a, k->a, alen) == 0 && memcmp(f->b, k->b, alen) == 0)
            return f;
    return NULL;
}

static void px_tcp_lru_append(px_tcp *t, px_tcp_flow *f)
{
    f->next = NULL;
    f->prev = t->lru_tail;
    if (t->lru_tail)
        t->lru_tail->next = f;
    else
        t->lru_head = f;
    t->lru_tail = f;
}

static void px_tcp_touch(px_tcp *t, px_tcp_flow *f, int64_t now)
{
    f->last = now;
    if (t->lru_tail == f)
        return;
    if (f->prev)
        f->prev->next = f->next;
    else
        t->lru_head = f->next;
    f->next->prev = f->prev;
    px_tcp_lru_append(t, f);
}

static void px_tcp_expire(px_tcp *t, int64_t now)
{
    while (t->lru_head && now - t->lru_head->last > t->lim.idle_timeout) {
        px_tcp_flow_free(t, t->lru_head);
        t->stats.flows_expired++;
    }
}

static px_tcp_flow *px_tcp_new(px_tcp *t, const px_tcp_key *k, uint64_t hash, int64_t now)
{
    if (t->nflows >= t->lim.max_flows) {
        px_tcp_flow_free(t, t->lru_head);
        t->stats.flows_evicted++;
    }
    px_tcp_flow *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    size_t alen = k->version == 4 ? 4 : 16;
    f->hash = hash;
    f->version = k->version;
    memcpy(f->a, k->a, alen);
    memcpy(f->b, k->b, alen);
    f->aport = k->aport;
    f->bport = k->bport;
    f->last = now;
    f->hnext = t->buckets[hash & t->mask];
    t->buckets[hash & t->mask] = f;
    px_tcp_lru_append(t, f);
    t->nflows++;
    t->stats.flows_created++;
    return f;
}

/* ---- message framing ---- */

/* Delivers the whole messages at the start of p; returns the bytes used. */
static size_t px_tcp_frame(px_tcp *t, px_tcp_half *h, const px_pkt *seg, const uint8_t *p, size_t n)
{
    size_t used = 0;
    while (n - used >= 2) {
        const uint8_t *m = p + used;
        if (h->resync) {
            if (n - used < 2 + PX_TCP_DNS_HDR)
                break;
            if (!px_pkt_dns_plausible(m + 2, ((size_t)m[0] << 8) | m[1])) {
                used++;
                t->stats.resync_skipped++;
                continue;
            }
            h->resync = false;
        }
        size_t mlen = ((size_t)m[0] << 8) | m[1];
        if (mlen < PX_TCP_DNS_HDR) {
            /* Not DNS framing (or junk after the last message): look for
             * the next plausible start instead of trusting it. */
            t->stats.bad_length++;
            h->resync = true;
            used += 2;
            continue;
        }
        if (n - used < 2 + mlen)
            break;
        t->stats.messages++;
        t->fn(t->ctx, seg, m + 2, mlen);
        used += 2 + mlen;
    }
    return used;
}

/* Room for extra pending bytes within the flows' byte budget, which
 * counts the buffers' capacity: the buffer may grow to what the budget
 * leaves it. */
static bool px_tcp_buf_reserve(px_tcp *t, px_tcp_half *h, size_t extra)
{
    px_buf *b = &h->pend;
    size_t cap = b->cap;
    size_t left = t->bytes < t->lim.max_total_bytes ? t->lim.max_total_bytes - t->bytes : 0;
    px_err e = PX_ERR_FULL;
    if (cap + left > 0) { /* max 0 would mean no bound */
        b->max = cap + left;
        e = px_buf_reserve(b, extra);
    }
    if (e == PX_ERR_FULL)
        t->stats.over_budget++;
    if (e != PX_OK)
        return false;
    t->bytes += b->cap - cap;
    return true;
}

/* In-order bytes: frame straight from the segment when nothing is
 * pending (no copy), else append to the pending buffer. */
static void px_tcp_in_order(px_tcp *t, px_tcp_half *h, const px_pkt *seg, const uint8_t *p,
                            size_t n)
{
    h->next_seq += (uint32_t)n;
    while (n > 0) {
        if (px_buf_size(&h->pend) == 0) {
            size_t used = px_tcp_frame(t, h, seg, p, n);
            p += used;
            n -= used;
            if (n == 0)
                return;
        }
        /* The pending buffer never exceeds one prefixed message. */
        size_t held = px_buf_size(&h->pend);
        size_t take = n < PX_TCP_MSG_MAX - held ? n : PX_TCP_MSG_MAX - held;
        if (!px_tcp_buf_reserve(t, h, take)) {
            t->stats.gaps++;
            px_buf_clear(&h->pend);
            h->resync = true;
            return;
        }
        px_buf_append(&h->pend, p, take); /* the room is there */
        p += take;
        n -= take;
        px_buf_consume(&h->pend,
                       px_tcp_frame(t, h, seg, px_buf_data(&h->pend), px_buf_size(&h->pend)));
        if (px_buf_size(&h->pend) ==
            PX_TCP_MSG_MAX) { /* unreachable with sane framing; stay bounded */
            px_buf_clear(&h->pend);
            h->resync = true;
        }
    }
}

static void px_tcp_drain(px_tcp *t, px_tcp_half *h, const px_pkt *seg);

/* Feeds the bytes of seq..seq+n, trimming what was already seen. */
static void px_tcp_accept(px_tcp *t, px_tcp_half *h, const px_pkt *seg, uint32_t seq,
                          const uint8_t *p, size_t n)
{
    int32_t diff = (int32_t)(seq - h->next_seq);
    if (diff < 0) {
        size_t old = (size_t) - (int64_t)diff;
        if (n <= old) {
            t->stats.duplicates++;
            return;
        }
        p += old;
        n -= old;
    }
    px_tcp_in_order(t, h, seg, p, n);
    px_tcp_drain(t, h, seg);
}

/* Takes buffered out-of-order segments that now fit. */
static void px_tcp_drain(px_tcp *t, px_tcp_half *h, const px_pkt *seg)
{
    bool progress = true;
    while (progress && h->n_ooo > 0) {
        progress = false;
        for (size_t i = 0; i < h->n_ooo; i++) {
            px_tcp_seg s = h->ooo[i];
            if ((int32_t)(s.seq - h->next_seq) > 0)
                continue;
            h->ooo[i] = h->ooo[--h->n_ooo];
            h->ooo_bytes -= s.len;
            t->bytes -= s.len;
            int32_t diff = (int32_t)(s.seq - h->next_seq);
            size_t old = (size_t) - (int64_t)diff;
            if (s.len > old)
                px_tcp_in_order(t, h, seg, s.data + old, s.len - old);
            else
                t->stats.duplicates++;
            free(s.data);
            progress = true;
            break;
        }
    }
}

static bool px_tcp_store(px_tcp *t, px_tcp_half *h, uint32_t seq, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < h->n_ooo; i++)
        if (h->ooo[i].seq == seq && h->ooo[i].len >= n) {
            t->stats.duplicates++;
            return true;
        }
    if (h->n_ooo >= t->lim.max_ooo || h->ooo_bytes + n > t->lim.max_ooo_bytes)
        return false;
    if (t->bytes + n > t->lim.max_total_bytes) {
        t->stats.over_budget++;
        return false;
    }
    uint8_t *copy = malloc(n);
    if (!copy)
        return false;
    memcpy(copy, p, n);
    h->ooo[h->n_ooo++] = (px_tcp_seg){.seq = seq, .len = (uint32_t)n, .data = copy};
    h->ooo_bytes += n;
    t->bytes += n;
    return true;
}

/* Gives up on the hole before the earliest buffered segment (or before
 * seq if none is buffered): what was pending is lost, framing resyncs. */
static void px_tcp_skip_hole(px_tcp *t, px_tcp_half *h, uint32_t seq)
{
    uint32_t to = seq;
    for (size_t i = 0; i < h->n_ooo; i++)
        if ((int32_t)(h->ooo[i].seq - to) < 0)
            to = h->ooo[i].seq;
    t->stats.gaps++;
    h->next_seq = to;
    px_buf_clear(&h->pend);
    h->resync = true;
}

/* The receiver acknowledged bytes we never saw: the capture lost them, no
 * retransmission will show them. Skip to the buffered data (if the ack
 * covers its start) instead of holding it until the table gives up. */
static void px_tcp_skip_acked(px_tcp *t, px_tcp_half *h, const px_pkt *seg)
{
    while (h->have_seq && h->have_acked && h->n_ooo > 0 && (int32_t)(h->acked - h->next_seq) > 0) {
        uint32_t low = h->ooo[0].seq;
        for (size_t i = 1; i < h->n_ooo; i++)
            if ((int32_t)(h->ooo[i].seq - low) < 0)
                low = h->ooo[i].seq;
        if ((int32_t)(low - h->acked) > 0)
            return; /* the hole reaches past the ack: may still come */
        px_tcp_skip_hole(t, h, low);
        px_tcp_drain(t, h, seg);
    }
}

static void px_tcp_data(px_tcp *t, px_tcp_half *h, const px_pkt *seg, uint32_t seq,
                        const uint8_t *p, size_t n)
{
    if (!h->have_seq) {
        /* Picked up mid-stream: may start inside a message. */
        h->have_seq = true;
        h->next_seq = seq;
        h->resync = true;
    }
    for (int round = 0; round <= PX_TCP_OOO_CAP + 1; round++) {
        if ((int32_t)(seq - h->next_seq) <= 0) {
            px_tcp_accept(t, h, seg, seq, p, n);
            return;
        }
        if (px_tcp_store(t, h, seq, p, n)) {
            px_tcp_skip_acked(t, h, seg);
            return;
        }
        px_tcp_skip_hole(t, h, seq);
        px_tcp_drain(t, h, seg);
    }
}

static void px_tcp_syn(px_tcp *t, px_tcp_half *h, uint32_t seq)
{
    if (h->syn_seen && h->isn == seq)
        return; /* retransmitted SYN */
    px_tcp_half_clear(t, h);
    h->have_acked = false;
    h->syn_seen = true;
    h->isn = seq;
    h->have_seq = true;
    h->next_seq = seq + 1;
    h->resync = false;
    h->fin = false;
}

void px_tcp_segment(px_tcp *t, const px_pkt *seg, int64_t now)
{
    px_tcp_expire(t, now);
    px_tcp_key k = px_tcp_key_of(seg);
    uint64_t hash = px_tcp_hash(t, &k);
    px_tcp_flow *f = px_tcp_find(t, &k, hash);
    uint8_t flags = seg->tcp_flags;
    if (!f) {
        if ((flags & PX_TCP_RST) || (seg->len == 0 && !(flags & PX_TCP_SYN)))
            return; /* nothing to reassemble */
        if (!(f = px_tcp_new(t, &k, hash, now)))
            return;
    } else {
        px_tcp_touch(t, f, now);
    }
    if (flags & PX_TCP_RST) {
        px_tcp_flow_free(t, f);
        t->stats.flows_closed++;
        return;
    }
    px_tcp_half *h = &f->half[k.dir];
    px_tcp_half *peer = &f->half[!k.dir];
    if (flags & PX_TCP_ACK) {
        if (!peer->have_acked || (int32_t)(seg->tcp_ack - peer->acked) > 0)
            peer->acked = seg->tcp_ack;
        peer->have_acked = true;
        if (peer->n_ooo > 0) {
            /* Messages of the peer's direction go with its addresses. */
            px_pkt rev = *seg;
            memcpy(rev.src, seg->dst, sizeof(rev.src));
            memcpy(rev.dst, seg->src, sizeof(rev.dst));
            rev.sport = seg->dport;
            rev.dport = seg->sport;
            px_tcp_skip_acked(t, peer, &rev);
        }
    }
    uint32_t seq = seg->tcp_seq;
    if (flags & PX_TCP_SYN) {
        px_tcp_syn(t, h, seq);
        seq++; /* data on a SYN (TCP Fast Open) follows the SYN */
    }
    if (seg->len > 0 && !h->fin)
        px_tcp_data(t, h, seg, seq, seg->payload, seg->len);
    if (flags & PX_TCP_FIN) {
        h->fin = true;
        px_tcp_half_clear(t, h);
        if (f->half[!k.dir].fin) {
            px_tcp_flow_free(t, f);
            t->stats.flows_closed++;
        }
    }
}
