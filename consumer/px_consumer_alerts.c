/* px_consumer_alerts.c: detection and the alert sinks in the consumer.
 *
 * The store's change feed goes to one sink that counts the changes and,
 * when a detector runs, hands them to it: the detector decides in the
 * merge's own transaction (px_detect.h), so its state, its alerts (the
 * outbox) and the Kafka offsets commit together. Each partition store has
 * its own outbox, numbered from 1, and keeps each sink's cursor in it.
 * A sink delivers one outbox at a time from its cursor there
 * (px_alert_sink.h), and moves on to another outbox with alerts to
 * deliver once it holds nothing; a moved cursor is recorded in the
 * store's next batch, or in a batch of its own when no merge comes. */
#include "px_consumer_int.h"

/* ---- the change feed --------------------------------------------------------------
 *
 * What each merge changed in the history (obs/px_change.h), counted by
 * kind on /metrics. A transaction's changes count once it commits (a
 * rolled-back one's never happened), so a big batch cut short by a crash
 * counts each change once between the run that crashed and the one that
 * resumes it. */

static const char *const px_consumer_change_kinds[PX_CONSUMER_CHANGE_KINDS] = {
    [PX_CHANGE_RECORD_NEW] = "record_new",
    [PX_CHANGE_RECORD_GREW] = "record_grew",
    [PX_CHANGE_DOMAIN_FIRST] = "domain_first",
    [PX_CHANGE_DOMAIN_GREW] = "domain_grew",
};

static px_err px_consumer_feed_change(void *ctx, const px_change *ch)
{
    px_consumer *c = ctx;
    if ((unsigned)ch->kind < PX_CONSUMER_CHANGE_KINDS)
        c->feed_pending[ch->kind]++;
    return c->detect ? px_detect_change(c->detect, ch) : PX_OK;
}

static px_err px_consumer_feed_prepare(void *ctx, px_change_txn *t)
{
    px_consumer *c = ctx;
    return px_detect_prepare(c->detect, t);
}

/* The alerts the committed transaction decided, by rule, on /metrics; a
 * delivery pass follows the commit when there are any. */
static void px_consumer_count_alerts(px_consumer *c)
{
    for (int r = 0; r < PX_DETECT_RULES; r++) {
        uint64_t n = px_detect_alerts(c->detect, (px_detect_rule)r);
        if (n > c->alerts_seen[r]) {
            px_metric_add(c->m_alerts[r], n - c->alerts_seen[r]);
            c->alerts_decided = true;
        }
        c->alerts_seen[r] = n;
    }
    uint64_t w = px_detect_state_writes(c->detect);
    px_metric_add(c->m_state_writes, w - c->state_writes);
    c->state_writes = w;
}

static void px_consumer_feed_committed(void *ctx)
{
    px_consumer *c = ctx;
    for (int k = 1; k < PX_CONSUMER_CHANGE_KINDS; k++)
        px_metric_add(c->m_changes[k], c->feed_pending[k]);
    memset(c->feed_pending, 0, sizeof(c->feed_pending));
    if (c->detect) {
        px_detect_end(c->detect, true);
        px_consumer_count_alerts(c);
    }
}

static void px_consumer_feed_aborted(void *ctx)
{
    px_consumer *c = ctx;
    memset(c->feed_pending, 0, sizeof(c->feed_pending));
    if (c->detect)
        px_detect_end(c->detect, false);
}

/* With no detector the store gets no prepare: it then reads and writes
 * no detection state at all (detect.rules = []). */
px_change_sink px_consumer_feed(px_consumer *c)
{
    return (px_change_sink){.change = px_consumer_feed_change,
                            .committed = px_consumer_feed_committed,
                            .aborted = px_consumer_feed_aborted,
                            .prepare = c->detect ? px_consumer_feed_prepare : NULL,
                            .ctx = c};
}

