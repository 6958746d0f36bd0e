/* test_window.c: the aggregation window: its keyed API, and the cases
 * stated with text keys through tests/support/producer/window_text.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "px_window.h"
#include "pxt_producer.h"

/* What the emit callback saw, copied out (strings die after the call). */
typedef struct seen {
    char rrname[64], rdata[64], bailiwick[64];
    bool has_bailiwick;
    uint16_t rrtype;
    uint64_t count;
    int64_t time_first, time_last;
    uint32_t ttl_min, ttl_max;
    int64_t clients;
} seen;

typedef struct sink {
    seen *obs;
    size_t n, cap;
    uint64_t total;
} sink;

static void on_emit(void *ctx, const pxt_obs *o)
{
    sink *s = ctx;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->obs = realloc(s->obs, s->cap * sizeof(*s->obs));
        assert_non_null(s->obs);
    }
    seen *x = &s->obs[s->n++];
    memset(x, 0, sizeof(*x));
    /* Every emitted string carries its own length. */
    assert_int_equal(o->rrname_len, strlen(o->rrname));
    assert_int_equal(o->rdata_len, strlen(o->rdata));
    assert_int_equal(o->bailiwick_len, o->bailiwick ? strlen(o->bailiwick) : 0);
    snprintf(x->rrname, sizeof(x->rrname), "%s", o->rrname);
    snprintf(x->rdata, sizeof(x->rdata), "%s", o->rdata);
    x->has_bailiwick = o->bailiwick != NULL;
    if (o->bailiwick)
        snprintf(x->bailiwick, sizeof(x->bailiwick), "%s", o->bailiwick);
    x->rrtype = o->rrtype;
    x->count = o->count;
    x->time_first = o->time_first;
    x->time_last = o->time_last;
    x->ttl_min = o->ttl_min;
    x->ttl_max = o->ttl_max;
    x->clients = o->clients;
    s->total += o->count;
}

static void sink_free(sink *s)
{
    free(s->obs);
    memset(s, 0, sizeof(*s));
}

static pxt_window *make(int64_t seconds, size_t max_entries, uint32_t min_clients, sink *s)
{
    px_window_conf c = {.seconds = seconds, .max_entries = max_entries, .min_clients = min_clients};
    pxt_window *w = pxt_window_create(&c, on_emit, s);
    assert_non_null(w);
    return w;
}

/* Adds an A-like record from C strings. */
static void add(pxt_window *w, const char *name, uint16_t type, const char *rdata, const char *bw,
                uint32_t ttl, int64_t now)
{
    assert_int_equal(pxt_window_add(w, name, strlen(name), type, rdata, strlen(rdata), bw,
                                    bw ? strlen(bw) : 0, ttl, now, 0, false),
                     PX_OK);
}

