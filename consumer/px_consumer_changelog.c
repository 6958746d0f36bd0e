/* px_consumer_changelog.c: the changelog topic's Kafka side
 * (px_consumer_changelog.h). */
#include "px_consumer_changelog.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/px_clock.h"

/* After the timeout every message has had its delivery report: librdkafka
 * reports a message at message.timeout.ms at the latest. This much more
 * is waited before what is still queued is purged (it never should be). */
#define PX_CHANGELOG_GRACE_MS 5000
#define PX_CHANGELOG_STR_(x) #x
#define PX_CHANGELOG_STR(x) PX_CHANGELOG_STR_(x)
/* A restore's prefetch: bounded, as it runs beside the consumer's own
 * (README, "Memory"): PX_CHANGELOG_QUEUE messages or PX_CHANGELOG_QUEUE_KB
 * KiB of them queued, fetched PX_CHANGELOG_FETCH_BYTES at a time (at least
 * one message of the largest size). A fetch holds a fraction of the queue,
 * ~37,000 of the store's ~50-byte rows: one that filled it at once (8 MiB
 * were ~150,000 rows) stopped the fetcher after every fetch
 * (px_changelog_wake). */
#define PX_CHANGELOG_QUEUE 100000
#define PX_CHANGELOG_QUEUE_KB 16384
#define PX_CHANGELOG_FETCH_BYTES 2097152 /* 2 MiB */
/* How long Kafka holds a restore's fetch at the end of the log: the end is
 * known, nothing is waited for there (and a wake-up queued behind such a
 * fetch would wait as long). */
#define PX_CHANGELOG_FETCH_WAIT_MS 10
/* A wake-up's request is waited for this long at most. */
#define PX_CHANGELOG_WAKE_MS 1000

typedef enum px_changelog_txn_pending {
    PX_CHANGELOG_TXN_NONE,
    PX_CHANGELOG_TXN_COMMITTING,
    PX_CHANGELOG_TXN_ABORTING,
} px_changelog_txn_pending;

struct px_changelog {
    px_kafka *k;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    char *topic;
    char *txn_id;   /* NULL: idempotent only */
    bool txn_ready; /* transactions initialised (px_changelog_fence) */
    /* a commit or abort that timed out (librdkafka's retriable errors):
     * the next publish finishes it first; either outcome is harmless (an
     * aborted transaction is never read; a committed one holds whole rows
     * of absolute values, which the retry's supersede) */
    px_changelog_txn_pending pending;
    /* the transactional producer is in a state it cannot leave: librdkafka
     * 2.0.2 refuses every transactional call after an abort that failed
     * (its state stays BeginAbort); a new producer takes its place before
     * the next publish (px_changelog_renew) */
    bool stale;
    /* restores read the log's end through the producer's handle on threads
     * of their own: held (read) around those calls, and (write) while
     * px_changelog_renew replaces the producer */
    pthread_rwlock_t handle_lock;
    char client[128];
    int timeout_ms;
    /* the settings, copied: each restore makes a consumer handle of them */
    px_kafka_settings settings;
    char **strings; /* owned: brokers and the properties' keys and values */
    size_t n_strings;
    _Atomic bool fatal;
    _Atomic uint64_t published, publish_failed, restored, refused, renewed, group_refused;
};

/* The delivery reports of one publish call (its messages' opaque). */
typedef struct px_changelog_wait {
    size_t pending;          /* produced, not reported yet */
    size_t failed;           /* reported failed */
    rd_kafka_resp_err_t err; /* the first failure */
    int64_t last;            /* the highest offset acknowledged; -1: none */
    int64_t first;           /* the lowest; -1: none */
} px_changelog_wait;

struct px_changelog_job {
    px_changelog *cl;
    int32_t p;
    int64_t from;
    px_changelog_apply_fn apply;
    void *ctx;
    _Atomic int64_t next, end;
    _Atomic bool done, cancel;
    px_err result;
    char why[512];
    pthread_t thread;
    bool threaded;
};

/* ---- set-up ---------------------------------------------------------------------- */

static const char *px_changelog_keep(px_changelog *cl, const char *s)
{
    if (!s)
        return NULL;
    char *copy = strdup(s);
    if (!copy)
        return NULL;
    cl->strings[cl->n_strings++] = copy;
    return copy;
}

/* cl->settings: a deep copy of s (statistics left out: the consumer's
 * handle serves those). */
static px_err px_changelog_copy_settings(px_changelog *cl, const px_kafka_settings *s)
{
    size_t n = s ? s->n_props : 0;
    cl->strings = calloc(2 * n + 1, sizeof(*cl->strings));
    cl->settings.props = calloc(n ? n : 1, sizeof(*cl->settings.props));
    if (!cl->strings || !cl->settings.props)
        return PX_ERR_NOMEM;
    if (!s)
        return PX_OK;
    cl->settings.brokers = px_changelog_keep(cl, s->brokers);
    if (s->brokers && !cl->settings.brokers)
        return PX_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        px_kafka_prop *p = &cl->settings.props[i];
        p->key = px_changelog_keep(cl, s->props[i].key);
        p->value = px_changelog_keep(cl, s->props[i].value);
        if (!p->key || !p->value)
            return PX_ERR_NOMEM;
    }
    cl->settings.n_props = n;
    cl->settings.n_file_props = s->n_file_props;
    return PX_OK;
}

/* px_kafka_conf.delivery: served by the polls of px_changelog_publish. */
static bool px_changelog_delivered(void *ctx, const rd_kafka_message_t *m)
{
    (void)ctx;
    px_changelog_wait *w = m->_private;
    if (!w)
        return true;
    w->pending--;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (w->failed++ == 0)
            w->err = m->err;
    } else {
        if (m->offset > w->last)
            w->last = m->offset;
        if (w->first < 0 || m->offset < w->first)
            w->first = m->offset;
    }
    return true; /* not lost: the caller's transaction rolls back */
}

