/* test_query: request parsing, time fences, lookups against a store built
 * through the px_store API, the HTTP endpoint and the --cluster merge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "dns/px_addr.h"
#include "core/px_metrics.h"
#include "dns/px_dns_name.h"
#include "query/px_cof.h"
#include "query/px_query.h"
#include "query/px_query_route.h"

#include "px_query_cluster.h"
#include "store_text.h"

/* ---- helpers --------------------------------------------------------------- */

static char errbuf[512];

static px_err parse(px_query_req *req, int argc, const char *a0, const char *a1, const char *a2,
                    const char *a3)
{
    char *argv[] = {(char *)a0, (char *)a1, (char *)a2, (char *)a3, NULL};
    px_query_req_init(req);
    errbuf[0] = '\0';
    return px_query_req_parse_args(req, argc, argv, errbuf, sizeof(errbuf));
}

/* Known addresses for the GeoIP callback: one fully known, one only by
 * country; everything else unknown. */
static bool fake_geo(void *ctx, const uint8_t *addr, size_t len, px_geo *out)
{
    int *calls = ctx;
    char address[PX_ADDR_TEXT_MAX];
    px_addr_format_bytes(addr, len, address);
    (*calls)++;
    memset(out, 0, sizeof(*out));
    out->asn = -1;
    if (strcmp(address, "192.0.2.1") == 0) {
        strcpy(out->country, "NL");
        out->asn = 64500;
        strcpy(out->as_org, "Example Networks");
        return true;
    }
    if (strcmp(address, "198.51.100.7") == 0) {
        strcpy(out->country, "DE");
        return true;
    }
    return false;
}

typedef struct fixture {
    char dir[64];
    px_store *store;
    int geo_calls;
} fixture;

static void merge(px_store_batch *b, const char *name, const char *type, const char *rdata,
                  const char *bailiwick, int64_t count, int64_t first, int64_t last,
                  const char *org)
{
    px_avro_obs o = {.rrname = name,
                     .rrtype = type,
                     .rdata = rdata,
                     .bailiwick = bailiwick,
                     .count = count,
                     .time_first = first,
                     .time_last = last,
                     .ttl_min = 300,
                     .ttl_max = 300,
                     .clients = -1,
                     .org = org,
                     .sensor = "s1"};
    const char *dot = strchr(name, '.');
    const char *regdom = dot && strchr(dot + 1, '.') ? dot + 1 : name;
    assert_int_equal(pxt_store_merge(b, &o, regdom), PX_OK);
}

/* GeoIP through fake_geo, counted in *geo_calls. */
static px_store *open_store(char *dir, int *geo_calls)
{
    strcpy(dir, "/tmp/test_query.XXXXXX");
    assert_non_null(mkdtemp(dir));
    px_store_opts opts = {.enrich = fake_geo, .enrich_ctx = geo_calls};
    px_err err = PX_OK;
    px_store *s = px_store_open(dir, &opts, &err, errbuf, sizeof(errbuf));
    if (!s)
        fail_msg("store: %s", errbuf);
    return s;
}

/* T0 = 2026-11-26T18:00:00Z */
#define T0 1795716000

static int setup_store(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    fx->store = open_store(fx->dir, &fx->geo_calls);
    px_store_batch *b = NULL;
    assert_int_equal(px_store_batch_begin(fx->store, &b), PX_OK);
    /* one record seen by two organisations: sums, min/max, both orgs */
    merge(b, "www.example.com", "A", "192.0.2.1", "example.com", 3, T0 + 100, T0 + 200, "org-b");
    merge(b, "www.example.com", "A", "192.0.2.1", "example.com", 2, T0, T0 + 150, "org-a");
    merge(b, "www.example.com", "AAAA", "2001:db8::1", NULL, 1, T0, T0, "org-a");
    merge(b, "mail.example.com", "CNAME", "www.example.com", NULL, 4, T0 + 10, T0 + 20, "org-c");
    merge(b, "a.b.example.com", "A", "192.0.2.1", NULL, 1, T0 + 5000, T0 + 6000, "org-a");
    merge(b, "example.com", "A", "198.51.100.7", NULL, 9, T0, T0 + 9000, "org-b");
    merge(b, "notexample.com", "A", "203.0.113.5", NULL, 1, T0, T0, "org-b");
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    *state = fx;
    return 0;
}

