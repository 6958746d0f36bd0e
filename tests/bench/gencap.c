/* gencap.c: a deterministic, realistic capture of resolver responses for
 * benchmarking pdnsx-producer.
 *
 * The same seed gives byte-identical files. A fixed universe of names is
 * built first (Zipf popularity by rank); every name keeps its answers for the
 * whole run, so the stream deduplicates like a real resolver's. A share of
 * the traffic is content the privacy filter must drop (errors, TXT/PTR,
 * private addresses, local zones, single-label names).
 *
 * Outputs: pcap (Ethernet, IPv4/IPv6, UDP from port 53) and a Frame Streams
 * file of dnstap CLIENT_RESPONSE messages, as fstrm_capture would write it.
 * It prints how many answer keys (rrname, rrtype, rdata) it expects the
 * default privacy filter to pass, so a benchmark can relate memory to keys. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <fstrm.h>
#include <pcap/pcap.h>

#include "dnstap.pb-c.h"

#define T_A 1
#define T_NS 2
#define T_CNAME 5
#define T_SOA 6
#define T_PTR 12
#define T_MX 15
#define T_TXT 16
#define T_AAAA 28
#define T_OPT 41

/* 2025-11-27T00:00:00Z: a minute boundary, so 60 s windows align. */
#define GC_EPOCH 1764201600ULL
#define GC_TOP_CLEAN 100 /* the most popular names are always ordinary */

/* ---- deterministic randomness ------------------------------------------ */

static uint64_t gc_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t gc_next(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15ULL;
    return gc_mix(*state);
}

/* Stable per-entity values: the same (seed, a, b) always gives the same. */
static uint64_t gc_hash(uint64_t seed, uint64_t a, uint64_t b)
{
    return gc_mix(seed ^ gc_mix(a * 0x9e3779b97f4a7c15ULL + gc_mix(b + 0x632be59bd9b4e019ULL)));
}

static double gc_unit(uint64_t r)
{
    return (double)(r >> 11) * (1.0 / 9007199254740992.0);
}

static uint64_t gc_fnv(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (uint8_t)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
        h *= 0x100000001b3ULL;
    }
    return gc_mix(h);
}

/* ---- a set of 64-bit hashes (distinct keys) ----------------------------- */

typedef struct gc_set {
    uint64_t *slot;
    size_t cap, n;
} gc_set;

static void gc_set_add(gc_set *s, uint64_t h);

static void gc_set_grow(gc_set *s)
{
    gc_set old = *s;
    s->cap = old.cap ? old.cap * 2 : 1u << 16;
    s->slot = calloc(s->cap, sizeof(*s->slot));
    if (!s->slot) {
        fprintf(stderr, "gencap: out of memory\n");
        exit(1);
    }
    s->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.slot[i])
            gc_set_add(s, old.slot[i]);
    free(old.slot);
}

/* Returns nothing: callers only need the count. 0 is the empty marker. */
static void gc_set_add(gc_set *s, uint64_t h)
{
    if (h == 0)
        h = 1;
    if ((s->n + 1) * 2 > s->cap)
        gc_set_grow(s);
    size_t i = h & (s->cap - 1);
    while (s->slot[i]) {
        if (s->slot[i] == h)
            return;
        i = (i + 1) & (s->cap - 1);
    }
    s->slot[i] = h;
    s->n++;
}

/* ---- the universe of names -------------------------------------------- */

typedef enum gc_kind {
    K_ADDR,     /* A / AAAA answers */
    K_CNAME,    /* CNAME (chain) to a CDN edge, then A / AAAA */
    K_MX,       /* MX on a domain apex */
    K_NS,       /* NS on a domain apex */
    K_TXT,      /* filtered: rrtype */
    K_PTR,      /* filtered: rrtype */
    K_NX,       /* filtered: NXDOMAIN, SOA in authority */
    K_SERVFAIL, /* filtered: rcode */
    K_PRIVATE,  /* filtered: 10/8 or 192.168/16 answer */
    K_LOCAL,    /* filtered: .local, .internal, .home.arpa */
    K_SINGLE,   /* filtered: single-label owner */
    K__COUNT
} gc_kind;

static const char *const gc_kind_name[K__COUNT] = {
    "addr", "cname", "mx", "ns", "txt", "ptr", "nxdomain", "servfail", "private", "local", "single",
};

static bool gc_kind_passes(gc_kind k)
{
    return k <= K_NS;
}

typedef struct gc_name {
    char *name;
    uint64_t h;      /* stable per-name randomness */
    uint32_t domain; /* index into the domain table (or target table) */
    uint32_t target; /* CNAME: index of the CDN edge */
    uint32_t ttl;
    uint8_t kind;
    uint8_t n_a, n_aaaa; /* answer counts; n_aaaa 0: NODATA for AAAA */
    uint8_t chain;       /* CNAME chain length, 1 or 2 */
} gc_name;

typedef struct gc_universe {
    uint64_t seed;
    char **domains;
    size_t n_domains;
    char **edges; /* CDN edge names, shared CNAME targets */
    size_t n_edges;
    gc_name *names;
    size_t n_names;
    double *cdf; /* Zipf cumulative distribution over names */
    gc_set unique;
} gc_universe;

static const struct {
    const char *tld;
    unsigned weight;
} gc_tlds[] = {
    {"com", 420}, {"net", 90}, {"org", 70}, {"de", 70}, {"co.uk", 45},  {"fr", 30},
    {"nl", 30},   {"ru", 25},  {"io", 25},  {"jp", 20}, {"com.au", 18}, {"com.br", 18},
    {"it", 18},   {"es", 15},  {"pl", 15},  {"ch", 12}, {"se", 10},     {"info", 10},
    {"eu", 10},   {"at", 10},  {"be", 8},   {"cz", 8},  {"dk", 6},      {"co.jp", 6},
    {"ca", 8},    {"us", 6},   {"tv", 4},   {"me", 4},  {"xyz", 4},     {"dev", 4},
};

static const char *const gc_subs[] = {
    "www",    "mail",    "api",    "cdn",       "static", "img",    "m",        "app",
    "login",  "auth",    "portal", "shop",      "blog",   "news",   "docs",     "support",
    "mobile", "secure",  "video",  "assets",    "media",  "ws",     "push",     "tracking",
    "ads",    "metrics", "status", "accounts",  "search", "images", "download", "update",
    "edge",   "gateway", "files",  "analytics", "events", "chat",   "my",       "id",
};

