/* test_ratelimit.c: the log-line rate limiter, on a clock the test sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/px_ratelimit.h"

static void test_burst_then_held_then_reported(void **state)
{
    (void)state;
    px_ratelimit r;
    px_ratelimit_init(&r, 3, 1000);
    uint64_t held = 99;
    /* three lines in the first second, the next seven held back */
    for (int i = 0; i < 3; i++) {
        assert_true(px_ratelimit_allow(&r, 5000 + i, &held));
        assert_int_equal(held, 0);
    }
    for (int i = 0; i < 7; i++)
        assert_false(px_ratelimit_allow(&r, 5100 + i, &held));
    /* still the same interval */
    assert_false(px_ratelimit_allow(&r, 5999, &held));
    /* the next interval's first line says how many were held */
    assert_true(px_ratelimit_allow(&r, 6000, &held));
    assert_int_equal(held, 8);
    assert_true(px_ratelimit_allow(&r, 6001, &held));
    assert_int_equal(held, 0);
}

static void test_clock_backwards_and_zero_burst(void **state)
{
    (void)state;
    px_ratelimit r;
    px_ratelimit_init(&r, 0, 0); /* taken as 1 per 1 ms */
    uint64_t held;
    assert_true(px_ratelimit_allow(&r, 100, &held));
    assert_false(px_ratelimit_allow(&r, 100, NULL));
    /* a clock that went back starts over instead of refusing for ever */
    assert_true(px_ratelimit_allow(&r, 50, &held));
    assert_int_equal(held, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_held_then_reported),
        cmocka_unit_test(test_clock_backwards_and_zero_burst),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
