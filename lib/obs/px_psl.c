/* px_psl.c: registered domain through libpsl.
 *
 * psl_latest(NULL) picks the newer of libpsl's built-in list and the
 * system's (Debian's publicsuffix package); it includes the private
 * section (blogspot.com, github.io, ...). Loaded once per process. */
#include <ctype.h>
#include <libpsl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/px_hash.h"

#include "obs/px_psl.h"

#define PX_PSL_NAME_MAX 1025 /* presentation name, 255 octets as \DDD, + NUL */

static pthread_once_t psl_once = PTHREAD_ONCE_INIT;
static const psl_ctx_t *psl_ctx;

static void psl_init(void)
{
    /* psl_latest() returns a context the caller owns; it lives as long as
     * the process. The built-in list is the fallback if no file loads. */
    psl_ctx = psl_latest(NULL);
    if (!psl_ctx)
        psl_ctx = psl_builtin();
}

static px_err put(const char *s, size_t n, char *out, size_t outlen)
{
    if (n >= outlen)
        return PX_ERR_TOOLONG;
    memcpy(out, s, n);
    out[n] = '\0';
    return PX_OK;
}

/* True if the dot at name[i] is escaped ("a\.b" is one label). */
static bool dot_escaped(const char *name, size_t i)
{
    size_t bs = 0;
    while (bs < i && name[i - 1 - bs] == '\\')
        bs++;
    return bs % 2 == 1;
}

typedef struct px_psl_memo px_psl_memo;
static bool memo_is_public(px_psl_memo *m, const char *suffix);

/* psl_registrable_domain() (libpsl 0.21) walks the name from the left and
 * asks psl_is_public_suffix() of each suffix in turn; whether a suffix is
 * public depends on nothing but that suffix, so with a memo the same walk
 * asks libpsl only about suffixes it has not seen ("example.com" and
 * "com" once, not for every name under them). Same suffixes, same order,
 * same answer. */
static const char *registrable(const char *domain, px_psl_memo *m)
{
    if (!psl_ctx || *domain == '.')
        return NULL;
    const char *regdom = NULL;
    while (!memo_is_public(m, domain)) {
        const char *p = strchr(domain, '.');
        if (!p)
            break;
        regdom = domain;
        domain = p + 1;
    }
    return regdom;
}

static px_err registered_domain(const char *name, size_t n, char *out, size_t outlen,
                                px_psl_memo *m)
{
    char buf[PX_PSL_NAME_MAX];
    /* Strip one trailing dot unless it is escaped; the root stays ".". */
    if (n > 1 && name[n - 1] == '.' && !dot_escaped(name, n - 1))
        n--;
    if (n == 0 || (n == 1 && name[0] == '.'))
        return put(".", 1, out, outlen);
    if (n >= sizeof(buf))
        return PX_ERR_TOOLONG;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)tolower((unsigned char)name[i]);
    buf[n] = '\0';

    pthread_once(&psl_once, psl_init);
    const char *reg = registrable(buf, m);
    if (!reg)
        return put(buf, n, out, outlen); /* a public suffix, or no list */
    /* libpsl knows nothing of presentation escapes: if it cut at an escaped
     * dot, move back to the start of that whole label. */
    size_t start = (size_t)(reg - buf);
    while (start > 0 && buf[start - 1] == '.' && dot_escaped(buf, start - 1)) {
        start--;
        while (start > 0 && !(buf[start - 1] == '.' && !dot_escaped(buf, start - 1)))
            start--;
    }
    return put(buf + start, n - start, out, outlen);
}

bool px_psl_is_public_suffix(const char *name, size_t len)
{
    char buf[PX_PSL_NAME_MAX];
    if (!name || len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, name, len);
    buf[len] = '\0';
    pthread_once(&psl_once, psl_init);
    return psl_ctx && psl_is_public_suffix2(psl_ctx, buf, PSL_TYPE_ICANN | PSL_TYPE_NO_STAR_RULE);
}

