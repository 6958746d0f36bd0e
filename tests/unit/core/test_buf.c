/* test_buf.c: px_buf (growth, compaction, max, zero sizes, failed
 * allocations) and px_array_reserve. Allocations fail on demand: this test
 * links with -Wl,--wrap=realloc, so the library's realloc calls come here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/px_buf.h"

void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);

static int fail_after = -1; /* reallocs left before one fails; -1: never */
static unsigned n_reallocs;

void *__wrap_realloc(void *p, size_t n)
{
    n_reallocs++;
    if (fail_after == 0)
        return NULL;
    if (fail_after > 0)
        fail_after--;
    return __real_realloc(p, n);
}

static int reset(void **state)
{
    (void)state;
    fail_after = -1;
    n_reallocs = 0;
    return 0;
}

static void fill(uint8_t *p, size_t n, uint8_t from)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(from + i);
}

static void test_growth_doubles_from_min(void **state)
{
    (void)state;
    px_buf b = {0};
    assert_int_equal(px_buf_reserve(&b, 1), PX_OK);
    assert_int_equal(b.cap, PX_BUF_MIN);
    uint8_t chunk[100];
    fill(chunk, sizeof(chunk), 0);
    for (int i = 0; i < 30; i++)
        assert_int_equal(px_buf_append(&b, chunk, sizeof(chunk)), PX_OK);
    assert_int_equal(px_buf_size(&b), 3000);
    assert_int_equal(b.cap, 4096); /* 256, 512, 1024, 2048, 4096 */
    assert_int_equal(n_reallocs, 5);
    for (size_t i = 0; i < 3000; i++)
        assert_int_equal(px_buf_data(&b)[i], (uint8_t)(i % 100));
    /* one big reserve doubles as often as it needs to */
    assert_int_equal(px_buf_reserve(&b, 20000), PX_OK);
    assert_int_equal(b.cap, 32768);
    assert_true(b.cap - b.len >= 20000);
    px_buf_free(&b);
    assert_null(b.p);
    assert_int_equal(b.cap, 0);
    px_buf_free(&b); /* twice is fine */
}

static void test_consume_then_compact_instead_of_growing(void **state)
{
    (void)state;
    px_buf b = {0};
    uint8_t data[256];
    fill(data, sizeof(data), 7);
    assert_int_equal(px_buf_append(&b, data, 200), PX_OK);
    px_buf_consume(&b, 150);
    assert_int_equal(px_buf_size(&b), 50);
    assert_int_equal(px_buf_data(&b)[0], (uint8_t)(7 + 150));
    unsigned before = n_reallocs;
    /* 50 unread + 150 new fit in 256 once the unread bytes move down */
    assert_int_equal(px_buf_append(&b, data, 150), PX_OK);
    assert_int_equal(n_reallocs, before);
    assert_int_equal(b.cap, PX_BUF_MIN);
    assert_int_equal(b.off, 0);
    assert_int_equal(px_buf_size(&b), 200);
    assert_memory_equal(px_buf_data(&b), data + 150, 50);
    assert_memory_equal(px_buf_data(&b) + 50, data, 150);
    /* consuming everything rewinds without a copy */
    px_buf_consume(&b, 1000);
    assert_int_equal(b.off, 0);
    assert_int_equal(b.len, 0);
    /* explicit compaction keeps the content */
    assert_int_equal(px_buf_append(&b, data, 10), PX_OK);
    px_buf_consume(&b, 4);
    px_buf_compact(&b);
    assert_int_equal(b.off, 0);
    assert_memory_equal(b.p, data + 4, 6);
    /* clear keeps the memory */
    uint8_t *p = b.p;
    px_buf_clear(&b);
    assert_int_equal(px_buf_size(&b), 0);
    assert_ptr_equal(b.p, p);
    assert_int_equal(b.cap, PX_BUF_MIN);
    px_buf_free(&b);
}

static void test_max_bounds_capacity(void **state)
{
    (void)state;
    px_buf b = {.max = 1000};
    uint8_t data[600];
    fill(data, sizeof(data), 1);
    assert_int_equal(px_buf_append(&b, data, 600), PX_OK);
    assert_int_equal(b.cap, 1000); /* 1024 would pass max: cut to it */
    assert_int_equal(px_buf_append(&b, data, 400), PX_OK);
    assert_int_equal(px_buf_size(&b), 1000);
    unsigned before = n_reallocs;
    assert_int_equal(px_buf_append(&b, data, 1), PX_ERR_FULL);
    assert_int_equal(n_reallocs, before);
    assert_int_equal(px_buf_size(&b), 1000);
    assert_memory_equal(px_buf_data(&b), data, 600);
    /* consumed bytes make room again, within max */
    px_buf_consume(&b, 10);
    assert_int_equal(px_buf_append(&b, data, 10), PX_OK);
    assert_int_equal(b.cap, 1000);
    assert_int_equal(px_buf_reserve(&b, SIZE_MAX), PX_ERR_FULL);
    px_buf_free(&b);
    assert_int_equal(b.max, 1000);
    /* without max, a size that overflows is refused too */
    px_buf u = {0};
    assert_int_equal(px_buf_append(&u, data, 1), PX_OK);
    assert_int_equal(px_buf_reserve(&u, SIZE_MAX), PX_ERR_FULL);
    assert_int_equal(px_buf_reserve(&u, SIZE_MAX / 2 + 2), PX_ERR_FULL);
    px_buf_free(&u);
}

