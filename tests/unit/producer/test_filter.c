/* test_filter.c: the privacy filter, one test per rule and setting. Records
 * are built by hand as the parser would hand them over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "px_filter.h"
#include "dns/px_dns_rdata.h"
#include "core/px_config.h"
#include "producer/px_producer_conf.h"

static px_filter *make(const px_filter_conf *conf)
{
    px_err err = PX_ERR_IO;
    px_filter *f = px_filter_create(conf, &err);
    assert_non_null(f);
    assert_int_equal(err, PX_OK);
    return f;
}

static px_dns_msg response(uint8_t rcode)
{
    px_dns_msg m = {.qr = true, .opcode = 0, .rcode = rcode, .qdcount = 1};
    return m;
}

/* An answer record as px_dns_next_wire() and px_dns_rr_text() hand it
 * over: rdata, which must be the canonical text of its type, parsed by
 * px_dns_rdata_check() into the wire and the targets. target, when not
 * NULL, is the first name the rdata holds. */
typedef struct rrbuf {
    px_dns_rr rr;
    uint8_t wire[1024];
    char names[2][PX_DNS_NAME_TEXT_MAX];
} rrbuf;

static px_dns_rr *rr_make(rrbuf *b, uint16_t type, const char *name, const char *rdata,
                          const char *target)
{
    memset(b, 0, sizeof(*b));
    b->rr.section = PX_DNS_ANSWER;
    b->rr.name = name;
    b->rr.name_len = strlen(name);
    b->rr.type = type;
    b->rr.rclass = PX_DNS_CLASS_IN;
    b->rr.ttl = 300;
    b->rr.rdata = rdata;
    b->rr.rdata_len = strlen(rdata);
    size_t len = 0;
    px_err e = px_dns_rdata_check(type, rdata, b->rr.rdata_len, b->wire, sizeof(b->wire), &len,
                                  &b->rr.targets);
    if (e != PX_OK)
        fail_msg("rdata \"%s\" of type %u: %s", rdata, type, px_strerror(e));
    b->rr.rdata_wire = b->rr.rdata_canon = b->wire;
    b->rr.rdlen = (uint16_t)len;
    b->rr.rdata_canon_len = len;
    const px_dns_targets *tg = &b->rr.targets;
    for (unsigned i = 0; i < tg->n; i++) {
        memcpy(b->names[i], rdata + tg->text_off[i], tg->text_len[i]);
        b->names[i][tg->text_len[i]] = '\0';
    }
    b->rr.target = tg->n > 0 ? b->names[0] : NULL;
    b->rr.target2 = tg->n > 1 ? b->names[1] : NULL;
    if (target)
        assert_string_equal(b->rr.target, target);
    return &b->rr;
}

static px_drop rr_a(const px_filter *f, const char *name, const char *addr)
{
    rrbuf b;
    return px_filter_rr(f, rr_make(&b, PX_DNS_TYPE_A, name, addr, NULL), NULL);
}

/* Whether name[0..len) is under a local zone (built-in or configured), as
 * the filter decides it for the name a record points to: a CNAME from a
 * public owner to it is dropped as LOCAL_RDATA exactly when it is (the
 * rdata rule tests the zones before anything else). */
static bool is_local(const px_filter *f, const char *name, size_t len)
{
    char target[512];
    assert_true(len < sizeof(target));
    memcpy(target, name, len);
    target[len] = '\0';
    rrbuf b;
    px_drop d =
        px_filter_rr(f, rr_make(&b, PX_DNS_TYPE_CNAME, "www.example.com", target, target), NULL);
    assert_true(d == PX_PASS || d == PX_DROP_LOCAL_RDATA || d == PX_DROP_SINGLE_LABEL);
    return d == PX_DROP_LOCAL_RDATA;
}

static void test_drop_names(void **state)
{
    (void)state;
    assert_string_equal(px_drop_name(PX_DROP_RCODE), "rcode");
    assert_string_equal(px_drop_name(PX_DROP_PRIVATE_ADDR), "private_addr");
    assert_string_equal(px_drop_name(PX_DROP_OUT_OF_BAILIWICK), "out_of_bailiwick");
    /* Every reason has a distinct non-empty name (metric labels). */
    for (int i = 0; i < PX_DROP__COUNT; i++) {
        assert_true(strlen(px_drop_name((px_drop)i)) > 0);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(px_drop_name((px_drop)i), px_drop_name((px_drop)j));
    }
    assert_string_equal(px_drop_name(PX_DROP__COUNT), "unknown");
}

