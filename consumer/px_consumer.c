/* px_consumer.c: the consumer's Kafka loop. One thread does everything
 * (librdkafka's consumer and the dead-letter producer are served from it),
 * so the store batch needs no lock. */
#include "consumer/px_consumer.h"

#include <inttypes.h>
#include <pthread.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "obs/px_avro.h"
#include "dns/px_dns_type.h"
#include "px_dlq.h"
#include "px_geoip.h"
#include "core/px_log.h"
#include "core/px_metrics.h"
#include "obs/px_obs.h"
#include "obs/px_privacy.h"
#include "obs/px_psl.h"
#include "query/px_query.h"
#include "core/px_ratelimit.h"
#include "store/px_store.h"

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

struct px_consumer {
    const px_consumer_conf *conf;
    px_consumer_opts opts;
    px_store *store;
    px_geoip *geoip;
    px_metrics_server *metrics;
    px_query_server *query;
    rd_kafka_t *rk;  /* consumer */
    rd_kafka_t *dlq; /* dead-letter producer */
    px_dlq *dl;      /* its copies and their acknowledgements */
    size_t dlq_max;  /* largest copy: dlq.max_bytes, or message.max.bytes if lower */
    px_avro_codec *codec;
    px_psl_cache *psl;

    /* the open batch */
    px_store_batch *batch;
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
    uint64_t batch_refused[PX_OBS__RULES]; /* by rule, counted at commit */
    px_ratelimit refused_log;
    px_org_rate **orgs; /* the bound on new records per organisation */
    size_t n_orgs, cap_orgs;
    px_org_rate *last_org;

    /* run state */
    uint64_t started_ms, idle_since_ms, retry_at_ms, warned_ms;
    bool assigned_once;
    bool fatal;
    px_consumer_stats stats;

    px_metric *m_messages, *m_merged, *m_batches, *m_aborted, *m_commit_ms, *m_last_commit_ms;
    px_metric *m_damage, *m_collisions;
    px_metric *m_dlq[PX_DLQ__COUNT];
    px_metric *m_refused[PX_OBS__RULES];
    px_metric *m_dlq_truncated, *m_dlq_skipped;
};

static uint64_t px_consumer_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The clock of batch age, idle time and retries, read once per message: a
 * few milliseconds of resolution do, and the coarse clock costs a memory
 * read instead of a timer read (1.2% of the consumer's profile). Commit
 * durations use the precise one. Never compare readings of the two. */
static uint64_t px_consumer_coarse_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int64_t px_consumer_wall(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL);
}

/* ---- the batch ---------------------------------------------------------------- */

static void px_consumer_forget_positions(px_consumer *c)
{
    for (size_t i = 0; i < c->n_pos; i++)
        free(c->pos[i].topic);
    c->n_pos = 0;
}

static void px_consumer_trust_reset(px_consumer *c);

static void px_consumer_reset_batch(px_consumer *c)
{
    px_consumer_trust_reset(c);
    c->batch = NULL;
    c->batch_msgs = c->batch_merged = 0;
    memset(c->batch_dlq, 0, sizeof(c->batch_dlq));
    px_consumer_forget_positions(c);
}

static int px_consumer_remember(px_consumer *c, const char *topic, int32_t partition, int64_t next)
{
    for (size_t i = 0; i < c->n_pos; i++) {
        if (c->pos[i].partition == partition && strcmp(c->pos[i].topic, topic) == 0) {
            c->pos[i].next = next;
            return 0;
        }
    }
    if (c->n_pos == c->cap_pos) {
        size_t cap = c->cap_pos ? 2 * c->cap_pos : 16;
        px_consumer_pos *p = realloc(c->pos, cap * sizeof(*p));
        if (!p)
            return -1;
        c->pos = p;
        c->cap_pos = cap;
    }
    char *t = strdup(topic);
    if (!t)
        return -1;
    c->pos[c->n_pos++] = (px_consumer_pos){t, partition, next};
    return 0;
}

/* Sets each partition's offset to where the store says it resumes. */
static void px_consumer_offsets_from_store(px_consumer *c, rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        int64_t next;
        px_err err = px_store_get_offset(c->store, tp->topic, tp->partition, &next);
        if (err == PX_OK) {
            tp->offset = next;
        } else if (err == PX_ERR_NOTFOUND) {
            tp->offset = RD_KAFKA_OFFSET_BEGINNING;
        } else {
            /* Guessing would count twice or skip: stop instead. */
            px_error("store: offset of %s [%" PRId32 "]: %s", tp->topic, tp->partition,
                     px_strerror(err));
            c->fatal = true;
            tp->offset = RD_KAFKA_OFFSET_END;
        }
    }
}

/* After an abandoned batch, read its messages again from where the store
 * stands. */
