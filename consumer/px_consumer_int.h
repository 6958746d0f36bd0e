/* px_consumer_int.h: the consumer's state and the functions its files
 * share: px_consumer.c (set-up, the batch, the run loop),
 * px_consumer_judge.c (one message: decode, trust, merge) and
 * px_consumer_kafka.c (Kafka: set-up, callbacks, offsets). Private to
 * consumer/. */
#ifndef PX_CONSUMER_INT_H
#define PX_CONSUMER_INT_H

#include "consumer/px_consumer.h"

#include <inttypes.h>
#include <pthread.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafka/px_kafka.h"
#include "obs/px_avro.h"
#include "detect/px_detect.h"
#include "dns/px_dns_type.h"
#include "px_alert_sink.h"
#include "px_dlq.h"
#include "px_geoip.h"
#include "core/px_clock.h"
#include "core/px_log.h"
#include "core/px_metrics.h"
#include "obs/px_change.h"
#include "obs/px_obs.h"
#include "obs/px_privacy.h"
#include "obs/px_psl.h"
#include "query/px_query.h"
#include "query/px_query_route.h"
#include "core/px_ratelimit.h"
#include "store/px_store.h"
#include "store/px_stores.h"

/* How soon a new organisation's topic is noticed: librdkafka re-reads the
 * topic list for a regex subscription at this interval. */
#define PX_CONSUMER_METADATA_MS "5000"
/* After a batch could not be committed, wait this long before reading
 * again, so that a Kafka or disk outage does not become a busy loop. */
#define PX_CONSUMER_RETRY_MS 1000
/* Messages taken per pass before signals and the batch clock are checked. */
#define PX_CONSUMER_BURST 1000
/* A poll that waited this long for nothing means the partitions are read
 * to their end: the open batch commits without waiting for store.batch_ms.
 * Shorter waits come from a batch about to be due anyway. */
#define PX_CONSUMER_CAUGHT_UP_MS 50
/* While no partitions were ever assigned, say so this often. */
#define PX_CONSUMER_UNASSIGNED_MS 30000
/* Untrusted records are logged at most once per this many ms (a member
 * could flood the log otherwise); the line counts those it stood for. */
#define PX_CONSUMER_REFUSED_LOG_MS 10000
/* The store's size on /metrics is read at most this often: it walks
 * LMDB's free list. */
#define PX_CONSUMER_STORE_STATS_MS 10000
/* Moved sink cursors with no batch to ride in are recorded at most this
 * often: a re-delivery after a crash is bounded by it, and a delivering
 * sink does not cost a store transaction per alert. */
#define PX_CONSUMER_CURSOR_MS 1000
/* At shutdown, the sinks get this long to deliver what they hold. */
#define PX_CONSUMER_DRAIN_MS 5000
/* pdnsx_consumer_org_new_records_rejected_total{org}: declared at start,
 * a series made at an organisation's first rejection */
#define PX_CONSUMER_ORG_REJECTED "pdnsx_consumer_org_new_records_rejected_total"
#define PX_CONSUMER_ORG_REJECTED_HELP                                                              \
    "Observations of new records dead-lettered because their organisation reached "                \
    "trust.org_new_records (committed)"
/* alerts.jsonl, alerts.syslog, alerts.kafka_topic */
#define PX_CONSUMER_SINKS 3
/* px_change_kind values are 1..4: counters indexed by kind */
#define PX_CONSUMER_CHANGE_KINDS (PX_CHANGE_DOMAIN_GREW + 1)

typedef enum px_dlq_reason {
    PX_DLQ_NONE = 0,
    PX_DLQ_TOPIC,  /* the topic names no organisation */
    PX_DLQ_DECODE, /* not Avro single-object, or an unknown writer schema */
    PX_DLQ_ORG,    /* the record's org is not the topic's */
    PX_DLQ_INVALID,
    PX_DLQ_STORE,    /* the store refused the record as invalid */
    PX_DLQ_ORG_RATE, /* its organisation reached trust.org_new_records this minute */
    PX_DLQ__COUNT
} px_dlq_reason;

