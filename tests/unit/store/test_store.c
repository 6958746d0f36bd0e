/* test_store.c: the consumer's LMDB store (merge rules, atomic offsets,
 * queries, corruption, size per record). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "core/px_arena.h"
#include "store/px_store.h"
#include "store_dump.h"
#include "store_text.h"
#include "px_store_int.h"

/* ---- fixtures ---- */

typedef struct fix {
    char dir[64];
    px_store *s;
} fix;

static px_store *open_with(const char *dir, px_store_opts o)
{
    px_err err = PX_OK;
    char eb[256];
    px_store *s = px_store_open(dir, &o, &err, eb, sizeof eb);
    if (!s)
        fail_msg("open %s: %s", dir, eb);
    return s;
}

static px_store *open_store(const char *dir, bool ro)
{
    return open_with(dir, (px_store_opts){.read_only = ro});
}

/* Writable, with px_store_opts.chunk_records and .apply_limit (0:
 * defaults). */
static px_store *open_opts(const char *dir, uint32_t chunk, uint32_t limit)
{
    return open_with(dir, (px_store_opts){.chunk_records = chunk, .apply_limit = limit});
}

typedef struct geo_ctx {
    int calls;
    char last[64];
} geo_ctx;

/* px_store_opts.enrich: the answer by the address's text, which the
 * assertions name. */
static bool geo_fn(void *ctx, const uint8_t *addr, size_t len, px_geo *out)
{
    geo_ctx *g = ctx;
    char address[PX_ADDR_TEXT_MAX];
    px_addr_format_bytes(addr, len, address);
    g->calls++;
    snprintf(g->last, sizeof g->last, "%s", address);
    if (strcmp(address, "198.51.100.9") == 0)
        return false; /* unknown to the database */
    snprintf(out->country, sizeof out->country, "%s", address[0] == '2' ? "DE" : "NL");
    out->asn = address[0] == '2' ? 3320 : 1136;
    snprintf(out->as_org, sizeof out->as_org, "%s",
             address[0] == '2' ? "Deutsche Telekom AG" : "KPN B.V.");
    return true;
}

/* Writable, with GeoIP through geo_fn counting into gc. */
static px_store *open_geo(const char *dir, uint32_t chunk, uint32_t limit, geo_ctx *gc)
{
    return open_with(
        dir, (px_store_opts){
                 .chunk_records = chunk, .apply_limit = limit, .enrich = geo_fn, .enrich_ctx = gc});
}

static int setup(void **state)
{
    fix *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/pxstore.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->s = open_store(f->dir, false);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fix *f = *state;
    char p[128];
    px_store_close(f->s);
    if (getenv("PX_STORE_KEEP")) {
        print_message("kept %s\n", f->dir);
        free(f);
        return 0;
    }
    snprintf(p, sizeof p, "%s/data.mdb", f->dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/lock.mdb", f->dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/batch.log", f->dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/dlq.marks", f->dir);
    unlink(p);
    rmdir(f->dir);
    free(f);
    return 0;
}

static px_avro_obs obs(const char *name, const char *type, const char *rdata, const char *bw,
                       int64_t count, int64_t tf, int64_t tl, const char *org)
{
    return (px_avro_obs){.rrname = name,
                         .rrtype = type,
                         .rdata = rdata,
                         .bailiwick = bw,
                         .count = count,
                         .time_first = tf,
                         .time_last = tl,
                         .ttl_min = 60,
                         .ttl_max = 60,
                         .clients = -1,
                         .org = org,
                         .sensor = "s1"};
}

/* One batch of o[0..n), every merge and the commit succeeding. */
static void merge_all(px_store *s, const px_avro_obs *o, size_t n, const char *regdom)
{
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(s, &b), PX_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(pxt_store_merge(b, &o[i], regdom), PX_OK);
    assert_int_equal(px_store_batch_commit(b), PX_OK);
}

static void merge1(px_store *s, px_avro_obs o, const char *regdom)
{
    merge_all(s, &o, 1, regdom);
}

/* A copy of what a query returned. */
typedef struct got {
    char rrname[128], rrtype[16], rdata[600], bailiwick[128];
    bool has_bw, has_geo;
    uint64_t count;
    int64_t tf, tl;
    size_t n_orgs;
    char orgs[4][32];
    int64_t ofirst[4], olast[4];
    px_geo geo;
} got;

typedef struct sink {
    got r[64];
    size_t n;
    size_t stop_after; /* 0: never */
} sink;

static bool on_rec(void *ctx, const px_store_rec *rec)
{
    sink *k = ctx;
    if (k->n < 64) {
        got *g = &k->r[k->n];
        memset(g, 0, sizeof *g);
        snprintf(g->rrname, sizeof g->rrname, "%s", rec->rrname);
        snprintf(g->rrtype, sizeof g->rrtype, "%s", rec->rrtype);
        snprintf(g->rdata, sizeof g->rdata, "%s", rec->rdata);
        g->has_bw = rec->bailiwick != NULL;
        if (rec->bailiwick)
            snprintf(g->bailiwick, sizeof g->bailiwick, "%s", rec->bailiwick);
        g->count = rec->count;
        g->tf = rec->time_first;
        g->tl = rec->time_last;
        g->n_orgs = rec->n_orgs;
        for (size_t i = 0; i < rec->n_orgs && i < 4; i++) {
            snprintf(g->orgs[i], sizeof g->orgs[i], "%s", rec->orgs[i]);
            g->ofirst[i] = rec->org_first[i];
            g->olast[i] = rec->org_last[i];
        }
        g->has_geo = rec->has_geo;
        g->geo = rec->geo;
    }
    k->n++;
    return k->stop_after == 0 || k->n < k->stop_after;
}

static const px_store_fence nofence = {INT64_MIN, INT64_MAX};

static sink *rrset(px_store *s, const char *name, const char *type, const px_store_fence *fe)
{
    static sink k;
    memset(&k, 0, sizeof k);
    assert_int_equal(pxt_store_find_rrset(s, name, type, fe ? fe : &nofence, on_rec, &k), PX_OK);
    return &k;
}

static sink *by_rdata(px_store *s, const char *value)
{
    static sink k;
    memset(&k, 0, sizeof k);
    assert_int_equal(pxt_store_find_rdata(s, value, &nofence, on_rec, &k), PX_OK);
    return &k;
}

static px_store_stats stats(px_store *s)
{
    px_store_stats st;
    assert_int_equal(px_store_get_stats(s, &st), PX_OK);
    return st;
}

/* The full walk of a store the tests wrote finds nothing: every page
 * claimed once (trees, overflow values, free list), every key and value
 * sound, the counts agreeing. */
static void assert_verified(px_store *s)
{
    px_store_verify_result vr;
    assert_int_equal(px_store_verify(s, PX_STORE_CHECK_FULL, &vr), PX_OK);
    assert_int_equal(vr.findings, 0);
    assert_int_equal(vr.pages, vr.pages_in_file);
    assert_int_equal(vr.records, vr.records_expected);
}

/* ---- merge rules ---- */

static void test_merge_rules(void **state)
{
    fix *f = *state;
    merge1(f->s, obs("www.example.com", "A", "192.0.2.1", NULL, 3, 1000, 1100, "org-b"),
           "example.com");
    merge1(f->s, obs("www.example.com", "A", "192.0.2.1", "example.com", 2, 900, 950, "org-a"),
           "example.com");
    merge1(f->s, obs("www.example.com", "A", "192.0.2.1", "other.net", 5, 1050, 1300, "org-b"),
           "example.com");
    /* another record: time_first > time_last in the message is reordered */
    merge1(f->s, obs("www.example.com", "A", "192.0.2.2", NULL, 1, 2000, 1990, "org-c"),
           "example.com");

    sink *k = rrset(f->s, "www.example.com", NULL, NULL);
    assert_int_equal(k->n, 2);
    got *g = &k->r[0];
    assert_string_equal(g->rrname, "www.example.com");
    assert_string_equal(g->rrtype, "A");
    assert_string_equal(g->rdata, "192.0.2.1");
    assert_int_equal(g->count, 10);
    assert_int_equal(g->tf, 900);
    assert_int_equal(g->tl, 1300);
    assert_int_equal(g->n_orgs, 2);
    assert_string_equal(g->orgs[0], "org-a");
    assert_int_equal(g->ofirst[0], 900);
    assert_int_equal(g->olast[0], 950);
    assert_string_equal(g->orgs[1], "org-b");
    assert_int_equal(g->ofirst[1], 1000);
    assert_int_equal(g->olast[1], 1300);
    assert_true(g->has_bw);
    assert_string_equal(g->bailiwick, "example.com"); /* first non-null wins */
    assert_false(g->has_geo);

    g = &k->r[1];
    assert_string_equal(g->rdata, "192.0.2.2");
    assert_int_equal(g->tf, 1990);
    assert_int_equal(g->tl, 2000);
    assert_false(g->has_bw);
    assert_int_equal(g->n_orgs, 1);
    assert_string_equal(g->orgs[0], "org-c");

    px_store_stats st;
    assert_int_equal(px_store_get_stats(f->s, &st), PX_OK);
    assert_int_equal(st.records, 2);
    assert_int_equal(st.domains, 1);
    assert_true(st.bytes > 0);
}

/* A bailiwick that is not a suffix of the name is kept as text. */
static void test_bailiwick_forms(void **state)
{
    fix *f = *state;
    merge1(f->s, obs("a.example.com", "NS", "ns1.example.net", "com", 1, 1, 2, "o"), "example.com");
    merge1(f->s, obs("b.example.com", "NS", "ns1.example.net", "elsewhere.org", 1, 1, 2, "o"),
           "example.com");
    merge1(f->s, obs("example.com", "NS", "ns1.example.net", "Example.COM.", 1, 1, 2, "o"),
           "example.com");
    sink *k = rrset(f->s, "a.example.com", NULL, NULL);
    assert_string_equal(k->r[0].bailiwick, "com");
    k = rrset(f->s, "b.example.com", NULL, NULL);
    assert_string_equal(k->r[0].bailiwick, "elsewhere.org");
    k = rrset(f->s, "example.com", NULL, NULL);
    assert_string_equal(k->r[0].bailiwick, "example.com");
}

/* ---- GeoIP ---- */

static void test_geo_once(void **state)
{
    fix *f = *state;
    geo_ctx gc = {0};
    px_store_close(f->s);
    f->s = open_geo(f->dir, 0, 0, &gc);
    px_store_batch *b;
    px_avro_obs o[] = {
        obs("h.example.com", "A", "192.0.2.7", NULL, 1, 10, 20, "o1"),
        obs("h.example.com", "A", "192.0.2.7", NULL, 1, 10, 30, "o2"),
        obs("h.example.com", "AAAA", "2001:DB8::7", NULL, 1, 10, 20, "o1"),
        obs("h.example.com", "AAAA", "2001:db8:0::7", NULL, 1, 10, 20, "o1"),
        obs("c.example.com", "CNAME", "h.example.com", NULL, 1, 10, 20, "o1"),
        obs("u.example.com", "A", "198.51.100.9", NULL, 1, 10, 20, "o1"),
    };
    assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(pxt_store_merge(b, &o[i], "example.com"), PX_OK);
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    assert_int_equal(gc.calls, 2);
    assert_string_equal(gc.last, "2001:db8::7"); /* normalised before the lookup */
    assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
    for (size_t i = 3; i < 6; i++)
        assert_int_equal(pxt_store_merge(b, &o[i], "example.com"), PX_OK);
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    assert_int_equal(gc.calls, 3); /* the repeat AAAA and the CNAME: no lookup */

    sink *k = rrset(f->s, "h.example.com", NULL, NULL);
    assert_int_equal(k->n, 2);
    assert_string_equal(k->r[0].rrtype, "A");
    assert_true(k->r[0].has_geo);
    assert_string_equal(k->r[0].geo.country, "NL");
    assert_int_equal(k->r[0].geo.asn, 1136);
    assert_string_equal(k->r[0].geo.as_org, "KPN B.V.");
    assert_string_equal(k->r[1].rdata, "2001:db8::7");
    assert_int_equal(k->r[1].count, 2);
    assert_string_equal(k->r[1].geo.as_org, "Deutsche Telekom AG");
    k = rrset(f->s, "u.example.com", NULL, NULL);
    assert_int_equal(k->n, 1);
    assert_false(k->r[0].has_geo);
    k = rrset(f->s, "c.example.com", NULL, NULL);
    assert_false(k->r[0].has_geo);
    assert_verified(f->s);
}

/* ---- offsets, atomicity, reopen, concurrent reader ---- */

static void test_offsets_atomic(void **state)
{
    fix *f = *state;
    int64_t next = 0;
    assert_int_equal(px_store_get_offset(f->s, "pdns", 0, &next), PX_ERR_NOTFOUND);

    px_store_batch *b;
    px_avro_obs o = obs("x.example.org", "A", "192.0.2.9", NULL, 1, 5, 6, "o");
    assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
    assert_int_equal(pxt_store_merge(b, &o, "example.org"), PX_OK);
    assert_int_equal(px_store_set_offset(b, "pdns", 0, 42), PX_OK);
    px_store_batch_abort(b);
    assert_int_equal(px_store_get_offset(f->s, "pdns", 0, &next), PX_ERR_NOTFOUND);
    assert_int_equal(rrset(f->s, "x.example.org", NULL, NULL)->n, 0);

    assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
    assert_int_equal(pxt_store_merge(b, &o, "example.org"), PX_OK);
    assert_int_equal(px_store_set_offset(b, "pdns", 0, 42), PX_OK);
    assert_int_equal(px_store_set_offset(b, "pdns", 1, 7), PX_OK);
    /* uncommitted: invisible to readers */
    assert_int_equal(px_store_get_offset(f->s, "pdns", 0, &next), PX_ERR_NOTFOUND);
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    assert_int_equal(px_store_get_offset(f->s, "pdns", 0, &next), PX_OK);
    assert_int_equal(next, 42);
    assert_int_equal(px_store_get_offset(f->s, "pdns", 1, &next), PX_OK);
    assert_int_equal(next, 7);
    assert_int_equal(px_store_get_offset(f->s, "other", 0, &next), PX_ERR_NOTFOUND);
    assert_int_equal(rrset(f->s, "x.example.org", NULL, NULL)->n, 1);
}

static void test_reopen(void **state)
{
    fix *f = *state;
    px_store_batch *b;
    px_avro_obs o = obs("y.example.org", "A", "192.0.2.10", "example.org", 4, 5, 6, "orgX");
    assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
    assert_int_equal(pxt_store_merge(b, &o, "example.org"), PX_OK);
    assert_int_equal(px_store_set_offset(b, "pdns", 3, 99), PX_OK);
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    /* close with an open batch: it is aborted */
    assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
    assert_int_equal(pxt_store_merge(b, &o, "example.org"), PX_OK);
    px_store_close(f->s);

    f->s = open_store(f->dir, true);
    int64_t next;
    assert_int_equal(px_store_get_offset(f->s, "pdns", 3, &next), PX_OK);
    assert_int_equal(next, 99);
    sink *k = rrset(f->s, "y.example.org", "A", NULL);
    assert_int_equal(k->n, 1);
    assert_int_equal(k->r[0].count, 4);
    assert_string_equal(k->r[0].orgs[0], "orgX");
    assert_string_equal(k->r[0].bailiwick, "example.org");
    assert_int_not_equal(px_store_batch_begin(f->s, &b), PX_OK); /* read-only */
    px_store_close(f->s);

    /* writer again: org ids continue, not reused */
    f->s = open_store(f->dir, false);
    merge1(f->s, obs("y.example.org", "A", "192.0.2.10", NULL, 1, 7, 8, "orgY"), "example.org");
    k = rrset(f->s, "y.example.org", "A", NULL);
    assert_int_equal(k->r[0].n_orgs, 2);
    assert_string_equal(k->r[0].orgs[0], "orgX");
    assert_string_equal(k->r[0].orgs[1], "orgY");
}

static bool count_cb(void *ctx, const px_store_rec *rec)
{
    (void)rec;
    (*(int *)ctx)++;
    return true;
}

/* Child process: opens read-only while the parent holds a write batch.
 * Exit status bits: 1 committed record seen, 2 uncommitted seen, 4 error. */
static int reader_child(const char *dir)
{
    px_store_opts o = {.read_only = true};
    px_err err;
    char eb[128];
    px_store *s = px_store_open(dir, &o, &err, eb, sizeof eb);
    if (!s)
        return 4;
    int a = 0, b = 0;
    int rc = 0;
    if (pxt_store_find_rrset(s, "a.example.com", NULL, &nofence, count_cb, &a) != PX_OK ||
        pxt_store_find_rrset(s, "b.example.com", NULL, &nofence, count_cb, &b) != PX_OK)
        rc |= 4;
    px_store_close(s);
    return rc | (a == 1 ? 1 : 0) | (b ? 2 : 0);
}

static void test_concurrent_reader(void **state)
{
    fix *f = *state;
    merge1(f->s, obs("a.example.com", "A", "192.0.2.1", NULL, 1, 1, 2, "o"), "example.com");
    px_store_batch *b;
    px_avro_obs o = obs("b.example.com", "A", "192.0.2.2", NULL, 1, 1, 2, "o");
    assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
    assert_int_equal(pxt_store_merge(b, &o, "example.com"), PX_OK);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(reader_child(f->dir));
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_int_equal(px_store_batch_commit(b), PX_OK);
}

/* ---- queries ---- */

static void load_names(px_store *s)
{
    const char *names[] = {"example.com",         "www.example.com",   "a.b.example.com",
                           "wwwexample.com",      "example.community", "x.example-a.com",
                           "deep.www.example.com"};
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(s, &b), PX_OK);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char a[32];
        snprintf(a, sizeof a, "192.0.2.%zu", i + 1);
        px_avro_obs o = obs(names[i], "A", a, NULL, 1, 100, 200, "o");
        assert_int_equal(pxt_store_merge(b, &o, "example.com"), PX_OK);
    }
    px_avro_obs t = obs("www.example.com", "TXT", "\"v=spf1 -all\"", NULL, 1, 100, 200, "o");
    assert_int_equal(pxt_store_merge(b, &t, "example.com"), PX_OK);
    assert_int_equal(px_store_batch_commit(b), PX_OK);
}

