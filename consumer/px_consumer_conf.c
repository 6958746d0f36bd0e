/* px_consumer_conf.c: the consumer's settings table and loader. */
#include "px_consumer_conf.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_addr.h"

/* ---- checks ---------------------------------------------------------------- */

/* A topic name by Kafka's rule, or (leading '^') a regex. librdkafka has
 * its own regex engine; POSIX extended syntax is close enough to catch
 * typos such as an unbalanced bracket here rather than at subscription. */
static bool px_check_topics(const char *v, char *why, size_t len)
{
    if (v[0] == '^') {
        regex_t re;
        int rc = regcomp(&re, v, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char msg[128];
            regerror(rc, &re, msg, sizeof(msg));
            snprintf(why, len, "bad regex: %s", msg);
            return false;
        }
        regfree(&re);
        return true;
    }
    return px_conf_check_topic(v, why, len);
}

static bool px_check_nonempty(const char *v, char *why, size_t len)
{
    if (v[0])
        return true;
    snprintf(why, len, "must not be empty");
    return false;
}

/* ---- the table ------------------------------------------------------------- */

static const char *const px_log_levels[] = {"error", "warning", "info", "debug", NULL};
/* In px_store_check order. */
static const char *const px_store_checks[] = {"full", "pages", "meta", NULL};

const px_conf_item px_consumer_conf_table[] = {
    {.path = "kafka.brokers",
     .type = PX_CONF_STRING,
     .def = "\"127.0.0.1:9092\"",
     .check = px_check_nonempty,
     .help = "bootstrap servers"},
    {.path = "kafka.group",
     .type = PX_CONF_STRING,
     .def = "\"pdnsx-consumer\"",
     .check = px_check_nonempty,
     .help = "consumer group"},
    {.path = "kafka.topics",
     .type = PX_CONF_STRING,
     .def = "\"^pdnsx\\\\.obs\\\\..+\"",
     .check = px_check_topics,
     .help = "topic, or topic regex when it starts with '^'; new matching topics are "
             "picked up within 5 seconds"},
    {.path = "kafka.properties",
     .type = PX_CONF_MAP,
     .help = "raw librdkafka properties for the consumer and the dead-letter producer; nest "
             "groups for dotted names: { session = { timeout = { ms = 30000; }; }; }"},
    {.path = "store.path",
     .type = PX_CONF_STRING,
     .def = "\"/var/lib/pdnsx\"",
     .check = px_check_nonempty,
     .help = "directory of the embedded store"},
    {.path = "store.batch_records",
     .type = PX_CONF_INT,
     .min = 1,
     .max = 10000000,
     .def = "250000",
     .help = "records merged per store transaction at most"},
    {.path = "store.batch_ms",
     .type = PX_CONF_INT,
     .min = 1,
     .max = 600000,
     .def = "2000",
     .help = "longest a record waits for its transaction to commit, in milliseconds"},
    {.path = "store.check_on_open",
     .type = PX_CONF_STRING,
     .def = "\"full\"",
     .choices = px_store_checks,
     .help = "what the consumer checks of its store before it merges into it: full (every "
             "page, key and value), pages (every page and the key order), meta (the meta "
             "pages, file size and table records)"},
    {.path = "store.drop_damaged_log",
     .type = PX_CONF_BOOL,
     .def = "false",
     .help = "true: a committed batch log that cannot be applied whole is dropped and the "
             "consumer goes on without its lost records; false: it stops with an error"},
    {.path = "geoip.country",
     .type = PX_CONF_STRING,
     .check = px_check_nonempty,
     .help = "MMDB file with country.iso_code (GeoLite2-Country, DB-IP, ip-location-db)"},
    {.path = "geoip.asn",
     .type = PX_CONF_STRING,
     .check = px_check_nonempty,
     .help = "MMDB file with autonomous_system_number / autonomous_system_organization"},
    {.path = "metrics.listen",
     .type = PX_CONF_STRING,
     .check = px_conf_check_hostport,
     .help = "IPv4:port or [IPv6]:port serving Prometheus text on /metrics"},
    {.path = "log.level",
     .type = PX_CONF_STRING,
     .def = "\"info\"",
     .choices = px_log_levels,
     .help = "least severe level logged"},
    {.path = "query.listen",
     .type = PX_CONF_STRING,
     .check = px_conf_check_hostport,
     .help = "IPv4:port or [IPv6]:port serving COF lookups over HTTP"},
    {.path = "run.exit_idle",
     .type = PX_CONF_INT,
     .min = 0,
     .max = 31536000,
     .def = "0",
     .help = "exit 0 after this many seconds with no new message and all committed "
             "(0: run until signalled)"},
    {.path = NULL},
};

/* ---- loader ------------------------------------------------------------------ */

px_err px_consumer_conf_load(const px_config *cfg, px_consumer_conf *out)
{
    memset(out, 0, sizeof(*out));
    out->kafka_brokers = px_config_string(cfg, "kafka.brokers");
    out->kafka_group = px_config_string(cfg, "kafka.group");
    out->kafka_topics = px_config_string(cfg, "kafka.topics");
    out->store_path = px_config_string(cfg, "store.path");
    out->batch_records = px_config_int(cfg, "store.batch_records");
    out->batch_ms = px_config_int(cfg, "store.batch_ms");
    const char *check = px_config_string(cfg, "store.check_on_open");
    out->store_check = PX_STORE_CHECK_FULL;
    for (int i = 0; check && px_store_checks[i]; i++) {
        if (strcmp(check, px_store_checks[i]) == 0)
            out->store_check = (px_store_check)i;
    }
    out->drop_damaged_log = px_config_bool(cfg, "store.drop_damaged_log");
    out->geoip_country = px_config_string(cfg, "geoip.country");
    out->geoip_asn = px_config_string(cfg, "geoip.asn");
    out->metrics_listen = px_config_string(cfg, "metrics.listen");
    out->log_level = px_config_string(cfg, "log.level");
    out->query_listen = px_config_string(cfg, "query.listen");
    out->exit_idle = px_config_int(cfg, "run.exit_idle");
    size_t n = px_config_map_len(cfg, "kafka.properties");
    out->kafka_properties = calloc(n ? n : 1, sizeof(*out->kafka_properties));
    if (!out->kafka_properties)
        return PX_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        out->kafka_properties[i].key = px_config_map_key(cfg, "kafka.properties", i);
        out->kafka_properties[i].value = px_config_map_value(cfg, "kafka.properties", i);
    }
    out->n_kafka_properties = n;
    return PX_OK;
}

void px_consumer_conf_free(px_consumer_conf *c)
{
    if (!c)
        return;
    free(c->kafka_properties);
    memset(c, 0, sizeof(*c));
}
