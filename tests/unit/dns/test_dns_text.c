/* test_dns_text.c: the DNS text rules of docs/DATA-MODEL.md as tables:
 * names (wire -> text, every accepted spelling -> canonical text, the
 * one-pass canonical check, canonical order) and rdata of every type
 * (wire -> text -> wire -> text, each non-canonical spelling refused by the
 * check and turned into the canonical text by the parser). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dns/px_dns_name.h"
#include "dns/px_dns_rdata.h"

#define W(s) (const uint8_t *)(s), sizeof(s) - 1

/* ---- names ---- */

typedef struct {
    const uint8_t *wire;
    size_t len;
    const char *text; /* NULL: refused with err */
    px_err err;
} name_row;

static void test_name_to_text(void **state)
{
    (void)state;
    static const name_row rows[] = {
        {W("\x07"
           "example\x03"
           "com\x00"),
         "example.com", PX_OK},
        {W("\x00"), ".", PX_OK},
        {W("\x07"
           "ExAmPlE\x03"
           "COM\x00"),
         "example.com", PX_OK},
        {W("\x03"
           "a.b\x01\\\x00"),
         "a\\.b.\\\\", PX_OK},
        {W("\x03"
           "a b\x00"),
         "a\\032b", PX_OK},
        {W("\x02\x00\xff\x00"), "\\000\\255", PX_OK},
        {W("\x06\"$();@\x00"), "\\034\\036\\040\\041\\059\\064", PX_OK},
        {W("\x03\x7f!~\x00"), "\\127!~", PX_OK},
        {W("\x04\x80\xc3\xa9-\x00"), "\\128\\195\\169-", PX_OK},
        {W("\x04xn--\x00"), "xn--", PX_OK},
        {W("\x07"
           "example"),
         NULL, PX_ERR_TRUNC},
        {W("\xc0\x0c"), NULL, PX_ERR_MALFORMED},
        {W("\x40"), NULL, PX_ERR_MALFORMED},
        {W("\x01"
           "a\x00x"),
         NULL, PX_ERR_MALFORMED},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char out[PX_DNS_NAME_TEXT_MAX];
        size_t used = 0;
        px_err e = px_dns_name_to_text(rows[i].wire, rows[i].len, out, sizeof out, &used);
        print_message("row %zu\n", i);
        assert_int_equal(e, rows[i].err);
        if (rows[i].text) {
            assert_string_equal(out, rows[i].text);
            assert_int_equal(used, strlen(rows[i].text));
            assert_true(px_dns_name_is_canonical(out, used));
        }
    }
}

typedef struct {
    const char *spelling;
    const char *canon; /* NULL: refused with err */
    px_err err;
} spell_row;

static void test_name_spellings(void **state)
{
    (void)state;
    static const spell_row rows[] = {
        {"example.com", "example.com", PX_OK},
        {"Example.COM.", "example.com", PX_OK},
        {".", ".", PX_OK},
        {"a\\.b.c", "a\\.b.c", PX_OK},
        {"\\065bc", "abc", PX_OK},
        {"\\a\\B", "ab", PX_OK},
        {"\\000.\\255", "\\000.\\255", PX_OK},
        {"a\\ b", "a\\032b", PX_OK},
        {"a\"b$c(d)e;f@g", "a\\034b\\036c\\040d\\041e\\059f\\064g", PX_OK},
        {"a\\$b", "a\\036b", PX_OK},
        {"a\\\\b", "a\\\\b", PX_OK},
        {"\\046", "\\.", PX_OK},
        {"\\256", NULL, PX_ERR_MALFORMED},
        {"\\1", NULL, PX_ERR_MALFORMED},
        {"\\12a", NULL, PX_ERR_MALFORMED},
        {"a\\", NULL, PX_ERR_MALFORMED},
        {"", NULL, PX_ERR_MALFORMED},
        {"..", NULL, PX_ERR_MALFORMED},
        {"a..b", NULL, PX_ERR_MALFORMED},
        {".a", NULL, PX_ERR_MALFORMED},
        {"a.b..", NULL, PX_ERR_MALFORMED},
        {"a b", NULL, PX_ERR_MALFORMED},
        {"a\tb", NULL, PX_ERR_MALFORMED},
        {"a\x80", NULL, PX_ERR_MALFORMED},
        {"a\x7f", NULL, PX_ERR_MALFORMED},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *s = rows[i].spelling;
        char out[PX_DNS_NAME_TEXT_MAX];
        size_t used = 0;
        print_message("row %zu: %s\n", i, s);
        px_err e = px_dns_name_canon(s, strlen(s), out, sizeof out, &used);
        assert_int_equal(e, rows[i].err);
        bool canonical = rows[i].canon && strcmp(s, rows[i].canon) == 0;
        assert_int_equal(px_dns_name_is_canonical(s, strlen(s)), canonical);
        if (rows[i].canon) {
            assert_string_equal(out, rows[i].canon);
            assert_true(px_dns_name_is_canonical(out, used));
        }
    }
}

