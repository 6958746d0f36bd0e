/* pdnsx-scenario: writes the demo's federation, deterministically.
 *
 *   pdnsx-scenario -o DIR [--seed N] [--orgs N] [--days N] [--scale N]
 *                  [--start EPOCH] [--window SECONDS] [--mmdb-writer SCRIPT]
 *
 * One pcap per organisation (DIR/org-a.pcap, ...): what its resolver's
 * span port would show over DAYS days of event time, queries and
 * responses, that pdnsx-producer reads as it reads any capture. A baseline
 * of stable names is asked every day; on the last two days the stories of
 * etc/demo/scenario/README.md happen: look-alike domains that burst across
 * organisations, a bank's name whose answer moves to another country and
 * network, and the traps that must not alert (one organisation's flood, an
 * old domain suddenly popular, a slow spread, a CDN gaining a country, too
 * little history, a known domain, a look-alike only two organisations see).
 *
 * Beside the pcaps: geoip.txt (the networks of every answer, in
 * tests/geoip/make-mmdb.pl's format; with --mmdb-writer, country.mmdb and
 * asn.mmdb written by that script), brands.txt, known-domains.csv,
 * expected-alerts.tsv and traps.tsv (docs/DETECTION.md for the rules the
 * timings are made for).
 *
 * The same options give byte-identical files: every random choice comes
 * from the seed, nothing from the clock or the environment. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "core/px_arena.h"
#include "core/px_buf.h"
#include "dns/px_addr.h"
#include "dns/px_dns_name.h"

extern char **environ;

#define SC_DAY 86400
#define SC_MAX_ORGS 26
#define SC_MIN_DAYS 10
/* 2026-11-01T00:00:00Z: the past for any demo run from December 2026 on,
 * so that the consumer's trust.future_skew never refuses the data. */
#define SC_START_DEFAULT 1793491200LL

enum { T_A = 1, T_NS = 2, T_CNAME = 5, T_MX = 15, T_AAAA = 28 };

/* ---- deterministic randomness (splitmix64) -------------------------------- */

static uint64_t sc_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* A value fixed by (seed, what, a, b): each choice has its own stream, so
 * adding a story does not move the baseline's addresses. */
static uint64_t sc_hash(uint64_t seed, uint64_t what, uint64_t a, uint64_t b)
{
    return sc_mix(sc_mix(sc_mix(seed ^ what) ^ a) ^ (b * 0x2545f4914f6cdd1dULL));
}

static uint64_t sc_next(uint64_t *state)
{
    *state = sc_mix(*state);
    return *state;
}

static double sc_unit(uint64_t x)
{
    return (double)(x >> 11) * (1.0 / 9007199254740992.0);
}

static uint64_t sc_strhash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
    return sc_mix(h);
}

/* ---- networks and their GeoIP answers ------------------------------------- */

/* Operators' address space as the scenario's MMDBs describe it. The
 * scenario's own databases are what the demo and the tests read; a real
 * GeoIP database may answer otherwise. */
typedef struct sc_net {
    const char *v4;   /* network address */
    unsigned v4_bits; /* prefix length */
    const char *v6;   /* a /32, or NULL */
    const char *cc;   /* ISO country */
    unsigned asn;
    const char *as_org;
} sc_net;

enum {
    N_HETZNER,
    N_SCALEWAY,
    N_SAKURA,
    N_AWS_BR,
    N_MYTHIC,
    N_FASTLY,
    N_CLOUDFLARE,
    N_LEASEWEB,
    N_DO_SG,
    N_OVH_CA,
    N_LINODE,
    N__COUNT
};

static const sc_net sc_nets[N__COUNT] = {
    [N_HETZNER] = {"46.4.0.0", 16, "2a01:4f8::", "DE", 24940, "Hetzner Online GmbH"},
    [N_SCALEWAY] = {"62.210.0.0", 16, "2001:bc8::", "FR", 12876, "Scaleway S.A.S."},
    [N_SAKURA] = {"133.242.0.0", 16, NULL, "JP", 9370, "SAKURA Internet Inc."},
    [N_AWS_BR] = {"177.71.128.0", 17, NULL, "BR", 16509, "Amazon.com, Inc."},
    [N_MYTHIC] = {"93.93.128.0", 21, "2a00:1098::", "GB", 44684, "Mythic Beasts Ltd"},
    [N_FASTLY] = {"151.101.0.0", 16, "2a04:4e40::", "US", 54113, "Fastly, Inc."},
    [N_CLOUDFLARE] = {"104.16.0.0", 13, "2606:4700::", "US", 13335, "Cloudflare, Inc."},
    [N_LEASEWEB] = {"85.17.0.0", 16, "2001:1af8::", "NL", 60781, "LeaseWeb Netherlands B.V."},
    [N_DO_SG] = {"128.199.0.0", 16, NULL, "SG", 14061, "DigitalOcean, LLC"},
    [N_OVH_CA] = {"149.56.0.0", 16, NULL, "CA", 16276, "OVH SAS"},
    [N_LINODE] = {"45.33.0.0", 17, NULL, "US", 63949, "Akamai Connected Cloud"},
};

/* Where the baseline's own domains live. */
static const uint8_t sc_hosting[] = {N_HETZNER,  N_SCALEWAY, N_SAKURA,  N_MYTHIC,
                                     N_LEASEWEB, N_LINODE,   N_HETZNER, N_SCALEWAY};

/* An address of net n chosen by h, in canonical text; never the network's
 * first or last 256 addresses. */
static void sc_addr(unsigned n, bool v6, uint64_t h, char out[PX_ADDR_TEXT_MAX])
{
    const sc_net *net = &sc_nets[n];
    px_addr a;
    if (px_addr_parse(v6 ? net->v6 : net->v4, &a) != PX_OK)
        abort();
    if (v6) {
        for (int i = 4; i < 8; i++)
            a.bytes[i] = (uint8_t)(h >> (8 * i));
        a.bytes[14] = (uint8_t)(h >> 40);
        a.bytes[15] = (uint8_t)((h >> 48) | 1);
    } else {
        uint32_t size = 1u << (32 - net->v4_bits);
        uint32_t host = 256 + (uint32_t)(h % (size - 512));
        if ((host & 255) == 0 || (host & 255) == 255)
            host ^= 7;
        uint32_t base = (uint32_t)a.bytes[0] << 24 | (uint32_t)a.bytes[1] << 16 |
                        (uint32_t)a.bytes[2] << 8 | a.bytes[3];
        uint32_t v = base + host;
        for (int i = 0; i < 4; i++)
            a.bytes[i] = (uint8_t)(v >> (24 - 8 * i));
    }
    /* the producer drops special-purpose answers: a scenario address that
     * were one would silently vanish from the demo */
    if (px_addr_special(a.bytes, v6 ? 16 : 4))
        abort();
    px_addr_format_bytes(a.bytes, v6 ? 16 : 4, out);
}

/* ---- names and their answers ---------------------------------------------- */

typedef struct sc_rr {
    const char *owner; /* NULL: the question's name */
    uint16_t type;
    uint32_t ttl;
    const char *rdata; /* presentation text */
} sc_rr;

typedef struct sc_ans {
    sc_rr *rr;
    unsigned n;
} sc_ans;

/* An answer that replaces the usual one for some organisations and time. */
typedef struct sc_variant {
    uint32_t orgs; /* bit per organisation */
    int64_t from, to;
    sc_ans ans;
} sc_variant;