static void test_wildcard_exact(void **state)
{
    fix *f = *state;
    load_names(f->s);
    sink *k = rrset(f->s, "*.example.com", NULL, NULL);
    assert_int_equal(k->n, 4);
    assert_string_equal(k->r[0].rrname, "a.b.example.com");
    assert_string_equal(k->r[1].rrname, "www.example.com");
    assert_string_equal(k->r[2].rrname, "www.example.com");
    assert_string_equal(k->r[3].rrname, "deep.www.example.com");

    k = rrset(f->s, "EXAMPLE.com.", NULL, NULL);
    assert_int_equal(k->n, 1);
    assert_string_equal(k->r[0].rrname, "example.com");

    k = rrset(f->s, "www.example.com", "TXT", NULL);
    assert_int_equal(k->n, 1);
    assert_string_equal(k->r[0].rdata, "\"v=spf1 -all\"");
    k = rrset(f->s, "*.example.com", "txt", NULL);
    assert_int_equal(k->n, 1);
    k = rrset(f->s, "*.www.example.com", NULL, NULL);
    assert_int_equal(k->n, 1);
    assert_string_equal(k->r[0].rrname, "deep.www.example.com");
    k = rrset(f->s, "nothing.example.com", NULL, NULL);
    assert_int_equal(k->n, 0);
    k = rrset(f->s, "*.com", NULL, NULL);
    assert_int_equal(k->n, 7); /* not example.community */

    sink stop = {.stop_after = 2};
    assert_int_equal(pxt_store_find_rrset(f->s, "*.com", NULL, &nofence, on_rec, &stop), PX_OK);
    assert_int_equal(stop.n, 2);
    assert_int_equal(pxt_store_find_rrset(f->s, "x.com", "NOPE", &nofence, on_rec, &stop),
                     PX_ERR_INVAL);
}

/* A label with an escaped dot is one label: a\.b.example.com is under
 * example.com, not under b.example.com, although the name reversal of
 * the store format puts it in that range; an escaped backslash before a
 * dot ends its label. The same through the stepped reader. */
static void test_wildcard_escaped_dot(void **state)
{
    fix *f = *state;
    px_avro_obs o[] = {
        obs("a\\.b.example.com", "A", "192.0.2.1", NULL, 1, 100, 200, "o1"),
        obs("x.b.example.com", "A", "192.0.2.2", NULL, 1, 100, 200, "o1"),
        obs("a\\\\.b.example.com", "A", "192.0.2.3", NULL, 1, 100, 200, "o1"),
    };
    merge_all(f->s, o, 3, "example.com");
    sink *k = rrset(f->s, "*.b.example.com", NULL, NULL);
    assert_int_equal(k->n, 2);
    assert_string_equal(k->r[0].rrname, "a\\\\.b.example.com");
    assert_string_equal(k->r[1].rrname, "x.b.example.com");
    k = rrset(f->s, "*.example.com", NULL, NULL);
    assert_int_equal(k->n, 3);
    k = rrset(f->s, "a\\.b.example.com", NULL, NULL);
    assert_int_equal(k->n, 1);

    px_store_iter *it;
    char zone[PX_DNS_NAME_TEXT_MAX];
    px_store_lookup l;
    assert_int_equal(pxt_store_rrset("*.b.example.com", NULL, zone, &l), PX_OK);
    assert_int_equal(px_store_iter_find(f->s, &l, &nofence, &it), PX_OK);
    sink steps = {0};
    bool done = false;
    while (!done)
        assert_int_equal(px_store_iter_step(it, 1, on_rec, &steps, &done), PX_OK);
    px_store_iter_free(it);
    assert_int_equal(steps.n, 2);
    assert_string_equal(steps.r[1].rrname, "x.b.example.com");
}