static void remove_dir(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static int teardown_store(void **state)
{
    fixture *fx = *state;
    px_store_close(fx->store);
    remove_dir(fx->dir);
    free(fx);
    return 0;
}

/* The query module reads a set of stores (px_stores.h): each store of
 * these tests is wrapped as a set of one, the wraps freed at exit. */
static px_stores **wraps;
static size_t n_wraps;

static void wraps_free(void)
{
    for (size_t i = 0; i < n_wraps; i++)
        px_stores_close(wraps[i]);
    free(wraps);
}

static px_stores *set_of_partition(px_store *s, int32_t partition)
{
    if (!wraps)
        atexit(wraps_free);
    px_stores **v = realloc(wraps, (n_wraps + 1) * sizeof(*v));
    assert_non_null(v);
    wraps = v;
    wraps[n_wraps] = px_stores_wrap(s, partition);
    assert_non_null(wraps[n_wraps]);
    return wraps[n_wraps++];
}

static px_stores *set_of(px_store *s)
{
    return set_of_partition(s, 0);
}

static const px_query_limits default_limits = {.def = 10000, .max = 1000000};

/* Runs a request (with the default limits when it names none); returns
 * the output (caller frees) and the record count. */
static char *run_res(px_store *s, const px_query_req *req, px_query_result *res)
{
    px_query_req r = *req;
    px_query_req_apply_limits(&r, &default_limits);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(px_query_run(set_of(s), &r, f, res), PX_OK);
    fclose(f);
    char *copy = strdup(buf);
    free(buf);
    return copy;
}

static char *run(px_store *s, const px_query_req *req, size_t *n)
{
    px_query_result res;
    char *out = run_res(s, req, &res);
    assert_false(res.cut);
    *n = res.records;
    return out;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of an answer sorted, joined by '\n': for answers with several
 * names, whose order is the store's business. */
static char *sorted_lines(const char *text)
{
    char *copy = strdup(text), *save = NULL;
    char *lines[64];
    size_t n = 0;
    for (char *l = strtok_r(copy, "\n", &save); l && n < 64; l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    qsort(lines, n, sizeof(*lines), cmp_str);
    char *out = calloc(strlen(text) + 2, 1);
    for (size_t i = 0; i < n; i++) {
        strcat(out, lines[i]);
        strcat(out, "\n");
    }
    free(copy);
    return out;
}

/* ---- request parsing --------------------------------------------------------- */

static void test_parse_args(void **state)
{
    (void)state;
    px_query_req r;
    assert_int_equal(parse(&r, 2, "rrset", "WWW.Example.COM.", NULL, NULL), PX_OK);
    assert_int_equal(r.kind, PX_QUERY_RRSET);
    assert_string_equal(r.name, "www.example.com");
    assert_string_equal(r.rrtype, "");
    assert_true(r.fence.after == INT64_MIN && r.fence.before == INT64_MAX);

    assert_int_equal(parse(&r, 3, "rrset", "*.example.com", "aaaa", NULL), PX_OK);
    assert_string_equal(r.name, "*.example.com");
    assert_string_equal(r.rrtype, "AAAA");

    assert_int_equal(parse(&r, 2, "rdata", "2001:DB8::1", NULL, NULL), PX_OK);
    assert_int_equal(r.kind, PX_QUERY_RDATA);
    assert_string_equal(r.name, "2001:db8::1");

    assert_int_equal(parse(&r, 2, "rrset", ".", NULL, NULL), PX_OK);
    assert_string_equal(r.name, ".");
}

static void test_parse_args_bad(void **state)
{
    (void)state;
    px_query_req r;
    assert_int_equal(parse(&r, 0, NULL, NULL, NULL, NULL), PX_ERR_INVAL);
    assert_true(errbuf[0]);
    assert_int_equal(parse(&r, 1, "rrset", NULL, NULL, NULL), PX_ERR_INVAL);
    assert_int_equal(parse(&r, 2, "registrant", "example.com", NULL, NULL), PX_ERR_INVAL);
    assert_non_null(strstr(errbuf, "registrant"));
    assert_int_equal(parse(&r, 3, "rdata", "192.0.2.1", "A", NULL), PX_ERR_INVAL);
    assert_int_equal(parse(&r, 4, "rrset", "a.example", "A", "x"), PX_ERR_INVAL);
    assert_int_equal(parse(&r, 3, "rrset", "a.example", "A-B", NULL), PX_ERR_INVAL);
    assert_non_null(strstr(errbuf, "A-B"));
    assert_int_equal(parse(&r, 2, "rrset", "a example", NULL, NULL), PX_ERR_INVAL);
    assert_int_equal(parse(&r, 2, "rrset", "", NULL, NULL), PX_ERR_INVAL);
    assert_int_equal(parse(&r, 2, "rrset", "*.", NULL, NULL), PX_ERR_INVAL);
    char longname[PX_QUERY_MAX_TEXT + 8];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(parse(&r, 2, "rrset", longname, NULL, NULL), PX_ERR_INVAL);
    /* names the name parser refuses are refused here, before any lookup */
    const char *bad_names[] = {"a..b", ".a", "a\\", "a\\999b"};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        assert_int_equal(parse(&r, 2, "rrset", bad_names[i], NULL, NULL), PX_ERR_INVAL);
        assert_non_null(strstr(errbuf, "bad name"));
        assert_int_equal(parse(&r, 2, "rdata", bad_names[i], NULL, NULL), PX_ERR_INVAL);
        assert_non_null(strstr(errbuf, "bad value"));
        assert_int_equal(parse(&r, 2, "domain", bad_names[i], NULL, NULL), PX_ERR_INVAL);
    }
    assert_int_equal(parse(&r, 2, "domain", ".", NULL, NULL), PX_ERR_INVAL);
    assert_int_equal(parse(&r, 2, "rrset", "*", NULL, NULL), PX_ERR_INVAL);
    assert_int_equal(parse(&r, 3, "rrset", "a.example", "TYPE65536", NULL), PX_ERR_INVAL);
    assert_int_equal(px_query_req_from_http(&r, "/rrset/a..b", NULL, NULL, NULL, errbuf, 512),
                     PX_ERR_INVAL);
    assert_string_equal(errbuf, "bad name 'a..b'");
}

/* What the user typed is parsed once, through lib/dns: every spelling of a
 * name, an address or a type gives the one canonical request. */
static void test_parse_spellings(void **state)
{
    (void)state;
    px_query_req r;
    const char *addrs[] = {"::FFFF:1.2.3.4", "::ffff:102:304", "0:0:0:0:0:ffff:1.2.3.4",
                           "0000:0000:0000:0000:0000:FFFF:0102:0304"};
    for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
        assert_int_equal(parse(&r, 2, "rdata", addrs[i], NULL, NULL), PX_OK);
        assert_int_equal(r.by, PX_STORE_BY_ADDR);
        assert_string_equal(r.name, "::ffff:102:304");
        assert_int_equal(r.addr_len, 16);
    }
    assert_int_equal(parse(&r, 2, "rdata", "64:ff9b::1.2.3.4", NULL, NULL), PX_OK);
    assert_string_equal(r.name, "64:ff9b::102:304");
    assert_int_equal(parse(&r, 2, "rdata", "MAIL.Example.COM.", NULL, NULL), PX_OK);
    assert_int_equal(r.by, PX_STORE_BY_TARGET);
    assert_string_equal(r.name, "mail.example.com");
    assert_int_equal(r.canon_len, strlen("mail.example.com"));
    assert_int_equal(parse(&r, 3, "rrset", "*.Ex\\097mple.COM", "type1", NULL), PX_OK);
    assert_int_equal(r.by, PX_STORE_BY_ZONE);
    assert_string_equal(r.name, "*.example.com");
    assert_string_equal(r.name + r.canon_off, "example.com");
    assert_string_equal(r.rrtype, "A");
    assert_int_equal(r.type, 1);
    assert_int_equal(parse(&r, 3, "rrset", "a.example", "TYPE65280", NULL), PX_OK);
    assert_string_equal(r.rrtype, "TYPE65280");
    /* a trailing dot makes an address a name, and it stays */
    assert_int_equal(parse(&r, 2, "rdata", "192.0.2.1.", NULL, NULL), PX_OK);
    assert_int_equal(r.by, PX_STORE_BY_TARGET);
    assert_string_equal(r.name, "192.0.2.1.");
    assert_int_equal(r.canon_len, strlen("192.0.2.1"));
    char *tpath = px_query_req_to_path(&r);
    px_query_req tback;
    assert_int_equal(px_query_req_from_http(&tback, tpath, NULL, NULL, NULL, errbuf, 512), PX_OK);
    free(tpath);
    assert_int_equal(tback.by, PX_STORE_BY_TARGET);
    assert_int_equal(parse(&r, 2, "rdata", "192.0.2.1", NULL, NULL), PX_OK);
    assert_int_equal(r.by, PX_STORE_BY_ADDR);
    /* the wildcard owner itself, not the names below: its escape stays */
    assert_int_equal(parse(&r, 2, "rrset", "\\*.Example.COM", NULL, NULL), PX_OK);
    assert_int_equal(r.by, PX_STORE_BY_NAME);
    assert_string_equal(r.name, "\\*.example.com");
    assert_string_equal(r.name + r.canon_off, "*.example.com");
    char *path = px_query_req_to_path(&r);
    px_query_req back;
    assert_int_equal(px_query_req_from_http(&back, path, NULL, NULL, NULL, errbuf, 512), PX_OK);
    free(path);
    assert_int_equal(back.by, PX_STORE_BY_NAME);
    assert_string_equal(back.name + back.canon_off, "*.example.com");
    assert_int_equal(parse(&r, 2, "rrset", "a\\.b.example", NULL, NULL), PX_OK);
    assert_int_equal(r.by, PX_STORE_BY_NAME);
    assert_string_equal(r.name, "a\\.b.example");
}

static void test_parse_time(void **state)
{
    (void)state;
    int64_t t = 0;
    assert_int_equal(px_query_parse_time("1795716000", &t), PX_OK);
    assert_int_equal(t, T0);
    assert_int_equal(px_query_parse_time("2026-11-26T18:00:00Z", &t), PX_OK);
    assert_int_equal(t, T0);
    assert_int_equal(px_query_parse_time("2026-11-26T18:05Z", &t), PX_OK);
    assert_int_equal(t, T0 + 300);
    assert_int_equal(px_query_parse_time("2026-11-26", &t), PX_OK);
    assert_int_equal(t, T0 - 18 * 3600);
    assert_int_equal(px_query_parse_time("0", &t), PX_OK);
    assert_int_equal(t, 0);
    assert_int_equal(px_query_parse_time("1970-01-01T00:00:00Z", &t), PX_OK);
    assert_int_equal(t, 0);
    const char *bad[] = {"",
                         "1969-12-31T23:59:59Z", /* before the epoch */
                         "1397-11-12",
                         "-5",
                         "12abc",
                         "2026-11-26T18:00:00",
                         "2026-11-26T18:00:00+01:00",
                         "2026-02-30",
                         "2026-13-01",
                         "2026-11-26T24:00:00Z",
                         "2026-11-26 18:00:00Z",
                         "99999999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t = 42;
        print_message("%s\n", bad[i]);
        assert_int_equal(px_query_parse_time(bad[i], &t), PX_ERR_INVAL);
        assert_int_equal(t, 42);
    }
}

static void test_fence_setters(void **state)
{
    (void)state;
    px_query_req r;
    px_query_req_init(&r);
    assert_int_equal(px_query_req_set_after(&r, "2026-11-26T18:00:00Z", errbuf, 512), PX_OK);
    assert_int_equal(px_query_req_set_before(&r, "1795716000", errbuf, 512), PX_OK);
    assert_int_equal(r.fence.after, T0);
    assert_int_equal(r.fence.before, T0);
    assert_int_equal(px_query_req_set_before(&r, "1795715999", errbuf, 512), PX_ERR_INVAL);
    assert_non_null(strstr(errbuf, "later"));
    assert_int_equal(px_query_req_set_after(&r, "yesterday", errbuf, 512), PX_ERR_INVAL);
    assert_non_null(strstr(errbuf, "yesterday"));
}

static void test_pct_decode(void **state)
{
    (void)state;
    char out[16];
    assert_true(px_query_pct_decode("2001%3adb8%3A%3A1", 17, out, sizeof(out)));
    assert_string_equal(out, "2001:db8::1");
    assert_true(px_query_pct_decode("a+b%2Fc", 7, out, sizeof(out)));
    assert_string_equal(out, "a+b/c");
    assert_false(px_query_pct_decode("a%00b", 5, out, sizeof(out)));
    assert_false(px_query_pct_decode("a%4", 3, out, sizeof(out)));
    assert_false(px_query_pct_decode("a%zz", 4, out, sizeof(out)));
    assert_false(px_query_pct_decode("0123456789abcdef", 16, out, sizeof(out)));
    assert_true(px_query_pct_decode("0123456789abcde", 15, out, sizeof(out)));
}

static void test_http_form(void **state)
{
    (void)state;
    px_query_req r, back;
    assert_int_equal(parse(&r, 3, "rrset", "*.example.com", "a", NULL), PX_OK);
    char *path = px_query_req_to_path(&r);
    assert_string_equal(path, "/rrset/*.example.com/A");
    free(path);
    assert_int_equal(px_query_req_set_after(&r, "100", errbuf, 512), PX_OK);
    assert_int_equal(px_query_req_set_before(&r, "200", errbuf, 512), PX_OK);
    path = px_query_req_to_path(&r);
    assert_string_equal(path, "/rrset/*.example.com/A?after=100&before=200");
    free(path);

    /* a name with a slash and a percent survives the round trip */
    assert_int_equal(parse(&r, 2, "rdata", "a/b%c.example", NULL, NULL), PX_OK);
    path = px_query_req_to_path(&r);
    assert_string_equal(path, "/rdata/a%2Fb%25c.example");
    assert_int_equal(px_query_req_from_http(&back, path, NULL, NULL, NULL, errbuf, 512), PX_OK);
    assert_int_equal(back.kind, PX_QUERY_RDATA);
    assert_string_equal(back.name, "a/b%c.example");
    free(path);

    assert_int_equal(px_query_req_from_http(&back, "/rdata/2001:DB8::1", NULL,
                                            "2026-11-26T18%3A00%3A00Z", NULL, errbuf, 512),
                     PX_OK);
    assert_string_equal(back.name, "2001:db8::1");
    assert_true(back.fence.after == INT64_MIN && back.fence.before == T0);
    assert_int_equal(back.limit, 0);

    /* the limit travels too */
    assert_int_equal(px_query_req_set_limit(&back, "25", errbuf, 512), PX_OK);
    path = px_query_req_to_path(&back);
    assert_string_equal(path, "/rdata/2001:db8::1?before=1795716000&limit=25");
    free(path);
    assert_int_equal(
        px_query_req_from_http(&back, "/rrset/a.example", NULL, NULL, "7", errbuf, 512), PX_OK);
    assert_int_equal(back.limit, 7);
}

static void test_limits(void **state)
{
    (void)state;
    px_query_req r;
    px_query_req_init(&r);
    const char *bad[] = {"0", "-1", "", "1e3", " 5", "1000000001", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("%s\n", bad[i]);
        assert_int_equal(px_query_req_set_limit(&r, bad[i], errbuf, 512), PX_ERR_INVAL);
        assert_non_null(strstr(errbuf, "limit"));
        assert_int_equal(r.limit, 0);
    }
    assert_int_equal(px_query_req_from_http(&r, "/rrset/a.example", NULL, NULL, "0", errbuf, 512),
                     PX_ERR_INVAL);
    /* none named: the default; too large: the maximum */
    px_query_limits l = {.def = 50, .max = 100};
    px_query_req_apply_limits(&r, &l);
    assert_int_equal(r.limit, 50);
    assert_int_equal(px_query_req_set_limit(&r, "1000000000", errbuf, 512), PX_OK);
    px_query_req_apply_limits(&r, &l);
    assert_int_equal(r.limit, 100);
    assert_int_equal(px_query_req_set_limit(&r, "3", errbuf, 512), PX_OK);
    px_query_req_apply_limits(&r, &l);
    assert_int_equal(r.limit, 3);
    /* a default above the maximum is lowered too */
    px_query_req_init(&r);
    l.def = 500;
    px_query_req_apply_limits(&r, &l);
    assert_int_equal(r.limit, 100);
}

static void test_http_form_bad(void **state)
{
    (void)state;
    px_query_req r;
    const char *notfound[] = {"/",          "/rrset",          "/foo/a.example",  "/rrset/a/A/x",
                              "/rdata/a/A", "rrset/a.example", "/RRSET/a.example"};
    for (size_t i = 0; i < sizeof(notfound) / sizeof(notfound[0]); i++) {
        print_message("%s\n", notfound[i]);
        assert_int_equal(px_query_req_from_http(&r, notfound[i], NULL, NULL, NULL, errbuf, 512),
                         PX_ERR_NOTFOUND);
    }
    const char *bad[] = {"/rrset/", "/rrset/a%zz", "/rrset/a.example/", "/rrset/a.example/A%2B",
                         "/rdata/a%00b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("%s\n", bad[i]);
        assert_int_equal(px_query_req_from_http(&r, bad[i], NULL, NULL, NULL, errbuf, 512),
                         PX_ERR_INVAL);
    }
    assert_int_equal(
        px_query_req_from_http(&r, "/rrset/a.example", "soon", NULL, NULL, errbuf, 512),
        PX_ERR_INVAL);
    assert_int_equal(
        px_query_req_from_http(&r, "/rrset/a.example", "200", "100", NULL, errbuf, 512),
        PX_ERR_INVAL);
}

static void test_name_order(void **state)
{
    (void)state;
    /* RFC 4034 section 6.1's example, lowercase, plus a few */
    const char *sorted[] = {".",           "example",        "a.example", "yljkjljk.a.example",
                            "z.a.example", "zabc.a.example", "b.example", "z.example",
                            "*.z.example"};
    size_t n = sizeof(sorted) / sizeof(sorted[0]);
    /* "*" (0x2a) sorts before letters, but a subdomain always follows its parent */
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            int c = px_dns_name_cmp(sorted[i], strlen(sorted[i]), sorted[j], strlen(sorted[j]));
            if ((i < j && c >= 0) || (i > j && c <= 0) || (i == j && c != 0))
                fail_msg("%s vs %s: %d", sorted[i], sorted[j], c);
        }
    }
}

/* ---- lookups ------------------------------------------------------------------- */

#define WWW_A                                                                                      \
    "{\"rrname\":\"www.example.com\",\"rrtype\":\"A\",\"rdata\":\"192.0.2.1\","                    \
    "\"time_first\":1795716000,\"time_last\":1795716200,\"count\":5,"                              \
    "\"bailiwick\":\"example.com\",\"orgs\":[\"org-a\",\"org-b\"],\"country\":\"NL\","             \
    "\"asn\":64500,\"as_org\":\"Example Networks\"}\n"
#define WWW_AAAA                                                                                   \
    "{\"rrname\":\"www.example.com\",\"rrtype\":\"AAAA\",\"rdata\":\"2001:db8::1\","               \
    "\"time_first\":1795716000,\"time_last\":1795716000,\"count\":1,\"orgs\":[\"org-a\"]}\n"