void px_consumer_feed_metrics(px_consumer *c)
{
    for (int k = 1; k < PX_CONSUMER_CHANGE_KINDS; k++) {
        char name[128];
        snprintf(name, sizeof(name), "pdnsx_feed_changes_total{kind=\"%s\"}",
                 px_consumer_change_kinds[k]);
        c->m_changes[k] = px_metric_counter(name, "Changes the store's merges made to the "
                                                  "history, by kind (committed)");
    }
    for (int r = 0; r < PX_DETECT_RULES; r++) {
        char name[128];
        snprintf(name, sizeof(name), "pdnsx_alerts_total{rule=\"%s\"}",
                 px_detect_rule_name((px_detect_rule)r));
        c->m_alerts[r] = px_metric_counter(name, "Alerts detection decided, by rule (committed "
                                                 "into the outbox)");
    }
    c->m_state_writes = px_metric_counter("pdnsx_detect_state_writes_total",
                                          "Detection state puts and deletes (committed)");
}

/* ---- set-up ------------------------------------------------------------------------- */

static bool px_consumer_detecting(const px_detect_opts *o)
{
    for (int r = 0; r < PX_DETECT_RULES; r++)
        if (o->rules[r])
            return true;
    return false;
}

int px_consumer_detect_open(px_consumer *c, char *errbuf, size_t errlen)
{
    const px_consumer_conf *conf = c->conf;
    if (!px_consumer_detecting(&conf->detect)) {
        px_info("detection: off (detect.rules is empty)");
        return 0;
    }
    px_detect_opts o = conf->detect;
    char why[1024] = "";
    if (conf->known_domains) {
        px_err err = px_consumer_known_read(conf->known_domains, &c->known, why, sizeof(why));
        if (err != PX_OK) {
            snprintf(errbuf, errlen, "detect.known_domains: %s",
                     err == PX_ERR_NOMEM ? px_strerror(err) : why);
            return -1;
        }
        o.known = c->known;
    }
    if (px_detect_create(&o, &c->detect, why, sizeof(why)) != PX_OK) {
        snprintf(errbuf, errlen, "detection: %s", why[0] ? why : px_strerror(PX_ERR_NOMEM));
        return -1;
    }
    px_info("detection: %s%s%s, %zu brands, %zu known domains",
            o.rules[PX_DETECT_BURST] ? PX_DETECT_RULE_BURST : "",
            o.rules[PX_DETECT_BURST] && o.rules[PX_DETECT_GEO] ? " and " : "",
            o.rules[PX_DETECT_GEO] ? PX_DETECT_RULE_GEO : "", o.n_brands,
            c->known ? px_detect_known_count(c->known) : 0);
    return 0;
}

static int px_consumer_sink_add(px_consumer *c, const char *name, char *errbuf, size_t errlen)
{
    const px_alert_conf *ac = &c->conf->alerts;
    uint64_t next = 1; /* its cursors are the partition stores' (px_consumer_cursors_load) */
    px_err err = PX_OK;
    char why[512] = "";
    px_alert_sink *s = NULL;
    if (strcmp(name, "jsonl") == 0)
        err = px_alert_file_create(ac->jsonl, next, &s, why, sizeof(why));
    else if (strcmp(name, "syslog") == 0)
        err = px_alert_syslog_create(ac->syslog, ac->syslog_body, next, &s, why, sizeof(why));
    else {
        px_kafka_settings ks = px_consumer_kafka_settings(c);
        err = px_alert_kafka_create(&ks, ac->kafka_topic, next, &s, why, sizeof(why));
    }
    if (err != PX_OK) {
        snprintf(errbuf, errlen, "alerts: %s: %s", name, why[0] ? why : px_strerror(err));
        return -1;
    }
    px_consumer_sink *cs = &c->sinks[c->n_sinks++];
    *cs = (px_consumer_sink){.sink = s, .serving = -1, .progress_ms = px_consumer_coarse_ms()};
    px_info("alerts: %s, from each partition store's cursor", name);
    return 0;
}

int px_consumer_sinks_open(px_consumer *c, char *errbuf, size_t errlen)
{
    const px_alert_conf *ac = &c->conf->alerts;
    if ((ac->jsonl && px_consumer_sink_add(c, "jsonl", errbuf, errlen) < 0) ||
        (ac->syslog && px_consumer_sink_add(c, "syslog", errbuf, errlen) < 0) ||
        (ac->kafka_topic && px_consumer_sink_add(c, "kafka", errbuf, errlen) < 0))
        return -1;
    return 0;
}

