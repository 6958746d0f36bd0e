#include "px_publish.h"

#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/px_clock.h"
#include "core/px_metrics.h"
#include "core/px_ratelimit.h"
#include "px_spool.h"

/* Spooled messages are fed back only while librdkafka's queue is short, so
 * that a broker still down does not make us read the whole spool. */
#define PX_PUBLISH_DRAIN_BELOW 1000
#define PX_PUBLISH_DRAIN_BATCH 500
/* Lines about lost or dropped messages: at most this many per interval
 * (an outage would otherwise write one per message); counters count all. */
#define PX_PUBLISH_LOG_BURST 3
#define PX_PUBLISH_LOG_INTERVAL_MS 10000
/* While messages are being dropped, how often a line says how many. */
#define PX_PUBLISH_DROP_REPORT_MS 10000

struct px_publish {
    px_kafka *kafka; /* delivered and failed are counted there */
    rd_kafka_t *rk;  /* its handle */
    rd_kafka_topic_t *rkt;
    bool null_sink;
    uint64_t queue_wait_ms;
    px_spool *spool;
    pthread_mutex_t spool_lock;
    /* Set once the queue stayed full for queue_wait_ms: new messages go
     * straight to the spool (one wait, not one per message) until the
     * spool has been drained back into Kafka. */
    _Atomic bool spilling;
    /* drop_when_blocked and no spool: set once the queue stayed full for
     * queue_wait_ms; new messages are dropped at once (one wait, not one
     * per message) until one fits again. episode counts that run's drops. */
    bool drop_when_blocked;
    _Atomic bool dropping;
    _Atomic uint64_t episode;
    void (*log_fn)(void *ctx, px_log_level level, const char *msg);
    void *log_ctx;
    pthread_mutex_t log_lock; /* log_rl, drop_said_ms */
    px_ratelimit log_rl;
    int64_t drop_said_ms; /* last line about the current drops */
    /* null_sink_delivered: what a null sink "delivered" (there is no handle) */
    _Atomic uint64_t produced, null_sink_delivered, spooled, unspooled, spool_dropped, queue_full,
        dropped;
    px_metric *m_spooled, *m_unspooled, *m_dropped, *m_spool_corrupt;
    /* Refusals (px_kafka_refusal): counted, said once per cause. */
    px_metric *m_refused[PX_KAFKA_REFUSAL__COUNT];
    _Atomic bool refusal_said[PX_KAFKA_REFUSAL__COUNT];
    _Atomic int64_t refused_ms;  /* last refused delivery, monotonic */
    int64_t refused_retry_ms;    /* px_publish_conf.refused_retry_ms */
    char topic[256];             /* for the refusal's line */
    char principal[192];         /* "User:NAME" from sasl.username, or how it is unknown */
    uint64_t spool_corrupt_seen; /* damaged spool records already counted (spool_lock) */
};

static void px_publish_log(px_publish *p, px_log_level level, const char *msg)
{
    if (p->log_fn)
        p->log_fn(p->log_ctx, level, msg);
}

/* A line about lost or dropped messages, rate-limited (the counters say
 * how many); a line that follows held-back ones says so. */
