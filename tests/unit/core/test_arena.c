/* test_arena.c: the region allocator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/px_arena.h"

static void test_alignment_and_distinct_blocks(void **state)
{
    (void)state;
    px_arena *a = px_arena_create(256);
    assert_non_null(a);
    unsigned char *blocks[200];
    for (size_t n = 1; n < 200; n++) {
        blocks[n] = px_arena_alloc(a, n);
        assert_non_null(blocks[n]);
        assert_int_equal((uintptr_t)blocks[n] % 8, 0);
        memset(blocks[n], (int)n, n);
    }
    /* No block overlaps another: every fill pattern survived. */
    for (size_t n = 1; n < 200; n++)
        for (size_t i = 0; i < n; i++)
            assert_int_equal(blocks[n][i], n);
    px_arena_destroy(a);
}

static void test_large_block_and_reset(void **state)
{
    (void)state;
    px_arena *a = px_arena_create(1024);
    assert_non_null(a);
    size_t base = px_arena_bytes(a);
    char *small = px_arena_alloc(a, 16);
    char *big = px_arena_alloc(a, 100000); /* larger than a chunk */
    assert_non_null(small);
    assert_non_null(big);
    memset(big, 1, 100000);
    assert_true(px_arena_bytes(a) >= base + 100000);
    /* Space left in the first chunk is still used after a big block. */
    char *after = px_arena_alloc(a, 16);
    assert_ptr_equal(after, small + 16);
    for (int i = 0; i < 100; i++)
        assert_non_null(px_arena_alloc(a, 500));
    px_arena_reset(a);
    assert_int_equal(px_arena_bytes(a), base);
    /* The kept chunk is reused from its start. */
    assert_ptr_equal(px_arena_alloc(a, 16), small);
    px_arena_destroy(a);
}

static void test_strndup(void **state)
{
    (void)state;
    px_arena *a = px_arena_create(0);
    char *s = px_arena_strndup(a, "example.comXYZ", 11);
    assert_string_equal(s, "example.com");
    char *e = px_arena_strndup(a, "", 0);
    assert_string_equal(e, "");
    px_arena_destroy(a);
    px_arena_destroy(NULL);
}

/* Lines a block's first `hot` bytes touch. */
static size_t lines_of(const void *p, size_t hot)
{
    uintptr_t a = (uintptr_t)p;
    return (a + hot - 1) / 64 - a / 64 + 1;
}

/* Blocks placed for the cache touch the fewest lines with their hot
 * bytes, whatever the sizes before them, and stay distinct and usable. */
static void test_alloc_lines(void **state)
{
    (void)state;
    px_arena *a = px_arena_create(4096);
    assert_non_null(a);
    unsigned char *prev = NULL;
    size_t prev_n = 0;
    for (size_t i = 0; i < 2000; i++) {
        size_t hot = 1 + (i * 37) % 150, n = hot + (i * 13) % 90;
        if (i % 7 == 0)
            assert_non_null(px_arena_alloc(a, 1 + i % 60)); /* shifts the offset */
        unsigned char *p = px_arena_alloc_lines(a, n, hot);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 8, 0);
        assert_int_equal(lines_of(p, hot), (hot + 63) / 64);
        memset(p, (int)i, n);
        if (prev)
            assert_int_equal(prev[prev_n - 1], (unsigned char)(i - 1));
        prev = p;
        prev_n = n;
    }
    /* Larger than a chunk still works. */
    unsigned char *big = px_arena_alloc_lines(a, 10000, 100);
    assert_non_null(big);
    assert_int_equal(lines_of(big, 100), 2);
    memset(big, 1, 10000);
    px_arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment_and_distinct_blocks),
        cmocka_unit_test(test_large_block_and_reset),
        cmocka_unit_test(test_strndup),
        cmocka_unit_test(test_alloc_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
