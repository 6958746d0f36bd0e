/* px_pkt.c: link/IP/UDP/TCP decoding and fragment reassembly. */
#include "px_pkt.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/px_wire.h"

#define PX_FRAG_MAX 65535u                     /* largest reassembled payload */
#define PX_FRAG_BLOCKS ((PX_FRAG_MAX + 7) / 8) /* 8-byte fragment units */
#define PX_VLAN_MAX 4                          /* stacked 802.1Q/802.1ad tags */
#define PX_IP6_EXT_MAX 8                       /* extension headers followed */

typedef struct px_frag {
    bool used;
    bool have_last;
    uint8_t version, proto;
    uint8_t src[16], dst[16];
    uint32_t id;
    int64_t first_seen;
    size_t total; /* payload length, known once the last fragment came */
    uint8_t *buf; /* PX_FRAG_MAX bytes, kept for the slot's life */
    uint8_t have[(PX_FRAG_BLOCKS + 7) / 8];
} px_frag;

struct px_pkt_decoder {
    size_t max_frags;
    int64_t timeout;
    uint64_t expired;
    px_frag *frags;
};

static const char *const px_pkt_status_names[PX_PKT__COUNT] = {
    [PX_PKT_OK] = "ok",
    [PX_PKT_FRAG_HELD] = "fragment_held",
    [PX_PKT_NOT_IP] = "not_ip",
    [PX_PKT_OTHER_PROTO] = "other_proto",
    [PX_PKT_BAD_LINK] = "bad_link",
    [PX_PKT_BAD_LINKTYPE] = "bad_linktype",
    [PX_PKT_BAD_IP] = "bad_ip",
    [PX_PKT_TRUNC_IP] = "truncated_ip",
    [PX_PKT_BAD_UDP] = "bad_udp",
    [PX_PKT_BAD_TCP] = "bad_tcp",
    [PX_PKT_BAD_FRAG] = "bad_fragment",
    [PX_PKT_FRAG_FULL] = "fragment_table_full",
};

const char *px_pkt_status_name(px_pkt_status s)
{
    if ((unsigned)s < PX_PKT__COUNT && px_pkt_status_names[s])
        return px_pkt_status_names[s];
    return "unknown";
}

px_pkt_decoder *px_pkt_decoder_create(const px_pkt_limits *lim)
{
    px_pkt_decoder *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->max_frags = lim && lim->max_datagrams ? lim->max_datagrams : 64;
    d->timeout = lim && lim->frag_timeout > 0 ? lim->frag_timeout : 30;
    d->frags = calloc(d->max_frags, sizeof(*d->frags));
    if (!d->frags) {
        free(d);
        return NULL;
    }
    return d;
}

void px_pkt_decoder_destroy(px_pkt_decoder *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->max_frags; i++)
        free(d->frags[i].buf);
    free(d->frags);
    free(d);
}

size_t px_pkt_frag_pending(const px_pkt_decoder *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->max_frags; i++)
        n += d->frags[i].used;
    return n;
}

uint64_t px_pkt_frag_expired(const px_pkt_decoder *d)
{
    return d->expired;
}

/* ---- link layer: leaves the cursor at the IP header ---- */

enum { PX_ETH_IP4 = 0x0800, PX_ETH_IP6 = 0x86dd };

static px_pkt_status px_pkt_ethertype(uint16_t type, int *version)
{
    if (type == PX_ETH_IP4)
        *version = 4;
    else if (type == PX_ETH_IP6)
        *version = 6;
    else
        return PX_PKT_NOT_IP;
    return PX_PKT_OK;
}

static px_pkt_status px_pkt_link_ether(px_wire *w, int *version)
{
    px_wire_skip(w, 12); /* destination and source MAC */
    uint16_t type = px_wire_u16(w);
    /* 802.1Q, 802.1ad and the old QinQ tag: TCI, then the inner type. */
    for (int i = 0; (type == 0x8100 || type == 0x88a8 || type == 0x9100) && i < PX_VLAN_MAX; i++) {
        px_wire_skip(w, 2);
        type = px_wire_u16(w);
    }
    if (px_wire_err(w))
        return PX_PKT_BAD_LINK;
    return px_pkt_ethertype(type, version);
}