#define MAIL_CNAME                                                                                 \
    "{\"rrname\":\"mail.example.com\",\"rrtype\":\"CNAME\",\"rdata\":\"www.example.com\","         \
    "\"time_first\":1795716010,\"time_last\":1795716020,\"count\":4,\"orgs\":[\"org-c\"]}\n"
#define AB_A                                                                                       \
    "{\"rrname\":\"a.b.example.com\",\"rrtype\":\"A\",\"rdata\":\"192.0.2.1\","                    \
    "\"time_first\":1795721000,\"time_last\":1795722000,\"count\":1,\"orgs\":[\"org-a\"],"         \
    "\"country\":\"NL\",\"asn\":64500,\"as_org\":\"Example Networks\"}\n"
#define APEX_A                                                                                     \
    "{\"rrname\":\"example.com\",\"rrtype\":\"A\",\"rdata\":\"198.51.100.7\","                     \
    "\"time_first\":1795716000,\"time_last\":1795725000,\"count\":9,\"orgs\":[\"org-b\"],"         \
    "\"country\":\"DE\"}\n"

static void expect(px_store *s, const char *kind, const char *name, const char *type,
                   const char *after, const char *before, const char *want, size_t want_n)
{
    px_query_req r;
    assert_int_equal(parse(&r, type ? 3 : 2, kind, name, type, NULL), PX_OK);
    if (after)
        assert_int_equal(px_query_req_set_after(&r, after, errbuf, 512), PX_OK);
    if (before)
        assert_int_equal(px_query_req_set_before(&r, before, errbuf, 512), PX_OK);
    size_t n = 99;
    char *got = run(s, &r, &n);
    char *g = sorted_lines(got), *w = sorted_lines(want);
    assert_string_equal(g, w);
    assert_int_equal(n, want_n);
    free(g);
    free(w);
    free(got);
}

static void test_rrset(void **state)
{
    fixture *fx = *state;
    expect(fx->store, "rrset", "www.example.com", NULL, NULL, NULL, WWW_A WWW_AAAA, 2);
    expect(fx->store, "rrset", "WWW.example.com.", "a", NULL, NULL, WWW_A, 1);
    expect(fx->store, "rrset", "www.example.com", "MX", NULL, NULL, "", 0);
    expect(fx->store, "rrset", "nothing.example.net", NULL, NULL, NULL, "", 0);
    expect(fx->store, "rrset", "example.com", NULL, NULL, NULL, APEX_A, 1);
    /* one GeoIP lookup per new A/AAAA record, not per observation */
    assert_int_equal(fx->geo_calls, 5);
}

static void test_rrset_wildcard(void **state)
{
    fixture *fx = *state;
    /* strictly below: not example.com itself, not notexample.com */
    expect(fx->store, "rrset", "*.example.com", NULL, NULL, NULL, WWW_A WWW_AAAA MAIL_CNAME AB_A,
           4);
    expect(fx->store, "rrset", "*.example.com", "A", NULL, NULL, WWW_A AB_A, 2);
    expect(fx->store, "rrset", "*.b.example.com", NULL, NULL, NULL, AB_A, 1);
}

static void test_rdata(void **state)
{
    fixture *fx = *state;
    expect(fx->store, "rdata", "192.0.2.1", NULL, NULL, NULL, WWW_A AB_A, 2);
    /* any textual form of the address */
    expect(fx->store, "rdata", "2001:0DB8:0:0::1", NULL, NULL, NULL, WWW_AAAA, 1);
    expect(fx->store, "rdata", "www.example.com.", NULL, NULL, NULL, MAIL_CNAME, 1);
    expect(fx->store, "rdata", "192.0.2.99", NULL, NULL, NULL, "", 0);
}

/* A fence keeps records whose [time_first, time_last] overlaps it,
 * bounds included. */
static void test_fences(void **state)
{
    fixture *fx = *state;
    px_store *s = fx->store;
    expect(s, "rrset", "www.example.com", "A", "1795716200", NULL, WWW_A, 1);
    expect(s, "rrset", "www.example.com", "A", "1795716201", NULL, "", 0);
    expect(s, "rrset", "www.example.com", "A", NULL, "1795716000", WWW_A, 1);
    expect(s, "rrset", "www.example.com", "A", NULL, "1795715999", "", 0);
    /* a fence inside the record's span overlaps it */
    expect(s, "rrset", "www.example.com", "A", "1795716050", "1795716060", WWW_A, 1);
    expect(s, "rdata", "192.0.2.1", NULL, "2026-11-26T19:00:00Z", NULL, AB_A, 1);
    expect(s, "rrset", "*.example.com", NULL, NULL, "2026-11-26T18:00:05Z", WWW_A WWW_AAAA, 2);
}

/* An answer cut at its limit says so; one that holds exactly the limit
 * is whole. */
static void test_run_limit(void **state)
{
    fixture *fx = *state;
    px_query_req r;
    px_query_result res;
    for (uint64_t limit = 1; limit <= 5; limit++) {
        assert_int_equal(parse(&r, 2, "rrset", "*.example.com", NULL, NULL), PX_OK);
        r.limit = limit;
        char *got = run_res(fx->store, &r, &res);
        size_t lines = 0;
        for (const char *p = got; (p = strchr(p, '\n')); p++)
            lines++;
        print_message("limit %llu: %zu records, cut %d\n", (unsigned long long)limit, lines,
                      res.cut);
        assert_int_equal(lines, limit < 4 ? limit : 4);
        assert_int_equal(res.records, lines);
        assert_int_equal(res.cut, limit < 4);
        /* the first records of the whole answer, in its order */
        assert_null(strstr(got, "cond"));
        free(got);
    }
}

/* Merges n observations under *.many.example into the store. */
static void fill_many(fixture *fx, int n)
{
    px_store_batch *b = NULL;
    assert_int_equal(px_store_batch_begin(fx->store, &b), PX_OK);
    for (int i = 0; i < n; i++) {
        char name[64], addr[32];
        snprintf(name, sizeof(name), "host%05d.many.example", i);
        snprintf(addr, sizeof(addr), "192.0.2.%d", i % 250);
        merge(b, name, "A", addr, NULL, 1, T0 + i, T0 + i, "org-a");
    }
    assert_int_equal(px_store_batch_commit(b), PX_OK);
}

typedef struct collect {
    char *text;
    size_t len;
    FILE *f;
} collect;

static bool collect_rec(void *ctx, const px_store_rec *rec)
{
    px_cof_write(((collect *)ctx)->f, rec);
    return true;
}

/* The records below many.example, as the store is asked for "*.many.example". */
static const px_store_lookup many_zone = {
    .by = PX_STORE_BY_ZONE, .name = "many.example", .name_len = 12, .rrtype = PX_STORE_ANY_TYPE};

/* What the one-transaction callback API answers, as COF text. */
static char *all_at_once(px_store *s, const px_store_lookup *l, const px_store_fence *fence)
{
    collect c = {0};
    c.f = open_memstream(&c.text, &c.len);
    px_store_fence none = {INT64_MIN, INT64_MAX};
    assert_int_equal(px_store_find(s, l, fence ? fence : &none, collect_rec, &c), PX_OK);
    fclose(c.f);
    return c.text;
}

/* Read in steps of any size, an answer is the same as read at once; a
 * stream's pieces are bounded whatever the answer's size. */
static void test_steps(void **state)
{
    fixture *fx = *state;
    fill_many(fx, 3000);
    char *want = all_at_once(fx->store, &many_zone, NULL);
    size_t steps[] = {1, 2, 7, 512, 100000};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        px_store_iter *it = NULL;
        assert_int_equal(px_store_iter_find(fx->store, &many_zone, NULL, &it), PX_OK);
        collect c = {0};
        c.f = open_memstream(&c.text, &c.len);
        bool done = false;
        size_t n_steps = 0;
        while (!done) {
            assert_int_equal(px_store_iter_step(it, steps[i], collect_rec, &c, &done), PX_OK);
            n_steps++;
        }
        fclose(c.f);
        print_message("step %zu: %zu steps\n", steps[i], n_steps);
        assert_true(n_steps >= 3000 / steps[i]);
        assert_string_equal(c.text, want);
        free(c.text);
        px_store_iter_free(it);
    }
    /* a fence that keeps one record: the walk still ends */
    px_store_fence one = {T0 + 2999, T0 + 2999};
    char *fenced = all_at_once(fx->store, &many_zone, &one);
    assert_non_null(strstr(fenced, "host02999"));
    px_query_req r;
    assert_int_equal(parse(&r, 2, "rrset", "*.many.example", NULL, NULL), PX_OK);
    r.fence = one;
    r.limit = 10;
    size_t n = 0;
    char *got = run(fx->store, &r, &n);
    assert_string_equal(got, fenced);
    assert_int_equal(n, 1);
    free(got);
    free(fenced);

    /* the stream: pieces of whole lines, none much above 16 KiB */
    assert_int_equal(parse(&r, 2, "rrset", "*.many.example", NULL, NULL), PX_OK);
    r.limit = 1000000;
    px_query_stream *qs = NULL;
    assert_int_equal(px_query_stream_open(set_of(fx->store), NULL, &r, &qs), PX_OK);
    collect c = {0};
    c.f = open_memstream(&c.text, &c.len);
    size_t pieces = 0, len = 0;
    const char *data = NULL;
    do {
        assert_int_equal(px_query_stream_next(qs, NULL, NULL, &data, &len), PX_OK);
        assert_true(len < 16384 + 1024);
        if (len) {
            assert_true(data[len - 1] == '\n');
            fwrite(data, 1, len, c.f);
            pieces++;
        }
    } while (len);
    fclose(c.f);
    assert_string_equal(c.text, want);
    assert_true(pieces >= c.len / (16384 + 1024));
    px_query_result res;
    px_query_stream_result(qs, &res);
    assert_int_equal(res.records, 3000);
    assert_false(res.cut);
    px_query_stream_free(qs);
    free(c.text);
    free(want);
}

static bool stop_now(void *ctx)
{
    (void)ctx;
    return false;
}

/* A batch committed between two steps shows in the records after the
 * walk's position, and no record comes twice. */
static void test_steps_across_commits(void **state)
{
    fixture *fx = *state;
    fill_many(fx, 100);
    px_store_iter *it = NULL;
    assert_int_equal(px_store_iter_find(fx->store, &many_zone, NULL, &it), PX_OK);
    collect c = {0};
    c.f = open_memstream(&c.text, &c.len);
    bool done = false;
    assert_int_equal(px_store_iter_step(it, 50, collect_rec, &c, &done), PX_OK);
    assert_false(done);
    /* one record before the position, one after, one new after */
    px_store_batch *b = NULL;
    assert_int_equal(px_store_batch_begin(fx->store, &b), PX_OK);
    merge(b, "host00010.many.example", "A", "192.0.2.10", NULL, 5, T0, T0, "org-b");
    merge(b, "host00090.many.example", "A", "192.0.2.90", NULL, 5, T0, T0, "org-b");
    merge(b, "host00095x.many.example", "A", "192.0.2.95", NULL, 5, T0, T0, "org-b");
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    while (!done)
        assert_int_equal(px_store_iter_step(it, 50, collect_rec, &c, &done), PX_OK);
    fclose(c.f);
    px_store_iter_free(it);
    size_t lines = 0;
    for (const char *p = c.text; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, 101);
    /* before the position: as it was; after: with the batch */
    assert_non_null(strstr(c.text, "\"rrname\":\"host00010.many.example\",\"rrtype\":\"A\","
                                   "\"rdata\":\"192.0.2.10\",\"time_first\":1795716010,"
                                   "\"time_last\":1795716010,\"count\":1,"));
    assert_non_null(strstr(c.text, "\"rrname\":\"host00090.many.example\",\"rrtype\":\"A\","
                                   "\"rdata\":\"192.0.2.90\",\"time_first\":1795716000,"
                                   "\"time_last\":1795716090,\"count\":6,"));
    assert_non_null(strstr(c.text, "host00095x.many.example"));
    free(c.text);

    /* a stream whose client is gone stops between steps */
    px_query_req r;
    assert_int_equal(parse(&r, 2, "rrset", "*.many.example", NULL, NULL), PX_OK);
    r.limit = 10;
    px_query_stream *qs = NULL;
    assert_int_equal(px_query_stream_open(set_of(fx->store), NULL, &r, &qs), PX_OK);
    const char *data;
    size_t len;
    assert_int_equal(px_query_stream_next(qs, stop_now, NULL, &data, &len), PX_ERR_AGAIN);
    px_query_stream_free(qs);
    /* a type out of range fails at once */
    px_store_lookup bad = {
        .by = PX_STORE_BY_NAME, .name = "a.example", .name_len = 9, .rrtype = 65536};
    assert_int_equal(px_store_iter_find(fx->store, &bad, NULL, &it), PX_ERR_INVAL);
    assert_null(it);
    px_store_iter_free(NULL);
}

