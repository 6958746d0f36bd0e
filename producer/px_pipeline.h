/* px_pipeline.h: what happens to each DNS response an input delivers:
 * parse -> privacy filter -> aggregation window; and to each window
 * record: Avro encoding -> keyed message for the publisher.
 *
 * Inputs run in threads of their own and share one pipeline, so
 * px_pipeline_event() takes the pipeline's lock. Client addresses are
 * turned into a keyed hash (SipHash-2-4, random key in memory only) as
 * soon as the event arrives; the address itself goes no further. */
#ifndef PX_PIPELINE_H
#define PX_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"
#include "px_filter.h"
#include "px_input.h"
#include "px_window.h"

/* Receives each encoded message: key = registered domain of rrname,
 * value = Avro single-object encoding. Called with the pipeline locked. */
typedef px_err (*px_pipeline_out_fn)(void *ctx, const char *key, size_t key_len,
                                     const uint8_t *value, size_t value_len);

typedef struct px_pipeline_conf {
    const char *org;    /* copied */
    const char *sensor; /* copied */
    px_filter_conf filter;
    px_window_conf window;
    px_pipeline_out_fn out;
    void *out_ctx;
    /* Key of the client hash (16 bytes); NULL draws a random one. Tests
     * pass a fixed key to be deterministic. */
    const uint8_t *client_key;
} px_pipeline_conf;

typedef struct px_pipeline_stats {
    uint64_t events;                       /* responses received */
    uint64_t malformed;                    /* responses whose header/question did not parse */
    uint64_t malformed_rrs;                /* records skipped for bad rdata or lost framing */
    uint64_t dropped_msgs[PX_DROP__COUNT]; /* whole responses dropped, by reason */
    uint64_t dropped_rrs[PX_DROP__COUNT];  /* records dropped, by reason */
    uint64_t recorded;                     /* records that entered the window */
    uint64_t published;                    /* observations handed to the output */
    uint64_t output_errors;                /* observations the output refused or could not encode */
    int64_t last_event_time;               /* newest event time seen, 0 if none */
    /* The window: its counters (px_window_stats: flushes, early flushes,
     * observations min_clients withheld) and, now, the keys it holds, the
     * keys counted in the open window and the memory it holds. */
    px_window_stats window;
    uint64_t window_keys, window_entries, window_bytes;
} px_pipeline_stats;

typedef struct px_pipeline px_pipeline;

/* NULL on failure, *err says why. */
px_pipeline *px_pipeline_create(const px_pipeline_conf *conf, px_err *err);
void px_pipeline_destroy(px_pipeline *p); /* does not flush; NULL is fine */

/* The px_event_fn inputs call (ctx = the pipeline). Thread-safe. The
 * event is copied (the caller may reuse its memory at once) and processed
 * with the next few in a batch: what it adds to the window, and the flush
 * it may cause, happen by the time px_pipeline_tick(), _flush() or
 * _get_stats() returns (the daemon calls _get_stats() every 100 ms), in
 * arrival order, with the same results as one event at a time. */
void px_pipeline_event(void *pipeline, const px_dns_event *ev);

/* Flushes the open window if event time `now` has passed its end. For
 * live inputs that go quiet: the daemon calls it with the event time the
 * stream would have reached (last event time + wall time since). */
void px_pipeline_tick(px_pipeline *p, int64_t now);
/* Flushes the open window now (end of input, shutdown). */
void px_pipeline_flush(px_pipeline *p);

void px_pipeline_get_stats(px_pipeline *p, px_pipeline_stats *out);

#endif