static void test_rdata_reverse(void **state)
{
    fix *f = *state;
    px_store_batch *b;
    px_avro_obs o[] = {
        obs("v6.example.com", "AAAA", "2001:db8::1", NULL, 1, 1, 2, "o"),
        obs("v6b.example.net", "AAAA", "2001:db8::1", NULL, 1, 1, 2, "o"),
        obs("v4.example.com", "A", "192.0.2.55", NULL, 1, 1, 2, "o"),
        obs("alias.example.com", "CNAME", "target.example.net", NULL, 1, 1, 2, "o"),
        obs("example.com", "MX", "10 mail.example.net", NULL, 1, 1, 2, "o"),
        obs("_sip._udp.example.com", "SRV", "0 5 5060 target.example.net", NULL, 1, 1, 2, "o"),
        obs("example.com", "NS", "ns1.example.net", NULL, 1, 1, 2, "o"),
        obs("txt.example.com", "TXT", "target.example.net", NULL, 1, 1, 2, "o"),
    };
    assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
    for (size_t i = 0; i < sizeof o / sizeof o[0]; i++)
        assert_int_equal(pxt_store_merge(b, &o[i], "example.com"), PX_OK);
    px_avro_obs bad = obs("bad.example.com", "A", "not-an-address", NULL, 1, 1, 2, "o");
    assert_int_equal(pxt_store_merge(b, &bad, "example.com"), PX_ERR_MALFORMED);
    assert_int_equal(px_store_batch_commit(b), PX_OK);

    sink *k = by_rdata(f->s, "2001:DB8:0:0::1");
    assert_int_equal(k->n, 2);
    assert_string_equal(k->r[0].rrname, "v6.example.com");
    assert_string_equal(k->r[1].rrname, "v6b.example.net");
    k = by_rdata(f->s, "192.0.2.55");
    assert_int_equal(k->n, 1);
    assert_string_equal(k->r[0].rrtype, "A");
    k = by_rdata(f->s, "Target.Example.NET.");
    assert_int_equal(k->n, 2); /* the CNAME and the SRV, not the TXT */
    assert_string_equal(k->r[0].rrtype, "SRV");
    assert_string_equal(k->r[1].rrtype, "CNAME");
    k = by_rdata(f->s, "mail.example.net");
    assert_int_equal(k->n, 1);
    assert_string_equal(k->r[0].rdata, "10 mail.example.net");
    k = by_rdata(f->s, "ns1.example.net");
    assert_int_equal(k->n, 1);
    k = by_rdata(f->s, "192.0.2.56");
    assert_int_equal(k->n, 0);
}

/* How many of k's records are (rrname, rrtype, rdata). */
static size_t count_of(const sink *k, const char *name, const char *type, const char *rdata)
{
    size_t n = 0;
    for (size_t i = 0; i < k->n && i < 64; i++) {
        const got *g = &k->r[i];
        n += strcmp(g->rrname, name) == 0 && strcmp(g->rrtype, type) == 0 &&
             strcmp(g->rdata, rdata) == 0;
    }
    return n;
}

/* The count of the one record (rrname, rrtype, rdata) of k. */
static uint64_t count_seen(const sink *k, const char *name, const char *type, const char *rdata)
{
    for (size_t i = 0; i < k->n && i < 64; i++) {
        const got *g = &k->r[i];
        if (strcmp(g->rrname, name) == 0 && strcmp(g->rrtype, type) == 0 &&
            strcmp(g->rdata, rdata) == 0)
            return g->count;
    }
    fail_msg("no %s %s %s", name, type, rdata);
    return 0;
}

/* Records of one owner and type that name one target with different other
 * fields (MX preferences, SRV ports, the target's spelling) are found by
 * the target, each once: in one batch and over several. */
static void test_rdata_same_target(void **state)
{
    fix *f = *state;
    px_avro_obs first[] = {
        obs("x.com", "MX", "10 mx.x.com", NULL, 1, 1, 2, "o"),
        obs("x.com", "MX", "20 mx.x.com", NULL, 2, 1, 2, "o"),
        obs("_sip._tcp.x.com", "SRV", "0 5 5060 sip.x.com", NULL, 3, 1, 2, "o"),
        obs("_sip._tcp.x.com", "SRV", "0 5 5061 sip.x.com", NULL, 4, 1, 2, "o"),
        obs("mail.y.net", "CNAME", "mx.x.com", NULL, 5, 1, 2, "o"),
    };
    px_avro_obs later[] = {
        obs("x.com", "MX", "30 MX.X.com.", NULL, 6, 1, 2, "o"),
        obs("_sip._tcp.x.com", "SRV", "10 5 5060 sip.x.com", NULL, 7, 1, 2, "o"),
        obs("x.com", "MX", "10 mx.x.com", NULL, 10, 1, 2, "o"), /* not new */
    };
    merge_all(f->s, first, sizeof first / sizeof first[0], "x.com");
    merge_all(f->s, later, sizeof later / sizeof later[0], "x.com");

    sink *k = by_rdata(f->s, "mx.x.com");
    assert_int_equal(k->n, 4);
    assert_int_equal(count_of(k, "x.com", "MX", "10 mx.x.com"), 1);
    assert_int_equal(count_of(k, "x.com", "MX", "20 mx.x.com"), 1);
    assert_int_equal(count_of(k, "x.com", "MX", "30 MX.X.com."), 1);
    assert_int_equal(count_of(k, "mail.y.net", "CNAME", "mx.x.com"), 1);
    assert_int_equal(count_seen(k, "x.com", "MX", "10 mx.x.com"), 11);
    assert_int_equal(count_seen(k, "x.com", "MX", "20 mx.x.com"), 2);
    assert_int_equal(count_seen(k, "x.com", "MX", "30 MX.X.com."), 6);
    assert_int_equal(count_seen(k, "mail.y.net", "CNAME", "mx.x.com"), 5);

    k = by_rdata(f->s, "SIP.x.com.");
    assert_int_equal(k->n, 3);
    assert_int_equal(count_of(k, "_sip._tcp.x.com", "SRV", "0 5 5060 sip.x.com"), 1);
    assert_int_equal(count_of(k, "_sip._tcp.x.com", "SRV", "0 5 5061 sip.x.com"), 1);
    assert_int_equal(count_of(k, "_sip._tcp.x.com", "SRV", "10 5 5060 sip.x.com"), 1);
    assert_int_equal(count_seen(k, "_sip._tcp.x.com", "SRV", "0 5 5061 sip.x.com"), 4);

    k = rrset(f->s, "x.com", "MX", NULL);
    assert_int_equal(k->n, 3);
    assert_int_equal(count_of(k, "x.com", "MX", "20 mx.x.com"), 1);
    k = rrset(f->s, "_sip._tcp.x.com", NULL, NULL);
    assert_int_equal(k->n, 3);
    assert_int_equal(rrset(f->s, "mail.y.net", "CNAME", NULL)->n, 1);
    assert_verified(f->s);
}

/* n characters of c in labels of 50, ending in ".com" (n > 4). */
static void long_name(char *out, size_t n, char c)
{
    for (size_t i = 0; i < n - 4; i++)
        out[i] = i % 51 == 50 ? '.' : c;
    if (out[n - 5] == '.')
        out[n - 5] = c;
    memcpy(out + n - 4, ".com", 5);
}

/* Long names: where the rdata part does not fit into the entry's key
 * beside the target and the owner, the key is cut to the limit (prefix
 * and hash of the rdata part) and records still get one entry each; where
 * the target and the owner alone pass it, the record has none. */
static void test_rdx_long_names(void **state)
{
    fix *f = *state;
    static const struct {
        size_t target, owner;
        bool indexed;
    } cases[] = {
        {200, 200, true}, /* 98 bytes of rdata and the hash fit */
        {250, 250, true}, /* 6 bytes of the hash only */
        {255, 255, false},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char target[256], owner[256], rd[4][300];
        long_name(target, cases[c].target, (char)('a' + c));
        long_name(owner, cases[c].owner, (char)('o' + c));
        if (cases[c].target == 255) { /* 255 bytes of text are a name only with escapes */
            memcpy(target, "\\040\\040", 8);
            memcpy(owner, "\\040\\040", 8);
        }
        snprintf(rd[0], sizeof rd[0], "10 %s", target);
        snprintf(rd[1], sizeof rd[1], "20 %s", target);
        snprintf(rd[2], sizeof rd[2], "10 %s.", target); /* differs at its end */
        snprintf(rd[3], sizeof rd[3], "0 0 443 %s", target);
        px_store_batch *b;
        assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
        for (int i = 0; i < 4; i++) {
            px_avro_obs o = obs(owner, i < 3 ? "MX" : "SRV", rd[i], NULL, i + 1, 1, 2, "o");
            assert_int_equal(pxt_store_merge(b, &o, NULL), PX_OK);
        }
        assert_int_equal(px_store_batch_commit(b), PX_OK);
        sink *k = by_rdata(f->s, target);
        assert_int_equal(k->n, cases[c].indexed ? 4 : 0);
        for (size_t i = 0; i < k->n; i++) {
            const char *type = i < 3 ? "MX" : "SRV";
            bool once = false;
            for (size_t j = 0; j < k->n; j++) {
                if (strcmp(k->r[j].rdata, rd[i]) == 0) {
                    assert_false(once);
                    assert_string_equal(k->r[j].rrtype, type);
                    assert_int_equal(k->r[j].count, i + 1);
                    once = true;
                }
            }
            assert_true(once);
        }
        assert_int_equal(rrset(f->s, owner, NULL, NULL)->n, 4);
    }
    assert_verified(f->s);
}

static void test_fences(void **state)
{
    fix *f = *state;
    merge1(f->s, obs("t.example.com", "A", "192.0.2.1", NULL, 1, 100, 200, "o"), "example.com");
    merge1(f->s, obs("t.example.com", "A", "192.0.2.2", NULL, 1, 300, 400, "o"), "example.com");
    struct {
        int64_t after, before;
        size_t n;
    } cases[] = {{150, 250, 1},
                 {201, 299, 0},
                 {0, 99, 0},
                 {200, 300, 2},
                 {401, INT64_MAX, 0},
                 {INT64_MIN, 100, 1},
                 {INT64_MIN, INT64_MAX, 2}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        px_store_fence fe = {cases[i].after, cases[i].before};
        sink *k = rrset(f->s, "t.example.com", NULL, &fe);
        assert_int_equal(k->n, cases[i].n);
        sink r = {0};
        assert_int_equal(pxt_store_find_rdata(f->s, "192.0.2.2", &fe, on_rec, &r), PX_OK);
        assert_int_equal(r.n, cases[i].before >= 300 && cases[i].after <= 400 ? 1 : 0);
    }
}

typedef struct dom_seen {
    int calls;
    int64_t first, last;
    size_t n;
    char orgs[4][32];
} dom_seen;

static bool on_dom(void *ctx, const px_store_domain *d)
{
    dom_seen *x = ctx;
    x->calls++;
    x->first = d->first_seen;
    x->last = d->last_seen;
    x->n = d->n_orgs;
    for (size_t i = 0; i < d->n_orgs && i < 4; i++)
        snprintf(x->orgs[i], sizeof x->orgs[i], "%s", d->orgs[i]);
    return true;
}

static void test_domain_rows(void **state)
{
    fix *f = *state;
    merge1(f->s, obs("a.example.com", "A", "192.0.2.1", NULL, 1, 500, 600, "zeta"), "example.com");
    merge1(f->s, obs("b.example.com", "A", "192.0.2.1", NULL, 1, 400, 450, "alpha"), "example.com");
    merge1(f->s, obs("c.example.com", "A", "192.0.2.1", NULL, 1, 700, 800, "zeta"), "example.com");
    merge1(f->s, obs("x.example.net", "A", "192.0.2.1", NULL, 1, 1, 2, "other"), "example.net");
    dom_seen d = {0};
    assert_int_equal(pxt_store_find_domain(f->s, "example.com", on_dom, &d), PX_OK);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.first, 400);
    assert_int_equal(d.last, 800);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.orgs[0], "alpha");
    assert_string_equal(d.orgs[1], "zeta");
    memset(&d, 0, sizeof d);
    assert_int_equal(pxt_store_find_domain(f->s, "example.org", on_dom, &d), PX_OK);
    assert_int_equal(d.calls, 0);
}