static void px_changelog_fatal_cb(void *ctx, const char *why)
{
    (void)why; /* px_kafka logged it */
    px_changelog *cl = ctx;
    atomic_store(&cl->fatal, true);
}

static px_err px_changelog_producer(px_changelog *cl, char *why, size_t whylen)
{
    char timeout[24], txn_timeout[24], client[160];
    snprintf(timeout, sizeof(timeout), "%d", cl->timeout_ms);
    /* librdkafka wants message.timeout.ms <= transaction.timeout.ms */
    snprintf(txn_timeout, sizeof(txn_timeout), "%d",
             cl->timeout_ms > 60000 ? cl->timeout_ms : 60000);
    snprintf(client, sizeof(client), "%s-changelog", cl->client);
    px_kafka_prop ours[] = {
        {"client.id", client},
        /* retries neither duplicate nor reorder a partition's rows */
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"message.timeout.ms", timeout},
        /* a transaction's rows are produced at once: little to wait for */
        {"linger.ms", "2"},
        /* an auto-created topic would be neither compacted nor
         * co-partitioned: the operator creates it */
        {"allow.auto.create.topics", "false"},
        {"transactional.id", cl->txn_id},
        {"transaction.timeout.ms", txn_timeout},
    };
    size_t n_ours = sizeof(ours) / sizeof(ours[0]) - (cl->txn_id ? 0 : 2);
    px_kafka_conf kc = {
        .type = RD_KAFKA_PRODUCER,
        .ours = ours,
        .n_ours = n_ours,
        .settings = &cl->settings,
        .log = px_kafka_to_px_log,
        .fatal = px_changelog_fatal_cb,
        .delivery = px_changelog_delivered,
        .ctx = cl,
    };
    char msg[512] = "";
    px_err err = px_kafka_create(&kc, &cl->k, msg, sizeof(msg));
    if (err != PX_OK)
        return px_errf(why, whylen, err, "Kafka changelog producer: %s", msg);
    cl->rk = px_kafka_handle(cl->k);
    cl->rkt = rd_kafka_topic_new(cl->rk, cl->topic, NULL);
    if (!cl->rkt)
        return px_errf(why, whylen, PX_ERR_KAFKA, "Kafka changelog producer: topic %s: %s",
                       cl->topic, rd_kafka_err2str(rd_kafka_last_error()));
    return PX_OK;
}

px_err px_changelog_create(const px_changelog_opts *o, px_changelog **out, char *why, size_t whylen)
{
    *out = NULL;
    px_changelog *cl = calloc(1, sizeof(*cl));
    if (!cl)
        return px_errf(why, whylen, PX_ERR_NOMEM, "out of memory");
    pthread_rwlock_init(&cl->handle_lock, NULL);
    cl->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : PX_CHANGELOG_TIMEOUT_MS;
    snprintf(cl->client, sizeof(cl->client), "%s", o->client ? o->client : "pdnsx-consumer");
    cl->topic = strdup(o->topic ? o->topic : PX_CHANGELOG_TOPIC);
    cl->txn_id = o->transactional_id ? strdup(o->transactional_id) : NULL;
    bool copied = cl->topic && (cl->txn_id || !o->transactional_id);
    px_err err = copied ? px_changelog_copy_settings(cl, o->settings) : PX_ERR_NOMEM;
    if (err != PX_OK)
        px_why(why, whylen, "out of memory");
    else
        err = px_changelog_producer(cl, why, whylen);
    if (err != PX_OK) {
        px_changelog_destroy(cl);
        return err;
    }
    *out = cl;
    return PX_OK;
}

/* Destroys the producer, waiting up to wait_ms for what it has in flight. */
static void px_changelog_producer_close(px_changelog *cl, int wait_ms)
{
    if (cl->rkt)
        rd_kafka_topic_destroy(cl->rkt);
    if (cl->rk)
        rd_kafka_flush(cl->rk, wait_ms);
    px_kafka_destroy(cl->k);
    cl->rkt = NULL;
    cl->rk = NULL;
    cl->k = NULL;
}

/* A new producer in the place of a stale one (cl->stale), its transactional
 * id taken over again by the next publish's px_changelog_fence, which ends
 * the old producer's open transaction on the coordinator (its rows are
 * never read). Nothing is in flight between publish calls. The producer
 * was made once with these settings: one that cannot be made again is
 * fatal. */
static px_err px_changelog_renew(px_changelog *cl, char *why, size_t whylen)
{
    pthread_rwlock_wrlock(&cl->handle_lock);
    px_changelog_producer_close(cl, 0);
    cl->txn_ready = false;
    cl->pending = PX_CHANGELOG_TXN_NONE;
    cl->stale = false;
    atomic_fetch_add(&cl->renewed, 1);
    px_err err = px_changelog_producer(cl, why, whylen);
    pthread_rwlock_unlock(&cl->handle_lock);
    if (err != PX_OK)
        atomic_store(&cl->fatal, true);
    return err;
}

void px_changelog_destroy(px_changelog *cl)
{
    if (!cl)
        return;
    px_changelog_producer_close(cl, cl->timeout_ms);
    pthread_rwlock_destroy(&cl->handle_lock);
    for (size_t i = 0; i < cl->n_strings; i++)
        free(cl->strings[i]);
    free(cl->strings);
    free(cl->settings.props);
    free(cl->topic);
    free(cl->txn_id);
    free(cl);
}

