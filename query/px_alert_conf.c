/* px_alert_conf.c: the alerts.* settings (px_alert_conf_items) and their
 * checks, so that --check names the file and line of a bad one. */
#include "query/px_alert_conf.h"

#include <stdio.h>
#include <string.h>

#include "core/px_net.h"

px_err px_alert_syslog_url_parse(const char *text, px_alert_syslog_url *out, char *why,
                                 size_t whylen)
{
    memset(out, 0, sizeof(*out));
    if (strncmp(text, "udp://", 6) == 0) {
        out->tcp = false;
    } else if (strncmp(text, "tcp://", 6) == 0) {
        out->tcp = true;
    } else {
        return px_errf(why, whylen, PX_ERR_INVAL, "expected udp://host:port or tcp://host:port");
    }
    if (px_hostport_split(text + 6, out->host, sizeof(out->host), &out->port, PX_HOSTPORT_NAME) !=
            PX_OK ||
        out->port == 0)
        return px_errf(why, whylen, PX_ERR_INVAL,
                       "expected %s://host:port (an IPv6 address in brackets, a port from 1 to "
                       "65535)",
                       out->tcp ? "tcp" : "udp");
    return PX_OK;
}

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
