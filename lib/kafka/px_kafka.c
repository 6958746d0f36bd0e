/* px_kafka.c: the librdkafka handle every pdnsx Kafka client makes. */
#include "kafka/px_kafka.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/px_metrics.h"
#include "kafka/px_kafka_propfile.h"
#include "kafka/px_kafka_statistics.h"

struct px_kafka {
    rd_kafka_t *rk;
    void (*log)(void *ctx, px_log_level level, const char *msg);
    void (*fatal_fn)(void *ctx, const char *why);
    void (*refused)(void *ctx, px_kafka_refusal why, const char *reason);
    bool (*delivery)(void *ctx, const rd_kafka_message_t *m);
    void (*rebalance)(void *ctx, rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts);
    void *ctx;
    _Atomic bool fatal;
    _Atomic uint64_t delivered, failed;
    px_metric *m_delivered, *m_failed;
    px_kafka_statistics *statistics; /* NULL: statistics.interval.ms unset */
};

/* Appends the properties of kafka.properties_file to s->props. */
static px_err px_kafka_settings_file(px_kafka_settings *s, const char *path)
{
    px_err err = px_kafka_propfile_read(path, &s->file, NULL, 0);
    if (err != PX_OK)
        return err;
    if (px_kafka_propfile_problem_count(s->file) > 0)
        return PX_ERR_CONFIG;
    size_t n;
    const px_kafka_prop *fp = px_kafka_propfile_props(s->file, &n);
    if (n == 0)
        return PX_OK;
    px_kafka_prop *all = realloc(s->props, (s->n_props + n) * sizeof(*all));
    if (!all)
        return PX_ERR_NOMEM;
    memcpy(all + s->n_props, fp, n * sizeof(*all));
    s->props = all;
    s->n_props += n;
    s->n_file_props = n;
    return PX_OK;
}

px_err px_kafka_settings_load(const px_config *cfg, px_kafka_settings *out)
{
    memset(out, 0, sizeof(*out));
    out->brokers = px_config_string(cfg, "kafka.brokers");
    out->statistics_interval_ms = px_config_int(cfg, PX_KAFKA_STATISTICS_SETTING);
    px_err err = px_config_map_load(cfg, "kafka.properties", &out->props, &out->n_props);
    const char *file = px_config_string(cfg, "kafka.properties_file");
    if (err == PX_OK && file)
        err = px_kafka_settings_file(out, file);
    return err;
}

void px_kafka_settings_free(px_kafka_settings *s)
{
    if (!s)
        return;
    free(s->props);
    px_kafka_propfile_destroy(s->file);
    memset(s, 0, sizeof(*s));
}

px_log_level px_kafka_log_level(int syslog_level)
{
    if (syslog_level <= 3)
        return PX_LOG_ERROR;
    if (syslog_level == 4)
        return PX_LOG_WARNING;
    return syslog_level <= 6 ? PX_LOG_INFO : PX_LOG_DEBUG;
}

void px_kafka_to_px_log(void *ctx, px_log_level level, const char *msg)
{
    (void)ctx;
    px_log(level, "%s", msg);
}

static void px_kafka_say(px_kafka *k, px_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void px_kafka_say(px_kafka *k, px_log_level level, const char *fmt, ...)
{
    if (!k->log)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    k->log(k->ctx, level, msg);
}

static void px_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    px_kafka *k = rd_kafka_opaque(rk);
    if (k)
        px_kafka_say(k, px_kafka_log_level(level), "librdkafka %s: %s", fac, buf);
}

static void px_kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    px_kafka *k = opaque;
    px_kafka_refusal refusal = px_kafka_refusal_of(err);
    if (refusal != PX_KAFKA_REFUSAL_NONE && k->refused) {
        k->refused(k->ctx, refusal, reason);
        return;
    }
    if (err != RD_KAFKA_RESP_ERR__FATAL) {
        /* Broker outages are transient: librdkafka retries. */
        px_kafka_say(k, PX_LOG_WARNING, "Kafka: %s: %s", rd_kafka_err2name(err), reason);
        return;
    }
    char why[512];
    if (rd_kafka_fatal_error(rk, why, sizeof(why)) == RD_KAFKA_RESP_ERR_NO_ERROR)
        snprintf(why, sizeof(why), "%s", reason);
    if (atomic_exchange(&k->fatal, true))
        return;
    px_kafka_say(k, PX_LOG_ERROR, "Kafka: fatal: %s", why);
    if (k->fatal_fn)
        k->fatal_fn(k->ctx, why);
}

