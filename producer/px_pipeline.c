#include "px_pipeline.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "px_avro.h"
#include "px_dns.h"
#include "px_psl.h"

struct px_pipeline {
    pthread_mutex_t lock;
    char *org, *sensor;
    px_filter *filter;
    px_window *window;
    px_avro_codec *codec;
    px_psl_cache *psl;
    px_pipeline_out_fn out;
    void *out_ctx;
    uint64_t k0, k1; /* client hash key: memory only */
    px_pipeline_stats st;
    /* Scratch kept here rather than on the stack: the iterator holds
     * text buffers for the longest names and rdata. */
    px_dns_iter it;
    px_dns_msg msg;
    char bailiwick[PX_DNS_NAME_TEXT_MAX];
    /* The query_zone whose text is in bailiwick: a resolver answers runs
     * of queries in the same zone, so most events reuse the last text. */
    uint8_t bw_wire[256];
    size_t bw_wire_len; /* 0: none cached */
    size_t bw_len;
};

/* SipHash-2-4 of a short input: a keyed PRF, so that the per-window client
 * set cannot be reversed into addresses without the key. */
#define PX_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define PX_SIPROUND                                                                                \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = PX_ROTL(v1, 13);                                                                      \
        v1 ^= v0;                                                                                  \
        v0 = PX_ROTL(v0, 32);                                                                      \
        v2 += v3;                                                                                  \
        v3 = PX_ROTL(v3, 16);                                                                      \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = PX_ROTL(v3, 21);                                                                      \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = PX_ROTL(v1, 17);                                                                      \
        v1 ^= v2;                                                                                  \
        v2 = PX_ROTL(v2, 32);                                                                      \
    } while (0)

static uint64_t px_siphash(uint64_t k0, uint64_t k1, const uint8_t *in, size_t len)
{
    uint64_t v0 = 0x736f6d6570736575ull ^ k0, v1 = 0x646f72616e646f6dull ^ k1;
    uint64_t v2 = 0x6c7967656e657261ull ^ k0, v3 = 0x7465646279746573ull ^ k1;
    uint64_t b = (uint64_t)len << 56;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t m;
        memcpy(&m, in + i, 8); /* little-endian hosts; the value is private anyway */
        v3 ^= m;
        PX_SIPROUND;
        PX_SIPROUND;
        v0 ^= m;
    }
    for (size_t j = 0; i + j < len; j++)
        b |= (uint64_t)in[i + j] << (8 * j);
    v3 ^= b;
    PX_SIPROUND;
    PX_SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    PX_SIPROUND;
    PX_SIPROUND;
    PX_SIPROUND;
    PX_SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

static void px_pipeline_emit(void *ctx, const px_obs *o)
{
    px_pipeline *p = ctx;
    char tname[16];
    const char *key;
    size_t key_len;
    if (px_psl_cache_lookup(p->psl, o->rrname, o->rrname_len, &key, &key_len) != PX_OK) {
        p->st.output_errors++;
        return;
    }
    px_avro_obs a = {
        .rrname = o->rrname,
        .rrtype = px_dns_type_name(o->rrtype, tname, sizeof(tname)),
        .rdata = o->rdata,
        .bailiwick = o->bailiwick,
        .count = (int64_t)o->count,
        .time_first = o->time_first,
        .time_last = o->time_last,
        .ttl_min = o->ttl_min,
        .ttl_max = o->ttl_max,
        .clients = o->clients,
        .org = p->org,
        .sensor = p->sensor,
    };
    const uint8_t *buf;
    size_t len;
    if (px_avro_encode(p->codec, &a, &buf, &len) != PX_OK ||
        p->out(p->out_ctx, key, key_len, buf, len) != PX_OK) {
        p->st.output_errors++;
        return;
    }
    p->st.published++;
}

static px_err px_pipeline_client_key(px_pipeline *p, const uint8_t *fixed)
{
    uint8_t k[16];
    if (fixed)
        memcpy(k, fixed, sizeof(k));
    else if (getrandom(k, sizeof(k), 0) != (ssize_t)sizeof(k))
        return PX_ERR_IO;
    memcpy(&p->k0, k, 8);
    memcpy(&p->k1, k + 8, 8);
    memset(k, 0, sizeof(k));
    return PX_OK;
}

