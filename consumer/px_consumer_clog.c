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
 * row of its transaction. */
#include "px_consumer_int.h"

#include "px_consumer_changelog.h"

/* kafka.changelog_topic is set */
static bool px_consumer_clog_on(const px_consumer *c)
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
        err = px_changelog_publish(p->cl, p->partition, msgs, n, next, why, sizeof(why));
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

typedef struct px_consumer_restore {
    px_consumer_pstore *p;
    px_store_row *rows;
    uint64_t applied;
} px_consumer_restore;

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

/* Brings p's store to the end of its changelog partition, after taking
 * its transactional id over. 0, or -1 with why. */
static int px_consumer_clog_catch_up(px_consumer *c, px_consumer_pstore *p, char *why,
                                     size_t whylen)
{
    int64_t from = 0, end = 0;
    px_err err = px_store_changelog_next(p->store, &from);
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
    if (from == end + 1)
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
    if (from == end)
        return 0;
    px_consumer_restore r = {.p = p, .rows = malloc(PX_CHANGELOG_CHUNK * sizeof(*r.rows))};
    if (!r.rows) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    px_info("changelog: restoring partition %" PRId32 " from %s, position %" PRId64 " to %" PRId64,
            p->partition, c->conf->kafka_changelog_topic, from, end);
    px_metric_set(c->m_clog_restoring, 1);
    uint64_t t0 = px_consumer_now_us();
    err = px_changelog_restore(p->cl, p->partition, from, px_consumer_clog_apply, &r, why, whylen);
    px_metric_set(c->m_clog_restoring, 0);
    free(r.rows);
    if (err != PX_OK) {
        if (!why[0])
            snprintf(why, whylen, "%s", px_strerror(err));
        return -1;
    }
    double s = (double)(px_consumer_now_us() - t0) / 1e6;
    px_info("changelog: partition %" PRId32 " restored: %" PRIu64 " rows in %.2f s", p->partition,
            r.applied, s);
    return 0;
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
    if (!p->cl || px_consumer_clog_catch_up(c, p, why, sizeof(why)) < 0) {
        px_error("changelog: partition %" PRId32 ": %s", p->partition, why);
        return -1;
    }
    return px_store_set_changelog(p->store, px_consumer_clog_publish, p) == PX_OK ? 0 : -1;
}

void px_consumer_clog_detach(px_consumer_pstore *p)
{
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