static void px_kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    px_kafka *k = opaque;
    bool kept = k->delivery ? k->delivery(k->ctx, m) : false;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_fetch_add(&k->delivered, 1);
        if (k->m_delivered)
            px_metric_inc(k->m_delivered);
    } else if (!kept) {
        px_kafka_lost(k, 1);
    }
}

static void px_kafka_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                  rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    px_kafka *k = opaque;
    k->rebalance(k->ctx, rk, err, parts);
}

/* librdkafka's statistics, served by the poll that serves the other
 * callbacks. A document it cannot read is dropped: the gauges keep the
 * last one's values. */
static int px_kafka_stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)rk;
    px_kafka *k = opaque;
    if (k->statistics)
        px_kafka_statistics_apply(k->statistics, json, len);
    return 0; /* librdkafka frees json */
}

static px_err px_kafka_set(rd_kafka_conf_t *rc, const char *key, const char *value,
                           const char *origin, char *why, size_t whylen)
{
    char text[512] = "";
    if (rd_kafka_conf_set(rc, key, value, text, sizeof(text)) == RD_KAFKA_CONF_OK)
        return PX_OK;
    px_why(why, whylen, "%s%s: %s", origin, key, text[0] ? text : "refused");
    return PX_ERR_CONFIG;
}

static const char *px_kafka_reserved(const px_kafka_conf *c, const char *key)
{
    for (size_t i = 0; i < c->n_reserved; i++)
        if (strcmp(c->reserved[i].key, key) == 0)
            return c->reserved[i].value;
    return NULL;
}

/* Ours first, then the operator's: librdkafka keeps the last value set. */
static px_err px_kafka_fill(rd_kafka_conf_t *rc, const px_kafka_conf *c, char *why, size_t whylen)
{
    const px_kafka_settings *s = c->settings;
    px_err err = PX_OK;
    if (s && s->brokers)
        err = px_kafka_set(rc, "bootstrap.servers", s->brokers, "kafka.brokers: ", why, whylen);
    for (size_t i = 0; err == PX_OK && i < c->n_ours; i++)
        err = px_kafka_set(rc, c->ours[i].key, c->ours[i].value, "", why, whylen);
    if (err == PX_OK && s && s->statistics_interval_ms > 0) {
        char ms[24];
        snprintf(ms, sizeof(ms), "%lld", (long long)s->statistics_interval_ms);
        err = px_kafka_set(rc, PX_KAFKA_STATISTICS_PROP, ms, PX_KAFKA_STATISTICS_SETTING ": ", why,
                           whylen);
    }
    for (size_t i = 0; err == PX_OK && s && i < s->n_props; i++) {
        const char *origin =
            i < s->n_props - s->n_file_props ? "kafka.properties: " : "kafka.properties_file: ";
        const char *setting = strcmp(s->props[i].key, PX_KAFKA_STATISTICS_PROP) == 0
                                  ? PX_KAFKA_STATISTICS_SETTING
                                  : px_kafka_reserved(c, s->props[i].key);
        if (setting) {
            px_why(why, whylen, "%s%s is set by %s: set that instead", origin, s->props[i].key,
                   setting);
            return PX_ERR_CONFIG;
        }
        err = px_kafka_set(rc, s->props[i].key, s->props[i].value, origin, why, whylen);
    }
    return err;
}

