/* window_text.c: text keys over the keyed window, as the window tests
 * (and fuzz_filter) state their cases: (rrname, rrtype, rdata, bailiwick)
 * in presentation form.
 *
 * The key is "type, three lengths (bailiwick PXT_NO_BAILIWICK when NULL),
 * rrname\0rdata\0bailiwick\0"; the entry's data is a pointer to a copy of
 * it, which the emit reads the texts from. The copies are freed when the
 * window is, or at pxt_window_flush(). */
#include <stdlib.h>
#include <string.h>

#include "pxt_producer.h"

#define PXT_NO_BAILIWICK UINT16_MAX
#define PXT_KEY_HDR 8

struct pxt_window {
    px_window_conf conf;
    pxt_window_emit_fn emit;
    void *ctx;
    px_window *w;
    px_window_stats base; /* of the windows pxt_window_flush() replaced */
    uint8_t **keys;       /* the copies the entries point to */
    size_t n_keys, cap_keys;
};

static uint16_t get16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static void on_entry(void *ctx, px_window_entry *e, const px_window_counts *c)
{
    pxt_window *t = ctx;
    const uint8_t *k;
    memcpy(&k, px_window_entry_data(e), sizeof(k));
    uint16_t rl = get16(k + 2), dl = get16(k + 4), bl = get16(k + 6);
    const char *s = (const char *)k + PXT_KEY_HDR;
    pxt_obs o = {
        .rrname = s,
        .rrname_len = rl,
        .rrtype = get16(k),
        .rdata = s + rl + 1,
        .rdata_len = dl,
        .bailiwick = bl == PXT_NO_BAILIWICK ? NULL : s + rl + 1 + dl + 1,
        .bailiwick_len = bl == PXT_NO_BAILIWICK ? 0 : bl,
        .count = c->count,
        .time_first = c->time_first,
        .time_last = c->time_last,
        .ttl_min = c->ttl_min,
        .ttl_max = c->ttl_max,
        .clients = c->clients,
    };
    t->emit(t->ctx, &o);
}

static void free_keys(pxt_window *t)
{
    for (size_t i = 0; i < t->n_keys; i++)
        free(t->keys[i]);
    t->n_keys = 0;
}

pxt_window *pxt_window_create(const px_window_conf *conf, pxt_window_emit_fn emit, void *ctx)
{
    if (!emit)
        return NULL;
    pxt_window *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->emit = emit;
    t->ctx = ctx;
    if (conf)
        t->conf = *conf;
    t->w = px_window_create(conf, on_entry, t);
    if (!t->w) {
        free(t);
        return NULL;
    }
    return t;
}

void pxt_window_destroy(pxt_window *t)
{
    if (!t)
        return;
    px_window_destroy(t->w);
    free_keys(t);
    free(t->keys);
    free(t);
}

/* The key of the record into a new buffer of *len bytes. */
static uint8_t *text_key(const char *rrname, size_t rrname_len, uint16_t rrtype, const char *rdata,
                         size_t rdata_len, const char *bailiwick, size_t bailiwick_len, size_t *len)
{
    size_t blen = bailiwick ? bailiwick_len : 0;
    *len = PXT_KEY_HDR + rrname_len + rdata_len + blen + 3;
    uint8_t *buf = malloc(*len);
    if (!buf)
        return NULL;
    uint16_t hdr[4] = {rrtype, (uint16_t)rrname_len, (uint16_t)rdata_len,
                       bailiwick ? (uint16_t)bailiwick_len : PXT_NO_BAILIWICK};
    memcpy(buf, hdr, sizeof(hdr));
    uint8_t *k = buf + PXT_KEY_HDR;
    memcpy(k, rrname, rrname_len);
    k[rrname_len] = '\0';
    k += rrname_len + 1;
    memcpy(k, rdata, rdata_len);
    k[rdata_len] = '\0';
    k += rdata_len + 1;
    if (bailiwick)
        memcpy(k, bailiwick, blen);
    k[blen] = '\0';
    return buf;
}

/* The entry of key, made (pointing to key, which it then owns) if the
 * table has none; NULL on no memory. */
static px_window_entry *entry_of(pxt_window *t, uint8_t *key, size_t len, bool *owned)
{
    px_window_entry *e = px_window_lookup_hashed(t->w, px_window_hash(t->w, key, len), key, len);
    if (e)
        return e;
    if (t->n_keys == t->cap_keys) {
        size_t cap = t->cap_keys ? 2 * t->cap_keys : 64;
        uint8_t **k = realloc(t->keys, cap * sizeof(*k));
        if (!k)
            return NULL;
        t->keys = k;
        t->cap_keys = cap;
    }
    e = px_window_insert(t->w, key, len, sizeof(key));
    if (!e)
        return NULL;
    memcpy(px_window_entry_data(e), &key, sizeof(key));
    t->keys[t->n_keys++] = key;
    *owned = true;
    return e;
}

px_err pxt_window_add(pxt_window *t, const char *rrname, size_t rrname_len, uint16_t rrtype,
                      const char *rdata, size_t rdata_len, const char *bailiwick,
                      size_t bailiwick_len, uint32_t ttl, int64_t now, uint64_t client_hash,
                      bool has_client)
{
    if (!t || !rrname || !rdata)
        return PX_ERR_INVAL;
    if (rrname_len >= UINT16_MAX || rdata_len >= UINT16_MAX ||
        (bailiwick && bailiwick_len >= UINT16_MAX))
        return PX_ERR_TOOLONG;
    size_t len;
    uint8_t *key =
        text_key(rrname, rrname_len, rrtype, rdata, rdata_len, bailiwick, bailiwick_len, &len);
    if (!key)
        return PX_ERR_NOMEM;
    bool owned = false;
    px_window_entry *e = entry_of(t, key, len, &owned);
    if (!owned)
        free(key);
    if (!e)
        return PX_ERR_NOMEM;
    return px_window_count(t->w, e, ttl, now, client_hash, has_client);
}

void pxt_window_tick(pxt_window *t, int64_t now)
{
    px_window_tick(t->w, now);
}

void pxt_window_flush(pxt_window *t)
{
    px_window_flush(t->w);
    px_window_stats st;
    px_window_get_stats(t->w, &st);
    t->base.added += st.added;
    t->base.emitted += st.emitted;
    t->base.withheld += st.withheld;
    t->base.flushes += st.flushes;
    t->base.early_flushes += st.early_flushes;
    px_window_destroy(t->w);
    free_keys(t);
    t->w = px_window_create(&t->conf, on_entry, t);
    if (!t->w)
        abort(); /* tests only: no memory left to go on with */
}

size_t pxt_window_entries(const pxt_window *t)
{
    return px_window_entries(t->w);
}

size_t pxt_window_bytes(const pxt_window *t)
{
    return px_window_bytes(t->w);
}

void pxt_window_get_stats(const pxt_window *t, px_window_stats *out)
{
    px_window_get_stats(t->w, out);
    out->added += t->base.added;
    out->emitted += t->base.emitted;
    out->withheld += t->base.withheld;
    out->flushes += t->base.flushes;
    out->early_flushes += t->base.early_flushes;
}
