/* px_consumer_conf.c: the consumer's settings loader and its --check hook
 * (the table is query/px_query_conf.c, which pdnsx-query reads too). */
#include "consumer/px_consumer_conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kafka/px_kafka_conf.h"
#include "kafka/px_kafka_propfile.h"
#include "px_geoip.h"

/* ---- loader ------------------------------------------------------------------ */

/* A string array setting as a malloc'd array of pointers into cfg; NULL
 * on no memory. */
static const char **px_consumer_strings(const px_config *cfg, const char *path, size_t *n)
{
    *n = px_config_array_len(cfg, path);
    const char **v = calloc(*n ? *n : 1, sizeof(*v));
    for (size_t i = 0; v && i < *n; i++)
        v[i] = px_config_array_string(cfg, path, i);
    return v;
}

px_err px_consumer_conf_load(const px_config *cfg, px_consumer_conf *out)
{
    memset(out, 0, sizeof(*out));
    out->kafka_brokers = px_config_string(cfg, "kafka.brokers");
    out->kafka_group = px_config_string(cfg, "kafka.group");
    out->kafka_group_instance_id = px_config_string(cfg, "kafka.group_instance_id");
    out->kafka_topics = px_config_string(cfg, "kafka.topics");
    out->store_path = px_config_string(cfg, "store.path");
    out->batch_records = px_config_int(cfg, "store.batch_records");
    out->batch_ms = px_config_int(cfg, "store.batch_ms");
    out->store_check = px_query_conf_store_check(px_config_string(cfg, "store.check_on_open"));
    out->drop_damaged_log = px_config_bool(cfg, "store.drop_damaged_log");
    out->geoip_country = px_config_string(cfg, "geoip.country");
    out->geoip_asn = px_config_string(cfg, "geoip.asn");
    out->metrics_listen = px_config_string(cfg, "metrics.listen");
    out->log_level = px_config_string(cfg, "log.level");
    out->query_listen = px_config_string(cfg, "query.listen");
    out->exit_idle = px_config_int(cfg, "run.exit_idle");
    out->trust_private_answers = px_config_bool(cfg, "trust.private_answers");
    out->trust_time_floor = px_config_int(cfg, "trust.time_floor");
    out->trust_future_skew = px_config_int(cfg, "trust.future_skew");
    out->trust_org_new_records = px_config_int(cfg, "trust.org_new_records");
    out->trust_rrtypes = px_consumer_strings(cfg, "trust.rrtypes", &out->n_trust_rrtypes);
    out->trust_local_zones =
        px_consumer_strings(cfg, "trust.local_zones", &out->n_trust_local_zones);
    if (!out->trust_rrtypes || !out->trust_local_zones)
        return PX_ERR_NOMEM;
    out->dlq_max_bytes = px_config_int(cfg, "dlq.max_bytes");
    out->query_limits.def = (uint64_t)px_config_int(cfg, "query.limit");
    out->query_limits.max = (uint64_t)px_config_int(cfg, "query.max_limit");
    px_http_limits_from_config(cfg, &out->http);
    out->fetch_queue_messages = px_config_int(cfg, "kafka.fetch_queue_messages");
    out->fetch_queue_kbytes = px_config_int(cfg, "kafka.fetch_queue_kbytes");
    out->fetch_max_kbytes = px_config_int(cfg, "kafka.fetch_max_kbytes");
    out->align_seconds = px_config_int(cfg, "kafka.align_seconds");
    out->kafka_changelog_topic = px_config_string(cfg, "kafka.changelog_topic");
    /* kafka.brokers and kafka.properties as every Kafka client reads them;
     * the properties array is ours now (px_consumer_conf_free) */
    px_kafka_settings ks;
    px_err err = px_kafka_settings_load(cfg, &ks);
    if (err != PX_OK) {
        px_kafka_settings_free(&ks);
        return err;
    }
    out->kafka_properties = ks.props;
    out->n_kafka_properties = ks.n_props;
    out->n_kafka_file_properties = ks.n_file_props;
    out->kafka_properties_file = ks.file;
    out->kafka_statistics_ms = ks.statistics_interval_ms;
    if (px_detect_opts_from_config(cfg, &out->detect, &out->detect_brands) != PX_OK)
        return PX_ERR_NOMEM;
    out->known_domains = px_config_string(cfg, "detect.known_domains");
    px_alert_conf_load(cfg, &out->alerts);
    return PX_OK;
}

