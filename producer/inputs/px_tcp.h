/* px_tcp.h: DNS over TCP stream reassembly (RFC 1035 4.2.2, RFC 7766).
 *
 * Feed every TCP segment px_pkt_decode() yields; both directions of each
 * connection are reassembled into DNS messages (the 2-byte length prefix
 * removed) and handed to the callback with the segment that completed
 * them. Bounded: a fixed number of flows (least recently used evicted),
 * a few out-of-order segments per direction, idle flows expired by packet
 * time, and a budget for all buffered bytes. Streams picked up without a
 * SYN, or after a hole that never filled, resync on the first plausible
 * length prefix + DNS header. A hole the other side has already
 * acknowledged was lost by the capture, not the network, so it is skipped
 * at once instead of waiting for a retransmission that will not come.
 * Not thread-safe: one reassembler per thread. */
#ifndef PX_TCP_H
#define PX_TCP_H

#include <stddef.h>
#include <stdint.h>

#include "px_pkt.h"

typedef struct px_tcp_limits {
    size_t max_flows;       /* 0: 16384 */
    size_t max_ooo;         /* out-of-order segments kept per direction; 0: 8 (max 16) */
    size_t max_ooo_bytes;   /* bytes of those per direction; 0: 128 KiB */
    int64_t idle_timeout;   /* seconds of packet time; 0: 60 */
    size_t max_total_bytes; /* all buffered bytes of all flows; 0: 64 MiB */
} px_tcp_limits;

typedef struct px_tcp_stats {
    uint64_t messages;       /* DNS messages delivered (both directions) */
    uint64_t bad_length;     /* length prefix below a DNS header (skipped) */
    uint64_t duplicates;     /* retransmitted segments (whole) dropped */
    uint64_t gaps;           /* holes given up on: stream resynced after them */
    uint64_t over_budget;    /* data dropped because max_total_bytes was reached */
    uint64_t resync_skipped; /* bytes skipped while looking for a message start */
    uint64_t flows_created;
    uint64_t flows_evicted; /* table full: least recently used dropped */
    uint64_t flows_expired; /* idle */
    uint64_t flows_closed;  /* FIN both ways or RST */
} px_tcp_stats;

/* msg/len valid only during the call; seg is the segment (direction,
 * addresses, ports) that completed the message. */
typedef void (*px_tcp_msg_fn)(void *ctx, const px_pkt *seg, const uint8_t *msg, size_t len);

typedef struct px_tcp px_tcp;

/* lim may be NULL for defaults. NULL on no memory. */
px_tcp *px_tcp_create(const px_tcp_limits *lim, px_tcp_msg_fn fn, void *ctx);
void px_tcp_destroy(px_tcp *t); /* NULL is fine */

/* One TCP segment (seg->proto == PX_PKT_TCP) seen at time `now` (seconds).
 * Allocation failures drop data silently (counted as gaps). */
void px_tcp_segment(px_tcp *t, const px_pkt *seg, int64_t now);

size_t px_tcp_flow_count(const px_tcp *t);
const px_tcp_stats *px_tcp_get_stats(const px_tcp *t);

#endif
