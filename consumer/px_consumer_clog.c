/* px_consumer_clog.c: the partition stores' changelog (docs/ARCHITECTURE.md,
 * "The changelog topic"). With kafka.changelog_topic set (the default,
 * "pdnsx.state"), every transaction of the store of input partition p is
 * published to partition p of that topic before it commits
 * (px_store_set_changelog: the position Kafka acknowledged is committed
 * with the data), and a member that gains partition p brings its store up
 * to the end of the changelog before it reads p's input, so that it
 * resumes from the offsets the last owner committed instead of reading
 * the input again. Each partition publishes through its own Kafka
 * transactional id, "<kafka.group>.state.<p>": the new owner's fence ends
 * the old owner's open transaction (its rows are never read) and refuses
 * its later publishes, so that no row reaches the log without the offsets
 * row of its transaction. Each batch's transaction also commits the
 * batch's input offsets to the consumer group (px_changelog_publish):
 * the group coordinator refuses them from a member not in its current
 * generation, so a zombie that took the id over again (renewing a stuck
 * producer) still cannot commit a row. */
#include "px_consumer_int.h"

#include "px_consumer_changelog.h"

bool px_consumer_clog_on(const px_consumer *c)
{
    return c->conf->kafka_changelog_topic && c->conf->kafka_changelog_topic[0];
}

/* One producer per partition: its transactional id. */
static px_changelog *px_consumer_clog_new(px_consumer *c, int32_t partition, char *why,
                                          size_t whylen)
{
    px_kafka_settings ks = px_consumer_kafka_settings(c);
    char txn[512];
    if (partition >= 0)
        snprintf(txn, sizeof(txn), "%s.state.%" PRId32, c->conf->kafka_group, partition);
    px_changelog_opts o = {.settings = &ks,
                           .topic = c->conf->kafka_changelog_topic,
                           .client = "pdnsx-consumer-state",
                           .transactional_id = partition >= 0 ? txn : NULL};
    px_changelog *cl = NULL;
    px_err err = px_changelog_create(&o, &cl, why, whylen);
    if (err != PX_OK && !why[0])
        snprintf(why, whylen, "%s", px_strerror(err));
    return err == PX_OK ? cl : NULL;
}

/* ---- publishing ------------------------------------------------------------------ */

/* The group's side of p's transaction: the batch's next offsets of the
 * input partitions p (every organisation topic's), and the member's group
 * metadata, which the coordinator checks (px_changelog_publish). A
 * transaction that read no input (the sinks' cursors alone) sends none.
 * Caller frees both (NULL if none). */
static void px_consumer_clog_group(px_consumer *c, int32_t partition,
                                   rd_kafka_topic_partition_list_t **offsets,
                                   rd_kafka_consumer_group_metadata_t **meta)
{
    *offsets = NULL;
    *meta = NULL;
    for (size_t i = 0; i < c->n_pos; i++) {
        if (c->pos[i].partition != partition)
            continue;
        if (!*offsets && !(*offsets = rd_kafka_topic_partition_list_new(4)))
            return;
        rd_kafka_topic_partition_list_add(*offsets, c->pos[i].topic, partition)->offset =
            c->pos[i].next;
    }
    if (*offsets)
        *meta = rd_kafka_consumer_group_metadata(c->rk);
}

/* px_changelog_publish of p's rows, with the group's side. */
static px_err px_consumer_clog_send(px_consumer_pstore *p, const px_changelog_msg *msgs, size_t n,
                                    int64_t *next, char *why, size_t whylen)
{
    rd_kafka_topic_partition_list_t *offsets;
    rd_kafka_consumer_group_metadata_t *meta;
    px_consumer_clog_group(p->c, p->partition, &offsets, &meta);
    px_changelog_group g = {.meta = meta, .offsets = offsets};
    px_changelog_stats was, now;
    px_changelog_get_stats(p->cl, &was);
    px_err err =
        px_changelog_publish(p->cl, p->partition, msgs, n, meta ? &g : NULL, next, why, whylen);
    px_changelog_get_stats(p->cl, &now);
    px_metric_add(p->c->m_clog_renewed, now.renewed - was.renewed);
    px_metric_add(p->c->m_clog_refused, now.group_refused - was.group_refused);
    if (meta)
        rd_kafka_consumer_group_metadata_destroy(meta);
    if (offsets)
        rd_kafka_topic_partition_list_destroy(offsets);
    return err;
}

