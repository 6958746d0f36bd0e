/* px_alert_sink.c: what every alert sink shares: the alerts it holds, its
 * cursor, its metrics, its log. */
#include "px_alert_sink_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/px_clock.h"
#include "core/px_log.h"

/* A failing sink says so at most this often (an outage fails every
 * attempt). */
#define PX_ALERT_LOG_BURST 5
#define PX_ALERT_LOG_MS 60000

static px_metric *px_alert_metric(const char *base, const char *sink, const char *help, bool gauge)
{
    char name[128];
    snprintf(name, sizeof(name), "%s{sink=\"%s\"}", base, sink);
    return gauge ? px_metric_gauge(name, help) : px_metric_counter(name, help);
}

px_alert_sink *px_alert_sink_new(const char *name, const px_alert_sink_ops *ops, void *impl,
                                 uint64_t next_seq)
{
    px_alert_sink *s = calloc(1, sizeof(*s));
    if (!s || !(s->ring = calloc(PX_ALERT_SINK_QUEUE, sizeof(*s->ring)))) {
        free(s);
        return NULL;
    }
    s->name = name;
    s->ops = ops;
    s->impl = impl;
    s->next = s->want = next_seq ? next_seq : 1;
    px_ratelimit_init(&s->log, PX_ALERT_LOG_BURST, PX_ALERT_LOG_MS);
    s->m_delivered =
        px_alert_metric("pdnsx_alerts_delivered_total", name, "alerts a sink delivered", false);
    s->m_errors = px_alert_metric("pdnsx_alerts_errors_total", name,
                                  "failed delivery attempts of a sink (tried again)", false);
    s->m_refused =
        px_alert_metric("pdnsx_alerts_refused_total", name,
                        "alerts a sink's receiver refused for good (passed over)", false);
    s->m_depth = px_alert_metric("pdnsx_alerts_outbox_depth", name,
                                 "alerts of the outbox a sink has not delivered yet", true);
    return s;
}

const char *px_alert_sink_name(const px_alert_sink *s)
{
    return s->name;
}

px_alert_item *px_alert_sink_at(px_alert_sink *s, size_t i)
{
    return &s->ring[(s->head + i) % PX_ALERT_SINK_QUEUE];
}

