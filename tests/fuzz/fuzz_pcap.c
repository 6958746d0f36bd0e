/* libFuzzer harness: one packet through link/IP decoding, fragment
 * reassembly and DNS over TCP reassembly. The first byte picks the link
 * type; the decoder and the reassembler live across inputs so that state
 * built by earlier packets (fragments, flows) is exercised too. */
#include <stddef.h>
#include <stdint.h>

#include "px_pkt.h"
#include "px_tcp.h"

static const int px_fuzz_dlts[] = {
    PX_PKT_DLT_NULL, PX_PKT_DLT_EN10MB,    PX_PKT_DLT_RAW,        PX_PKT_DLT_LINKTYPE_RAW,
    PX_PKT_DLT_LOOP, PX_PKT_DLT_LINUX_SLL, PX_PKT_DLT_LINUX_SLL2, PX_PKT_DLT_IPV4,
    PX_PKT_DLT_IPV6, PX_PKT_DLT_RAW_OBSD,
};

static size_t px_fuzz_bytes;

/* Reads every byte of a delivered message, so that ASan sees bad bounds. */
static void px_fuzz_msg(void *ctx, const px_pkt *seg, const uint8_t *msg, size_t len)
{
    (void)ctx;
    (void)seg;
    for (size_t i = 0; i < len; i++)
        px_fuzz_bytes += msg[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static px_pkt_decoder *dec;
    static px_tcp *tcp;
    static int64_t now;
    if (!dec) {
        px_pkt_limits pl = {.max_datagrams = 8};
        px_tcp_limits tl = {.max_flows = 32, .max_ooo = 4, .max_total_bytes = 1 << 20};
        dec = px_pkt_decoder_create(&pl);
        tcp = px_tcp_create(&tl, px_fuzz_msg, NULL);
    }
    if (size < 1)
        return 0;
    int dlt = px_fuzz_dlts[data[0] % (sizeof(px_fuzz_dlts) / sizeof(px_fuzz_dlts[0]))];
    now += data[0] >> 6; /* packet time moves on sometimes: expiry */
    px_pkt pkt;
    if (px_pkt_decode(dec, dlt, data + 1, size - 1, now, &pkt) != PX_PKT_OK)
        return 0;
    for (size_t i = 0; i < pkt.len; i++)
        px_fuzz_bytes += pkt.payload[i];
    if (pkt.proto == PX_PKT_TCP)
        px_tcp_segment(tcp, &pkt, now);
    else
        px_pkt_dns_plausible(pkt.payload, pkt.len);
    return 0;
}