bool px_changelog_fatal(const px_changelog *cl)
{
    return atomic_load(&cl->fatal);
}

void px_changelog_get_stats(const px_changelog *cl, px_changelog_stats *out)
{
    px_changelog *m = (px_changelog *)cl;
    out->published = atomic_load(&m->published);
    out->publish_failed = atomic_load(&m->publish_failed);
    out->restored = atomic_load(&m->restored);
    out->refused = atomic_load(&m->refused);
    out->renewed = atomic_load(&m->renewed);
    out->group_refused = atomic_load(&m->group_refused);
}

/* ---- publishing ------------------------------------------------------------------ */

/* Whether a message can be a row; if not, why says what it is (buf). */
static bool px_changelog_fits(size_t key_len, size_t val_len, char *buf, size_t len)
{
    if (key_len == 0)
        snprintf(buf, len, "an empty key");
    else if (key_len > PX_CHANGELOG_KEY_MAX)
        snprintf(buf, len, "a key of %zu bytes (at most %d)", key_len, PX_CHANGELOG_KEY_MAX);
    else if (val_len > PX_CHANGELOG_VAL_MAX)
        snprintf(buf, len, "a value of %zu bytes (at most %u)", val_len, PX_CHANGELOG_VAL_MAX);
    else
        return true;
    return false;
}

static px_err px_changelog_kafka_err(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
        return PX_ERR_NOTFOUND;
    default:
        return PX_ERR_KAFKA;
    }
}

/* Produces msgs[0..n) in order; returns how many were queued (*err: why
 * the next one was not; NO_ERROR if all were). A full queue is waited for
 * until deadline. */
static size_t px_changelog_produce(px_changelog *cl, int32_t p, const px_changelog_msg *msgs,
                                   size_t n, px_changelog_wait *w, int64_t deadline,
                                   rd_kafka_resp_err_t *err)
{
    *err = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (size_t i = 0; i < n; i++) {
        const px_changelog_msg *m = &msgs[i];
        for (;;) {
            *err = rd_kafka_producev(
                cl->rk, RD_KAFKA_V_RKT(cl->rkt), RD_KAFKA_V_PARTITION(p),
                RD_KAFKA_V_KEY(m->key, m->key_len),
                RD_KAFKA_V_VALUE(m->val ? (void *)m->val : NULL, m->val ? m->val_len : 0),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(w), RD_KAFKA_V_END);
            if (*err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                w->pending++;
                break;
            }
            if (*err != RD_KAFKA_RESP_ERR__QUEUE_FULL || px_clock_mono_ms() >= deadline)
                return i;
            rd_kafka_poll(cl->rk, 10); /* reports make room */
        }
    }
    return n;
}

