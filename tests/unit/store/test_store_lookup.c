/* test_store_lookup.c: lookups on canonical input (px_store_find,
 * px_store_iter_find, px_store_find_domain), and what the user typed
 * parsed once through lib/dns before them (tests/support/store_text.h:
 * px_dns_name_canon, px_addr_parse, px_dns_type_parse): every spelling of
 * a name or an address finds what its canonical form finds, input that is
 * not canonical is refused by the store, input the parser refuses by the
 * parser, and a zone lookup keeps its rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/px_store.h"
#include "store_text.h"

typedef struct fix {
    char dir[64];
    px_store *s;
} fix;

/* The records a lookup gave, as "name type rdata" lines in order. */
typedef struct found {
    char lines[2048];
    size_t n;
} found;

static bool on_rec(void *ctx, const px_store_rec *r)
{
    found *f = ctx;
    size_t len = strlen(f->lines);
    snprintf(f->lines + len, sizeof f->lines - len, "%s %s %s\n", r->rrname, r->rrtype, r->rdata);
    f->n++;
    return true;
}

typedef struct dom_seen {
    int n;
    char name[64];
} dom_seen;

static bool on_dom(void *ctx, const px_store_domain *dm)
{
    dom_seen *d = ctx;
    d->n++;
    snprintf(d->name, sizeof d->name, "%s", dm->domain);
    return true;
}

static const px_store_fence all = {INT64_MIN, INT64_MAX};

static void put(px_store_batch *b, const char *name, uint16_t type, const char *rdata,
                const uint8_t *addr, size_t alen, const char *regdom)
{
    px_store_obs o = {.rrname = name,
                      .rrname_len = strlen(name),
                      .rrtype = type,
                      .rdata = rdata,
                      .rdata_len = rdata ? strlen(rdata) : 0,
                      .rdata_wire = addr,
                      .rdata_wire_len = alen,
                      .regdom = regdom,
                      .regdom_len = regdom ? strlen(regdom) : 0,
                      .org = "o1",
                      .count = 1,
                      .time_first = 100,
                      .time_last = 200};
    assert_int_equal(px_store_merge(b, &o), PX_OK);
}

static const uint8_t v4[4] = {1, 2, 3, 4};
static const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4};
static const uint8_t nat64[16] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};

