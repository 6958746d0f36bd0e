/* dnstapdecode.c: the dnstap protobuf reader (px_dnstap_parse) against
 * protobuf-c's generated dnstap__dnstap__unpack (+ free), on the data
 * frames of a dnstap file held in memory (docs/BENCHMARKS.md, "Why this is
 * ours"). Both must accept every frame; the figure is the median ratio of
 * paired rounds (bench_pair.h).
 *
 *   pdnsx-bench-dnstapdecode [-r ROUNDS] FILE.dnstap */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench_dnstap.h"
#include "bench_pair.h"
#include "dnstap.pb-c.h"
#include "px_dnstap.h"

static uint64_t run_ours(void *ctx, uint64_t *sink)
{
    const pxb_frames *fr = ctx;
    for (size_t i = 0; i < fr->n; i++) {
        px_dnstap_msg m;
        if (px_dnstap_parse(fr->data[i], fr->len[i], &m) != PX_OK)
            return 0;
        *sink += m.type + m.response_message.len + m.response_time_sec;
    }
    return fr->n;
}

static uint64_t run_protobuf_c(void *ctx, uint64_t *sink)
{
    const pxb_frames *fr = ctx;
    for (size_t i = 0; i < fr->n; i++) {
        Dnstap__Dnstap *d = dnstap__dnstap__unpack(NULL, fr->len[i], fr->data[i]);
        if (!d)
            return 0;
        if (d->message)
            *sink += (uint64_t)d->message->type + d->message->response_message.len +
                     d->message->response_time_sec;
        dnstap__dnstap__free_unpacked(d, NULL);
    }
    return fr->n;
}

int main(int argc, char **argv)
{
    int rounds;
    pxb_frames fr = {0};
    int rc = pxb_frames_args(argc, argv, "pdnsx-bench-dnstapdecode", &rounds, &fr);
    if (rc)
        return rc;
    pxb_side ours = {"px_dnstap_parse", run_ours};
    pxb_side lib = {"protobuf-c", run_protobuf_c};
    rc = pxb_pair("dnstap decode", "frame", &ours, &lib, &fr, rounds);
    pxb_frames_free(&fr);
    return rc;
}
