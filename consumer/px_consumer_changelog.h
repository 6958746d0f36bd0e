/* px_consumer_changelog.h: the changelog topic's Kafka side (issue 13):
 * every committed change of an input partition's store is published to
 * partition p of a log-compacted topic (kafka.changelog_topic,
 * "pdnsx.state"; one partition per input partition), and a member that
 * gains partition p rebuilds its store by reading it back. The rows and
 * their meaning are the store's (px_store.h, docs/STORE.md "The
 * changelog"); here a row is an opaque keyed message: key = the table's tag
 * byte and the row's key, value = the row's bytes, no value = a tombstone
 * (the row was deleted). Private to consumer/.
 *
 * Publishing. A store transaction's rows are produced together, in order,
 * to one partition, then waited for: the call returns once Kafka has
 * acknowledged every one of them (acks=all, the idempotent producer: its
 * retries neither duplicate nor reorder), with the offset after the last,
 * which the store then commits with its data. A refusal or a timeout
 * (PX_CHANGELOG_TIMEOUT_MS unless set) fails the call: the caller rolls
 * its transaction back and considers nothing written. Some of the rows may
 * be in the log all the same (a timed-out request may have been written);
 * values are absolute, so publishing the transaction's rows again later
 * overwrites them. What the log then holds beyond the store's position
 * until that happens is discussed in docs/ARCHITECTURE.md ("The changelog
 * topic"): a restore reads to the end of the log, not to a transaction's
 * end.
 *
 * Restoring. px_changelog_restore() reads partition p from a position (the
 * store's, or the beginning) to the end it finds when it starts (the high
 * watermark), giving the caller chunks of messages in log order with the
 * position after each chunk. Compaction leaves gaps in the offsets and may
 * remove the last messages before the end: the last chunk's position is
 * then the end all the same (a chunk may be empty to say so). A message
 * whose key is empty or longer than PX_CHANGELOG_KEY_MAX, or whose value is
 * longer than PX_CHANGELOG_VAL_MAX, cannot be a row: the restore stops with
 * PX_ERR_MALFORMED and counts it (the changelog is damaged: never skipped).
 *
 * Transactions (px_changelog_opts.transactional_id). Each publish is then
 * one Kafka transaction, committed or aborted whole: a restore (which reads
 * committed data only) never sees part of a failed publish, and a member
 * that lost a partition but still writes is fenced by the new owner's
 * px_changelog_fence(). The commit marker takes the offset after the
 * last row: a publish's position is then the offset after the marker. A
 * commit or abort that timed out is finished by the next publish before it
 * begins its own (committed or aborted, either is harmless: see above).
 * A producer left in a state it cannot leave (librdkafka 2.0.2 refuses
 * every transactional call once an abort failed for good) is replaced by a
 * new one at the next publish, which takes the id over again and so ends
 * the open transaction.
 *
 * The group's word (px_changelog_publish, Kafka's KIP-447). Fencing by
 * transactional id stops a member that lost the partition only until it
 * takes the id over again (it renews a stuck producer): then it would fence
 * the owner and write rows of an old state. So each transaction of the
 * consumer also carries the input offsets its rows take the store to, sent
 * to the consumer group's coordinator with the member's group metadata: the
 * coordinator takes them only from a member of the group's current
 * generation, and a member that is not (a zombie: its session expired, or a
 * rebalance it has not joined yet gave the partition away) gets its
 * transaction aborted, its rows never read. The group's committed offsets
 * then move with the changelog, exactly (kafka-consumer-groups shows them).
 *
 * Threads. px_changelog_publish() is called from one thread at a time (the
 * consumer's). Restores use a consumer handle each and may run on other
 * threads at the same time (px_changelog_restore_start), each calling its
 * apply on its own thread. */
#ifndef PX_CONSUMER_CHANGELOG_H
#define PX_CONSUMER_CHANGELOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"
#include "kafka/px_kafka.h"

/* The default of kafka.changelog_topic. */
#define PX_CHANGELOG_TOPIC "pdnsx.state"
/* A message key: the table's tag byte and the store's key, which LMDB
 * bounds to 511 bytes (Debian's build, MDB_MAXKEYSIZE). */
