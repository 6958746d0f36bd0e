/* px_publish.h: publishing keyed messages to Kafka with librdkafka, the
 * way librdkafka's own examples do it: poll on every turn, retry on a full
 * queue, flush with a timeout at exit, count delivery failures. The handle
 * comes from lib/kafka (kafka/px_kafka.h), which also maps librdkafka's
 * logs and fatal errors and keeps pdnsx_kafka_delivered_total and
 * pdnsx_kafka_failed_total.
 *
 * The producer is idempotent (no duplicates from librdkafka retries),
 * compressed, and partitions with murmur2_random (the Java client's
 * partitioner), so every client keying by registered domain agrees on the
 * partition; px_kafka_partition_of (kafka/px_kafka_partition.h) says which
 * one, for query routing. When a spool is configured, messages that cannot wait in
 * memory (queue full for too long, or still undelivered at shutdown) are
 * appended to it, and it is drained back to Kafka when the broker returns. */
#ifndef PX_PUBLISH_H
#define PX_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"
#include "core/px_log.h"
#include "kafka/px_kafka.h"

typedef struct px_publish_conf {
    /* kafka.brokers and the raw librdkafka properties (kafka.properties),
     * applied after ours (so they win); only read during create. */
    const px_kafka_settings *kafka;
    const char *topic;
    /* Wait for delivery forever (live inputs) instead of librdkafka's
     * message.timeout.ms default (file inputs). */
    bool infinite_timeout;
    const char *spool_path; /* NULL: no spool */
    uint64_t spool_max_bytes;
    bool null_sink; /* kafka.enabled = false: count, send nothing */
    /* How long a full local queue may block a sender before the message
     * goes to the spool (ms); 0: 1000. Without a spool senders wait, unless
     * drop_when_blocked. */
    int queue_wait_ms;
    /* After Kafka refused a message (an ACL, px_kafka_refusal), how long
     * spooled ones wait before they are tried again (ms), as after an
     * outage, rather than going round between the spool and the refusal;
     * 0: 10000 (the refusal's log line says 10 s). */
    int refused_retry_ms;
    /* Live inputs (kafka.max_block_ms): never block a sender past
     * queue_wait_ms. Without a spool the message is then dropped (the
     * newest go; what librdkafka holds stays), counted and logged
     * (rate-limited), and until a message fits again the next ones are
     * dropped at once rather than each waiting. false (file inputs): wait
     * as long as it takes; nothing is lost. */
    bool drop_when_blocked;
    /* Where librdkafka's logs and errors and the publisher's own lines go
     * (the daemon's logger, e.g. px_kafka_to_px_log). May be NULL. */
    void (*log_fn)(void *ctx, px_log_level level, const char *msg);
    void *log_ctx;
} px_publish_conf;

typedef struct px_publish_stats {
    uint64_t produced;      /* handed to librdkafka */
    uint64_t delivered;     /* acknowledged by Kafka */
    uint64_t failed;        /* permanently failed (and not spooled) */
    uint64_t spooled;       /* written to the spool */
    uint64_t unspooled;     /* read back from the spool and produced */
    uint64_t spool_dropped; /* spool full: lost, counted */
    uint64_t queue_full;    /* times the local queue was full */
    uint64_t dropped;       /* never queued: full past the bound, no spool */
} px_publish_stats;

typedef struct px_publish px_publish;

/* Returns NULL and writes a message to errbuf on failure. */
px_publish *px_publish_create(const px_publish_conf *conf, char *errbuf, size_t errlen);
/* Purges nothing: call px_publish_close() first to deliver. NULL is fine. */
void px_publish_destroy(px_publish *p);

/* Sends one message (copied). Thread-safe. On a full local queue it polls
 * and retries; after conf->queue_wait_ms of full queue it spools (if
 * configured), drops it (drop_when_blocked: PX_ERR_FULL, counted in
 * pdnsx_observations_dropped_total{reason="kafka_backlog"}) or keeps
 * waiting (backpressure). Returns PX_OK, PX_ERR_FULL, or PX_ERR_KAFKA for a
 * permanent local error (e.g. unknown topic in a strict cluster). */
px_err px_publish_send(px_publish *p, const void *key, size_t key_len, const void *value,
                       size_t value_len);

/* Serves delivery reports and drains the spool when Kafka has room. Call
 * regularly from one thread. */
void px_publish_poll(px_publish *p, int timeout_ms);

/* Waits up to timeout_ms for every message to be acknowledged. What is
 * still undelivered then goes to the spool if there is one. Returns PX_OK
 * when nothing was lost (delivered or spooled), PX_ERR_KAFKA otherwise. */
px_err px_publish_close(px_publish *p, int timeout_ms);

/* Messages produced or spooled but not yet delivered. */
uint64_t px_publish_outstanding(const px_publish *p);
void px_publish_get_stats(const px_publish *p, px_publish_stats *out);

#endif