static void px_consumer_rewind(px_consumer *c)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(c->rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || !parts)
        return;
    if (parts->cnt > 0) {
        px_consumer_offsets_from_store(c, parts);
        rd_kafka_error_t *e = rd_kafka_seek_partitions(c->rk, parts, 10000);
        if (e) {
            px_error("Kafka: cannot rewind after an abandoned batch: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            c->fatal = true;
        }
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

/* ---- the dead-letter record ------------------------------------------------------ */

typedef struct px_consumer_marks {
    px_store_dlq_ent *v;
    size_t n, cap;
    bool nomem;
} px_consumer_marks;

static void px_consumer_mark(void *ctx, const char *topic, int32_t partition, int64_t offset,
                             bool skipped)
{
    px_consumer_marks *m = ctx;
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 64;
        px_store_dlq_ent *v = m->nomem ? NULL : realloc(m->v, cap * sizeof(*v));
        if (!v) {
            m->nomem = true;
            return;
        }
        m->v = v;
        m->cap = cap;
    }
    m->v[m->n++] = (px_store_dlq_ent){topic, partition, offset, skipped};
}

/* An abandoned batch's settled dead-letter copies go into the store, so
 * that a restart before the batch commits does not send them again (the
 * in-process retry knows them anyway). A failure costs duplicates after a
 * restart, nothing else. */
static void px_consumer_save_marks(px_consumer *c)
{
    px_consumer_marks m = {0};
    if (!c->dl || px_dlq_unsaved(c->dl, px_consumer_mark, &m) == 0)
        return;
    px_err err = m.nomem ? PX_ERR_NOMEM : px_store_dlq_mark(c->store, m.v, m.n);
    if (err == PX_OK)
        px_dlq_saved(c->dl);
    else
        px_warning("store: cannot record %zu acknowledged dead-letter copies: %s (a restart "
                   "before their batch commits sends them again)",
                   m.n, px_strerror(err));
    free(m.v);
}

/* Marks from an earlier run: the copies it had sent for messages not yet
 * committed. Those the offsets passed are deleted first. */
static bool px_consumer_preload_one(void *ctx, const px_store_dlq_ent *mark)
{
    px_consumer *c = ctx;
    return px_dlq_preload(c->dl, mark->topic, mark->partition, mark->offset, mark->skipped) ==
           PX_OK;
}

static void px_consumer_preload_marks(px_consumer *c)
{
    size_t left = 0;
    px_err err = px_store_dlq_prune(c->store, &left);
    if (err == PX_ERR_MALFORMED) {
        px_warning("store: %s/dlq.marks is damaged and was removed: dead-letter copies of "
                   "the last abandoned batch may be sent again",
                   c->conf->store_path);
        return;
    }
    if (err == PX_OK && left > 0)
        err = px_store_dlq_acked(c->store, px_consumer_preload_one, c);
    if (err != PX_OK)
        px_warning("store: cannot read the acknowledged dead-letter copies: %s (those of the "
                   "last abandoned batch may be sent again)",
                   px_strerror(err));
    else if (left > 0)
        px_info("store: %zu dead-letter copies of an abandoned batch were acknowledged; they "
                "are not sent again",
                left);
}

static void px_consumer_abort(px_consumer *c, bool rewind)
{
    px_store_batch_abort(c->batch);
    px_consumer_reset_batch(c);
    px_consumer_save_marks(c);
    c->stats.aborted++;
    px_metric_inc(c->m_aborted);
    c->retry_at_ms = px_consumer_coarse_ms() + PX_CONSUMER_RETRY_MS;
    /* The abandoned messages are not consumed: run.exit_idle counts from
     * when reading resumes. */
    c->idle_since_ms = c->retry_at_ms;
    if (rewind)
        px_consumer_rewind(c);
}

static bool px_consumer_log_done(px_consumer *c, bool rewind);

static int px_consumer_begin(px_consumer *c)
{
    /* A commit whose application stopped (PX_ERR_AGAIN) may be followed by
     * more messages of the same read: the message in hand is read again
     * if the last batch cannot be finished now. */
    if (!px_consumer_log_done(c, true))
        return -1;
    px_err err = px_store_batch_begin(c->store, &c->batch);
    if (err != PX_OK) {
        px_error("store: cannot begin a transaction: %s", px_strerror(err));
        c->batch = NULL;
        c->fatal = true;
        return -1;
    }
    c->batch_start_ms = px_consumer_coarse_ms();
    c->batch_seq++;
    return 0;
}

/* Kafka's committed offsets are for monitoring (consumer lag) only: the
 * store is where the consumer resumes. */
static void px_consumer_commit_kafka(px_consumer *c)
{
    if (c->n_pos == 0)
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)c->n_pos);
    for (size_t i = 0; i < c->n_pos; i++)
        rd_kafka_topic_partition_list_add(l, c->pos[i].topic, c->pos[i].partition)->offset =
            c->pos[i].next;
    rd_kafka_resp_err_t err = rd_kafka_commit(c->rk, l, 1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        px_debug("Kafka: offset commit (monitoring only): %s", rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(l);
}

/* us: how long the commit took, in microseconds. The milliseconds total
 * carries the remainder over, so that many commits under a millisecond
 * each still add up. */
static void px_consumer_count_commit(px_consumer *c, uint64_t us, const px_dlq_tally *t)
{
    uint64_t ms = (us + c->commit_us_carry) / 1000u;
    c->commit_us_carry = (us + c->commit_us_carry) % 1000u;
    memcpy(c->batch_dlq, t->acked, sizeof(c->batch_dlq));
    c->stats.dlq_truncated += t->truncated;
    c->stats.dlq_skipped += t->skipped;
    px_metric_add(c->m_dlq_truncated, t->truncated);
    px_metric_add(c->m_dlq_skipped, t->skipped);
    uint64_t dlq = 0;
    for (int r = 1; r < PX_DLQ__COUNT; r++) {
        dlq += c->batch_dlq[r];
        px_metric_add(c->m_dlq[r], c->batch_dlq[r]);
    }
    c->stats.batches++;
    c->stats.merged += c->batch_merged;
    c->stats.dlq += dlq;
    px_metric_inc(c->m_batches);
    px_metric_add(c->m_merged, c->batch_merged);
    px_metric_add(c->m_commit_ms, ms);
    px_metric_set(c->m_last_commit_ms, (int64_t)(us / 1000u));
}

/* A commit drops the observations of an overlong rdata whose hash meets a
 * different stored one instead of refusing messages: say so when one did. */
static void px_consumer_check_store(px_consumer *c)
{
    uint64_t damaged, collisions;
    px_store_get_counters(c->store, &damaged, &collisions);
    if (collisions > c->collisions)
        px_warning("store: %" PRIu64 " records kept against a colliding overlong rdata, its "
                   "observations dropped (%" PRIu64 " since start)",
                   collisions - c->collisions, collisions);
    px_metric_add(c->m_collisions, collisions - c->collisions);
    c->collisions = collisions;
}

/* ---- trust: counts of the open batch ------------------------------------------------ */

/* The open batch is gone (committed or abandoned): its per-organisation
 * and per-rule counts start over. */
static void px_consumer_trust_reset(px_consumer *c)
{
    memset(c->batch_refused, 0, sizeof(c->batch_refused));
    for (size_t i = 0; i < c->n_orgs; i++) {
        px_org_rate *o = c->orgs[i];
        o->batch_obs = o->batch_new = o->batch_rejected = 0;
    }
}

/* A batch committed: its refusals are counted, and each organisation's
 * count of new records this minute is read from the store, where the
 * flush counted them exactly. */
static void px_consumer_trust_committed(px_consumer *c)
{
    for (int r = 1; r < PX_OBS__RULES; r++)
        px_metric_add(c->m_refused[r], c->batch_refused[r]);
    for (size_t i = 0; i < c->n_orgs; i++) {
        px_org_rate *o = c->orgs[i];
        o->committed = px_store_org_new_records(c->store, o->org) - o->base;
        if (o->batch_rejected)
            px_metric_add(o->m_rejected, o->batch_rejected);
    }
}

/* Waits for the batch's dead-letter copies. True if every one is settled:
 * acknowledged, or given up (the loud line: a message skipped without a
 * copy). False: some are unacknowledged or failed, and the batch must
 * wait (it is abandoned, to be read again). */
static bool px_consumer_dlq_settled(px_consumer *c, px_dlq_tally *t)
{
    if (rd_kafka_outq_len(c->dlq) > 0)
        rd_kafka_flush(c->dlq, c->opts.dlq_timeout_ms + 5000);
    px_dlq_tally_batch(c->dl, c->batch_seq, t);
    if (t->pending || t->failed) {
        px_warning("dead-letter topic: %" PRIu64 " copies unacknowledged, %" PRIu64
                   " failed%s%s%s%s; batch of %" PRIu64 " messages abandoned, will retry",
                   t->pending, t->failed, t->failed ? " (first: " : "", t->failed_at,
                   t->failed ? ": " : "", t->failed ? rd_kafka_err2str(t->failed_err) : "",
                   c->batch_msgs);
        return false;
    }
    if (t->skipped)
        px_error("dead-letter topic: %" PRIu64 " messages skipped WITHOUT a dead-letter copy: "
                 "Kafka refused their copies for good, even cut to %d bytes (first: %s: %s); "
                 "see pdnsx.dlq's max.message.bytes and dlq.max_bytes",
                 t->skipped, PX_DLQ_SMALL_BYTES, t->skipped_at, rd_kafka_err2str(t->skipped_err));
    return true;
}

#define PX_CONSUMER_DAMAGE_LINES 20 /* damage reports logged a minute, at most */

/* The store met damage (opening, merging, or a query of the endpoint, in
 * its threads): counted, and logged at most PX_CONSUMER_DAMAGE_LINES a
 * minute (a damaged page every query passes would flood the log). */
static void px_consumer_damage(void *ctx, const char *where, const char *what)
{
    px_consumer *c = ctx;
    px_metric_inc(c->m_damage);
    uint64_t held = 0;
    pthread_mutex_lock(&c->damage_lock);
    bool log = px_ratelimit_allow(&c->damage_log, (int64_t)px_consumer_coarse_ms(), &held);
    pthread_mutex_unlock(&c->damage_lock);
    if (held)
        px_error("store: %" PRIu64 " more damage reports were not logged (a minute holds %d)", held,
                 PX_CONSUMER_DAMAGE_LINES);
    if (log)
        px_error("store: damaged: %s: %s", where, what);
}

/* Commits the open batch. Dead-letter copies first: a message may be
 * skipped only once its copy is safe in Kafka (or Kafka refused the copy
 * for good). On failure the batch is abandoned (its messages will be read
 * again) and -1 returned. */
static int px_consumer_commit(px_consumer *c, bool rewind)
{
    if (!c->batch)
        return 0;
    uint64_t t0 = px_consumer_now_us();
    px_dlq_tally t;
    if (!px_consumer_dlq_settled(c, &t)) {
        px_consumer_abort(c, rewind);
        return -1;
    }
    px_err err = px_store_batch_commit(c->batch);
    if (err == PX_ERR_AGAIN) /* committed; px_consumer_step resumes the rest */
        px_warning("store: batch of %" PRIu64 " messages committed, but applying it stopped; "
                   "resuming before the next one",
                   c->batch_msgs);
    else if (err == PX_ERR_DAMAGED) { /* never merge into a store that cannot be trusted */
        bool pending = px_store_log_pending(c->store);
        px_error("store: %s is damaged (reported above): %s; stopping (README: recovering a "
                 "damaged store)",
                 c->conf->store_path,
                 pending ? "a batch's offsets are committed but applying it met the damage"
                         : "the batch was not committed");
        px_consumer_reset_batch(c);
        c->fatal = true;
        return -1;
    } else if (err != PX_OK) {
        c->batch = NULL; /* commit freed it */
        px_error("store: commit of %" PRIu64 " messages failed: %s; will retry", c->batch_msgs,
                 px_strerror(err));
        px_consumer_abort(c, rewind);
        return -1;
    }
    px_consumer_count_commit(c, px_consumer_now_us() - t0, &t);
    /* The batch's copies are behind its offsets now: forget them, and
     * their record in the store if an abandoned attempt made one. */
    if (px_dlq_forget(c->dl, c->batch_seq) > 0)
        px_store_dlq_prune(c->store, NULL);
    px_consumer_check_store(c);
    px_consumer_trust_committed(c);
    px_consumer_commit_kafka(c);
    px_debug("batch committed: %" PRIu64 " messages, %" PRIu64 " merged", c->batch_msgs,
             c->batch_merged);
    px_consumer_reset_batch(c);
    return 0;
}

static bool px_consumer_batch_due(const px_consumer *c, uint64_t now)
{
    return c->batch && (c->batch_msgs >= (uint64_t)c->conf->batch_records ||
                        now - c->batch_start_ms >= (uint64_t)c->conf->batch_ms);
}

/* ---- one message ---------------------------------------------------------------- */

static bool px_consumer_geo(void *ctx, const char *address, px_store_geo *out);

/* Finishes a big batch whose application stopped (a crash, a full map):
 * its offsets are committed, so no later message is read before it is
 * whole. False: try again later. */
static bool px_consumer_resume(px_consumer *c)
{
    uint64_t lost = 0;
    px_err err = px_store_resume(c->store, c->geoip ? px_consumer_geo : NULL, c, &lost);
    if (err == PX_OK) {
        px_info("store: the last batch is applied");
        return true;
    }
    if (err == PX_ERR_MALFORMED) { /* store.drop_damaged_log */
        px_error("store: the batch log %s/batch.log is missing or damaged: %" PRIu64
                 " chunks of the last batch's records are dropped (store.drop_damaged_log)",
                 c->conf->store_path, lost);
        return true;
    }
    if (err == PX_ERR_DAMAGED) {
        px_error("store: the last batch cannot be applied: the store or its batch log is "
                 "damaged (reported above); stopping (README: recovering a damaged store)");
        c->fatal = true;
        return false;
    }
    px_error("store: cannot finish applying the last batch: %s; will retry", px_strerror(err));
    return false;
}

/* The store takes no batch before the last big one is whole: true if no
 * batch log is pending (finished now if need be), else the consumer
 * pauses, and with rewind reads the messages it took again from the
 * store's offsets. */
static bool px_consumer_log_done(px_consumer *c, bool rewind)
{
    if (!px_store_log_pending(c->store) || px_consumer_resume(c))
        return true;
    c->retry_at_ms = px_consumer_coarse_ms() + PX_CONSUMER_RETRY_MS;
    c->idle_since_ms = c->retry_at_ms;
    if (rewind)
        px_consumer_rewind(c);
    return false;
}

static bool px_consumer_geo(void *ctx, const char *address, px_store_geo *out)
{
    px_consumer *c = ctx;
    px_geoip_answer a;
    if (!px_geoip_lookup(c->geoip, address, &a))
        return false;
    memcpy(out->country, a.country, sizeof(out->country));
    out->asn = a.asn;
    memcpy(out->as_org, a.as_org, sizeof(out->as_org));
    return true;
}

/* Merges a trusted observation; a reason if the store refuses it as
 * invalid. Other store errors are fatal. */
static px_dlq_reason px_consumer_merge(px_consumer *c, const px_avro_obs *obs, char *why,
                                       size_t whylen)
{
    const char *reg;
    size_t reglen;
    char regdom[256];
    px_err err = px_psl_cache_lookup(c->psl, obs->rrname, strlen(obs->rrname), &reg, &reglen);
    if (err != PX_OK || reglen >= sizeof(regdom)) {
        snprintf(why, whylen, "invalid: no registered domain for the name");
        return PX_DLQ_INVALID;
    }
    memcpy(regdom, reg, reglen);
    regdom[reglen] = '\0';
    err = px_store_merge(c->batch, obs, regdom, c->geoip ? px_consumer_geo : NULL, c);
    if (err == PX_ERR_INVAL || err == PX_ERR_MALFORMED || err == PX_ERR_TOOLONG ||
        err == PX_ERR_UNSUPPORTED) {
        snprintf(why, whylen, "store: %s", px_strerror(err));
        return PX_DLQ_STORE;
    }
    if (err != PX_OK) {
        px_error("store: merge failed: %s%s", px_strerror(err),
                 err == PX_ERR_DAMAGED
                     ? " (reported above); stopping (README: recovering a damaged store)"
                     : "");
        c->fatal = true;
        return PX_DLQ_NONE;
    }
    c->batch_merged++;
    return PX_DLQ_NONE;
}

/* ---- trust: the centre's rules -------------------------------------------------------- */

/* An untrusted record is logged at most once per PX_CONSUMER_REFUSED_LOG_MS
 * (a member could flood the log); the line counts the others. The reason
 * names no client: observations carry none. */
static void px_consumer_log_refused(px_consumer *c, const char *org, const char *why)
{
    uint64_t held = 0;
    if (!px_ratelimit_allow(&c->refused_log, (int64_t)px_consumer_coarse_ms(), &held))
        return;
    px_warning("org %s: record refused, %s (and %" PRIu64 " more since the last line like "
               "this; each goes to %s)",
               org, why, held, PX_CONSUMER_DLQ_TOPIC);
}

/* When the message was written, as the trust check reads it: its Kafka
 * timestamp (the broker's with LogAppendTime, else the producer's), never
 * later than our own clock, so a producer's clock cannot move the fence. */
static int64_t px_consumer_written(const rd_kafka_message_t *m, int64_t now)
{
    rd_kafka_timestamp_type_t type;
    int64_t ms = rd_kafka_message_timestamp(m, &type);
    if (type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || ms < 0)
        return now;
    return ms / 1000 < now ? ms / 1000 : now;
}

/* px_obs_validate, then the centre's rules (px_obs_trust_check). */
static px_dlq_reason px_consumer_trust(px_consumer *c, const rd_kafka_message_t *m,
                                       const px_avro_obs *obs, int64_t now, char *why,
                                       size_t whylen)
{
    char vwhy[256] = "";
    px_obs_rule r = PX_OBS_FORM;
    if (px_obs_validate(obs, now, vwhy, sizeof(vwhy)) == PX_OK)
        r = px_obs_trust_check(&c->trust, obs, px_consumer_written(m, now), vwhy, sizeof(vwhy));
    if (r == PX_OBS_TRUSTED)
        return PX_DLQ_NONE;
    snprintf(why, whylen, "invalid: %s", vwhy);
    c->batch_refused[r]++;
    px_consumer_log_refused(c, obs->org, why);
    return PX_DLQ_INVALID;
}

/* ---- trust: the bound on new records per organisation --------------------------------
 *
 * trust.org_new_records bounds how many records new to the store one
 * organisation adds per minute, so that a member (or stolen credentials)
 * cannot fill the store, without slowing the others. Only the store's
 * flush knows whether a record is new, so the store counts new records
 * per organisation at each commit (px_store_org_new_records), and here:
 *  - an organisation whose committed new records this minute plus its
 *    observations in the open batch stay within the bound cannot pass it
 *    (each observation adds at most one record): nothing is looked up;
 *  - the first observation that could pass it commits the open batch, if
 *    that holds any of the organisation's, so that the count is exact;
 *    from then until the minute ends, each of its observations is looked
 *    up (px_store_batch_known): a record the batch or the store holds
 *    merges as always, a new one counts, and one past the bound goes to
 *    the dead-letter topic as org_rate. Only organisations at their bound
 *    pay the lookups, and each causes at most one early commit a minute.
 * The minute is the message's LogAppendTime (set by the broker, so a
 * member cannot choose it; topics should be created with
 * message.timestamp.type=LogAppendTime), else our clock: then a backlog
 * read after an outage counts against the minutes it is read in. A record
 * new in a batch counts for every organisation that observed it there, and
 * the minute only moves forward (messages of several partitions interleave
 * their timestamps). Counts are this process's, over the partitions it
 * owns: a restart starts them afresh, and each group member bounds its
 * own share. */

/* The organisation's counter, created on its first message; NULL on no
 * memory. Few organisations, and long runs of one: a list and the last
 * one used. */
static px_org_rate *px_consumer_org(px_consumer *c, const char *org)
{
    if (c->last_org && strcmp(c->last_org->org, org) == 0)
        return c->last_org;
    for (size_t i = 0; i < c->n_orgs; i++) {
        if (strcmp(c->orgs[i]->org, org) == 0)
            return c->last_org = c->orgs[i];
    }
    if (c->n_orgs == c->cap_orgs) {
        size_t cap = c->cap_orgs ? 2 * c->cap_orgs : 16;
        px_org_rate **v = realloc(c->orgs, cap * sizeof(*v));
        if (!v)
            return NULL;
        c->orgs = v;
        c->cap_orgs = cap;
    }
    px_org_rate *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    snprintf(o->org, sizeof(o->org), "%s", org);
    o->minute = INT64_MIN;
    c->orgs[c->n_orgs++] = o;
    return c->last_org = o;
}

/* The minute a message counts in (see above); now: our clock. */
static int64_t px_consumer_minute(const rd_kafka_message_t *m, int64_t now)
{
    rd_kafka_timestamp_type_t type;
    int64_t ms = rd_kafka_message_timestamp(m, &type);
    if (type == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME && ms >= 0)
        return ms / 60000;
    return now >= 0 ? now / 60 : 0;
}

/* A new minute for o: its count starts over. */
static void px_consumer_org_minute(px_consumer *c, px_org_rate *o, int64_t minute)
{
    if (o->rejected)
        px_info("org %s: %" PRIu64 " observations of new records dead-lettered in its last "
                "minute at the bound (trust.org_new_records %" PRId64 ")",
                o->org, o->rejected, c->conf->trust_org_new_records);
    o->minute = minute;
    o->base = px_store_org_new_records(c->store, o->org);
    o->committed = 0;
    /* what the open batch holds of it counts in the new minute */
    o->batch_obs += o->batch_new;
    o->batch_new = 0;
    o->rejected = 0;
    o->bounded = false;
}

/* Commits the open batch and opens the next one, for an exact count. False
 * if either failed: the message in hand is read again later. */
static bool px_consumer_commit_early(px_consumer *c)
{
    px_debug("committing early: an organisation nears trust.org_new_records");
    return px_consumer_commit(c, true) == 0 && px_consumer_begin(c) == 0;
}

static px_dlq_reason px_consumer_org_refuse(px_consumer *c, px_org_rate *o, char *why,
                                            size_t whylen)
{
    int64_t bound = c->conf->trust_org_new_records;
    if (!o->m_rejected) {
        char name[128];
        snprintf(name, sizeof(name), "pdnsx_consumer_org_new_records_rejected_total{org=\"%s\"}",
                 o->org);
        o->m_rejected = px_metric_counter(name, "Observations of new records dead-lettered "
                                                "because their organisation reached "
                                                "trust.org_new_records (committed)");
    }
    if (o->rejected++ == 0)
        px_warning("org %s reached its bound of %" PRId64 " new records this minute "
                   "(trust.org_new_records): its observations of further new records go to %s "
                   "until the minute ends",
                   o->org, bound, PX_CONSUMER_DLQ_TOPIC);
    o->batch_rejected++;
    snprintf(why, whylen, "org_rate: %s added %" PRId64 " new records this minute, its bound",
             o->org, bound);
    return PX_DLQ_ORG_RATE;
}

/* Whether a trusted observation of org may merge: PX_DLQ_NONE, or a reason
 * to dead-letter it; with c->batch NULL after it, the batch was abandoned
 * (the message is read again). */
static px_dlq_reason px_consumer_org_bound(px_consumer *c, const rd_kafka_message_t *m,
                                           const px_avro_obs *obs, int64_t now, char *why,
                                           size_t whylen)
{
    uint64_t bound = (uint64_t)c->conf->trust_org_new_records;
    px_org_rate *o = bound ? px_consumer_org(c, obs->org) : NULL;
    if (!o)
        return PX_DLQ_NONE; /* no bound, or no memory for one: the store still works */
    int64_t minute = px_consumer_minute(m, now);
    if (minute > o->minute)
        px_consumer_org_minute(c, o, minute);
    if (!o->bounded) {
        if (o->committed + o->batch_obs < bound) {
            o->batch_obs++;
            return PX_DLQ_NONE;
        }
        if (o->batch_obs && !px_consumer_commit_early(c))
            return PX_DLQ_NONE;
        o->bounded = true;
        px_debug("org %s: %" PRIu64 " new records this minute: looking up each observation", o->org,
                 o->committed);
    }
    bool known = false;
    px_err err = px_store_batch_known(c->batch, obs, &known);
    if (err == PX_ERR_INVAL || err == PX_ERR_MALFORMED || err == PX_ERR_TOOLONG)
        return PX_DLQ_NONE; /* the merge refuses it and says why */
    if (err != PX_OK) {
        px_error("store: lookup failed: %s%s", px_strerror(err),
                 err == PX_ERR_DAMAGED
                     ? " (reported above); stopping (README: recovering a damaged store)"
                     : "");
        c->fatal = true;
        return PX_DLQ_NONE;
    }
    if (known)
        return PX_DLQ_NONE;
    if (o->committed + o->batch_new >= bound)
        return px_consumer_org_refuse(c, o, why, whylen);
    o->batch_new++;
    return PX_DLQ_NONE;
}

/* Decides whether a message can be trusted, and merges it if so. */
static px_dlq_reason px_consumer_judge(px_consumer *c, const rd_kafka_message_t *m,
                                       const char *topic, char *why, size_t whylen)
{
    char org[64];
    if (!px_obs_org_from_topic(topic, org, sizeof(org))) {
        snprintf(why, whylen, "topic: %s names no organisation", topic);
        return PX_DLQ_TOPIC;
    }
    px_avro_obs obs;
    px_err err = m->payload ? px_avro_decode(c->codec, m->payload, m->len, &obs) : PX_ERR_TRUNC;
    if (err == PX_ERR_NOTFOUND) {
        snprintf(why, whylen, "decode: unknown fingerprint");
        return PX_DLQ_DECODE;
    }
    if (err != PX_OK) {
        snprintf(why, whylen, "decode: %s", px_strerror(err));
        return PX_DLQ_DECODE;
    }
    /* the registered domain is looked up after the checks: its cache line
     * arrives meanwhile */
    if (obs.rrname)
        px_psl_cache_prefetch(c->psl, obs.rrname, strlen(obs.rrname));
    if (strcmp(obs.org, org) != 0) {
        snprintf(why, whylen, "org mismatch: record says %s, topic says %s", obs.org, org);
        return PX_DLQ_ORG;
    }
    int64_t now = c->opts.clock(c->opts.clock_ctx);
    px_dlq_reason r = px_consumer_trust(c, m, &obs, now, why, whylen);
    if (r == PX_DLQ_NONE)
        r = px_consumer_org_bound(c, m, &obs, now, why, whylen);
    if (r != PX_DLQ_NONE || c->fatal || !c->batch)
        return r;
    return px_consumer_merge(c, &obs, why, whylen);
}

/* Sends the message to the dead-letter topic (px_dlq: unchanged, or cut
 * to dlq.max_bytes, with why and where in headers), once per message
 * however often its batch is read again. A copy that cannot be queued
 * holds the batch back. */
static void px_consumer_to_dlq(px_consumer *c, const rd_kafka_message_t *m, const char *why,
                               px_dlq_reason reason)
{
    px_debug("dead-letter: %s [%" PRId32 "] @%" PRId64 ": %s", rd_kafka_topic_name(m->rkt),
             m->partition, m->offset, why);
    px_err err = px_dlq_send(c->dl, m, why, (int)reason, c->batch_seq);
    if (err == PX_ERR_NOMEM) {
        px_error("dead-letter topic: out of memory");
        c->fatal = true;
    } else if (err != PX_OK) {
        px_debug("dead-letter topic: cannot queue the copy of %s [%" PRId32 "] @%" PRId64,
                 rd_kafka_topic_name(m->rkt), m->partition, m->offset);
    }
}

static void px_consumer_message(px_consumer *c, const rd_kafka_message_t *m)
{
    if (c->fatal || (!c->batch && px_consumer_begin(c) < 0))
        return;
    c->stats.messages++;
    px_metric_inc(c->m_messages);
    const char *topic = rd_kafka_topic_name(m->rkt);
    char why[512];
    px_dlq_reason r = px_consumer_judge(c, m, topic, why, sizeof(why));
    if (c->fatal || !c->batch) /* no batch: an early commit failed, read it again */
        return;
    if (r != PX_DLQ_NONE)
        px_consumer_to_dlq(c, m, why, r);
    /* Every message, trusted or not, moves its partition on in the same
     * transaction. */
    px_err err = px_store_set_offset(c->batch, topic, m->partition, m->offset + 1);
    if (err != PX_OK || px_consumer_remember(c, topic, m->partition, m->offset + 1) < 0) {
        px_error("store: cannot record the offset of %s [%" PRId32 "]: %s", topic, m->partition,
                 px_strerror(err != PX_OK ? err : PX_ERR_NOMEM));
        c->fatal = true;
        return;
    }
    c->batch_msgs++;
}

/* ---- Kafka callbacks -------------------------------------------------------------- */

static void px_consumer_assign(px_consumer *c, rd_kafka_t *rk,
                               rd_kafka_topic_partition_list_t *parts, bool coop)
{
    px_consumer_offsets_from_store(c, parts);
    for (int i = 0; i < parts->cnt; i++)
        px_info("assigned %s [%" PRId32 "] from offset %" PRId64 "%s", parts->elems[i].topic,
                parts->elems[i].partition, parts->elems[i].offset,
                parts->elems[i].offset == RD_KAFKA_OFFSET_BEGINNING ? " (beginning)" : "");
    c->assigned_once = true;
    c->idle_since_ms = px_consumer_coarse_ms();
    if (coop) {
        rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
        if (e) {
            px_error("Kafka: assign: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            c->fatal = true;
        }
    } else if (rd_kafka_assign(rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        px_error("Kafka: assign failed");
        c->fatal = true;
    }
}

static void px_consumer_revoke(px_consumer *c, rd_kafka_t *rk,
                               rd_kafka_topic_partition_list_t *parts, bool coop)
{
    /* The next owner resumes from the store: commit what we hold first. */
    bool failed = px_consumer_commit(c, false) < 0;
    px_info("revoked %d partition(s)", parts->cnt);
    if (coop) {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
        if (e)
            rd_kafka_error_destroy(e);
    } else {
        rd_kafka_assign(rk, NULL);
    }
    if (failed) /* partitions we keep go back to where the store stands */
        px_consumer_rewind(c);
}

static void px_consumer_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                     rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    px_consumer *c = opaque;
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        px_consumer_assign(c, rk, parts, coop);
    else
        px_consumer_revoke(c, rk, parts, coop);
}

/* Failures are summed up per batch (px_consumer_dlq_settled): an outage
 * fails every copy, one line each would flood the log. */
static void px_consumer_dlq_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    px_consumer *c = opaque;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
        px_debug("dead-letter topic: delivery failed: %s", rd_kafka_err2str(m->err));
    px_dlq_delivered(c->dl, m);
}

static void px_consumer_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    px_log(level <= 3   ? PX_LOG_ERROR
           : level == 4 ? PX_LOG_WARNING
           : level <= 6 ? PX_LOG_INFO
                        : PX_LOG_DEBUG,
           "librdkafka %s: %s", fac, buf);
}

