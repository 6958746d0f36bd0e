/* px_filter.c: the privacy filter (DESIGN.md section 5).
 *
 * Runs once per record at line rate, so the local-zone test is a hash set
 * lookup per label-boundary suffix of the name, and before that one lookup
 * of the last label in a set of the zones' last labels: a name under com or
 * net costs a single probe unless a configured zone ends in com. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_filter.h"
#include "px_hash.h"

#define PX_ZONE_TEXT_MAX 1024 /* presentation name without NUL */

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

struct px_filter {
    uint8_t rrtypes[65536 / 8];
    bool errors;
    bool private_answers;
    px_zone_set zones; /* every local zone */
    px_zone_set tails; /* last label of every local zone */
    /* Quick reject before the tails lookup: bit min(length, 63) of
     * tail_hint[c] is set if some zone's last label starts with byte c and
     * has that length. "com" or "net" stop here. */
    uint64_t tail_hint[256];
    px_addr *wildcard;
    size_t n_wildcard;
    uint64_t seed;
};

static const char *const drop_names[PX_DROP__COUNT] = {
    [PX_PASS] = "pass",
    [PX_DROP_NOT_RESPONSE] = "not_response",
    [PX_DROP_RCODE] = "rcode",
    [PX_DROP_WILDCARD_SERVER] = "wildcard_server",
    [PX_DROP_SECTION] = "section",
    [PX_DROP_RRTYPE] = "rrtype",
    [PX_DROP_PRIVATE_ADDR] = "private_addr",
    [PX_DROP_LOCAL_NAME] = "local_name",
    [PX_DROP_LOCAL_RDATA] = "local_rdata",
    [PX_DROP_SINGLE_LABEL] = "single_label",
    [PX_DROP_OUT_OF_BAILIWICK] = "out_of_bailiwick",
};

const char *px_drop_name(px_drop reason)
{
    if ((unsigned)reason >= PX_DROP__COUNT)
        return "unknown";
    return drop_names[reason];
}

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

/* Where the last label starts (after the last unescaped dot); sets
 * *has_dot when the name has any unescaped dot. Names without a backslash
 * (nearly all) take the memrchr path. */
static size_t last_label_start(const char *name, size_t len, bool *has_dot)
{
    if (!memchr(name, '\\', len)) {
        const char *dot = memrchr(name, '.', len);
        *has_dot = dot != NULL;
        return dot ? (size_t)(dot - name) + 1 : 0;
    }
    size_t last = 0;
    *has_dot = false;
    for (size_t i = 0; i < len;) {
        if (name[i] == '\\') {
            i += escape_len(name, len, i);
            continue;
        }
        if (name[i] == '.') {
            last = i + 1;
            *has_dot = true;
        }
        i++;
    }
    return last;
}

/* No unescaped dot, and not the root ".". */
static bool single_label(const char *name, size_t len, bool has_dot)
{
    return !has_dot && !(len == 1 && name[0] == '.');
}

static uint64_t tail_hint_bit(size_t len)
{
    return 1ULL << (len < 63 ? len : 63);
}

/* is_local with the last label already found. */
static bool is_local_at(const px_filter *f, const char *name, size_t len, size_t tail)
{
    if (len > tail && !(f->tail_hint[(unsigned char)name[tail]] & tail_hint_bit(len - tail)))
        return false;
    if (!zone_set_has(&f->tails, name + tail, len - tail, f->seed))
        return false;
    /* Some zone ends in this label: test every suffix at a label boundary
     * (the name itself first), skipping dots inside escapes. */
    size_t start = 0;
    for (;;) {
        if (len - start <= f->zones.max_len &&
            zone_set_has(&f->zones, name + start, len - start, f->seed))
            return true;
        size_t i = start;
        while (i < len && name[i] != '.')
            i += name[i] == '\\' ? escape_len(name, len, i) : 1;
        if (i >= len)
            return false;
        start = i + 1;
    }
}

bool px_filter_is_local(const px_filter *f, const char *name, size_t len)
{
    bool has_dot;
    if (!f || !name || len == 0)
        return false;
    return is_local_at(f, name, len, last_label_start(name, len, &has_dot));
}

/* Lowercases zone text, strips one trailing dot, and checks it is a
 * plausible presentation name: printable, no empty label, not the root. */
