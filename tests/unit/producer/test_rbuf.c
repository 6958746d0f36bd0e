/* px_rbuf: the read buffer under the file inputs. Records of many sizes
 * read across buffer refills from a file and from a pipe, growth past the
 * chunk size, end of file and read errors. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "px_rbuf.h"

#define TOTAL 100000

static uint8_t byte_at(size_t i)
{
    return (uint8_t)(i * 31 + (i >> 8));
}

static void fill_pattern(uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = byte_at(i);
}

/* Reads everything in records of varying sizes (some larger than the
 * chunk), checking every byte against the pattern and the offset. */
static void read_all(int fd, size_t chunk)
{
    px_rbuf *b = px_rbuf_create(fd, chunk);
    assert_non_null(b);
    size_t pos = 0, step = 1;
    for (;;) {
        size_t want = step % 97 + 1;
        if (step % 13 == 0)
            want = 3 * chunk + 5; /* must grow */
        step++;
        px_err err = px_rbuf_fill(b, want);
        size_t avail = px_rbuf_avail(b);
        if (err == PX_ERR_EOF) {
            assert_true(avail < want);
            assert_int_equal(pos + avail, TOTAL);
            break;
        }
        assert_int_equal(err, PX_OK);
        assert_true(avail >= want);
        const uint8_t *d = px_rbuf_data(b);
        for (size_t i = 0; i < want; i++)
            if (d[i] != byte_at(pos + i))
                fail_msg("byte %zu: got %u, want %u", pos + i, d[i], byte_at(pos + i));
        px_rbuf_consume(b, want);
        pos += want;
        assert_int_equal(px_rbuf_offset(b), pos);
    }
    /* the tail is still there, and consuming more than is held is capped */
    px_rbuf_consume(b, SIZE_MAX);
    assert_int_equal(px_rbuf_avail(b), 0);
    assert_int_equal(px_rbuf_offset(b), TOTAL);
    assert_int_equal(px_rbuf_fill(b, 1), PX_ERR_EOF);
    px_rbuf_destroy(b);
}

static void test_file(void **state)
{
    (void)state;
    char path[] = "/tmp/px_rbuf_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    uint8_t *buf = malloc(TOTAL);
    assert_non_null(buf);
    fill_pattern(buf, TOTAL);
    assert_int_equal(write(fd, buf, TOTAL), TOTAL);
    free(buf);
    static const size_t chunks[] = {1, 7, 4096, 0};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        read_all(fd, chunks[i]);
    }
    close(fd);
    unlink(path);
}

typedef struct writer {
    int fd;
} writer;

static void *write_pieces(void *arg)
{
    writer *w = arg;
    uint8_t buf[TOTAL];
    fill_pattern(buf, TOTAL);
    for (size_t o = 0; o < TOTAL; o += 333) {
        size_t n = TOTAL - o < 333 ? TOTAL - o : 333;
        if (write(w->fd, buf + o, n) != (ssize_t)n)
            break;
    }
    close(w->fd);
    return NULL;
}

/* A pipe hands out what was written so far: fill() keeps reading. */
static void test_pipe(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    writer w = {p[1]};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, write_pieces, &w), 0);
    read_all(p[0], 64);
    pthread_join(th, NULL);
    close(p[0]);
}

static void test_errors(void **state)
{
    (void)state;
    px_rbuf_destroy(NULL);
    /* a descriptor open for writing only cannot be read */
    char path[] = "/tmp/px_rbuf_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int wfd = open(path, O_WRONLY);
    px_rbuf *b = px_rbuf_create(wfd, 0);
    assert_non_null(b);
    assert_int_equal(px_rbuf_fill(b, 1), PX_ERR_IO);
    assert_int_equal(px_rbuf_avail(b), 0);
    px_rbuf_destroy(b);
    close(wfd);
    /* an empty file ends at once */
    b = px_rbuf_create(fd, 0);
    assert_int_equal(px_rbuf_fill(b, 1), PX_ERR_EOF);
    assert_int_equal(px_rbuf_fill(b, 0), PX_OK);
    px_rbuf_destroy(b);
    close(fd);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_pipe),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
