/* px_privacy.c: the privacy rules shared by the producer's filter and the
 * consumer's trust check (moved here from producer/px_filter.c).
 *
 * The producer asks once per record key at line rate, so the local-zone
 * test is a hash set lookup per label-boundary suffix of the name, and
 * before that one lookup of the last label in a set of the zones' last
 * labels: a name under com or net costs a single probe unless a configured
 * zone ends in com. */
#include "obs/px_privacy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/px_addr.h"
#include "dns/px_dns_msg.h"
#include "dns/px_dns_name.h"
#include "core/px_hash.h"
#include "obs/px_psl.h"

/* The RFC 6303 reverse zones and friends, as literal names. 172.16/12 and
 * 100.64/10 expand to one zone per second octet (added in code). */
static const char *const builtin_zones[] = {
    /* RFC 6761 special-use, RFC 6762 mDNS, RFC 8375, RFC 9476, and names
     * widely used inside organisations */
    "local", "localhost", "internal", "home.arpa", "lan", "intranet", "corp", "private",
    "localdomain", "test", "invalid", "example", "onion", "alt",
    /* RFC 6303 locally served reverse zones */
    "10.in-addr.arpa", "168.192.in-addr.arpa", "127.in-addr.arpa", "0.in-addr.arpa",
    "254.169.in-addr.arpa", "2.0.192.in-addr.arpa", "100.51.198.in-addr.arpa",
    "113.0.203.in-addr.arpa", "255.255.255.255.in-addr.arpa",
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
    "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa", "c.f.ip6.arpa",
    "d.f.ip6.arpa",                                                         /* ULA fc00::/7 */
    "8.e.f.ip6.arpa", "9.e.f.ip6.arpa", "a.e.f.ip6.arpa", "b.e.f.ip6.arpa", /* fe80::/10 */
    "8.b.d.0.1.0.0.2.ip6.arpa",                                             /* 2001:db8::/32 */
};

typedef struct px_zone {
    uint64_t hash;
    char *name; /* NULL: empty slot */
    size_t len;
} px_zone;

/* Open addressing, linear probing; built once, read-only afterwards. */
typedef struct px_zone_set {
    px_zone *slots;
    size_t mask;
    size_t n;
    size_t max_len;
} px_zone_set;

struct px_privacy {
    uint8_t rrtypes[65536 / 8];
    bool private_answers;
    px_zone_set zones; /* every local zone */
    px_zone_set tails; /* last label of every local zone */
    /* Quick reject before the tails lookup: bit min(length, 63) of
     * tail_hint[c] is set if some zone's last label starts with byte c and
     * has that length. "com" or "net" stop here. */
    uint64_t tail_hint[256];
    uint64_t seed;
};

/* ---- zone sets ---- */

static bool zone_set_init(px_zone_set *s, size_t expected)
{
    size_t cap = 16;
    while (cap < expected * 2)
        cap *= 2;
    s->slots = calloc(cap, sizeof(*s->slots));
    s->mask = cap - 1;
    s->n = 0;
    s->max_len = 0;
    return s->slots != NULL;
}

static void zone_set_free(px_zone_set *s)
{
    if (!s->slots)
        return;
    for (size_t i = 0; i <= s->mask; i++)
        free(s->slots[i].name);
    free(s->slots);
    s->slots = NULL;
}

static bool zone_set_has(const px_zone_set *s, const char *name, size_t len, uint64_t seed)
{
    if (len > s->max_len)
        return false;
    uint64_t h = px_hash64(name, len, seed);
    for (size_t i = h & s->mask;; i = (i + 1) & s->mask) {
        const px_zone *z = &s->slots[i];
        if (!z->name)
            return false;
        if (z->hash == h && z->len == len && memcmp(z->name, name, len) == 0)
            return true;
    }
}

/* Duplicates are fine (configured zones may repeat built-in ones). The set
 * was sized for every zone we add, so it never fills. */
static px_err zone_set_add(px_zone_set *s, const char *name, size_t len, uint64_t seed)
{
    if (zone_set_has(s, name, len, seed))
        return PX_OK;
    uint64_t h = px_hash64(name, len, seed);
    size_t i = h & s->mask;
    while (s->slots[i].name)
        i = (i + 1) & s->mask;
    char *copy = malloc(len + 1);
    if (!copy)
        return PX_ERR_NOMEM;
    memcpy(copy, name, len);
    copy[len] = '\0';
    s->slots[i] = (px_zone){.hash = h, .name = copy, .len = len};
    s->n++;
    if (len > s->max_len)
        s->max_len = len;
    return PX_OK;
}

