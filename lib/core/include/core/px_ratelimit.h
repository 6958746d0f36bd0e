/* px_ratelimit.h: a bound on how often something happens, for log lines
 * an attacker or an outage could otherwise repeat without end (a flood of
 * bad connections, every dropped message). Counters count every event;
 * the log says it at most `burst` times per interval, and the next line it
 * allows carries how many were held back.
 *
 * A value type, no allocation. Not thread-safe: the caller locks. The
 * clock is passed in (milliseconds of any monotonic clock) so tests are
 * deterministic. */
#ifndef PX_RATELIMIT_H
#define PX_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct px_ratelimit {
    int64_t interval_ms; /* length of one interval */
    unsigned burst;      /* events allowed per interval */
    int64_t start_ms;    /* start of the current interval */
    unsigned used;       /* events allowed in it */
    uint64_t held;       /* events refused since the last one allowed */
    bool started;
} px_ratelimit;

/* burst events per interval_ms (burst 0 is taken as 1). */
void px_ratelimit_init(px_ratelimit *r, unsigned burst, int64_t interval_ms);

/* True when the event at now_ms may be logged; *held (may be NULL) is then
 * the number of events refused since the last allowed one (0 otherwise). */
bool px_ratelimit_allow(px_ratelimit *r, int64_t now_ms, uint64_t *held);

#endif
