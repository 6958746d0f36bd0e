/* px_consumer.c: the consumer's Kafka loop. One thread does everything
 * (librdkafka's consumer and the dead-letter producer are served from it),
 * so the store batch needs no lock. This file: set-up, the batch and the
 * run loop (px_consumer_int.h says where the rest is). */
#include "px_consumer_int.h"

/* ---- the batch ---------------------------------------------------------------- */

static void px_consumer_forget_positions(px_consumer *c)
{
    for (size_t i = 0; i < c->n_pos; i++)
        free(c->pos[i].topic);
    c->n_pos = 0;
}

static void px_consumer_trust_reset(px_consumer *c);

/* Every partition store's transaction of the open batch, abandoned. */
static void px_consumer_abort_stores(px_consumer *c)
{
    for (size_t i = 0; i < c->n_pstores; i++) {
        px_store_batch_abort(c->pstores[i]->batch);
        c->pstores[i]->batch = NULL;
    }
}

static void px_consumer_reset_batch(px_consumer *c)
{
    px_consumer_trust_reset(c);
    c->batch = false;
    c->batch_msgs = c->batch_merged = 0;
    memset(c->batch_dlq, 0, sizeof(c->batch_dlq));
    px_consumer_forget_positions(c);
}

int px_consumer_remember(px_consumer *c, const char *topic, int32_t partition, int64_t next)
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

