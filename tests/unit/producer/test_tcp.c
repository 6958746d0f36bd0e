/* Unit tests of px_tcp: DNS over TCP reassembly. Segments are px_pkt
 * values built here; messages are small DNS responses whose ID tells
 * them apart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "px_tcp.h"

#define MAX_SEEN 64

typedef struct seen {
    size_t n;
    uint16_t ids[MAX_SEEN];
    size_t lens[MAX_SEEN];
    uint16_t sport[MAX_SEEN];
} seen;

static void collect(void *ctx, const px_pkt *seg, const uint8_t *msg, size_t len)
{
    seen *s = ctx;
    assert_true(s->n < MAX_SEEN);
    s->ids[s->n] = (uint16_t)((msg[0] << 8) | msg[1]);
    s->lens[s->n] = len;
    s->sport[s->n] = seg->sport;
    s->n++;
}

/* A DNS response "example.com A" with one A record, prefixed with its
 * 2-byte length, written to out; returns the prefixed length (58). */
static size_t dns_msg(uint8_t *out, uint16_t id, bool response)
{
    static const uint8_t body[] = {
        0x81, 0x80, 0,   1,   0,   1,   0,   0,   0, 0, /* flags, counts */
        7,    'e',  'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,   0, 1, 0, 1, /* question */
        0xc0, 12,   0,   1,   0,   1,   0,   0,   0, 60,  0,   4,   192, 0, 2, 1,    /* answer */
    };
    size_t len = 2 + sizeof(body);
    out[0] = 0;
    out[1] = (uint8_t)len;
    out[2] = (uint8_t)(id >> 8);
    out[3] = (uint8_t)id;
    memcpy(out + 4, body, sizeof(body));
    if (!response)
        out[4] &= 0x7f;
    return 2 + len;
}

enum { SERVER = 0, CLIENT = 1 };

/* A segment of the test connection 192.0.2.1:40000 <-> 198.51.100.53:53. */
static px_pkt seg(int from, uint32_t seq, uint8_t flags, const uint8_t *data, size_t len)
{
    px_pkt p;
    memset(&p, 0, sizeof(p));
    p.ip_version = 4;
    p.proto = PX_PKT_TCP;
    static const uint8_t client[4] = {192, 0, 2, 1}, server[4] = {198, 51, 100, 53};
    memcpy(p.src, from == SERVER ? server : client, 4);
    memcpy(p.dst, from == SERVER ? client : server, 4);
    p.sport = from == SERVER ? 53 : 40000;
    p.dport = from == SERVER ? 40000 : 53;
    p.tcp_seq = seq;
    p.tcp_flags = flags | PX_TCP_ACK;
    p.payload = data;
    p.len = len;
    return p;
}

typedef struct fixture {
    px_tcp *t;
    seen s;
} fixture;

static int setup(void **state)
{
    static fixture f;
    memset(&f, 0, sizeof(f));
    f.t = px_tcp_create(NULL, collect, &f.s);
    assert_non_null(f.t);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    px_tcp_destroy(f->t);
    return 0;
}

static void feed(fixture *f, px_pkt p)
{
    px_tcp_segment(f->t, &p, 1000);
}

/* Server SYN-ACK with ISN 999: data starts at 1000. */
static void handshake(fixture *f)
{
    feed(f, seg(CLIENT, 4999, PX_TCP_SYN, NULL, 0));
    feed(f, seg(SERVER, 999, PX_TCP_SYN, NULL, 0));
}

static void test_one_message(void **state)
{
    fixture *f = *state;
    uint8_t m[128];
    size_t n = dns_msg(m, 0x1234, true);
    handshake(f);
    feed(f, seg(SERVER, 1000, 0, m, n));
    assert_int_equal(f->s.n, 1);
    assert_int_equal(f->s.ids[0], 0x1234);
    assert_int_equal(f->s.lens[0], n - 2);
    assert_int_equal(f->s.sport[0], 53);
}

