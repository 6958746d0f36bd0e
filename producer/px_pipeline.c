#include "px_pipeline.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/px_buf.h"
#include "core/px_keyed_hash.h"
#include "dns/px_dns_msg.h"
#include "dns/px_dns_name.h"
#include "obs/px_avro.h"
#include "obs/px_psl.h"

/* Events are staged and processed in batches: the records of a batch are
 * decoded and their table slots requested before the first lookup, so the
 * cache misses of many lookups overlap instead of following one another
 * (with one response at a time, the lookups waited on memory for a fifth
 * of the producer's time). PX_PIPELINE_ITEMS records are looked up
 * together; the stage holds copies of the messages, which the inputs may
 * reuse once px_pipeline_event() returns. */
#define PX_PIPELINE_STAGE 16
#define PX_PIPELINE_STAGE_BYTES (64u * 1024)
#define PX_PIPELINE_ITEMS 48

typedef struct px_staged {
    px_dns_event ev; /* msg and query_zone in the stage buffer; no client */
    uint64_t client_hash;
    bool has_client;
} px_staged;

/* A record whose key is built and whose slot is being fetched. */
typedef struct px_pitem {
    size_t off, len; /* key in p->keys */
    uint64_t hash;
    uint32_t ttl;
    unsigned ev;  /* its event in p->stage */
    unsigned idx; /* px_dns_next_wire() call of the message that gave it */
} px_pitem;

struct px_pipeline {
    pthread_mutex_t lock;
    char *org, *sensor;
    px_filter *filter;
    px_window *window;
    px_avro_codec *codec;
    px_psl_cache *psl;
    px_pipeline_out_fn out;
    void *out_ctx;
    px_keyed_hash client_key; /* memory only */
    px_pipeline_stats st;
    /* Scratch kept here rather than on the stack: the iterator holds
     * text buffers for the longest names and rdata. */
    px_dns_iter it;
    px_dns_msg msg;
    char bailiwick[PX_DNS_NAME_TEXT_MAX];
    /* The query_zone whose text is in bailiwick: a resolver answers runs
     * of queries in the same zone, so most events reuse the last text.
     * bw_canon is the same name lowercased, for record keys. */
    uint8_t bw_wire[256];
    uint8_t bw_canon[256];
    size_t bw_wire_len; /* 0: none cached */
    size_t bw_len;
    /* Record keys of the records being looked up: type, bailiwick, owner,
     * rdata (see px_pipeline_key()), back to back; grown as needed. */
    px_buf keys;
    /* A second pass over the message, for a key new to the table: its
     * text needs the iterator standing on its record. */
    px_dns_iter it2;
    px_dns_msg msg2;
    const px_dns_event *it2_ev; /* the staged event it2 is in, NULL: none */
    unsigned it2_next;          /* its next px_dns_next_wire() call */
    uint8_t head[PX_AVRO_HEAD_MAX];
    px_staged stage[PX_PIPELINE_STAGE];
    unsigned n_staged;
    uint8_t *stage_buf; /* PX_PIPELINE_STAGE_BYTES */
    size_t stage_used;
    px_pitem items[PX_PIPELINE_ITEMS];
};

/* What the pipeline keeps per record key in the window's table: all of it
 * a pure function of the key, worked out the first time the key is seen.
 * The verdict (px_drop of px_filter_rr(), or PX_PKEY_MALFORMED) is the
 * entry's tag, so a hit reads no data: only a flush of a passed key does. */
#define PX_PKEY_MALFORMED 0xff /* rdata px_dns_rr_text() refused */
typedef struct px_pkey {
    uint8_t emit_err;  /* the registered domain or the Avro head failed */
    uint16_t reg_len;  /* Kafka key: registered domain, after the head */
    uint32_t head_len; /* px_avro_encode_head() of the record */
    uint8_t bytes[];   /* head, then the registered domain */
} px_pkey;

