/* px_consumer_stores.c: the consumer's partition stores (store/px_stores.h).
 * A store per assigned partition number: attached when the group assigns
 * the partition (its offsets say where each topic's partition resumes),
 * committed and detached when it is revoked, so that the next owner
 * resumes exactly where this member stopped. The dead-letter marks of an
 * abandoned batch live in the store of their partition. */
#include "core/px_buf.h"
#include "px_consumer_int.h"

px_consumer_pstore *px_consumer_pstore_of(px_consumer *c, int32_t partition)
{
    /* few partitions per member, and the last one asked is the likeliest */
    if (c->cur && c->cur->partition == partition)
        return c->cur;
    for (size_t i = 0; i < c->n_pstores; i++)
        if (c->pstores[i]->partition == partition)
            return c->pstores[i];
    return NULL;
}

px_consumer_pstore *px_consumer_restoring_of(const px_consumer *c, int32_t partition)
{
    for (size_t i = 0; i < c->n_restoring; i++)
        if (c->restoring[i]->partition == partition)
            return c->restoring[i];
    return NULL;
}

/* ---- the two lists: stores in use, stores restoring ------------------------------ */

/* Inserts p into v[0..*n) by increasing partition. -1: no memory. */
static int px_consumer_list_put(px_consumer_pstore ***v, size_t *n, size_t *cap,
                                px_consumer_pstore *p)
{
    if (PX_ARRAY_RESERVE(*v, *cap, *n + 1, 16) != PX_OK)
        return -1;
    size_t at = *n;
    while (at > 0 && (*v)[at - 1]->partition > p->partition)
        at--;
    memmove(*v + at + 1, *v + at, (*n - at) * sizeof(**v));
    (*v)[at] = p;
    (*n)++;
    return 0;
}

static void px_consumer_list_take(px_consumer_pstore **v, size_t *n, px_consumer_pstore *p)
{
    size_t at = 0;
    while (v[at] != p)
        at++;
    memmove(v + at, v + at + 1, (*n - at - 1) * sizeof(*v));
    (*n)--;
}

/* p's restore started: out of the stores in use until it ends. */
static int px_consumer_to_restoring(px_consumer *c, px_consumer_pstore *p)
{
    if (px_consumer_list_put(&c->restoring, &c->n_restoring, &c->cap_restoring, p) < 0)
        return -1;
    px_consumer_list_take(c->pstores, &c->n_pstores, p);
    if (c->cur == p)
        c->cur = NULL;
    px_metric_set(c->m_clog_restoring, (int64_t)c->n_restoring);
    return 0;
}

/* p's restore ended (or was stopped): back among the stores in use. */
static int px_consumer_from_restoring(px_consumer *c, px_consumer_pstore *p)
{
    if (px_consumer_list_put(&c->pstores, &c->n_pstores, &c->cap_pstores, p) < 0)
        return -1;
    px_consumer_list_take(c->restoring, &c->n_restoring, p);
    px_metric_set(c->m_clog_restoring, (int64_t)c->n_restoring);
    if (c->owner)
        px_query_owner_restoring(c->owner, p->partition, false);
    return 0;
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

/* The marks of p's partition, into its store. */
static px_err px_consumer_marks_into(px_consumer_pstore *p, const px_consumer_marks *m)
{
    px_store_dlq_ent *mine = malloc((m->n ? m->n : 1) * sizeof(*mine));
    if (!mine)
        return PX_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].partition == p->partition)
            mine[n++] = m->v[i];
    px_err err = n ? px_store_dlq_mark(p->store, mine, n) : PX_OK;
    free(mine);
    return err;
}

/* An abandoned batch's settled dead-letter copies go into the stores of
 * their partitions, so that a restart before the batch commits does not
 * send them again (the in-process retry knows them anyway). A failure
 * costs duplicates after a restart, nothing else; so does a copy of a
 * partition revoked meanwhile. */