static void add_client(pxt_window *w, const char *name, int64_t now, uint64_t client)
{
    assert_int_equal(
        pxt_window_add(w, name, strlen(name), 1, "192.0.2.1", 9, NULL, 0, 60, now, client, true),
        PX_OK);
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void test_create_rejects_bad_conf(void **state)
{
    (void)state;
    sink s = {0};
    px_window_conf c = {.seconds = 0, .max_entries = 10, .min_clients = 1};
    assert_null(pxt_window_create(&c, on_emit, &s));
    c.seconds = 60;
    c.max_entries = 0;
    assert_null(pxt_window_create(&c, on_emit, &s));
    c.max_entries = 10;
    assert_null(pxt_window_create(&c, NULL, &s));
    px_window_destroy(NULL);
}

static void test_counts_times_ttls(void **state)
{
    (void)state;
    sink s = {0};
    pxt_window *w = make(60, 1000, 1, &s);
    add(w, "www.example.com", 1, "93.184.216.34", NULL, 300, 1000);
    add(w, "www.example.com", 1, "93.184.216.34", NULL, 100, 1010);
    add(w, "www.example.com", 1, "93.184.216.34", NULL, 200, 1005);
    add(w, "www.example.com", 28, "2606:2800::1", NULL, 50, 1001);
    assert_int_equal(pxt_window_entries(w), 2);
    pxt_window_flush(w);
    assert_int_equal(pxt_window_entries(w), 0);
    assert_int_equal(s.n, 2);
    seen *a = &s.obs[0];
    assert_string_equal(a->rrname, "www.example.com");
    assert_int_equal(a->rrtype, 1);
    assert_string_equal(a->rdata, "93.184.216.34");
    assert_false(a->has_bailiwick);
    assert_int_equal(a->count, 3);
    assert_int_equal(a->time_first, 1000);
    assert_int_equal(a->time_last, 1010);
    assert_int_equal(a->ttl_min, 100);
    assert_int_equal(a->ttl_max, 300);
    assert_int_equal(a->clients, -1); /* no client info */
    assert_int_equal(s.obs[1].count, 1);
    assert_int_equal(s.obs[1].ttl_min, 50);
    assert_int_equal(s.obs[1].ttl_max, 50);
    px_window_stats st;
    pxt_window_get_stats(w, &st);
    assert_int_equal(st.added, 4);
    assert_int_equal(st.emitted, 2);
    assert_int_equal(st.flushes, 1);
    assert_int_equal(st.withheld, 0);
    /* Flushing an empty window emits nothing and is no window. */
    pxt_window_flush(w);
    pxt_window_get_stats(w, &st);
    assert_int_equal(st.flushes, 1);
    pxt_window_destroy(w);
    sink_free(&s);
}

static void test_key_fields(void **state)
{
    (void)state;
    sink s = {0};
    pxt_window *w = make(60, 1000, 1, &s);
    /* Bailiwick is part of the key; NULL (unknown) and "" differ. */
    add(w, "www.example.com", 1, "93.184.216.34", "example.com", 60, 0);
    add(w, "www.example.com", 1, "93.184.216.34", "com", 60, 0);
    add(w, "www.example.com", 1, "93.184.216.34", NULL, 60, 0);
    add(w, "www.example.com", 1, "93.184.216.34", "", 60, 0);
    add(w, "www.example.com", 1, "93.184.216.34", "example.com", 60, 0);
    /* rdata and rrtype are part of it too; the text is the same. */
    add(w, "www.example.com", 1, "93.184.216.35", "example.com", 60, 0);
    add(w, "www.example.com", 16, "93.184.216.34", "example.com", 60, 0);
    /* Strings need not be NUL-terminated. */
    const char buf[] = "www.example.comXXXX93.184.216.34YYexample.comZ";
    assert_int_equal(pxt_window_add(w, buf, 15, 1, buf + 19, 13, buf + 34, 11, 60, 0, 0, false),
                     PX_OK);
    assert_int_equal(pxt_window_entries(w), 6);
    pxt_window_flush(w);
    assert_int_equal(s.n, 6);
    assert_string_equal(s.obs[0].bailiwick, "example.com");
    assert_int_equal(s.obs[0].count, 3);
    assert_string_equal(s.obs[1].bailiwick, "com");
    assert_false(s.obs[2].has_bailiwick);
    assert_true(s.obs[3].has_bailiwick);
    assert_string_equal(s.obs[3].bailiwick, "");
    assert_string_equal(s.obs[4].rdata, "93.184.216.35");
    assert_int_equal(s.obs[5].rrtype, 16);
    assert_int_equal(s.total, 8);
    pxt_window_destroy(w);
    sink_free(&s);
}

static void test_alignment_and_boundary(void **state)
{
    (void)state;
    sink s = {0};
    pxt_window *w = make(60, 1000, 1, &s);
    add(w, "a.example.com", 1, "192.0.2.1", NULL, 60, 125); /* window [120, 180) */
    add(w, "a.example.com", 1, "192.0.2.1", NULL, 60, 179);
    pxt_window_tick(w, 179);
    assert_int_equal(s.n, 0);
    add(w, "a.example.com", 1, "192.0.2.1", NULL, 60, 180); /* flushes [120,180) */
    assert_int_equal(s.n, 1);
    assert_int_equal(s.obs[0].count, 2);
    assert_int_equal(s.obs[0].time_first, 125);
    assert_int_equal(s.obs[0].time_last, 179);
    assert_int_equal(pxt_window_entries(w), 1);
    /* The new window is [180, 240) although its first event came at 180:
     * tick just before the end does nothing, at the end it flushes. */
    pxt_window_tick(w, 239);
    assert_int_equal(s.n, 1);
    pxt_window_tick(w, 240);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.obs[1].time_first, 180);
    /* A gap of several windows: the next window aligns to its own start. */
    add(w, "a.example.com", 1, "192.0.2.1", NULL, 60, 1000); /* [960, 1020) */
    add(w, "a.example.com", 1, "192.0.2.1", NULL, 60, 1019);
    pxt_window_tick(w, 1019);
    assert_int_equal(s.n, 2);
    pxt_window_tick(w, 1020);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.obs[2].count, 2);
    /* Negative times align downwards too: -1 is in [-60, 0). */
    add(w, "a.example.com", 1, "192.0.2.1", NULL, 60, -1);
    pxt_window_tick(w, -60);
    assert_int_equal(s.n, 3);
    pxt_window_tick(w, 0);
    assert_int_equal(s.n, 4);
    px_window_stats st;
    pxt_window_get_stats(w, &st);
    assert_int_equal(st.flushes, 4);
    assert_int_equal(st.early_flushes, 0);
    pxt_window_destroy(w);
    sink_free(&s);
}