void px_consumer_alerts_close(px_consumer *c)
{
    for (size_t i = 0; i < c->n_sinks; i++)
        px_alert_sink_destroy(c->sinks[i].sink);
    c->n_sinks = 0;
    px_detect_destroy(c->detect);
    c->detect = NULL;
    px_detect_known_destroy(c->known);
    c->known = NULL;
}

/* ---- delivery ------------------------------------------------------------------------ */

static bool px_consumer_offer(void *ctx, const px_alert *a)
{
    return px_alert_sink_offer(ctx, a) == PX_OK; /* PX_ERR_FULL: the rest after a poll */
}

/* The outboxes' newest seqs, read again after a commit that decided
 * alerts (or a store attached). */
static void px_consumer_outbox_last(px_consumer *c)
{
    if (!c->alerts_decided)
        return;
    c->alerts_decided = false;
    for (size_t i = 0; i < c->n_pstores; i++) {
        px_consumer_pstore *p = c->pstores[i];
        uint64_t last = 0;
        px_err err = px_store_alert_last(p->store, &last);
        if (err != PX_OK) {
            px_warning("alerts: cannot read the outbox of partition %" PRId32 ": %s", p->partition,
                       px_strerror(err));
            c->alerts_decided = true;
            continue;
        }
        p->outbox_last = last;
    }
}

/* Whether sink i has alerts of p to deliver. */
static bool px_consumer_owes(const px_consumer_pstore *p, size_t i)
{
    return !p->revoked && p->sink_next[i] <= p->outbox_last;
}

/* The next outbox (after the one it served, round the partitions) that
 * sink i owes alerts; NULL: none. */
static px_consumer_pstore *px_consumer_next_outbox(px_consumer *c, size_t i, int32_t after)
{
    size_t start = 0;
    while (start < c->n_pstores && c->pstores[start]->partition <= after)
        start++;
    for (size_t k = 0; k < c->n_pstores; k++) {
        px_consumer_pstore *p = c->pstores[(start + k) % c->n_pstores];
        if (px_consumer_owes(p, i))
            return p;
    }
    return NULL;
}

/* Sink i holds nothing and has delivered its outbox: it takes the next
 * one that has alerts for it. */
static px_consumer_pstore *px_consumer_sink_move(px_consumer *c, size_t i, px_consumer_pstore *p)
{
    px_consumer_sink *cs = &c->sinks[i];
    if (px_alert_sink_pending(cs->sink) > 0 || (p && px_consumer_owes(p, i)))
        return p;
    px_consumer_pstore *q = px_consumer_next_outbox(c, i, p ? p->partition : cs->serving);
    if (!q || q == p)
        return p;
    if (px_alert_sink_restart(cs->sink, q->sink_next[i]) != PX_OK)
        return p;
    cs->serving = q->partition;
    return q;
}

/* Alerts of the outboxes not yet delivered by sink i: its depth gauge. */
static void px_consumer_sink_depth(px_consumer *c, size_t i)
{
    uint64_t depth = 0;
    for (size_t k = 0; k < c->n_pstores; k++) {
        const px_consumer_pstore *p = c->pstores[k];
        if (p->outbox_last >= p->sink_next[i])
            depth += p->outbox_last + 1 - p->sink_next[i];
    }
    px_alert_sink_depth(c->sinks[i].sink, depth);
}

