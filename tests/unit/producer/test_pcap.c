/* Unit tests of the pcap inputs: px_pkt decoding of crafted frames for
 * every link type, VLAN tags, IPv6 extension headers and fragments; the
 * pcap-file input end to end on files written here with pcap_dump(); every
 * capture of the shared corpus; pcap-live start/stop on loopback. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics_read.h"
#include "px_fixture.h"

#include "px_input_impl.h"
#include "core/px_metrics.h"
#include "px_pcapf.h"
#include "px_pkt.h"

/* ---- packet crafting ---- */

static const uint8_t V4_SERVER[4] = {198, 51, 100, 53}, V4_CLIENT[4] = {192, 0, 2, 7};
static const uint8_t V6_SERVER[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x53};
static const uint8_t V6_CLIENT[16] = {0x20, 0x01, 0x0d, 0xb8, [14] = 1, [15] = 7};

/* A DNS response "example.com A 192.0.2.1" with the given ID. */
static size_t dns_response(uint8_t *out, uint16_t id, bool qr)
{
    static const uint8_t body[] = {
        0x81, 0x80, 0,   1, 0,   1,   0,   0, 0, 0,   7, 'e', 'x',  'a', 'm',
        'p',  'l',  'e', 3, 'c', 'o', 'm', 0, 0, 1,   0, 1,   0xc0, 12,  0,
        1,    0,    1,   0, 0,   0,   60,  0, 4, 192, 0, 2,   1,
    };
    out[0] = (uint8_t)(id >> 8);
    out[1] = (uint8_t)id;
    memcpy(out + 2, body, sizeof(body));
    if (!qr)
        out[2] &= 0x7f;
    return 2 + sizeof(body);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static size_t udp_hdr(uint8_t *out, uint16_t sport, uint16_t dport, const uint8_t *pl, size_t n)
{
    put16(out, sport);
    put16(out + 2, dport);
    put16(out + 4, (uint16_t)(8 + n));
    put16(out + 6, 0);
    memcpy(out + 8, pl, n);
    return 8 + n;
}

static size_t tcp_hdr(uint8_t *out, uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags,
                      const uint8_t *pl, size_t n)
{
    memset(out, 0, 20);
    put16(out, sport);
    put16(out + 2, dport);
    out[4] = (uint8_t)(seq >> 24);
    out[5] = (uint8_t)(seq >> 16);
    out[6] = (uint8_t)(seq >> 8);
    out[7] = (uint8_t)seq;
    out[12] = 5 << 4;
    out[13] = flags;
    if (n)
        memcpy(out + 20, pl, n);
    return 20 + n;
}

/* IPv4 header + l4 bytes; frag_off in bytes, more = MF flag. */
static size_t ip4(uint8_t *out, const uint8_t *src, const uint8_t *dst, uint8_t proto, uint16_t id,
                  size_t frag_off, bool more, const uint8_t *l4, size_t n)
{
    memset(out, 0, 20);
    out[0] = 0x45;
    put16(out + 2, (uint16_t)(20 + n));
    put16(out + 4, id);
    put16(out + 6, (uint16_t)((more ? 0x2000 : 0) | (frag_off / 8)));
    out[8] = 64;
    out[9] = proto;
    memcpy(out + 12, src, 4);
    memcpy(out + 16, dst, 4);
    memcpy(out + 20, l4, n);
    return 20 + n;
}

static size_t ip6(uint8_t *out, const uint8_t *src, const uint8_t *dst, uint8_t next,
                  const uint8_t *pl, size_t n)
{
    memset(out, 0, 40);
    out[0] = 0x60;
    put16(out + 4, (uint16_t)n);
    out[6] = next;
    out[7] = 64;
    memcpy(out + 8, src, 16);
    memcpy(out + 24, dst, 16);
    memcpy(out + 40, pl, n);
    return 40 + n;
}

/* Wraps an IP packet in a link header of type dlt. */
static size_t link_wrap(int dlt, uint8_t *out, const uint8_t *ip, size_t n, bool v6)
{
    size_t h = 0;
    uint16_t etype = v6 ? 0x86dd : 0x0800;
    switch (dlt) {
    case PX_PKT_DLT_EN10MB:
        memset(out, 0xaa, 12);
        put16(out + 12, etype);
        h = 14;
        break;
    case PX_PKT_DLT_LINUX_SLL:
        memset(out, 0, 14);
        put16(out + 14, etype);
        h = 16;
        break;
    case PX_PKT_DLT_LINUX_SLL2:
        memset(out, 0, 20);
        put16(out, etype);
        h = 20;
        break;
    case PX_PKT_DLT_NULL: /* host order of a little-endian capturer */
        memset(out, 0, 4);
        out[0] = v6 ? 30 : 2;
        h = 4;
        break;
    case PX_PKT_DLT_LOOP: /* network order */
        memset(out, 0, 4);
        out[3] = v6 ? 24 : 2;
        h = 4;
        break;
    default: /* raw */
        break;
    }
    memcpy(out + h, ip, n);
    return h + n;
}

/* A UDP response from the server's port 53, as IP bytes. */
static size_t udp_response_ip(uint8_t *out, bool v6, uint16_t id)
{
    uint8_t dns[128], l4[256];
    size_t n = dns_response(dns, id, true);
    size_t l = udp_hdr(l4, 53, 40000, dns, n);
    if (v6)
        return ip6(out, V6_SERVER, V6_CLIENT, 17, l4, l);
    return ip4(out, V4_SERVER, V4_CLIENT, 17, 1, 0, false, l4, l);
}

static void assert_response(const px_pkt *p, bool v6, uint16_t id)
{
    uint8_t dns[128];
    size_t n = dns_response(dns, id, true);
    assert_int_equal(p->ip_version, v6 ? 6 : 4);
    assert_int_equal(p->proto, PX_PKT_UDP);
    assert_int_equal(p->sport, 53);
    assert_int_equal(p->dport, 40000);
    assert_memory_equal(p->src, v6 ? V6_SERVER : V4_SERVER, v6 ? 16 : 4);
    assert_memory_equal(p->dst, v6 ? V6_CLIENT : V4_CLIENT, v6 ? 16 : 4);
    assert_int_equal(p->len, n);
    assert_memory_equal(p->payload, dns, n);
}

/* ---- px_pkt ---- */

static void test_link_types(void **state)
{
    (void)state;
    static const int dlts[] = {
        PX_PKT_DLT_EN10MB, PX_PKT_DLT_LINUX_SLL, PX_PKT_DLT_LINUX_SLL2,   PX_PKT_DLT_NULL,
        PX_PKT_DLT_LOOP,   PX_PKT_DLT_RAW,       PX_PKT_DLT_LINKTYPE_RAW,
    };
    px_pkt_decoder *d = px_pkt_decoder_create(NULL);
    uint8_t ip[512], frame[600];
    px_pkt p;
    for (size_t i = 0; i < sizeof(dlts) / sizeof(dlts[0]); i++) {
        for (int v6 = 0; v6 <= 1; v6++) {
            size_t n = udp_response_ip(ip, v6, (uint16_t)i);
            size_t f = link_wrap(dlts[i], frame, ip, n, v6);
            assert_int_equal(px_pkt_decode(d, dlts[i], frame, f, 1, &p), PX_PKT_OK);
            assert_response(&p, v6, (uint16_t)i);
        }
    }
    /* DLT_IPV4 / DLT_IPV6 are raw IP of one version */
    size_t n = udp_response_ip(ip, false, 1);
    assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_IPV4, ip, n, 1, &p), PX_PKT_OK);
    assert_response(&p, false, 1);
    n = udp_response_ip(ip, true, 2);
    assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_IPV6, ip, n, 1, &p), PX_PKT_OK);
    assert_response(&p, true, 2);
    /* DLT_NULL written by a big-endian host */
    n = udp_response_ip(ip, true, 3);
    size_t f = link_wrap(PX_PKT_DLT_LOOP, frame, ip, n, true);
    assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_NULL, frame, f, 1, &p), PX_PKT_OK);
    assert_response(&p, true, 3);
    px_pkt_decoder_destroy(d);
}

