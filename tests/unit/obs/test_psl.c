/* test_psl.c: registered domains (the Kafka message key), of canonical
 * names through the cache as the producer and the consumer ask for them;
 * oracle() (any spelling, libpsl asked directly, no cache) is what the
 * cache is held to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <string.h>

#include <cmocka.h>
#include <ctype.h>
#include <libpsl.h>

#include "dns/px_dns_name.h"
#include "obs/px_psl.h"

/* The registered domain as the programs ask for it: of the canonical
 * name (px_dns_name_canon: lower case, no trailing dot), through a cache. */
static px_err lookup(px_psl_cache *c, const char *name, char *out, size_t outlen)
{
    char canon[PX_DNS_NAME_TEXT_MAX];
    size_t n, len;
    const char *reg;
    px_err e = px_dns_name_canon(name, strlen(name), canon, sizeof(canon), &n);
    if (e == PX_OK)
        e = px_psl_cache_lookup(c, canon, n, &reg, &len);
    if (e == PX_OK && len >= outlen)
        e = PX_ERR_TOOLONG;
    if (e == PX_OK) {
        memcpy(out, reg, len);
        out[len] = '\0';
    }
    return e;
}

/* True if the dot at name[i] is escaped ("a\.b" is one label). */
static bool dot_escaped(const char *name, size_t i)
{
    size_t bs = 0;
    while (bs < i && name[i - 1 - bs] == '\\')
        bs++;
    return bs % 2 == 1;
}

static px_err put(const char *s, size_t n, char *out, size_t outlen)
{
    if (n >= outlen)
        return PX_ERR_TOOLONG;
    memcpy(out, s, n);
    out[n] = '\0';
    return PX_OK;
}

/* The reference: the registered domain of a name in any spelling
 * (lowercased, one trailing dot dropped), from the same list the library
 * loads (psl_latest), asked of libpsl for every name; a name that is a
 * public suffix or has no registrable part is its own key. */
static px_err oracle(const char *name, char *out, size_t outlen)
{
    static const psl_ctx_t *psl;
    if (!psl && !(psl = psl_latest(NULL)))
        psl = psl_builtin();
    char buf[PX_DNS_NAME_TEXT_MAX];
    size_t n = strlen(name);
    if (n > 1 && name[n - 1] == '.' && !dot_escaped(name, n - 1))
        n--;
    if (n == 0 || (n == 1 && name[0] == '.'))
        return put(".", 1, out, outlen);
    if (n >= sizeof(buf))
        return PX_ERR_TOOLONG;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)tolower((unsigned char)name[i]);
    buf[n] = '\0';
    const char *reg = psl_registrable_domain(psl, buf);
    if (!reg)
        return put(buf, n, out, outlen);
    /* libpsl knows no presentation escapes: back to the whole label */
    size_t start = (size_t)(reg - buf);
    while (start > 0 && buf[start - 1] == '.' && dot_escaped(buf, start - 1)) {
        start--;
        while (start > 0 && !(buf[start - 1] == '.' && !dot_escaped(buf, start - 1)))
            start--;
    }
    return put(buf + start, n - start, out, outlen);
}

static px_psl_cache *cache;

static void check(const char *name, const char *want)
{
    char out[256];
    assert_int_equal(lookup(cache, name, out, sizeof(out)), PX_OK);
    if (strcmp(out, want) != 0)
        fail_msg("%s -> %s, want %s", name, out, want);
}

static int cache_setup(void **state)
{
    (void)state;
    cache = px_psl_cache_create(64);
    return cache ? 0 : -1;
}

static int cache_teardown(void **state)
{
    (void)state;
    px_psl_cache_destroy(cache);
    return 0;
}

static void test_icann(void **state)
{
    (void)state;
    check("www.example.co.uk", "example.co.uk");
    check("example.co.uk", "example.co.uk");
    check("a.b.c.example.com", "example.com");
    check("www.example.com.", "example.com"); /* trailing dot */
    check("WWW.Example.COM", "example.com");
    check("xn--bcher-kva.example", "xn--bcher-kva.example");
}

