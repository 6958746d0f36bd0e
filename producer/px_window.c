/* px_window.c: the aggregation window.
 *
 * Layout: each key is one arena block (entry header, the key bytes, then
 * the caller's data). The table is open addressing with linear probing
 * over {hash, entry} slots. Keys counted in the open window are chained in
 * the order they entered it, so a flush emits in the same order on every
 * replay; the counters carry the serial of the window they belong to, so
 * a flush needs no pass to reset them.
 *
 * Entries outlive flushes. Evicting copies the survivors into
 * a new arena (and a new table) and frees the old one: entries never move
 * except at the start of a lookup or insert, so the pointer a caller holds
 * stays good while it counts.
 *
 * Cache lines: a lookup hit and its count touch the slot, the 64-byte
 * header (counters, key length, the caller's tag) and the key right after
 * it; the arena places each entry so that header and key span the fewest
 * lines (two for keys up to 64 bytes). The hash lives in the slots only:
 * the one path that needs it from an entry (eviction) recomputes it.
 *
 * Memory per key: 64 bytes of header, the key, the data, up to 56 bytes
 * of line padding (about 20 on average), and 16 bytes per slot at a load
 * of 3/8..3/4 (21..43 bytes). px_window_bytes() reports what is actually
 * held. */
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/px_arena.h"
#include "core/px_hash.h"
#include "px_window.h"

#define PX_WINDOW_MIN_SLOTS 1024
/* clients value reported once every bit of the bitmap is set: the
 * estimate for half a free bit, i.e. "more than about 266". */
#define PX_WINDOW_CLIENTS_SATURATED 310

struct px_window_entry {
    uint64_t count;
    int64_t time_first, time_last;
    /* Linear-counting bitmap of client hashes (bit = hash % 64); 0 means
     * no record of this key showed a client. */
    uint64_t clients;
    uint32_t ttl_min, ttl_max;
    uint32_t win;                 /* serial of the window the counters belong to (0: none) */
    uint32_t used;                /* serial of the window that last looked it up */
    struct px_window_entry *next; /* open window chain, entry order */
    uint32_t key_len;
    uint16_t data_len;
    uint8_t tag;                 /* the caller's byte (px_window_entry_tag()) */
    _Alignas(8) uint8_t bytes[]; /* key, then data 8-aligned after it */
};
typedef struct px_window_entry px_wentry;

/* One line of header: the key starts on the next line. */
_Static_assert(offsetof(px_wentry, bytes) == 64, "px_window_entry header is one cache line");
#define PX_WINDOW_LINE 64

typedef struct px_wslot {
    uint64_t hash;
    px_wentry *e; /* NULL: empty */
} px_wslot;

struct px_window {
    px_window_conf conf;
    px_window_emit_fn emit;
    void *ctx;
    px_arena *arena;
    px_wslot *slots;
    size_t mask;     /* slots - 1 */
    size_t n;        /* keys counted in the open window */
    size_t n_keys;   /* keys in the table */
    size_t kept;     /* keys kept at the last clean-up */
    size_t max_keys; /* hard bound of n_keys (opaque keys) */
    bool evict_due;  /* clean up at the next lookup */
    uint32_t serial; /* of the open window; advances at every flush */
    px_wentry *head, **tail;
    bool open;
    int64_t start; /* open window: [start, start + seconds) */
    uint64_t seed;
    px_window_stats stats;
};

static size_t pow2_at_least(size_t v)
{
    size_t p = 1;
    while (p < v && p <= SIZE_MAX / 2)
        p *= 2;
    return p;
}

/* The linear-counting estimate (see estimate_clients()) for a bitmap
 * with `zeros` zero bits. */
static int64_t estimate_for_zeros(int zeros)
{
    if (zeros == 0)
        return PX_WINDOW_CLIENTS_SATURATED;
    return (int64_t)floor(-64.0 * log(zeros / 64.0) + 1e-9);
}

/* The estimate for each count of zero bits, worked out once (a log() per
 * emitted observation showed in the profile). */
static int64_t clients_table[65];
static pthread_once_t clients_once = PTHREAD_ONCE_INIT;

static void clients_table_init(void)
{
    for (int z = 0; z <= 64; z++)
        clients_table[z] = estimate_for_zeros(z);
}

/* Offset of the caller's data in bytes[] (8-aligned, as the header). */
static size_t data_off(size_t key_len)
{
    return (key_len + 7) & ~(size_t)7;
}

