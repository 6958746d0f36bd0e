/* test_cof: stored records as COF JSON, field by field, and back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "query/px_cof.h"

static const char *const two_orgs[] = {"org-a", "org-b"};

static px_store_rec base_rec(void)
{
    px_store_rec r = {.rrname = "www.example.com",
                      .rrtype = "CNAME",
                      .rdata = "web.example.net",
                      .count = 7,
                      .time_first = 1795716000,
                      .time_last = 1795716300};
    r.geo.asn = -1;
    return r;
}

static void assert_cof(const px_store_rec *r, const char *want)
{
    char *got = px_cof_dumps(r);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_minimal(void **state)
{
    (void)state;
    px_store_rec r = base_rec();
    assert_cof(&r, "{\"rrname\":\"www.example.com\",\"rrtype\":\"CNAME\","
                   "\"rdata\":\"web.example.net\",\"time_first\":1795716000,"
                   "\"time_last\":1795716300,\"count\":7,\"orgs\":[]}");
}

static void test_bailiwick_and_orgs(void **state)
{
    (void)state;
    px_store_rec r = base_rec();
    r.bailiwick = "example.com";
    r.n_orgs = 2;
    r.orgs = two_orgs;
    assert_cof(&r, "{\"rrname\":\"www.example.com\",\"rrtype\":\"CNAME\","
                   "\"rdata\":\"web.example.net\",\"time_first\":1795716000,"
                   "\"time_last\":1795716300,\"count\":7,\"bailiwick\":\"example.com\","
                   "\"orgs\":[\"org-a\",\"org-b\"]}");
}

static px_store_rec a_rec(void)
{
    px_store_rec r = base_rec();
    r.rrtype = "A";
    r.rdata = "192.0.2.1";
    r.n_orgs = 1;
    r.orgs = two_orgs;
    r.has_geo = true;
    return r;
}

#define A_HEAD                                                                                     \
    "{\"rrname\":\"www.example.com\",\"rrtype\":\"A\",\"rdata\":\"192.0.2.1\","                    \
    "\"time_first\":1795716000,\"time_last\":1795716300,\"count\":7,\"orgs\":[\"org-a\"]"

static void test_geo_full(void **state)
{
    (void)state;
    px_store_rec r = a_rec();
    strcpy(r.geo.country, "NL");
    r.geo.asn = 64500;
    strcpy(r.geo.as_org, "Example Networks B.V.");
    assert_cof(&r, A_HEAD ",\"country\":\"NL\",\"asn\":64500,\"as_org\":\"Example Networks "
                          "B.V.\"}");
}

/* Each GeoIP field appears only when known, independently of the others. */
static void test_geo_partial(void **state)
{
    (void)state;
    px_store_rec r = a_rec();
    strcpy(r.geo.country, "DE");
    assert_cof(&r, A_HEAD ",\"country\":\"DE\"}");

    r = a_rec();
    r.geo.asn = 0; /* AS 0 is a number the database can say */
    assert_cof(&r, A_HEAD ",\"asn\":0}");

    r = a_rec();
    r.geo.asn = 4200000000; /* 32-bit ASNs stay numbers */
    strcpy(r.geo.as_org, "Big AS");
    assert_cof(&r, A_HEAD ",\"asn\":4200000000,\"as_org\":\"Big AS\"}");

    r = a_rec(); /* a GeoIP answer that knew nothing */
    assert_cof(&r, A_HEAD "}");
}

/* has_geo false: whatever is in geo stays out. */
static void test_no_geo_ignores_fields(void **state)
{
    (void)state;
    px_store_rec r = a_rec();
    r.has_geo = false;
    strcpy(r.geo.country, "NL");
    r.geo.asn = 64500;
    assert_cof(&r, A_HEAD "}");
}

static void test_escaping(void **state)
{
    (void)state;
    px_store_rec r = base_rec();
    r.rrtype = "TXT";
    r.rdata = "\"v=spf1 \\\"x\\\"\"\n\xc3\xa9";
    assert_cof(&r, "{\"rrname\":\"www.example.com\",\"rrtype\":\"TXT\","
                   "\"rdata\":\"\\\"v=spf1 \\\\\\\"x\\\\\\\"\\\"\\n\\u00E9\","
                   "\"time_first\":1795716000,\"time_last\":1795716300,\"count\":7,"
                   "\"orgs\":[]}");
}

/* Not UTF-8: escaped the DNS way instead of failing the whole answer. */
static void test_invalid_utf8(void **state)
{
    (void)state;
    px_store_rec r = base_rec();
    r.rrtype = "TXT";
    r.rdata = "a\xff\xc3\xa9";
    assert_cof(&r, "{\"rrname\":\"www.example.com\",\"rrtype\":\"TXT\","
                   "\"rdata\":\"a\\\\255\\\\195\\\\169\","
                   "\"time_first\":1795716000,\"time_last\":1795716300,\"count\":7,"
                   "\"orgs\":[]}");
}