static void test_private_section(void **state)
{
    (void)state;
    check("foo.blogspot.com", "foo.blogspot.com");
    check("www.foo.blogspot.com", "foo.blogspot.com");
    check("user.github.io", "user.github.io");
}

static void test_suffix_is_its_own_key(void **state)
{
    (void)state;
    check("co.uk", "co.uk");
    check("com", "com");
    check("blogspot.com", "blogspot.com");
    check("localhost", "localhost"); /* not on the list: the name itself */
    check(".", ".");
}

static void test_escaped_dot(void **state)
{
    (void)state;
    /* "a\.b" is one label: the key must not cut through it. */
    check("x.a\\.b.com", "a\\.b.com");
    check("a\\.b.com", "a\\.b.com");
}

static void test_too_small(void **state)
{
    (void)state;
    char out[8];
    assert_int_equal(oracle("www.example.com", out, sizeof(out)), PX_ERR_TOOLONG);
    assert_int_equal(oracle("www.ab.com", out, sizeof(out)), PX_OK);
    assert_string_equal(out, "ab.com");
}

static void *worker(void *arg)
{
    char out[256];
    px_psl_cache *c = px_psl_cache_create(1); /* one per thread: not thread-safe */
    for (int i = 0; c && i < 200; i++) {
        if (lookup(c, i % 2 ? "www.example.co.uk" : "WWW.Example.CO.UK.", out, sizeof(out)) !=
                PX_OK ||
            strcmp(out, "example.co.uk") != 0)
            *(int *)arg = 1;
    }
    if (!c)
        *(int *)arg = 1;
    px_psl_cache_destroy(c);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t t[4];
    int bad[4] = {0};
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, &bad[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(bad[i], 0);
    }
}

/* The cache answers exactly what libpsl answers, hit or miss, and a
 * one-slot cache (every other lookup evicts) stays right. */
static void test_cache_agrees(void **state)
{
    (void)state;
    static const char *names[] = {"www.example.co.uk", "foo.blogspot.com", "co.uk", "com",
                                  "a.b.c.example.com", "x.a\\.b.com", "example.org",
                                  "www.example.co.uk", "s3.amazonaws.com", ".",
                                  /* repeats, and a name of the same
                                   * length with another answer */
                                  "foo.blogspot.com", "foo.blogspot.com", "abcd.example.com",
                                  "abcd.example.com", "foo.blogspot.com",
                                  /* wildcard and exception rules (*.ck, !www.ck;
                                   * *.kawasaki.jp, !city.kawasaki.jp), asked after
                                   * their parents are memorised, and suffixes too
                                   * long for the memo */
                                  "a.foo.ck", "foo.ck", "www.ck", "a.www.ck", "b.a.www.ck",
                                  "x.city.kawasaki.jp", "city.kawasaki.jp", "y.z.kawasaki.jp",
                                  "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d."
                                  "e.f.g.h.example.co.uk",
                                  "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d."
                                  "e.f.g.h.foo.blogspot.com"};
    for (size_t slots = 1; slots <= 1024; slots *= 1024) {
        px_psl_cache *c = px_psl_cache_create(slots);
        assert_non_null(c);
        for (int round = 0; round < 3; round++)
            for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                char want[256];
                assert_int_equal(oracle(names[i], want, sizeof(want)), PX_OK);
                const char *reg;
                size_t len;
                assert_int_equal(px_psl_cache_lookup(c, names[i], strlen(names[i]), &reg, &len),
                                 PX_OK);
                assert_int_equal(len, strlen(want));
                assert_memory_equal(reg, want, len);
                /* a suffix of the very name passed in */
                assert_ptr_equal(reg, names[i] + strlen(names[i]) - len);
            }
        px_psl_cache_destroy(c);
    }
    px_psl_cache_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads), /* first: races the one-time init */
        cmocka_unit_test(test_icann),
        cmocka_unit_test(test_private_section),
        cmocka_unit_test(test_suffix_is_its_own_key),
        cmocka_unit_test(test_escaped_dot),
        cmocka_unit_test(test_too_small),
        cmocka_unit_test(test_cache_agrees),
    };
    return cmocka_run_group_tests(tests, cache_setup, cache_teardown);
}
