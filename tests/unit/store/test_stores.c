/* test_stores.c: the partitioned store (px_stores.h): the layout file,
 * attach / detach / remove of partition stores, lookups and counts over
 * the attached stores only, a reader that holds a store detached under
 * it, read-only opens of both layouts, and the refusal of the old single
 * store by a writable open. */
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

#include "store/px_stores.h"

static const px_store_fence all = {INT64_MIN, INT64_MAX};
static const px_store_lookup every = {
    .by = PX_STORE_BY_ZONE, .name = ".", .name_len = 1, .rrtype = PX_STORE_ANY_TYPE};

typedef struct fix {
    char dir[64];
    px_stores *ps;
} fix;

/* The records a lookup gave, as "name rdata" lines in order. */
typedef struct found {
    char lines[4096];
    size_t n;
} found;

static bool on_rec(void *ctx, const px_store_rec *r)
{
    found *f = ctx;
    size_t len = strlen(f->lines);
    snprintf(f->lines + len, sizeof f->lines - len, "%s %s\n", r->rrname, r->rdata);
    f->n++;
    return true;
}

/* One TXT record of name under regdom, by org, at time t. */
static void put(px_store *s, const char *name, const char *regdom, const char *org, int64_t t)
{
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(s, &b), PX_OK);
    px_store_obs o = {.rrname = name,
                      .rrname_len = strlen(name),
                      .rrtype = 16,
                      .rdata = "\"v\"",
                      .rdata_len = 3,
                      .regdom = regdom,
                      .regdom_len = strlen(regdom),
                      .org = org,
                      .count = 1,
                      .time_first = t,
                      .time_last = t};
    assert_int_equal(px_store_merge(b, &o), PX_OK);
    assert_int_equal(px_store_batch_commit(b), PX_OK);
}

static px_stores *open_set(const char *dir, bool read_only, px_err *err)
{
    char eb[512] = "";
    px_store_opts o = {.read_only = read_only, .map_bytes = 1u << 26};
    return px_stores_open(dir, &o, err, eb, sizeof eb);
}

static px_store *attach(px_stores *ps, int32_t partition)
{
    px_err err;
    char eb[512] = "";
    px_store *s = px_stores_attach(ps, partition, &err, eb, sizeof eb);
    assert_non_null(s);
    assert_int_equal(err, PX_OK);
    return s;
}

