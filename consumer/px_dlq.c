/* px_dlq.c: dead-letter copies and their acknowledgements (px_dlq.h). */
#include "px_dlq.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/px_hash.h"
#include "kafka/px_kafka.h"

/* Headers we add; a copy's last header of each name is ours (the original
 * headers come first and may hold anything). */
#define PX_DLQ_H_ERROR "pdnsx.error"
#define PX_DLQ_H_TOPIC "pdnsx.topic"
#define PX_DLQ_H_PARTITION "pdnsx.partition"
#define PX_DLQ_H_OFFSET "pdnsx.offset"
#define PX_DLQ_H_TRUNCATED "pdnsx.truncated"
#define PX_DLQ_H_KEY_SIZE "pdnsx.key_size"
#define PX_DLQ_H_VALUE_SIZE "pdnsx.value_size"

typedef enum px_dlq_state {
    PX_DLQ_INFLIGHT, /* produced, no report yet */
    PX_DLQ_ACKED,    /* Kafka has it */
    PX_DLQ_FAILED,   /* transient failure: send again with the batch */
    PX_DLQ_SKIPPED,  /* refused for good: given up */
} px_dlq_state;

/* One source message. Its address is the produced copy's opaque, so an
 * entry in flight is never freed (px_dlq_forget keeps it). */
typedef struct px_dlq_ent {
    char *topic;
    int32_t partition;
    int64_t offset;
    uint64_t batch;
    uint64_t hash;
    size_t key_len, value_len; /* of the source message */
    rd_kafka_resp_err_t err;   /* the last failure */
    uint8_t state, level, reason;
    size_t n_headers; /* the source message's headers */
    size_t n_kept;    /* of those, in the last copy sent (all, or none) */
    bool truncated;   /* the last copy sent was cut */
    bool saved;       /* recorded by the caller (px_dlq_saved) */
    bool listed;      /* listed by px_dlq_unsaved */
} px_dlq_ent;

struct px_dlq {
    rd_kafka_t *rk;
    char *topic;
    size_t max_bytes;
    int flush_ms;
    px_dlq_ent **slots; /* open addressing, linear probing; NULL: free */
    size_t cap, n;
};

/* ---- the table ---------------------------------------------------------------- */

static uint64_t px_dlq_hash(const char *topic, int32_t partition, int64_t offset)
{
    /* (partition, offset) as the seed of the topic's hash */
    uint64_t pos = px_hash64(&offset, sizeof(offset), (uint64_t)(uint32_t)partition);
    return px_hash64(topic, strlen(topic), pos);
}

static px_dlq_ent *px_dlq_find(const px_dlq *d, const char *topic, int32_t partition,
                               int64_t offset)
{
    if (!d->n)
        return NULL;
    uint64_t h = px_dlq_hash(topic, partition, offset);
    for (size_t i = h & (d->cap - 1);; i = (i + 1) & (d->cap - 1)) {
        px_dlq_ent *e = d->slots[i];
        if (!e)
            return NULL;
        if (e->hash == h && e->offset == offset && e->partition == partition &&
            strcmp(e->topic, topic) == 0)
            return e;
    }
}

static void px_dlq_place(px_dlq_ent **slots, size_t cap, px_dlq_ent *e)
{
    size_t i = e->hash & (cap - 1);
    while (slots[i])
        i = (i + 1) & (cap - 1);
    slots[i] = e;
}

/* Rebuilds the table at capacity cap from the entries keep() keeps; the
 * others are freed. */
static int px_dlq_rebuild(px_dlq *d, size_t cap, bool (*keep)(const px_dlq_ent *, uint64_t),
                          uint64_t arg)
{
    px_dlq_ent **slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < d->cap; i++) {
        px_dlq_ent *e = d->slots[i];
        if (!e)
            continue;
        if (keep && !keep(e, arg)) {
            free(e->topic);
            free(e);
            continue;
        }
        px_dlq_place(slots, cap, e);
        n++;
    }
    free(d->slots);
    d->slots = slots;
    d->cap = cap;
    d->n = n;
    return 0;
}

static px_dlq_ent *px_dlq_add(px_dlq *d, const char *topic, int32_t partition, int64_t offset)
{
    if (2 * (d->n + 1) > d->cap && px_dlq_rebuild(d, d->cap ? 2 * d->cap : 64, NULL, 0) < 0)
        return NULL;
    px_dlq_ent *e = calloc(1, sizeof(*e));
    if (!e || !(e->topic = strdup(topic))) {
        free(e);
        return NULL;
    }
    e->partition = partition;
    e->offset = offset;
    e->hash = px_dlq_hash(topic, partition, offset);
    px_dlq_place(d->slots, d->cap, e);
    d->n++;
    return e;
}

