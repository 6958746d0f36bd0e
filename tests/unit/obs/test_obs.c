/* test_obs.c: validation of decoded observations and topic -> org.
 *
 * Each rule gets cases that pass and cases that fail; a failing case
 * changes one field of an otherwise valid observation, so the failure can
 * only come from that rule. Expected name forms follow what the producer
 * writes (lib/dns/px_dns_msg.c, checked by tests/unit/dns/test_dns.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dns/px_dns_msg.h"
#include "dns_text_oracle.h"
#include "obs/px_obs.h"

#define NOW INT64_C(1764180000)

static const px_avro_obs base = {
    .rrname = "www.example.com",
    .rrtype = "A",
    .rdata = "192.0.2.7",
    .bailiwick = "example.com",
    .count = 3,
    .time_first = NOW - 60,
    .time_last = NOW - 1,
    .ttl_min = 30,
    .ttl_max = 300,
    .clients = 2,
    .org = "org-a",
    .sensor = "sensor-1",
};

/* px_obs_check() with its own scratch: the verdict and the reason. */
static px_err validate(const px_avro_obs *o, int64_t now, char *why, size_t whylen)
{
    static uint8_t wire[PX_OBS_WIRE_MAX];
    px_obs_checked c;
    return px_obs_check(o, now, &c, wire, sizeof(wire), why, whylen);
}

static px_err check(const px_avro_obs *o)
{
    char why[128];
    px_err err = validate(o, NOW, why, sizeof(why));
    /* a refusal always says why; a pass leaves nothing behind */
    if (err == PX_OK)
        assert_string_equal(why, "");
    else
        assert_true(strlen(why) > 0);
    return err;
}

/* The field-by-field helpers: base with one field replaced. */
static px_err with_name(const char *rrname)
{
    px_avro_obs o = base;
    o.rrname = rrname;
    return check(&o);
}

static px_err with_type(const char *rrtype, const char *rdata)
{
    px_avro_obs o = base;
    o.rrtype = rrtype;
    o.rdata = rdata;
    return check(&o);
}

static void test_base_valid(void **state)
{
    (void)state;
    assert_int_equal(check(&base), PX_OK);
    px_avro_obs o = base;
    o.bailiwick = NULL;
    o.clients = -1;
    assert_int_equal(check(&o), PX_OK);
    /* why may be NULL */
    assert_int_equal(validate(&base, NOW, NULL, 0), PX_OK);
    o.count = 0;
    assert_int_equal(validate(&o, NOW, NULL, 0), PX_ERR_INVAL);
    assert_int_equal(validate(NULL, NOW, NULL, 0), PX_ERR_INVAL);
}

