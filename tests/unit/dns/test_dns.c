/* Tests for px_dns: crafted messages for every presented rdata type, name
 * compression and its abuses, truncation at every level, and a real
 * capture from the corpus. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "px_fixture.h"
#include <pcap/pcap.h>

#include "dns/px_dns_msg.h"
#include "dns_text_oracle.h"

/* ---- message builder ---- */

typedef struct pkt {
    uint8_t b[10000];
    size_t n;
} pkt;

static void put8(pkt *p, uint8_t v)
{
    assert_true(p->n < sizeof p->b);
    p->b[p->n++] = v;
}

static void put16(pkt *p, uint16_t v)
{
    put8(p, (uint8_t)(v >> 8));
    put8(p, (uint8_t)v);
}

static void put32(pkt *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p, (uint16_t)v);
}

static void putmem(pkt *p, const void *m, size_t n)
{
    assert_true(p->n + n <= sizeof p->b);
    memcpy(p->b + p->n, m, n);
    p->n += n;
}

/* Dotted name, uncompressed, with the root label; "" is the root. */
static void putname(pkt *p, const char *name)
{
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t len = dot ? (size_t)(dot - name) : strlen(name);
        put8(p, (uint8_t)len);
        putmem(p, name, len);
        name += len + (dot ? 1 : 0);
    }
    put8(p, 0);
}

static void putptr(pkt *p, uint16_t off)
{
    put16(p, (uint16_t)(0xC000 | off));
}

static void header(pkt *p, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar)
{
    p->n = 0;
    put16(p, 0x1234);
    put16(p, 0x8180); /* QR RD RA, NOERROR */
    put16(p, qd);
    put16(p, an);
    put16(p, ns);
    put16(p, ar);
}

/* Question "example.com" at offset 12 ("com" at 20). */
static void question(pkt *p, uint16_t qtype)
{
    putname(p, "example.com");
    put16(p, qtype);
    put16(p, PX_DNS_CLASS_IN);
}

#define QNAME_OFF 12
#define QCOM_OFF 20

/* Record fixed fields after the owner name; returns the rdlength offset. */
static size_t rr_fixed(pkt *p, uint16_t type, uint16_t rdlen)
{
    put16(p, type);
    put16(p, PX_DNS_CLASS_IN);
    put32(p, 3600);
    size_t at = p->n;
    put16(p, rdlen);
    return at;
}

static void patch_rdlen(pkt *p, size_t at)
{
    size_t len = p->n - at - 2;
    p->b[at] = (uint8_t)(len >> 8);
    p->b[at + 1] = (uint8_t)len;
}

static px_dns_iter it; /* 20 KB: keep it off the test stack */

/* A message with one answer of `type` whose rdata is `rd`; returns the
 * result of pxt_dns_next() for it. */
static px_err one_rr(uint16_t type, const void *rd, size_t rdlen, px_dns_rr *rr)
{
    static pkt p;
    px_dns_msg m;
    header(&p, 1, 1, 0, 0);
    question(&p, type);
    putptr(&p, QNAME_OFF);
    rr_fixed(&p, type, (uint16_t)rdlen);
    putmem(&p, rd, rdlen);
    assert_int_equal(pxt_dns_begin(&it, p.b, p.n, &m), PX_OK);
    return pxt_dns_next(&it, rr);
}

static void expect_rdata(uint16_t type, const void *rd, size_t rdlen, const char *want)
{
    px_dns_rr rr;
    assert_int_equal(one_rr(type, rd, rdlen, &rr), PX_OK);
    assert_string_equal(rr.rdata, want);
    assert_int_equal(rr.rdata_len, strlen(want));
    assert_int_equal(rr.rdlen, rdlen);
}

static void expect_bad_rdata(uint16_t type, const void *rd, size_t rdlen)
{
    px_dns_rr rr;
    assert_int_not_equal(one_rr(type, rd, rdlen, &rr), PX_OK);
    assert_true(px_dns_can_continue(&it));
    assert_int_equal(pxt_dns_next(&it, &rr), PX_ERR_EOF);
}

/* ---- header, question, simple records ---- */

static void test_header_and_question(void **state)
{
    (void)state;
    pkt p;
    px_dns_msg m;
    header(&p, 1, 0, 0, 0);
    p.b[3] = 0x83; /* RA + NXDOMAIN */
    putname(&p, "WWW.Example.COM");
    put16(&p, PX_DNS_TYPE_AAAA);
    put16(&p, PX_DNS_CLASS_IN);
    assert_int_equal(pxt_dns_begin(&it, p.b, p.n, &m), PX_OK);
    assert_int_equal(m.id, 0x1234);
    assert_true(m.qr);
    assert_true(m.rd);
    assert_true(m.ra);
    assert_false(m.aa);
    assert_false(m.tc);
    assert_int_equal(m.opcode, 0);
    assert_int_equal(m.rcode, PX_DNS_RCODE_NXDOMAIN);
    assert_true(m.has_question);
    assert_string_equal(m.qname, "www.example.com");
    assert_int_equal(m.qname_len, strlen("www.example.com"));
    assert_int_equal(m.qtype, PX_DNS_TYPE_AAAA);
    assert_int_equal(m.qclass, PX_DNS_CLASS_IN);
    px_dns_rr rr;
    assert_int_equal(pxt_dns_next(&it, &rr), PX_ERR_EOF);
}

static void test_no_question_root(void **state)
{
    (void)state;
    pkt p;
    px_dns_msg m;
    px_dns_rr rr;
    header(&p, 0, 1, 0, 0);
    putname(&p, "");
    rr_fixed(&p, PX_DNS_TYPE_NS, 0);
    size_t at = p.n - 2;
    putname(&p, "a.root-servers.net");
    patch_rdlen(&p, at);
    assert_int_equal(pxt_dns_begin(&it, p.b, p.n, &m), PX_OK);
    assert_false(m.has_question);
    assert_int_equal(pxt_dns_next(&it, &rr), PX_OK);
    assert_string_equal(rr.name, ".");
    assert_int_equal(rr.name_len, 1);
    assert_string_equal(rr.rdata, "a.root-servers.net");
}