static void test_message_level(void **state)
{
    (void)state;
    px_filter *f = make(NULL);
    px_dns_msg m = response(0);
    assert_int_equal(px_filter_message(f, &m, NULL), PX_PASS);
    m.qr = false;
    assert_int_equal(px_filter_message(f, &m, NULL), PX_DROP_NOT_RESPONSE);
    m = response(0);
    m.opcode = 5; /* UPDATE */
    assert_int_equal(px_filter_message(f, &m, NULL), PX_DROP_NOT_RESPONSE);
    m = response(PX_DNS_RCODE_NXDOMAIN);
    assert_int_equal(px_filter_message(f, &m, NULL), PX_DROP_RCODE);
    m = response(PX_DNS_RCODE_SERVFAIL);
    assert_int_equal(px_filter_message(f, &m, NULL), PX_DROP_RCODE);
    /* Not a response beats the rcode. */
    m.qr = false;
    assert_int_equal(px_filter_message(f, &m, NULL), PX_DROP_NOT_RESPONSE);
    px_filter_destroy(f);
}

static void test_errors_setting(void **state)
{
    (void)state;
    px_filter_conf c = {.errors = true};
    px_filter *f = make(&c);
    px_dns_msg m = response(PX_DNS_RCODE_NXDOMAIN);
    assert_int_equal(px_filter_message(f, &m, NULL), PX_PASS);
    px_filter_destroy(f);
}

static void test_wildcard_servers(void **state)
{
    (void)state;
    px_addr ws[2];
    px_addr_parse("192.0.2.53", &ws[0]);
    px_addr_parse("2001:db8::53", &ws[1]);
    px_filter_conf c = {.wildcard_servers = ws, .n_wildcard_servers = 2};
    px_filter *f = make(&c);
    memset(ws, 0, sizeof(ws)); /* the filter keeps its own copy */
    px_dns_msg m = response(0);
    px_addr s;
    px_addr_parse("192.0.2.53", &s);
    s.port = 53; /* port is ignored */
    assert_int_equal(px_filter_message(f, &m, &s), PX_DROP_WILDCARD_SERVER);
    px_addr_parse("2001:db8::53", &s);
    assert_int_equal(px_filter_message(f, &m, &s), PX_DROP_WILDCARD_SERVER);
    px_addr_parse("192.0.2.54", &s);
    assert_int_equal(px_filter_message(f, &m, &s), PX_PASS);
    px_addr unknown = {0};
    assert_int_equal(px_filter_message(f, &m, &unknown), PX_PASS);
    assert_int_equal(px_filter_message(f, &m, NULL), PX_PASS);
    /* An error response is dropped for its rcode before the server test. */
    m = response(PX_DNS_RCODE_SERVFAIL);
    px_addr_parse("192.0.2.53", &s);
    assert_int_equal(px_filter_message(f, &m, &s), PX_DROP_RCODE);
    px_filter_destroy(f);
}

static void test_section_class_opt(void **state)
{
    (void)state;
    px_filter *f = make(NULL);
    rrbuf b;
    px_dns_rr *rr = rr_make(&b, PX_DNS_TYPE_A, "www.example.com", "93.184.216.34", NULL);
    assert_int_equal(px_filter_rr(f, rr, NULL), PX_PASS);
    rr->section = PX_DNS_AUTHORITY;
    assert_int_equal(px_filter_rr(f, rr, NULL), PX_PASS);
    rr->section = PX_DNS_ADDITIONAL; /* glue */
    assert_int_equal(px_filter_rr(f, rr, NULL), PX_DROP_SECTION);
    rr->section = PX_DNS_ANSWER;
    rr->rclass = 3; /* CH */
    assert_int_equal(px_filter_rr(f, rr, NULL), PX_DROP_SECTION);
    rr = rr_make(&b, PX_DNS_TYPE_OPT, ".", "\\# 0", NULL);
    rr->rclass = 1232; /* OPT class is the UDP size */
    assert_int_equal(px_filter_rr(f, rr, NULL), PX_DROP_SECTION);
    rr->rclass = PX_DNS_CLASS_IN;
    assert_int_equal(px_filter_rr(f, rr, NULL), PX_DROP_SECTION);
    px_filter_destroy(f);
}

