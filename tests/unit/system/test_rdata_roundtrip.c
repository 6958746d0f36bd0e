/* The round trip of issue 10 in one process, through the modules the
 * programs are built of (no program library): a DNS response on the wire
 * -> the record's text as the producer writes it (px_dns_next_wire +
 * px_dns_rr_text) -> the consumer's validator (px_obs_check) -> the store
 * (px_store_merge, commit) -> the query module (every spelling a user
 * may type, parsed once) -> COF -> px_obs_check again, which must accept
 * the printed fields unchanged.
 *
 * The expected texts are written here from docs/DATA-MODEL.md (addresses
 * in hexadecimal groups only, names lowercased with `\.` and `\DDD`), and
 * each address case also checks that inet_ntop's text differs: a
 * formatter built on it (the old one) fails this test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <jansson.h>

#include "dns/px_dns_msg.h"
#include "obs/px_obs.h"
#include "query/px_cof.h"
#include "query/px_query.h"
#include "store/px_store.h"

#define T0 1795716000 /* 2026-11-26T18:00:00Z */

/* The question of every message: www.example.com A, its name at offset
 * 12 ("example.com" at 16), so an rdata may point into it. */
#define QNAME "\3www\7example\3com\0"
#define PTR_WWW "\xc0\x0c"
#define PTR_EXAMPLE "\xc0\x10"

typedef struct rt_case {
    const char *what;
    const char *owner; /* wire: a name or a pointer */
    size_t owner_len;
    uint16_t type;
    const char *rdata; /* wire, may point into the question */
    size_t rdata_len;
    const char *want_name, *want_type, *want_rdata; /* canonical text */
    const char *ntop;                               /* AAAA: what inet_ntop writes */
    const char *spellings[5];                       /* `pdnsx-query rdata` of each */
    const char *owner_spelling;                     /* `pdnsx-query rrset` of it */
} rt_case;

#define W(s) s, sizeof(s) - 1

static const rt_case cases[] = {
    {"IPv4-mapped AAAA, owner in mixed case, uncompressed",
     W("\6Mapped\7Example\3COM\0"),
     28,
     W("\0\0\0\0\0\0\0\0\0\0\xff\xff\1\2\3\4"),
     "mapped.example.com",
     "AAAA",
     "::ffff:102:304",
     "::ffff:1.2.3.4",
     {"::ffff:1.2.3.4", "::FFFF:102:304", "0:0:0:0:0:ffff:1.2.3.4",
      "0000:0000:0000:0000:0000:FFFF:0102:0304", "::ffff:102:304"},
     "MAPPED.example.com."},
    {"IPv4-compatible AAAA, owner compressed into the question",
     W(PTR_WWW),
     28,
     W("\0\0\0\0\0\0\0\0\0\0\0\0\1\2\3\4"),
     "www.example.com",
     "AAAA",
     "::102:304",
     "::1.2.3.4",
     {"::1.2.3.4", "0:0:0:0:0:0:102:304", "::102:304"},
     "WWW.Example.Com"},
    {"NAT64 AAAA, owner half compressed",
     W("\5Nat64" PTR_EXAMPLE),
     28,
     W("\0\x64\xff\x9b\0\0\0\0\0\0\0\0\1\2\3\4"),
     "nat64.example.com",
     "AAAA",
     "64:ff9b::102:304",
     "64:ff9b::102:304",
     {"64:ff9b::1.2.3.4", "64:FF9B:0:0:0:0:102:304", "64:ff9b::102:304"},
     "nat64.example.com"},
    {"global AAAA",
     W("\2V6\7example\3com\0"),
     28,
     W("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\1"),
     "v6.example.com",
     "AAAA",
     "2001:db8::1",
     "2001:db8::1",
     {"2001:DB8:0:0:0:0:0:1", "2001:db8::1", "2001:0db8::0001"},
     "v6.example.com"},
    {"A",
     W("\1A\7example\3com\0"),
     1,
     W("\xc0\x00\x02\x01"),
     "a.example.com",
     "A",
     "192.0.2.1",
     NULL,
     {"192.0.2.1"},
     "A.EXAMPLE.COM."},
    {"CNAME target compressed into the question",
     W("\5Alias\7example\3com\0"),
     5,
     W(PTR_WWW),
     "alias.example.com",
     "CNAME",
     "www.example.com",
     NULL,
     {"WWW.EXAMPLE.COM.", "www.example.com"},
     "alias.example.com"},
    {"MX exchange uncompressed, mixed case",
     W(PTR_EXAMPLE),
     15,
     W("\0\x0a\4MAIL\7Example\3COM\0"),
     "example.com",
     "MX",
     "10 mail.example.com",
     NULL,
     {"MAIL.Example.COM.", "mail.example.com"},
     "Example.COM"},
    {"SRV target half compressed",
     W("\4_sip\4_tcp" PTR_EXAMPLE),
     33,
     W("\0\0\0\5\1\xbb\3Srv" PTR_EXAMPLE),
     "_sip._tcp.example.com",
     "SRV",
     "0 5 443 srv.example.com",
     NULL,
     {"SRV.example.com", "srv.example.com."},
     "_SIP._TCP.example.com"},
    {"NS target",
     W(PTR_EXAMPLE),
     2,
     W("\3NS1\7Example\3com\0"),
     "example.com",
     "NS",
     "ns1.example.com",
     NULL,
     {"Ns1.Example.Com", "ns1.example.com"},
     "example.com"},
    {"PTR target with escapes",
     W("\1\x34\1\x33\1\x32\1\x31\7in-addr\4arpa\0"),
     12,
     W("\4We.B\3a c" PTR_EXAMPLE),
     "4.3.2.1.in-addr.arpa",
     "PTR",
     "we\\.b.a\\032c.example.com",
     NULL,
     {"WE\\.B.A\\032C.example.com", "we\\046b.a\\ c.EXAMPLE.COM."},
     "4.3.2.1.IN-ADDR.ARPA"},
    {"DNAME target",
     W("\3Old\7example\3com\0"),
     39,
     W("\6Target\7Example\3NET\0"),
     "old.example.com",
     "DNAME",
     "target.example.net",
     NULL,
     {"TARGET.example.net", "target.example.net."},
     "OLD.example.com"},
};

