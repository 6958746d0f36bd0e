/* px_consumer_lag.c: the consumer's lag per topic and partition on
 * /metrics, pdnsx_consumer_lag_messages{topic,partition}: the partition's
 * high watermark minus the offset the consumer committed, which is what
 * Kafka's tools show as a group's lag.
 *
 * Computed when /metrics is read (a px_metrics hook, on the scraping
 * thread), from two numbers that need no broker request: the high
 * watermark librdkafka keeps from its last fetch response
 * (rd_kafka_get_watermark_offsets), and the committed offset, which is
 * the store's (the consumer resumes from the store; Kafka's copy of it
 * is written after each batch, for monitoring). librdkafka's statistics
 * also carry a consumer_lag, but from Kafka's committed offset, which it
 * does not know after an assignment with explicit offsets until the
 * first batch commits, and only every statistics interval; and the
 * statistics are served by the merging thread's poll, so a consumer
 * stuck in its store would report a frozen lag. Here the lag rises while
 * merging stands still and librdkafka keeps fetching. */
#include "px_consumer_int.h"

#include "core/px_buf.h"

#define PX_CONSUMER_LAG "pdnsx_consumer_lag_messages"

typedef struct px_lag_part {
    char *topic;
    int32_t partition;
    int64_t committed; /* the store's next offset; < 0: none yet (from the beginning) */
    px_metric *m;
} px_lag_part;

struct px_consumer_lag {
    pthread_mutex_t lock; /* the scraping thread reads what the merging thread changes */
    rd_kafka_t *rk;
    px_lag_part *parts;
    size_t n, cap;
};

static void px_consumer_lag_scrape(void *ctx)
{
    px_consumer_lag *l = ctx;
    pthread_mutex_lock(&l->lock);
    for (size_t i = 0; i < l->n; i++) {
        px_lag_part *p = &l->parts[i];
        int64_t lo = -1, hi = -1;
        if (rd_kafka_get_watermark_offsets(l->rk, p->topic, p->partition, &lo, &hi) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
            hi = -1;
        int64_t from = p->committed >= 0 ? p->committed : lo;
        if (hi < 0 || from < 0) /* not fetched yet: unknown, not 0 */
            px_metric_unset(p->m);
        else
            px_metric_set(p->m, hi > from ? hi - from : 0);
    }
    pthread_mutex_unlock(&l->lock);
}

px_consumer_lag *px_consumer_lag_create(rd_kafka_t *rk)
{
    px_consumer_lag *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    pthread_mutex_init(&l->lock, NULL);
    l->rk = rk;
    px_metric_gauge_family(PX_CONSUMER_LAG,
                           "Messages of a partition not yet committed to the store: its high "
                           "watermark (as of the last fetch) minus the committed offset");
    if (px_metrics_hook_add(px_consumer_lag_scrape, l) != PX_OK) {
        pthread_mutex_destroy(&l->lock);
        free(l);
        return NULL;
    }
    return l;
}

void px_consumer_lag_destroy(px_consumer_lag *l)
{
    if (!l)
        return;
    px_metrics_hook_remove(px_consumer_lag_scrape, l);
    for (size_t i = 0; i < l->n; i++) {
        px_metric_unset(l->parts[i].m);
        free(l->parts[i].topic);
    }
    free(l->parts);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

static px_lag_part *px_lag_find(px_consumer_lag *l, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->parts[i].partition == partition && strcmp(l->parts[i].topic, topic) == 0)
            return &l->parts[i];
    return NULL;
}

/* A partition's entry, made on first sight; NULL on no memory (its lag
 * is then not shown). Under the lock. */
static px_lag_part *px_lag_get(px_consumer_lag *l, const char *topic, int32_t partition)
{
    px_lag_part *p = px_lag_find(l, topic, partition);
    if (p)
        return p;
    char name[512];
    int n = snprintf(name, sizeof(name), PX_CONSUMER_LAG "{topic=\"%s\",partition=\"%" PRId32 "\"}",
                     topic, partition);
    if (n < 0 || (size_t)n >= sizeof(name) || PX_ARRAY_RESERVE(l->parts, l->cap, l->n + 1, 16))
        return NULL;
    char *t = strdup(topic);
    if (!t)
        return NULL;
    p = &l->parts[l->n++];
    *p = (px_lag_part){.topic = t, .partition = partition, .committed = -1};
    p->m = px_metric_gauge(name, NULL);
    px_metric_unset(p->m);
    return p;
}

void px_consumer_lag_assigned(px_consumer_lag *l, const rd_kafka_topic_partition_list_t *parts)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->lock);
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &parts->elems[i];
        px_lag_part *p = px_lag_get(l, tp->topic, tp->partition);
        if (p)
            p->committed = tp->offset >= 0 ? tp->offset : -1;
    }
    pthread_mutex_unlock(&l->lock);
}

/* Partitions no longer ours: their lag is another member's to show. */
void px_consumer_lag_revoked(px_consumer_lag *l, const rd_kafka_topic_partition_list_t *parts)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->lock);
    for (size_t i = 0; i < l->n;) {
        px_lag_part *p = &l->parts[i];
        bool gone = !parts;
        for (int j = 0; parts && j < parts->cnt && !gone; j++)
            gone = parts->elems[j].partition == p->partition &&
                   strcmp(parts->elems[j].topic, p->topic) == 0;
        if (!gone) {
            i++;
            continue;
        }
        px_metric_unset(p->m);
        free(p->topic);
        l->parts[i] = l->parts[--l->n];
    }
    pthread_mutex_unlock(&l->lock);
}

void px_consumer_lag_committed(px_consumer_lag *l, const char *topic, int32_t partition,
                               int64_t next)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->lock);
    px_lag_part *p = px_lag_find(l, topic, partition);
    if (p)
        p->committed = next;
    pthread_mutex_unlock(&l->lock);
}