/* px_filter_rr_wanted() refuses exactly what px_filter_rr() drops for
 * section, class or type, and px_filter_rr() still gives the reason for a
 * record that came undecoded (no name, no rdata). */
static void test_rr_wanted(void **state)
{
    (void)state;
    px_filter *f = make(NULL);
    rrbuf b;
    px_dns_rr *rr = rr_make(&b, PX_DNS_TYPE_A, "localhost", "127.0.0.1", NULL);
    assert_true(px_filter_rr_wanted(f, rr)); /* dropped, but only by its name */
    rr->section = PX_DNS_ADDITIONAL;
    assert_false(px_filter_rr_wanted(f, rr));
    rr->name = NULL;
    rr->name_len = 0;
    rr->rdata = NULL;
    rr->rdata_len = 0;
    assert_int_equal(px_filter_rr(f, rr, NULL), PX_DROP_SECTION);
    rr->section = PX_DNS_ANSWER;
    rr->type = PX_DNS_TYPE_TXT;
    assert_false(px_filter_rr_wanted(f, rr));
    assert_int_equal(px_filter_rr(f, rr, NULL), PX_DROP_RRTYPE);
    rr->type = PX_DNS_TYPE_OPT;
    assert_false(px_filter_rr_wanted(f, rr));
    assert_int_equal(px_filter_rr(f, rr, NULL), PX_DROP_SECTION);
    px_filter_destroy(f);
}

static void test_rrtypes_default_and_configured(void **state)
{
    (void)state;
    px_filter *f = make(NULL);
    rrbuf b;
    assert_int_equal(
        px_filter_rr(f, rr_make(&b, PX_DNS_TYPE_TXT, "example.com", "\"v=spf1\"", NULL), NULL),
        PX_DROP_RRTYPE);
    assert_int_equal(px_filter_rr(f,
                                  rr_make(&b, PX_DNS_TYPE_NS, "example.com", "a.iana-servers.net",
                                          "a.iana-servers.net"),
                                  NULL),
                     PX_PASS);
    assert_int_equal(
        px_filter_rr(f, rr_make(&b, PX_DNS_TYPE_AAAA, "example.com", "2606:2800::1", NULL), NULL),
        PX_PASS);
    px_filter_destroy(f);

    const uint16_t types[] = {PX_DNS_TYPE_TXT, 65280};
    px_filter_conf c = {.rrtypes = types, .n_rrtypes = 2};
    f = make(&c);
    assert_int_equal(
        px_filter_rr(f, rr_make(&b, PX_DNS_TYPE_TXT, "example.com", "\"x\"", NULL), NULL), PX_PASS);
    assert_int_equal(px_filter_rr(f, rr_make(&b, 65280, "example.com", "\\# 0", NULL), NULL),
                     PX_PASS);
    assert_int_equal(rr_a(f, "example.com", "93.184.216.34"), PX_DROP_RRTYPE);
    px_filter_destroy(f);
}

static void test_single_label(void **state)
{
    (void)state;
    px_filter *f = make(NULL);
    assert_int_equal(rr_a(f, "printer", "93.184.216.34"), PX_DROP_SINGLE_LABEL);
    assert_int_equal(rr_a(f, "com", "93.184.216.34"), PX_DROP_SINGLE_LABEL);
    /* "a\.local" is the one label "a.local": single label, and not under
     * the zone local. */
    assert_int_equal(rr_a(f, "a\\.local", "93.184.216.34"), PX_DROP_SINGLE_LABEL);
    assert_false(is_local(f, "a\\.local", 8));
    /* An escaped backslash before the dot leaves the dot a separator. */
    assert_true(is_local(f, "a\\\\.local", 9));
    /* The root is not a single label: root NS records pass. */
    rrbuf b;
    assert_int_equal(
        px_filter_rr(
            f, rr_make(&b, PX_DNS_TYPE_NS, ".", "a.root-servers.net", "a.root-servers.net"), NULL),
        PX_PASS);
    /* A single-label rdata name. */
    assert_int_equal(
        px_filter_rr(
            f, rr_make(&b, PX_DNS_TYPE_CNAME, "www.example.com", "fileserver", "fileserver"), NULL),
        PX_DROP_SINGLE_LABEL);
    /* Null MX (RFC 7505) points at the root and passes. */
    assert_int_equal(px_filter_rr(f, rr_make(&b, PX_DNS_TYPE_MX, "example.com", "0 .", "."), NULL),
                     PX_PASS);
    px_filter_destroy(f);
}

