/* px_consumer.h: the pdnsx-consumer daemon as a library (main.c is thin):
 * Kafka consumer group -> decode and trust -> batched merge into the store,
 * with the dead-letter topic, signals, metrics and the exit status
 * docs/INTERFACE.md promises ("Exit status and signals").
 *
 * Delivery: the store is the truth. Offsets are written in the same store
 * transaction as the records they produced, and partitions are assigned
 * from the store's offsets, so a restart never counts a message twice or
 * skips one. A message is only skipped (sent to pdnsx.dlq) once Kafka has
 * acknowledged its dead-letter copy, or refused the copy for good (too
 * large even cut, an invalid record: counted and logged as skipped, so one
 * such message cannot stop the pipeline). */
#ifndef PX_CONSUMER_H
#define PX_CONSUMER_H

#include <signal.h>
#include <stdint.h>

#include "consumer/px_consumer_conf.h"
#include "core/px_clock.h"

/* The dead-letter topic (docs/INTERFACE.md, "Kafka topics and headers").
 * Headers: pdnsx.error (why), pdnsx.topic, pdnsx.partition, pdnsx.offset
 * (where it came from, as decimal text); key, value and the original
 * headers unchanged, unless the copy would exceed dlq.max_bytes: then it
 * is cut, and pdnsx.truncated, pdnsx.key_size and pdnsx.value_size say so
 * (px_dlq.h). A batch read again sends no copy twice; a crash may
 * (px_dlq.h), so a reader drops a copy whose (pdnsx.topic,
 * pdnsx.partition, pdnsx.offset) it has seen. */
#define PX_CONSUMER_DLQ_TOPIC "pdnsx.dlq"

typedef struct px_consumer px_consumer;

typedef struct px_consumer_opts {
    /* Wall clock in seconds, the `now` records are validated against
     * (times in the future; a message's timestamp never counts as later),
     * and the minute trust.org_new_records counts in for messages without
     * a LogAppendTime; zeroed: CLOCK_REALTIME. Tests replay with it. */
    px_clock clock;
    /* Signals the run loop takes (the caller blocked them in every thread):
     * SIGTERM/SIGINT end the run, SIGHUP reloads GeoIP. NULL: none. */
    const sigset_t *signals;
    /* How long a batch commit waits for Kafka to acknowledge dead-letter
     * copies before it gives up and retries the batch (ms); 0: 30000. */
    int dlq_timeout_ms;
} px_consumer_opts;

/* Opens the store, GeoIP databases, metrics and query servers, and the
 * Kafka clients, so that errors show at start-up. conf must outlive the
 * consumer. NULL on failure (message in errbuf). */
px_consumer *px_consumer_create(const px_consumer_conf *conf, const px_consumer_opts *opts,
                                char *errbuf, size_t errlen);
/* Runs until a terminating signal, or run.exit_idle seconds without a new
 * message once everything is committed; commits, leaves the group and
 * returns the exit status: 0, or 1 after a runtime failure (the store
 * failing, a fatal Kafka error, a batch that could not be committed at
 * the end; nothing uncommitted is lost: the next run reads it again). */
int px_consumer_run(px_consumer *c);
void px_consumer_destroy(px_consumer *c); /* NULL is fine */

#endif