px_dlq *px_dlq_create(rd_kafka_t *producer, const char *topic, size_t max_bytes, int flush_ms)
{
    px_dlq *d = calloc(1, sizeof(*d));
    if (!d || !(d->topic = strdup(topic))) {
        free(d);
        return NULL;
    }
    d->rk = producer;
    d->max_bytes = max_bytes < PX_DLQ_SMALL_BYTES ? PX_DLQ_SMALL_BYTES : max_bytes;
    d->flush_ms = flush_ms;
    return d;
}

void px_dlq_destroy(px_dlq *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->cap; i++) {
        if (d->slots[i]) {
            free(d->slots[i]->topic);
            free(d->slots[i]);
        }
    }
    free(d->slots);
    free(d->topic);
    free(d);
}

/* ---- sizing ------------------------------------------------------------------- */

bool px_dlq_fit(size_t key, size_t value, size_t hdrs, size_t ours, size_t ours_cut, size_t budget,
                px_dlq_shape *s)
{
    *s = (px_dlq_shape){key, value, true};
    if (PX_DLQ_FRAMING + ours <= budget && key + value + hdrs <= budget - PX_DLQ_FRAMING - ours)
        return false;
    size_t fixed = PX_DLQ_FRAMING + ours_cut;
    size_t room = budget > fixed ? budget - fixed : 0;
    /* The value is the evidence: it gets at least half the room. The
     * original headers go before the key is cut (the key is the record's
     * registered domain, and said to be "as received"). */
    if (key + hdrs <= room / 2) {
        s->value = value < room - key - hdrs ? value : room - key - hdrs;
        return true;
    }
    s->headers = false;
    if (key > room / 2)
        s->key = room / 4;
    s->value = value < room - s->key ? value : room - s->key;
    return true;
}

/* Serialized size of the first n headers of h, at most: a varint (up to
 * 5 bytes) for each length. */
static size_t px_dlq_hdrs_size(const rd_kafka_headers_t *h, size_t n)
{
    size_t size = 0;
    const char *name;
    const void *val;
    size_t len;
    for (size_t i = 0; h && i < n && rd_kafka_header_get_all(h, i, &name, &val, &len) == 0; i++)
        size += 10 + strlen(name) + len;
    return size;
}

static size_t px_dlq_hdr_size(const char *name, size_t len)
{
    return 10 + strlen(name) + len;
}

/* ---- producing ---------------------------------------------------------------- */

typedef struct px_dlq_copy {
    const void *key, *value;
    size_t key_len, value_len;      /* as given: whole or already cut */
    const rd_kafka_headers_t *hdrs; /* its first n_hdrs are the original headers */
    size_t n_hdrs;
    const char *why;
} px_dlq_copy;

static void px_dlq_add_decimal(rd_kafka_headers_t *h, const char *name, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%" PRId64, v);
    rd_kafka_header_add(h, name, -1, buf, -1);
}

/* Our headers after the original ones kept. */
static rd_kafka_headers_t *px_dlq_headers(const px_dlq_ent *e, const px_dlq_copy *c,
                                          const px_dlq_shape *s, bool cut)
{
    size_t n = s->headers ? c->n_hdrs : 0;
    rd_kafka_headers_t *h = rd_kafka_headers_new(n + 7);
    const char *name;
    const void *val;
    size_t len;
    for (size_t i = 0; i < n && rd_kafka_header_get_all(c->hdrs, i, &name, &val, &len) == 0; i++)
        rd_kafka_header_add(h, name, -1, val, (ssize_t)len);
    rd_kafka_header_add(h, PX_DLQ_H_ERROR, -1, c->why, -1);
    rd_kafka_header_add(h, PX_DLQ_H_TOPIC, -1, e->topic, -1);
    px_dlq_add_decimal(h, PX_DLQ_H_PARTITION, e->partition);
    px_dlq_add_decimal(h, PX_DLQ_H_OFFSET, e->offset);
    if (!cut)
        return h;
    char what[32] = "";
    if (s->key < e->key_len)
        strcat(what, "key");
    if (s->value < e->value_len)
        strcat(strcat(what, what[0] ? "," : ""), "value");
    if (e->n_headers > 0 && !s->headers)
        strcat(strcat(what, what[0] ? "," : ""), "headers");
    rd_kafka_header_add(h, PX_DLQ_H_TRUNCATED, -1, what, -1);
    px_dlq_add_decimal(h, PX_DLQ_H_KEY_SIZE, (int64_t)e->key_len);
    px_dlq_add_decimal(h, PX_DLQ_H_VALUE_SIZE, (int64_t)e->value_len);
    return h;
}

/* The budget of a copy at its entry's level: max_bytes first, then small. */
static size_t px_dlq_budget(const px_dlq *d, const px_dlq_ent *e)
{
    return e->level == 0 || d->max_bytes < PX_DLQ_SMALL_BYTES ? d->max_bytes : PX_DLQ_SMALL_BYTES;
}