static void test_vlan_and_padding(void **state)
{
    (void)state;
    px_pkt_decoder *d = px_pkt_decoder_create(NULL);
    uint8_t ip[512], frame[600];
    size_t n = udp_response_ip(ip, false, 42);
    memset(frame, 0xaa, 12);
    put16(frame + 12, 0x88a8); /* 802.1ad outer tag */
    put16(frame + 14, 100);
    put16(frame + 16, 0x8100); /* 802.1Q inner tag */
    put16(frame + 18, 11);
    put16(frame + 20, 0x0800);
    memcpy(frame + 22, ip, n);
    memset(frame + 22 + n, 0, 20); /* trailer padding beyond the IP length */
    px_pkt p;
    assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_EN10MB, frame, 22 + n + 20, 1, &p), PX_PKT_OK);
    assert_response(&p, false, 42);
    /* an IPv6 packet with padding too */
    n = udp_response_ip(ip, true, 43);
    size_t f = link_wrap(PX_PKT_DLT_EN10MB, frame, ip, n, true);
    memset(frame + f, 0, 6);
    assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_EN10MB, frame, f + 6, 1, &p), PX_PKT_OK);
    assert_response(&p, true, 43);
    px_pkt_decoder_destroy(d);
}

static void test_ipv4_options(void **state)
{
    (void)state;
    px_pkt_decoder *d = px_pkt_decoder_create(NULL);
    uint8_t ip[512], opt[512];
    size_t n = udp_response_ip(ip, false, 5);
    /* insert 8 bytes of options (NOPs) after the 20-byte header */
    memcpy(opt, ip, 20);
    memset(opt + 20, 1, 8);
    memcpy(opt + 28, ip + 20, n - 20);
    opt[0] = 0x47;
    put16(opt + 2, (uint16_t)(n + 8));
    px_pkt p;
    assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_RAW, opt, n + 8, 1, &p), PX_PKT_OK);
    assert_response(&p, false, 5);
    px_pkt_decoder_destroy(d);
}

static void test_ipv6_extension_headers(void **state)
{
    (void)state;
    px_pkt_decoder *d = px_pkt_decoder_create(NULL);
    uint8_t dns[128], l4[256], pl[512], ip[600];
    size_t n = dns_response(dns, 77, true);
    size_t l = udp_hdr(l4, 53, 40000, dns, n);
    size_t o = 0;
    /* hop-by-hop (8 bytes) -> routing (24 bytes) -> destination options (16) -> UDP */
    memset(pl, 0, 48);
    pl[0] = 43;
    pl[1] = 0;
    pl[8] = 60;
    pl[9] = 2;
    pl[32] = 17;
    pl[33] = 1;
    o = 48;
    memcpy(pl + o, l4, l);
    size_t f = ip6(ip, V6_SERVER, V6_CLIENT, 0, pl, o + l);
    px_pkt p;
    assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_RAW, ip, f, 1, &p), PX_PKT_OK);
    assert_response(&p, true, 77);
    /* the same with an extension header length running past the packet */
    pl[33] = 200;
    f = ip6(ip, V6_SERVER, V6_CLIENT, 0, pl, o + l);
    assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_RAW, ip, f, 1, &p), PX_PKT_BAD_IP);
    px_pkt_decoder_destroy(d);
}

/* A UDP datagram with a 200-byte payload, as l4 bytes. */
static size_t big_datagram(uint8_t *l4, uint8_t *dns)
{
    size_t n = dns_response(dns, 0xbeef, true);
    memset(dns + n, 0x5a, 200 - n); /* padding the response out */
    return udp_hdr(l4, 53, 40000, dns, 200);
}

static void test_ipv4_fragments(void **state)
{
    (void)state;
    px_pkt_decoder *d = px_pkt_decoder_create(NULL);
    uint8_t l4[300], dns[300], f1[300], f2[300], f3[300];
    size_t l = big_datagram(l4, dns);
    size_t n1 = ip4(f1, V4_SERVER, V4_CLIENT, 17, 9, 0, true, l4, 80);
    size_t n2 = ip4(f2, V4_SERVER, V4_CLIENT, 17, 9, 80, true, l4 + 80, 80);
    size_t n3 = ip4(f3, V4_SERVER, V4_CLIENT, 17, 9, 160, false, l4 + 160, l - 160);
    px_pkt p;
    /* out of order, with a duplicate */
    assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_RAW, f3, n3, 1, &p), PX_PKT_FRAG_HELD);
    assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_RAW, f1, n1, 1, &p), PX_PKT_FRAG_HELD);
    assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_RAW, f1, n1, 1, &p), PX_PKT_FRAG_HELD);
    assert_int_equal(px_pkt_frag_pending(d), 1);
    assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_RAW, f2, n2, 1, &p), PX_PKT_OK);
    assert_int_equal(p.sport, 53);
    assert_int_equal(p.len, 200);
    assert_memory_equal(p.payload, dns, 200);
    assert_int_equal(px_pkt_frag_pending(d), 0);

    /* a datagram whose rest never comes is dropped after the timeout */
    assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_RAW, f1, n1, 100, &p), PX_PKT_FRAG_HELD);
    n3 = ip4(f3, V4_SERVER, V4_CLIENT, 17, 10, 160, false, l4 + 160, l - 160);
    assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_RAW, f3, n3, 200, &p), PX_PKT_FRAG_HELD);
    assert_int_equal(px_pkt_frag_expired(d), 1);
    assert_int_equal(px_pkt_frag_pending(d), 1);

    /* a middle fragment whose length is not a multiple of 8 is malformed */
    n2 = ip4(f2, V4_SERVER, V4_CLIENT, 17, 11, 80, true, l4 + 80, 81);
    assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_RAW, f2, n2, 200, &p), PX_PKT_BAD_FRAG);
    px_pkt_decoder_destroy(d);
}

