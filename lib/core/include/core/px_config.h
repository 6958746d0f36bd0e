/* px_config.h: configuration as one declarative table on top of libconfig
 * (as librdkafka's property table). Each program lists its settings once
 * (path, type, range, default, help); loading, --set overrides, --check
 * validation, defaults and --help text all come from that table. Unknown
 * settings are errors. */
#ifndef PX_CONFIG_H
#define PX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/px_error.h"

typedef enum px_conf_type {
    PX_CONF_STRING,
    PX_CONF_INT, /* 64-bit; libconfig int or int64 */
    PX_CONF_BOOL,
    PX_CONF_STRING_ARRAY, /* ["A", "AAAA"] */
    PX_CONF_LIST,         /* ( { ... }, { ... } ): each group checked by `children` */
    PX_CONF_MAP,          /* group of free-form scalar settings (kafka.properties) */
} px_conf_type;

enum { PX_CONF_REQUIRED = 1 };

typedef struct px_conf_item {
    const char *path; /* "kafka.brokers"; inside `children`: "type" */
    px_conf_type type;
    int64_t min, max; /* PX_CONF_INT range (both 0: any) */
    const char
        *def;       /* default, as libconfig value text ("60", "\"info\"", "[\"A\"]"); NULL: none */
    unsigned flags; /* PX_CONF_REQUIRED */
    const char *const *choices; /* NULL-terminated allowed strings (STRING, STRING_ARRAY) */
    const struct px_conf_item *children; /* PX_CONF_LIST: items of each group, {NULL}-terminated */
    /* Optional extra check of a string value (or each array element);
     * returns false and writes why. */
    bool (*check)(const char *value, char *why, size_t whylen);
    const char *help;
    /* A row with only `include` set splices that {NULL}-terminated table
     * in its place: validation, defaults and --help see its rows as the
     * table's own (shared fragments such as px_conf_log_items). Nested
     * includes go PX_CONF_INCLUDE_DEPTH deep. */
    const struct px_conf_item *include;
} px_conf_item;

enum { PX_CONF_INCLUDE_DEPTH = 4 };

/* Shared fragments, {NULL}-terminated: put {.include = px_conf_log_items}
 * in a program's table. */
extern const px_conf_item px_conf_log_items[];     /* log.level */
extern const px_conf_item px_conf_metrics_items[]; /* metrics.listen */
/* kafka.brokers (not empty) and kafka.properties (raw librdkafka
 * properties, a map: px_config_map_load; lib/kafka checks them). */
extern const px_conf_item px_conf_kafka_items[];

typedef struct px_config px_config;

/* table: {NULL}-terminated; not copied, must outlive the config. */
px_config *px_config_create(const px_conf_item *table);
void px_config_destroy(px_config *c); /* NULL is fine */

/* Reads a libconfig file. Syntax errors become problems "FILE:LINE: message". */
px_err px_config_load_file(px_config *c, const char *path);
/* Applies "PATH=VALUE" (VALUE in libconfig syntax), creating groups on the way. */
px_err px_config_set(px_config *c, const char *assignment);
/* Checks every setting against the table: unknown paths, types, ranges,
 * choices, required ones, list items. Returns PX_OK or PX_ERR_CONFIG. */
px_err px_config_validate(px_config *c);

size_t px_config_problem_count(const px_config *c);
/* "FILE:LINE: message" (or "--set:N: message" for overrides). */
const char *px_config_problem(const px_config *c, size_t i);
/* Lets a program add its own cross-setting problems; `path` names the
 * setting whose location is used. */
void px_config_add_problem(px_config *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A problem found in another file a setting names (kafka.properties_file):
 * `where` is that file's own "FILE:LINE". */
void px_config_add_problem_where(px_config *c, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Accessors return the value set, else the table default. Strings stay
 * valid until the config is destroyed. NULL/0/false if neither. */
bool px_config_is_set(const px_config *c, const char *path);
const char *px_config_string(const px_config *c, const char *path);
int64_t px_config_int(const px_config *c, const char *path);
bool px_config_bool(const px_config *c, const char *path);
size_t px_config_array_len(const px_config *c, const char *path);
const char *px_config_array_string(const px_config *c, const char *path, size_t i);
/* PX_CONF_LIST: number of groups, and a string member of group i (NULL if absent). */
size_t px_config_list_len(const px_config *c, const char *path);
const char *px_config_list_string(const px_config *c, const char *path, size_t i,
                                  const char *member);
/* PX_CONF_MAP: number of members, name and value of member i (numbers and
 * booleans rendered as text). Nested names are joined with dots. */
size_t px_config_map_len(const px_config *c, const char *path);
const char *px_config_map_key(const px_config *c, const char *path, size_t i);
const char *px_config_map_value(const px_config *c, const char *path, size_t i);

/* One member of a PX_CONF_MAP setting. */
typedef struct px_conf_kv {
    const char *key, *value;
} px_conf_kv;

/* The members of the map at path as an array (*n entries; never NULL on
 * PX_OK, so the caller can free it either way). The array is the caller's
 * (free()); its strings belong to the config. PX_ERR_NOMEM. */
px_err px_config_map_load(const px_config *c, const char *path, px_conf_kv **out, size_t *n);

/* Checks shared by the programs' tables (px_conf_item.check); the
 * host:port check is px_conf_check_hostport() in core/px_net.h. */
/* A value that must not be empty (broker lists, group names). */
bool px_conf_check_nonempty(const char *value, char *why, size_t whylen);
/* A Kafka topic name by Kafka's rule: 1 to 249 of [A-Za-z0-9._-], not "." or "..". */
bool px_conf_check_topic(const char *value, char *why, size_t whylen);

/* Prints the table as help: path, type, default, meaning. */
void px_config_print_table(const px_conf_item *table, FILE *out);

#endif
