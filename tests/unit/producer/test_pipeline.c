/* test_pipeline.c: parse -> filter -> window -> Avro, as the producer runs
 * it, with crafted responses and the real modules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "obs/px_avro.h"
#include "px_pipeline.h"

/* ---- a tiny DNS response builder ---- */
typedef struct msgbuf {
    uint8_t b[4096];
    size_t n;
} msgbuf;

static void put16(msgbuf *m, uint16_t v)
{
    m->b[m->n++] = (uint8_t)(v >> 8);
    m->b[m->n++] = (uint8_t)v;
}

static void put32(msgbuf *m, uint32_t v)
{
    put16(m, (uint16_t)(v >> 16));
    put16(m, (uint16_t)v);
}

static void putname(msgbuf *m, const char *name)
{
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t len = dot ? (size_t)(dot - name) : strlen(name);
        m->b[m->n++] = (uint8_t)len;
        memcpy(m->b + m->n, name, len);
        m->n += len;
        name += len + (dot ? 1 : 0);
    }
    m->b[m->n++] = 0;
}

static void header(msgbuf *m, uint8_t rcode, uint16_t an)
{
    m->n = 0;
    put16(m, 0x4242);
    put16(m, (uint16_t)(0x8180 | rcode));
    put16(m, 1);
    put16(m, an);
    put16(m, 0);
    put16(m, 0);
}

static void question(msgbuf *m, const char *name, uint16_t type)
{
    putname(m, name);
    put16(m, type);
    put16(m, 1);
}

static void rr_a(msgbuf *m, const char *name, uint32_t ttl, const uint8_t ip[4])
{
    putname(m, name);
    put16(m, 1);
    put16(m, 1);
    put32(m, ttl);
    put16(m, 4);
    memcpy(m->b + m->n, ip, 4);
    m->n += 4;
}

static void rr_cname(msgbuf *m, const char *name, uint32_t ttl, const char *target)
{
    putname(m, name);
    put16(m, 5);
    put16(m, 1);
    put32(m, ttl);
    size_t at = m->n;
    put16(m, 0);
    size_t start = m->n;
    putname(m, target);
    m->b[at] = (uint8_t)((m->n - start) >> 8);
    m->b[at + 1] = (uint8_t)(m->n - start);
}

static void rr_ns(msgbuf *m, const char *name, uint32_t ttl, const char *target)
{
    putname(m, name);
    put16(m, 2);
    put16(m, 1);
    put32(m, ttl);
    size_t at = m->n;
    put16(m, 0);
    size_t start = m->n;
    putname(m, target);
    m->b[at] = (uint8_t)((m->n - start) >> 8);
    m->b[at + 1] = (uint8_t)(m->n - start);
}

/* ---- what the pipeline published ---- */
typedef struct out_msg {
    char key[256];
    uint8_t *val;
    size_t len;
} out_msg;

typedef struct outbox {
    out_msg m[64];
    size_t n;
} outbox;

static px_err collect(void *ctx, const char *key, size_t klen, const uint8_t *val, size_t vlen)
{
    outbox *o = ctx;
    assert_true(o->n < 64);
    out_msg *m = &o->m[o->n++];
    snprintf(m->key, sizeof(m->key), "%.*s", (int)klen, key);
    m->val = malloc(vlen);
    memcpy(m->val, val, vlen);
    m->len = vlen;
    return PX_OK;
}

static void outbox_free(outbox *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->m[i].val);
    o->n = 0;
}