/* BSD loopback: the address family in the capturing host's byte order
 * (DLT_NULL) or network order (DLT_LOOP); AF_INET6 differs per OS. */
static px_pkt_status px_pkt_link_null(px_wire *w, int *version)
{
    uint32_t fam = px_wire_u32(w);
    if (px_wire_err(w))
        return PX_PKT_BAD_LINK;
    if (fam > 0xffff)
        fam = ((fam & 0xff) << 24) | ((fam & 0xff00) << 8) | ((fam >> 8) & 0xff00) | (fam >> 24);
    switch (fam) {
    case 2:
        *version = 4;
        return PX_PKT_OK;
    case 10: /* Linux */
    case 24: /* NetBSD, OpenBSD */
    case 28: /* FreeBSD */
    case 30: /* Darwin */
        *version = 6;
        return PX_PKT_OK;
    default:
        return PX_PKT_NOT_IP;
    }
}

static px_pkt_status px_pkt_link(int dlt, px_wire *w, int *version)
{
    switch (dlt) {
    case PX_PKT_DLT_EN10MB:
        return px_pkt_link_ether(w, version);
    case PX_PKT_DLT_LINUX_SLL: {
        px_wire_skip(w, 14); /* packet type, ARPHRD, address length, address */
        uint16_t type = px_wire_u16(w);
        return px_wire_err(w) ? PX_PKT_BAD_LINK : px_pkt_ethertype(type, version);
    }
    case PX_PKT_DLT_LINUX_SLL2: {
        uint16_t type = px_wire_u16(w);
        px_wire_skip(w, 18); /* reserved, ifindex, ARPHRD, type, address */
        return px_wire_err(w) ? PX_PKT_BAD_LINK : px_pkt_ethertype(type, version);
    }
    case PX_PKT_DLT_NULL:
    case PX_PKT_DLT_LOOP:
        return px_pkt_link_null(w, version);
    case PX_PKT_DLT_RAW:
    case PX_PKT_DLT_RAW_OBSD:
    case PX_PKT_DLT_LINKTYPE_RAW:
        *version = 0; /* from the IP header */
        return PX_PKT_OK;
    case PX_PKT_DLT_IPV4:
        *version = 4;
        return PX_PKT_OK;
    case PX_PKT_DLT_IPV6:
        *version = 6;
        return PX_PKT_OK;
    default:
        return PX_PKT_BAD_LINKTYPE;
    }
}

bool px_pkt_linktype_supported(int dlt)
{
    switch (dlt) {
    case PX_PKT_DLT_NULL:
    case PX_PKT_DLT_EN10MB:
    case PX_PKT_DLT_RAW:
    case PX_PKT_DLT_RAW_OBSD:
    case PX_PKT_DLT_LINKTYPE_RAW:
    case PX_PKT_DLT_LOOP:
    case PX_PKT_DLT_LINUX_SLL:
    case PX_PKT_DLT_IPV4:
    case PX_PKT_DLT_IPV6:
    case PX_PKT_DLT_LINUX_SLL2:
        return true;
    default:
        return false;
    }
}

bool px_pkt_dns_plausible(const uint8_t *msg, size_t len)
{
    if (len < 12)
        return false;
    px_wire w;
    px_wire_init(&w, msg, 12);
    px_wire_skip(&w, 2); /* id */
    uint16_t flags = px_wire_u16(&w);
    uint16_t qd = px_wire_u16(&w);
    size_t rr = px_wire_u16(&w);
    rr += px_wire_u16(&w);
    rr += px_wire_u16(&w);
    unsigned opcode = (flags >> 11) & 0xf;
    if (opcode == 3 || opcode > 6 || qd > 1)
        return false;
    /* a question takes at least 5 bytes, a resource record 11 */
    return (size_t)qd * 5 + rr * 11 <= len - 12;
}

