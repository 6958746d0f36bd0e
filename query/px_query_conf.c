/* px_query_conf.c: the settings table of the consumer's configuration
 * file, for both programs that read it (query/px_query_conf.h). */
#include "query/px_query_conf.h"

#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "core/px_http.h"
#include "core/px_net.h"
#include "detect/px_detect.h"
#include "dns/px_addr.h"
#include "dns/px_dns_type.h"
#include "obs/px_privacy.h"
#include "query/px_alert_conf.h"

/* ---- checks ---------------------------------------------------------------- */

/* kafka.changelog_topic: a topic name, or "" for none. */
static bool px_check_changelog_topic(const char *v, char *why, size_t len)
{
    return !v[0] || px_conf_check_topic(v, why, len);
}

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

/* Empty (dynamic membership), or what Kafka takes as a group.instance.id:
 * a topic name's rule (JoinGroupRequest.validateGroupInstanceId). */
static bool px_check_instance_id(const char *v, char *why, size_t len)
{
    if (v[0] == '\0' || px_conf_check_topic(v, why, len))
        return true;
    snprintf(why, len, "Kafka takes 1 to 249 of [A-Za-z0-9._-], not \".\" or \"..\"");
    return false;
}

/* ---- the table ------------------------------------------------------------- */

#define PX_STR_(x) #x
#define PX_STR(x) PX_STR_(x)

/* In px_store_check order. */
static const char *const px_store_checks[] = {"full", "pages", "meta", NULL};

px_store_check px_query_conf_store_check(const char *value)
{
    for (int i = 0; value && px_store_checks[i]; i++)
        if (strcmp(value, px_store_checks[i]) == 0)
            return (px_store_check)i;
    return PX_STORE_CHECK_FULL;
}