static rd_kafka_resp_err_t px_dlq_produce_once(px_dlq *d, px_dlq_ent *e, const px_dlq_copy *c)
{
    size_t ours = px_dlq_hdr_size(PX_DLQ_H_ERROR, strlen(c->why)) +
                  px_dlq_hdr_size(PX_DLQ_H_TOPIC, strlen(e->topic)) +
                  px_dlq_hdr_size(PX_DLQ_H_PARTITION, 11) + px_dlq_hdr_size(PX_DLQ_H_OFFSET, 20);
    size_t ours_cut = ours + px_dlq_hdr_size(PX_DLQ_H_TRUNCATED, 17) +
                      px_dlq_hdr_size(PX_DLQ_H_KEY_SIZE, 20) +
                      px_dlq_hdr_size(PX_DLQ_H_VALUE_SIZE, 20);
    px_dlq_shape s;
    px_dlq_fit(c->key_len, c->value_len, px_dlq_hdrs_size(c->hdrs, c->n_hdrs), ours, ours_cut,
               px_dlq_budget(d, e), &s);
    if (c->n_hdrs < e->n_headers) /* dropped from an earlier copy */
        s.headers = false;
    /* cut relative to the source message, not to what was given */
    bool cut = s.key < e->key_len || s.value < e->value_len || (e->n_headers > 0 && !s.headers);
    rd_kafka_headers_t *h = px_dlq_headers(e, c, &s, cut);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        d->rk, RD_KAFKA_V_TOPIC(d->topic), RD_KAFKA_V_KEY(c->key, c->key ? s.key : 0),
        RD_KAFKA_V_VALUE((void *)c->value, c->value ? s.value : 0),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(e),
        RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) { /* the headers are still ours */
        rd_kafka_headers_destroy(h);
    } else {
        e->truncated = cut;
        e->n_kept = s.headers ? e->n_headers : 0;
    }
    return err;
}

static bool px_dlq_too_large(rd_kafka_resp_err_t err)
{
    return err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
           err == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE;
}

/* Produces e's copy at its level, going down a level when librdkafka
 * itself refuses it as too large; sets e's state. A full queue is waited
 * for (may_flush) unless called from a delivery report, where serving the
 * queue again would nest callbacks: the copy then counts as failed, and
 * its batch sends it again. */
static void px_dlq_produce(px_dlq *d, px_dlq_ent *e, const px_dlq_copy *c, bool may_flush)
{
    for (;;) {
        rd_kafka_resp_err_t err = px_dlq_produce_once(d, e, c);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && may_flush) {
            rd_kafka_flush(d->rk, d->flush_ms);
            err = px_dlq_produce_once(d, e, c);
        }
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            e->state = PX_DLQ_INFLIGHT;
            return;
        }
        e->err = err;
        if (px_dlq_too_large(err) && e->level == 0) {
            e->level = 1;
            continue;
        }
        e->state = px_kafka_permanent(err) ? PX_DLQ_SKIPPED : PX_DLQ_FAILED;
        return;
    }
}

px_err px_dlq_send(px_dlq *d, const rd_kafka_message_t *m, const char *why, int reason,
                   uint64_t batch)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    px_dlq_ent *e = px_dlq_find(d, topic, m->partition, m->offset);
    if (!e) {
        e = px_dlq_add(d, topic, m->partition, m->offset);
        if (!e)
            return PX_ERR_NOMEM;
        e->state = PX_DLQ_FAILED; /* nothing sent yet */
    }
    e->batch = batch;
    e->reason = (uint8_t)(reason >= 0 && reason < PX_DLQ_REASONS_MAX ? reason : 0);
    if (e->state != PX_DLQ_FAILED) /* acknowledged, in flight or given up */
        return PX_OK;
    rd_kafka_headers_t *orig = NULL;
    /* rd_kafka_message_headers() wants a non-const message but only reads. */
    if (rd_kafka_message_headers((rd_kafka_message_t *)m, &orig) != RD_KAFKA_RESP_ERR_NO_ERROR)
        orig = NULL;
    e->key_len = m->key ? m->key_len : 0;
    e->value_len = m->payload ? m->len : 0;
    e->n_headers = orig ? rd_kafka_header_cnt(orig) : 0;
    px_dlq_copy c = {m->key, m->payload, e->key_len, e->value_len, orig, e->n_headers, why};
    px_dlq_produce(d, e, &c, true);
    return e->state == PX_DLQ_FAILED ? PX_ERR_AGAIN : PX_OK;
}