typedef struct sc_name {
    const char *name;
    uint16_t qtype;
    uint8_t rcode;
    bool rotate; /* answers two of its addresses, by the hour (a CDN) */
    sc_ans ans, ans6;
    sc_variant var[4];
    unsigned n_var;
    /* the daily schedule: each organisation of `orgs` asks `daily` times
     * (at least once) a day on days [day_from, day_to) */
    uint32_t orgs;
    double daily;
    int day_from, day_to;
} sc_name;

/* One exact sighting: org asks name n times in [from, to), the first time
 * within the first ten seconds. */
typedef struct sc_item {
    uint32_t name;
    unsigned org;
    int64_t from, to;
    unsigned n;
} sc_item;

typedef struct sc_opts {
    const char *out, *mmdb_writer;
    uint64_t seed;
    unsigned orgs, days, scale;
    int64_t start, window;
} sc_opts;

/* A set of 64-bit string hashes: names are never used twice. */
typedef struct sc_set {
    uint64_t *slot;
    size_t cap, n;
} sc_set;

typedef struct sc_world {
    const sc_opts *o;
    px_arena *arena;
    sc_name *names;
    size_t n_names, cap_names;
    sc_item *items;
    size_t n_items, cap_items;
    sc_set used;
    uint32_t all_orgs;
    int64_t e1, e2; /* midnight of the two days of the stories */
    FILE *expected, *traps;
} sc_world;

static void sc_die(const char *what)
{
    fprintf(stderr, "pdnsx-scenario: %s\n", what);
    exit(1);
}

static void *sc_alloc(sc_world *w, size_t n)
{
    void *p = px_arena_alloc(w->arena, n);
    if (!p)
        sc_die("out of memory");
    memset(p, 0, n);
    return p;
}

static const char *sc_fmt(sc_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static const char *sc_fmt(sc_world *w, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(buf))
        sc_die("name too long");
    char *s = px_arena_strndup(w->arena, buf, (size_t)n);
    if (!s)
        sc_die("out of memory");
    return s;
}

/* True if s was not used before (and marks it used). */
static bool sc_claim(sc_world *w, const char *s)
{
    sc_set *set = &w->used;
    if ((set->n + 1) * 2 > set->cap) {
        sc_set old = *set;
        set->cap = old.cap ? old.cap * 2 : 1024;
        set->slot = calloc(set->cap, sizeof(*set->slot));
        if (!set->slot)
            sc_die("out of memory");
        set->n = 0;
        for (size_t i = 0; i < old.cap; i++) {
            if (!old.slot[i])
                continue;
            size_t j = old.slot[i] & (set->cap - 1);
            while (set->slot[j])
                j = (j + 1) & (set->cap - 1);
            set->slot[j] = old.slot[i];
            set->n++;
        }
        free(old.slot);
    }
    uint64_t h = sc_strhash(s) | 1;
    size_t j = h & (set->cap - 1);
    for (; set->slot[j]; j = (j + 1) & (set->cap - 1))
        if (set->slot[j] == h)
            return false;
    set->slot[j] = h;
    set->n++;
    return true;
}

static uint32_t sc_add_name(sc_world *w, const char *name, uint16_t qtype)
{
    if (PX_ARRAY_RESERVE(w->names, w->cap_names, w->n_names + 1, 256) != PX_OK)
        sc_die("out of memory");
    sc_name *n = &w->names[w->n_names];
    memset(n, 0, sizeof(*n));
    n->name = name;
    n->qtype = qtype;
    return (uint32_t)w->n_names++;
}

static sc_rr *sc_rrs(sc_world *w, sc_ans *a, unsigned n)
{
    a->rr = sc_alloc(w, n * sizeof(sc_rr));
    a->n = n;
    return a->rr;
}

/* n addresses of net for owner (NULL: the question), chosen by h. */
static void sc_addrs(sc_world *w, sc_ans *a, const char *owner, unsigned net, bool v6, unsigned n,
                     uint32_t ttl, uint64_t h)
{
    sc_rr *rr = sc_rrs(w, a, n);
    for (unsigned i = 0; i < n; i++) {
        char txt[PX_ADDR_TEXT_MAX];
        sc_addr(net, v6, sc_mix(h + i), txt);
        rr[i] = (sc_rr){owner, v6 ? T_AAAA : T_A, ttl, sc_fmt(w, "%s", txt)};
    }
}

static void sc_variant_add(sc_name *n, uint32_t orgs, int64_t from, int64_t to, sc_ans ans)
{
    if (n->n_var == sizeof(n->var) / sizeof(n->var[0]))
        abort();
    n->var[n->n_var++] = (sc_variant){orgs, from, to, ans};
}

static void sc_item_add(sc_world *w, uint32_t name, unsigned org, int64_t from, int64_t to,
                        unsigned n)
{
    if (org >= w->o->orgs)
        return; /* a story told with fewer organisations leaves this one out */
    if (PX_ARRAY_RESERVE(w->items, w->cap_items, w->n_items + 1, 64) != PX_OK)
        sc_die("out of memory");
    w->items[w->n_items++] = (sc_item){name, org, from, to, n};
}

/* Minutes after a midnight. */
static int64_t sc_at(int64_t midnight, int hh, int mm)
{
    return midnight + hh * 3600 + mm * 60;
}

static const char *sc_org_name(unsigned i, char out[8])
{
    snprintf(out, 8, "org-%c", 'a' + (int)i);
    return out;
}