/* Labels of 63/64 octets, names of 255/256 wire octets. */
static void test_name_limits(void **state)
{
    (void)state;
    char text[400];
    uint8_t wire[PX_DNS_NAME_WIRE_MAX];
    size_t n;
    memset(text, 'a', 64);
    assert_int_equal(px_dns_name_from_text(text, 63, wire, &n), PX_OK);
    assert_int_equal(n, 65);
    assert_true(px_dns_name_is_canonical(text, 63));
    assert_false(px_dns_name_is_canonical("a\0", 2)); /* a NUL is \000 */
    assert_false(px_dns_name_is_canonical("\0", 1));
    assert_int_equal(px_dns_name_from_text(text, 64, wire, &n), PX_ERR_TOOLONG);
    assert_false(px_dns_name_is_canonical(text, 64));
    /* 4 labels of 63 (256 wire octets) and 3 of 63 + one of 61 (254). */
    size_t at = 0;
    for (int l = 0; l < 4; l++) {
        memset(text + at, 'b', 63);
        at += 63;
        text[at++] = '.';
    }
    assert_int_equal(px_dns_name_from_text(text, at - 1, wire, &n), PX_ERR_TOOLONG);
    assert_false(px_dns_name_is_canonical(text, at - 1));
    size_t len255 = at - 1 - 2; /* last label of 61: 3*64 + 62 + 1 = 255 */
    assert_int_equal(px_dns_name_from_text(text, len255, wire, &n), PX_OK);
    assert_int_equal(n, 255);
    assert_true(px_dns_name_is_canonical(text, len255));
    assert_int_equal(px_dns_name_from_text(text, len255 + 1, wire, &n), PX_ERR_TOOLONG);
    char out[PX_DNS_NAME_TEXT_MAX];
    size_t used;
    assert_int_equal(px_dns_name_to_text(wire, 255, out, sizeof out, &used), PX_OK);
    assert_memory_equal(out, text, len255);
    /* 255 octets all escaped: the longest text there is fits. */
    uint8_t esc[255];
    memset(esc, 0xff, sizeof esc);
    esc[0] = esc[64] = esc[128] = 63;
    esc[192] = 61;
    esc[254] = 0;
    assert_int_equal(px_dns_name_to_text(esc, 255, out, sizeof out, &used), PX_OK);
    assert_true(used < PX_DNS_NAME_TEXT_MAX);
    assert_int_equal(px_dns_name_to_text(esc, 255, out, used, &used), PX_ERR_TOOLONG);
}

/* RFC 4034 section 6.1's example, in order. */
static void test_name_cmp(void **state)
{
    (void)state;
    static const char *const order[] = {
        "example",   "a.example",       "yljkjljk.a.example", "Z.a.example",     "zABC.a.EXAMPLE",
        "z.example", "\\001.z.example", "*.z.example",        "\\200.z.example",
    };
    size_t n = sizeof order / sizeof order[0];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int c = px_dns_name_cmp(order[i], strlen(order[i]), order[j], strlen(order[j]));
            assert_int_equal(c < 0, i < j);
            assert_int_equal(c > 0, i > j);
        }
    assert_int_equal(px_dns_name_cmp("A.example.", 10, "a.example", 9), 0);
    assert_true(px_dns_name_cmp("a..b", 4, "z", 1) > 0); /* refused texts last */
}