/* rdata beyond the LMDB key limit: the value carries it. */
static void test_long_rdata(void **state)
{
    fix *f = *state;
    char txt[1500], txt2[1500];
    memset(txt, 'x', sizeof txt - 1);
    txt[sizeof txt - 1] = 0;
    memcpy(txt2, txt, sizeof txt);
    txt2[1400] = 'y'; /* same key prefix, different rdata */
    merge1(f->s, obs("long.example.com", "TXT", txt, NULL, 1, 1, 2, "o"), "example.com");
    merge1(f->s, obs("long.example.com", "TXT", txt, NULL, 2, 1, 2, "o"), "example.com");
    merge1(f->s, obs("long.example.com", "TXT", txt2, NULL, 5, 1, 2, "o"), "example.com");
    sink k = {0};
    assert_int_equal(pxt_store_find_rrset(f->s, "long.example.com", "TXT", &nofence, on_rec, &k),
                     PX_OK);
    assert_int_equal(k.n, 2);
    uint64_t total = k.r[0].count + k.r[1].count;
    assert_int_equal(total, 8);
    assert_true(k.r[0].count == 3 || k.r[0].count == 5);
    assert_verified(f->s);
}

enum { MAP_FULL_N = 20000 };

/* Reopens f's store with a 256 KiB map and the given chunk size and
 * returns a batch of MAP_FULL_N new A records, offset pdns/0 at
 * MAP_FULL_N. */
static px_store_batch *map_full_batch(fix *f, uint32_t chunk)
{
    px_store_close(f->s);
    px_store_opts o = {.map_bytes = 256 * 1024, .chunk_records = chunk};
    px_err err;
    char eb[128];
    f->s = px_store_open(f->dir, &o, &err, eb, sizeof eb);
    assert_non_null(f->s);
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
    for (unsigned i = 0; i < MAP_FULL_N; i++) {
        char name[64], a[32];
        snprintf(name, sizeof name, "host%u.example.com", i);
        snprintf(a, sizeof a, "10.%u.%u.%u", i >> 16, (i >> 8) & 255, i & 255);
        px_avro_obs x = obs(name, "A", a, NULL, 1, 1, 2, "o");
        assert_int_equal(pxt_store_merge(b, &x, "example.com"), PX_OK);
    }
    assert_int_equal(px_store_set_offset(b, "pdns", 0, MAP_FULL_N), PX_OK);
    return b;
}

/* A batch written in one transaction that meets a full map commits
 * nothing. */
static void test_map_full(void **state)
{
    fix *f = *state;
    px_store_batch *b = map_full_batch(f, 100000);
    assert_int_equal(px_store_batch_commit(b), PX_ERR_FULL);
    int64_t next;
    assert_int_equal(px_store_get_offset(f->s, "pdns", 0, &next), PX_ERR_NOTFOUND);
    assert_int_equal(rrset(f->s, "host1.example.com", NULL, NULL)->n, 0);
    assert_false(px_store_log_pending(f->s));
    /* and a new, small batch works */
    px_avro_obs x = obs("late.example.com", "A", "192.0.2.1", NULL, 1, 1, 2, "o");
    merge1(f->s, x, "example.com");
    assert_int_equal(rrset(f->s, "late.example.com", NULL, NULL)->n, 1);
}

/* A big batch whose chunks meet a full map is committed (offsets, log)
 * and stays pending until there is room: nothing is lost. */
static void test_map_full_log(void **state)
{
    fix *f = *state;
    enum { N = MAP_FULL_N };
    px_store_batch *b = map_full_batch(f, 1000);
    assert_int_equal(px_store_batch_commit(b), PX_ERR_AGAIN);
    assert_true(px_store_log_pending(f->s));
    int64_t next;
    assert_int_equal(px_store_get_offset(f->s, "pdns", 0, &next), PX_OK);
    assert_int_equal(next, N);
    assert_int_equal(px_store_batch_begin(f->s, &b), PX_ERR_AGAIN);
    assert_int_equal(px_store_resume(f->s, NULL), PX_ERR_FULL);
    assert_true(px_store_log_pending(f->s));
    /* room again: the rest is applied */
    px_store_close(f->s);
    f->s = open_opts(f->dir, 1000, 0);
    assert_true(px_store_log_pending(f->s));
    assert_int_equal(px_store_resume(f->s, NULL), PX_OK);
    assert_int_equal(stats(f->s).records, N);
    for (unsigned i = 0; i < N; i += 997) {
        char name[64];
        snprintf(name, sizeof name, "host%u.example.com", i);
        sink *k = rrset(f->s, name, NULL, NULL);
        assert_int_equal(k->n, 1);
        assert_int_equal(k->r[0].count, 1);
    }
    assert_verified(f->s);
}

/* ---- damage ---- */

/* A write transaction on table `dbname` of the store in dir, through LMDB
 * itself (to plant what the store would never write); raw_end commits. */
static MDB_dbi raw_begin(const char *dir, const char *dbname, MDB_env **env, MDB_txn **txn)
{
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(env), 0);
    assert_int_equal(mdb_env_set_maxdbs(*env, 16), 0);
    assert_int_equal(mdb_env_open(*env, dir, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(*env, NULL, 0, txn), 0);
    assert_int_equal(mdb_dbi_open(*txn, dbname, 0, &dbi), 0);
    return dbi;
}