static const uint8_t key16[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static px_pipeline *make_window(outbox *o, uint32_t min_clients, size_t max_entries,
                                const uint8_t *client_key)
{
    px_pipeline_conf c = {
        .org = "org-a",
        .sensor = "s1",
        .window = {.seconds = 60, .max_entries = max_entries, .min_clients = min_clients},
        .out = collect,
        .out_ctx = o,
        .client_key = client_key,
    };
    px_err err;
    px_pipeline *p = px_pipeline_create(&c, &err);
    assert_non_null(p);
    return p;
}

static px_pipeline *make(outbox *o, uint32_t min_clients, const uint8_t *client_key)
{
    return make_window(o, min_clients, 1000, client_key);
}

static void feed(px_pipeline *p, const msgbuf *m, int64_t t, uint8_t client_last_octet,
                 uint16_t port)
{
    px_dns_event ev = {.msg = m->b, .len = m->n, .time_sec = t};
    if (client_last_octet) {
        ev.client.family = 4;
        ev.client.bytes[0] = 192;
        ev.client.bytes[1] = 168;
        ev.client.bytes[2] = 7;
        ev.client.bytes[3] = client_last_octet;
        ev.client.port = port;
    }
    px_pipeline_event(p, &ev);
}

static const uint8_t ip_www[4] = {93, 184, 216, 34};

static void www_response(msgbuf *m)
{
    header(m, 0, 2);
    question(m, "alias.Example.co.uk", 1);
    rr_cname(m, "alias.Example.co.uk", 300, "www.example.co.uk");
    rr_a(m, "www.example.co.uk", 60, ip_www);
}

/* Finds the decoded observation for (rrname, rrtype). */
static int find(px_avro_codec *codec, outbox *o, const char *rrname, const char *rrtype,
                px_avro_obs *out, const char **key)
{
    for (size_t i = 0; i < o->n; i++) {
        assert_int_equal(px_avro_decode(codec, o->m[i].val, o->m[i].len, out), PX_OK);
        if (strcmp(out->rrname, rrname) == 0 && strcmp(out->rrtype, rrtype) == 0) {
            *key = o->m[i].key;
            return 1;
        }
    }
    return 0;
}

static void test_aggregates_and_encodes(void **state)
{
    (void)state;
    outbox o = {0};
    px_pipeline *p = make(&o, 1, key16);
    msgbuf m;
    www_response(&m);
    feed(p, &m, 1764000001, 10, 5000);
    feed(p, &m, 1764000030, 10, 6000); /* same client, other port */
    feed(p, &m, 1764000059, 11, 5000);
    assert_int_equal(o.n, 0); /* nothing before the window closes */
    px_pipeline_flush(p);
    assert_int_equal(o.n, 2);

    px_avro_codec *codec = NULL;
    assert_int_equal(px_avro_codec_create(&codec, NULL, 0), PX_OK);
    px_avro_obs a;
    const char *key;
    assert_true(find(codec, &o, "www.example.co.uk", "A", &a, &key));
    assert_string_equal(key, "example.co.uk"); /* eTLD+1 by the PSL */
    assert_string_equal(a.rdata, "93.184.216.34");
    assert_int_equal(a.count, 3);
    assert_int_equal(a.time_first, 1764000001);
    assert_int_equal(a.time_last, 1764000059);
    assert_int_equal(a.clients, 2);
    assert_null(a.bailiwick);
    assert_string_equal(a.org, "org-a");
    assert_string_equal(a.sensor, "s1");
    assert_true(find(codec, &o, "alias.example.co.uk", "CNAME", &a, &key));
    assert_string_equal(a.rdata, "www.example.co.uk");
    assert_int_equal(a.ttl_min, 300);

    px_pipeline_stats st;
    px_pipeline_get_stats(p, &st);
    assert_int_equal(st.events, 3);
    assert_int_equal(st.recorded, 6);
    assert_int_equal(st.published, 2);
    /* the client address is nowhere in what leaves */
    static const uint8_t client[4] = {192, 168, 7, 10};
    for (size_t i = 0; i < o.n; i++)
        for (size_t j = 0; j + 4 <= o.m[i].len; j++)
            assert_false(memcmp(o.m[i].val + j, client, 4) == 0);
    px_avro_codec_destroy(codec);
    outbox_free(&o);
    px_pipeline_destroy(p);
}

static void test_window_boundary_in_event_time(void **state)
{
    (void)state;
    outbox o = {0};
    px_pipeline *p = make(&o, 1, key16);
    msgbuf m;
    www_response(&m);
    feed(p, &m, 1764000001, 10, 1);
    feed(p, &m, 1764000061, 10, 1); /* next window: the first one flushes */
    /* events are processed in batches: the stats call processes what is
     * staged, as the daemon's loop does every 100 ms */
    px_pipeline_stats st;
    px_pipeline_get_stats(p, &st);
    assert_int_equal(o.n, 2);
    px_pipeline_tick(p, 1764000119);
    assert_int_equal(o.n, 2);
    px_pipeline_tick(p, 1764000120);
    assert_int_equal(o.n, 4);
    outbox_free(&o);
    px_pipeline_destroy(p);
}

static void test_drops_and_malformed_are_counted(void **state)
{
    (void)state;
    outbox o = {0};
    px_pipeline *p = make(&o, 1, key16);
    msgbuf m;
    header(&m, 3, 0); /* NXDOMAIN */
    question(&m, "gone.example.com", 1);
    feed(p, &m, 1764000000, 1, 1);
    static const uint8_t priv[4] = {10, 0, 0, 1};
    header(&m, 0, 1);
    question(&m, "nas.example.com", 1);
    rr_a(&m, "nas.example.com", 60, priv);
    feed(p, &m, 1764000000, 1, 1);
    www_response(&m);
    m.n -= 2; /* cut into the A record's rdata */
    feed(p, &m, 1764000000, 1, 1);
    uint8_t junk[5] = {1, 2, 3, 4, 5};
    px_dns_event ev = {.msg = junk, .len = sizeof(junk), .time_sec = 1764000000};
    px_pipeline_event(p, &ev);
    px_pipeline_flush(p);

    px_pipeline_stats st;
    px_pipeline_get_stats(p, &st);
    assert_int_equal(st.events, 4);
    assert_int_equal(st.malformed, 1);
    assert_int_equal(st.malformed_rrs, 1);
    assert_int_equal(st.dropped_msgs[PX_DROP_RCODE], 1);
    assert_int_equal(st.dropped_rrs[PX_DROP_PRIVATE_ADDR], 1);
    assert_int_equal(st.recorded, 1); /* the CNAME before the cut survives */
    assert_int_equal(o.n, 1);
    outbox_free(&o);
    px_pipeline_destroy(p);
}

/* The root and a bare public suffix are not published (a resolver's
 * priming and qname-minimised NS answers): the consumer refuses them too.
 * A registered domain that is its own name is published as before. */
static void test_public_suffix_not_published(void **state)
{
    (void)state;
    outbox o = {0};
    px_pipeline *p = make(&o, 1, key16);
    msgbuf m;
    header(&m, 0, 4);
    question(&m, "co.uk", 2);
    rr_ns(&m, "", 518400, "a.root-servers.net"); /* "": the root */
    rr_ns(&m, "co.uk", 172800, "nsa.nic.uk");
    rr_ns(&m, "example.co.uk", 172800, "ns1.example.net");
    rr_a(&m, "example.co.uk", 60, ip_www);
    feed(p, &m, 1764000000, 1, 1);
    px_pipeline_flush(p);

    px_pipeline_stats st;
    px_pipeline_get_stats(p, &st);
    assert_int_equal(st.dropped_rrs[PX_DROP_PUBLIC_SUFFIX], 2);
    assert_string_equal(px_drop_name(PX_DROP_PUBLIC_SUFFIX), "public_suffix");
    assert_int_equal(o.n, 2);
    px_avro_codec *codec = NULL;
    assert_int_equal(px_avro_codec_create(&codec, NULL, 0), PX_OK);
    px_avro_obs a;
    const char *key;
    assert_true(find(codec, &o, "example.co.uk", "NS", &a, &key));
    assert_true(find(codec, &o, "example.co.uk", "A", &a, &key));
    assert_false(find(codec, &o, "co.uk", "NS", &a, &key));
    assert_false(find(codec, &o, ".", "NS", &a, &key));
    px_avro_codec_destroy(codec);
    outbox_free(&o);
    px_pipeline_destroy(p);
}

/* Consecutive events reuse the last zone's text: a different zone of the
 * same length, and a return to the first one, must each be read anew. */
static void test_bailiwick_zone_changes(void **state)
{
    (void)state;
    outbox o = {0};
    px_pipeline *p = make(&o, 1, key16);
    msgbuf m;
    www_response(&m);
    static const uint8_t uk[] = "\x07"
                                "example"
                                "\x02"
                                "co"
                                "\x02"
                                "uk";
    static const uint8_t us[] = "\x07"
                                "example"
                                "\x02"
                                "co"
                                "\x02"
                                "us";
    px_dns_event ev = {.msg = m.b, .len = m.n, .time_sec = 1764000000};
    const uint8_t *zones[] = {uk, uk, us, uk};
    for (size_t i = 0; i < 4; i++) {
        ev.query_zone = zones[i];
        ev.query_zone_len = sizeof(uk);
        px_pipeline_event(p, &ev);
    }
    px_pipeline_flush(p);
    px_pipeline_stats st;
    px_pipeline_get_stats(p, &st);
    assert_int_equal(st.dropped_rrs[PX_DROP_OUT_OF_BAILIWICK], 2); /* the us event */
    assert_int_equal(o.n, 2);
    px_avro_codec *codec = NULL;
    assert_int_equal(px_avro_codec_create(&codec, NULL, 0), PX_OK);
    for (size_t i = 0; i < o.n; i++) {
        px_avro_obs a;
        assert_int_equal(px_avro_decode(codec, o.m[i].val, o.m[i].len, &a), PX_OK);
        assert_string_equal(a.bailiwick, "example.co.uk");
        assert_int_equal(a.count, 3);
    }
    px_avro_codec_destroy(codec);
    px_pipeline_destroy(p);
    outbox_free(&o);
}

static void test_bailiwick_from_query_zone(void **state)
{
    (void)state;
    outbox o = {0};
    px_pipeline *p = make(&o, 1, key16);
    msgbuf m;
    www_response(&m);
    static const uint8_t zone[] = "\x07"
                                  "example"
                                  "\x02"
                                  "co"
                                  "\x02"
                                  "uk";
    px_dns_event ev = {.msg = m.b,
                       .len = m.n,
                       .time_sec = 1764000000,
                       .query_zone = zone,
                       .query_zone_len = sizeof(zone)};
    px_pipeline_event(p, &ev);
    static const uint8_t other[] = "\x07"
                                   "example"
                                   "\x03"
                                   "net";
    ev.query_zone = other;
    ev.query_zone_len = sizeof(other);
    px_pipeline_event(p, &ev); /* both records out of bailiwick */
    px_pipeline_flush(p);
    assert_int_equal(o.n, 2);
    px_avro_codec *codec = NULL;
    assert_int_equal(px_avro_codec_create(&codec, NULL, 0), PX_OK);
    for (size_t i = 0; i < o.n; i++) {
        px_avro_obs a;
        assert_int_equal(px_avro_decode(codec, o.m[i].val, o.m[i].len, &a), PX_OK);
        assert_non_null(a.bailiwick);
        assert_string_equal(a.bailiwick, "example.co.uk");
        assert_int_equal(a.count, 1);
        assert_int_equal(a.clients, -1); /* no client shown */
    }
    px_pipeline_stats st;
    px_pipeline_get_stats(p, &st);
    assert_int_equal(st.dropped_rrs[PX_DROP_OUT_OF_BAILIWICK], 2);
    px_avro_codec_destroy(codec);
    outbox_free(&o);
    px_pipeline_destroy(p);
}

static void test_min_clients(void **state)
{
    (void)state;
    outbox o = {0};
    px_pipeline *p = make(&o, 3, key16);
    msgbuf m;
    www_response(&m);
    feed(p, &m, 1764000000, 1, 1);
    feed(p, &m, 1764000001, 2, 1);
    feed(p, &m, 1764000002, 2, 9);
    /* the window's figures reach the stats the daemon exports as metrics */
    px_pipeline_stats st;
    px_pipeline_get_stats(p, &st);
    assert_int_equal(st.window_keys, 2); /* the CNAME and the A record */
    assert_int_equal(st.window_entries, 2);
    assert_true(st.window_bytes > 0);
    assert_int_equal(st.window.flushes, 0);
    assert_int_equal(st.window.withheld, 0);
    px_pipeline_flush(p);
    assert_int_equal(o.n, 0); /* two clients < 3 */
    px_pipeline_get_stats(p, &st);
    assert_int_equal(st.window.flushes, 1);
    assert_int_equal(st.window.withheld, 2);
    assert_int_equal(st.window_entries, 0);
    assert_int_equal(st.window_keys, 2); /* keys outlive their window */
    assert_int_equal(st.window.early_flushes, 0);
    feed(p, &m, 1764000100, 1, 1);
    feed(p, &m, 1764000101, 2, 1);
    feed(p, &m, 1764000102, 3, 1);
    px_pipeline_flush(p);
    assert_int_equal(o.n, 2);
    outbox_free(&o);
    px_pipeline_destroy(p);
}

/* A window full of keys flushes early, and the stats say so. */
static void test_window_early_flush_counted(void **state)
{
    (void)state;
    outbox o = {0};
    px_pipeline *p = make_window(&o, 1, 1, key16); /* one key per window */
    msgbuf m;
    www_response(&m);
    feed(p, &m, 1764000000, 1, 1); /* two keys: the second flushes early */
    px_pipeline_stats st;
    px_pipeline_get_stats(p, &st);
    assert_int_equal(st.window.early_flushes, 1);
    assert_int_equal(st.window.flushes, 1);
    assert_int_equal(st.window_entries, 1);
    assert_int_equal(o.n, 1);
    outbox_free(&o);
    px_pipeline_destroy(p);
}

/* Replays give identical bytes; the client key changes nothing published. */
static void test_deterministic_output(void **state)
{
    (void)state;
    static const uint8_t other_key[16] = {9, 9, 9};
    outbox o1 = {0}, o2 = {0};
    px_pipeline *p1 = make(&o1, 1, key16), *p2 = make(&o2, 1, other_key);
    msgbuf m;
    www_response(&m);
    for (int i = 0; i < 20; i++) {
        feed(p1, &m, 1764000000 + i, (uint8_t)(1 + i % 3), 1);
        feed(p2, &m, 1764000000 + i, (uint8_t)(1 + i % 3), 1);
    }
    px_pipeline_flush(p1);
    px_pipeline_flush(p2);
    assert_int_equal(o1.n, o2.n);
    for (size_t i = 0; i < o1.n; i++) {
        assert_string_equal(o1.m[i].key, o2.m[i].key);
        assert_int_equal(o1.m[i].len, o2.m[i].len);
        assert_memory_equal(o1.m[i].val, o2.m[i].val, o1.m[i].len);
    }
    outbox_free(&o1);
    outbox_free(&o2);
    px_pipeline_destroy(p1);
    px_pipeline_destroy(p2);
    px_pipeline_destroy(NULL);
}

/* Case variants of one name (owner, CNAME target, compressed or not) are
 * one key: one observation, counted together, text as before. */
static void test_case_variants_one_key(void **state)
{
    (void)state;
    outbox o = {0};
    px_pipeline *p = make(&o, 1, key16);
    msgbuf m;
    const char *owners[] = {"www.example.co.uk", "WWW.Example.CO.UK", "wWw.eXample.co.Uk"};
    for (int i = 0; i < 3; i++) {
        header(&m, 0, 2);
        question(&m, "alias.example.co.uk", 1);
        rr_cname(&m, "Alias.Example.co.uk", 300, owners[(i + 1) % 3]);
        rr_a(&m, owners[i], 60, ip_www);
        feed(p, &m, 1764000001 + i, 10, 5000);
    }
    px_pipeline_flush(p);
    assert_int_equal(o.n, 2);
    px_avro_codec *codec = NULL;
    assert_int_equal(px_avro_codec_create(&codec, NULL, 0), PX_OK);
    px_avro_obs a;
    const char *key;
    assert_true(find(codec, &o, "www.example.co.uk", "A", &a, &key));
    assert_int_equal(a.count, 3);
    assert_true(find(codec, &o, "alias.example.co.uk", "CNAME", &a, &key));
    assert_string_equal(a.rdata, "www.example.co.uk");
    assert_int_equal(a.count, 3);
    px_pipeline_stats st;
    px_pipeline_get_stats(p, &st);
    assert_int_equal(st.recorded, 6);
    assert_int_equal(st.published, 2);
    px_avro_codec_destroy(codec);
    px_pipeline_destroy(p);
    outbox_free(&o);
}

/* A record the filter drops is remembered with its verdict; the drop is
 * counted every time the record comes again, in any window. */
static void test_cached_drop_counted_each_time(void **state)
{
    (void)state;
    outbox o = {0};
    px_pipeline *p = make(&o, 1, key16);
    msgbuf m;
    const uint8_t ip_private[4] = {10, 1, 2, 3};
    header(&m, 0, 2);
    question(&m, "www.example.com", 1);
    rr_a(&m, "www.example.com", 60, ip_private);
    rr_a(&m, "host.corp", 60, ip_www);
    for (int i = 0; i < 5; i++)
        feed(p, &m, 1764000000 + 50 * i, 10, 5000); /* three windows */
    px_pipeline_flush(p);
    px_pipeline_stats st;
    px_pipeline_get_stats(p, &st);
    assert_int_equal(st.dropped_rrs[PX_DROP_PRIVATE_ADDR], 5);
    assert_int_equal(st.dropped_rrs[PX_DROP_LOCAL_NAME], 5);
    assert_int_equal(st.recorded, 0);
    assert_int_equal(o.n, 0);
    px_pipeline_destroy(p);
}

/* A key seen in windows 1 and 3 but not 2 is emitted twice, each time with
 * only its own window's counts. */
static void test_key_skips_a_window(void **state)
{
    (void)state;
    outbox o = {0};
    px_pipeline *p = make(&o, 1, key16);
    msgbuf a, b;
    www_response(&a);
    header(&b, 0, 1);
    question(&b, "other.example.com", 1);
    rr_a(&b, "other.example.com", 30, ip_www);
    feed(p, &a, 1764000000, 10, 5000);
    feed(p, &a, 1764000010, 10, 5000);
    feed(p, &b, 1764000070, 10, 5000);
    feed(p, &a, 1764000130, 10, 5000);
    px_pipeline_flush(p);
    assert_int_equal(o.n, 5);
    px_avro_codec *codec = NULL;
    assert_int_equal(px_avro_codec_create(&codec, NULL, 0), PX_OK);
    px_avro_obs x;
    /* window 1: CNAME, A; window 2: other; window 3: CNAME, A */
    assert_int_equal(px_avro_decode(codec, o.m[1].val, o.m[1].len, &x), PX_OK);
    assert_string_equal(x.rrname, "www.example.co.uk");
    assert_int_equal(x.count, 2);
    assert_int_equal(x.time_last, 1764000010);
    assert_int_equal(px_avro_decode(codec, o.m[2].val, o.m[2].len, &x), PX_OK);
    assert_string_equal(x.rrname, "other.example.com");
    assert_int_equal(px_avro_decode(codec, o.m[4].val, o.m[4].len, &x), PX_OK);
    assert_string_equal(x.rrname, "www.example.co.uk");
    assert_int_equal(x.count, 1);
    assert_int_equal(x.time_first, 1764000130);
    assert_int_equal(x.ttl_min, 60);
    assert_string_equal(o.m[4].key, "example.co.uk");
    px_avro_codec_destroy(codec);
    px_pipeline_destroy(p);
    outbox_free(&o);
}

/* A response with more records than the pipeline looks up at once (it
 * gathers a few, then looks them up): new keys far into the message, a
 * record repeated across the gathering boundary and private addresses
 * among them are all counted as one at a time would count them. */
static void test_many_records_in_one_response(void **state)
{
    (void)state;
    enum { N = 20 };
    outbox o = {0};
    px_pipeline *p = make(&o, 1, key16);
    msgbuf m;
    header(&m, 0, N);
    question(&m, "www.example.co.uk", 1);
    size_t public = 0, private = 0;
    for (int i = 0; i < N; i++) {
        uint8_t ip[4] = {93, 184, 216, (uint8_t)(i % 15)}; /* 15..19 repeat 0..4 */
        if (i % 7 == 3) {
            ip[0] = 10; /* RFC 1918: dropped */
            private++;
        } else {
            public++;
        }
        rr_a(&m, "www.example.co.uk", 60, ip);
    }
    feed(p, &m, 1764000001, 1, 1000);
    feed(p, &m, 1764000002, 2, 1000);
    px_pipeline_flush(p);
    px_pipeline_stats st;
    px_pipeline_get_stats(p, &st);
    assert_int_equal(st.recorded, 2 * public);
    assert_int_equal(st.dropped_rrs[PX_DROP_PRIVATE_ADDR], 2 * private);
    assert_int_equal(st.malformed_rrs, 0);
    /* distinct public addresses, each counted 2 or 4 times */
    px_avro_codec *codec = NULL;
    assert_int_equal(px_avro_codec_create(&codec, NULL, 0), PX_OK);
    assert_non_null(codec);
    uint64_t total = 0;
    for (size_t i = 0; i < o.n; i++) {
        px_avro_obs a;
        assert_int_equal(px_avro_decode(codec, o.m[i].val, o.m[i].len, &a), PX_OK);
        assert_string_equal(a.rrname, "www.example.co.uk");
        assert_true(a.count == 2 || a.count == 4);
        assert_int_equal(a.clients, 2);
        total += (uint64_t)a.count;
    }
    assert_int_equal(total, 2 * public);
    size_t distinct = 0;
    for (int v = 0; v < 15; v++) {
        bool pub = false;
        for (int i = v; i < N; i += 15)
            pub |= i % 7 != 3;
        distinct += pub;
    }
    assert_int_equal(o.n, distinct);
    px_avro_codec_destroy(codec);
    outbox_free(&o);
    px_pipeline_destroy(p);
}

/* ---- batching ---- */

/* What a pipeline published, as a count and a digest of keys and values
 * in order. */
typedef struct digest {
    uint64_t h;
    size_t n;
} digest;

static void digest_bytes(digest *d, const void *p, size_t len)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < len; i++)
        d->h = (d->h ^ b[i]) * 0x100000001b3ULL;
    d->h = (d->h ^ 0xff) * 0x100000001b3ULL; /* separator */
}