static const char *const px_dlq_names[PX_DLQ__COUNT] = {
    [PX_DLQ_TOPIC] = "topic",     [PX_DLQ_DECODE] = "decode", [PX_DLQ_ORG] = "org_mismatch",
    [PX_DLQ_INVALID] = "invalid", [PX_DLQ_STORE] = "store",   [PX_DLQ_ORG_RATE] = "org_rate",
};
_Static_assert(PX_DLQ__COUNT <= PX_DLQ_REASONS_MAX, "px_dlq tallies reasons below its maximum");

/* The run's totals, for the line it logs at the end (the same numbers
 * are on /metrics). */
typedef struct px_consumer_stats {
    uint64_t messages;      /* messages read from Kafka (re-reads after an abort too) */
    uint64_t merged;        /* records merged into committed batches */
    uint64_t dlq;           /* messages sent to the dead-letter topic and committed */
    uint64_t batches;       /* store transactions committed */
    uint64_t aborted;       /* batches abandoned (dead-letter copies unacknowledged) */
    uint64_t dlq_truncated; /* of dlq, copies cut to fit (px_dlq.h) */
    uint64_t dlq_skipped;   /* refused messages whose copy Kafka refused for good */
} px_consumer_stats;

/* One organisation's count of new records in the current minute (see "the
 * bound on new records per organisation"). */
typedef struct px_org_rate {
    char org[PX_OBS_ORG_MAX + 1];
    int64_t minute;          /* epoch minute counted; only moves forward */
    uint64_t base;           /* px_store_org_new_records() when it began */
    uint64_t committed;      /* new records committed since then */
    uint64_t batch_obs;      /* its observations merged into the open batch */
    uint64_t batch_new;      /* bounded: records new to the store merged into it */
    uint64_t batch_rejected; /* dead-lettered in the open batch: counted at commit */
    uint64_t rejected;       /* this minute, for the log */
    bool bounded;            /* this minute: each observation is looked up */
    px_metric *m_rejected;   /* created at its first rejection */
} px_org_rate;

/* Where a partition stands in the open batch. */
typedef struct px_consumer_pos {
    char *topic;
    int32_t partition;
    int64_t next;
} px_consumer_pos;

/* The alignment in event time shares the prefetch out over the partitions
 * of the subscribed topics, counted at the start, waiting this long for
 * the cluster's answer; over this many if none came; and each partition
 * gets at least the minimums below (the memory bound holds up to
 * kafka.fetch_queue_messages / PX_CONSUMER_ALIGN_MIN_MSGS partitions). */
#define PX_CONSUMER_PARTITIONS_WAIT_MS 2000
#define PX_CONSUMER_ALIGN_PARTITIONS 64
#define PX_CONSUMER_ALIGN_MIN_MSGS 100
#define PX_CONSUMER_ALIGN_MIN_KB 64

/* Messages taken at once from a partition's queue by the alignment in
 * event time: one lock of the queue per this many. */
#define PX_CONSUMER_ALIGN_BATCH 256

/* An assigned partition, for the alignment in event time
 * (px_consumer_align.c). */
typedef struct px_consumer_part {
    char *topic;
    int32_t partition;
    rd_kafka_queue_t *q; /* owned: its fetch queue, not forwarded to the consumer's */
    /* owned: taken from q, not merged yet: buf[head .. head + n) */
    rd_kafka_message_t **buf;
    size_t head, n;
    int64_t head_time; /* buf[head]'s event time (INT64_MIN: it does not decode) */
    int64_t time;      /* event time: the newest time_last merged */
    bool known;        /* time is set: a message was merged since the (re)start */
    bool at_end;       /* its EOF came after its last message */
    bool held;         /* its partition restoring: not read, holds nobody back */
} px_consumer_part;
/* The lag per partition on /metrics (px_consumer_lag.c). */
typedef struct px_consumer_lag px_consumer_lag;

/* An alert sink. Each partition store has its own outbox and keeps the
 * sink's cursor in it (px_consumer_pstore); the sink delivers one outbox
 * at a time, moving to another once it holds nothing. */
typedef struct px_consumer_sink {
    px_alert_sink *sink;
    int32_t serving;      /* the partition whose outbox it delivers; -1: none */
    uint64_t progress_ms; /* when its cursor last moved (or the run began) */
} px_consumer_sink;

