/* px_dlq.h: the consumer's dead-letter copies (pdnsx.dlq), and the record
 * of which of them Kafka has acknowledged.
 *
 * A message the consumer refuses may be skipped only once its copy is safe
 * in Kafka. Copies are produced while a batch is open; the batch commits
 * once every copy of it is settled (px_dlq_tally). Each source message
 * (topic, partition, offset) has one entry here from its first copy until
 * its batch commits, so a batch that is abandoned and read again publishes
 * no copy twice: an acknowledged copy is not sent again, one still in
 * flight is waited for, only one that failed is sent again. The producer
 * is idempotent (enable.idempotence), which covers librdkafka's own
 * retries of a request. What is left: a copy whose delivery timed out may
 * have been written all the same (librdkafka cannot tell), and one
 * acknowledged just before the process dies with its batch uncommitted
 * and unrecorded (px_store_dlq_mark) is sent again by the next run. The
 * headers pdnsx.topic, pdnsx.partition and pdnsx.offset name the source
 * message, so a reader can drop such a duplicate.
 *
 * Size. A copy (key, value, the original headers and ours, and Kafka's
 * per-record framing) must fit max_bytes, the dead-letter producer's
 * message.max.bytes: a larger one is refused by librdkafka before it is
 * sent, for ever. Such a copy is cut: the value is kept up to what fits
 * (if key and original headers take more than half the room, the original
 * headers are dropped, and a key over half the room is cut to a quarter
 * of it), and the headers pdnsx.truncated
 * (what was cut: "key", "value", "headers", comma-separated),
 * pdnsx.key_size and pdnsx.value_size (the original sizes, decimal) say
 * so. The cut copy is a prefix of the message: what a reader needs to see
 * what was refused, and where to find the whole in the source topic.
 *
 * Errors. A copy the broker refuses as too large (its topic's
 * max.message.bytes is below max_bytes) is sent again cut to
 * PX_DLQ_SMALL_BYTES. A copy refused as too large again, or for a reason
 * that no retry changes (an invalid or corrupt record, an unsupported
 * message format), is given up: the message still leaves the pipeline,
 * counted as skipped. Everything else (the broker down, timeouts,
 * authorisation, an unknown topic) is transient: the copy is sent again
 * with its batch, which waits; nothing is lost.
 *
 * One thread: the consumer's. Delivery reports are served by
 * rd_kafka_poll()/rd_kafka_flush() of the producer from that thread and
 * handed to px_dlq_delivered(). */
#ifndef PX_DLQ_H
#define PX_DLQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "core/px_error.h"
#include "query/px_query_conf.h"

/* The caller's reasons for dead-lettering are small numbers below this. */
#define PX_DLQ_REASONS_MAX 16
/* The budget of a copy sent again after the broker refused it as too
 * large; also the least max_bytes (our headers and a cut key and value of
 * a few hundred bytes fit). */
#define PX_DLQ_SMALL_BYTES PX_QUERY_CONF_DLQ_MIN_BYTES
/* Kafka's framing of one record, at most (librdkafka's
 * RD_KAFKAP_MESSAGE_V2_MAX_OVERHEAD is 35 bytes), with room to spare. */
#define PX_DLQ_FRAMING 64

typedef struct px_dlq px_dlq;

/* producer: the dead-letter producer, its delivery report callback calling
 * px_dlq_delivered(); not owned, and it must be destroyed before d (its
 * messages point to d's entries). topic: copied. max_bytes: the largest
 * copy, framing included (at least PX_DLQ_SMALL_BYTES). flush_ms: how long
 * a full producer queue is waited for. NULL if out of memory. */
px_dlq *px_dlq_create(rd_kafka_t *producer, const char *topic, size_t max_bytes, int flush_ms);
void px_dlq_destroy(px_dlq *d); /* NULL is fine */

/* Dead-letters m as part of batch `batch` (any number the caller gives
 * each batch; an entry belongs to the last batch that sent it). why: the
 * pdnsx.error text; reason: < PX_DLQ_REASONS_MAX, tallied per reason.
 * PX_OK: a copy is queued, or one already was (acknowledged, in flight, or
 * given up). PX_ERR_AGAIN: it could not be queued now; the batch cannot
 * commit (px_dlq_tally counts it failed). PX_ERR_NOMEM. */
px_err px_dlq_send(px_dlq *d, const rd_kafka_message_t *m, const char *why, int reason,
                   uint64_t batch);

/* Every delivery report of the producer goes here. */
void px_dlq_delivered(px_dlq *d, const rd_kafka_message_t *report);

typedef struct px_dlq_tally {
    uint64_t acked[PX_DLQ_REASONS_MAX]; /* acknowledged copies, per reason */
    uint64_t truncated;                 /* of those, copies cut to fit */
    uint64_t skipped;                   /* messages whose copy was given up */
    uint64_t pending;                   /* copies in flight */
    uint64_t failed;                    /* copies to send again */
    /* The first skipped or failed copy's source and last error, for the
     * log; "" and NO_ERROR if none. */
    char skipped_at[300], failed_at[300];
    rd_kafka_resp_err_t skipped_err, failed_err;
} px_dlq_tally;

/* The state of batch `batch`'s copies (after flushing the producer: the
 * batch may commit if pending and failed are 0). */
void px_dlq_tally_batch(const px_dlq *d, uint64_t batch, px_dlq_tally *t);

/* Batch `batch` committed: its entries are forgotten. Returns how many of
 * them had been saved (px_dlq_saved): the caller prunes its record. */
size_t px_dlq_forget(px_dlq *d, uint64_t batch);

/* ---- the record across runs ----
 * An abandoned batch's settled copies are saved by the caller (the store:
 * px_store_dlq_mark) so that the next run does not send them again; the
 * next run preloads them. */

typedef void (*px_dlq_mark_fn)(void *ctx, const char *topic, int32_t partition, int64_t offset,
                               bool skipped);
/* Calls fn for every settled entry (acknowledged or given up) not saved
 * yet; returns how many. */
size_t px_dlq_unsaved(const px_dlq *d, px_dlq_mark_fn fn, void *ctx);
/* The entries px_dlq_unsaved() listed are saved now. */
void px_dlq_saved(px_dlq *d);
/* A settled entry of an earlier run (saved), belonging to no batch yet. */
px_err px_dlq_preload(px_dlq *d, const char *topic, int32_t partition, int64_t offset,
                      bool skipped);

/* ---- sizing (exposed for tests) ---- */

typedef struct px_dlq_shape {
    size_t key, value; /* bytes kept of each */
    bool headers;      /* the original headers kept */
} px_dlq_shape;

/* How much of a message (key, value, original headers of serialized size
 * hdrs) a copy of at most budget bytes keeps, with our headers taking
 * ours bytes uncut or ours_cut bytes cut (the pdnsx.truncated headers
 * added). Returns false if the whole message fits. */
bool px_dlq_fit(size_t key, size_t value, size_t hdrs, size_t ours, size_t ours_cut, size_t budget,
                px_dlq_shape *s);

#endif
