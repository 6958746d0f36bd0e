/* px_alert_kafka.c: the Kafka sink (alerts.kafka_topic): each alert one
 * message keyed by its registered domain, its value the alert JSON.
 *
 * The producer is idempotent (enable.idempotence: librdkafka's retries
 * neither duplicate nor reorder), and an alert is delivered once its
 * delivery report says the broker has it. A report that failed for a
 * reason a retry may cure (the broker down past PX_ALERT_KAFKA_TIMEOUT_MS,
 * authorisation, an unknown topic) puts the alert back to be produced
 * again after a back-off; one no retry changes (too large, invalid) is
 * counted and logged and passed over. Produce calls never block: a full
 * queue is tried again at the next poll. */
#include "px_alert_sink_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/px_clock.h"
#include "core/px_log.h"

typedef struct px_alert_kafka {
    px_kafka *k;
    rd_kafka_t *rk;
    char *topic;
    px_alert_backoff backoff;
    px_alert_sink *s; /* for the delivery reports */
    bool fatal;
} px_alert_kafka;

static void px_alert_kafka_refused(px_alert_sink *s, px_alert_item *it, rd_kafka_resp_err_t err)
{
    px_alert_kafka *ak = s->impl;
    px_error("alerts: kafka: alert %" PRIu64 " (%s) refused by %s for good: %s", it->a.seq,
             it->a.id, ak->topic, rd_kafka_err2str(err));
    px_alert_sink_done(s, it, true);
}

/* px_kafka_conf.delivery: served by rd_kafka_poll() in our poll. */
static bool px_alert_kafka_delivered(void *ctx, const rd_kafka_message_t *m)
{
    px_alert_kafka *ak = ctx;
    px_alert_sink *s = ak->s;
    px_alert_item *it = s ? px_alert_sink_find(s, (uint64_t)(uintptr_t)m->_private) : NULL;
    if (!it || it->state != PX_ALERT_SENT)
        return true;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        px_alert_sink_done(s, it, false);
    } else if (px_kafka_permanent(m->err)) {
        px_alert_kafka_refused(s, it, m->err);
    } else {
        it->state = PX_ALERT_WAITING;
        int64_t now = px_clock_mono_ms();
        px_alert_sink_fail(s, now, "delivery of alert %" PRIu64 " to %s failed: %s", it->a.seq,
                           ak->topic, rd_kafka_err2str(m->err));
        px_alert_backoff_failed(&ak->backoff, now);
    }
    return true; /* kept: in the sink, or counted as refused there */
}

static void px_alert_kafka_fatal(void *ctx, const char *why)
{
    px_alert_kafka *ak = ctx;
    (void)why; /* px_kafka logged it */
    ak->fatal = true;
}

/* Produces the waiting items in order until librdkafka's queue is full. */
static void px_alert_kafka_produce(px_alert_sink *s, int64_t now_ms)
{
    px_alert_kafka *ak = s->impl;
    for (size_t i = 0; i < s->n; i++) {
        px_alert_item *it = px_alert_sink_at(s, i);
        if (it->state != PX_ALERT_WAITING)
            continue;
        rd_kafka_resp_err_t err = rd_kafka_producev(
            ak->rk, RD_KAFKA_V_TOPIC(ak->topic), RD_KAFKA_V_KEY(it->a.key, strlen(it->a.key)),
            RD_KAFKA_V_VALUE((void *)it->a.json, it->a.json_len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE((void *)(uintptr_t)it->a.seq), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            it->state = PX_ALERT_SENT;
            continue;
        }
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return;
        if (px_kafka_permanent(err)) {
            size_t before = s->n;
            px_alert_kafka_refused(s, it, err);
            i -= before - s->n; /* done() may have dropped items at the head */
            continue;
        }
        px_alert_sink_fail(s, now_ms, "cannot produce alert %" PRIu64 " to %s: %s", it->a.seq,
                           ak->topic, rd_kafka_err2str(err));
        px_alert_backoff_failed(&ak->backoff, now_ms);
        return;
    }
}

static void px_alert_kafka_poll(px_alert_sink *s, int64_t now_ms)
{
    px_alert_kafka *ak = s->impl;
    rd_kafka_poll(ak->rk, 0);
    if (ak->fatal || !px_alert_backoff_ready(&ak->backoff, now_ms))
        return;
    px_alert_kafka_produce(s, now_ms);
}

static void px_alert_kafka_wait(px_alert_sink *s, int ms)
{
    px_alert_kafka *ak = s->impl;
    rd_kafka_poll(ak->rk, ms);
}

static void px_alert_kafka_destroy(px_alert_sink *s)
{
    px_alert_kafka *ak = s->impl;
    ak->s = NULL; /* reports served by the destroy find no sink */
    px_kafka_destroy(ak->k);
    free(ak->topic);
    free(ak);
}

rd_kafka_t *px_alert_kafka_rk(px_alert_sink *s)
{
    return ((px_alert_kafka *)s->impl)->rk;
}

static const px_alert_sink_ops px_alert_kafka_ops = {
    .poll = px_alert_kafka_poll,
    .wait = px_alert_kafka_wait,
    .reopen = NULL,
    .destroy = px_alert_kafka_destroy,
};

static px_kafka *px_alert_kafka_handle(px_alert_kafka *ak, const px_kafka_settings *settings,
                                       char *why, size_t whylen)
{
    char timeout[24];
    snprintf(timeout, sizeof(timeout), "%d", PX_ALERT_KAFKA_TIMEOUT_MS);
    const px_kafka_prop ours[] = {
        {"client.id", "pdnsx-consumer-alerts"},
        {"enable.idempotence", "true"},
        {"linger.ms", "5"},
        {"message.timeout.ms", timeout},
    };
    px_kafka_conf kc = {
        .type = RD_KAFKA_PRODUCER,
        .ours = ours,
        .n_ours = sizeof(ours) / sizeof(ours[0]),
        .settings = settings,
        .log = px_kafka_to_px_log,
        .fatal = px_alert_kafka_fatal,
        .delivery = px_alert_kafka_delivered,
        .ctx = ak,
    };
    px_kafka *k = NULL;
    char msg[512] = "";
    if (px_kafka_create(&kc, &k, msg, sizeof(msg)) != PX_OK)
        px_why(why, whylen, "Kafka alert producer: %s", msg);
    return k;
}

px_err px_alert_kafka_create(const px_kafka_settings *settings, const char *topic,
                             uint64_t next_seq, px_alert_sink **out, char *why, size_t whylen)
{
    *out = NULL;
    px_alert_kafka *ak = calloc(1, sizeof(*ak));
    if (!ak || !(ak->topic = strdup(topic))) {
        free(ak);
        px_why(why, whylen, "out of memory");
        return PX_ERR_NOMEM;
    }
    ak->k = px_alert_kafka_handle(ak, settings, why, whylen);
    if (!ak->k) {
        free(ak->topic);
        free(ak);
        return PX_ERR_CONFIG;
    }
    ak->rk = px_kafka_handle(ak->k);
    *out = px_alert_sink_new("kafka", &px_alert_kafka_ops, ak, next_seq);
    if (!*out) {
        px_alert_kafka_destroy(&(px_alert_sink){.impl = ak});
        px_why(why, whylen, "out of memory");
        return PX_ERR_NOMEM;
    }
    ak->s = *out;
    return PX_OK;
}