static size_t ip6_frag(uint8_t *out, uint32_t id, size_t off, bool more, const uint8_t *data,
                       size_t n)
{
    uint8_t pl[400];
    memset(pl, 0, 8);
    pl[0] = 17;
    put16(pl + 2, (uint16_t)(off | (more ? 1 : 0)));
    pl[4] = (uint8_t)(id >> 24);
    pl[7] = (uint8_t)id;
    memcpy(pl + 8, data, n);
    return ip6(out, V6_SERVER, V6_CLIENT, 44, pl, 8 + n);
}

static void test_ipv6_fragments(void **state)
{
    (void)state;
    px_pkt_limits lim = {.max_datagrams = 2};
    px_pkt_decoder *d = px_pkt_decoder_create(&lim);
    uint8_t l4[300], dns[300], f1[400], f2[400];
    size_t l = big_datagram(l4, dns);
    size_t n1 = ip6_frag(f1, 0x01000005, 0, true, l4, 104);
    size_t n2 = ip6_frag(f2, 0x01000005, 104, false, l4 + 104, l - 104);
    px_pkt p;
    assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_RAW, f2, n2, 1, &p), PX_PKT_FRAG_HELD);
    assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_RAW, f1, n1, 1, &p), PX_PKT_OK);
    assert_int_equal(p.ip_version, 6);
    assert_int_equal(p.len, 200);
    assert_memory_equal(p.payload, dns, 200);
    /* the table is bounded: a third datagram evicts the oldest */
    for (uint32_t id = 1; id <= 3; id++) {
        n1 = ip6_frag(f1, id, 0, true, l4, 104);
        assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_RAW, f1, n1, id, &p), PX_PKT_FRAG_HELD);
    }
    assert_int_equal(px_pkt_frag_pending(d), 2);
    assert_int_equal(px_pkt_frag_expired(d), 1);
    px_pkt_decoder_destroy(d);
}

static void test_malformed(void **state)
{
    (void)state;
    px_pkt_decoder *d = px_pkt_decoder_create(NULL);
    uint8_t ip[512], frame[600];
    px_pkt p;
    /* every cut of a frame short of the whole IP packet is refused */
    for (int v6 = 0; v6 <= 1; v6++) {
        size_t n = udp_response_ip(ip, v6, 1);
        size_t f = link_wrap(PX_PKT_DLT_EN10MB, frame, ip, n, v6);
        for (size_t cut = 0; cut < f; cut++)
            assert_int_not_equal(px_pkt_decode(d, PX_PKT_DLT_EN10MB, frame, cut, 1, &p), PX_PKT_OK);
    }
    size_t n = udp_response_ip(ip, false, 1);
    ip[0] = 0x44; /* IHL below 5 */
    assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_RAW, ip, n, 1, &p), PX_PKT_BAD_IP);
    n = udp_response_ip(ip, false, 1);
    put16(ip + 24, 7); /* UDP length below its header */
    assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_RAW, ip, n, 1, &p), PX_PKT_BAD_UDP);
    n = udp_response_ip(ip, false, 1);
    put16(ip + 2, 10); /* IP total length below the header */
    assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_RAW, ip, n, 1, &p), PX_PKT_BAD_IP);
    n = udp_response_ip(ip, false, 1);
    ip[9] = 1; /* ICMP */
    assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_RAW, ip, n, 1, &p), PX_PKT_OTHER_PROTO);
    ip[0] = 0x55; /* IP version 5 */
    assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_RAW, ip, n, 1, &p), PX_PKT_BAD_IP);
    memset(frame, 0, 60);
    put16(frame + 12, 0x0806); /* ARP */
    assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_EN10MB, frame, 60, 1, &p), PX_PKT_NOT_IP);
    assert_int_equal(px_pkt_decode(d, 147, frame, 60, 1, &p), PX_PKT_BAD_LINKTYPE);
    /* a TCP data offset beyond the segment */
    uint8_t l4[64];
    size_t l = tcp_hdr(l4, 53, 40000, 1, PX_TCP_ACK, NULL, 0);
    l4[12] = 15 << 4;
    n = ip4(ip, V4_SERVER, V4_CLIENT, 6, 1, 0, false, l4, l);
    assert_int_equal(px_pkt_decode(d, PX_PKT_DLT_RAW, ip, n, 1, &p), PX_PKT_BAD_TCP);
    px_pkt_decoder_destroy(d);
}

/* ---- the pcap-file input ---- */

#define MAX_EVENTS 256

typedef struct events {
    size_t n;
    px_dns_event ev[MAX_EVENTS];
    uint16_t ids[MAX_EVENTS];
} events;

static void sink(void *ctx, const px_dns_event *ev)
{
    events *e = ctx;
    if (e->n < MAX_EVENTS) {
        e->ev[e->n] = *ev;
        e->ev[e->n].msg = NULL; /* not valid after the call */
        e->ids[e->n] = (uint16_t)((ev->msg[0] << 8) | ev->msg[1]);
    }
    e->n++;
}

static char tmpdir[64];

static int make_tmpdir(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/px_test_pcap_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    DIR *dir = opendir(tmpdir);
    struct dirent *de;
    char path[512];
    while (dir && (de = readdir(dir))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
        unlink(path);
    }
    if (dir)
        closedir(dir);
    rmdir(tmpdir);
    return 0;
}

typedef struct writer {
    pcap_t *dead;
    pcap_dumper_t *dump;
    uint32_t nsec;
} writer;

static void writer_open(writer *w, const char *path, int dlt)
{
    w->dead = pcap_open_dead_with_tstamp_precision(dlt, 65535, PCAP_TSTAMP_PRECISION_NANO);
    assert_non_null(w->dead);
    w->dump = pcap_dump_open(w->dead, path);
    assert_non_null(w->dump);
    w->nsec = 123456789;
}

static void writer_put(writer *w, const uint8_t *frame, size_t n)
{
    struct pcap_pkthdr h = {.caplen = (bpf_u_int32)n, .len = (bpf_u_int32)n};
    h.ts.tv_sec = 1700000000;
    h.ts.tv_usec = w->nsec++; /* nanoseconds in a nanosecond-precision file */
    pcap_dump((u_char *)w->dump, &h, frame);
}

static void writer_close(writer *w)
{
    pcap_dump_close(w->dump);
    pcap_close(w->dead);
}

static void put_eth(writer *w, const uint8_t *ip, size_t n, bool v6)
{
    uint8_t frame[2048];
    writer_put(w, frame, link_wrap(PX_PKT_DLT_EN10MB, frame, ip, n, v6));
}

