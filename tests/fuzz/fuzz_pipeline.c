/* fuzz_pipeline.c: arbitrary DNS messages through the whole pipeline
 * (parse, filter, window, Avro), twice: one pipeline stages and batches
 * events as the daemon's does, the other processes each event before the
 * next arrives. Their outputs and counters must be the same.
 * Input: events, each [flags][len hi][len lo][len bytes of message];
 * flags bit 0: a client (address from the bits 1..3), bit 4: the event
 * is in the next minute (windows close), bit 5: with a query_zone (the
 * message's question name, so bailiwick checks run). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "px_pipeline.h"

typedef struct digest {
    uint64_t h, n;
} digest;

static px_err on_out(void *ctx, const char *key, size_t klen, const uint8_t *val, size_t vlen)
{
    digest *d = ctx;
    for (size_t i = 0; i < klen; i++)
        d->h = (d->h ^ (uint8_t)key[i]) * 0x100000001b3ULL;
    for (size_t i = 0; i < vlen; i++)
        d->h = (d->h ^ val[i]) * 0x100000001b3ULL;
    d->n++;
    return PX_OK;
}

static px_pipeline *make(digest *d)
{
    static const uint8_t key[16] = {7};
    static const char *const zones[] = {"corp.example"};
    px_pipeline_conf c = {
        .org = "fuzz",
        .sensor = "f",
        .filter = {.local_zones = zones, .n_local_zones = 1},
        .window = {.seconds = 60, .max_entries = 16, .min_clients = 1},
        .out = on_out,
        .out_ctx = d,
        .client_key = key,
    };
    px_err err;
    px_pipeline *p = px_pipeline_create(&c, &err);
    if (!p)
        abort();
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* made once (a pipeline takes milliseconds to create); both see the
     * same events, so they stay in step from one input to the next */
    static digest d[2];
    static px_pipeline *p[2];
    static int64_t t = 1764000000;
    if (!p[0]) {
        p[0] = make(&d[0]);
        p[1] = make(&d[1]);
    }
    d[0] = d[1] = (digest){0, 0};
    while (size >= 3) {
        uint8_t flags = data[0];
        size_t len = ((size_t)data[1] << 8) | data[2];
        data += 3;
        size -= 3;
        if (len > size)
            len = size;
        /* a copy the size of the message, so reads past it are caught */
        uint8_t *msg = malloc(len ? len : 1);
        if (!msg)
            abort();
        memcpy(msg, data, len);
        data += len;
        size -= len;
        t += (flags & 0x10) ? 60 : 0;
        px_dns_event ev = {.msg = msg, .len = len, .time_sec = t};
        if (flags & 1) {
            ev.client.family = 4;
            ev.client.bytes[3] = (uint8_t)(flags >> 1 & 7);
        }
        if ((flags & 0x20) && len > 12) {
            ev.query_zone = msg + 12;
            ev.query_zone_len = strnlen((const char *)msg + 12, len - 12);
        }
        px_pipeline_stats st;
        px_pipeline_event(p[0], &ev);
        px_pipeline_event(p[1], &ev);
        px_pipeline_get_stats(p[1], &st); /* one event at a time */
        free(msg);
    }
    px_pipeline_stats st[2];
    for (int i = 0; i < 2; i++) {
        px_pipeline_flush(p[i]);
        px_pipeline_get_stats(p[i], &st[i]);
    }
    if (d[0].n != d[1].n || d[0].h != d[1].h || memcmp(&st[0], &st[1], sizeof(st[0])) != 0)
        abort();
    return 0;
}
