/* px_alert_conf.h: the alerts.* settings (the consumer's alert sinks,
 * px_alert_sink.h) and the check of alerts.syslog, so that --check names
 * the file and line of a bad one. Needs core only: the settings table
 * that includes it may live elsewhere. */
#ifndef PX_ALERT_CONF_H
#define PX_ALERT_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/px_config.h"
#include "core/px_error.h"

typedef enum px_alert_syslog_body {
    PX_ALERT_SYSLOG_JSON = 0, /* the alert JSON */
    PX_ALERT_SYSLOG_CEF,      /* ArcSight's Common Event Format */
} px_alert_syslog_body;

/* ---- settings (alerts.*) --------------------------------------------------------- */

/* The {NULL}-terminated fragment alerts.jsonl, alerts.kafka_topic,
 * alerts.syslog, alerts.syslog_format: {.include = px_alert_conf_items}. */
extern const px_conf_item px_alert_conf_items[];

typedef struct px_alert_conf {
    const char *jsonl;       /* NULL: no file sink */
    const char *kafka_topic; /* NULL: no Kafka sink (set to "") */
    const char *syslog;      /* NULL: no syslog sink */
    px_alert_syslog_body syslog_body;
} px_alert_conf;

/* Reads the fragment's settings of cfg (strings belong to cfg). */
void px_alert_conf_load(const px_config *cfg, px_alert_conf *out);

/* alerts.syslog, parsed. */
typedef struct px_alert_syslog_url {
    bool tcp;
    char host[256]; /* without brackets */
    uint16_t port;
} px_alert_syslog_url;

/* Parses alerts.syslog. PX_ERR_INVAL with why. */
px_err px_alert_syslog_url_parse(const char *text, px_alert_syslog_url *out, char *why,
                                 size_t whylen);

#endif