/* An assigned partition number: its store (every org topic's partition i,
 * co-partitioned: docs/ARCHITECTURE.md "Partitioning") and its part of
 * the open batch. */
typedef struct px_consumer_pstore px_consumer_pstore;
struct px_changelog;
typedef struct px_consumer_restore px_consumer_restore; /* px_consumer_clog.c */
struct px_consumer_pstore {
    int32_t partition;
    px_consumer *c;          /* its consumer, for the changelog callback */
    struct px_changelog *cl; /* owned: its changelog producer (px_consumer_clog.c); NULL: none */
    px_store *store;         /* attached in px_consumer.stores */
    px_store_batch *batch;   /* its transaction in the open batch; NULL: none yet */
    /* revoked, committed and its cursors recorded: detached at the next
     * assignment unless that gives it back */
    bool revoked;
    bool fresh; /* given back by an assignment: to catch up with the changelog */
    /* its restore from the changelog, running on its own thread (then p is
     * in px_consumer.restoring, not .pstores: nothing else touches its
     * store); NULL: none */
    px_consumer_restore *restore;
    bool marks_due;       /* its dead-letter marks to read once restored */
    uint64_t outbox_last; /* its outbox's newest seq, as last read */
    /* each sink's cursor in this outbox: delivered below it; held in the
     * store; put into the batch being committed */
    uint64_t sink_next[PX_CONSUMER_SINKS];
    uint64_t sink_recorded[PX_CONSUMER_SINKS];
    uint64_t sink_in_batch[PX_CONSUMER_SINKS];
};

struct px_consumer {
    const px_consumer_conf *conf;
    px_consumer_opts opts;
    px_stores *stores; /* store.path: a store per assigned partition number */
    px_store_opts store_opts;
    /* the attached partition stores, by increasing partition */
    px_consumer_pstore **pstores;
    size_t n_pstores, cap_pstores;
    /* the stores being restored (px_consumer_pstore.restore), by
     * increasing partition: their input paused until they are */
    px_consumer_pstore **restoring;
    size_t n_restoring, cap_restoring;
    px_consumer_pstore *cur; /* the message in hand's */
    px_geoip *geoip;
    px_metrics_server *metrics;
    px_query_server *query;
    /* the partitions this member owns, for query.listen (px_query_route.h):
     * set at each assignment and revocation */
    px_query_owner *owner;
    int32_t topic_partitions; /* each subscribed topic's count, as last checked; 0: none */
    bool owner_pending;       /* an assignment it could not take: asked again */
    uint64_t owner_retry_ms;  /* when, at the earliest */
    px_kafka *k_rk, *k_dlq;   /* the two handles (lib/kafka) */
    rd_kafka_t *rk;           /* consumer: px_kafka_handle(k_rk) */
    rd_kafka_t *dlq;          /* dead-letter producer: px_kafka_handle(k_dlq) */
    px_dlq *dl;               /* its copies and their acknowledgements */
    px_consumer_lag *lag;     /* the assigned partitions' lag, for /metrics */
    size_t dlq_max;           /* largest copy: dlq.max_bytes, or message.max.bytes if lower */
    px_avro_codec *codec;
    px_psl_cache *psl;

    /* the open batch: a transaction per partition store it touched
     * (px_consumer_pstore.batch), committed together */
    bool batch;
    uint64_t batch_start_ms;
    uint64_t batch_msgs, batch_merged;
    uint64_t batch_dlq[PX_DLQ__COUNT];
    px_consumer_pos *pos;
    size_t n_pos, cap_pos;
    /* Each batch (a retry too) gets a number: its dead-letter copies are
     * tallied by it. */
    uint64_t batch_seq;
    uint64_t commit_us_carry; /* commit time not yet counted in whole ms */
    /* the store's count of colliding overlong rdata, as of the last commit */
    uint64_t collisions;
    /* the log of damage reports (the query endpoint's threads report
     * too: the lock) */
    pthread_mutex_t damage_lock;
    px_ratelimit damage_log;

    /* trust: what the centre accepts */
    px_privacy *privacy;
    px_obs_trust trust;
    uint8_t wire[PX_OBS_WIRE_MAX];         /* px_obs_check's scratch: the message in hand's rdata */
    uint64_t batch_refused[PX_OBS__RULES]; /* by rule, counted at commit */
    px_ratelimit refused_log;
    px_org_rate **orgs; /* the bound on new records per organisation */
    size_t n_orgs, cap_orgs;
    px_org_rate *last_org;