static void sc_iso(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- the baseline ----------------------------------------------------------- */

/* A label as businesses name themselves: two words, now and then with a
 * hyphen; a number once the words are used up (`tries` failed claims). */
static void sc_label(uint64_t *r, unsigned tries, char *out, size_t cap)
{
    static const char *const words[] = {
        "north",  "field",  "harbour", "stone",   "river",  "maple",  "cedar",  "bright",
        "cloud",  "pixel",  "forge",   "nova",    "lumen",  "atlas",  "delta",  "orbit",
        "meadow", "copper", "tide",    "vista",   "summit", "quill",  "ember",  "grove",
        "pine",   "swift",  "mosaic",  "fable",   "crest",  "hollow", "signal", "loop",
        "parcel", "trail",  "beacon",  "anchor",  "willow", "spark",  "kite",   "bloom",
        "drift",  "haven",  "ridge",   "lantern", "otter",  "prism",  "sable",  "thistle"};
    enum { N = sizeof(words) / sizeof(words[0]) };
    uint64_t x = sc_next(r);
    int n =
        snprintf(out, cap, "%s%s%s", words[x % N], (x >> 16) % 5 ? "" : "-", words[(x >> 24) % N]);
    if (tries >= 3 && n > 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, "%u", (unsigned)((x >> 40) % 1000));
}

static const char *const sc_tlds[] = {"com",   "com", "com", "net", "org", "de",
                                      "co.uk", "fr",  "nl",  "io",  "jp",  "se"};

/* A registered domain no other part of the scenario uses. */
static const char *sc_new_domain(sc_world *w, uint64_t h)
{
    char label[64];
    for (unsigned tries = 0;; tries++) {
        sc_label(&h, tries, label, sizeof(label));
        const char *d = sc_fmt(w, "%s.%s", label, sc_tlds[sc_next(&h) % 12]);
        if (sc_claim(w, d))
            return d;
    }
}

static const char *const sc_subs[] = {"www",  "api",    "static", "img",   "login", "shop",
                                      "blog", "news",   "docs",   "cdn",   "media", "app",
                                      "auth", "portal", "status", "files", "m",     "mail"};

/* The answers of a baseline name: MX or NS at an apex, a CNAME to an edge
 * of one of the two CDN domains and the edge's addresses, or addresses of
 * its domain's network (and IPv6 ones where the network has them). */
static void sc_baseline_answers(sc_world *w, sc_name *n, unsigned kind, unsigned net,
                                const char *const cdn[2], const char *ns_domain, uint64_t *r)
{
    const char *name = n->name;
    uint32_t ttl = (uint32_t[]){300, 600, 3600, 3600, 14400, 86400}[sc_next(r) % 6];
    if (n->qtype == T_MX) {
        sc_rr *rr = sc_rrs(w, &n->ans, 2);
        rr[0] = (sc_rr){NULL, T_MX, ttl, sc_fmt(w, "10 mx1.%s", name)};
        rr[1] = (sc_rr){NULL, T_MX, ttl, sc_fmt(w, "20 mx2.%s", name)};
    } else if (n->qtype == T_NS) {
        sc_rr *rr = sc_rrs(w, &n->ans, 2);
        rr[0] = (sc_rr){NULL, T_NS, 86400, sc_fmt(w, "ns1.%s", ns_domain)};
        rr[1] = (sc_rr){NULL, T_NS, 86400, sc_fmt(w, "ns2.%s", ns_domain)};
    } else if (kind < 7) {
        unsigned c = (unsigned)(sc_next(r) % 2);
        const char *edge = sc_fmt(w, "e%u.%s", (unsigned)(sc_next(r) % 9000) + 1000, cdn[c]);
        sc_ans tmp;
        sc_addrs(w, &tmp, edge, c ? N_CLOUDFLARE : N_FASTLY, false, 2, 60, sc_next(r));
        sc_rr *rr = sc_rrs(w, &n->ans, 3);
        rr[0] = (sc_rr){NULL, T_CNAME, ttl, edge};
        rr[1] = tmp.rr[0];
        rr[2] = tmp.rr[1];
    } else {
        unsigned k = 1 + (unsigned)(sc_next(r) % 2);
        sc_addrs(w, &n->ans, NULL, net, false, k, ttl, sc_next(r));
        if (sc_nets[net].v6 && sc_next(r) % 2)
            sc_addrs(w, &n->ans6, NULL, net, true, k, ttl, sc_next(r));
    }
}

/* The baseline: domains each hosted at one network, names under them
 * (addresses, CNAMEs to a CDN, MX and NS at the apex), each asked every day
 * by most organisations; popularity by rank (Zipf). Every baseline domain is
 * first seen on day 0, in the detectors' warm-up. Returns the most
 * popular domain. */
static const char *sc_baseline(sc_world *w)
{
    const sc_opts *o = w->o;
    size_t n_dom = 40 * (size_t)o->scale, n_names = 160 * (size_t)o->scale;
    const char **dom = calloc(n_dom, sizeof(*dom));
    if (!dom)
        sc_die("out of memory");
    for (size_t i = 0; i < n_dom; i++)
        dom[i] = sc_new_domain(w, sc_hash(o->seed, 1, i, 0));
    const char *cdn[2] = {sc_new_domain(w, sc_hash(o->seed, 1, 0, 1)),
                          sc_new_domain(w, sc_hash(o->seed, 1, 0, 2))};
    double harmonic = 0;
    for (size_t i = 0; i < n_names; i++)
        harmonic += 1.0 / (double)(i + 1);
    for (size_t i = 0; i < n_names; i++) {
        uint64_t r = sc_hash(o->seed, 2, i, 0);
        size_t d = (size_t)(sc_unit(sc_next(&r)) * sc_unit(sc_next(&r)) * (double)n_dom);
        unsigned kind = (unsigned)(sc_next(&r) % 20); /* 0-1 MX, 2-3 NS, 4-6 CNAME */
        uint16_t qtype = kind < 2 ? T_MX : kind < 4 ? T_NS : T_A;
        const char *name;
        for (unsigned tries = 0;; tries++) {
            bool apex = qtype != T_A || sc_next(&r) % 5 == 0;
            name = apex ? dom[d] : sc_fmt(w, "%s.%s", sc_subs[sc_next(&r) % 18], dom[d]);
            if (sc_claim(w, sc_fmt(w, "%s/%u", name, qtype)))
                break;
            if (tries % 4 == 3) /* this domain's names of this type are used up */
                d = (size_t)(sc_next(&r) % n_dom);
        }
        if (kind >= 4 && kind < 7 && name == dom[d])
            kind = 7; /* no CNAME at a zone's apex */
        unsigned net = sc_hosting[sc_hash(o->seed, 3, d, 0) % sizeof(sc_hosting)];
        uint32_t id = sc_add_name(w, name, qtype);
        sc_name *n = &w->names[id];
        sc_baseline_answers(w, n, kind, net, cdn, dom[(d + 1) % n_dom], &r);
        n->orgs = 0;
        for (unsigned g = 0; g < o->orgs; g++)
            if (sc_hash(o->seed, 4, i, g) % 4 != 0)
                n->orgs |= 1u << g;
        if (!n->orgs)
            n->orgs = 1u << (i % o->orgs);
        n->daily = 600.0 * o->scale / harmonic / (double)(i + 1);
        n->day_from = 0;
        n->day_to = (int)o->days;
    }
    const char *first = dom[0];
    free(dom);
    return first;
}

/* New domains of no consequence: each day each organisation meets a few
 * that nobody else has seen (one in four also by the next organisation).
 * Never three organisations: they must not burst. */
static void sc_churn(sc_world *w)
{
    const sc_opts *o = w->o;
    for (unsigned day = 0; day < o->days; day++) {
        for (unsigned g = 0; g < o->orgs; g++) {
            for (unsigned k = 0; k < 3 * o->scale; k++) {
                uint64_t h = sc_hash(o->seed, 5, day * 64 + g, k);
                const char *dom = sc_new_domain(w, h);
                uint32_t id = sc_add_name(w, sc_fmt(w, "www.%s", dom), T_A);
                sc_name *n = &w->names[id];
                sc_addrs(w, &n->ans, NULL, sc_hosting[h % sizeof(sc_hosting)], false, 1, 300,
                         sc_mix(h));
                n->orgs = 1u << g;
                if (h % 4 == 0)
                    n->orgs |= 1u << ((g + 1) % o->orgs);
                n->daily = 2 + (double)(h >> 40 & 3);
                n->day_from = (int)day;
                n->day_to = (int)day + 1;
            }
        }
    }
}

/* What the privacy rules drop (docs/DATA-MODEL.md): an NXDOMAIN, local
 * names, a single label, a split-horizon private answer. Every
 * organisation's resolver sees some every day; none may be published. */
static void sc_noise(sc_world *w, const char *dom)
{
    static const struct {
        const char *fmt, *why, *rdata;
        uint8_t rcode;
    } kinds[] = {
        {"wwww.%s", "privacy:nxdomain", NULL, 3},
        {"printer-2.home.arpa", "privacy:local-zone", "46.4.10.10", 0},
        {"git.corp.internal", "privacy:local-zone", "10.1.2.3", 0},
        {"wpad", "privacy:single-label", "10.0.0.1", 0},
        {"vpn.%s", "privacy:private-answer", "10.20.0.1", 0},
    };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        const char *name = sc_fmt(w, kinds[i].fmt, dom);
        uint32_t id = sc_add_name(w, name, T_A);
        sc_name *n = &w->names[id];
        n->rcode = kinds[i].rcode;
        if (kinds[i].rdata) {
            sc_rr *rr = sc_rrs(w, &n->ans, 1);
            rr[0] = (sc_rr){NULL, T_A, 60, kinds[i].rdata};
        }
        n->orgs = w->all_orgs;
        n->daily = 3;
        n->day_to = (int)w->o->days;
        fprintf(w->traps, "%s\t%s\n", name, kinds[i].why);
    }
}