void px_consumer_save_marks(px_consumer *c)
{
    px_consumer_marks m = {0};
    if (!c->dl || px_dlq_unsaved(c->dl, px_consumer_mark, &m) == 0)
        return;
    px_err err = m.nomem ? PX_ERR_NOMEM : PX_OK;
    for (size_t i = 0; err == PX_OK && i < c->n_pstores; i++)
        err = px_consumer_marks_into(c->pstores[i], &m);
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

static void px_consumer_preload_marks(px_consumer *c, px_consumer_pstore *p)
{
    size_t left = 0;
    px_err err = px_store_dlq_prune(p->store, &left);
    if (err == PX_ERR_MALFORMED) {
        px_warning("store: the dlq.marks of partition %" PRId32 " are damaged and were removed: "
                   "dead-letter copies of the last abandoned batch may be sent again",
                   p->partition);
        return;
    }
    if (err == PX_OK && left > 0)
        err = px_store_dlq_acked(p->store, px_consumer_preload_one, c);
    if (err != PX_OK)
        px_warning("store: cannot read the acknowledged dead-letter copies: %s (those of the "
                   "last abandoned batch may be sent again)",
                   px_strerror(err));
    else if (left > 0)
        px_info("store: %zu dead-letter copies of an abandoned batch were acknowledged; they "
                "are not sent again",
                left);
}

/* The batch's copies are behind its offsets now: their record goes. */
void px_consumer_prune_marks(px_consumer *c)
{
    for (size_t i = 0; i < c->n_pstores; i++)
        px_store_dlq_prune(c->pstores[i]->store, NULL);
}

/* ---- the batch log ----------------------------------------------------------- */

/* Finishes a big batch of p whose application stopped (a crash, a full
 * map): its offsets are committed, so no later message is read before it
 * is whole. False: try again later. */
static bool px_consumer_resume(px_consumer *c, px_consumer_pstore *p)
{
    uint64_t lost = 0;
    px_err err = px_store_resume(p->store, &lost);
    c->alerts_decided = true; /* its chunks may have decided some */
    if (err == PX_OK) {
        px_info("store: the last batch of partition %" PRId32 " is applied", p->partition);
        return true;
    }
    if (err == PX_ERR_MALFORMED) { /* store.drop_damaged_log */
        px_error("store: the batch log %s/partition-%" PRId32 "/batch.log is missing or "
                 "damaged: %" PRIu64 " chunks of the last batch's records are dropped "
                 "(store.drop_damaged_log)",
                 c->conf->store_path, p->partition, lost);
        return true;
    }
    if (err == PX_ERR_DAMAGED) {
        px_error("store: the last batch of partition %" PRId32 " cannot be applied: the store "
                 "or its batch log is damaged (reported above); stopping (README: recovering a "
                 "damaged store)",
                 p->partition);
        c->fatal = true;
        return false;
    }
    px_error("store: cannot finish applying the last batch of partition %" PRId32
             ": %s; will retry",
             p->partition, px_strerror(err));
    return false;
}

bool px_consumer_logs_done(px_consumer *c)
{
    bool done = true;
    for (size_t i = 0; i < c->n_pstores && !c->fatal; i++) {
        px_consumer_pstore *p = c->pstores[i];
        if (px_store_log_pending(p->store) && !px_consumer_resume(c, p))
            done = false;
    }
    return done && !c->fatal;
}

px_store_batch *px_consumer_pbatch(px_consumer *c, px_consumer_pstore *p)
{
    if (p->batch)
        return p->batch;
    if (px_store_log_pending(p->store) && !px_consumer_resume(c, p))
        return NULL;
    px_err err = px_store_batch_begin(p->store, &p->batch);
    if (err == PX_ERR_AGAIN) /* a log pending (px_consumer_begin resumed them all) */
        return p->batch = NULL;
    if (err != PX_OK) {
        px_error("store: cannot begin a transaction on partition %" PRId32 ": %s", p->partition,
                 px_strerror(err));
        p->batch = NULL;
        c->fatal = true;
    }
    return p->batch;
}

/* ---- assignment ------------------------------------------------------------------ */

/* Attaches the store of partition; NULL on failure (why says it). */
static px_consumer_pstore *px_consumer_pstore_add(px_consumer *c, int32_t partition, char *why,
                                                  size_t whylen)
{
    px_consumer_pstore *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    px_err err = PX_OK;
    p->partition = partition;
    p->store = px_stores_attach(c->stores, partition, &err, why, whylen);
    if (!p->store) {
        if (!why[0])
            snprintf(why, whylen, "%s", px_strerror(err));
        free(p);
        return NULL;
    }
    if (px_consumer_list_put(&c->pstores, &c->n_pstores, &c->cap_pstores, p) < 0) {
        snprintf(why, whylen, "out of memory");
        px_stores_detach(c->stores, partition);
        free(p);
        return NULL;
    }
    return p;
}

/* Detaches p: the group gave its partition to another member. */
static void px_consumer_pstore_drop(px_consumer *c, px_consumer_pstore *p)
{
    px_consumer_list_take(c->pstores, &c->n_pstores, p);
    if (c->cur == p)
        c->cur = NULL;
    px_store_batch_abort(p->batch); /* none: the revocation committed */
    px_consumer_clog_detach(p);
    px_stores_detach(c->stores, p->partition);
    px_info("store: partition %" PRId32 " detached", p->partition);
    free(p);
}

static bool px_consumer_in_list(const rd_kafka_topic_partition_list_t *parts, int32_t partition)
{
    for (int i = 0; i < parts->cnt; i++)
        if (parts->elems[i].partition == partition)
            return true;
    return false;
}

/* The stores of a revocation whose partitions come back keep their
 * handles (the range assignor's eager rebalance revokes everything each
 * time; opening a store checks it, store.check_on_open); the others are
 * detached now. */
static void px_consumer_drop_revoked(px_consumer *c, const rd_kafka_topic_partition_list_t *parts)
{
    for (size_t i = c->n_pstores; i-- > 0;) {
        px_consumer_pstore *p = c->pstores[i];
        if (!p->revoked)
            continue;
        if (px_consumer_in_list(parts, p->partition)) {
            p->revoked = false;
            p->fresh = true; /* the changelog may have moved while it was not ours */
        } else
            px_consumer_pstore_drop(c, p);
    }
}

/* p's store up to date: its sinks' cursors read (a restore brings the
 * last owner's), its dead-letter marks too if it is new here. -1:
 * c->fatal. */
static int px_consumer_pstore_use(px_consumer *c, px_consumer_pstore *p)
{
    if (px_consumer_cursors_load(c, p) < 0) {
        c->fatal = true;
        return -1;
    }
    if (p->marks_due)
        px_consumer_preload_marks(c, p);
    p->marks_due = false;
    c->alerts_decided = true; /* a restore may have brought alerts */
    return 0;
}

/* p (re)assigned: caught up with the changelog, or its restore started
 * (then its input paused once assigned: px_consumer_assign). -1:
 * c->fatal. */
static int px_consumer_pstore_ready(px_consumer *c, px_consumer_pstore *p)
{
    p->fresh = false;
    int rc = px_consumer_clog_attach(c, p);
    if (rc == 0)
        return px_consumer_pstore_use(c, p);
    if (rc > 0 && px_consumer_to_restoring(c, p) == 0)
        return 0;
    if (rc > 0) {
        px_error("out of memory");
        px_consumer_clog_finish(c, p, true);
    }
    c->fatal = true;
    return -1;
}

int px_consumer_stores_assign(px_consumer *c, const rd_kafka_topic_partition_list_t *parts)
{
    px_consumer_drop_revoked(c, parts);
    for (int i = 0; i < parts->cnt; i++) {
        int32_t partition = parts->elems[i].partition;
        if (px_consumer_restoring_of(c, partition))
            continue; /* another topic's partition of it: restoring already */
        px_consumer_pstore *had = px_consumer_pstore_of(c, partition);
        if (had && had->fresh && px_consumer_pstore_ready(c, had) < 0)
            return -1;
        if (had)
            continue;
        char why[512] = "";
        px_consumer_pstore *p = px_consumer_pstore_add(c, partition, why, sizeof(why));
        if (!p) {
            px_error("store %s: partition %" PRId32 ": %s", c->conf->store_path, partition, why);
            c->fatal = true;
            return -1;
        }
        p->marks_due = true;
        if (px_consumer_pstore_ready(c, p) < 0)
            return -1;
        c->alerts_decided = true; /* its outbox may hold alerts of an earlier owner */
        px_info("store: partition %" PRId32 " attached (%s/partition-%" PRId32 ")", partition,
                c->conf->store_path, partition);
    }
    return 0;
}

/* Whether partition stays assigned through another topic of parts' owner:
 * a store serves every topic's partition i, and a revocation names
 * (topic, partition) pairs. */
static bool px_consumer_still_assigned(px_consumer *c, int32_t partition,
                                       const rd_kafka_topic_partition_list_t *gone)
{
    rd_kafka_topic_partition_list_t *now = NULL;
    if (rd_kafka_assignment(c->rk, &now) != RD_KAFKA_RESP_ERR_NO_ERROR || !now)
        return false;
    bool kept = false;
    for (int i = 0; i < now->cnt && !kept; i++) {
        if (now->elems[i].partition != partition)
            continue;
        kept = !rd_kafka_topic_partition_list_find(gone, now->elems[i].topic, partition);
    }
    rd_kafka_topic_partition_list_destroy(now);
    return kept;
}

void px_consumer_stores_revoke(px_consumer *c, const rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        int32_t partition = parts->elems[i].partition;
        px_consumer_pstore *r = px_consumer_restoring_of(c, partition);
        if (r && !px_consumer_still_assigned(c, partition, parts)) {
            /* its restore stops; its store keeps the position reached,
             * which a later assignment goes on from */
            px_consumer_clog_finish(c, r, true);
            if (px_consumer_from_restoring(c, r) < 0) {
                px_error("out of memory");
                c->fatal = true;
                continue;
            }
            r->revoked = true;
            continue;
        }
        px_consumer_pstore *p = px_consumer_pstore_of(c, partition);
        if (!p || p->revoked || px_consumer_still_assigned(c, partition, parts))
            continue;
        px_consumer_sinks_leave(c, p);
        p->revoked = true;
    }
}

