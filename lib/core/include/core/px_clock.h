/* px_clock.h: the clocks of pdnsx, in one place.
 *
 * Monotonic milliseconds measure intervals (deadlines, rate limits, flush
 * timers); they never go backwards and mean nothing across processes. Wall
 * seconds stamp data (first/last seen). Code that needs the wall time takes
 * a px_clock from its caller, so tests can set the time. */
#ifndef PX_CLOCK_H
#define PX_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t px_clock_mono_ms(void);

/* Milliseconds of CLOCK_MONOTONIC_COARSE: cheaper, a few ms behind, for
 * reads once per message. Compare only with other coarse reads: it may be
 * earlier than a px_clock_mono_ms() taken before it. */
int64_t px_clock_mono_coarse_ms(void);

/* Seconds since the epoch (CLOCK_REALTIME). */
int64_t px_clock_wall_s(void);

/* A wall clock passed in: wall_s(ctx) gives the seconds since the epoch.
 * Borrowed; ctx belongs to the caller. */
typedef struct px_clock {
    int64_t (*wall_s)(void *ctx);
    void *ctx;
} px_clock;

/* c->wall_s(c->ctx); px_clock_wall_s() when c or c->wall_s is NULL. */
int64_t px_clock_now_s(const px_clock *c);

#endif
