/* px_consumer_conf.h: every pdnsx-consumer setting (INTERFACE.md) as one
 * px_config table, and a loader that turns a validated config into a typed
 * struct. */
#ifndef PX_CONSUMER_CONF_H
#define PX_CONSUMER_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "px_config.h"
#include "px_error.h"
#include "px_store.h"

/* {NULL}-terminated; for px_config_create() and px_cli_spec.table. */
extern const px_conf_item px_consumer_conf_table[];

typedef struct px_consumer_kv {
    const char *key;
    const char *value;
} px_consumer_kv;

/* Lifetime: every const char * points into the px_config it was loaded
 * from and is valid until px_config_destroy() of that config. The
 * kafka_properties array is owned by the struct: px_consumer_conf_free(). */
typedef struct px_consumer_conf {
    const char *kafka_brokers;
    const char *kafka_group;
    /* A topic name, or a regex if it starts with '^' (librdkafka's rule). */
    const char *kafka_topics;
    px_consumer_kv *kafka_properties; /* raw librdkafka properties, consumer and DLQ producer */
    size_t n_kafka_properties;
    const char *store_path;
    const char *geoip_country;  /* NULL: none */
    const char *geoip_asn;      /* NULL: none */
    const char *metrics_listen; /* NULL: no metrics server */
    const char *query_listen;   /* NULL: no HTTP query endpoint */
    const char *log_level;
    int64_t exit_idle;          /* seconds; 0: run until signalled */
    int64_t batch_records;      /* store.batch_records: records per store transaction */
    int64_t batch_ms;           /* store.batch_ms: longest a record waits for its commit */
    px_store_check store_check; /* store.check_on_open */
    bool drop_damaged_log;      /* store.drop_damaged_log */
} px_consumer_conf;

/* Fills *out from cfg (validate cfg first). *out must be freed whatever
 * the result (PX_OK or PX_ERR_NOMEM). */
px_err px_consumer_conf_load(const px_config *cfg, px_consumer_conf *out);
void px_consumer_conf_free(px_consumer_conf *c); /* NULL is fine; zeroes *c */

#endif