const px_conf_item px_query_conf_table[] = {
    {.include = px_conf_kafka_items}, /* kafka.brokers, kafka.properties */
    {.path = "kafka.group",
     .type = PX_CONF_STRING,
     .def = "\"pdnsx-consumer\"",
     .check = px_conf_check_nonempty,
     .help = "consumer group"},
    {.path = "kafka.group_instance_id",
     .type = PX_CONF_STRING,
     .def = "\"\"",
     .check = px_check_instance_id,
     .help = "this member's static identity in the group (librdkafka's group.instance.id), "
             "unique per member and kept across restarts, so that a restart within "
             "session.timeout.ms gets the same partitions back without a rebalance; "
             "\"\": dynamic membership"},
    {.path = "kafka.topics",
     .type = PX_CONF_STRING,
     .def = "\"^pdnsx\\\\.obs\\\\..+\"",
     .check = px_check_topics,
     .help = "topic, or topic regex when it starts with '^'; new matching topics are "
             "picked up within 5 seconds"},
    {.path = "kafka.changelog_topic",
     .type = PX_CONF_STRING,
     .def = "\"pdnsx.state\"",
     .check = px_check_changelog_topic,
     .help = "the log-compacted topic each input partition's store changes are published "
             "to and restored from (partition i: input partition i's), with as many "
             "partitions as the organisation topics; \"\": none (a single member)"},
    {.path = "kafka.fetch_queue_messages",
     .type = PX_CONF_INT,
     .min = 1000,
     .max = 10000000,
     .def = PX_STR(PX_QUERY_CONF_FETCH_QUEUE_MESSAGES),
     .help = "messages prefetched from Kafka at most (librdkafka's queued.min.messages); "
             "each holds about 400 bytes besides its payload (README, \"Memory\")"},
    {.path = "kafka.fetch_queue_kbytes",
     .type = PX_CONF_INT,
     .min = 1024,
     .max = 2097151,
     .def = PX_STR(PX_QUERY_CONF_FETCH_QUEUE_KBYTES),
     .help = "KiB of message payload prefetched from Kafka at most (librdkafka's "
             "queued.max.messages.kbytes)"},
    {.path = "kafka.fetch_max_kbytes",
     .type = PX_CONF_INT,
     .min = 1024,
     .max = 2097151,
     .def = PX_STR(PX_QUERY_CONF_FETCH_MAX_KBYTES),
     .help = "largest fetch response from a broker, KiB (librdkafka's fetch.max.bytes); "
             "at least a message's largest size"},
    {.path = "kafka.align_seconds",
     .type = PX_CONF_INT,
     .min = 0,
     .max = 31536000,
     .def = "60",
     .help = "seconds of event time (time_last) a partition may read ahead of the slowest "
             "assigned partition that still has messages, so that a replay merges in the "
             "same order whatever the batches (0: off)"},
    {.path = "store.path",
     .type = PX_CONF_STRING,
     .def = "\"/var/lib/pdnsx\"",
     .check = px_conf_check_nonempty,
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
     .check = px_conf_check_nonempty,
     .help = "MMDB file with country.iso_code (GeoLite2-Country, DB-IP, ip-location-db)"},
    {.path = "geoip.asn",
     .type = PX_CONF_STRING,
     .check = px_conf_check_nonempty,
     .help = "MMDB file with autonomous_system_number / autonomous_system_organization"},
    {.include = px_conf_metrics_items},
    {.include = px_conf_log_items},
    {.path = "query.listen",
     .type = PX_CONF_STRING,
     .check = px_conf_check_hostport,
     .help = "IPv4:port or [IPv6]:port serving COF lookups over HTTP"},
    {.path = "dlq.max_bytes",
     .type = PX_CONF_INT,
     .min = PX_QUERY_CONF_DLQ_MIN_BYTES,
     .max = 100000000,
     .def = PX_STR(PX_QUERY_CONF_DLQ_MAX_BYTES),
     .help = "largest copy sent to the dead-letter topic pdnsx.dlq, in bytes (key, value, "
             "headers and Kafka's framing; the dead-letter producer's message.max.bytes); "
             "a larger copy is cut, with headers saying so. The default is librdkafka's "
             "message.max.bytes, below Kafka's default max.message.bytes (1048588); set "
             "it no higher than pdnsx.dlq's max.message.bytes"},
    {.path = "run.exit_idle",
     .type = PX_CONF_INT,
     .min = 0,
     .max = 31536000,
     .def = "0",
     .help = "exit 0 after this many seconds with no new message and all committed "
             "(0: run until signalled)"},
    /* trust.*: what the centre accepts. The default types are every type
     * the producer writes in presentation form, so every name in them is
     * checked here; types it writes only as RFC 3597 hex can hide names
     * (an SVCB target) that no rule here could see. */
    {.path = "trust.rrtypes",
     .type = PX_CONF_STRING_ARRAY,
     .def = "[\"A\", \"AAAA\", \"CNAME\", \"MX\", \"NS\", \"PTR\", \"DNAME\", \"SRV\", "
            "\"SOA\", \"TXT\", \"CAA\"]",
     .check = px_dns_conf_check_type,
     .help = "RR types accepted; others are dead-lettered"},
    {.path = "trust.local_zones",
     .type = PX_CONF_STRING_ARRAY,
     .def = "[]",
     .check = px_privacy_check_zone,
     .help = "extra local zones refused, on top of the built-in ones (local, corp, "
             "10.in-addr.arpa, ...)"},
    {.path = "trust.private_answers",
     .type = PX_CONF_BOOL,
     .def = "false",
     .help = "accept answers with special-purpose addresses (RFC 1918, loopback, ...)"},
    /* 2004-01-01: passive DNS began with Florian Weimer's sensor in 2004,
     * so no member holds captures from before that it would share; a
     * clock reset to 1970 (time 0 or 1) or to 2000-01-01 (devices without
     * a battery) falls before it. */
    {.path = "trust.time_floor",
     .type = PX_CONF_INT,
     .min = 0,
     .max = 4102444800, /* 2100-01-01 */
     .def = "1072915200",
     .help = "earliest time_first accepted, UTC epoch seconds (default 2004-01-01)"},
    /* 300: Kerberos's allowance for clock skew; NTP keeps clocks within
     * a second. A producer publishes a window after it closes, so a
     * record's time_last normally lies before its message's timestamp. */
    {.path = "trust.future_skew",
     .type = PX_CONF_INT,
     .min = 0,
     .max = 86400,
     .def = "300",
     .help = "seconds time_last may lie after its Kafka message's timestamp"},
    /* 20000: a large organisation's resolvers add some thousands of new
     * records a minute to a warm store; a flood is held to 29 million a
     * day (about 10 GB of store), days to fill a disk while the metric
     * and the log say which organisation. */
    {.path = "trust.org_new_records",
     .type = PX_CONF_INT,
     .min = 0,
     .max = 1000000000,
     .def = "20000",
     .help = "new records one organisation may add per minute; the excess is dead-lettered "
             "(0: no bound)"},
    {.path = "query.limit",
     .type = PX_CONF_INT,
     .min = 1,
     .max = 1000000000,
     .def = "10000",
     .help = "records a lookup answers when it names no limit (query.listen, pdnsx-query)"},
    {.path = "query.max_limit",
     .type = PX_CONF_INT,
     .min = 1,
     .max = 1000000000,
     .def = "1000000",
     .help = "largest limit a lookup may name; a larger one, or query.limit, is lowered to it"},
    {.include = px_http_conf_items},
    {.include = px_detect_conf_items}, /* detect.*: docs/DETECTION.md */
    {.include = px_alert_conf_items},  /* alerts.*: docs/ALERT-SINKS.md */
    {.path = NULL},
};