static void test_name_labels(void **state)
{
    (void)state;
    bool dot;
    assert_int_equal(px_dns_name_last_label("a.b.com", 7, &dot), 4);
    assert_true(dot);
    assert_int_equal(px_dns_name_last_label("a\\.com", 6, &dot), 0);
    assert_false(dot);
    assert_int_equal(px_dns_name_last_label("x.a\\.com", 8, &dot), 2);
    assert_int_equal(px_dns_name_last_label("a\\\\.com", 7, &dot), 4);
    assert_true(dot);
    /* a single label: no unescaped dot (the root "." has one) */
    assert_int_equal(px_dns_name_last_label("localhost", 9, &dot), 0);
    assert_false(dot);
    assert_int_equal(px_dns_name_last_label("a\\.b", 4, &dot), 0);
    assert_false(dot);
    assert_int_equal(px_dns_name_last_label(".", 1, &dot), 1);
    assert_true(dot);
    assert_int_equal(px_dns_name_last_label("a.b", 3, &dot), 2);
    assert_true(dot);
    assert_true(px_dns_name_in_zone("www.example.com", 15, "example.com", 11));
    assert_false(px_dns_name_in_zone("a\\.example.com", 14, "\\.example.com", 13));
    assert_false(px_dns_name_in_zone("wwwexample.com", 14, "example.com", 11));
    assert_true(px_dns_name_in_zone("a\\\\.example.com", 15, "example.com", 11));
    uint8_t w[] = "\x03WwW\x07"
                  "ExAmplE\x00";
    px_dns_name_fold(w, sizeof w - 1);
    assert_memory_equal(w,
                        "\x03www\x07"
                        "example\x00",
                        sizeof w - 1);
    char why[128] = "";
    assert_true(px_dns_conf_check_name("Corp.Example.com.", why, sizeof why));
    assert_false(px_dns_conf_check_name(".", why, sizeof why));
    assert_false(px_dns_conf_check_name("a..b", why, sizeof why));
    assert_string_equal(why, "not a domain name (printable, no empty label, not the root)");
}

/* ---- rdata ---- */

typedef struct {
    uint16_t type;
    const uint8_t *wire;
    size_t len;
    const char *text;
    uint8_t targets;
} rdata_row;

#define MAILWIRE                                                                                   \
    "\x04mail\x07"                                                                                 \
    "example\x03"                                                                                  \
    "com\x00"
#define SOAWIRE                                                                                    \
    "\x02ns\x07"                                                                                   \
    "example\x03"                                                                                  \
    "com\x00\x0ahostmaster\x07"                                                                    \
    "example\x03"                                                                                  \
    "com\x00"

/* Every type with a rule, wire -> canonical text and back. */
static const rdata_row canonical_rows[] = {
    {PX_DNS_TYPE_A, W("\xc0\x00\x02\x01"), "192.0.2.1", 0},
    {PX_DNS_TYPE_A, W("\x00\x00\x00\x00"), "0.0.0.0", 0},
    {PX_DNS_TYPE_AAAA, W("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01"), "2001:db8::1", 0},
    {PX_DNS_TYPE_AAAA, W("\0\0\0\0\0\0\0\0\0\0\xff\xff\x01\x02\x03\x04"), "::ffff:102:304", 0},
    {PX_DNS_TYPE_AAAA, W("\0\0\0\0\0\0\0\0\0\0\0\0\x01\x02\x03\x04"), "::102:304", 0},
    {PX_DNS_TYPE_AAAA, W("\0\x64\xff\x9b\0\0\0\0\0\0\0\0\x01\x02\x03\x04"), "64:ff9b::102:304", 0},
    {PX_DNS_TYPE_AAAA, W("\0\0\0\0\0\0\0\0\xff\xff\0\0\x01\x02\x03\x04"), "::ffff:0:102:304", 0},
    {PX_DNS_TYPE_AAAA, W("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"), "::", 0},
    {PX_DNS_TYPE_AAAA, W("\0\x01\0\0\0\0\0\x01\0\0\0\0\0\x01\0\x01"), "1::1:0:0:1:1", 0},
    {PX_DNS_TYPE_NS,
     W("\x02ns\x07"
       "example\x03"
       "com\x00"),
     "ns.example.com", 1},
    {PX_DNS_TYPE_CNAME,
     W("\x03"
       "a.b\x03"
       "com\x00"),
     "a\\.b.com", 1},
    {PX_DNS_TYPE_PTR, W("\x01\x20\x00"), "\\032", 1},
    {PX_DNS_TYPE_DNAME, W("\x00"), ".", 1},
    {PX_DNS_TYPE_MX, W("\x00\x0a" MAILWIRE), "10 mail.example.com", 1},
    {PX_DNS_TYPE_MX, W("\x00\x00\x00"), "0 .", 1},
    {PX_DNS_TYPE_SRV, W("\x00\x01\x00\x02\x00\x35" MAILWIRE), "1 2 53 mail.example.com", 1},
    {PX_DNS_TYPE_SOA,
     W(SOAWIRE "\x00\x00\x00\x01\x00\x00\x1c\x20\x00\x00\x0e\x10\x00\x12\x75\x00\xff\xff\xff\xff"),
     "ns.example.com hostmaster.example.com 1 7200 3600 1209600 4294967295", 2},
    {PX_DNS_TYPE_TXT,
     W("\x03"
       "a b\x04q\"\\x\x02\x01\xff\x00"),
     "\"a b\" \"q\\\"\\\\x\" \"\\001\\255\" \"\"", 0},
    {PX_DNS_TYPE_CAA,
     W("\x00\x05issue"
       "ca.example"),
     "0 issue \"ca.example\"", 0},
    {PX_DNS_TYPE_CAA, W("\x80\x05ISSUE"), "128 ISSUE \"\"", 0},
    {65280, W("\x01\x02"), "\\# 2 0102", 0},
    {65280, W(""), "\\# 0", 0},
    {PX_DNS_TYPE_OPT, W("\xab"), "\\# 1 ab", 0},
};