static int setup(void **state)
{
    fix *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/pxlookup.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    px_err err;
    char eb[256];
    f->s = px_store_open(f->dir, &(px_store_opts){0}, &err, eb, sizeof eb);
    assert_non_null(f->s);
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
    put(b, "www.example.com", 1, NULL, v4, 4, "example.com");
    put(b, "www.example.com", 28, NULL, mapped, 16, "example.com");
    put(b, "nat.example.com", 28, NULL, nat64, 16, "example.com");
    put(b, "alias.example.com", 5, "target.example.net", NULL, 0, "example.com");
    put(b, "example.com", 15, "10 target.example.net", NULL, 0, "example.com");
    put(b, "b.example.com", 1, NULL, v4, 4, "example.com");
    put(b, "x.b.example.com", 1, NULL, v4, 4, "example.com");
    put(b, "y.x.b.example.com", 16, "\"t\"", NULL, 0, "example.com");
    put(b, "a\\.b.example.com", 1, NULL, v4, 4, "example.com"); /* one label "a.b" */
    put(b, "*.b.example.com", 1, NULL, v4, 4, "example.com");   /* a wildcard owner */
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fix *f = *state;
    px_store_close(f->s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static found by_rdata(px_store *s, const char *value)
{
    found f = {0};
    assert_int_equal(pxt_store_find_rdata(s, value, &all, on_rec, &f), PX_OK);
    return f;
}

static found by_lookup(px_store *s, px_store_lookup l)
{
    found f = {0};
    assert_int_equal(px_store_find(s, &l, &all, on_rec, &f), PX_OK);
    return f;
}

/* Each spelling of an address finds the record stored under its bytes,
 * given in the one address text. */
static void test_addr_spellings(void **state)
{
    fix *f = *state;
    static const char *const spell[] = {"::ffff:102:304", "::ffff:1.2.3.4", "::FFFF:102:304",
                                        "0:0:0:0:0:ffff:102:304", "0000::FFFF:0102:0304"};
    found want =
        by_lookup(f->s, (px_store_lookup){.by = PX_STORE_BY_ADDR, .addr = mapped, .addr_len = 16});
    assert_int_equal(want.n, 1);
    assert_string_equal(want.lines, "www.example.com AAAA ::ffff:102:304\n");
    for (size_t i = 0; i < sizeof spell / sizeof spell[0]; i++) {
        found got = by_rdata(f->s, spell[i]);
        assert_string_equal(got.lines, want.lines);
    }
    found nat = by_rdata(f->s, "64:ff9b::1.2.3.4");
    assert_string_equal(nat.lines, "nat.example.com AAAA 64:ff9b::102:304\n");
    assert_string_equal(by_rdata(f->s, "64:FF9B:0:0:0:0:102:304").lines, nat.lines);
    found a = by_rdata(f->s, "1.2.3.4");
    assert_int_equal(a.n, 5);
    assert_string_equal(
        a.lines,
        by_lookup(f->s, (px_store_lookup){.by = PX_STORE_BY_ADDR, .addr = v4, .addr_len = 4})
            .lines);
}

/* A name in any spelling finds what its canonical text finds, as owner,
 * as rdata target and as registered domain. */
static void test_name_spellings(void **state)
{
    fix *f = *state;
    found want = by_lookup(f->s, (px_store_lookup){.by = PX_STORE_BY_NAME,
                                                   .name = "www.example.com",
                                                   .name_len = 15,
                                                   .rrtype = PX_STORE_ANY_TYPE});
    assert_int_equal(want.n, 2);
    static const char *const spell[] = {"www.example.com", "WWW.Example.COM.",
                                        "\\119ww.example.com", "w\\WW.example.\\099om"};
    for (size_t i = 0; i < sizeof spell / sizeof spell[0]; i++) {
        found got = {0};
        assert_int_equal(pxt_store_find_rrset(f->s, spell[i], NULL, &all, on_rec, &got), PX_OK);
        assert_string_equal(got.lines, want.lines);
    }
    found a = {0};
    assert_int_equal(pxt_store_find_rrset(f->s, "WWW.example.com", "a", &all, on_rec, &a), PX_OK);
    assert_string_equal(a.lines, "www.example.com A 1.2.3.4\n");

    found tgt = by_lookup(
        f->s,
        (px_store_lookup){.by = PX_STORE_BY_TARGET, .name = "target.example.net", .name_len = 18});
    assert_int_equal(tgt.n, 2);
    assert_string_equal(by_rdata(f->s, "TARGET.Example.NET.").lines, tgt.lines);
    assert_string_equal(by_rdata(f->s, "\\116arget.example.net").lines, tgt.lines);

    dom_seen d = {0};
    assert_int_equal(px_store_find_domain(f->s, "example.com", 11, on_dom, &d), PX_OK);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.name, "example.com");
    assert_int_equal(pxt_store_find_domain(f->s, "EXAMPLE.Com.", on_dom, &d), PX_OK);
    assert_int_equal(d.n, 2);
}

/* Input that is not canonical is refused by the store; input the parser
 * refuses, by lib/dns before any lookup; nothing is called back. */
static void test_invalid_refused(void **state)
{
    fix *f = *state;
    found none = {0};
    static const px_store_lookup bad[] = {
        {.by = PX_STORE_BY_NAME, .name = "WWW.example.com", .name_len = 15, .rrtype = -1},
        {.by = PX_STORE_BY_NAME, .name = "www.example.com.", .name_len = 16, .rrtype = -1},
        {.by = PX_STORE_BY_NAME, .name = "\\119ww.example.com", .name_len = 18, .rrtype = -1},
        {.by = PX_STORE_BY_NAME, .name = "", .name_len = 0, .rrtype = -1},
        {.by = PX_STORE_BY_NAME, .name = "www.example.com", .name_len = 15, .rrtype = 65536},
        {.by = PX_STORE_BY_NAME, .name = "www.example.com", .name_len = 15, .rrtype = -2},
        {.by = PX_STORE_BY_ZONE, .name = "B.example.com", .name_len = 13, .rrtype = -1},
        {.by = PX_STORE_BY_ADDR, .addr = v4, .addr_len = 5},
        {.by = PX_STORE_BY_ADDR, .addr = NULL, .addr_len = 4},
        {.by = PX_STORE_BY_TARGET, .name = "Target.example.net", .name_len = 18},
        {.by = 0, .name = "www.example.com", .name_len = 15},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(px_store_find(f->s, &bad[i], &all, on_rec, &none), PX_ERR_INVAL);
        px_store_iter *it = (px_store_iter *)&none;
        assert_int_equal(px_store_iter_find(f->s, &bad[i], &all, &it), PX_ERR_INVAL);
        assert_null(it);
    }
    assert_int_equal(none.n, 0);
    dom_seen d = {0};
    assert_int_equal(px_store_find_domain(f->s, ".", 1, on_dom, &d), PX_ERR_INVAL);
    assert_int_equal(px_store_find_domain(f->s, "Example.com", 11, on_dom, &d), PX_ERR_INVAL);

    char longname[400];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    for (size_t i = 63; i < sizeof longname - 1; i += 64)
        longname[i] = '.';
    assert_int_equal(pxt_store_find_rrset(f->s, longname, NULL, &all, on_rec, &none),
                     PX_ERR_TOOLONG);
    static const char *const bad_names[] = {"a..b", "\\256.example.com", "www.example.com\\", "..",
                                            "a b.example.com"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        assert_int_equal(pxt_store_find_rrset(f->s, bad_names[i], NULL, &all, on_rec, &none),
                         PX_ERR_INVAL);
        assert_int_equal(pxt_store_find_rdata(f->s, bad_names[i], &all, on_rec, &none),
                         PX_ERR_INVAL);
        assert_int_equal(pxt_store_find_domain(f->s, bad_names[i], on_dom, &d), PX_ERR_INVAL);
    }
    assert_int_equal(pxt_store_find_rrset(f->s, "www.example.com", "NOPE", &all, on_rec, &none),
                     PX_ERR_INVAL);
    assert_int_equal(pxt_store_find_rdata(f->s, "", &all, on_rec, &none), PX_ERR_INVAL);
    assert_int_equal(none.n, 0);
    assert_int_equal(d.n, 0);
}

/* Names strictly below a zone as DNS has them: not the zone itself, not
 * "a\.b.example.com" (one label under example.com); "." is every name. A
 * wildcard owner is a name like any other for BY_NAME. */
static void test_zone_rules(void **state)
{
    fix *f = *state;
    px_store_lookup zone = {.by = PX_STORE_BY_ZONE,
                            .name = "b.example.com",
                            .name_len = 13,
                            .rrtype = PX_STORE_ANY_TYPE};
    found z = by_lookup(f->s, zone);
    assert_string_equal(z.lines, "*.b.example.com A 1.2.3.4\n"
                                 "x.b.example.com A 1.2.3.4\n"
                                 "y.x.b.example.com TXT \"t\"\n");
    found t = {0};
    assert_int_equal(pxt_store_find_rrset(f->s, "*.B.Example.COM.", NULL, &all, on_rec, &t), PX_OK);
    assert_string_equal(t.lines, z.lines);

    zone.rrtype = 16;
    assert_string_equal(by_lookup(f->s, zone).lines, "y.x.b.example.com TXT \"t\"\n");

    px_store_iter *it;
    zone.rrtype = PX_STORE_ANY_TYPE;
    assert_int_equal(px_store_iter_find(f->s, &zone, &all, &it), PX_OK);
    found step = {0};
    bool done = false;
    while (!done)
        assert_int_equal(px_store_iter_step(it, 1, on_rec, &step, &done), PX_OK);
    px_store_iter_free(it);
    assert_string_equal(step.lines, z.lines);

    found every = by_lookup(
        f->s, (px_store_lookup){
                  .by = PX_STORE_BY_ZONE, .name = ".", .name_len = 1, .rrtype = PX_STORE_ANY_TYPE});
    assert_int_equal(every.n, 10);
    found star = {0};
    assert_int_equal(pxt_store_find_rrset(f->s, "*", NULL, &all, on_rec, &star), PX_OK);
    assert_string_equal(star.lines, every.lines);

    found lit = by_lookup(f->s, (px_store_lookup){.by = PX_STORE_BY_NAME,
                                                  .name = "*.b.example.com",
                                                  .name_len = 15,
                                                  .rrtype = PX_STORE_ANY_TYPE});
    assert_string_equal(lit.lines, "*.b.example.com A 1.2.3.4\n");
    found esc = by_lookup(f->s, (px_store_lookup){.by = PX_STORE_BY_NAME,
                                                  .name = "a\\.b.example.com",
                                                  .name_len = 16,
                                                  .rrtype = 1});
    assert_string_equal(esc.lines, "a\\.b.example.com A 1.2.3.4\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_addr_spellings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_spellings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zone_rules, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
