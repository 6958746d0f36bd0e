/* run_stats.h: what one consumer run did, as an operator reads it on
 * /metrics: the difference of the process's counters across the run (one
 * consumer runs at a time in these tests). */
#ifndef RUN_STATS_H
#define RUN_STATS_H

#include <stdint.h>

#include "metrics_read.h"

typedef struct run_stats {
    uint64_t messages;      /* pdnsx_consumer_messages_total */
    uint64_t merged;        /* pdnsx_consumer_merged_total */
    uint64_t dlq;           /* pdnsx_consumer_dlq_total, every reason */
    uint64_t batches;       /* pdnsx_consumer_batches_total */
    uint64_t aborted;       /* pdnsx_consumer_batches_aborted_total */
    uint64_t dlq_truncated; /* pdnsx_consumer_dlq_truncated_total */
    uint64_t dlq_skipped;   /* pdnsx_consumer_dlq_skipped_total */
} run_stats;

static inline run_stats run_stats_now(void)
{
    return (run_stats){.messages = pxt_metric("pdnsx_consumer_messages_total"),
                       .merged = pxt_metric("pdnsx_consumer_merged_total"),
                       .dlq = pxt_metric_sum("pdnsx_consumer_dlq_total"),
                       .batches = pxt_metric("pdnsx_consumer_batches_total"),
                       .aborted = pxt_metric("pdnsx_consumer_batches_aborted_total"),
                       .dlq_truncated = pxt_metric("pdnsx_consumer_dlq_truncated_total"),
                       .dlq_skipped = pxt_metric("pdnsx_consumer_dlq_skipped_total")};
}

/* The counts since `before` (run_stats_now() taken before the run). */
static inline run_stats run_stats_since(const run_stats *before)
{
    run_stats n = run_stats_now();
    n.messages -= before->messages;
    n.merged -= before->merged;
    n.dlq -= before->dlq;
    n.batches -= before->batches;
    n.aborted -= before->aborted;
    n.dlq_truncated -= before->dlq_truncated;
    n.dlq_skipped -= before->dlq_skipped;
    return n;
}

#endif