static void px_publish_log_limited(px_publish *p, px_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void px_publish_log_limited(px_publish *p, px_log_level level, const char *fmt, ...)
{
    if (!p->log_fn)
        return;
    uint64_t held;
    pthread_mutex_lock(&p->log_lock);
    bool ok = px_ratelimit_allow(&p->log_rl, px_clock_mono_ms(), &held);
    pthread_mutex_unlock(&p->log_lock);
    if (!ok)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (held && n > 0 && (size_t)n < sizeof(msg))
        snprintf(msg + n, sizeof(msg) - (size_t)n, " (%llu similar lines not logged)",
                 (unsigned long long)held);
    px_publish_log(p, level, msg);
}

/* Counts and says the spool records found damaged since the last look
 * (at open, or while reading back): those messages are lost, and nothing
 * else would tell. Called with spool_lock held, or before any thread runs. */
static void px_publish_spool_damage(px_publish *p)
{
    uint64_t n = px_spool_corrupt(p->spool);
    if (n == p->spool_corrupt_seen)
        return;
    px_metric_add(p->m_spool_corrupt, n - p->spool_corrupt_seen);
    px_publish_log_limited(p, PX_LOG_WARNING,
                           "spool: %llu damaged record(s) skipped: their messages are lost",
                           (unsigned long long)(n - p->spool_corrupt_seen));
    p->spool_corrupt_seen = n;
}

/* Appends one message to the spool. False: it is lost (counted in
 * spool_dropped and said; the caller counts it failed). */
static bool px_publish_spool_write(px_publish *p, const void *key, size_t klen, const void *val,
                                   size_t vlen)
{
    pthread_mutex_lock(&p->spool_lock);
    px_err err = px_spool_append(p->spool, key, klen, val, vlen);
    pthread_mutex_unlock(&p->spool_lock);
    if (err == PX_OK) {
        atomic_fetch_add(&p->spooled, 1);
        px_metric_inc(p->m_spooled);
        return true;
    }
    atomic_fetch_add(&p->spool_dropped, 1);
    px_publish_log_limited(p, PX_LOG_ERROR, "spool: %s: a message is lost (spool.max_bytes, disk)",
                           px_strerror(err));
    return false;
}

/* A message that is not sent to Kafka now goes to the spool, or is lost. */
static void px_publish_spool_or_lose(px_publish *p, const void *key, size_t klen, const void *val,
                                     size_t vlen)
{
    if (!px_publish_spool_write(p, key, klen, val, vlen))
        px_kafka_lost(p->kafka, 1);
}

/* px_kafka counts the report; true keeps a failed message from being
 * counted lost: it waits in the spool for the broker to return. */
static void px_publish_refused(void *ctx, px_kafka_refusal why, const char *reason)
{
    px_publish *p = ctx;
    px_metric_inc(p->m_refused[why]);
    if (atomic_exchange(&p->refusal_said[why], true))
        return;
    char msg[1024];
    if (why == PX_KAFKA_REFUSAL_AUTHENTICATION)
        snprintf(msg, sizeof(msg),
                 "Kafka refused the login as %s: %s; check sasl.username and sasl.password "
                 "(kafka.properties_file); observations wait as when Kafka is down "
                 "(pdnsx_kafka_refused_total{reason=\"authentication\"})",
                 p->principal, reason);
    else {
        char keep[96] = "are lost until it does (no spool.path)";
        if (p->spool)
            snprintf(keep, sizeof(keep), "are kept in the spool and tried again every %g s",
                     (double)p->refused_retry_ms / 1000.0);
        snprintf(msg, sizeof(msg),
                 "Kafka refused topic %s to %s: %s (%s); an ACL must allow it WRITE on the "
                 "topic; observations %s (pdnsx_kafka_refused_total{reason=\"%s\"})",
                 p->topic, p->principal, px_kafka_refusal_name(why), reason, keep,
                 px_kafka_refusal_name(why));
    }
    px_publish_log(p, PX_LOG_ERROR, msg);
}

static bool px_publish_delivery(void *ctx, const rd_kafka_message_t *m)
{
    px_publish *p = ctx;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
        return false;
    px_kafka_refusal refusal = px_kafka_refusal_of(m->err);
    if (refusal != PX_KAFKA_REFUSAL_NONE) {
        atomic_store(&p->refused_ms, px_clock_mono_ms());
        px_publish_refused(p, refusal, rd_kafka_err2str(m->err));
    }
    if (p->spool)
        return px_publish_spool_write(p, m->key, m->key_len, m->payload, m->len);
    px_publish_log_limited(p, PX_LOG_ERROR, "delivery failed: %s", rd_kafka_err2str(m->err));
    return false;
}

/* The delivery counters are px_kafka's; named here as well so that a null
 * sink (no handle) lists them too. */
#define PX_PUBLISH_DELIVERED "pdnsx_kafka_delivered_total"
#define PX_PUBLISH_DELIVERED_HELP "Messages acknowledged by Kafka"
#define PX_PUBLISH_FAILED "pdnsx_kafka_failed_total"
#define PX_PUBLISH_FAILED_HELP "Messages Kafka never acknowledged and that were lost"

/* px_kafka's callbacks share one ctx (p): librdkafka's lines reach
 * log_fn with log_ctx through here. */
static void px_publish_kafka_log(void *ctx, px_log_level level, const char *msg)
{
    px_publish_log(ctx, level, msg);
}

/* Who the broker takes us for, for the refusal's line: the SASL user as
 * Kafka's default principal builder names it (never the password). */
static void px_publish_principal(px_publish *p, const px_kafka_settings *s)
{
    const char *user = NULL;
    for (size_t i = 0; s && i < s->n_props; i++)
        if (strcmp(s->props[i].key, "sasl.username") == 0)
            user = s->props[i].value; /* the last one set wins, as in librdkafka */
    if (user)
        snprintf(p->principal, sizeof(p->principal), "principal User:%s", user);
    else
        snprintf(p->principal, sizeof(p->principal),
                 "the principal the broker gives this client (no sasl.username)");
}

static px_err px_publish_kafka(px_publish *p, const px_publish_conf *c, char *errbuf, size_t errlen)
{
    /* Ours; the operator's kafka.properties come after them and win. */
    const px_kafka_prop ours[] = {
        {"client.id", "pdnsx-producer"},
        {"enable.idempotence", "true"},
        {"compression.codec", "lz4"},
        {"linger.ms", "100"},
        /* what the consumers' memory bound counts on (px_kafka.h) */
        {"batch.num.messages", PX_KAFKA_BATCH_MESSAGES},
        {"partitioner", "murmur2_random"},
        {"message.timeout.ms", c->infinite_timeout ? "0" : "300000"},
    };
    px_kafka_conf kc = {
        .type = RD_KAFKA_PRODUCER,
        .ours = ours,
        .n_ours = sizeof(ours) / sizeof(ours[0]),
        .settings = c->kafka,
        .log = px_publish_kafka_log,
        .delivery = px_publish_delivery,
        .refused = px_publish_refused,
        .ctx = p,
        .delivered_metric = PX_PUBLISH_DELIVERED,
        .delivered_help = PX_PUBLISH_DELIVERED_HELP,
        .failed_metric = PX_PUBLISH_FAILED,
        .failed_help = PX_PUBLISH_FAILED_HELP,
    };
    px_err err = px_kafka_create(&kc, &p->kafka, errbuf, errlen);
    if (err == PX_OK)
        p->rk = px_kafka_handle(p->kafka);
    return err;
}

static void px_publish_metrics(px_publish *p)
{
    px_metric_counter(PX_PUBLISH_DELIVERED, PX_PUBLISH_DELIVERED_HELP);
    px_metric_counter(PX_PUBLISH_FAILED, PX_PUBLISH_FAILED_HELP);
    p->m_spooled =
        px_metric_counter("pdnsx_spool_written_total", "Messages written to the on-disk spool");
    p->m_unspooled = px_metric_counter("pdnsx_spool_read_total",
                                       "Messages read back from the spool and handed to Kafka");
    p->m_spool_corrupt = px_metric_counter(
        "pdnsx_spool_corrupt_total",
        "Damaged spool records skipped (their messages are lost): a torn or altered file");
    for (int r = PX_KAFKA_REFUSAL_NONE + 1; r < PX_KAFKA_REFUSAL__COUNT; r++) {
        char name[128];
        snprintf(name, sizeof(name), "pdnsx_kafka_refused_total{reason=\"%s\"}",
                 px_kafka_refusal_name((px_kafka_refusal)r));
        p->m_refused[r] =
            px_metric_counter(name, "Kafka's refusals: failed logins, and messages an ACL refused");
    }
    p->m_dropped = px_metric_counter("pdnsx_observations_dropped_total{reason=\"kafka_backlog\"}",
                                     "Observations dropped, not sent: Kafka's local queue stayed "
                                     "full past kafka.max_block_ms and there is no spool");
}

px_publish *px_publish_create(const px_publish_conf *c, char *errbuf, size_t errlen)
{
    px_publish *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->spool_lock, NULL);
    pthread_mutex_init(&p->log_lock, NULL);
    px_ratelimit_init(&p->log_rl, PX_PUBLISH_LOG_BURST, PX_PUBLISH_LOG_INTERVAL_MS);
    p->drop_when_blocked = c->drop_when_blocked;
    p->null_sink = c->null_sink;
    snprintf(p->topic, sizeof(p->topic), "%s", c->topic ? c->topic : "");
    px_publish_principal(p, c->kafka);
    p->queue_wait_ms = c->queue_wait_ms > 0 ? (uint64_t)c->queue_wait_ms : 1000;
    p->refused_retry_ms = c->refused_retry_ms > 0 ? c->refused_retry_ms : 10000;
    p->log_fn = c->log_fn;
    p->log_ctx = c->log_ctx;
    px_publish_metrics(p);
    if (c->null_sink)
        return p;
    if (c->spool_path) {
        px_err err = px_spool_open(c->spool_path, c->spool_max_bytes, &p->spool);
        if (err != PX_OK) {
            snprintf(errbuf, errlen, "spool %s: %s (%s)", c->spool_path, px_strerror(err),
                     strerror(errno));
            goto fail;
        }
        px_publish_spool_damage(p);
    }
    if (px_publish_kafka(p, c, errbuf, errlen) != PX_OK)
        goto fail;
    p->rkt = rd_kafka_topic_new(p->rk, c->topic, NULL);
    if (!p->rkt) {
        snprintf(errbuf, errlen, "topic %s: %s", c->topic, rd_kafka_err2str(rd_kafka_last_error()));
        goto fail;
    }
    return p;
fail:
    px_publish_destroy(p);
    return NULL;
}