/* px_store_changelog_fn of partition p's store: its rows as messages to
 * partition p, acknowledged before the store commits. */
static px_err px_consumer_clog_publish(void *ctx, const px_store_row *rows, size_t n, int64_t *next)
{
    px_consumer_pstore *p = ctx;
    px_consumer *c = p->c;
    size_t key_bytes = 0;
    for (size_t i = 0; i < n; i++)
        key_bytes += 1 + rows[i].key_len;
    px_changelog_msg *msgs = malloc(n * sizeof(*msgs));
    uint8_t *keys = malloc(key_bytes ? key_bytes : 1);
    px_err err = msgs && keys ? PX_OK : PX_ERR_NOMEM;
    size_t at = 0;
    for (size_t i = 0; i < n && err == PX_OK; i++) {
        size_t len = 0;
        err = px_store_row_to_msg(&rows[i], keys + at, key_bytes - at, &len);
        msgs[i] = (px_changelog_msg){keys + at, len, rows[i].val, rows[i].val_len};
        at += len;
    }
    char why[512] = "";
    if (err == PX_OK)
        err = px_consumer_clog_send(p, msgs, n, next, why, sizeof(why));
    free(msgs);
    free(keys);
    if (err == PX_OK) {
        px_metric_add(c->m_clog_rows, n);
        return PX_OK;
    }
    px_metric_inc(c->m_clog_failed);
    px_error("changelog: cannot publish %zu rows of partition %" PRId32 " to %s: %s", n,
             p->partition, c->conf->kafka_changelog_topic, why[0] ? why : px_strerror(err));
    if (px_changelog_fatal(p->cl))
        c->fatal = true; /* fenced by another member, or idempotence broken */
    return err;
}

/* ---- restoring ------------------------------------------------------------------- */

/* A restore in progress: its thread writes p's store alone, through
 * px_consumer_clog_apply, until px_consumer_clog_finish joins it. */
struct px_consumer_restore {
    px_consumer_pstore *p;
    px_store_row *rows; /* a chunk's rows */
    uint64_t applied;   /* rows written (the restore's thread) */
    int64_t from, end;
    uint64_t t0;
    struct px_changelog_job *job;
};

static px_err px_consumer_clog_apply(void *ctx, const px_changelog_msg *m, size_t n, int64_t next)
{
    px_consumer_restore *r = ctx;
    for (size_t i = 0; i < n; i++) {
        px_err err =
            px_store_row_from_msg(m[i].key, m[i].key_len, m[i].val, m[i].val_len, &r->rows[i]);
        if (err != PX_OK)
            return err;
    }
    px_err err = px_store_apply_rows(r->p->store, r->rows, n, next);
    if (err == PX_OK) {
        r->applied += n;
        px_metric_add(r->p->c->m_clog_restored, n);
    }
    return err;
}

/* A store that holds data but no changelog position was written with
 * the changelog off: restoring into it would mix its dictionary ids with
 * the changelog's. It is moved aside whole (set-aside-<p>.<k>/) and p
 * gets a new store. 0, or -1 with why. */
