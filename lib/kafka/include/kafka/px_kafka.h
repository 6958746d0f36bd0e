/* px_kafka.h: one librdkafka client handle configured the way every pdnsx
 * Kafka client is (producer, consumer, dead-letter producer, tools).
 *
 * The configuration is built in one order: our properties first, then the
 * operator's kafka.properties (so the operator wins), except the ones a
 * program reserves for settings of its own. A property librdkafka refuses
 * fails creation with librdkafka's own text. librdkafka's log and error
 * callbacks reach the program's logger with px_log levels; a fatal error
 * (idempotence broken, ...) is reported once through its own callback
 * (px_kafka_conf.fatal). Producer handles count deliveries
 * (and optional metrics) in one place. */
#ifndef PX_KAFKA_H
#define PX_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/px_config.h"
#include "core/px_error.h"
#include "core/px_log.h"

/* One librdkafka property: a member of a settings map (kafka.properties). */
typedef px_conf_kv px_kafka_prop;

struct px_kafka_propfile;

/* The operator's settings every Kafka client shares: kafka.brokers, the
 * raw kafka.properties map in file order, then the properties of
 * kafka.properties_file in its order (the last n_file_props of props; set
 * later, they win). brokers and the map's strings belong to the px_config
 * they were loaded from, the file's to `file`; props and file are owned
 * (px_kafka_settings_free). */
typedef struct px_kafka_settings {
    const char *brokers;
    px_kafka_prop *props;
    size_t n_props;
    size_t n_file_props;
    struct px_kafka_propfile *file;
    /* kafka.statistics_interval_ms: librdkafka's statistics.interval.ms,
     * read into gauges (px_kafka_statistics.h); 0: none */
    int64_t statistics_interval_ms;
} px_kafka_settings;

/* The librdkafka property kafka.statistics_interval_ms sets: the
 * operator's kafka.properties (and kafka.properties_file) may not set it. */
#define PX_KAFKA_STATISTICS_PROP "statistics.interval.ms"
#define PX_KAFKA_STATISTICS_SETTING "kafka.statistics_interval_ms"

/* Messages per record batch at most, for every producer of observations
 * (librdkafka's batch.num.messages; its default is 10000). A consumer
 * fetches a partition a whole record batch at a time, past its share of
 * the prefetch: a consumer aligning its partitions in event time holds
 * each partition's queue on its own, so each may be one fetch, never less
 * than a whole batch, over its share at once (README, "Memory"). 500
 * typical observations are ~55 KB, three times the Java client's default
 * batch.size. */
#define PX_KAFKA_BATCH_MESSAGES "500"

/* Reads "kafka.brokers", "kafka.statistics_interval_ms", the map
 * "kafka.properties" and the file "kafka.properties_file" of cfg, the rows
 * of core's px_conf_kafka_items that a program's table includes (any may
 * be absent from the table: NULL brokers, no props). PX_ERR_NOMEM;
 * PX_ERR_CONFIG or PX_ERR_IO: the file cannot be read or has problems
 * (px_kafka_propfile_check says which). */
px_err px_kafka_settings_load(const px_config *cfg, px_kafka_settings *out);
void px_kafka_settings_free(px_kafka_settings *s); /* NULL and zeroed are fine */

/* librdkafka's syslog-style level (0 emergency .. 7 debug) as a px_log level. */
px_log_level px_kafka_log_level(int syslog_level);

/* A px_kafka_conf.log for programs that log through px_log (ctx unused). */
void px_kafka_to_px_log(void *ctx, px_log_level level, const char *msg);

/* Kafka refusing the client rather than failing: a login that failed, or
 * an ACL that does not allow what it asked. No retry helps until an
 * operator changes credentials or ACLs. */
typedef enum px_kafka_refusal {
    PX_KAFKA_REFUSAL_NONE,
    PX_KAFKA_REFUSAL_AUTHENTICATION,        /* SASL (or TLS client) login failed */
    PX_KAFKA_REFUSAL_TOPIC_AUTHORIZATION,   /* an ACL refuses the topic */
    PX_KAFKA_REFUSAL_CLUSTER_AUTHORIZATION, /* an ACL refuses a cluster operation */
    PX_KAFKA_REFUSAL__COUNT
} px_kafka_refusal;

