/* avrobench.c: the observation codec (lib/obs/px_avro.c) against avro-c's
 * generic value interface, for encoding (pxt_avro_encode, head then tail; and the
 * producer's split form, head once per record, px_avro_encode_tail per
 * message) and for decoding (px_avro_decode, whose datum reader is
 * direct). docs/BENCHMARKS.md, "Why this is ours", has the figures.
 *
 * The avro-c side does what a codec on avro-c must: fill a generic value
 * field by field and avro_value_write() it after the single-object header;
 * read with avro_value_read() and take every field out. Every message
 * either side writes is checked to be the same bytes before timing.
 *
 *   pdnsx-bench-avro [-n OBSERVATIONS] [-r ROUNDS] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <avro.h>

#include "bench_pair.h"
#include "avro_encode.h"
#include "obs/px_avro.h"

typedef struct obs_text {
    char rrname[64], rdata[64], bailiwick[32];
    const char *rrtype;
} obs_text;

typedef struct bench {
    size_t n;
    obs_text *text;
    px_avro_obs *obs;
    px_avro_codec *codec;
    uint8_t (*head)[256];
    size_t *head_len;
    /* every message, as pxt_avro_encode writes it */
    uint8_t *msgs;
    size_t *msg_off, *msg_len;
    /* avro-c */
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t value;
    avro_writer_t writer;
    avro_reader_t reader;
    char *wbuf;
    size_t wcap;
    uint8_t header[10];
} bench;

/* A deterministic mix like the benchmark capture's: mostly A/AAAA, then
 * CNAME, MX, NS; every tenth with a bailiwick; clients on every other. */
static void make_obs(bench *b, size_t i)
{
    obs_text *t = &b->text[i];
    px_avro_obs *o = &b->obs[i];
    uint32_t x = (uint32_t)(i * 2654435761u);
    snprintf(t->rrname, sizeof(t->rrname), "host%" PRIu32 ".domain%" PRIu32 ".example.com",
             x % 50000, x % 3000);
    switch (x % 8) {
    case 0:
    case 1:
    case 2:
    case 3:
        t->rrtype = "A";
        snprintf(t->rdata, sizeof(t->rdata), "192.0.%" PRIu32 ".%" PRIu32, (x >> 8) & 255, x & 255);
        break;
    case 4:
    case 5:
        t->rrtype = "AAAA";
        snprintf(t->rdata, sizeof(t->rdata), "2001:db8::%" PRIx32 ":%" PRIx32, (x >> 16) & 0xffff,
                 x & 0xffff);
        break;
    case 6:
        t->rrtype = "CNAME";
        snprintf(t->rdata, sizeof(t->rdata), "cdn%" PRIu32 ".edge.example.net", x % 977);
        break;
    default:
        t->rrtype = "MX";
        snprintf(t->rdata, sizeof(t->rdata), "10 mx%" PRIu32 ".example.org", x % 97);
    }
    snprintf(t->bailiwick, sizeof(t->bailiwick), "domain%" PRIu32 ".example.com", x % 3000);
    *o = (px_avro_obs){.rrname = t->rrname,
                       .rrtype = t->rrtype,
                       .rdata = t->rdata,
                       .bailiwick = i % 10 == 0 ? t->bailiwick : NULL,
                       .count = 1 + (int64_t)(x % 40),
                       .time_first = 1764633600 + (int64_t)(i % 3600),
                       .ttl_min = 60,
                       .ttl_max = 300 + (int64_t)(x % 3000),
                       .clients = i % 2 ? (int64_t)(x % 100) : -1,
                       .org = "bench-a",
                       .sensor = "sensor-1"};
    o->time_last = o->time_first + (int64_t)(x % 60);
}

static int set_string(avro_value_t *rec, size_t idx, const char *s)
{
    avro_value_t f;
    return avro_value_get_by_index(rec, idx, &f, NULL) ||
           avro_value_set_string_len(&f, s, strlen(s) + 1);
}

static int set_long(avro_value_t *rec, size_t idx, int64_t v)
{
    avro_value_t f;
    return avro_value_get_by_index(rec, idx, &f, NULL) || avro_value_set_long(&f, v);
}

/* A nullable field: branch 0 is null, branch 1 the value. */
static int set_union(avro_value_t *rec, size_t idx, const char *s, int64_t v, int has)
{
    avro_value_t f, br;
    if (avro_value_get_by_index(rec, idx, &f, NULL) || avro_value_set_branch(&f, has ? 1 : 0, &br))
        return 1;
    if (!has)
        return avro_value_set_null(&br);
    return s ? avro_value_set_string_len(&br, s, strlen(s) + 1) : avro_value_set_long(&br, v);
}