static const char *const gc_cdns[] = {
    "akamaiedge.net", "cloudfront.net", "fastly.net", "edgekey.net",
    "azureedge.net",  "cdn77.org",      "b-cdn.net",  "edgesuite.net",
};

static const char *const gc_ns_providers[] = {
    "ns.cloudflare.com", "awsdns-%02u.org",   "ns.nsone.net",          "dns.ovh.net",
    "hetzner.com",       "domaincontrol.com", "registrar-servers.com", "ultradns.net",
};

static char *gc_strdup_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *gc_strdup_fmt(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    char *s = strdup(buf);
    if (!s) {
        fprintf(stderr, "gencap: out of memory\n");
        exit(1);
    }
    return s;
}

/* A pronounceable label of 2..4 syllables, sometimes with digits or a hyphen. */
static void gc_label(uint64_t *r, char *out, size_t cap)
{
    static const char *const cons[] = {"b",  "c",  "d",  "f",  "g",  "h",  "k",  "l",
                                       "m",  "n",  "p",  "r",  "s",  "t",  "v",  "z",
                                       "st", "tr", "br", "ch", "sh", "pl", "gr", "kl"};
    static const char *const vow[] = {"a", "e", "i", "o", "u", "ai", "ou", "ea", "y"};
    size_t n = 0;
    unsigned syl = 2 + (unsigned)(gc_next(r) % 3);
    out[0] = '\0';
    for (unsigned i = 0; i < syl; i++) {
        uint64_t x = gc_next(r);
        n += (size_t)snprintf(out + n, cap - n, "%s%s", cons[x % 24], vow[(x >> 8) % 9]);
        if (i == 1 && (x >> 16) % 10 == 0)
            n += (size_t)snprintf(out + n, cap - n, "-");
    }
    uint64_t x = gc_next(r);
    if (x % 8 == 0)
        snprintf(out + n, cap - n, "%u", (unsigned)((x >> 8) % 100));
}

static const char *gc_pick_tld(uint64_t *r)
{
    unsigned total = 0;
    for (size_t i = 0; i < sizeof(gc_tlds) / sizeof(gc_tlds[0]); i++)
        total += gc_tlds[i].weight;
    unsigned x = (unsigned)(gc_next(r) % total);
    for (size_t i = 0; i < sizeof(gc_tlds) / sizeof(gc_tlds[0]); i++) {
        if (x < gc_tlds[i].weight)
            return gc_tlds[i].tld;
        x -= gc_tlds[i].weight;
    }
    return "com";
}

/* True if (name, class) was new; keeps one answer set per name and class. */
static bool gc_claim(gc_universe *u, const char *name, unsigned cls)
{
    size_t before = u->unique.n;
    gc_set_add(&u->unique, gc_fnv(name) ^ gc_mix(cls + 1));
    return u->unique.n != before;
}

static void gc_build_domains(gc_universe *u, size_t n)
{
    uint64_t r = gc_hash(u->seed, 1, 0);
    char label[64];
    u->domains = calloc(n, sizeof(char *));
    u->n_domains = n;
    for (size_t i = 0; i < n; i++) {
        do {
            gc_label(&r, label, sizeof(label));
            free(u->domains[i]);
            u->domains[i] = gc_strdup_fmt("%s.%s", label, gc_pick_tld(&r));
        } while (!gc_claim(u, u->domains[i], 100));
    }
}

static void gc_build_edges(gc_universe *u, size_t n)
{
    uint64_t r = gc_hash(u->seed, 2, 0);
    u->edges = calloc(n, sizeof(char *));
    u->n_edges = n;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = gc_next(&r);
        const char *cdn = gc_cdns[x % 8];
        switch (x % 4) {
        case 0:
            u->edges[i] = gc_strdup_fmt("e%u.a.%s", (unsigned)(x >> 8) % 99999, cdn);
            break;
        case 1:
            u->edges[i] = gc_strdup_fmt("d%08x.%s", (unsigned)(x >> 16), cdn);
            break;
        case 2:
            u->edges[i] = gc_strdup_fmt("%s.map.%s", gc_subs[(x >> 8) % 40], cdn);
            break;
        default:
            u->edges[i] = gc_strdup_fmt("edge-%u.%s", (unsigned)(x >> 8) % 9999, cdn);
            break;
        }
        if (!gc_claim(u, u->edges[i], 0)) {
            free(u->edges[i]);
            i--;
        }
    }
}

/* Skewed choice of a domain: a few domains hold many names. */
static uint32_t gc_pick_domain(const gc_universe *u, uint64_t x)
{
    double v = gc_unit(x);
    return (uint32_t)(v * v * (double)u->n_domains);
}

static gc_kind gc_pick_kind(size_t rank, uint64_t x)
{
    unsigned r = (unsigned)(x % 1000);
    if (rank < GC_TOP_CLEAN)
        return r < 700 ? K_ADDR : K_CNAME;
    /* Shares of names; weighted by Zipf this gives ~15% filtered responses. */
    static const struct {
        gc_kind k;
        unsigned per_mille;
    } mix[] = {{K_NX, 100},   {K_SERVFAIL, 30}, {K_TXT, 40}, {K_PTR, 40}, {K_PRIVATE, 20},
               {K_LOCAL, 30}, {K_SINGLE, 20},   {K_MX, 50},  {K_NS, 50},  {K_CNAME, 150}};
    for (size_t i = 0; i < sizeof(mix) / sizeof(mix[0]); i++) {
        if (r < mix[i].per_mille)
            return mix[i].k;
        r -= mix[i].per_mille;
    }
    return K_ADDR;
}