/* A window flush: the record's fixed fields were encoded when its key was
 * first seen; only the counters are encoded here. */
static void px_pipeline_emit(void *ctx, px_window_entry *e, const px_window_counts *c)
{
    px_pipeline *p = ctx;
    const px_pkey *k = px_window_entry_data(e);
    if (k->emit_err) {
        p->st.output_errors++;
        return;
    }
    px_avro_obs a = {
        .count = (int64_t)c->count,
        .time_first = c->time_first,
        .time_last = c->time_last,
        .ttl_min = c->ttl_min,
        .ttl_max = c->ttl_max,
        .clients = c->clients,
        .org = p->org,
        .sensor = p->sensor,
    };
    const uint8_t *buf;
    size_t len;
    const char *key = (const char *)k->bytes + k->head_len;
    if (px_avro_encode_tail(p->codec, k->bytes, k->head_len, &a, &buf, &len) != PX_OK ||
        p->out(p->out_ctx, key, k->reg_len, buf, len) != PX_OK) {
        p->st.output_errors++;
        return;
    }
    p->st.published++;
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
    /* SipHash, a keyed PRF: the per-window client sets cannot be turned
     * back into addresses without the key, which never leaves memory. */
    if ((*err = px_keyed_hash_init(&p->client_key, conf->client_key)) != PX_OK)
        goto fail;
    if (!(p->filter = px_filter_create(&conf->filter, err)))
        goto fail;
    if ((*err = px_avro_codec_create(&p->codec, NULL, 0)) != PX_OK)
        goto fail;
    *err = PX_ERR_NOMEM;
    /* Asked once per new record key (the window's table keeps the
     * answer), so it only saves libpsl for names with many records. */
    if (!(p->psl = px_psl_cache_create(1u << 14)))
        goto fail;
    if (!(p->stage_buf = malloc(PX_PIPELINE_STAGE_BYTES)))
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
    px_buf_free(&p->keys);
    px_keyed_hash_wipe(&p->client_key);
    free(p->stage_buf);
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
        memcpy(p->bw_canon, ev->query_zone, ev->query_zone_len);
        px_dns_name_fold(p->bw_canon, ev->query_zone_len);
        p->bw_wire_len = ev->query_zone_len;
        p->bw_len = *len;
    }
    return p->bailiwick;
}

/* Bytes px_pipeline_key() writes for rr. */
static size_t px_pipeline_key_len(const px_pipeline *p, const px_dns_rr *rr, bool has_bw)
{
    return 3 + (has_bw ? p->bw_wire_len : 0) + rr->owner_wire_len + rr->rdata_canon_len;
}

/* The record's key into k: type, bailiwick (0, or 1 and its lowercased
 * wire form), owner and rdata in canonical wire form. Names end at their
 * root label, so the parts cannot run into each other. */
static size_t px_pipeline_key(const px_pipeline *p, const px_dns_rr *rr, bool has_bw, uint8_t *k)
{
    k[0] = (uint8_t)(rr->type >> 8);
    k[1] = (uint8_t)rr->type;
    k[2] = has_bw;
    size_t n = 3;
    if (has_bw) {
        memcpy(k + n, p->bw_canon, p->bw_wire_len);
        n += p->bw_wire_len;
    }
    memcpy(k + n, rr->owner_wire, rr->owner_wire_len);
    n += rr->owner_wire_len;
    memcpy(k + n, rr->rdata_canon, rr->rdata_canon_len);
    return n + rr->rdata_canon_len;
}

/* Encodes the record's fixed fields and finds its Kafka key into
 * p->head; returns their length, 0 if either failed or the name is the
 * root or a public suffix (*verdict says so: such a record is not
 * published; only a name that is its own registered domain asks). */