static px_window *window_new(const px_window_conf *conf, void *ctx)
{
    if (!conf || conf->seconds < 1 || conf->max_entries < 1 || conf->max_entries > UINT32_MAX / 2)
        return NULL;
    px_window *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->conf = *conf;
    if (w->conf.min_clients == 0)
        w->conf.min_clients = 1;
    w->ctx = ctx;
    pthread_once(&clients_once, clients_table_init);
    w->max_keys = 2 * conf->max_entries + PX_WINDOW_KEEP_MIN;
    w->arena = px_arena_create(0);
    w->slots = calloc(PX_WINDOW_MIN_SLOTS, sizeof(*w->slots));
    if (!w->arena || !w->slots) {
        px_window_destroy(w);
        return NULL;
    }
    w->mask = PX_WINDOW_MIN_SLOTS - 1;
    w->tail = &w->head;
    w->serial = 1;
    /* The keys are records from the traffic: a seed drawn per process
     * keeps a sender from choosing names that collide. */
    w->seed = px_hash_seed() ^ 0x77696e646f776b79ULL;
    return w;
}

px_window *px_window_create(const px_window_conf *conf, px_window_emit_fn emit, void *ctx)
{
    if (!emit)
        return NULL;
    px_window *w = window_new(conf, ctx);
    if (w)
        w->emit = emit;
    return w;
}

void px_window_destroy(px_window *w)
{
    if (!w)
        return;
    px_arena_destroy(w->arena);
    free(w->slots);
    free(w);
}

/* Floor division: windows stay aligned for negative times too. */
static int64_t align(int64_t now, int64_t seconds)
{
    int64_t q = now / seconds;
    if (now % seconds != 0 && now < 0)
        q--;
    return q * seconds;
}

static bool past_end(const px_window *w, int64_t now)
{
    return now >= w->start && (uint64_t)now - (uint64_t)w->start >= (uint64_t)w->conf.seconds;
}

/* Distinct clients from the bitmap: linear counting, n = -m ln(z/m) with
 * m = 64 bits and z zero bits, rounded down.
 * Error: exact while no two clients share a bit, and then for n <= 10 the
 * rounded-down estimate is exactly n. A shared bit makes it low, never high
 * (for n <= 11). With random client hashes (simulated): n = 5 exact in 85%
 * of windows and within 1 in 99%; n = 10 exact in 47%, within 1 in 86%;
 * n = 100 has a relative standard error of about 15%; past ~250 clients
 * the map saturates and reports PX_WINDOW_CLIENTS_SATURATED. */
static int64_t estimate_clients(uint64_t bitmap)
{
    if (bitmap == 0)
        return -1;
    return clients_table[64 - __builtin_popcountll(bitmap)];
}

/* min_clients must hold for certain, so it tests the set bits (distinct
 * clients can share a bit, never split one), not the estimate. */
static bool withheld(const px_window *w, const px_wentry *e)
{
    if (w->conf.min_clients <= 1)
        return false;
    return (uint32_t)__builtin_popcountll(e->clients) < w->conf.min_clients;
}

static void emit_entry(px_window *w, px_wentry *e)
{
    if (withheld(w, e)) {
        w->stats.withheld++;
        return;
    }
    px_window_counts c = {
        .count = e->count,
        .time_first = e->time_first,
        .time_last = e->time_last,
        .ttl_min = e->ttl_min,
        .ttl_max = e->ttl_max,
        .clients = estimate_clients(e->clients),
    };
    w->emit(w->ctx, e, &c);
    w->stats.emitted++;
}

static uint64_t key_hash(const px_window *w, const void *key, size_t key_len)
{
    return px_hash64(key, key_len, w->seed);
}

/* Emits the open window and closes it. Keys stay. */
static void flush_window(px_window *w)
{
    /* The chain wanders the whole arena: fetch the entry after next's
     * header and the next one's key and data while this one is emitted. */
    for (px_wentry *e = w->head; e; e = e->next) {
        const px_wentry *n = e->next;
        if (n) {
            __builtin_prefetch(n->next);
            __builtin_prefetch(n->bytes);
            __builtin_prefetch(n->bytes + data_off(n->key_len));
            __builtin_prefetch(n->bytes + data_off(n->key_len) + PX_WINDOW_LINE);
        }
        emit_entry(w, e);
    }
    w->head = NULL;
    w->tail = &w->head;
    w->n = 0;
    w->open = false;
    /* Skips 0, which marks "never counted". */
    if (++w->serial == 0)
        w->serial = 1;
    w->stats.flushes++;
}

void px_window_flush(px_window *w)
{
    if (!w || !w->open)
        return;
    flush_window(w);
    size_t bound = 2 * w->kept > PX_WINDOW_KEEP_MIN ? 2 * w->kept : PX_WINDOW_KEEP_MIN;
    if (w->n_keys > bound)
        w->evict_due = true;
}