static void px_consumer_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    px_consumer *c = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_fatal_error(rk, why, sizeof(why));
        px_error("Kafka: fatal: %s", why);
        c->fatal = true;
        return;
    }
    /* Broker outages are transient: librdkafka retries. */
    px_warning("Kafka: %s: %s", rd_kafka_err2name(err), reason);
}

/* ---- set-up ----------------------------------------------------------------------- */

static rd_kafka_conf_t *px_consumer_kafka_conf(px_consumer *c, const char *const (*ours)[2],
                                               size_t n, char *errbuf, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* Our choices first; kafka.properties last so an operator wins, except
     * over the memory bound, which has settings of its own. */
    for (size_t i = 0; i < n; i++)
        if (rd_kafka_conf_set(conf, ours[i][0], ours[i][1], errbuf, errlen) != RD_KAFKA_CONF_OK)
            goto fail;
    for (size_t i = 0; i < c->conf->n_kafka_properties; i++) {
        const px_consumer_kv *kv = &c->conf->kafka_properties[i];
        const char *setting = px_consumer_conf_memory_setting(kv->key);
        if (setting) {
            snprintf(errbuf, errlen, "kafka.properties: %s bounds the consumer's memory: set %s",
                     kv->key, setting);
            goto fail;
        }
        if (rd_kafka_conf_set(conf, kv->key, kv->value, errbuf, errlen) != RD_KAFKA_CONF_OK)
            goto fail;
    }
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_log_cb(conf, px_consumer_log_cb);
    rd_kafka_conf_set_error_cb(conf, px_consumer_error_cb);
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* kafka.properties may set a lower message.max.bytes than dlq.max_bytes:
 * copies must fit the one in force. */
static void px_consumer_dlq_limit(px_consumer *c, const rd_kafka_conf_t *conf)
{
    char buf[32];
    size_t len = sizeof(buf);
    if (rd_kafka_conf_get(conf, "message.max.bytes", buf, &len) != RD_KAFKA_CONF_OK)
        return;
    unsigned long long v = strtoull(buf, NULL, 10);
    if (v > 0 && v < c->dlq_max) {
        px_info("dead-letter copies: kafka.properties sets message.max.bytes %llu, below "
                "dlq.max_bytes %zu: copies are cut to fit it",
                v, c->dlq_max);
        c->dlq_max = (size_t)v;
    }
}

static int px_consumer_kafka(px_consumer *c, char *errbuf, size_t errlen)
{
    char timeout[24], max_bytes[24], queue_msgs[24], queue_kb[24], fetch_max[24];
    snprintf(timeout, sizeof(timeout), "%d", c->opts.dlq_timeout_ms);
    snprintf(max_bytes, sizeof(max_bytes), "%zu", c->dlq_max);
    const px_consumer_conf *cf = c->conf;
    snprintf(queue_msgs, sizeof(queue_msgs), "%" PRId64,
             cf->fetch_queue_messages ? cf->fetch_queue_messages
                                      : PX_QUERY_CONF_FETCH_QUEUE_MESSAGES);
    snprintf(queue_kb, sizeof(queue_kb), "%" PRId64,
             cf->fetch_queue_kbytes ? cf->fetch_queue_kbytes : PX_QUERY_CONF_FETCH_QUEUE_KBYTES);
    snprintf(fetch_max, sizeof(fetch_max), "%" PRId64,
             (cf->fetch_max_kbytes ? cf->fetch_max_kbytes : PX_QUERY_CONF_FETCH_MAX_KBYTES) * 1024);
    const char *const consumer[][2] = {
        {"bootstrap.servers", c->conf->kafka_brokers},
        {"group.id", c->conf->kafka_group},
        {"client.id", "pdnsx-consumer"},
        /* Equal partition counts and range assignment: partition i of
         * every org topic goes to the same member (co-partitioning). */
        {"partition.assignment.strategy", "range"},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        {"topic.metadata.refresh.interval.ms", PX_CONSUMER_METADATA_MS},
        /* The prefetch, the bulk of the consumer's memory (README,
         * "Memory"). The high-level consumer counts both over its one
         * queue, all partitions together: past either, librdkafka stops
         * fetching and looks again only about a second later, so the
         * queue must hold over a second of merging or the consumer sits
         * idle for part of every second (librdkafka's 100000 messages:
         * 7.0 s instead of 4.9 s for a million observations). */
        {"queued.min.messages", queue_msgs},
        {"queued.max.messages.kbytes", queue_kb},
        {"fetch.max.bytes", fetch_max},
    };
    const char *const producer[][2] = {
        {"bootstrap.servers", c->conf->kafka_brokers},
        {"client.id", "pdnsx-consumer-dlq"},
        {"enable.idempotence", "true"},
        {"linger.ms", "5"},
        {"message.timeout.ms", timeout},
        /* Also caps the batches librdkafka packs copies into, so that a
         * topic whose max.message.bytes is dlq.max_bytes takes them. */
        {"message.max.bytes", max_bytes},
    };
    char kerr[512] = "";
    rd_kafka_conf_t *conf = px_consumer_kafka_conf(
        c, consumer, sizeof(consumer) / sizeof(consumer[0]), kerr, sizeof(kerr));
    if (conf) {
        rd_kafka_conf_set_rebalance_cb(conf, px_consumer_rebalance_cb);
        c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, kerr, sizeof(kerr));
        if (!c->rk)
            rd_kafka_conf_destroy(conf);
    }
    if (!c->rk) {
        snprintf(errbuf, errlen, "Kafka consumer: %s", kerr);
        return -1;
    }
    /* Errors, logs and rebalances are served by rd_kafka_consumer_poll(). */
    rd_kafka_poll_set_consumer(c->rk);
    conf = px_consumer_kafka_conf(c, producer, sizeof(producer) / sizeof(producer[0]), kerr,
                                  sizeof(kerr));
    if (conf) {
        px_consumer_dlq_limit(c, conf);
        rd_kafka_conf_set_dr_msg_cb(conf, px_consumer_dlq_dr_cb);
        c->dlq = rd_kafka_new(RD_KAFKA_PRODUCER, conf, kerr, sizeof(kerr));
        if (!c->dlq)
            rd_kafka_conf_destroy(conf);
    }
    if (!c->dlq) {
        snprintf(errbuf, errlen, "Kafka dead-letter producer: %s", kerr);
        return -1;
    }
    c->dl = px_dlq_create(c->dlq, PX_CONSUMER_DLQ_TOPIC, c->dlq_max, c->opts.dlq_timeout_ms);
    if (!c->dl) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    px_consumer_preload_marks(c);
    return 0;
}