px_alert_item *px_alert_sink_find(px_alert_sink *s, uint64_t seq)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        px_alert_item *it = px_alert_sink_at(s, mid);
        if (it->a.seq == seq)
            return it;
        if (it->a.seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Drops the delivered items at the head: the cursor is the first one
 * still held, or after the last offered. */
static void px_alert_sink_advance(px_alert_sink *s)
{
    while (s->n && px_alert_sink_at(s, 0)->state == PX_ALERT_DONE) {
        px_alert_item *it = px_alert_sink_at(s, 0);
        free(it->buf);
        memset(it, 0, sizeof(*it));
        s->head = (s->head + 1) % PX_ALERT_SINK_QUEUE;
        s->n--;
    }
    s->next = s->n ? px_alert_sink_at(s, 0)->a.seq : s->want;
}

void px_alert_sink_done(px_alert_sink *s, px_alert_item *it, bool refused)
{
    if (it->state == PX_ALERT_DONE)
        return;
    it->state = PX_ALERT_DONE;
    px_metric_inc(refused ? s->m_refused : s->m_delivered);
    px_alert_sink_advance(s);
}

void px_alert_sink_fail(px_alert_sink *s, int64_t now_ms, const char *fmt, ...)
{
    px_metric_inc(s->m_errors);
    uint64_t held;
    if (!px_ratelimit_allow(&s->log, now_ms, &held))
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (held)
        px_warning("alerts: %s: %s (and %" PRIu64 " more failures)", s->name, msg, held);
    else
        px_warning("alerts: %s: %s", s->name, msg);
}

/* An alert no sink can deliver as it is: its JSON too long or not one line. */
static const char *px_alert_unfit(const px_alert *a)
{
    if (!a->rule || !a->key || !a->id || !a->json)
        return "a string is missing";
    if (a->json_len > PX_ALERT_JSON_MAX)
        return "its JSON is over PX_ALERT_JSON_MAX";
    if (memchr(a->json, '\n', a->json_len) || memchr(a->json, '\r', a->json_len) ||
        memchr(a->json, '\0', a->json_len))
        return "its JSON is not one line";
    return NULL;
}

static char *px_alert_copy(const px_alert *a, px_alert *out)
{
    size_t lr = strlen(a->rule), lk = strlen(a->key), li = strlen(a->id);
    char *buf = malloc(lr + lk + li + a->json_len + 4);
    if (!buf)
        return NULL;
    char *p = buf;
    *out = *a;
    out->rule = memcpy(p, a->rule, lr + 1);
    p += lr + 1;
    out->key = memcpy(p, a->key, lk + 1);
    p += lk + 1;
    out->id = memcpy(p, a->id, li + 1);
    p += li + 1;
    memcpy(p, a->json, a->json_len);
    p[a->json_len] = '\0';
    out->json = p;
    return buf;
}

px_err px_alert_sink_offer(px_alert_sink *s, const px_alert *a)
{
    if (a->seq < s->want)
        return PX_OK;
    if (s->n == PX_ALERT_SINK_QUEUE)
        return PX_ERR_FULL;
    px_alert_item *it = px_alert_sink_at(s, s->n);
    const char *unfit = px_alert_unfit(a);
    if (!unfit && !(it->buf = px_alert_copy(a, &it->a)))
        return PX_ERR_NOMEM;
    if (unfit)
        it->a = (px_alert){.seq = a->seq};
    it->state = PX_ALERT_WAITING;
    it->mark = 0;
    s->n++;
    s->want = a->seq + 1;
    if (unfit) {
        px_error("alerts: %s: alert %" PRIu64 " passed over: %s", s->name, a->seq, unfit);
        px_alert_sink_done(s, it, true);
    } else {
        s->next = px_alert_sink_at(s, 0)->a.seq;
    }
    return PX_OK;
}

uint64_t px_alert_sink_want(const px_alert_sink *s)
{
    return s->want;
}

void px_alert_sink_poll(px_alert_sink *s, int64_t now_ms)
{
    s->ops->poll(s, now_ms);
}

uint64_t px_alert_sink_next(const px_alert_sink *s)
{
    return s->next;
}

size_t px_alert_sink_pending(const px_alert_sink *s)
{
    return s->n;
}

bool px_alert_sink_drain(px_alert_sink *s, int64_t deadline_ms)
{
    for (;;) {
        int64_t now = px_clock_mono_ms();
        s->ops->poll(s, now);
        if (s->n == 0)
            return true;
        if (now >= deadline_ms)
            return false;
        int64_t left = deadline_ms - now;
        s->ops->wait(s, left < 50 ? (int)left : 50);
    }
}

void px_alert_sink_reopen(px_alert_sink *s)
{
    if (s->ops->reopen)
        s->ops->reopen(s);
}

void px_alert_sink_depth(px_alert_sink *s, uint64_t depth)
{
    px_metric_set(s->m_depth, (int64_t)depth);
}

px_err px_alert_sink_restart(px_alert_sink *s, uint64_t next_seq)
{
    if (s->n)
        return PX_ERR_AGAIN;
    s->next = s->want = next_seq ? next_seq : 1;
    return PX_OK;
}

void px_alert_sink_destroy(px_alert_sink *s)
{
    if (!s)
        return;
    s->ops->destroy(s); /* first: librdkafka may still report deliveries */
    for (size_t i = 0; i < s->n; i++)
        free(px_alert_sink_at(s, i)->buf);
    free(s->ring);
    free(s);
}

/* ---- back-off ---------------------------------------------------------------------- */

bool px_alert_backoff_ready(const px_alert_backoff *b, int64_t now_ms)
{
    return now_ms >= b->until_ms;
}

void px_alert_backoff_failed(px_alert_backoff *b, int64_t now_ms)
{
    b->step_ms = b->step_ms ? b->step_ms * 2 : PX_ALERT_BACKOFF_MIN_MS;
    if (b->step_ms > PX_ALERT_BACKOFF_MAX_MS)
        b->step_ms = PX_ALERT_BACKOFF_MAX_MS;
    b->until_ms = now_ms + b->step_ms;
}

void px_alert_backoff_ok(px_alert_backoff *b)
{
    b->step_ms = 0;
    b->until_ms = 0;
}
