/* test_privacy.c: the privacy rules both ends share (lib/obs/px_privacy.c) and
 * the centre's trust check built on them (px_obs_trust_check): what the
 * producer's filter refuses to publish, the consumer refuses to accept,
 * with a reason per rule. The producer's own tests of the filter
 * (test_filter.c) run the same rules through px_filter_rr(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dns/px_dns_name.h"
#include "obs/px_obs.h"
#include "obs/px_privacy.h"

#define NOW INT64_C(1790000000)

static px_privacy *make(const px_privacy_conf *conf)
{
    px_err err = PX_ERR_IO;
    px_privacy *p = px_privacy_create(conf, &err);
    assert_non_null(p);
    assert_int_equal(err, PX_OK);
    return p;
}

static px_privacy_rule owner(const px_privacy *p, const char *name)
{
    return px_privacy_owner(p, name, strlen(name));
}

static px_privacy_rule rdata_rule(const px_privacy *p, uint16_t type, const char *rdata);

static void test_owner_names(void **state)
{
    (void)state;
    px_privacy *p = make(NULL);
    assert_int_equal(owner(p, "www.example.com"), PX_PRIVACY_PASS);
    assert_int_equal(owner(p, "printer"), PX_PRIVACY_SINGLE_LABEL);
    assert_int_equal(owner(p, "com"), PX_PRIVACY_SINGLE_LABEL);
    assert_int_equal(owner(p, "a\\.corp"), PX_PRIVACY_SINGLE_LABEL); /* one label */
    assert_int_equal(owner(p, "host.corp"), PX_PRIVACY_LOCAL_NAME);
    assert_int_equal(owner(p, "nas.home.arpa"), PX_PRIVACY_LOCAL_NAME);
    assert_int_equal(owner(p, "1.0.0.10.in-addr.arpa"), PX_PRIVACY_LOCAL_NAME);
    assert_int_equal(owner(p, "1.1.20.172.in-addr.arpa"), PX_PRIVACY_LOCAL_NAME);
    assert_int_equal(owner(p, "8.8.8.8.in-addr.arpa"), PX_PRIVACY_PASS);
    assert_int_equal(owner(p, "corp.example.com"), PX_PRIVACY_PASS);
    /* the root is no single label: the public-suffix rule decides on it */
    assert_int_equal(owner(p, "."), PX_PRIVACY_PASS);
    /* the same rule on names in rdata: a single label, the root (a null
     * MX, a CNAME to the root) and a name of two labels */
    assert_int_equal(rdata_rule(p, 5, "printer"), PX_PRIVACY_SINGLE_LABEL);
    assert_int_equal(rdata_rule(p, 15, "0 ."), PX_PRIVACY_PASS);
    assert_int_equal(rdata_rule(p, 5, "a.b"), PX_PRIVACY_PASS);
    px_privacy_destroy(p);
}

static void test_in_zone(void **state)
{
    (void)state;
    assert_true(px_dns_name_in_zone("www.example.com", 15, "example.com", 11));
    assert_true(px_dns_name_in_zone("example.com", 11, "example.com", 11));
    assert_true(px_dns_name_in_zone("www.example.com", 15, ".", 1));
    assert_false(px_dns_name_in_zone("www.example.com", 15, "ample.com", 9));
    assert_false(px_dns_name_in_zone("example.com", 11, "www.example.com", 15));
    assert_false(px_dns_name_in_zone("a\\.example.com", 14, "example.com", 11));
    assert_false(px_dns_name_in_zone("a\\.b", 4, "b", 1));  /* one label "a.b" */
    assert_true(px_dns_name_in_zone("a\\\\.b", 5, "b", 1)); /* "a\\" then "b" */
}

