/* fuzz_trust.c: arbitrary observations through the centre's checks:
 * px_obs_validate, then px_obs_trust_check (the privacy rules on names and
 * on rdata text: targets of NS/CNAME/PTR/DNAME/MX/SRV/SOA, addresses).
 * Input: first byte picks the type (and with bit 7 the registered-domain
 * cache), the second the rdata's share; the rest, split at the first NUL,
 * is rrname and rdata. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "obs/px_obs.h"

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
    if (px_obs_validate(&o, 1790000000, why, sizeof(why)) == PX_OK)
        (void)px_obs_trust_check(&t, &o, 1790000000, why, sizeof(why));
    /* the rules on their own, whatever the form */
    (void)px_privacy_rdata(p, (uint16_t)((data[0] & 0x7f) % 64), rdata);
    (void)px_privacy_owner(p, text, name_len);
    (void)px_privacy_public_suffix(text, name_len);
    free(text);
    return 0;
}