static void put_udp4(writer *w, uint16_t sport, uint16_t dport, const uint8_t *pl, size_t n)
{
    uint8_t l4[1024], ip[1100];
    size_t l = udp_hdr(l4, sport, dport, pl, n);
    put_eth(w, ip, ip4(ip, V4_SERVER, V4_CLIENT, 17, 1, 0, false, l4, l), false);
}

static void put_tcp4(writer *w, bool from_server, uint32_t seq, uint8_t flags, const uint8_t *pl,
                     size_t n)
{
    uint8_t l4[1024], ip[1100];
    size_t l = tcp_hdr(l4, from_server ? 53 : 40001, from_server ? 40001 : 53, seq, flags, pl, n);
    size_t i = from_server ? ip4(ip, V4_SERVER, V4_CLIENT, 6, 1, 0, false, l4, l)
                           : ip4(ip, V4_CLIENT, V4_SERVER, 6, 1, 0, false, l4, l);
    put_eth(w, ip, i, false);
}

/* The test capture: 4 responses among things that are not. Returns the
 * file offset where the last record starts. */
static long write_test_capture(const char *path)
{
    writer w;
    writer_open(&w, path, DLT_EN10MB);
    uint8_t dns[128], tcp[256];
    size_t n = dns_response(dns, 1, false);
    put_udp4(&w, 40000, 53, dns, n); /* a query: not an event */
    n = dns_response(dns, 1, true);
    put_udp4(&w, 53, 40000, dns, n); /* event 1 */
    n = dns_response(dns, 2, true);
    put_udp4(&w, 5300, 40000, dns, n); /* event 2: a response off port 53 */
    put_udp4(&w, 5353, 5353, dns, n);  /* mDNS: not an event */
    memset(dns, 0xff, 40);
    put_udp4(&w, 9999, 40000, dns, 40); /* QR bit set but not DNS */
    uint8_t arp[60] = {[12] = 0x08, [13] = 0x06};
    writer_put(&w, arp, sizeof(arp));
    /* event 3: DNS over TCP, the response split over two segments */
    put_tcp4(&w, false, 100, PX_TCP_SYN, NULL, 0);
    put_tcp4(&w, true, 500, PX_TCP_SYN | PX_TCP_ACK, NULL, 0);
    n = dns_response(tcp + 2, 3, true);
    put16(tcp, (uint16_t)n);
    put_tcp4(&w, true, 501, PX_TCP_ACK, tcp, 10);
    put_tcp4(&w, true, 511, PX_TCP_ACK, tcp + 10, n + 2 - 10);
    pcap_dump_flush(w.dump);
    long last = pcap_dump_ftell(w.dump);
    /* event 4: IPv6 */
    uint8_t ip[512];
    put_eth(&w, ip, udp_response_ip(ip, true, 4), true);
    writer_close(&w);
    return last;
}

/* What the input reported (px_input_conf.log), one "LEVEL message" line
 * per report, since read_file() began. */
static char reports[16384];

static void report(void *ctx, int level, const char *msg)
{
    (void)ctx;
    size_t used = strlen(reports);
    snprintf(reports + used, sizeof(reports) - used, "%d %s\n", level, msg);
}

static void *open_file(const char *path, const char *filter, events *e, char *err, size_t errlen)
{
    px_input_conf conf = {
        .type = PX_INPUT_PCAP_FILE, .path = path, .filter = filter, .log_fn = report};
    return px_pcap_input_open(&conf, sink, e, err, errlen);
}

static px_err read_file(const char *path, const char *filter, events *e)
{
    char err[256] = "";
    memset(e, 0, sizeof(*e));
    reports[0] = '\0';
    void *in = open_file(path, filter, e, err, sizeof(err));
    if (!in)
        fail_msg("open %s: %s", path, err);
    px_err rc = px_pcap_input_ops.run(in);
    px_pcap_input_ops.destroy(in);
    return rc;
}

static void test_file_end_to_end(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/e2e.pcap", tmpdir);
    write_test_capture(path);
    uint64_t queries = pxt_metric("pdnsx_input_ignored_total{input=\"pcap\",reason=\"query\"}");
    events e;
    assert_int_equal(read_file(path, NULL, &e), PX_OK);
    assert_int_equal(e.n, 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(e.ids[i], i + 1);
    /* time from the (nanosecond) pcap header of each packet */
    assert_int_equal(e.ev[0].time_sec, 1700000000);
    assert_int_equal(e.ev[0].time_nsec, 123456789 + 1);
    /* the client is the destination, the server the source */
    assert_int_equal(e.ev[0].client.family, 4);
    assert_memory_equal(e.ev[0].client.bytes, V4_CLIENT, 4);
    assert_int_equal(e.ev[0].client.port, 40000);
    assert_memory_equal(e.ev[0].server.bytes, V4_SERVER, 4);
    assert_int_equal(e.ev[0].server.port, 53);
    assert_int_equal(e.ev[1].server.port, 5300);
    assert_int_equal(e.ev[2].client.port, 40001);
    assert_null(e.ev[2].query_zone);
    assert_int_equal(e.ev[3].server.family, 6);
    assert_memory_equal(e.ev[3].server.bytes, V6_SERVER, 16);
    assert_true(pxt_metric("pdnsx_input_ignored_total{input=\"pcap\",reason=\"query\"}") > queries);
}

/* What the input holds shows in gauges while it runs (fragments waiting
 * for the rest of their datagram, TCP flows followed) and goes with it;
 * datagrams given up on are counted. */
static void test_file_gauges(void **state)
{
    (void)state;
    static const char pend[] = "pdnsx_input_fragments_pending{input=\"pcap\"}",
                      flows[] = "pdnsx_input_tcp_flows{input=\"pcap\"}",
                      expired[] = "pdnsx_input_fragments_expired_total{input=\"pcap\"}";
    char path[128], err[256] = "";
    snprintf(path, sizeof(path), "%s/gauges.pcap", tmpdir);
    writer w;
    writer_open(&w, path, DLT_EN10MB);
    uint8_t l4[300], dns[300], ip[400];
    big_datagram(l4, dns);
    /* first fragments of 65 datagrams: the table holds 64, the oldest goes */
    for (uint16_t id = 1; id <= 65; id++)
        put_eth(&w, ip, ip4(ip, V4_SERVER, V4_CLIENT, 17, id, 0, true, l4, 80), false);
    /* a TCP flow that never ends */
    put_tcp4(&w, false, 100, PX_TCP_SYN, NULL, 0);
    put_tcp4(&w, true, 500, PX_TCP_SYN | PX_TCP_ACK, NULL, 0);
    writer_close(&w);
    uint64_t pend0 = pxt_metric(pend), flows0 = pxt_metric(flows), expired0 = pxt_metric(expired);
    events e;
    memset(&e, 0, sizeof(e));
    void *in = open_file(path, NULL, &e, err, sizeof(err));
    assert_non_null(in);
    assert_int_equal(px_pcap_input_ops.run(in), PX_OK);
    assert_int_equal(pxt_metric(pend), pend0 + 64);
    assert_int_equal(pxt_metric(flows), flows0 + 1);
    assert_int_equal(pxt_metric(expired), expired0 + 1);
    px_pcap_input_ops.destroy(in);
    assert_int_equal(pxt_metric(pend), pend0);
    assert_int_equal(pxt_metric(flows), flows0);
    assert_int_equal(pxt_metric(expired), expired0 + 1);
}

static void test_file_filter(void **state)
{
    (void)state;
    char path[128], err[256];
    snprintf(path, sizeof(path), "%s/filter.pcap", tmpdir);
    write_test_capture(path);
    events e;
    assert_int_equal(read_file(path, "udp port 5300", &e), PX_OK);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.ids[0], 2);
    assert_null(open_file(path, "port nonsense", &e, err, sizeof(err)));
    assert_non_null(strstr(err, "nonsense"));
}