static void test_configured_zones_and_check(void **state)
{
    (void)state;
    const char *zones[] = {"Ad.Example.ORG."};
    px_privacy *p = make(&(px_privacy_conf){.local_zones = zones, .n_local_zones = 1});
    assert_int_equal(owner(p, "dc1.ad.example.org"), PX_PRIVACY_LOCAL_NAME);
    assert_int_equal(owner(p, "www.example.org"), PX_PRIVACY_PASS);
    assert_int_equal(owner(p, "x.local"), PX_PRIVACY_LOCAL_NAME); /* built-ins stay */
    px_privacy_destroy(p);

    char why[128] = "";
    assert_true(px_privacy_check_zone("corp.example.com.", why, sizeof(why)));
    const char *bad[] = {"", ".", "a..b", ".example", "ex ample", "a\\"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        if (px_privacy_check_zone(bad[i], why, sizeof(why)))
            fail_msg("zone \"%s\" accepted", bad[i]);
        assert_true(strlen(why) > 0);
        const char *z[] = {bad[i]};
        px_err err = PX_OK;
        assert_null(
            px_privacy_create(&(px_privacy_conf){.local_zones = z, .n_local_zones = 1}, &err));
        assert_int_equal(err, PX_ERR_INVAL);
    }
    px_privacy_destroy(NULL);
}

static void test_public_suffixes(void **state)
{
    (void)state;
    const char *suffix[] = {".", "com", "co.uk", "in-addr.arpa", "com.au", "uk"};
    const char *not_suffix[] = {"example.com",    "www.example.co.uk", "github.io",
                                "user.github.io", "blogspot.com",      "8.8.8.8.in-addr.arpa"};
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++)
        if (!px_privacy_public_suffix(suffix[i], strlen(suffix[i])))
            fail_msg("%s should be a public suffix", suffix[i]);
    for (size_t i = 0; i < sizeof(not_suffix) / sizeof(not_suffix[0]); i++)
        if (px_privacy_public_suffix(not_suffix[i], strlen(not_suffix[i])))
            fail_msg("%s should not be a public suffix", not_suffix[i]);
}

static void test_types(void **state)
{
    (void)state;
    px_privacy *p = make(NULL);
    assert_true(px_privacy_type_allowed(p, 1));    /* A */
    assert_true(px_privacy_type_allowed(p, 2));    /* NS */
    assert_false(px_privacy_type_allowed(p, 16));  /* TXT */
    assert_false(px_privacy_type_allowed(p, 12));  /* PTR */
    assert_false(px_privacy_type_allowed(p, 255)); /* ANY */
    px_privacy_destroy(p);
    const uint16_t types[] = {16, 65280};
    p = make(&(px_privacy_conf){.rrtypes = types, .n_rrtypes = 2});
    assert_true(px_privacy_type_allowed(p, 16));
    assert_true(px_privacy_type_allowed(p, 65280));
    assert_false(px_privacy_type_allowed(p, 1));
    px_privacy_destroy(p);
}

/* The rdata rules on any spelling, as a caller reaches them: parsed by
 * the one parser (lib/dns), formatted for the canonical text the targets
 * point into; what does not parse reaches the rules as empty wire. */
static px_privacy_rule rdata_rule(const px_privacy *p, uint16_t type, const char *rdata)
{
    static uint8_t wire[PX_DNS_RDATA_WIRE_MAX];
    static char text[PX_DNS_RDATA_TEXT_MAX];
    size_t wlen = 0, tlen;
    px_dns_targets tg = {0};
    text[0] = '\0';
    if (px_dns_rdata_from_text(type, rdata, strlen(rdata), wire, sizeof(wire), &wlen, NULL) !=
            PX_OK ||
        px_dns_rdata_to_text(type, wire, wlen, text, sizeof(text), &tlen, &tg) != PX_OK)
        wlen = 0;
    return px_privacy_rdata(p, type, wire, wlen, text, &tg);
}