#define PX_CHANGELOG_KEY_MAX (1 + 511)
/* A message value: below Kafka's default message size limit (a broker's
 * max.message.bytes, 1 MiB and 12 bytes; librdkafka's message.max.bytes,
 * 1000000), so a row the store writes is one Kafka accepts everywhere. The
 * store's values are far smaller (records, dictionaries: a few hundred
 * bytes; detection state: 64 KiB at most). Publishing refuses a longer
 * one too (PX_ERR_TOOLONG), so nothing is written that a restore refuses. */
#define PX_CHANGELOG_VAL_MAX (960u * 1024u)
/* How long a publish waits for Kafka's acknowledgements by default. */
#define PX_CHANGELOG_TIMEOUT_MS 30000
/* How many messages a restore gives apply at most at once. */
#define PX_CHANGELOG_CHUNK 4096

typedef struct px_changelog px_changelog;

/* A row as a Kafka message. val NULL: a tombstone (val_len 0). */
typedef struct px_changelog_msg {
    const void *key;
    size_t key_len;
    const void *val;
    size_t val_len;
} px_changelog_msg;

typedef struct px_changelog_opts {
    /* kafka.brokers, kafka.properties(_file): security and the rest, as
     * the consumer's other handles get them; read during create only */
    const px_kafka_settings *settings;
    const char *topic;  /* NULL: PX_CHANGELOG_TOPIC; copied */
    int timeout_ms;     /* a publish's wait, and a restore's per fetch; 0: the default */
    const char *client; /* client.id prefix; NULL: "pdnsx-consumer" */
    /* NULL: the idempotent producer. Else Kafka transactions with this
     * transactional.id (copied): each publish is one transaction, and a
     * producer that takes over the id fences this one (its publishes fail,
     * px_changelog_fatal) and aborts its open transaction. Fencing per
     * partition: one px_changelog per partition, each its own id. */
    const char *transactional_id;
} px_changelog_opts;

/* The consumer group's side of a publish (see "The group's word" above). */
typedef struct px_changelog_group {
    /* the consumer's metadata as it is now (rd_kafka_consumer_group_metadata:
     * group, generation, member and instance ids); not owned */
    const rd_kafka_consumer_group_metadata_t *meta;
    /* the input partitions' next offsets once the rows are in; not owned.
     * NULL or empty: nothing is sent (a transaction that reads no input) */
    const rd_kafka_topic_partition_list_t *offsets;
} px_changelog_group;

/* Totals since create, for /metrics. */
typedef struct px_changelog_stats {
    uint64_t published;      /* messages acknowledged */
    uint64_t publish_failed; /* publish calls that failed */
    uint64_t restored;       /* messages given to apply */
    uint64_t refused;        /* messages a restore refused as no row (a damaged changelog) */
    uint64_t renewed;        /* stuck transactional producers replaced by a new one */
    uint64_t group_refused;  /* publishes whose offsets the group refused (not a member now) */
} px_changelog_stats;

/* Creates the producer. PX_ERR_CONFIG: a property refused (why says which,
 * and librdkafka's text); PX_ERR_KAFKA; PX_ERR_NOMEM. Connects lazily: a
 * broker that is down fails publish, not create. */
px_err px_changelog_create(const px_changelog_opts *o, px_changelog **out, char *why,
                           size_t whylen);
/* Waits up to the timeout for what is in flight (nothing, between publish
 * calls), then destroys. Restores started must be joined first. NULL fine. */
void px_changelog_destroy(px_changelog *cl);

/* Produces msgs to partition p in order and waits until Kafka has
 * acknowledged every one. *next: the offset after the last. n 0: PX_OK,
 * *next untouched. With a transactional id the publish is one transaction,
 * which also commits g's offsets to the consumer group (g NULL: none;
 * without a transactional id g is ignored). PX_ERR_TOOLONG: a key empty or
 * too long, or a value too long (nothing produced); PX_ERR_NOTFOUND: the
 * topic or partition does not exist; PX_ERR_KAFKA: refused, timed out, the
 * group refused g's offsets (this member is not in its current generation,
 * or a rebalance is on: the transaction is aborted, nothing written,
 * counted in group_refused, never fatal), or the producer failed for good
 * (px_changelog_fatal); PX_ERR_NOMEM. why (may be NULL) says which. */
px_err px_changelog_publish(px_changelog *cl, int32_t p, const px_changelog_msg *msgs, size_t n,
                            const px_changelog_group *g, int64_t *next, char *why, size_t whylen);