static int px_consumer_clog_set_aside(px_consumer *c, px_consumer_pstore *p, char *why,
                                      size_t whylen)
{
    px_store_stats st = {0};
    if (px_store_get_stats(p->store, &st) == PX_OK && st.records == 0 && st.domains == 0)
        return 0; /* nothing in it to mix */
    char where[4400] = "";
    px_store_set_changelog(p->store, NULL, NULL);
    px_err err = px_stores_set_aside(c->stores, p->partition, where, sizeof(where));
    p->store = NULL;
    if (err != PX_OK) {
        snprintf(why, whylen, "cannot move %s/partition-%" PRId32 " aside: %s", c->conf->store_path,
                 p->partition, px_strerror(err));
        return -1;
    }
    px_warning("changelog: the store of partition %" PRId32 " holds %" PRIu64
               " records but no changelog position (written with the changelog off): it is "
               "moved aside to %s (look at it, then delete it) and the partition is restored "
               "from %s into a new store",
               p->partition, st.records, where, c->conf->kafka_changelog_topic);
    p->store = px_stores_attach(c->stores, p->partition, &err, why, whylen);
    if (!p->store && !why[0])
        snprintf(why, whylen, "%s", px_strerror(err));
    return p->store ? 0 : -1;
}

/* Takes p's transactional id over and compares its store's position with
 * the end of its changelog partition: 0 caught up, 1 a restore started
 * on its own thread (p->restore), -1 with why. */
