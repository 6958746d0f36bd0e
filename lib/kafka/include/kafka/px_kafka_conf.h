/* px_kafka_conf.h: the check --check makes of raw librdkafka properties
 * (kafka.properties), so that a name librdkafka does not know or a value
 * it refuses is a configuration problem at its line, not a failure at run
 * time. */
#ifndef PX_KAFKA_CONF_H
#define PX_KAFKA_CONF_H

#include "core/px_config.h"

/* Sets each member of the PX_CONF_MAP at `path` on a scratch librdkafka
 * configuration (rd_kafka_conf_set(), which knows every property and
 * checks its value); each one refused becomes a problem of cfg at the
 * member's line. The same names serve producers and consumers alike
 * (librdkafka has one property table), so one check covers both. */
void px_kafka_conf_check(px_config *cfg, const char *path);

/* Reads the file the string setting at `path` names (kafka.properties_file,
 * if set) as px_kafka_propfile does and tries each of its properties the
 * same way: a file that cannot be read is a problem at the setting's line,
 * anything wrong inside it a problem "FILE:LINE: message" of the file (its
 * values never written: they may be secrets). */
void px_kafka_propfile_check(px_config *cfg, const char *path);

#endif