static size_t px_pipeline_head(px_pipeline *p, const px_dns_rr *rr, const char *bw,
                               size_t *head_len, uint8_t *verdict)
{
    char tname[16];
    px_avro_obs a = {
        .rrname = rr->name,
        .rrtype = px_dns_type_name(rr->type, tname, sizeof(tname)),
        .rdata = rr->rdata,
        .bailiwick = bw,
    };
    const char *reg;
    size_t reg_len, len;
    if (px_psl_cache_lookup(p->psl, rr->name, rr->name_len, &reg, &reg_len) != PX_OK)
        return 0;
    if (reg_len == rr->name_len && px_filter_public_suffix(rr)) {
        *verdict = PX_DROP_PUBLIC_SUFFIX;
        return 0;
    }
    if (px_avro_encode_head(p->codec, &a, p->head, sizeof(p->head), &len) != PX_OK ||
        len + reg_len > sizeof(p->head) || reg_len > UINT16_MAX)
        return 0;
    memcpy(p->head + len, reg, reg_len);
    *head_len = len;
    return len + reg_len;
}

/* A key the table does not hold: text, filter verdict, Avro head and
 * Kafka key, once. NULL on no memory; *verdict says what to count then. */
static px_window_entry *px_pipeline_new_key(px_pipeline *p, px_dns_iter *it, px_dns_rr *rr,
                                            const uint8_t *key, size_t key_len, const char *bw,
                                            uint8_t *verdict)
{
    px_err e = px_dns_rr_text(it, rr);
    *verdict = e != PX_OK ? PX_PKEY_MALFORMED : (uint8_t)px_filter_rr(p->filter, rr, bw);
    size_t head_len = 0, len = 0;
    if (*verdict == PX_PASS)
        len = px_pipeline_head(p, rr, bw, &head_len, verdict);
    px_window_entry *ent = px_window_insert(p->window, key, key_len, sizeof(px_pkey) + len);
    if (!ent)
        return NULL;
    px_window_entry_set_tag(ent, *verdict);
    px_pkey *k = px_window_entry_data(ent);
    k->emit_err = *verdict == PX_PASS && len == 0;
    k->head_len = (uint32_t)head_len;
    k->reg_len = (uint16_t)(len - head_len);
    memcpy(k->bytes, p->head, len);
    return ent;
}

/* Decodes records of event `ev` worth a lookup into items (at most room),
 * counting the others; *more false once the message has no more. Their
 * keys are appended to p->keys, and their slots start loading.
 * Returns how many. */
static size_t px_pipeline_gather(px_pipeline *p, const char *bw, unsigned ev, unsigned *idx,
                                 px_pitem *items, size_t room, bool *more)
{
    px_dns_rr rr;
    size_t n = 0;
    while (n < room) {
        unsigned at = (*idx)++;
        px_err e = px_dns_next_wire(&p->it, &rr);
        if (e == PX_ERR_EOF) {
            *more = false;
            return n;
        }
        if (e != PX_OK) {
            p->st.malformed_rrs++;
            if (!px_dns_can_continue(&p->it)) {
                *more = false;
                return n;
            }
            continue;
        }
        if (!rr.owner_wire) { /* refused by px_filter_rr_wanted */
            p->st.dropped_rrs[px_filter_rr(p->filter, &rr, bw)]++;
            continue;
        }
        size_t len = px_pipeline_key_len(p, &rr, bw != NULL);
        if (px_buf_reserve(&p->keys, len) != PX_OK) {
            p->st.output_errors++;
            continue;
        }
        size_t off = p->keys.len;
        px_pipeline_key(p, &rr, bw != NULL, p->keys.p + off);
        uint64_t h = px_window_hash(p->window, p->keys.p + off, len);
        px_window_prefetch(p->window, h);
        items[n++] =
            (px_pitem){.off = off, .len = len, .hash = h, .ttl = rr.ttl, .ev = ev, .idx = at};
        p->keys.len += len;
    }
    return n;
}