int px_consumer_stores_open(px_consumer *c, char *errbuf, size_t errlen)
{
    size_t n = px_stores_present(c->stores, NULL, 0);
    int32_t *parts = malloc((n ? n : 1) * sizeof(*parts));
    if (!parts) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    n = px_stores_present(c->stores, parts, n);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char why[512] = "";
        px_consumer_pstore *p = px_consumer_pstore_add(c, parts[i], why, sizeof(why));
        if (!p || px_consumer_cursors_load(c, p) < 0) {
            snprintf(errbuf, errlen, "store %s: partition %" PRId32 ": %s", c->conf->store_path,
                     parts[i], why[0] ? why : "cannot read the sinks' cursors");
            rc = -1;
            break;
        }
        p->revoked = true; /* until the group assigns it */
    }
    c->alerts_decided = true; /* the outboxes may hold alerts of an earlier run */
    free(parts);
    return rc;
}

/* At exit the stores stay where they are (partition-<i>/): the partitions
 * this member held when it stopped, whose offsets it resumes from;
 * px_stores_close closes them. */
void px_consumer_stores_preload(px_consumer *c)
{
    for (size_t i = 0; i < c->n_pstores; i++)
        px_consumer_preload_marks(c, c->pstores[i]);
}

void px_consumer_restores_poll(px_consumer *c)
{
    for (size_t i = 0; i < c->n_restoring && !c->fatal;) {
        px_consumer_pstore *p = c->restoring[i];
        int rc = px_consumer_clog_finish(c, p, false);
        if (rc == 0) {
            i++;
            continue;
        }
        if (rc < 0 || px_consumer_from_restoring(c, p) < 0 || px_consumer_pstore_use(c, p) < 0) {
            c->fatal = true; /* as a restore that failed in the assignment did */
            return;
        }
        px_consumer_input_resume(c, p->partition);
    }
}

void px_consumer_stores_close(px_consumer *c)
{
    /* a restore still running (the handle went without a revocation) */
    while (c->n_restoring) {
        px_consumer_pstore *p = c->restoring[0];
        px_consumer_clog_finish(c, p, true);
        if (px_consumer_from_restoring(c, p) < 0) {
            px_consumer_list_take(c->restoring, &c->n_restoring, p);
            px_consumer_clog_detach(p);
            free(p);
        }
    }
    free(c->restoring);
    c->restoring = NULL;
    c->cap_restoring = 0;
    for (size_t i = 0; i < c->n_pstores; i++) {
        px_store_batch_abort(c->pstores[i]->batch);
        px_consumer_clog_detach(c->pstores[i]);
        free(c->pstores[i]);
    }
    c->n_pstores = 0;
    c->cur = NULL;
    free(c->pstores);
    c->pstores = NULL;
    c->cap_pstores = 0;
}
