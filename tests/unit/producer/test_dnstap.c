/* dnstap inputs: files from the corpus, crafted frames, and unix/TCP
 * receivers driven by fstrm_replay and by raw-socket senders. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics_read.h"
#include "px_fixture.h"
#include <fstrm.h>

#include "dnstap.pb-c.h"
#include "px_dnstap.h"
#include "px_fstrm.h"
#include "px_input_impl.h"
#include "pxt_producer.h"
#include "core/px_metrics.h"
#include "core/px_wire.h"

extern char **environ;

#define CT PX_DNSTAP_CONTENT_TYPE
#define MALFORMED(reason) "pdnsx_input_malformed_total{input=\"dnstap\",reason=\"" reason "\"}"

/* ---- sink: records events, thread-safe, lets the test wait for a count -- */

typedef struct sink {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t count;
    char last_qname[256];
    px_dns_event last; /* pointers not valid after the call */
    char zone[256];
} sink;

static void sink_init(sink *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
}

static void sink_fini(sink *s)
{
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
}

/* Question name of a DNS message in dotted form (uncompressed, as senders
 * write it). */
static void qname_of(const uint8_t *msg, size_t len, char *out, size_t outlen)
{
    px_wire w;
    px_wire_init(&w, msg, len);
    px_wire_skip(&w, 12);
    size_t o = 0;
    out[0] = '\0';
    for (;;) {
        uint8_t l = px_wire_u8(&w);
        if (px_wire_err(&w) || l == 0 || l > 63 || o + l + 2 > outlen)
            break;
        const uint8_t *p = px_wire_bytes(&w, l);
        if (!p)
            break;
        if (o)
            out[o++] = '.';
        memcpy(out + o, p, l);
        o += l;
        out[o] = '\0';
    }
}

static void sink_fn(void *ctx, const px_dns_event *ev)
{
    sink *s = ctx;
    pthread_mutex_lock(&s->lock);
    s->count++;
    s->last = *ev;
    qname_of(ev->msg, ev->len, s->last_qname, sizeof(s->last_qname));
    s->zone[0] = '\0';
    if (ev->query_zone && ev->query_zone_len < sizeof(s->zone)) {
        memcpy(s->zone, ev->query_zone, ev->query_zone_len);
        s->zone[ev->query_zone_len] = '\0';
    }
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* Waits until the sink saw n events; the deadline only keeps a broken
 * receiver from hanging the test run. */
static size_t sink_wait(sink *s, size_t n)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 20;
    pthread_mutex_lock(&s->lock);
    while (s->count < n && pthread_cond_timedwait(&s->cond, &s->lock, &dl) == 0)
        ;
    size_t c = s->count;
    pthread_mutex_unlock(&s->lock);
    return c;
}

static size_t sink_count(sink *s)
{
    pthread_mutex_lock(&s->lock);
    size_t c = s->count;
    pthread_mutex_unlock(&s->lock);
    return c;
}

/* ---- crafted dnstap frames ------------------------------------------------ */

static size_t make_dns(uint8_t *buf, const char *name)
{
    static const uint8_t hdr[12] = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0};
    memcpy(buf, hdr, 12);
    size_t o = 12;
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        buf[o++] = (uint8_t)l;
        memcpy(buf + o, p, l);
        o += l;
        p += l + (dot ? 1 : 0);
    }
    buf[o++] = 0;
    static const uint8_t q[4] = {0, 1, 0, 1};
    memcpy(buf + o, q, 4);
    return o + 4;
}

typedef struct frame_spec {
    Dnstap__Message__Type type;
    const char *name;  /* response message question, NULL: none */
    bool qtime, rtime; /* which timestamps to set */
    const char *zone;  /* query_zone bytes, NULL: none */
} frame_spec;

static size_t make_frame(uint8_t *out, size_t cap, const frame_spec *fs)
{
    static uint8_t qaddr[4] = {198, 51, 100, 7}, raddr[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x53};
    uint8_t dns[300];
    Dnstap__Message m = DNSTAP__MESSAGE__INIT;
    m.type = fs->type;
    m.has_query_address = 1;
    m.query_address = (ProtobufCBinaryData){4, qaddr};
    m.has_query_port = 1;
    m.query_port = 40000;
    m.has_response_address = 1;
    m.response_address = (ProtobufCBinaryData){16, raddr};
    m.has_response_port = 1;
    m.response_port = 53;
    m.has_query_time_sec = fs->qtime;
    m.query_time_sec = 1700000000;
    m.has_query_time_nsec = fs->qtime;
    m.query_time_nsec = 5;
    m.has_response_time_sec = fs->rtime;
    m.response_time_sec = 1700000001;
    m.has_response_time_nsec = fs->rtime;
    m.response_time_nsec = 7;
    if (fs->name) {
        m.has_response_message = 1;
        m.response_message = (ProtobufCBinaryData){make_dns(dns, fs->name), dns};
    }
    if (fs->zone) {
        m.has_query_zone = 1;
        m.query_zone = (ProtobufCBinaryData){strlen(fs->zone), (uint8_t *)fs->zone};
    }
    Dnstap__Dnstap d = DNSTAP__DNSTAP__INIT;
    d.type = DNSTAP__DNSTAP__TYPE__MESSAGE;
    d.message = &m;
    size_t n = dnstap__dnstap__get_packed_size(&d);
    assert_true(n <= cap);
    return dnstap__dnstap__pack(&d, out);
}

static size_t make_response(uint8_t *out, size_t cap, const char *name)
{
    frame_spec fs = {DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE, name, true, true, NULL};
    return make_frame(out, cap, &fs);
}

/* ---- frame decoder --------------------------------------------------------- */

static px_err decode_one(px_dnstap_decoder *d, sink *s, const frame_spec *fs, const char **why)
{
    uint8_t f[1024];
    size_t n = make_frame(f, sizeof(f), fs);
    return px_dnstap_decode(d, f, n, sink_fn, s, why);
}

