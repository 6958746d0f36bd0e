/* test_addr.c: address parsing, formatting, special-purpose registry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/px_net.h"
#include "dns/px_addr.h"

static bool special(const char *text)
{
    px_addr a;
    assert_int_equal(px_addr_parse(text, &a), PX_OK);
    bool s = px_addr_special(a.bytes, a.family == 4 ? 4 : 16);
    /* The old name must agree with the new one. */
    assert_int_equal(px_addr_special(a.bytes, a.family == 4 ? 4 : 16), s);
    return s;
}

static void test_parse(void **state)
{
    (void)state;
    px_addr a;
    assert_int_equal(px_addr_parse("192.0.2.1", &a), PX_OK);
    assert_int_equal(a.family, 4);
    assert_memory_equal(a.bytes, "\xc0\x00\x02\x01", 4);
    assert_int_equal(px_addr_parse("2001:db8::1", &a), PX_OK);
    assert_int_equal(a.family, 6);
    assert_int_equal(a.bytes[15], 1);
    assert_int_equal(px_addr_parse("192.0.2.256", &a), PX_ERR_INVAL);
    assert_int_equal(px_addr_parse("192.0.2.1:53", &a), PX_ERR_INVAL);
    assert_int_equal(px_addr_parse("", &a), PX_ERR_INVAL);
    assert_int_equal(px_addr_parse("example.com", &a), PX_ERR_INVAL);
    assert_int_equal(px_addr_parse(NULL, &a), PX_ERR_INVAL);
}

/* "host:port" as the programs read a listen setting: core's split, then
 * lib/dns's address parser on the host. */
static px_err parse_hostport(const char *text, px_addr *a)
{
    char host[64];
    uint16_t port;
    px_err err = px_hostport_split(text, host, sizeof(host), &port, PX_HOSTPORT_LITERAL);
    if (err == PX_OK)
        err = px_addr_parse(host, a);
    if (err == PX_OK)
        a->port = port;
    return err;
}

static void test_parse_hostport(void **state)
{
    (void)state;
    px_addr a;
    assert_int_equal(parse_hostport("127.0.0.1:6000", &a), PX_OK);
    assert_int_equal(a.family, 4);
    assert_int_equal(a.port, 6000);
    assert_int_equal(parse_hostport("[::1]:53", &a), PX_OK);
    assert_int_equal(a.family, 6);
    assert_int_equal(a.port, 53);
    assert_int_equal(a.bytes[15], 1);
    assert_int_equal(parse_hostport("::1:53", &a), PX_ERR_INVAL); /* needs [] */
    assert_int_equal(parse_hostport("127.0.0.1", &a), PX_ERR_INVAL);
    assert_int_equal(parse_hostport("127.0.0.1:", &a), PX_ERR_INVAL);
    assert_int_equal(parse_hostport("127.0.0.1:65536", &a), PX_ERR_INVAL);
    assert_int_equal(parse_hostport("127.0.0.1:5x", &a), PX_ERR_INVAL);
    assert_int_equal(parse_hostport("[::1]53", &a), PX_ERR_INVAL);
    assert_int_equal(parse_hostport("[::1:53", &a), PX_ERR_INVAL);
    assert_int_equal(parse_hostport("localhost:53", &a), PX_ERR_INVAL);
}

static void check_format(const char *in, const char *want)
{
    px_addr a;
    char buf[64];
    assert_int_equal(px_addr_parse(in, &a), PX_OK);
    assert_string_equal(px_addr_format(&a, buf, sizeof(buf)), want);
}

static void test_format_rfc5952(void **state)
{
    (void)state;
    check_format("192.0.2.1", "192.0.2.1");
    check_format("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1");
    /* Longest run of zeros is compressed, the first of equal runs. */
    check_format("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1");
    check_format("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"); /* one zero group stays */
    check_format("2001:db8:0:0:0:1:0:0", "2001:db8::1:0:0");
    check_format("::", "::");
    px_addr none = {0};
    char buf[64];
    assert_string_equal(px_addr_format(&none, buf, sizeof(buf)), "");
}

static void test_equal(void **state)
{
    (void)state;
    px_addr a, b;
    parse_hostport("192.0.2.1:53", &a);
    px_addr_parse("192.0.2.1", &b);
    assert_true(px_addr_equal(&a, &b)); /* port is not compared */
    px_addr_parse("::ffff:192.0.2.1", &b);
    assert_false(px_addr_equal(&a, &b)); /* family differs */
    px_addr_parse("192.0.2.2", &b);
    assert_false(px_addr_equal(&a, &b));
}