static void test_sections_in_order(void **state)
{
    (void)state;
    pkt p;
    px_dns_msg m;
    px_dns_rr rr;
    const uint8_t a[4] = {192, 0, 2, 1};
    header(&p, 1, 1, 1, 2);
    question(&p, PX_DNS_TYPE_A);
    putptr(&p, QNAME_OFF);
    rr_fixed(&p, PX_DNS_TYPE_A, 4);
    putmem(&p, a, 4);
    putptr(&p, QNAME_OFF);
    size_t at = rr_fixed(&p, PX_DNS_TYPE_NS, 0);
    size_t ns_off = p.n;
    put8(&p, 2);
    putmem(&p, "ns", 2);
    putptr(&p, QNAME_OFF);
    patch_rdlen(&p, at);
    putptr(&p, (uint16_t)ns_off);
    rr_fixed(&p, PX_DNS_TYPE_A, 4);
    putmem(&p, a, 4);
    putname(&p, ""); /* OPT */
    put16(&p, PX_DNS_TYPE_OPT);
    put16(&p, 1232);
    put32(&p, 0);
    put16(&p, 0);

    assert_int_equal(pxt_dns_begin(&it, p.b, p.n, &m), PX_OK);
    assert_int_equal(pxt_dns_next(&it, &rr), PX_OK);
    assert_int_equal(rr.section, PX_DNS_ANSWER);
    assert_string_equal(rr.name, "example.com");
    assert_int_equal(rr.ttl, 3600);
    assert_int_equal(rr.rclass, PX_DNS_CLASS_IN);
    assert_string_equal(rr.rdata, "192.0.2.1");
    assert_null(rr.target);
    assert_int_equal(pxt_dns_next(&it, &rr), PX_OK);
    assert_int_equal(rr.section, PX_DNS_AUTHORITY);
    assert_string_equal(rr.rdata, "ns.example.com");
    assert_string_equal(rr.target, "ns.example.com");
    assert_null(rr.target2);
    assert_int_equal(pxt_dns_next(&it, &rr), PX_OK);
    assert_int_equal(rr.section, PX_DNS_ADDITIONAL);
    assert_string_equal(rr.name, "ns.example.com"); /* pointer into rdata */
    assert_int_equal(pxt_dns_next(&it, &rr), PX_OK);
    assert_int_equal(rr.section, PX_DNS_ADDITIONAL);
    assert_int_equal(rr.type, PX_DNS_TYPE_OPT);
    assert_string_equal(rr.name, ".");
    assert_string_equal(rr.rdata, "\\# 0");
    assert_int_equal(pxt_dns_next(&it, &rr), PX_ERR_EOF);
    assert_int_equal(pxt_dns_next(&it, &rr), PX_ERR_EOF);
}

/* ---- skipping records the caller does not want ---- */

static bool want_no_txt_no_additional(void *ctx, const px_dns_rr *rr)
{
    unsigned *calls = ctx;
    (*calls)++;
    assert_null(rr->name);
    assert_null(rr->rdata);
    return rr->section != PX_DNS_ADDITIONAL && rr->type != PX_DNS_TYPE_TXT;
}

/* TXT with a malformed string (length 5, one byte), a new owner, an owner
 * compressed to the question, then OPT. */
static void want_message(pkt *p)
{
    const uint8_t a1[4] = {192, 0, 2, 1}, a2[4] = {192, 0, 2, 2}, bad_txt[1] = {5};
    header(p, 1, 3, 0, 1);
    question(p, PX_DNS_TYPE_A);
    putptr(p, QNAME_OFF);
    rr_fixed(p, PX_DNS_TYPE_TXT, 1);
    putmem(p, bad_txt, 1);
    put8(p, 3);
    putmem(p, "www", 3);
    putptr(p, QNAME_OFF);
    rr_fixed(p, PX_DNS_TYPE_A, 4);
    putmem(p, a1, 4);
    putptr(p, QNAME_OFF);
    rr_fixed(p, PX_DNS_TYPE_A, 4);
    putmem(p, a2, 4);
    putname(p, ""); /* OPT */
    put16(p, PX_DNS_TYPE_OPT);
    put16(p, 1232);
    put32(p, 0);
    put16(p, 0);
}

static void test_want_skips_records(void **state)
{
    (void)state;
    static pkt p;
    px_dns_msg m;
    px_dns_rr rr;
    unsigned calls = 0;
    want_message(&p);
    assert_int_equal(pxt_dns_begin(&it, p.b, p.n, &m), PX_OK);
    px_dns_set_want(&it, want_no_txt_no_additional, &calls);

    assert_int_equal(pxt_dns_next(&it, &rr), PX_OK); /* bad TXT: skipped, not checked */
    assert_int_equal(rr.type, PX_DNS_TYPE_TXT);
    assert_int_equal(rr.rdlen, 1);
    assert_null(rr.name);
    assert_int_equal(rr.name_len, 0);
    assert_null(rr.rdata);
    assert_null(rr.target);
    assert_int_equal(pxt_dns_next(&it, &rr), PX_OK);
    assert_string_equal(rr.name, "www.example.com");
    assert_int_equal(rr.name_len, strlen("www.example.com"));
    assert_int_equal(rr.ttl, 3600);
    assert_string_equal(rr.rdata, "192.0.2.1");
    assert_int_equal(pxt_dns_next(&it, &rr), PX_OK);
    assert_string_equal(rr.name, "example.com");
    assert_string_equal(rr.rdata, "192.0.2.2");
    assert_int_equal(pxt_dns_next(&it, &rr), PX_OK);
    assert_int_equal(rr.section, PX_DNS_ADDITIONAL);
    assert_int_equal(rr.type, PX_DNS_TYPE_OPT);
    assert_null(rr.name);
    assert_int_equal(pxt_dns_next(&it, &rr), PX_ERR_EOF);
    assert_int_equal(calls, 4);

    /* pxt_dns_begin() forgets the want function: the TXT is read again. */
    assert_int_equal(pxt_dns_begin(&it, p.b, p.n, &m), PX_OK);
    assert_int_not_equal(pxt_dns_next(&it, &rr), PX_OK);
    assert_true(px_dns_can_continue(&it));
    assert_int_equal(calls, 4);
}

/* A skipped record whose framing is lost still ends the message. */
static void test_want_framing_lost(void **state)
{
    (void)state;
    static pkt p;
    px_dns_msg m;
    px_dns_rr rr;
    unsigned calls = 0;
    header(&p, 1, 1, 0, 0);
    question(&p, PX_DNS_TYPE_A);
    putptr(&p, QNAME_OFF);
    rr_fixed(&p, PX_DNS_TYPE_TXT, 50); /* rdlength past the end */
    put8(&p, 1);
    assert_int_equal(pxt_dns_begin(&it, p.b, p.n, &m), PX_OK);
    px_dns_set_want(&it, want_no_txt_no_additional, &calls);
    assert_int_not_equal(pxt_dns_next(&it, &rr), PX_OK);
    assert_false(px_dns_can_continue(&it));
    assert_int_equal(calls, 0);
}