static void test_split_length_prefix(void **state)
{
    fixture *f = *state;
    uint8_t m[128];
    size_t n = dns_msg(m, 7, true);
    handshake(f);
    feed(f, seg(SERVER, 1000, 0, m, 1)); /* half the length prefix */
    assert_int_equal(f->s.n, 0);
    feed(f, seg(SERVER, 1001, 0, m + 1, 10));
    assert_int_equal(f->s.n, 0);
    feed(f, seg(SERVER, 1011, 0, m + 11, n - 11));
    assert_int_equal(f->s.n, 1);
    assert_int_equal(f->s.ids[0], 7);
}

static void test_two_messages_one_segment(void **state)
{
    fixture *f = *state;
    uint8_t m[256];
    size_t n = dns_msg(m, 1, true);
    n += dns_msg(m + n, 2, true);
    handshake(f);
    feed(f, seg(SERVER, 1000, 0, m, n));
    assert_int_equal(f->s.n, 2);
    assert_int_equal(f->s.ids[0], 1);
    assert_int_equal(f->s.ids[1], 2);
}

static void test_message_and_a_half(void **state)
{
    fixture *f = *state;
    uint8_t m[256];
    size_t n1 = dns_msg(m, 1, true);
    size_t n = n1 + dns_msg(m + n1, 2, true);
    handshake(f);
    feed(f, seg(SERVER, 1000, 0, m, n1 + 5));
    assert_int_equal(f->s.n, 1);
    feed(f, seg(SERVER, (uint32_t)(1000 + n1 + 5), 0, m + n1 + 5, n - n1 - 5));
    assert_int_equal(f->s.n, 2);
    assert_int_equal(f->s.ids[1], 2);
}

static void test_out_of_order(void **state)
{
    fixture *f = *state;
    uint8_t m[256];
    size_t n1 = dns_msg(m, 1, true);
    size_t n = n1 + dns_msg(m + n1, 2, true);
    handshake(f);
    /* second half first, then the first: both messages, in order */
    feed(f, seg(SERVER, (uint32_t)(1000 + 40), 0, m + 40, n - 40));
    assert_int_equal(f->s.n, 0);
    feed(f, seg(SERVER, 1000, 0, m, 40));
    assert_int_equal(f->s.n, 2);
    assert_int_equal(f->s.ids[0], 1);
    assert_int_equal(f->s.ids[1], 2);
}

static void test_retransmission(void **state)
{
    fixture *f = *state;
    uint8_t m[256];
    size_t n1 = dns_msg(m, 1, true);
    size_t n = n1 + dns_msg(m + n1, 2, true);
    handshake(f);
    feed(f, seg(SERVER, 1000, 0, m, n1));
    feed(f, seg(SERVER, 1000, 0, m, n1)); /* exact duplicate */
    assert_int_equal(f->s.n, 1);
    /* overlapping retransmission: old bytes and the new message */
    feed(f, seg(SERVER, 1010, 0, m + 10, n - 10));
    assert_int_equal(f->s.n, 2);
    assert_int_equal(f->s.ids[1], 2);
    assert_true(px_tcp_get_stats(f->t)->duplicates >= 1);
}

static void test_missing_syn_resync(void **state)
{
    fixture *f = *state;
    uint8_t m[256];
    size_t n1 = dns_msg(m, 1, true);
    size_t n = n1 + dns_msg(m + n1, 2, true);
    /* capture starts 20 bytes into the first message, no SYN seen */
    feed(f, seg(SERVER, 5020, 0, m + 20, n - 20));
    assert_int_equal(f->s.n, 1);
    assert_int_equal(f->s.ids[0], 2);
    assert_true(px_tcp_get_stats(f->t)->resync_skipped > 0);
}

static void test_missing_syn_at_boundary(void **state)
{
    fixture *f = *state;
    uint8_t m[256];
    size_t n = dns_msg(m, 9, true);
    feed(f, seg(SERVER, 77, 0, m, n));
    assert_int_equal(f->s.n, 1);
    assert_int_equal(f->s.ids[0], 9);
}