static void raw_end(MDB_env *env, MDB_txn *txn)
{
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* Replaces the value of the first row of table `dbname` with `val`, as is
 * (sealed: with the checksum the store would give it under that row's
 * key, table dbi). */
static void poke_first_as(const char *dir, const char *dbname, int dbi, bool sealed,
                          const void *val, size_t len)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    MDB_dbi h = raw_begin(dir, dbname, &env, &txn);
    assert_int_equal(mdb_cursor_open(txn, h, &c), 0);
    assert_int_equal(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
    px_buf b = {0};
    assert_int_equal(px_buf_reserve(&b, len + 16), PX_OK);
    memcpy(b.p, val, len);
    b.len = len;
    if (sealed)
        assert_int_equal(pxs_val_seal(dbi, k.mv_data, k.mv_size, &b), PX_OK);
    MDB_val nv = {b.len, b.p};
    assert_int_equal(mdb_cursor_put(c, &k, &nv, MDB_CURRENT), 0);
    mdb_cursor_close(c);
    raw_end(env, txn);
    free(b.p);
}

static void poke_first(const char *dir, const char *dbname, const void *val, size_t len)
{
    poke_first_as(dir, dbname, -1, false, val, len);
}

static void poke_first_record(const char *dir, const void *val, size_t len)
{
    poke_first(dir, "rec", val, len);
}

static void poke_first_record_sealed(const char *dir, const void *payload, size_t len)
{
    poke_first_as(dir, "rec", DBI_REC, true, payload, len);
}

/* The stored value of the first row of `dbname` into val (*len). */
static void first_value(const char *dir, const char *dbname, uint8_t *val, size_t *len)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    MDB_dbi h = raw_begin(dir, dbname, &env, &txn);
    assert_int_equal(mdb_cursor_open(txn, h, &c), 0);
    assert_int_equal(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
    memcpy(val, v.mv_data, v.mv_size);
    *len = v.mv_size;
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    mdb_env_close(env);
}

/* Damage the store reported. */
typedef struct reports {
    int n;
    char all[4096];
} reports;

static void on_report(void *ctx, const char *where, const char *what)
{
    reports *r = ctx;
    size_t used = strlen(r->all);
    snprintf(r->all + used, sizeof r->all - used, "%s: %s\n", where, what);
    r->n++;
}

/* Opens as asked, damage reported to r; NULL with *err and eb on failure. */
static px_store *open_rep(const char *dir, bool ro, px_store_check check, reports *r, px_err *err,
                          char *eb, size_t eblen)
{
    px_store_opts o = {.read_only = ro, .check = check, .on_damage = on_report, .damage_ctx = r};
    eb[0] = '\0';
    return px_store_open(dir, &o, err, eb, eblen);
}

/* A damaged record value (no checksum at all, a bit flipped in the
 * payload or in the checksum, a sealed value of another record): never
 * read as a record, never merged into, never written over, and reported
 * where it is. A writable open that checks the store refuses it; queries
 * give every other record and PX_ERR_DAMAGED; a merge into it fails the
 * batch, and the stored bytes stay as they were. */
static void test_damaged_value(void **state)
{
    fix *f = *state;
    merge1(f->s, obs("c.example.com", "A", "192.0.2.1", "example.com", 7, 10, 20, "o1"),
           "example.com");
    merge1(f->s, obs("c.example.com", "A", "192.0.2.1", NULL, 1, 5, 30, "o2"), "example.com");
    merge1(f->s, obs("d.example.com", "A", "192.0.2.2", NULL, 4, 5, 30, "o2"), "example.com");
    px_store_close(f->s);
    f->s = NULL;
    uint8_t good[256], other[256], bad[256];
    size_t good_len, other_len;
    first_value(f->dir, "rec", good, &good_len); /* c.example.com: the first key */
    {                                            /* d.example.com's value */
        MDB_env *env;
        MDB_txn *txn;
        MDB_cursor *c;
        MDB_val k, v;
        MDB_dbi h = raw_begin(f->dir, "rec", &env, &txn);
        assert_int_equal(mdb_cursor_open(txn, h, &c), 0);
        assert_int_equal(mdb_cursor_get(c, &k, &v, MDB_LAST), 0);
        memcpy(other, v.mv_data, v.mv_size);
        other_len = v.mv_size;
        mdb_cursor_close(c);
        mdb_txn_abort(txn);
        mdb_env_close(env);
    }
    for (int kind = 0; kind < 5; kind++) {
        size_t len = good_len;
        memcpy(bad, good, good_len);
        if (kind == 0) { /* no checksum: bytes of the format before */
            memset(bad, 0xff, 12);
            len = 12;
        } else if (kind == 1) { /* a bit of the payload */
            bad[2] ^= 0x10;
        } else if (kind == 2) { /* a bit of the checksum */
            bad[good_len - 3] ^= 0x01;
        } else if (kind == 3) { /* another record's sealed value */
            memcpy(bad, other, other_len);
            len = other_len;
        } else { /* cut short */
            len = good_len - 1;
        }
        poke_first_record(f->dir, bad, len);
        reports r = {0};
        px_err err;
        char eb[512];
        px_store *s = open_rep(f->dir, false, PX_STORE_CHECK_FULL, &r, &err, eb, sizeof eb);
        assert_null(s);
        assert_int_equal(err, PX_ERR_DAMAGED);
        if (!strstr(eb, "record c.example.com A 192.0.2.1") || !strstr(r.all, "checksum"))
            fail_msg("kind %d: %s / %s", kind, eb, r.all);

        memset(&r, 0, sizeof r);
        s = open_rep(f->dir, true, PX_STORE_CHECK_FULL, &r, &err, eb, sizeof eb);
        assert_non_null(s);
        sink k = {0};
        assert_int_equal(pxt_store_find_rrset(s, "c.example.com", NULL, &nofence, on_rec, &k),
                         PX_ERR_DAMAGED);
        assert_int_equal(k.n, 0);
        assert_int_equal(pxt_store_find_rdata(s, "192.0.2.1", &nofence, on_rec, &k),
                         PX_ERR_DAMAGED);
        assert_int_equal(k.n, 0);
        assert_int_equal(pxt_store_find_rrset(s, "*.example.com", NULL, &nofence, on_rec, &k),
                         PX_ERR_DAMAGED);
        assert_int_equal(k.n, 1); /* the other record */
        assert_string_equal(k.r[0].rrname, "d.example.com");
        assert_int_equal(k.r[0].count, 4);
        assert_true(stats(s).damaged >= 3);
        px_store_verify_result vr;
        assert_int_equal(px_store_verify(s, PX_STORE_CHECK_FULL, &vr), PX_ERR_DAMAGED);
        assert_int_equal(vr.findings, 1);
        assert_int_equal(vr.records, 1);
        assert_int_equal(vr.records_expected, 2);
        px_store_close(s);

        /* a consumer told not to look: the merge meets it and fails */
        memset(&r, 0, sizeof r);
        s = open_rep(f->dir, false, PX_STORE_CHECK_META, &r, &err, eb, sizeof eb);
        assert_non_null(s);
        px_store_batch *b;
        assert_int_equal(px_store_batch_begin(s, &b), PX_OK);
        px_avro_obs o = obs("c.example.com", "A", "192.0.2.1", NULL, 1, 5, 30, "o2");
        assert_int_equal(pxt_store_merge(b, &o, "example.com"), PX_OK);
        assert_int_equal(px_store_batch_commit(b), PX_ERR_DAMAGED);
        assert_int_equal(r.n, 1);
        assert_non_null(strstr(r.all, "table rec, record c.example.com A 192.0.2.1"));
        px_store_close(s);
        uint8_t now[256];
        size_t now_len;
        first_value(f->dir, "rec", now, &now_len);
        assert_int_equal(now_len, len);
        assert_memory_equal(now, bad, len);
    }
    /* sealed, but wrong inside: the checks after the checksum */
    const uint8_t inside[][8] = {
        {0x01, 0x01, 0x02, 0x03, 0x00, 0x7f}, /* bailiwick offset 127: outside the name */
        {0x04, 0x01, 0x02, 0x03, 0x00, 0x09}, /* GeoIP, country of 9 bytes */
        {0x08, 0x01, 0x02, 0x03, 0x00, 0x00}, /* overlong rdata flag, the key is not */
    };
    for (size_t i = 0; i < sizeof inside / sizeof inside[0]; i++) {
        poke_first_record_sealed(f->dir, inside[i], 6);
        reports r = {0};
        px_err err;
        char eb[512];
        px_store *s = open_rep(f->dir, true, PX_STORE_CHECK_FULL, &r, &err, eb, sizeof eb);
        sink k = {0};
        assert_int_equal(pxt_store_find_rrset(s, "*.example.com", NULL, &nofence, on_rec, &k),
                         PX_ERR_DAMAGED);
        assert_int_equal(k.n, 1);
        px_store_verify_result vr;
        assert_int_equal(px_store_verify(s, PX_STORE_CHECK_FULL, &vr), PX_ERR_DAMAGED);
        px_store_close(s);
    }
    /* every cut of a sealed value: damage, never a crash */
    static const uint8_t payload[] = {0x01, 0x08, 0x0a, 0x0a, 0x02, 0x01,
                                      0x00, 0x00, 0x01, 0x00, 0x00, 0x02};
    uint8_t sealed[64];
    for (size_t n = 0; n < sizeof payload + PXS_SUM_LEN; n++) {
        poke_first_record_sealed(f->dir, payload, sizeof payload);
        size_t sl;
        first_value(f->dir, "rec", sealed, &sl);
        poke_first_record(f->dir, sealed, n);
        f->s = open_store(f->dir, true);
        sink k = {0};
        px_err err = pxt_store_find_rrset(f->s, "*.example.com", NULL, &nofence, on_rec, &k);
        assert_int_equal(err, PX_ERR_DAMAGED);
        assert_int_equal(k.n, 1);
        px_store_close(f->s);
        f->s = NULL;
    }
    poke_first_record_sealed(f->dir, payload, sizeof payload);
    f->s = open_store(f->dir, true);
    sink *k = rrset(f->s, "c.example.com", NULL, NULL);
    assert_int_equal(k->n, 1);
    assert_int_equal(k->r[0].count, 8);
    assert_int_equal(k->r[0].tf, 5);
    assert_int_equal(k->r[0].tl, 15);
    assert_string_equal(k->r[0].bailiwick, "example.com");
}

/* A damaged domain row: the merge that meets it fails, the query of it
 * says so, a checking open refuses the store. */
static void test_damaged_domain(void **state)
{
    fix *f = *state;
    merge1(f->s, obs("a.example.com", "A", "192.0.2.1", NULL, 1, 10, 20, "o1"), "example.com");
    px_store_close(f->s);
    f->s = NULL;
    uint8_t v[64];
    size_t n;
    first_value(f->dir, "dom", v, &n);
    v[0] ^= 0x02;
    poke_first(f->dir, "dom", v, n);
    reports r = {0};
    px_err err;
    char eb[512];
    assert_null(open_rep(f->dir, false, PX_STORE_CHECK_FULL, &r, &err, eb, sizeof eb));
    assert_int_equal(err, PX_ERR_DAMAGED);
    assert_non_null(strstr(eb, "table dom, domain example.com: the value fails its checksum"));
    f->s = open_rep(f->dir, false, PX_STORE_CHECK_META, &r, &err, eb, sizeof eb);
    assert_non_null(f->s);
    dom_seen d = {0};
    assert_int_equal(pxt_store_find_domain(f->s, "example.com", on_dom, &d), PX_ERR_DAMAGED);
    assert_int_equal(d.calls, 0);
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
    px_avro_obs o = obs("b.example.com", "A", "192.0.2.2", NULL, 1, 30, 40, "o2");
    assert_int_equal(pxt_store_merge(b, &o, "example.com"), PX_OK);
    assert_int_equal(px_store_batch_commit(b), PX_ERR_DAMAGED);
    assert_int_equal(stats(f->s).records, 1); /* nothing of the batch */
}

/* A stored overlong rdata under the key of another one (as a 64-bit hash
 * collision would store it): the stored record stays, the batch's
 * observations of the other rdata are dropped and counted. (Its rdata does
 * not hash to its key, which the full walk calls damage: a real collision
 * would; so the store is opened without it.) */
static void test_long_collision(void **state)
{
    fix *f = *state;
    char txt[1500], other[1500];
    memset(txt, 'x', sizeof txt - 1);
    txt[sizeof txt - 1] = 0;
    memcpy(other, txt, sizeof txt);
    other[1400] = 'y';
    merge1(f->s, obs("long.example.com", "TXT", txt, NULL, 1, 1, 2, "o"), "example.com");
    px_store_close(f->s);
    /* flags LONG, count 1, first 1, last 2, org 1 (1..2), rdata `other` */
    uint8_t val[10 + sizeof other - 1] = {0x08, 0x01, 0x02, 0x01, 0x01,
                                          0x01, 0x00, 0x00, 0xdb, 0x0b};
    memcpy(val + 10, other, sizeof other - 1);
    poke_first_record_sealed(f->dir, val, sizeof val);
    f->s = open_with(f->dir, (px_store_opts){.check = PX_STORE_CHECK_META});
    merge1(f->s, obs("long.example.com", "TXT", txt, NULL, 5, 1, 9, "o"), "example.com");
    px_store_stats st = stats(f->s);
    assert_int_equal(st.collisions, 1);
    assert_int_equal(st.damaged, 0);
    sink *k = rrset(f->s, "long.example.com", "TXT", NULL);
    assert_int_equal(k->n, 1);
    assert_int_equal(k->r[0].count, 1);
    assert_int_equal(k->r[0].tl, 2);
}

/* A store of the format before values carried checksums (no format row),
 * or of a newer one, is refused, saying what to do. */
static void test_other_format_refused(void **state)
{
    fix *f = *state;
    merge1(f->s, obs("a.example.com", "A", "192.0.2.1", NULL, 1, 10, 20, "o1"), "example.com");
    px_store_close(f->s);
    f->s = NULL;
    static const uint8_t meta_key[] = {0, 'm', 'e', 't', 'a'};
    uint8_t newer[32];
    px_buf nb = PXS_FIXED_BUF(newer, 0);
    pxs_meta_row m = {.format = PXS_FORMAT + 1};
    for (int round = 0; round < 2; round++) {
        MDB_env *env;
        MDB_txn *txn;
        MDB_dbi h = raw_begin(f->dir, "off", &env, &txn);
        MDB_val k = {sizeof meta_key, (void *)meta_key};
        if (round == 0) {
            assert_int_equal(mdb_del(txn, h, &k, NULL), 0);
        } else {
            nb.p = NULL; /* pxs_meta_encode may grow it */
            nb.cap = 0;
            assert_int_equal(pxs_meta_encode(&m, &nb), PX_OK);
            MDB_val v = {nb.len, nb.p};
            assert_int_equal(mdb_put(txn, h, &k, &v, 0), 0);
            free(nb.p);
        }
        raw_end(env, txn);
        for (int ro = 0; ro < 2; ro++) {
            reports r = {0};
            px_err err;
            char eb[512];
            assert_null(open_rep(f->dir, ro, PX_STORE_CHECK_FULL, &r, &err, eb, sizeof eb));
            assert_int_equal(err, PX_ERR_UNSUPPORTED);
            char newer_msg[64];
            snprintf(newer_msg, sizeof newer_msg, "has store format %d", PXS_FORMAT + 1);
            const char *want = round ? newer_msg : "before store format 2";
            if (!strstr(eb, want))
                fail_msg("round %d: %s", round, eb);
        }
    }
}

/* The data file cut short, emptied or cut inside its meta pages: refused
 * at open, before anything maps it (LMDB would die of SIGBUS). */
static void test_file_cut(void **state)
{
    fix *f = *state;
    for (int i = 0; i < 2000; i++) {
        char name[64];
        snprintf(name, sizeof name, "h%d.example.com", i);
        merge1(f->s, obs(name, "A", "192.0.2.1", NULL, 1, 10, 20, "o1"), "example.com");
        if (i == 0)
            i = 1000; /* one small batch, then a big one */
    }
    px_store_close(f->s);
    f->s = NULL;
    char p[128];
    snprintf(p, sizeof p, "%s/data.mdb", f->dir);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    const off_t sizes[] = {st.st_size / 2, 8192, 4096 + 100, 100, 0};
    const char *says[] = {"cut short", "cut short", "second meta page", "meta page", "meta page"};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        assert_int_equal(truncate(p, sizes[i]), 0);
        for (int ro = 0; ro < 2; ro++) {
            reports r = {0};
            px_err err;
            char eb[512];
            assert_null(open_rep(f->dir, ro, PX_STORE_CHECK_META, &r, &err, eb, sizeof eb));
            assert_int_equal(err, PX_ERR_DAMAGED);
            assert_int_equal(r.n, 1);
            if (!strstr(eb, says[i]))
                fail_msg("size %lld: %s", (long long)sizes[i], eb);
        }
    }
}

/* Writes one byte at off of the data file (XORed with x). */
static void file_xor(const char *dir, off_t off, uint8_t x, size_t n)
{
    char p[128];
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    FILE *fp = fopen(p, "r+b");
    assert_non_null(fp);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(fseeko(fp, off + (off_t)i, SEEK_SET), 0);
        int c = fgetc(fp);
        assert_true(c != EOF);
        assert_int_equal(fseeko(fp, off + (off_t)i, SEEK_SET), 0);
        fputc(c ^ x, fp);
    }
    fclose(fp);
}

/* Every record of the store as one text line each, and how many. */
typedef struct lines {
    char *buf;
    size_t len, n;
    FILE *f;
} lines;

static bool on_line(void *ctx, const px_store_rec *r)
{
    lines *l = ctx;
    fprintf(l->f, "%s %s %s %llu %lld %lld %zu\n", r->rrname, r->rrtype, r->rdata,
            (unsigned long long)r->count, (long long)r->time_first, (long long)r->time_last,
            r->n_orgs);
    l->n++;
    return true;
}

static px_err all_lines(px_store *s, lines *l)
{
    memset(l, 0, sizeof *l);
    l->f = open_memstream(&l->buf, &l->len);
    assert_non_null(l->f);
    px_err err = pxt_store_find_rrset(s, "*.test", NULL, &nofence, on_line, l);
    fclose(l->f);
    return err;
}