static void test_decode_roles(void **state)
{
    (void)state;
    sink s;
    sink_init(&s);
    px_dnstap_decoder *d = px_dnstap_decoder_create(0);
    assert_non_null(d);
    const char *why;

    /* A stub asked us: the client is the querier, no server. */
    frame_spec fs = {DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE, "www.example.org", true, true,
                     "example.org"};
    assert_int_equal(decode_one(d, &s, &fs, &why), PX_OK);
    assert_string_equal(s.last_qname, "www.example.org");
    assert_int_equal(s.last.client.family, 4);
    assert_int_equal(s.last.client.port, 40000);
    assert_memory_equal(s.last.client.bytes, ((uint8_t[]){198, 51, 100, 7}), 4);
    assert_int_equal(s.last.server.family, 0);
    assert_int_equal(s.last.time_sec, 1700000001);
    assert_int_equal(s.last.time_nsec, 7);
    assert_string_equal(s.zone, "example.org");

    /* The resolver asked upstream: the server answered, no client. */
    fs = (frame_spec){DNSTAP__MESSAGE__TYPE__RESOLVER_RESPONSE, "ns.example.net", true, true, NULL};
    assert_int_equal(decode_one(d, &s, &fs, &why), PX_OK);
    assert_int_equal(s.last.client.family, 0);
    assert_int_equal(s.last.server.family, 6);
    assert_int_equal(s.last.server.port, 53);
    assert_int_equal(s.last.server.bytes[15], 0x53);
    assert_int_equal(s.zone[0], '\0');

    fs.type = DNSTAP__MESSAGE__TYPE__FORWARDER_RESPONSE;
    assert_int_equal(decode_one(d, &s, &fs, &why), PX_OK);
    assert_int_equal(s.last.client.family, 0);
    assert_int_equal(s.last.server.family, 6);

    fs.type = DNSTAP__MESSAGE__TYPE__AUTH_RESPONSE;
    assert_int_equal(decode_one(d, &s, &fs, &why), PX_OK);
    assert_int_equal(s.last.client.family, 4);
    assert_int_equal(s.last.server.family, 0);

    /* No response time: the query time stands in. */
    fs = (frame_spec){DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE, "a.example", true, false, NULL};
    assert_int_equal(decode_one(d, &s, &fs, &why), PX_OK);
    assert_int_equal(s.last.time_sec, 1700000000);
    assert_int_equal(s.last.time_nsec, 5);
    assert_int_equal(s.count, 5);

    px_dnstap_decoder_destroy(d);
    sink_fini(&s);
}

static void test_decode_skips(void **state)
{
    (void)state;
    sink s;
    sink_init(&s);
    px_dnstap_decoder *d = px_dnstap_decoder_create(PX_DT_CLIENT_RESPONSE);
    assert_non_null(d);
    const char *why;
    uint64_t no_time = pxt_metric(MALFORMED("no_time"));
    uint64_t proto = pxt_metric(MALFORMED("protobuf"));

    frame_spec fs = {DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE, "a.example", false, false, NULL};
    assert_int_equal(decode_one(d, &s, &fs, &why), PX_ERR_MALFORMED);
    assert_string_equal(why, "no_time");
    assert_int_equal(pxt_metric(MALFORMED("no_time")), no_time + 1);

    fs = (frame_spec){DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE, NULL, true, true, NULL};
    assert_int_equal(decode_one(d, &s, &fs, &why), PX_ERR_MALFORMED);
    assert_string_equal(why, "no_response");

    /* Not selected: a query, and a response type outside the mask. */
    fs = (frame_spec){DNSTAP__MESSAGE__TYPE__CLIENT_QUERY, "a.example", true, true, NULL};
    assert_int_equal(decode_one(d, &s, &fs, &why), PX_ERR_NOTFOUND);
    fs.type = DNSTAP__MESSAGE__TYPE__RESOLVER_RESPONSE;
    assert_int_equal(decode_one(d, &s, &fs, &why), PX_ERR_NOTFOUND);

    fs.type = (Dnstap__Message__Type)99;
    assert_int_equal(decode_one(d, &s, &fs, &why), PX_ERR_MALFORMED);
    assert_string_equal(why, "unknown_type");

    static const uint8_t garbage[] = {0x0a, 0xff, 0xff, 0x01, 0x02};
    assert_int_equal(px_dnstap_decode(d, garbage, sizeof(garbage), sink_fn, &s, &why),
                     PX_ERR_MALFORMED);
    assert_string_equal(why, "protobuf");
    assert_int_equal(pxt_metric(MALFORMED("protobuf")), proto + 1);

    /* A Dnstap without a message. */
    Dnstap__Dnstap empty = DNSTAP__DNSTAP__INIT;
    empty.type = DNSTAP__DNSTAP__TYPE__MESSAGE;
    uint8_t buf[64];
    size_t n = dnstap__dnstap__pack(&empty, buf);
    assert_int_equal(px_dnstap_decode(d, buf, n, sink_fn, &s, &why), PX_ERR_MALFORMED);
    assert_string_equal(why, "no_message");

    assert_int_equal(s.count, 0);
    px_dnstap_decoder_destroy(d);
    sink_fini(&s);
}

/* Concatenated protobuf messages merge; the reader must agree with
 * protobuf-c on which values survive. */
static void test_parse_merge(void **state)
{
    (void)state;
    uint8_t a[1024], b[1024], both[2048];
    frame_spec fs = {DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE, "first.example", true, true, NULL};
    size_t na = make_frame(a, sizeof(a), &fs);
    /* The later message lacks times, has an empty response and a zone. */
    Dnstap__Message m = DNSTAP__MESSAGE__INIT;
    m.type = DNSTAP__MESSAGE__TYPE__RESOLVER_RESPONSE;
    m.has_response_message = 1;
    m.has_query_zone = 1;
    m.query_zone = (ProtobufCBinaryData){4, (uint8_t *)"zone"};
    m.has_query_port = 1;
    m.query_port = 1234;
    Dnstap__Dnstap d = DNSTAP__DNSTAP__INIT;
    d.message = &m;
    size_t nb = dnstap__dnstap__pack(&d, b);
    memcpy(both, a, na);
    memcpy(both + na, b, nb);

    px_dnstap_msg pm;
    assert_int_equal(px_dnstap_parse(both, na + nb, &pm), PX_OK);
    Dnstap__Dnstap *ref = dnstap__dnstap__unpack(NULL, na + nb, both);
    assert_non_null(ref);
    assert_int_equal(pm.type, DNSTAP__MESSAGE__TYPE__RESOLVER_RESPONSE);
    assert_int_equal(pm.type, ref->message->type);
    assert_int_equal(pm.response_message.len, ref->message->response_message.len);
    assert_true(pm.response_message.len > 0); /* the earlier, non-empty one */
    assert_memory_equal(pm.response_message.data, ref->message->response_message.data,
                        pm.response_message.len);
    assert_int_equal(pm.query_port, 1234);
    assert_int_equal(pm.query_port, ref->message->query_port);
    assert_true(pm.has_response_time_sec && ref->message->has_response_time_sec);
    assert_int_equal(pm.query_zone.len, 4);
    dnstap__dnstap__free_unpacked(ref, NULL);

    /* Both refuse a message without its required type, and a wrong wire type. */
    static const uint8_t no_type[] = {0x72, 0x02, 0x30, 0x01, 0x78, 0x01};
    static const uint8_t bad_wire[] = {0x72, 0x02, 0x0a, 0x00, 0x78, 0x01};
    const uint8_t *bad[] = {no_type, bad_wire};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(px_dnstap_parse(bad[i], 6, &pm), PX_ERR_MALFORMED);
        assert_null(dnstap__dnstap__unpack(NULL, 6, bad[i]));
    }
}