static void test_rrname(void **state)
{
    (void)state;
    static const char *const good[] = {
        ".",
        "com",
        "a.b",
        "*.example.com",
        "_dmarc.example.com",
        "xn--bcher-kva.example",
        "a-b.c-d",
        "a\\.b.example",
        "a\\\\b.example",
        "a\\032b.example",
        "\\000.example",
        "\\255.example",
        "\\.", /* one label holding a dot */
        "b\\195\\188cher",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(with_name(good[i]), PX_OK);
    assert_int_equal(with_name("a\\064b.example"), PX_OK); /* '@' as \DDD */
    assert_int_equal(with_name("a\\036\\040\\041\\059\\034.example"), PX_OK);

    static const char *const bad[] = {
        "",                 /* empty */
        "www.example.com.", /* trailing dot */
        ".example.com",     /* leading dot */
        "a..b",             /* empty label */
        "..",               /* not the root */
        "Www.example.com",  /* uppercase */
        "a b.example",      /* raw space: \032 */
        "a@b.example",      /* raw @: \064 */
        "a\\@b.example",    /* @ is written as \064, not \@ */
        "a\\-b.example",    /* '-' needs no escape */
        "a\\097b.example",  /* 'a' is never written as \DDD */
        "a\\046b.example",  /* '.' is written \. */
        "a\\065b.example",  /* uppercase folded: never \065 */
        "a\\256b.example",  /* above 255 */
        "a\\25b.example",   /* short \DDD */
        "a\\",              /* escape at the end */
        "b\xc3\xbc\x63her", /* raw UTF-8 "bücher": \195\188 */
        "a\x01.example",    /* raw control */
        "\\$x.example",     /* $ is written as \036 */
        "a\\..",            /* escaped dot, then a trailing dot */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(with_name(bad[i]), PX_ERR_INVAL);

    px_avro_obs o = base;
    o.rrname = NULL;
    assert_int_equal(check(&o), PX_ERR_INVAL);
}

static void test_rrname_lengths(void **state)
{
    (void)state;
    char name[1200];
    /* a 63-octet label passes, 64 fails */
    memset(name, 'a', 63);
    strcpy(name + 63, ".example");
    assert_int_equal(with_name(name), PX_OK);
    memset(name, 'a', 64);
    strcpy(name + 64, ".example");
    assert_int_equal(with_name(name), PX_ERR_INVAL);
    /* \DDD counts as one octet: 63 of them are a 63-octet label */
    name[0] = '\0';
    for (int i = 0; i < 63; i++)
        strcat(name, "\\000");
    assert_int_equal(with_name(name), PX_OK);
    strcat(name, "\\000");
    assert_int_equal(with_name(name), PX_ERR_INVAL);
    name[0] = '\0';
    for (int i = 0; i < 63; i++)
        strcat(name, "\\.");
    assert_int_equal(with_name(name), PX_OK);

    /* 255 wire octets: 4 labels of 63 (4 * 64 = 256 with the root) fail;
     * 3 of 63 and one of 61 (3 * 64 + 62 + 1 = 255) pass */
    char l63[64];
    memset(l63, 'b', 63);
    l63[63] = '\0';
    snprintf(name, sizeof(name), "%s.%s.%s.%.61s", l63, l63, l63, l63);
    assert_int_equal(with_name(name), PX_OK);
    snprintf(name, sizeof(name), "%s.%s.%s.%.62s", l63, l63, l63, l63);
    assert_int_equal(with_name(name), PX_ERR_INVAL);
    /* the same bound with escapes: \DDD is one wire octet, not four */
    name[0] = '\0';
    for (int l = 0; l < 3; l++) {
        for (int i = 0; i < 63; i++)
            strcat(name, "\\255");
        strcat(name, ".");
    }
    for (int i = 0; i < 61; i++)
        strcat(name, "\\255");
    assert_int_equal(with_name(name), PX_OK);
    strcat(name, "x");
    assert_int_equal(with_name(name), PX_ERR_INVAL);
}

static void test_rrtype(void **state)
{
    (void)state;
    assert_int_equal(with_type("CNAME", "www.example.net"), PX_OK);
    assert_int_equal(with_type("NSAP-PTR", "\\# 1 78"), PX_OK); /* no rule: RFC 3597 only */
    assert_int_equal(with_type("TYPE65280", "\\# 2 abcd"), PX_OK);
    assert_int_equal(with_type("TYPE65535", "\\# 0"), PX_OK);
    assert_int_equal(with_type("TYPE0", "\\# 0"), PX_OK);
    assert_int_equal(with_type("TYPE65", "\\# 0"), PX_OK); /* an older table's HTTPS */

    assert_int_equal(with_type("cname", "www.example.net"), PX_ERR_INVAL);
    assert_int_equal(with_type("Cname", "www.example.net"), PX_ERR_INVAL);
    assert_int_equal(with_type("FOO", "x"), PX_ERR_INVAL);
    assert_int_equal(with_type("TYPE65536", "x"), PX_ERR_INVAL);
    assert_int_equal(with_type("TYPE065280", "x"), PX_ERR_INVAL);
    assert_int_equal(with_type("type65280", "x"), PX_ERR_INVAL);
    assert_int_equal(with_type("TYPE", "x"), PX_ERR_INVAL);
    assert_int_equal(with_type("TYPE1x", "x"), PX_ERR_INVAL);
    assert_int_equal(with_type("", "x"), PX_ERR_INVAL);
    assert_int_equal(with_type(NULL, "x"), PX_ERR_INVAL);
}

static void test_rdata(void **state)
{
    (void)state;
    assert_int_equal(with_type("A", "0.0.0.0"), PX_OK);
    assert_int_equal(with_type("A", "255.255.255.255"), PX_OK);
    assert_int_equal(with_type("AAAA", "2001:db8::1"), PX_OK);
    assert_int_equal(with_type("AAAA", "::"), PX_OK);
    assert_int_equal(with_type("AAAA", "2001:db8:0:1:1:1:1:1"), PX_OK); /* one 0: no :: */
    assert_int_equal(with_type("AAAA", "2001:0:0:1::1"), PX_OK);        /* the longer run */
    assert_int_equal(with_type("AAAA", "2001:db8::1:0:0:1"), PX_OK);    /* the first on a tie */
    assert_int_equal(with_type("AAAA", "::ffff:c000:207"), PX_OK);      /* no dotted tail */
    assert_int_equal(with_type("TYPE1", "192.0.2.1"), PX_OK);
    assert_int_equal(with_type("MX", "10 mail.example.com"), PX_OK);

    assert_int_equal(with_type("A", ""), PX_ERR_INVAL);
    assert_int_equal(with_type("MX", ""), PX_ERR_INVAL);
    assert_int_equal(with_type("MX", NULL), PX_ERR_INVAL);
    assert_int_equal(with_type("A", "2001:db8::1"), PX_ERR_INVAL); /* wrong family */
    assert_int_equal(with_type("AAAA", "192.0.2.1"), PX_ERR_INVAL);
    assert_int_equal(with_type("A", "192.0.2"), PX_ERR_INVAL);
    assert_int_equal(with_type("A", "192.0.2.01"), PX_ERR_INVAL);
    assert_int_equal(with_type("A", "192.0.2.1 "), PX_ERR_INVAL);
    assert_int_equal(with_type("A", "www.example.com"), PX_ERR_INVAL);
    assert_int_equal(with_type("TYPE1", "x"), PX_ERR_INVAL);
    assert_int_equal(with_type("AAAA", "2001:DB8::1"), PX_ERR_INVAL);          /* uppercase */
    assert_int_equal(with_type("AAAA", "2001:db8:0:0:0:0:0:1"), PX_ERR_INVAL); /* uncompressed */
    assert_int_equal(with_type("AAAA", "2001:0db8::1"), PX_ERR_INVAL);         /* leading 0 */
    assert_int_equal(with_type("AAAA", "2001:db8::1:0:0:1"), PX_OK);
    assert_int_equal(with_type("AAAA", "2001:db8:0:0:1::1"), PX_ERR_INVAL);   /* not first tie */
    assert_int_equal(with_type("AAAA", "2001:db8::1:1:1:1:1"), PX_ERR_INVAL); /* :: for one 0 */
    assert_int_equal(with_type("AAAA", "::ffff:192.0.2.7"), PX_ERR_INVAL);

    /* canonical TXT of PX_OBS_RDATA_MAX + 1 and PX_OBS_RDATA_MAX bytes:
     * 63 strings of 255 octets, then one of 128 (127) */
    char big[PX_OBS_RDATA_MAX + 2];
    size_t n = 0;
    for (int i = 0; i < 64; i++) {
        size_t k = i < 63 ? 255 : 128;
        if (i)
            big[n++] = ' ';
        big[n++] = '"';
        memset(big + n, 'x', k);
        n += k;
        big[n++] = '"';
    }
    big[n] = '\0';
    assert_int_equal(n, PX_OBS_RDATA_MAX + 1);
    assert_int_equal(with_type("TXT", big), PX_ERR_INVAL);
    big[n - 2] = '"';
    big[n - 1] = '\0';
    assert_int_equal(with_type("TXT", big), PX_OK);
}

/* Every type accepts its canonical text and refuses every other spelling
 * the parser takes: one record, one spelling, one key (an answer the
 * system prints is an answer it accepts, and nothing else). */
static void test_canonical_spellings(void **state)
{
    (void)state;
    static const struct {
        const char *type, *rdata;
    } good[] = {
        {"A", "192.0.2.7"},
        {"AAAA", "::ffff:102:304"}, /* IPv4-mapped, hexadecimal groups */
        {"AAAA", "::102:304"},
        {"AAAA", "64:ff9b::102:304"},
        {"AAAA", "::ffff:0:102:304"},
        {"NS", "ns1.example.net"},
        {"CNAME", "www.example.net"},
        {"PTR", "host.example.net"},
        {"DNAME", "example.net"},
        {"CNAME", "a\\.b\\032c.example.net"},
        {"MX", "10 mail.example.com"},
        {"MX", "0 ."}, /* the null MX */
        {"SRV", "0 5 5060 sip.example.com"},
        {"SOA", "ns1.example.com hostmaster.example.com 1 7200 900 1209600 300"},
        {"TXT", "\"v=spf1 -all\""},
        {"TXT", "\"a\" \"b\\\"c\\\\d\\009\""},
        {"TXT", "\"\""},
        {"CAA", "0 issue \"letsencrypt.org\""},
        {"TYPE65280", "\\# 2 abcd"},
        {"TYPE257", "128 iodef \"mailto:x@example.com\""},
    };
    static const struct {
        const char *type, *rdata;
    } bad[] = {
        {"A", "\\# 4 c0000207"}, /* RFC 3597 for a type with a rule */
        {"A", " 192.0.2.7"},
        {"AAAA", "::ffff:1.2.3.4"}, /* mixed notation */
        {"AAAA", "::FFFF:102:304"},
        {"AAAA", "0:0:0:0:0:ffff:102:304"}, /* uncompressed */
        {"AAAA", "::1.2.3.4"},
        {"AAAA", "64:ff9b::1.2.3.4"},
        {"AAAA", "\\# 16 00000000000000000000ffff01020304"},
        {"NS", "NS1.example.net"},
        {"NS", "ns1.example.net."},
        {"CNAME", "www.Example.net"},
        {"CNAME", "www.example.net."},
        {"CNAME", "a\\046b.example.net"}, /* '.' in a label is \. */
        {"CNAME", "a\\ b.example.net"},   /* ' ' is \032 */
        {"PTR", "Host.example.net."},
        {"DNAME", "EXAMPLE.NET"},
        {"MX", "10 Mail.example.com"},
        {"MX", "10 mail.example.com."},
        {"MX", "010 mail.example.com"},
        {"MX", "10  mail.example.com"},
        {"SRV", "0 5 5060 SIP.example.com"},
        {"SRV", "0 5 5060 sip.example.com."},
        {"SRV", "0 5 05060 sip.example.com"},
        {"SOA", "NS1.example.com hostmaster.example.com 1 7200 900 1209600 300"},
        {"SOA", "ns1.example.com hostmaster.example.com. 1 7200 900 1209600 300"},
        {"TXT", "v=spf1"}, /* bare */
        {"TXT", "\"a\"  \"b\""},
        {"TXT", "\"\\118=spf1\""}, /* 'v' as \DDD */
        {"CAA", "0 issue letsencrypt.org"},
        {"TYPE65280", "\\# 2 ABCD"},
        {"TYPE65280", "\\# 2 ab cd"},
        {"TYPE65280", "\\# 02 abcd"},
        {"NSAP-PTR", "x"}, /* no presentation rule: RFC 3597 only */
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (with_type(good[i].type, good[i].rdata) != PX_OK)
            fail_msg("%s \"%s\" refused", good[i].type, good[i].rdata);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (with_type(bad[i].type, bad[i].rdata) != PX_ERR_INVAL)
            fail_msg("%s \"%s\" accepted", bad[i].type, bad[i].rdata);
    /* names: upper case and a trailing dot, in the owner and the bailiwick */
    assert_int_equal(with_name("WWW.EXAMPLE.COM"), PX_ERR_INVAL);
    assert_int_equal(with_name("www.example.COM."), PX_ERR_INVAL);
    px_avro_obs o = base;
    o.bailiwick = "EXAMPLE.com";
    assert_int_equal(check(&o), PX_ERR_INVAL);
}

/* px_obs_check gives the parse the consumer and the store use: the
 * type's number, the wire rdata, the targets and the reverse-index name
 * (pointing into the observation's own canonical text). */
static void test_check_parse(void **state)
{
    (void)state;
    static uint8_t wire[PX_OBS_WIRE_MAX];
    px_obs_checked c;
    char why[128];
    px_avro_obs o = base;
    o.rrtype = "AAAA";
    o.rdata = "::ffff:102:304";
    assert_int_equal(px_obs_check(&o, NOW, &c, wire, sizeof(wire), why, sizeof(why)), PX_OK);
    static const uint8_t v6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4};
    assert_ptr_equal(c.obs, &o);
    assert_int_equal(c.rrtype, 28);
    assert_ptr_equal(c.rrname, o.rrname);
    assert_int_equal(c.rrname_len, strlen(o.rrname));
    assert_ptr_equal(c.rdata, o.rdata);
    assert_int_equal(c.rdata_len, strlen(o.rdata));
    assert_ptr_equal(c.rdata_wire, wire);
    assert_int_equal(c.rdata_wire_len, 16);
    assert_memory_equal(c.rdata_wire, v6, 16);
    assert_null(c.target);
    assert_int_equal(c.targets.n, 0);
    assert_ptr_equal(c.bailiwick, o.bailiwick);
    assert_int_equal(c.bailiwick_len, strlen("example.com"));

    o.rdata = "::ffff:1.2.3.4";
    assert_int_equal(px_obs_check(&o, NOW, &c, wire, sizeof(wire), why, sizeof(why)), PX_ERR_INVAL);
    assert_string_equal(why, "rdata not canonical for AAAA (canonical: ::ffff:102:304)");
    o = base;
    o.rrname = "WWW.Example.com.";
    assert_int_equal(px_obs_check(&o, NOW, &c, wire, sizeof(wire), why, sizeof(why)), PX_ERR_INVAL);
    assert_string_equal(why, "rrname not canonical (canonical: www.example.com)");
    o = base;
    o.rrtype = "MX";
    o.rdata = "10 mail";
    o.bailiwick = NULL;
    assert_int_equal(px_obs_check(&o, NOW, &c, wire, sizeof(wire), why, sizeof(why)), PX_OK);
    assert_int_equal(c.rrtype, 15);
    assert_ptr_equal(c.target, o.rdata + 3);
    assert_int_equal(c.target_len, 4);
    assert_int_equal(c.rdata_wire_len, 2 + 6);
    assert_int_equal(c.targets.n, 1);
    assert_int_equal(c.targets.off[0], 2);
    assert_null(c.bailiwick);
    o.rdata = "10 mail..";
    assert_int_equal(px_obs_check(&o, NOW, &c, wire, sizeof(wire), why, sizeof(why)), PX_ERR_INVAL);
    assert_string_equal(why, "rdata not a valid MX (malformed input)");
    o.rdata = "0 ."; /* the null MX names nothing */
    assert_int_equal(px_obs_check(&o, NOW, &c, wire, sizeof(wire), why, sizeof(why)), PX_OK);
    assert_null(c.target);
    assert_int_equal(c.target_len, 0);
    o.rrtype = "TYPE33";
    o.rdata = "0 5 5060 sip.example.com";
    assert_int_equal(px_obs_check(&o, NOW, &c, wire, sizeof(wire), why, sizeof(why)), PX_OK);
    assert_int_equal(c.rrtype, 33);
    assert_int_equal(c.target_len, strlen("sip.example.com"));
    assert_memory_equal(c.target, "sip.example.com", c.target_len);
    o.rrtype = "SOA"; /* two names, none indexed */
    o.rdata = "ns1.example.com hostmaster.example.com 1 7200 900 1209600 300";
    assert_int_equal(px_obs_check(&o, NOW, &c, wire, sizeof(wire), why, sizeof(why)), PX_OK);
    assert_null(c.target);
    assert_int_equal(c.targets.n, 2);
    assert_int_equal(c.targets.text_off[1], 16);
    assert_int_equal(c.targets.text_len[1], strlen("hostmaster.example.com"));
    /* the scratch must hold any wire */
    assert_int_equal(px_obs_check(&base, NOW, &c, wire, PX_OBS_WIRE_MAX - 1, NULL, 0),
                     PX_ERR_INVAL);
    assert_int_equal(px_obs_check(&base, NOW, NULL, wire, sizeof(wire), NULL, 0), PX_ERR_INVAL);
}

static void test_bailiwick(void **state)
{
    (void)state;
    px_avro_obs o = base;
    o.bailiwick = ".";
    assert_int_equal(check(&o), PX_OK);
    o.bailiwick = "Example.com";
    assert_int_equal(check(&o), PX_ERR_INVAL);
    o.bailiwick = "";
    assert_int_equal(check(&o), PX_ERR_INVAL);
    o.bailiwick = "example.com.";
    assert_int_equal(check(&o), PX_ERR_INVAL);
}

static void test_numbers(void **state)
{
    (void)state;
    px_avro_obs o = base;
#define EXPECT(field, value, want)                                                                 \
    do {                                                                                           \
        o = base;                                                                                  \
        o.field = (value);                                                                         \
        assert_int_equal(check(&o), (want));                                                       \
    } while (0)
    EXPECT(count, 1, PX_OK);
    EXPECT(count, INT64_MAX, PX_OK);
    EXPECT(count, 0, PX_ERR_INVAL);
    EXPECT(count, -5, PX_ERR_INVAL);

    EXPECT(time_first, 1, PX_OK);
    EXPECT(time_first, base.time_last, PX_OK); /* one sighting */
    EXPECT(time_first, 0, PX_ERR_INVAL);
    EXPECT(time_first, -1, PX_ERR_INVAL);
    EXPECT(time_first, base.time_last + 1, PX_ERR_INVAL);

    EXPECT(time_last, NOW + 86400, PX_OK);
    EXPECT(time_last, NOW + 86401, PX_ERR_INVAL);
    EXPECT(time_last, INT64_MAX, PX_ERR_INVAL);
    EXPECT(time_last, base.time_first - 1, PX_ERR_INVAL);

    EXPECT(ttl_min, 0, PX_OK);
    EXPECT(ttl_min, base.ttl_max, PX_OK);
    EXPECT(ttl_min, base.ttl_max + 1, PX_ERR_INVAL);
    EXPECT(ttl_min, -1, PX_ERR_INVAL);
    EXPECT(ttl_max, INT64_C(2147483647), PX_OK);
    EXPECT(ttl_max, INT64_C(2147483648), PX_ERR_INVAL);
    EXPECT(ttl_max, base.ttl_min - 1, PX_ERR_INVAL);

    EXPECT(clients, 0, PX_OK);
    EXPECT(clients, -1, PX_OK); /* null */
    EXPECT(clients, INT64_MAX, PX_OK);
    EXPECT(clients, -2, PX_ERR_INVAL);
    EXPECT(clients, INT64_MIN, PX_ERR_INVAL);
#undef EXPECT

    /* the clock is the caller's: the same record passes a day later */
    o = base;
    o.time_first = o.time_last = NOW + 2 * 86400;
    assert_int_equal(validate(&o, NOW, NULL, 0), PX_ERR_INVAL);
    assert_int_equal(validate(&o, NOW + 86400, NULL, 0), PX_OK);
}

static void test_org_sensor(void **state)
{
    (void)state;
    static const char *const good_org[] = {"a", "0", "org-a", "a-",
                                           "0123456789abcdefghijklmnopqrstuv"};
    static const char *const bad_org[] = {
        "",      "-a",    "Org",      "org_a",
        "org.a", "org a", "\xc3\xa9", "0123456789abcdefghijklmnopqrstuvw"};
    px_avro_obs o = base;
    for (size_t i = 0; i < sizeof(good_org) / sizeof(good_org[0]); i++) {
        o.org = good_org[i];
        assert_int_equal(check(&o), PX_OK);
        assert_true(px_obs_org_valid(good_org[i]));
    }
    for (size_t i = 0; i < sizeof(bad_org) / sizeof(bad_org[0]); i++) {
        o.org = bad_org[i];
        assert_int_equal(check(&o), PX_ERR_INVAL);
        assert_false(px_obs_org_valid(bad_org[i]));
    }
    o.org = NULL;
    assert_int_equal(check(&o), PX_ERR_INVAL);
    /* The settings check is the same rule, with the rule as its reason. */
    char why[128];
    for (size_t i = 0; i < sizeof(good_org) / sizeof(good_org[0]); i++)
        assert_true(px_obs_conf_check_org(good_org[i], why, sizeof(why)));
    for (size_t i = 0; i < sizeof(bad_org) / sizeof(bad_org[0]); i++) {
        why[0] = '\0';
        assert_false(px_obs_conf_check_org(bad_org[i], why, sizeof(why)));
        assert_string_equal(why, "must match [a-z0-9][a-z0-9-]{0,31}");
    }

    char s64[65], s65[66];
    memset(s64, '~', 64);
    s64[64] = '\0';
    memset(s65, '!', 65);
    s65[65] = '\0';
    static const char *const bad_sensor[] = {"", "a b", "tab\t", "caf\xc3\xa9", "del\x7f"};
    o = base;
    o.sensor = "x";
    assert_int_equal(check(&o), PX_OK);
    o.sensor = s64;
    assert_int_equal(check(&o), PX_OK);
    o.sensor = s65;
    assert_int_equal(check(&o), PX_ERR_INVAL);
    for (size_t i = 0; i < sizeof(bad_sensor) / sizeof(bad_sensor[0]); i++) {
        o.sensor = bad_sensor[i];
        assert_int_equal(check(&o), PX_ERR_INVAL);
    }
    o.sensor = NULL;
    assert_int_equal(check(&o), PX_ERR_INVAL);
    static const char *const good_sensor[] = {"x", "sensor-1", "!~"};
    for (size_t i = 0; i < sizeof(good_sensor) / sizeof(good_sensor[0]); i++) {
        assert_true(px_obs_sensor_valid(good_sensor[i]));
        assert_true(px_obs_conf_check_sensor(good_sensor[i], why, sizeof(why)));
    }
    assert_true(px_obs_sensor_valid(s64));
    assert_false(px_obs_sensor_valid(s65));
    assert_false(px_obs_conf_check_sensor(s65, NULL, 0));
    assert_false(px_obs_sensor_valid(NULL));
    for (size_t i = 0; i < sizeof(bad_sensor) / sizeof(bad_sensor[0]); i++) {
        assert_false(px_obs_sensor_valid(bad_sensor[i]));
        why[0] = '\0';
        assert_false(px_obs_conf_check_sensor(bad_sensor[i], why, sizeof(why)));
        assert_string_equal(why, "must be 1 to 64 printable characters without spaces");
    }
}

static void test_org_from_topic(void **state)
{
    (void)state;
    char org[PX_OBS_ORG_MAX + 1];
    assert_true(px_obs_org_from_topic("pdnsx.obs.org-a", org, sizeof(org)));
    assert_string_equal(org, "org-a");
    assert_true(
        px_obs_org_from_topic("pdnsx.obs.0123456789abcdefghijklmnopqrstuv", org, sizeof(org)));
    assert_string_equal(org, "0123456789abcdefghijklmnopqrstuv");

    char small[4];
    assert_false(px_obs_org_from_topic("pdnsx.obs.abcd", small, sizeof(small)));
    assert_true(px_obs_org_from_topic("pdnsx.obs.abc", small, sizeof(small)));

    static const char *const bad[] = {
        "pdnsx.obs.",   "pdnsx.obs", "pdnsx.alerts", "pdnsx.obs.Org", "pdnsx.obs.a.b",
        "xpdnsx.obs.a", "pdnsx.dlq", "PDNSX.OBS.a",  "pdnsx.obs.-a",  "pdnsx.obs.a_b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(px_obs_org_from_topic(bad[i], org, sizeof(org)));
    assert_false(px_obs_org_from_topic(NULL, org, sizeof(org)));
}

/* ---- what the producer writes passes ------------------------------- */

static px_dns_iter iter; /* 20 KB: off the stack */

/* One answer (owner `owner`, uncompressed wire form) of `type` with rdata
 * `rd`, parsed by the producer's parser into *rr. */
static void producer_rr(const uint8_t *owner, size_t owner_len, uint16_t type, const uint8_t *rd,
                        size_t rdlen, px_dns_rr *rr)
{
    static const uint8_t head[] = {0x12, 0x34, 0x81, 0x80, 0,   1,   0,   1,   0,   0,
                                   0,    0,    7,    'e',  'x', 'a', 'm', 'p', 'l', 'e',
                                   3,    'c',  'o',  'm',  0,   0,   1,   0,   1};
    static uint8_t msg[512];
    size_t n = 0;
    px_dns_msg m;
    memcpy(msg, head, sizeof(head));
    n = sizeof(head);
    memcpy(msg + n, owner, owner_len);
    n += owner_len;
    const uint8_t fixed[] = {(uint8_t)(type >> 8), (uint8_t)type, 0, 1, 0, 0, 0x0e, 0x10, 0,
                             (uint8_t)rdlen};
    memcpy(msg + n, fixed, sizeof(fixed));
    n += sizeof(fixed);
    memcpy(msg + n, rd, rdlen);
    n += rdlen;
    assert_int_equal(pxt_dns_begin(&iter, msg, n, &m), PX_OK);
    assert_int_equal(pxt_dns_next(&iter, rr), PX_OK);
}

/* Every octet value in a label, and every pattern of zero groups in an
 * IPv6 address, as the producer's parser writes them, is valid. */
static void test_producer_output_valid(void **state)
{
    (void)state;
    static const uint8_t v4[4] = {192, 0, 2, 10};
    px_dns_rr rr;
    px_avro_obs o = base;
    for (unsigned b = 0; b < 256; b++) {
        const uint8_t owner[] = {3, 'a', (uint8_t)b, 'z', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};
        producer_rr(owner, sizeof(owner), PX_DNS_TYPE_A, v4, sizeof(v4), &rr);
        o.rrname = rr.name;
        o.rdata = rr.rdata;
        assert_int_equal(check(&o), PX_OK);
    }
    static const uint8_t root[] = {0};
    for (unsigned mask = 0; mask < 256; mask++) {
        uint8_t v6[16] = {0};
        for (int g = 0; g < 8; g++)
            if (mask & (1u << g))
                v6[2 * g + 1] = (uint8_t)(g + 1), v6[2 * g] = g == 0 ? 0x20 : 0;
        producer_rr(root, sizeof(root), PX_DNS_TYPE_AAAA, v6, sizeof(v6), &rr);
        o.rrname = rr.name;
        o.rrtype = "AAAA";
        o.rdata = rr.rdata;
        assert_int_equal(check(&o), PX_OK);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_valid),
        cmocka_unit_test(test_rrname),
        cmocka_unit_test(test_rrname_lengths),
        cmocka_unit_test(test_rrtype),
        cmocka_unit_test(test_rdata),
        cmocka_unit_test(test_bailiwick),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_org_sensor),
        cmocka_unit_test(test_org_from_topic),
        cmocka_unit_test(test_producer_output_valid),
        cmocka_unit_test(test_canonical_spellings),
        cmocka_unit_test(test_check_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