/* xorshift64 of its own (the other tests' sequence stays as it was). */
static uint32_t xrnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return (uint32_t)(*x >> 11);
}

/* Pages overwritten and bits flipped at random (fixed seeds) in a store of
 * several thousand records: opening checked refuses it, queries answer
 * only records of the undamaged store and say when they met damage, and
 * the full walk finds what the queries met. No crash (this runs under
 * ASan too). */
static void test_pages_damaged(void **state)
{
    fix *f = *state;
    enum { N = 6000 };
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
    for (int i = 0; i < N; i++) {
        char name[64], rd[64];
        snprintf(name, sizeof name, "h%d.d%d.test", i, i % 97);
        snprintf(rd, sizeof rd, "192.0.%d.%d", (i >> 8) & 255, i & 255);
        px_avro_obs o = obs(name, i % 3 ? "A" : "TXT", i % 3 ? rd : name, NULL, 1 + i % 5, 10,
                            20 + i, i % 2 ? "o1" : "o2");
        char dom[32];
        snprintf(dom, sizeof dom, "d%d.test", i % 97);
        assert_int_equal(pxt_store_merge(b, &o, dom), PX_OK);
    }
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    lines ref;
    assert_int_equal(all_lines(f->s, &ref), PX_OK);
    assert_int_equal(ref.n, N);
    px_store_close(f->s);
    f->s = NULL;
    char p[128], copy[160];
    snprintf(p, sizeof p, "%s/data.mdb", f->dir);
    snprintf(copy, sizeof copy, "%s/data.mdb.orig", f->dir);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    uint64_t pages = (uint64_t)st.st_size / 4096;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "cp %s %s", p, copy);
    assert_int_equal(system(cmd), 0);
    unsigned met = 0;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        uint64_t x = seed * 0x9e3779b97f4a7c15ULL;
#define rnd() xrnd(&x)
        if (seed <= 4) { /* a few pages of 0xFF (not the metas) */
            for (int i = 0; i < 3; i++)
                file_xor(f->dir, (off_t)((2 + rnd() % (pages - 2)) * 4096), 0xff, 4096);
        } else { /* 2..40 flipped bits */
            for (uint32_t i = 0, n = 2 + (uint32_t)(seed * 3); i < n; i++)
                file_xor(f->dir, (off_t)(rnd() % (uint64_t)st.st_size),
                         (uint8_t)(1u << (rnd() % 8)), 1);
        }
        reports r = {0};
        px_err err;
        char eb[512];
        px_store *s = open_rep(f->dir, true, PX_STORE_CHECK_FULL, &r, &err, eb, sizeof eb);
        px_store_verify_result vr = {0};
        px_err verr = PX_ERR_DAMAGED;
        if (s) {
            lines ans;
            err = all_lines(s, &ans);
            verr = px_store_verify(s, PX_STORE_CHECK_FULL, &vr);
            px_store_close(s);
            /* every line given is one of the undamaged store's */
            for (char *line = ans.buf, *nl; line && *line; line = nl + 1) {
                nl = strchr(line, '\n');
                assert_non_null(nl);
                *nl = '\0';
                char *at = strstr(ref.buf, line);
                if (!at || (at != ref.buf && at[-1] != '\n') || at[strlen(line)] != '\n')
                    fail_msg("seed %llu: not a record of the store: %s", (unsigned long long)seed,
                             line);
            }
            if (err == PX_OK) /* nothing met: the whole answer */
                assert_int_equal(ans.n, N);
            else
                assert_int_equal(err, PX_ERR_DAMAGED);
            if (err)
                assert_int_equal(verr, PX_ERR_DAMAGED); /* what the query met, the walk finds */
            free(ans.buf);
            met += err != PX_OK;
        }
        /* a consumer checking its store takes it only if the walk found nothing */
        s = open_rep(f->dir, false, PX_STORE_CHECK_FULL, &r, &err, eb, sizeof eb);
        assert_true(!s == (verr == PX_ERR_DAMAGED));
        px_store_close(s);
        snprintf(cmd, sizeof cmd, "cp %s %s", copy, p);
        assert_int_equal(system(cmd), 0);
#undef rnd
    }
    assert_true(met >= 6); /* most seeds hit the records */
    unlink(copy);
    free(ref.buf);
}

/* ---- the dead-letter marks beside the store ---- */

static bool count_marks(void *ctx, const px_store_dlq_ent *m)
{
    int64_t *sum = ctx;
    sum[0]++;
    sum[1] += m->offset;
    return true;
}

/* dlq.marks lives beside data.mdb and is none of the store's checks:
 * verify and a writable open with the full check pass with it there. It
 * has its own: a mark whose line fails its checksum (a digit flipped,
 * which would name another message) is no mark; a file of the format
 * without checksums holds none and is removed by the prune. */
static void test_dlq_marks_checked(void **state)
{
    fix *f = *state;
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
    assert_int_equal(px_store_set_offset(b, "pdnsx.obs.a", 0, 10), PX_OK);
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    px_store_dlq_ent m[] = {{"pdnsx.obs.a", 0, 12, false}, {"pdnsx.obs.a", 0, 20, true}};
    assert_int_equal(px_store_dlq_mark(f->s, m, 2), PX_OK);
    int64_t mk[2] = {0};
    assert_int_equal(px_store_dlq_acked(f->s, count_marks, mk), PX_OK);
    assert_int_equal(mk[0], 2);
    assert_int_equal(mk[1], 32);
    assert_verified(f->s);
    px_store_close(f->s);
    f->s = open_with(f->dir, (px_store_opts){.check = PX_STORE_CHECK_FULL});
    assert_verified(f->s);

    char path[128], text[512];
    snprintf(path, sizeof path, "%s/dlq.marks", f->dir);
    FILE *fp = fopen(path, "r+");
    assert_non_null(fp);
    size_t n = fread(text, 1, sizeof text - 1, fp);
    text[n] = '\0';
    char *twelve = strstr(text, " 12 a ");
    assert_non_null(twelve);
    twelve[2] ^= 0x01; /* 12 -> 13: another message */
    rewind(fp);
    assert_int_equal(fwrite(text, 1, n, fp), n);
    fclose(fp);
    memset(mk, 0, sizeof mk);
    assert_int_equal(px_store_dlq_acked(f->s, count_marks, mk), PX_OK);
    assert_int_equal(mk[0], 1);
    assert_int_equal(mk[1], 20);

    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("pdnsx-dlq-marks 1\npdnsx.obs.a 0 12 a\n", fp);
    fclose(fp);
    memset(mk, 0, sizeof mk);
    assert_int_equal(px_store_dlq_acked(f->s, count_marks, mk), PX_ERR_MALFORMED);
    assert_int_equal(mk[0], 0);
    size_t left = 9;
    assert_int_equal(px_store_dlq_prune(f->s, &left), PX_ERR_MALFORMED);
    assert_int_equal(left, 0);
    assert_int_equal(access(path, F_OK), -1);
    assert_verified(f->s);
}

/* Entries lost without LMDB noticing (a row deleted behind the store's
 * back stands for a subtree lost to damage): the store's own count tells. */
static void test_verify_counts(void **state)
{
    fix *f = *state;
    px_avro_obs o[] = {obs("a.example.com", "A", "192.0.2.1", NULL, 1, 10, 20, "o1"),
                       obs("b.example.com", "A", "192.0.2.2", NULL, 1, 10, 20, "o1")};
    merge_all(f->s, o, 2, "example.com");
    px_store_verify_result vr;
    for (int level = PX_STORE_CHECK_FULL; level <= PX_STORE_CHECK_META; level++) {
        assert_int_equal(px_store_verify(f->s, (px_store_check)level, &vr), PX_OK);
        assert_int_equal(vr.findings, 0);
        if (level != PX_STORE_CHECK_META)
            assert_int_equal(vr.pages, vr.pages_in_file);
    }
    assert_int_equal(px_store_verify(f->s, PX_STORE_CHECK_FULL, &vr), PX_OK);
    assert_int_equal(vr.records, 2);
    px_store_close(f->s);
    for (int level = PX_STORE_CHECK_FULL; level <= PX_STORE_CHECK_META; level++) {
        f->s = open_with(f->dir, (px_store_opts){.check = (px_store_check)level});
        px_store_close(f->s);
    }
    MDB_env *env;
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    MDB_dbi h = raw_begin(f->dir, "rec", &env, &txn);
    assert_int_equal(mdb_cursor_open(txn, h, &c), 0);
    assert_int_equal(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
    assert_int_equal(mdb_cursor_del(c, 0), 0);
    mdb_cursor_close(c);
    raw_end(env, txn);
    reports r = {0};
    px_err err;
    char eb[512];
    f->s = open_rep(f->dir, true, PX_STORE_CHECK_FULL, &r, &err, eb, sizeof eb);
    assert_int_equal(px_store_verify(f->s, PX_STORE_CHECK_FULL, &vr), PX_ERR_DAMAGED);
    assert_int_equal(vr.records, 1);
    assert_int_equal(vr.records_expected, 2);
    if (!strstr(r.all, "table rec: the store counted 2 entries, LMDB's record says 1"))
        fail_msg("%s", r.all);
}

/* A batch past the spill bound writes into its transaction and goes on:
 * observations of one record before and after the spill add up, and the
 * record is new (GeoIP) only once. */
static void test_spill_merges(void **state)
{
    fix *f = *state;
    geo_ctx gc = {0};
    px_store_close(f->s);
    f->s = open_geo(f->dir, 0, 0, &gc);
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
    px_avro_obs x = obs("x.example.com", "A", "192.0.2.7", "example.com", 2, 100, 200, "o1");
    assert_int_equal(pxt_store_merge(b, &x, "example.com"), PX_OK);
    enum { N = (1 << 18) + 10 }; /* past PXS_SPILL_ENTRIES */
    for (unsigned i = 0; i < N; i++) {
        char name[64], txt[32];
        snprintf(name, sizeof name, "h%u.example.com", i);
        snprintf(txt, sizeof txt, "t%u", i);
        px_avro_obs o = obs(name, "TXT", txt, NULL, 1, 1, 2, "o1");
        assert_int_equal(pxt_store_merge(b, &o, "example.com"), PX_OK);
    }
    x = obs("x.example.com", "A", "192.0.2.7", NULL, 3, 50, 150, "o2");
    assert_int_equal(pxt_store_merge(b, &x, "example.com"), PX_OK);
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    assert_int_equal(gc.calls, 1);
    sink *k = rrset(f->s, "x.example.com", NULL, NULL);
    assert_int_equal(k->n, 1);
    assert_int_equal(k->r[0].count, 5);
    assert_int_equal(k->r[0].tf, 50);
    assert_int_equal(k->r[0].tl, 200);
    assert_int_equal(k->r[0].n_orgs, 2);
    assert_string_equal(k->r[0].bailiwick, "example.com");
    assert_string_equal(k->r[0].geo.as_org, "KPN B.V.");
    assert_int_equal(stats(f->s).records, N + 1);
    dom_seen d = {0};
    assert_int_equal(pxt_store_find_domain(f->s, "example.com", on_dom, &d), PX_OK);
    assert_int_equal(d.first, 1);
    assert_int_equal(d.last, 200);
    assert_int_equal(d.n, 2);
    assert_verified(f->s);
}

/* ---- big batches: the batch log ---- */

enum { LOGW_DOMS = 40, LOGW_KEYS = 3000, LOGW_OBS = 12000 };

/* Every record below .test, every domain, and the reverse index of a few
 * values; caller frees. */
static char *dump_store(px_store *s)
{
    pxt_dump d = {0};
    pxt_dump_add(&d, "records\n");
    assert_int_equal(pxt_store_find_rrset(s, "*.test", NULL, &nofence, pxt_dump_rec, &d), PX_OK);
    for (int i = 0; i < LOGW_DOMS; i++) {
        char dom[32];
        snprintf(dom, sizeof dom, "d%d.test", i);
        assert_int_equal(pxt_store_find_domain(s, dom, pxt_dump_dom, &d), PX_OK);
    }
    static const char *values[] = {"192.0.2.17", "2001:db8::5", "edge3.cdn.test", "mx7.mail.test"};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        pxt_dump_add(&d, "rdata %s\n", values[i]);
        assert_int_equal(pxt_store_find_rdata(s, values[i], &nofence, pxt_dump_rec, &d), PX_OK);
    }
    return d.p;
}