/* ---- the stories of the last two days --------------------------------------- */

static uint32_t sc_story_name(sc_world *w, const char *name, unsigned net, unsigned n_addr,
                              uint32_t ttl)
{
    if (!sc_claim(w, name))
        sc_die("a story's name is taken");
    uint32_t id = sc_add_name(w, name, T_A);
    sc_addrs(w, &w->names[id].ans, NULL, net, false, n_addr, ttl,
             sc_hash(w->o->seed, 6, sc_strhash(name), 0));
    return id;
}

static void sc_trap(sc_world *w, const char *domain, const char *why)
{
    fprintf(w->traps, "%s\t%s\n", domain, why);
}

/* Each org of `order` (organisation numbers) first asks `first` in the
 * minute at its offset (minutes after `t0`), later asks `more` from
 * `later`, and the crossing organisation (order[2]) is alone in its
 * minute: the alert's time is that minute. */
static void sc_burst(sc_world *w, const char *domain, const char *brand, uint32_t first,
                     uint32_t more, int64_t t0, const unsigned order[4], const int offset[4],
                     int64_t later)
{
    char orgs[64] = "", tmp[8], nb[32], na[32];
    for (unsigned k = 0; k < 4; k++) {
        int64_t at = t0 + offset[k] * 60;
        sc_item_add(w, first, order[k], at, at + (k == 2 ? 60 : 180), k == 2 ? 2 : 3);
        sc_item_add(w, more, order[k], later, later + 7200 - 600 * k, 10);
        if (k < 3)
            snprintf(orgs + strlen(orgs), sizeof(orgs) - strlen(orgs), "%s%s", k ? "," : "",
                     sc_org_name(order[k], tmp));
    }
    int64_t cross = t0 + offset[2] * 60;
    sc_iso(cross, nb);
    sc_iso(cross + 60 + w->o->window, na);
    fprintf(w->expected, "pdnsx.new_domain_burst\t%s\t%s\t%s\t%s\t%s\t%s\n", domain,
            w->names[first].name, brand, nb, na, orgs);
}

static void sc_stories_bursts(sc_world *w)
{
    /* paypa1-secure.net: a phishing kit's domain, mailed to three
     * organisations' staff within half an hour. */
    static const unsigned order1[4] = {0, 1, 2, 3}, order2[4] = {1, 2, 0, 3};
    static const int off1[4] = {2, 17, 31, 48}, off2[4] = {0, 12, 26, 40};
    uint32_t login = sc_story_name(w, "login.paypa1-secure.net", N_DO_SG, 1, 300);
    uint32_t www = sc_story_name(w, "www.paypa1-secure.net", N_DO_SG, 1, 300);
    sc_burst(w, "paypa1-secure.net", "paypal.com", login, www, sc_at(w->e1, 9, 0), order1, off1,
             sc_at(w->e1, 9, 36));
    /* xn--pple-43d.com: apple.com with a Cyrillic a, the next day. */
    uint32_t id = sc_story_name(w, "id.xn--pple-43d.com", N_LINODE, 2, 600);
    uint32_t www2 = sc_story_name(w, "www.xn--pple-43d.com", N_LINODE, 2, 600);
    sc_burst(w, "xn--pple-43d.com", "apple.com", id, www2, sc_at(w->e2, 14, 0), order2, off2,
             sc_at(w->e2, 14, 31));
}

static void sc_stories_traps(sc_world *w)
{
    /* a new domain that one organisation alone floods with many names */
    for (unsigned i = 0; i < 40; i++) {
        char label[64];
        uint64_t h = sc_hash(w->o->seed, 7, i, 0);
        sc_label(&h, 0, label, sizeof(label));
        uint32_t id =
            sc_story_name(w, sc_fmt(w, "%s%u.deal-harbor.shop", label, i), N_HETZNER, 1, 60);
        sc_item_add(w, id, 0, sc_at(w->e1, 10, 0), sc_at(w->e1, 11, 30), 30);
    }
    sc_trap(w, "deal-harbor.shop", "one organisation floods a new domain");

    /* a new domain that reaches three organisations over 100 minutes: any
     * hour holds two of them at most */
    uint32_t slow = sc_story_name(w, "app.larkspur-metrics.io", N_SCALEWAY, 1, 300);
    static const int slow_at[4][2] = {{6, 0}, {6, 50}, {7, 40}, {9, 10}};
    for (unsigned g = 0; g < 4; g++) {
        int64_t at = sc_at(w->e1, slow_at[g][0], slow_at[g][1]);
        sc_item_add(w, slow, g, at, at + 300, 4);
    }
    sc_trap(w, "larkspur-metrics.io", "new, but spreads slower than the window");

    /* a new service every organisation adopts at once: a known domain */
    uint32_t app = sc_story_name(w, "app.fieldnote-app.com", N_CLOUDFLARE, 2, 300);
    uint32_t sync = sc_story_name(w, "sync.fieldnote-app.com", N_CLOUDFLARE, 2, 300);
    for (unsigned g = 0; g < w->o->orgs; g++) {
        sc_item_add(w, app, g, sc_at(w->e1, 11, 0), sc_at(w->e1, 11, 20), 5);
        sc_item_add(w, sync, g, sc_at(w->e1, 11, 5), sc_at(w->e1, 12, 0), 5);
    }
    sc_trap(w, "fieldnote-app.com", "new and everywhere at once, but in known-domains.csv");

    /* an old domain one organisation knew for days, suddenly everybody's */
    uint32_t radio = sc_story_name(w, "www.kettle-radio.org", N_LEASEWEB, 1, 3600);
    w->names[radio].orgs = 1u << 2;
    w->names[radio].daily = 3;
    w->names[radio].day_to = (int)w->o->days;
    for (unsigned g = 0; g < w->o->orgs; g++)
        sc_item_add(w, radio, g, sc_at(w->e1, 16, 0), sc_at(w->e1, 16, 30), 4);
    sc_trap(w, "kettle-radio.org", "seen by many at once, but old");

    /* a look-alike of a brand that only two organisations meet */
    uint32_t ms = sc_story_name(w, "update.micros0ft-update.com", N_DO_SG, 1, 300);
    sc_item_add(w, ms, 0, sc_at(w->e1, 20, 0), sc_at(w->e1, 20, 10), 3);
    sc_item_add(w, ms, 1, sc_at(w->e1, 20, 20), sc_at(w->e1, 20, 30), 3);
    sc_trap(w, "micros0ft-update.com", "a look-alike, but two organisations only");
}

/* A name of the baseline that every organisation asks every day. */
static sc_name *sc_daily(sc_world *w, uint32_t id, double daily)
{
    sc_name *n = &w->names[id];
    n->orgs = w->all_orgs;
    n->daily = daily;
    n->day_to = (int)w->o->days;
    return n;
}