static void test_special_v4(void **state)
{
    (void)state;
    const char *yes[] = {"0.1.2.3",         "10.0.0.1",    "10.255.255.255",  "100.64.0.1",
                         "100.127.255.254", "127.0.0.1",   "169.254.1.1",     "172.16.0.1",
                         "172.31.255.255",  "192.0.0.8",   "192.0.2.55",      "192.88.99.1",
                         "192.168.1.1",     "198.18.0.1",  "198.19.255.255",  "198.51.100.7",
                         "203.0.113.9",     "224.0.0.251", "239.255.255.250", "240.0.0.1",
                         "255.255.255.255"};
    const char *no[] = {"1.1.1.1",        "8.8.8.8",        "9.255.255.255",   "11.0.0.0",
                        "100.63.255.255", "100.128.0.0",    "126.255.255.255", "128.0.0.1",
                        "169.253.1.1",    "172.15.255.255", "172.32.0.0",      "192.0.1.1",
                        "192.0.3.1",      "192.167.1.1",    "192.169.0.1",     "198.17.255.255",
                        "198.20.0.0",     "198.51.101.1",   "203.0.114.1",     "223.255.255.255"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_true(special(yes[i]));
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_false(special(no[i]));
}

static void test_special_v6(void **state)
{
    (void)state;
    const char *yes[] = {
        "::",
        "::1",
        "::ffff:8.8.8.8",
        "::ffff:10.0.0.1",
        "100::1",
        "2001::1",
        "2001:0:4136:e378::1", /* Teredo */
        "2001:2::5",
        "2001:10::1",
        "2001:20::1",
        "2001:db8::1",
        "2001:db8:ffff::1",
        "3fff::1",
        "3fff:fff::1",
        "5f00::1",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "febf::1",
        "fec0::1",
        "ff02::1",
        "ff05::1:3",
        "64:ff9b:1::1",
        /* IPv4 rules through NAT64 and 6to4 */
        "64:ff9b::10.1.2.3",
        "64:ff9b::192.168.0.1",
        "2002:c0a8:0101::1",
        "2002:0a00:0001::1",
    };
    const char *no[] = {
        "2001:4860:4860::8888",
        "2606:4700::1111",
        "2a00:1450::1",
        "2001:db9::1",
        "2001:1::1",
        "2001:3::1",
        "3fff:1000::1",
        "fbff::1",
        "fe00::1",
        "2000::1",
        "64:ff9b::8.8.8.8",
        "2002:0808:0808::1", /* public IPv4 inside */
    };
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (!special(yes[i]))
            fail_msg("%s should be special", yes[i]);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        if (special(no[i]))
            fail_msg("%s should not be special", no[i]);
    }
}

static void test_special_raw_bad_length(void **state)
{
    (void)state;
    const uint8_t b[16] = {10};
    assert_false(px_addr_special(b, 5));
    assert_false(px_addr_special(NULL, 4));
    px_addr none = {0};
    assert_false(px_addr_special(none.bytes, 0));
}

/* Hexadecimal groups only, for every prefix that embeds an IPv4 address
 * (glibc's inet_ntop writes a dotted tail for the first two). */
static void test_format_hex_only(void **state)
{
    (void)state;
    check_format("::ffff:1.2.3.4", "::ffff:102:304");         /* IPv4-mapped */
    check_format("::ffff:192.0.2.1", "::ffff:c000:201");      /* IPv4-mapped */
    check_format("::1.2.3.4", "::102:304");                   /* IPv4-compatible */
    check_format("::0.0.0.2", "::2");                         /* compatible, small */
    check_format("64:ff9b::1.2.3.4", "64:ff9b::102:304");     /* NAT64 RFC 6052 */
    check_format("64:ff9b:1::1.2.3.4", "64:ff9b:1::102:304"); /* local-use NAT64 */
    check_format("::ffff:0:1.2.3.4", "::ffff:0:102:304");     /* IPv4-translated */
    check_format("2002:102:304::1", "2002:102:304::1");       /* 6to4 */
    check_format("::1", "::1");
    check_format("1::", "1::");
    check_format("1:0:0:1:0:0:1:1", "1::1:0:0:1:1"); /* equal runs: first */
    check_format("1:0:0:1:0:0:0:1", "1:0:0:1::1");   /* longest run wins */
    check_format("FFFF:ABCD:0DB8:0:0:0:0:0", "ffff:abcd:db8::");
    check_format("0.0.0.0", "0.0.0.0");
    check_format("255.255.255.255", "255.255.255.255");
    char buf[PX_ADDR_TEXT_MAX];
    px_addr a;
    assert_int_equal(px_addr_parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &a), PX_OK);
    assert_int_equal(px_addr_format_bytes(a.bytes, 16, buf), 39);
    assert_string_equal(buf, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    /* Too small a buffer gives "", never a cut address. */
    char small[8];
    assert_string_equal(px_addr_format(&a, small, sizeof small), "");
}