void px_publish_destroy(px_publish *p)
{
    if (!p)
        return;
    if (p->rkt)
        rd_kafka_topic_destroy(p->rkt);
    px_kafka_destroy(p->kafka);
    px_spool_close(p->spool);
    pthread_mutex_destroy(&p->spool_lock);
    pthread_mutex_destroy(&p->log_lock);
    free(p);
}

/* One produce attempt: 0 queued, 1 queue full, 2 refused (an ACL: kept
 * like a message the broker refused in its delivery report), -1
 * permanent error. */
static int px_publish_try(px_publish *p, const void *key, size_t klen, const void *val, size_t vlen)
{
    if (rd_kafka_produce(p->rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)val, vlen, key,
                         klen, NULL) == 0) {
        atomic_fetch_add(&p->produced, 1);
        return 0;
    }
    rd_kafka_resp_err_t err = rd_kafka_last_error();
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return 1;
    px_kafka_refusal refusal = px_kafka_refusal_of(err);
    if (refusal != PX_KAFKA_REFUSAL_NONE) {
        atomic_store(&p->refused_ms, px_clock_mono_ms());
        px_publish_refused(p, refusal, rd_kafka_err2str(err));
        return 2;
    }
    char msg[256];
    snprintf(msg, sizeof(msg), "produce failed: %s", rd_kafka_err2str(err));
    px_publish_log(p, PX_LOG_ERROR, msg);
    return -1;
}