static void sc_story_bank(sc_world *w)
{
    const sc_opts *o = w->o;
    char nb[32], na[32];
    /* The bank: www moves from its London host to a cloud in Brazil for
     * two hours, as three organisations' resolvers see it. */
    uint32_t www = sc_story_name(w, "www.kestrel-bank.co.uk", N_MYTHIC, 1, 300);
    sc_name *bank = sc_daily(w, www, 24);
    sc_ans evil;
    sc_addrs(w, &evil, NULL, N_AWS_BR, false, 1, 300, sc_hash(o->seed, 8, 0, 0));
    static const struct {
        unsigned org;
        int hh, mm;
    } hijack[3] = {{1, 3, 10}, {2, 3, 25}, {0, 3, 40}};
    for (unsigned k = 0; k < 3; k++) {
        int64_t at = sc_at(w->e2, hijack[k].hh, hijack[k].mm);
        sc_variant_add(bank, 1u << hijack[k].org, at, sc_at(w->e2, 5, 0), evil);
        sc_item_add(w, www, hijack[k].org, at, at + 60, 2);
        sc_item_add(w, www, hijack[k].org, at + 120, sc_at(w->e2, 5, 0), 6);
    }
    sc_iso(sc_at(w->e2, 3, 10), nb);
    sc_iso(sc_at(w->e2, 3, 25) + 60 + o->window, na);
    fprintf(w->expected, "pdnsx.geo_shift\t%s\t%s\t%s\t%s\t%s\t%s\n", "kestrel-bank.co.uk",
            bank->name, "-", nb, na, "org-b");
    uint32_t online = sc_story_name(w, "online.kestrel-bank.co.uk", N_MYTHIC, 2, 300);
    sc_daily(w, online, 10);
    uint32_t mx = sc_add_name(w, "kestrel-bank.co.uk", T_MX);
    sc_rr *rr = sc_rrs(w, &sc_daily(w, mx, 3)->ans, 1);
    rr[0] = (sc_rr){NULL, T_MX, 3600, "10 mx.kestrel-bank.co.uk"};
}

static void sc_story_cdn(sc_world *w)
{
    const sc_opts *o = w->o;
    /* A CDN name answered from six countries and six networks gains a
     * seventh for an hour. */
    static const uint8_t cdn_nets[6] = {N_FASTLY, N_HETZNER,  N_SCALEWAY,
                                        N_SAKURA, N_LEASEWEB, N_DO_SG};
    uint32_t cdn = sc_story_name(w, "edge.nimbus-stream.net", N_FASTLY, 1, 60);
    sc_name *c = sc_daily(w, cdn, 30);
    c->rotate = true;
    sc_rr *crr = sc_rrs(w, &c->ans, 6);
    for (unsigned k = 0; k < 6; k++) {
        char txt[PX_ADDR_TEXT_MAX];
        sc_addr(cdn_nets[k], false, sc_hash(o->seed, 9, k, 0), txt);
        crr[k] = (sc_rr){NULL, T_A, 60, sc_fmt(w, "%s", txt)};
    }
    /* every country is seen on day 0, whatever the hour's traffic */
    for (unsigned h = 0; h < 6; h++)
        sc_item_add(w, cdn, h % o->orgs, sc_at(o->start, (int)h, 5), sc_at(o->start, (int)h, 50),
                    2);
    sc_ans more;
    sc_addrs(w, &more, NULL, N_OVH_CA, false, 1, 60, sc_hash(o->seed, 9, 6, 0));
    sc_variant_add(c, w->all_orgs, sc_at(w->e2, 12, 0), sc_at(w->e2, 13, 0), more);
    for (unsigned g = 0; g < 3; g++)
        sc_item_add(w, cdn, g, sc_at(w->e2, 12, 0), sc_at(w->e2, 12, 10), 2);
    sc_trap(w, "nimbus-stream.net", "a CDN name of six countries gains a seventh");
}

static void sc_story_history(sc_world *w)
{
    const sc_opts *o = w->o;
    /* A name one day old changes country: too little history. */
    uint32_t beta = sc_story_name(w, "beta.harbourline-freight.de", N_HETZNER, 1, 300);
    sc_ans moved;
    sc_addrs(w, &moved, NULL, N_LINODE, false, 1, 300, sc_hash(o->seed, 10, 0, 0));
    sc_variant_add(&w->names[beta], w->all_orgs, sc_at(w->e2, 12, 30), sc_at(w->e2 + SC_DAY, 0, 0),
                   moved);
    for (unsigned g = 0; g < 2; g++) {
        sc_item_add(w, beta, g, sc_at(w->e1, 12, 0), sc_at(w->e1, 23, 0), 6);
        sc_item_add(w, beta, g, sc_at(w->e2, 12, 30), sc_at(w->e2, 20, 0), 6);
    }
    sc_trap(w, "beta.harbourline-freight.de", "a new name changes country with too little history");

    /* An old name renumbered inside its network: same country, same ASN. */
    uint32_t api = sc_story_name(w, "api.harbourline-freight.de", N_HETZNER, 1, 600);
    sc_ans renum;
    sc_addrs(w, &renum, NULL, N_HETZNER, false, 1, 600, sc_hash(o->seed, 11, 0, 0));
    sc_variant_add(sc_daily(w, api, 8), w->all_orgs, sc_at(w->e2, 9, 0),
                   sc_at(w->e2 + SC_DAY, 0, 0), renum);
    sc_item_add(w, api, 0, sc_at(w->e2, 9, 0), sc_at(w->e2, 9, 5), 2);
    sc_trap(w, "api.harbourline-freight.de", "an old name renumbered in its own network");
}

static void sc_stories_geo(sc_world *w)
{
    sc_story_bank(w);
    sc_story_cdn(w);
    sc_story_history(w);
}

/* ---- DNS messages, frames, pcap -------------------------------------------- */

typedef struct sc_msg {
    uint8_t b[1500];
    size_t len;
} sc_msg;

static void sc_put(sc_msg *m, const void *p, size_t n)
{
    if (m->len + n > sizeof(m->b))
        sc_die("a message outgrew its buffer");
    memcpy(m->b + m->len, p, n);
    m->len += n;
}

static void sc_put16(sc_msg *m, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    sc_put(m, b, 2);
}

static void sc_put_name(sc_msg *m, const char *name)
{
    uint8_t wire[PX_DNS_NAME_WIRE_MAX];
    size_t len;
    if (px_dns_name_from_text(name, strlen(name), wire, &len) != PX_OK)
        sc_die("a scenario name is not a DNS name");
    sc_put(m, wire, len);
}

static void sc_put_rr(sc_msg *m, const char *qname, const sc_rr *rr, uint32_t ttl)
{
    if (!rr->owner || strcmp(rr->owner, qname) == 0)
        sc_put16(m, 0xc00c); /* the question's name, as servers compress it */
    else
        sc_put_name(m, rr->owner);
    sc_put16(m, rr->type);
    sc_put16(m, 1);
    sc_put16(m, (uint16_t)(ttl >> 16));
    sc_put16(m, (uint16_t)ttl);
    size_t at = m->len;
    sc_put16(m, 0);
    if (rr->type == T_A || rr->type == T_AAAA) {
        px_addr a;
        if (px_addr_parse(rr->rdata, &a) != PX_OK)
            sc_die("a scenario address does not parse");
        sc_put(m, a.bytes, rr->type == T_A ? 4 : 16);
    } else if (rr->type == T_MX) {
        char *end;
        unsigned long pref = strtoul(rr->rdata, &end, 10);
        sc_put16(m, (uint16_t)pref);
        sc_put_name(m, end + 1);
    } else {
        sc_put_name(m, rr->rdata);
    }
    uint16_t rdlen = (uint16_t)(m->len - at - 2);
    m->b[at] = (uint8_t)(rdlen >> 8);
    m->b[at + 1] = (uint8_t)rdlen;
}