void px_consumer_conf_free(px_consumer_conf *c)
{
    if (!c)
        return;
    free(c->kafka_properties);
    px_kafka_propfile_destroy(c->kafka_properties_file);
    free(c->trust_rrtypes);
    free(c->trust_local_zones);
    free(c->detect_brands);
    memset(c, 0, sizeof(*c));
}

/* ---- known domains ------------------------------------------------------------- */

/* The whole file, bounded: a top-sites list is tens of MiB at most, and
 * the set is built from one buffer. */
static px_err px_known_slurp(const char *path, char **buf, size_t *len, char *why, size_t whylen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        return PX_ERR_CONFIG;
    }
    size_t cap = PX_CONSUMER_KNOWN_MAX + 1u; /* one more octet says "too big" */
    char *b = malloc(cap);
    size_t n = b ? fread(b, 1, cap, f) : 0;
    bool bad = b && ferror(f);
    int saved = errno;
    fclose(f);
    if (!b)
        return PX_ERR_NOMEM;
    if (bad || n == cap) {
        if (bad)
            snprintf(why, whylen, "%s: %s", path, strerror(saved));
        else
            snprintf(why, whylen, "%s: larger than %u MiB", path, PX_CONSUMER_KNOWN_MAX >> 20);
        free(b);
        return PX_ERR_CONFIG;
    }
    *buf = b;
    *len = n;
    return PX_OK;
}

px_err px_consumer_known_read(const char *path, px_detect_known **out, char *why, size_t whylen)
{
    *out = NULL;
    char *buf = NULL;
    size_t len = 0;
    px_err err = px_known_slurp(path, &buf, &len, why, whylen);
    if (err != PX_OK)
        return err;
    px_detect_known *k = px_detect_known_create();
    char line[512] = "";
    err = k ? px_detect_known_parse(k, buf, len, line, sizeof(line)) : PX_ERR_NOMEM;
    free(buf);
    if (err == PX_ERR_MALFORMED) {
        /* "line N: what" becomes "PATH:N: what", as compilers say it */
        const char *at = strncmp(line, "line ", 5) == 0 ? line + 5 : line;
        snprintf(why, whylen, "%s:%s", path, at);
        err = PX_ERR_CONFIG;
    }
    if (err != PX_OK) {
        px_detect_known_destroy(k);
        return err;
    }
    *out = k;
    return PX_OK;
}

/* ---- what would otherwise fail only at run time ----------------------------- */

/* The store's directory exists and is writable, or can be created (the
 * store makes the last component only, as mkdir does). */
static void px_check_store_path(px_config *cfg)
{
    const char *dir = px_config_string(cfg, "store.path");
    if (!dir || !*dir)
        return; /* validation has said so */
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            px_config_add_problem(cfg, "store.path", "'store.path' \"%s\": not a directory", dir);
        else if (access(dir, W_OK | X_OK) != 0)
            px_config_add_problem(cfg, "store.path", "'store.path' \"%s\": not writable: %s", dir,
                                  strerror(errno));
        return;
    }
    if (errno != ENOENT) {
        px_config_add_problem(cfg, "store.path", "'store.path' \"%s\": %s", dir, strerror(errno));
        return;
    }
    /* the parent directory: before the last '/', trailing ones aside */
    char parent[4096];
    snprintf(parent, sizeof(parent), "%s", dir);
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/')
        parent[--n] = '\0';
    char *slash = strrchr(parent, '/');
    if (!slash)
        snprintf(parent, sizeof(parent), ".");
    else
        slash[slash == parent ? 1 : 0] = '\0';
    const char *why = NULL;
    if (stat(parent, &st) != 0)
        why = strerror(errno);
    else if (!S_ISDIR(st.st_mode))
        why = "not a directory";
    else if (access(parent, W_OK | X_OK) != 0)
        why = strerror(errno);
    if (why)
        px_config_add_problem(cfg, "store.path",
                              "'store.path' \"%s\" does not exist and cannot be created: %s: %s",
                              dir, parent, why);
}

/* A GeoIP database opens as the consumer opens it. */
static void px_check_geoip(px_config *cfg, const char *setting)
{
    const char *path = px_config_string(cfg, setting);
    if (!path || !*path)
        return;
    bool country = strcmp(setting, "geoip.country") == 0;
    char why[512] = "";
    px_geoip *g = px_geoip_open(country ? path : NULL, country ? NULL : path, why, sizeof(why));
    if (!g)
        px_config_add_problem(cfg, setting, "%s", why[0] ? why : "cannot open");
    px_geoip_close(g);
}