/* Serves delivery reports until every message of w has one. */
static void px_changelog_settle(px_changelog *cl, px_changelog_wait *w, int64_t deadline)
{
    bool purged = false;
    while (w->pending > 0) {
        rd_kafka_poll(cl->rk, 50);
        if (!purged && px_clock_mono_ms() >= deadline) {
            /* reports come at message.timeout.ms: this is a safety net;
             * purged messages are reported failed by the next poll */
            rd_kafka_purge(cl->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            purged = true;
        }
    }
}

static px_err px_changelog_check_msgs(const px_changelog_msg *msgs, size_t n, char *why,
                                      size_t whylen)
{
    for (size_t i = 0; i < n; i++) {
        char misfit[64];
        if (!px_changelog_fits(msgs[i].key_len, msgs[i].val ? msgs[i].val_len : 0, misfit,
                               sizeof(misfit)))
            return px_errf(why, whylen, PX_ERR_TOOLONG, "changelog: row %zu of %zu: %s", i, n,
                           misfit);
    }
    return PX_OK;
}

/* A transactional call's error: why says it; a fatal one (fenced, or
 * idempotence broken) makes the producer unusable. Consumes e. */
static px_err px_changelog_txn_error(px_changelog *cl, rd_kafka_error_t *e, const char *what,
                                     char *why, size_t whylen)
{
    px_why(why, whylen, "changelog %s: %s: %s", cl->topic, what, rd_kafka_error_string(e));
    if (rd_kafka_error_is_fatal(e))
        atomic_store(&cl->fatal, true);
    rd_kafka_error_destroy(e);
    return PX_ERR_KAFKA;
}

/* The error of a call on a producer that failed for good (fatal), or
 * that could not be made again in place of a stale one (no handle). */
static px_err px_changelog_gone(char *why, size_t whylen)
{
    return px_errf(why, whylen, PX_ERR_KAFKA,
                   "changelog: the producer failed for good (see the log)");
}

px_err px_changelog_fence(px_changelog *cl, char *why, size_t whylen)
{
    if (!cl->txn_id || cl->txn_ready)
        return PX_OK;
    if (atomic_load(&cl->fatal))
        return px_changelog_gone(why, whylen);
    rd_kafka_error_t *e = rd_kafka_init_transactions(cl->rk, cl->timeout_ms);
    if (e)
        return px_changelog_txn_error(cl, e, "taking over the transactional id", why, whylen);
    cl->txn_ready = true;
    return PX_OK;
}

/* Commits (or aborts) the open transaction. Committing waits for the
 * rows' acknowledgements; a failure that requires it aborts; a timeout
 * leaves the call to finish (cl->pending). Returns whether the
 * transaction ended as asked: PX_OK or PX_ERR_KAFKA (why says why). */
static px_err px_changelog_txn_finish(px_changelog *cl, bool commit, char *why, size_t whylen)
{
    rd_kafka_error_t *e = commit ? rd_kafka_commit_transaction(cl->rk, cl->timeout_ms)
                                 : rd_kafka_abort_transaction(cl->rk, cl->timeout_ms);
    cl->pending = PX_CHANGELOG_TXN_NONE;
    if (!e)
        return PX_OK;
    bool abort = commit && rd_kafka_error_txn_requires_abort(e);
    if (rd_kafka_error_is_retriable(e))
        cl->pending = commit ? PX_CHANGELOG_TXN_COMMITTING : PX_CHANGELOG_TXN_ABORTING;
    else if (!commit && !rd_kafka_error_is_fatal(e))
        cl->stale = true; /* an abort that failed for good */
    px_changelog_txn_error(cl, e, commit ? "commit" : "abort", why, whylen);
    if (abort && !atomic_load(&cl->fatal))
        px_changelog_txn_finish(cl, false, NULL, 0);
    return PX_ERR_KAFKA;
}

/* Ends the transaction of a publish: committed when every row was queued,
 * else aborted (then the publish fails all the same). */
static px_err px_changelog_txn_end(px_changelog *cl, bool commit, char *why, size_t whylen)
{
    px_err err = px_changelog_txn_finish(cl, commit, why, whylen);
    return commit ? err : PX_ERR_KAFKA;
}

/* Begins a transaction: fencing first, finishing a transaction left
 * pending, and renewing a producer that cannot go on. */
static px_err px_changelog_txn_begin(px_changelog *cl, char *why, size_t whylen)
{
    px_err err = px_changelog_fence(cl, why, whylen);
    if (err == PX_OK && cl->pending != PX_CHANGELOG_TXN_NONE)
        err = px_changelog_txn_finish(cl, cl->pending == PX_CHANGELOG_TXN_COMMITTING, why, whylen);
    if (err != PX_OK && cl->pending == PX_CHANGELOG_TXN_NONE && !atomic_load(&cl->fatal))
        err = PX_OK; /* the pending commit failed and was aborted (or the abort failed): done */
    if (err == PX_OK && cl->stale && (err = px_changelog_renew(cl, why, whylen)) == PX_OK)
        err = px_changelog_fence(cl, why, whylen);
    if (err != PX_OK)
        return err;
    rd_kafka_error_t *e = rd_kafka_begin_transaction(cl->rk);
    if (e && !rd_kafka_error_is_fatal(e))
        cl->stale = true; /* a transaction neither ended nor begun */
    return e ? px_changelog_txn_error(cl, e, "begin", why, whylen) : PX_OK;
}

/* The failure of a publish, counted; why says how many rows failed. */
static px_err px_changelog_failed(px_changelog *cl, int32_t p, size_t n, size_t queued,
                                  const px_changelog_wait *w, rd_kafka_resp_err_t perr, char *why,
                                  size_t whylen)
{
    atomic_fetch_add(&cl->publish_failed, 1);
    rd_kafka_resp_err_t e = queued < n ? perr : w->err;
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && why && why[0])
        return PX_ERR_KAFKA; /* a transactional call said why */
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        e = RD_KAFKA_RESP_ERR__FATAL;
    return px_errf(why, whylen, px_changelog_kafka_err(e),
                   "changelog %s [%" PRId32 "]: %zu of %zu rows not written: %s", cl->topic, p,
                   queued < n ? n - queued + w->failed : w->failed, n, rd_kafka_err2str(e));
}

/* A failed publish's err; why says so when its producer is to be renewed. */
static px_err px_changelog_stale_note(px_changelog *cl, px_err err, char *why, size_t whylen)
{
    if (cl->stale && !atomic_load(&cl->fatal) && why && whylen) {
        size_t at = strnlen(why, whylen);
        snprintf(why + at, whylen - at,
                 "; the transactional producer cannot go on: a new one takes its place at the "
                 "next publish");
    }
    return err;
}

/* Whether the group coordinator's answer says this member is not in the
 * group's current generation (Kafka's KIP-447 checks). */
static bool px_changelog_not_member(rd_kafka_resp_err_t e)
{
    return e == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION || e == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID ||
           e == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID ||
           e == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS;
}

/* Adds g's offsets to the open transaction, which the group coordinator
 * takes only from a member of its current generation. PX_OK, or
 * PX_ERR_KAFKA with why: the caller aborts the transaction. */