/* A large frame decodes, repeatedly. */
static void test_decode_large(void **state)
{
    (void)state;
    sink s;
    sink_init(&s);
    px_dnstap_decoder *d = px_dnstap_decoder_create(0);
    uint8_t *dns = calloc(1, 60000);
    memcpy(dns, "\x12\x34\x81\x80\0\1\0\0\0\0\0\0\3big\7example\0\0\1\0\1", 29);
    Dnstap__Message m = DNSTAP__MESSAGE__INIT;
    m.type = DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE;
    m.has_response_time_sec = 1;
    m.response_time_sec = 1;
    m.has_response_message = 1;
    m.response_message = (ProtobufCBinaryData){60000, dns};
    Dnstap__Dnstap dt = DNSTAP__DNSTAP__INIT;
    dt.message = &m;
    uint8_t *f = malloc(dnstap__dnstap__get_packed_size(&dt));
    size_t n = dnstap__dnstap__pack(&dt, f);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(px_dnstap_decode(d, f, n, sink_fn, &s, NULL), PX_OK);
        assert_int_equal(s.last.len, 60000);
        assert_string_equal(s.last_qname, "big.example");
    }
    free(f);
    free(dns);
    px_dnstap_decoder_destroy(d);
    sink_fini(&s);
}

/* ---- files ------------------------------------------------------------------ */

/* What the file input reported (px_input_conf.log) since read_file() began. */
static char reports[4096];

static void report(void *ctx, int level, const char *msg)
{
    (void)ctx;
    size_t used = strlen(reports);
    snprintf(reports + used, sizeof(reports) - used, "%d %s\n", level, msg);
}

static void expect_report(const char *want)
{
    if (!strstr(reports, want))
        fail_msg("no report says \"%s\"; reports:\n%s", want, reports);
}

static void *open_file(const char *path, uint32_t types, sink *s, char *err, size_t errlen)
{
    px_input_conf conf = {
        .type = PX_INPUT_DNSTAP_FILE, .path = path, .dnstap_types = types, .log_fn = report};
    return px_dnstap_input_open(&conf, sink_fn, s, err, errlen);
}

/* Reads a file; returns run's result, events in *count. */
static px_err read_file(const char *path, uint32_t types, sink *s)
{
    char err[256];
    reports[0] = '\0';
    void *in = open_file(path, types, s, err, sizeof(err));
    if (!in)
        return PX_ERR_IO;
    px_err r = px_dnstap_input_ops.run(in);
    px_dnstap_input_ops.destroy(in);
    return r;
}

/* The corpus file is there; if not, false (in CI: the test fails). */
static bool corpus_has(const char *file)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/dnstap/%s", PX_CORPUS_DIR, file);
    return px_fixture_present(p);
}

#define CORPUS(f) PX_CORPUS_DIR "/dnstap/" f

static void test_file_corpus(void **state)
{
    (void)state;
    PX_NEED_FILE(CORPUS("dsc__dotdoh.dnstap"));
    /* Expected counts from fstrm_dump: response messages in each file. */
    static const struct {
        const char *path, *qname;
        size_t events;
        uint8_t client_family, server_family;
    } files[] = {
        {CORPUS("bind9__large-answer.fstrm"), "example", 1, 6, 0}, /* AUTH_RESPONSE */
        {CORPUS("dsc__dotdoh.dnstap"), "google.com", 3, 4, 0},     /* 4 queries, 3 responses */
        {CORPUS("dsc__test.dnstap"), "google.com", 1, 0, 4},       /* kdig TOOL_RESPONSE */
        {CORPUS("go-dnscollector__dnstap.fstrm"), "www.google.com", 1, 4, 0},
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        sink s;
        sink_init(&s);
        assert_int_equal(read_file(files[i].path, 0, &s), PX_OK);
        assert_int_equal(s.count, files[i].events);
        assert_string_equal(s.last_qname, files[i].qname);
        assert_int_equal(s.last.client.family, files[i].client_family);
        assert_int_equal(s.last.server.family, files[i].server_family);
        assert_true(s.last.time_sec > 1500000000);
        sink_fini(&s);
    }
    /* dsc__test: kdig asked 172.17.0.1 port 53. */
    sink s;
    sink_init(&s);
    assert_int_equal(read_file(CORPUS("dsc__test.dnstap"), 0, &s), PX_OK);
    assert_memory_equal(s.last.server.bytes, ((uint8_t[]){172, 17, 0, 1}), 4);
    assert_int_equal(s.last.server.port, 53);
    sink_fini(&s);

    /* Only TOOL_RESPONSE selected: the dnsdist file gives nothing. */
    sink_init(&s);
    uint64_t filtered = pxt_metric("pdnsx_input_filtered_total{input=\"dnstap\"}");
    assert_int_equal(read_file(CORPUS("dsc__dotdoh.dnstap"), PX_DT_TOOL_RESPONSE, &s), PX_OK);
    assert_int_equal(s.count, 0);
    assert_int_equal(pxt_metric("pdnsx_input_filtered_total{input=\"dnstap\"}"), filtered + 7);
    sink_fini(&s);
}