/* The record of a key new to the table, decoded again by the second
 * iterator (the first has moved on); the same calls give the same record.
 * Items come in order, so the iterator goes on from where the last new key
 * of the same event left it: a message of many new records is decoded
 * twice, not once per record. */
static px_err px_pipeline_record_at(px_pipeline *p, const px_dns_event *ev, unsigned idx,
                                    px_dns_rr *rr)
{
    if (p->it2_ev != ev || idx < p->it2_next) {
        p->it2_ev = NULL;
        if (px_dns_begin_wire(&p->it2, ev->msg, ev->len, &p->msg2) != PX_OK)
            return PX_ERR_MALFORMED;
        px_dns_set_want(&p->it2, px_filter_rr_wanted, p->filter);
        p->it2_ev = ev;
        p->it2_next = 0;
    }
    for (;;) {
        px_err e = px_dns_next_wire(&p->it2, rr);
        if (p->it2_next++ == idx)
            return e;
        if (e == PX_ERR_EOF) {
            p->it2_ev = NULL;
            return e;
        }
    }
}

static void px_pipeline_lookup(px_pipeline *p, const px_pitem *it)
{
    const px_staged *s = &p->stage[it->ev];
    const uint8_t *key = p->keys.p + it->off;
    px_window_entry *ent = px_window_lookup_hashed(p->window, it->hash, key, it->len);
    uint8_t verdict;
    if (ent) {
        verdict = px_window_entry_tag(ent);
    } else {
        px_dns_rr rr;
        size_t bw_len;
        const char *bw = px_pipeline_bailiwick(p, &s->ev, &bw_len);
        if (px_pipeline_record_at(p, &s->ev, it->idx, &rr) != PX_OK || !rr.owner_wire) {
            p->st.output_errors++; /* cannot happen: the same bytes again */
            return;
        }
        ent = px_pipeline_new_key(p, &p->it2, &rr, key, it->len, bw, &verdict);
    }
    if (verdict == PX_PKEY_MALFORMED) {
        p->st.malformed_rrs++;
        return;
    }
    if (verdict != PX_PASS) {
        /* counted at every use of a cached verdict, as when it was new */
        p->st.dropped_rrs[verdict]++;
        return;
    }
    if (ent && px_window_count(p->window, ent, it->ttl, s->ev.time_sec, s->client_hash,
                               s->has_client) == PX_OK)
        p->st.recorded++;
    else
        p->st.output_errors++;
}

/* Looks up gathered records, in event order: their slots were requested
 * while they were decoded; now their entries, then each lookup. */
static void px_pipeline_run(px_pipeline *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        px_window_prefetch_entry(p->window, p->items[i].hash);
    for (size_t i = 0; i < n; i++)
        px_pipeline_lookup(p, &p->items[i]);
}

/* Header, question and message-level filter of a staged event; false if
 * the message goes no further (counted). p->it is then at its records. */
static bool px_pipeline_begin(px_pipeline *p, const px_dns_event *ev)
{
    p->st.events++;
    if (ev->time_sec > p->st.last_event_time)
        p->st.last_event_time = ev->time_sec;
    if (px_dns_begin_wire(&p->it, ev->msg, ev->len, &p->msg) != PX_OK) {
        p->st.malformed++;
        return false;
    }
    px_drop d = px_filter_message(p->filter, &p->msg, ev->server.family ? &ev->server : NULL);
    if (d != PX_PASS) {
        p->st.dropped_msgs[d]++;
        return false;
    }
    /* Glue, OPT and unrecorded types are framed but not decoded. */
    px_dns_set_want(&p->it, px_filter_rr_wanted, p->filter);
    return true;
}

/* Processes the staged events. Everything that changes the window (the
 * lookups, new keys, counts, flushes) happens in px_pipeline_run(), one
 * record after the other in arrival order, so batching changes no
 * result; only decoding runs ahead, to have many slots loading at once. */
