/* libFuzzer harness for name and address text (dns/px_dns_name.h,
 * dns/px_addr.h): the input is read both as a wire name and as text.
 * Checks: wire -> text -> the same wire (letters folded); text that parses
 * gives a canonical text that parses to the same wire; the one-pass
 * canonical check equals its definition (canon(x) == x); px_dns_name_cmp
 * is a consistent order; px_addr_format_bytes equals a plain reference
 * formatter and parses back to the same bytes. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "dns/px_addr.h"
#include "dns/px_dns_name.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

static void wire_side(const uint8_t *data, size_t size)
{
    char text[PX_DNS_NAME_TEXT_MAX];
    uint8_t back[PX_DNS_NAME_WIRE_MAX], folded[PX_DNS_NAME_WIRE_MAX];
    size_t n, blen;
    if (px_dns_name_to_text(data, size, text, sizeof text, &n) != PX_OK)
        return;
    CHECK(strlen(text) == n);
    CHECK(px_dns_name_is_canonical(text, n));
    CHECK(px_dns_name_from_text(text, n, back, &blen) == PX_OK);
    CHECK(blen == size);
    memcpy(folded, data, size);
    px_dns_name_fold(folded, size);
    CHECK(memcmp(back, folded, size) == 0);
}

static void text_side(const char *t, size_t size)
{
    uint8_t wire[PX_DNS_NAME_WIRE_MAX], again[PX_DNS_NAME_WIRE_MAX];
    char canon[PX_DNS_NAME_TEXT_MAX];
    size_t wlen, alen, clen;
    bool canonical = px_dns_name_is_canonical(t, size);
    if (px_dns_name_from_text(t, size, wire, &wlen) != PX_OK) {
        CHECK(!canonical);
        CHECK(px_dns_name_canon(t, size, canon, sizeof canon, &clen) != PX_OK);
        return;
    }
    CHECK(px_dns_name_to_text(wire, wlen, canon, sizeof canon, &clen) == PX_OK);
    CHECK(canonical == (clen == size && memcmp(canon, t, size) == 0));
    CHECK(px_dns_name_is_canonical(canon, clen));
    CHECK(px_dns_name_from_text(canon, clen, again, &alen) == PX_OK);
    CHECK(alen == wlen && memcmp(again, wire, wlen) == 0);
    CHECK(px_dns_name_cmp(t, size, canon, clen) == 0);
    /* the label operations agree on canonical text */
    bool dot;
    size_t last = px_dns_name_last_label(canon, clen, &dot);
    CHECK(last <= clen);
    CHECK(px_dns_name_in_zone(canon, clen, canon + last, clen - last));
    CHECK(dot ? last > 0 : last == 0); /* no unescaped dot: one label */
}

static void order(const char *t, size_t size)
{
    size_t half = size / 2;
    int ab = px_dns_name_cmp(t, half, t + half, size - half);
    int ba = px_dns_name_cmp(t + half, size - half, t, half);
    CHECK(sign(ab) == -sign(ba));
}

/* Reference: every group in hex, then the first longest run of two or more
 * zero groups replaced by "::". Slow and plain on purpose. */
static void ref_ipv6(const uint8_t *b, char *out)
{
    unsigned g[8];
    int best = -1, best_len = 1;
    for (int i = 0; i < 8; i++)
        g[i] = (unsigned)(b[2 * i] << 8 | b[2 * i + 1]);
    for (int i = 0; i < 8; i++) {
        int j = i;
        while (j < 8 && g[j] == 0)
            j++;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
    }
    char *o = out;
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            o += sprintf(o, "::");
            i += best_len - 1;
            continue;
        }
        o += sprintf(o, "%s%x", (i == 0 || i == best + best_len) ? "" : ":", g[i]);
    }
    *o = '\0';
}

static void addresses(const uint8_t *data, size_t size)
{
    char text[PX_ADDR_TEXT_MAX], ref[64];
    px_addr a;
    if (size >= 16) {
        CHECK(px_addr_format_bytes(data, 16, text) == strlen(text));
        ref_ipv6(data, ref);
        CHECK(strcmp(text, ref) == 0);
        CHECK(strchr(text, '.') == NULL);
        CHECK(px_addr_parse(text, &a) == PX_OK && a.family == 6);
        CHECK(memcmp(a.bytes, data, 16) == 0);
        /* inet_ntop's spelling (dotted tails) parses to the same bytes */
        CHECK(inet_ntop(AF_INET6, data, ref, sizeof ref) != NULL);
        CHECK(px_addr_parse(ref, &a) == PX_OK && memcmp(a.bytes, data, 16) == 0);
    }
    if (size >= 4) {
        CHECK(px_addr_format_bytes(data, 4, text) == strlen(text));
        snprintf(ref, sizeof ref, "%u.%u.%u.%u", data[0], data[1], data[2], data[3]);
        CHECK(strcmp(text, ref) == 0);
    }
    /* any text that parses formats to a text that parses to the same */
    if (px_addr_parse_n((const char *)data, size, &a) == PX_OK) {
        px_addr b;
        CHECK(px_addr_format(&a, text, sizeof text)[0] != '\0');
        CHECK(px_addr_parse(text, &b) == PX_OK && px_addr_equal(&a, &b));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wire_side(data, size);
    text_side((const char *)data, size);
    order((const char *)data, size);
    addresses(data, size);
    return 0;
}