/* Expects a report line containing each of the strings (NULL-ended). */
static void expect_report(const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    for (const char *want = first; want; want = va_arg(ap, const char *))
        if (!strstr(reports, want))
            fail_msg("no report says \"%s\"; reports:\n%s", want, reports);
    va_end(ap);
}

/* A file cut short: what is whole is read, and the input ends with an
 * error that says where and why (it used to end as if the file were
 * whole, saying nothing). */
static void test_file_truncated(void **state)
{
    (void)state;
    char path[128], at[64];
    snprintf(path, sizeof(path), "%s/cut.pcap", tmpdir);
    long last = write_test_capture(path);
    /* cut the last record in the middle of its packet bytes */
    assert_int_equal(truncate(path, last + 16 + 30), 0);
    const char *m = "pdnsx_input_malformed_total{input=\"pcap\",reason=\"truncated_file\"}";
    const char *cut = "pdnsx_input_file_errors_total{input=\"pcap\",reason=\"truncated\"}";
    const char *skip = "pdnsx_input_skipped_bytes_total{input=\"pcap\"}";
    uint64_t before = pxt_metric(m), cut0 = pxt_metric(cut), skip0 = pxt_metric(skip);
    events e;
    assert_int_equal(read_file(path, NULL, &e), PX_ERR_TRUNC);
    assert_int_equal(e.n, 3);
    assert_int_equal(pxt_metric(m), before + 1);
    assert_int_equal(pxt_metric(cut), cut0 + 1);
    assert_int_equal(pxt_metric(skip), skip0 + 16 + 30);
    snprintf(at, sizeof(at), "offset %ld: the file ends 46 bytes into a", last);
    expect_report(path, at, "the last 46 bytes of the file are lost", NULL);
    /* cut inside a record header: what came before is still read */
    assert_int_equal(truncate(path, last + 5), 0);
    assert_int_equal(read_file(path, NULL, &e), PX_ERR_TRUNC);
    assert_int_equal(e.n, 3);
    snprintf(at, sizeof(at), "offset %ld: the file ends 5 bytes into a 16-byte record header",
             last);
    expect_report(at, NULL);
}

/* A capture of n DNS responses (IDs 1..n) over UDP, one a second from
 * 1700000000; rec[i] gets the file offset of record i. */
static void write_responses(const char *path, size_t n, long *rec)
{
    writer w;
    writer_open(&w, path, DLT_EN10MB);
    for (size_t i = 0; i < n; i++) {
        uint8_t dns[128], l4[256], ip[300], frame[400];
        size_t d = dns_response(dns, (uint16_t)(i + 1), true);
        size_t l = udp_hdr(l4, 53, 40000, dns, d);
        size_t f =
            link_wrap(PX_PKT_DLT_EN10MB, frame, ip,
                      ip4(ip, V4_SERVER, V4_CLIENT, 17, (uint16_t)i, 0, false, l4, l), false);
        pcap_dump_flush(w.dump);
        rec[i] = pcap_dump_ftell(w.dump);
        struct pcap_pkthdr h = {.caplen = (bpf_u_int32)f, .len = (bpf_u_int32)f};
        h.ts.tv_sec = 1700000000 + (time_t)i;
        h.ts.tv_usec = 500;
        pcap_dump((u_char *)w.dump, &h, frame);
    }
    writer_close(&w);
}

static void patch_u32le(const char *path, long at, uint32_t v)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    assert_int_equal(fseek(f, at, SEEK_SET), 0);
    assert_int_equal(fwrite(b, 1, 4, f), 4);
    fclose(f);
}

/* Issue 9, item 10: a record header with caplen 2^31 among 101 responses.
 * Reading used to end there, silently. Now the damage is reported (file,
 * offset, why), reading resumes at the next record header, the skipped
 * bytes are counted, and the input ends with an error. With a filter the
 * same (libpcap used to read filtered files and stopped there too). */
static void test_file_bad_header_resync(void **state)
{
    (void)state;
    char path[128], at[96];
    snprintf(path, sizeof(path), "%s/caplen.pcap", tmpdir);
    long rec[101];
    write_responses(path, 101, rec);
    patch_u32le(path, rec[1] + 8, 0x80000000u);
    const char *skip = "pdnsx_input_skipped_bytes_total{input=\"pcap\"}";
    const char *resumed = "pdnsx_input_resumed_total{input=\"pcap\"}";
    const char *bad = "pdnsx_input_file_errors_total{input=\"pcap\",reason=\"bad_record\"}";
    for (int filtered = 0; filtered < 2; filtered++) {
        uint64_t skip0 = pxt_metric(skip), res0 = pxt_metric(resumed), bad0 = pxt_metric(bad);
        events e;
        assert_int_equal(read_file(path, filtered ? "udp" : NULL, &e), PX_ERR_MALFORMED);
        /* every response but the one whose header is damaged */
        assert_int_equal(e.n, 100);
        assert_int_equal(e.ids[0], 1);
        for (size_t i = 1; i < 100; i++)
            assert_int_equal(e.ids[i], i + 2);
        assert_int_equal(e.ev[99].time_sec, 1700000100);
        uint64_t skipped = (uint64_t)(rec[2] - rec[1]);
        assert_int_equal(pxt_metric(skip), skip0 + skipped);
        assert_int_equal(pxt_metric(resumed), res0 + 1);
        assert_int_equal(pxt_metric(bad), bad0 + 1);
        snprintf(at, sizeof(at), "offset %ld: record length (caplen) 2147483648 is over", rec[1]);
        expect_report(path, at, NULL);
        snprintf(at, sizeof(at), "reading resumes at offset %ld, %" PRIu64 " bytes skipped", rec[2],
                 skipped);
        expect_report(at, NULL);
    }
}

/* Other damage reading gets past: a stray header between two records,
 * and a stretch of zeros over three records (header and data). */