static int setup(void **state)
{
    fix *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/pxstores.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fix *f = *state;
    px_stores_close(f->ps);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static found find_all(px_stores *ps)
{
    found fd = {0};
    assert_int_equal(px_stores_find(ps, &every, &all, on_rec, &fd), PX_OK);
    return fd;
}

static bool path_exists(const char *dir, const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* Three partitions: 3, 0, 1 attached in that order, one domain each. */
static void fill(fix *f)
{
    px_err err;
    f->ps = open_set(f->dir, false, &err);
    assert_non_null(f->ps);
    put(attach(f->ps, 3), "www.three.org", "three.org", "o1", 300);
    put(attach(f->ps, 0), "www.zero.org", "zero.org", "o1", 100);
    put(attach(f->ps, 1), "www.one.org", "one.org", "o2", 200);
}

/* A fresh directory gets LAYOUT and a store per attached partition;
 * lookups fan out partition by partition. */
static void test_layout_and_fan_out(void **state)
{
    fix *f = *state;
    fill(f);
    assert_int_equal(px_stores_layout_of(f->dir), PX_STORES_PARTITIONED);
    assert_true(path_exists(f->dir, "partition-0/data.mdb"));
    assert_true(path_exists(f->dir, "partition-3/data.mdb"));
    assert_false(path_exists(f->dir, "data.mdb"));
    int32_t parts[8];
    assert_int_equal(px_stores_list(f->ps, parts, 8), 3);
    assert_int_equal(parts[0], 0);
    assert_int_equal(parts[1], 1);
    assert_int_equal(parts[2], 3);
    found fd = find_all(f->ps);
    assert_string_equal(fd.lines, "www.zero.org \"v\"\nwww.one.org \"v\"\nwww.three.org \"v\"\n");
    px_store_stats st;
    assert_int_equal(px_stores_get_stats(f->ps, &st), PX_OK);
    assert_int_equal(st.records, 3);
    assert_int_equal(st.domains, 3);
    assert_int_equal(px_stores_org_new_records(f->ps, "o1"), 2);
    assert_int_equal(px_stores_org_new_records(f->ps, "o2"), 1);
    px_store_verify_result r;
    assert_int_equal(px_stores_verify(f->ps, PX_STORE_CHECK_FULL, NULL, NULL, &r), PX_OK);
    assert_int_equal(r.records, 3);
    assert_int_equal(r.records_expected, 3);
}

/* A detached partition is not answered for; its files stay, and
 * attaching it again brings its records back. Removing deletes them. */
static void test_detach_and_remove(void **state)
{
    fix *f = *state;
    fill(f);
    px_stores_detach(f->ps, 1);
    assert_null(px_stores_get(f->ps, 1));
    int32_t present[4];
    assert_int_equal(px_stores_present(f->ps, present, 4), 2); /* partition-1 moved aside */
    assert_int_equal(present[0], 0);
    assert_int_equal(present[1], 3);
    assert_string_equal(find_all(f->ps).lines, "www.zero.org \"v\"\nwww.three.org \"v\"\n");
    /* kept aside, out of a reader's sight */
    assert_false(path_exists(f->dir, "partition-1"));
    assert_true(path_exists(f->dir, "detached-1/data.mdb"));
    attach(f->ps, 1);
    assert_true(path_exists(f->dir, "partition-1/data.mdb"));
    assert_false(path_exists(f->dir, "detached-1"));
    assert_int_equal(find_all(f->ps).n, 3);

    px_stores_detach(f->ps, 3);
    assert_int_equal(px_stores_remove(f->ps, 3), PX_OK);
    assert_false(path_exists(f->dir, "partition-3"));
    assert_false(path_exists(f->dir, "detached-3"));
    assert_int_equal(px_stores_list(f->ps, NULL, 0), 2);
    attach(f->ps, 3); /* a new, empty store */
    assert_string_equal(find_all(f->ps).lines, "www.zero.org \"v\"\nwww.one.org \"v\"\n");
}

/* An iterator holds the stores it reads: a partition detached (or
 * removed) meanwhile is read to the end, and closed with the reader;
 * removing it waits for the reader (PX_ERR_AGAIN). */
static void test_reader_holds_detached(void **state)
{
    fix *f = *state;
    fill(f);
    px_stores_iter *it;
    assert_int_equal(px_stores_iter_find(f->ps, NULL, &every, &all, &it), PX_OK);
    px_stores_detach(f->ps, 3);
    assert_int_equal(px_stores_remove(f->ps, 1), PX_ERR_AGAIN);
    assert_true(path_exists(f->dir, "detached-1/data.mdb"));
    found fd = {0};
    bool done = false;
    for (int steps = 0; !done && steps < 100; steps++)
        assert_int_equal(px_stores_iter_step(it, 1, on_rec, &fd, &done), PX_OK);
    assert_true(done);
    assert_int_equal(fd.n, 3);
    /* a lookup begun after the detach sees partition 0 only */
    assert_string_equal(find_all(f->ps).lines, "www.zero.org \"v\"\n");
    /* attach again while the reader still holds it: the same handle */
    px_store *again = attach(f->ps, 3);
    assert_non_null(again);
    px_stores_iter_free(it);
    assert_int_equal(find_all(f->ps).n, 2);
    assert_int_equal(px_stores_remove(f->ps, 1), PX_OK);
    assert_false(path_exists(f->dir, "partition-1"));
}

/* A store set aside (written with the changelog off) goes to
 * set-aside-<i>.<k>/, the first k free, never taken back: the next attach
 * makes a new, empty store, even while a reader still holds the old one
 * (it reads it to the end and closes it). */
static void test_set_aside(void **state)
{
    fix *f = *state;
    fill(f);
    px_stores_iter *it;
    assert_int_equal(px_stores_iter_find(f->ps, NULL, &every, &all, &it), PX_OK);
    char where[512] = "";
    assert_int_equal(px_stores_set_aside(f->ps, 1, where, sizeof where), PX_OK);
    char want[512];
    snprintf(want, sizeof want, "%s/set-aside-1.1", f->dir);
    assert_string_equal(where, want);
    assert_null(px_stores_get(f->ps, 1));
    assert_false(path_exists(f->dir, "partition-1"));
    assert_true(path_exists(f->dir, "set-aside-1.1/data.mdb"));
    px_store *fresh = attach(f->ps, 1); /* not the handle the reader holds */
    put(fresh, "www.new.org", "new.org", "o1", 60);
    found fd = {0};
    bool done = false;
    for (int steps = 0; !done && steps < 100; steps++)
        assert_int_equal(px_stores_iter_step(it, 1, on_rec, &fd, &done), PX_OK);
    assert_int_equal(fd.n, 3); /* the old stores, as when it began */
    px_stores_iter_free(it);
    assert_string_equal(find_all(f->ps).lines,
                        "www.zero.org \"v\"\nwww.new.org \"v\"\nwww.three.org \"v\"\n");
    /* a second time: the next free name; the first stays */
    assert_int_equal(px_stores_set_aside(f->ps, 1, NULL, 0), PX_OK);
    assert_true(path_exists(f->dir, "set-aside-1.1/data.mdb"));
    assert_true(path_exists(f->dir, "set-aside-1.2/data.mdb"));
    int32_t present[4];
    assert_int_equal(px_stores_present(f->ps, present, 4), 2);
    attach(f->ps, 1);
    assert_int_equal(find_all(f->ps).n, 2);
}

/* A read-only open attaches every partition store present, not those
 * detached. */
static void test_read_only(void **state)
{
    fix *f = *state;
    fill(f);
    px_stores_detach(f->ps, 1);
    px_stores_close(f->ps);
    px_err err;
    f->ps = open_set(f->dir, true, &err);
    assert_non_null(f->ps);
    assert_int_equal(px_stores_list(f->ps, NULL, 0), 2);
    assert_string_equal(find_all(f->ps).lines, "www.zero.org \"v\"\nwww.three.org \"v\"\n");
    px_stores_close(f->ps);
    /* a directory with nothing is no store for a reader */
    char empty[80];
    snprintf(empty, sizeof empty, "%s/empty", f->dir);
    assert_int_equal(mkdir(empty, 0755), 0);
    assert_int_equal(px_stores_layout_of(empty), PX_STORES_NONE);
    f->ps = open_set(empty, true, &err);
    assert_null(f->ps);
    assert_int_equal(err, PX_ERR_NOTFOUND);
}

/* The single store of earlier releases: a reader reads it as one store, a
 * writable open refuses it saying what to do. */
static void test_single_layout(void **state)
{
    fix *f = *state;
    px_err err;
    char eb[512] = "";
    px_store_opts o = {.map_bytes = 1u << 26};
    px_store *s = px_store_open(f->dir, &o, &err, eb, sizeof eb);
    assert_non_null(s);
    put(s, "www.old.org", "old.org", "o1", 50);
    px_store_close(s);
    assert_int_equal(px_stores_layout_of(f->dir), PX_STORES_SINGLE);
    o.read_only = false;
    assert_null(px_stores_open(f->dir, &o, &err, eb, sizeof eb));
    assert_int_equal(err, PX_ERR_UNSUPPORTED);
    assert_non_null(strstr(eb, "Move the old directory aside"));
    assert_false(path_exists(f->dir, "LAYOUT"));
    f->ps = open_set(f->dir, true, &err);
    assert_non_null(f->ps);
    int32_t part = 0;
    assert_int_equal(px_stores_list(f->ps, &part, 1), 1);
    assert_int_equal(part, PX_STORES_ALL);
    assert_string_equal(find_all(f->ps).lines, "www.old.org \"v\"\n");
}

/* LAYOUT of another version: neither a writer nor a reader uses it. */
static void test_other_layout(void **state)
{
    fix *f = *state;
    char p[128];
    snprintf(p, sizeof p, "%s/LAYOUT", f->dir);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs("pdnsx partitioned store 2\n", fp);
    fclose(fp);
    assert_int_equal(px_stores_layout_of(f->dir), PX_STORES_OTHER);
    px_err err;
    assert_null(open_set(f->dir, false, &err));
    assert_int_equal(err, PX_ERR_UNSUPPORTED);
    assert_null(open_set(f->dir, true, &err));
    assert_int_equal(err, PX_ERR_UNSUPPORTED);
}

typedef struct dom_seen {
    int calls;
    int64_t first, last;
    char orgs[64];
} dom_seen;

static bool on_dom(void *ctx, const px_store_domain *d)
{
    dom_seen *s = ctx;
    s->calls++;
    s->first = d->first_seen;
    s->last = d->last_seen;
    for (size_t i = 0; i < d->n_orgs; i++)
        snprintf(s->orgs + strlen(s->orgs), sizeof s->orgs - strlen(s->orgs), "%s,", d->orgs[i]);
    return true;
}

/* Rows of one registered domain in two stores (the keying never does
 * that, a fan-out must still answer one row) combine as the merge would. */
static void test_domain_rows_combine(void **state)
{
    fix *f = *state;
    px_err err;
    f->ps = open_set(f->dir, false, &err);
    put(attach(f->ps, 0), "a.dup.org", "dup.org", "o2", 500);
    put(attach(f->ps, 5), "b.dup.org", "dup.org", "o1", 400);
    put(px_stores_get(f->ps, 5), "c.dup.org", "dup.org", "o2", 900);
    dom_seen d = {0};
    assert_int_equal(px_stores_find_domain(f->ps, NULL, "dup.org", 7, on_dom, &d), PX_OK);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.first, 400);
    assert_int_equal(d.last, 900);
    assert_string_equal(d.orgs, "o1,o2,");
    d = (dom_seen){0};
    assert_int_equal(px_stores_find_domain(f->ps, NULL, "none.org", 8, on_dom, &d), PX_OK);
    assert_int_equal(d.calls, 0);
}

/* The partitions a selector wants, as bits; each partition asked about
 * is recorded. */
typedef struct wanting {
    unsigned want, asked;
} wanting;

static bool want_some(void *ctx, int32_t partition)
{
    wanting *w = ctx;
    assert_true(partition >= 0 && partition < 32);
    w->asked |= 1u << partition;
    return w->want & (1u << partition);
}

/* Reads the stores sel wants through the iterator, a key a step. */
static found iter_all(px_stores *ps, const px_stores_sel *sel)
{
    px_stores_iter *it;
    assert_int_equal(px_stores_iter_find(ps, sel, &every, &all, &it), PX_OK);
    found fd = {0};
    bool done = false;
    while (!done)
        assert_int_equal(px_stores_iter_step(it, 1, on_rec, &fd, &done), PX_OK);
    px_stores_iter_free(it);
    return fd;
}

/* A selector (the query endpoint's owned partitions) leaves the other
 * attached stores unread, for the iterator and the domain row alike; a
 * detached store is never asked about. */
static void test_selector(void **state)
{
    fix *f = *state;
    fill(f); /* 0, 1, 3 */
    put(attach(f->ps, 4), "x.one.org", "one.org", "o3", 50);
    px_stores_detach(f->ps, 4);
    wanting w = {.want = 1u << 0 | 1u << 3};
    px_stores_sel sel = {want_some, &w};
    assert_string_equal(iter_all(f->ps, &sel).lines, "www.zero.org \"v\"\nwww.three.org \"v\"\n");
    assert_int_equal(w.asked, 1u << 0 | 1u << 1 | 1u << 3);
    w.want = 1u << 1;
    assert_string_equal(iter_all(f->ps, &sel).lines, "www.one.org \"v\"\n");
    w.want = 0;
    assert_int_equal(iter_all(f->ps, &sel).n, 0);
    /* no selector, or one without want: every attached store */
    assert_int_equal(iter_all(f->ps, NULL).n, 3);
    assert_int_equal(iter_all(f->ps, &(px_stores_sel){0}).n, 3);
    /* the domain row: one.org's store (1) alone, then none */
    attach(f->ps, 4);
    dom_seen d = {0};
    w.want = 1u << 1;
    assert_int_equal(px_stores_find_domain(f->ps, &sel, "one.org", 7, on_dom, &d), PX_OK);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.first, 200);
    assert_string_equal(d.orgs, "o2,");
    d = (dom_seen){0};
    w.want = 1u << 4;
    assert_int_equal(px_stores_find_domain(f->ps, &sel, "one.org", 7, on_dom, &d), PX_OK);
    assert_int_equal(d.first, 50);
    assert_string_equal(d.orgs, "o3,");
    d = (dom_seen){0};
    w.want = 1u << 0;
    assert_int_equal(px_stores_find_domain(f->ps, &sel, "one.org", 7, on_dom, &d), PX_OK);
    assert_int_equal(d.calls, 0);
}