/* The answer a resolver of org gives for n at time t. */
static const sc_ans *sc_answer_of(const sc_name *n, unsigned org, int64_t t, uint16_t qtype)
{
    if (qtype == T_AAAA)
        return &n->ans6;
    for (unsigned i = n->n_var; i-- > 0;)
        if ((n->var[i].orgs >> org & 1) && t >= n->var[i].from && t < n->var[i].to)
            return &n->var[i].ans;
    return &n->ans;
}

/* Query (response false) or response of one exchange. */
static void sc_message(sc_msg *m, const sc_name *n, unsigned org, int64_t t, uint16_t id,
                       uint16_t qtype, bool response)
{
    m->len = 0;
    sc_put16(m, id);
    sc_put16(m, response ? (uint16_t)(0x8180 | n->rcode) : 0x0100);
    sc_put16(m, 1);
    const sc_ans *a = response ? sc_answer_of(n, org, t, qtype) : NULL;
    unsigned first = 0, count = a ? a->n : 0;
    if (a && n->rotate && qtype == T_A && a == &n->ans && count > 2) {
        first = (unsigned)((t / 3600) % count);
        count = 2;
    }
    sc_put16(m, (uint16_t)count);
    sc_put16(m, 0);
    sc_put16(m, 1); /* OPT */
    sc_put_name(m, n->name);
    sc_put16(m, qtype);
    sc_put16(m, 1);
    for (unsigned i = 0; i < count; i++) {
        const sc_rr *rr = &a->rr[(first + i) % a->n];
        /* what a cache hands out: the TTL counts down */
        uint32_t ttl = rr->ttl - (uint32_t)((uint64_t)t % rr->ttl);
        sc_put_rr(m, n->name, rr, ttl);
    }
    static const uint8_t opt[11] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
    sc_put(m, opt, sizeof(opt));
}

/* One exchange between a client and its organisation's resolver. */
typedef struct sc_ex {
    int64_t t_ns; /* the response's time */
    uint32_t name;
    uint32_t client;
    uint32_t rtt_us;
    uint16_t id, port, qtype;
} sc_ex;

typedef struct sc_pkt {
    int64_t t_ns;
    uint32_t ex;
    bool response;
} sc_pkt;

static uint32_t sc_sum(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}

/* Organisation org's client c and resolver: private addresses of the
 * organisation's own network, which the producer never publishes. */
static void sc_hosts(unsigned org, uint32_t c, bool v6, uint8_t client[16], uint8_t server[16])
{
    memset(client, 0, 16);
    memset(server, 0, 16);
    if (v6) {
        client[0] = server[0] = 0xfd;
        client[1] = server[1] = (uint8_t)(0x10 + org);
        client[14] = (uint8_t)((c + 1) >> 8);
        client[15] = (uint8_t)(c + 1);
        server[15] = 0x53;
    } else {
        client[0] = server[0] = 10;
        client[1] = server[1] = (uint8_t)(20 + org);
        client[2] = (uint8_t)(1 + c / 250);
        client[3] = (uint8_t)(1 + c % 250);
        server[3] = 53;
    }
}

/* Ethernet, IPv4 or IPv6, UDP with its checksum. */
static size_t sc_frame(uint8_t *out, unsigned org, const sc_ex *e, const sc_msg *m, bool response)
{
    bool v6 = e->client % 5 == 0;
    uint8_t client[16], server[16];
    sc_hosts(org, e->client, v6, client, server);
    const uint8_t *src = response ? server : client, *dst = response ? client : server;
    static const uint8_t mac_srv[6] = {0x02, 0, 0x5e, 0, 0, 0x53};
    uint8_t mac_cli[6] = {
        0x02, 0, 0x5e, (uint8_t)org, (uint8_t)(e->client >> 8), (uint8_t)e->client};
    memcpy(out, response ? mac_cli : mac_srv, 6);
    memcpy(out + 6, response ? mac_srv : mac_cli, 6);
    out[12] = v6 ? 0x86 : 0x08;
    out[13] = v6 ? 0xdd : 0x00;
    uint8_t *ip = out + 14;
    size_t iplen = v6 ? 40 : 20, alen = v6 ? 16 : 4;
    uint16_t ulen = (uint16_t)(8 + m->len);
    memset(ip, 0, iplen);
    if (v6) {
        ip[0] = 0x60;
        ip[4] = (uint8_t)(ulen >> 8);
        ip[5] = (uint8_t)ulen;
        ip[6] = 17;
        ip[7] = 64;
    } else {
        ip[0] = 0x45;
        ip[2] = (uint8_t)((20 + ulen) >> 8);
        ip[3] = (uint8_t)(20 + ulen);
        ip[4] = (uint8_t)(e->id >> 8);
        ip[5] = (uint8_t)e->id;
        ip[6] = 0x40;
        ip[8] = 64;
        ip[9] = 17;
    }
    memcpy(ip + (v6 ? 8 : 12), src, alen);
    memcpy(ip + (v6 ? 24 : 16), dst, alen);
    if (!v6) {
        uint16_t ck = (uint16_t)~sc_sum(0, ip, 20);
        ip[10] = (uint8_t)(ck >> 8);
        ip[11] = (uint8_t)ck;
    }
    uint8_t *udp = ip + iplen;
    uint16_t sport = response ? 53 : e->port, dport = response ? e->port : 53;
    uint8_t uh[8] = {(uint8_t)(sport >> 8),
                     (uint8_t)sport,
                     (uint8_t)(dport >> 8),
                     (uint8_t)dport,
                     (uint8_t)(ulen >> 8),
                     (uint8_t)ulen,
                     0,
                     0};
    memcpy(udp, uh, 8);
    memcpy(udp + 8, m->b, m->len);
    uint32_t sum = sc_sum(0, src, alen);
    sum = sc_sum(sum, dst, alen);
    sum += 17u + ulen;
    uint16_t ck = (uint16_t)~sc_sum(sum, udp, ulen);
    udp[6] = (uint8_t)((ck ? ck : 0xffff) >> 8);
    udp[7] = (uint8_t)(ck ? ck : 0xffff);
    return 14 + iplen + ulen;
}

static int sc_pkt_cmp(const void *a, const void *b)
{
    const sc_pkt *x = a, *y = b;
    if (x->t_ns != y->t_ns)
        return x->t_ns < y->t_ns ? -1 : 1;
    if (x->ex != y->ex)
        return x->ex < y->ex ? -1 : 1;
    return (int)x->response - (int)y->response;
}

typedef struct sc_day {
    sc_ex *ex;
    size_t n, cap;
} sc_day;