static void test_file_damage_resync(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/stray.pcap", tmpdir);
    long rec[20];
    write_responses(path, 20, rec);
    /* 16 bytes of garbage inserted before record 5 */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t buf[65536], out[65536];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    memcpy(out, buf, (size_t)rec[5]);
    memset(out + rec[5], 0xee, 16);
    memcpy(out + rec[5] + 16, buf + rec[5], n - (size_t)rec[5]);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(out, 1, n + 16, f), n + 16);
    fclose(f);
    events e;
    assert_int_equal(read_file(path, NULL, &e), PX_ERR_MALFORMED);
    assert_int_equal(e.n, 20);
    for (size_t i = 0; i < 20; i++)
        assert_int_equal(e.ids[i], i + 1);
    expect_report("bytes skipped", NULL);

    /* zeros from the data of the response with ID 8 to that of ID 11: the
     * zeros read as empty records (libpcap takes those too), then ID 11's
     * data as a damaged header; reading resumes at ID 12 */
    write_responses(path, 20, rec);
    f = fopen(path, "r+b");
    assert_non_null(f);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(fseek(f, rec[7] + 20, SEEK_SET), 0);
    assert_int_equal(fwrite(buf, 1, (size_t)(rec[10] - rec[7]), f), (size_t)(rec[10] - rec[7]));
    fclose(f);
    assert_int_equal(read_file(path, NULL, &e), PX_ERR_MALFORMED);
    assert_int_equal(e.n, 16);
    for (size_t i = 0; i < 16; i++)
        assert_int_equal(e.ids[i], i < 7 ? i + 1 : i + 5);
    char at[64];
    snprintf(at, sizeof(at), "reading resumes at offset %ld", rec[11]);
    expect_report(at, NULL);
}

static void test_file_not_pcap(void **state)
{
    (void)state;
    char path[128], err[256] = "";
    snprintf(path, sizeof(path), "%s/text.pcap", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("this is not a capture file, just some text to look at\n", f);
    fclose(f);
    events e;
    assert_null(open_file(path, NULL, &e, err, sizeof(err)));
    assert_non_null(strstr(err, path));
    snprintf(path, sizeof(path), "%s/missing.pcap", tmpdir);
    assert_null(open_file(path, NULL, &e, err, sizeof(err)));
    assert_non_null(strstr(err, path));
    /* a supported file of an unsupported link type fails at open, too */
    snprintf(path, sizeof(path), "%s/usb.pcap", tmpdir);
    writer w;
    writer_open(&w, path, DLT_USB_LINUX);
    writer_close(&w);
    assert_null(open_file(path, NULL, &e, err, sizeof(err)));
    assert_non_null(strstr(err, "not supported"));
}

/* ---- the corpus ---- */

static size_t corpus_count(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/pcap/%s", PX_CORPUS_DIR, name);
    events e;
    assert_int_equal(read_file(path, NULL, &e), PX_OK);
    return e.n;
}

static void test_corpus_all(void **state)
{
    (void)state;
    char dirpath[512];
    snprintf(dirpath, sizeof(dirpath), "%s/pcap", PX_CORPUS_DIR);
    PX_NEED_FILE(dirpath);
    DIR *dir = opendir(dirpath);
    assert_non_null(dir);
    struct dirent *de;
    size_t files = 0, total = 0;
    while ((de = readdir(dir))) {
        if (de->d_name[0] == '.')
            continue;
        total += corpus_count(de->d_name);
        files++;
    }
    closedir(dir);
    assert_true(files > 0);
    assert_true(total > files); /* most captures hold DNS responses */
}

/* Expected numbers of DNS responses, worked out with tcpdump 4.99 when the
 * test was written (not from this code):
 *   UDP over IPv4: tcpdump -r F -nn 'udp src port 53 and udp[10] & 0x80 != 0' | wc -l
 *   (with 'vlan and ...' for the VLAN capture);
 *   TCP: tcpdump -r F -nn -v 'tcp src port 53' and counting the DNS messages
 *   it decodes (a message split over segments is one);
 *   fragments and IPv6: reading tcpdump -nn -v by eye. */
static const struct {
    const char *file;
    size_t responses;
} corpus_expect[] = {
    {"dnscap__dns.pcap", 41},
    {"go-dnscollector__dnsdump_udp.pcap", 16},
    {"dnscap__vlan11.pcap", 41},   /* 802.1Q */
    {"dnscap__sll2.pcap", 1},      /* Linux cooked v2 */
    {"dnscap__dns6.pcap", 1},      /* IPv6 */
    {"dnscap__dnso1tcp.pcap", 41}, /* one response per segment */
    {"dnscap__dnso1tcp-bighole.pcap", 38},
    /* a server segment is missing from the capture but acknowledged: the
     * two responses after the hole are still read */
    {"dnscap__dnso1tcp-midmiss.pcap", 3},
    {"dnscap__do1t-nosyn-1nolen.pcap", 2}, /* no SYN */
    {"dnscap__1qtcpnosyn.pcap", 1},
    {"dnscap__dnsotcp-many1pkt.pcap", 1},
    {"dnscap__dnsotcp-manyopkts.pcap", 0}, /* queries only */
    {"arkime__dns-tcp.pcap", 2},
    {"suricata-verify__dns-tcp-multirequest-buffer.pcap", 20},
    {"go-dnscollector__dnsdump_tcp.pcap", 5},
    {"go-dnscollector__dnsdump_tcp_fastopen.pcap", 4},
    {"dnsjit__tcp-response-with-trailing-junk.pcap", 10}, /* 9 UDP + 1 TCP */
    /* one TC=1 UDP response, then a 32827-byte response over 9 segments */
    {"go-dnscollector__dnsdump_udp_truncated+tcp_fragmented.pcap", 2},
    {"go-dnscollector__dnsdump_ip4_fragmented+udp.pcap", 1}, /* 1702 bytes in fragments */
    {"zeek__ipv6-fragmented-dns.pcap", 2},                   /* one of 3230 bytes */
    {"dnscap__frags.pcap", 41},
    {"nDPI__badpackets.pcap", 0},   /* all 93 packets cut short by the snaplen */
    {"tcpdump__dns_udp_2.pcap", 0}, /* the one response is cut by a 98-byte snaplen */
    {"PacketQ__sample-bigendian.pcap", 1},
};

static void test_corpus_counts(void **state)
{
    (void)state;
    char dirpath[512];
    snprintf(dirpath, sizeof(dirpath), "%s/pcap", PX_CORPUS_DIR);
    PX_NEED_FILE(dirpath);
    for (size_t i = 0; i < sizeof(corpus_expect) / sizeof(corpus_expect[0]); i++) {
        size_t n = corpus_count(corpus_expect[i].file);
        if (n != corpus_expect[i].responses)
            fail_msg("%s: %zu responses, expected %zu", corpus_expect[i].file, n,
                     corpus_expect[i].responses);
    }
}

/* ---- px_pcapf against libpcap ---- */

static size_t pcapf_records;

/* Reads path with libpcap (at nanosecond precision, as pcap-file opens
 * files) and with px_pcapf side by side: the same records (times, lengths,
 * bytes) and the same end (EOF or error). False if px_pcapf does not take
 * the file (or libpcap does not open it). */
static bool pcapf_like_libpcap(const char *path, const char *what, size_t at)
{
    char perr[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, perr);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    px_pcapf *f = p ? px_pcapf_open(fd, (uint32_t)pcap_snapshot(p)) : NULL;
    bool taken = f != NULL;
    for (size_t i = 0; f; i++) {
        struct pcap_pkthdr *lh, h;
        const u_char *ld;
        const uint8_t *d;
        int lrc = pcap_next_ex(p, &lh, &ld);
        int want = lrc == 1 ? 1 : lrc == PCAP_ERROR_BREAK ? 0 : -1;
        int rc = px_pcapf_next(f, &h, &d);
        if (rc != want)
            fail_msg("%s (%zu) record %zu: px_pcapf %d, libpcap %d", what, at, i, rc, lrc);
        if (rc != 1)
            break;
        if (h.ts.tv_sec != lh->ts.tv_sec || h.ts.tv_usec != lh->ts.tv_usec ||
            h.caplen != lh->caplen || h.len != lh->len || memcmp(d, ld, h.caplen) != 0)
            fail_msg("%s (%zu) record %zu: %ld.%ld %u/%u, libpcap %ld.%ld %u/%u", what, at, i,
                     (long)h.ts.tv_sec, (long)h.ts.tv_usec, h.caplen, h.len, (long)lh->ts.tv_sec,
                     (long)lh->ts.tv_usec, lh->caplen, lh->len);
        pcapf_records++;
    }
    px_pcapf_destroy(f);
    close(fd);
    if (p)
        pcap_close(p);
    return taken;
}

static void test_pcapf_corpus(void **state)
{
    (void)state;
    char dirpath[512], path[1024];
    snprintf(dirpath, sizeof(dirpath), "%s/pcap", PX_CORPUS_DIR);
    PX_NEED_FILE(dirpath);
    DIR *dir = opendir(dirpath);
    assert_non_null(dir);
    struct dirent *de;
    size_t taken = 0, files = 0;
    pcapf_records = 0;
    while ((de = readdir(dir))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dirpath, de->d_name);
        bool t = pcapf_like_libpcap(path, de->d_name, 0);
        /* pcapng stays with libpcap */
        if (strstr(de->d_name, ".pcapng"))
            assert_false(t);
        taken += t;
        files++;
    }
    closedir(dir);
    assert_true(taken > files / 2);
    assert_true(pcapf_records > 1000);
}