void px_consumer_abandon(px_consumer *c, bool rewind)
{
    px_consumer_abort_stores(c);
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

int px_consumer_begin(px_consumer *c)
{
    /* A commit whose application stopped (PX_ERR_AGAIN) may be followed by
     * more messages of the same read: the message in hand is read again
     * if the last batch cannot be finished now. */
    if (!px_consumer_log_done(c, true))
        return -1;
    /* each partition store's transaction begins with its first message
     * (px_consumer_pbatch) */
    c->batch = true;
    c->batch_start_ms = px_consumer_coarse_ms();
    c->batch_seq++;
    return 0;
}

/* Kafka's committed offsets are for monitoring (consumer lag) only: the
 * store is where the consumer resumes. With the changelog on, the batch's
 * transactions committed them already (px_consumer_clog.c), so that they
 * move exactly with the stores; without it they are committed here. */
static void px_consumer_commit_kafka(px_consumer *c)
{
    if (c->n_pos == 0)
        return;
    for (size_t i = 0; i < c->n_pos; i++)
        px_consumer_lag_committed(c->lag, c->pos[i].topic, c->pos[i].partition, c->pos[i].next);
    if (px_consumer_clog_on(c))
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
    uint64_t collisions = 0;
    for (size_t i = 0; i < c->n_pstores; i++) {
        uint64_t damaged, n;
        px_store_get_counters(c->pstores[i]->store, &damaged, &n);
        collisions += n;
    }
    if (collisions > c->collisions) {
        px_warning("store: %" PRIu64 " records kept against a colliding overlong rdata, its "
                   "observations dropped (%" PRIu64 " since start)",
                   collisions - c->collisions, collisions);
        px_metric_add(c->m_collisions, collisions - c->collisions);
    }
    /* a detached store takes its count along: the sum may fall */
    c->collisions = collisions;
}

/* The store's size on /metrics: after a commit at most every
 * PX_CONSUMER_STORE_STATS_MS, and whenever `now`. */
static void px_consumer_store_gauges(px_consumer *c, bool now)
{
    uint64_t t = px_consumer_coarse_ms();
    if (!now && c->store_stats_ms && t - c->store_stats_ms < PX_CONSUMER_STORE_STATS_MS)
        return;
    c->store_stats_ms = t;
    px_store_stats st;
    if (px_stores_get_stats(c->stores, &st) != PX_OK)
        return; /* damage is reported and counted on its own */
    px_metric_set(c->m_store_records, (int64_t)st.records);
    px_metric_set(c->m_store_domains, (int64_t)st.domains);
    px_metric_set(c->m_store_bytes, (int64_t)st.bytes);
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
        /* a store detached takes its count along: the minute starts over */
        uint64_t now = px_stores_org_new_records(c->stores, o->org);
        if (now < o->base)
            o->base = now;
        o->committed = now - o->base;
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
/* Commits p's transaction of the open batch, with the sinks' moved
 * cursors in its outbox; -1 when it failed (c->fatal for damage). The
 * partition stores commit one by one: each holds its own offsets, so a
 * failure after some committed reads the rest again from their stores'
 * offsets, and counts nothing twice. */
static int px_consumer_commit_one(px_consumer *c, px_consumer_pstore *p)
{
    px_err err = px_consumer_cursors_into(c, p);
    if (err != PX_OK)
        px_store_batch_abort(p->batch); /* then as a commit that failed */
    else
        err = px_store_batch_commit(p->batch);
    p->batch = NULL; /* commit and abort free it */
    if (err == PX_OK || err == PX_ERR_AGAIN)
        px_consumer_cursors_committed(c, p);
    if (err == PX_ERR_AGAIN) /* committed; px_consumer_step resumes the rest */
        px_warning("store: partition %" PRId32 ": batch committed, but applying it stopped; "
                   "resuming before the next one",
                   p->partition);
    else if (err == PX_ERR_DAMAGED) { /* never merge into a store that cannot be trusted */
        bool pending = px_store_log_pending(p->store);
        px_error("store: %s/partition-%" PRId32 " is damaged (reported above): %s; stopping "
                 "(README: recovering a damaged store)",
                 c->conf->store_path, p->partition,
                 pending ? "a batch's offsets are committed but applying it met the damage"
                         : "the batch was not committed");
        c->fatal = true;
        return -1;
    } else if (err != PX_OK) {
        px_error("store: partition %" PRId32 ": commit of the batch failed: %s; will retry",
                 p->partition, px_strerror(err));
        return -1;
    }
    return 0;
}

/* Commits the open batch. Dead-letter copies first: a message may be
 * skipped only once its copy is safe in Kafka (or Kafka refused the copy
 * for good). On failure the batch is abandoned (its messages will be read
 * again) and -1 returned. */
int px_consumer_commit(px_consumer *c, bool rewind)
{
    if (!c->batch)
        return 0;
    uint64_t t0 = px_consumer_now_us();
    px_dlq_tally t;
    if (!px_consumer_dlq_settled(c, &t)) {
        px_consumer_abandon(c, rewind);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < c->n_pstores && rc == 0; i++)
        if (c->pstores[i]->batch)
            rc = px_consumer_commit_one(c, c->pstores[i]);
    if (rc < 0) {
        if (c->fatal) {
            px_consumer_abort_stores(c);
            px_consumer_reset_batch(c);
            return -1;
        }
        px_error("store: commit of %" PRIu64 " messages failed; will retry", c->batch_msgs);
        px_consumer_abandon(c, rewind);
        return -1;
    }
    px_consumer_count_commit(c, px_consumer_now_us() - t0, &t);
    /* The batch's copies are behind its offsets now: forget them, and
     * their record in the store if an abandoned attempt made one. */
    if (px_dlq_forget(c->dl, c->batch_seq) > 0)
        px_consumer_prune_marks(c);
    px_consumer_check_store(c);
    px_consumer_store_gauges(c, false);
    px_consumer_trust_committed(c);
    px_consumer_commit_kafka(c);
    px_debug("batch committed: %" PRIu64 " messages, %" PRIu64 " merged", c->batch_msgs,
             c->batch_merged);
    px_consumer_reset_batch(c);
    /* an alert waits for no batch boundary: the sinks take it now */
    if (c->alerts_decided)
        px_consumer_deliver(c);
    return 0;
}

static bool px_consumer_batch_due(const px_consumer *c, uint64_t now)
{
    return c->batch && (c->batch_msgs >= (uint64_t)c->conf->batch_records ||
                        now - c->batch_start_ms >= (uint64_t)c->conf->batch_ms);
}

void px_consumer_commit_due(px_consumer *c)
{
    if (px_consumer_batch_due(c, px_consumer_coarse_ms()))
        px_consumer_commit(c, true);
}

/* ---- the batch log ----------------------------------------------------------- */

/* The stores take no batch before their last big one is whole: true if no
 * batch log is pending (finished now if need be), else the consumer
 * pauses, and with rewind reads the messages it took again from the
 * stores' offsets. */
static bool px_consumer_log_done(px_consumer *c, bool rewind)
{
    if (px_consumer_logs_done(c))
        return true;
    c->retry_at_ms = px_consumer_coarse_ms() + PX_CONSUMER_RETRY_MS;
    c->idle_since_ms = c->retry_at_ms;
    if (rewind)
        px_consumer_rewind(c);
    return false;
}

static void px_consumer_metrics(px_consumer *c)
{
    px_consumer_feed_metrics(c);
    c->m_messages = px_metric_counter("pdnsx_consumer_messages_total", "Messages read from Kafka");
    c->m_copartition = px_metric_counter("pdnsx_consumer_copartition_broken_total",
                                         "Times the subscribed topics were found with unequal "
                                         "partition counts (the consumer stops)");
    px_metric_counter_family(PX_CONSUMER_ORG_REJECTED, PX_CONSUMER_ORG_REJECTED_HELP);
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
    c->m_store_records = px_metric_gauge("pdnsx_store_records",
                                         "Records in the store (distinct rrname, rrtype, rdata)");
    c->m_store_domains = px_metric_gauge("pdnsx_store_domains", "Registered domains in the store");
    c->m_store_bytes = px_metric_gauge("pdnsx_store_bytes",
                                       "Bytes of the store's data file in use (pages in use times "
                                       "the page size)");
    c->m_clog_rows =
        px_metric_counter("pdnsx_consumer_changelog_rows_total",
                          "Store rows published to the changelog topic (acknowledged)");
    c->m_clog_failed = px_metric_counter("pdnsx_consumer_changelog_publish_errors_total",
                                         "Store transactions whose changelog publish failed "
                                         "(rolled back)");
    c->m_clog_renewed = px_metric_counter("pdnsx_consumer_changelog_producers_renewed_total",
                                          "Changelog producers left stuck by librdkafka and "
                                          "replaced by a new one");
    c->m_clog_refused = px_metric_counter("pdnsx_consumer_changelog_group_refused_total",
                                          "Changelog transactions aborted because the consumer "
                                          "group refused their offsets (this member was not in "
                                          "its current generation)");
    c->m_clog_restored = px_metric_counter("pdnsx_consumer_changelog_restored_rows_total",
                                           "Rows read from the changelog topic into the stores");
    c->m_clog_restoring = px_metric_gauge("pdnsx_consumer_changelog_restoring_partitions",
                                          "Partitions whose store is being restored from the "
                                          "changelog topic");
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

/* The same, as a px_report_fn (at the level the server chose). */
static void px_consumer_http_report(void *ctx, px_log_level level, const char *msg)
{
    (void)ctx;
    px_log(level, "%s", msg);
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
    char why[512] = "";
    px_err err = px_avro_codec_create(&c->codec, why, sizeof(why));
    /* 2^20 slots (24 MiB, touched as used): the names of a busy feed
     * outnumber the default 2^16 many times, and a miss costs a libpsl walk */
    c->psl = px_psl_cache_create(1u << 20);
    if (err != PX_OK || !c->psl) {
        snprintf(errbuf, errlen, "cannot set up the decoder: %s",
                 err != PX_OK ? why : px_strerror(PX_ERR_NOMEM));
        return -1;
    }
    if (px_consumer_open_trust(c, errbuf, errlen) < 0 ||
        px_consumer_detect_open(c, errbuf, errlen) < 0)
        return -1;
    if (conf->geoip_country || conf->geoip_asn) {
        c->geoip = px_geoip_open(conf->geoip_country, conf->geoip_asn, why, sizeof(why));
        if (!c->geoip) {
            snprintf(errbuf, errlen, "GeoIP: %s", why);
            return -1;
        }
    }
    px_store_opts so = {.check = conf->store_check,
                        .drop_damaged_log = conf->drop_damaged_log,
                        .on_damage = px_consumer_damage,
                        .damage_ctx = c,
                        .enrich = c->geoip ? px_consumer_geo : NULL,
                        .enrich_ctx = c,
                        .feed = px_consumer_feed(c)};
    c->store_opts = so;
    c->stores = px_stores_open(conf->store_path, &so, &err, why, sizeof(why));
    if (!c->stores) {
        snprintf(errbuf, errlen, "store %s: %s", conf->store_path, why[0] ? why : px_strerror(err));
        return -1;
    }
    if (px_consumer_sinks_open(c, errbuf, errlen) < 0 ||
        px_consumer_stores_open(c, errbuf, errlen) < 0)
        return -1;
    if (conf->metrics_listen) {
        px_metrics_conf mc = {.listen = conf->metrics_listen,
                              .limits = conf->http,
                              .report = px_consumer_http_report};
        if (px_metrics_start(&mc, &c->metrics, errbuf, errlen) != PX_OK)
            return -1;
        px_consumer_log_listen("metrics", conf->metrics_listen, px_metrics_server_port(c->metrics));
    }
    if (conf->query_listen) {
        c->owner = px_query_owner_create();
        if (!c->owner) {
            snprintf(errbuf, errlen, "out of memory");
            return -1;
        }
        px_query_server_opts qo = {.http = conf->http,
                                   .limits = conf->query_limits,
                                   .log = px_consumer_http_log,
                                   .owner = c->owner};
        c->query = px_query_server_start(conf->query_listen, c->stores, &qo, errbuf, errlen);
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
    c->query = NULL;
    px_consumer_align_revoke(c, NULL);
    px_consumer_lag_destroy(c->lag); /* its hook reads the consumer handle */
    c->lag = NULL;
    /* Destroying an unclosed consumer runs the revoke callback, which may
     * still use the store and the dead-letter producer. */
    px_kafka_destroy(c->k_rk);
    if (c->dlq)
        rd_kafka_flush(c->dlq, 1000);
    px_kafka_destroy(c->k_dlq);
    px_dlq_destroy(c->dl); /* after the producer: its messages point into it */
    px_consumer_abort_stores(c);
    px_consumer_reset_batch(c);
    free(c->pos);
    free(c->parts);
    px_consumer_stores_close(c);
    px_stores_close(c->stores);
    px_query_owner_destroy(c->owner); /* after the handle: its revocation sets it */
    px_consumer_alerts_close(c);      /* after the store: its feed is the detector */
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
    px_consumer_sinks_reopen(c);
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

void px_consumer_event(px_consumer *c, const rd_kafka_message_t *m)
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
    if (c->n_parts) { /* aligned in event time, each partition from its queue */
        bool caught_up;
        if (px_consumer_align_read(c, wait_ms, PX_CONSUMER_BURST, &caught_up))
            c->idle_since_ms = px_consumer_coarse_ms();
        return caught_up;
    }
    for (int i = 0; i < PX_CONSUMER_BURST && !c->fatal && !c->retry_at_ms && !c->copartition_broken;
         i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, i == 0 ? wait_ms : 0);
        if (!m)
            return i == 0 && wait_ms >= PX_CONSUMER_CAUGHT_UP_MS;
        bool msg = !m->err;
        if (msg)
            px_consumer_message(c, m, NULL);
        else
            px_consumer_event(c, m);
        rd_kafka_message_destroy(m);
        uint64_t now = px_consumer_coarse_ms(); /* one clock read per message */
        if (msg)
            c->idle_since_ms = now;
        if (px_consumer_batch_due(c, now))
            px_consumer_commit(c, true);
    }
    return false;
}

static bool px_consumer_idle_done(px_consumer *c, uint64_t now)
{
    if (c->conf->exit_idle <= 0 || c->batch || c->n_held || c->n_restoring ||
        rd_kafka_outq_len(c->dlq) > 0)
        return false;
    uint64_t idle_ms = (uint64_t)c->conf->exit_idle * 1000u;
    if (now < c->idle_since_ms || now - c->idle_since_ms < idle_ms)
        return false;
    /* Only an idle period after the group assigned partitions counts:
     * joining takes seconds, and after a crash the dead member holds its
     * partitions until its session times out. Exiting before that would
     * leave messages unread while claiming to be done. */
    return c->assigned_once && px_consumer_sinks_idle(c, now, idle_ms);
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
    px_consumer_restores_poll(c);
    px_consumer_owner_retry(c, px_consumer_coarse_ms());
    if (c->copartition_broken)
        return true;
    px_consumer_deliver(c);
    px_consumer_cursors_record(c, false);
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
    px_consumer_store_gauges(c, true);
    while (!c->fatal && !px_consumer_step(c))
        ;
    int rc = 0;
    if (c->fatal) {
        px_consumer_abort_stores(c);
        px_consumer_reset_batch(c);
        px_consumer_save_marks(c);
        rc = 1;
    } else if (px_consumer_commit(c, false) < 0) {
        px_error("the last batch could not be committed; the next run reads it again");
        rc = 1;
    }
    px_consumer_sinks_drain(c);
    rd_kafka_consumer_close(c->rk); /* the revoke callback finds nothing open */
    if (c->fatal || c->copartition_broken)
        rc = 1;
    px_consumer_store_gauges(c, true);
    px_info("messages %" PRIu64 ", merged %" PRIu64 ", dead-lettered %" PRIu64 " (cut %" PRIu64
            ", skipped without a copy %" PRIu64 "), batches %" PRIu64 " (abandoned %" PRIu64 ")",
            c->stats.messages, c->stats.merged, c->stats.dlq, c->stats.dlq_truncated,
            c->stats.dlq_skipped, c->stats.batches, c->stats.aborted);
    return rc;
}