static void sc_ex_add(sc_world *w, sc_day *d, uint32_t name, int64_t t_ns, uint64_t h)
{
    if (PX_ARRAY_RESERVE(d->ex, d->cap, d->n + 1, 1024) != PX_OK)
        sc_die("out of memory");
    const sc_name *n = &w->names[name];
    uint16_t qtype = n->qtype;
    if (qtype == T_A && n->ans6.n && h % 4 == 0)
        qtype = T_AAAA;
    uint32_t clients = 60 * w->o->scale;
    double cu = sc_unit(sc_mix(h + 1)); /* busy clients ask more */
    d->ex[d->n++] = (sc_ex){.t_ns = t_ns,
                            .name = name,
                            .client = (uint32_t)(cu * cu * clients),
                            .rtt_us = 200 + (uint32_t)(sc_mix(h + 2) % 40000),
                            .id = (uint16_t)(h >> 16),
                            .port = (uint16_t)(1024 + (h >> 32) % 60000),
                            .qtype = qtype};
}

/* A time of day, busier by day than by night. */
static int64_t sc_time_of_day(uint64_t *r)
{
    for (;;) {
        double u = sc_unit(sc_next(r)), v = sc_unit(sc_next(r));
        double hour = u * 24;
        double weight = hour >= 7 && hour < 19 ? 1.0 : 0.35;
        if (v < weight)
            return 50000000 + (int64_t)(u * (SC_DAY - 1) * 1e9); /* queries stay in the day */
    }
}

/* Every exchange of organisation org on day `day`, sorted into packets. */
static void sc_day_exchanges(sc_world *w, unsigned org, unsigned day, sc_day *d)
{
    const sc_opts *o = w->o;
    int64_t midnight = o->start + (int64_t)day * SC_DAY;
    d->n = 0;
    for (size_t i = 0; i < w->n_names; i++) {
        const sc_name *n = &w->names[i];
        if (!(n->orgs >> org & 1) || (int)day < n->day_from || (int)day >= n->day_to)
            continue;
        uint64_t r = sc_hash(o->seed, 20, i, (uint64_t)day * 64 + org);
        unsigned count = 1 + (unsigned)(n->daily * 2 * sc_unit(sc_next(&r)));
        for (unsigned k = 0; k < count; k++)
            sc_ex_add(w, d, (uint32_t)i, midnight * 1000000000LL + sc_time_of_day(&r), sc_next(&r));
    }
    for (size_t i = 0; i < w->n_items; i++) {
        const sc_item *it = &w->items[i];
        if (it->org != org || it->from < midnight || it->from >= midnight + SC_DAY)
            continue;
        uint64_t r = sc_hash(o->seed, 21, i, 0);
        for (unsigned k = 0; k < it->n; k++) {
            int64_t span = k == 0 ? 10 : it->to - it->from;
            int64_t t =
                it->from * 1000000000LL + (int64_t)(sc_unit(sc_next(&r)) * (double)span * 1e9);
            sc_ex_add(w, d, it->name, t, sc_next(&r));
        }
    }
}

static int sc_write_org(sc_world *w, unsigned org, const char *path, uint64_t *packets)
{
    pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
    pcap_dumper_t *dump = p ? pcap_dump_open(p, path) : NULL;
    if (!dump) {
        fprintf(stderr, "pdnsx-scenario: %s: %s\n", path, p ? pcap_geterr(p) : "no memory");
        if (p)
            pcap_close(p);
        return -1;
    }
    sc_day d = {0};
    sc_pkt *pk = NULL;
    size_t pk_cap = 0;
    sc_msg m;
    uint8_t frame[1600];
    for (unsigned day = 0; day < w->o->days; day++) {
        sc_day_exchanges(w, org, day, &d);
        if (PX_ARRAY_RESERVE(pk, pk_cap, 2 * d.n, 1024) != PX_OK)
            sc_die("out of memory");
        for (size_t i = 0; i < d.n; i++) {
            pk[2 * i] = (sc_pkt){d.ex[i].t_ns - (int64_t)d.ex[i].rtt_us * 1000, (uint32_t)i, false};
            pk[2 * i + 1] = (sc_pkt){d.ex[i].t_ns, (uint32_t)i, true};
        }
        qsort(pk, 2 * d.n, sizeof(*pk), sc_pkt_cmp);
        for (size_t i = 0; i < 2 * d.n; i++) {
            const sc_ex *e = &d.ex[pk[i].ex];
            sc_message(&m, &w->names[e->name], org, e->t_ns / 1000000000LL, e->id, e->qtype,
                       pk[i].response);
            struct pcap_pkthdr h;
            h.ts.tv_sec = (time_t)(pk[i].t_ns / 1000000000LL);
            h.ts.tv_usec = (suseconds_t)(pk[i].t_ns % 1000000000LL / 1000);
            h.caplen = h.len = (bpf_u_int32)sc_frame(frame, org, e, &m, pk[i].response);
            pcap_dump((u_char *)dump, &h, frame);
        }
        *packets += 2 * d.n;
    }
    free(d.ex);
    free(pk);
    int rc = pcap_dump_flush(dump);
    pcap_dump_close(dump);
    pcap_close(p);
    return rc == 0 ? 0 : -1;
}

/* ---- the other files ---------------------------------------------------------- */

static FILE *sc_open(const char *dir, const char *file, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", dir, file);
    FILE *f = fopen(path, "w");
    if (!f)
        fprintf(stderr, "pdnsx-scenario: %s: %s\n", path, strerror(errno));
    return f;
}

static int sc_close(FILE *f, const char *path)
{
    if (ferror(f) | (fclose(f) != 0)) {
        fprintf(stderr, "pdnsx-scenario: %s: write failed\n", path);
        return -1;
    }
    return 0;
}

static void sc_write_geoip(FILE *f)
{
    fputs("# network\tcountry\tasn\torganisation (tests/geoip/make-mmdb.pl --desc)\n", f);
    for (unsigned i = 0; i < N__COUNT; i++) {
        const sc_net *n = &sc_nets[i];
        fprintf(f, "%s/%u\t%s\t%u\t%s\n", n->v4, n->v4_bits, n->cc, n->asn, n->as_org);
        if (n->v6)
            fprintf(f, "%s/32\t%s\t%u\t%s\n", n->v6, n->cc, n->asn, n->as_org);
    }
}

static void sc_write_lists(FILE *brands, FILE *known)
{
    fputs("# detect.brands: the protected brands (docs/DETECTION.md)\n"
          "paypal.com\napple.com\nmicrosoft.com\nkestrel-bank.co.uk\n",
          brands);
    fputs("# detect.known_domains: a top-sites list (rank,domain); the ranks are made up\n"
          "1,google.com\n2,microsoft.com\n3,apple.com\n4,amazon.com\n5,wikipedia.org\n"
          "6,paypal.com\n7,fieldnote-app.com\n",
          known);
}

/* Runs make-mmdb.pl on geoip.txt. */
static int sc_mmdb(const sc_opts *o)
{
    char desc[4096], country[4096], asn[4096], epoch[32];
    snprintf(desc, sizeof(desc), "%s/geoip.txt", o->out);
    snprintf(country, sizeof(country), "%s/country.mmdb", o->out);
    snprintf(asn, sizeof(asn), "%s/asn.mmdb", o->out);
    snprintf(epoch, sizeof(epoch), "%" PRId64, o->start);
    char *argv[] = {"perl", (char *)o->mmdb_writer, "--desc", desc, "--country", country, "--asn",
                    asn,    "--build-epoch",        epoch,    NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "perl", NULL, NULL, argv, environ);
    if (rc != 0) {
        fprintf(stderr, "pdnsx-scenario: perl: %s\n", strerror(rc));
        return -1;
    }
    int st;
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "pdnsx-scenario: %s failed\n", o->mmdb_writer);
        return -1;
    }
    return 0;
}