void px_window_tick(px_window *w, int64_t now)
{
    if (w && w->open && past_end(w, now))
        px_window_flush(w);
}

static void slot_put(px_wslot *slots, size_t mask, uint64_t h, px_wentry *e)
{
    size_t i = h & mask;
    while (slots[i].e)
        i = (i + 1) & mask;
    slots[i] = (px_wslot){.hash = h, .e = e};
}

/* Doubles the table (rehashing the slots). */
static bool grow(px_window *w)
{
    size_t old = w->mask + 1, cap = old * 2;
    px_wslot *s = calloc(cap, sizeof(*s));
    if (!s)
        return false;
    for (size_t i = 0; i < old; i++)
        if (w->slots[i].e)
            slot_put(s, cap - 1, w->slots[i].hash, w->slots[i].e);
    free(w->slots);
    w->slots = s;
    w->mask = cap - 1;
    return true;
}

static size_t entry_size(const px_wentry *e)
{
    return sizeof(px_wentry) + data_off(e->key_len) + e->data_len;
}

static px_wentry *entry_alloc(px_arena *a, size_t key_len, size_t data_len)
{
    return px_arena_alloc_lines(a, sizeof(px_wentry) + data_off(key_len) + data_len,
                                sizeof(px_wentry) + key_len);
}

static px_wentry *copy_entry(px_arena *a, px_wslot *slots, size_t mask, uint64_t h,
                             const px_wentry *e)
{
    px_wentry *c = entry_alloc(a, e->key_len, e->data_len);
    if (!c)
        return NULL;
    memcpy(c, e, entry_size(e));
    c->next = NULL;
    slot_put(slots, mask, h, c);
    return c;
}

static bool keeps(const px_window *w, const px_wentry *e, bool only_open)
{
    if (e->win == w->serial)
        return true;
    /* looked up in the open window or the two before it */
    return !only_open && (uint32_t)(w->serial - e->used) <= 2;
}

/* Keeps the entries counted in the open window and, unless only_open,
 * those looked up in the open window or the two before it (and then only
 * if that frees at least half the table); the rest go.
 * Builds a new arena and table; false (nothing changed) on no memory. */
static bool evict(px_window *w, bool only_open)
{
    size_t keep = 0;
    for (size_t i = 0; i <= w->mask; i++)
        if (w->slots[i].e && keeps(w, w->slots[i].e, only_open))
            keep++;
    /* Not worth a copy of the table: try again after the next flush. */
    if (!only_open && keep > w->n_keys / 2)
        return false;
    size_t want = keep * 2 > PX_WINDOW_MIN_SLOTS ? keep * 2 : PX_WINDOW_MIN_SLOTS;
    size_t cap = pow2_at_least(want), mask = cap - 1;
    px_arena *a = px_arena_create(0);
    px_wslot *s = calloc(cap, sizeof(*s));
    if (!a || !s)
        goto fail;
    /* The open window's chain first, in order, so it is relinked as is. */
    px_wentry *head = NULL, **tail = &head;
    for (const px_wentry *e = w->head; e; e = e->next) {
        px_wentry *c = copy_entry(a, s, mask, key_hash(w, e->bytes, e->key_len), e);
        if (!c)
            goto fail;
        *tail = c;
        tail = &c->next;
    }
    for (size_t i = 0; i <= w->mask; i++) {
        const px_wentry *e = w->slots[i].e;
        if (e && e->win != w->serial && keeps(w, e, only_open) &&
            !copy_entry(a, s, mask, w->slots[i].hash, e))
            goto fail;
    }
    px_arena_destroy(w->arena);
    free(w->slots);
    w->arena = a;
    w->slots = s;
    w->mask = mask;
    w->head = head;
    w->tail = head ? tail : &w->head;
    w->n_keys = keep;
    w->kept = keep;
    return true;
fail:
    px_arena_destroy(a);
    free(s);
    return false;
}

uint64_t px_window_hash(const px_window *w, const void *key, size_t key_len)
{
    return key_hash(w, key, key_len);
}

void px_window_prefetch(const px_window *w, uint64_t hash)
{
    __builtin_prefetch(&w->slots[hash & w->mask]);
}

void px_window_prefetch_entry(const px_window *w, uint64_t hash)
{
    const px_wslot *s = &w->slots[hash & w->mask];
    if (s->e && s->hash == hash) {
        __builtin_prefetch(s->e);
        __builtin_prefetch((const char *)s->e + PX_WINDOW_LINE); /* the key's first line */
    }
}