static void test_out_of_order(void **state)
{
    (void)state;
    sink s = {0};
    pxt_window *w = make(60, 1000, 1, &s);
    add(w, "a.example.com", 1, "192.0.2.1", NULL, 60, 130); /* [120, 180) */
    add(w, "a.example.com", 1, "192.0.2.1", NULL, 60, 110); /* late: still counted */
    add(w, "a.example.com", 1, "192.0.2.1", NULL, 60, 50);  /* two windows late */
    assert_int_equal(s.n, 0);
    pxt_window_tick(w, 170);
    assert_int_equal(s.n, 0);
    pxt_window_flush(w);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.obs[0].count, 3);
    assert_int_equal(s.obs[0].time_first, 50);
    assert_int_equal(s.obs[0].time_last, 130);
    pxt_window_destroy(w);
    sink_free(&s);
}

static void test_early_flush_loses_nothing(void **state)
{
    (void)state;
    sink s = {0};
    pxt_window *w = make(60, 10, 1, &s);
    char name[64];
    uint64_t added = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof(name), "h%d.example.com", (i * 7) % 37);
        add(w, name, 1, "192.0.2.1", NULL, 60, 1000 + i / 100);
        added++;
        assert_true(pxt_window_entries(w) <= 10);
    }
    pxt_window_flush(w);
    assert_int_equal(s.total, added);
    px_window_stats st;
    pxt_window_get_stats(w, &st);
    assert_int_equal(st.added, added);
    assert_true(st.early_flushes > 0);
    assert_int_equal(st.emitted, s.n);
    /* Early flushes keep the window period: no observation spans past it. */
    for (size_t i = 0; i < s.n; i++)
        assert_true(s.obs[i].time_last < 1020);
    pxt_window_destroy(w);
    sink_free(&s);
}

static void test_many_keys_table_growth(void **state)
{
    (void)state;
    sink s = {0};
    pxt_window *w = make(60, 100000, 1, &s);
    char name[64];
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 20000; i++) {
            snprintf(name, sizeof(name), "host%d.example.com", i);
            add(w, name, 1, "192.0.2.1", "example.com", 60, 5);
        }
    assert_int_equal(pxt_window_entries(w), 20000);
    /* Memory bound: about 200 bytes per key all told. */
    size_t per_key = pxt_window_bytes(w) / 20000;
    if (per_key > 200)
        fail_msg("%zu bytes per key", per_key);
    pxt_window_flush(w);
    assert_int_equal(s.n, 20000);
    for (size_t i = 0; i < s.n; i++) {
        assert_int_equal(s.obs[i].count, 2);
        /* insertion order */
        snprintf(name, sizeof(name), "host%zu.example.com", i);
        assert_string_equal(s.obs[i].rrname, name);
    }
    /* The arena went back to one chunk; the table is kept for reuse. */
    assert_true(pxt_window_bytes(w) < 20000 * 100);
    pxt_window_destroy(w);
    sink_free(&s);
}

static void test_clients_exact_small(void **state)
{
    (void)state;
    sink s = {0};
    pxt_window *w = make(60, 1000, 1, &s);
    /* Clients on distinct bits: exactly n. Repeats do not count. */
    for (uint64_t n = 1; n <= 10; n++) {
        char name[64];
        snprintf(name, sizeof(name), "n%llu.example.com", (unsigned long long)n);
        for (int rep = 0; rep < 3; rep++)
            for (uint64_t c = 0; c < n; c++)
                add_client(w, name, 10, c * 5 + 64 * (uint64_t)rep);
    }
    pxt_window_flush(w);
    assert_int_equal(s.n, 10);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(s.obs[i].clients, (int64_t)i + 1);
    pxt_window_destroy(w);
    sink_free(&s);
}