/* ---- main ------------------------------------------------------------------- */

static void sc_help(FILE *f)
{
    fputs("Usage: pdnsx-scenario -o DIR [options]\n\n"
          "Writes the demo federation, deterministically: one pcap per organisation\n"
          "(its resolver's traffic), the answers' networks (geoip.txt), brands.txt,\n"
          "known-domains.csv and the alerts detection must raise (expected-alerts.tsv).\n\n"
          "Options:\n"
          "  -o, --out DIR           directory to write (created if missing)\n"
          "  -s, --seed N            seed of every random choice (default 1)\n"
          "  -n, --orgs N            organisations, 3 to 26 (default 4)\n"
          "  -d, --days N            days of event time, at least 10 (default 10)\n"
          "  -x, --scale N           baseline size and traffic factor, 1 to 1000 (default 1)\n"
          "      --start EPOCH       first midnight, UTC epoch seconds (default 1793491200,\n"
          "                          2026-11-01)\n"
          "  -w, --window SECONDS    the producers' window.seconds, for the alert times of\n"
          "                          expected-alerts.tsv (default 60)\n"
          "      --mmdb-writer PATH  tests/geoip/make-mmdb.pl: also write country.mmdb and\n"
          "                          asn.mmdb\n"
          "  -h, --help              show this help and exit\n"
          "  -V, --version           show the version and exit\n",
          f);
}

static bool sc_num(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static int sc_args(int argc, char **argv, sc_opts *o)
{
    static const struct option longopts[] = {{"out", required_argument, 0, 'o'},
                                             {"seed", required_argument, 0, 's'},
                                             {"orgs", required_argument, 0, 'n'},
                                             {"days", required_argument, 0, 'd'},
                                             {"scale", required_argument, 0, 'x'},
                                             {"start", required_argument, 0, 'S'},
                                             {"window", required_argument, 0, 'w'},
                                             {"mmdb-writer", required_argument, 0, 'M'},
                                             {"help", no_argument, 0, 'h'},
                                             {"version", no_argument, 0, 'V'},
                                             {0, 0, 0, 0}};
    *o = (sc_opts){
        .seed = 1, .orgs = 4, .days = 10, .scale = 1, .start = SC_START_DEFAULT, .window = 60};
    long long v = 0;
    int c;
    bool ok = true;
    while ((c = getopt_long(argc, argv, "o:s:n:d:x:w:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            o->out = optarg;
            break;
        case 's':
            ok &= sc_num(optarg, 0, INT64_MAX, &v);
            o->seed = (uint64_t)v;
            break;
        case 'n':
            ok &= sc_num(optarg, 3, SC_MAX_ORGS, &v);
            o->orgs = (unsigned)v;
            break;
        case 'd':
            ok &= sc_num(optarg, SC_MIN_DAYS, 3660, &v);
            o->days = (unsigned)v;
            break;
        case 'x':
            ok &= sc_num(optarg, 1, 1000, &v);
            o->scale = (unsigned)v;
            break;
        case 'S':
            ok &= sc_num(optarg, 1072915200, 4102444800, &v) && v % SC_DAY == 0;
            o->start = v;
            break;
        case 'w':
            ok &= sc_num(optarg, 1, 3600, &v);
            o->window = v;
            break;
        case 'M':
            o->mmdb_writer = optarg;
            break;
        case 'h':
            sc_help(stdout);
            exit(0);
        case 'V':
            puts("pdnsx-scenario " PX_VERSION);
            exit(0);
        default:
            ok = false;
        }
        if (!ok) {
            if (c != '?')
                fprintf(stderr, "pdnsx-scenario: bad value for -%c: %s\n", c, optarg);
            break;
        }
    }
    if (ok && (!o->out || optind != argc)) {
        fputs("pdnsx-scenario: -o DIR is required, and nothing else\n", stderr);
        ok = false;
    }
    /* A mistake gets the one-line usage; --help the whole text, which
     * help2man turns into the man page. */
    if (!ok)
        fputs("usage: pdnsx-scenario -o DIR [options] (--help for the options)\n", stderr);
    return ok ? 0 : 2;
}

static void sc_world_build(sc_world *w)
{
    const sc_opts *o = w->o;
    w->all_orgs = (uint32_t)((1ull << o->orgs) - 1);
    w->e1 = o->start + (int64_t)(o->days - 2) * SC_DAY;
    w->e2 = w->e1 + SC_DAY;
    /* the stories' names first: the baseline's generated ones avoid them */
    sc_stories_bursts(w);
    sc_stories_traps(w);
    sc_stories_geo(w);
    const char *popular = sc_baseline(w);
    sc_churn(w);
    sc_noise(w, popular);
}

int main(int argc, char **argv)
{
    sc_opts o;
    int rc = sc_args(argc, argv, &o);
    if (rc)
        return rc;
    if (mkdir(o.out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "pdnsx-scenario: %s: %s\n", o.out, strerror(errno));
        return 1;
    }
    sc_world w = {.o = &o, .arena = px_arena_create(0)};
    if (!w.arena)
        sc_die("out of memory");
    char p_exp[4096], p_traps[4096], p_geo[4096], p_brands[4096], p_known[4096];
    w.expected = sc_open(o.out, "expected-alerts.tsv", p_exp, sizeof(p_exp));
    w.traps = sc_open(o.out, "traps.tsv", p_traps, sizeof(p_traps));
    FILE *geo = sc_open(o.out, "geoip.txt", p_geo, sizeof(p_geo));
    FILE *brands = sc_open(o.out, "brands.txt", p_brands, sizeof(p_brands));
    FILE *known = sc_open(o.out, "known-domains.csv", p_known, sizeof(p_known));
    if (!w.expected || !w.traps || !geo || !brands || !known)
        return 1;
    fprintf(w.expected,
            "# pdnsx-scenario: seed %" PRIu64 ", %u organisations, %u days, scale %u\n"
            "# rule\tregistered_domain\tname\tlookalike_brand\tnot_before\tnot_after\torgs\n",
            o.seed, o.orgs, o.days, o.scale);
    fputs("# name or registered domain\twhy no alert (or, privacy:*, why never published)\n",
          w.traps);
    sc_world_build(&w);
    sc_write_geoip(geo);
    sc_write_lists(brands, known);
    rc = sc_close(w.expected, p_exp) | sc_close(w.traps, p_traps) | sc_close(geo, p_geo) |
         sc_close(brands, p_brands) | sc_close(known, p_known);
    for (unsigned g = 0; g < o.orgs && rc == 0; g++) {
        char org[8], path[4096];
        uint64_t packets = 0;
        snprintf(path, sizeof(path), "%s/%s.pcap", o.out, sc_org_name(g, org));
        rc = sc_write_org(&w, g, path, &packets);
        printf("%s\t%" PRIu64 " packets\n", path, packets);
    }
    if (rc == 0 && o.mmdb_writer)
        rc = sc_mmdb(&o);
    free(w.used.slot);
    free(w.names);
    free(w.items);
    px_arena_destroy(w.arena);
    return rc == 0 ? 0 : 1;
}