static void px_consumer_metrics(px_consumer *c)
{
    c->m_messages = px_metric_counter("pdnsx_consumer_messages_total", "Messages read from Kafka");
    c->m_merged = px_metric_counter("pdnsx_consumer_merged_total",
                                    "Observations merged into the store (committed)");
    c->m_batches =
        px_metric_counter("pdnsx_consumer_batches_total", "Store transactions committed");
    c->m_aborted = px_metric_counter("pdnsx_consumer_batches_aborted_total",
                                     "Batches abandoned and read again (dead-letter or store "
                                     "failure)");
    c->m_commit_ms = px_metric_counter("pdnsx_consumer_commit_milliseconds_total",
                                       "Time spent committing batches (dead-letter flush and "
                                       "store transaction)");
    c->m_last_commit_ms = px_metric_gauge("pdnsx_consumer_last_commit_milliseconds",
                                          "Duration of the last batch commit");
    c->m_damage = px_metric_counter("pdnsx_store_damage_total",
                                    "Damage found in the store: pages, values, dictionary "
                                    "entries or the batch log that fail their checks");
    c->m_collisions = px_metric_counter("pdnsx_store_collisions_total",
                                        "Batches' records dropped for an overlong rdata whose "
                                        "hash meets a different stored one");
    for (int r = 1; r < PX_DLQ__COUNT; r++) {
        char name[128];
        snprintf(name, sizeof(name), "pdnsx_consumer_dlq_total{reason=\"%s\"}", px_dlq_names[r]);
        c->m_dlq[r] = px_metric_counter(name, "Messages sent to the dead-letter topic (committed)");
    }
    c->m_dlq_truncated =
        px_metric_counter("pdnsx_consumer_dlq_truncated_total",
                          "Dead-letter copies cut to fit dlq.max_bytes or the broker's limit "
                          "(committed; counted in pdnsx_consumer_dlq_total too)");
    c->m_dlq_skipped = px_metric_counter("pdnsx_consumer_dlq_skipped_total",
                                         "Refused messages skipped without a dead-letter copy: "
                                         "Kafka refused the copy for good (committed)");
    for (int r = 1; r < PX_OBS__RULES; r++) {
        char name[128];
        snprintf(name, sizeof(name), "pdnsx_consumer_invalid_total{rule=\"%s\"}",
                 px_obs_rule_name((px_obs_rule)r));
        c->m_refused[r] = px_metric_counter(name, "Records dead-lettered as invalid, by the rule "
                                                  "they broke (committed)");
    }
}