static px_err px_changelog_send_offsets(px_changelog *cl, int32_t p, const px_changelog_group *g,
                                        int64_t deadline, char *why, size_t whylen)
{
    if (!g || !g->meta || !g->offsets || g->offsets->cnt == 0)
        return PX_OK;
    int64_t left = deadline - px_clock_mono_ms();
    rd_kafka_error_t *e = rd_kafka_send_offsets_to_transaction(cl->rk, g->offsets, g->meta,
                                                               left > 1000 ? (int)left : 1000);
    if (!e)
        return PX_OK;
    if (rd_kafka_error_is_fatal(e) || !px_changelog_not_member(rd_kafka_error_code(e)))
        return px_changelog_txn_error(cl, e, "input offsets to the group", why, whylen);
    atomic_fetch_add(&cl->group_refused, 1);
    px_why(why, whylen,
           "changelog %s [%" PRId32 "]: the consumer group refused the input offsets (%s): "
           "this member is not in the group's current generation (it lost the partition, or a "
           "rebalance is on); the transaction is aborted",
           cl->topic, p, rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return PX_ERR_KAFKA;
}

px_err px_changelog_publish(px_changelog *cl, int32_t p, const px_changelog_msg *msgs, size_t n,
                            const px_changelog_group *g, int64_t *next, char *why, size_t whylen)
{
    if (n == 0)
        return PX_OK;
    if (why && whylen)
        why[0] = '\0';
    px_err err = px_changelog_check_msgs(msgs, n, why, whylen);
    if (err != PX_OK)
        return err;
    if (atomic_load(&cl->fatal)) {
        atomic_fetch_add(&cl->publish_failed, 1);
        return px_changelog_gone(why, whylen);
    }
    if (cl->txn_id && (err = px_changelog_txn_begin(cl, why, whylen)) != PX_OK) {
        atomic_fetch_add(&cl->publish_failed, 1);
        return px_changelog_stale_note(cl, err, why, whylen);
    }
    px_changelog_wait w = {.last = -1, .first = -1};
    int64_t deadline = px_clock_mono_ms() + cl->timeout_ms;
    rd_kafka_resp_err_t perr;
    size_t queued = px_changelog_produce(cl, p, msgs, n, &w, deadline, &perr);
    if (cl->txn_id && perr == RD_KAFKA_RESP_ERR__STATE)
        cl->stale = true; /* begun, yet not in a transaction (librdkafka 2.0.2) */
    px_err group = queued == n && cl->txn_id
                       ? px_changelog_send_offsets(cl, p, g, deadline, why, whylen)
                       : PX_OK;
    px_err txn =
        cl->txn_id ? px_changelog_txn_end(cl, queued == n && group == PX_OK, why, whylen) : PX_OK;
    px_changelog_settle(cl, &w, deadline + PX_CHANGELOG_GRACE_MS);
    if (group != PX_OK) { /* why says why; the aborted rows' reports say nothing more */
        atomic_fetch_add(&cl->publish_failed, 1);
        return px_changelog_stale_note(cl, group, why, whylen);
    }
    if (queued < n || w.failed > 0 || txn != PX_OK || atomic_load(&cl->fatal)) {
        err = px_changelog_failed(cl, p, n, queued, &w, perr, why, whylen);
        return px_changelog_stale_note(cl, err, why, whylen);
    }
    atomic_fetch_add(&cl->published, n);
    /* a transaction's commit marker follows its last row */
    *next = w.last + (cl->txn_id ? 2 : 1);
    return PX_OK;
}

/* ---- the topic ------------------------------------------------------------------- */

px_err px_changelog_end(px_changelog *cl, int32_t p, int64_t *end, char *why, size_t whylen)
{
    int64_t lo = 0, hi = 0;
    if (!cl->rk)
        return px_changelog_gone(why, whylen);
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(cl->rk, cl->topic, p, &lo, &hi, cl->timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return px_errf(why, whylen, px_changelog_kafka_err(e),
                       "changelog %s [%" PRId32 "]: end offset: %s", cl->topic, p,
                       rd_kafka_err2str(e));
    *end = hi;
    return PX_OK;
}

px_err px_changelog_partitions(px_changelog *cl, int *n, char *why, size_t whylen)
{
    const struct rd_kafka_metadata *md = NULL;
    if (!cl->rk)
        return px_changelog_gone(why, whylen);
    rd_kafka_resp_err_t e = rd_kafka_metadata(cl->rk, 0, cl->rkt, &md, cl->timeout_ms);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1)
        e = md->topics[0].err;
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        *n = md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return px_errf(why, whylen, px_changelog_kafka_err(e), "changelog %s: %s", cl->topic,
                       rd_kafka_err2str(e));
    return PX_OK;
}

/* The value of cleanup.policy in a DescribeConfigs result, or NULL. */
static const char *px_changelog_policy_of(const rd_kafka_DescribeConfigs_result_t *res,
                                          rd_kafka_resp_err_t *err, const char **errstr)
{
    size_t n = 0, n_entries = 0;
    const rd_kafka_ConfigResource_t **r = rd_kafka_DescribeConfigs_result_resources(res, &n);
    if (n != 1)
        return NULL;
    *err = rd_kafka_ConfigResource_error(r[0]);
    *errstr = rd_kafka_ConfigResource_error_string(r[0]);
    const rd_kafka_ConfigEntry_t **e = rd_kafka_ConfigResource_configs(r[0], &n_entries);
    for (size_t i = 0; *err == RD_KAFKA_RESP_ERR_NO_ERROR && i < n_entries; i++)
        if (strcmp(rd_kafka_ConfigEntry_name(e[i]), "cleanup.policy") == 0)
            return rd_kafka_ConfigEntry_value(e[i]);
    return NULL;
}

/* How long the check of the topic's cleanup.policy waits for its answer. */
#define PX_CHANGELOG_DESCRIBE_MS 5000

/* The id of a broker that answers now (the one that answered a metadata
 * request for the topic), or -1. */
static int32_t px_changelog_a_broker(px_changelog *cl, int wait_ms)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(cl->rk, 0, cl->rkt, &md, wait_ms);
    int32_t id = e == RD_KAFKA_RESP_ERR_NO_ERROR ? md->orig_broker_id : -1;
    if (md)
        rd_kafka_metadata_destroy(md);
    return id;
}