static void test_zero_sizes(void **state)
{
    (void)state;
    px_buf b = {0};
    assert_int_equal(px_buf_reserve(&b, 0), PX_OK);
    assert_int_equal(px_buf_append(&b, NULL, 0), PX_OK);
    assert_null(b.p);
    assert_int_equal(n_reallocs, 0);
    px_buf_consume(&b, 0);
    px_buf_consume(&b, 5);
    px_buf_compact(&b);
    assert_int_equal(px_buf_size(&b), 0);
    px_buf_free(&b);

    int *v = NULL;
    size_t cap = 0;
    assert_int_equal(PX_ARRAY_RESERVE(v, cap, 0, 8), PX_OK);
    assert_null(v);
    assert_int_equal(cap, 0);
    assert_int_equal(PX_ARRAY_RESERVE(v, cap, 1, 0), PX_OK);
    assert_int_equal(cap, 1);
    free(v);
}

static void test_no_memory_keeps_content(void **state)
{
    (void)state;
    px_buf b = {0};
    uint8_t data[300];
    fill(data, sizeof(data), 3);
    fail_after = 0;
    assert_int_equal(px_buf_append(&b, data, 10), PX_ERR_NOMEM);
    assert_null(b.p);
    assert_int_equal(b.cap, 0);
    assert_int_equal(px_buf_size(&b), 0);
    fail_after = -1;
    assert_int_equal(px_buf_append(&b, data, 200), PX_OK);
    px_buf_consume(&b, 20);
    fail_after = 0;
    assert_int_equal(px_buf_append(&b, data, 300), PX_ERR_NOMEM);
    assert_int_equal(b.cap, PX_BUF_MIN);
    assert_int_equal(px_buf_size(&b), 180);
    assert_memory_equal(px_buf_data(&b), data + 20, 180);
    fail_after = -1;
    assert_int_equal(px_buf_append(&b, data, 300), PX_OK);
    assert_int_equal(px_buf_size(&b), 480);
    px_buf_free(&b);

    long *v = NULL;
    size_t cap = 0;
    assert_int_equal(PX_ARRAY_RESERVE(v, cap, 3, 4), PX_OK);
    assert_int_equal(cap, 4);
    v[3] = 42;
    fail_after = 0;
    assert_int_equal(PX_ARRAY_RESERVE(v, cap, 5, 4), PX_ERR_NOMEM);
    assert_int_equal(cap, 4);
    assert_int_equal(v[3], 42);
    fail_after = -1;
    free(v);
}

static void test_array_reserve_grows_by_doubling(void **state)
{
    (void)state;
    uint32_t *v = NULL;
    size_t cap = 0;
    for (size_t n = 0; n < 1000; n++) {
        assert_int_equal(PX_ARRAY_RESERVE(v, cap, n + 1, 16), PX_OK);
        assert_true(cap >= n + 1);
        v[n] = (uint32_t)n;
    }
    assert_int_equal(cap, 1024);
    assert_int_equal(n_reallocs, 7); /* 16 .. 1024 */
    for (size_t n = 0; n < 1000; n++)
        assert_int_equal(v[n], n);
    /* a jump goes straight to the doubling that holds it */
    assert_int_equal(PX_ARRAY_RESERVE(v, cap, 5000, 16), PX_OK);
    assert_int_equal(cap, 8192);
    /* sizes that overflow are refused, and nothing changes */
    void *arr = v;
    assert_int_equal(px_array_reserve(&arr, &cap, SIZE_MAX, 1, 1), PX_ERR_NOMEM);
    assert_int_equal(px_array_reserve(&arr, &cap, SIZE_MAX / 4 + 1, 8, 1), PX_ERR_NOMEM);
    assert_ptr_equal(arr, v);
    assert_int_equal(cap, 8192);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_growth_doubles_from_min, reset),
        cmocka_unit_test_setup(test_consume_then_compact_instead_of_growing, reset),
        cmocka_unit_test_setup(test_max_bounds_capacity, reset),
        cmocka_unit_test_setup(test_zero_sizes, reset),
        cmocka_unit_test_setup(test_no_memory_keeps_content, reset),
        cmocka_unit_test_setup(test_array_reserve_grows_by_doubling, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