/* px_stores_wrap: one store opened elsewhere, never closed by the set. */
static void test_wrap(void **state)
{
    fix *f = *state;
    px_err err;
    char eb[512];
    px_store_opts o = {.map_bytes = 1u << 26};
    px_store *s = px_store_open(f->dir, &o, &err, eb, sizeof eb);
    put(s, "www.w.org", "w.org", "o1", 1);
    px_stores *w = px_stores_wrap(s, 7);
    assert_non_null(w);
    assert_null(px_stores_attach(w, 8, &err, eb, sizeof eb));
    assert_int_equal(err, PX_ERR_INVAL);
    assert_int_equal(find_all(w).n, 1);
    px_stores_close(w);
    put(s, "www2.w.org", "w.org", "o1", 2); /* still open */
    px_store_close(s);
}

static void test_partition_range(void **state)
{
    fix *f = *state;
    px_err err;
    char eb[256];
    f->ps = open_set(f->dir, false, &err);
    assert_null(px_stores_attach(f->ps, -1, &err, eb, sizeof eb));
    assert_int_equal(err, PX_ERR_INVAL);
    assert_null(px_stores_attach(f->ps, PX_STORES_MAX_PARTITION + 1, &err, eb, sizeof eb));
    assert_int_equal(err, PX_ERR_INVAL);
    /* a directory that is no partition's is left out by a reader */
    char junk[128];
    snprintf(junk, sizeof junk, "%s/partition-01", f->dir);
    assert_int_equal(mkdir(junk, 0755), 0);
    attach(f->ps, 2);
    px_stores_close(f->ps);
    f->ps = open_set(f->dir, true, &err);
    assert_non_null(f->ps);
    int32_t parts[4];
    assert_int_equal(px_stores_list(f->ps, parts, 4), 1);
    assert_int_equal(parts[0], 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_layout_and_fan_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detach_and_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_holds_detached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_aside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_rows_combine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_selector, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partition_range, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
