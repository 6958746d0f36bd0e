/* px_detect_known.c: the set of known domains (detect.known_domains): an
 * open-addressed table of registered domains, their text in an arena. A
 * top-sites list holds a million entries: a probe must be a hash and a
 * compare. */
#include <stdlib.h>
#include <string.h>

#include "core/px_arena.h"
#include "core/px_hash.h"
#include "detect/px_detect.h"
#include "obs/px_psl.h"
#include "px_detect_int.h"

typedef struct slot {
    uint64_t h; /* 0: empty */
    const char *s;
    size_t n;
} slot;

struct px_detect_known {
    px_arena *arena;
    px_psl_cache *psl;
    slot *t;
    size_t cap, n; /* cap: a power of two */
    uint64_t seed;
};

px_detect_known *px_detect_known_create(void)
{
    px_detect_known *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->arena = px_arena_create(0);
    k->psl = px_psl_cache_create(1024);
    k->seed = px_hash_seed() ^ 0x6b6e6f776e646f6dULL;
    if (!k->arena || !k->psl) {
        px_detect_known_destroy(k);
        return NULL;
    }
    return k;
}

void px_detect_known_destroy(px_detect_known *k)
{
    if (!k)
        return;
    px_arena_destroy(k->arena);
    px_psl_cache_destroy(k->psl);
    free(k->t);
    free(k);
}

static uint64_t hash(const px_detect_known *k, const char *s, size_t n)
{
    uint64_t h = px_hash64(s, n, k->seed);
    return h ? h : 1;
}

static slot *find(const slot *t, size_t cap, uint64_t h, const char *s, size_t n)
{
    for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1)) {
        const slot *e = &t[i];
        if (!e->h || (e->h == h && e->n == n && memcmp(e->s, s, n) == 0))
            return (slot *)e;
    }
}

static px_err grow(px_detect_known *k)
{
    size_t cap = k->cap ? k->cap * 2 : 1024;
    slot *t = calloc(cap, sizeof *t);
    if (!t)
        return PX_ERR_NOMEM;
    for (size_t i = 0; i < k->cap; i++) {
        if (k->t[i].h)
            *find(t, cap, k->t[i].h, k->t[i].s, k->t[i].n) = k->t[i];
    }
    free(k->t);
    k->t = t;
    k->cap = cap;
    return PX_OK;
}

static px_err add(px_detect_known *k, const char *s, size_t n)
{
    if ((k->n + 1) * 2 > k->cap && grow(k) != PX_OK)
        return PX_ERR_NOMEM;
    uint64_t h = hash(k, s, n);
    slot *e = find(k->t, k->cap, h, s, n);
    if (e->h)
        return PX_OK;
    char *copy = px_arena_strndup(k->arena, s, n);
    if (!copy)
        return PX_ERR_NOMEM;
    *e = (slot){h, copy, n};
    k->n++;
    return PX_OK;
}

bool px_detect_known_has(const px_detect_known *k, const char *dom, size_t len)
{
    if (!k || !k->n)
        return false;
    return find(k->t, k->cap, hash(k, dom, len), dom, len)->h != 0;
}

size_t px_detect_known_count(const px_detect_known *k)
{
    return k ? k->n : 0;
}

/* The domain of a line into out (lowercase, no trailing dot): NULL and
 * why, or a message naming what is wrong. */
static const char *domain_of(const char *s, size_t n, char *out, size_t *olen)
{
    if (n && s[n - 1] == '.')
        n--;
    if (n == 0)
        return "empty domain";
    if (n > PXD_NAME_MAX)
        return "domain longer than 253 octets";
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return "empty label or label ending in '-'";
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
            if (c == '-' && label == 0)
                return "label starting with '-'";
            if (++label > 63)
                return "label longer than 63 octets";
        } else {
            return "not a letter, digit, hyphen or dot";
        }
        out[i] = (char)c;
    }
    if (s[n - 1] == '-')
        return "label ending in '-'";
    out[n] = '\0';
    *olen = n;
    return NULL;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return n > 0;
}

static const char *trim(const char *s, size_t *n)
{
    while (*n && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        (*n)--;
    }
    while (*n && (s[*n - 1] == ' ' || s[*n - 1] == '\t' || s[*n - 1] == '\r'))
        (*n)--;
    return s;
}

/* One line, not blank, not a comment. */
static px_err parse_line(px_detect_known *k, const char *s, size_t n, const char **msg)
{
    const char *comma = memchr(s, ',', n);
    if (comma) {
        size_t rank = (size_t)(comma - s);
        const char *r = trim(s, &rank);
        if (!all_digits(r, rank)) {
            *msg = "rank before ',' is not a number";
            return PX_ERR_MALFORMED;
        }
        n -= (size_t)(comma + 1 - s);
        s = comma + 1;
        s = trim(s, &n);
    }
    char dom[PXD_NAME_MAX + 2];
    size_t len = 0;
    *msg = domain_of(s, n, dom, &len);
    if (*msg)
        return PX_ERR_MALFORMED;
    const char *reg;
    size_t reg_len;
    if (px_psl_cache_lookup(k->psl, dom, len, &reg, &reg_len) != PX_OK) {
        *msg = "no registered domain";
        return PX_ERR_MALFORMED;
    }
    return add(k, reg, reg_len);
}

px_err px_detect_known_parse(px_detect_known *k, const char *buf, size_t len, char *why,
                             size_t whylen)
{
    if (!k || (!buf && len))
        return PX_ERR_INVAL;
    size_t line = 0;
    for (size_t off = 0; off < len;) {
        const char *s = buf + off;
        const char *nl = memchr(s, '\n', len - off);
        size_t n = nl ? (size_t)(nl - s) : len - off;
        off += n + (nl ? 1 : 0);
        line++;
        s = trim(s, &n);
        if (n == 0 || s[0] == '#')
            continue;
        const char *msg = NULL;
        px_err err = parse_line(k, s, n, &msg);
        if (err == PX_ERR_MALFORMED)
            px_why(why, whylen, "line %zu: %s", line, msg);
        if (err)
            return err;
    }
    return PX_OK;
}