static void test_count_clamped(void **state)
{
    (void)state;
    px_store_rec r = base_rec();
    r.count = UINT64_MAX;
    char *got = px_cof_dumps(&r);
    assert_non_null(got);
    assert_non_null(strstr(got, "\"count\":9223372036854775807,"));
    free(got);
}

static void test_write_line(void **state)
{
    (void)state;
    px_store_rec r = base_rec();
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(px_cof_write(f, &r), PX_OK);
    assert_int_equal(px_cof_write(f, &r), PX_OK);
    fclose(f);
    char *one = px_cof_dumps(&r);
    size_t n = strlen(one);
    assert_int_equal(len, 2 * (n + 1));
    assert_memory_equal(buf, one, n);
    assert_int_equal(buf[n], '\n');
    assert_int_equal(buf[2 * n + 1], '\n');
    free(one);
    free(buf);
}

static void test_round_trip(void **state)
{
    (void)state;
    px_store_rec r = a_rec();
    r.bailiwick = "example.com";
    r.n_orgs = 2;
    strcpy(r.geo.country, "NL");
    r.geo.asn = 64500;
    json_t *obj = px_cof_from_rec(&r);
    assert_non_null(obj);
    const char *orgs[2];
    assert_int_equal(px_cof_orgs_len(obj), 2);
    px_store_rec back;
    assert_int_equal(px_cof_to_rec(obj, &back, orgs), PX_OK);
    assert_string_equal(back.rrname, "www.example.com");
    assert_string_equal(back.rrtype, "A");
    assert_string_equal(back.rdata, "192.0.2.1");
    assert_string_equal(back.bailiwick, "example.com");
    assert_int_equal(back.count, 7);
    assert_int_equal(back.time_first, 1795716000);
    assert_int_equal(back.time_last, 1795716300);
    assert_int_equal(back.n_orgs, 2);
    assert_string_equal(back.orgs[1], "org-b");
    assert_true(back.has_geo);
    assert_string_equal(back.geo.country, "NL");
    assert_int_equal(back.geo.asn, 64500);
    assert_string_equal(back.geo.as_org, "");
    char *again = px_cof_dumps(&back), *first = px_cof_dumps(&r);
    assert_string_equal(again, first);
    free(again);
    free(first);
    json_decref(obj);
}

static px_err parse_rec(const char *text)
{
    json_t *obj = json_loads(text, 0, NULL);
    assert_non_null(obj);
    const char *orgs[8];
    px_store_rec r;
    px_err err = px_cof_orgs_len(obj) <= 8 ? px_cof_to_rec(obj, &r, orgs) : PX_ERR_INVAL;
    if (err == PX_OK)
        assert_false(r.has_geo || r.bailiwick);
    json_decref(obj);
    return err;
}

#define HEAD "\"rrname\":\"a.example\",\"rrtype\":\"A\",\"rdata\":\"192.0.2.1\""

static void test_malformed_rejected(void **state)
{
    (void)state;
    assert_int_equal(parse_rec("{" HEAD ",\"time_first\":1,\"time_last\":2,\"count\":3}"), PX_OK);
    assert_int_equal(
        parse_rec("{" HEAD ",\"time_first\":1,\"time_last\":2,\"count\":3,\"bailiwick\":null}"),
        PX_OK);
    const char *bad[] = {
        "[]",
        "{" HEAD ",\"time_first\":1,\"time_last\":2}",
        "{" HEAD ",\"time_first\":1,\"time_last\":2,\"count\":\"3\"}",
        "{" HEAD ",\"time_first\":1,\"time_last\":2,\"count\":-3}",
        "{\"rrname\":\"a\",\"rrtype\":1,\"rdata\":\"x\",\"time_first\":1,\"time_last\":2,"
        "\"count\":3}",
        "{" HEAD ",\"time_first\":1.5,\"time_last\":2,\"count\":3}",
        "{" HEAD ",\"time_first\":1,\"time_last\":2,\"count\":3,\"orgs\":\"org-a\"}",
        "{" HEAD ",\"time_first\":1,\"time_last\":2,\"count\":3,\"orgs\":[1]}",
        "{" HEAD ",\"time_first\":1,\"time_last\":2,\"count\":3,\"bailiwick\":5}",
        "{" HEAD ",\"time_first\":1,\"time_last\":2,\"count\":3,\"asn\":-1}",
        "{" HEAD ",\"time_first\":1,\"time_last\":2,\"count\":3,\"country\":\"TOOLONG\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("case %zu\n", i);
        assert_int_equal(parse_rec(bad[i]), PX_ERR_MALFORMED);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_bailiwick_and_orgs),
        cmocka_unit_test(test_geo_full),
        cmocka_unit_test(test_geo_partial),
        cmocka_unit_test(test_no_geo_ignores_fields),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_count_clamped),
        cmocka_unit_test(test_write_line),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_malformed_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