static void test_file_wrong_content_type(void **state)
{
    (void)state;
    PX_NEED_FILE(CORPUS("fstrm__test.fstrm"));
    sink s;
    sink_init(&s);
    char err[256] = "";
    assert_null(open_file(CORPUS("fstrm__test.fstrm"), 0, &s, err, sizeof(err)));
    assert_non_null(strstr(err, "content type"));
    assert_null(open_file("/nonexistent/x.dnstap", 0, &s, err, sizeof(err)));
    assert_non_null(strstr(err, "No such file"));
    sink_fini(&s);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static size_t put_data(uint8_t *out, const uint8_t *data, size_t len)
{
    out[0] = (uint8_t)(len >> 24);
    out[1] = (uint8_t)(len >> 16);
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    memcpy(out + 4, data, len);
    return 4 + len;
}

/* START, frames of the given names (NULL: a garbage frame), STOP. */
static size_t make_stream(uint8_t *out, size_t cap, const char *ct, const char *const *names,
                          size_t n, bool stop)
{
    size_t o = px_fstrm_control_encode(out, cap, PX_FSTRM_CONTROL_START, ct);
    for (size_t i = 0; i < n; i++) {
        uint8_t f[512];
        size_t fl = names[i] ? make_response(f, sizeof(f), names[i]) : 5;
        if (!names[i])
            memcpy(f, "\x0a\xff\xff\x01\x02", 5);
        o += put_data(out + o, f, fl);
    }
    if (stop)
        o += px_fstrm_control_encode(out + o, cap - o, PX_FSTRM_CONTROL_STOP, NULL);
    assert_true(o <= cap);
    return o;
}

static void test_file_corrupt(void **state)
{
    (void)state;
    char dir[] = "/tmp/px_dnstap_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/f.fstrm", dir);
    uint8_t buf[8192];
    sink s;

    /* A garbage frame in the middle is counted and skipped. */
    static const char *const names[] = {"a.example", NULL, "b.example"};
    size_t n = make_stream(buf, sizeof(buf), CT, names, 3, true);
    write_file(path, buf, n);
    uint64_t proto = pxt_metric(MALFORMED("protobuf"));
    sink_init(&s);
    assert_int_equal(read_file(path, 0, &s), PX_OK);
    assert_int_equal(s.count, 2);
    assert_string_equal(s.last_qname, "b.example");
    assert_int_equal(pxt_metric(MALFORMED("protobuf")), proto + 1);
    sink_fini(&s);

    /* Cut inside the last data frame: what came before counts, then an
     * error that says where (the frame's offset) and why. */
    size_t two = make_stream(buf, sizeof(buf), CT, names, 2, false);
    n = make_stream(buf, sizeof(buf), CT, names, 3, false);
    write_file(path, buf, n - 10);
    sink_init(&s);
    uint64_t trunc = pxt_metric(MALFORMED("truncated"));
    const char *skipped = "pdnsx_input_skipped_bytes_total{input=\"dnstap\"}";
    uint64_t skip0 = pxt_metric(skipped);
    assert_int_equal(read_file(path, 0, &s), PX_ERR_TRUNC);
    assert_int_equal(s.count, 1);
    assert_int_equal(pxt_metric(MALFORMED("truncated")), trunc + 1);
    char want[256];
    snprintf(want, sizeof(want), "3 %s: offset %zu: the file ends %zu bytes into a frame", path,
             two, n - 10 - two);
    expect_report(want);
    snprintf(want, sizeof(want), "the last %zu bytes of the file are not read", n - 10 - two);
    expect_report(want);
    assert_int_equal(pxt_metric(skipped), skip0 + (n - 10 - two));
    sink_fini(&s);

    /* Ends between frames but without STOP (writer killed): also truncated. */
    n = make_stream(buf, sizeof(buf), CT, names, 3, false);
    write_file(path, buf, n);
    sink_init(&s);
    assert_int_equal(read_file(path, 0, &s), PX_ERR_TRUNC);
    assert_int_equal(s.count, 2);
    snprintf(want, sizeof(want), "offset %zu: the file ends without a STOP frame", n);
    expect_report(want);
    sink_fini(&s);

    /* A data frame over 1 MiB: an error, not a huge allocation. */
    n = make_stream(buf, sizeof(buf), CT, names, 1, false);
    memcpy(buf + n, "\x00\x20\x00\x00zzzz", 8);
    write_file(path, buf, n + 8);
    sink_init(&s);
    assert_int_equal(read_file(path, 0, &s), PX_ERR_MALFORMED);
    snprintf(want, sizeof(want), "offset %zu: frame length 2097152 is over the maximum of 1048576",
             n);
    expect_report(want);
    expect_report("the last 8 bytes of the file are not read");
    assert_int_equal(s.count, 1);
    sink_fini(&s);

    /* Garbage, and an empty file: refused at open. */
    char err[256];
    sink_init(&s);
    write_file(path, "\x01\x02\x03garbage garbage garbage", 26);
    assert_null(open_file(path, 0, &s, err, sizeof(err)));
    write_file(path, "", 0);
    assert_null(open_file(path, 0, &s, err, sizeof(err)));
    sink_fini(&s);

    unlink(path);
    rmdir(dir);
}

/* libfstrm's file reader, as dnstap-file used it before it read files
 * itself: the reference the input must agree with. Returns -1 if the file
 * does not open, else the run's result; *frames: data frames read. */
static int fstrm_reference(const char *path, size_t *frames)
{
    *frames = 0;
    struct fstrm_file_options *fopt = fstrm_file_options_init();
    struct fstrm_reader_options *ropt = fstrm_reader_options_init();
    fstrm_file_options_set_file_path(fopt, path);
    fstrm_reader_options_add_content_type(ropt, CT, strlen(CT));
    fstrm_reader_options_set_max_frame_size(ropt, PX_FSTRM_DATA_MAX);
    struct fstrm_reader *r = fstrm_file_reader_init(fopt, ropt);
    fstrm_file_options_destroy(&fopt);
    fstrm_reader_options_destroy(&ropt);
    int rc = -1;
    if (r && fstrm_reader_open(r) == fstrm_res_success) {
        for (;;) {
            const uint8_t *data = NULL;
            size_t len = 0;
            fstrm_res res = fstrm_reader_read(r, &data, &len);
            if (res == fstrm_res_success && data) {
                (*frames)++;
                continue;
            }
            const struct fstrm_control *stop = NULL;
            if (res == fstrm_res_stop)
                fstrm_reader_get_control(r, FSTRM_CONTROL_STOP, &stop);
            rc = res == fstrm_res_stop ? (stop ? PX_OK : PX_ERR_TRUNC) : PX_ERR_MALFORMED;
            break;
        }
    }
    fstrm_reader_destroy(&r);
    return rc;
}

