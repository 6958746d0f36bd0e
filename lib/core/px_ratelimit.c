#include "core/px_ratelimit.h"

void px_ratelimit_init(px_ratelimit *r, unsigned burst, int64_t interval_ms)
{
    *r = (px_ratelimit){.interval_ms = interval_ms > 0 ? interval_ms : 1,
                        .burst = burst ? burst : 1};
}

bool px_ratelimit_allow(px_ratelimit *r, int64_t now_ms, uint64_t *held)
{
    if (held)
        *held = 0;
    /* A clock that went backwards starts a new interval too. */
    if (!r->started || now_ms - r->start_ms >= r->interval_ms || now_ms < r->start_ms) {
        r->started = true;
        r->start_ms = now_ms;
        r->used = 0;
    }
    if (r->used >= r->burst) {
        r->held++;
        return false;
    }
    r->used++;
    if (held)
        *held = r->held;
    r->held = 0;
    return true;
}