/* ---- transport ---- */

/* Fixed-size headers are taken whole with one bounds check
 * (px_wire_bytes()), then read from that pointer. */
static inline uint16_t px_pkt_ld16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t px_pkt_ld32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static px_pkt_status px_pkt_udp(px_wire *w, px_pkt *out)
{
    const uint8_t *h = px_wire_bytes(w, 8);
    if (!h)
        return PX_PKT_BAD_UDP;
    out->sport = px_pkt_ld16(h);
    out->dport = px_pkt_ld16(h + 2);
    uint16_t ulen = px_pkt_ld16(h + 4); /* then the checksum: offload makes it unreliable */
    if (ulen < 8)
        return PX_PKT_BAD_UDP;
    size_t plen = ulen - 8u;
    if (plen > px_wire_avail(w))
        return PX_PKT_BAD_UDP;
    out->proto = PX_PKT_UDP;
    out->payload = px_wire_bytes(w, plen);
    out->len = plen;
    return PX_PKT_OK;
}

static px_pkt_status px_pkt_tcp(px_wire *w, px_pkt *out)
{
    const uint8_t *h = px_wire_bytes(w, 20);
    if (!h)
        return PX_PKT_BAD_TCP;
    out->sport = px_pkt_ld16(h);
    out->dport = px_pkt_ld16(h + 2);
    out->tcp_seq = px_pkt_ld32(h + 4);
    out->tcp_ack = px_pkt_ld32(h + 8);
    out->tcp_flags = h[13]; /* then window, checksum, urgent pointer */
    size_t hlen = (size_t)(h[12] >> 4) * 4;
    if (hlen < 20)
        return PX_PKT_BAD_TCP;
    px_wire_skip(w, hlen - 20); /* options */
    if (px_wire_err(w))
        return PX_PKT_BAD_TCP;
    out->proto = PX_PKT_TCP;
    out->len = px_wire_avail(w);
    out->payload = px_wire_bytes(w, out->len);
    return PX_PKT_OK;
}

static px_pkt_status px_pkt_transport(uint8_t proto, px_wire *w, px_pkt *out)
{
    if (proto == PX_PKT_UDP)
        return px_pkt_udp(w, out);
    if (proto == PX_PKT_TCP)
        return px_pkt_tcp(w, out);
    return PX_PKT_OTHER_PROTO;
}

/* ---- fragment reassembly ---- */

static bool px_frag_bit(const px_frag *f, size_t i)
{
    return f->have[i / 8] & (1u << (i % 8));
}

static bool px_frag_complete(const px_frag *f)
{
    if (!f->have_last)
        return false;
    size_t need = (f->total + 7) / 8;
    for (size_t i = 0; i < need; i++)
        if (!px_frag_bit(f, i))
            return false;
    return true;
}

static void px_frag_expire(px_pkt_decoder *d, int64_t now)
{
    for (size_t i = 0; i < d->max_frags; i++) {
        px_frag *f = &d->frags[i];
        if (f->used && (now - f->first_seen > d->timeout || now < f->first_seen - d->timeout)) {
            f->used = false;
            d->expired++;
        }
    }
}

/* Finds the datagram's slot, or takes a free one (evicting the oldest if
 * the table is full). */