/* Observation i of a workload over LOGW_KEYS keys: A (GeoIP, two AS
 * organisations), AAAA, CNAME, MX, overlong TXT; bailiwicks as suffix,
 * as text and absent; three organisations. */
static px_avro_obs logw_obs(uint32_t i, char *name, char *rdata, char *bw, const char **type,
                            char *regdom)
{
    static const char *orgs[] = {"org-a", "org-b", "org-c"};
    uint32_t k = (i * 2654435761u) % LOGW_KEYS, d = k % LOGW_DOMS;
    snprintf(regdom, 32, "d%u.test", d);
    snprintf(name, 64, "h%u.d%u.test", k / LOGW_DOMS, d);
    switch (k % 5) {
    case 0:
        *type = "A";
        snprintf(rdata, 700, "%s.0.2.%u", k % 2 ? "192" : "203", k % 50);
        break;
    case 1:
        *type = "AAAA";
        snprintf(rdata, 700, "2001:db8::%x", k % 40);
        break;
    case 2:
        *type = "CNAME";
        snprintf(rdata, 700, "edge%u.cdn.test", k % 7);
        break;
    case 3:
        *type = "MX";
        snprintf(rdata, 700, "%u mx%u.mail.test", k % 3, k % 9);
        break;
    default:
        *type = "TXT";
        memset(rdata, 'a' + (int)(k % 26), 600);
        snprintf(rdata + 600, 100, "%u", k);
        break;
    }
    const char *b = k % 3 == 0 ? regdom : k % 3 == 1 ? "other.test" : NULL;
    if (b)
        snprintf(bw, 64, "%s", b);
    int64_t tf = 1700000000 + (int64_t)((i * 7919u) % 100000);
    return obs(name, *type, rdata, b ? bw : NULL, 1 + i % 4, tf, tf + i % 500, orgs[i % 3]);
}

/* Merges observations [from, to) of the workload into one batch; offset
 * of partition 0 = to. */
static px_err logw_batch(px_store *s, uint32_t from, uint32_t to)
{
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(s, &b), PX_OK);
    for (uint32_t i = from; i < to; i++) {
        char name[64], rdata[700], bw[64], regdom[32];
        const char *type;
        px_avro_obs o = logw_obs(i, name, rdata, bw, &type, regdom);
        assert_int_equal(pxt_store_merge(b, &o, regdom), PX_OK);
    }
    assert_int_equal(px_store_set_offset(b, "pdnsx.obs.t", 0, to), PX_OK);
    return px_store_batch_commit(b);
}

/* The reference: the workload in batches of 500 observations, each one
 * transaction (fewer records than a chunk). */
static char *logw_reference(geo_ctx *gc)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/pxstore.XXXXXX");
    assert_non_null(mkdtemp(dir));
    px_store *s = open_geo(dir, 0, 0, gc);
    for (uint32_t i = 0; i < LOGW_OBS; i += 500)
        assert_int_equal(logw_batch(s, i, i + 500), PX_OK);
    char *d = dump_store(s);
    px_store_close(s);
    char p[128];
    static const char *files[] = {"data.mdb", "lock.mdb", "batch.log"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
    return d;
}

static off_t log_size(const char *dir)
{
    char p[128];
    struct stat st;
    snprintf(p, sizeof p, "%s/batch.log", dir);
    return stat(p, &st) == 0 ? st.st_size : -1;
}

/* One batch of the whole workload in chunks of 97 records (and domains)
 * ends exactly as small batches do: counts, times, organisations,
 * bailiwicks, GeoIP (one lookup per new address record), overlong rdata,
 * reverse index, domains. */
static void test_log_same_as_small_batches(void **state)
{
    fix *f = *state;
    geo_ctx ref_gc = {0}, gc = {0};
    char *ref = logw_reference(&ref_gc);
    px_store_close(f->s);
    f->s = open_geo(f->dir, 97, 0, &gc);
    assert_int_equal(logw_batch(f->s, 0, LOGW_OBS), PX_OK);
    assert_false(px_store_log_pending(f->s));
    assert_int_equal(log_size(f->dir), 0); /* applied: its space is back */
    char *out = dump_store(f->s);
    assert_string_equal(out, ref);
    assert_int_equal(gc.calls, ref_gc.calls);
    int64_t next;
    assert_int_equal(px_store_get_offset(f->s, "pdnsx.obs.t", 0, &next), PX_OK);
    assert_int_equal(next, LOGW_OBS);
    assert_int_equal(stats(f->s).records, LOGW_KEYS);
    free(out);
    free(ref);
}

/* A crash between chunks (here: the application stops after a few, the
 * store is closed and opened again, twice) resumes at the next chunk:
 * the offsets are committed at once, nothing is counted twice or lost,
 * and no batch begins before the log is applied. */
static void test_log_resume(void **state)
{
    fix *f = *state;
    geo_ctx ref_gc = {0}, gc = {0};
    char *ref = logw_reference(&ref_gc);
    px_store_close(f->s);
    f->s = NULL;
    /* a process killed (SIGKILL) after three chunks */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        px_store *s = open_geo(f->dir, 97, 3, &gc);
        if (logw_batch(s, 0, LOGW_OBS) == PX_ERR_AGAIN && px_store_log_pending(s))
            raise(SIGKILL);
        _exit(1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    f->s = open_geo(f->dir, 97, 4, &gc);
    assert_true(px_store_log_pending(f->s)); /* found at open */
    int64_t next;
    assert_int_equal(px_store_get_offset(f->s, "pdnsx.obs.t", 0, &next), PX_OK);
    assert_int_equal(next, LOGW_OBS);
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(f->s, &b), PX_ERR_AGAIN);
    uint64_t partial = stats(f->s).records;
    assert_true(partial > 0 && partial < LOGW_KEYS);
    assert_true(px_store_log_pending(f->s)); /* found at open */
    uint64_t lost = 99;
    assert_int_equal(px_store_resume(f->s, &lost), PX_ERR_AGAIN);
    assert_int_equal(lost, 0);
    assert_true(stats(f->s).records > partial);

    /* stopped again, now among the reverse-index entries at the end
     * (3000 records in 31 chunks, then the domains') */
    px_store_close(f->s);
    f->s = open_geo(f->dir, 97, 30, &gc);
    assert_int_equal(px_store_resume(f->s, &lost), PX_ERR_AGAIN);
    assert_int_equal(stats(f->s).records, LOGW_KEYS);
    assert_true(px_store_log_pending(f->s));

    px_store_close(f->s);
    f->s = open_geo(f->dir, 97, 0, &gc);
    assert_int_equal(px_store_resume(f->s, &lost), PX_OK);
    assert_false(px_store_log_pending(f->s));
    assert_int_equal(px_store_resume(f->s, &lost), PX_OK); /* nothing left */
    char *out = dump_store(f->s);
    assert_string_equal(out, ref);
    assert_int_equal(log_size(f->dir), 0);
    free(out);
    /* and the next batch works */
    merge1(f->s, obs("late.d1.test", "A", "192.0.2.200", NULL, 1, 1, 2, "org-a"), "d1.test");
    assert_int_equal(rrset(f->s, "late.d1.test", NULL, NULL)->n, 1);
    free(ref);
    assert_verified(f->s);
}

/* Each line of `part` is a line of `whole`. */
static void assert_lines_within(const char *part, const char *whole)
{
    for (const char *l = part; *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l + 1) : strlen(l);
        bool found = false;
        for (const char *w = whole; !found && (w = strstr(w, "\n")) != NULL; w++)
            found = strncmp(w + 1, l, n) == 0;
        found = found || strncmp(whole, l, n) == 0;
        if (!found)
            fail_msg("line not in the reference: %.*s", (int)n, l);
        l += n;
    }
}

/* A damaged or missing log cannot be applied whole: by default nothing of
 * it is applied, the store says where and why, keeps it pending and takes
 * no new batch (a consumer stops); the full walk says it too. With
 * drop_damaged_log, what verifies is applied, the rest is reported lost,
 * and the store goes on. No record is counted twice. */
static void test_log_damaged(void **state)
{
    fix *f = *state;
    geo_ctx ref_gc = {0}, gc = {0};
    char *ref = logw_reference(&ref_gc);
    for (int missing = 0; missing < 2; missing++) {
        px_store_close(f->s);
        char p[128];
        snprintf(p, sizeof p, "%s/data.mdb", f->dir);
        unlink(p);
        f->s = open_geo(f->dir, 97, 2, &gc);
        assert_int_equal(logw_batch(f->s, 0, LOGW_OBS), PX_ERR_AGAIN);
        uint64_t before = stats(f->s).records;
        px_store_close(f->s);
        snprintf(p, sizeof p, "%s/batch.log", f->dir);
        if (missing) {
            assert_int_equal(unlink(p), 0);
        } else { /* one flipped byte in the middle */
            FILE *fp = fopen(p, "r+b");
            assert_non_null(fp);
            assert_int_equal(fseek(fp, log_size(f->dir) / 2, SEEK_SET), 0);
            int c = fgetc(fp);
            assert_int_equal(fseek(fp, log_size(f->dir) / 2, SEEK_SET), 0);
            fputc(c ^ 0x40, fp);
            fclose(fp);
        }
        reports r = {0};
        f->s = open_with(f->dir, (px_store_opts){.chunk_records = 97,
                                                 .on_damage = on_report,
                                                 .damage_ctx = &r,
                                                 .enrich = geo_fn,
                                                 .enrich_ctx = &gc});
        assert_true(px_store_log_pending(f->s));
        uint64_t lost = 0;
        assert_int_equal(px_store_resume(f->s, &lost), PX_ERR_DAMAGED);
        assert_int_equal(lost, 0);
        assert_true(px_store_log_pending(f->s));
        assert_int_equal(stats(f->s).records, before);
        const char *why = missing ? "batch.log: missing: chunks" : "batch.log: chunks fail";
        if (r.n != 1 || !strstr(r.all, why))
            fail_msg("%d reports: %s", r.n, r.all);
        px_store_batch *b;
        assert_int_equal(px_store_batch_begin(f->s, &b), PX_ERR_AGAIN);
        px_store_verify_result vr;
        assert_int_equal(px_store_verify(f->s, PX_STORE_CHECK_FULL, &vr), PX_ERR_DAMAGED);
        assert_true(vr.log_pending);
        assert_int_equal(vr.findings, 1);
        px_store_close(f->s);

        f->s = open_with(f->dir, (px_store_opts){.chunk_records = 97,
                                                 .drop_damaged_log = true,
                                                 .enrich = geo_fn,
                                                 .enrich_ctx = &gc});
        assert_int_equal(px_store_resume(f->s, &lost), PX_ERR_MALFORMED);
        assert_true(lost > 0);
        assert_false(px_store_log_pending(f->s));
        uint64_t n = stats(f->s).records;
        print_message("%s log: %llu chunks lost, %llu of %d records kept\n",
                      missing ? "missing" : "damaged", (unsigned long long)lost,
                      (unsigned long long)n, LOGW_KEYS);
        assert_true(n < LOGW_KEYS);
        char *out = dump_store(f->s);
        const char *recs_end = strstr(out, "domain ");
        if (recs_end) /* domains come last in the log: those kept are whole */
            assert_lines_within(recs_end, ref);
        char *dom = strstr(out, "domain "); /* records: each whole, never doubled */
        if (dom)
            *dom = '\0';
        char *rd = strstr(out, "rdata ");
        if (rd)
            *rd = '\0';
        assert_lines_within(out, ref);
        free(out);
        merge1(f->s, obs("late.d1.test", "A", "192.0.2.200", NULL, 1, 1, 2, "org-a"), "d1.test");
        assert_int_equal(px_store_verify(f->s, PX_STORE_CHECK_FULL, &vr), PX_OK);
    }
    free(ref);
}