static void test_builtin_local_zones(void **state)
{
    (void)state;
    px_filter *f = make(NULL);
    const char *local[] = {
        "local",
        "printer.local",
        "a.b.localhost",
        "x.internal",
        "nas.home.arpa",
        "pc.lan",
        "www.intranet",
        "dc1.corp",
        "x.private",
        "h.localdomain",
        "www.test",
        "x.invalid",
        "www.example",
        "abc.onion",
        "x.alt",
        /* reverse zones */
        "1.0.0.10.in-addr.arpa",
        "10.in-addr.arpa",
        "1.1.16.172.in-addr.arpa",
        "1.1.31.172.in-addr.arpa",
        "1.1.168.192.in-addr.arpa",
        "1.0.0.127.in-addr.arpa",
        "1.0.0.0.in-addr.arpa",
        "1.1.254.169.in-addr.arpa",
        "1.0.64.100.in-addr.arpa",
        "1.0.127.100.in-addr.arpa",
        "1.2.0.192.in-addr.arpa",
        "7.100.51.198.in-addr.arpa",
        "9.113.0.203.in-addr.arpa",
        "255.255.255.255.in-addr.arpa",
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
        "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa",
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa",
        "b.e.f.ip6.arpa",
        "1.8.b.d.0.1.0.0.2.ip6.arpa",
    };
    const char *global[] = {
        "example.com",
        "localhost.example.com",
        "local.example.org",
        "corp.example.net",
        "testing",
        "mylocal",
        "8.8.8.8.in-addr.arpa",
        "1.1.15.172.in-addr.arpa",
        "1.1.32.172.in-addr.arpa",
        "1.0.63.100.in-addr.arpa",
        "1.0.128.100.in-addr.arpa",
        "in-addr.arpa",
        "arpa",
        "ip6.arpa",
        "1.2.0.193.in-addr.arpa",
        "c.e.f.ip6.arpa",
        "8.b.d.0.1.0.0.2.ip6.arpa.example.com",
        "home.arpa.example.com",
    };
    for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
        if (!is_local(f, local[i], strlen(local[i])))
            fail_msg("%s should be local", local[i]);
    for (size_t i = 0; i < sizeof(global) / sizeof(global[0]); i++)
        if (is_local(f, global[i], strlen(global[i])))
            fail_msg("%s should not be local", global[i]);

    /* As an owner name the record is dropped as LOCAL_NAME. */
    assert_int_equal(rr_a(f, "printer.local", "93.184.216.34"), PX_DROP_LOCAL_NAME);
    const uint16_t types[] = {PX_DNS_TYPE_PTR};
    px_filter_conf c = {.rrtypes = types, .n_rrtypes = 1};
    px_filter *g = make(&c);
    rrbuf b;
    assert_int_equal(px_filter_rr(g,
                                  rr_make(&b, PX_DNS_TYPE_PTR, "1.1.168.192.in-addr.arpa",
                                          "nas.example.com", "nas.example.com"),
                                  NULL),
                     PX_DROP_LOCAL_NAME);
    assert_int_equal(px_filter_rr(g,
                                  rr_make(&b, PX_DNS_TYPE_PTR, "8.8.8.8.in-addr.arpa", "dns.google",
                                          "dns.google"),
                                  NULL),
                     PX_PASS);
    px_filter_destroy(g);
    px_filter_destroy(f);
}