static px_err normalise_zone(const char *in, char *out, size_t *outlen)
{
    size_t n = in ? strlen(in) : 0;
    if (n > 1 && in[n - 1] == '.' && !(n >= 2 && in[n - 2] == '\\'))
        n--;
    if (n == 0 || n > PX_ZONE_TEXT_MAX || in[0] == '.')
        return PX_ERR_INVAL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c <= ' ' || c >= 0x7f)
            return PX_ERR_INVAL;
        if (c == '.' && i + 1 < n && in[i + 1] == '.')
            return PX_ERR_INVAL;
        if (c == '\\') {
            if (i + 1 >= n)
                return PX_ERR_INVAL; /* dangling escape */
            out[i] = in[i];
            out[i + 1] = in[i + 1];
            i++;
            continue;
        }
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : (char)c;
    }
    if (in[n - 1] == '.' && in[n - 2] != '\\')
        return PX_ERR_INVAL; /* "example.." */
    *outlen = n;
    return PX_OK;
}

static px_err add_zone(px_filter *f, const char *name, size_t len)
{
    bool has_dot;
    size_t tail = last_label_start(name, len, &has_dot);
    px_err e = zone_set_add(&f->zones, name, len, f->seed);
    if (e == PX_OK)
        e = zone_set_add(&f->tails, name + tail, len - tail, f->seed);
    if (e == PX_OK && len > tail)
        f->tail_hint[(unsigned char)name[tail]] |= tail_hint_bit(len - tail);
    return e;
}

static px_err add_builtin_zones(px_filter *f)
{
    char buf[64];
    px_err e = PX_OK;
    for (size_t i = 0; e == PX_OK && i < sizeof(builtin_zones) / sizeof(builtin_zones[0]); i++)
        e = add_zone(f, builtin_zones[i], strlen(builtin_zones[i]));
    for (int o = 16; e == PX_OK && o <= 31; o++) { /* 172.16.0.0/12 */
        int n = snprintf(buf, sizeof(buf), "%d.172.in-addr.arpa", o);
        e = add_zone(f, buf, (size_t)n);
    }
    for (int o = 64; e == PX_OK && o <= 127; o++) { /* 100.64.0.0/10 */
        int n = snprintf(buf, sizeof(buf), "%d.100.in-addr.arpa", o);
        e = add_zone(f, buf, (size_t)n);
    }
    return e;
}

static void set_rrtypes(px_filter *f, const px_filter_conf *conf)
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
        f->rrtypes[t[i] / 8] |= (uint8_t)(1u << (t[i] % 8));
}

static px_err filter_init(px_filter *f, const px_filter_conf *conf)
{
    size_t n_conf = conf ? conf->n_local_zones : 0;
    size_t n_builtin = sizeof(builtin_zones) / sizeof(builtin_zones[0]) + 16 + 64;
    char zone[PX_ZONE_TEXT_MAX + 1];

    set_rrtypes(f, conf);
    f->errors = conf && conf->errors;
    f->private_answers = conf && conf->private_answers;
    /* The seed only spreads the zone table; zones are not attacker input. */
    f->seed = (uint64_t)(uintptr_t)f ^ 0x9e3779b97f4a7c15ULL;
    if (!zone_set_init(&f->zones, n_builtin + n_conf) ||
        !zone_set_init(&f->tails, n_builtin + n_conf))
        return PX_ERR_NOMEM;
    px_err e = add_builtin_zones(f);
    for (size_t i = 0; e == PX_OK && i < n_conf; i++) {
        size_t len = 0;
        e = normalise_zone(conf->local_zones[i], zone, &len);
        if (e == PX_OK)
            e = add_zone(f, zone, len);
    }
    if (e != PX_OK)
        return e;
    if (conf && conf->n_wildcard_servers) {
        f->wildcard = calloc(conf->n_wildcard_servers, sizeof(*f->wildcard));
        if (!f->wildcard)
            return PX_ERR_NOMEM;
        memcpy(f->wildcard, conf->wildcard_servers,
               conf->n_wildcard_servers * sizeof(*f->wildcard));
        f->n_wildcard = conf->n_wildcard_servers;
    }
    return PX_OK;
}