/* A big batch that is aborted leaves no log to apply and no records. */
static void test_log_abort(void **state)
{
    fix *f = *state;
    px_store_close(f->s);
    f->s = open_opts(f->dir, 97, 0);
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
    for (uint32_t i = 0; i < (1u << 18) + 10; i++) { /* spills into the log */
        char name[64];
        snprintf(name, sizeof name, "h%u.d1.test", i);
        px_avro_obs o = obs(name, "TXT", "x", NULL, 1, 1, 2, "org-a");
        assert_int_equal(pxt_store_merge(b, &o, "d1.test"), PX_OK);
    }
    assert_true(log_size(f->dir) > 0);
    px_store_batch_abort(b);
    assert_int_equal(log_size(f->dir), 0);
    assert_false(px_store_log_pending(f->s));
    assert_int_equal(stats(f->s).records, 0);
    px_store_close(f->s);
    f->s = open_opts(f->dir, 97, 0);
    assert_false(px_store_log_pending(f->s));
    merge1(f->s, obs("late.d1.test", "A", "192.0.2.200", NULL, 1, 1, 2, "org-a"), "d1.test");
    assert_int_equal(stats(f->s).records, 1);
}

/* ---- size per record ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static void test_size_200k(void **state)
{
    fix *f = *state;
    static const char *words[] = {"shop",  "news", "cloud", "media", "bank",  "travel", "games",
                                  "mail",  "data", "api",   "photo", "music", "health", "sport",
                                  "learn", "home", "city",  "green", "smart", "fast"};
    static const char *tlds[] = {"com", "net", "org", "de", "co.uk", "nl", "io", "fr"};
    static const char *hosts[] = {"www", "mail", "api", "cdn", "static", "login", "img", "m"};
    static const char *orgs[] = {"cert-a", "cert-b", "isp-c", "univ-d", "telco-e", "gov-f"};
    enum { N = 200000 };
    px_store_batch *b = NULL;
    for (uint32_t i = 0; i < N; i++) {
        if (i % 10000 == 0) {
            if (b)
                assert_int_equal(px_store_batch_commit(b), PX_OK);
            assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
        }
        uint32_t d = i / 8; /* ~8 records per registered domain */
        char regdom[64], name[128], rdata[96];
        snprintf(regdom, sizeof regdom, "%s%s%u.%s", words[d % 20], words[(d / 20) % 20], d / 400,
                 tlds[d % 8]);
        snprintf(name, sizeof name, "%s%u.%s", hosts[i % 8], (i / 64) % 3, regdom);
        const char *type;
        uint32_t kind = rnd() % 100;
        if (kind < 70) {
            type = "A";
            snprintf(rdata, sizeof rdata, "%u.%u.%u.%u", 1 + (i >> 24), (i >> 16) & 255,
                     (i >> 8) & 255, i & 255);
        } else if (kind < 85) {
            type = "AAAA";
            snprintf(rdata, sizeof rdata, "2a02:%x:%x::%x", rnd() & 0xffff, i >> 16, i & 0xffff);
        } else if (kind < 95) {
            type = "CNAME";
            snprintf(rdata, sizeof rdata, "edge%u.cdnprovider.net", i);
        } else {
            type = "MX";
            snprintf(rdata, sizeof rdata, "10 mx%u.mailhost.com", i);
        }
        int64_t t0 = 1700000000 + (int64_t)(rnd() % 5000000);
        uint32_t norgs = 1 + rnd() % 3;
        for (uint32_t j = 0; j < norgs; j++) {
            int64_t tf = t0 + (int64_t)(rnd() % 86400), tl = tf + (int64_t)(rnd() % 864000);
            px_avro_obs o =
                obs(name, type, rdata, regdom, 1 + rnd() % 50, tf, tl, orgs[(i + j) % 6]);
            assert_int_equal(pxt_store_merge(b, &o, regdom), PX_OK);
        }
    }
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    px_store_stats st;
    assert_int_equal(px_store_get_stats(f->s, &st), PX_OK);
    assert_int_equal(st.records, N);
    double per = (double)st.bytes / (double)st.records;
    char path[128];
    struct stat fs;
    snprintf(path, sizeof path, "%s/data.mdb", f->dir);
    assert_int_equal(stat(path, &fs), 0);
    /* in use: pages of the trees; the file also holds LMDB's free pages */
    print_message("store: %llu records, %llu domains, %llu bytes in use, %.1f bytes/record "
                  "(data file %.1f bytes/record)\n",
                  (unsigned long long)st.records, (unsigned long long)st.domains,
                  (unsigned long long)st.bytes, per, (double)fs.st_size / (double)st.records);
    assert_true(st.bytes <= (uint64_t)fs.st_size);
    assert_true(per < 400.0);
    /* the target of issue 3, for the file on disk: batches of 10,000
     * observations go through the batch log (more records than a chunk),
     * so no transaction rewrites most pages */
    assert_true((double)fs.st_size / (double)st.records <= 256.0);
    assert_verified(f->s);
}

/* Batches that rewrite every record (TXT: no reverse-index entries) must
 * not leave the data file holding the data twice: LMDB keeps the old copy
 * of every page a transaction rewrote until two transactions later (file
 * ~3x the pages in use), one more without the store's release of freed
 * pages after each commit (~2x), and the batch log bounds what one
 * transaction rewrites to a chunk of 8,192 records (1.47x here). */
static void test_file_growth(void **state)
{
    fix *f = *state;
    enum { KEYS = 20000, BATCHES = 12 };
    for (int round = 0; round < BATCHES; round++) {
        px_store_batch *b;
        assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
        for (int i = 0; i < KEYS; i++) {
            char name[64], rdata[64];
            snprintf(name, sizeof name, "host%d.example%d.com", i, i / 16);
            snprintf(rdata, sizeof rdata, "\"v=spf1 include:%d\"", i);
            px_avro_obs o = obs(name, "TXT", rdata, NULL, 1, 1700000000 + round, 1700000000 + round,
                                (round % 2) ? "org-a" : "org-b");
            assert_int_equal(pxt_store_merge(b, &o, NULL), PX_OK);
        }
        assert_int_equal(px_store_batch_commit(b), PX_OK);
    }
    px_store_stats st;
    assert_int_equal(px_store_get_stats(f->s, &st), PX_OK);
    assert_int_equal(st.records, KEYS);
    char path[128];
    struct stat fs;
    snprintf(path, sizeof path, "%s/data.mdb", f->dir);
    assert_int_equal(stat(path, &fs), 0);
    double ratio = (double)fs.st_size / (double)st.bytes;
    print_message("data file %lld bytes, %llu in use: %.2f\n", (long long)fs.st_size,
                  (unsigned long long)st.bytes, ratio);
    assert_true(ratio < 1.7);
    assert_verified(f->s);
}

/* ---- key order of the flush ---- */

static int ref_cmp(const void *pa, const void *pb)
{
    const pxs_bkey *a = *(const pxs_bkey *const *)pa, *b = *(const pxs_bkey *const *)pb;
    size_t n = a->klen < b->klen ? a->klen : b->klen;
    int c = memcmp(a->key, b->key, n);
    if (c)
        return c;
    if (a->klen != b->klen)
        return a->klen < b->klen ? -1 : 1;
    return a->h < b->h ? -1 : a->h > b->h; /* equal keys: input order */
}

/* n keys built from a few shared stems (so many keys tie on their first
 * 16 bytes, zero padding included) plus short tails of bytes from a small
 * alphabet with NULs: prefixes of one another, equal keys, lengths 1-511.
 * h is the input position. */
static void make_keys(pxs_bkey *k, uint8_t (*bytes)[512], size_t n)
{
    static const uint8_t alpha[] = {0, 1, 'a', 'b', 0x7f, 0x80, 0xff};
    uint8_t stems[12][300];
    size_t stem_len[12];
    for (size_t i = 0; i < 12; i++) {
        stem_len[i] = i < 4 ? i * 5 : i < 10 ? 14 + i : 200 + rnd() % 100;
        for (size_t j = 0; j < stem_len[i]; j++)
            stems[i][j] = j < 6 ? (uint8_t) "com.ex"[j] : alpha[rnd() % 3 + 2];
    }
    for (size_t i = 0; i < n; i++) {
        size_t st = rnd() % 12, tail = rnd() % 14, len = stem_len[st];
        memcpy(bytes[i], stems[st], len);
        for (size_t j = 0; j < tail; j++)
            bytes[i][len++] = alpha[rnd() % sizeof alpha];
        if (rnd() % 50 == 0) /* now and then the longest key LMDB takes */
            for (; len < 511; len++)
                bytes[i][len] = alpha[rnd() % 2];
        if (len == 0)
            bytes[i][len++] = 'z';
        k[i] = (pxs_bkey){.h = i, .key = bytes[i], .klen = len};
    }
}

/* The flush writes in the order of pxs_bkeys_sort: LMDB's key order, and
 * equal keys (possible in the reverse index) in the order they came. */
static void test_key_order(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 2, 3, 17, 100, 5000, 40000};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        size_t n = sizes[t];
        pxs_bkey *k = calloc(n + 1, sizeof *k);
        uint8_t(*bytes)[512] = calloc(n + 1, sizeof *bytes);
        pxs_bkey **sorted = calloc(n + 1, sizeof *sorted), **want = calloc(n + 1, sizeof *want);
        assert_non_null(k);
        assert_non_null(bytes);
        assert_non_null(sorted);
        assert_non_null(want);
        make_keys(k, bytes, n);
        for (size_t i = 0; i < n; i++)
            sorted[i] = want[i] = &k[i];
        qsort(want, n, sizeof *want, ref_cmp);
        px_arena *a = px_arena_create(0);
        assert_non_null(a);
        assert_true(pxs_bkeys_sort(a, sorted, n));
        for (size_t i = 0; i < n; i++) {
            if (sorted[i] != want[i])
                fail_msg("n %zu: position %zu holds key #%llu, want #%llu", n, i,
                         (unsigned long long)sorted[i]->h, (unsigned long long)want[i]->h);
        }
        px_arena_destroy(a);
        free(k);
        free(bytes);
        free(sorted);
        free(want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_merge_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bailiwick_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_geo_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offsets_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wildcard_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wildcard_escaped_dot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rdata_reverse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rdata_same_target, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rdx_long_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_format_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pages_damaged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dlq_marks_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fences, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_rdata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_full_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_domain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_collision, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spill_merges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_same_as_small_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_damaged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_200k, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_growth, setup, teardown),
        cmocka_unit_test(test_key_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
