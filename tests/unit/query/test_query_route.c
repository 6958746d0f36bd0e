/* test_query_route: which member answers a lookup (px_query_route.h): the
 * partition of a name as the producers key it, the routing of each kind of
 * lookup, a member's partitions and their JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kafka/px_kafka_partition.h"
#include "obs/px_psl.h"
#include "query/px_query.h"
#include "query/px_query_route.h"

static char errbuf[512];

static px_query_req req_of(const char *kind, const char *arg)
{
    px_query_req r;
    px_query_req_init(&r);
    char *argv[] = {(char *)kind, (char *)arg, NULL};
    if (px_query_req_parse_args(&r, 2, argv, errbuf, sizeof(errbuf)) != PX_OK)
        fail_msg("%s %s: %s", kind, arg, errbuf);
    return r;
}

static int32_t part(const char *key, int32_t n)
{
    return px_kafka_partition_of(key, strlen(key), n);
}

/* The producers' key: the registered domain of the name (libpsl, both
 * sections); a name that is a public suffix, or the root, is its own. */
static void test_partition_of_name(void **state)
{
    (void)state;
    static const struct {
        const char *name, *key;
    } v[] = {
        {"example.com", "example.com"},
        {"www.example.com", "example.com"},
        {"a.b.c.example.co.uk", "example.co.uk"},
        {"foo.github.io", "foo.github.io"}, /* a private-section suffix */
        {"x.foo.github.io", "foo.github.io"},
        {"com", "com"}, /* a public suffix: its own key */
        {"co.uk", "co.uk"},
        {"localhost", "localhost"}, /* an unknown top-level label */
        {"xn--mnchen-3ya.de", "xn--mnchen-3ya.de"},
        {"www.xn--mnchen-3ya.de", "xn--mnchen-3ya.de"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        const char *key;
        size_t len;
        assert_int_equal(px_psl_key(v[i].name, strlen(v[i].name), &key, &len), PX_OK);
        assert_int_equal(len, strlen(v[i].key));
        assert_memory_equal(key, v[i].key, len);
        for (int32_t n = 1; n <= 12; n++)
            assert_int_equal(px_query_partition_of(v[i].name, strlen(v[i].name), n),
                             part(v[i].key, n));
    }
    assert_int_equal(px_query_partition_of("example.com", 11, 0), -1);
}

/* rrset of a name and domain go to one partition: that of the name's
 * registered domain, whatever the spelling typed (case, trailing dot, an
 * IDN in A-label form as the store keeps it). */
static void test_route_one(void **state)
{
    (void)state;
    const int32_t n = 12;
    const char *spellings[] = {"www.example.com", "WWW.Example.COM.", "example.com",
                               "deep.a.b.example.com"};
    for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
        px_query_req r = req_of("rrset", spellings[i]);
        assert_int_equal(px_query_route(&r, n), part("example.com", n));
    }
    px_query_req r = req_of("domain", "Example.COM");
    assert_int_equal(px_query_route(&r, n), part("example.com", n));
    r = req_of("rrset", "www.XN--MNCHEN-3YA.de");
    assert_int_equal(px_query_route(&r, n), part("xn--mnchen-3ya.de", n));
    /* the records of the wildcard owner itself: a name like any other */
    r = req_of("rrset", "\\*.example.com");
    assert_int_equal(px_query_route(&r, n), part("example.com", n));
    /* names with no registered domain: the key the producers give them */
    r = req_of("rrset", "com");
    assert_int_equal(px_query_route(&r, n), part("com", n));
    r = req_of("rrset", "CO.UK.");
    assert_int_equal(px_query_route(&r, n), part("co.uk", n));
    r = req_of("rrset", "foo.github.io");
    assert_int_equal(px_query_route(&r, n), part("foo.github.io", n));
}

/* rdata and every wildcard fan out: below a zone, even one at or below a
 * registered domain, a public suffix can start registered domains of
 * their own (elb.amazonaws.com below amazonaws.com). */
static void test_route_all(void **state)
{
    (void)state;
    const char *const all[][2] = {
        {"rdata", "192.0.2.1"},       {"rdata", "2001:db8::1"},     {"rdata", "www.example.com"},
        {"rrset", "*.com"},           {"rrset", "*.co.uk"},         {"rrset", "*.example.com"},
        {"rrset", "*.a.example.com"}, {"rrset", "*.amazonaws.com"}, {"rrset", "*.github.io"},
    };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        px_query_req r = req_of(all[i][0], all[i][1]);
        assert_int_equal(px_query_route(&r, 12), -1);
    }
    /* why: names below amazonaws.com are not all keyed amazonaws.com */
    const char *key;
    size_t len;
    const char *elb = "x.eu-west-1.elb.amazonaws.com";
    assert_int_equal(px_psl_key(elb, strlen(elb), &key, &len), PX_OK);
    assert_string_equal(key, elb);
    px_query_req r = req_of("rrset", "www.example.com");
    assert_int_equal(px_query_route(&r, 0), -1);
}

