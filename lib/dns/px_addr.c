/* px_addr.c: address parsing, formatting, and the special-purpose registry.
 *
 * The registry is two prefix tables taken from the IANA IPv4 and IPv6
 * Special-Purpose Address Registries (RFC 6890 and later RFCs), plus
 * multicast and the deprecated ranges that are just as meaningless in an
 * answer. Entries that IANA marks globally reachable and that name real
 * public services (AS112, AMT, PCP/TURN anycast, drone DETs) are left out:
 * an answer pointing there says nothing about anybody's network. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/px_addr.h"

px_err px_addr_parse(const char *text, px_addr *out)
{
    px_addr a = {0};
    if (!text || !out)
        return PX_ERR_INVAL;
    /* inet_pton takes every spelling of RFC 4291 section 2.2 (upper case,
     * leading zeros, a dotted tail after any prefix) and nothing else. */
    if (inet_pton(AF_INET, text, a.bytes) == 1)
        a.family = 4;
    else if (inet_pton(AF_INET6, text, a.bytes) == 1)
        a.family = 6;
    else
        return PX_ERR_INVAL;
    *out = a;
    return PX_OK;
}

px_err px_addr_parse_n(const char *text, size_t len, px_addr *out)
{
    char buf[PX_ADDR_TEXT_MAX];
    if (!text || len >= sizeof buf || memchr(text, '\0', len))
        return PX_ERR_INVAL;
    memcpy(buf, text, len);
    buf[len] = '\0';
    return px_addr_parse(buf, out);
}

static char *put_dec8(char *o, uint8_t b)
{
    if (b >= 100)
        *o++ = (char)('0' + b / 100);
    if (b >= 10)
        *o++ = (char)('0' + (b / 10) % 10);
    *o++ = (char)('0' + b % 10);
    return o;
}

/* Not inet_ntop: glibc writes a dotted tail for ::ffff:0:0/96 and ::/96,
 * a second spelling of the same address that no other part of the system
 * writes (docs/DATA-MODEL.md). */
static char *put_ipv6(char *o, const uint8_t *a)
{
    static const char hex[16] = "0123456789abcdef";
    uint16_t g[8];
    int best = -1, best_len = 0;
    for (int i = 0; i < 8; i++)
        g[i] = (uint16_t)((a[2 * i] << 8) | a[2 * i + 1]);
    for (int i = 0; i < 8;) {
        if (g[i] != 0) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && g[j] == 0)
            j++;
        if (j - i > best_len) { /* strictly longer: the first run wins a tie */
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    if (best_len < 2)
        best = -1; /* a lone zero group is written "0" (RFC 5952 4.2.2) */
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            *o++ = ':';
            *o++ = ':';
            i += best_len - 1;
            continue;
        }
        if (i && i != best + best_len)
            *o++ = ':';
        uint16_t v = g[i];
        bool lead = true;
        for (int s = 12; s >= 0; s -= 4) {
            unsigned d = (v >> s) & 0xF;
            if (d == 0 && lead && s)
                continue;
            lead = false;
            *o++ = hex[d];
        }
    }
    return o;
}

size_t px_addr_format_bytes(const uint8_t *b, size_t len, char *out)
{
    char *o = out;
    if (!out)
        return 0;
    if (b && len == 4) {
        for (int i = 0; i < 4; i++) {
            if (i)
                *o++ = '.';
            o = put_dec8(o, b[i]);
        }
    } else if (b && len == 16) {
        o = put_ipv6(o, b);
    }
    *o = '\0';
    return (size_t)(o - out);
}

const char *px_addr_format(const px_addr *a, char *buf, size_t len)
{
    char tmp[PX_ADDR_TEXT_MAX];
    if (!buf || len == 0)
        return NULL;
    buf[0] = '\0';
    if (!a || (a->family != 4 && a->family != 6))
        return buf;
    size_t n = px_addr_format_bytes(a->bytes, a->family == 4 ? 4 : 16, tmp);
    if (n < len)
        memcpy(buf, tmp, n + 1);
    return buf;
}

bool px_addr_equal(const px_addr *a, const px_addr *b)
{
    if (a->family != b->family)
        return false;
    if (a->family == 4)
        return memcmp(a->bytes, b->bytes, 4) == 0;
    if (a->family == 6)
        return memcmp(a->bytes, b->bytes, 16) == 0;
    return true; /* both unknown */
}

/* The tables hold prefixes as integers so a lookup is a few masked
 * compares per row, no memcmp: it runs for every A/AAAA record. */
typedef struct px_prefix4 {
    uint32_t net;
    uint8_t bits;
} px_prefix4;