/* One message with avro-c: header, then the generic value written. */
static int avroc_encode(bench *b, const px_avro_obs *o, size_t *len)
{
    avro_value_t *r = &b->value;
    if (set_string(r, 0, o->rrname) || set_string(r, 1, o->rrtype) || set_string(r, 2, o->rdata) ||
        set_union(r, 3, o->bailiwick, 0, o->bailiwick != NULL) || set_long(r, 4, o->count) ||
        set_long(r, 5, o->time_first) || set_long(r, 6, o->time_last) ||
        set_long(r, 7, o->ttl_min) || set_long(r, 8, o->ttl_max) ||
        set_union(r, 9, NULL, o->clients, o->clients >= 0) || set_string(r, 10, o->org) ||
        set_string(r, 11, o->sensor))
        return 1;
    memcpy(b->wbuf, b->header, sizeof(b->header));
    avro_writer_memory_set_dest(b->writer, b->wbuf + sizeof(b->header),
                                (int64_t)(b->wcap - sizeof(b->header)));
    if (avro_value_write(b->writer, r))
        return 1;
    *len = sizeof(b->header) + (size_t)avro_writer_tell(b->writer);
    return 0;
}

static int get_string(avro_value_t *rec, size_t idx, const char **s, size_t *n)
{
    avro_value_t f;
    return avro_value_get_by_index(rec, idx, &f, NULL) || avro_value_get_string(&f, s, n);
}

static int get_long(avro_value_t *rec, size_t idx, int64_t *v)
{
    avro_value_t f;
    return avro_value_get_by_index(rec, idx, &f, NULL) || avro_value_get_long(&f, v);
}

/* One message with avro-c: header checked, datum read, every field out. */
static int avroc_decode(bench *b, const uint8_t *msg, size_t len, uint64_t *sink)
{
    if (len < sizeof(b->header) || memcmp(msg, b->header, sizeof(b->header)))
        return 1;
    avro_reader_memory_set_source(b->reader, (const char *)msg + sizeof(b->header),
                                  (int64_t)(len - sizeof(b->header)));
    avro_value_t *r = &b->value;
    if (avro_value_read(b->reader, r))
        return 1;
    const char *s;
    size_t n;
    int64_t v;
    for (size_t i = 0; i < 3; i++) {
        if (get_string(r, i, &s, &n))
            return 1;
        *sink += n;
    }
    avro_value_t f, br;
    int disc;
    for (size_t i = 3; i <= 9; i += 6) {
        if (avro_value_get_by_index(r, i, &f, NULL) || avro_value_get_discriminant(&f, &disc))
            return 1;
        if (disc == 1 && avro_value_get_current_branch(&f, &br))
            return 1;
        if (disc == 1 && i == 3 && avro_value_get_string(&br, &s, &n) == 0)
            *sink += n;
        if (disc == 1 && i == 9 && avro_value_get_long(&br, &v) == 0)
            *sink += (uint64_t)v;
    }
    for (size_t i = 4; i <= 8; i++) {
        if (get_long(r, i, &v))
            return 1;
        *sink += (uint64_t)v;
    }
    for (size_t i = 10; i <= 11; i++) {
        if (get_string(r, i, &s, &n))
            return 1;
        *sink += n;
    }
    return 0;
}

/* pxt_avro_encode (head, then tail), or (head_cached) px_avro_encode_tail on the head
 * px_avro_encode_head wrote once, as the producer does at each window. */
static uint64_t encode_ours(bench *b, int head_cached, uint64_t *sink)
{
    for (size_t i = 0; i < b->n; i++) {
        const uint8_t *out;
        size_t len;
        px_err err = head_cached ? px_avro_encode_tail(b->codec, b->head[i], b->head_len[i],
                                                       &b->obs[i], &out, &len)
                                 : pxt_avro_encode(b->codec, &b->obs[i], &out, &len);
        if (err)
            return 0;
        *sink += len + out[len - 1];
    }
    return b->n;
}

static uint64_t enc_ours(void *ctx, uint64_t *sink)
{
    return encode_ours(ctx, 0, sink);
}

static uint64_t tail_ours(void *ctx, uint64_t *sink)
{
    return encode_ours(ctx, 1, sink);
}

static uint64_t enc_avroc(void *ctx, uint64_t *sink)
{
    bench *b = ctx;
    for (size_t i = 0; i < b->n; i++) {
        size_t len;
        if (avroc_encode(b, &b->obs[i], &len))
            return 0;
        *sink += len + (uint8_t)b->wbuf[len - 1];
    }
    return b->n;
}

static uint64_t dec_ours(void *ctx, uint64_t *sink)
{
    bench *b = ctx;
    for (size_t i = 0; i < b->n; i++) {
        px_avro_obs o;
        if (px_avro_decode(b->codec, b->msgs + b->msg_off[i], b->msg_len[i], &o))
            return 0;
        *sink += strlen(o.rrname) + strlen(o.rdata) + (uint64_t)o.count + (uint64_t)o.time_last;
    }
    return b->n;
}

