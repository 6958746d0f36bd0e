/* test_spool.c: the on-disk spool of undeliverable Kafka messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "px_spool.h"

static char *tmp_path(void)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/px_test_spool_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    return path;
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static void append_n(px_spool *s, int from, int n)
{
    for (int i = from; i < from + n; i++) {
        char key[32], val[64];
        int kl = snprintf(key, sizeof(key), "key%d", i);
        int vl = snprintf(val, sizeof(val), "value-%d-%s", i, "xxxxxxxxxxxxxxxx");
        assert_int_equal(px_spool_append(s, key, (size_t)kl, val, (size_t)vl), PX_OK);
    }
}

/* Reads everything back in order and checks it is exactly from..from+n. */
static void drain_expect(px_spool *s, int from, int n)
{
    for (int i = from; i < from + n; i++) {
        const void *k, *v;
        size_t kl, vl;
        assert_int_equal(px_spool_peek(s, &k, &kl, &v, &vl), PX_OK);
        char key[32];
        snprintf(key, sizeof(key), "key%d", i);
        assert_int_equal(kl, strlen(key));
        assert_memory_equal(k, key, kl);
        px_spool_consume(s);
    }
    const void *k, *v;
    size_t kl, vl;
    assert_int_equal(px_spool_peek(s, &k, &kl, &v, &vl), PX_ERR_EOF);
}

static void test_fifo_and_empty_truncates(void **state)
{
    (void)state;
    char *path = tmp_path();
    px_spool *s;
    assert_int_equal(px_spool_open(path, 0, &s), PX_OK);
    append_n(s, 0, 100);
    assert_int_equal(px_spool_pending(s), 100);
    assert_true(file_size(path) > 100 * 16);
    drain_expect(s, 0, 100);
    assert_int_equal(px_spool_pending(s), 0);
    assert_int_equal(file_size(path), 0); /* emptied once all was handed back */
    px_spool_close(s);
    unlink(path);
}

static void test_survives_restart(void **state)
{
    (void)state;
    char *path = tmp_path();
    px_spool *s;
    assert_int_equal(px_spool_open(path, 0, &s), PX_OK);
    append_n(s, 0, 50);
    px_spool_close(s);
    assert_int_equal(px_spool_open(path, 0, &s), PX_OK);
    assert_int_equal(px_spool_pending(s), 50);
    append_n(s, 50, 10);
    drain_expect(s, 0, 60);
    px_spool_close(s);
    unlink(path);
}

static void test_torn_tail_is_cut(void **state)
{
    (void)state;
    char *path = tmp_path();
    px_spool *s;
    assert_int_equal(px_spool_open(path, 0, &s), PX_OK);
    append_n(s, 0, 10);
    px_spool_close(s);
    /* a crash in the middle of the 11th record */
    off_t whole = file_size(path);
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    fwrite("\x31\x53\x58\x50\x04\x00\x00\x00", 1, 8, f);
    fclose(f);
    assert_int_equal(px_spool_open(path, 0, &s), PX_OK);
    assert_int_equal(px_spool_pending(s), 10);
    assert_int_equal(px_spool_corrupt(s), 1);
    assert_int_equal(file_size(path), whole);
    drain_expect(s, 0, 10);
    px_spool_close(s);
    unlink(path);
}

static void test_corrupt_record_is_not_delivered(void **state)
{
    (void)state;
    char *path = tmp_path();
    px_spool *s;
    assert_int_equal(px_spool_open(path, 0, &s), PX_OK);
    append_n(s, 0, 3);
    px_spool_close(s);
    /* flip a byte inside the second record's value */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    long second = 16 + 4 + 24; /* header + "key0" + "value-0-xxxxxxxxxxxxxxxx" */
    fseek(f, second + 16 + 4 + 3, SEEK_SET);
    fputc('#', f);
    fclose(f);
    assert_int_equal(px_spool_open(path, 0, &s), PX_OK);
    /* the scan stops at the damage: only what precedes it is trusted */
    assert_int_equal(px_spool_pending(s), 1);
    assert_true(px_spool_corrupt(s) >= 1);
    drain_expect(s, 0, 1);
    px_spool_close(s);
    unlink(path);
}

static void test_full(void **state)
{
    (void)state;
    char *path = tmp_path();
    px_spool *s;
    assert_int_equal(px_spool_open(path, 200, &s), PX_OK);
    assert_int_equal(px_spool_append(s, "k", 1, "0123456789", 10), PX_OK);
    px_err e = PX_OK;
    int n = 1;
    while ((e = px_spool_append(s, "k", 1, "0123456789", 10)) == PX_OK)
        n++;
    assert_int_equal(e, PX_ERR_FULL);
    assert_int_equal(px_spool_pending(s), n);
    assert_true(file_size(path) <= 200);
    px_spool_close(s);
    px_spool_close(NULL);
    unlink(path);
}

static void test_unwritable_path(void **state)
{
    (void)state;
    px_spool *s = NULL;
    assert_int_equal(px_spool_open("/nonexistent-dir/spool", 0, &s), PX_ERR_IO);
    assert_null(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_and_empty_truncates),
        cmocka_unit_test(test_survives_restart),
        cmocka_unit_test(test_torn_tail_is_cut),
        cmocka_unit_test(test_corrupt_record_is_not_delivered),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_unwritable_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