static void test_rdata_canonical(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof canonical_rows / sizeof canonical_rows[0]; i++) {
        const rdata_row *r = &canonical_rows[i];
        char text[PX_DNS_RDATA_TEXT_MAX], again[PX_DNS_RDATA_TEXT_MAX];
        uint8_t wire[PX_DNS_RDATA_WIRE_MAX];
        size_t tlen, wlen, alen;
        px_dns_targets tg, ptg;
        print_message("row %zu: %s\n", i, r->text);
        /* wire -> text */
        assert_int_equal(
            px_dns_rdata_to_text(r->type, r->wire, r->len, text, sizeof text, &tlen, &tg), PX_OK);
        assert_string_equal(text, r->text);
        assert_int_equal(tlen, strlen(r->text));
        assert_int_equal(tg.n, r->targets);
        /* text -> the same wire -> the same text */
        assert_int_equal(
            px_dns_rdata_from_text(r->type, text, tlen, wire, sizeof wire, &wlen, &ptg), PX_OK);
        assert_int_equal(wlen, r->len);
        assert_memory_equal(wire, r->wire, r->len);
        assert_int_equal(ptg.n, r->targets);
        for (int k = 0; k < tg.n; k++) {
            assert_int_equal(ptg.off[k], tg.off[k]);
            assert_int_equal(ptg.len[k], tg.len[k]);
            /* the target's text is the name's text */
            char name[PX_DNS_NAME_TEXT_MAX];
            size_t nlen;
            assert_int_equal(
                px_dns_name_to_text(r->wire + tg.off[k], tg.len[k], name, sizeof name, &nlen),
                PX_OK);
            assert_int_equal(tg.text_len[k], nlen);
            assert_memory_equal(text + tg.text_off[k], name, nlen);
        }
        assert_int_equal(
            px_dns_rdata_to_text(r->type, wire, wlen, again, sizeof again, &alen, NULL), PX_OK);
        assert_string_equal(again, r->text);
        /* the canonical text passes the check, with the same parse */
        memset(wire, 0, wlen);
        assert_int_equal(px_dns_rdata_check(r->type, text, tlen, wire, sizeof wire, &wlen, NULL),
                         PX_OK);
        assert_memory_equal(wire, r->wire, r->len);
    }
}

typedef struct {
    uint16_t type;
    const char *spelling;
    const char *canon;
} respell_row;

/* Spellings the parser takes and the check refuses, with their canonical
 * text. */
