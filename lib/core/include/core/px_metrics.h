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

/* The full name it was registered with, labels included. */
const char *px_metric_name(const px_metric *m);

void px_metric_add(px_metric *m, uint64_t n);
static inline void px_metric_inc(px_metric *m)
{
    px_metric_add(m, 1);
}
void px_metric_set(px_metric *m, int64_t v); /* gauges */

/* Declares the family `base` (a name without labels) of labelled metrics
 * created later, so that its HELP and TYPE lines are written before its
 * first sample exists: a scraper (a dashboard, its check) finds every
 * metric a program exports from the start. The base name itself is no
 * series. Thread-safe; help as for px_metric_counter(). */
void px_metric_counter_family(const char *base, const char *help);
void px_metric_gauge_family(const char *base, const char *help);
/* Leaves a gauge's sample out of the exposition until the next
 * px_metric_set(): a value not known now (a partition's lag before its
 * end is known, a partition no longer ours) is absent, not a stale number. */
void px_metric_unset(px_metric *m);

/* fn(ctx) runs at the start of every px_metrics_write(), on the writing
 * (scraping) thread, to set gauges only worth computing when asked for.
 * It must not register hooks. At most PX_METRICS_HOOKS; PX_ERR_FULL past
 * that. px_metrics_hook_remove() returns once no call of it runs, so ctx
 * may be freed after it. */
#define PX_METRICS_HOOKS 4
px_err px_metrics_hook_add(void (*fn)(void *ctx), void *ctx);
void px_metrics_hook_remove(void (*fn)(void *ctx), void *ctx);

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