static void test_clients_random_hashes(void **state)
{
    (void)state;
    sink s = {0};
    pxt_window *w = make(60, 10000, 1, &s);
    uint64_t rng = 42;
    enum { TRIALS = 50 };
    /* 1..10 clients with random hashes. 64 bits cannot keep 10 random
     * clients apart for sure: two may share a bit. Then the estimate is
     * low, never high (a window never claims more clients than asked), and
     * it is within 1 most of the time (about 86% of trials at 10 clients,
     * 99% at 5, by simulation). */
    for (int t = 0; t < TRIALS; t++)
        for (int n = 1; n <= 10; n++) {
            char name[64];
            snprintf(name, sizeof(name), "t%d-n%d.example.com", t, n);
            for (int c = 0; c < n; c++)
                add_client(w, name, 10, splitmix(&rng));
        }
    pxt_window_flush(w);
    assert_int_equal(s.n, TRIALS * 10);
    int within1 = 0, within1_at10 = 0;
    for (size_t i = 0; i < s.n; i++) {
        int64_t want = (int64_t)(i % 10) + 1;
        int64_t got = s.obs[i].clients;
        if (got > want || got < 1)
            fail_msg("%s: %lld clients, want %lld", s.obs[i].rrname, (long long)got,
                     (long long)want);
        within1 += got >= want - 1;
        within1_at10 += want == 10 && got >= want - 1;
    }
    assert_true(within1 >= (int)s.n * 9 / 10);
    assert_true(within1_at10 >= TRIALS * 7 / 10);
    /* A single client is always exact. */
    for (size_t i = 0; i < s.n; i += 10)
        assert_int_equal(s.obs[i].clients, 1);
    sink_free(&s);

    /* 100 clients: roughly right, on average and each time. */
    double sum = 0;
    for (int t = 0; t < TRIALS; t++) {
        char name[64];
        snprintf(name, sizeof(name), "big%d.example.com", t);
        for (int c = 0; c < 100; c++)
            add_client(w, name, 20, splitmix(&rng));
    }
    pxt_window_flush(w);
    assert_int_equal(s.n, TRIALS);
    for (size_t i = 0; i < s.n; i++) {
        assert_true(s.obs[i].clients >= 50 && s.obs[i].clients <= 200);
        sum += (double)s.obs[i].clients;
    }
    double mean = sum / TRIALS;
    if (mean < 85 || mean > 115)
        fail_msg("mean estimate %.1f for 100 clients", mean);
    pxt_window_destroy(w);
    sink_free(&s);
}

static void test_min_clients(void **state)
{
    (void)state;
    sink s = {0};
    pxt_window *w = make(60, 1000, 3, &s);
    for (uint64_t c = 0; c < 3; c++)
        add_client(w, "three.example.com", 10, c);
    for (int rep = 0; rep < 50; rep++) /* busy, but only two clients */
        add_client(w, "two.example.com", 10, (uint64_t)rep % 2);
    /* Two clients whose hashes share a bit look like one: withheld, since
     * the set bits are a lower bound (never share on a guess). */
    add_client(w, "shared-bit.example.com", 10, 7);
    add_client(w, "shared-bit.example.com", 10, 7 + 64);
    add_client(w, "shared-bit.example.com", 10, 8);
    add(w, "noclient.example.com", 1, "192.0.2.1", NULL, 60, 10);
    pxt_window_flush(w);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.obs[0].rrname, "three.example.com");
    assert_int_equal(s.obs[0].clients, 3);
    px_window_stats st;
    pxt_window_get_stats(w, &st);
    assert_int_equal(st.withheld, 3);
    assert_int_equal(st.emitted, 1);
    pxt_window_destroy(w);
    sink_free(&s);

    /* min_clients 1 (and 0, treated as 1) shares everything. */
    for (uint32_t k = 0; k <= 1; k++) {
        w = make(60, 1000, k, &s);
        add_client(w, "one.example.com", 10, 1);
        add(w, "noclient.example.com", 1, "192.0.2.1", NULL, 60, 10);
        pxt_window_flush(w);
        assert_int_equal(s.n, 2);
        assert_int_equal(s.obs[0].clients, 1);
        assert_int_equal(s.obs[1].clients, -1);
        pxt_window_destroy(w);
        sink_free(&s);
    }
}

static void run_replay(sink *s)
{
    pxt_window *w = make(10, 50, 1, s);
    char name[64];
    for (int i = 0; i < 2000; i++) {
        snprintf(name, sizeof(name), "r%d.example.com", (i * 31) % 97);
        add(w, name, 1, "192.0.2.1", NULL, (uint32_t)(i % 7), i / 20);
    }
    pxt_window_flush(w);
    pxt_window_destroy(w);
}