    /* the alignment in event time (kafka.align_seconds; none when 0) */
    px_consumer_part *parts;
    size_t n_parts, cap_parts;
    size_t n_held;      /* messages taken from the partitions' queues, not merged */
    uint64_t align_gen; /* moves when the partitions change or rewind */
    /* the message the codec decoded last, if it is still to be merged,
     * and its observation (strings in the codec) */
    const rd_kafka_message_t *align_decoded;
    px_avro_obs align_obs;

    /* run state */
    uint64_t started_ms, idle_since_ms, retry_at_ms, warned_ms;
    bool assigned_once;
    bool fatal;
    /* co-partitioning broken (px_consumer_copartition): the run ends,
     * committing what it merged, with exit status 1 */
    bool copartition_broken;
    px_consumer_stats stats;

    px_metric *m_messages, *m_merged, *m_batches, *m_aborted, *m_commit_ms, *m_last_commit_ms;
    px_metric *m_damage, *m_collisions;
    px_metric *m_copartition; /* pdnsx_consumer_copartition_broken_total */
    px_metric *m_dlq[PX_DLQ__COUNT];
    px_metric *m_refused[PX_OBS__RULES];
    px_metric *m_dlq_truncated, *m_dlq_skipped;
    px_metric *m_store_records, *m_store_domains, *m_store_bytes;
    /* the change feed: changes of the transaction in hand, by kind, and
     * their counters (pdnsx_feed_changes_total{kind}) */
    uint64_t feed_pending[PX_CONSUMER_CHANGE_KINDS];
    px_metric *m_changes[PX_CONSUMER_CHANGE_KINDS];
    uint64_t store_stats_ms; /* when they were last read; 0: never */

    /* detection (NULL: detect.rules is empty) and the alert sinks */
    px_detect *detect;
    px_detect_known *known;
    uint64_t alerts_seen[PX_DETECT_RULES]; /* px_detect_alerts(), as last counted */
    uint64_t state_writes;                 /* px_detect_state_writes(), as last counted */
    bool alerts_decided;                   /* an outbox grew: read their last seqs again */
    px_consumer_sink sinks[PX_CONSUMER_SINKS];
    size_t n_sinks;
    uint64_t cursor_ms; /* when moved cursors were last recorded on their own */
    px_metric *m_alerts[PX_DETECT_RULES], *m_state_writes;
    /* the changelog (px_consumer_clog.c) */
    px_metric *m_clog_rows, *m_clog_failed, *m_clog_restored, *m_clog_restoring;
    px_metric *m_clog_renewed, *m_clog_refused;
};

/* Commit durations, in microseconds (px_clock's milliseconds would round
 * most commits of a small batch to 0). */