static const respell_row respell_rows[] = {
    {PX_DNS_TYPE_A, "\\# 4 c0000201", "192.0.2.1"},
    {PX_DNS_TYPE_A, "  192.0.2.1\t", "192.0.2.1"},
    {PX_DNS_TYPE_AAAA, "::ffff:1.2.3.4", "::ffff:102:304"},
    {PX_DNS_TYPE_AAAA, "::FFFF:102:304", "::ffff:102:304"},
    {PX_DNS_TYPE_AAAA, "0:0:0:0:0:ffff:1.2.3.4", "::ffff:102:304"},
    {PX_DNS_TYPE_AAAA, "::1.2.3.4", "::102:304"},
    {PX_DNS_TYPE_AAAA, "64:ff9b::1.2.3.4", "64:ff9b::102:304"},
    {PX_DNS_TYPE_AAAA, "::ffff:0:1.2.3.4", "::ffff:0:102:304"},
    {PX_DNS_TYPE_AAAA, "2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
    {PX_DNS_TYPE_AAAA, "\\# 16 00000000000000000000ffff01020304", "::ffff:102:304"},
    {PX_DNS_TYPE_NS, "NS.Example.COM.", "ns.example.com"},
    {PX_DNS_TYPE_CNAME, "\\# 3 014100", "a"},
    {PX_DNS_TYPE_PTR, "a\\ b", "a\\032b"},
    {PX_DNS_TYPE_MX, "010   MAIL.Example.COM.", "10 mail.example.com"},
    {PX_DNS_TYPE_MX, "0 .\t", "0 ."},
    {PX_DNS_TYPE_SRV, "01 02 053 Mail.example.com.", "1 2 53 mail.example.com"},
    {PX_DNS_TYPE_SOA, "NS.example.com. hostmaster.example.com.\t1  7200 3600 1209600 0300",
     "ns.example.com hostmaster.example.com 1 7200 3600 1209600 300"},
    {PX_DNS_TYPE_TXT, "hello world", "\"hello\" \"world\""},
    {PX_DNS_TYPE_TXT, "\"a\\098\"  \"\\\"\" x\\\"y", "\"ab\" \"\\\"\" \"x\\\"y\""},
    {PX_DNS_TYPE_TXT, "\"tab\tand\xc3\xa9\"", "\"tab\\009and\\195\\169\""},
    {PX_DNS_TYPE_TXT, "\\# 4 03616263", "\"abc\""},
    {PX_DNS_TYPE_CAA, "0 issue ca.example", "0 issue \"ca.example\""},
    {PX_DNS_TYPE_CAA, "000 issue \"a;b c\"", "0 issue \"a;b c\""},
    {65280, "\\# 2 01 02", "\\# 2 0102"},
    {65280, "\\# 2 0A0B", "\\# 2 0a0b"},
    {65280, "\\# 00", "\\# 0"},
};

static void test_rdata_respellings(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof respell_rows / sizeof respell_rows[0]; i++) {
        const respell_row *r = &respell_rows[i];
        char out[PX_DNS_RDATA_TEXT_MAX];
        uint8_t wire[PX_DNS_RDATA_WIRE_MAX], cwire[PX_DNS_RDATA_WIRE_MAX];
        size_t n, wlen, clen;
        print_message("row %zu: %s\n", i, r->spelling);
        assert_int_equal(
            px_dns_rdata_canon(r->type, r->spelling, strlen(r->spelling), out, sizeof out, &n),
            PX_OK);
        assert_string_equal(out, r->canon);
        assert_int_equal(n, strlen(r->canon));
        assert_int_equal(px_dns_rdata_check(r->type, r->spelling, strlen(r->spelling), wire,
                                            sizeof wire, &wlen, NULL),
                         PX_ERR_INVAL);
        /* The spelling and its canonical text parse to the same wire. */
        assert_int_equal(px_dns_rdata_check(r->type, out, n, cwire, sizeof cwire, &clen, NULL),
                         PX_OK);
        assert_int_equal(clen, wlen);
        assert_memory_equal(cwire, wire, wlen);
    }
}

typedef struct {
    uint16_t type;
    const char *text;
    px_err err;
} refuse_row;