/* ---- rdata types ---- */

static void test_rdata_a(void **state)
{
    (void)state;
    const uint8_t a[] = {10, 0, 100, 255};
    expect_rdata(PX_DNS_TYPE_A, a, 4, "10.0.100.255");
    const uint8_t z[] = {0, 0, 0, 0};
    expect_rdata(PX_DNS_TYPE_A, z, 4, "0.0.0.0");
    expect_bad_rdata(PX_DNS_TYPE_A, a, 3);
    expect_bad_rdata(PX_DNS_TYPE_A, "\1\2\3\4\5", 5);
}

static void aaaa(const char *hex16, const char *want)
{
    uint8_t b[16];
    for (int i = 0; i < 16; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex16 + 2 * i, "%2x", &v), 1);
        b[i] = (uint8_t)v;
    }
    expect_rdata(PX_DNS_TYPE_AAAA, b, 16, want);
}

static void test_rdata_aaaa_rfc5952(void **state)
{
    (void)state;
    aaaa("00000000000000000000000000000000", "::");
    aaaa("00000000000000000000000000000001", "::1");
    aaaa("20010db8000000000000000000000001", "2001:db8::1");
    aaaa("20010db8000000000001000000000001", "2001:db8::1:0:0:1");
    aaaa("20010db8000000010001000100010001", "2001:db8:0:1:1:1:1:1");
    aaaa("20010DB8AAAABBBBCCCCDDDDEEEE0001", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1");
    aaaa("fe800000000000000000000000000000", "fe80::");
    aaaa("20010000000000010000000000010001", "2001::1:0:0:1:1");  /* tie -> first */
    aaaa("20010db8000000000001000000000000", "2001:db8:0:0:1::"); /* longest */
    aaaa("20010db8000100000000000000010000", "2001:db8:1::1:0");
    aaaa("00000000000000000000ffffc0000201", "::ffff:c000:201");
    expect_bad_rdata(PX_DNS_TYPE_AAAA, "0123456789abcde", 15);
}

static void test_rdata_names(void **state)
{
    (void)state;
    const uint16_t types[] = {PX_DNS_TYPE_CNAME, PX_DNS_TYPE_NS, PX_DNS_TYPE_PTR,
                              PX_DNS_TYPE_DNAME};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        px_dns_rr rr;
        assert_int_equal(one_rr(types[i], "\4Host\7Example\3NET\0", 18, &rr), PX_OK);
        assert_string_equal(rr.rdata, "host.example.net");
        assert_string_equal(rr.target, "host.example.net");
        assert_null(rr.target2);
        /* name running past rdlength: this record only */
        expect_bad_rdata(types[i], "\4host\7exam", 10);
        /* bytes after the name */
        expect_bad_rdata(types[i], "\4host\0\0", 7);
    }
}

static void test_rdata_mx_srv(void **state)
{
    (void)state;
    px_dns_rr rr;
    assert_int_equal(one_rr(PX_DNS_TYPE_MX, "\0\12\4mail\7example\3com\0", 20, &rr), PX_OK);
    assert_string_equal(rr.rdata, "10 mail.example.com");
    assert_string_equal(rr.target, "mail.example.com");
    expect_rdata(PX_DNS_TYPE_MX, "\0\0\0", 3, "0 .");
    expect_bad_rdata(PX_DNS_TYPE_MX, "\0", 1);

    const uint8_t srv[] = {0,   1,   0,   5,   0x13, 0xc4, 3, 's', 'i', 'p', 7, 'e',
                           'x', 'a', 'm', 'p', 'l',  'e',  3, 'o', 'r', 'g', 0};
    assert_int_equal(one_rr(PX_DNS_TYPE_SRV, srv, sizeof srv, &rr), PX_OK);
    assert_string_equal(rr.rdata, "1 5 5060 sip.example.org");
    assert_string_equal(rr.target, "sip.example.org");
    expect_bad_rdata(PX_DNS_TYPE_SRV, srv, 5);
}

static void test_rdata_soa(void **state)
{
    (void)state;
    static pkt p;
    px_dns_msg m;
    px_dns_rr rr;
    header(&p, 1, 0, 1, 0);
    question(&p, PX_DNS_TYPE_SOA);
    putptr(&p, QNAME_OFF);
    size_t at = rr_fixed(&p, PX_DNS_TYPE_SOA, 0);
    put8(&p, 3);
    putmem(&p, "ns1", 3);
    putptr(&p, QNAME_OFF);
    put8(&p, 10);
    putmem(&p, "hostmaster", 10);
    putptr(&p, QNAME_OFF);
    put32(&p, 2024010101u);
    put32(&p, 7200);
    put32(&p, 3600);
    put32(&p, 1209600);
    put32(&p, 4294967295u);
    patch_rdlen(&p, at);
    assert_int_equal(pxt_dns_begin(&it, p.b, p.n, &m), PX_OK);
    assert_int_equal(pxt_dns_next(&it, &rr), PX_OK);
    assert_int_equal(rr.section, PX_DNS_AUTHORITY);
    assert_string_equal(rr.rdata,
                        "ns1.example.com hostmaster.example.com 2024010101 7200 3600 1209600 "
                        "4294967295");
    assert_string_equal(rr.target, "ns1.example.com");
    assert_string_equal(rr.target2, "hostmaster.example.com");

    /* one serial number short */
    p.n -= 4;
    p.b[at + 1] = (uint8_t)(p.b[at + 1] - 4);
    assert_int_equal(pxt_dns_begin(&it, p.b, p.n, &m), PX_OK);
    assert_int_not_equal(pxt_dns_next(&it, &rr), PX_OK);
    assert_true(px_dns_can_continue(&it));
    assert_int_equal(pxt_dns_next(&it, &rr), PX_ERR_EOF);
}