static void test_configured_local_zones(void **state)
{
    (void)state;
    const char *zones[] = {"Corp.Example.COM.", "ad.example.org"};
    px_filter_conf c = {.local_zones = zones, .n_local_zones = 2};
    px_filter *f = make(&c);
    assert_true(is_local(f, "corp.example.com", 16));
    assert_true(is_local(f, "dc1.corp.example.com", 20));
    assert_true(is_local(f, "x.ad.example.org", 16));
    assert_false(is_local(f, "example.com", 11));
    assert_false(is_local(f, "xcorp.example.com", 17));
    assert_false(is_local(f, "www.example.org", 15));
    /* Built-in zones still apply. */
    assert_true(is_local(f, "printer.local", 13));
    assert_int_equal(rr_a(f, "dc1.corp.example.com", "93.184.216.34"), PX_DROP_LOCAL_NAME);
    assert_int_equal(rr_a(f, "www.example.com", "93.184.216.34"), PX_PASS);
    px_filter_destroy(f);

    /* A zone is kept in the spelling names are compared in: "\\067" is C. */
    const char *escaped[] = {"\\067orp.Example.com"};
    c = (px_filter_conf){.local_zones = escaped, .n_local_zones = 1};
    f = make(&c);
    assert_true(is_local(f, "dc1.corp.example.com", 20));
    assert_false(is_local(f, "example.com", 11));
    px_filter_destroy(f);

    /* Without the configuration the same names are public. */
    f = make(NULL);
    assert_false(is_local(f, "dc1.corp.example.com", 20));
    px_filter_destroy(f);
}

/* Zones whose last label is long (63 octets, the most a label holds), or
 * shares its first letter and length with a public one, are still found. */
static void test_local_zone_tails(void **state)
{
    (void)state;
    char zone[100], name[120];
    memset(zone, 'a', 63);
    zone[63] = '\0';
    const char *zones[] = {zone, "example.cop"};
    px_filter_conf c = {.local_zones = zones, .n_local_zones = 2};
    px_filter *f = make(&c);
    strcpy(name, "www.");
    strcat(name, zone);
    assert_true(is_local(f, name, strlen(name)));
    name[strlen(name) - 1] = 'b'; /* same first letter and length: same hint, other zone */
    assert_false(is_local(f, name, strlen(name)));
    assert_true(is_local(f, "x.example.cop", 13));
    assert_false(is_local(f, "x.example.com", 13));
    assert_false(is_local(f, "x.example.coq", 13));
    px_filter_destroy(f);

    /* A label of 70 octets is no DNS name: refused at --check with dns's
     * reason, and by the filter. */
    memset(zone, 'a', 70);
    zone[70] = '\0';
    char set[160];
    snprintf(set, sizeof(set), "privacy.local_zones=[\"%s\"]", zone);
    px_config *cfg = px_config_create(px_producer_conf_table);
    assert_non_null(cfg);
    assert_int_equal(px_config_set(cfg, "org=\"acme\""), PX_OK);
    assert_int_equal(px_config_set(cfg, "inputs=({type=\"pcap-file\"; path=\"x\";})"), PX_OK);
    assert_int_equal(px_config_set(cfg, set), PX_OK);
    assert_int_not_equal(px_config_validate(cfg), PX_OK);
    assert_int_equal(px_config_problem_count(cfg), 1);
    char why[128] = "";
    assert_false(px_dns_conf_check_name(zone, why, sizeof(why)));
    assert_non_null(strstr(px_config_problem(cfg, 0), "'privacy.local_zones'"));
    assert_non_null(strstr(px_config_problem(cfg, 0), why));
    px_config_destroy(cfg);
    px_err err = PX_OK;
    assert_null(px_filter_create(&c, &err));
    assert_int_equal(err, PX_ERR_INVAL);
}

static void test_bad_local_zones(void **state)
{
    (void)state;
    const char *bad[] = {"", ".", "a..b", ".example", "example..", "ex ample", "a\\"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *zones[] = {"good.example", bad[i]};
        px_filter_conf c = {.local_zones = zones, .n_local_zones = 2};
        px_err err = PX_OK;
        px_filter *f = px_filter_create(&c, &err);
        if (f)
            fail_msg("zone \"%s\" accepted", bad[i]);
        assert_int_equal(err, PX_ERR_INVAL);
    }
    const char *null_zone[] = {NULL};
    px_filter_conf c = {.local_zones = null_zone, .n_local_zones = 1};
    px_err err = PX_OK;
    assert_null(px_filter_create(&c, &err));
    assert_int_equal(err, PX_ERR_INVAL);
    px_filter_destroy(NULL);
}