#define V4(a, b, c, d, n)                                                                          \
    {                                                                                              \
        ((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d), n                                  \
    }

static const px_prefix4 special_v4[] = {
    V4(0, 0, 0, 0, 8),       /* "this network" RFC 791 */
    V4(10, 0, 0, 0, 8),      /* private RFC 1918 */
    V4(100, 64, 0, 0, 10),   /* shared address space (CGNAT) RFC 6598 */
    V4(127, 0, 0, 0, 8),     /* loopback */
    V4(169, 254, 0, 0, 16),  /* link local RFC 3927 */
    V4(172, 16, 0, 0, 12),   /* private RFC 1918 */
    V4(192, 0, 0, 0, 24),    /* IETF protocol assignments RFC 6890 */
    V4(192, 0, 2, 0, 24),    /* TEST-NET-1 RFC 5737 */
    V4(192, 88, 99, 0, 24),  /* deprecated 6to4 relay anycast RFC 7526 */
    V4(192, 168, 0, 0, 16),  /* private RFC 1918 */
    V4(198, 18, 0, 0, 15),   /* benchmarking RFC 2544 */
    V4(198, 51, 100, 0, 24), /* TEST-NET-2 */
    V4(203, 0, 113, 0, 24),  /* TEST-NET-3 */
    V4(224, 0, 0, 0, 4),     /* multicast */
    V4(240, 0, 0, 0, 4),     /* reserved, and 255.255.255.255 broadcast */
};

/* One IPv6 row: the first 64 bits (hi) and the next (lo). embed >= 0: not
 * special by itself; the IPv4 address at byte offset `embed` decides
 * (NAT64 well-known prefix, 6to4). */
typedef struct px_prefix6 {
    uint64_t hi, lo;
    uint8_t bits;
    int8_t embed;
} px_prefix6;

#define G(a, b, c, d)                                                                              \
    (((uint64_t)(a) << 48) | ((uint64_t)(b) << 32) | ((uint64_t)(c) << 16) | (uint64_t)(d))
#define V6(a, b, c, d, e, f, n, embed)                                                             \
    {                                                                                              \
        G(a, b, c, d), G(e, f, 0, 0), n, embed                                                     \
    }

static const px_prefix6 special_v6[] = {
    /* ::/96 holds :: (unspecified), ::1 (loopback) and the deprecated
     * IPv4-compatible addresses: none is a real answer. */
    V6(0, 0, 0, 0, 0, 0, 96, -1),          V6(0, 0, 0, 0, 0, 0xffff, 96, -1), /* IPv4-mapped */
    V6(0x64, 0xff9b, 0, 0, 0, 0, 96, 12),  /* NAT64 well-known RFC 6052 */
    V6(0x64, 0xff9b, 1, 0, 0, 0, 48, -1),  /* local-use NAT64 RFC 8215 */
    V6(0x100, 0, 0, 0, 0, 0, 64, -1),      /* discard-only RFC 6666 */
    V6(0x2001, 0, 0, 0, 0, 0, 32, -1),     /* Teredo RFC 4380 */
    V6(0x2001, 2, 0, 0, 0, 0, 48, -1),     /* benchmarking RFC 5180 */
    V6(0x2001, 0x10, 0, 0, 0, 0, 28, -1),  /* ORCHID (deprecated) */
    V6(0x2001, 0x20, 0, 0, 0, 0, 28, -1),  /* ORCHIDv2 RFC 7343 */
    V6(0x2001, 0xdb8, 0, 0, 0, 0, 32, -1), /* documentation RFC 3849 */
    V6(0x2002, 0, 0, 0, 0, 0, 16, 2),      /* 6to4 RFC 3056 */
    V6(0x3fff, 0, 0, 0, 0, 0, 20, -1),     /* documentation RFC 9637 */
    V6(0x5f00, 0, 0, 0, 0, 0, 16, -1),     /* SRv6 SIDs RFC 9602 */
    V6(0xfc00, 0, 0, 0, 0, 0, 7, -1),      /* unique local RFC 4193 */
    V6(0xfe80, 0, 0, 0, 0, 0, 10, -1),     /* link local */
    V6(0xfec0, 0, 0, 0, 0, 0, 10, -1),     /* site local (deprecated) */
    V6(0xff00, 0, 0, 0, 0, 0, 8, -1),      /* multicast */
};

static uint64_t load_be64(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | b[i];
    return v;
}

/* Mask of the top n bits of a 64-bit word, 0 <= n <= 64. */
static uint64_t top_bits(unsigned n)
{
    return n == 0 ? 0 : ~0ULL << (64 - n);
}

static bool v4_special(const uint8_t *b)
{
    uint32_t a = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
    for (size_t i = 0; i < sizeof(special_v4) / sizeof(special_v4[0]); i++) {
        uint32_t mask = ~0u << (32 - special_v4[i].bits); /* bits >= 4 here */
        if ((a & mask) == special_v4[i].net)
            return true;
    }
    return false;
}

static bool v6_special(const uint8_t *b)
{
    uint64_t hi = load_be64(b), lo = load_be64(b + 8);
    for (size_t i = 0; i < sizeof(special_v6) / sizeof(special_v6[0]); i++) {
        const px_prefix6 *p = &special_v6[i];
        unsigned bits = p->bits;
        bool match = bits <= 64 ? (hi & top_bits(bits)) == p->hi
                                : hi == p->hi && (lo & top_bits(bits - 64)) == p->lo;
        if (!match)
            continue;
        if (p->embed < 0)
            return true;
        /* Prefixes do not nest in this table: the embedded address decides. */
        return v4_special(b + p->embed);
    }
    return false;
}

bool px_addr_special(const uint8_t *bytes, size_t len)
{
    if (!bytes)
        return false;
    if (len == 4)
        return v4_special(bytes);
    if (len == 16)
        return v6_special(bytes);
    return false;
}

bool px_addr_conf_check(const char *v, char *why, size_t len)
{
    px_addr a;
    if (px_addr_parse(v, &a) == PX_OK)
        return true;
    snprintf(why, len, "not an IPv4 or IPv6 address");
    return false;
}