static void test_rdata_txt(void **state)
{
    (void)state;
    expect_rdata(PX_DNS_TYPE_TXT, "\13v=spf1 -all", 12, "\"v=spf1 -all\"");
    expect_rdata(PX_DNS_TYPE_TXT, "\2ab\0\1c", 6, "\"ab\" \"\" \"c\"");
    expect_rdata(PX_DNS_TYPE_TXT, "\10a\"b\\c\n\377;", 9, "\"a\\\"b\\\\c\\010\\255;\"");
    expect_bad_rdata(PX_DNS_TYPE_TXT, "\5abc", 4); /* string past rdlength */
    expect_bad_rdata(PX_DNS_TYPE_TXT, "", 0);
}

static void test_rdata_caa(void **state)
{
    (void)state;
    expect_rdata(PX_DNS_TYPE_CAA, "\0\5issueletsencrypt.org", 22, "0 issue \"letsencrypt.org\"");
    expect_rdata(PX_DNS_TYPE_CAA, "\200\5iodef", 7, "128 iodef \"\"");
    expect_bad_rdata(PX_DNS_TYPE_CAA, "\0\0x", 3);
    expect_bad_rdata(PX_DNS_TYPE_CAA, "\0\11issue", 7);
}

static void test_rdata_generic(void **state)
{
    (void)state;
    px_dns_rr rr;
    expect_rdata(65280, "\x0a\x00\x00\x01", 4, "\\# 4 0a000001");
    expect_rdata(65280, "", 0, "\\# 0");
    expect_rdata(PX_DNS_TYPE_OPT, "\x00\x0a\x00\x02\xAB\xcd", 6, "\\# 6 000a0002abcd");
    /* HINFO has a presentation rule elsewhere; here it stays generic and
     * any embedded bytes are not interpreted. */
    assert_int_equal(one_rr(13, "\3CPU\2OS", 7, &rr), PX_OK);
    assert_string_equal(rr.rdata, "\\# 7 03435055024f53");
    assert_null(rr.target);
    assert_memory_equal(rr.rdata_wire, "\3CPU\2OS", 7);
}

static void test_rdata_too_long(void **state)
{
    (void)state;
    static uint8_t big[9000];
    memset(big, 0xab, sizeof big);
    px_dns_rr rr;
    /* 9000 bytes of hex do not fit PX_DNS_RDATA_TEXT_MAX */
    assert_int_equal(one_rr(65280, big, sizeof big, &rr), PX_ERR_TOOLONG);
    assert_true(px_dns_can_continue(&it));
}

/* ---- names ---- */

static void test_name_escapes(void **state)
{
    (void)state;
    pkt p;
    px_dns_msg m;
    header(&p, 1, 0, 0, 0);
    const uint8_t name[] = {3,   'a', '.', 'b', 3, 'c',  '\\', 'd', 4,   ' ', '"', '(', ')', 4,
                            ';', '@', '$', 0,   2, 0xff, 0x7f, 5,   'X', '-', '_', '*', '/', 0};
    putmem(&p, name, sizeof name);
    put16(&p, 1);
    put16(&p, 1);
    assert_int_equal(pxt_dns_begin(&it, p.b, p.n, &m), PX_OK);
    assert_string_equal(m.qname,
                        "a\\.b.c\\\\d.\\032\\034\\040\\041.\\059\\064\\036\\000.\\255\\127.x-_*/");
    assert_int_equal(m.qname_len, strlen(m.qname));
    /* the escaped dot is not a label boundary for zone matching */
    assert_false(px_dns_name_in_zone(m.qname, 3, "b", 1));
}

static void test_compression(void **state)
{
    (void)state;
    static pkt p;
    px_dns_msg m;
    px_dns_rr rr;
    header(&p, 1, 2, 0, 0);
    question(&p, PX_DNS_TYPE_CNAME);
    /* owner: "www" + pointer to the question's "example.com" */
    size_t www_off = p.n;
    put8(&p, 3);
    putmem(&p, "WWW", 3);
    putptr(&p, QNAME_OFF);
    size_t at = rr_fixed(&p, PX_DNS_TYPE_CNAME, 0);
    size_t cdn_off = p.n;
    put8(&p, 3);
    putmem(&p, "cdn", 3);
    putptr(&p, QCOM_OFF); /* into the middle of the question name */
    patch_rdlen(&p, at);
    /* second answer: owner points at the CNAME target inside rdata;
     * rdata is a pointer to a name that itself ends in a pointer */
    putptr(&p, (uint16_t)cdn_off);
    rr_fixed(&p, PX_DNS_TYPE_CNAME, 2);
    putptr(&p, (uint16_t)www_off);

    assert_int_equal(pxt_dns_begin(&it, p.b, p.n, &m), PX_OK);
    assert_int_equal(pxt_dns_next(&it, &rr), PX_OK);
    assert_string_equal(rr.name, "www.example.com");
    assert_string_equal(rr.rdata, "cdn.com");
    assert_int_equal(pxt_dns_next(&it, &rr), PX_OK);
    assert_string_equal(rr.name, "cdn.com");
    assert_string_equal(rr.rdata, "www.example.com");
    assert_string_equal(rr.target, "www.example.com");
    assert_int_equal(pxt_dns_next(&it, &rr), PX_ERR_EOF);
}

/* Message with qdcount 1 whose question name is given raw. */
static px_err begin_with_qname(const uint8_t *name, size_t len)
{
    static pkt p;
    px_dns_msg m;
    header(&p, 1, 0, 0, 0);
    putmem(&p, name, len);
    put16(&p, 1);
    put16(&p, 1);
    return pxt_dns_begin(&it, p.b, p.n, &m);
}