/* ---- HTTP ------------------------------------------------------------------------- */

static px_query_server *start_server(px_store *s, char *hostport, size_t len)
{
    px_query_server *srv =
        px_query_server_start("127.0.0.1:0", set_of(s), NULL, errbuf, sizeof(errbuf));
    if (!srv)
        fail_msg("server: %s", errbuf);
    assert_true(px_query_server_port(srv) > 0);
    snprintf(hostport, len, "127.0.0.1:%u", px_query_server_port(srv));
    return srv;
}

/* An owner of `partitions` partitions owning owned[0..n). */
static px_query_owner *owning(int32_t partitions, const int32_t *owned, size_t n)
{
    px_query_owner *o = px_query_owner_create();
    assert_non_null(o);
    assert_int_equal(px_query_owner_assign(o, partitions, owned, n), PX_OK);
    return o;
}

/* A member of a consumer group: it answers for o's partitions (limit 0:
 * the default limits) from s, a store holding records of any partition
 * (PX_STORES_ALL: what members whose stores overlap hold). */
static px_query_server *start_member(px_store *s, px_query_owner *o, uint64_t limit, char *hp,
                                     size_t len)
{
    px_query_server_opts opts = {.owner = o};
    if (limit)
        opts.limits = (px_query_limits){.def = limit, .max = limit};
    px_query_server *srv = px_query_server_start("127.0.0.1:0", set_of_partition(s, PX_STORES_ALL),
                                                 &opts, errbuf, sizeof(errbuf));
    if (!srv)
        fail_msg("server: %s", errbuf);
    snprintf(hp, len, "127.0.0.1:%u", px_query_server_port(srv));
    return srv;
}

/* What the store alone answers r (its own lookup, no HTTP); freed by the
 * caller. */
static char *local_answer(px_store *s, const px_query_req *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(px_query_run(set_of(s), r, f, NULL), PX_OK);
    fclose(f);
    return buf;
}

/* One GET through the --cluster client's fetch (one endpoint): on PX_OK
 * *status and *body (NUL-terminated, caller frees) of *len bytes. */
static px_err http_get(const char *hp, const char *path, int timeout_ms, int *status, char **body,
                       size_t *len, char *why, size_t whylen)
{
    px_query_answer a;
    px_err err =
        px_query_fetch(&hp, 1, path, timeout_ms, PX_QUERY_CLUSTER_MAX_ANSWER, &a, why, whylen);
    *status = a.status, *body = a.body, *len = a.len;
    return err;
}

/* A plain socket client, independent of the --cluster client: the whole
 * raw answer of one request. */