/* Asks Kafka for the topic's cleanup.policy (DescribeConfigs) into policy. */
static px_err px_changelog_policy(px_changelog *cl, char *policy, size_t len, char *why,
                                  size_t whylen)
{
    rd_kafka_ConfigResource_t *res =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, cl->topic);
    rd_kafka_queue_t *q = rd_kafka_queue_new(cl->rk);
    rd_kafka_AdminOptions_t *o =
        rd_kafka_AdminOptions_new(cl->rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    if (!res || !q || !o) {
        px_why(why, whylen, "out of memory");
        return PX_ERR_NOMEM;
    }
    /* A broker answers it in milliseconds; one that cannot is not waited
     * for at every start as long as a publish would be. Any broker answers
     * for a topic's configuration (as Kafka's own admin client asks it):
     * sent to one that is up, not to the controller librdkafka would wait
     * for, a broker without DescribeConfigs (librdkafka's mock cluster,
     * pdnsx-broker, which names a controller it does not have) fails it at
     * once. */
    int wait_ms =
        cl->timeout_ms < PX_CHANGELOG_DESCRIBE_MS ? cl->timeout_ms : PX_CHANGELOG_DESCRIBE_MS;
    rd_kafka_AdminOptions_set_request_timeout(o, wait_ms, NULL, 0);
    int32_t broker = px_changelog_a_broker(cl, wait_ms);
    if (broker >= 0)
        rd_kafka_AdminOptions_set_broker(o, broker, NULL, 0);
    rd_kafka_DescribeConfigs(cl->rk, &res, 1, o, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, wait_ms + PX_CHANGELOG_GRACE_MS);
    rd_kafka_resp_err_t err = ev ? rd_kafka_event_error(ev) : RD_KAFKA_RESP_ERR__TIMED_OUT;
    const char *errstr = ev ? rd_kafka_event_error_string(ev) : "no answer";
    const rd_kafka_DescribeConfigs_result_t *r =
        ev ? rd_kafka_event_DescribeConfigs_result(ev) : NULL;
    const char *value = err || !r ? NULL : px_changelog_policy_of(r, &err, &errstr);
    if (value)
        snprintf(policy, len, "%s", value);
    else if (!err)
        err = RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
    if (err)
        px_why(why, whylen, "changelog %s: its cleanup.policy: %s", cl->topic,
               errstr && *errstr ? errstr : rd_kafka_err2str(err));
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(res);
    return err ? px_changelog_kafka_err(err) : PX_OK;
}

px_err px_changelog_compacted(px_changelog *cl, bool *compacted, char *why, size_t whylen)
{
    char policy[64] = "";
    px_err err = cl->rk ? px_changelog_policy(cl, policy, sizeof(policy), why, whylen)
                        : px_changelog_gone(why, whylen);
    if (err != PX_OK)
        return err;
    *compacted = strcmp(policy, "compact") == 0;
    if (!*compacted)
        px_why(why, whylen, "changelog %s: cleanup.policy is \"%s\", not \"compact\": %s",
               cl->topic, policy,
               strstr(policy, "compact")
                   ? "retention also deletes rows the stores still hold, so a restore would "
                     "miss them"
                   : "retention deletes rows the stores still hold (a restore would miss them), "
                     "and nothing drops the values written over");
    return PX_OK;
}

/* ---- restoring ------------------------------------------------------------------- */

/* What one restore holds: its consumer and the chunk in hand. */
typedef struct px_changelog_reader {
    px_changelog_job *j;
    px_kafka *k;
    rd_kafka_topic_t *rkt;
    rd_kafka_queue_t *q; /* the partition's fetch queue, for its length */
    int qlen;            /* its length after the last take */
    bool taken;          /* a message was read */
    bool started;
    int64_t end;
    rd_kafka_message_t *buf[PX_CHANGELOG_CHUNK];
    px_changelog_msg msgs[PX_CHANGELOG_CHUNK];
    size_t n;     /* messages in buf */
    int64_t next; /* the position after what was read */
    bool at_end;
} px_changelog_reader;

static px_err px_changelog_reader_open(px_changelog_reader *r, char *why, size_t whylen)
{
    px_changelog *cl = r->j->cl;
    char client[160];
    snprintf(client, sizeof(client), "%s-restore", cl->client);
    const px_kafka_prop ours[] = {
        {"client.id", client},
        /* no group: the partition is read from a position the store holds */
        {"enable.auto.commit", "false"},
        {"enable.partition.eof", "true"},
        /* a position that went out of range (the log start moved while
         * reading): fail rather than skip or read twice */
        {"auto.offset.reset", "error"},
        /* rows of aborted transactions are never read */
        {"isolation.level", "read_committed"},
        {"queued.min.messages", PX_CHANGELOG_STR(PX_CHANGELOG_QUEUE)},
        {"queued.max.messages.kbytes", PX_CHANGELOG_STR(PX_CHANGELOG_QUEUE_KB)},
        {"fetch.max.bytes", PX_CHANGELOG_STR(PX_CHANGELOG_FETCH_BYTES)},
        {"max.partition.fetch.bytes", PX_CHANGELOG_STR(PX_CHANGELOG_FETCH_BYTES)},
        {"fetch.wait.max.ms", PX_CHANGELOG_STR(PX_CHANGELOG_FETCH_WAIT_MS)},
        {"allow.auto.create.topics", "false"},
    };
    px_kafka_conf kc = {
        .type = RD_KAFKA_CONSUMER,
        .ours = ours,
        .n_ours = sizeof(ours) / sizeof(ours[0]),
        .settings = &cl->settings,
        .log = px_kafka_to_px_log,
    };
    char msg[512] = "";
    px_err err = px_kafka_create(&kc, &r->k, msg, sizeof(msg));
    if (err != PX_OK) {
        px_why(why, whylen, "Kafka changelog reader: %s", msg);
        return err;
    }
    rd_kafka_t *rk = px_kafka_handle(r->k);
    r->rkt = rd_kafka_topic_new(rk, cl->topic, NULL);
    if (!r->rkt || rd_kafka_consume_start(r->rkt, r->j->p, r->next) < 0) {
        px_why(why, whylen, "changelog %s [%" PRId32 "]: cannot read: %s", cl->topic, r->j->p,
               rd_kafka_err2str(rd_kafka_last_error()));
        return PX_ERR_KAFKA;
    }
    r->started = true;
    r->q = rd_kafka_queue_get_partition(rk, cl->topic, r->j->p);
    return PX_OK;
}