static void px_consumer_deliver_one(px_consumer *c, size_t i, int64_t now)
{
    px_consumer_sink *cs = &c->sinks[i];
    px_consumer_pstore *p = cs->serving >= 0 ? px_consumer_pstore_of(c, cs->serving) : NULL;
    p = px_consumer_sink_move(c, i, p);
    uint64_t want = px_alert_sink_want(cs->sink);
    if (p && !p->revoked && want <= p->outbox_last &&
        px_alert_sink_pending(cs->sink) < PX_ALERT_SINK_QUEUE) {
        px_err err = px_store_alerts(p->store, want, NULL, NULL, px_consumer_offer, cs->sink);
        if (err != PX_OK && err != PX_ERR_DAMAGED)
            px_warning("alerts: %s: cannot read the outbox of partition %" PRId32 ": %s",
                       px_alert_sink_name(cs->sink), p->partition, px_strerror(err));
    }
    uint64_t before = px_alert_sink_next(cs->sink);
    px_alert_sink_poll(cs->sink, now);
    if (px_alert_sink_next(cs->sink) != before)
        cs->progress_ms = px_consumer_coarse_ms();
    if (p)
        p->sink_next[i] = px_alert_sink_next(cs->sink);
    px_consumer_sink_depth(c, i);
}

void px_consumer_deliver(px_consumer *c)
{
    if (c->n_sinks == 0)
        return;
    px_consumer_outbox_last(c);
    int64_t now = px_clock_mono_ms();
    for (size_t i = 0; i < c->n_sinks; i++)
        px_consumer_deliver_one(c, i, now);
}

/* ---- cursors ------------------------------------------------------------------------- */

int px_consumer_cursors_load(px_consumer *c, px_consumer_pstore *p)
{
    for (size_t i = 0; i < c->n_sinks; i++) {
        const char *name = px_alert_sink_name(c->sinks[i].sink);
        uint64_t next = 1;
        px_err err = px_store_sink_get(p->store, name, &next);
        if (err != PX_OK) {
            px_error("alerts: %s: cannot read its cursor in partition %" PRId32 ": %s", name,
                     p->partition, px_strerror(err));
            return -1;
        }
        p->sink_next[i] = p->sink_recorded[i] = next;
    }
    return 0;
}

/* p's moved cursors go into batch b; committed with it. */
static px_err px_consumer_cursors_set(px_consumer *c, px_consumer_pstore *p, px_store_batch *b)
{
    for (size_t i = 0; i < c->n_sinks; i++) {
        p->sink_in_batch[i] = p->sink_next[i];
        if (p->sink_in_batch[i] == p->sink_recorded[i])
            continue;
        px_err err =
            px_store_sink_set(b, px_alert_sink_name(c->sinks[i].sink), p->sink_in_batch[i]);
        if (err != PX_OK)
            return err;
    }
    return PX_OK;
}

px_err px_consumer_cursors_into(px_consumer *c, px_consumer_pstore *p)
{
    return c->n_sinks ? px_consumer_cursors_set(c, p, p->batch) : PX_OK;
}

void px_consumer_cursors_committed(px_consumer *c, px_consumer_pstore *p)
{
    for (size_t i = 0; i < c->n_sinks; i++)
        if (p->sink_in_batch[i])
            p->sink_recorded[i] = p->sink_in_batch[i];
}

static bool px_consumer_cursors_moved(const px_consumer *c, const px_consumer_pstore *p)
{
    for (size_t i = 0; i < c->n_sinks; i++)
        if (p->sink_next[i] != p->sink_recorded[i])
            return true;
    return false;
}

/* p's moved cursors in a transaction of their own. A failure costs a
 * re-delivery after a restart, with the same event.id. */
static void px_consumer_cursors_commit(px_consumer *c, px_consumer_pstore *p)
{
    px_store_batch *b = NULL;
    px_err err = px_store_batch_begin(p->store, &b);
    if (err == PX_OK) {
        err = px_consumer_cursors_set(c, p, b);
        if (err == PX_OK)
            err = px_store_batch_commit(b);
        else
            px_store_batch_abort(b);
    }
    if (err == PX_OK)
        px_consumer_cursors_committed(c, p);
    else
        px_warning("alerts: cannot record the sinks' cursors in partition %" PRId32 ": %s (a "
                   "restart delivers the alerts since the last record again)",
                   p->partition, px_strerror(err));
}

/* With no batch open, moved cursors get a batch of their own, at most
 * once per PX_CONSUMER_CURSOR_MS (force: now, at shutdown). */