static char *raw_request(uint16_t port, const char *request)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(write(fd, request, strlen(request)), (ssize_t)strlen(request));
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    ssize_t n;
    while ((n = read(fd, buf + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(fd);
    return buf;
}

static void test_http_raw(void **state)
{
    fixture *fx = *state;
    char hp[64];
    px_query_server *srv = start_server(fx->store, hp, sizeof(hp));
    char *ans = raw_request(px_query_server_port(srv),
                            "GET /rrset/www.example.com/A HTTP/1.1\r\nHost: x\r\n"
                            "Connection: close\r\n\r\n");
    assert_true(strncmp(ans, "HTTP/1.1 200", 12) == 0);
    assert_non_null(strcasestr(ans, "\r\nContent-Type: application/x-ndjson\r\n"));
    /* streamed: one chunk, then the last */
    assert_non_null(strcasestr(ans, "\r\nTransfer-Encoding: chunked\r\n"));
    char *body = strstr(ans, "\r\n\r\n");
    assert_non_null(body);
    char want[1024];
    snprintf(want, sizeof(want), "%zX\r\n%s\r\n0\r\n\r\n", strlen(WWW_A), WWW_A);
    assert_string_equal(body + 4, want);
    free(ans);
    /* HTTP/1.0 has no chunks: the body ends with the connection */
    ans = raw_request(px_query_server_port(srv),
                      "GET /rrset/www.example.com/A HTTP/1.0\r\nHost: x\r\n\r\n");
    assert_true(strncmp(ans, "HTTP/1.0 200", 12) == 0 || strncmp(ans, "HTTP/1.1 200", 12) == 0);
    body = strstr(ans, "\r\n\r\n");
    assert_non_null(body);
    assert_string_equal(body + 4, WWW_A);
    free(ans);

    ans = raw_request(px_query_server_port(srv),
                      "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_true(strncmp(ans, "HTTP/1.1 404", 12) == 0);
    free(ans);
    ans = raw_request(px_query_server_port(srv), "POST /rrset/www.example.com HTTP/1.1\r\n"
                                                 "Host: x\r\nContent-Length: 0\r\n"
                                                 "Connection: close\r\n\r\n");
    assert_true(strncmp(ans, "HTTP/1.1 405", 12) == 0);
    free(ans);
    px_query_server_stop(srv);
}

static void get(const char *hp, const char *path, int want_status, const char *want_body)
{
    int status = 0;
    char *body = NULL;
    size_t len = 0;
    if (http_get(hp, path, 10000, &status, &body, &len, errbuf, sizeof(errbuf)) != PX_OK)
        fail_msg("GET %s: %s", path, errbuf);
    print_message("GET %s -> %d %s", path, status, body);
    assert_int_equal(status, want_status);
    assert_int_equal(strlen(body), len);
    if (want_body) {
        char *g = sorted_lines(body), *w = sorted_lines(want_body);
        assert_string_equal(g, w);
        free(g);
        free(w);
    }
    free(body);
}

static void test_http_endpoints(void **state)
{
    fixture *fx = *state;
    char hp[64];
    px_query_server *srv = start_server(fx->store, hp, sizeof(hp));
    get(hp, "/rrset/www.example.com", 200, WWW_A WWW_AAAA);
    get(hp, "/rrset/*.example.com/a?before=1795716005", 200, WWW_A);
    get(hp, "/rdata/2001:db8::1", 200, WWW_AAAA);
    get(hp, "/rdata/2001%3Adb8%3A%3A1", 200, WWW_AAAA);
    get(hp, "/rdata/192.0.2.1?after=2026-11-26T19%3A00%3A00Z", 200, AB_A);
    get(hp, "/rrset/nothing.example", 200, "");
    get(hp, "/", 404, NULL);
    get(hp, "/rrset", 404, NULL);
    get(hp, "/rrset/a/A/more", 404, NULL);
    get(hp, "/rrset/www.example.com?after=soon", 400, NULL);
    get(hp, "/rrset/www.example.com?after=200&before=100", 400, NULL);
    get(hp, "/rrset/www.example.com?after=1&after=2", 400, NULL);
    get(hp, "/rrset/www.example.com?limit=0", 400, NULL);
    get(hp, "/rrset/www.example.com?limit=ten", 400, NULL);
    get(hp, "/rrset/www.example.com?limit=1&limit=2", 400, NULL);
    get(hp, "/rrset/www.example.com?offset=5", 400, NULL);
    get(hp, "/rrset/www.example.com?after", 400, NULL);
    get(hp, "/rrset/www.example.com/A-B", 400, NULL);
    get(hp, "/rrset/bad%zz", 400, NULL);
    px_query_server_stop(srv);
}

/* Flips a bit of the checksum of the first record whose key starts with
 * prefix (a reversed name), through LMDB itself, the store closed. */
static void damage_record(const char *dir, const char *prefix)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *c;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "rec", 0, &dbi), 0);
    assert_int_equal(mdb_cursor_open(txn, dbi, &c), 0);
    MDB_val k = {strlen(prefix), (void *)prefix}, v;
    assert_int_equal(mdb_cursor_get(c, &k, &v, MDB_SET_RANGE), 0);
    assert_memory_equal(k.mv_data, prefix, strlen(prefix));
    uint8_t key[512], val[512];
    assert_true(k.mv_size <= sizeof(key) && v.mv_size <= sizeof(val));
    memcpy(key, k.mv_data, k.mv_size);
    memcpy(val, v.mv_data, v.mv_size);
    val[v.mv_size - 1] ^= 0x01;
    MDB_val pk = {k.mv_size, key}, pv = {v.mv_size, val};
    assert_int_equal(mdb_cursor_put(c, &pk, &pv, MDB_CURRENT), 0);
    mdb_cursor_close(c);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* Where the line of a record of name starts in a COF answer. */
static size_t line_of(const char *text, const char *name)
{
    char pat[128];
    snprintf(pat, sizeof(pat), "\"rrname\":\"%s\"", name);
    const char *p = strstr(text, pat);
    if (!p)
        fail_msg("no line of %s", name);
    while (p > text && p[-1] != '\n')
        p--;
    return (size_t)(p - text);
}

static bool count_rec(void *ctx, const px_store_rec *rec)
{
    (void)rec;
    (*(size_t *)ctx)++;
    return true;
}

/* Runs a request (limit 1,000,000) that must return want: its output
 * (caller frees). */
static char *run_err(px_store *s, const char *kind, const char *name, px_err want)
{
    px_query_req r;
    assert_int_equal(parse(&r, 2, kind, name, NULL, NULL), PX_OK);
    r.limit = 1000000;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(px_query_run(set_of(s), &r, f, NULL), want);
    fclose(f);
    return buf;
}

/* A record whose value fails its checksum in the middle of a long answer:
 * each step reads through the store's checked reader, so the walk gives
 * the sound records before it and ends at the step that met it
 * (PX_ERR_DAMAGED, again on every later step); the stream and pdnsx-query
 * give every record before the damage (each passed its checks) and none
 * past the step that met it; over HTTP the answer ends with the failed
 * condition line, or is a 500 when nothing came before. */
static void test_steps_damaged(void **state)
{
    fixture *fx = *state;
    fill_many(fx, 3000);
    char *want = all_at_once(fx->store, &many_zone, NULL);
    px_store_close(fx->store);
    damage_record(fx->dir, "example.many.host01500");
    px_err err = PX_OK;
    fx->store =
        px_store_open(fx->dir, &(px_store_opts){.read_only = true}, &err, errbuf, sizeof(errbuf));
    assert_non_null(fx->store);
    size_t at = line_of(want, "host01500.many.example");
    size_t from = line_of(want, "host01501.many.example");
    size_t to = line_of(want, "host01600.many.example");

    /* steps of 100 keys: the 16th meets the damage and gives 1501..1599 */
    px_store_iter *it = NULL;
    assert_int_equal(px_store_iter_find(fx->store, &many_zone, NULL, &it), PX_OK);
    collect c = {0};
    c.f = open_memstream(&c.text, &c.len);
    bool done = false;
    size_t steps = 0;
    while (!done && err == PX_OK) {
        err = px_store_iter_step(it, 100, collect_rec, &c, &done);
        steps++;
    }
    fclose(c.f);
    assert_int_equal(err, PX_ERR_DAMAGED);
    assert_true(done);
    assert_int_equal(steps, 16);
    assert_int_equal(c.len, at + (to - from));
    assert_memory_equal(c.text, want, at);
    assert_memory_equal(c.text + at, want + from, to - from);
    free(c.text);
    size_t n = 0;
    done = false;
    assert_int_equal(px_store_iter_step(it, 100, count_rec, &n, &done), PX_ERR_DAMAGED);
    assert_true(done);
    assert_int_equal(n, 0);
    px_store_iter_free(it);

    /* the callback API: every sound record, then the damage */
    n = 0;
    px_store_fence none = {INT64_MIN, INT64_MAX};
    assert_int_equal(px_store_find(fx->store, &many_zone, &none, count_rec, &n), PX_ERR_DAMAGED);
    assert_int_equal(n, 2999);

    /* pdnsx-query's stream: everything before the damage, then the error */
    char *got = run_err(fx->store, "rrset", "*.many.example", PX_ERR_DAMAGED);
    size_t got_len = strlen(got);
    assert_true(got_len >= at);
    assert_memory_equal(got, want, at);
    assert_memory_equal(got + at, want + from, got_len - at);
    assert_null(strstr(got, "host02100.")); /* past the step of 512 keys that met it */
    free(got);
    /* by address: the 12 records of 192.0.2.0 lie in one step, which
     * gives the 11 sound ones */
    got = run_err(fx->store, "rdata", "192.0.2.0", PX_ERR_DAMAGED);
    size_t lines = 0;
    for (const char *p = got; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, 11);
    assert_non_null(strstr(got, "\"rrname\":\"host01250.many.example\""));
    assert_non_null(strstr(got, "\"rrname\":\"host01750.many.example\""));
    assert_null(strstr(got, "host01500."));
    free(got);

    /* over HTTP */
    char hp[64];
    px_query_server *srv = start_server(fx->store, hp, sizeof(hp));
    int status = 0;
    char *body = NULL;
    size_t len = 0;
    assert_int_equal(http_get(hp, "/rrset/*.many.example?limit=5000", 10000, &status, &body, &len,
                              errbuf, sizeof(errbuf)),
                     PX_OK);
    assert_int_equal(status, 200);
    static const char failed[] = "{\"cond\":\"failed\",\"msg\":\"stored data is damaged\"}\n";
    assert_true(len > at + strlen(failed));
    assert_memory_equal(body, want, at);
    assert_string_equal(body + len - strlen(failed), failed);
    assert_memory_equal(body + at, want + from, len - strlen(failed) - at);
    free(body);
    get(hp, "/rrset/host01500.many.example", 500, NULL);
    get(hp, "/rrset/host01501.many.example", 200, NULL);
    px_query_server_stop(srv);
    free(want);
}

/* ?limit= cuts an answer, which then ends with the condition line; the
 * server's default and maximum apply. */
static void test_http_limit(void **state)
{
    fixture *fx = *state;
    px_query_server_opts o = {.limits = {.def = 2, .max = 3}};
    px_query_server *srv = px_query_server_start("127.0.0.1:0", set_of(fx->store), &o, errbuf, 512);
    assert_non_null(srv);
    char hp[64];
    snprintf(hp, sizeof(hp), "127.0.0.1:%u", px_query_server_port(srv));
    const char *cond2 =
        "{\"cond\":\"limited\",\"limit\":2,\"msg\":\"answer cut at the limit of 2 records\"}\n";
    const char *cond3 =
        "{\"cond\":\"limited\",\"limit\":3,\"msg\":\"answer cut at the limit of 3 records\"}\n";
    struct {
        const char *path;
        size_t records;
        const char *cond;
    } cases[] = {
        {"/rrset/*.example.com", 2, cond2},           /* the default */
        {"/rrset/*.example.com?limit=1", 1, NULL},    /* asked */
        {"/rrset/*.example.com?limit=100", 3, cond3}, /* lowered to the maximum */
        {"/rdata/192.0.2.1?limit=2", 2, NULL},        /* exactly the limit: whole */
        {"/rrset/www.example.com?limit=3", 2, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int status = 0;
        char *body = NULL;
        size_t len = 0;
        assert_int_equal(http_get(hp, cases[i].path, 10000, &status, &body, &len, errbuf, 512),
                         PX_OK);
        print_message("%s -> %s", cases[i].path, body);
        assert_int_equal(status, 200);
        size_t lines = 0;
        const char *last = body;
        for (const char *p = body; *p; p++) {
            if (*p == '\n') {
                lines++;
                if (p[1])
                    last = p + 1;
            }
        }
        if (i == 1) { /* the cut's line follows the one record */
            assert_int_equal(lines, 2);
            assert_non_null(strstr(last, "\"cond\":\"limited\",\"limit\":1,"));
        } else if (cases[i].cond) {
            assert_int_equal(lines, cases[i].records + 1);
            assert_string_equal(last, cases[i].cond);
        } else {
            assert_int_equal(lines, cases[i].records);
            assert_null(strstr(body, "cond"));
        }
        free(body);
    }
    px_query_server_stop(srv);
}

static void test_server_bad_listen(void **state)
{
    fixture *fx = *state;
    assert_null(
        px_query_server_start("localhost:80", set_of(fx->store), NULL, errbuf, sizeof(errbuf)));
    assert_non_null(strstr(errbuf, "localhost:80"));
    assert_null(
        px_query_server_start("127.0.0.1", set_of(fx->store), NULL, errbuf, sizeof(errbuf)));
    px_query_server_stop(NULL);
    /* the port is taken */
    char hp[64];
    px_query_server *srv = start_server(fx->store, hp, sizeof(hp));
    assert_null(px_query_server_start(hp, set_of(fx->store), NULL, errbuf, sizeof(errbuf)));
    assert_non_null(strstr(errbuf, "in use"));
    px_query_server_stop(srv);
}

/* ---- cluster -------------------------------------------------------------------- */

static char *merged(const char *a, const char *b, px_err want, size_t *n)
{
    const char *answers[] = {a, b};
    size_t lens[] = {strlen(a), strlen(b)};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    errbuf[0] = '\0';
    px_query_result res;
    assert_int_equal(px_query_merge(answers, lens, 2, 0, f, &res, errbuf, sizeof(errbuf)), want);
    *n = res.records;
    fclose(f);
    char *copy = strdup(buf);
    free(buf);
    return copy;
}

#define REC(name, type, rdata, tf, tl, count, rest)                                                \
    "{\"rrname\":\"" name "\",\"rrtype\":\"" type "\",\"rdata\":\"" rdata "\",\"time_first\":" #tf \
    ",\"time_last\":" #tl ",\"count\":" #count rest "}\n"

static void test_merge(void **state)
{
    (void)state;
    const char *one = REC("b.example", "A", "192.0.2.1", 100, 200, 3, ",\"orgs\":[\"org-b\"]")
        REC("x.example", "NS", "ns.example", 10, 20, 1,
            ",\"bailiwick\":\"example\",\"orgs\":[\"org-a\"]");
    const char *two =
        "\n" REC("x.example", "NS", "ns.example", 5, 15, 2, ",\"orgs\":[\"org-c\",\"org-a\"]")
            REC("b.example", "A", "192.0.2.1", 50, 300, 4,
                ",\"orgs\":[\"org-a\"],\"country\":\"NL\",\"asn\":64500")
                REC("a.example", "AAAA", "2001:db8::1", 1, 2, 1, ",\"orgs\":[\"org-a\"]");
    size_t n = 0;
    char *got = merged(one, two, PX_OK, &n);
    const char *want = REC("a.example", "AAAA", "2001:db8::1", 1, 2, 1, ",\"orgs\":[\"org-a\"]")
        REC("b.example", "A", "192.0.2.1", 50, 300, 7,
            ",\"orgs\":[\"org-a\",\"org-b\"],\"country\":\"NL\",\"asn\":64500")
            REC("x.example", "NS", "ns.example", 5, 20, 3,
                ",\"bailiwick\":\"example\",\"orgs\":[\"org-a\",\"org-c\"]");
    assert_string_equal(got, want);
    assert_int_equal(n, 3);
    free(got);

    /* the same key twice in one answer merges too */
    got = merged(REC("a.example", "A", "192.0.2.1", 5, 6, 1, ",\"orgs\":[\"org-a\"]")
                     REC("a.example", "A", "192.0.2.1", 1, 2, 1, ",\"orgs\":[\"org-a\"]"),
                 "", PX_OK, &n);
    assert_string_equal(got, REC("a.example", "A", "192.0.2.1", 1, 6, 2, ",\"orgs\":[\"org-a\"]"));
    assert_int_equal(n, 1);
    free(got);

    /* empty answers are fine */
    got = merged("", "", PX_OK, &n);
    assert_string_equal(got, "");
    assert_int_equal(n, 0);
    free(got);
}

static void test_merge_malformed(void **state)
{
    (void)state;
    size_t n = 0;
    const char *good = REC("a.example", "A", "192.0.2.1", 1, 2, 1, "");
    char *got = merged(good, "{\"rrname\":\"x\"}\n", PX_ERR_MALFORMED, &n);
    assert_non_null(strstr(errbuf, "answer 2, line 1"));
    free(got);
    char twolines[512];
    snprintf(twolines, sizeof(twolines), "%snot json\n", good);
    got = merged(twolines, good, PX_ERR_MALFORMED, &n);
    assert_non_null(strstr(errbuf, "answer 1, line 2"));
    free(got);
}

/* A member's cut answer is merged and counted; a failed one fails the
 * merge; the merged answer is cut at the limit. */
static void test_merge_conditions(void **state)
{
    (void)state;
    const char *limited = "{\"cond\":\"limited\",\"limit\":1,\"msg\":\"x\"}\n";
    const char *a = REC("a.example", "A", "192.0.2.1", 1, 2, 1, ",\"orgs\":[\"org-a\"]");
    const char *b = REC("b.example", "A", "192.0.2.2", 1, 2, 1, ",\"orgs\":[\"org-a\"]");
    char cut[512], bad[512];
    snprintf(cut, sizeof(cut), "%s%s\n", b, limited);
    const char *answers[] = {a, cut};
    size_t lens[] = {strlen(a), strlen(cut)};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    px_query_result res;
    assert_int_equal(px_query_merge(answers, lens, 2, 0, f, &res, errbuf, 512), PX_OK);
    fclose(f);
    char want[1024];
    snprintf(want, sizeof(want), "%s%s", a, b);
    assert_string_equal(buf, want);
    assert_int_equal(res.records, 2);
    assert_false(res.cut);
    assert_int_equal(res.answers_cut, 1);
    assert_string_equal(res.cut_by, "answer 2");
    free(buf);

    /* the merged answer's own limit */
    f = open_memstream(&buf, &len);
    assert_int_equal(px_query_merge(answers, lens, 2, 1, f, &res, errbuf, 512), PX_OK);
    fclose(f);
    assert_string_equal(buf, a);
    assert_true(res.cut);
    assert_int_equal(res.records, 1);
    free(buf);

    /* a condition line anywhere but last, an unknown one, a failed one */
    size_t n = 0;
    snprintf(bad, sizeof(bad), "%s%s", limited, a);
    free(merged(bad, "", PX_ERR_MALFORMED, &n));
    assert_non_null(
        strstr(errbuf, "answer 1, line 1: a \"limited\" line before the end of the answer"));
    free(merged(a, "{\"cond\":\"begin\"}\n", PX_ERR_MALFORMED, &n));
    assert_non_null(strstr(errbuf, "answer 2, line 1: unexpected condition line"));
    snprintf(bad, sizeof(bad), "%s{\"cond\":\"failed\",\"msg\":\"store: I/O error\"}\n", a);
    free(merged(a, bad, PX_ERR_IO, &n));
    assert_non_null(strstr(errbuf, "answer 2, line 2: the consumer failed mid-answer: store: I/O"));
}

/* Runs --cluster over list into a string (freed by the caller). */
static char *cluster_text(const char *list, const px_query_req *r, px_query_result *res)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    px_err err = px_query_cluster(list, r, 10000, f, res, errbuf, sizeof(errbuf));
    fclose(f);
    if (err != PX_OK)
        fail_msg("--cluster: %s", errbuf);
    return buf;
}

/* Two consumers of one group whose stores overlap (both merged
 * www.example.com): each answers for the partitions it owns only, so the
 * merged answer is the owner's part, never both added. */
static void test_cluster(void **state)
{
    (void)state;
    fixture a = {0}, b = {0};
    a.store = open_store(a.dir, &a.geo_calls);
    b.store = open_store(b.dir, &b.geo_calls);
    px_store_batch *batch = NULL;
    assert_int_equal(px_store_batch_begin(a.store, &batch), PX_OK);
    merge(batch, "www.example.com", "A", "192.0.2.1", "example.com", 3, T0 + 100, T0 + 200,
          "org-b");
    merge(batch, "mail.example.com", "CNAME", "www.example.com", NULL, 4, T0 + 10, T0 + 20,
          "org-c");
    assert_int_equal(px_store_batch_commit(batch), PX_OK);
    assert_int_equal(px_store_batch_begin(b.store, &batch), PX_OK);
    merge(batch, "www.example.com", "A", "192.0.2.1", "example.com", 2, T0, T0 + 150, "org-a");
    merge(batch, "www.example.com", "AAAA", "2001:db8::1", NULL, 1, T0, T0, "org-a");
    assert_int_equal(px_store_batch_commit(batch), PX_OK);
    /* example.com is on partition 1 of 2 (murmur2, test_kafka_partition) */
    assert_int_equal(px_query_partition_of("example.com", 11, 2), 1);
    const int32_t p0[] = {0}, p1[] = {1};
    px_query_owner *oa = owning(2, p1, 1), *ob = owning(2, p0, 1);
    char hpa[64], hpb[64], list[160];
    px_query_server *sa = start_member(a.store, oa, 0, hpa, sizeof(hpa));
    px_query_server *sb = start_member(b.store, ob, 0, hpb, sizeof(hpb));
    snprintf(list, sizeof(list), "%s,%s", hpa, hpb);

    px_query_req r;
    assert_int_equal(parse(&r, 2, "rrset", "*.example.com", NULL, NULL), PX_OK);
    px_query_req_apply_limits(&r, &default_limits);
    px_query_result res;
    char *want = local_answer(a.store, &r), *got = cluster_text(list, &r, &res);
    assert_string_equal(got, want); /* the owner's: b's www.example.com left out */
    assert_non_null(strstr(got, MAIL_CNAME));
    assert_non_null(strstr(got, "\"count\":3,"));
    assert_null(strstr(got, "AAAA"));
    assert_int_equal(res.records, 2);
    free(want);
    free(got);

    /* the partition moves to b: b's part is the answer */
    assert_int_equal(px_query_owner_assign(oa, 2, p0, 1), PX_OK);
    assert_int_equal(px_query_owner_assign(ob, 2, p1, 1), PX_OK);
    want = local_answer(b.store, &r);
    got = cluster_text(list, &r, &res);
    assert_string_equal(got, want);
    assert_int_equal(res.records, 2);
    free(want);
    free(got);

    /* the member that cuts its answer is named */
    r.limit = 1;
    free(cluster_text(list, &r, &res));
    assert_int_equal(res.answers_cut, 1);
    assert_string_equal(res.cut_by, hpb);
    assert_false(res.cut); /* one answer: nothing past the limit to merge */
    assert_int_equal(res.records, 1);
    r.limit = 10000;

    /* one endpoint down or refusing: the whole query fails */
    px_query_server_stop(sb);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(px_query_cluster(list, &r, 10000, f, &res, errbuf, sizeof(errbuf)), PX_ERR_IO);
    assert_non_null(strstr(errbuf, hpb));
    fclose(f);
    free(buf);
    f = open_memstream(&buf, &len);
    assert_int_equal(px_query_cluster("nohostport", &r, 10000, f, &res, errbuf, sizeof(errbuf)),
                     PX_ERR_IO);
    fclose(f);
    free(buf);

    px_query_server_stop(sa);
    px_query_owner_destroy(oa);
    px_query_owner_destroy(ob);
    px_store_close(a.store);
    px_store_close(b.store);
    remove_dir(a.dir);
    remove_dir(b.dir);
}

/* A TCP port on 127.0.0.1 that is bound but refuses connections (not
 * listening), or (listen) one whose backlog accepts connections that no
 * one ever answers. Close the returned socket when done. */
static int loopback_socket(bool listening, char *hp, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    if (listening)
        assert_int_equal(listen(fd, 16), 0);
    socklen_t sl = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    snprintf(hp, len, "127.0.0.1:%u", ntohs(sa.sin_port));
    return fd;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs --cluster over list; returns what it said and its output (freed). */
static px_err cluster_run(const char *list, px_query_req *r, int timeout_ms, px_query_result *res)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    errbuf[0] = '\0';
    px_err err = px_query_cluster(list, r, timeout_ms, f, res, errbuf, sizeof(errbuf));
    fclose(f);
    free(buf);
    return err;
}

/* One endpoint of three refuses connections: the lookup fails naming
 * that one (with libcurl's reason), not the others. */
static void test_cluster_down(void **state)
{
    fixture *fx = *state;
    char hpa[64], hpb[64], down[64], list[256];
    px_query_server *sa = start_server(fx->store, hpa, sizeof(hpa));
    px_query_server *sb = start_server(fx->store, hpb, sizeof(hpb));
    int fd = loopback_socket(false, down, sizeof(down));
    snprintf(list, sizeof(list), "%s,%s,%s", hpa, down, hpb);
    px_query_req r;
    assert_int_equal(parse(&r, 2, "rrset", "*.example.com", NULL, NULL), PX_OK);
    px_query_req_apply_limits(&r, &default_limits);
    px_query_result res;
    assert_int_equal(cluster_run(list, &r, 10000, &res), PX_ERR_IO);
    print_message("%s\n", errbuf);
    assert_true(strncmp(errbuf, down, strlen(down)) == 0);
    assert_non_null(strstr(errbuf, "onnect")); /* curl: "Couldn't connect", "Connection refused" */
    assert_null(strstr(errbuf, hpa));
    assert_null(strstr(errbuf, hpb));
    /* endpoints that are not HOST:PORT are named too; an empty list is a usage error */
    const char *bad[] = {"127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "[::1]", "a/b:80",
                         "user@host:80", ":80", "127.0.0.1:8x",
                         /* brackets hold IPv6 only; a name has DNS letters only */
                         "[192.0.2.1]:80", "a%b:80", "a_b.example:80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(list, sizeof(list), "%s,%s", hpa, bad[i]);
        assert_int_equal(cluster_run(list, &r, 10000, &res), PX_ERR_IO);
        assert_non_null(strstr(errbuf, bad[i]));
        assert_non_null(strstr(errbuf, "expected HOST:PORT"));
    }
    assert_int_equal(cluster_run(",", &r, 10000, &res), PX_ERR_INVAL);
    assert_non_null(strstr(errbuf, "no endpoint"));
    close(fd);
    px_query_server_stop(sa);
    px_query_server_stop(sb);
}

/* An endpoint that takes the connection and never answers: the lookup
 * fails within its deadline (PX_ERR_AGAIN), naming that endpoint. */
static void test_cluster_timeout(void **state)
{
    fixture *fx = *state;
    char hpa[64], silent[64], list[160];
    px_query_server *sa = start_server(fx->store, hpa, sizeof(hpa));
    int fd = loopback_socket(true, silent, sizeof(silent));
    snprintf(list, sizeof(list), "%s,%s", hpa, silent);
    px_query_req r;
    assert_int_equal(parse(&r, 2, "rrset", "www.example.com", NULL, NULL), PX_OK);
    px_query_req_apply_limits(&r, &default_limits);
    px_query_result res;
    int64_t t0 = now_ms();
    assert_int_equal(cluster_run(list, &r, 1000, &res), PX_ERR_AGAIN);
    int64_t took = now_ms() - t0;
    print_message("%s (%lld ms)\n", errbuf, (long long)took);
    assert_true(strncmp(errbuf, silent, strlen(silent)) == 0);
    assert_non_null(strstr(errbuf, "timed out"));
    assert_null(strstr(errbuf, hpa));
    assert_true(took >= 1000);
    assert_true(took < 2500);
    close(fd);
    px_query_server_stop(sa);
}

/* An answer the consumer cut at its own limit (query.max_limit below the
 * request's limit) keeps its condition line through the client, and the
 * merge names that consumer. */
static void test_cluster_cut_marker(void **state)
{
    fixture *fx = *state;
    char hpa[64], hpb[64], list[160];
    /* b owns example.com's partition (1 of 2) and answers 2 records at most */
    const int32_t p0[] = {0}, p1[] = {1};
    px_query_owner *oa = owning(2, p0, 1), *ob = owning(2, p1, 1);
    px_query_server *sa = start_member(fx->store, oa, 0, hpa, sizeof(hpa));
    px_query_server *sb = start_member(fx->store, ob, 2, hpb, sizeof(hpb));
    snprintf(list, sizeof(list), "%s,%s", hpa, hpb);

    const char *eps[] = {hpa, hpb};
    px_query_answer ans[2];
    assert_int_equal(px_query_fetch(eps, 2, "/rrset/*.example.com?limit=10000", 10000,
                                    PX_QUERY_CLUSTER_MAX_ANSWER, ans, errbuf, sizeof(errbuf)),
                     PX_OK);
    assert_int_equal(ans[0].status, 200);
    assert_int_equal(ans[1].status, 200);
    assert_null(strstr(ans[0].body, "cond"));
    const char *cond2 =
        "{\"cond\":\"limited\",\"limit\":2,\"msg\":\"answer cut at the limit of 2 records\"}\n";
    assert_true(ans[1].len > strlen(cond2));
    assert_string_equal(ans[1].body + ans[1].len - strlen(cond2), cond2);
    px_query_answers_free(ans, 2);
    assert_null(ans[1].body);

    px_query_req r;
    assert_int_equal(parse(&r, 2, "rrset", "*.example.com", NULL, NULL), PX_OK);
    px_query_req_apply_limits(&r, &default_limits);
    px_query_result res;
    assert_int_equal(cluster_run(list, &r, 10000, &res), PX_OK);
    assert_int_equal(res.answers_cut, 1);
    assert_string_equal(res.cut_by, hpb);
    assert_false(res.cut);
    assert_int_equal(res.records, 2);
    px_query_server_stop(sa);
    px_query_server_stop(sb);
    px_query_owner_destroy(oa);
    px_query_owner_destroy(ob);
}

/* ---- a member's partitions (px_query_route.h) ------------------------------------ */

/* GET path: its status, and its body (freed by the caller). */
static char *status_of(const char *hp, const char *path, int *status)
{
    char *body = NULL;
    size_t len = 0;
    if (http_get(hp, path, 10000, status, &body, &len, errbuf, sizeof(errbuf)) != PX_OK)
        fail_msg("GET %s: %s", path, errbuf);
    print_message("GET %s -> %d %s", path, *status, body);
    return body;
}

/* The answer's status is want and its body holds has. */
static void get_has(const char *hp, const char *path, int want, const char *has)
{
    int status = 0;
    char *body = status_of(hp, path, &status);
    assert_int_equal(status, want);
    if (!strstr(body, has))
        fail_msg("GET %s: no '%s' in %s", path, has, body);
    free(body);
}

/* pdnsx_query_requests_total{endpoint="E"} now. */
static uint64_t requests(const char *endpoint)
{
    char *buf = NULL, want[96];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    px_metrics_write(f);
    fclose(f);
    snprintf(want, sizeof(want), "pdnsx_query_requests_total{endpoint=\"%s\"} ", endpoint);
    char *at = strstr(buf, want);
    uint64_t n = at ? strtoull(at + strlen(want), NULL, 10) : 0;
    free(buf);
    return n;
}

/* "www.aK.test" for the first K >= from whose records are on partition
 * `want` of 2. */
static void name_on(int32_t want, int from, char *out, size_t len)
{
    for (int k = from; k < from + 64; k++) {
        snprintf(out, len, "www.a%d.test", k);
        if (px_query_partition_of(out, strlen(out), 2) == want)
            return;
    }
    fail_msg("no name on partition %d", (int)want);
}

/* GET path at hp: 200, the body (freed by the caller). */
static char *get_body(const char *hp, const char *path)
{
    int status = 0;
    char *body = NULL;
    size_t len = 0;
    if (http_get(hp, path, 10000, &status, &body, &len, errbuf, sizeof(errbuf)) != PX_OK)
        fail_msg("GET %s: %s", path, errbuf);
    assert_int_equal(status, 200);
    return body;
}

/* Which of the three names the rdata lookup of 192.0.2.9 at hp answers,
 * as bits (1 << i: names[i]). */
static unsigned answered(const char *hp, const char *const *names)
{
    char *got = get_body(hp, "/rdata/192.0.2.9");
    unsigned bits = 0;
    for (int i = 0; i < 3; i++) {
        char quoted[40];
        snprintf(quoted, sizeof(quoted), "\"%s\"", names[i]);
        bits |= strstr(got, quoted) ? 1u << i : 0;
    }
    free(got);
    return bits;
}

/* A member with partition stores answers from the stores of the
 * partitions it owns, whole: a store attached but not owned (between a
 * revocation and the next assignment) is not read, and no record is
 * judged by its name's hash (x1 sits in partition 0's store although its
 * name is on partition 1: answered with store 0, and only then). */
static void test_member_reads_owned_stores(void **state)
{
    (void)state;
    char dir[64] = "/tmp/test_query_parts.XXXXXX", x0[32], x1[32], y1[32];
    assert_non_null(mkdtemp(dir));
    int geo_calls = 0;
    px_store_opts so = {.enrich = fake_geo, .enrich_ctx = &geo_calls};
    px_err err = PX_OK;
    px_stores *ps = px_stores_open(dir, &so, &err, errbuf, sizeof(errbuf));
    if (!ps)
        fail_msg("stores: %s", errbuf);
    name_on(0, 0, x0, sizeof(x0));
    name_on(1, 0, x1, sizeof(x1));
    name_on(1, atoi(x1 + 5) + 1, y1, sizeof(y1));
    const char *on[2][2] = {{x0, x1}, {y1, NULL}};
    for (int32_t p = 0; p < 2; p++) {
        px_store *s = px_stores_attach(ps, p, &err, errbuf, sizeof(errbuf));
        if (!s)
            fail_msg("attach %d: %s", (int)p, errbuf);
        px_store_batch *b = NULL;
        assert_int_equal(px_store_batch_begin(s, &b), PX_OK);
        for (int i = 0; i < 2 && on[p][i]; i++)
            merge(b, on[p][i], "A", "192.0.2.9", NULL, 1, T0, T0 + 1, "org-a");
        assert_int_equal(px_store_batch_commit(b), PX_OK);
    }
    const int32_t p0[] = {0}, p1[] = {1}, both[] = {0, 1};
    px_query_owner *o = owning(2, p0, 1);
    px_query_server_opts opts = {.owner = o};
    px_query_server *srv = px_query_server_start("127.0.0.1:0", ps, &opts, errbuf, sizeof(errbuf));
    if (!srv)
        fail_msg("server: %s", errbuf);
    char hp[64], path[96];
    snprintf(hp, sizeof(hp), "127.0.0.1:%u", px_query_server_port(srv));

    /* partition 0 owned, 1's store still attached: store 0 whole */
    const char *names[] = {x0, x1, y1};
    assert_int_equal(answered(hp, names), 1u << 0 | 1u << 1);
    snprintf(path, sizeof(path), "/domain/%s", y1 + 4); /* on partition 1: not read */
    char *got = get_body(hp, path);
    assert_string_equal(got, "");
    free(got);
    snprintf(path, sizeof(path), "/domain/%s", x1 + 4); /* in store 0 */
    got = get_body(hp, path);
    assert_non_null(strstr(got, x1 + 4));
    free(got);
    /* both owned: every store */
    assert_int_equal(px_query_owner_assign(o, 2, both, 2), PX_OK);
    assert_int_equal(answered(hp, names), 7);
    /* partition 0 restoring: a lookup that needs it is refused, and its
     * store is not read for one that does not (x1's name is on 1) */
    assert_int_equal(px_query_owner_restoring(o, 0, true), PX_OK);
    snprintf(path, sizeof(path), "/rrset/%s", x1);
    got = get_body(hp, path);
    assert_string_equal(got, "");
    free(got);
    snprintf(path, sizeof(path), "/rrset/%s", y1);
    got = get_body(hp, path);
    assert_non_null(strstr(got, y1));
    free(got);
    int status = 0;
    size_t len = 0;
    snprintf(path, sizeof(path), "/rrset/%s", x0);
    assert_int_equal(http_get(hp, path, 10000, &status, &got, &len, errbuf, sizeof(errbuf)), PX_OK);
    assert_int_equal(status, 503);
    assert_non_null(strstr(got, "restoring"));
    free(got);
    assert_int_equal(px_query_owner_restoring(o, 0, false), PX_OK);
    snprintf(path, sizeof(path), "/rrset/%s", x1);
    got = get_body(hp, path);
    assert_non_null(strstr(got, x1));
    free(got);
    /* partition 1 owned only: store 1, whatever store 0's names hash to */
    assert_int_equal(px_query_owner_assign(o, 2, p1, 1), PX_OK);
    assert_int_equal(answered(hp, names), 1u << 2);

    px_query_server_stop(srv);
    px_query_owner_destroy(o);
    px_stores_close(ps);
    remove_dir(dir);
}

/* The endpoint of a member answers for the partitions it owns: none yet is
 * 503; records of partitions it does not own are left out; one it restores
 * makes the lookups that need it 503; so does an assignment that moved. In
 * the fixture, example.com is on partition 1 of 2, notexample.com on 0. */
static void test_member_endpoint(void **state)
{
    fixture *fx = *state;
    assert_int_equal(px_query_partition_of("notexample.com", 14, 2), 0);
    px_query_owner *o = owning(2, NULL, 0);
    char hp[64];
    px_query_server *srv = start_member(fx->store, o, 0, hp, sizeof(hp));
    uint64_t asked = requests("partitions"), rrsets = requests("rrset");
    get_has(hp, "/partitions", 200, "{\"partitions\":2,\"owned\":[],\"restoring\":[],");
    assert_int_equal(requests("partitions"), asked + 1);
    get_has(hp, "/partitions?limit=1", 400, "no parameters");
    get_has(hp, "/rrset/www.example.com", 503,
            "{\"error\":\"unassigned\",\"partitions\":[],\"msg\":\"no partitions assigned");
    get_has(hp, "/rdata/192.0.2.1", 503, "\"unassigned\"");
    assert_int_equal(requests("rrset"), rrsets + 1);

    /* partition 0 only: example.com's records are left out, even in a
     * fan-out; notexample.com's are answered */
    const int32_t p0[] = {0}, both[] = {0, 1};
    assert_int_equal(px_query_owner_assign(o, 2, p0, 1), PX_OK);
    get(hp, "/rrset/www.example.com", 200, "");
    get(hp, "/rdata/192.0.2.1", 200, "");
    get_has(hp, "/rrset/*.com", 200, "\"rrname\":\"notexample.com\"");
    int status;
    char *body = status_of(hp, "/rrset/*.com", &status);
    /* none of example.com's */
    assert_null(strstr(body, "\"rrname\":\"example.com\""));
    assert_null(strstr(body, "\"rrname\":\"www.example.com\""));
    assert_null(strstr(body, ".example.com\""));
    free(body);
    get(hp, "/domain/example.com", 200, "");
    /* the limit counts what is answered, not what is left out */
    get_has(hp, "/rrset/*.com?limit=1", 200, "notexample.com");

    /* both: the whole store */
    assert_int_equal(px_query_owner_assign(o, 2, both, 2), PX_OK);
    get(hp, "/rdata/192.0.2.1", 200, WWW_A AB_A);

    /* partition 1 restoring: what needs it is refused, not answered short */
    assert_int_equal(px_query_owner_restoring(o, 1, true), PX_OK);
    get_has(hp, "/rrset/www.example.com", 503, "{\"error\":\"restoring\",\"partitions\":[1],");
    get_has(hp, "/rdata/203.0.113.5", 503, "\"restoring\"");
    get_has(hp, "/rrset/notexample.com", 200, "notexample.com");
    get_has(hp, "/partitions", 200, "\"owned\":[0,1],\"restoring\":[1],");

    /* --cluster: the restoring member and partition are named */
    px_query_req r;
    assert_int_equal(parse(&r, 2, "rrset", "WWW.example.com", NULL, NULL), PX_OK);
    px_query_req_apply_limits(&r, &default_limits);
    px_query_result res;
    assert_int_equal(cluster_run(hp, &r, 10000, &res), PX_ERR_AGAIN);
    print_message("%s\n", errbuf);
    assert_true(strncmp(errbuf, hp, strlen(hp)) == 0);
    assert_non_null(strstr(errbuf, "is restoring partition(s) 1: its answer would be short"));
    assert_int_equal(parse(&r, 2, "rrset", "notexample.com", NULL, NULL), PX_OK);
    px_query_req_apply_limits(&r, &default_limits);
    assert_int_equal(cluster_run(hp, &r, 10000, &res), PX_OK);
    assert_int_equal(res.records, 1);
    assert_int_equal(px_query_owner_restoring(o, 1, false), PX_OK);

    /* ?assignment: answered while the partitions are those it names */
    body = status_of(hp, "/partitions", &status);
    char *fp = strstr(body, "\"assignment\":\"");
    assert_non_null(fp);
    char path[128];
    snprintf(path, sizeof(path), "/rrset/notexample.com?assignment=%.16s", fp + 14);
    free(body);
    get_has(hp, path, 200, "notexample.com");
    assert_int_equal(px_query_owner_assign(o, 2, p0, 1), PX_OK);
    get_has(hp, path, 503, "{\"error\":\"moved\",\"partitions\":[],");
    get_has(hp, "/rrset/notexample.com?assignment=zz", 503, "\"moved\"");
    get_has(hp, "/rrset/notexample.com?assignment=1&assignment=2", 400, "assignment=X");
    px_query_server_stop(srv);
    px_query_owner_destroy(o);
}

/* --cluster refuses members that are not one whole group. */
static void test_cluster_members(void **state)
{
    fixture *fx = *state;
    const int32_t p0[] = {0}, p1[] = {1}, all[] = {0, 1};
    px_query_owner *oa = owning(2, all, 2), *ob = owning(2, p1, 1), *oc = owning(3, p0, 1);
    char hpa[64], hpb[64], hpc[64], plain[64], list[320];
    px_query_server *sa = start_member(fx->store, oa, 0, hpa, sizeof(hpa));
    px_query_server *sb = start_member(fx->store, ob, 0, hpb, sizeof(hpb));
    px_query_server *sc = start_member(fx->store, oc, 0, hpc, sizeof(hpc));
    px_query_server *sp = start_server(fx->store, plain, sizeof(plain)); /* no /partitions */
    px_query_req r;
    assert_int_equal(parse(&r, 2, "rrset", "www.example.com", NULL, NULL), PX_OK);
    px_query_req_apply_limits(&r, &default_limits);
    px_query_result res;
    snprintf(list, sizeof(list), "%s,%s", hpa, hpb);
    assert_int_equal(cluster_run(list, &r, 10000, &res), PX_ERR_CONFIG);
    print_message("%s\n", errbuf);
    assert_non_null(strstr(errbuf, "partition 1 is owned by both"));
    snprintf(list, sizeof(list), "%s,%s", hpa, hpc);
    assert_int_equal(cluster_run(list, &r, 10000, &res), PX_ERR_CONFIG);
    print_message("%s\n", errbuf);
    assert_non_null(strstr(errbuf, "count 2 and 3 partitions per topic"));
    assert_int_equal(cluster_run(hpb, &r, 10000, &res), PX_ERR_CONFIG);
    print_message("%s\n", errbuf);
    assert_non_null(strstr(errbuf, "partition 0 of 2 is owned by none of the consumers given"));
    snprintf(list, sizeof(list), "%s,%s", hpb, plain);
    assert_int_equal(cluster_run(list, &r, 10000, &res), PX_ERR_IO);
    print_message("%s\n", errbuf);
    assert_true(strncmp(errbuf, plain, strlen(plain)) == 0);
    assert_non_null(strstr(errbuf, "answered 404"));
    /* one member owning all: the lookup is its answer */
    assert_int_equal(cluster_run(hpa, &r, 10000, &res), PX_OK);
    assert_int_equal(res.records, 2);
    px_query_server_stop(sa);
    px_query_server_stop(sb);
    px_query_server_stop(sc);
    px_query_server_stop(sp);
    px_query_owner_destroy(oa);
    px_query_owner_destroy(ob);
    px_query_owner_destroy(oc);
}

/* An answer larger than the client's bound ends the transfer: the fetch
 * fails naming the endpoint instead of holding it; one exactly at the
 * bound is whole. */
static void test_cluster_oversized(void **state)
{
    fixture *fx = *state;
    char hp[64];
    px_query_server *srv = start_server(fx->store, hp, sizeof(hp));
    const char *eps[] = {hp};
    const char *path = "/rrset/www.example.com";
    size_t whole = strlen(WWW_A WWW_AAAA);
    px_query_answer a;
    assert_int_equal(px_query_fetch(eps, 1, path, 10000, whole, &a, errbuf, sizeof(errbuf)), PX_OK);
    assert_int_equal(a.len, whole);
    px_query_answers_free(&a, 1);
    assert_int_equal(px_query_fetch(eps, 1, path, 10000, whole - 1, &a, errbuf, sizeof(errbuf)),
                     PX_ERR_FULL);
    print_message("%s\n", errbuf);
    assert_true(strncmp(errbuf, hp, strlen(hp)) == 0);
    assert_non_null(strstr(errbuf, "answer larger than"));
    assert_null(a.body);
    px_query_server_stop(srv);
}

/* ---- domain ---------------------------------------------------------------------- */

/* example.com in the fixture: first seen at T0 (org-a's www A, AAAA and
 * org-b's example.com A), last at T0 + 9000, by three organisations. */
#define DOM_EXAMPLE                                                                                \
    "{\"domain\":\"example.com\",\"time_first\":1795716000,\"time_last\":1795725000,"              \
    "\"orgs\":[\"org-a\",\"org-b\",\"org-c\"]}\n"

/* pdnsx-query domain NAME: the registered domain's row, any spelling of
 * its name; nothing for an unknown one or outside the fence. */
static void test_domain(void **state)
{
    fixture *fx = *state;
    expect(fx->store, "domain", "example.com", NULL, NULL, NULL, DOM_EXAMPLE, 1);
    expect(fx->store, "domain", "EXAMPLE.Com.", NULL, NULL, NULL, DOM_EXAMPLE, 1);
    expect(fx->store, "domain", "notexample.com", NULL, NULL, NULL,
           "{\"domain\":\"notexample.com\",\"time_first\":1795716000,\"time_last\":1795716000,"
           "\"orgs\":[\"org-b\"]}\n",
           1);
    expect(fx->store, "domain", "nothing.example", NULL, NULL, NULL, "", 0);
    expect(fx->store, "domain", "www.example.com", NULL, NULL, NULL, "", 0); /* not registered */
    expect(fx->store, "domain", "example.com", NULL, "1795725000", NULL, DOM_EXAMPLE, 1);
    expect(fx->store, "domain", "example.com", NULL, "1795725001", NULL, "", 0);
    expect(fx->store, "domain", "example.com", NULL, NULL, "1795716000", DOM_EXAMPLE, 1);
    expect(fx->store, "domain", "example.com", NULL, NULL, "1795715999", "", 0);

    px_query_req r;
    assert_int_equal(parse(&r, 2, "domain", "*.example.com", NULL, NULL), PX_ERR_INVAL);
    assert_non_null(strstr(errbuf, "bad name"));
    assert_int_equal(parse(&r, 3, "domain", "example.com", "A", NULL), PX_ERR_INVAL);
    assert_non_null(strstr(errbuf, "usage: domain NAME"));
    assert_int_equal(parse(&r, 2, "domain", "example.com", NULL, NULL), PX_OK);
    assert_int_equal(r.kind, PX_QUERY_DOMAIN);
    assert_int_equal(px_query_req_set_after(&r, "100", errbuf, 512), PX_OK);
    char *path = px_query_req_to_path(&r);
    assert_string_equal(path, "/domain/example.com?after=100");
    px_query_req back;
    assert_int_equal(
        px_query_req_from_http(&back, "/domain/example.com", "100", NULL, NULL, errbuf, 512),
        PX_OK);
    assert_int_equal(back.kind, PX_QUERY_DOMAIN);
    assert_string_equal(back.name, "example.com");
    assert_true(back.fence.after == 100);
    free(path);

    /* over HTTP, at the member owning example.com's partition (1 of 2) */
    char hp[64];
    const int32_t p0[] = {0}, p1[] = {1};
    px_query_owner *o1 = owning(2, p1, 1), *o0 = owning(2, p0, 1);
    px_query_server *srv = start_member(fx->store, o1, 0, hp, sizeof(hp));
    get(hp, "/domain/example.com", 200, DOM_EXAMPLE);
    get(hp, "/domain/Example.COM.?before=1795715999", 200, "");
    get(hp, "/domain/nothing.example", 200, "");
    get(hp, "/domain/example.com/A", 404, NULL);
    get(hp, "/domain/*.example.com", 400, NULL);
    get(hp, "/domain", 404, NULL);

    /* --cluster: asked of the member owning the domain's partition */
    char hp2[64], list[160];
    px_query_server *srv2 = start_member(fx->store, o0, 0, hp2, sizeof(hp2));
    snprintf(list, sizeof(list), "%s,%s", hp, hp2);
    px_query_req_apply_limits(&r, &default_limits);
    r.fence.after = INT64_MIN;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    px_query_result res;
    assert_int_equal(px_query_cluster(list, &r, 10000, f, &res, errbuf, sizeof(errbuf)), PX_OK);
    fclose(f);
    assert_string_equal(buf, DOM_EXAMPLE);
    assert_int_equal(res.records, 1);
    free(buf);
    px_query_server_stop(srv);
    px_query_server_stop(srv2);
    px_query_owner_destroy(o0);
    px_query_owner_destroy(o1);
}

/* Domain lines of several answers: earliest first, latest last, union
 * of orgs; two different domains do not merge. */
static void test_merge_domain(void **state)
{
    (void)state;
    size_t n = 0;
    char *out = merged("{\"domain\":\"example.com\",\"time_first\":5,\"time_last\":10,"
                       "\"orgs\":[\"org-b\"]}\n",
                       "{\"domain\":\"example.com\",\"time_first\":3,\"time_last\":8,"
                       "\"orgs\":[\"org-c\",\"org-a\",\"org-b\"]}\n",
                       PX_OK, &n);
    assert_string_equal(out, "{\"domain\":\"example.com\",\"time_first\":3,\"time_last\":10,"
                             "\"orgs\":[\"org-a\",\"org-b\",\"org-c\"]}\n");
    assert_int_equal(n, 1);
    free(out);
    out = merged("{\"domain\":\"example.com\",\"time_first\":5,\"time_last\":10,\"orgs\":[]}\n", "",
                 PX_OK, &n);
    assert_string_equal(
        out, "{\"domain\":\"example.com\",\"time_first\":5,\"time_last\":10,\"orgs\":[]}\n");
    free(out);
    free(merged("{\"domain\":\"example.com\",\"time_first\":5,\"time_last\":10,\"orgs\":[]}\n",
                "{\"domain\":\"example.org\",\"time_first\":5,\"time_last\":10,\"orgs\":[]}\n",
                PX_ERR_MALFORMED, &n));
    assert_non_null(strstr(errbuf, "answer 2, line 1: another domain than example.com"));
    free(merged("{\"domain\":\"example.com\",\"time_first\":\"5\",\"time_last\":10,\"orgs\":[]}\n",
                "", PX_ERR_MALFORMED, &n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_args),
        cmocka_unit_test(test_parse_args_bad),
        cmocka_unit_test(test_parse_spellings),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_fence_setters),
        cmocka_unit_test(test_pct_decode),
        cmocka_unit_test(test_http_form),
        cmocka_unit_test(test_http_form_bad),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_name_order),
        cmocka_unit_test_setup_teardown(test_rrset, setup_store, teardown_store),
        cmocka_unit_test_setup_teardown(test_rrset_wildcard, setup_store, teardown_store),
        cmocka_unit_test_setup_teardown(test_rdata, setup_store, teardown_store),
        cmocka_unit_test_setup_teardown(test_fences, setup_store, teardown_store),
        cmocka_unit_test_setup_teardown(test_run_limit, setup_store, teardown_store),
        cmocka_unit_test_setup_teardown(test_steps, setup_store, teardown_store),
        cmocka_unit_test_setup_teardown(test_steps_across_commits, setup_store, teardown_store),
        cmocka_unit_test_setup_teardown(test_steps_damaged, setup_store, teardown_store),
        cmocka_unit_test_setup_teardown(test_http_limit, setup_store, teardown_store),
        cmocka_unit_test_setup_teardown(test_http_raw, setup_store, teardown_store),
        cmocka_unit_test_setup_teardown(test_http_endpoints, setup_store, teardown_store),
        cmocka_unit_test_setup_teardown(test_server_bad_listen, setup_store, teardown_store),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_merge_malformed),
        cmocka_unit_test(test_merge_conditions),
        cmocka_unit_test(test_cluster),
        cmocka_unit_test_setup_teardown(test_domain, setup_store, teardown_store),
        cmocka_unit_test(test_merge_domain),
        cmocka_unit_test_setup_teardown(test_cluster_down, setup_store, teardown_store),
        cmocka_unit_test_setup_teardown(test_cluster_timeout, setup_store, teardown_store),
        cmocka_unit_test_setup_teardown(test_cluster_cut_marker, setup_store, teardown_store),
        cmocka_unit_test_setup_teardown(test_cluster_oversized, setup_store, teardown_store),
        cmocka_unit_test_setup_teardown(test_member_endpoint, setup_store, teardown_store),
        cmocka_unit_test(test_member_reads_owned_stores),
        cmocka_unit_test_setup_teardown(test_cluster_members, setup_store, teardown_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