static void px_changelog_reader_drop(px_changelog_reader *r)
{
    for (size_t i = 0; i < r->n; i++)
        rd_kafka_message_destroy(r->buf[i]);
    r->n = 0;
}

static void px_changelog_reader_close(px_changelog_reader *r)
{
    px_changelog_reader_drop(r);
    if (r->q)
        rd_kafka_queue_destroy(r->q);
    if (r->started)
        rd_kafka_consume_stop(r->rkt, r->j->p);
    if (r->rkt)
        rd_kafka_topic_destroy(r->rkt);
    px_kafka_destroy(r->k);
}

/* Takes the messages of got[0..n) into the chunk: a message that is no
 * row fails it; one at or past the end, or the end's EOF, ends it. */
static px_err px_changelog_take(px_changelog_reader *r, rd_kafka_message_t **got, size_t n,
                                char *why, size_t whylen)
{
    px_changelog *cl = r->j->cl;
    px_err err = PX_OK;
    for (size_t i = 0; i < n; i++) {
        rd_kafka_message_t *m = got[i];
        if (err != PX_OK || r->at_end) {
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            r->at_end = m->offset >= r->end;
        } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            px_why(why, whylen, "changelog %s [%" PRId32 "] at offset %" PRId64 ": %s", cl->topic,
                   r->j->p, r->next, rd_kafka_message_errstr(m));
            err = PX_ERR_KAFKA;
        } else if (m->offset >= r->end) {
            r->at_end = true;
        } else {
            char misfit[64];
            if (!px_changelog_fits(m->key_len, m->len, misfit, sizeof(misfit))) {
                atomic_fetch_add(&cl->refused, 1);
                px_why(why, whylen,
                       "changelog %s [%" PRId32 "] damaged: the message at offset %" PRId64
                       " is no row: %s",
                       cl->topic, r->j->p, m->offset, misfit);
                err = PX_ERR_MALFORMED;
            } else {
                r->msgs[r->n] = (px_changelog_msg){m->key, m->key_len, m->payload, m->len};
                r->buf[r->n++] = m;
                r->taken = true;
                r->next = m->offset + 1;
                r->at_end = r->next >= r->end;
                continue;
            }
        }
        rd_kafka_message_destroy(m);
    }
    return err;
}

/* librdkafka 2.0 (Debian 12's; 2.2 adds fetch.queue.backoff.ms) stops
 * fetching a partition whose queue holds queued.min.messages or
 * queued.max.messages.kbytes, and decides again only when its broker
 * thread wakes up: at a request or a response on its connection, else up
 * to a second later. A restore drains the queue in a fraction of that
 * (~1 M rows/s) and waited out the rest: it read ~140 k of the store's rows
 * a second. So when the queue runs low and nothing arrived since the last
 * take (the fetcher is idle: stopped, or done), the reader wakes that
 * thread with a request of its own to the partition's leader (ListOffsets:
 * answered at once; the answer is not needed), which then decides again
 * and fetches. Not when everything up to the end is queued already. */
static void px_changelog_wake(px_changelog_reader *r)
{
    if (!r->q || !r->taken)
        return; /* nothing read yet: the first fetch is on its way */
    int qlen = (int)rd_kafka_queue_length(r->q);
    if (qlen > r->qlen || qlen >= PX_CHANGELOG_QUEUE / 2 || r->next + qlen >= r->end)
        return;
    int64_t lo, hi;
    rd_kafka_query_watermark_offsets(px_kafka_handle(r->k), r->j->cl->topic, r->j->p, &lo, &hi,
                                     PX_CHANGELOG_WAKE_MS);
}

/* Fills the chunk until it is full or the end is reached. */
static px_err px_changelog_fill(px_changelog_reader *r, char *why, size_t whylen)
{
    px_changelog *cl = r->j->cl;
    int64_t silent_since = px_clock_mono_ms();
    while (r->n < PX_CHANGELOG_CHUNK && !r->at_end) {
        if (atomic_load(&r->j->cancel)) {
            px_why(why, whylen, "changelog %s [%" PRId32 "]: restore cancelled", cl->topic,
                   r->j->p);
            return PX_ERR_AGAIN;
        }
        px_changelog_wake(r);
        /* What is queued, at once (a batch call waits until it has all it
         * asks for: the rest of a restore's last chunk never comes); with
         * nothing queued, the next message, up to 100 ms. */
        size_t want = PX_CHANGELOG_CHUNK - r->n;
        int queued = r->q ? (int)rd_kafka_queue_length(r->q) : -1;
        if (queued == 0)
            want = 1;
        else if (queued > 0 && (size_t)queued < want)
            want = (size_t)queued;
        rd_kafka_message_t *got[PX_CHANGELOG_CHUNK];
        ssize_t k = rd_kafka_consume_batch(r->rkt, r->j->p, queued > 0 ? 0 : 100, got, want);
        r->qlen = r->q ? (int)rd_kafka_queue_length(r->q) : 0;
        if (k < 0) {
            px_why(why, whylen, "changelog %s [%" PRId32 "]: %s", cl->topic, r->j->p,
                   rd_kafka_err2str(rd_kafka_last_error()));
            return PX_ERR_KAFKA;
        }
        if (k > 0)
            silent_since = px_clock_mono_ms();
        else if (px_clock_mono_ms() - silent_since >= cl->timeout_ms) {
            px_why(why, whylen,
                   "changelog %s [%" PRId32 "]: nothing read for %d ms at offset %" PRId64
                   " (end %" PRId64 ")",
                   cl->topic, r->j->p, cl->timeout_ms, r->next, r->end);
            return PX_ERR_KAFKA;
        }
        px_err err = px_changelog_take(r, got, (size_t)k, why, whylen);
        if (err != PX_OK)
            return err;
    }
    return PX_OK;
}