/* With a transactional id: takes it over (Kafka's InitProducerId), which
 * fences any other producer of the id and ends its open transaction (its
 * rows are never read), so that a restore that follows reads to the end.
 * Done by the first publish otherwise; call it before restoring. Without
 * one: PX_OK. PX_ERR_KAFKA: Kafka did not answer within the timeout (try
 * again), or the producer failed for good. */
px_err px_changelog_fence(px_changelog *cl, char *why, size_t whylen);

/* The producer failed for good (idempotence broken: librdkafka's fatal
 * error): every publish fails; the consumer must stop (or recreate it). */
bool px_changelog_fatal(const px_changelog *cl);

/* The end of partition p's committed rows (the high watermark; with
 * transactions the last stable offset, which follows a commit by the few
 * milliseconds the coordinator takes to write its markers): the position a
 * fully restored store holds. PX_ERR_KAFKA: Kafka cannot tell within the
 * timeout. */
px_err px_changelog_end(px_changelog *cl, int32_t p, int64_t *end, char *why, size_t whylen);

/* The topic's partition count (the consumer checks it equals the input
 * topics'). PX_ERR_NOTFOUND: no such topic (it is created by the
 * operator, log-compacted: tools/kafka/pdnsx-kafka-federation);
 * PX_ERR_KAFKA: no answer within the timeout. */
px_err px_changelog_partitions(px_changelog *cl, int *n, char *why, size_t whylen);

/* Whether the topic's cleanup.policy is "compact" alone: with "delete"
 * (Kafka's default, or "compact,delete") retention deletes rows the
 * stores still hold and a restore misses them: why then says so.
 * PX_ERR_NOTFOUND: no such topic; PX_ERR_KAFKA: Kafka did not tell (no
 * answer, or an ACL without DescribeConfigs on the topic: why says
 * which). */
px_err px_changelog_compacted(px_changelog *cl, bool *compacted, char *why, size_t whylen);

/* Called with up to PX_CHANGELOG_CHUNK messages read in log order (valid
 * during the call only) and the position after them; n may be 0 (the
 * position moved over compacted offsets). Not PX_OK: the restore stops
 * and returns it. */
typedef px_err (*px_changelog_apply_fn)(void *ctx, const px_changelog_msg *m, size_t n,
                                        int64_t next);

/* Reads partition p from `from` (< 0, or below the log's start: from the
 * start) to the end found at the start (px_changelog_end: with
 * transactions, a commit that just returned may not be in it yet; a
 * `from` beyond it is waited for up to the timeout), giving apply every
 * message. With nothing to read apply is not called. PX_ERR_MALFORMED: a
 * message that is no row (counted; why names its offset); PX_ERR_INVAL:
 * from is beyond the end (the store is ahead of its changelog: the topic was
 * recreated); PX_ERR_AGAIN: cancelled (px_changelog_restore_cancel);
 * PX_ERR_KAFKA: Kafka failed or went silent for the timeout; apply's error
 * as it returned it. */
px_err px_changelog_restore(px_changelog *cl, int32_t p, int64_t from, px_changelog_apply_fn apply,
                            void *ctx, char *why, size_t whylen);

/* ---- a restore on its own thread ----
 * So that the consumer goes on merging the partitions it kept: the main
 * loop pauses input partition p, starts its restore, polls it, and joins
 * it once done (then resumes p, or, on an error, gives it up). apply runs
 * on the restore's thread: the caller does not touch partition p's store
 * until the join. */
typedef struct px_changelog_job px_changelog_job;

/* Starts px_changelog_restore(cl, p, from, apply, ctx) on a new thread.
 * PX_ERR_NOMEM, PX_ERR_IO (no thread). */
px_err px_changelog_restore_start(px_changelog *cl, int32_t p, int64_t from,
                                  px_changelog_apply_fn apply, void *ctx, px_changelog_job **out);
/* Whether it has ended (never blocks). *next (may be NULL): the position
 * applied so far; *end (may be NULL): the end it reads to (-1: not known
 * yet). */
bool px_changelog_restore_done(px_changelog_job *j, int64_t *next, int64_t *end);
/* Asks it to stop after the chunk in hand (the partition was revoked). */
void px_changelog_restore_cancel(px_changelog_job *j);
/* Waits for it to end, frees it, and returns its result (why: its text).
 * NULL j: PX_OK. */
px_err px_changelog_restore_join(px_changelog_job *j, char *why, size_t whylen);

void px_changelog_get_stats(const px_changelog *cl, px_changelog_stats *out);

#endif