/* Memo of psl_is_public_suffix() by suffix: direct-mapped, suffixes up to
 * PX_PSL_MEMO_TEXT octets (longer ones go to libpsl every time). */
#define PX_PSL_MEMO_SLOTS 16384
#define PX_PSL_MEMO_TEXT 62

typedef struct px_psl_memo_slot {
    uint64_t hash;
    uint8_t len; /* 0: empty */
    uint8_t is_public;
    char text[PX_PSL_MEMO_TEXT];
} px_psl_memo_slot;

struct px_psl_memo {
    px_psl_memo_slot slots[PX_PSL_MEMO_SLOTS];
};

static bool memo_is_public(px_psl_memo *m, const char *suffix)
{
    size_t len = strlen(suffix);
    if (!m || len == 0 || len > PX_PSL_MEMO_TEXT) /* no memo: px_psl_key */
        return psl_is_public_suffix(psl_ctx, suffix);
    uint64_t h = px_hash64(suffix, len, 0x707362ull);
    px_psl_memo_slot *s = &m->slots[h & (PX_PSL_MEMO_SLOTS - 1)];
    if (s->len == len && s->hash == h && memcmp(s->text, suffix, len) == 0)
        return s->is_public;
    bool pub = psl_is_public_suffix(psl_ctx, suffix);
    s->hash = h;
    s->len = (uint8_t)len;
    s->is_public = pub;
    memcpy(s->text, suffix, len);
    return pub;
}

/* One cache line: names up to PX_PSL_INLINE octets are kept in the slot,
 * so a hit costs one cache miss (the slot), not two (the slot and a
 * malloc'd copy; the consumer looks up a name per message). Longer names
 * keep a malloc'd copy. */
#define PX_PSL_INLINE 48

typedef struct px_psl_slot {
    uint64_t hash;
    uint32_t len; /* 0: empty */
    uint32_t reg_off;
    union {
        char text[PX_PSL_INLINE]; /* len <= PX_PSL_INLINE */
        char *copy;               /* longer: malloc'd */
    } name;
} px_psl_slot;

struct px_psl_cache {
    /* Two-way sets (slots 2i and 2i + 1): in a direct-mapped table of 2^20
     * slots, the 200,000 names of the consumer benchmark would collide on
     * about one lookup in six (1 - e^-0.19), two names on one slot
     * evicting each other in turn. */
    px_psl_slot *slots;
    uint8_t *recent; /* per set: the way used last (the other one goes) */
    size_t mask;     /* sets - 1 */
    /* The slot of the last answer: records of one response are emitted
     * together, so the next name is often the same one, and this slot is
     * still in the CPU cache. Whatever name it holds, its answer is right. */
    const px_psl_slot *last;
    px_psl_memo *memo;
};

static const char *slot_name(const px_psl_slot *s)
{
    return s->len <= PX_PSL_INLINE ? s->name.text : s->name.copy;
}

static bool slot_holds(const px_psl_slot *s, uint64_t h, const char *name, size_t len)
{
    return s->len == len && s->hash == h && memcmp(slot_name(s), name, len) == 0;
}

static void slot_clear(px_psl_slot *s)
{
    if (s->len > PX_PSL_INLINE)
        free(s->name.copy);
    s->len = 0;
}

/* The table in huge pages where the kernel gives them on request
 * (transparent huge pages in "madvise" mode, Debian's default): a lookup
 * per message at a random place of tens of MiB misses the TLB with 4 KiB
 * pages, and the page walk cost as much as the cache miss. */
static void *huge_alloc(size_t bytes)
{
    size_t align = bytes >= (2u << 20) ? (2u << 20) : 64;
    void *p = aligned_alloc(align, (bytes + align - 1) / align * align);
    if (p && align > 64)
        madvise(p, bytes, MADV_HUGEPAGE); /* advice: its failure changes nothing */
    return p;
}