static px_err px_kafka_callbacks(rd_kafka_conf_t *rc, px_kafka *k, const px_kafka_conf *c)
{
    k->log = c->log;
    k->fatal_fn = c->fatal;
    k->refused = c->refused;
    k->delivery = c->delivery;
    k->rebalance = c->rebalance;
    k->ctx = c->ctx;
    if (c->delivered_metric)
        k->m_delivered = px_metric_counter(c->delivered_metric, c->delivered_help);
    if (c->failed_metric)
        k->m_failed = px_metric_counter(c->failed_metric, c->failed_help);
    rd_kafka_conf_set_opaque(rc, k);
    rd_kafka_conf_set_log_cb(rc, px_kafka_log_cb);
    rd_kafka_conf_set_error_cb(rc, px_kafka_error_cb);
    if (c->type == RD_KAFKA_PRODUCER)
        rd_kafka_conf_set_dr_msg_cb(rc, px_kafka_dr_cb);
    if (c->rebalance)
        rd_kafka_conf_set_rebalance_cb(rc, px_kafka_rebalance_cb);
    if (c->settings && c->settings->statistics_interval_ms > 0) {
        k->statistics = px_kafka_statistics_create();
        if (!k->statistics)
            return PX_ERR_NOMEM;
        rd_kafka_conf_set_stats_cb(rc, px_kafka_stats_cb);
    }
    return PX_OK;
}

px_err px_kafka_create(const px_kafka_conf *c, px_kafka **out, char *why, size_t whylen)
{
    *out = NULL;
    px_kafka *k = calloc(1, sizeof(*k));
    rd_kafka_conf_t *rc = k ? rd_kafka_conf_new() : NULL;
    if (!rc) {
        free(k);
        px_why(why, whylen, "out of memory");
        return PX_ERR_NOMEM;
    }
    px_err err = px_kafka_fill(rc, c, why, whylen);
    if (err != PX_OK) {
        rd_kafka_conf_destroy(rc);
        free(k);
        return err;
    }
    char text[512] = "";
    if (px_kafka_callbacks(rc, k, c) != PX_OK) {
        rd_kafka_conf_destroy(rc);
        free(k);
        px_why(why, whylen, "out of memory");
        return PX_ERR_NOMEM;
    }
    k->rk = rd_kafka_new(c->type, rc, text, sizeof(text));
    if (!k->rk) {
        px_why(why, whylen, "%s", text[0] ? text : "rd_kafka_new failed");
        rd_kafka_conf_destroy(rc);
        px_kafka_statistics_destroy(k->statistics);
        free(k);
        return PX_ERR_KAFKA;
    }
    *out = k;
    return PX_OK;
}

void px_kafka_destroy(px_kafka *k)
{
    if (!k)
        return;
    rd_kafka_destroy(k->rk);
    px_kafka_statistics_destroy(k->statistics);
    free(k);
}

rd_kafka_t *px_kafka_handle(const px_kafka *k)
{
    return k->rk;
}

void px_kafka_lost(px_kafka *k, uint64_t n)
{
    atomic_fetch_add(&k->failed, n);
    if (k->m_failed)
        px_metric_add(k->m_failed, n);
}

void px_kafka_get_stats(const px_kafka *k, px_kafka_stats *out)
{
    px_kafka *m = (px_kafka *)k;
    out->delivered = atomic_load(&m->delivered);
    out->failed = atomic_load(&m->failed);
}

bool px_kafka_permanent(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG: /* CORRUPT_MESSAGE */
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
        return true;
    default:
        return false;
    }
}

px_kafka_refusal px_kafka_refusal_of(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
        return PX_KAFKA_REFUSAL_AUTHENTICATION;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
        return PX_KAFKA_REFUSAL_TOPIC_AUTHORIZATION;
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
        return PX_KAFKA_REFUSAL_CLUSTER_AUTHORIZATION;
    default:
        return PX_KAFKA_REFUSAL_NONE;
    }
}

const char *px_kafka_refusal_name(px_kafka_refusal r)
{
    static const char *const names[PX_KAFKA_REFUSAL__COUNT] = {
        [PX_KAFKA_REFUSAL_NONE] = "none",
        [PX_KAFKA_REFUSAL_AUTHENTICATION] = "authentication",
        [PX_KAFKA_REFUSAL_TOPIC_AUTHORIZATION] = "topic_authorization",
        [PX_KAFKA_REFUSAL_CLUSTER_AUTHORIZATION] = "cluster_authorization",
    };
    return (unsigned)r < PX_KAFKA_REFUSAL__COUNT ? names[r] : "none";
}
