/* test_clock.c: the clocks of core/px_clock.h against the system's, and the
 * wall clock a caller passes in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "core/px_clock.h"

static int64_t ms_of(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Each reading lies between two readings of the system clock it names. */
static void test_mono_is_clock_monotonic(void **state)
{
    (void)state;
    for (int i = 0; i < 1000; i++) {
        int64_t before = ms_of(CLOCK_MONOTONIC);
        int64_t t = px_clock_mono_ms();
        int64_t after = ms_of(CLOCK_MONOTONIC);
        assert_true(before <= t);
        assert_true(t <= after);
    }
    int64_t before = ms_of(CLOCK_MONOTONIC);
    int64_t t = px_clock_mono_ms();
    assert_true(before <= t && t <= ms_of(CLOCK_MONOTONIC));
}

static void test_coarse_is_clock_monotonic_coarse(void **state)
{
    (void)state;
    int64_t prev = px_clock_mono_coarse_ms();
    for (int i = 0; i < 1000; i++) {
        int64_t before = ms_of(CLOCK_MONOTONIC_COARSE);
        int64_t t = px_clock_mono_coarse_ms();
        assert_true(before <= t);
        assert_true(t <= ms_of(CLOCK_MONOTONIC_COARSE));
        assert_true(prev <= t);
        prev = t;
    }
}

static void test_wall_is_realtime_seconds(void **state)
{
    (void)state;
    int64_t before = (int64_t)time(NULL);
    int64_t t = px_clock_wall_s();
    int64_t after = (int64_t)time(NULL);
    assert_true(before <= t && t <= after);
    before = (int64_t)time(NULL);
    t = px_clock_now_s(NULL);
    assert_true(before <= t && t <= (int64_t)time(NULL));
    px_clock none = {0};
    t = px_clock_now_s(&none);
    assert_true(before <= t && t <= (int64_t)time(NULL));
}

static int64_t fixed_wall(void *ctx)
{
    return *(const int64_t *)ctx;
}

static void test_passed_in_clock_is_used(void **state)
{
    (void)state;
    int64_t now = 1234567890;
    px_clock c = {.wall_s = fixed_wall, .ctx = &now};
    assert_int_equal(px_clock_now_s(&c), 1234567890);
    now = 42;
    assert_int_equal(px_clock_now_s(&c), 42);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mono_is_clock_monotonic),
        cmocka_unit_test(test_coarse_is_clock_monotonic_coarse),
        cmocka_unit_test(test_wall_is_realtime_seconds),
        cmocka_unit_test(test_passed_in_clock_is_used),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
