/* test_geoip.c: GeoIP lookups on MMDB files written at test time by
 * tests/geoip/make-mmdb.pl (libmaxmind-db-writer-perl); every answer is
 * checked against libmaxminddb's own mmdblookup on the same file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cmocka.h>

#include "px_fixture.h"

#include "metrics_read.h"
#include "dns/px_addr.h"
#include "px_geoip.h"

/* What the lookups since `base` counted, as /metrics shows it. */
typedef struct geo_stats {
    uint64_t lookups, cache_hits, misses, errors;
} geo_stats;

static geo_stats geo_now(void)
{
    return (geo_stats){.lookups = pxt_metric("pdnsx_geoip_lookups_total"),
                       .cache_hits = pxt_metric("pdnsx_geoip_cache_hits_total"),
                       .misses = pxt_metric("pdnsx_geoip_misses_total"),
                       .errors = pxt_metric("pdnsx_geoip_errors_total")};
}

static geo_stats geo_since(const geo_stats *base)
{
    geo_stats n = geo_now();
    n.lookups -= base->lookups;
    n.cache_hits -= base->cache_hits;
    n.misses -= base->misses;
    n.errors -= base->errors;
    return n;
}

#define SCRIPT PX_SOURCE_DIR "/tests/geoip/make-mmdb.pl"

static char dir[64];
static char skip_reason[256];
static char country_db[128], asn_db[128];

static void path_in(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

/* Runs make-mmdb.pl with args; returns its exit status (77: module missing). */
static int make_mmdb(const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "perl %s %s", SCRIPT, args);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void write_file(const char *path, const void *data, size_t len)
{
    char tmp[160];
    /* Replace by rename, as an operator must: the old file stays mapped. */
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    FILE *f = fopen(tmp, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, path), 0);
}