/* trust.*: the privacy rules and the time fence. */
static int px_consumer_open_trust(px_consumer *c, char *errbuf, size_t errlen)
{
    const px_consumer_conf *conf = c->conf;
    uint16_t *types = calloc(conf->n_trust_rrtypes + 1, sizeof(*types));
    if (!types) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < conf->n_trust_rrtypes; i++) {
        int t = px_dns_type_parse(conf->trust_rrtypes[i]);
        if (t < 0) {
            snprintf(errbuf, errlen, "trust.rrtypes: unknown type '%s'", conf->trust_rrtypes[i]);
            free(types);
            return -1;
        }
        types[i] = (uint16_t)t;
    }
    px_privacy_conf pc = {
        .rrtypes = conf->trust_rrtypes ? types : NULL,
        .n_rrtypes = conf->n_trust_rrtypes,
        .private_answers = conf->trust_private_answers,
        .local_zones = conf->trust_local_zones,
        .n_local_zones = conf->n_trust_local_zones,
    };
    px_err err = PX_OK;
    c->privacy = px_privacy_create(&pc, &err);
    free(types);
    if (!c->privacy) {
        snprintf(errbuf, errlen, "trust: %s",
                 err == PX_ERR_INVAL ? "a zone in trust.local_zones is not a domain name"
                                     : px_strerror(err));
        return -1;
    }
    c->trust = (px_obs_trust){.privacy = c->privacy,
                              .psl = c->psl,
                              .time_floor = conf->trust_time_floor,
                              .future_skew = conf->trust_future_skew};
    return 0;
}