static void test_deterministic_order(void **state)
{
    (void)state;
    sink a = {0}, b = {0};
    run_replay(&a);
    run_replay(&b);
    assert_int_equal(a.n, b.n);
    assert_int_equal(a.total, 2000);
    for (size_t i = 0; i < a.n; i++) {
        assert_string_equal(a.obs[i].rrname, b.obs[i].rrname);
        assert_int_equal(a.obs[i].count, b.obs[i].count);
        assert_int_equal(a.obs[i].time_first, b.obs[i].time_first);
        assert_int_equal(a.obs[i].ttl_min, b.obs[i].ttl_min);
    }
    sink_free(&a);
    sink_free(&b);
}

static void test_too_long(void **state)
{
    (void)state;
    sink s = {0};
    pxt_window *w = make(60, 10, 1, &s);
    static char big[70000];
    memset(big, 'a', sizeof(big));
    assert_int_equal(
        pxt_window_add(w, "x.example.com", 13, 16, big, sizeof(big), NULL, 0, 1, 1, 0, false),
        PX_ERR_TOOLONG);
    assert_int_equal(pxt_window_entries(w), 0);
    pxt_window_destroy(w);
}

/* ---- opaque keys ---- */

typedef struct ksink {
    uint32_t ids[64];
    uint64_t counts[64];
    size_t n;
} ksink;

static void on_entry(void *ctx, px_window_entry *e, const px_window_counts *c)
{
    ksink *s = ctx;
    assert_true(s->n < 64);
    memcpy(&s->ids[s->n], px_window_entry_data(e), sizeof(uint32_t));
    s->counts[s->n++] = c->count;
}

/* Looks key id up, making it (data = the id) if the table lost it. */
static px_window_entry *kget(px_window *w, uint32_t id, bool *made)
{
    px_window_entry *e =
        px_window_lookup_hashed(w, px_window_hash(w, &id, sizeof(id)), &id, sizeof(id));
    *made = e == NULL;
    if (!e) {
        e = px_window_insert(w, &id, sizeof(id), sizeof(id));
        assert_non_null(e);
        memcpy(px_window_entry_data(e), &id, sizeof(id));
    }
    return e;
}

static void kcount(px_window *w, uint32_t id, int64_t now, bool *made)
{
    assert_int_equal(px_window_count(w, kget(w, id, made), 60, now, 0, false), PX_OK);
}

/* Keys outlive their window; keys unused for three windows are evicted
 * once the table is large, and one seen again is made again: the output
 * stays exact. */
static void test_keyed_persist_and_evict(void **state)
{
    (void)state;
    ksink s = {0};
    px_window_conf c = {.seconds = 60, .max_entries = 1000000, .min_clients = 1};
    px_window *w = px_window_create(&c, on_entry, &s);
    assert_non_null(w);
    bool made;
    const uint32_t many = PX_WINDOW_KEEP_MIN + 1000;
    for (uint32_t i = 0; i < many; i++)
        assert_non_null(kget(w, i, &made)); /* looked up, not counted */
    kcount(w, 7, 0, &made);
    assert_false(made);
    kcount(w, 7, 1, &made);
    px_window_tick(w, 60);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.counts[0], 2);
    /* Windows 2, 3 and 4 use key 7 only; 5 brings back key 9. A lookup
     * comes before the count that closes the window, so the lookup at 240
     * is the first after three windows without the other keys. */
    for (int win = 1; win <= 3; win++) {
        kcount(w, 7, win * 60, &made);
        assert_false(made);
        assert_int_equal(px_window_keys(w), many);
    }
    kcount(w, 9, 4 * 60, &made);
    assert_true(made);
    assert_true(px_window_keys(w) <= 2);
    kcount(w, 7, 4 * 60 + 1, &made);
    assert_false(made);
    kcount(w, 9, 4 * 60 + 2, &made);
    px_window_flush(w);
    assert_int_equal(s.n, 6);
    assert_int_equal(s.ids[4], 9); /* first-use order */
    assert_int_equal(s.counts[4], 2);
    assert_int_equal(s.ids[5], 7);
    assert_int_equal(s.counts[5], 1);
    px_window_destroy(w);
}

/* The tag is the caller's byte beside the key: 0 when made, kept by a
 * lookup and by the clean-up that moves the entries. */