static void test_compression_loops(void **state)
{
    (void)state;
    /* self pointer at offset 12 */
    const uint8_t self[] = {0xC0, 12};
    assert_int_equal(begin_with_qname(self, sizeof self), PX_ERR_LOOP);
    /* label then a pointer back to the start of the same name */
    const uint8_t back[] = {1, 'a', 0xC0, 12};
    assert_int_equal(begin_with_qname(back, sizeof back), PX_ERR_LOOP);
    /* forward pointer */
    const uint8_t fwd[] = {0xC0, 14, 1, 'a', 0};
    assert_int_equal(begin_with_qname(fwd, sizeof fwd), PX_ERR_LOOP);
    /* pointer past the end of the message */
    const uint8_t far[] = {0xC3, 0xff};
    assert_int_not_equal(begin_with_qname(far, sizeof far), PX_OK);

    /* two-pointer cycle in records: A's owner at X points to Y (a later
     * record), Y points back to X. */
    static pkt p;
    px_dns_msg m;
    px_dns_rr rr;
    header(&p, 0, 2, 0, 0);
    size_t x = p.n;
    putptr(&p, (uint16_t)(x + 12)); /* to y */
    rr_fixed(&p, PX_DNS_TYPE_A, 0);
    size_t y = p.n;
    assert_int_equal(y, x + 12);
    putptr(&p, (uint16_t)x);
    rr_fixed(&p, PX_DNS_TYPE_A, 0);
    assert_int_equal(pxt_dns_begin(&it, p.b, p.n, &m), PX_OK);
    assert_int_equal(pxt_dns_next(&it, &rr), PX_ERR_LOOP);
    assert_false(px_dns_can_continue(&it));
    assert_int_not_equal(pxt_dns_next(&it, &rr), PX_OK);
    assert_int_not_equal(pxt_dns_next(&it, &rr), PX_ERR_EOF);

    /* a looping name inside rdata spoils only that record */
    header(&p, 0, 2, 0, 0);
    x = p.n;
    put8(&p, 1);
    put8(&p, 'a');
    put8(&p, 0);
    rr_fixed(&p, PX_DNS_TYPE_CNAME, 4);
    size_t rd = p.n;
    put8(&p, 1);
    put8(&p, 'b');
    putptr(&p, (uint16_t)rd);
    putptr(&p, (uint16_t)x);
    rr_fixed(&p, PX_DNS_TYPE_CNAME, 2);
    putptr(&p, (uint16_t)x);
    assert_int_equal(pxt_dns_begin(&it, p.b, p.n, &m), PX_OK);
    assert_int_equal(pxt_dns_next(&it, &rr), PX_ERR_LOOP);
    assert_true(px_dns_can_continue(&it));
    assert_int_equal(pxt_dns_next(&it, &rr), PX_OK);
    assert_string_equal(rr.name, "a");
    assert_string_equal(rr.rdata, "a");
}

static void test_long_names(void **state)
{
    (void)state;
    uint8_t name[400];
    size_t n = 0;
    /* 3 labels of 63 + one of 61 + root = 255 octets: allowed */
    for (int i = 0; i < 4; i++) {
        size_t len = i < 3 ? 63 : 61;
        name[n++] = (uint8_t)len;
        memset(name + n, 'a' + i, len);
        n += len;
    }
    name[n++] = 0;
    assert_int_equal(n, 255);
    assert_int_equal(begin_with_qname(name, n), PX_OK);
    /* one octet more: too long */
    name[3 * 64] = 62;
    memmove(name + 3 * 64 + 1 + 62, name + 3 * 64 + 1 + 61, 1);
    name[3 * 64 + 1 + 61] = 'x';
    assert_int_equal(begin_with_qname(name, 256), PX_ERR_TOOLONG);

    /* too long only after decompression: question of 4 x 50-octet labels,
     * answer owner adds 2 more labels of 50 in front of it */
    static pkt p;
    px_dns_msg m;
    px_dns_rr rr;
    header(&p, 1, 1, 0, 0);
    for (int i = 0; i < 4; i++) {
        put8(&p, 50);
        for (int j = 0; j < 50; j++)
            put8(&p, 'q');
    }
    put8(&p, 0);
    put16(&p, 1);
    put16(&p, 1);
    for (int i = 0; i < 2; i++) {
        put8(&p, 50);
        for (int j = 0; j < 50; j++)
            put8(&p, 'o');
    }
    putptr(&p, QNAME_OFF);
    rr_fixed(&p, PX_DNS_TYPE_A, 4);
    put32(&p, 0x01020304);
    assert_int_equal(pxt_dns_begin(&it, p.b, p.n, &m), PX_OK);
    assert_int_equal(pxt_dns_next(&it, &rr), PX_ERR_TOOLONG);
    assert_false(px_dns_can_continue(&it));
}

static void test_bad_label_bits(void **state)
{
    (void)state;
    const uint8_t l64[] = {0x40, 'a', 0};
    assert_int_equal(begin_with_qname(l64, sizeof l64), PX_ERR_MALFORMED);
    const uint8_t l128[] = {0x80, 'a', 0};
    assert_int_equal(begin_with_qname(l128, sizeof l128), PX_ERR_MALFORMED);
    const uint8_t later[] = {1, 'a', 0x7f, 0};
    assert_int_equal(begin_with_qname(later, sizeof later), PX_ERR_MALFORMED);
}

/* ---- truncation ---- */

static void test_truncation(void **state)
{
    (void)state;
    static pkt p;
    px_dns_msg m;
    px_dns_rr rr;
    header(&p, 1, 2, 0, 0);
    question(&p, PX_DNS_TYPE_A);
    size_t q_end = p.n;
    putptr(&p, QNAME_OFF);
    rr_fixed(&p, PX_DNS_TYPE_A, 4);
    put32(&p, 0xc0000201);
    size_t rr1_end = p.n;
    putptr(&p, QNAME_OFF);
    rr_fixed(&p, PX_DNS_TYPE_A, 4);
    put32(&p, 0xc0000202);

    /* every prefix shorter than the header or the question fails begin */
    for (size_t len = 0; len < q_end; len++)
        assert_int_equal(pxt_dns_begin(&it, p.b, len, &m), PX_ERR_TRUNC);
    assert_int_equal(pxt_dns_begin(&it, p.b, 11, &m), PX_ERR_TRUNC);
    assert_int_not_equal(pxt_dns_next(&it, &rr), PX_OK);
    assert_false(px_dns_can_continue(&it));

    /* every cut inside the second record: first is fine, second breaks */
    for (size_t len = rr1_end; len < p.n; len++) {
        assert_int_equal(pxt_dns_begin(&it, p.b, len, &m), PX_OK);
        assert_int_equal(pxt_dns_next(&it, &rr), PX_OK);
        assert_string_equal(rr.rdata, "192.0.2.1");
        assert_int_equal(pxt_dns_next(&it, &rr), PX_ERR_TRUNC);
        assert_false(px_dns_can_continue(&it));
    }
    assert_int_equal(pxt_dns_begin(&it, p.b, p.n, &m), PX_OK);
    assert_int_equal(pxt_dns_next(&it, &rr), PX_OK);
    assert_int_equal(pxt_dns_next(&it, &rr), PX_OK);
    assert_string_equal(rr.rdata, "192.0.2.2");
    assert_int_equal(pxt_dns_next(&it, &rr), PX_ERR_EOF);

    /* a counted second question that is missing */
    header(&p, 2, 0, 0, 0);
    question(&p, PX_DNS_TYPE_A);
    assert_int_equal(pxt_dns_begin(&it, p.b, p.n, &m), PX_ERR_TRUNC);
    /* second question present (compressed) and skipped */
    putptr(&p, QNAME_OFF);
    put16(&p, 28);
    put16(&p, 1);
    assert_int_equal(pxt_dns_begin(&it, p.b, p.n, &m), PX_OK);
    assert_string_equal(m.qname, "example.com");
    assert_int_equal(m.qtype, PX_DNS_TYPE_A);
}