static void test_rdata_refused(void **state)
{
    (void)state;
    static const refuse_row rows[] = {
        {PX_DNS_TYPE_A, "1.2.3", PX_ERR_MALFORMED},
        {PX_DNS_TYPE_A, "::1", PX_ERR_MALFORMED},
        {PX_DNS_TYPE_A, "1.2.3.4 x", PX_ERR_MALFORMED},
        {PX_DNS_TYPE_A, "", PX_ERR_MALFORMED},
        {PX_DNS_TYPE_A, "\\# 3 010203", PX_ERR_MALFORMED},
        {PX_DNS_TYPE_AAAA, "1.2.3.4", PX_ERR_MALFORMED},
        {PX_DNS_TYPE_CNAME, "a..b", PX_ERR_MALFORMED},
        {PX_DNS_TYPE_CNAME, "a b", PX_ERR_MALFORMED},
        {PX_DNS_TYPE_MX, "65536 a", PX_ERR_MALFORMED},
        {PX_DNS_TYPE_MX, "10", PX_ERR_MALFORMED},
        {PX_DNS_TYPE_MX, "x a", PX_ERR_MALFORMED},
        {PX_DNS_TYPE_SRV, "1 2 a", PX_ERR_MALFORMED},
        {PX_DNS_TYPE_SOA, "a b 1 2 3 4 4294967296", PX_ERR_MALFORMED},
        {PX_DNS_TYPE_SOA, "a b 1 2 3 4", PX_ERR_MALFORMED},
        {PX_DNS_TYPE_TXT, "", PX_ERR_MALFORMED},
        {PX_DNS_TYPE_TXT, "\"abc", PX_ERR_MALFORMED},
        {PX_DNS_TYPE_TXT, "\"a\"b", PX_ERR_MALFORMED},
        {PX_DNS_TYPE_TXT, "a\"b", PX_ERR_MALFORMED},
        {PX_DNS_TYPE_TXT, "\"\\256\"", PX_ERR_MALFORMED},
        {PX_DNS_TYPE_TXT, "\"a\nb\"", PX_ERR_MALFORMED},
        {PX_DNS_TYPE_CAA, "0 is-sue x", PX_ERR_MALFORMED},
        {PX_DNS_TYPE_CAA, "256 issue x", PX_ERR_MALFORMED},
        {PX_DNS_TYPE_CAA, "0 issue", PX_ERR_MALFORMED},
        {65280, "hello", PX_ERR_MALFORMED},
        {65280, "\\# 3 0102", PX_ERR_MALFORMED},
        {65280, "\\# 1 0102", PX_ERR_MALFORMED},
        {65280, "\\# 2 012", PX_ERR_MALFORMED},
        {65280, "\\# 1 0g", PX_ERR_MALFORMED},
        {65280, "\\# x", PX_ERR_MALFORMED},
        {65280, "\\#", PX_ERR_MALFORMED},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint8_t wire[PX_DNS_RDATA_WIRE_MAX];
        size_t n;
        print_message("row %zu: %s\n", i, rows[i].text);
        assert_int_equal(px_dns_rdata_from_text(rows[i].type, rows[i].text, strlen(rows[i].text),
                                                wire, sizeof wire, &n, NULL),
                         rows[i].err);
        assert_int_equal(px_dns_rdata_check(rows[i].type, rows[i].text, strlen(rows[i].text), wire,
                                            sizeof wire, &n, NULL),
                         rows[i].err);
    }
    /* A character-string holds 255 octets; a wire over cap is too long. */
    char txt[300];
    uint8_t wire[8];
    size_t n;
    memset(txt, 'a', sizeof txt);
    uint8_t big[PX_DNS_RDATA_WIRE_MAX];
    assert_int_equal(px_dns_rdata_from_text(PX_DNS_TYPE_TXT, txt, 255, big, sizeof big, &n, NULL),
                     PX_OK);
    assert_int_equal(n, 256);
    assert_int_equal(px_dns_rdata_from_text(PX_DNS_TYPE_TXT, txt, 256, big, sizeof big, &n, NULL),
                     PX_ERR_TOOLONG);
    assert_int_equal(px_dns_rdata_from_text(PX_DNS_TYPE_TXT, txt, 10, wire, sizeof wire, &n, NULL),
                     PX_ERR_TOOLONG);
}