static px_frag *px_frag_slot(px_pkt_decoder *d, const px_pkt *hdr, uint32_t id, int64_t now)
{
    px_frag *free_slot = NULL, *oldest = NULL;
    size_t alen = hdr->ip_version == 4 ? 4 : 16;
    for (size_t i = 0; i < d->max_frags; i++) {
        px_frag *f = &d->frags[i];
        if (!f->used) {
            if (!free_slot)
                free_slot = f;
            continue;
        }
        if (f->id == id && f->version == hdr->ip_version && f->proto == hdr->proto &&
            memcmp(f->src, hdr->src, alen) == 0 && memcmp(f->dst, hdr->dst, alen) == 0)
            return f;
        if (!oldest || f->first_seen < oldest->first_seen)
            oldest = f;
    }
    px_frag *f = free_slot;
    if (!f) {
        f = oldest;
        d->expired++;
    }
    if (!f->buf && !(f->buf = malloc(PX_FRAG_MAX)))
        return NULL;
    f->used = true;
    f->have_last = false;
    f->version = hdr->ip_version;
    f->proto = hdr->proto;
    memcpy(f->src, hdr->src, 16);
    memcpy(f->dst, hdr->dst, 16);
    f->id = id;
    f->first_seen = now;
    f->total = 0;
    memset(f->have, 0, sizeof(f->have));
    return f;
}

/* Adds a fragment's bytes at byte offset `off`; on completion points *whole
 * at the reassembled payload and frees the slot (its buffer stays valid
 * until the next call). */
static px_pkt_status px_frag_add(px_pkt_decoder *d, const px_pkt *hdr, uint32_t id, size_t off,
                                 bool more, const uint8_t *p, size_t n, int64_t now, px_wire *whole)
{
    if (off + n > PX_FRAG_MAX || (more && (n == 0 || n % 8)))
        return PX_PKT_BAD_FRAG;
    px_frag_expire(d, now);
    px_frag *f = px_frag_slot(d, hdr, id, now);
    if (!f)
        return PX_PKT_FRAG_FULL;
    if (!more) {
        if ((f->have_last && f->total != off + n) || off + n < f->total) {
            f->used = false;
            return PX_PKT_BAD_FRAG;
        }
        f->have_last = true;
        f->total = off + n;
    } else if (f->have_last && off + n > f->total) {
        f->used = false;
        return PX_PKT_BAD_FRAG;
    }
    memcpy(f->buf + off, p, n);
    for (size_t b = off / 8; b < (off + n + 7) / 8; b++)
        f->have[b / 8] |= (uint8_t)(1u << (b % 8));
    if (!px_frag_complete(f))
        return PX_PKT_FRAG_HELD;
    f->used = false;
    px_wire_init(whole, f->buf, f->total);
    return PX_PKT_OK;
}

/* ---- IP ---- */

static px_pkt_status px_pkt_ip4(px_pkt_decoder *d, px_wire *w, int64_t now, px_pkt *out)
{
    const uint8_t *ip = px_wire_bytes(w, 20);
    if (!ip)
        return PX_PKT_BAD_IP;
    uint8_t vihl = ip[0];
    uint16_t tot = px_pkt_ld16(ip + 2);
    uint16_t id = px_pkt_ld16(ip + 4);
    uint16_t frag = px_pkt_ld16(ip + 6);
    uint8_t proto = ip[9];
    memcpy(out->src, ip + 12, 4);
    memcpy(out->dst, ip + 16, 4);
    size_t hlen = (size_t)(vihl & 0x0f) * 4;
    if ((vihl >> 4) != 4 || hlen < 20)
        return PX_PKT_BAD_IP;
    size_t caplen = px_wire_avail(w) + 20;
    if (tot == 0) /* segmentation offload: the length was never filled in */
        tot = (uint16_t)(caplen > 0xffff ? 0xffff : caplen);
    if (tot < hlen)
        return PX_PKT_BAD_IP;
    if (tot > caplen)
        return PX_PKT_TRUNC_IP;
    px_wire body;
    px_wire_init(&body, ip + hlen, tot - hlen); /* cuts Ethernet padding */
    out->ip_version = 4;
    out->proto = proto;
    bool more = frag & 0x2000;
    size_t off = (size_t)(frag & 0x1fff) * 8;
    if (more || off) {
        if (proto != PX_PKT_UDP && proto != PX_PKT_TCP)
            return PX_PKT_OTHER_PROTO;
        px_pkt_status st =
            px_frag_add(d, out, id, off, more, body.pos, px_wire_avail(&body), now, &body);
        if (st != PX_PKT_OK)
            return st;
    }
    return px_pkt_transport(proto, &body, out);
}