static int px_consumer_clog_catch_up(px_consumer *c, px_consumer_pstore *p, char *why,
                                     size_t whylen)
{
    int64_t from = 0, end = 0;
    px_err err = px_store_changelog_next(p->store, &from);
    bool positioned = err == PX_OK;
    if (err == PX_ERR_NOTFOUND)
        from = 0; /* a new store, or one written without the changelog */
    else if (err != PX_OK) {
        snprintf(why, whylen, "its changelog position: %s", px_strerror(err));
        return -1;
    }
    if (px_changelog_fence(p->cl, why, whylen) != PX_OK ||
        px_changelog_end(p->cl, p->partition, &end, why, whylen) != PX_OK)
        return -1;
    /* A transaction's position is past its commit marker, which the end
     * counts a few milliseconds after the commit (and librdkafka's mock
     * cluster never): one offset beyond the end holds no row. */
    if (from == end + 1 || from == end)
        return 0;
    if (from > end) {
        snprintf(why, whylen,
                 "the store holds changelog position %" PRId64 ", beyond the end of %s [%" PRId32
                 "] (%" PRId64 "): the topic was recreated? Move %s/partition-%" PRId32
                 " aside (it is rebuilt from the input) or restore the topic",
                 from, c->conf->kafka_changelog_topic, p->partition, end, c->conf->store_path,
                 p->partition);
        return -1;
    }
    if (!positioned && px_consumer_clog_set_aside(c, p, why, whylen) < 0)
        return -1;
    px_consumer_restore *r = calloc(1, sizeof(*r));
    px_store_row *rows = malloc(PX_CHANGELOG_CHUNK * sizeof(*rows));
    if (!r || !rows) {
        free(r);
        free(rows);
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    *r = (px_consumer_restore){
        .p = p, .rows = rows, .from = from, .end = end, .t0 = px_consumer_now_us()};
    err = px_changelog_restore_start(p->cl, p->partition, from, px_consumer_clog_apply, r, &r->job);
    if (err != PX_OK) {
        free(rows);
        free(r);
        snprintf(why, whylen, "cannot start its restore: %s", px_strerror(err));
        return -1;
    }
    p->restore = r;
    px_info("changelog: restoring partition %" PRId32 " from %s, position %" PRId64 " to %" PRId64
            " (its input waits; the other partitions go on)",
            p->partition, c->conf->kafka_changelog_topic, from, end);
    return 1;
}

int px_consumer_clog_attach(px_consumer *c, px_consumer_pstore *p)
{
    if (!px_consumer_clog_on(c))
        return 0;
    char why[1024] = "";
    if (p->cl && px_changelog_fatal(p->cl)) { /* fenced while another member held it */
        px_store_set_changelog(p->store, NULL, NULL);
        px_changelog_destroy(p->cl);
        p->cl = NULL;
    }
    p->c = c;
    if (!p->cl)
        p->cl = px_consumer_clog_new(c, p->partition, why, sizeof(why));
    int rc = p->cl ? px_consumer_clog_catch_up(c, p, why, sizeof(why)) : -1;
    if (rc < 0) {
        px_error("changelog: partition %" PRId32 ": %s", p->partition, why);
        return -1;
    }
    if (rc > 0)
        return 1; /* published to once restored (px_consumer_clog_finish) */
    return px_store_set_changelog(p->store, px_consumer_clog_publish, p) == PX_OK ? 0 : -1;
}

int px_consumer_clog_finish(px_consumer *c, px_consumer_pstore *p, bool cancel)
{
    px_consumer_restore *r = p->restore;
    if (!r)
        return 1;
    if (cancel)
        px_changelog_restore_cancel(r->job);
    else if (!px_changelog_restore_done(r->job, NULL, NULL))
        return 0;
    char why[1024] = "";
    px_err err = px_changelog_restore_join(r->job, why, sizeof(why));
    p->restore = NULL;
    double s = (double)(px_consumer_now_us() - r->t0) / 1e6;
    uint64_t applied = r->applied;
    free(r->rows);
    free(r);
    if (cancel) {
        px_info("changelog: the restore of partition %" PRId32 " stopped (%s) after %" PRIu64
                " rows in %.2f s: its store keeps the position it reached",
                p->partition, err == PX_OK ? "it had ended" : "revoked", applied, s);
        return -1;
    }
    if (err != PX_OK) {
        px_error("changelog: partition %" PRId32 ": %s", p->partition,
                 why[0] ? why : px_strerror(err));
        return -1;
    }
    px_info("changelog: partition %" PRId32 " restored from %s: %" PRIu64 " rows in %.2f s",
            p->partition, c->conf->kafka_changelog_topic, applied, s);
    return px_store_set_changelog(p->store, px_consumer_clog_publish, p) == PX_OK ? 1 : -1;
}

void px_consumer_clog_detach(px_consumer_pstore *p)
{
    px_consumer_clog_finish(p->c, p, true);
    if (p->store)
        px_store_set_changelog(p->store, NULL, NULL);
    px_changelog_destroy(p->cl);
    p->cl = NULL;
}

/* ---- the check at start ---------------------------------------------------------- */

int px_consumer_clog_check(px_consumer *c, int partitions, char *errbuf, size_t errlen)
{
    if (!px_consumer_clog_on(c))
        return 0;
    const char *topic = c->conf->kafka_changelog_topic;
    char why[1024] = "";
    px_changelog *cl = px_consumer_clog_new(c, -1, why, sizeof(why));
    int n = 0;
    bool compacted = false;
    px_err err = cl ? px_changelog_partitions(cl, &n, why, sizeof(why)) : PX_ERR_CONFIG;
    if (err == PX_OK && partitions > 0 && n != partitions) {
        snprintf(why, sizeof(why),
                 "it has %d partition(s), the organisation topics %d: it needs as many (one per "
                 "input partition)",
                 n, partitions);
        err = PX_ERR_INVAL;
    }
    if (err == PX_OK) {
        px_err cerr = px_changelog_compacted(cl, &compacted, why, sizeof(why));
        if (cerr == PX_OK && !compacted)
            err = PX_ERR_INVAL; /* why says which policy */
        else if (cerr != PX_OK)
            px_warning("changelog: cannot tell whether %s is log-compacted (%s): it must be "
                       "(cleanup.policy=compact)",
                       topic, why);
    }
    px_changelog_destroy(cl);
    if (err == PX_OK)
        return 0;
    snprintf(errbuf, errlen,
             "changelog topic %s: %s (create it log-compacted with the organisation topics' "
             "partition count: tools/kafka/pdnsx-kafka-federation; or set "
             "kafka.changelog_topic=\"\" for a single member without it)",
             topic, why[0] ? why : px_strerror(err));
    return -1;
}