/* ---- names ---- */

/* Length of the escape sequence starting at name[i] == '\\': "\DDD" or "\X". */
static size_t escape_len(const char *name, size_t len, size_t i)
{
    if (i + 1 < len && name[i + 1] >= '0' && name[i + 1] <= '9')
        return 4;
    return 2;
}

static bool single_label(const char *name, size_t len, bool has_dot)
{
    return !has_dot && !(len == 1 && name[0] == '.');
}

static uint64_t tail_hint_bit(size_t len)
{
    return 1ULL << (len < 63 ? len : 63);
}

/* is_local with the last label already found. */
static bool is_local_at(const px_privacy *p, const char *name, size_t len, size_t tail)
{
    if (len > tail && !(p->tail_hint[(unsigned char)name[tail]] & tail_hint_bit(len - tail)))
        return false;
    if (!zone_set_has(&p->tails, name + tail, len - tail, p->seed))
        return false;
    /* Some zone ends in this label: test every suffix at a label boundary
     * (the name itself first), skipping dots inside escapes. */
    size_t start = 0;
    for (;;) {
        if (len - start <= p->zones.max_len &&
            zone_set_has(&p->zones, name + start, len - start, p->seed))
            return true;
        size_t i = start;
        while (i < len && name[i] != '.')
            i += name[i] == '\\' ? escape_len(name, len, i) : 1;
        if (i >= len)
            return false;
        start = i + 1;
    }
}

px_privacy_rule px_privacy_owner(const px_privacy *p, const char *name, size_t len)
{
    bool has_dot;
    size_t tail = px_dns_name_last_label(name, len, &has_dot);
    if (single_label(name, len, has_dot))
        return PX_PRIVACY_SINGLE_LABEL;
    if (is_local_at(p, name, len, tail))
        return PX_PRIVACY_LOCAL_NAME;
    return PX_PRIVACY_PASS;
}

/* One name of an rdata: *local if under a local zone; *single if a single
 * label. */
static void target_rule(const px_privacy *p, const char *name, size_t len, bool *local,
                        bool *single)
{
    bool has_dot;
    size_t tail = px_dns_name_last_label(name, len, &has_dot);
    if (len && is_local_at(p, name, len, tail))
        *local = true;
    if (single_label(name, len, has_dot))
        *single = true;
}

static px_privacy_rule targets_verdict(bool local, bool single)
{
    if (local)
        return PX_PRIVACY_LOCAL_RDATA;
    return single ? PX_PRIVACY_SINGLE_LABEL : PX_PRIVACY_PASS;
}

static bool addr_refused(const px_privacy *p, const uint8_t *bytes, size_t len)
{
    if (p->private_answers)
        return false;
    return (len != 4 && len != 16) || px_addr_special(bytes, len);
}

bool px_privacy_public_suffix(const char *name, size_t len)
{
    if (len == 1 && name[0] == '.')
        return true;
    return px_psl_is_public_suffix(name, len);
}

bool px_privacy_type_allowed(const px_privacy *p, uint16_t type)
{
    return (p->rrtypes[type / 8] >> (type % 8)) & 1;
}

/* ---- rdata, parsed ---- */

px_privacy_rule px_privacy_rdata(const px_privacy *p, uint16_t type, const uint8_t *wire,
                                 size_t wire_len, const char *text, const px_dns_targets *targets)
{
    if (type == PX_DNS_TYPE_A || type == PX_DNS_TYPE_AAAA) {
        if (wire_len != (type == PX_DNS_TYPE_A ? 4u : 16u)) /* fail closed */
            return PX_PRIVACY_PRIVATE_ADDR;
        return addr_refused(p, wire, wire_len) ? PX_PRIVACY_PRIVATE_ADDR : PX_PRIVACY_PASS;
    }
    bool local = false, single = false;
    for (unsigned i = 0; i < targets->n && i < 2 && !local; i++)
        target_rule(p, text + targets->text_off[i], targets->text_len[i], &local, &single);
    return targets_verdict(local, single);
}

/* ---- set-up ---- */

/* A configured zone in the one spelling names are compared in: the
 * canonical text of dns (px_dns_name_canon: lowercase, no trailing dot,
 * the escapes it chooses), so "Corp.Example.COM." and "corp.example.com"
 * are one zone. Refused: what dns refuses as a name, and the root. */