/* Follows IPv6 extension headers from `next`; stops at the transport or
 * at a fragment header (*frag set to it). */
static px_pkt_status px_pkt_ip6_ext(px_wire *w, uint8_t *next, const uint8_t **frag)
{
    *frag = NULL;
    for (int i = 0; i < PX_IP6_EXT_MAX; i++) {
        switch (*next) {
        case 0:  /* hop-by-hop options */
        case 43: /* routing */
        case 60: /* destination options */
        case 51: /* authentication header: length in 4-byte units */
        {
            uint8_t nh = px_wire_u8(w);
            uint8_t len = px_wire_u8(w);
            size_t total = *next == 51 ? ((size_t)len + 2) * 4 : ((size_t)len + 1) * 8;
            px_wire_skip(w, total - 2);
            if (px_wire_err(w))
                return PX_PKT_BAD_IP;
            *next = nh;
            break;
        }
        case 44: /* fragment */
            *frag = px_wire_bytes(w, 8);
            if (!*frag)
                return PX_PKT_BAD_IP;
            *next = (*frag)[0];
            return PX_PKT_OK;
        default:
            return PX_PKT_OK;
        }
    }
    return PX_PKT_BAD_IP;
}

static px_pkt_status px_pkt_ip6(px_pkt_decoder *d, px_wire *w, int64_t now, px_pkt *out)
{
    const uint8_t *ip = px_wire_bytes(w, 40);
    if (!ip || (ip[0] >> 4) != 6)
        return PX_PKT_BAD_IP;
    uint16_t plen = px_pkt_ld16(ip + 4);
    uint8_t next = ip[6];
    memcpy(out->src, ip + 8, 16);
    memcpy(out->dst, ip + 24, 16);
    size_t avail = px_wire_avail(w);
    if (plen > avail)
        return PX_PKT_TRUNC_IP;
    px_wire body = px_wire_sub(w, plen ? plen : avail); /* cuts padding; 0: jumbogram/TSO */
    out->ip_version = 6;
    const uint8_t *frag;
    px_pkt_status st = px_pkt_ip6_ext(&body, &next, &frag);
    if (st != PX_PKT_OK)
        return st;
    if (frag) {
        uint16_t offm = (uint16_t)((frag[2] << 8) | frag[3]);
        uint32_t id = ((uint32_t)frag[4] << 24) | ((uint32_t)frag[5] << 16) |
                      ((uint32_t)frag[6] << 8) | frag[7];
        size_t off = (size_t)(offm >> 3) * 8;
        bool more = offm & 1;
        if (off || more) {
            out->proto = next;
            st = px_frag_add(d, out, id, off, more, body.pos, px_wire_avail(&body), now, &body);
            if (st != PX_PKT_OK)
                return st;
        }
        /* Headers after the fragment header (destination options). */
        st = px_pkt_ip6_ext(&body, &next, &frag);
        if (st != PX_PKT_OK)
            return st;
        if (frag)
            return PX_PKT_BAD_FRAG;
    }
    return px_pkt_transport(next, &body, out);
}

px_pkt_status px_pkt_decode(px_pkt_decoder *d, int dlt, const uint8_t *data, size_t len,
                            int64_t now, px_pkt *out)
{
    px_wire w;
    px_wire_init(&w, data, len);
    int version = 0;
    px_pkt_status st = px_pkt_link(dlt, &w, &version);
    if (st != PX_PKT_OK)
        return st;
    if (version == 0) {
        if (px_wire_avail(&w) == 0)
            return PX_PKT_BAD_IP;
        version = *w.pos >> 4;
    }
    out->tcp_seq = out->tcp_ack = 0;
    out->tcp_flags = 0;
    if (version == 4)
        return px_pkt_ip4(d, &w, now, out);
    if (version == 6)
        return px_pkt_ip6(d, &w, now, out);
    return PX_PKT_BAD_IP;
}