/* The input on the same file: -1 if it does not open, else run's result. */
static int input_result(const char *path, size_t *frames)
{
    const char *m = "pdnsx_input_frames_total{input=\"dnstap\"}";
    uint64_t before = pxt_metric(m);
    sink s;
    sink_init(&s);
    char err[256];
    void *in = open_file(path, 0, &s, err, sizeof(err));
    int rc = -1;
    if (in) {
        rc = px_dnstap_input_ops.run(in);
        px_dnstap_input_ops.destroy(in);
    }
    sink_fini(&s);
    *frames = (size_t)(pxt_metric(m) - before);
    return rc;
}

static void expect_like_libfstrm(const char *path, const char *what, size_t at)
{
    size_t ref_frames, our_frames;
    int ref = fstrm_reference(path, &ref_frames);
    int ours = input_result(path, &our_frames);
    if (ref != ours || ref_frames != our_frames)
        fail_msg("%s (%zu): libfstrm %d with %zu frames, input %d with %zu frames", what, at, ref,
                 ref_frames, ours, our_frames);
}

/* Writes buf cut to every length, each variant compared with libfstrm. */
static void expect_every_cut(const char *path, const uint8_t *buf, size_t n, const char *what)
{
    for (size_t cut = 0; cut <= n; cut++) {
        write_file(path, buf, cut);
        expect_like_libfstrm(path, what, cut);
    }
}

/* dnstap-file reads files itself (no longer with libfstrm's reader): it
 * must open, read, end and fail on exactly the files libfstrm's did. */
static void test_file_like_libfstrm(void **state)
{
    (void)state;
    static const char *const corpus[] = {"bind9__large-answer.fstrm", "dsc__dotdoh.dnstap",
                                         "dsc__test.dnstap", "go-dnscollector__dnstap.fstrm",
                                         "fstrm__test.fstrm"};
    for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
        char p[512];
        snprintf(p, sizeof(p), "%s/dnstap/%s", PX_CORPUS_DIR, corpus[i]);
        if (px_fixture_present(p))
            expect_like_libfstrm(p, corpus[i], 0);
    }
    char dir[] = "/tmp/px_dnstap_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/cut.fstrm", dir);
    uint8_t buf[8192];

    /* A whole stream with a garbage frame, cut at every byte. */
    static const char *const names[] = {"a.example", NULL, "b.example"};
    size_t n = make_stream(buf, sizeof(buf), CT, names, 3, true);
    expect_every_cut(path, buf, n, "stream");

    /* Control frames between data frames are skipped; bytes after STOP
     * are never read. */
    n = px_fstrm_control_encode(buf, sizeof(buf), PX_FSTRM_CONTROL_START, CT);
    uint8_t f[512];
    size_t fl = make_response(f, sizeof(f), "c.example");
    n += put_data(buf + n, f, fl);
    n += px_fstrm_control_encode(buf + n, sizeof(buf) - n, PX_FSTRM_CONTROL_READY, CT);
    n += px_fstrm_control_encode(buf + n, sizeof(buf) - n, PX_FSTRM_CONTROL_START, NULL);
    n += put_data(buf + n, f, fl);
    n += px_fstrm_control_encode(buf + n, sizeof(buf) - n, PX_FSTRM_CONTROL_STOP, NULL);
    memcpy(buf + n, "\xff\xff\xff\xff junk", 9);
    expect_every_cut(path, buf, n + 9, "controls");

    /* START of another content type, or none, or a READY first. */
    n = make_stream(buf, sizeof(buf), "protobuf:other", names, 1, true);
    expect_like_libfstrm((write_file(path, buf, n), path), "other type", 0);
    n = make_stream(buf, sizeof(buf), NULL, names, 1, true);
    expect_like_libfstrm((write_file(path, buf, n), path), "no type", 0);
    n = px_fstrm_control_encode(buf, sizeof(buf), PX_FSTRM_CONTROL_READY, CT);
    n += make_stream(buf + n, sizeof(buf) - n, CT, names, 1, true);
    expect_like_libfstrm((write_file(path, buf, n), path), "ready first", 0);

    /* Bad control frames after START: over 512 bytes, empty, undecodable. */
    static const uint8_t bad[][12] = {
        {0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0, 3},
        {0, 0, 0, 0, 0, 0, 0, 0},
        {0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 99},
        {0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = make_stream(buf, sizeof(buf), CT, names, 1, false);
        memcpy(buf + n, bad[i], sizeof(bad[i]));
        write_file(path, buf, n + sizeof(bad[i]));
        expect_like_libfstrm(path, "bad control", i);
    }
    /* Data frames of exactly the bound and one byte over. */
    uint8_t *big = calloc(1, PX_FSTRM_DATA_MAX + 1024);
    assert_non_null(big);
    for (size_t extra = 0; extra < 2; extra++) {
        n = px_fstrm_control_encode(big, 1024, PX_FSTRM_CONTROL_START, CT);
        size_t len = PX_FSTRM_DATA_MAX + extra;
        big[n] = (uint8_t)(len >> 24);
        big[n + 1] = (uint8_t)(len >> 16);
        big[n + 2] = (uint8_t)(len >> 8);
        big[n + 3] = (uint8_t)len;
        n += 4 + len;
        n += px_fstrm_control_encode(big + n, 64, PX_FSTRM_CONTROL_STOP, NULL);
        write_file(path, big, n);
        expect_like_libfstrm(path, "bound", extra);
    }
    free(big);
    unlink(path);
    rmdir(dir);
}

typedef struct fifo_writer {
    const char *path;
    const uint8_t *buf;
    size_t len;
} fifo_writer;

static void *fifo_write(void *arg)
{
    fifo_writer *w = arg;
    int fd = open(w->path, O_WRONLY);
    if (fd >= 0) {
        /* in small pieces, so that frames straddle reads */
        for (size_t o = 0; o < w->len; o += 7) {
            size_t n = w->len - o < 7 ? w->len - o : 7;
            if (write(fd, w->buf + o, n) != (ssize_t)n)
                break;
        }
        close(fd);
    }
    return NULL;
}

