/* px_consumer_conf.h: a loader that turns a validated configuration
 * (px_query_conf_table, every pdnsx-consumer setting, docs/INTERFACE.md)
 * into a typed struct, and the consumer's --check hook. */
#ifndef PX_CONSUMER_CONF_H
#define PX_CONSUMER_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/px_config.h"
#include "core/px_error.h"
#include "core/px_http.h"
#include "detect/px_detect.h"
#include "kafka/px_kafka.h"
#include "query/px_alert_conf.h"
#include "query/px_query.h"
#include "query/px_query_conf.h"
#include "store/px_store.h"

/* Lifetime: every const char * points into the px_config it was loaded
 * from and is valid until px_config_destroy() of that config. The
 * kafka_properties, trust_rrtypes, trust_local_zones and detect_brands
 * arrays are owned by the struct: px_consumer_conf_free(). */
typedef struct px_consumer_conf {
    const char *kafka_brokers;
    const char *kafka_group;
    /* kafka.group_instance_id: librdkafka's group.instance.id (static
     * membership); NULL or "": dynamic membership */
    const char *kafka_group_instance_id;
    /* A topic name, or a regex if it starts with '^' (librdkafka's rule). */
    const char *kafka_topics;
    px_kafka_prop *kafka_properties; /* raw librdkafka properties, consumer and DLQ producer */
    size_t n_kafka_properties;
    /* the last n_kafka_file_properties of them came from kafka.properties_file,
     * whose strings kafka_properties_file holds (owned) */
    size_t n_kafka_file_properties;
    struct px_kafka_propfile *kafka_properties_file;
    const char *store_path;
    const char *geoip_country;  /* NULL: none */
    const char *geoip_asn;      /* NULL: none */
    const char *metrics_listen; /* NULL: no metrics server */
    const char *query_listen;   /* NULL: no HTTP query endpoint */
    const char *log_level;
    int64_t exit_idle;     /* seconds; 0: run until signalled */
    int64_t batch_records; /* store.batch_records: records per store transaction */
    int64_t batch_ms;      /* store.batch_ms: longest a record waits for its commit */
    /* store.check_on_open, store.drop_damaged_log; zeroed: a full check,
     * a damaged batch log stops the consumer */
    px_store_check store_check;
    bool drop_damaged_log;
    /* trust.*: what the centre accepts (px_obs_trust_check). Zeroed (a
     * struct built by hand): the privacy rules' default types, no time
     * floor, no skew, no bound on new records. */
    const char **trust_rrtypes; /* mnemonics or TYPEnnn, as written; owned array */
    size_t n_trust_rrtypes;
    const char **trust_local_zones; /* extra local zones; owned array */
    size_t n_trust_local_zones;
    bool trust_private_answers;
    int64_t trust_time_floor;      /* UTC epoch seconds */
    int64_t trust_future_skew;     /* seconds */
    int64_t trust_org_new_records; /* new records per organisation per minute; 0: no bound */
    /* dlq.max_bytes: largest dead-letter copy, framing included; 0:
     * PX_QUERY_CONF_DLQ_MAX_BYTES */
    int64_t dlq_max_bytes;
    px_query_limits query_limits; /* query.limit, query.max_limit */
    px_http_limits http;          /* http.*: metrics.listen and query.listen */
    /* The bound on librdkafka's prefetch (README, "Memory"): messages and
     * payload KiB queued before fetching stops, and the largest fetch
     * response, in KiB. 0 (a struct filled by hand): the setting's
     * default, PX_QUERY_CONF_FETCH_*. */
    int64_t fetch_queue_messages; /* kafka.fetch_queue_messages: queued.min.messages */
    int64_t fetch_queue_kbytes;   /* kafka.fetch_queue_kbytes: queued.max.messages.kbytes */
    int64_t fetch_max_kbytes;     /* kafka.fetch_max_kbytes: fetch.max.bytes / 1024 */
    /* kafka.align_seconds: how far in event time (time_last) a partition
     * may run ahead of the slowest one still to be read; 0: no alignment
     * (also a struct filled by hand) */
    int64_t align_seconds;
    /* kafka.changelog_topic: the store changes' topic (a struct filled by
     * hand: NULL, "pdnsx.state") */
    const char *kafka_changelog_topic;
    int64_t kafka_statistics_ms; /* kafka.statistics_interval_ms (0: none) */
    /* detect.*: zeroed (a struct filled by hand), no detector runs and
     * the store keeps no change feed's state; detect.brands points into
     * detect_brands. known_domains: the file's path, read at start
     * (px_consumer_known_read); NULL: none. */
    px_detect_opts detect;
    const char **detect_brands; /* owned array */
    const char *known_domains;
    px_alert_conf alerts; /* alerts.*: zeroed, no sink */
} px_consumer_conf;

/* Fills *out from cfg (validate cfg first). *out must be freed whatever
 * the result (PX_OK or PX_ERR_NOMEM). */
px_err px_consumer_conf_load(const px_config *cfg, px_consumer_conf *out);
void px_consumer_conf_free(px_consumer_conf *c); /* NULL is fine; zeroes *c */

/* px_cli_spec.check_config hook of pdnsx-consumer: what would otherwise
 * fail only once the consumer runs (exit 1) becomes a problem at its
 * setting (exit 2, with --check too): a store.path that is not a writable
 * directory and cannot be created, a GeoIP file that does not open as a
 * MaxMind DB, a librdkafka property librdkafka refuses, a known-domains
 * file that cannot be read or has a bad line. ctx is unused. */
void px_consumer_conf_check(void *ctx, px_config *cfg);

/* Reads the known-domains file at path (at most PX_CONSUMER_KNOWN_MAX
 * bytes) into a new set (*out, px_detect_known_destroy). PX_ERR_CONFIG
 * with why = "PATH: what" for a file that cannot be read or is too big,
 * or "PATH:LINE: what" for a bad line; PX_ERR_NOMEM. */
#define PX_CONSUMER_KNOWN_MAX (64u << 20)
px_err px_consumer_known_read(const char *path, px_detect_known **out, char *why, size_t whylen);

/* The librdkafka properties that bound the consumer's memory
 * (queued.min.messages, ...; key) and the settings that stand for them
 * (value), *n of them: kafka.properties may not set those; the consumer's
 * px_kafka_conf.reserved. */
const px_kafka_prop *px_consumer_conf_reserved(size_t *n);

/* The assignment strategy the consumer pins: range gives partition i of
 * every subscribed topic to the same member, given equal partition counts
 * (co-partitioning). */
#define PX_CONSUMER_ASSIGNOR_PROP "partition.assignment.strategy"
#define PX_CONSUMER_ASSIGNOR "range"
/* Why the librdkafka property key may not have value in kafka.properties
 * or kafka.properties_file (static text), or NULL when it may: a property
 * the consumer pins to one value (PX_CONSUMER_ASSIGNOR). */
const char *px_consumer_conf_pinned(const char *key, const char *value);

#endif