static void test_trailing_junk(void **state)
{
    fixture *f = *state;
    uint8_t m[256];
    size_t n = dns_msg(m, 3, true);
    memcpy(m + n, "\x00\x03junkjunk", 10); /* a length below a DNS header */
    handshake(f);
    feed(f, seg(SERVER, 1000, 0, m, n + 10));
    assert_int_equal(f->s.n, 1);
    assert_int_equal(px_tcp_get_stats(f->t)->bad_length, 1);
    /* the stream recovers at the next real message */
    uint8_t m2[128];
    size_t n2 = dns_msg(m2, 4, true);
    feed(f, seg(SERVER, (uint32_t)(1000 + n + 10), 0, m2, n2));
    assert_int_equal(f->s.n, 2);
    assert_int_equal(f->s.ids[1], 4);
}

static void test_both_directions(void **state)
{
    fixture *f = *state;
    uint8_t q[128], r[128];
    size_t nq = dns_msg(q, 5, false), nr = dns_msg(r, 5, true);
    handshake(f);
    feed(f, seg(CLIENT, 5000, 0, q, nq));
    feed(f, seg(SERVER, 1000, 0, r, nr));
    assert_int_equal(f->s.n, 2);
    assert_int_equal(f->s.sport[0], 40000);
    assert_int_equal(f->s.sport[1], 53);
}

static void test_fin_and_rst_free_flow(void **state)
{
    fixture *f = *state;
    uint8_t r[128];
    size_t nr = dns_msg(r, 5, true);
    handshake(f);
    assert_int_equal(px_tcp_flow_count(f->t), 1);
    feed(f, seg(SERVER, 1000, PX_TCP_FIN, r, nr)); /* data with FIN is delivered */
    assert_int_equal(f->s.n, 1);
    assert_int_equal(px_tcp_flow_count(f->t), 1); /* half closed */
    feed(f, seg(CLIENT, 5000, PX_TCP_FIN, NULL, 0));
    assert_int_equal(px_tcp_flow_count(f->t), 0);

    handshake(f);
    assert_int_equal(px_tcp_flow_count(f->t), 1);
    feed(f, seg(CLIENT, 5000, PX_TCP_RST, NULL, 0));
    assert_int_equal(px_tcp_flow_count(f->t), 0);
    assert_int_equal(px_tcp_get_stats(f->t)->flows_closed, 2);
}

static void test_seq_wraparound(void **state)
{
    fixture *f = *state;
    uint8_t m[128];
    size_t n = dns_msg(m, 11, true);
    feed(f, seg(SERVER, 0xfffffff0u - 1, PX_TCP_SYN, NULL, 0));
    feed(f, seg(SERVER, 0xfffffff0u, 0, m, 30));
    feed(f, seg(SERVER, 0xfffffff0u + 30, 0, m + 30, n - 30)); /* wraps past 0 */
    assert_int_equal(f->s.n, 1);
    assert_int_equal(f->s.ids[0], 11);
}

static void test_acked_hole_skipped(void **state)
{
    fixture *f = *state;
    uint8_t m[256];
    size_t n1 = dns_msg(m, 1, true);
    size_t n = n1 + dns_msg(m + n1, 2, true);
    handshake(f);
    /* the first message never shows (capture loss), the second does */
    feed(f, seg(SERVER, (uint32_t)(1000 + n1), 0, m + n1, n - n1));
    assert_int_equal(f->s.n, 0);
    /* the client acknowledges all: the hole will not be retransmitted */
    px_pkt ack = seg(CLIENT, 5000, 0, NULL, 0);
    ack.tcp_ack = (uint32_t)(1000 + n);
    px_tcp_segment(f->t, &ack, 1000);
    assert_int_equal(f->s.n, 1);
    assert_int_equal(f->s.ids[0], 2);
    assert_int_equal(f->s.sport[0], 53); /* delivered with the server's direction */
    assert_int_equal(px_tcp_get_stats(f->t)->gaps, 1);
}

