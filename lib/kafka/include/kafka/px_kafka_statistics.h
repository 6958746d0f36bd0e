/* px_kafka_statistics.h: librdkafka's statistics (the JSON document it
 * emits every statistics.interval.ms) as the gauges operators watch:
 * the client's queue, each broker's round-trip time and request queues,
 * each fetched partition's prefetch queue. Names and labels are listed
 * in docs/INTERFACE.md ("Metrics"); every series carries the handle's
 * name (librdkafka's "name": client.id and the handle's number), so the
 * several handles of one program stay apart. */
#ifndef PX_KAFKA_STATISTICS_H
#define PX_KAFKA_STATISTICS_H

#include <stddef.h>

#include "core/px_error.h"

/* Largest statistics document read, in bytes: a client with thousands of
 * partitions stays far below it. */
#define PX_KAFKA_STATISTICS_MAX (16u << 20)
/* Most series one handle keeps: the document's brokers and partitions
 * past it are left out (a bound on the registry, which never frees). */
#define PX_KAFKA_STATISTICS_SERIES 4096

/* The gauges one handle's documents set, so that a broker or partition
 * gone from the next document has its series left out (px_metric_unset)
 * instead of showing a stale value. */
typedef struct px_kafka_statistics px_kafka_statistics;

/* NULL on no memory. Also declares the metric families, so that their
 * HELP and TYPE lines are on /metrics before the first document. */
px_kafka_statistics *px_kafka_statistics_create(void);
void px_kafka_statistics_destroy(px_kafka_statistics *s); /* NULL is fine */

/* Sets the gauges from one document (json[0..len), not NUL-terminated).
 * PX_ERR_MALFORMED: not JSON, or not an object (nothing changed);
 * PX_ERR_TOOLONG: past PX_KAFKA_STATISTICS_MAX. Fields missing or of
 * another type leave their series out. Not thread-safe for one s (one
 * handle's documents come from one poll at a time). */
px_err px_kafka_statistics_apply(px_kafka_statistics *s, const char *json, size_t len);

#endif
