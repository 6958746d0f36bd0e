/* Fuzzes the dnstap frame decoder and the Frame Streams receiver that
 * feeds it. The decoder's protobuf reader is compared with protobuf-c's
 * generated dnstap__dnstap__unpack(): both must accept the same frames and
 * read the same values. The first input byte picks the chunk size the
 * stream arrives in, to exercise partial frames. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dnstap.pb-c.h"
#include "px_dnstap.h"
#include "px_fstrm.h"
#include "pxt_producer.h"

static px_dnstap_decoder *decoder;

static void same_bytes(const px_dnstap_bytes *b, protobuf_c_boolean has,
                       const ProtobufCBinaryData *ref)
{
    if (b->has != !!has)
        abort();
    if (has && (b->len != ref->len || (ref->len && memcmp(b->data, ref->data, ref->len) != 0)))
        abort();
}

#define SAME(has_a, a, has_b, b)                                                                   \
    do {                                                                                           \
        if ((has_a) != !!(has_b) || ((has_b) && (a) != (b)))                                       \
            abort();                                                                               \
    } while (0)

/* px_dnstap_parse() against protobuf-c. */
static void differential(const uint8_t *data, size_t size)
{
    px_dnstap_msg m;
    px_err err = px_dnstap_parse(data, size, &m);
    Dnstap__Dnstap *ref = dnstap__dnstap__unpack(NULL, size, data);
    if ((err == PX_OK) != (ref != NULL))
        abort();
    if (!ref)
        return;
    const Dnstap__Message *rm = ref->message;
    if (m.dnstap_type != (uint32_t)ref->type || m.has_message != (rm != NULL))
        abort();
    if (rm) {
        if (m.type != (uint32_t)rm->type)
            abort();
        same_bytes(&m.query_address, rm->has_query_address, &rm->query_address);
        same_bytes(&m.response_address, rm->has_response_address, &rm->response_address);
        same_bytes(&m.query_zone, rm->has_query_zone, &rm->query_zone);
        same_bytes(&m.response_message, rm->has_response_message, &rm->response_message);
        SAME(m.has_query_port, m.query_port, rm->has_query_port, rm->query_port);
        SAME(m.has_response_port, m.response_port, rm->has_response_port, rm->response_port);
        SAME(m.has_query_time_sec, m.query_time_sec, rm->has_query_time_sec, rm->query_time_sec);
        SAME(m.has_query_time_nsec, m.query_time_nsec, rm->has_query_time_nsec,
             rm->query_time_nsec);
        SAME(m.has_response_time_sec, m.response_time_sec, rm->has_response_time_sec,
             rm->response_time_sec);
        SAME(m.has_response_time_nsec, m.response_time_nsec, rm->has_response_time_nsec,
             rm->response_time_nsec);
    }
    dnstap__dnstap__free_unpacked(ref, NULL);
}

static void check_event(void *ctx, const px_dns_event *ev)
{
    size_t *sum = ctx;
    /* Touch every byte so ASan sees any pointer beyond its buffer. */
    for (size_t i = 0; i < ev->len; i++)
        *sum += ev->msg[i];
    for (size_t i = 0; i < ev->query_zone_len; i++)
        *sum += ev->query_zone[i];
    if (ev->len == 0 || ev->time_nsec > 999999999 || ev->time_sec < 0)
        abort();
    if ((ev->client.family != 0 && ev->client.family != 4 && ev->client.family != 6) ||
        (ev->server.family != 0 && ev->server.family != 4 && ev->server.family != 6))
        abort();
}

static void on_frame(void *ctx, const uint8_t *data, size_t len)
{
    (void)px_dnstap_decode(decoder, data, len, check_event, ctx, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static px_fstrm_recv *recv;
    if (!decoder)
        decoder = px_dnstap_decoder_create(0);
    if (!recv)
        recv = px_fstrm_recv_create(PX_DNSTAP_CONTENT_TYPE, 4096);
    if (!decoder || !recv || size == 0)
        return 0;
    size_t sum = 0;
    size_t chunk = (size_t)data[0] + 1;
    data++;
    size--;

    /* The whole input as one dnstap frame. */
    differential(data, size);
    on_frame(&sum, data, size);

    /* The whole input as a Frame Streams connection. */
    px_fstrm_recv_reset(recv);
    px_err err = PX_OK;
    for (size_t off = 0; off < size && err == PX_OK; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        err = pxt_fstrm_recv_feed(recv, data + off, n, on_frame, &sum);
    }
    size_t rl;
    const uint8_t *reply = px_fstrm_recv_reply(recv, &rl);
    for (size_t i = 0; i < rl; i++)
        sum += reply[i];
    /* Use sum so the reads above are not optimised away. */
    return sum == SIZE_MAX ? -1 : 0;
}