/* What err is, as a refusal (PX_KAFKA_REFUSAL_NONE: none). */
px_kafka_refusal px_kafka_refusal_of(rd_kafka_resp_err_t err);
/* "authentication", "topic_authorization", "cluster_authorization" (metric labels). */
const char *px_kafka_refusal_name(px_kafka_refusal r);

typedef struct px_kafka px_kafka;

typedef struct px_kafka_conf {
    rd_kafka_type_t type;
    /* Our properties, set first (bootstrap.servers from settings->brokers
     * comes before them when brokers is set). */
    const px_kafka_prop *ours;
    size_t n_ours;
    /* The operator's (may be NULL): set after ours. */
    const px_kafka_settings *settings;
    /* Properties the operator may not set because a setting of ours owns
     * them: key = the librdkafka property, value = the pdnsx setting to use.
     * Such a property in settings fails creation naming the setting. */
    const px_kafka_prop *reserved;
    size_t n_reserved;
    /* librdkafka's log lines ("librdkafka FAC: text") and non-fatal errors
     * ("Kafka: NAME: reason", a warning: librdkafka retries). NULL: dropped. */
    void (*log)(void *ctx, px_log_level level, const char *msg);
    /* A non-fatal error that is a refusal (px_kafka_refusal_of), with
     * librdkafka's reason, from a librdkafka thread: the program logs it as
     * it sees fit (once), and px_kafka does not log it. NULL: logged as
     * any other error, every time. */
    void (*refused)(void *ctx, px_kafka_refusal why, const char *reason);
    /* A fatal error, with librdkafka's reason; also logged as an error.
     * Called at most once, from a librdkafka thread or a poll. */
    void (*fatal)(void *ctx, const char *why);
    /* Producer handles: every delivery report. Return true when a failed
     * message is not lost (the caller kept it, e.g. in a spool), so it is
     * not counted as failed; ignored for delivered ones. NULL: failed ones
     * are lost. */
    bool (*delivery)(void *ctx, const rd_kafka_message_t *m);
    /* Consumer handles: the group rebalance callback (NULL: librdkafka's). */
    void (*rebalance)(void *ctx, rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts);
    void *ctx; /* passed to the callbacks */
    /* Counters also kept as metrics when named (px_metric_counter). */
    const char *delivered_metric, *delivered_help;
    const char *failed_metric, *failed_help;
} px_kafka_conf;

typedef struct px_kafka_stats {
    uint64_t delivered; /* delivery reports without error */
    uint64_t failed;    /* failed and lost: reports the delivery callback did not keep, plus
                           px_kafka_lost() */
} px_kafka_stats;

/* Creates the handle. PX_ERR_CONFIG: a property refused (why holds
 * librdkafka's text, or the setting that owns a reserved property);
 * PX_ERR_KAFKA: rd_kafka_new failed (why holds librdkafka's text);
 * PX_ERR_NOMEM. conf and the strings it points to are only read during
 * the call. why may be NULL. */
px_err px_kafka_create(const px_kafka_conf *conf, px_kafka **out, char *why, size_t whylen);
/* Destroys the librdkafka handle (which may still call the callbacks),
 * then the object. NULL is fine. Does not flush: the caller does. */
void px_kafka_destroy(px_kafka *k);

/* The librdkafka handle, owned by k. */
rd_kafka_t *px_kafka_handle(const px_kafka *k);
/* Counts n messages lost outside a delivery report (a produce call
 * refused for good, a spool that could not take a failed one). */
void px_kafka_lost(px_kafka *k, uint64_t n);
void px_kafka_get_stats(const px_kafka *k, px_kafka_stats *out);
/* True for a produce error or a failed delivery that no retry of the same
 * message changes (too large, invalid or corrupt, a message format the
 * broker does not support). Anything else (the broker down, timeouts,
 * authorisation, an unknown topic, a purge) may pass later. */
bool px_kafka_permanent(rd_kafka_resp_err_t err);

#endif