static void test_rdlength_past_end(void **state)
{
    (void)state;
    static pkt p;
    px_dns_msg m;
    px_dns_rr rr;
    header(&p, 1, 2, 0, 0);
    question(&p, PX_DNS_TYPE_A);
    putptr(&p, QNAME_OFF);
    rr_fixed(&p, PX_DNS_TYPE_A, 200);
    put32(&p, 0xc0000201);
    assert_int_equal(pxt_dns_begin(&it, p.b, p.n, &m), PX_OK);
    assert_int_equal(pxt_dns_next(&it, &rr), PX_ERR_TRUNC);
    assert_false(px_dns_can_continue(&it));
}

static void test_bad_rdata_keeps_framing(void **state)
{
    (void)state;
    static pkt p;
    px_dns_msg m;
    px_dns_rr rr;
    header(&p, 1, 2, 0, 0);
    question(&p, PX_DNS_TYPE_A);
    putptr(&p, QNAME_OFF);
    rr_fixed(&p, PX_DNS_TYPE_A, 3);
    putmem(&p, "\1\2\3", 3);
    putptr(&p, QNAME_OFF);
    rr_fixed(&p, PX_DNS_TYPE_A, 4);
    put32(&p, 0x7f000001);
    assert_int_equal(pxt_dns_begin(&it, p.b, p.n, &m), PX_OK);
    assert_int_equal(pxt_dns_next(&it, &rr), PX_ERR_MALFORMED);
    assert_true(px_dns_can_continue(&it));
    assert_int_equal(pxt_dns_next(&it, &rr), PX_OK);
    assert_string_equal(rr.rdata, "127.0.0.1");
    assert_int_equal(pxt_dns_next(&it, &rr), PX_ERR_EOF);
}

/* ---- helpers ---- */

static void test_type_names(void **state)
{
    (void)state;
    char buf[16];
    assert_string_equal(px_dns_type_name(1, buf, sizeof buf), "A");
    assert_string_equal(px_dns_type_name(28, buf, sizeof buf), "AAAA");
    assert_string_equal(px_dns_type_name(41, buf, sizeof buf), "OPT");
    assert_string_equal(px_dns_type_name(65, buf, sizeof buf), "HTTPS");
    assert_string_equal(px_dns_type_name(257, buf, sizeof buf), "CAA");
    assert_string_equal(px_dns_type_name(65280, buf, sizeof buf), "TYPE65280");
    assert_string_equal(px_dns_type_name(0, buf, sizeof buf), "TYPE0");
    assert_int_equal(px_dns_type_parse("aaaa"), 28);
    assert_int_equal(px_dns_type_parse("Nsec3Param"), 51);
    assert_int_equal(px_dns_type_parse("type65280"), 65280);
    assert_int_equal(px_dns_type_parse("TYPE1"), 1);
    assert_int_equal(px_dns_type_parse("TYPE65536"), -1);
    assert_int_equal(px_dns_type_parse("TYPE"), -1);
    assert_int_equal(px_dns_type_parse("TYPE1x"), -1);
    /* The settings' check is the parser's verdict, with a reason. */
    char why[128] = "";
    assert_true(px_dns_conf_check_type("aaaa", why, sizeof why));
    assert_true(px_dns_conf_check_type("TYPE65280", why, sizeof why));
    assert_string_equal(why, "");
    assert_false(px_dns_conf_check_type("TYPE65536", why, sizeof why));
    assert_string_equal(why, "not an RR type mnemonic (A, AAAA, ...) or TYPEnnn");
    why[0] = '\0';
    assert_false(px_dns_conf_check_type("AAAAA", why, sizeof why));
    assert_true(strlen(why) > 0);
    /* every name the table writes finds its way back through the hash
     * table, in either case */
    for (unsigned v = 0; v <= 65535; v++) {
        const char *name = px_dns_type_name((uint16_t)v, buf, sizeof buf);
        char lower[16];
        size_t n = strlen(name);
        for (size_t i = 0; i <= n; i++)
            lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
        if (px_dns_type_parse(name) != (int)v || px_dns_type_parse(lower) != (int)v)
            fail_msg("type %u: \"%s\" parses to %d", v, name, px_dns_type_parse(name));
    }
    assert_int_equal(px_dns_type_parse("bogus"), -1);
    assert_int_equal(px_dns_type_parse(""), -1);
    /* every type maps to a name that parses back to it */
    for (unsigned t = 0; t <= 65535; t++) {
        const char *name = px_dns_type_name((uint16_t)t, buf, sizeof buf);
        assert_int_equal(px_dns_type_parse(name), (int)t);
    }
    const char *required[] = {
        "A",        "NS",    "MD",    "MF",      "CNAME",      "SOA",   "MB",         "MG",
        "MR",       "NULL",  "WKS",   "PTR",     "HINFO",      "MINFO", "MX",         "TXT",
        "RP",       "AFSDB", "SIG",   "KEY",     "AAAA",       "LOC",   "NXT",        "SRV",
        "NAPTR",    "KX",    "CERT",  "DNAME",   "OPT",        "APL",   "DS",         "SSHFP",
        "IPSECKEY", "RRSIG", "NSEC",  "DNSKEY",  "DHCID",      "NSEC3", "NSEC3PARAM", "TLSA",
        "SMIMEA",   "HIP",   "CDS",   "CDNSKEY", "OPENPGPKEY", "CSYNC", "ZONEMD",     "SVCB",
        "HTTPS",    "SPF",   "EUI48", "EUI64",   "TKEY",       "TSIG",  "IXFR",       "AXFR",
        "ANY",      "URI",   "CAA"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        int t = px_dns_type_parse(required[i]);
        assert_true(t > 0);
        assert_string_equal(px_dns_type_name((uint16_t)t, buf, sizeof buf), required[i]);
    }
}