/* The HTTP endpoints' warnings about rejected clients (rate-limited). */
static void px_consumer_http_log(const char *message)
{
    px_warning("%s", message);
}

/* Says where an endpoint listens: its setting's host with the port bound
 * (the one the kernel picked for port 0). */
static void px_consumer_log_listen(const char *what, const char *listen, uint16_t port)
{
    const char *colon = strrchr(listen, ':');
    int host = colon ? (int)(colon - listen) : (int)strlen(listen);
    px_info("%s on %.*s:%u", what, host, listen, (unsigned)port);
}

static int px_consumer_open_parts(px_consumer *c, char *errbuf, size_t errlen)
{
    const px_consumer_conf *conf = c->conf;
    px_err err;
    char why[512] = "";
    c->codec = px_avro_codec_create(&err);
    /* 2^20 slots (24 MiB, touched as used): the names of a busy feed
     * outnumber the default 2^16 many times, and a miss costs a libpsl walk */
    c->psl = px_psl_cache_create(1u << 20);
    if (!c->codec || !c->psl) {
        snprintf(errbuf, errlen, "cannot set up the decoder: %s",
                 c->codec ? px_strerror(PX_ERR_NOMEM) : px_strerror(err));
        return -1;
    }
    if (px_consumer_open_trust(c, errbuf, errlen) < 0)
        return -1;
    px_store_opts so = {.check = conf->store_check,
                        .drop_damaged_log = conf->drop_damaged_log,
                        .on_damage = px_consumer_damage,
                        .damage_ctx = c};
    c->store = px_store_open(conf->store_path, &so, &err, why, sizeof(why));
    if (!c->store) {
        snprintf(errbuf, errlen, "store %s: %s", conf->store_path, why[0] ? why : px_strerror(err));
        return -1;
    }
    if (conf->geoip_country || conf->geoip_asn) {
        c->geoip = px_geoip_open(conf->geoip_country, conf->geoip_asn, why, sizeof(why));
        if (!c->geoip) {
            snprintf(errbuf, errlen, "GeoIP: %s", why);
            return -1;
        }
    }
    if (conf->metrics_listen) {
        c->metrics = px_metrics_server_start(conf->metrics_listen, &conf->http,
                                             px_consumer_http_log, errbuf, errlen);
        if (!c->metrics)
            return -1;
        px_consumer_log_listen("metrics", conf->metrics_listen, px_metrics_server_port(c->metrics));
    }
    if (conf->query_listen) {
        px_query_server_opts qo = {
            .http = conf->http, .limits = conf->query_limits, .log = px_consumer_http_log};
        c->query = px_query_server_start(conf->query_listen, c->store, &qo, errbuf, errlen);
        if (!c->query)
            return -1;
        px_consumer_log_listen("query endpoint", conf->query_listen,
                               px_query_server_port(c->query));
    }
    return 0;
}