static void px_pipeline_drain(px_pipeline *p)
{
    size_t n = 0;
    px_buf_clear(&p->keys);
    for (unsigned i = 0; i < p->n_staged; i++) {
        const px_dns_event *ev = &p->stage[i].ev;
        if (!px_pipeline_begin(p, ev))
            continue;
        unsigned idx = 0;
        bool more = true;
        while (more) {
            if (n == PX_PIPELINE_ITEMS) {
                px_pipeline_run(p, n);
                n = 0;
                px_buf_clear(&p->keys);
            }
            /* again after a run: a new key's bailiwick may have taken
             * the cache */
            size_t bw_len;
            const char *bw = px_pipeline_bailiwick(p, ev, &bw_len);
            n += px_pipeline_gather(p, bw, i, &idx, p->items + n, PX_PIPELINE_ITEMS - n, &more);
        }
    }
    px_pipeline_run(p, n);
    p->n_staged = 0;
    p->stage_used = 0;
    p->it2_ev = NULL; /* the stage is reused */
}

/* Copies len bytes into the stage buffer; the caller checked the room. */
static const uint8_t *px_pipeline_stage_copy(px_pipeline *p, const uint8_t *b, size_t len)
{
    uint8_t *dst = p->stage_buf + p->stage_used;
    memcpy(dst, b, len);
    p->stage_used += len;
    return dst;
}

/* Stages a copy of the event (the input may reuse its memory once we
 * return), with the client already reduced to its keyed hash. */
static void px_pipeline_stage(px_pipeline *p, const px_dns_event *ev)
{
    size_t zone = ev->query_zone ? ev->query_zone_len : 0;
    size_t need = ev->len + zone;
    if (p->n_staged == PX_PIPELINE_STAGE || PX_PIPELINE_STAGE_BYTES - p->stage_used < need)
        px_pipeline_drain(p);
    px_staged *s = &p->stage[p->n_staged++];
    s->ev = *ev;
    s->has_client = ev->client.family != 0;
    s->client_hash = 0;
    if (s->has_client) {
        /* The address only, not the port: one client, many ports. */
        size_t alen = ev->client.family == 4 ? 4 : 16;
        s->client_hash = px_keyed_hash64(&p->client_key, ev->client.bytes, alen);
    }
    memset(&s->ev.client, 0, sizeof(s->ev.client)); /* it goes no further */
    if (need > PX_PIPELINE_STAGE_BYTES) {
        /* bigger than any batch: processed now, from the input's memory */
        px_pipeline_drain(p);
        return;
    }
    s->ev.msg = px_pipeline_stage_copy(p, ev->msg, ev->len);
    if (zone)
        s->ev.query_zone = px_pipeline_stage_copy(p, ev->query_zone, zone);
}

void px_pipeline_event(void *pipeline, const px_dns_event *ev)
{
    px_pipeline *p = pipeline;
    pthread_mutex_lock(&p->lock);
    px_pipeline_stage(p, ev);
    pthread_mutex_unlock(&p->lock);
}

void px_pipeline_tick(px_pipeline *p, int64_t now)
{
    pthread_mutex_lock(&p->lock);
    px_pipeline_drain(p);
    px_window_tick(p->window, now);
    pthread_mutex_unlock(&p->lock);
}

void px_pipeline_flush(px_pipeline *p)
{
    pthread_mutex_lock(&p->lock);
    px_pipeline_drain(p);
    px_window_flush(p->window);
    pthread_mutex_unlock(&p->lock);
}

void px_pipeline_get_stats(px_pipeline *p, px_pipeline_stats *out)
{
    pthread_mutex_lock(&p->lock);
    px_pipeline_drain(p); /* the figures cover every event handed in */
    *out = p->st;
    px_window_get_stats(p->window, &out->window);
    out->window_keys = px_window_keys(p->window);
    out->window_entries = px_window_entries(p->window);
    out->window_bytes = px_window_bytes(p->window);
    pthread_mutex_unlock(&p->lock);
}
