/* px_alert_conf.c: the alerts.* settings (px_alert_conf_items) and their
 * checks, so that --check names the file and line of a bad one. */
#include "px_alert_sink.h"

#include <stdio.h>
#include <string.h>

/* alerts.syslog: udp:// or tcp://, host:port. */
static bool px_alert_check_syslog(const char *value, char *why, size_t whylen)
{
    px_alert_syslog_url url;
    return px_alert_syslog_url_parse(value, &url, why, whylen) == PX_OK;
}

/* alerts.kafka_topic: empty turns the sink off. */
static bool px_alert_check_topic(const char *value, char *why, size_t whylen)
{
    return value[0] == '\0' || px_conf_check_topic(value, why, whylen);
}

static const char *const px_alert_syslog_formats[] = {"json", "cef", NULL};

const px_conf_item px_alert_conf_items[] = {
    {.path = "alerts.jsonl",
     .type = PX_CONF_STRING,
     .check = px_conf_check_nonempty,
     .help = "file that receives one alert JSON object per line (appended; reopened on "
             "SIGHUP for log rotation)"},
    {.path = "alerts.kafka_topic",
     .type = PX_CONF_STRING,
     .def = "\"pdnsx.alerts\"",
     .check = px_alert_check_topic,
     .help = "alert topic, keyed by registered domain (empty: off)"},
    {.path = "alerts.syslog",
     .type = PX_CONF_STRING,
     .check = px_alert_check_syslog,
     .help = "udp://host:port or tcp://host:port (IPv6 in brackets): RFC 5424 syslog, over "
             "TCP with octet counting (RFC 6587)"},
    {.path = "alerts.syslog_format",
     .type = PX_CONF_STRING,
     .def = "\"json\"",
     .choices = px_alert_syslog_formats,
     .help = "the syslog message body: the alert JSON, or cef (ArcSight Common Event Format)"},
    {.path = NULL},
};

void px_alert_conf_load(const px_config *cfg, px_alert_conf *out)
{
    memset(out, 0, sizeof(*out));
    out->jsonl = px_config_string(cfg, "alerts.jsonl");
    out->kafka_topic = px_config_string(cfg, "alerts.kafka_topic");
    if (out->kafka_topic && !out->kafka_topic[0])
        out->kafka_topic = NULL;
    out->syslog = px_config_string(cfg, "alerts.syslog");
    const char *fmt = px_config_string(cfg, "alerts.syslog_format");
    out->syslog_body = fmt && strcmp(fmt, "cef") == 0 ? PX_ALERT_SYSLOG_CEF : PX_ALERT_SYSLOG_JSON;
}
