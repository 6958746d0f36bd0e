/* px_kafka_statistics.c: librdkafka's statistics JSON (its STATISTICS.md)
 * read with jansson into gauges. */
#include "kafka/px_kafka_statistics.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/px_metrics.h"

/* The families: name, help. */
#define PX_KS_QUEUE "pdnsx_kafka_queue_messages"
#define PX_KS_QUEUE_BYTES "pdnsx_kafka_queue_bytes"
#define PX_KS_REPLYQ "pdnsx_kafka_reply_queue"
#define PX_KS_UP "pdnsx_kafka_broker_up"
#define PX_KS_OUTBUF "pdnsx_kafka_broker_outbuf_requests"
#define PX_KS_WAITRESP "pdnsx_kafka_broker_waitresp_requests"
#define PX_KS_RTT "pdnsx_kafka_broker_rtt_avg_microseconds"
#define PX_KS_RTT99 "pdnsx_kafka_broker_rtt_p99_microseconds"
#define PX_KS_FETCHQ "pdnsx_kafka_partition_fetchq_messages"
#define PX_KS_FETCHQ_BYTES "pdnsx_kafka_partition_fetchq_bytes"

static const char *const px_ks_families[][2] = {
    {PX_KS_QUEUE, "Messages in the client's queues: produced and not yet delivered "
                  "(librdkafka msg_cnt)"},
    {PX_KS_QUEUE_BYTES, "Bytes of the messages in the client's queues (librdkafka msg_size)"},
    {PX_KS_REPLYQ, "Events waiting for the program to serve them (librdkafka replyq)"},
    {PX_KS_UP, "1 while the connection to the broker is up"},
    {PX_KS_OUTBUF, "Requests waiting to be sent to the broker (librdkafka outbuf_cnt)"},
    {PX_KS_WAITRESP, "Requests sent to the broker and waiting for its answer "
                     "(librdkafka waitresp_cnt)"},
    {PX_KS_RTT, "Broker round-trip time over the last statistics interval, mean, "
                "microseconds (absent when no request completed)"},
    {PX_KS_RTT99, "Broker round-trip time over the last statistics interval, 99th "
                  "percentile, microseconds"},
    {PX_KS_FETCHQ, "Messages prefetched for a fetched partition and not yet read "
                   "(librdkafka fetchq_cnt)"},
    {PX_KS_FETCHQ_BYTES, "Bytes prefetched for a fetched partition (librdkafka fetchq_size)"},
};

struct px_kafka_statistics {
    px_metric **cur, **prev; /* set by the document in hand, and by the last one */
    size_t n_cur, n_prev;
    /* The last document's series in the order it set them: the next one
     * almost always sets the same ones in the same order, so each is
     * found here instead of by the registry's search (which goes through
     * every metric: 20 ms a document at 1000 partitions). */
    px_metric **order;
    size_t n_order;
};

px_kafka_statistics *px_kafka_statistics_create(void)
{
    px_kafka_statistics *s = calloc(1, sizeof(*s));
    if (s) {
        s->cur = calloc(PX_KAFKA_STATISTICS_SERIES, sizeof(*s->cur));
        s->prev = calloc(PX_KAFKA_STATISTICS_SERIES, sizeof(*s->prev));
        s->order = calloc(PX_KAFKA_STATISTICS_SERIES, sizeof(*s->order));
    }
    if (!s || !s->cur || !s->prev || !s->order) {
        px_kafka_statistics_destroy(s);
        return NULL;
    }
    for (size_t i = 0; i < sizeof(px_ks_families) / sizeof(px_ks_families[0]); i++)
        px_metric_gauge_family(px_ks_families[i][0], px_ks_families[i][1]);
    return s;
}

void px_kafka_statistics_destroy(px_kafka_statistics *s)
{
    if (!s)
        return;
    free(s->cur);
    free(s->prev);
    free(s->order);
    free(s);
}

/* A label value in the exposition's quoting; false if it does not fit. */
static bool px_ks_quote(char *out, size_t cap, const char *v)
{
    size_t n = 0;
    for (; *v; v++) {
        const char *esc = *v == '"' ? "\\\"" : *v == '\\' ? "\\\\" : *v == '\n' ? "\\n" : NULL;
        size_t k = esc ? 2 : 1;
        if (n + k >= cap)
            return false;
        if (esc)
            memcpy(out + n, esc, 2);
        else
            out[n] = *v;
        n += k;
    }
    out[n] = '\0';
    return true;
}

/* One labelled series set to v. The labels text is already quoted. */
static void px_ks_set(px_kafka_statistics *s, const char *family, const char *labels, json_int_t v)
{
    if (s->n_cur >= PX_KAFKA_STATISTICS_SERIES)
        return;
    char name[1200];
    int n = snprintf(name, sizeof(name), "%s{%s}", family, labels);
    if (n < 0 || (size_t)n >= sizeof(name))
        return;
    px_metric *m = s->n_cur < s->n_order ? s->order[s->n_cur] : NULL;
    if (!m || strcmp(px_metric_name(m), name) != 0)
        m = px_metric_gauge(name, NULL);
    px_metric_set(m, (int64_t)v);
    s->cur[s->n_cur++] = m;
}