/* Gives apply the chunk in hand; at the end its position is the end, over
 * whatever compaction removed before it. */
static px_err px_changelog_apply(px_changelog_reader *r)
{
    px_changelog_job *j = r->j;
    int64_t next = r->at_end ? r->end : r->next;
    if (r->n == 0 && next == atomic_load(&j->next))
        return PX_OK;
    px_err err = j->apply(j->ctx, r->msgs, r->n, next);
    if (err == PX_OK) {
        atomic_fetch_add(&j->cl->restored, r->n);
        atomic_store(&j->next, next);
    }
    px_changelog_reader_drop(r);
    return err;
}

/* The range to read: [*from, *end). Kafka answers with the last stable
 * offset (read_committed): the end of the committed rows, which follows a
 * transaction's commit by the time the coordinator takes to write its
 * markers. A position beyond it is waited for, up to the timeout. */
static px_err px_changelog_range(px_changelog_job *j, int64_t *from, int64_t *end, char *why,
                                 size_t whylen)
{
    px_changelog *cl = j->cl;
    int64_t lo = 0, hi = 0, deadline = px_clock_mono_ms() + cl->timeout_ms;
    for (;;) {
        pthread_rwlock_rdlock(&cl->handle_lock);
        rd_kafka_resp_err_t e =
            cl->rk ? rd_kafka_query_watermark_offsets(cl->rk, cl->topic, j->p, &lo, &hi,
                                                      cl->timeout_ms)
                   : RD_KAFKA_RESP_ERR__STATE; /* its replacement could not be made */
        pthread_rwlock_unlock(&cl->handle_lock);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            px_why(why, whylen, "changelog %s [%" PRId32 "]: offsets: %s", cl->topic, j->p,
                   rd_kafka_err2str(e));
            return px_changelog_kafka_err(e);
        }
        if (j->from <= hi || !cl->txn_id || px_clock_mono_ms() >= deadline ||
            atomic_load(&j->cancel))
            break;
    }
    if (j->from > hi) {
        px_why(why, whylen,
               "changelog %s [%" PRId32 "] ends at %" PRId64
               ", before the store's position %" PRId64
               ": the topic was recreated or is not the store's",
               cl->topic, j->p, hi, j->from);
        return PX_ERR_INVAL;
    }
    *from = j->from < lo ? lo : j->from;
    *end = hi;
    return PX_OK;
}

static px_err px_changelog_run(px_changelog_job *j, char *why, size_t whylen)
{
    int64_t from, end;
    px_err err = px_changelog_range(j, &from, &end, why, whylen);
    if (err != PX_OK)
        return err;
    atomic_store(&j->next, from);
    atomic_store(&j->end, end);
    if (from >= end)
        return PX_OK;
    px_changelog_reader *r = calloc(1, sizeof(*r));
    if (!r) {
        px_why(why, whylen, "out of memory");
        return PX_ERR_NOMEM;
    }
    *r = (px_changelog_reader){.j = j, .end = end, .next = from};
    err = px_changelog_reader_open(r, why, whylen);
    while (err == PX_OK) {
        err = px_changelog_fill(r, why, whylen);
        if (err == PX_OK)
            err = px_changelog_apply(r);
        if (r->at_end)
            break;
    }
    if (err != PX_OK && why && !why[0])
        px_why(why, whylen, "changelog: applying the rows: %s", px_strerror(err));
    px_changelog_reader_close(r);
    free(r);
    return err;
}

px_err px_changelog_restore(px_changelog *cl, int32_t p, int64_t from, px_changelog_apply_fn apply,
                            void *ctx, char *why, size_t whylen)
{
    px_changelog_job j = {.cl = cl, .p = p, .from = from, .apply = apply, .ctx = ctx};
    atomic_init(&j.end, -1);
    if (why && whylen)
        why[0] = '\0';
    return px_changelog_run(&j, why, whylen);
}

/* ---- on a thread of its own ------------------------------------------------------ */

static void *px_changelog_thread(void *arg)
{
    px_changelog_job *j = arg;
    j->result = px_changelog_run(j, j->why, sizeof(j->why));
    atomic_store(&j->done, true);
    return NULL;
}

px_err px_changelog_restore_start(px_changelog *cl, int32_t p, int64_t from,
                                  px_changelog_apply_fn apply, void *ctx, px_changelog_job **out)
{
    *out = NULL;
    px_changelog_job *j = calloc(1, sizeof(*j));
    if (!j)
        return PX_ERR_NOMEM;
    *j = (px_changelog_job){.cl = cl, .p = p, .from = from, .apply = apply, .ctx = ctx};
    atomic_init(&j->next, from);
    atomic_init(&j->end, -1);
    if (pthread_create(&j->thread, NULL, px_changelog_thread, j) != 0) {
        free(j);
        return PX_ERR_IO;
    }
    j->threaded = true;
    *out = j;
    return PX_OK;
}

bool px_changelog_restore_done(px_changelog_job *j, int64_t *next, int64_t *end)
{
    bool done = atomic_load(&j->done);
    if (next)
        *next = atomic_load(&j->next);
    if (end)
        *end = atomic_load(&j->end);
    return done;
}

void px_changelog_restore_cancel(px_changelog_job *j)
{
    atomic_store(&j->cancel, true);
}

px_err px_changelog_restore_join(px_changelog_job *j, char *why, size_t whylen)
{
    if (!j)
        return PX_OK;
    if (j->threaded)
        pthread_join(j->thread, NULL);
    px_err err = j->result;
    if (err != PX_OK)
        px_why(why, whylen, "%s", j->why);
    free(j);
    return err;
}
