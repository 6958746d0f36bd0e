/* test_error.c: px_strerror's texts and the "why" writers: px_errf returns
 * the code it is given and writes the message cut to fit, and a NULL or
 * empty buffer is left alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/px_error.h"

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(px_strerror(PX_OK), "success");
    assert_string_equal(px_strerror(PX_ERR_DAMAGED), "stored data is damaged");
    for (int e = 0; e < PX_ERR__COUNT; e++)
        assert_string_not_equal(px_strerror((px_err)e), "unknown error");
    assert_string_equal(px_strerror(PX_ERR__COUNT), "unknown error");
    assert_string_equal(px_strerror((px_err)-1), "unknown error");
}

static void test_errf_returns_the_code(void **state)
{
    (void)state;
    char why[64] = "old";
    assert_int_equal(px_errf(why, sizeof(why), PX_ERR_INVAL, "bad limit '%s': %d", "x", 7),
                     PX_ERR_INVAL);
    assert_string_equal(why, "bad limit 'x': 7");
    assert_int_equal(px_errf(why, sizeof(why), PX_ERR_MALFORMED, "%s", "not JSON"),
                     PX_ERR_MALFORMED);
    assert_string_equal(why, "not JSON");
    /* PX_OK too: the caller chooses; the message is written all the same */
    assert_int_equal(px_errf(why, sizeof(why), PX_OK, "fine"), PX_OK);
    assert_string_equal(why, "fine");
}

static void test_errf_cuts_to_fit(void **state)
{
    (void)state;
    char why[8];
    memset(why, 'z', sizeof(why));
    assert_int_equal(px_errf(why, 5, PX_ERR_TOOLONG, "%s", "0123456789"), PX_ERR_TOOLONG);
    assert_string_equal(why, "0123");
    assert_int_equal(why[5], 'z'); /* nothing written past whylen */
}

static void test_no_buffer(void **state)
{
    (void)state;
    assert_int_equal(px_errf(NULL, 0, PX_ERR_IO, "%s", "lost"), PX_ERR_IO);
    assert_int_equal(px_errf(NULL, 64, PX_ERR_KAFKA, "%s", "lost"), PX_ERR_KAFKA);
    char why[4] = "abc";
    assert_int_equal(px_errf(why, 0, PX_ERR_NOMEM, "%s", "lost"), PX_ERR_NOMEM);
    assert_string_equal(why, "abc");
    px_why(NULL, 16, "%s", "lost");
    px_why(why, 0, "%s", "lost");
    assert_string_equal(why, "abc");
}

static void test_why(void **state)
{
    (void)state;
    char why[32];
    px_why(why, sizeof(why), "line %zu: %s", (size_t)3, "no value");
    assert_string_equal(why, "line 3: no value");
}

/* A helper returning something else than a px_err, as px_obs's rules do. */
static int refuse(int rule, char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int refuse(int rule, char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    px_whyv(why, whylen, fmt, ap);
    va_end(ap);
    return rule;
}

static void test_whyv(void **state)
{
    (void)state;
    char why[32];
    assert_int_equal(refuse(4, why, sizeof(why), "rrtype %s not accepted", "NULL"), 4);
    assert_string_equal(why, "rrtype NULL not accepted");
    assert_int_equal(refuse(5, NULL, 0, "%s", "lost"), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_errf_returns_the_code),
        cmocka_unit_test(test_errf_cuts_to_fit),
        cmocka_unit_test(test_no_buffer),
        cmocka_unit_test(test_why),
        cmocka_unit_test(test_whyv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