px_filter *px_filter_create(const px_filter_conf *conf, px_err *err)
{
    px_err e = PX_ERR_NOMEM;
    px_filter *f = calloc(1, sizeof(*f));
    if (f)
        e = filter_init(f, conf);
    if (e != PX_OK) {
        px_filter_destroy(f);
        f = NULL;
    }
    if (err)
        *err = e;
    return f;
}

void px_filter_destroy(px_filter *f)
{
    if (!f)
        return;
    zone_set_free(&f->zones);
    zone_set_free(&f->tails);
    free(f->wildcard);
    free(f);
}

/* ---- decisions ---- */

px_drop px_filter_message(const px_filter *f, const px_dns_msg *msg, const px_addr *server)
{
    if (!msg->qr || msg->opcode != 0)
        return PX_DROP_NOT_RESPONSE;
    if (msg->rcode != PX_DNS_RCODE_NOERROR && !f->errors)
        return PX_DROP_RCODE;
    if (server && server->family != 0) {
        for (size_t i = 0; i < f->n_wildcard; i++)
            if (px_addr_equal(server, &f->wildcard[i]))
                return PX_DROP_WILDCARD_SERVER;
    }
    return PX_PASS;
}

/* Fails closed: an address we cannot read is treated as special. */
static bool rr_addr_special(const px_dns_rr *rr)
{
    size_t want = rr->type == PX_DNS_TYPE_A ? 4 : 16;
    uint8_t buf[16];
    if (rr->rdata_wire && rr->rdlen == want)
        return px_addr_is_special_raw(rr->rdata_wire, want);
    if (rr->rdata && rr->rdata_len < 64) {
        char text[64];
        memcpy(text, rr->rdata, rr->rdata_len);
        text[rr->rdata_len] = '\0';
        if (inet_pton(want == 4 ? AF_INET : AF_INET6, text, buf) == 1)
            return px_addr_is_special_raw(buf, want);
    }
    return true;
}

static px_drop check_targets(const px_filter *f, const px_dns_rr *rr)
{
    const char *t[2] = {rr->target, rr->target2};
    bool single = false;
    for (int i = 0; i < 2; i++) {
        if (!t[i])
            continue;
        size_t len = strlen(t[i]);
        bool has_dot;
        size_t tail = last_label_start(t[i], len, &has_dot);
        if (len && is_local_at(f, t[i], len, tail))
            return PX_DROP_LOCAL_RDATA;
        single = single || single_label(t[i], len, has_dot);
    }
    return single ? PX_DROP_SINGLE_LABEL : PX_PASS;
}

/* Section, type and class: all a framed but undecoded record has. */
static px_drop check_header(const px_filter *f, const px_dns_rr *rr)
{
    if (rr->section == PX_DNS_ADDITIONAL || rr->type == PX_DNS_TYPE_OPT ||
        rr->rclass != PX_DNS_CLASS_IN)
        return PX_DROP_SECTION;
    if (!(f->rrtypes[rr->type / 8] & (1u << (rr->type % 8))))
        return PX_DROP_RRTYPE;
    return PX_PASS;
}

bool px_filter_rr_wanted(void *filter, const px_dns_rr *rr)
{
    return check_header(filter, rr) == PX_PASS;
}

px_drop px_filter_rr(const px_filter *f, const px_dns_rr *rr, const char *bailiwick)
{
    px_drop d = check_header(f, rr);
    if (d != PX_PASS)
        return d;
    bool has_dot;
    size_t tail = last_label_start(rr->name, rr->name_len, &has_dot);
    if (single_label(rr->name, rr->name_len, has_dot))
        return PX_DROP_SINGLE_LABEL;
    if (is_local_at(f, rr->name, rr->name_len, tail))
        return PX_DROP_LOCAL_NAME;
    if (bailiwick && !px_dns_name_in_zone(rr->name, rr->name_len, bailiwick, strlen(bailiwick)))
        return PX_DROP_OUT_OF_BAILIWICK;
    if ((rr->type == PX_DNS_TYPE_A || rr->type == PX_DNS_TYPE_AAAA) && !f->private_answers &&
        rr_addr_special(rr))
        return PX_DROP_PRIVATE_ADDR;
    return check_targets(f, rr);
}
