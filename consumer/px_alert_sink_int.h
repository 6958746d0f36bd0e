/* px_alert_sink_int.h: what the sinks share (px_alert_sink.c) and each
 * sink provides (px_alert_file.c, px_alert_syslog.c, px_alert_kafka.c).
 * Private to consumer/. */
#ifndef PX_ALERT_SINK_INT_H
#define PX_ALERT_SINK_INT_H

#include "px_alert_sink.h"

#include "core/px_metrics.h"
#include "core/px_ratelimit.h"

typedef enum px_alert_state {
    PX_ALERT_WAITING = 0, /* not sent, or to send again */
    PX_ALERT_SENT,        /* handed over, its delivery not yet known */
    PX_ALERT_DONE,        /* delivered or passed over */
} px_alert_state;

/* One alert held: a copy, its strings in buf. */
typedef struct px_alert_item {
    px_alert a;
    char *buf;
    px_alert_state state;
    uint64_t mark; /* the sink's: syslog over TCP, the stream offset of its end */
} px_alert_item;

typedef struct px_alert_sink_ops {
    /* Sends what it can of the held items (in order), marks them with
     * px_alert_sink_done() or SENT. */
    void (*poll)(px_alert_sink *s, int64_t now_ms);
    /* Waits at most ms for its I/O or its reports (px_alert_sink_drain). */
    void (*wait)(px_alert_sink *s, int ms);
    void (*reopen)(px_alert_sink *s); /* NULL: nothing to do */
    void (*destroy)(px_alert_sink *s);
} px_alert_sink_ops;

/* A failed sink waits before it tries again: from PX_ALERT_BACKOFF_MIN_MS,
 * doubling to PX_ALERT_BACKOFF_MAX_MS, back to nothing on a success. */
typedef struct px_alert_backoff {
    int64_t until_ms; /* no attempt before */
    int64_t step_ms;  /* the next wait; 0: none yet */
} px_alert_backoff;

struct px_alert_sink {
    const char *name;
    const px_alert_sink_ops *ops;
    void *impl;
    px_alert_item *ring; /* PX_ALERT_SINK_QUEUE slots */
    size_t head, n;      /* the held items: ring[(head + i) % cap] */
    uint64_t next;       /* the cursor */
    uint64_t want;       /* after the last offered */
    px_ratelimit log;
    px_metric *m_delivered, *m_errors, *m_refused, *m_depth;
};

/* Makes the sink around impl (owned: ops->destroy frees it). NULL on no
 * memory (impl is then the caller's). */
px_alert_sink *px_alert_sink_new(const char *name, const px_alert_sink_ops *ops, void *impl,
                                 uint64_t next_seq);

/* The i-th held item, oldest first (i < s->n). */
px_alert_item *px_alert_sink_at(px_alert_sink *s, size_t i);
/* The held item of seq, NULL if none. */
px_alert_item *px_alert_sink_find(px_alert_sink *s, uint64_t seq);
/* it is delivered (refused: passed over for good); moves the cursor. */
void px_alert_sink_done(px_alert_sink *s, px_alert_item *it, bool refused);
/* Counts a failed attempt and logs it (rate-limited). */
void px_alert_sink_fail(px_alert_sink *s, int64_t now_ms, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The Kafka sink's librdkafka handle (its tests read its configuration). */
rd_kafka_t *px_alert_kafka_rk(px_alert_sink *s);

bool px_alert_backoff_ready(const px_alert_backoff *b, int64_t now_ms);
void px_alert_backoff_failed(px_alert_backoff *b, int64_t now_ms);
void px_alert_backoff_ok(px_alert_backoff *b);

#endif