/* Drops a message the full queue could not take in time (the newest:
 * what librdkafka holds is older). */
static px_err px_publish_drop(px_publish *p)
{
    atomic_fetch_add(&p->dropped, 1);
    px_metric_inc(p->m_dropped);
    uint64_t n = atomic_fetch_add(&p->episode, 1) + 1;
    int64_t now = px_clock_mono_ms();
    pthread_mutex_lock(&p->log_lock);
    bool say = n == 1 || now - p->drop_said_ms >= PX_PUBLISH_DROP_REPORT_MS;
    if (say)
        p->drop_said_ms = now;
    pthread_mutex_unlock(&p->log_lock);
    if (!say)
        return PX_ERR_FULL;
    if (n == 1)
        px_publish_log_limited(p, PX_LOG_WARNING,
                               "Kafka's local queue stayed full for %llu ms (kafka.max_block_ms; "
                               "broker unreachable or too slow) and there is no spool.path: "
                               "dropping the newest observations so that the inputs keep reading",
                               (unsigned long long)p->queue_wait_ms);
    else
        px_publish_log_limited(p, PX_LOG_WARNING,
                               "Kafka's local queue is still full: %llu observations "
                               "dropped so far",
                               (unsigned long long)n);
    return PX_ERR_FULL;
}

/* A message fitted again after drops: say how many were lost. */
static void px_publish_drops_end(px_publish *p)
{
    if (!atomic_exchange(&p->dropping, false))
        return;
    uint64_t n = atomic_exchange(&p->episode, 0);
    px_publish_log_limited(p, PX_LOG_WARNING,
                           "Kafka's local queue takes messages again: %llu observations "
                           "were dropped while it was full",
                           (unsigned long long)n);
}

px_err px_publish_send(px_publish *p, const void *key, size_t klen, const void *val, size_t vlen)
{
    if (p->null_sink) {
        atomic_fetch_add(&p->produced, 1);
        atomic_fetch_add(&p->null_sink_delivered, 1);
        return PX_OK;
    }
    if (p->spool && atomic_load(&p->spilling)) {
        px_publish_spool_or_lose(p, key, klen, val, vlen);
        return PX_OK;
    }
    bool dropping = !p->spool && atomic_load(&p->dropping);
    uint64_t since = 0;
    for (;;) {
        int r = px_publish_try(p, key, klen, val, vlen);
        if (r == 0) {
            if (dropping)
                px_publish_drops_end(p);
            return PX_OK;
        }
        if (r < 0) {
            px_kafka_lost(p->kafka, 1);
            return PX_ERR_KAFKA;
        }
        if (r == 2) {
            /* where a refused delivery goes: the spool, else lost (said once) */
            if (p->spool)
                px_publish_spool_or_lose(p, key, klen, val, vlen);
            else
                px_kafka_lost(p->kafka, 1);
            return PX_OK;
        }
        /* Queue full: serve delivery reports to make room, as librdkafka's
         * examples do; past the wait, spill to disk if we may. */
        if (since == 0) {
            since = (uint64_t)px_clock_mono_ms();
            atomic_fetch_add(&p->queue_full, 1);
        }
        if (dropping)
            return px_publish_drop(p); /* no second wait while it stays full */
        rd_kafka_poll(p->rk, 10);
        if ((uint64_t)px_clock_mono_ms() - since < p->queue_wait_ms)
            continue;
        if (p->spool) {
            atomic_store(&p->spilling, true);
            px_publish_spool_or_lose(p, key, klen, val, vlen);
            return PX_OK;
        }
        if (p->drop_when_blocked) {
            atomic_store(&p->dropping, true);
            return px_publish_drop(p);
        }
    }
}

