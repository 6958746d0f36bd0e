/* test_hash.c: px_hash64 is XXH3-64 (known answers over every length class
 * of its code paths), seeds change it, and px_hash_seed is one random value
 * per process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/px_hash.h"

/* XXH3-64 with seed 0 over a prefix of an xorshift byte stream: the
 * known-answer table LLVM's xxhash unit test uses (one length per XXH3
 * branch: 0, 1-3, 4-8, 9-16, 17-128, 129-240, and the long loop). */
static void test_xxh3_known_answers(void **state)
{
    (void)state;
    static uint8_t a[2243];
    uint64_t x = 1;
    for (size_t i = 0; i < sizeof(a); i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        a[i] = (uint8_t)x;
    }
    static const struct {
        size_t len;
        uint64_t want;
    } v[] = {
        {0, 0x2d06800538d394c2},    {1, 0xd0d496e05c553485},    {2, 0x84d625edb7055eac},
        {3, 0x6ea2d59aca5c3778},    {4, 0xbf65290914e80242},    {5, 0xc01fd099ad4fc8e4},
        {6, 0x9e3ea8187399caa5},    {7, 0x9da8b60540644f5a},    {8, 0xabc1413da6cd0209},
        {9, 0x8bc89400bfed51f6},    {16, 0x7e46916754d7c9b8},   {17, 0xed4be912ba5f836d},
        {32, 0xf59b59b58c304fd1},   {33, 0x9013fb74ca603e0c},   {64, 0xfa5271fcce0db1c3},
        {65, 0x79c42431727f1012},   {96, 0x591ee0ddf9c9ccd1},   {97, 0x8ffc6a3111fe19da},
        {128, 0x06a146ee9a2da378},  {129, 0xbc7138129bf065da},  {403, 0xcefeb3ffa532ad8c},
        {512, 0xcdfa6b6268e3650f},  {513, 0x4bb5d42742f9765f},  {2048, 0x330ce110cbb79eae},
        {2049, 0x3ba6afa0249fef9a}, {2240, 0xd61d4d2a94e926a8}, {2243, 0x0979f786a24edde7},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        assert_int_equal(px_hash64(a, v[i].len, 0), v[i].want);
    assert_int_equal(px_hash64(NULL, 0, 0), 0x2d06800538d394c2);
}

static void test_seed_changes_every_length(void **state)
{
    (void)state;
    uint8_t a[300];
    for (size_t i = 0; i < sizeof(a); i++)
        a[i] = (uint8_t)(i * 7 + 1);
    for (size_t len = 0; len <= sizeof(a); len++) {
        uint64_t h0 = px_hash64(a, len, 0);
        assert_int_equal(px_hash64(a, len, 0), h0);
        assert_int_not_equal(px_hash64(a, len, 1), h0);
        assert_int_not_equal(px_hash64(a, len, 0x9e3779b97f4a7c15ull), h0);
    }
}

static uint64_t seed_of_child(void)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint64_t s = px_hash_seed();
        _exit(write(fd[1], &s, sizeof(s)) == (ssize_t)sizeof(s) ? 0 : 1);
    }
    uint64_t s = 0;
    assert_int_equal(read(fd[0], &s, sizeof(s)), sizeof(s));
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fd[0]);
    close(fd[1]);
    return s;
}

/* Drawn in each process (two children that never asked before), then the
 * same on every call in a process. */
static void test_seed_once_per_process(void **state)
{
    (void)state;
    uint64_t a = seed_of_child(), b = seed_of_child();
    assert_int_not_equal(a, b);
    uint64_t s = px_hash_seed();
    for (int i = 0; i < 100; i++)
        assert_int_equal(px_hash_seed(), s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xxh3_known_answers),
        cmocka_unit_test(test_seed_changes_every_length),
        cmocka_unit_test(test_seed_once_per_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