enum { N_CASES = sizeof(cases) / sizeof(cases[0]) };

static char errbuf[512];

/* One response with the question and the case's record as its answer. */
static size_t build(const rt_case *c, uint8_t *msg)
{
    static const uint8_t head[] = {0x42, 0x42, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0};
    size_t n = 0;
    memcpy(msg, head, sizeof(head)), n += sizeof(head);
    memcpy(msg + n, QNAME, sizeof(QNAME) - 1), n += sizeof(QNAME) - 1;
    memcpy(msg + n, "\0\1\0\1", 4), n += 4;
    memcpy(msg + n, c->owner, c->owner_len), n += c->owner_len;
    uint8_t fixed[] = {c->type >> 8,      c->type & 0xff,     0, 1, 0, 0, 0x0e, 0x10,
                       c->rdata_len >> 8, c->rdata_len & 0xff};
    memcpy(msg + n, fixed, sizeof(fixed)), n += sizeof(fixed);
    memcpy(msg + n, c->rdata, c->rdata_len), n += c->rdata_len;
    return n;
}

static px_avro_obs obs_of(const char *rrname, const char *rrtype, const char *rdata)
{
    return (px_avro_obs){.rrname = rrname,
                         .rrtype = rrtype,
                         .rdata = rdata,
                         .count = 1,
                         .time_first = T0,
                         .time_last = T0 + 60,
                         .ttl_min = 3600,
                         .ttl_max = 3600,
                         .clients = -1,
                         .org = "org-a",
                         .sensor = "s1"};
}

/* The validator accepts the fields as they are: its canonical text is
 * the text it was given. */
static void check_accepts(const char *rrname, const char *rrtype, const char *rdata,
                          px_obs_checked *c, uint8_t *scratch)
{
    px_avro_obs o = obs_of(rrname, rrtype, rdata);
    if (px_obs_check(&o, T0 + 3600, c, scratch, PX_OBS_WIRE_MAX, errbuf, sizeof(errbuf)) != PX_OK)
        fail_msg("px_obs_check refuses %s %s %s: %s", rrname, rrtype, rdata, errbuf);
    assert_string_equal(c->rrname, rrname);
    assert_string_equal(c->rdata, rdata);
}

/* Producer, validator, store: the record of case c merged and committed. */
static void publish(px_store *s, const rt_case *c)
{
    uint8_t msg[512];
    size_t len = build(c, msg);
    px_dns_iter it;
    px_dns_msg m;
    px_dns_rr rr = {0};
    assert_int_equal(px_dns_begin_wire(&it, msg, len, &m), PX_OK);
    px_err err = px_dns_next_wire(&it, &rr);
    if (!err)
        err = px_dns_rr_text(&it, &rr);
    if (err)
        fail_msg("%s: %s", c->what, px_strerror(err));
    char type[16], name[PX_DNS_NAME_TEXT_MAX], rdata[PX_DNS_RDATA_TEXT_MAX];
    snprintf(type, sizeof(type), "%s", px_dns_type_name(rr.type, type, sizeof(type)));
    snprintf(name, sizeof(name), "%.*s", (int)rr.name_len, rr.name);
    snprintf(rdata, sizeof(rdata), "%.*s", (int)rr.rdata_len, rr.rdata);
    assert_string_equal(name, c->want_name);
    assert_string_equal(type, c->want_type);
    assert_string_equal(rdata, c->want_rdata);
    assert_int_equal(px_dns_next_wire(&it, &rr), PX_ERR_EOF);

    static uint8_t scratch[PX_OBS_WIRE_MAX];
    px_obs_checked k;
    check_accepts(name, type, rdata, &k, scratch);
    px_store_obs so = {.rrname = k.rrname,
                       .rrname_len = k.rrname_len,
                       .rrtype = k.rrtype,
                       .rdata = k.rdata,
                       .rdata_len = k.rdata_len,
                       .rdata_wire = k.rdata_wire,
                       .rdata_wire_len = k.rdata_wire_len,
                       .org = k.obs->org,
                       .count = (uint64_t)k.obs->count,
                       .time_first = k.obs->time_first,
                       .time_last = k.obs->time_last};
    px_store_batch *b = NULL;
    assert_int_equal(px_store_batch_begin(s, &b), PX_OK);
    assert_int_equal(px_store_merge(b, &so), PX_OK);
    assert_int_equal(px_store_batch_commit(b), PX_OK);
}

