/* test_wire.c: the varint readers of core/px_wire.h (protobuf's and Avro's
 * rules at their edges: 10 bytes, 11 bytes, bits past 64 or 32), zigzag,
 * and the varint writers of core/px_buf.h read back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "core/px_buf.h"
#include "core/px_wire.h"

typedef struct vcase {
    uint8_t in[12];
    size_t len;
    unsigned max; /* px_wire_varint's max_bytes */
    px_err err;   /* px_wire_varint */
    uint64_t v;
    unsigned bits; /* px_wire_varint_strict's bits; 0: not tried */
    px_err serr;   /* px_wire_varint_strict */
} vcase;

static void test_varint_table(void **state)
{
    (void)state;
    static const vcase cases[] = {
        {{0x00}, 1, 10, PX_OK, 0, 64, PX_OK},
        {{0x01}, 1, 10, PX_OK, 1, 64, PX_OK},
        {{0x7f}, 1, 10, PX_OK, 127, 32, PX_OK},
        {{0x80, 0x01}, 2, 10, PX_OK, 128, 64, PX_OK},
        {{0xac, 0x02}, 2, 10, PX_OK, 300, 64, PX_OK},
        /* padded but in length: both rules take it */
        {{0x80, 0x00}, 2, 10, PX_OK, 0, 64, PX_OK},
        /* UINT64_MAX: ten bytes, the last carrying one bit */
        {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
         10,
         10,
         PX_OK,
         UINT64_MAX,
         64,
         PX_OK},
        /* a tenth byte with more than one bit: protobuf drops them, Avro refuses */
        {{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f},
         10,
         10,
         PX_OK,
         UINT64_C(1) << 63,
         64,
         PX_ERR_MALFORMED},
        {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02},
         10,
         10,
         PX_OK,
         UINT64_MAX >> 1,
         64,
         PX_ERR_MALFORMED},
        /* eleven bytes: too long for either */
        {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
         11,
         10,
         PX_ERR_MALFORMED,
         0,
         64,
         PX_ERR_MALFORMED},
        {{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00},
         11,
         10,
         PX_ERR_MALFORMED,
         0,
         64,
         PX_ERR_MALFORMED},
        /* 32-bit values: five bytes, the last carrying four bits */
        {{0xff, 0xff, 0xff, 0xff, 0x0f}, 5, 5, PX_OK, UINT32_MAX, 32, PX_OK},
        {{0xff, 0xff, 0xff, 0xff, 0x1f}, 5, 5, PX_OK, UINT64_C(0x1ffffffff), 32, PX_ERR_MALFORMED},
        {{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 6, 5, PX_ERR_MALFORMED, 0, 32, PX_ERR_MALFORMED},
        /* a caller's smaller bound */
        {{0x80, 0x01}, 2, 1, PX_ERR_MALFORMED, 0, 0, PX_OK},
        /* cut short */
        {{0}, 0, 10, PX_ERR_TRUNC, 0, 64, PX_ERR_TRUNC},
        {{0x80}, 1, 10, PX_ERR_TRUNC, 0, 64, PX_ERR_TRUNC},
        {{0xff, 0xff, 0xff}, 3, 10, PX_ERR_TRUNC, 0, 32, PX_ERR_TRUNC},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const vcase *c = &cases[i];
        px_wire w;
        px_wire_init(&w, c->in, c->len);
        uint64_t v = px_wire_varint(&w, c->max);
        if (px_wire_err(&w) != c->err || v != c->v)
            fail_msg("case %zu: varint got %s %llu", i, px_strerror(px_wire_err(&w)),
                     (unsigned long long)v);
        if (c->err == PX_OK)
            assert_int_equal(px_wire_avail(&w), 0);
        if (!c->bits)
            continue;
        px_wire_init(&w, c->in, c->len);
        v = px_wire_varint_strict(&w, c->bits);
        if (px_wire_err(&w) != c->serr || (c->serr == PX_OK && v != c->v))
            fail_msg("case %zu: strict got %s %llu", i, px_strerror(px_wire_err(&w)),
                     (unsigned long long)v);
    }
}

static void test_varint_sticky_and_sequence(void **state)
{
    (void)state;
    const uint8_t in[] = {0x05, 0x96, 0x01, 0x80};
    px_wire w;
    px_wire_init(&w, in, sizeof(in));
    assert_int_equal(px_wire_varint(&w, 10), 5);
    assert_int_equal(px_wire_varint(&w, 10), 150);
    assert_int_equal(px_wire_offset(&w), 3);
    assert_int_equal(px_wire_varint(&w, 10), 0);
    assert_int_equal(px_wire_err(&w), PX_ERR_TRUNC);
    /* after the first error every read gives 0 and keeps that error */
    assert_int_equal(px_wire_varint_strict(&w, 64), 0);
    assert_int_equal(px_wire_u8(&w), 0);
    assert_int_equal(px_wire_err(&w), PX_ERR_TRUNC);
}

static void test_zigzag(void **state)
{
    (void)state;
    static const struct {
        int64_t s;
        uint64_t u;
    } z[] = {
        {0, 0},
        {-1, 1},
        {1, 2},
        {-2, 3},
        {2147483647, 4294967294u},
        {-2147483648LL, 4294967295u},
        {INT64_MAX, UINT64_MAX - 1},
        {INT64_MIN, UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof(z) / sizeof(z[0]); i++) {
        assert_int_equal(px_zigzag(z[i].s), z[i].u);
        assert_int_equal(px_unzigzag(z[i].u), z[i].s);
    }
}

static void test_put_reads_back(void **state)
{
    (void)state;
    static const uint64_t u[] = {
        0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX, UINT64_MAX >> 1, UINT64_MAX};
    static const size_t ulen[] = {1, 1, 1, 2, 2, 2, 3, 5, 9, 10};
    static const int64_t s[] = {0, -1, 1, -64, 64, INT64_MAX, INT64_MIN};
    px_buf b = {0};
    for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
        size_t before = px_buf_size(&b);
        assert_int_equal(px_buf_put_varint(&b, u[i]), PX_OK);
        assert_int_equal(px_buf_size(&b) - before, ulen[i]);
    }
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
        assert_int_equal(px_buf_put_zigzag(&b, s[i]), PX_OK);
    px_wire w;
    px_wire_init(&w, px_buf_data(&b), px_buf_size(&b));
    for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
        assert_int_equal(px_wire_varint(&w, 10), u[i]);
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
        assert_int_equal(px_unzigzag(px_wire_varint_strict(&w, 64)), s[i]);
    assert_int_equal(px_wire_err(&w), PX_OK);
    assert_int_equal(px_wire_avail(&w), 0);
    px_buf_clear(&b);
    assert_int_equal(px_buf_put_zigzag(&b, -1), PX_OK);
    assert_int_equal(px_buf_size(&b), 1);
    assert_int_equal(px_buf_data(&b)[0], 0x01);
    px_buf_clear(&b);
    assert_int_equal(px_buf_put_zigzag(&b, INT64_MIN), PX_OK);
    static const uint8_t min[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(px_buf_size(&b), sizeof(min));
    assert_memory_equal(px_buf_data(&b), min, sizeof(min));
    /* a bounded buffer refuses a varint that might not fit */
    px_buf small = {.max = 4};
    assert_int_equal(px_buf_put_varint(&small, 1), PX_ERR_FULL);
    px_buf_free(&small);
    px_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varint_table),
        cmocka_unit_test(test_varint_sticky_and_sequence),
        cmocka_unit_test(test_zigzag),
        cmocka_unit_test(test_put_reads_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