px_psl_cache *px_psl_cache_create(size_t slots)
{
    size_t n = 2;
    while (n < (slots ? slots : 65536))
        n <<= 1;
    px_psl_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->slots = huge_alloc(n * sizeof(*c->slots));
    c->recent = calloc(n / 2, 1);
    c->memo = calloc(1, sizeof(*c->memo));
    if (!c->slots || !c->recent || !c->memo) {
        free(c->slots);
        free(c->recent);
        free(c->memo);
        free(c);
        return NULL;
    }
    memset(c->slots, 0, n * sizeof(*c->slots));
    c->mask = n / 2 - 1;
    return c;
}

void px_psl_cache_destroy(px_psl_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < 2 * (c->mask + 1); i++)
        slot_clear(&c->slots[i]);
    free(c->slots);
    free(c->recent);
    free(c->memo);
    free(c);
}

void px_psl_cache_prefetch(const px_psl_cache *c, const char *name, size_t len)
{
    uint64_t h = px_hash64(name, len, 0x70736c00ull);
    /* one line: the CPU's adjacent-line prefetch brings the set's other */
    __builtin_prefetch(&c->slots[2 * (h & c->mask)]);
}

/* Remembers name's answer in its set, over the way used less recently. */
static void cache_fill(px_psl_cache *c, uint64_t h, const char *name, size_t len, size_t reg_off)
{
    size_t set = h & c->mask;
    int way = c->recent[set] ^ 1;
    px_psl_slot *s = &c->slots[2 * set + (size_t)way];
    char *copy = NULL;
    if (len > PX_PSL_INLINE && !(copy = malloc(len)))
        return; /* answered, not cached */
    slot_clear(s);
    if (copy)
        s->name.copy = copy;
    memcpy(copy ? copy : s->name.text, name, len);
    s->hash = h;
    s->len = (uint32_t)len;
    s->reg_off = (uint32_t)reg_off;
    c->recent[set] = (uint8_t)way;
    c->last = s;
}

/* The registered domain of a canonical name as a suffix of it (m: a memo,
 * or NULL). PX_ERR_INVAL for a name whose answer is no suffix of it (not
 * canonical). */
static px_err key_of(const char *name, size_t len, px_psl_memo *m, const char **reg,
                     size_t *reg_len)
{
    char out[PX_PSL_NAME_MAX];
    px_err err = registered_domain(name, len, out, sizeof(out), m);
    if (err != PX_OK)
        return err;
    size_t rl = strlen(out);
    if (rl > len || memcmp(name + len - rl, out, rl) != 0)
        return PX_ERR_INVAL;
    *reg = name + len - rl;
    *reg_len = rl;
    return PX_OK;
}

px_err px_psl_cache_lookup(px_psl_cache *c, const char *name, size_t len, const char **reg,
                           size_t *reg_len)
{
    const px_psl_slot *l = c->last;
    if (l && l->len == len && memcmp(slot_name(l), name, len) == 0) {
        *reg = name + l->reg_off;
        *reg_len = len - l->reg_off;
        return PX_OK;
    }
    uint64_t h = px_hash64(name, len, 0x70736c00ull);
    size_t set = h & c->mask;
    for (int way = 0; way < 2; way++) {
        const px_psl_slot *s = &c->slots[2 * set + (size_t)way];
        if (len && slot_holds(s, h, name, len)) {
            c->recent[set] = (uint8_t)way;
            c->last = s;
            *reg = name + s->reg_off;
            *reg_len = len - s->reg_off;
            return PX_OK;
        }
    }
    px_err err = key_of(name, len, c->memo, reg, reg_len);
    if (err == PX_OK && len)
        cache_fill(c, h, name, len, len - *reg_len);
    return err;
}

px_err px_psl_key(const char *name, size_t len, const char **reg, size_t *reg_len)
{
    return key_of(name, len, NULL, reg, reg_len);
}