static void test_parts_json(void **state)
{
    (void)state;
    px_query_owner *o = px_query_owner_create();
    assert_non_null(o);
    px_query_parts p;
    assert_int_equal(px_query_owner_get(o, &p), PX_OK);
    assert_int_equal(p.partitions, 0);
    char *j = px_query_parts_json(&p);
    assert_non_null(strstr(j, "{\"partitions\":0,\"owned\":[],\"restoring\":[],\"assignment\":\""));
    free(j);
    px_query_parts_free(&p);

    const int32_t owned[] = {5, 0, 2};
    assert_int_equal(px_query_owner_assign(o, 6, owned, 3), PX_OK);
    assert_int_equal(px_query_owner_restoring(o, 2, true), PX_OK);
    assert_int_equal(px_query_owner_restoring(o, 1, true), PX_ERR_NOTFOUND);
    assert_int_equal(px_query_owner_get(o, &p), PX_OK);
    assert_int_equal(px_query_parts_owned(&p), 3);
    uint64_t fp = px_query_parts_assignment(&p);
    j = px_query_parts_json(&p);
    char want[160];
    snprintf(want, sizeof(want),
             "{\"partitions\":6,\"owned\":[0,2,5],\"restoring\":[2],\"assignment\":\"%016llx\"}\n",
             (unsigned long long)fp);
    assert_string_equal(j, want);
    px_query_parts back;
    uint64_t back_fp = 0;
    assert_int_equal(px_query_parts_parse(j, strlen(j), &back, &back_fp, errbuf, 512), PX_OK);
    assert_int_equal(back.partitions, 6);
    assert_memory_equal(back.state, p.state, 6);
    assert_true(back_fp == fp);
    px_query_parts_free(&back);
    free(j);
    px_query_parts_free(&p);

    /* a new assignment keeps a partition restoring while it stays owned,
     * and changes the fingerprint */
    const int32_t next[] = {2, 3};
    assert_int_equal(px_query_owner_assign(o, 6, next, 2), PX_OK);
    assert_int_equal(px_query_owner_get(o, &p), PX_OK);
    assert_true(px_query_parts_is(&p, 2, PX_QUERY_PART_RESTORING));
    assert_false(px_query_parts_is(&p, 5, PX_QUERY_PART_OWNED));
    assert_true(px_query_parts_assignment(&p) != fp);
    px_query_parts_free(&p);
    assert_int_equal(px_query_owner_restoring(o, 2, false), PX_OK);
    assert_int_equal(px_query_owner_get(o, &p), PX_OK);
    assert_false(px_query_parts_is(&p, 2, PX_QUERY_PART_RESTORING));
    assert_true(px_query_parts_is(&p, 2, PX_QUERY_PART_OWNED));
    px_query_parts_free(&p);
    const int32_t bad[] = {6};
    assert_int_equal(px_query_owner_assign(o, 6, bad, 1), PX_ERR_INVAL);
    px_query_owner_destroy(o);
    px_query_owner_destroy(NULL);
}

/* Another member's answer is checked, never trusted. */
static void test_parts_parse_bad(void **state)
{
    (void)state;
    const char *fp = "\"assignment\":\"0123456789abcdef\"";
    const char *const bad[][2] = {
        {"", "not a JSON object"},
        {"[]", "not a JSON object"},
        {"{\"partitions\":0,\"owned\":[],\"restoring\":[],%s}", "\"partitions\""},
        {"{\"partitions\":100001,\"owned\":[],\"restoring\":[],%s}", "\"partitions\""},
        {"{\"partitions\":\"4\",\"owned\":[],\"restoring\":[],%s}", "\"partitions\""},
        {"{\"partitions\":4,\"owned\":[4],\"restoring\":[],%s}", "\"owned\" names no partition"},
        {"{\"partitions\":4,\"owned\":[-1],\"restoring\":[],%s}", "\"owned\" names no partition"},
        {"{\"partitions\":4,\"owned\":{},\"restoring\":[],%s}", "\"owned\" is not a list"},
        {"{\"partitions\":4,\"owned\":[1],%s}", "\"restoring\" is not a list"},
        {"{\"partitions\":4,\"owned\":[1],\"restoring\":[2],%s}", "restoring but not owned"},
        {"{\"partitions\":4,\"owned\":[1],\"restoring\":[]}", "\"assignment\""},
        {"{\"partitions\":4,\"owned\":[1],\"restoring\":[],\"assignment\":\"0123\"}",
         "\"assignment\""},
        {"{\"partitions\":4,\"owned\":[1],\"restoring\":[],\"assignment\":\"0123456789ABCDEF\"}",
         "\"assignment\""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), bad[i][0], fp);
        px_query_parts p = {0};
        uint64_t a;
        errbuf[0] = '\0';
        assert_int_equal(px_query_parts_parse(text, strlen(text), &p, &a, errbuf, 512),
                         PX_ERR_MALFORMED);
        if (!strstr(errbuf, bad[i][1]))
            fail_msg("%s: said '%s', not '%s'", text, errbuf, bad[i][1]);
        assert_null(p.state);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partition_of_name), cmocka_unit_test(test_route_one),
        cmocka_unit_test(test_route_all),         cmocka_unit_test(test_parts_json),
        cmocka_unit_test(test_parts_parse_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