static uint64_t dec_avroc(void *ctx, uint64_t *sink)
{
    bench *b = ctx;
    for (size_t i = 0; i < b->n; i++)
        if (avroc_decode(b, b->msgs + b->msg_off[i], b->msg_len[i], sink))
            return 0;
    return b->n;
}

/* Builds the inputs, and checks that both encoders write the same bytes. */
static int setup(bench *b)
{
    char why[512];
    if (px_avro_codec_create(&b->codec, why, sizeof(why)) != PX_OK)
        fprintf(stderr, "avrobench: %s\n", why);
    b->text = calloc(b->n, sizeof(*b->text));
    b->obs = calloc(b->n, sizeof(*b->obs));
    b->head = calloc(b->n, sizeof(*b->head));
    b->head_len = calloc(b->n, sizeof(*b->head_len));
    b->msg_off = calloc(b->n, sizeof(*b->msg_off));
    b->msg_len = calloc(b->n, sizeof(*b->msg_len));
    b->msgs = malloc(b->n * 256);
    b->wcap = 4096;
    b->wbuf = malloc(b->wcap);
    if (!b->codec || !b->text || !b->obs || !b->head || !b->head_len || !b->msg_off ||
        !b->msg_len || !b->msgs || !b->wbuf)
        return 1;
    if (avro_schema_from_json_length(px_schema_observation, strlen(px_schema_observation),
                                     &b->schema))
        return 1;
    b->iface = avro_generic_class_from_schema(b->schema);
    b->writer = avro_writer_memory(b->wbuf, (int64_t)b->wcap);
    b->reader = avro_reader_memory(b->wbuf, 0);
    if (!b->iface || avro_generic_value_new(b->iface, &b->value) || !b->writer || !b->reader)
        return 1;
    uint64_t fp = pxt_avro_fingerprint(px_schema_observation);
    b->header[0] = 0xc3;
    b->header[1] = 0x01;
    for (int i = 0; i < 8; i++)
        b->header[2 + i] = (uint8_t)(fp >> (8 * i));
    size_t off = 0;
    for (size_t i = 0; i < b->n; i++) {
        make_obs(b, i);
        const uint8_t *out;
        size_t len, alen;
        if (px_avro_encode_head(b->codec, &b->obs[i], b->head[i], sizeof(b->head[i]),
                                &b->head_len[i]) ||
            pxt_avro_encode(b->codec, &b->obs[i], &out, &len) || len > 256 ||
            avroc_encode(b, &b->obs[i], &alen))
            return 1;
        if (alen != len || memcmp(out, b->wbuf, len) != 0) {
            fprintf(stderr, "pdnsx-bench-avro: observation %zu: the encoders differ\n", i);
            return 1;
        }
        memcpy(b->msgs + off, out, len);
        b->msg_off[i] = off;
        b->msg_len[i] = len;
        off += len;
    }
    return 0;
}

int main(int argc, char **argv)
{
    bench b = {.n = 200000};
    int rounds = 5, opt;
    while ((opt = getopt(argc, argv, "n:r:")) != -1) {
        if (opt == 'n')
            b.n = (size_t)strtoul(optarg, NULL, 10);
        else if (opt == 'r')
            rounds = atoi(optarg);
        else
            goto usage;
    }
    if (optind != argc || b.n == 0)
        goto usage;
    if (setup(&b)) {
        fprintf(stderr, "pdnsx-bench-avro: setup failed: %s\n", avro_strerror());
        return 1;
    }
    pxb_side ours_enc = {"pxt_avro_encode", enc_ours},
             ours_tail = {"px_avro_encode_tail", tail_ours};
    pxb_side lib_enc = {"avro-c", enc_avroc};
    pxb_side ours_dec = {"px_avro_decode", dec_ours}, lib_dec = {"avro-c", dec_avroc};
    int rc = pxb_pair("avro encode", "obs", &ours_enc, &lib_enc, &b, rounds) ||
             pxb_pair("avro encode, head cached", "obs", &ours_tail, &lib_enc, &b, rounds) ||
             pxb_pair("avro decode", "obs", &ours_dec, &lib_dec, &b, rounds);
    avro_value_decref(&b.value);
    avro_value_iface_decref(b.iface);
    avro_schema_decref(b.schema);
    avro_writer_free(b.writer);
    avro_reader_free(b.reader);
    px_avro_codec_destroy(b.codec);
    free(b.text), free(b.obs), free(b.head), free(b.head_len), free(b.msg_off), free(b.msg_len);
    free(b.msgs), free(b.wbuf);
    return rc;
usage:
    fprintf(stderr, "usage: pdnsx-bench-avro [-n OBSERVATIONS] [-r ROUNDS]\n");
    return 2;
}