void px_dlq_delivered(px_dlq *d, const rd_kafka_message_t *r)
{
    px_dlq_ent *e = r->_private;
    if (!e)
        return;
    if (r->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        e->state = PX_DLQ_ACKED;
        return;
    }
    e->err = r->err;
    if (px_dlq_too_large(r->err) && e->level == 0) {
        /* The broker's limit is below ours: send it small, from the copy
         * in the report (a prefix of the message; its first n_kept headers
         * the original ones, our pdnsx.error the last of its name). */
        rd_kafka_headers_t *h = NULL;
        const void *why = NULL;
        size_t why_len = 0;
        char whybuf[512] = "";
        if (rd_kafka_message_headers((rd_kafka_message_t *)r, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            rd_kafka_header_get_last(h, PX_DLQ_H_ERROR, &why, &why_len) ==
                RD_KAFKA_RESP_ERR_NO_ERROR &&
            why)
            snprintf(whybuf, sizeof(whybuf), "%.*s", (int)why_len, (const char *)why);
        e->level = 1;
        px_dlq_copy c = {r->key,    r->payload, r->key ? r->key_len : 0, r->payload ? r->len : 0, h,
                         e->n_kept, whybuf};
        px_dlq_produce(d, e, &c, false);
        return;
    }
    e->state = px_kafka_permanent(r->err) ? PX_DLQ_SKIPPED : PX_DLQ_FAILED;
}

/* ---- batches ------------------------------------------------------------------- */

static void px_dlq_where(const px_dlq_ent *e, char *out, size_t len)
{
    snprintf(out, len, "%s [%" PRId32 "] @%" PRId64, e->topic, e->partition, e->offset);
}

void px_dlq_tally_batch(const px_dlq *d, uint64_t batch, px_dlq_tally *t)
{
    memset(t, 0, sizeof(*t));
    for (size_t i = 0; i < d->cap; i++) {
        const px_dlq_ent *e = d->slots[i];
        if (!e || e->batch != batch)
            continue;
        switch ((px_dlq_state)e->state) {
        case PX_DLQ_ACKED:
            t->acked[e->reason]++;
            t->truncated += e->truncated;
            break;
        case PX_DLQ_SKIPPED:
            if (!t->skipped++) {
                px_dlq_where(e, t->skipped_at, sizeof(t->skipped_at));
                t->skipped_err = e->err;
            }
            break;
        case PX_DLQ_INFLIGHT:
            t->pending++;
            break;
        case PX_DLQ_FAILED:
            if (!t->failed++) {
                px_dlq_where(e, t->failed_at, sizeof(t->failed_at));
                t->failed_err = e->err;
            }
            break;
        }
    }
}

static bool px_dlq_keep_unless_batch(const px_dlq_ent *e, uint64_t batch)
{
    return e->batch != batch || e->state == PX_DLQ_INFLIGHT;
}

size_t px_dlq_forget(px_dlq *d, uint64_t batch)
{
    size_t saved = 0, gone = 0;
    for (size_t i = 0; i < d->cap; i++) {
        const px_dlq_ent *e = d->slots[i];
        if (e && !px_dlq_keep_unless_batch(e, batch)) {
            gone++;
            saved += e->saved;
        }
    }
    if (!gone)
        return 0;
    /* Shrink the table back when most of it went; on no memory keep the
     * old one (only lookups suffer). */
    size_t cap = d->cap;
    while (cap > 64 && 8 * (d->n - gone) < cap)
        cap /= 2;
    if (px_dlq_rebuild(d, cap, px_dlq_keep_unless_batch, batch) < 0)
        return 0;
    return saved;
}

/* ---- the record across runs ---------------------------------------------------- */

size_t px_dlq_unsaved(const px_dlq *d, px_dlq_mark_fn fn, void *ctx)
{
    size_t n = 0;
    for (size_t i = 0; i < d->cap; i++) {
        px_dlq_ent *e = d->slots[i];
        if (!e || e->saved || (e->state != PX_DLQ_ACKED && e->state != PX_DLQ_SKIPPED))
            continue;
        fn(ctx, e->topic, e->partition, e->offset, e->state == PX_DLQ_SKIPPED);
        e->listed = true;
        n++;
    }
    return n;
}

void px_dlq_saved(px_dlq *d)
{
    for (size_t i = 0; i < d->cap; i++) {
        px_dlq_ent *e = d->slots[i];
        if (e && e->listed) {
            e->saved = true;
            e->listed = false;
        }
    }
}

px_err px_dlq_preload(px_dlq *d, const char *topic, int32_t partition, int64_t offset, bool skipped)
{
    px_dlq_ent *e = px_dlq_find(d, topic, partition, offset);
    if (!e && !(e = px_dlq_add(d, topic, partition, offset)))
        return PX_ERR_NOMEM;
    e->state = skipped ? PX_DLQ_SKIPPED : PX_DLQ_ACKED;
    e->saved = true;
    e->batch = 0;
    return PX_OK;
}