static void test_name_to_text(void **state)
{
    (void)state;
    char out[PX_DNS_NAME_TEXT_MAX];
    size_t n = 0;
    assert_int_equal(
        px_dns_name_to_text((const uint8_t *)"\7EXAMPLE\3com\0", 13, out, sizeof out, &n), PX_OK);
    assert_string_equal(out, "example.com");
    assert_int_equal(n, 11);
    assert_int_equal(px_dns_name_to_text((const uint8_t *)"\0", 1, out, sizeof out, &n), PX_OK);
    assert_string_equal(out, ".");
    char small[5];
    assert_int_equal(
        px_dns_name_to_text((const uint8_t *)"\7example\0", 9, small, sizeof small, &n),
        PX_ERR_TOOLONG);
    assert_int_equal(px_dns_name_to_text((const uint8_t *)"\3com", 4, out, sizeof out, &n),
                     PX_ERR_TRUNC);
    assert_int_equal(px_dns_name_to_text((const uint8_t *)"\3com\xc0\x00", 6, out, sizeof out, &n),
                     PX_ERR_MALFORMED);
    assert_int_equal(px_dns_name_to_text((const uint8_t *)"\3com\0\0", 6, out, sizeof out, &n),
                     PX_ERR_MALFORMED);
}

/* ---- a real capture ---- */

static unsigned agree(const uint8_t *msg, size_t len);

typedef struct seen {
    unsigned messages, records, bad_records, broken;
    bool google_a, ptr_1e100, ns1_google, ns1_addr;
} seen;

static void parse_udp_payload(const uint8_t *dns, size_t len, seen *s)
{
    px_dns_msg m;
    px_dns_rr rr;
    agree(dns, len); /* wire mode says the same of every message */
    if (pxt_dns_begin(&it, dns, len, &m) != PX_OK)
        return;
    s->messages++;
    for (;;) {
        px_err err = pxt_dns_next(&it, &rr);
        if (err == PX_ERR_EOF)
            break;
        if (err != PX_OK) {
            if (!px_dns_can_continue(&it)) {
                s->broken++;
                break;
            }
            s->bad_records++;
            continue;
        }
        s->records++;
        if (rr.type == PX_DNS_TYPE_A && !strcmp(rr.name, "google.com") &&
            !strcmp(rr.rdata, "216.58.218.206"))
            s->google_a = true;
        if (rr.type == PX_DNS_TYPE_PTR && !strcmp(rr.name, "206.218.58.216.in-addr.arpa") &&
            !strcmp(rr.rdata, "dfw06s47-in-f14.1e100.net"))
            s->ptr_1e100 = true;
        if (rr.type == PX_DNS_TYPE_NS && !strcmp(rr.target, "ns1.google.com"))
            s->ns1_google = true;
        if (rr.section == PX_DNS_ADDITIONAL && !strcmp(rr.name, "ns1.google.com") &&
            !strcmp(rr.rdata, "216.239.32.10"))
            s->ns1_addr = true;
    }
}

static void test_corpus_pcap(void **state)
{
    (void)state;
    char errbuf[PCAP_ERRBUF_SIZE];
    PX_NEED_FILE(PX_CORPUS_DIR "/pcap/dnscap__dns.pcap");
    pcap_t *pc = pcap_open_offline(PX_CORPUS_DIR "/pcap/dnscap__dns.pcap", errbuf);
    if (!pc)
        fail_msg("%s", errbuf);
    assert_int_equal(pcap_datalink(pc), DLT_EN10MB);
    seen s = {0};
    struct pcap_pkthdr *h;
    const uint8_t *d;
    while (pcap_next_ex(pc, &h, &d) == 1) {
        size_t n = h->caplen;
        if (n < 14 + 20 + 8 || d[12] != 0x08 || d[13] != 0x00)
            continue;
        const uint8_t *ip = d + 14;
        size_t ihl = (size_t)(ip[0] & 0xF) * 4;
        if ((ip[0] >> 4) != 4 || ip[9] != 17 || ihl < 20 || n < 14 + ihl + 8)
            continue;
        const uint8_t *udp = ip + ihl;
        if (((udp[0] << 8) | udp[1]) != 53 && ((udp[2] << 8) | udp[3]) != 53)
            continue;
        parse_udp_payload(udp + 8, n - 14 - ihl - 8, &s);
    }
    pcap_close(pc);
    assert_true(s.messages > 50);
    assert_true(s.records > 100);
    assert_int_equal(s.broken, 0);
    assert_int_equal(s.bad_records, 0);
    assert_true(s.google_a);
    assert_true(s.ptr_1e100);
    assert_true(s.ns1_google);
    assert_true(s.ns1_addr);
}

/* ---- wire mode ---- */

static px_dns_iter wit; /* the wire-mode iterator, beside `it` */

/* Text mode and wire mode agree on msg: same begin result, same records,
 * same errors and framing, and px_dns_rr_text() gives the texts
 * pxt_dns_next() gave. Returns the number of records compared. */
static unsigned agree(const uint8_t *msg, size_t len)
{
    px_dns_msg m1, m2;
    px_err b1 = pxt_dns_begin(&it, msg, len, &m1);
    px_err b2 = px_dns_begin_wire(&wit, msg, len, &m2);
    assert_int_equal(b1, b2);
    if (b1 != PX_OK)
        return 0;
    assert_int_equal(m2.qname_len, 0);
    assert_int_equal(m1.qtype, m2.qtype);
    unsigned n = 0;
    for (;;) {
        px_dns_rr r1, r2;
        px_err e1 = pxt_dns_next(&it, &r1);
        px_err e2 = px_dns_next_wire(&wit, &r2);
        if (e1 == PX_ERR_EOF || e2 == PX_ERR_EOF) {
            assert_int_equal(e1, e2);
            return n;
        }
        assert_int_equal(px_dns_can_continue(&it), px_dns_can_continue(&wit));
        if (!px_dns_can_continue(&it)) {
            assert_int_not_equal(e1, PX_OK);
            assert_int_not_equal(e2, PX_OK);
            return n;
        }
        /* a bad rdata shows in px_dns_next_wire() for types with names,
         * else in px_dns_rr_text() */
        if (e2 == PX_OK)
            e2 = px_dns_rr_text(&wit, &r2);
        assert_int_equal(e1 != PX_OK, e2 != PX_OK);
        if (e1 != PX_OK)
            continue;
        n++;
        assert_int_equal(r1.type, r2.type);
        assert_int_equal(r1.ttl, r2.ttl);
        assert_int_equal(r1.section, r2.section);
        assert_string_equal(r1.name, r2.name);
        assert_string_equal(r1.rdata, r2.rdata);
        assert_int_equal(r1.rdata_len, r2.rdata_len);
        assert_int_equal(r1.target != NULL, r2.target != NULL);
        if (r1.target)
            assert_string_equal(r1.target, r2.target);
        if (r1.target2)
            assert_string_equal(r1.target2, r2.target2);
    }
}