/* An integer member, or false when it is missing or no integer. */
static bool px_ks_int(const json_t *o, const char *key, json_int_t *out)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        return false;
    *out = json_integer_value(v);
    return true;
}

static void px_ks_int_set(px_kafka_statistics *s, const char *family, const char *labels,
                          const json_t *o, const char *key)
{
    json_int_t v;
    if (px_ks_int(o, key, &v))
        px_ks_set(s, family, labels, v);
}

static void px_ks_broker(px_kafka_statistics *s, const char *client, const json_t *b)
{
    json_int_t nodeid;
    const char *name = json_string_value(json_object_get(b, "name"));
    char q[256], labels[600];
    /* bootstrap and logical (coordinator) brokers have no node id: the
     * learned ones stand for the same connections */
    if (!name || !px_ks_int(b, "nodeid", &nodeid) || nodeid < 0 || !px_ks_quote(q, sizeof(q), name))
        return;
    snprintf(labels, sizeof(labels), "client=\"%s\",broker=\"%s\"", client, q);
    const char *state = json_string_value(json_object_get(b, "state"));
    if (state)
        px_ks_set(s, PX_KS_UP, labels, strcmp(state, "UP") == 0);
    px_ks_int_set(s, PX_KS_OUTBUF, labels, b, "outbuf_cnt");
    px_ks_int_set(s, PX_KS_WAITRESP, labels, b, "waitresp_cnt");
    const json_t *rtt = json_object_get(b, "rtt");
    json_int_t cnt;
    if (px_ks_int(rtt, "cnt", &cnt) && cnt > 0) {
        px_ks_int_set(s, PX_KS_RTT, labels, rtt, "avg");
        px_ks_int_set(s, PX_KS_RTT99, labels, rtt, "p99");
    }
}

/* A partition's prefetch queue, while it is fetched (fetch_state other
 * than "none"; librdkafka lists every partition it knows). */
static void px_ks_partition(px_kafka_statistics *s, const char *client, const char *topic,
                            const json_t *p)
{
    json_int_t part;
    const char *fs = json_string_value(json_object_get(p, "fetch_state"));
    if (!px_ks_int(p, "partition", &part) || part < 0 || !fs || strcmp(fs, "none") == 0)
        return;
    char labels[1024];
    snprintf(labels, sizeof(labels), "client=\"%s\",topic=\"%s\",partition=\"%lld\"", client, topic,
             (long long)part);
    px_ks_int_set(s, PX_KS_FETCHQ, labels, p, "fetchq_cnt");
    px_ks_int_set(s, PX_KS_FETCHQ_BYTES, labels, p, "fetchq_size");
}

static void px_ks_topics(px_kafka_statistics *s, const char *client, const json_t *topics)
{
    const char *key;
    json_t *t;
    json_object_foreach((json_t *)topics, key, t)
    {
        char q[256];
        const json_t *parts = json_object_get(t, "partitions");
        if (!json_is_object(parts) || !px_ks_quote(q, sizeof(q), key))
            continue;
        const char *pk;
        json_t *p;
        json_object_foreach((json_t *)parts, pk, p) px_ks_partition(s, client, q, p);
    }
}

static int px_ks_ptr_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (px_metric *const *)a, y = (uintptr_t) * (px_metric *const *)b;
    return x < y ? -1 : x > y;
}

/* Series of the last document missing from this one: left out. */
static void px_ks_unset_gone(px_kafka_statistics *s)
{
    memcpy(s->order, s->cur, s->n_cur * sizeof(*s->cur));
    s->n_order = s->n_cur;
    qsort(s->cur, s->n_cur, sizeof(*s->cur), px_ks_ptr_cmp);
    for (size_t i = 0; i < s->n_prev; i++)
        if (!bsearch(&s->prev[i], s->cur, s->n_cur, sizeof(*s->cur), px_ks_ptr_cmp))
            px_metric_unset(s->prev[i]);
    px_metric **t = s->prev;
    s->prev = s->cur;
    s->n_prev = s->n_cur;
    s->cur = t;
    s->n_cur = 0;
}

px_err px_kafka_statistics_apply(px_kafka_statistics *s, const char *json, size_t len)
{
    if (len > PX_KAFKA_STATISTICS_MAX)
        return PX_ERR_TOOLONG;
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(root)) {
        json_decref(root);
        return PX_ERR_MALFORMED;
    }
    const char *name = json_string_value(json_object_get(root, "name"));
    char client[256], labels[300];
    if (!name || !px_ks_quote(client, sizeof(client), name)) {
        json_decref(root);
        return PX_ERR_MALFORMED;
    }
    snprintf(labels, sizeof(labels), "client=\"%s\"", client);
    px_ks_int_set(s, PX_KS_QUEUE, labels, root, "msg_cnt");
    px_ks_int_set(s, PX_KS_QUEUE_BYTES, labels, root, "msg_size");
    px_ks_int_set(s, PX_KS_REPLYQ, labels, root, "replyq");
    const char *key;
    json_t *b;
    json_object_foreach(json_object_get(root, "brokers"), key, b) px_ks_broker(s, client, b);
    px_ks_topics(s, client, json_object_get(root, "topics"));
    px_ks_unset_gone(s);
    json_decref(root);
    return PX_OK;
}
