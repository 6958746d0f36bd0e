/* fuzz_trust.c: arbitrary observations through the centre's checks:
 * px_obs_check, then px_obs_trust_check (the privacy rules on names and
 * on the parsed rdata: targets of NS/CNAME/PTR/DNAME/MX/SRV/SOA,
 * addresses). What px_obs_check accepts is what the formatter prints: its
 * wire formats back to the very rdata text, the targets point at the
 * names in it, and the trust verdict does not depend on asking why.
 * Input: first byte picks the type (and with bit 7 the registered-domain
 * cache), the second the rdata's share; the rest, split at the first NUL,
 * is rrname and rdata. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "obs/px_obs.h"

static bool same_targets(const px_dns_targets *a, const px_dns_targets *b)
{
    if (a->n != b->n)
        return false;
    for (unsigned i = 0; i < a->n && i < 2; i++)
        if (a->off[i] != b->off[i] || a->len[i] != b->len[i] || a->text_off[i] != b->text_off[i] ||
            a->text_len[i] != b->text_len[i])
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static px_privacy *p;
    static px_psl_cache *psl;
    if (!p) {
        static const char *const zones[] = {"corp.example.com", "a\\.b.example"};
        static const uint16_t types[] = {1, 2, 5, 6, 12, 15, 16, 28, 33, 39, 257, 65280};
        px_privacy_conf c = {.rrtypes = types,
                             .n_rrtypes = sizeof(types) / sizeof(types[0]),
                             .local_zones = zones,
                             .n_local_zones = 2};
        p = px_privacy_create(&c, NULL);
        psl = px_psl_cache_create(256);
        if (!p || !psl)
            abort();
    }
    if (size < 2 || size > 4096)
        return 0;
    static const char *const names[] = {"A",   "NS",   "CNAME", "SOA",   "PTR",       "MX",
                                        "TXT", "AAAA", "SRV",   "DNAME", "TYPE65280", "CAA"};
    char *text = malloc(size - 1); /* bytes after the two, NUL-terminated */
    if (!text)
        return 0;
    memcpy(text, data + 2, size - 2);
    text[size - 2] = '\0';
    size_t name_len = strlen(text);
    const char *rdata = name_len + 1 < size - 2 ? text + name_len + 1 : "";
    px_avro_obs o = {
        .rrname = text,
        .rrtype = names[(data[0] & 0x7f) % 12],
        .rdata = rdata,
        .count = 1 + data[1],
        .time_first = 1790000000 - data[1] * 1000,
        .time_last = 1790000000 + data[1],
        .ttl_max = 300,
        .clients = -1,
        .org = "org-a",
        .sensor = "s1",
    };
    px_obs_trust t = {.privacy = p,
                      .psl = (data[0] & 0x80) ? psl : NULL,
                      .time_floor = 1072915200,
                      .future_skew = 300};
    char why[256];
    static uint8_t wire[PX_OBS_WIRE_MAX];
    static char back[PX_DNS_RDATA_TEXT_MAX];
    px_obs_checked c;
    px_err e = px_obs_check(&o, 1790000000, &c, wire, sizeof(wire), why, sizeof(why));
    if (e == PX_OK) {
        size_t n;
        px_dns_targets tg;
        if (px_dns_rdata_to_text(c.rrtype, c.rdata_wire, c.rdata_wire_len, back, sizeof(back), &n,
                                 &tg) != PX_OK ||
            n != c.rdata_len || memcmp(back, c.rdata, n) != 0 || !same_targets(&tg, &c.targets) ||
            c.rdata != o.rdata || !px_dns_name_is_canonical(c.rrname, c.rrname_len))
            abort();
        if (c.target && (c.target < c.rdata || c.target + c.target_len > c.rdata + c.rdata_len))
            abort();
        if (px_obs_trust_check(&t, &c, 1790000000, why, sizeof(why)) !=
            px_obs_trust_check(&t, &c, 1790000000, NULL, 0))
            abort();
    }
    /* the rules on their own, on the canonical form of any spelling (which
     * the check must accept: what the system prints, it accepts) */
    uint16_t type = (uint16_t)((data[0] & 0x7f) % 64);
    size_t wlen = 0, n;
    px_dns_targets tg = {0};
    back[0] = '\0';
    if (px_dns_rdata_canon(type, rdata, strlen(rdata), back, sizeof(back), &n) == PX_OK &&
        px_dns_rdata_check(type, back, n, wire, sizeof(wire), &wlen, &tg) != PX_OK)
        abort();
    (void)px_privacy_rdata(p, type, wire, wlen, back, &tg);
    (void)px_privacy_owner(p, text, name_len);
    (void)px_privacy_public_suffix(text, name_len);
    free(text);
    return 0;
}