static int group_setup(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(dir, sizeof(dir), "/tmp/pdnsx-geoip-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    path_in(country_db, sizeof(country_db), "country.mmdb");
    path_in(asn_db, sizeof(asn_db), "asn.mmdb");
    if (system("mmdblookup --version >/dev/null 2>&1") != 0) {
        snprintf(skip_reason, sizeof(skip_reason), "mmdblookup missing (apt-get install mmdb-bin)");
        return 0;
    }
    snprintf(cmd, sizeof(cmd), "--country %s --asn %s", country_db, asn_db);
    int rc = make_mmdb(cmd);
    if (rc == 77)
        snprintf(skip_reason, sizeof(skip_reason),
                 "MaxMind::DB::Writer missing (apt-get install libmaxmind-db-writer-perl)");
    else if (rc != 0)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#define NEED_TOOLS()                                                                               \
    do {                                                                                           \
        if (skip_reason[0])                                                                        \
            PX_FIXTURE_MISSING(skip_reason);                                                       \
    } while (0)

/* mmdblookup's value at path ("country iso_code"), as text: a string
 * without quotes, a number, or "" if there is no entry or no such key. */
static void mmdblookup(const char *file, const char *ip, const char *path, char *out, size_t len)
{
    char cmd[512], line[512];
    snprintf(cmd, sizeof(cmd), "mmdblookup --file '%s' --ip '%s' %s 2>/dev/null", file, ip, path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    out[0] = '\0';
    while (fgets(line, sizeof(line), p)) {
        char *tag = strstr(line, " <");
        if (!tag)
            continue;
        *tag = '\0';
        char *v = line + strspn(line, " \t");
        size_t n = strlen(v);
        if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
            v[n - 1] = '\0';
            v++;
        }
        snprintf(out, len, "%s", v);
    }
    pclose(p);
}

/* An address as the tests write it: parsed by lib/dns, looked up by its
 * bytes as the store hands them over; text that does not parse is looked
 * up as no address (an error, counted). */
static bool lookup(px_geoip *g, const char *text, px_geoip_answer *out)
{
    px_addr a = {0};
    bool ok = px_addr_parse(text, &a) == PX_OK && (a.family == 4 || a.family == 6);
    return px_geoip_lookup_addr(g, a.bytes, ok ? (a.family == 4 ? 4u : 16u) : 0, out);
}

/* Looks ip up with px_geoip and checks each field against mmdblookup.
 * Returns true if mmdblookup knew anything. */
static bool check_against_mmdblookup(px_geoip *g, const char *cdb, const char *cpath,
                                     const char *adb, const char *ip)
{
    px_geoip_answer a;
    char cc[64] = "", num[64] = "", org[256] = "", got_num[32] = "";
    bool found = lookup(g, ip, &a);
    if (cdb)
        mmdblookup(cdb, ip, cpath, cc, sizeof(cc));
    if (adb) {
        mmdblookup(adb, ip, "autonomous_system_number", num, sizeof(num));
        mmdblookup(adb, ip, "autonomous_system_organization", org, sizeof(org));
    }
    if (a.asn >= 0)
        snprintf(got_num, sizeof(got_num), "%lld", (long long)a.asn);
    if (strcmp(a.country, cc) != 0 || strcmp(got_num, num) != 0 || strcmp(a.as_org, org) != 0)
        fail_msg("%s: px_geoip says [%s] [%s] [%s], mmdblookup [%s] [%s] [%s]", ip, a.country,
                 got_num, a.as_org, cc, num, org);
    bool known = cc[0] || num[0] || org[0];
    if (found != known)
        fail_msg("%s: lookup returned %d, mmdblookup knows %d", ip, found, known);
    return known;
}

static const char *const addresses[] = {
    "93.184.216.34",
    "93.184.216.255",
    "93.184.217.1", /* last: outside the /24 */
    "2606:2800:220:1:248:1893:25c8:1946",
    "2606:2801::1",
    "151.101.1.69",
    "151.102.0.1",
    "2a04:4e40::645", /* ASN only */
    "104.16.132.229",
    "104.31.255.255",
    "104.32.0.0",
    "2606:4700::6810:84e5",
    "1.1.1.1",
    "8.8.8.8",
    "2001:4860:4860::8888",
    "185.15.59.224",
    "46.4.84.12",
    "2a01:4f8:c17::1",
    "62.210.16.6",
    "2001:bc8:1::1",
    "133.242.5.5",
    "2001:e42::1",    /* no organisation */
    "200.147.67.142", /* country only */
    "177.71.200.1",
    "9.9.9.9",
    "2620:fe::fe",
    "192.0.2.1",
    "::1",
    "0.0.0.0",
    "255.255.255.255",
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
};

static void test_matches_mmdblookup(void **state)
{
    (void)state;
    NEED_TOOLS();
    char err[256] = "";
    px_geoip *g = px_geoip_open(country_db, asn_db, err, sizeof(err));
    assert_non_null(g);
    size_t known = 0, n = sizeof(addresses) / sizeof(addresses[0]);
    for (size_t i = 0; i < n; i++)
        known += check_against_mmdblookup(g, country_db, "country iso_code", asn_db, addresses[i]);
    /* Both hits and misses were exercised, not one kind only. */
    assert_true(known >= 20);
    assert_true(known <= n - 8);

    /* One answer spelled out, so a silent mmdblookup cannot pass for us. */
    px_geoip_answer a;
    assert_true(lookup(g, "93.184.216.34", &a));
    assert_string_equal(a.country, "US");
    assert_int_equal(a.asn, 15133);
    assert_string_equal(a.as_org, "Edgecast");
    assert_false(lookup(g, "9.9.9.9", &a));
    assert_string_equal(a.country, "");
    assert_int_equal(a.asn, -1);
    assert_string_equal(a.as_org, "");
    px_geoip_close(g);
}

/* The store hands addresses over as bytes: the answer is the text's, an
 * IPv4-mapped address's is its IPv4 address's, another length is an
 * error. */
static void test_address_bytes(void **state)
{
    (void)state;
    NEED_TOOLS();
    char err[256];
    px_geoip *g = px_geoip_open(country_db, asn_db, err, sizeof(err));
    assert_non_null(g);
    static const uint8_t v4[4] = {46, 4, 84, 12};
    static const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 46, 4, 84, 12};
    uint8_t v6[16];
    assert_int_equal(inet_pton(AF_INET6, "2606:4700::6810:84e5", v6), 1);
    px_geoip_answer text, bytes;
    assert_true(lookup(g, "46.4.84.12", &text));
    assert_true(px_geoip_lookup_addr(g, v4, sizeof(v4), &bytes));
    assert_memory_equal(&text, &bytes, sizeof(text));
    assert_true(px_geoip_lookup_addr(g, mapped, sizeof(mapped), &bytes));
    assert_memory_equal(&text, &bytes, sizeof(text));
    assert_true(lookup(g, "2606:4700::6810:84e5", &text));
    assert_true(px_geoip_lookup_addr(g, v6, sizeof(v6), &bytes));
    assert_memory_equal(&text, &bytes, sizeof(text));
    geo_stats base = geo_now();
    assert_false(px_geoip_lookup_addr(g, v4, 5, &bytes));
    assert_string_equal(bytes.country, "");
    assert_int_equal(bytes.asn, -1);
    geo_stats st = geo_since(&base);
    assert_int_equal(st.errors, 1);
    assert_int_equal(st.lookups, 1);
    px_geoip_close(g);
}

static void test_mapped_and_bad_addresses(void **state)
{
    (void)state;
    NEED_TOOLS();
    char err[256];
    px_geoip_answer v4, mapped;
    geo_stats st, base = geo_now();
    px_geoip *g = px_geoip_open(country_db, asn_db, err, sizeof(err));
    assert_non_null(g);
    /* IPv4-mapped IPv6 answers as the IPv4 address it carries. */
    assert_true(lookup(g, "46.4.84.12", &v4));
    assert_true(lookup(g, "::ffff:46.4.84.12", &mapped));
    assert_memory_equal(&v4, &mapped, sizeof(v4));

    const char *bad[] = {"",
                         "not-an-ip",
                         "1.2.3",
                         "1.2.3.4.5",
                         "256.1.1.1",
                         "2001:db8::1::1",
                         "93.184.216.34/24",
                         " 93.184.216.34"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        px_geoip_answer a;
        assert_false(lookup(g, bad[i], &a));
        assert_string_equal(a.country, "");
        assert_int_equal(a.asn, -1);
    }
    st = geo_since(&base);
    assert_int_equal(st.errors, sizeof(bad) / sizeof(bad[0]));
    assert_int_equal(st.lookups, 2 + sizeof(bad) / sizeof(bad[0]));
    px_geoip_close(g);
}

static void test_cache(void **state)
{
    (void)state;
    NEED_TOOLS();
    char err[256];
    px_geoip_answer a, b;
    geo_stats st, base = geo_now();
    px_geoip *g = px_geoip_open(country_db, asn_db, err, sizeof(err));
    assert_non_null(g);
    assert_true(lookup(g, "151.101.1.69", &a));
    assert_true(lookup(g, "151.101.1.69", &b));
    assert_memory_equal(&a, &b, sizeof(a));
    assert_false(lookup(g, "9.9.9.9", &a));
    assert_false(lookup(g, "9.9.9.9", &a)); /* misses are cached too */
    /* Another spelling of the same address is the same cache entry. */
    assert_true(lookup(g, "2606:4700:0::6810:84e5", &a));
    assert_true(lookup(g, "2606:4700::6810:84E5", &b));
    assert_memory_equal(&a, &b, sizeof(a));
    st = geo_since(&base);
    assert_int_equal(st.lookups, 6);
    assert_int_equal(st.cache_hits, 3);
    assert_int_equal(st.misses, 2);
    assert_int_equal(st.errors, 0);

    /* More distinct addresses than the cache holds: answers stay right. */
    char ip[32];
    for (unsigned i = 0; i < 70000; i++) {
        snprintf(ip, sizeof(ip), "46.4.%u.%u", (i >> 8) & 0xff, i & 0xff);
        if (i >= 65536)
            snprintf(ip, sizeof(ip), "151.101.%u.%u", (i >> 8) & 0xff, i & 0xff);
        assert_true(lookup(g, ip, &a));
        assert_string_equal(a.country, i >= 65536 ? "US" : "DE");
    }
    assert_true(lookup(g, "46.4.0.0", &a));
    assert_int_equal(a.asn, 24940);
    st = geo_since(&base);
    assert_int_equal(st.lookups, 6 + 70001);
    px_geoip_close(g);
}

static void test_open_errors(void **state)
{
    (void)state;
    NEED_TOOLS();
    char err[512], missing[128], garbage[128], empty[128], want[256];
    path_in(missing, sizeof(missing), "missing.mmdb");
    path_in(garbage, sizeof(garbage), "garbage.mmdb");
    path_in(empty, sizeof(empty), "empty.mmdb");
    unsigned char junk[4096];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (unsigned char)(i * 7919u >> 3);
    write_file(garbage, junk, sizeof(junk));
    write_file(empty, "", 0);

    assert_null(px_geoip_open(missing, asn_db, err, sizeof(err)));
    snprintf(want, sizeof(want), "geoip.country: %s: cannot open: No such file", missing);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("got \"%s\", want \"%s...\"", err, want);

    assert_null(px_geoip_open(country_db, missing, err, sizeof(err)));
    snprintf(want, sizeof(want), "geoip.asn: %s: cannot open: No such file", missing);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("got \"%s\", want \"%s...\"", err, want);

    const char *bad[] = {garbage, empty};
    for (size_t i = 0; i < 2; i++) {
        assert_null(px_geoip_open(bad[i], NULL, err, sizeof(err)));
        snprintf(want, sizeof(want), "geoip.country: %s: not a MaxMind DB", bad[i]);
        if (strncmp(err, want, strlen(want)) != 0)
            fail_msg("got \"%s\", want \"%s...\"", err, want);
    }
    assert_null(px_geoip_open(NULL, dir, err, sizeof(err)));
    snprintf(want, sizeof(want), "geoip.asn: %s: not a regular file", dir);
    assert_string_equal(err, want);
}

static void test_optional_databases(void **state)
{
    (void)state;
    NEED_TOOLS();
    char err[256];
    px_geoip_answer a;
    px_geoip *g = px_geoip_open(NULL, NULL, err, sizeof(err));
    assert_non_null(g);
    assert_false(lookup(g, "93.184.216.34", &a));
    assert_int_equal(px_geoip_reload(g, err, sizeof(err)), PX_OK);
    px_geoip_close(g);

    g = px_geoip_open(NULL, asn_db, err, sizeof(err));
    assert_non_null(g);
    assert_true(check_against_mmdblookup(g, NULL, NULL, asn_db, "2a04:4e40::645"));
    assert_true(lookup(g, "93.184.216.34", &a));
    assert_string_equal(a.country, "");
    assert_int_equal(a.asn, 15133);
    px_geoip_close(g);
    px_geoip_close(NULL);
}

/* The other schemas: registered_country.iso_code and ip-location-db's
 * flat country_code (the demo's DB-IP database). */
static void test_country_schemas(void **state)
{
    (void)state;
    NEED_TOOLS();
    const char *keys[][2] = {{"registered_country", "registered_country iso_code"},
                             {"country_code", "country_code"}};
    for (size_t k = 0; k < 2; k++) {
        char db[160], args[256], err[256];
        path_in(db, sizeof(db), keys[k][0]);
        snprintf(args, sizeof(args), "--country-key %s --country %s", keys[k][0], db);
        assert_int_equal(make_mmdb(args), 0);
        px_geoip *g = px_geoip_open(db, NULL, err, sizeof(err));
        assert_non_null(g);
        size_t known = 0;
        for (size_t i = 0; i < sizeof(addresses) / sizeof(addresses[0]); i++)
            known += check_against_mmdblookup(g, db, keys[k][1], NULL, addresses[i]);
        assert_true(known >= 19);
        px_geoip_answer a;
        assert_true(lookup(g, "133.242.5.5", &a));
        assert_string_equal(a.country, "JP");
        px_geoip_close(g);
    }
}

static void test_reload(void **state)
{
    (void)state;
    NEED_TOOLS();
    char c[128], as[128], desc[128], args[512], err[512], want[256];
    px_geoip_answer a;
    geo_stats st, base = geo_now();
    path_in(c, sizeof(c), "reload-country.mmdb");
    path_in(as, sizeof(as), "reload-asn.mmdb");
    path_in(desc, sizeof(desc), "reload.desc");
    snprintf(args, sizeof(args), "--country %s --asn %s", c, as);
    assert_int_equal(make_mmdb(args), 0);
    px_geoip *g = px_geoip_open(c, as, err, sizeof(err));
    assert_non_null(g);
    assert_true(lookup(g, "93.184.216.34", &a));
    assert_string_equal(a.country, "US");

    /* A corrupt replacement: reload fails, naming the file, and the old
     * databases answer, also for addresses not in the cache yet. */
    write_file(c, "this is not an mmdb file\n", 25);
    assert_int_not_equal(px_geoip_reload(g, err, sizeof(err)), PX_OK);
    assert_non_null(strstr(err, c));
    assert_non_null(strstr(err, "not a MaxMind DB"));
    assert_true(lookup(g, "93.184.216.34", &a));
    assert_string_equal(a.country, "US");
    assert_true(lookup(g, "62.210.16.6", &a));
    assert_string_equal(a.country, "FR");
    assert_int_equal(a.asn, 12876);
    /* A missing ASN file fails the reload too and changes nothing. */
    snprintf(args, sizeof(args), "--country %s", c);
    assert_int_equal(make_mmdb(args), 0);
    unlink(as);
    assert_int_not_equal(px_geoip_reload(g, err, sizeof(err)), PX_OK);
    snprintf(want, sizeof(want), "geoip.asn: %s: cannot open: No such file", as);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("got \"%s\", want \"%s...\"", err, want);
    assert_true(lookup(g, "2001:bc8:1::1", &a));
    assert_int_equal(a.asn, 12876);

    /* Valid new files: new answers, the cache does not hide them. */
    static const char newdesc[] = "93.184.216.0/24 FR 64500 Example Transit\n"
                                  "2a02:1234::/32 SE 64501 Doc Net\n"
                                  "62.210.0.0/16 - 64502 -\n";
    write_file(desc, newdesc, sizeof(newdesc) - 1);
    snprintf(args, sizeof(args), "--desc %s --country %s --asn %s", desc, c, as);
    assert_int_equal(make_mmdb(args), 0);
    assert_int_equal(px_geoip_reload(g, err, sizeof(err)), PX_OK);
    st = geo_since(&base);
    uint64_t hits = st.cache_hits;
    const char *ips[] = {"93.184.216.34", "62.210.16.6", "2a02:1234::1", "46.4.84.12"};
    for (size_t i = 0; i < 4; i++)
        check_against_mmdblookup(g, c, "country iso_code", as, ips[i]);
    st = geo_since(&base);
    assert_int_equal(st.cache_hits, hits); /* emptied by the reload */
    assert_true(lookup(g, "93.184.216.34", &a));
    assert_string_equal(a.country, "FR");
    assert_int_equal(a.asn, 64500);
    assert_string_equal(a.as_org, "Example Transit");
    assert_false(lookup(g, "46.4.84.12", &a));
    px_geoip_close(g);
}

/* A long organisation name is cut at a character boundary. */
static void test_long_org(void **state)
{
    (void)state;
    NEED_TOOLS();
    char as[128], desc[128], args[512], err[256], line[600];
    px_geoip_answer a;
    path_in(as, sizeof(as), "long-asn.mmdb");
    path_in(desc, sizeof(desc), "long.desc");
    /* 126 ASCII bytes, then "é" (2 bytes) would cross the 127-byte limit. */
    int n = snprintf(line, sizeof(line), "5.5.5.0/24 - 64496 %0126d\xc3\xa9tail\n", 0);
    write_file(desc, line, (size_t)n);
    snprintf(args, sizeof(args), "--desc %s --asn %s", desc, as);
    assert_int_equal(make_mmdb(args), 0);
    px_geoip *g = px_geoip_open(NULL, as, err, sizeof(err));
    assert_non_null(g);
    assert_true(lookup(g, "5.5.5.7", &a));
    assert_int_equal(strlen(a.as_org), 126);
    px_geoip_close(g);
}

/* The demo's DB-IP database (flat country_code), when scripts/setup.sh has
 * fetched it; a real file of 8 MB and a million nodes. */
static void test_dbip_if_present(void **state)
{
    (void)state;
    NEED_TOOLS();
    char db[512], err[512];
    const char *d = getenv("PDNSX_GEOIP_DIR"), *home = getenv("HOME");
    if (d)
        snprintf(db, sizeof(db), "%s/dbip-country.mmdb", d);
    else
        snprintf(db, sizeof(db), "%s/.cache/pdnsx/geoip/dbip-country.mmdb", home ? home : "/");
    PX_NEED_FILE(db); /* fetched by scripts/setup.sh */
    px_geoip *g = px_geoip_open(db, NULL, err, sizeof(err));
    if (!g)
        fail_msg("%s", err);
    const char *ips[] = {"1.1.1.1",     "8.8.8.8",       "9.9.9.9",        "46.4.84.12",
                         "62.210.16.6", "133.242.5.5",   "200.147.67.142", "2a01:4f8::1",
                         "2001:bc8::1", "2001:e42::1",   "2606:4700::1",   "10.0.0.1",
                         "::1",         "185.15.59.224", "93.184.216.34"};
    size_t known = 0;
    for (size_t i = 0; i < sizeof(ips) / sizeof(ips[0]); i++)
        known += check_against_mmdblookup(g, db, "country_code", NULL, ips[i]);
    assert_true(known >= 10);
    px_geoip_close(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_mmdblookup), cmocka_unit_test(test_mapped_and_bad_addresses),
        cmocka_unit_test(test_address_bytes),      cmocka_unit_test(test_cache),
        cmocka_unit_test(test_open_errors),        cmocka_unit_test(test_optional_databases),
        cmocka_unit_test(test_country_schemas),    cmocka_unit_test(test_reload),
        cmocka_unit_test(test_long_org),           cmocka_unit_test(test_dbip_if_present),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
