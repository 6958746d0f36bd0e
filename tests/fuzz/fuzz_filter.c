/* fuzz_filter.c: arbitrary names and addresses through the privacy filter,
 * the registered-domain lookup (canonical name, PSL cache) and the window. Input: first byte picks
 * the record type, the rest (split at the first NUL) is owner and target. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "px_filter.h"
#include "core/px_net.h"
#include "dns/px_dns_name.h"
#include "dns/px_dns_rdata.h"
#include "obs/px_psl.h"
#include "px_window.h"
#include "pxt_producer.h"

static void on_emit(void *ctx, const pxt_obs *o)
{
    (void)ctx;
    (void)o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static px_filter *f;
    static pxt_window *w;
    static px_psl_cache *psl;
    if (!f) {
        static const char *const zones[] = {"corp.example.com", "a\\.b.example"};
        px_filter_conf c = {.local_zones = zones, .n_local_zones = 2};
        f = px_filter_create(&c, NULL);
        px_window_conf wc = {.seconds = 10, .max_entries = 64, .min_clients = 2};
        w = pxt_window_create(&wc, on_emit, NULL);
        psl = px_psl_cache_create(4);
        if (!f || !w || !psl)
            abort();
    }
    if (size < 1 || size > 2048)
        return 0;
    char *text = malloc(size); /* bytes after the type, NUL-terminated */
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    size_t name_len = strlen(text);
    const char *target = name_len + 1 < size - 1 ? text + name_len + 1 : NULL;

    static const uint16_t types[] = {PX_DNS_TYPE_A, PX_DNS_TYPE_AAAA, PX_DNS_TYPE_CNAME,
                                     PX_DNS_TYPE_MX, PX_DNS_TYPE_SOA};
    px_dns_rr rr = {
        .section = PX_DNS_ANSWER,
        .name = text,
        .name_len = name_len,
        .type = types[data[0] % 5],
        .rclass = PX_DNS_CLASS_IN,
        .rdata = target ? target : "",
        .rdata_len = target ? strlen(target) : 0,
    };
    /* The rdata as px_dns_rr_text() hands it over when its text is the
     * canonical one; otherwise without targets, and for a long text its
     * first bytes as the address. */
    static uint8_t wire[PX_DNS_RDATA_WIRE_MAX];
    size_t wire_len = 0;
    if (px_dns_rdata_check(rr.type, rr.rdata, rr.rdata_len, wire, sizeof(wire), &wire_len,
                           &rr.targets) == PX_OK) {
        rr.rdata_wire = rr.rdata_canon = wire;
        rr.rdlen = (uint16_t)wire_len;
        rr.rdata_canon_len = wire_len;
    } else {
        rr.targets.n = 0;
        if (rr.rdata_len >= 16) { /* arbitrary address bytes */
            rr.rdata_wire = rr.rdata_canon = (const uint8_t *)target;
            rr.rdata_canon_len = rr.rdlen = rr.type == PX_DNS_TYPE_A ? 4 : 16;
        }
    }
    (void)px_filter_rr(f, &rr, target);

    /* The registered domain as the programs ask it: of the canonical
     * name, through a cache small enough to replace entries. */
    char canon[PX_DNS_NAME_TEXT_MAX];
    size_t canon_len;
    if (px_dns_name_canon(text, name_len, canon, sizeof(canon), &canon_len) == PX_OK) {
        const char *reg;
        size_t reg_len;
        if (px_psl_cache_lookup(psl, canon, canon_len, &reg, &reg_len) == PX_OK &&
            (reg < canon || reg_len > canon_len || reg + reg_len != canon + canon_len))
            abort(); /* not a suffix of the name */
    }
    char host[64];
    uint16_t port;
    px_addr a;
    if (px_hostport_split(text, host, sizeof(host), &port, PX_HOSTPORT_LITERAL) == PX_OK)
        (void)px_addr_parse(host, &a);

    (void)pxt_window_add(w, text, name_len, rr.type, rr.rdata, rr.rdata_len,
                         (data[0] & 0x40) ? NULL : "example.com", 11, data[0], data[0] / 8,
                         (uint64_t)data[0] * 0x9e3779b97f4a7c15ULL, data[0] & 1);
    free(text);
    return 0;
}