static void test_local_rdata(void **state)
{
    (void)state;
    px_filter *f = make(NULL);
    rrbuf b;
    /* CNAME from a public name into a local zone. */
    assert_int_equal(
        px_filter_rr(f, rr_make(&b, PX_DNS_TYPE_CNAME, "www.example.com", "web.corp", "web.corp"),
                     NULL),
        PX_DROP_LOCAL_RDATA);
    assert_int_equal(px_filter_rr(f,
                                  rr_make(&b, PX_DNS_TYPE_CNAME, "www.example.com", "example.net",
                                          "example.net"),
                                  NULL),
                     PX_PASS);
    /* MX exchange in a local zone. */
    assert_int_equal(px_filter_rr(f,
                                  rr_make(&b, PX_DNS_TYPE_MX, "example.com", "10 mail.internal",
                                          "mail.internal"),
                                  NULL),
                     PX_DROP_LOCAL_RDATA);
    /* NS in a local zone. */
    assert_int_equal(
        px_filter_rr(
            f, rr_make(&b, PX_DNS_TYPE_NS, "example.com", "ns1.home.arpa", "ns1.home.arpa"), NULL),
        PX_DROP_LOCAL_RDATA);
    /* The second name counts too (SOA rname). */
    const uint16_t types[] = {PX_DNS_TYPE_SOA};
    px_filter_conf c = {.rrtypes = types, .n_rrtypes = 1};
    px_filter *g = make(&c);
    px_dns_rr *rr = rr_make(&b, PX_DNS_TYPE_SOA, "example.com",
                            "ns.example.com hostmaster.lan 1 2 3 4 5", "ns.example.com");
    assert_string_equal(rr->target2, "hostmaster.lan");
    assert_int_equal(px_filter_rr(g, rr, NULL), PX_DROP_LOCAL_RDATA);
    rr = rr_make(&b, PX_DNS_TYPE_SOA, "example.com",
                 "ns.example.com hostmaster.example.com 1 2 3 4 5", "ns.example.com");
    assert_int_equal(px_filter_rr(g, rr, NULL), PX_PASS);
    px_filter_destroy(g);
    px_filter_destroy(f);
}

static void test_private_answers(void **state)
{
    (void)state;
    px_filter *f = make(NULL);
    rrbuf b;
    assert_int_equal(rr_a(f, "router.example.com", "192.168.1.1"), PX_DROP_PRIVATE_ADDR);
    assert_int_equal(rr_a(f, "x.example.com", "127.0.0.1"), PX_DROP_PRIVATE_ADDR);
    assert_int_equal(rr_a(f, "x.example.com", "100.64.1.1"), PX_DROP_PRIVATE_ADDR);
    assert_int_equal(rr_a(f, "x.example.com", "93.184.216.34"), PX_PASS);
    assert_int_equal(
        px_filter_rr(f, rr_make(&b, PX_DNS_TYPE_AAAA, "x.example.com", "fd00::1", NULL), NULL),
        PX_DROP_PRIVATE_ADDR);
    assert_int_equal(
        px_filter_rr(f, rr_make(&b, PX_DNS_TYPE_AAAA, "x.example.com", "fe80::1", NULL), NULL),
        PX_DROP_PRIVATE_ADDR);
    assert_int_equal(
        px_filter_rr(f, rr_make(&b, PX_DNS_TYPE_AAAA, "x.example.com", "2606:2800:220:1::1", NULL),
                     NULL),
        PX_PASS);
    /* The address bytes decide, not the text; without them, or with a
     * length no address has, the record fails closed. */
    px_dns_rr *rr = rr_make(&b, PX_DNS_TYPE_A, "x.example.com", "10.1.2.3", NULL);
    rr->rdata = "8.8.4.4";
    rr->rdata_len = 7;
    assert_int_equal(px_filter_rr(f, rr, NULL), PX_DROP_PRIVATE_ADDR);
    rr = rr_make(&b, PX_DNS_TYPE_A, "x.example.com", "8.8.4.4", NULL);
    rr->rdata = "10.1.2.3";
    rr->rdata_len = 8;
    assert_int_equal(px_filter_rr(f, rr, NULL), PX_PASS);
    rr->rdata_canon_len = 3;
    assert_int_equal(px_filter_rr(f, rr, NULL), PX_DROP_PRIVATE_ADDR);
    rr->rdata_canon = NULL;
    rr->rdata_canon_len = 0;
    assert_int_equal(px_filter_rr(f, rr, NULL), PX_DROP_PRIVATE_ADDR);
    px_filter_destroy(f);

    px_filter_conf c = {.private_answers = true};
    f = make(&c);
    assert_int_equal(rr_a(f, "router.example.com", "192.168.1.1"), PX_PASS);
    /* Local names stay dropped even so. */
    assert_int_equal(rr_a(f, "router.lan", "192.168.1.1"), PX_DROP_LOCAL_NAME);
    px_filter_destroy(f);
}