static void test_format_bytes(void **state)
{
    (void)state;
    char buf[PX_ADDR_TEXT_MAX];
    const uint8_t v4[4] = {192, 0, 2, 10};
    const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4};
    assert_int_equal(px_addr_format_bytes(v4, 4, buf), 10);
    assert_string_equal(buf, "192.0.2.10");
    assert_int_equal(px_addr_format_bytes(mapped, 16, buf), 14);
    assert_string_equal(buf, "::ffff:102:304");
    assert_int_equal(px_addr_format_bytes(mapped, 5, buf), 0);
    assert_string_equal(buf, "");
    assert_int_equal(px_addr_format_bytes(NULL, 4, buf), 0);
}

/* Every spelling a user may paste parses to the same bytes. */
static void test_parse_every_spelling(void **state)
{
    (void)state;
    static const char *const same[] = {
        "::ffff:102:304",
        "::ffff:1.2.3.4",
        "::FFFF:102:304",
        "0:0:0:0:0:ffff:1.2.3.4",
        "0000:0000:0000:0000:0000:FFFF:0102:0304",
        "::ffff:0102:0304",
    };
    px_addr want, a;
    assert_int_equal(px_addr_parse(same[0], &want), PX_OK);
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        assert_int_equal(px_addr_parse(same[i], &a), PX_OK);
        assert_true(px_addr_equal(&a, &want));
    }
    assert_int_equal(px_addr_parse("64:FF9B::1.2.3.4", &a), PX_OK);
    assert_int_equal(a.bytes[15], 4);
    assert_int_equal(px_addr_parse("::1.2.3.4", &a), PX_OK);
    assert_int_equal(a.bytes[12], 1);
    assert_int_equal(px_addr_parse("::ffff:1.2.3", &a), PX_ERR_INVAL);
    assert_int_equal(px_addr_parse("1.2.3.4::", &a), PX_ERR_INVAL);
    assert_int_equal(px_addr_parse("fe80::1%eth0", &a), PX_ERR_INVAL);
    assert_int_equal(px_addr_parse(" ::1", &a), PX_ERR_INVAL);
    /* The length-bounded form reads no further than len. */
    assert_int_equal(px_addr_parse_n("::1 trailing", 3, &a), PX_OK);
    assert_int_equal(a.bytes[15], 1);
    assert_int_equal(px_addr_parse_n("192.0.2.1", 9, &a), PX_OK);
    assert_int_equal(a.family, 4);
    assert_int_equal(px_addr_parse_n("::1", 4, &a), PX_ERR_INVAL); /* the NUL */
    assert_int_equal(px_addr_parse_n("0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0", 47, &a),
                     PX_ERR_INVAL);
}

static void test_conf_check(void **state)
{
    (void)state;
    char why[64] = "";
    assert_true(px_addr_conf_check("::ffff:1.2.3.4", why, sizeof why));
    assert_true(px_addr_conf_check("192.0.2.53", why, sizeof why));
    assert_false(px_addr_conf_check("192.0.2.53:53", why, sizeof why));
    assert_string_equal(why, "not an IPv4 or IPv6 address");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_hostport),
        cmocka_unit_test(test_format_rfc5952),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_special_v4),
        cmocka_unit_test(test_special_v6),
        cmocka_unit_test(test_special_raw_bad_length),
        cmocka_unit_test(test_format_hex_only),
        cmocka_unit_test(test_format_bytes),
        cmocka_unit_test(test_parse_every_spelling),
        cmocka_unit_test(test_conf_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