static char *gc_make_name(gc_universe *u, gc_name *n, uint64_t *r)
{
    uint64_t x = gc_next(r);
    const char *dom = u->domains[n->domain];
    char label[64];
    switch ((gc_kind)n->kind) {
    case K_MX:
    case K_NS:
    case K_TXT:
        if (x % 4 == 0) /* a sub-zone now and then */
            return gc_strdup_fmt("%s.%s", gc_subs[(x >> 8) % 40], dom);
        return strdup(dom);
    case K_PTR:
        return gc_strdup_fmt("%u.%u.%u.%u.in-addr.arpa", (unsigned)(x >> 8) % 254 + 1,
                             (unsigned)(x >> 16) & 255, (unsigned)(x >> 24) & 255,
                             (unsigned)(x >> 32) % 120 + 2);
    case K_NX:
        if (x % 3 == 0) { /* typo of a real name */
            return gc_strdup_fmt("%s%s.%s", gc_subs[(x >> 8) % 40], (x >> 16) % 2 ? "s" : "w", dom);
        }
        gc_label(r, label, sizeof(label));
        return gc_strdup_fmt("%s%x.%s", label, (unsigned)(x >> 20) & 0xffff, gc_pick_tld(r));
    case K_LOCAL: {
        static const char *const zones[] = {"local", "internal", "home.arpa", "corp.internal"};
        static const char *const hosts[] = {"printer", "nas",    "router", "fileserver",
                                            "desktop", "laptop", "tv",     "ap"};
        return gc_strdup_fmt("%s-%u.%s", hosts[(x >> 8) % 8], (unsigned)(x >> 16) % 500,
                             zones[(x >> 32) % 4]);
    }
    case K_SINGLE: {
        static const char *const hosts[] = {"wpad",    "isatap",   "printer", "nas",
                                            "desktop", "mailhost", "proxy",   "intranet"};
        if (x % 4 == 0)
            return strdup(hosts[(x >> 8) % 8]);
        return gc_strdup_fmt("%s-%x", hosts[(x >> 8) % 8], (unsigned)(x >> 16) & 0xfffff);
    }
    case K_PRIVATE: {
        static const char *const subs[] = {"vpn", "intranet", "git", "jira", "wiki", "ldap"};
        return gc_strdup_fmt("%s%u.%s", subs[(x >> 8) % 6], (unsigned)(x >> 16) % 10, dom);
    }
    default:
        break;
    }
    /* ordinary name: apex, one sub label, or two */
    if (x % 5 == 0)
        return strdup(dom);
    if (x % 5 == 1) {
        gc_label(r, label, sizeof(label));
        return gc_strdup_fmt("%s.%s.%s", label, gc_subs[(x >> 8) % 40], dom);
    }
    if (x % 5 == 2) {
        gc_label(r, label, sizeof(label));
        return gc_strdup_fmt("%s.%s", label, dom);
    }
    if ((x >> 16) % 4 == 0)
        return gc_strdup_fmt("%s%u.%s", gc_subs[(x >> 8) % 40], (unsigned)(x >> 20) % 9, dom);
    return gc_strdup_fmt("%s.%s", gc_subs[(x >> 8) % 40], dom);
}

static void gc_build_names(gc_universe *u, size_t n, double zipf_s)
{
    static const uint32_t ttls[] = {30, 60, 300, 300, 600, 1800, 3600, 3600, 14400, 86400};
    u->names = calloc(n, sizeof(gc_name));
    u->cdf = calloc(n, sizeof(double));
    u->n_names = n;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        gc_name *nm = &u->names[i];
        uint64_t r = gc_hash(u->seed, 3, i);
        nm->h = gc_next(&r);
        nm->kind = (uint8_t)gc_pick_kind(i, gc_next(&r));
        nm->domain = gc_pick_domain(u, gc_next(&r));
        nm->target = (uint32_t)(gc_next(&r) % u->n_edges);
        nm->ttl = ttls[gc_next(&r) % 10];
        uint64_t x = gc_next(&r);
        unsigned a = (unsigned)(x % 100);
        nm->n_a = a < 50 ? 1 : a < 75 ? 2 : a < 90 ? 3 : 4;
        nm->n_aaaa = (x >> 8) % 10 < 6 ? 1 + (unsigned)((x >> 16) % 2) : 0;
        nm->chain = (x >> 24) % 10 < 3 ? 2 : 1;
        /* the class keeps MX/NS/TXT on an apex apart from its address name */
        unsigned cls = nm->kind == K_MX ? 2 : nm->kind == K_NS ? 3 : nm->kind == K_TXT ? 4 : 1;
        for (unsigned tries = 1;; tries++) {
            free(nm->name);
            nm->name = gc_make_name(u, nm, &r);
            if (gc_claim(u, nm->name, cls))
                break;
            if (tries % 8 == 0) /* this domain's names of this class are used up */
                nm->domain = (uint32_t)(gc_next(&r) % u->n_domains);
        }
        sum += 1.0 / pow((double)(i + 1), zipf_s);
        u->cdf[i] = sum;
    }
    for (size_t i = 0; i < n; i++)
        u->cdf[i] /= sum;
}

