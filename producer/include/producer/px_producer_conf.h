/* px_producer_conf.h: every pdnsx-producer setting (docs/INTERFACE.md
 * "pdnsx-producer settings") as one px_config table, and a loader that
 * turns a validated config into a typed struct with the cross-setting
 * checks the table cannot express. */
#ifndef PX_PRODUCER_CONF_H
#define PX_PRODUCER_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/px_config.h"
#include "core/px_error.h"
#include "core/px_http.h"
#include "kafka/px_kafka.h"
#include "producer/px_producer_types.h"

/* {NULL}-terminated; for px_config_create() and px_cli_spec.table. */
extern const px_conf_item px_producer_conf_table[];

typedef struct px_producer_input {
    px_input_type type;
    const char *type_name; /* "dnstap-unix", ... as configured */
    const char *path;      /* NULL when absent */
    const char *listen;
    const char *interface;
    const char *filter;
} px_producer_input;

/* Lifetime: every const char * below points into the px_config it was
 * loaded from (or into storage this struct owns) and is valid until both
 * px_producer_conf_free() and px_config_destroy() of that config. The
 * arrays are owned by the struct; free them with px_producer_conf_free(). */
typedef struct px_producer_conf {
    const char *org;
    const char *sensor; /* `sensor`, else this host's name */
    px_producer_input *inputs;
    size_t n_inputs;
    /* privacy.rrtypes as written (mnemonics or TYPEnnn); the producer
     * turns them into numbers with px_dns_type_parse(). */
    const char **rrtypes;
    size_t n_rrtypes;
    bool errors;          /* privacy.errors */
    bool private_answers; /* privacy.private_answers */
    const char **local_zones;
    size_t n_local_zones;
    const char **wildcard_servers; /* IP literals, px_addr_parse() them */
    size_t n_wildcard_servers;
    /* dnstap.message_types ("CLIENT_RESPONSE", ...; px_dnstap_type_bit()). */
    const char **dnstap_types;
    size_t n_dnstap_types;
    /* dnstap.max_connections, dnstap.handshake_ms, dnstap.idle_seconds */
    unsigned dnstap_max_connections;
    unsigned dnstap_handshake_ms;
    unsigned dnstap_idle_seconds;
    px_window_conf window;   /* window.seconds, window.max_entries, privacy.min_clients */
    px_kafka_settings kafka; /* kafka.brokers, kafka.properties */
    bool kafka_enabled;      /* kafka.enabled */
    const char *kafka_topic; /* kafka.topic, else "pdnsx.obs.<org>" */
    int kafka_max_block_ms;  /* kafka.max_block_ms */
    const char *spool_path;  /* NULL: no spool */
    int64_t spool_max_bytes;
    const char *metrics_listen; /* NULL: no metrics server */
    px_http_limits http;        /* http.*: metrics.listen */
    const char *log_level;      /* "error", "warning", "info", "debug" */
    /* private storage */
    char *own_sensor;
    char *own_topic;
} px_producer_conf;

/* Fills *out from cfg (validate cfg first). Cross-setting problems (an
 * input lacking what its type needs, no inputs) are added to problems_to
 * (normally cfg itself, may be NULL) at the offending setting's location,
 * and the result is PX_ERR_CONFIG. *out is usable (and must be freed)
 * whatever the result. */
px_err px_producer_conf_load(const px_config *cfg, px_producer_conf *out, px_config *problems_to);
void px_producer_conf_free(px_producer_conf *c); /* NULL is fine; zeroes *c */

/* px_cli_spec.check_config hook: runs the loader's cross checks so that
 * --check reports them too, and what would otherwise fail only once the
 * program runs: a file input whose path cannot be opened, a BPF filter
 * that does not compile, a librdkafka property librdkafka refuses. It runs
 * at every start, so a problem is exit status 2 with the same message
 * there. ctx is unused. */
void px_producer_conf_check(void *ctx, px_config *cfg);

#endif