/* detect.known_domains reads and parses as the consumer reads it. */
static void px_check_known(px_config *cfg)
{
    const char *path = px_config_string(cfg, "detect.known_domains");
    if (!path || !*path)
        return;
    char why[1024] = "";
    px_detect_known *k = NULL;
    px_err err = px_consumer_known_read(path, &k, why, sizeof(why));
    if (err != PX_OK)
        px_config_add_problem(cfg, "detect.known_domains", "'detect.known_domains' %s",
                              err == PX_ERR_NOMEM ? px_strerror(err) : why);
    px_detect_known_destroy(k);
}

/* librdkafka properties that bound the consumer's memory: set by our own
 * settings only, so that the bound the README states holds. */
static const px_kafka_prop px_consumer_memory_props[] = {
    {"queued.min.messages", "kafka.fetch_queue_messages"},
    {"queued.max.messages.kbytes", "kafka.fetch_queue_kbytes"},
    {"fetch.max.bytes", "kafka.fetch_max_kbytes"},
};

const px_kafka_prop *px_consumer_conf_reserved(size_t *n)
{
    *n = sizeof(px_consumer_memory_props) / sizeof(px_consumer_memory_props[0]);
    return px_consumer_memory_props;
}

/* The setting that stands for a reserved property, or NULL. */
static const char *memory_setting(const char *prop)
{
    size_t n;
    const px_kafka_prop *r = px_consumer_conf_reserved(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(prop, r[i].key) == 0)
            return r[i].value;
    return NULL;
}

static void px_check_memory_props(px_config *cfg)
{
    size_t n = px_config_map_len(cfg, "kafka.properties");
    for (size_t i = 0; i < n; i++) {
        const char *key = px_config_map_key(cfg, "kafka.properties", i);
        const char *setting = key ? memory_setting(key) : NULL;
        if (!setting)
            continue;
        char member[512];
        snprintf(member, sizeof(member), "kafka.properties.%s", key);
        px_config_add_problem(cfg, member, "%s bounds the consumer's memory: set %s instead",
                              member, setting);
    }
}

const char *px_consumer_conf_pinned(const char *key, const char *value)
{
    if (strcmp(key, PX_CONSUMER_ASSIGNOR_PROP) != 0 || strcmp(value, PX_CONSUMER_ASSIGNOR) == 0)
        return NULL;
    return "pdnsx-consumer assigns partitions with \"" PX_CONSUMER_ASSIGNOR
           "\" only: it gives partition i of every organisation topic to one member "
           "(co-partitioning, docs/ARCHITECTURE.md)";
}

/* kafka.properties and kafka.properties_file may set the assignment
 * strategy to range only. The file's own problems are
 * px_kafka_propfile_check's. */
static void px_check_pinned(px_config *cfg)
{
    size_t n = px_config_map_len(cfg, "kafka.properties");
    for (size_t i = 0; i < n; i++) {
        const char *key = px_config_map_key(cfg, "kafka.properties", i);
        const char *value = px_config_map_value(cfg, "kafka.properties", i);
        const char *why = key && value ? px_consumer_conf_pinned(key, value) : NULL;
        if (!why)
            continue;
        char member[512];
        snprintf(member, sizeof(member), "kafka.properties.%s", key);
        px_config_add_problem(cfg, member, "%s: \"%s\" refused: %s", member, value, why);
    }
    const char *file = px_config_string(cfg, "kafka.properties_file");
    px_kafka_propfile *f = NULL;
    if (!file || file[0] != '/' || px_kafka_propfile_read(file, &f, NULL, 0) != PX_OK)
        return;
    const px_kafka_prop *props = px_kafka_propfile_props(f, &n);
    for (size_t i = 0; i < n; i++) {
        const char *why = px_consumer_conf_pinned(props[i].key, props[i].value);
        if (!why)
            continue;
        char where[512];
        snprintf(where, sizeof(where), "%s:%u", file, px_kafka_propfile_line(f, i));
        px_config_add_problem_where(cfg, where, "%s: \"%s\" refused: %s", props[i].key,
                                    props[i].value, why);
    }
    px_kafka_propfile_destroy(f);
}

void px_consumer_conf_check(void *ctx, px_config *cfg)
{
    (void)ctx;
    px_check_store_path(cfg);
    px_check_geoip(cfg, "geoip.country");
    px_check_geoip(cfg, "geoip.asn");
    px_kafka_conf_check(cfg, "kafka.properties");
    px_kafka_propfile_check(cfg, "kafka.properties_file");
    px_check_memory_props(cfg);
    px_check_pinned(cfg);
    px_check_known(cfg);
}
