/* px_consumer_judge.c: one message of the consumer's loop: decoded,
 * judged by the centre's trust rules, merged into the open batch or
 * dead-lettered. */
#include "core/px_buf.h"
#include "px_consumer_int.h"

/* ---- one message ---------------------------------------------------------------- */

bool px_consumer_geo(void *ctx, const uint8_t *addr, size_t len, px_geo *out)
{
    px_consumer *c = ctx;
    return px_geoip_lookup_addr(c->geoip, addr, len, out);
}

/* What the store takes of an observation px_obs_check() parsed (its
 * registered domain is set by the merge). */
static px_store_obs px_consumer_store_obs(const px_obs_checked *k)
{
    return (px_store_obs){.rrname = k->rrname,
                          .rrname_len = k->rrname_len,
                          .rrtype = k->rrtype,
                          .rdata = k->rdata,
                          .rdata_len = k->rdata_len,
                          .rdata_wire = k->rdata_wire,
                          .rdata_wire_len = k->rdata_wire_len,
                          .bailiwick = k->bailiwick,
                          .bailiwick_len = k->bailiwick_len,
                          .org = k->obs->org,
                          .count = (uint64_t)k->obs->count,
                          .time_first = k->obs->time_first,
                          .time_last = k->obs->time_last,
                          /* px_obs_check bounds them: 0 <= min <= max < 2^31 */
                          .has_ttl = true,
                          .ttl_min = (uint32_t)k->obs->ttl_min,
                          .ttl_max = (uint32_t)k->obs->ttl_max};
}

/* Merges a trusted observation; a reason if the store refuses it as
 * invalid. Other store errors are fatal. */
static px_dlq_reason px_consumer_merge(px_consumer *c, px_store_obs *so, char *why, size_t whylen)
{
    px_err err =
        px_psl_cache_lookup(c->psl, so->rrname, so->rrname_len, &so->regdom, &so->regdom_len);
    if (err != PX_OK) {
        snprintf(why, whylen, "invalid: no registered domain for the name");
        return PX_DLQ_INVALID;
    }
    err = px_store_merge(c->cur->batch, so);
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

/* px_obs_check (the form, parsed once into *k), then the centre's rules
 * (px_obs_trust_check). */
static px_dlq_reason px_consumer_trust(px_consumer *c, const rd_kafka_message_t *m,
                                       const px_avro_obs *obs, int64_t now, px_obs_checked *k,
                                       char *why, size_t whylen)
{
    char vwhy[256] = "";
    px_obs_rule r = PX_OBS_FORM;
    if (px_obs_check(obs, now, k, c->wire, sizeof(c->wire), vwhy, sizeof(vwhy)) == PX_OK)
        r = px_obs_trust_check(&c->trust, k, px_consumer_written(m, now), vwhy, sizeof(vwhy));
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
    if (PX_ARRAY_RESERVE(c->orgs, c->cap_orgs, c->n_orgs + 1, 16) != PX_OK)
        return NULL;
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
    o->base = px_stores_org_new_records(c->stores, o->org);
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
    px_consumer_pstore *p = c->cur;
    return px_consumer_commit(c, true) == 0 && px_consumer_begin(c) == 0 &&
           px_consumer_pbatch(c, p) != NULL;
}

static px_dlq_reason px_consumer_org_refuse(px_consumer *c, px_org_rate *o, char *why,
                                            size_t whylen)
{
    int64_t bound = c->conf->trust_org_new_records;
    if (!o->m_rejected) {
        char name[128];
        snprintf(name, sizeof(name), PX_CONSUMER_ORG_REJECTED "{org=\"%s\"}", o->org);
        o->m_rejected = px_metric_counter(name, PX_CONSUMER_ORG_REJECTED_HELP);
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
                                           const px_store_obs *so, int64_t now, char *why,
                                           size_t whylen)
{
    uint64_t bound = (uint64_t)c->conf->trust_org_new_records;
    px_org_rate *o = bound ? px_consumer_org(c, so->org) : NULL;
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
    px_err err = px_store_batch_known(c->cur->batch, so, &known);
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
                                       const char *topic, const px_avro_obs *decoded, char *why,
                                       size_t whylen)
{
    char org[64];
    if (!px_obs_org_from_topic(topic, org, sizeof(org))) {
        snprintf(why, whylen, "topic: %s names no organisation", topic);
        return PX_DLQ_TOPIC;
    }
    px_avro_obs obs;
    px_err err = PX_OK;
    if (decoded)
        obs = *decoded;
    else
        err = m->payload ? px_avro_decode(c->codec, m->payload, m->len, &obs) : PX_ERR_TRUNC;
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
    int64_t now = px_clock_now_s(&c->opts.clock);
    px_obs_checked k;
    px_dlq_reason r = px_consumer_trust(c, m, &obs, now, &k, why, whylen);
    if (r != PX_DLQ_NONE)
        return r;
    px_store_obs so = px_consumer_store_obs(&k);
    r = px_consumer_org_bound(c, m, &so, now, why, whylen);
    if (r != PX_DLQ_NONE || c->fatal || !c->batch || !c->cur->batch)
        return r;
    return px_consumer_merge(c, &so, why, whylen);
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

/* The store of m's partition, with its transaction of the open batch;
 * NULL: the store failed (c->fatal), or m is to be read again. */
static px_consumer_pstore *px_consumer_store_for(px_consumer *c, const rd_kafka_message_t *m)
{
    px_consumer_pstore *p = px_consumer_pstore_of(c, m->partition);
    if (!p || p->revoked) {
        /* librdkafka gives messages of assigned partitions only */
        px_error("store: a message of %s [%" PRId32 "], whose store is not attached",
                 rd_kafka_topic_name(m->rkt), m->partition);
        c->fatal = true;
        return NULL;
    }
    return px_consumer_pbatch(c, p) ? p : NULL;
}

void px_consumer_message(px_consumer *c, const rd_kafka_message_t *m, const px_avro_obs *obs)
{
    /* fetched before its partition was paused for a restore: read again
     * from the restored offsets */
    if (c->n_restoring && px_consumer_restoring_of(c, m->partition))
        return;
    if (c->fatal || (!c->batch && px_consumer_begin(c) < 0))
        return;
    c->cur = px_consumer_store_for(c, m);
    if (!c->cur) {
        if (!c->fatal) /* a batch log pending: read everything again once it is applied */
            px_consumer_abandon(c, true);
        return;
    }
    c->stats.messages++;
    px_metric_inc(c->m_messages);
    const char *topic = rd_kafka_topic_name(m->rkt);
    char why[512];
    px_dlq_reason r = px_consumer_judge(c, m, topic, obs, why, sizeof(why));
    /* no batch: an early commit failed, read it again */
    if (c->fatal || !c->batch || !c->cur->batch)
        return;
    if (r != PX_DLQ_NONE)
        px_consumer_to_dlq(c, m, why, r);
    /* Every message, trusted or not, moves its partition on in the same
     * transaction. */
    px_err err = px_store_set_offset(c->cur->batch, topic, m->partition, m->offset + 1);
    if (err != PX_OK || px_consumer_remember(c, topic, m->partition, m->offset + 1) < 0) {
        px_error("store: cannot record the offset of %s [%" PRId32 "]: %s", topic, m->partition,
                 px_strerror(err != PX_OK ? err : PX_ERR_NOMEM));
        c->fatal = true;
        return;
    }
    c->batch_msgs++;
}