px_consumer *px_consumer_create(const px_consumer_conf *conf, const px_consumer_opts *opts,
                                char *errbuf, size_t errlen)
{
    px_consumer *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    c->conf = conf;
    c->opts = *opts;
    pthread_mutex_init(&c->damage_lock, NULL);
    px_ratelimit_init(&c->damage_log, PX_CONSUMER_DAMAGE_LINES, 60000);
    if (!c->opts.clock)
        c->opts.clock = px_consumer_wall;
    if (c->opts.dlq_timeout_ms <= 0)
        c->opts.dlq_timeout_ms = 30000;
    px_ratelimit_init(&c->refused_log, 1, PX_CONSUMER_REFUSED_LOG_MS);
    c->dlq_max =
        conf->dlq_max_bytes > 0 ? (size_t)conf->dlq_max_bytes : PX_QUERY_CONF_DLQ_MAX_BYTES;
    if (c->dlq_max < PX_DLQ_SMALL_BYTES)
        c->dlq_max = PX_DLQ_SMALL_BYTES;
    px_consumer_metrics(c);
    if (px_consumer_open_parts(c, errbuf, errlen) < 0 || px_consumer_kafka(c, errbuf, errlen) < 0) {
        px_consumer_destroy(c);
        return NULL;
    }
    return c;
}