/* Feeds spooled messages back while librdkafka's queue is short. */
static void px_publish_drain(px_publish *p)
{
    if (!p->spool || rd_kafka_outq_len(p->rk) >= PX_PUBLISH_DRAIN_BELOW)
        return;
    int64_t refused = atomic_load(&p->refused_ms);
    if (refused && px_clock_mono_ms() - refused < p->refused_retry_ms)
        return;
    pthread_mutex_lock(&p->spool_lock);
    for (int i = 0; i < PX_PUBLISH_DRAIN_BATCH; i++) {
        const void *key, *val;
        size_t klen, vlen;
        px_err err = px_spool_peek(p->spool, &key, &klen, &val, &vlen);
        px_publish_spool_damage(p);
        if (err != PX_OK)
            break;
        if (px_publish_try(p, key, klen, val, vlen) != 0)
            break;
        /* Counted before the spool shrinks: whoever sees the spool empty
         * sees every message read from it counted. */
        atomic_fetch_add(&p->unspooled, 1);
        px_metric_inc(p->m_unspooled);
        px_spool_consume(p->spool);
    }
    if (px_spool_pending(p->spool) == 0)
        atomic_store(&p->spilling, false);
    pthread_mutex_unlock(&p->spool_lock);
}

void px_publish_poll(px_publish *p, int timeout_ms)
{
    if (p->null_sink)
        return;
    rd_kafka_poll(p->rk, timeout_ms);
    px_publish_drain(p);
}

uint64_t px_publish_outstanding(const px_publish *cp)
{
    px_publish *p = (px_publish *)cp;
    if (p->null_sink)
        return 0;
    uint64_t n = (uint64_t)rd_kafka_outq_len(p->rk);
    if (p->spool) {
        pthread_mutex_lock(&p->spool_lock);
        n += px_spool_pending(p->spool);
        pthread_mutex_unlock(&p->spool_lock);
    }
    return n;
}

px_err px_publish_close(px_publish *p, int timeout_ms)
{
    if (p->null_sink)
        return PX_OK;
    uint64_t deadline = (uint64_t)px_clock_mono_ms() + (uint64_t)timeout_ms;
    /* Keep draining the spool too: a file run is done only when Kafka has
     * everything. */
    while ((uint64_t)px_clock_mono_ms() < deadline) {
        px_publish_poll(p, 100);
        bool spool_empty = true;
        if (p->spool) {
            pthread_mutex_lock(&p->spool_lock);
            spool_empty = px_spool_pending(p->spool) == 0;
            pthread_mutex_unlock(&p->spool_lock);
        }
        if (rd_kafka_outq_len(p->rk) == 0 && spool_empty)
            break;
    }
    if (rd_kafka_outq_len(p->rk) > 0 && p->spool) {
        /* Undelivered at the deadline: their delivery reports (with the
         * payload) put them in the spool for the next run. */
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(p->rk, 5000);
    }
    px_kafka_stats ks;
    px_kafka_get_stats(p->kafka, &ks);
    if (rd_kafka_outq_len(p->rk) > 0 || ks.failed > 0)
        return PX_ERR_KAFKA;
    return PX_OK;
}

void px_publish_get_stats(const px_publish *cp, px_publish_stats *out)
{
    px_publish *p = (px_publish *)cp;
    px_kafka_stats ks = {0};
    if (p->kafka)
        px_kafka_get_stats(p->kafka, &ks);
    out->produced = atomic_load(&p->produced);
    out->delivered = ks.delivered + atomic_load(&p->null_sink_delivered);
    out->failed = ks.failed;
    out->spooled = atomic_load(&p->spooled);
    out->unspooled = atomic_load(&p->unspooled);
    out->spool_dropped = atomic_load(&p->spool_dropped);
    out->queue_full = atomic_load(&p->queue_full);
    out->dropped = atomic_load(&p->dropped);
}