void px_consumer_cursors_record(px_consumer *c, bool force)
{
    uint64_t now = px_consumer_coarse_ms();
    if (c->batch || (!force && now - c->cursor_ms < PX_CONSUMER_CURSOR_MS))
        return;
    c->cursor_ms = now;
    for (size_t k = 0; k < c->n_pstores; k++) {
        px_consumer_pstore *p = c->pstores[k];
        if (px_consumer_cursors_moved(c, p) && !px_store_log_pending(p->store))
            px_consumer_cursors_commit(c, p);
    }
}

void px_consumer_sinks_leave(px_consumer *c, px_consumer_pstore *p)
{
    int64_t deadline = px_clock_mono_ms() + PX_CONSUMER_DRAIN_MS;
    for (size_t i = 0; i < c->n_sinks; i++) {
        px_consumer_sink *cs = &c->sinks[i];
        if (cs->serving != p->partition)
            continue;
        if (!px_alert_sink_drain(cs->sink, deadline))
            px_warning("alerts: %s: %zu alerts of partition %" PRId32 " not delivered before "
                       "it was revoked; its next owner delivers them",
                       px_alert_sink_name(cs->sink), px_alert_sink_pending(cs->sink), p->partition);
        p->sink_next[i] = px_alert_sink_next(cs->sink);
    }
    if (px_consumer_cursors_moved(c, p) && !px_store_log_pending(p->store))
        px_consumer_cursors_commit(c, p);
}

/* ---- reopen, drain, idle ------------------------------------------------------------- */

void px_consumer_sinks_reopen(px_consumer *c)
{
    for (size_t i = 0; i < c->n_sinks; i++)
        px_alert_sink_reopen(c->sinks[i].sink);
    if (c->n_sinks)
        px_info("SIGHUP: alert sinks reopened");
}

/* Shutdown: what the sinks were offered is delivered within
 * PX_CONSUMER_DRAIN_MS, then the cursors are recorded. */
void px_consumer_sinks_drain(px_consumer *c)
{
    if (c->n_sinks == 0)
        return;
    px_consumer_deliver(c);
    int64_t deadline = px_clock_mono_ms() + PX_CONSUMER_DRAIN_MS;
    for (size_t i = 0; i < c->n_sinks; i++) {
        px_consumer_sink *cs = &c->sinks[i];
        if (!px_alert_sink_drain(cs->sink, deadline))
            px_warning("alerts: %s: %zu alerts not delivered at exit; the next run delivers them",
                       px_alert_sink_name(cs->sink), px_alert_sink_pending(cs->sink));
        px_consumer_pstore *p = cs->serving >= 0 ? px_consumer_pstore_of(c, cs->serving) : NULL;
        if (p)
            p->sink_next[i] = px_alert_sink_next(cs->sink);
    }
    px_consumer_cursors_record(c, true);
}

/* run.exit_idle: every sink caught up with the outbox, or made no
 * progress for idle_ms (then a warning says how many alerts wait). */
/* Alerts of the outboxes sink i has not delivered. */
static uint64_t px_consumer_owed(const px_consumer *c, size_t i)
{
    uint64_t n = 0;
    for (size_t k = 0; k < c->n_pstores; k++)
        if (px_consumer_owes(c->pstores[k], i))
            n += c->pstores[k]->outbox_last + 1 - c->pstores[k]->sink_next[i];
    return n;
}

bool px_consumer_sinks_idle(px_consumer *c, uint64_t now, uint64_t idle_ms)
{
    bool stalled = false;
    for (size_t i = 0; i < c->n_sinks; i++) {
        px_consumer_sink *cs = &c->sinks[i];
        if (px_consumer_owed(c, i) == 0 && px_alert_sink_pending(cs->sink) == 0)
            continue;
        if (now - cs->progress_ms < idle_ms)
            return false;
        stalled = true;
    }
    for (size_t i = 0; stalled && i < c->n_sinks; i++) {
        uint64_t owed = px_consumer_owed(c, i);
        if (owed)
            px_warning("alerts: %s delivered nothing for %" PRIu64 " s: %" PRIu64
                       " alerts wait in the outboxes",
                       px_alert_sink_name(c->sinks[i].sink), idle_ms / 1000u, owed);
    }
    return true;
}