static void test_rdata_text(void **state)
{
    (void)state;
    px_privacy *p = make(NULL);
    struct {
        uint16_t type;
        const char *rdata;
        px_privacy_rule want;
    } cases[] = {
        {1, "93.184.216.34", PX_PRIVACY_PASS},
        {1, "10.0.0.1", PX_PRIVACY_PRIVATE_ADDR},
        {1, "100.64.1.1", PX_PRIVACY_PRIVATE_ADDR},
        {1, "192.0.2.7", PX_PRIVACY_PRIVATE_ADDR},
        {1, "not an address", PX_PRIVACY_PRIVATE_ADDR}, /* fail closed */
        {1, "2001:db8::1", PX_PRIVACY_PRIVATE_ADDR},    /* wrong family */
        {28, "2606:2800:220:1::1", PX_PRIVACY_PASS},
        {28, "fd00::1", PX_PRIVACY_PRIVATE_ADDR},
        {28, "::ffff:10.0.0.1", PX_PRIVACY_PRIVATE_ADDR},
        {5, "www.example.net", PX_PRIVACY_PASS},
        {5, "dc1.corp", PX_PRIVACY_LOCAL_RDATA},
        {5, "DC1.Corp.", PX_PRIVACY_LOCAL_RDATA}, /* case and a trailing dot */
        {5, "fileserver", PX_PRIVACY_SINGLE_LABEL},
        {2, "ns1.lan", PX_PRIVACY_LOCAL_RDATA},
        {12, "printer.local", PX_PRIVACY_LOCAL_RDATA},
        {39, "internal", PX_PRIVACY_LOCAL_RDATA},
        {15, "10 mail.example.com", PX_PRIVACY_PASS},
        {15, "10 mail.internal", PX_PRIVACY_LOCAL_RDATA},
        {15, "10 exchange", PX_PRIVACY_SINGLE_LABEL},
        {15, "0 .", PX_PRIVACY_PASS}, /* null MX */
        {33, "0 5 5060 sip.example.com", PX_PRIVACY_PASS},
        {33, "0 5 5060 pbx.home.arpa", PX_PRIVACY_LOCAL_RDATA},
        {6, "ns1.example.com hostmaster.example.com 1 7200 900 1209600 300", PX_PRIVACY_PASS},
        {6, "ns1.example.com hostmaster.corp 1 7200 900 1209600 300", PX_PRIVACY_LOCAL_RDATA},
        {6, "dc1 hostmaster.example.com 1 7200 900 1209600 300", PX_PRIVACY_SINGLE_LABEL},
        {16, "\"v=spf1 include:x.corp\"", PX_PRIVACY_PASS}, /* TXT has no names */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        px_privacy_rule got = rdata_rule(p, cases[i].type, cases[i].rdata);
        if (got != cases[i].want)
            fail_msg("type %u rdata \"%s\": rule %d, want %d", cases[i].type, cases[i].rdata,
                     (int)got, (int)cases[i].want);
    }
    /* a local target beats a single-label one, as in the producer */
    assert_int_equal(rdata_rule(p, 6, "fileserver hostmaster.x.corp 1 7200 900 1209600 300"),
                     PX_PRIVACY_LOCAL_RDATA);
    px_privacy_destroy(p);

    p = make(&(px_privacy_conf){.private_answers = true});
    assert_int_equal(rdata_rule(p, 1, "10.0.0.1"), PX_PRIVACY_PASS);
    px_privacy_destroy(p);
}

/* ---- px_obs_trust_check: the consumer's verdicts ---- */

static const px_avro_obs base = {
    .rrname = "www.example.com",
    .rrtype = "A",
    .rdata = "93.184.216.34",
    .bailiwick = "example.com",
    .count = 3,
    .time_first = NOW - 120,
    .time_last = NOW - 60,
    .ttl_min = 30,
    .ttl_max = 300,
    .clients = 2,
    .org = "org-a",
    .sensor = "sensor-1",
};

typedef struct verdict {
    px_obs_rule rule;
    char why[256];
} verdict;

