/* px_metrics.h: process-wide counters and gauges, exposed in Prometheus
 * text format on metrics.listen (/metrics). Counting is a relaxed atomic
 * add, cheap enough for the packet path. */
#ifndef PX_METRICS_H
#define PX_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "core/px_error.h"
#include "core/px_http.h"

typedef struct px_metric px_metric;

/* Returns the metric named `name` (which may carry Prometheus labels:
 * `pdnsx_dropped_total{reason="rcode"}`), creating it on first use. The
 * pointer is valid for the life of the process. help is used for the first
 * registration of a base name. Thread-safe. Never NULL (aborts on no memory
 * at registration, which happens at start-up). */
px_metric *px_metric_counter(const char *name, const char *help);
px_metric *px_metric_gauge(const char *name, const char *help);

void px_metric_add(px_metric *m, uint64_t n);
static inline void px_metric_inc(px_metric *m)
{
    px_metric_add(m, 1);
}
void px_metric_set(px_metric *m, int64_t v); /* gauges */

/* Writes every metric in Prometheus text format (sorted, HELP/TYPE once
 * per base name). */
void px_metrics_write(FILE *out);

typedef struct px_metrics_server px_metrics_server;

typedef struct px_metrics_conf {
    const char *listen;    /* "IPv4:port" or "[IPv6]:port" (metrics.listen) */
    px_http_limits limits; /* http.*; all zero: px_http_limits_default() */
    px_report_fn report;   /* warnings about rejected clients; may be NULL */
    void *report_ctx;
} px_metrics_conf;

/* Serves GET /metrics (one thread: writing the metrics takes
 * microseconds); *out is the caller's, for px_metrics_server_stop().
 * Errors as px_http_server_start(). */
px_err px_metrics_start(const px_metrics_conf *conf, px_metrics_server **out, char *why,
                        size_t whylen);
void px_metrics_server_stop(px_metrics_server *s); /* NULL is fine */
/* The port actually bound (useful with "127.0.0.1:0" in tests). */
uint16_t px_metrics_server_port(const px_metrics_server *s);

#endif
