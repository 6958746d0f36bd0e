/* px_kafka_conf.c: raw librdkafka properties tried on a scratch
 * configuration. */
#include "kafka/px_kafka_conf.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>

#include "kafka/px_kafka.h"

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
