#include "core/px_clock.h"

#include <time.h>

static int64_t px_clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t px_clock_mono_ms(void)
{
    return px_clock_ms(CLOCK_MONOTONIC);
}

int64_t px_clock_mono_coarse_ms(void)
{
    return px_clock_ms(CLOCK_MONOTONIC_COARSE);
}

int64_t px_clock_wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

int64_t px_clock_now_s(const px_clock *c)
{
    return c && c->wall_s ? c->wall_s(c->ctx) : px_clock_wall_s();
}