/* A capture file byte by byte, for headers libpcap writes no more. */
typedef struct rawcap {
    uint8_t b[4096];
    size_t n;
    bool be;
} rawcap;

static void raw_u32(rawcap *c, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        c->b[c->n++] = (uint8_t)(c->be ? v >> (24 - 8 * i) : v >> (8 * i));
}

static void raw_u16(rawcap *c, uint16_t v)
{
    c->b[c->n++] = (uint8_t)(c->be ? v >> 8 : v);
    c->b[c->n++] = (uint8_t)(c->be ? v : v >> 8);
}

static void raw_header(rawcap *c, bool be, uint32_t magic, uint16_t minor, uint32_t snaplen)
{
    c->n = 0;
    c->be = be;
    raw_u32(c, magic);
    raw_u16(c, 2);
    raw_u16(c, minor);
    raw_u32(c, 0);
    raw_u32(c, 0);
    raw_u32(c, snaplen);
    raw_u32(c, DLT_EN10MB);
}

/* A record of caplen bytes (at most 200 written; the rest left out). */
static void raw_record(rawcap *c, uint32_t sec, uint32_t frac, uint32_t caplen, uint32_t len)
{
    raw_u32(c, sec);
    raw_u32(c, frac);
    raw_u32(c, caplen);
    raw_u32(c, len);
    for (uint32_t i = 0; i < caplen && i < 200; i++)
        c->b[c->n++] = (uint8_t)(i * 7);
}

static void raw_write(const rawcap *c, const char *path, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(c->b, 1, len, f), len);
    fclose(f);
}

static void test_pcapf_crafted(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/raw.pcap", tmpdir);
    rawcap c;
    /* both byte orders and both precisions, odd times, snapshot cuts,
     * each file cut at every length */
    static const uint32_t magics[] = {0xa1b2c3d4, 0xa1b23c4d};
    for (int be = 0; be < 2; be++) {
        for (size_t m = 0; m < 2; m++) {
            raw_header(&c, be, magics[m], 4, 80);
            raw_record(&c, 1700000000, 999999, 60, 60);
            raw_record(&c, 0x80000001, 0xffffffff, 42, 1500); /* negative, wrapping */
            raw_record(&c, 1700000001, 3000000, 100, 100);    /* over the snaplen */
            raw_record(&c, 1700000002, 0x80000000, 0, 0);     /* empty */
            raw_record(&c, 1700000003, 4294967, 80, 79);      /* caplen > len */
            for (size_t cut = 0; cut <= c.n; cut++) {
                raw_write(&c, path, cut);
                bool taken = pcapf_like_libpcap(
                    path, be ? (m ? "be-ns" : "be-us") : (m ? "le-ns" : "le-us"), cut);
                assert_int_equal(taken, cut >= 24);
            }
        }
    }
    /* snaplen 0 and over the maximum: libpcap's snapshot applies */
    for (int i = 0; i < 2; i++) {
        raw_header(&c, false, magics[0], 4, i ? 0x7fffffff : 0);
        raw_record(&c, 1, 2, 150, 150);
        raw_write(&c, path, c.n);
        assert_true(pcapf_like_libpcap(path, "snaplen", (size_t)i));
    }
    /* a record over libpcap's maximum is an error, after the good ones */
    raw_header(&c, false, magics[1], 4, 65535);
    raw_record(&c, 1, 2, 10, 10);
    raw_record(&c, 1, 2, PX_PCAPF_MAX_CAPLEN + 1, PX_PCAPF_MAX_CAPLEN + 1);
    raw_write(&c, path, c.n);
    assert_true(pcapf_like_libpcap(path, "huge", 0));
    raw_header(&c, false, magics[1], 4, 65535);
    raw_record(&c, 1, 2, 10, 10);
    raw_record(&c, 1, 2, PX_PCAPF_MAX_CAPLEN, PX_PCAPF_MAX_CAPLEN);
    raw_write(&c, path, c.n);
    assert_true(pcapf_like_libpcap(path, "max", 0));
    /* versions before 2.4 (swapped length fields) and the patched
     * format stay with libpcap */
    raw_header(&c, false, magics[0], 3, 65535);
    raw_record(&c, 1, 2, 10, 10);
    raw_write(&c, path, c.n);
    assert_false(pcapf_like_libpcap(path, "2.3", 0));
    raw_header(&c, false, 0xa1b2cd34, 4, 65535);
    raw_write(&c, path, c.n);
    assert_false(pcapf_like_libpcap(path, "patched", 0));
}

