/* libFuzzer harness for rdata text (dns/px_dns_rdata.h). The first byte
 * picks a type, the rest is read both as wire rdata and as text. Checks:
 * wire -> text -> wire -> the same text; text that parses -> canonical
 * text, which passes the check and parses to the same wire; the check
 * accepts exactly the texts equal to their canonical form; targets lie
 * inside the wire and the text. Never crashes, never reads past a length. */
#include <string.h>

#include "dns/px_dns_rdata.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static const uint16_t types[] = {
    PX_DNS_TYPE_A,   PX_DNS_TYPE_AAAA,
    PX_DNS_TYPE_NS,  PX_DNS_TYPE_CNAME,
    PX_DNS_TYPE_PTR, PX_DNS_TYPE_DNAME,
    PX_DNS_TYPE_MX,  PX_DNS_TYPE_SRV,
    PX_DNS_TYPE_SOA, PX_DNS_TYPE_TXT,
    PX_DNS_TYPE_CAA, PX_DNS_TYPE_OPT,
    65280,           0,
};

static uint8_t wire[PX_DNS_RDATA_WIRE_MAX], wire2[PX_DNS_RDATA_WIRE_MAX];
static char text[PX_DNS_RDATA_TEXT_MAX], text2[PX_DNS_RDATA_TEXT_MAX];

static void check_targets(const px_dns_targets *tg, size_t wlen)
{
    CHECK(tg->n <= 2);
    for (int i = 0; i < tg->n; i++)
        CHECK((size_t)tg->off[i] + tg->len[i] <= wlen && tg->len[i] >= 1);
}

/* text[0..n) is canonical: it parses, formats to itself, passes the check. */
static void stable(uint16_t type, const char *t, size_t n, const uint8_t *w, size_t wlen)
{
    size_t n2, w2;
    px_dns_targets tg;
    CHECK(px_dns_rdata_from_text(type, t, n, wire2, sizeof wire2, &w2, &tg) == PX_OK);
    CHECK(w2 == wlen && memcmp(wire2, w, wlen) == 0);
    check_targets(&tg, w2);
    CHECK(px_dns_rdata_to_text(type, wire2, w2, text2, sizeof text2, &n2, NULL) == PX_OK);
    CHECK(n2 == n && memcmp(text2, t, n) == 0);
    CHECK(px_dns_rdata_check(type, t, n, wire2, sizeof wire2, &w2, NULL) == PX_OK);
}

static void from_wire(uint16_t type, const uint8_t *rd, size_t len)
{
    size_t n, wlen;
    px_dns_targets tg;
    if (px_dns_rdata_to_text(type, rd, len, text, sizeof text, &n, &tg) != PX_OK)
        return;
    CHECK(strlen(text) == n);
    for (int i = 0; i < tg.n; i++)
        CHECK((size_t)tg.text_off[i] + tg.text_len[i] <= n);
    check_targets(&tg, len);
    CHECK(px_dns_rdata_from_text(type, text, n, wire, sizeof wire, &wlen, NULL) == PX_OK);
    CHECK(wlen == len); /* the same wire but for the letters of names */
    stable(type, text, n, wire, wlen);
}

static void from_text(uint16_t type, const char *t, size_t len)
{
    size_t wlen, n;
    px_err c = px_dns_rdata_check(type, t, len, wire, sizeof wire, &wlen, NULL);
    if (px_dns_rdata_from_text(type, t, len, wire, sizeof wire, &wlen, NULL) != PX_OK) {
        CHECK(c != PX_OK && c != PX_ERR_INVAL);
        return;
    }
    px_err e = px_dns_rdata_to_text(type, wire, wlen, text, sizeof text, &n, NULL);
    if (e == PX_ERR_TOOLONG) /* short strings quoted can outgrow the limit */
        return;
    CHECK(e == PX_OK);
    CHECK((c == PX_OK) == (n == len && memcmp(text, t, len) == 0));
    CHECK(c == PX_OK || c == PX_ERR_INVAL);
    stable(type, text, n, wire, wlen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint16_t type = types[data[0] % (sizeof types / sizeof types[0])];
    from_wire(type, data + 1, size - 1);
    from_text(type, (const char *)data + 1, size - 1);
    return 0;
}