/* dnstap-file on a FIFO (a writer streaming into it) reads the same. */
static void test_file_fifo(void **state)
{
    (void)state;
    char dir[] = "/tmp/px_dnstap_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/pipe", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    static const char *const names[] = {"a.example", NULL, "b.example", "c.example"};
    uint8_t buf[8192];
    for (int stop = 0; stop < 2; stop++) {
        size_t n = make_stream(buf, sizeof(buf), CT, names, 4, stop);
        fifo_writer w = {path, buf, n};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, fifo_write, &w), 0);
        sink s;
        sink_init(&s);
        assert_int_equal(read_file(path, 0, &s), stop ? PX_OK : PX_ERR_TRUNC);
        pthread_join(th, NULL);
        assert_int_equal(s.count, 3);
        assert_string_equal(s.last_qname, "c.example");
        sink_fini(&s);
    }
    unlink(path);
    rmdir(dir);
}

/* ---- Frame Streams receiver ------------------------------------------------- */

typedef struct frames {
    size_t n;
    char last[256];
} frames;

static void count_frame(void *ctx, const uint8_t *data, size_t len)
{
    frames *f = ctx;
    f->n++;
    snprintf(f->last, sizeof(f->last), "%.*s", (int)len, (const char *)data);
}

static size_t session(uint8_t *out, size_t cap, const char *ready_ct, int data_frames, bool stop)
{
    size_t o = px_fstrm_control_encode(out, cap, PX_FSTRM_CONTROL_READY, ready_ct);
    o += px_fstrm_control_encode(out + o, cap - o, PX_FSTRM_CONTROL_START, CT);
    for (int i = 0; i < data_frames; i++) {
        char d[16];
        int l = snprintf(d, sizeof(d), "frame%d", i);
        o += put_data(out + o, (const uint8_t *)d, (size_t)l);
    }
    if (stop)
        o += px_fstrm_control_encode(out + o, cap - o, PX_FSTRM_CONTROL_STOP, NULL);
    return o;
}

static void test_fstrm_handshake(void **state)
{
    (void)state;
    uint8_t buf[4096];
    size_t n = session(buf, sizeof(buf), CT, 5, true);

    /* Byte by byte and all at once give the same frames and replies. */
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        px_fstrm_recv *r = px_fstrm_recv_create(CT, 0);
        frames f = {0};
        px_err err = PX_OK;
        if (bytewise)
            for (size_t i = 0; i < n && err == PX_OK; i++)
                err = pxt_fstrm_recv_feed(r, buf + i, 1, count_frame, &f);
        else
            err = pxt_fstrm_recv_feed(r, buf, n, count_frame, &f);
        assert_int_equal(err, PX_ERR_EOF);
        assert_int_equal(f.n, 5);
        assert_string_equal(f.last, "frame4");
        /* Replies: ACCEPT naming our content type, then FINISH. */
        size_t rl;
        const uint8_t *rep = px_fstrm_recv_reply(r, &rl);
        px_fstrm_frame fr;
        px_fstrm_control c;
        assert_int_equal(px_fstrm_frame_next(rep, rl, 1024, &fr, NULL), PX_OK);
        assert_true(fr.control);
        assert_int_equal(px_fstrm_control_parse(fr.data, fr.len, CT, &c), PX_OK);
        assert_int_equal(c.type, PX_FSTRM_CONTROL_ACCEPT);
        assert_true(c.has_want);
        assert_int_equal(px_fstrm_frame_next(rep + fr.size, rl - fr.size, 1024, &fr, NULL), PX_OK);
        assert_int_equal(px_fstrm_control_parse(fr.data, fr.len, CT, &c), PX_OK);
        assert_int_equal(c.type, PX_FSTRM_CONTROL_FINISH);
        assert_int_equal(rep + rl, fr.data + fr.len);
        px_fstrm_recv_destroy(r);
    }
}

static void test_fstrm_errors(void **state)
{
    (void)state;
    uint8_t buf[4096];
    frames f = {0};
    px_fstrm_recv *r = px_fstrm_recv_create(CT, 1000);

    /* READY without our content type: refused, nothing queued. */
    size_t n = session(buf, sizeof(buf), "protobuf:other", 1, true);
    assert_int_equal(pxt_fstrm_recv_feed(r, buf, n, count_frame, &f), PX_ERR_PROTO);
    assert_string_equal(px_fstrm_recv_error(r), "content_type");
    size_t rl;
    px_fstrm_recv_reply(r, &rl);
    assert_int_equal(rl, 0);

    /* A data frame over the bound, announced by its header alone. */
    px_fstrm_recv_reset(r);
    n = px_fstrm_control_encode(buf, sizeof(buf), PX_FSTRM_CONTROL_START, CT);
    memcpy(buf + n, "\x00\x00\x03\xe9", 4); /* 1001 */
    assert_int_equal(pxt_fstrm_recv_feed(r, buf, n + 4, count_frame, &f), PX_ERR_PROTO);
    assert_string_equal(px_fstrm_recv_error(r), "oversize");

    /* A control frame over 512 bytes. */
    px_fstrm_recv_reset(r);
    memcpy(buf, "\0\0\0\0\0\0\x02\x01", 8);
    assert_int_equal(pxt_fstrm_recv_feed(r, buf, 8, count_frame, &f), PX_ERR_PROTO);

    /* Data before START, and a control field whose length overruns. */
    px_fstrm_recv_reset(r);
    assert_int_equal(pxt_fstrm_recv_feed(r, (const uint8_t *)"\0\0\0\1x", 5, count_frame, &f),
                     PX_ERR_PROTO);
    px_fstrm_recv_reset(r);
    static const uint8_t bad[] = {0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 200};
    assert_int_equal(pxt_fstrm_recv_feed(r, bad, sizeof(bad), count_frame, &f), PX_ERR_PROTO);
    assert_string_equal(px_fstrm_recv_error(r), "control");

    /* Unidirectional: START first is fine. */
    px_fstrm_recv_reset(r);
    n = px_fstrm_control_encode(buf, sizeof(buf), PX_FSTRM_CONTROL_START, NULL);
    n += put_data(buf + n, (const uint8_t *)"hello", 5);
    assert_int_equal(pxt_fstrm_recv_feed(r, buf, n, count_frame, &f), PX_OK);
    assert_string_equal(f.last, "hello");
    px_fstrm_recv_destroy(r);
}

/* ---- sockets ------------------------------------------------------------------ */

typedef struct runner {
    pthread_t thread;
    void *in;
    px_err result;
} runner;

static void *run_thread(void *arg)
{
    runner *r = arg;
    r->result = px_dnstap_input_ops.run(r->in);
    return NULL;
}