px_window_entry *px_window_lookup_hashed(px_window *w, uint64_t h, const void *key, size_t key_len)
{
    if (w->evict_due) {
        /* On no memory, the old table simply stays. */
        w->evict_due = false;
        evict(w, false);
    }
    for (size_t i = h & w->mask; w->slots[i].e; i = (i + 1) & w->mask) {
        px_wentry *e = w->slots[i].e;
        if (w->slots[i].hash == h && e->key_len == key_len && memcmp(e->bytes, key, key_len) == 0) {
            e->used = w->serial;
            return e;
        }
    }
    return NULL;
}

static px_wentry *insert_hashed(px_window *w, uint64_t h, const void *key, size_t key_len,
                                size_t data_len)
{
    if (key_len > UINT32_MAX / 2 || data_len > UINT16_MAX)
        return NULL;
    if (w->n_keys >= w->max_keys)
        evict(w, true);
    if ((w->n_keys + 1) * 4 > (w->mask + 1) * 3 && !grow(w) &&
        (w->n_keys + 1) * 8 > (w->mask + 1) * 7)
        return NULL; /* no memory to grow, and nearly full */
    size_t off = data_off(key_len);
    px_wentry *e = entry_alloc(w->arena, key_len, data_len);
    if (!e)
        return NULL;
    memset(e, 0, sizeof(*e));
    e->key_len = (uint32_t)key_len;
    e->data_len = (uint16_t)data_len;
    e->used = w->serial;
    memcpy(e->bytes, key, key_len);
    memset(e->bytes + off, 0, data_len);
    slot_put(w->slots, w->mask, h, e);
    w->n_keys++;
    return e;
}

px_window_entry *px_window_insert(px_window *w, const void *key, size_t key_len, size_t data_len)
{
    if (w->evict_due) {
        w->evict_due = false;
        evict(w, false);
    }
    return insert_hashed(w, key_hash(w, key, key_len), key, key_len, data_len);
}

void *px_window_entry_data(px_window_entry *e)
{
    return e->bytes + data_off(e->key_len);
}

uint8_t px_window_entry_tag(const px_window_entry *e)
{
    return e->tag;
}

void px_window_entry_set_tag(px_window_entry *e, uint8_t tag)
{
    e->tag = tag;
}

/* Closes the window early (it holds max_entries keys) and goes on in the
 * same window period, so nothing is lost. */
static void early_flush(px_window *w)
{
    int64_t start = w->start;
    flush_window(w);
    w->stats.early_flushes++;
    w->open = true;
    w->start = start;
}

static void update(px_wentry *e, uint32_t ttl, int64_t now, uint64_t client_hash, bool has_client)
{
    if (e->count == 0 || now < e->time_first)
        e->time_first = now;
    if (e->count == 0 || now > e->time_last)
        e->time_last = now;
    e->count++;
    if (ttl < e->ttl_min)
        e->ttl_min = ttl;
    if (ttl > e->ttl_max)
        e->ttl_max = ttl;
    if (has_client)
        e->clients |= 1ULL << (client_hash % 64);
}

/* Opens a window at `now` if none is open (flushing the open one first if
 * `now` is past its end). */
static void advance(px_window *w, int64_t now)
{
    if (w->open && past_end(w, now))
        px_window_flush(w);
    if (!w->open) {
        w->open = true;
        w->start = align(now, w->conf.seconds);
    }
}

/* Counts e in the open window, entering it there if it is new to it. */
static void count_in(px_window *w, px_wentry *e, uint32_t ttl, int64_t now, uint64_t client_hash,
                     bool has_client)
{
    w->stats.added++;
    if (e->win != w->serial) {
        if (w->n >= w->conf.max_entries)
            early_flush(w);
        e->win = w->serial;
        e->count = 0;
        e->clients = 0;
        e->ttl_min = UINT32_MAX;
        e->ttl_max = 0;
        e->next = NULL;
        *w->tail = e;
        w->tail = &e->next;
        w->n++;
    }
    update(e, ttl, now, client_hash, has_client);
}

px_err px_window_count(px_window *w, px_window_entry *e, uint32_t ttl, int64_t now,
                       uint64_t client_hash, bool has_client)
{
    if (!w || !e)
        return PX_ERR_INVAL;
    advance(w, now);
    e->used = w->serial;
    count_in(w, e, ttl, now, client_hash, has_client);
    return PX_OK;
}

size_t px_window_entries(const px_window *w)
{
    return w ? w->n : 0;
}

size_t px_window_keys(const px_window *w)
{
    return w ? w->n_keys : 0;
}

size_t px_window_bytes(const px_window *w)
{
    if (!w)
        return 0;
    return sizeof(*w) + (w->mask + 1) * sizeof(*w->slots) + px_arena_bytes(w->arena);
}

void px_window_get_stats(const px_window *w, px_window_stats *out)
{
    if (!w || !out)
        return;
    *out = w->stats;
}