static inline uint64_t px_consumer_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The clock of batch age, idle time and retries, read once per message: a
 * few milliseconds of resolution do, and the coarse clock costs a memory
 * read instead of a timer read (1.2% of the consumer's profile). Never
 * compare its readings with px_consumer_now_us()'s. */
static inline uint64_t px_consumer_coarse_ms(void)
{
    return (uint64_t)px_clock_mono_coarse_ms();
}

/* px_consumer.c */
int px_consumer_begin(px_consumer *c);
int px_consumer_commit(px_consumer *c, bool rewind);
/* Abandons the open batch (its messages are read again; with rewind from
 * the stores' offsets now) and pauses for PX_CONSUMER_RETRY_MS. */
void px_consumer_abandon(px_consumer *c, bool rewind);
/* Commits the open batch if it is due (store.batch_records, _ms). */
void px_consumer_commit_due(px_consumer *c);
/* Logs a Kafka event read as a message (an error); a partition's EOF is
 * no news. */
void px_consumer_event(px_consumer *c, const rd_kafka_message_t *m);
int px_consumer_remember(px_consumer *c, const char *topic, int32_t partition, int64_t next);

/* The store of partition (NULL: not attached, or restoring). */
px_consumer_pstore *px_consumer_pstore_of(px_consumer *c, int32_t partition);
/* The store of partition if it is being restored (NULL: it is not). */
px_consumer_pstore *px_consumer_restoring_of(const px_consumer *c, int32_t partition);
/* The transaction of p in the open batch, begun if need be; NULL: the
 * store failed (c->fatal) or a batch log is pending (read again later). */
px_store_batch *px_consumer_pbatch(px_consumer *c, px_consumer_pstore *p);
/* px_consumer_stores.c */
/* The assignment: attaches the stores of parts' partitions, detaches the
 * revoked ones it does not give back; -1: a store cannot be opened
 * (c->fatal). */
int px_consumer_stores_assign(px_consumer *c, const rd_kafka_topic_partition_list_t *parts);
/* A revocation, after the commit: the sinks' cursors recorded in the
 * stores of parts' partitions (those no other topic keeps), marked
 * revoked. */
void px_consumer_stores_revoke(px_consumer *c, const rd_kafka_topic_partition_list_t *parts);
/* Each turn of the main loop: the restores that ended joined, their
 * stores taken into use and their input resumed from the offsets they
 * hold; a failed one stops the consumer (c->fatal). */
void px_consumer_restores_poll(px_consumer *c);
/* At start, before the query endpoint: every partition store the
 * directory holds attached (opening checks it: store.check_on_open),
 * marked revoked until the group assigns its partition. -1 with a message
 * for a store that cannot be opened. Then, once the dead-letter producer
 * is up, px_consumer_stores_preload reads their dead-letter marks. */
int px_consumer_stores_open(px_consumer *c, char *errbuf, size_t errlen);
void px_consumer_stores_preload(px_consumer *c);
void px_consumer_stores_close(px_consumer *c); /* every store detached */
/* Finishes every pending batch log; false: one is still pending (or
 * c->fatal). */
bool px_consumer_logs_done(px_consumer *c);
void px_consumer_save_marks(px_consumer *c);
void px_consumer_prune_marks(px_consumer *c);

/* px_consumer_judge.c */
/* obs: m decoded already, or NULL (decoded here) */
void px_consumer_message(px_consumer *c, const rd_kafka_message_t *m, const px_avro_obs *obs);
bool px_consumer_geo(void *ctx, const uint8_t *addr, size_t len, px_geo *out);

/* px_consumer_alerts.c */
px_change_sink px_consumer_feed(px_consumer *c);
void px_consumer_feed_metrics(px_consumer *c);
int px_consumer_detect_open(px_consumer *c, char *errbuf, size_t errlen); /* before the store */
int px_consumer_sinks_open(px_consumer *c, char *errbuf, size_t errlen);  /* after it */
void px_consumer_alerts_close(px_consumer *c);
void px_consumer_deliver(px_consumer *c);
px_err px_consumer_cursors_into(px_consumer *c, px_consumer_pstore *p);
void px_consumer_cursors_committed(px_consumer *c, px_consumer_pstore *p);
/* A partition store attached: each sink's cursor in it. -1: unreadable. */
int px_consumer_cursors_load(px_consumer *c, px_consumer_pstore *p);
/* A partition store about to be detached: what the sinks hold of its
 * outbox delivered (within PX_CONSUMER_DRAIN_MS), its cursors recorded. */
void px_consumer_sinks_leave(px_consumer *c, px_consumer_pstore *p);
void px_consumer_cursors_record(px_consumer *c, bool force);
void px_consumer_sinks_reopen(px_consumer *c);
void px_consumer_sinks_drain(px_consumer *c);
bool px_consumer_sinks_idle(px_consumer *c, uint64_t now, uint64_t idle_ms);

/* px_consumer_align.c */
/* Merges up to burst messages from the assigned partitions' queues in
 * event time, waiting up to wait_ms once if none can be merged;
 * *caught_up: it waited PX_CONSUMER_CAUGHT_UP_MS or more for nothing.
 * True if it merged or handled anything. */
bool px_consumer_align_read(px_consumer *c, int wait_ms, int burst, bool *caught_up);
/* Gives each new partition of parts its own queue; before assigning them.
 * -1: no memory. */
int px_consumer_align_assign(px_consumer *c, const rd_kafka_topic_partition_list_t *parts);
/* parts NULL: all of them, the handle going away (before it does: a taken
 * message must not outlive it). Their taken messages are dropped: the
 * next owner reads them. */
void px_consumer_align_revoke(px_consumer *c, const rd_kafka_topic_partition_list_t *parts);
/* At a rewind: taken messages dropped, every partition as if new. */
void px_consumer_align_reset(px_consumer *c);
/* partition's queues held (restoring) or, held false, read again from
 * scratch (restored: sought to its store's offsets). */
void px_consumer_align_hold(px_consumer *c, int32_t partition, bool held);
/* px_consumer_lag.c: the lag of the assigned partitions, computed when
 * /metrics is read. NULL l is fine (no memory at start, or destroyed). */
px_consumer_lag *px_consumer_lag_create(rd_kafka_t *rk); /* NULL: no memory */
void px_consumer_lag_destroy(px_consumer_lag *l);        /* before rk; NULL is fine */
/* parts' offsets are where the consumer resumes (the store's) */
void px_consumer_lag_assigned(px_consumer_lag *l, const rd_kafka_topic_partition_list_t *parts);
void px_consumer_lag_revoked(px_consumer_lag *l, const rd_kafka_topic_partition_list_t *parts);
void px_consumer_lag_committed(px_consumer_lag *l, const char *topic, int32_t partition,
                               int64_t next);

/* px_consumer_kafka.c: an assignment the query endpoint could not take
 * (the partition count unknown when it came) is tried again this often. */
#define PX_CONSUMER_OWNER_RETRY_MS 5000
void px_consumer_owner_retry(px_consumer *c, uint64_t now);

/* px_consumer_copart.c */
/* Whether the subscribed topics have equal partition counts, as the
 * cluster tells the dead-letter producer now (waiting up to
 * PX_CONSUMER_PARTITIONS_WAIT_MS). Returns their partitions together (0:
 * none yet, or Kafka cannot tell now), or -1 when the counts differ: why
 * then names each topic with its count, and the metric counts it. */
int px_consumer_copartition(px_consumer *c, char *why, size_t whylen);
/* The same at an assignment, which it then makes whole: a partition
 * number i parts holds of some subscribed topics only (the members saw
 * different topics when the group assigned them, a topic just created:
 * another member may hold the others' i) is left out of parts, with a
 * warning, until the next rebalance assigns it whole. */
int px_consumer_copartition_whole(px_consumer *c, rd_kafka_topic_partition_list_t *parts, char *why,
                                  size_t whylen);

/* px_consumer_clog.c: the partition stores' changelog (kafka.changelog_topic) */
/* kafka.changelog_topic is set (the changelog is on). */
bool px_consumer_clog_on(const px_consumer *c);

/* At start, with each organisation topic's partition count (0: none
 * yet): the topic exists with as many partitions and is compacted.
 * -1 with a message saying what to do. */
int px_consumer_clog_check(px_consumer *c, int partitions, char *errbuf, size_t errlen);
/* p's partition assigned: its producer (transactional id taken over: any
 * earlier owner fenced) and its store's position compared with the end
 * of the changelog. 0: caught up, its transactions published from now
 * on; 1: behind, its restore started on its own thread (p->restore; a
 * store that holds data but no position is moved aside first, a new one
 * restored); -1: logged (the consumer stops). */
int px_consumer_clog_attach(px_consumer *c, px_consumer_pstore *p);
/* p's restore: 0 still running; 1 done (or none), its transactions
 * published from now on; -1 failed (logged) or, with cancel, stopped
 * (waits for the chunk in hand). Joined unless 0. */
int px_consumer_clog_finish(px_consumer *c, px_consumer_pstore *p, bool cancel);
/* Before p's store is detached: publishing stops, the producer goes. */
void px_consumer_clog_detach(px_consumer_pstore *p);

/* px_consumer_kafka.c */
/* kafka.brokers and kafka.properties(_file), for each handle of ours
 * (pointers into c->conf) */
px_kafka_settings px_consumer_kafka_settings(const px_consumer *c);
int px_consumer_kafka(px_consumer *c, char *errbuf, size_t errlen);
void px_consumer_rewind(px_consumer *c);
/* partition's input resumed from the offsets its restored store holds
 * (paused in the assignment while the store restores). */
void px_consumer_input_resume(px_consumer *c, int32_t partition);

#endif