/* The consumer's order: the form first, then the centre's rules. */
static verdict judge(const px_obs_trust *t, const px_avro_obs *o, int64_t written)
{
    static uint8_t wire[PX_OBS_WIRE_MAX];
    px_obs_checked c;
    verdict v = {PX_OBS_TRUSTED, ""};
    if (px_obs_check(o, NOW, &c, wire, sizeof(wire), v.why, sizeof(v.why)) != PX_OK) {
        v.rule = PX_OBS_FORM;
        return v;
    }
    v.rule = px_obs_trust_check(t, &c, written, v.why, sizeof(v.why));
    /* the same verdict without a reason asked for */
    assert_int_equal(px_obs_trust_check(t, &c, written, NULL, 0), v.rule);
    if (v.rule == PX_OBS_TRUSTED)
        assert_string_equal(v.why, "");
    else
        assert_true(strlen(v.why) > 0);
    return v;
}

static verdict with(const px_obs_trust *t, const char *name, const char *type, const char *rdata)
{
    px_avro_obs o = base;
    o.rrname = name;
    o.rrtype = type;
    o.rdata = rdata;
    o.bailiwick = NULL;
    return judge(t, &o, NOW);
}

/* The names and addresses of issue 9 item 3, each refused with its reason;
 * the same with and without the registered-domain cache. */
static void trust_refuses_private_data(px_psl_cache *psl)
{
    px_privacy *p = make(NULL);
    px_obs_trust t = {.privacy = p, .psl = psl, .time_floor = 1072915200, .future_skew = 300};
    verdict v = with(&t, "www.example.com", "A", "93.184.216.34");
    assert_int_equal(v.rule, PX_OBS_TRUSTED);
    assert_int_equal(with(&t, "example.co.uk", "NS", "ns1.example.net").rule, PX_OBS_TRUSTED);
    assert_int_equal(with(&t, "github.io", "A", "185.199.108.153").rule, PX_OBS_TRUSTED);

    v = with(&t, ".", "NS", "a.root-servers.net");
    assert_int_equal(v.rule, PX_OBS_PUBLIC_SUFFIX);
    assert_string_equal(v.why, "name is the root");
    v = with(&t, "co.uk", "NS", "nsa.nic.uk");
    assert_int_equal(v.rule, PX_OBS_PUBLIC_SUFFIX);
    assert_string_equal(v.why, "name is a public suffix");
    v = with(&t, "com", "NS", "a.gtld-servers.net");
    assert_int_equal(v.rule, PX_OBS_SINGLE_LABEL);
    assert_string_equal(v.why, "single-label name");
    v = with(&t, "printer", "A", "93.184.216.34");
    assert_int_equal(v.rule, PX_OBS_SINGLE_LABEL);
    v = with(&t, "host.corp", "A", "93.184.216.34");
    assert_int_equal(v.rule, PX_OBS_LOCAL_NAME);
    assert_string_equal(v.why, "name under a local zone");
    v = with(&t, "www.example.com", "A", "10.0.0.1");
    assert_int_equal(v.rule, PX_OBS_PRIVATE_ADDR);
    assert_string_equal(v.why, "private address 10.0.0.1");
    v = with(&t, "www.example.com", "CNAME", "intranet.corp");
    assert_int_equal(v.rule, PX_OBS_LOCAL_RDATA);
    v = with(&t, "www.example.com", "CNAME", "fileserver");
    assert_int_equal(v.rule, PX_OBS_SINGLE_LABEL);
    assert_string_equal(v.why, "rdata names a single label");
    v = with(&t, "www.example.com", "TXT", "\"hello\"");
    assert_int_equal(v.rule, PX_OBS_RRTYPE); /* not in the default set */
    assert_string_equal(v.why, "rrtype TXT not accepted");
    v = with(&t, "www.example.com", "TYPE65280", "\\# 0");
    assert_int_equal(v.rule, PX_OBS_RRTYPE);
    /* a bailiwick is returned by queries: it must contain the name */
    px_avro_obs o = base;
    o.bailiwick = "secret.corp";
    v = judge(&t, &o, NOW);
    assert_int_equal(v.rule, PX_OBS_BAILIWICK);
    assert_string_equal(v.why, "name outside its bailiwick");
    o.bailiwick = "com";
    assert_int_equal(judge(&t, &o, NOW).rule, PX_OBS_TRUSTED);
    o.bailiwick = ".";
    assert_int_equal(judge(&t, &o, NOW).rule, PX_OBS_TRUSTED);
    /* a type known by number only: the set is of numbers */
    v = with(&t, "www.example.com", "TYPE1", "93.184.216.34");
    assert_int_equal(v.rule, PX_OBS_TRUSTED);
    px_privacy_destroy(p);
}