static px_err digest_out(void *ctx, const char *key, size_t klen, const uint8_t *val, size_t vlen)
{
    digest *d = ctx;
    digest_bytes(d, key, klen);
    digest_bytes(d, val, vlen);
    d->n++;
    return PX_OK;
}

static uint32_t batch_rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* A response of some shape: CNAME + A, many A records (more than one
 * lookup round), NXDOMAIN, or cut short. */
static void some_response(msgbuf *m, uint32_t *seed)
{
    char q[64], t[64];
    unsigned k = batch_rnd(seed) % 97, shape = batch_rnd(seed) % 8;
    snprintf(q, sizeof(q), "h%u.zone%u.example.com", k, k % 7);
    snprintf(t, sizeof(t), "t%u.Example.org", k % 13);
    uint8_t ip[4] = {93, 184, (uint8_t)(k % 3), (uint8_t)(batch_rnd(seed) % 4)};
    if (shape == 0) {
        header(m, 3, 0);
        question(m, q, 1);
    } else if (shape <= 2) {
        unsigned n = 1 + batch_rnd(seed) % 60;
        header(m, 0, (uint16_t)n);
        question(m, q, 1);
        for (unsigned i = 0; i < n; i++) {
            ip[3] = (uint8_t)i;
            rr_a(m, q, 30 + i, ip);
        }
    } else {
        header(m, 0, 2);
        question(m, q, 1);
        rr_cname(m, q, 300, t);
        rr_a(m, t, 60, ip);
    }
    if (shape == 7)
        m->n = 12 + batch_rnd(seed) % (m->n - 12);
}