static void runner_start(runner *r, void *in)
{
    r->in = in;
    assert_int_equal(pthread_create(&r->thread, NULL, run_thread, r), 0);
}

static void runner_stop(runner *r)
{
    px_dnstap_input_ops.stop(r->in);
    pthread_join(r->thread, NULL);
    assert_int_equal(r->result, PX_OK);
    px_dnstap_input_ops.destroy(r->in);
}

typedef struct endpoint {
    bool unix_sock;
    char path[108];
    uint16_t port;
} endpoint;

static int connect_to(const endpoint *ep)
{
    int fd;
    if (ep->unix_sock) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ep->path);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    } else {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(ep->port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    }
    return fd;
}

static void send_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

/* Reads one control frame; returns its type, 0 if the peer closed. */
static uint32_t read_control(int fd)
{
    uint8_t buf[PX_FSTRM_CONTROL_MAX + 8];
    size_t have = 0, need = 8;
    px_fstrm_frame f;
    for (;;) {
        if (px_fstrm_frame_next(buf, have, 0, &f, &need) == PX_OK)
            break;
        size_t want = need > have ? need - have : 1;
        ssize_t n = recv(fd, buf + have, want, 0);
        if (n <= 0)
            return 0;
        have += (size_t)n;
    }
    px_fstrm_control c;
    assert_true(f.control);
    assert_int_equal(px_fstrm_control_parse(f.data, f.len, CT, &c), PX_OK);
    if (c.type == PX_FSTRM_CONTROL_ACCEPT)
        assert_true(c.has_want);
    return c.type;
}

/* True when the receiver has closed the connection. */
static bool peer_closed(int fd)
{
    uint8_t b;
    return recv(fd, &b, 1, 0) <= 0;
}

static int sender_open(const endpoint *ep)
{
    uint8_t buf[512];
    int fd = connect_to(ep);
    send_all(fd, buf, px_fstrm_control_encode(buf, sizeof(buf), PX_FSTRM_CONTROL_READY, CT));
    assert_int_equal(read_control(fd), PX_FSTRM_CONTROL_ACCEPT);
    send_all(fd, buf, px_fstrm_control_encode(buf, sizeof(buf), PX_FSTRM_CONTROL_START, CT));
    return fd;
}

static void sender_data(int fd, const char *name)
{
    uint8_t f[512], out[520];
    size_t n = make_response(f, sizeof(f), name);
    send_all(fd, out, put_data(out, f, n));
}

static void sender_close(int fd)
{
    uint8_t buf[64];
    send_all(fd, buf, px_fstrm_control_encode(buf, sizeof(buf), PX_FSTRM_CONTROL_STOP, NULL));
    assert_int_equal(read_control(fd), PX_FSTRM_CONTROL_FINISH);
    assert_true(peer_closed(fd));
    close(fd);
}

/* A whole empty session: once its FINISH is back, the receiver has handled
 * everything older connections sent before it. */
static void barrier(const endpoint *ep)
{
    sender_close(sender_open(ep));
}

static void drive_raw(const endpoint *ep, sink *s)
{
    size_t base = sink_count(s);

    /* Two senders at once, frames interleaved, one frame split across sends. */
    int a = sender_open(ep), b = sender_open(ep);
    sender_data(a, "a1.example");
    sender_data(b, "b1.example");
    sender_data(b, "b2.example");
    uint8_t f[512], out[520];
    size_t n = put_data(out, f, make_response(f, sizeof(f), "a2.example"));
    send_all(a, out, 7);
    sender_data(b, "b3.example");
    send_all(a, out + 7, n - 7);
    sender_close(b);
    sender_close(a);
    assert_int_equal(sink_wait(s, base + 5), base + 5);

    /* A sender vanishing mid-frame loses only that frame. */
    uint64_t trunc = pxt_metric(MALFORMED("truncated"));
    a = sender_open(ep);
    sender_data(a, "c1.example");
    sender_data(a, "c2.example");
    send_all(a, out, n / 2);
    close(a);
    barrier(ep);
    assert_int_equal(sink_count(s), base + 7);
    assert_int_equal(pxt_metric(MALFORMED("truncated")), trunc + 1);

    /* An oversized frame closes that connection only. */
    uint64_t over = pxt_metric(MALFORMED("oversize"));
    b = sender_open(ep);
    a = sender_open(ep);
    send_all(a, "\x00\x20\x00\x00", 4); /* 2 MiB */
    assert_true(peer_closed(a));
    close(a);
    sender_data(b, "d1.example");
    sender_close(b);
    assert_int_equal(sink_wait(s, base + 8), base + 8);
    assert_int_equal(pxt_metric(MALFORMED("oversize")), over + 1);

    /* Wrong content type: no ACCEPT, the receiver closes. */
    uint64_t ct = pxt_metric(MALFORMED("content_type"));
    a = connect_to(ep);
    uint8_t buf[512];
    send_all(a, buf,
             px_fstrm_control_encode(buf, sizeof(buf), PX_FSTRM_CONTROL_READY, "protobuf:other"));
    assert_int_equal(read_control(a), 0);
    close(a);
    assert_int_equal(pxt_metric(MALFORMED("content_type")), ct + 1);
    assert_int_equal(sink_count(s), base + 8);
    assert_string_equal(s->last_qname, "d1.example");
}

/* Runs fstrm_replay; false if it is not installed. */
static bool replay(const endpoint *ep)
{
    if (access("/usr/bin/fstrm_replay", X_OK) != 0) {
        if (px_fixture_in_ci())
            fail_msg("fixture missing in CI: /usr/bin/fstrm_replay (fstrm-bin)");
        return false;
    }
    char port[8];
    snprintf(port, sizeof(port), "%u", ep->port);
    char *unix_argv[] = {"fstrm_replay",
                         "-t",
                         CT,
                         "-u",
                         (char *)ep->path,
                         "-r",
                         CORPUS("dsc__dotdoh.dnstap"),
                         "-r",
                         CORPUS("go-dnscollector__dnstap.fstrm"),
                         NULL};
    char *tcp_argv[] = {"fstrm_replay",
                        "-t",
                        CT,
                        "-a",
                        "127.0.0.1",
                        "-p",
                        port,
                        "-r",
                        CORPUS("dsc__dotdoh.dnstap"),
                        "-r",
                        CORPUS("go-dnscollector__dnstap.fstrm"),
                        NULL};
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    assert_int_equal(posix_spawn(&pid, "/usr/bin/fstrm_replay", &fa, NULL,
                                 ep->unix_sock ? unix_argv : tcp_argv, environ),
                     0);
    posix_spawn_file_actions_destroy(&fa);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return true;
}

