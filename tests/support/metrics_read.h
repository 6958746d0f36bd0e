/* metrics_read.h: a metric's value as an operator reads it, from the
 * exposition text px_metrics_write() writes (what /metrics serves and
 * Prometheus scrapes), so that tests assert what the programs expose. */
#ifndef PXT_METRICS_READ_H
#define PXT_METRICS_READ_H

#include <stdint.h>

/* The value of the series `name`, labels included as written
 * ("pdnsx_consumer_dlq_total{reason=\"decode\"}"); 0 when there is none
 * (Prometheus reads a counter never incremented as absent). */
uint64_t pxt_metric(const char *name);

/* The sum of every series of the base name `base` (any labels, or none):
 * "pdnsx_consumer_dlq_total" adds up every reason. */
uint64_t pxt_metric_sum(const char *base);

/* The whole exposition, as /metrics serves it; the caller frees it. */
char *pxt_metrics_text(void);

#endif