/* What `pdnsx-query ARGS` prints: its COF lines. */
static char *query(px_store *s, int argc, char *const *argv, size_t *records)
{
    px_query_req req;
    px_query_req_init(&req);
    if (px_query_req_parse_args(&req, argc, argv, errbuf, sizeof(errbuf)) != PX_OK)
        fail_msg("pdnsx-query %s %s: %s", argv[0], argv[1], errbuf);
    px_query_req_apply_limits(&req, &(px_query_limits){.def = 100, .max = 100});
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    px_query_result res;
    px_stores *set = px_stores_wrap(s, 0);
    assert_int_equal(px_query_run(set, &req, f, &res), PX_OK);
    px_stores_close(set);
    assert_int_equal(fclose(f), 0);
    *records = res.records;
    return text;
}

/* The one COF line is the producer's record, and the validator accepts
 * its fields unchanged. */
static void check_answer(const rt_case *c, const char *text)
{
    json_error_t jerr;
    json_t *o = json_loads(text, JSON_DISABLE_EOF_CHECK, &jerr);
    if (!o)
        fail_msg("%s: not COF: %s", c->what, text);
    const char *orgs[4];
    assert_true(px_cof_orgs_len(o) <= 4);
    px_store_rec rec;
    assert_int_equal(px_cof_to_rec(o, &rec, orgs), PX_OK);
    assert_string_equal(rec.rrname, c->want_name);
    assert_string_equal(rec.rrtype, c->want_type);
    assert_string_equal(rec.rdata, c->want_rdata);
    static uint8_t scratch[PX_OBS_WIRE_MAX];
    px_obs_checked k;
    check_accepts(rec.rrname, rec.rrtype, rec.rdata, &k, scratch);
    json_decref(o);
}

static void test_rdata_roundtrip(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_rdata_roundtrip.XXXXXX";
    assert_non_null(mkdtemp(dir));
    px_err err = PX_OK;
    px_store *s = px_store_open(dir, &(px_store_opts){0}, &err, errbuf, sizeof(errbuf));
    if (!s)
        fail_msg("store: %s", errbuf);
    for (size_t i = 0; i < N_CASES; i++)
        publish(s, &cases[i]);

    size_t not_ntop = 0;
    for (size_t i = 0; i < N_CASES; i++) {
        const rt_case *c = &cases[i];
        if (c->ntop) {
            uint8_t b[16];
            char ntop[INET6_ADDRSTRLEN];
            assert_int_equal(inet_pton(AF_INET6, c->want_rdata, b), 1);
            assert_non_null(inet_ntop(AF_INET6, b, ntop, sizeof(ntop)));
            assert_string_equal(ntop, c->ntop);
            if (strcmp(ntop, c->want_rdata) != 0) { /* and the validator refuses it */
                not_ntop++;
                static uint8_t scratch[PX_OBS_WIRE_MAX];
                px_obs_checked k;
                px_avro_obs o = obs_of(c->want_name, "AAAA", ntop);
                assert_int_equal(px_obs_check(&o, T0 + 3600, &k, scratch, sizeof(scratch), NULL, 0),
                                 PX_ERR_INVAL);
            }
        }
        size_t n = 0;
        char *const rrset[] = {"rrset", (char *)c->owner_spelling, (char *)c->want_type};
        char *text = query(s, 3, rrset, &n);
        assert_int_equal(n, 1);
        check_answer(c, text);
        free(text);
        for (size_t j = 0; j < 5 && c->spellings[j]; j++) {
            char *const rdata[] = {"rdata", (char *)c->spellings[j]};
            text = query(s, 2, rdata, &n);
            if (n != 1)
                fail_msg("%s: rdata %s: %zu records", c->what, c->spellings[j], n);
            check_answer(c, text);
            free(text);
        }
    }
    /* the mapped and compatible addresses: inet_ntop's dotted tail is not
     * the system's text */
    assert_int_equal(not_ntop, 2);
    px_store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rdata_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