static void drive_all(const endpoint *ep, sink *s)
{
    if (corpus_has("dsc__dotdoh.dnstap") && replay(ep)) {
        /* dsc__dotdoh: 3 responses, go-dnscollector: 1. */
        assert_int_equal(sink_wait(s, 4), 4);
        barrier(ep);
        assert_int_equal(sink_count(s), 4);
        assert_string_equal(s->last_qname, "www.google.com");
    }
    drive_raw(ep, s);
}

static void test_unix(void **state)
{
    (void)state;
    char dir[] = "/tmp/px_dnstap_XXXXXX";
    assert_non_null(mkdtemp(dir));
    endpoint ep = {.unix_sock = true};
    snprintf(ep.path, sizeof(ep.path), "%s/dnstap.sock", dir);
    /* A stale socket file from an earlier run is replaced. */
    int stale = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ep.path);
    assert_int_equal(bind(stale, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(stale);

    sink s;
    sink_init(&s);
    char err[256];
    px_input_conf conf = {.type = PX_INPUT_DNSTAP_UNIX, .path = ep.path};
    void *in = px_dnstap_input_open(&conf, sink_fn, &s, err, sizeof(err));
    assert_non_null(in);
    struct stat st;
    assert_int_equal(stat(ep.path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0660);
    /* A second receiver on a live socket is refused. */
    assert_null(px_dnstap_input_open(&conf, sink_fn, &s, err, sizeof(err)));

    runner r;
    runner_start(&r, in);
    drive_all(&ep, &s);
    /* Stop with a sender still connected. */
    int idle = sender_open(&ep);
    runner_stop(&r);
    assert_true(peer_closed(idle));
    close(idle);
    assert_int_equal(access(ep.path, F_OK), -1);

    /* A regular file at the path is never removed. */
    write_file(ep.path, "keep", 4);
    assert_null(px_dnstap_input_open(&conf, sink_fn, &s, err, sizeof(err)));
    assert_non_null(strstr(err, "not a socket"));
    unlink(ep.path);
    rmdir(dir);
    sink_fini(&s);
}

/* A dnstap-tcp input on listen into s (initialised here); NULL if it
 * cannot listen there. *port: the port its start-up line names. */
static void *tcp_input(px_input_conf *conf, const char *listen, sink *s, uint16_t *port)
{
    sink_init(s);
    char err[256];
    *conf = (px_input_conf){.type = PX_INPUT_DNSTAP_TCP, .listen = listen, .log_fn = report};
    reports[0] = '\0';
    void *in = px_dnstap_input_open(conf, sink_fn, s, err, sizeof(err));
    *port = in ? pxt_logged_port(reports, "dnstap-tcp") : 0;
    return in;
}

static void test_tcp(void **state)
{
    (void)state;
    sink s;
    char err[256];
    px_input_conf conf;
    endpoint ep = {0};
    void *in = tcp_input(&conf, "127.0.0.1:0", &s, &ep.port);
    assert_non_null(in);
    /* the port "127.0.0.1:0" got is in the input's start-up line */
    assert_true(ep.port > 0);
    runner r;
    runner_start(&r, in);
    drive_all(&ep, &s);
    runner_stop(&r);
    sink_fini(&s);

    static const char *const bad[] = {"127.0.0.1", "localhost:6000", "[::1:6000",
                                      "1.2.3.4:x", "::1:6000",       ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        conf.listen = bad[i];
        assert_null(px_dnstap_input_open(&conf, sink_fn, &s, err, sizeof(err)));
    }
    conf.listen = "[::1]:0";
    in = px_dnstap_input_open(&conf, sink_fn, &s, err, sizeof(err));
    if (in) /* hosts without IPv6 loopback exist */
        px_dnstap_input_ops.destroy(in);
}

/* Whether a TCP connection to [addr]:port is accepted; the listener's
 * backlog takes it without the input running. */
static bool tcp6_connects(const char *addr, uint16_t port)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    assert_int_equal(inet_pton(AF_INET6, addr, &a.sin6_addr), 1);
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

/* dnstap-tcp on an IPv6 address listens on IPv6 only, as metrics.listen:
 * "[::]:PORT" takes no IPv4 sender (docs/INTERFACE.md), so it can listen
 * while an IPv4 socket listens on 127.0.0.1:PORT (a dual-stack socket
 * cannot: the port is taken). */
static void test_tcp_ipv6_only(void **state)
{
    (void)state;
    int v6 = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 lo6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool have_v6 = v6 >= 0 && bind(v6, (struct sockaddr *)&lo6, sizeof(lo6)) == 0;
    if (v6 >= 0)
        close(v6);
    if (!have_v6) /* hosts without IPv6 exist */
        skip();
    int v4 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in lo4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(lo4);
    assert_true(v4 >= 0);
    assert_int_equal(bind(v4, (struct sockaddr *)&lo4, sizeof(lo4)), 0);
    assert_int_equal(listen(v4, 1), 0);
    assert_int_equal(getsockname(v4, (struct sockaddr *)&lo4, &sl), 0);
    char listen_on[32];
    snprintf(listen_on, sizeof(listen_on), "[::]:%u", (unsigned)ntohs(lo4.sin_port));

    sink s;
    px_input_conf conf;
    uint16_t port;
    void *in = tcp_input(&conf, listen_on, &s, &port);
    assert_non_null(in);
    assert_int_equal(port, ntohs(lo4.sin_port));
    assert_true(tcp6_connects("::1", port));
    px_dnstap_input_ops.destroy(in);
    sink_fini(&s);
    close(v4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_roles), cmocka_unit_test(test_decode_skips),
        cmocka_unit_test(test_decode_large), cmocka_unit_test(test_parse_merge),
        cmocka_unit_test(test_file_corpus),  cmocka_unit_test(test_file_wrong_content_type),
        cmocka_unit_test(test_file_corrupt), cmocka_unit_test(test_file_like_libfstrm),
        cmocka_unit_test(test_file_fifo),    cmocka_unit_test(test_fstrm_handshake),
        cmocka_unit_test(test_fstrm_errors), cmocka_unit_test(test_unix),
        cmocka_unit_test(test_tcp),          cmocka_unit_test(test_tcp_ipv6_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
