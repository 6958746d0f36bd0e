/* test_dlq: how much of a message a dead-letter copy keeps (px_dlq_fit):
 * whole when it fits; else the value cut first, the key and original
 * headers kept while they take at most half the room, then the headers
 * dropped, and the key cut only if it alone takes over half; a copy
 * never exceeds its budget. The copies themselves go through Kafka in
 * test_consumer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "px_dlq.h"

/* The bytes a copy of shape s takes, as px_dlq_fit counts them. */
static size_t used(const px_dlq_shape *s, size_t hdrs, size_t ours)
{
    return PX_DLQ_FRAMING + ours + s->key + s->value + (s->headers ? hdrs : 0);
}

static void test_whole_when_it_fits(void **state)
{
    (void)state;
    px_dlq_shape s;
    /* exactly at the budget */
    assert_false(px_dlq_fit(11, 1000, 50, 200, 300, PX_DLQ_FRAMING + 200 + 11 + 1000 + 50, &s));
    assert_int_equal(s.key, 11);
    assert_int_equal(s.value, 1000);
    assert_true(s.headers);
    /* one byte over: cut */
    assert_true(px_dlq_fit(11, 1001, 50, 200, 300, PX_DLQ_FRAMING + 200 + 11 + 1000 + 50, &s));
}

static void test_value_cut_first(void **state)
{
    (void)state;
    px_dlq_shape s;
    size_t budget = 1000000;
    assert_true(px_dlq_fit(11, 999902, 0, 150, 250, budget, &s));
    assert_int_equal(s.key, 11);
    assert_true(s.headers);
    assert_int_equal(s.value, budget - PX_DLQ_FRAMING - 250 - 11);
    assert_int_equal(used(&s, 0, 250), budget);
}

static void test_big_key_and_headers_dropped(void **state)
{
    (void)state;
    px_dlq_shape s;
    size_t budget = 10000, room = budget - PX_DLQ_FRAMING - 300;
    /* key and headers over half the room: headers dropped, key cut to a
     * quarter, the value gets the rest */
    assert_true(px_dlq_fit(8000, 50000, 3000, 200, 300, budget, &s));
    assert_false(s.headers);
    assert_int_equal(s.key, room / 4);
    assert_int_equal(s.value, room - room / 4);
    assert_true(used(&s, 3000, 300) <= budget);
    /* headers dropped before a key that fits half the room is cut */
    assert_true(px_dlq_fit(3000, 50000, 3000, 200, 300, budget, &s));
    assert_false(s.headers);
    assert_int_equal(s.key, 3000);
    assert_int_equal(s.value, room - 3000);
    /* a small value is kept whole beside the cut key */
    assert_true(px_dlq_fit(8000, 10, 3000, 200, 300, budget, &s));
    assert_int_equal(s.value, 10);
    assert_int_equal(s.key, room / 4);
}

static void test_never_over_budget(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, 100, 4095, 4096, 70000, 999902, 5000000};
    for (size_t k = 0; k < 8; k++)
        for (size_t v = 0; v < 8; v++)
            for (size_t h = 0; h < 8; h++) {
                px_dlq_shape s;
                size_t budget = PX_DLQ_SMALL_BYTES;
                bool cut = px_dlq_fit(sizes[k], sizes[v], sizes[h], 600, 700, budget, &s);
                assert_true(used(&s, sizes[h], cut ? 700 : 600) <= budget);
                assert_true(s.key <= sizes[k] && s.value <= sizes[v]);
                assert_int_equal(cut, s.key < sizes[k] || s.value < sizes[v] || !s.headers);
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_when_it_fits),
        cmocka_unit_test(test_value_cut_first),
        cmocka_unit_test(test_big_key_and_headers_dropped),
        cmocka_unit_test(test_never_over_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