void px_consumer_destroy(px_consumer *c)
{
    if (!c)
        return;
    px_query_server_stop(c->query);
    /* Destroying an unclosed consumer runs the revoke callback, which may
     * still use the store and the dead-letter producer. */
    if (c->rk)
        rd_kafka_destroy(c->rk);
    if (c->dlq) {
        rd_kafka_flush(c->dlq, 1000);
        rd_kafka_destroy(c->dlq);
    }
    px_dlq_destroy(c->dl); /* after the producer: its messages point into it */
    px_store_batch_abort(c->batch);
    px_consumer_reset_batch(c);
    free(c->pos);
    px_store_close(c->store);
    px_geoip_close(c->geoip);
    px_metrics_server_stop(c->metrics);
    px_avro_codec_destroy(c->codec);
    px_psl_cache_destroy(c->psl);
    px_privacy_destroy(c->privacy);
    for (size_t i = 0; i < c->n_orgs; i++)
        free(c->orgs[i]);
    free(c->orgs);
    pthread_mutex_destroy(&c->damage_lock);
    free(c);
}

void px_consumer_get_stats(const px_consumer *c, px_consumer_stats *out)
{
    *out = c->stats;
}

/* ---- the run loop ------------------------------------------------------------------- */

static int px_consumer_take_signal(px_consumer *c)
{
    if (!c->opts.signals)
        return 0;
    struct timespec zero = {0, 0};
    int sig = sigtimedwait(c->opts.signals, NULL, &zero);
    return sig > 0 ? sig : 0;
}

static void px_consumer_reload(px_consumer *c)
{
    if (!c->geoip) {
        px_info("SIGHUP: no GeoIP database configured; nothing to reload");
        return;
    }
    char why[512] = "";
    if (px_geoip_reload(c->geoip, why, sizeof(why)) != PX_OK)
        px_error("SIGHUP: GeoIP reload failed, keeping the old databases: %s", why);
    else
        px_info("SIGHUP: GeoIP databases reloaded");
}

static void px_consumer_kafka_event(px_consumer *c, const rd_kafka_message_t *m)
{
    (void)c;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return;
    px_warning("Kafka: %s%s%s", m->rkt ? rd_kafka_topic_name(m->rkt) : "", m->rkt ? ": " : "",
               rd_kafka_message_errstr(m));
}

/* Reads up to PX_CONSUMER_BURST messages, the first waiting up to wait_ms.
 * Returns true if it waited PX_CONSUMER_CAUGHT_UP_MS or more for nothing:
 * the consumer has caught up with its partitions. */
static bool px_consumer_read(px_consumer *c, int wait_ms)
{
    for (int i = 0; i < PX_CONSUMER_BURST && !c->fatal && !c->retry_at_ms; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, i == 0 ? wait_ms : 0);
        if (!m)
            return i == 0 && wait_ms >= PX_CONSUMER_CAUGHT_UP_MS;
        bool msg = !m->err;
        if (msg)
            px_consumer_message(c, m);
        else
            px_consumer_kafka_event(c, m);
        rd_kafka_message_destroy(m);
        uint64_t now = px_consumer_coarse_ms(); /* one clock read per message */
        if (msg)
            c->idle_since_ms = now;
        if (px_consumer_batch_due(c, now))
            px_consumer_commit(c, true);
    }
    return false;
}

static bool px_consumer_idle_done(const px_consumer *c, uint64_t now)
{
    if (c->conf->exit_idle <= 0 || c->batch || rd_kafka_outq_len(c->dlq) > 0)
        return false;
    uint64_t idle_ms = (uint64_t)c->conf->exit_idle * 1000u;
    if (now < c->idle_since_ms || now - c->idle_since_ms < idle_ms)
        return false;
    /* Only an idle period after the group assigned partitions counts:
     * joining takes seconds, and after a crash the dead member holds its
     * partitions until its session times out. Exiting before that would
     * leave messages unread while claiming to be done. */
    return c->assigned_once;
}

static int px_consumer_subscribe(px_consumer *c)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, c->conf->kafka_topics, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        px_error("Kafka: cannot subscribe to %s: %s", c->conf->kafka_topics, rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

/* Returns true when the run should end. */
static bool px_consumer_step(px_consumer *c)
{
    int sig = px_consumer_take_signal(c);
    if (sig == SIGTERM || sig == SIGINT) {
        px_info("signal %d: committing and leaving the group", sig);
        return true;
    }
    if (sig == SIGHUP)
        px_consumer_reload(c);
    rd_kafka_poll(c->dlq, 0);
    uint64_t now = px_consumer_coarse_ms();
    if (c->retry_at_ms) {
        if (now < c->retry_at_ms) {
            /* Not rd_kafka_consumer_poll(): a message taken now would be
             * lost. Heartbeats go on in librdkafka's threads; a rebalance
             * waits until the pause ends. */
            rd_kafka_poll(c->dlq, 100);
            return false;
        }
        c->retry_at_ms = 0;
    }
    if (!c->batch && !px_consumer_log_done(c, false))
        return false;
    int wait_ms = 100;
    if (c->batch) {
        uint64_t due = c->batch_start_ms + (uint64_t)c->conf->batch_ms;
        wait_ms = due <= now ? 0 : due - now < 100 ? (int)(due - now) : 100;
    }
    bool caught_up = px_consumer_read(c, wait_ms);
    now = px_consumer_coarse_ms();
    /* store.batch_ms bounds how long a record waits; once nothing more is
     * coming, waiting out the rest of it only keeps records from queries. */
    if (px_consumer_batch_due(c, now) || (caught_up && c->batch))
        px_consumer_commit(c, true);
    if (!c->assigned_once && now - c->warned_ms >= PX_CONSUMER_UNASSIGNED_MS) {
        c->warned_ms = now;
        if (now - c->started_ms >= PX_CONSUMER_UNASSIGNED_MS)
            px_warning("no partitions assigned yet: waiting for the group (a member that "
                       "died keeps its partitions until session.timeout.ms)");
    }
    /* Idle only once a poll has waited and found nothing: a commit that
     * took longer than run.exit_idle (the last read ended on the message
     * that closed a batch) is no idle time, messages may be queued. */
    if (caught_up && px_consumer_idle_done(c, now)) {
        px_info("no new message for %" PRId64 " s and everything committed: exiting",
                c->conf->exit_idle);
        return true;
    }
    return false;
}

int px_consumer_run(px_consumer *c)
{
    if (px_consumer_subscribe(c) < 0)
        return 1;
    px_info("running: topics %s, group %s, store %s", c->conf->kafka_topics, c->conf->kafka_group,
            c->conf->store_path);
    c->started_ms = c->idle_since_ms = px_consumer_coarse_ms();
    while (!c->fatal && !px_consumer_step(c))
        ;
    int rc = 0;
    if (c->fatal) {
        px_store_batch_abort(c->batch);
        px_consumer_reset_batch(c);
        px_consumer_save_marks(c);
        rc = 1;
    } else if (px_consumer_commit(c, false) < 0) {
        px_error("the last batch could not be committed; the next run reads it again");
        rc = 1;
    }
    rd_kafka_consumer_close(c->rk); /* the revoke callback finds nothing open */
    if (c->fatal)
        rc = 1;
    px_info("messages %" PRIu64 ", merged %" PRIu64 ", dead-lettered %" PRIu64 " (cut %" PRIu64
            ", skipped without a copy %" PRIu64 "), batches %" PRIu64 " (abandoned %" PRIu64 ")",
            c->stats.messages, c->stats.merged, c->stats.dlq, c->stats.dlq_truncated,
            c->stats.dlq_skipped, c->stats.batches, c->stats.aborted);
    return rc;
}