typedef struct fifo_feed {
    const char *fifo, *src;
} fifo_feed;

static void *fifo_feed_run(void *arg)
{
    fifo_feed *ff = arg;
    /* The reader may stop before the end (a damaged record): the write then
     * fails with EPIPE in this thread instead of a SIGPIPE that kills the test. */
    sigset_t pipe_sig;
    sigemptyset(&pipe_sig);
    sigaddset(&pipe_sig, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_sig, NULL);
    FILE *in = fopen(ff->src, "rb");
    int out = open(ff->fifo, O_WRONLY);
    char buf[100];
    size_t n;
    while (in && out >= 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
        if (write(out, buf, n) != (ssize_t)n)
            break;
    if (in)
        fclose(in);
    if (out >= 0)
        close(out);
    return NULL;
}

/* A file on a FIFO still goes through libpcap, with the same events as the
 * regular file read by px_pcapf. */
static void test_file_fifo(void **state)
{
    (void)state;
    char path[128], fifo[128];
    snprintf(path, sizeof(path), "%s/fifo-src.pcap", tmpdir);
    snprintf(fifo, sizeof(fifo), "%s/fifo.pcap", tmpdir);
    write_test_capture(path);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    events direct, piped;
    assert_int_equal(read_file(path, NULL, &direct), PX_OK);
    fifo_feed ff = {fifo, path};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, fifo_feed_run, &ff), 0);
    assert_int_equal(read_file(fifo, NULL, &piped), PX_OK);
    pthread_join(th, NULL);
    assert_int_equal(piped.n, 4);
    assert_int_equal(direct.n, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(piped.ids[i], direct.ids[i]);
        assert_int_equal(piped.ev[i].time_sec, direct.ev[i].time_sec);
        assert_int_equal(piped.ev[i].time_nsec, direct.ev[i].time_nsec);
    }
    unlink(fifo);
}

/* A FIFO is read by libpcap, which cannot read past a damaged header: the
 * report says why and that the rest is lost; the input ends with an error. */
static void test_file_fifo_damaged(void **state)
{
    (void)state;
    char path[128], fifo[128];
    snprintf(path, sizeof(path), "%s/fifo-bad.pcap", tmpdir);
    snprintf(fifo, sizeof(fifo), "%s/fifo-bad", tmpdir);
    long rec[10];
    write_responses(path, 10, rec);
    patch_u32le(path, rec[4] + 8, 0x80000000u);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    fifo_feed ff = {fifo, path};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, fifo_feed_run, &ff), 0);
    events e;
    assert_int_equal(read_file(fifo, NULL, &e), PX_ERR_TRUNC);
    pthread_join(th, NULL);
    assert_int_equal(e.n, 4);
    expect_report(fifo, "invalid packet capture length 2147483648",
                  "libpcap cannot read past a damaged record", NULL);
    unlink(fifo);
}

/* ---- pcap-live ---- */

typedef struct live {
    void *in;
    int pipe[2];
    px_err rc;
} live;

static void live_sink(void *ctx, const px_dns_event *ev)
{
    live *l = ctx;
    (void)ev;
    (void)!write(l->pipe[1], "e", 1);
}

static void *live_run(void *arg)
{
    live *l = arg;
    l->rc = px_pcap_input_ops.run(l->in);
    (void)!write(l->pipe[1], "x", 1);
    return NULL;
}

/* Reads one byte from the pipe, waiting up to ms; 0 if none. */
static char live_wait(live *l, int ms)
{
    struct pollfd pfd = {.fd = l->pipe[0], .events = POLLIN};
    char c = 0;
    if (poll(&pfd, 1, ms) == 1)
        (void)!read(l->pipe[0], &c, 1);
    return c;
}

static void test_live_stop(void **state)
{
    (void)state;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(s >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t alen = sizeof(a);
    getsockname(s, (struct sockaddr *)&a, &alen);
    char filter[64], err[256] = "";
    snprintf(filter, sizeof(filter), "udp and src port %u", ntohs(a.sin_port));
    live l = {0};
    assert_int_equal(pipe(l.pipe), 0);
    px_input_conf conf = {.type = PX_INPUT_PCAP_LIVE, .interface = "lo", .filter = filter};
    l.in = px_pcap_input_open(&conf, live_sink, &l, err, sizeof(err));
    if (!l.in) { /* no capture privilege here */
        close(s);
        skip();
    }
    /* the default filter (port 53 and fragments) compiles too */
    conf.filter = NULL;
    void *dflt = px_pcap_input_open(&conf, live_sink, &l, err, sizeof(err));
    assert_non_null(dflt);
    px_pcap_input_ops.destroy(dflt);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, live_run, &l), 0);
    /* a response to ourselves until the capture shows one: run is running */
    uint8_t dns[128];
    size_t n = dns_response(dns, 5, true);
    char got = 0;
    for (int i = 0; i < 100 && got != 'e'; i++) {
        sendto(s, dns, n, 0, (struct sockaddr *)&a, sizeof(a));
        got = live_wait(&l, 100);
    }
    assert_int_equal(got, 'e');
    px_pcap_input_ops.stop(l.in);
    while ((got = live_wait(&l, 5000)) == 'e')
        ;
    assert_int_equal(got, 'x'); /* run returned within 5 s of stop */
    pthread_join(th, NULL);
    assert_int_equal(l.rc, PX_OK);
    px_pcap_input_ops.destroy(l.in);
    close(l.pipe[0]);
    close(l.pipe[1]);
    close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_types),
        cmocka_unit_test(test_vlan_and_padding),
        cmocka_unit_test(test_ipv4_options),
        cmocka_unit_test(test_ipv6_extension_headers),
        cmocka_unit_test(test_ipv4_fragments),
        cmocka_unit_test(test_ipv6_fragments),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_file_end_to_end),
        cmocka_unit_test(test_file_filter),
        cmocka_unit_test(test_file_truncated),
        cmocka_unit_test(test_file_bad_header_resync),
        cmocka_unit_test(test_file_damage_resync),
        cmocka_unit_test(test_file_fifo_damaged),
        cmocka_unit_test(test_file_not_pcap),
        cmocka_unit_test(test_corpus_all),
        cmocka_unit_test(test_corpus_counts),
        cmocka_unit_test(test_pcapf_corpus),
        cmocka_unit_test(test_pcapf_crafted),
        cmocka_unit_test(test_file_fifo),
        cmocka_unit_test(test_live_stop),
        cmocka_unit_test(test_file_gauges),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