static size_t gc_zipf(const gc_universe *u, uint64_t x)
{
    double v = gc_unit(x);
    size_t lo = 0, hi = u->n_names - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (u->cdf[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- addresses ---------------------------------------------------------- */

/* First octets outside every special-purpose block (RFC 6890 and friends). */
static const uint8_t gc_v4_first[] = {2,   5,   8,   13,  23,  31,  34,  35,  37,  45,  46,
                                      52,  54,  62,  77,  78,  80,  81,  82,  85,  87,  88,
                                      91,  93,  94,  95,  104, 107, 108, 109, 130, 135, 138,
                                      141, 142, 143, 146, 151, 157, 162, 176, 185, 188, 212};

static void gc_v4_public(uint64_t x, uint8_t out[4])
{
    out[0] = gc_v4_first[x % sizeof(gc_v4_first)];
    out[1] = (uint8_t)(x >> 8);
    out[2] = (uint8_t)(x >> 16);
    out[3] = (uint8_t)((x >> 24) % 254 + 1);
}

static void gc_v4_private(uint64_t x, uint8_t out[4])
{
    if (x % 2) {
        out[0] = 10;
        out[1] = (uint8_t)(x >> 8);
    } else {
        out[0] = 192;
        out[1] = 168;
    }
    out[2] = (uint8_t)(x >> 16);
    out[3] = (uint8_t)((x >> 24) % 254 + 1);
}

static void gc_v6_public(uint64_t x, uint8_t out[16])
{
    static const uint16_t prefix[] = {0x2a00, 0x2a01, 0x2a02, 0x2a03, 0x2a04, 0x2a05,
                                      0x2600, 0x2604, 0x2606, 0x2607, 0x2620, 0x2400,
                                      0x2403, 0x2404, 0x2405, 0x2c0f};
    uint64_t y = gc_mix(x + 17);
    memset(out, 0, 16);
    out[0] = (uint8_t)(prefix[x % 16] >> 8);
    out[1] = (uint8_t)prefix[x % 16];
    for (int i = 2; i < 8; i++)
        out[i] = (uint8_t)(x >> (8 * i));
    /* servers often have short interface ids: ::1, ::2f, or a full one */
    if (y % 3 == 0) {
        out[15] = (uint8_t)(y >> 8 | 1);
    } else if (y % 3 == 1) {
        out[14] = (uint8_t)(y >> 16);
        out[15] = (uint8_t)(y >> 24);
    } else {
        for (int i = 8; i < 16; i++)
            out[i] = (uint8_t)(y >> (8 * (i - 8)));
    }
}

/* ---- DNS message writer with name compression --------------------------- */

#define GC_MAX_DICT 128

typedef struct gc_msg {
    uint8_t buf[1232];
    size_t len;
    bool overflow;
    char pool[2048]; /* copies of names already written, for the dictionary */
    size_t pool_len;
    struct {
        uint64_t h;
        const char *suffix;
        uint16_t off;
    } dict[GC_MAX_DICT];
    size_t n_dict;
    uint16_t counts[4]; /* QD, AN, NS, AR */
} gc_msg;

static void gc_put(gc_msg *m, const void *p, size_t n)
{
    if (m->len + n > sizeof(m->buf)) {
        m->overflow = true;
        return;
    }
    memcpy(m->buf + m->len, p, n);
    m->len += n;
}

static void gc_put16(gc_msg *m, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    gc_put(m, b, 2);
}

static void gc_put32(gc_msg *m, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    gc_put(m, b, 4);
}

/* Writes name (presentation, no trailing dot; "" is the root), pointing at
 * the longest suffix already in the message, as servers do. */
static void gc_put_name(gc_msg *m, const char *name)
{
    size_t nlen = strlen(name);
    const char *copy = NULL;
    if (m->pool_len + nlen + 1 <= sizeof(m->pool)) {
        copy = memcpy(m->pool + m->pool_len, name, nlen + 1);
        m->pool_len += nlen + 1;
    }
    const char *p = name;
    while (*p) {
        uint64_t h = gc_fnv(p);
        for (size_t i = 0; i < m->n_dict; i++) {
            if (m->dict[i].h == h && strcasecmp(m->dict[i].suffix, p) == 0) {
                gc_put16(m, (uint16_t)(0xC000 | m->dict[i].off));
                return;
            }
        }
        if (copy && m->len < 0x3FFF && m->n_dict < GC_MAX_DICT) {
            m->dict[m->n_dict].h = h;
            m->dict[m->n_dict].suffix = copy + (p - name);
            m->dict[m->n_dict].off = (uint16_t)m->len;
            m->n_dict++;
        }
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        uint8_t lb = (uint8_t)l;
        gc_put(m, &lb, 1);
        gc_put(m, p, l);
        p += l + (dot ? 1 : 0);
    }
    uint8_t zero = 0;
    gc_put(m, &zero, 1);
}

static void gc_msg_begin(gc_msg *m, uint16_t id, unsigned rcode, const char *qname, uint16_t qtype)
{
    m->len = 0;
    m->overflow = false;
    m->pool_len = 0;
    m->n_dict = 0;
    memset(m->counts, 0, sizeof(m->counts));
    gc_put16(m, id);
    gc_put16(m, (uint16_t)(0x8180 | rcode)); /* QR, RD, RA */
    for (int i = 0; i < 4; i++)
        gc_put16(m, 0);
    gc_put_name(m, qname);
    gc_put16(m, qtype);
    gc_put16(m, 1);
    m->counts[0] = 1;
}

/* Starts an RR and returns the offset of its RDLENGTH. */
static size_t gc_rr_begin(gc_msg *m, int section, const char *owner, uint16_t type, uint32_t ttl)
{
    gc_put_name(m, owner);
    gc_put16(m, type);
    gc_put16(m, 1);
    gc_put32(m, ttl);
    size_t at = m->len;
    gc_put16(m, 0);
    m->counts[section]++;
    return at;
}

static void gc_rr_end(gc_msg *m, size_t at)
{
    if (m->overflow)
        return;
    size_t rdlen = m->len - at - 2;
    m->buf[at] = (uint8_t)(rdlen >> 8);
    m->buf[at + 1] = (uint8_t)rdlen;
}

static void gc_msg_end(gc_msg *m, bool edns)
{
    if (edns) { /* OPT: root owner, UDP size 1232 */
        uint8_t opt[11] = {0, 0, T_OPT, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
        gc_put(m, opt, sizeof(opt));
        m->counts[3]++;
    }
    for (int i = 0; i < 4; i++) {
        m->buf[4 + 2 * i] = (uint8_t)(m->counts[i] >> 8);
        m->buf[5 + 2 * i] = (uint8_t)m->counts[i];
    }
}

/* ---- one response ------------------------------------------------------- */

typedef struct gc_stats {
    uint64_t responses, filtered, v6, by_kind[K__COUNT];
    gc_set keys, key_windows;
} gc_stats;

/* Counts one record the default privacy filter lets through. */
static void gc_key(gc_stats *st, const char *owner, const char *type, const char *rdata,
                   uint64_t window)
{
    char key[600];
    snprintf(key, sizeof(key), "%s\t%s\t%s", owner, type, rdata);
    /* gc_fnv folds case: keys are lowercase whatever the packet says */
    uint64_t h = gc_fnv(key);
    gc_set_add(&st->keys, h);
    gc_set_add(&st->key_windows, h ^ gc_mix(window + 0x51ed));
}

typedef struct gc_ctx {
    const gc_universe *u;
    gc_stats *st;
    gc_msg *m;
    uint32_t now;    /* event time, for TTL countdown */
    uint64_t window; /* 60 s window index */
    bool count;      /* record keys (false for filtered kinds) */
} gc_ctx;

/* What a cache hands out: the TTL counts down and restarts. */
static uint32_t gc_ttl(const gc_name *n, uint32_t now)
{
    uint32_t phase = (uint32_t)(n->h % n->ttl);
    return n->ttl - (now + phase) % n->ttl;
}

static void gc_answer_a(gc_ctx *c, const char *owner, uint64_t h, unsigned n, uint32_t ttl,
                        bool private_addr)
{
    for (unsigned k = 0; k < n; k++) {
        uint8_t a[4];
        uint64_t x = gc_mix(h + k * 0x1000193ULL);
        if (private_addr)
            gc_v4_private(x, a);
        else
            gc_v4_public(x, a);
        size_t at = gc_rr_begin(c->m, 1, owner, T_A, ttl);
        gc_put(c->m, a, 4);
        gc_rr_end(c->m, at);
        if (c->count) {
            char txt[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, a, txt, sizeof(txt));
            gc_key(c->st, owner, "A", txt, c->window);
        }
    }
}

static void gc_answer_aaaa(gc_ctx *c, const char *owner, uint64_t h, unsigned n, uint32_t ttl)
{
    for (unsigned k = 0; k < n; k++) {
        uint8_t a[16];
        gc_v6_public(gc_mix(h + 0xa5a5 + k * 0x1000193ULL), a);
        size_t at = gc_rr_begin(c->m, 1, owner, T_AAAA, ttl);
        gc_put(c->m, a, 16);
        gc_rr_end(c->m, at);
        if (c->count) {
            char txt[INET6_ADDRSTRLEN];
            inet_ntop(AF_INET6, a, txt, sizeof(txt));
            gc_key(c->st, owner, "AAAA", txt, c->window);
        }
    }
}

static void gc_answer_name(gc_ctx *c, const char *owner, uint16_t type, const char *tname,
                           const char *target, uint32_t ttl, int pref)
{
    size_t at = gc_rr_begin(c->m, 1, owner, type, ttl);
    char rdata[320];
    if (pref >= 0) {
        gc_put16(c->m, (uint16_t)pref);
        snprintf(rdata, sizeof(rdata), "%d %s", pref, target);
    } else {
        snprintf(rdata, sizeof(rdata), "%s", target);
    }
    gc_put_name(c->m, target);
    gc_rr_end(c->m, at);
    if (c->count)
        gc_key(c->st, owner, tname, rdata, c->window);
}

static void gc_soa(gc_ctx *c, const char *zone, uint32_t serial)
{
    char mname[300], rname[300];
    snprintf(mname, sizeof(mname), "ns1.%s", zone);
    snprintf(rname, sizeof(rname), "hostmaster.%s", zone);
    size_t at = gc_rr_begin(c->m, 2, zone, T_SOA, 900);
    gc_put_name(c->m, mname);
    gc_put_name(c->m, rname);
    gc_put32(c->m, serial);
    gc_put32(c->m, 7200);
    gc_put32(c->m, 900);
    gc_put32(c->m, 1209600);
    gc_put32(c->m, 900);
    gc_rr_end(c->m, at);
}

/* The zone an NXDOMAIN or NODATA answer's SOA comes from. */
static const char *gc_zone_of(const gc_universe *u, const gc_name *n)
{
    const char *dom = u->domains[n->domain];
    size_t nl = strlen(n->name), dl = strlen(dom);
    if (nl >= dl && strcmp(n->name + nl - dl, dom) == 0 &&
        (nl == dl || n->name[nl - dl - 1] == '.'))
        return dom;
    const char *dot = strchr(n->name, '.');
    return dot ? dot + 1 : n->name; /* the parent, for a made-up name */
}

static uint32_t gc_serial(const gc_name *n)
{
    return 2025010100u + (uint32_t)(n->h % 100000);
}

/* A, or AAAA (NODATA with the zone's SOA when the name has no IPv6). */
static void gc_answer_address(gc_ctx *c, const gc_name *n, const char *q, bool aaaa, uint32_t ttl)
{
    if (!aaaa)
        gc_answer_a(c, q, n->h, n->n_a, ttl, false);
    else if (n->n_aaaa)
        gc_answer_aaaa(c, q, n->h, n->n_aaaa, ttl);
    else
        gc_soa(c, gc_zone_of(c->u, n), gc_serial(n));
}

/* The CDN's registered domain in an edge name. */
static const char *gc_cdn_of(const char *edge)
{
    size_t el = strlen(edge);
    for (size_t i = 0; i < sizeof(gc_cdns) / sizeof(gc_cdns[0]); i++) {
        size_t cl = strlen(gc_cdns[i]);
        if (el > cl && strcmp(edge + el - cl, gc_cdns[i]) == 0)
            return gc_cdns[i];
    }
    return edge;
}

static void gc_answer_cname(gc_ctx *c, const gc_name *n, const char *q, bool aaaa, uint32_t ttl)
{
    const gc_universe *u = c->u;
    const char *edge = u->edges[n->target];
    const char *owner = q;
    char mid[300];
    if (n->chain == 2) { /* name -> per-name alias at the CDN -> shared edge */
        snprintf(mid, sizeof(mid), "%s.%s", n->name, gc_cdn_of(edge));
        gc_answer_name(c, owner, T_CNAME, "CNAME", mid, ttl, -1);
        owner = mid;
    }
    gc_answer_name(c, owner, T_CNAME, "CNAME", edge, ttl, -1);
    /* the edge's own, shorter TTL and its stable addresses */
    uint64_t eh = gc_hash(u->seed, 4, n->target);
    uint32_t ettl = 20 + (uint32_t)(eh % 40);
    if (aaaa)
        gc_answer_aaaa(c, edge, eh, 1 + (unsigned)(eh >> 8) % 2, ettl);
    else
        gc_answer_a(c, edge, eh, 1 + (unsigned)(eh >> 8) % 2, ettl, false);
}

static void gc_answer_mx(gc_ctx *c, const gc_name *n, const char *q, uint32_t ttl)
{
    const char *dom = c->u->domains[n->domain];
    char target[300];
    unsigned k = 1 + (unsigned)(n->h >> 8) % 3;
    for (unsigned i = 0; i < k; i++) {
        switch ((n->h >> 16) % 3) {
        case 0:
            snprintf(target, sizeof(target), "mx%u.%s", i + 1, dom);
            break;
        case 1:
            snprintf(target, sizeof(target), "%s.l.mailhost-provider.com",
                     i == 0   ? "aspmx"
                     : i == 1 ? "alt1.aspmx"
                              : "alt2.aspmx");
            break;
        default:
            snprintf(target, sizeof(target), "mx%u.mail.%s", i + 1, dom);
            break;
        }
        gc_answer_name(c, q, T_MX, "MX", target, ttl, (int)(10 * (i + 1)));
    }
}

static void gc_answer_ns(gc_ctx *c, const gc_name *n, const char *q, uint32_t ttl)
{
    const char *dom = c->u->domains[n->domain];
    char target[300], prov[100];
    unsigned k = 2 + (unsigned)(n->h >> 8) % 3;
    unsigned p = (unsigned)(n->h >> 16) % 9;
    for (unsigned i = 0; i < k; i++) {
        if (p == 8) {
            snprintf(target, sizeof(target), "ns%u.%s", i + 1, dom);
        } else {
            snprintf(prov, sizeof(prov), gc_ns_providers[p], (unsigned)(n->h >> (24 + i)) % 64);
            snprintf(target, sizeof(target), "ns%u.%s", i + 1, prov);
        }
        gc_answer_name(c, q, T_NS, "NS", target, ttl, -1);
    }
}

static void gc_answer_txt(gc_ctx *c, const gc_name *n, const char *q, uint32_t ttl)
{
    char txt[2][200];
    const char *dom = c->u->domains[n->domain];
    snprintf(txt[0], sizeof(txt[0]), "v=spf1 include:_spf.%s ~all", dom);
    snprintf(txt[1], sizeof(txt[1]), "site-verification=%016llx", (unsigned long long)gc_mix(n->h));
    for (int i = 0; i < 1 + (int)(n->h % 2); i++) {
        size_t at = gc_rr_begin(c->m, 1, q, T_TXT, ttl);
        uint8_t l = (uint8_t)strlen(txt[i]);
        gc_put(c->m, &l, 1);
        gc_put(c->m, txt[i], l);
        gc_rr_end(c->m, at);
    }
}

static void gc_answer_ptr(gc_ctx *c, const gc_name *n, const char *q, uint32_t ttl)
{
    unsigned o[4];
    char target[300];
    if (sscanf(n->name, "%u.%u.%u.%u", &o[3], &o[2], &o[1], &o[0]) != 4)
        return;
    snprintf(target, sizeof(target), "static-%u-%u-%u-%u.%s", o[0], o[1], o[2], o[3],
             c->u->domains[n->domain]);
    gc_answer_name(c, q, T_PTR, "PTR", target, ttl, -1);
}

/* Builds the whole response for name n; x is this query's randomness. */
static void gc_response(gc_ctx *c, const gc_name *n, uint64_t x, char *q, size_t qcap)
{
    uint16_t id = (uint16_t)(x >> 16);
    bool edns = (x >> 40) % 5 != 0;
    bool aaaa = (x >> 32) % 100 < 35;
    uint32_t ttl = gc_ttl(n, c->now);
    c->count = gc_kind_passes((gc_kind)n->kind);

    /* Some clients randomise case (0x20); the server echoes it. */
    snprintf(q, qcap, "%s", n->name);
    if ((x >> 48) % 50 == 0) {
        uint64_t y = gc_mix(x);
        for (char *p = q; *p; p++, y = y >> 1 | y << 63)
            if (*p >= 'a' && *p <= 'z' && (y & 1))
                *p = (char)(*p - 32);
    }

    switch ((gc_kind)n->kind) {
    case K_ADDR:
        gc_msg_begin(c->m, 0, 0, q, aaaa ? T_AAAA : T_A);
        gc_answer_address(c, n, q, aaaa, ttl);
        break;
    case K_PRIVATE:
    case K_LOCAL:
    case K_SINGLE:
        gc_msg_begin(c->m, 0, 0, q, T_A);
        gc_answer_a(c, q, n->h, 1, ttl, true);
        break;
    case K_CNAME:
        aaaa = (x >> 32) % 100 < 20;
        gc_msg_begin(c->m, 0, 0, q, aaaa ? T_AAAA : T_A);
        gc_answer_cname(c, n, q, aaaa, ttl);
        break;
    case K_MX:
        gc_msg_begin(c->m, 0, 0, q, T_MX);
        gc_answer_mx(c, n, q, ttl);
        break;
    case K_NS:
        gc_msg_begin(c->m, 0, 0, q, T_NS);
        gc_answer_ns(c, n, q, ttl);
        break;
    case K_TXT:
        gc_msg_begin(c->m, 0, 0, q, T_TXT);
        gc_answer_txt(c, n, q, ttl);
        break;
    case K_PTR:
        gc_msg_begin(c->m, 0, 0, q, T_PTR);
        gc_answer_ptr(c, n, q, ttl);
        break;
    case K_NX:
        gc_msg_begin(c->m, 0, 3, q, aaaa ? T_AAAA : T_A);
        gc_soa(c, gc_zone_of(c->u, n), gc_serial(n));
        break;
    case K_SERVFAIL:
    default:
        gc_msg_begin(c->m, 0, 2, q, T_A);
        break;
    }
    gc_msg_end(c->m, edns);
    c->m->buf[0] = (uint8_t)(id >> 8);
    c->m->buf[1] = (uint8_t)id;
}

/* ---- link, IP and UDP framing ------------------------------------------- */

typedef struct gc_client {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    uint8_t mac[6];
} gc_client;

static const uint8_t gc_srv4[4] = {10, 0, 0, 53};
static const uint8_t gc_srv6[16] = {0x2a, 0x02, 0x81, 0x08, 0x12, 0x34, 0, 0,
                                    0,    0,    0,    0,    0,    0,    0, 0x53};
static const uint8_t gc_srv_mac[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x53};

static uint32_t gc_csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        sum += (uint32_t)(p[n - 1] << 8);
    return sum;
}

static uint16_t gc_csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void gc_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Frames msg as Ethernet/IP/UDP from the resolver's port 53 to the client. */
static size_t gc_frame(uint8_t *out, const gc_client *cl, uint16_t cport, uint16_t ip_id,
                       const uint8_t *msg, size_t len)
{
    bool v6 = cl->family == AF_INET6;
    memcpy(out, cl->mac, 6);
    memcpy(out + 6, gc_srv_mac, 6);
    gc_be16(out + 12, v6 ? 0x86dd : 0x0800);
    uint8_t *ip = out + 14;
    size_t iplen = v6 ? 40 : 20;
    uint8_t *udp = ip + iplen;
    uint16_t ulen = (uint16_t)(8 + len);
    uint32_t sum;
    if (v6) {
        memset(ip, 0, 40);
        ip[0] = 0x60;
        gc_be16(ip + 4, ulen);
        ip[6] = 17;
        ip[7] = 64;
        memcpy(ip + 8, gc_srv6, 16);
        memcpy(ip + 24, cl->addr, 16);
        sum = gc_csum_add(0, ip + 8, 32);
    } else {
        memset(ip, 0, 20);
        ip[0] = 0x45;
        gc_be16(ip + 2, (uint16_t)(20 + ulen));
        gc_be16(ip + 4, ip_id);
        ip[6] = 0x40; /* DF */
        ip[8] = 64;
        ip[9] = 17;
        memcpy(ip + 12, gc_srv4, 4);
        memcpy(ip + 16, cl->addr, 4);
        gc_be16(ip + 10, gc_csum_fold(gc_csum_add(0, ip, 20)));
        sum = gc_csum_add(0, ip + 12, 8);
    }
    gc_be16(udp, 53);
    gc_be16(udp + 2, cport);
    gc_be16(udp + 4, ulen);
    gc_be16(udp + 6, 0);
    memcpy(udp + 8, msg, len);
    sum += 17u + ulen;
    uint16_t ck = gc_csum_fold(gc_csum_add(sum, udp, ulen));
    gc_be16(udp + 6, ck ? ck : 0xffff);
    return 14 + iplen + ulen;
}

static void gc_build_clients(gc_client *cl, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t x = gc_hash(seed, 5, i);
        memset(&cl[i], 0, sizeof(cl[i]));
        if (x % 4 == 0) { /* a quarter of the clients talk IPv6 */
            cl[i].family = AF_INET6;
            memcpy(cl[i].addr, gc_srv6, 8);
            cl[i].addr[7] = (uint8_t)(x >> 8);
            uint64_t y = gc_mix(x);
            for (int k = 8; k < 16; k++)
                cl[i].addr[k] = (uint8_t)(y >> (8 * (k - 8)));
        } else {
            cl[i].family = AF_INET;
            cl[i].addr[0] = 10;
            cl[i].addr[1] = (uint8_t)(20 + (x >> 8) % 8);
            cl[i].addr[2] = (uint8_t)(x >> 16);
            cl[i].addr[3] = (uint8_t)((x >> 24) % 254 + 1);
        }
        cl[i].mac[0] = 0x02;
        for (int k = 1; k < 6; k++)
            cl[i].mac[k] = (uint8_t)(x >> (8 * k + 16));
    }
}

/* ---- outputs -------------------------------------------------------------- */

typedef struct gc_out {
    pcap_t *pcap;
    pcap_dumper_t *dump;
    struct fstrm_writer *fw;
    uint8_t *pb;
    size_t pb_cap;
} gc_out;

static int gc_out_open(gc_out *o, const char *pcap_path, const char *dnstap_path)
{
    memset(o, 0, sizeof(*o));
    if (pcap_path) {
        o->pcap = pcap_open_dead(DLT_EN10MB, 65535);
        o->dump = o->pcap ? pcap_dump_open(o->pcap, pcap_path) : NULL;
        if (!o->dump) {
            fprintf(stderr, "gencap: %s: %s\n", pcap_path,
                    o->pcap ? pcap_geterr(o->pcap) : "pcap_open_dead failed");
            return -1;
        }
    }
    if (dnstap_path) {
        static const char ctype[] = "protobuf:dnstap.Dnstap";
        struct fstrm_file_options *fopt = fstrm_file_options_init();
        struct fstrm_writer_options *wopt = fstrm_writer_options_init();
        fstrm_file_options_set_file_path(fopt, dnstap_path);
        fstrm_writer_options_add_content_type(wopt, ctype, sizeof(ctype) - 1);
        o->fw = fstrm_file_writer_init(fopt, wopt);
        fstrm_file_options_destroy(&fopt);
        fstrm_writer_options_destroy(&wopt);
        if (!o->fw) {
            fprintf(stderr, "gencap: %s: cannot open for writing\n", dnstap_path);
            return -1;
        }
    }
    return 0;
}

static int gc_out_dnstap(gc_out *o, const gc_client *cl, uint16_t cport, uint64_t t_ns,
                         uint32_t rtt_ns, const uint8_t *msg, size_t len)
{
    static const char identity[] = "resolver1.bench", version[] = "pdnsx-gencap";
    Dnstap__Dnstap d = DNSTAP__DNSTAP__INIT;
    Dnstap__Message m = DNSTAP__MESSAGE__INIT;
    bool v6 = cl->family == AF_INET6;
    uint64_t q_ns = t_ns - rtt_ns;
    d.type = DNSTAP__DNSTAP__TYPE__MESSAGE;
    d.has_identity = d.has_version = 1;
    d.identity.data = (uint8_t *)identity;
    d.identity.len = sizeof(identity) - 1;
    d.version.data = (uint8_t *)version;
    d.version.len = sizeof(version) - 1;
    d.message = &m;
    m.type = DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE;
    m.has_socket_family = m.has_socket_protocol = 1;
    m.socket_family = v6 ? DNSTAP__SOCKET_FAMILY__INET6 : DNSTAP__SOCKET_FAMILY__INET;
    m.socket_protocol = DNSTAP__SOCKET_PROTOCOL__UDP;
    m.has_query_address = m.has_response_address = 1;
    m.query_address.data = (uint8_t *)cl->addr;
    m.query_address.len = v6 ? 16 : 4;
    m.response_address.data = (uint8_t *)(v6 ? gc_srv6 : gc_srv4);
    m.response_address.len = v6 ? 16 : 4;
    m.has_query_port = m.has_response_port = 1;
    m.query_port = cport;
    m.response_port = 53;
    m.has_query_time_sec = m.has_query_time_nsec = 1;
    m.query_time_sec = q_ns / 1000000000u;
    m.query_time_nsec = (uint32_t)(q_ns % 1000000000u);
    m.has_response_time_sec = m.has_response_time_nsec = 1;
    m.response_time_sec = t_ns / 1000000000u;
    m.response_time_nsec = (uint32_t)(t_ns % 1000000000u);
    m.has_response_message = 1;
    m.response_message.data = (uint8_t *)msg;
    m.response_message.len = len;
    size_t need = dnstap__dnstap__get_packed_size(&d);
    if (need > o->pb_cap) {
        free(o->pb);
        o->pb_cap = need * 2;
        o->pb = malloc(o->pb_cap);
        if (!o->pb)
            return -1;
    }
    size_t n = dnstap__dnstap__pack(&d, o->pb);
    return fstrm_writer_write(o->fw, o->pb, n) == fstrm_res_success ? 0 : -1;
}

static void gc_out_close(gc_out *o)
{
    if (o->dump)
        pcap_dump_close(o->dump);
    if (o->pcap)
        pcap_close(o->pcap);
    if (o->fw)
        fstrm_writer_destroy(&o->fw); /* writes the STOP frame */
    free(o->pb);
}

/* ---- main ----------------------------------------------------------------- */

typedef struct gc_opts {
    uint64_t n, seed;
    size_t names, domains, edges, clients;
    double zipf, seconds;
    const char *pcap, *dnstap;
} gc_opts;

static void gc_usage(FILE *f)
{
    fprintf(f, "usage: pdnsx-gencap [-n RESPONSES] [-s SEED] [-N NAMES] [-D DOMAINS]\n"
               "                    [-c CLIENTS] [-z ZIPF_S] [-t SECONDS] [-o OUT.pcap]\n"
               "                    [-d OUT.dnstap]\n"
               "Writes a deterministic synthetic capture of resolver responses.\n"
               "defaults: -n 1000000 -s 1 -N 50000 -D 3000 -c 2000 -z 1.0 -t 3600\n");
}

static unsigned long long gc_number(const char *s, bool *bad)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    *bad |= errno != 0 || end == s || *end != '\0' || *s == '-';
    return v;
}

static double gc_real(const char *s, bool *bad)
{
    char *end;
    double v = strtod(s, &end);
    *bad |= end == s || *end != '\0';
    return v;
}

static int gc_parse(int argc, char **argv, gc_opts *o)
{
    bool bad = false;
    *o = (gc_opts){.n = 1000000,
                   .seed = 1,
                   .names = 50000,
                   .domains = 3000,
                   .clients = 2000,
                   .zipf = 1.0,
                   .seconds = 3600};
    int c;
    while ((c = getopt(argc, argv, "n:s:N:D:c:z:t:o:d:h")) != -1) {
        switch (c) {
        case 'n':
            o->n = gc_number(optarg, &bad);
            break;
        case 's':
            o->seed = gc_number(optarg, &bad);
            break;
        case 'N':
            o->names = gc_number(optarg, &bad);
            break;
        case 'D':
            o->domains = gc_number(optarg, &bad);
            break;
        case 'c':
            o->clients = gc_number(optarg, &bad);
            break;
        case 'z':
            o->zipf = gc_real(optarg, &bad);
            break;
        case 't':
            o->seconds = gc_real(optarg, &bad);
            break;
        case 'o':
            o->pcap = optarg;
            break;
        case 'd':
            o->dnstap = optarg;
            break;
        case 'h':
            gc_usage(stdout);
            exit(0);
        default:
            gc_usage(stderr);
            return -1;
        }
    }
    if (bad || optind != argc || o->n == 0 || o->names < 200 || o->domains < 10 ||
        o->clients == 0 || o->seconds <= 0 || o->zipf <= 0) {
        gc_usage(stderr);
        return -1;
    }
    o->edges = o->names / 30 + 10;
    return 0;
}

static long long gc_file_size(const char *path)
{
    struct stat sb;
    return path && stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

static double gc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void gc_universe_free(gc_universe *u)
{
    for (size_t i = 0; i < u->n_domains; i++)
        free(u->domains[i]);
    for (size_t i = 0; i < u->n_edges; i++)
        free(u->edges[i]);
    for (size_t i = 0; i < u->n_names; i++)
        free(u->names[i].name);
    free(u->domains);
    free(u->edges);
    free(u->names);
    free(u->cdf);
    free(u->unique.slot);
}

static int gc_run(const gc_opts *o, const gc_universe *u, const gc_client *clients, gc_stats *st)
{
    gc_out out;
    if (gc_out_open(&out, o->pcap, o->dnstap) < 0) {
        gc_out_close(&out);
        return -1;
    }
    static gc_msg msg;
    uint8_t frame[1600];
    char qname[300];
    uint64_t r = gc_hash(o->seed, 6, 0);
    uint64_t t_ns = GC_EPOCH * 1000000000ULL;
    double step = o->seconds * 1e9 / (double)o->n; /* mean gap between responses */
    gc_ctx ctx = {.u = u, .st = st, .m = &msg};
    int rc = 0;
    for (uint64_t i = 0; i < o->n && rc == 0; i++) {
        uint64_t x = gc_next(&r);
        t_ns += (uint64_t)(gc_unit(gc_next(&r)) * 2.0 * step);
        const gc_name *n = &u->names[gc_zipf(u, gc_next(&r))];
        double cu = gc_unit(gc_next(&r)); /* busy clients ask more */
        const gc_client *cl = &clients[(size_t)(cu * cu * (double)o->clients)];
        uint16_t cport = (uint16_t)(1024 + (x >> 8) % 64000);
        ctx.now = (uint32_t)(t_ns / 1000000000ULL);
        ctx.window = ctx.now / 60;
        gc_response(&ctx, n, x, qname, sizeof(qname));
        if (msg.overflow) {
            fprintf(stderr, "gencap: response for %s overflowed\n", n->name);
            rc = -1;
            break;
        }
        st->responses++;
        st->by_kind[n->kind]++;
        st->filtered += !gc_kind_passes((gc_kind)n->kind);
        st->v6 += cl->family == AF_INET6;
        if (out.dump) {
            struct pcap_pkthdr h;
            h.ts.tv_sec = (time_t)(t_ns / 1000000000ULL);
            h.ts.tv_usec = (suseconds_t)(t_ns % 1000000000ULL / 1000);
            h.caplen = h.len =
                (bpf_u_int32)gc_frame(frame, cl, cport, (uint16_t)i, msg.buf, msg.len);
            pcap_dump((u_char *)out.dump, &h, frame);
        }
        if (out.fw && gc_out_dnstap(&out, cl, cport, t_ns, 100000 + (uint32_t)(x % 40000000),
                                    msg.buf, msg.len) < 0) {
            fprintf(stderr, "gencap: writing %s failed\n", o->dnstap);
            rc = -1;
        }
    }
    gc_out_close(&out);
    return rc;
}

int main(int argc, char **argv)
{
    gc_opts o;
    if (gc_parse(argc, argv, &o) < 0)
        return 2;
    double t0 = gc_now();
    gc_universe u = {.seed = gc_mix(o.seed)};
    gc_build_domains(&u, o.domains);
    gc_build_edges(&u, o.edges);
    gc_build_names(&u, o.names, o.zipf);
    gc_client *clients = calloc(o.clients, sizeof(*clients));
    gc_build_clients(clients, o.clients, u.seed);
    gc_stats st = {0};
    int rc = gc_run(&o, &u, clients, &st);
    double secs = gc_now() - t0;

    printf("responses %llu\n", (unsigned long long)st.responses);
    printf("responses_filtered %llu (%.1f%%)\n", (unsigned long long)st.filtered,
           100.0 * (double)st.filtered / (double)(st.responses ? st.responses : 1));
    printf("responses_ipv6 %llu\n", (unsigned long long)st.v6);
    for (int k = 0; k < K__COUNT; k++)
        printf("kind_%s %llu\n", gc_kind_name[k], (unsigned long long)st.by_kind[k]);
    printf("distinct_keys %zu\n", st.keys.n);
    printf("distinct_key_windows_60s %zu\n", st.key_windows.n);
    if (o.pcap)
        printf("pcap_bytes %lld\n", gc_file_size(o.pcap));
    if (o.dnstap)
        printf("dnstap_bytes %lld\n", gc_file_size(o.dnstap));
    printf("seconds %.2f\n", secs);
    gc_universe_free(&u);
    free(clients);
    free(st.keys.slot);
    free(st.key_windows.slot);
    return rc == 0 ? 0 : 1;
}
