/* px_kafka_conf.c: raw librdkafka properties tried on a scratch
 * configuration. */
#include "kafka/px_kafka_conf.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>

#include "kafka/px_kafka.h"
#include "kafka/px_kafka_propfile.h"

void px_kafka_conf_check(px_config *cfg, const char *path)
{
    size_t n = px_config_map_len(cfg, path);
    if (n == 0)
        return;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!conf)
        return;
    for (size_t i = 0; i < n; i++) {
        const char *key = px_config_map_key(cfg, path, i);
        const char *value = px_config_map_value(cfg, path, i);
        if (!key || !value)
            continue;
        char why[512] = "", member[512];
        snprintf(member, sizeof(member), "%s.%s", path, key);
        if (strcmp(key, PX_KAFKA_STATISTICS_PROP) == 0) {
            px_config_add_problem(cfg, member,
                                  "%s: set by " PX_KAFKA_STATISTICS_SETTING ": set that instead",
                                  member);
            continue;
        }
        if (rd_kafka_conf_set(conf, key, value, why, sizeof(why)) == RD_KAFKA_CONF_OK)
            continue;
        px_config_add_problem(cfg, member, "%s: librdkafka refuses \"%s\": %s", member, value,
                              why[0] ? why : "rejected");
    }
    rd_kafka_conf_destroy(conf);
}

void px_kafka_propfile_check(px_config *cfg, const char *path)
{
    const char *file = px_config_string(cfg, path);
    if (!file || file[0] != '/') /* a relative path is the table's problem */
        return;
    px_kafka_propfile *f = NULL;
    char why[512] = "";
    if (px_kafka_propfile_read(file, &f, why, sizeof(why)) != PX_OK) {
        px_config_add_problem(cfg, path, "%s: cannot read %s", path, why[0] ? why : file);
        return;
    }
    char where[512];
    for (size_t i = 0; i < px_kafka_propfile_problem_count(f); i++) {
        snprintf(where, sizeof(where), "%s:%u", file, px_kafka_propfile_problem_line(f, i));
        px_config_add_problem_where(cfg, where, "%s", px_kafka_propfile_problem_message(f, i));
    }
    size_t n;
    const px_kafka_prop *props = px_kafka_propfile_props(f, &n);
    rd_kafka_conf_t *conf = n ? rd_kafka_conf_new() : NULL;
    for (size_t i = 0; conf && i < n; i++) {
        char text[512] = "";
        snprintf(where, sizeof(where), "%s:%u", file, px_kafka_propfile_line(f, i));
        if (strcmp(props[i].key, PX_KAFKA_STATISTICS_PROP) == 0) {
            px_config_add_problem_where(
                cfg, where, "%s: set by " PX_KAFKA_STATISTICS_SETTING ": set that instead",
                props[i].key);
            continue;
        }
        if (rd_kafka_conf_set(conf, props[i].key, props[i].value, text, sizeof(text)) ==
            RD_KAFKA_CONF_OK)
            continue;
        /* librdkafka's text names the property, and the value only of
         * properties whose values are no secret (enumerations, numbers). */
        px_config_add_problem_where(cfg, where, "librdkafka refuses %s: %s", props[i].key,
                                    text[0] ? text : "rejected");
    }
    if (conf)
        rd_kafka_conf_destroy(conf);
    px_kafka_propfile_destroy(f);
}