/* Every record type with names, compressed and in mixed case, then the
 * same message with bytes changed at random (a fixed seed): both modes
 * must agree on every one, malformed or not. */
static void test_wire_mode_agrees(void **state)
{
    (void)state;
    static pkt p;
    header(&p, 1, 7, 0, 1);
    question(&p, PX_DNS_TYPE_A);
    putptr(&p, QNAME_OFF);
    size_t at = rr_fixed(&p, PX_DNS_TYPE_CNAME, 0);
    putname(&p, "WWW.Example.COM");
    patch_rdlen(&p, at);
    size_t www = at + 2;
    putptr(&p, (uint16_t)www);
    at = rr_fixed(&p, PX_DNS_TYPE_A, 4);
    putmem(&p, "\xc0\x00\x02\x01", 4);
    putptr(&p, QNAME_OFF);
    at = rr_fixed(&p, PX_DNS_TYPE_MX, 0);
    put16(&p, 10);
    put8(&p, 4);
    putmem(&p, "MaiL", 4);
    putptr(&p, QNAME_OFF);
    patch_rdlen(&p, at);
    putptr(&p, QCOM_OFF);
    at = rr_fixed(&p, PX_DNS_TYPE_SOA, 0);
    putname(&p, "ns1.Example.com");
    putptr(&p, QNAME_OFF);
    for (int i = 0; i < 5; i++)
        put32(&p, (uint32_t)(1000 + i));
    patch_rdlen(&p, at);
    putptr(&p, QNAME_OFF);
    at = rr_fixed(&p, PX_DNS_TYPE_SRV, 0);
    put16(&p, 1);
    put16(&p, 2);
    put16(&p, 443);
    putptr(&p, (uint16_t)www);
    patch_rdlen(&p, at);
    putptr(&p, QNAME_OFF);
    at = rr_fixed(&p, PX_DNS_TYPE_TXT, 0);
    putmem(&p, "\x05Hello\x03W\"d", 10);
    patch_rdlen(&p, at);
    putname(&p, "a\\.b.EXAMPLE.com");
    at = rr_fixed(&p, PX_DNS_TYPE_AAAA, 16);
    putmem(&p, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    put8(&p, 0); /* OPT */
    rr_fixed(&p, PX_DNS_TYPE_OPT, 0);
    assert_int_equal(agree(p.b, p.n), 8); /* the OPT record too */

    static pkt q;
    uint64_t x = 12345;
    unsigned records = 0;
    for (int round = 0; round < 20000; round++) {
        q = p;
        for (int k = 0; k < 3; k++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t pos = 12 + (size_t)((x >> 33) % (p.n - 12));
            q.b[pos] = (uint8_t)(x >> 13);
        }
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        q.n = (x >> 40) % 8 == 0 ? 12 + (size_t)((x >> 20) % (p.n - 12)) : p.n;
        records += agree(q.b, q.n);
    }
    assert_true(records > 20000); /* most mutants still hold good records */
}

/* Case variants of a record have one canonical form; other records not. */
static void test_wire_mode_canonical(void **state)
{
    (void)state;
    static pkt p;
    uint8_t first[600];
    size_t first_len = 0;
    const char *owners[] = {"www.example.com", "WWW.EXAMPLE.COM", "wWw.ExAmple.coM",
                            "www.example.org"};
    for (int i = 0; i < 4; i++) {
        header(&p, 1, 1, 0, 0);
        question(&p, PX_DNS_TYPE_CNAME);
        putname(&p, owners[i]);
        size_t at = rr_fixed(&p, PX_DNS_TYPE_CNAME, 0);
        putname(&p, i == 1 ? "Target.Example.COM" : "target.example.com");
        patch_rdlen(&p, at);
        px_dns_msg m;
        px_dns_rr rr;
        assert_int_equal(px_dns_begin_wire(&wit, p.b, p.n, &m), PX_OK);
        assert_int_equal(px_dns_next_wire(&wit, &rr), PX_OK);
        uint8_t key[600];
        memcpy(key, rr.owner_wire, rr.owner_wire_len);
        memcpy(key + rr.owner_wire_len, rr.rdata_canon, rr.rdata_canon_len);
        size_t len = rr.owner_wire_len + rr.rdata_canon_len;
        if (i == 0) {
            memcpy(first, key, len);
            first_len = len;
            assert_memory_equal(rr.owner_wire, "\3www\7example\3com", 17);
        } else if (i < 3) {
            assert_int_equal(len, first_len);
            assert_memory_equal(key, first, len);
        } else {
            assert_false(len == first_len && memcmp(key, first, len) == 0);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_and_question), cmocka_unit_test(test_no_question_root),
        cmocka_unit_test(test_sections_in_order),   cmocka_unit_test(test_rdata_a),
        cmocka_unit_test(test_rdata_aaaa_rfc5952),  cmocka_unit_test(test_rdata_names),
        cmocka_unit_test(test_rdata_mx_srv),        cmocka_unit_test(test_rdata_soa),
        cmocka_unit_test(test_rdata_txt),           cmocka_unit_test(test_rdata_caa),
        cmocka_unit_test(test_rdata_generic),       cmocka_unit_test(test_rdata_too_long),
        cmocka_unit_test(test_name_escapes),        cmocka_unit_test(test_compression),
        cmocka_unit_test(test_compression_loops),   cmocka_unit_test(test_long_names),
        cmocka_unit_test(test_bad_label_bits),      cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_rdlength_past_end),   cmocka_unit_test(test_bad_rdata_keeps_framing),
        cmocka_unit_test(test_type_names),          cmocka_unit_test(test_name_to_text),
        cmocka_unit_test(test_corpus_pcap),         cmocka_unit_test(test_want_skips_records),
        cmocka_unit_test(test_want_framing_lost),   cmocka_unit_test(test_wire_mode_agrees),
        cmocka_unit_test(test_wire_mode_canonical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
