/* px_pkt.h: link, IP and transport decoding of one captured packet, with
 * IPv4/IPv6 fragment reassembly.
 *
 * A px_pkt_decoder turns (link type, bytes, packet time) into the IP
 * version, addresses, ports, transport (UDP or TCP), TCP sequence number and
 * flags, and a pointer to the transport payload. Payloads point into the
 * caller's packet, except for reassembled datagrams, whose bytes the decoder
 * owns until the next px_pkt_decode() call. Nothing is allocated per packet
 * except when a fragment arrives. Not thread-safe: one decoder per thread. */
#ifndef PX_PKT_H
#define PX_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"

/* Link types (libpcap DLT_* values as pcap_datalink() returns them). */
enum {
    PX_PKT_DLT_NULL = 0,
    PX_PKT_DLT_EN10MB = 1,
    PX_PKT_DLT_RAW = 12,      /* DLT_RAW on most systems */
    PX_PKT_DLT_RAW_OBSD = 14, /* DLT_RAW on OpenBSD */
    PX_PKT_DLT_LINKTYPE_RAW = 101,
    PX_PKT_DLT_LOOP = 108,
    PX_PKT_DLT_LINUX_SLL = 113,
    PX_PKT_DLT_IPV4 = 228,
    PX_PKT_DLT_IPV6 = 229,
    PX_PKT_DLT_LINUX_SLL2 = 276,
};

enum { PX_PKT_UDP = 17, PX_PKT_TCP = 6 };

/* TCP flags as in the header. */
enum {
    PX_TCP_FIN = 0x01,
    PX_TCP_SYN = 0x02,
    PX_TCP_RST = 0x04,
    PX_TCP_ACK = 0x10,
};

/* Why a packet was not decoded. PX_PKT_OK: decoded. */
typedef enum px_pkt_status {
    PX_PKT_OK = 0,
    PX_PKT_FRAG_HELD,    /* a fragment, kept until its datagram is whole */
    PX_PKT_NOT_IP,       /* ARP, LLDP, ...: ignored */
    PX_PKT_OTHER_PROTO,  /* IP, but neither UDP nor TCP: ignored */
    PX_PKT_BAD_LINK,     /* malformed or truncated link header */
    PX_PKT_BAD_LINKTYPE, /* link type not supported */
    PX_PKT_BAD_IP,       /* malformed IPv4/IPv6 header or extension header */
    PX_PKT_TRUNC_IP,     /* IP length beyond the captured bytes (snaplen) */
    PX_PKT_BAD_UDP,
    PX_PKT_BAD_TCP,
    PX_PKT_BAD_FRAG,  /* inconsistent fragment */
    PX_PKT_FRAG_FULL, /* fragment table full: fragment dropped */
    PX_PKT__COUNT
} px_pkt_status;

/* Short name for metrics labels ("bad_ip"); never NULL. */
const char *px_pkt_status_name(px_pkt_status s);

typedef struct px_pkt {
    uint8_t ip_version; /* 4 or 6 */
    uint8_t proto;      /* PX_PKT_UDP or PX_PKT_TCP */
    uint8_t src[16];    /* network order; IPv4 uses the first 4 */
    uint8_t dst[16];
    uint16_t sport, dport;  /* host order */
    uint32_t tcp_seq;       /* TCP only */
    uint32_t tcp_ack;       /* TCP only, meaningful with PX_TCP_ACK */
    uint8_t tcp_flags;      /* TCP only: PX_TCP_* */
    const uint8_t *payload; /* transport payload; see ownership above */
    size_t len;
} px_pkt;

typedef struct px_pkt_limits {
    size_t max_datagrams; /* datagrams being reassembled at once; 0: 64 */
    int64_t frag_timeout; /* seconds of packet time; 0: 30 */
} px_pkt_limits;

typedef struct px_pkt_decoder px_pkt_decoder;

/* lim may be NULL for defaults. NULL on no memory. */
px_pkt_decoder *px_pkt_decoder_create(const px_pkt_limits *lim);
void px_pkt_decoder_destroy(px_pkt_decoder *d); /* NULL is fine */

/* Decodes one packet of link type dlt captured at time `now` (seconds).
 * On PX_PKT_OK fills *out. */
px_pkt_status px_pkt_decode(px_pkt_decoder *d, int dlt, const uint8_t *data, size_t len,
                            int64_t now, px_pkt *out);

/* Link types px_pkt_decode() understands. */
bool px_pkt_linktype_supported(int dlt);

/* Could msg (at least 12 bytes readable, message length len) be a DNS
 * message? A cheap test on the header only: a known opcode, at most one
 * question, record counts that fit in len. Used to resync TCP streams and
 * to accept responses on ports other than 53. */
bool px_pkt_dns_plausible(const uint8_t *msg, size_t len);

/* Datagrams currently held incomplete (the pcap input's gauge). */
size_t px_pkt_frag_pending(const px_pkt_decoder *d);
/* Datagrams dropped incomplete because they timed out or were evicted. */
uint64_t px_pkt_frag_expired(const px_pkt_decoder *d);

#endif