static void test_bailiwick(void **state)
{
    (void)state;
    px_filter *f = make(NULL);
    rrbuf b;
    px_dns_rr *rr = rr_make(&b, PX_DNS_TYPE_A, "www.example.com", "93.184.216.34", NULL);
    assert_int_equal(px_filter_rr(f, rr, "example.com"), PX_PASS);
    assert_int_equal(px_filter_rr(f, rr, "www.example.com"), PX_PASS);
    assert_int_equal(px_filter_rr(f, rr, "com"), PX_PASS);
    assert_int_equal(px_filter_rr(f, rr, "."), PX_PASS);
    assert_int_equal(px_filter_rr(f, rr, NULL), PX_PASS);
    /* A poisoning attempt: the com servers answering for example.net. */
    assert_int_equal(px_filter_rr(f, rr, "example.net"), PX_DROP_OUT_OF_BAILIWICK);
    assert_int_equal(px_filter_rr(f, rr, "ample.com"), PX_DROP_OUT_OF_BAILIWICK);
    px_filter_destroy(f);
}

static void test_rule_order(void **state)
{
    (void)state;
    px_filter *f = make(NULL);
    rrbuf b;
    /* additional + wrong type: section first */
    px_dns_rr *rr = rr_make(&b, PX_DNS_TYPE_TXT, "x.local", "\"t\"", NULL);
    rr->section = PX_DNS_ADDITIONAL;
    assert_int_equal(px_filter_rr(f, rr, NULL), PX_DROP_SECTION);
    /* wrong type + local name: rrtype first */
    rr->section = PX_DNS_ANSWER;
    assert_int_equal(px_filter_rr(f, rr, NULL), PX_DROP_RRTYPE);
    /* single label before local ("local" itself is both) */
    assert_int_equal(rr_a(f, "local", "192.168.0.1"), PX_DROP_SINGLE_LABEL);
    /* local name before bailiwick and private address */
    rr = rr_make(&b, PX_DNS_TYPE_A, "nas.local", "192.168.0.1", NULL);
    assert_int_equal(px_filter_rr(f, rr, "example.com"), PX_DROP_LOCAL_NAME);
    /* bailiwick before private address */
    rr = rr_make(&b, PX_DNS_TYPE_A, "nas.example.com", "192.168.0.1", NULL);
    assert_int_equal(px_filter_rr(f, rr, "example.org"), PX_DROP_OUT_OF_BAILIWICK);
    assert_int_equal(px_filter_rr(f, rr, "example.com"), PX_DROP_PRIVATE_ADDR);
    px_filter_destroy(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drop_names),
        cmocka_unit_test(test_message_level),
        cmocka_unit_test(test_errors_setting),
        cmocka_unit_test(test_wildcard_servers),
        cmocka_unit_test(test_section_class_opt),
        cmocka_unit_test(test_rrtypes_default_and_configured),
        cmocka_unit_test(test_rr_wanted),
        cmocka_unit_test(test_single_label),
        cmocka_unit_test(test_builtin_local_zones),
        cmocka_unit_test(test_local_zone_tails),
        cmocka_unit_test(test_configured_local_zones),
        cmocka_unit_test(test_bad_local_zones),
        cmocka_unit_test(test_local_rdata),
        cmocka_unit_test(test_private_answers),
        cmocka_unit_test(test_bailiwick),
        cmocka_unit_test(test_rule_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