static void test_keyed_tag(void **state)
{
    (void)state;
    ksink s = {0};
    px_window_conf c = {.seconds = 60, .max_entries = 1000000, .min_clients = 1};
    px_window *w = px_window_create(&c, on_entry, &s);
    assert_non_null(w);
    bool made;
    const uint32_t many = PX_WINDOW_KEEP_MIN + 1000;
    for (uint32_t i = 0; i < many; i++) {
        px_window_entry *e = kget(w, i, &made);
        assert_int_equal(px_window_entry_tag(e), 0);
        px_window_entry_set_tag(e, (uint8_t)(i * 7 + 1));
    }
    kcount(w, 5, 0, &made);
    kcount(w, 6, 0, &made);
    for (int win = 1; win <= 3; win++) {
        kcount(w, 5, win * 60, &made);
        kcount(w, 6, win * 60, &made);
    }
    /* this lookup evicts every other key and moves 5 and 6 */
    kcount(w, 9, 4 * 60, &made);
    assert_true(made);
    assert_int_equal(px_window_keys(w), 3);
    assert_int_equal(px_window_entry_tag(kget(w, 5, &made)), 5 * 7 + 1);
    assert_false(made);
    assert_int_equal(px_window_entry_tag(kget(w, 6, &made)), 6 * 7 + 1);
    assert_int_equal(px_window_entry_tag(kget(w, 9, &made)), 0);
    px_window_flush(w);
    px_window_destroy(w);
}

/* At the hard bound every key not counted in the open window goes, in the
 * middle of a window: the window's keys keep their counts and order. */
static void test_keyed_hard_bound(void **state)
{
    (void)state;
    ksink s = {0};
    px_window_conf c = {.seconds = 60, .max_entries = 4, .min_clients = 1};
    px_window *w = px_window_create(&c, on_entry, &s);
    assert_non_null(w);
    bool made;
    const uint32_t ids[3] = {3000000, 1000000, 2000000};
    for (int i = 0; i < 3; i++)
        kcount(w, ids[i], 5, &made);
    uint32_t bound = 2 * 4 + PX_WINDOW_KEEP_MIN;
    for (uint32_t i = 0; i < bound; i++)
        kget(w, i, &made);
    assert_true(px_window_keys(w) <= bound);
    assert_true(px_window_keys(w) < bound / 2); /* it did evict */
    kcount(w, ids[1], 6, &made);
    assert_false(made);
    px_window_flush(w);
    assert_int_equal(s.n, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(s.ids[i], ids[i]);
    assert_int_equal(s.counts[1], 2);
    px_window_destroy(w);
}

/* Text keys are all forgotten at a flush. Many windows of the same keys,
 * some sharing probe runs in the table: every window must count each key
 * once, never a key left behind by an earlier window (a slot emptied
 * while probing once cut the run of the key after it, whose slot then
 * pointed into the reset arena). */
static void test_text_keys_forgotten(void **state)
{
    (void)state;
    sink s = {0};
    pxt_window *w = make(10, 64, 1, &s);
    for (int win = 0; win < 300; win++) {
        size_t before = s.n;
        for (int k = 0; k < 60; k++) {
            char name[32], rdata[32];
            snprintf(name, sizeof name, "host%d.example.com", k);
            snprintf(rdata, sizeof rdata, "192.0.2.%d", k);
            add(w, name, 1, rdata, "example.com", 60, (int64_t)win * 10);
            add(w, name, 1, rdata, "example.com", 60, (int64_t)win * 10 + 1);
        }
        pxt_window_flush(w);
        assert_int_equal(s.n - before, 60);
        for (size_t i = before; i < s.n; i++)
            assert_int_equal(s.obs[i].count, 2);
    }
    pxt_window_destroy(w);
    sink_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_rejects_bad_conf),
        cmocka_unit_test(test_counts_times_ttls),
        cmocka_unit_test(test_key_fields),
        cmocka_unit_test(test_alignment_and_boundary),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_early_flush_loses_nothing),
        cmocka_unit_test(test_many_keys_table_growth),
        cmocka_unit_test(test_clients_exact_small),
        cmocka_unit_test(test_clients_random_hashes),
        cmocka_unit_test(test_min_clients),
        cmocka_unit_test(test_text_keys_forgotten),
        cmocka_unit_test(test_deterministic_order),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_keyed_persist_and_evict),
        cmocka_unit_test(test_keyed_hard_bound),
        cmocka_unit_test(test_keyed_tag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