static void test_hole_given_up_when_full(void **state)
{
    (void)state;
    seen s = {0};
    px_tcp_limits lim = {.max_ooo = 2};
    px_tcp *t = px_tcp_create(&lim, collect, &s);
    uint8_t m[4][128];
    size_t n = dns_msg(m[0], 0, true);
    for (int i = 1; i < 4; i++)
        dns_msg(m[i], (uint16_t)i, true);
    px_pkt p = seg(SERVER, 999, PX_TCP_SYN, NULL, 0);
    px_tcp_segment(t, &p, 1);
    /* message 0 is lost; 1 and 2 are buffered; 3 overflows the buffer */
    for (int i = 1; i < 4; i++) {
        p = seg(SERVER, (uint32_t)(1000 + i * n), 0, m[i], n);
        p.tcp_flags = 0; /* no ack info */
        px_tcp_segment(t, &p, 1);
    }
    assert_int_equal(s.n, 3);
    assert_int_equal(s.ids[0], 1);
    assert_int_equal(s.ids[2], 3);
    px_tcp_destroy(t);
}

static void test_idle_expiry_and_eviction(void **state)
{
    (void)state;
    seen s = {0};
    px_tcp_limits lim = {.max_flows = 2, .idle_timeout = 10};
    px_tcp *t = px_tcp_create(&lim, collect, &s);
    px_pkt p = seg(SERVER, 1, PX_TCP_SYN, NULL, 0);
    for (uint16_t port = 1; port <= 3; port++) {
        p.dport = port;
        px_tcp_segment(t, &p, 100);
    }
    assert_int_equal(px_tcp_flow_count(t), 2);
    assert_int_equal(px_tcp_get_stats(t)->flows_evicted, 1);
    p.dport = 4;
    px_tcp_segment(t, &p, 200); /* the two others are idle by now */
    assert_int_equal(px_tcp_flow_count(t), 1);
    assert_int_equal(px_tcp_get_stats(t)->flows_expired, 2);
    px_tcp_destroy(t);
}

/* A reassembler with a budget of 1000 bytes and the server's SYN seen. */
static px_tcp *budget_of_1000(seen *s)
{
    px_tcp_limits lim = {.max_total_bytes = 1000};
    px_tcp *t = px_tcp_create(&lim, collect, s);
    assert_non_null(t);
    px_pkt p = seg(SERVER, 0, PX_TCP_SYN, NULL, 0);
    px_tcp_segment(t, &p, 1);
    return t;
}

static void test_budget(void **state)
{
    (void)state;
    seen s = {0};
    px_tcp *t = budget_of_1000(&s);
    uint8_t big[2000];
    memset(big, 0, sizeof(big));
    big[0] = 0x07; /* a 1800-byte message never completes */
    big[1] = 0x08;
    px_pkt p = seg(SERVER, 1, 0, big, 1500);
    px_tcp_segment(t, &p, 1);
    assert_int_equal(s.n, 0);
    assert_true(px_tcp_get_stats(t)->over_budget >= 1);
    px_tcp_destroy(t);
}

/* A pending message may take what the budget has left, not only a
 * doubling of its buffer that fits: 602 bytes within a budget of 1000. */
static void test_budget_used_whole(void **state)
{
    (void)state;
    seen s = {0};
    px_tcp *t = budget_of_1000(&s);
    uint8_t m[602];
    memset(m, 0, sizeof(m));
    m[0] = 0x02; /* a 600-byte message, id 7, in two segments */
    m[1] = 0x58;
    m[3] = 7;
    px_pkt p = seg(SERVER, 1, 0, m, 300);
    px_tcp_segment(t, &p, 1);
    assert_int_equal(s.n, 0);
    p = seg(SERVER, 301, 0, m + 300, sizeof(m) - 300);
    px_tcp_segment(t, &p, 1);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.ids[0], 7);
    assert_int_equal(s.lens[0], 600);
    assert_int_equal(px_tcp_get_stats(t)->over_budget, 0);
    px_tcp_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_length_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_messages_one_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_and_a_half, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retransmission, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_syn_resync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_syn_at_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailing_junk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_both_directions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fin_and_rst_free_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seq_wraparound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acked_hole_skipped, setup, teardown),
        cmocka_unit_test(test_hole_given_up_when_full),
        cmocka_unit_test(test_idle_expiry_and_eviction),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_budget_used_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