static px_err normalise_zone(const char *in, char *out, size_t cap, size_t *outlen)
{
    if (!in)
        return PX_ERR_INVAL;
    px_err e = px_dns_name_canon(in, strlen(in), out, cap, outlen);
    if (e != PX_OK)
        return PX_ERR_INVAL;
    if (*outlen == 1 && out[0] == '.')
        return PX_ERR_INVAL;
    return PX_OK;
}

bool px_privacy_check_zone(const char *zone, char *why, size_t whylen)
{
    return px_dns_conf_check_name(zone, why, whylen);
}

static px_err add_zone(px_privacy *p, const char *name, size_t len)
{
    bool has_dot;
    size_t tail = px_dns_name_last_label(name, len, &has_dot);
    px_err e = zone_set_add(&p->zones, name, len, p->seed);
    if (e == PX_OK)
        e = zone_set_add(&p->tails, name + tail, len - tail, p->seed);
    if (e == PX_OK && len > tail)
        p->tail_hint[(unsigned char)name[tail]] |= tail_hint_bit(len - tail);
    return e;
}

static px_err add_builtin_zones(px_privacy *p)
{
    char buf[64];
    px_err e = PX_OK;
    for (size_t i = 0; e == PX_OK && i < sizeof(builtin_zones) / sizeof(builtin_zones[0]); i++)
        e = add_zone(p, builtin_zones[i], strlen(builtin_zones[i]));
    for (int o = 16; e == PX_OK && o <= 31; o++) { /* 172.16.0.0/12 */
        int n = snprintf(buf, sizeof(buf), "%d.172.in-addr.arpa", o);
        e = add_zone(p, buf, (size_t)n);
    }
    for (int o = 64; e == PX_OK && o <= 127; o++) { /* 100.64.0.0/10 */
        int n = snprintf(buf, sizeof(buf), "%d.100.in-addr.arpa", o);
        e = add_zone(p, buf, (size_t)n);
    }
    return e;
}

static void set_rrtypes(px_privacy *p, const px_privacy_conf *conf)
{
    static const uint16_t defaults[] = {PX_DNS_TYPE_A, PX_DNS_TYPE_AAAA, PX_DNS_TYPE_CNAME,
                                        PX_DNS_TYPE_MX, PX_DNS_TYPE_NS};
    const uint16_t *t = defaults;
    size_t n = sizeof(defaults) / sizeof(defaults[0]);
    if (conf && conf->rrtypes) {
        t = conf->rrtypes;
        n = conf->n_rrtypes;
    }
    for (size_t i = 0; i < n; i++)
        p->rrtypes[t[i] / 8] |= (uint8_t)(1u << (t[i] % 8));
}

static px_err privacy_init(px_privacy *p, const px_privacy_conf *conf)
{
    size_t n_conf = conf ? conf->n_local_zones : 0;
    size_t n_builtin = sizeof(builtin_zones) / sizeof(builtin_zones[0]) + 16 + 64;
    char zone[PX_DNS_NAME_TEXT_MAX];

    set_rrtypes(p, conf);
    p->private_answers = conf && conf->private_answers;
    /* The seed only spreads the zone table; zones are not attacker input. */
    p->seed = (uint64_t)(uintptr_t)p ^ 0x9e3779b97f4a7c15ULL;
    if (!zone_set_init(&p->zones, n_builtin + n_conf) ||
        !zone_set_init(&p->tails, n_builtin + n_conf))
        return PX_ERR_NOMEM;
    px_err e = add_builtin_zones(p);
    for (size_t i = 0; e == PX_OK && i < n_conf; i++) {
        size_t len = 0;
        e = normalise_zone(conf->local_zones[i], zone, sizeof(zone), &len);
        if (e == PX_OK)
            e = add_zone(p, zone, len);
    }
    return e;
}

px_privacy *px_privacy_create(const px_privacy_conf *conf, px_err *err)
{
    px_err e = PX_ERR_NOMEM;
    px_privacy *p = calloc(1, sizeof(*p));
    if (p)
        e = privacy_init(p, conf);
    if (e != PX_OK) {
        px_privacy_destroy(p);
        p = NULL;
    }
    if (err)
        *err = e;
    return p;
}

void px_privacy_destroy(px_privacy *p)
{
    if (!p)
        return;
    zone_set_free(&p->zones);
    zone_set_free(&p->tails);
    free(p);
}