/* Events are staged and their lookups batched: the results must be those
 * of one event at a time (the second pipeline processes each event before
 * the next arrives), windows, early flushes and eviction included. */
static void test_batches_same_as_one_at_a_time(void **state)
{
    (void)state;
    digest d[2] = {{0xcbf29ce484222325ULL, 0}, {0xcbf29ce484222325ULL, 0}};
    px_pipeline *p[2];
    for (int i = 0; i < 2; i++) {
        px_pipeline_conf c = {
            .org = "org-a",
            .sensor = "s1",
            .window = {.seconds = 60, .max_entries = 40, .min_clients = 1},
            .out = digest_out,
            .out_ctx = &d[i],
            .client_key = key16,
        };
        px_err err;
        p[i] = px_pipeline_create(&c, &err);
        assert_non_null(p[i]);
    }
    /* one message bigger than the stage: processed from the caller's memory */
    size_t big_len = 70000;
    uint8_t *big = calloc(1, big_len);
    assert_non_null(big);
    uint32_t seed = 12345;
    msgbuf m;
    for (int e = 0; e < 4000; e++) {
        some_response(&m, &seed);
        px_dns_event ev = {.msg = m.b, .len = m.n, .time_sec = 1764000000 + e / 10};
        if (e == 1234) {
            memcpy(big, m.b, m.n); /* trailing zeros: ignored after the sections */
            ev.msg = big;
            ev.len = big_len;
        }
        unsigned c = batch_rnd(&seed) % 5;
        if (c) {
            ev.client.family = 4;
            ev.client.bytes[0] = 10;
            ev.client.bytes[3] = (uint8_t)c;
        }
        for (int i = 0; i < 2; i++) {
            px_pipeline_event(p[i], &ev);
            px_pipeline_stats st;
            if (i == 1)
                px_pipeline_get_stats(p[i], &st);
        }
        memset(&m, 0xee, sizeof(m)); /* the pipeline must hold a copy */
        memset(big, 0, big_len);
    }
    px_pipeline_stats st[2];
    for (int i = 0; i < 2; i++) {
        px_pipeline_flush(p[i]);
        px_pipeline_get_stats(p[i], &st[i]);
    }
    assert_true(d[0].n > 500);
    assert_int_equal(d[0].n, d[1].n);
    assert_true(d[0].h == d[1].h);
    assert_int_equal(st[0].events, 4000);
    assert_true(st[0].malformed + st[0].malformed_rrs > 0);
    assert_true(st[0].dropped_msgs[PX_DROP_RCODE] > 0);
    assert_memory_equal(&st[0], &st[1], sizeof(st[0]));
    free(big);
    px_pipeline_destroy(p[0]);
    px_pipeline_destroy(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aggregates_and_encodes),
        cmocka_unit_test(test_window_boundary_in_event_time),
        cmocka_unit_test(test_drops_and_malformed_are_counted),
        cmocka_unit_test(test_bailiwick_from_query_zone),
        cmocka_unit_test(test_bailiwick_zone_changes),
        cmocka_unit_test(test_min_clients),
        cmocka_unit_test(test_window_early_flush_counted),
        cmocka_unit_test(test_deterministic_output),
        cmocka_unit_test(test_case_variants_one_key),
        cmocka_unit_test(test_cached_drop_counted_each_time),
        cmocka_unit_test(test_key_skips_a_window),
        cmocka_unit_test(test_many_records_in_one_response),
        cmocka_unit_test(test_batches_same_as_one_at_a_time),
        cmocka_unit_test(test_public_suffix_not_published),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