static void test_rdata_bad_wire(void **state)
{
    (void)state;
    static const rdata_row rows[] = {
        {PX_DNS_TYPE_A, W("\x01\x02\x03"), NULL, 0},
        {PX_DNS_TYPE_AAAA, W("\x01\x02\x03\x04"), NULL, 0},
        {PX_DNS_TYPE_CNAME, W("\xc0\x0c"), NULL, 0}, /* compressed */
        {PX_DNS_TYPE_CNAME,
         W("\x01"
           "a\x00\x00"),
         NULL, 0},                                        /* left over */
        {PX_DNS_TYPE_MX, W("\x00"), NULL, 0},             /* short */
        {PX_DNS_TYPE_MX, W("\x00\x0a\x04mail"), NULL, 0}, /* name past the end */
        {PX_DNS_TYPE_SOA, W("\x00\x00\x00\x00\x00\x01"), NULL, 0},
        {PX_DNS_TYPE_TXT, W(""), NULL, 0},
        {PX_DNS_TYPE_TXT,
         W("\x05"
           "abc"),
         NULL, 0},
        {PX_DNS_TYPE_CAA, W("\x00\x00"), NULL, 0},
        {PX_DNS_TYPE_CAA,
         W("\x00\x02"
           "a-"),
         NULL, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char text[PX_DNS_RDATA_TEXT_MAX];
        size_t n;
        print_message("row %zu\n", i);
        assert_int_equal(px_dns_rdata_to_text(rows[i].type, rows[i].wire, rows[i].len, text,
                                              sizeof text, &n, NULL),
                         PX_ERR_MALFORMED);
    }
}

/* Text longer than 16,383 characters is refused, and the limit is the
 * text's real length (not the worst case of the last string). */
static void test_rdata_text_limit(void **state)
{
    (void)state;
    static uint8_t wire[64 * 256 + 256];
    static char text[PX_DNS_RDATA_TEXT_MAX + 64];
    size_t at = 0, n;
    for (int s = 0; s < 63; s++) { /* 63 * 257 + 62 = 16253 characters */
        wire[at++] = 255;
        memset(wire + at, 'a', 255);
        at += 255;
    }
    wire[at++] = 128;
    memset(wire + at, 'b', 128);
    /* one more string of 120: 16253 + 1 + 122 = 16376 */
    wire[at - 1] = 120;
    assert_int_equal(
        px_dns_rdata_to_text(PX_DNS_TYPE_TXT, wire, at + 120, text, sizeof text, &n, NULL), PX_OK);
    assert_int_equal(n, 16376);
    uint8_t back[sizeof wire];
    size_t blen;
    assert_int_equal(px_dns_rdata_check(PX_DNS_TYPE_TXT, text, n, back, sizeof back, &blen, NULL),
                     PX_OK);
    assert_int_equal(blen, at + 120);
    /* ...of 128: 16384 characters */
    wire[at - 1] = 128;
    assert_int_equal(
        px_dns_rdata_to_text(PX_DNS_TYPE_TXT, wire, at + 128, text, sizeof text, &n, NULL),
        PX_ERR_TOOLONG);
    /* RFC 3597 text of 8188 octets is 8 + 16376 characters; 8192 is too long */
    memset(wire, 0xab, sizeof wire);
    assert_int_equal(px_dns_rdata_to_text(65280, wire, 8187, text, sizeof text, &n, NULL), PX_OK);
    assert_int_equal(n, 8 + 2 * 8187);
    assert_int_equal(px_dns_rdata_to_text(65280, wire, 8192, text, sizeof text, &n, NULL),
                     PX_ERR_TOOLONG);
    /* a smaller cap is the limit too */
    assert_int_equal(px_dns_rdata_to_text(PX_DNS_TYPE_A, wire, 4, text, 15, &n, NULL),
                     PX_ERR_TOOLONG);
    assert_int_equal(px_dns_rdata_to_text(PX_DNS_TYPE_A, wire, 4, text, 16, &n, NULL), PX_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_to_text),      cmocka_unit_test(test_name_spellings),
        cmocka_unit_test(test_name_limits),       cmocka_unit_test(test_name_cmp),
        cmocka_unit_test(test_name_labels),       cmocka_unit_test(test_rdata_canonical),
        cmocka_unit_test(test_rdata_respellings), cmocka_unit_test(test_rdata_refused),
        cmocka_unit_test(test_rdata_bad_wire),    cmocka_unit_test(test_rdata_text_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