px_pipeline *px_pipeline_create(const px_pipeline_conf *conf, px_err *err)
{
    px_pipeline *p = calloc(1, sizeof(*p));
    if (!p) {
        *err = PX_ERR_NOMEM;
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    p->out = conf->out;
    p->out_ctx = conf->out_ctx;
    p->org = strdup(conf->org);
    p->sensor = strdup(conf->sensor);
    *err = PX_ERR_NOMEM;
    if (!p->org || !p->sensor)
        goto fail;
    if ((*err = px_pipeline_client_key(p, conf->client_key)) != PX_OK)
        goto fail;
    if (!(p->filter = px_filter_create(&conf->filter, err)))
        goto fail;
    if (!(p->codec = px_avro_codec_create(err)))
        goto fail;
    *err = PX_ERR_NOMEM;
    /* 2^19 slots (12 MiB plus the names): with 2^17, names evicted by
     * collisions sent ~8% of the producer's time back into libpsl. */
    if (!(p->psl = px_psl_cache_create(1u << 19)))
        goto fail;
    *err = PX_ERR_NOMEM;
    if (!(p->window = px_window_create(&conf->window, px_pipeline_emit, p)))
        goto fail;
    *err = PX_OK;
    return p;
fail:
    px_pipeline_destroy(p);
    return NULL;
}

void px_pipeline_destroy(px_pipeline *p)
{
    if (!p)
        return;
    px_window_destroy(p->window);
    px_avro_codec_destroy(p->codec);
    px_psl_cache_destroy(p->psl);
    px_filter_destroy(p->filter);
    free(p->org);
    free(p->sensor);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* The bailiwick in presentation form, or NULL if the input gave none. */
static const char *px_pipeline_bailiwick(px_pipeline *p, const px_dns_event *ev, size_t *len)
{
    *len = 0;
    if (!ev->query_zone)
        return NULL;
    if (p->bw_wire_len != 0 && ev->query_zone_len == p->bw_wire_len &&
        memcmp(ev->query_zone, p->bw_wire, p->bw_wire_len) == 0) {
        *len = p->bw_len;
        return p->bailiwick;
    }
    p->bw_wire_len = 0;
    if (px_dns_name_to_text(ev->query_zone, ev->query_zone_len, p->bailiwick, sizeof(p->bailiwick),
                            len) != PX_OK)
        return NULL;
    /* Only a valid name is cached; it is at most 255 octets. */
    if (ev->query_zone_len <= sizeof(p->bw_wire)) {
        memcpy(p->bw_wire, ev->query_zone, ev->query_zone_len);
        p->bw_wire_len = ev->query_zone_len;
        p->bw_len = *len;
    }
    return p->bailiwick;
}

static void px_pipeline_records(px_pipeline *p, const px_dns_event *ev, const char *bw,
                                size_t bw_len, uint64_t client_hash, bool has_client)
{
    px_dns_rr rr;
    for (;;) {
        px_err e = px_dns_next(&p->it, &rr);
        if (e == PX_ERR_EOF)
            return;
        if (e != PX_OK) {
            p->st.malformed_rrs++;
            if (!px_dns_can_continue(&p->it))
                return;
            continue;
        }
        px_drop d = px_filter_rr(p->filter, &rr, bw);
        if (d != PX_PASS) {
            p->st.dropped_rrs[d]++;
            continue;
        }
        if (px_window_add(p->window, rr.name, rr.name_len, rr.type, rr.rdata, rr.rdata_len, bw,
                          bw_len, rr.ttl, ev->time_sec, client_hash, has_client) == PX_OK)
            p->st.recorded++;
        else
            p->st.output_errors++;
    }
}

static void px_pipeline_process(px_pipeline *p, const px_dns_event *ev)
{
    p->st.events++;
    if (ev->time_sec > p->st.last_event_time)
        p->st.last_event_time = ev->time_sec;
    if (px_dns_begin(&p->it, ev->msg, ev->len, &p->msg) != PX_OK) {
        p->st.malformed++;
        return;
    }
    px_drop d = px_filter_message(p->filter, &p->msg, ev->server.family ? &ev->server : NULL);
    if (d != PX_PASS) {
        p->st.dropped_msgs[d]++;
        return;
    }
    /* Glue, OPT and unrecorded types are framed but not decoded. */
    px_dns_set_want(&p->it, px_filter_rr_wanted, p->filter);
    size_t bw_len;
    const char *bw = px_pipeline_bailiwick(p, ev, &bw_len);
    uint64_t client_hash = 0;
    bool has_client = ev->client.family != 0;
    if (has_client) {
        /* The address only, not the port: one client, many ports. */
        size_t alen = ev->client.family == 4 ? 4 : 16;
        client_hash = px_siphash(p->k0, p->k1, ev->client.bytes, alen);
    }
    px_pipeline_records(p, ev, bw, bw_len, client_hash, has_client);
}

void px_pipeline_event(void *pipeline, const px_dns_event *ev)
{
    px_pipeline *p = pipeline;
    pthread_mutex_lock(&p->lock);
    px_pipeline_process(p, ev);
    pthread_mutex_unlock(&p->lock);
}

void px_pipeline_tick(px_pipeline *p, int64_t now)
{
    pthread_mutex_lock(&p->lock);
    px_window_tick(p->window, now);
    pthread_mutex_unlock(&p->lock);
}

void px_pipeline_flush(px_pipeline *p)
{
    pthread_mutex_lock(&p->lock);
    px_window_flush(p->window);
    pthread_mutex_unlock(&p->lock);
}

void px_pipeline_get_stats(px_pipeline *p, px_pipeline_stats *out)
{
    pthread_mutex_lock(&p->lock);
    *out = p->st;
    pthread_mutex_unlock(&p->lock);
}