static void test_trust_refuses_private_data(void **state)
{
    (void)state;
    trust_refuses_private_data(NULL);
    px_psl_cache *psl = px_psl_cache_create(64);
    assert_non_null(psl);
    trust_refuses_private_data(psl);
    trust_refuses_private_data(psl); /* answers from the cache now */
    px_psl_cache_destroy(psl);
}

static void test_trust_times(void **state)
{
    (void)state;
    px_privacy *p = make(NULL);
    px_obs_trust t = {.privacy = p, .time_floor = 1072915200, .future_skew = 300};
    px_avro_obs o = base;
    o.time_first = 1; /* a clock at 1970: would pull a record's history back */
    verdict v = judge(&t, &o, NOW);
    assert_int_equal(v.rule, PX_OBS_TIME_FLOOR);
    assert_string_equal(v.why, "time_first 1 before the floor 1072915200");
    o.time_first = 1072915200; /* the floor itself is fine */
    assert_int_equal(judge(&t, &o, NOW).rule, PX_OBS_TRUSTED);

    /* time_last against when the message was written, not our clock:
     * px_obs_check allows a day into the future of the clock, the
     * fence only the skew past the message's timestamp */
    o = base;
    o.time_last = NOW + 3600;
    v = judge(&t, &o, NOW);
    assert_int_equal(v.rule, PX_OBS_TIME_FUTURE);
    assert_string_equal(v.why, "time_last 1790003600 more than 300 s after the message was "
                               "written (1790000000)");
    o.time_last = NOW + 300; /* within the skew */
    assert_int_equal(judge(&t, &o, NOW).rule, PX_OBS_TRUSTED);
    o.time_last = NOW - 60; /* written an hour earlier: a record of later is impossible */
    assert_int_equal(judge(&t, &o, NOW - 3600).rule, PX_OBS_TIME_FUTURE);
    assert_int_equal(judge(&t, &o, NOW - 360).rule, PX_OBS_TRUSTED);
    /* far in the future: refused by the form already */
    o.time_last = NOW + 10 * 86400;
    assert_int_equal(judge(&t, &o, NOW).rule, PX_OBS_FORM);
    px_privacy_destroy(p);
}

static void test_rule_names(void **state)
{
    (void)state;
    for (int i = 0; i < PX_OBS__RULES; i++) {
        assert_true(strlen(px_obs_rule_name((px_obs_rule)i)) > 0);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(px_obs_rule_name((px_obs_rule)i),
                                    px_obs_rule_name((px_obs_rule)j));
    }
    assert_string_equal(px_obs_rule_name(PX_OBS__RULES), "unknown");
    assert_string_equal(px_obs_rule_name(PX_OBS_PUBLIC_SUFFIX), "public_suffix");
    assert_string_equal(px_obs_rule_name(PX_OBS_PRIVATE_ADDR), "private_addr");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_owner_names),
        cmocka_unit_test(test_in_zone),
        cmocka_unit_test(test_configured_zones_and_check),
        cmocka_unit_test(test_public_suffixes),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_rdata_text),
        cmocka_unit_test(test_trust_refuses_private_data),
        cmocka_unit_test(test_trust_times),
        cmocka_unit_test(test_rule_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
