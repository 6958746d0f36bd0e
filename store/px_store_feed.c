/* px_store_feed.c: the change feed the flush emits (obs/px_change.h,
 * docs/STORE.md "The change feed"). */
#include <stdlib.h>
#include <string.h>

#include "dns/px_addr.h"
#include "core/px_arena.h"
#include "px_store_batch.h"

/* ---- the change feed (obs/px_change.h) ----
 *
 * Built by the flush, which alone knows what the store held before: a
 * record or domain it does not find is new, one it merges into grew if
 * the merge changed it. Built only with a sink; strings and arrays in the
 * batch's arena (reset after each flush or chunk). Organisation names come
 * from the org cache, else the dictionary; AS organisations
 * of stored records through the dictionary, once per id per batch. */

typedef struct aso_name {
    uint32_t id;
    char text[sizeof((px_geo *)0)->as_org];
} aso_name;

#define PXS_ASO_CACHE_MAX 1024

bool pxs_feed_on(const px_store_batch *b)
{
    return b->s->feed.change != NULL;
}

/* After a transaction of the batch: committed (if it delivered changes)
 * or rolled back. */
void pxs_feed_end(px_store_batch *b, bool committed)
{
    const px_change_sink *f = &b->s->feed;
    if (committed && b->delivered && f->committed)
        f->committed(f->ctx);
    else if (!committed && f->aborted)
        f->aborted(f->ctx);
    b->delivered = false;
}

static px_err feed_send(px_store_batch *b, const px_change *c)
{
    b->delivered = true;
    return b->s->feed.change(b->s->feed.ctx, c);
}

/* The name of organisation id, copied into the arena. */
static px_err org_name(px_store_batch *b, uint32_t id, const char **out)
{
    px_store *s = b->s;
    char name[PXS_DICT_STR_MAX + 1];
    const char *found = NULL;
    for (size_t i = 0; i < s->n_orgs && !found; i++) {
        if (s->orgs[i].id == id)
            found = s->orgs[i].name;
    }
    if (!found) {
        px_err err = pxs_dict_text(b, DBI_ORG_I, id, name);
        if (err)
            return err;
        found = name;
    }
    *out = px_arena_strndup(b->arena, found, strlen(found));
    return *out ? PX_OK : PX_ERR_NOMEM;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted names of the organisation ids ids[0..n) (stride bytes apart). */
static px_err org_names(px_store_batch *b, const void *ids, size_t stride, size_t n,
                        const char *const **out)
{
    const char **v = px_arena_alloc(b->arena, (n ? n : 1) * sizeof *v);
    if (!v)
        return PX_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        uint32_t id;
        memcpy(&id, (const uint8_t *)ids + i * stride, sizeof id);
        px_err err = org_name(b, id, &v[i]);
        if (err)
            return err;
    }
    qsort(v, n, sizeof *v, str_cmp);
    *out = v;
    return PX_OK;
}

/* Copies a NUL-terminated text into out[0..len), cut to fit. */
static void text_copy(char *out, size_t len, const char *text)
{
    size_t n = strnlen(text, len - 1);
    memcpy(out, text, n);
    out[n] = 0;
}

/* The text of AS organisation id of a stored record. */
static px_err aso_text(px_store_batch *b, uint32_t id, char *out, size_t len)
{
    for (size_t i = 0; i < b->n_aso; i++) {
        if (b->aso[i].id == id) {
            text_copy(out, len, b->aso[i].text);
            return PX_OK;
        }
    }
    char text[PXS_DICT_STR_MAX + 1];
    px_err err = pxs_dict_text(b, DBI_ASO_I, id, text);
    if (err)
        return err;
    text_copy(out, len, text);
    if (b->n_aso < PXS_ASO_CACHE_MAX) /* a cache: no room is no entry */
        (void)PX_ARRAY_RESERVE(b->aso, b->cap_aso, b->n_aso + 1, 16);
    if (b->n_aso < b->cap_aso) {
        b->aso[b->n_aso].id = id;
        text_copy(b->aso[b->n_aso++].text, sizeof b->aso[0].text, text);
    }
    return PX_OK;
}

/* The GeoIP answer a stored record holds, into g; false if none. */
static px_err stored_geo(px_store_batch *b, const pxs_rec *r, px_geo *g, bool *has)
{
    *has = (r->flags & PXS_F_GEO) != 0;
    if (!*has)
        return PX_OK;
    *g = (px_geo){.asn = r->asn};
    memcpy(g->country, r->country, sizeof g->country);
    g->country[sizeof g->country - 1] = 0;
    return r->as_org ? aso_text(b, r->as_org, g->as_org, sizeof g->as_org) : PX_OK;
}

/* The key's parts as the feed gives them: rrname, rdata text, address
 * bytes. long_rd: the overlong rdata (from the value). */
static px_err change_key(px_store_batch *b, const brec *e, const uint8_t *long_rd, size_t long_len,
                         px_change_record *c)
{
    size_t nl = e->name_len, off = nl + 3;
    const uint8_t *tp = e->k.key + nl + 1;
    c->rrtype = (uint16_t)(tp[0] << 8 | tp[1]);
    char *name = px_arena_alloc(b->arena, nl + 1);
    if (!name)
        return PX_ERR_NOMEM;
    pxs_name_reverse((const char *)e->k.key, nl, name);
    c->rrname = name;
    c->rrname_len = nl;
    if (c->rrtype == 1 || c->rrtype == 28) {
        char *text = px_arena_alloc(b->arena, 64);
        if (!text)
            return PX_ERR_NOMEM;
        px_addr a = {.family = c->rrtype == 1 ? 4 : 6};
        c->addr = e->k.key + off;
        c->addr_len = c->rrtype == 1 ? 4 : 16;
        memcpy(a.bytes, c->addr, c->addr_len);
        px_addr_format(&a, text, 64);
        c->rdata = text;
        c->rdata_len = strlen(text);
        return PX_OK;
    }
    const uint8_t *rd = long_rd ? long_rd : e->k.key + off;
    size_t len = long_rd ? long_len : e->k.klen - off;
    c->rdata = px_arena_strndup(b->arena, (const char *)rd, len);
    c->rdata_len = len;
    return c->rdata ? PX_OK : PX_ERR_NOMEM;
}

static void ttl_set(const brec *e, px_change_record *x)
{
    x->has_ttl = e->has_ttl;
    x->ttl_min = e->ttl_min;
    x->ttl_max = e->ttl_max;
}

/* A record the store did not hold: r is all of it; geo as enriched. */
px_err pxs_feed_rec_new(px_store_batch *b, const brec *e, const px_geo *geo)
{
    px_change c = {.kind = PX_CHANGE_RECORD_NEW};
    px_change_record *x = &c.rec;
    const pxs_rec *r = &e->rec;
    px_err err = change_key(b, e, (r->flags & PXS_F_LONG) ? r->rdata : NULL, r->rdata_len, x);
    if (!err)
        err = org_names(b, r->orgs, sizeof *r->orgs, r->n_orgs, &x->orgs);
    if (err)
        return err;
    x->count = r->count;
    x->first = r->first;
    x->last = r->last;
    x->n_orgs = x->n_new_orgs = r->n_orgs;
    x->new_orgs = x->orgs;
    x->geo = geo;
    ttl_set(e, x);
    return feed_send(b, &c);
}

static bool rec_has_org(const pxs_rec *r, uint32_t id)
{
    for (size_t i = 0; i < r->n_orgs; i++) {
        if (r->orgs[i].id == id)
            return true;
    }
    return false;
}

px_err pxs_rec_before_take(px_store_batch *b, const pxs_rec *stored, const pxs_rec *delta,
                           rec_before *out)
{
    *out = (rec_before){stored->count, stored->first, stored->last, NULL, 0};
    out->new_ids = px_arena_alloc(b->arena, (delta->n_orgs ? delta->n_orgs : 1) * sizeof(uint32_t));
    if (!out->new_ids)
        return PX_ERR_NOMEM;
    for (size_t i = 0; i < delta->n_orgs; i++) {
        if (!rec_has_org(stored, delta->orgs[i].id))
            out->new_ids[out->n_new++] = delta->orgs[i].id;
    }
    return PX_OK;
}

/* A held record after the merge (r), if the merge changed it. */
px_err pxs_feed_rec_grew(px_store_batch *b, const brec *e, const pxs_rec *r, const rec_before *was)
{
    if (r->count == was->count && r->first == was->first && r->last == was->last && !was->n_new)
        return PX_OK;
    px_change c = {.kind = PX_CHANGE_RECORD_GREW};
    px_change_record *x = &c.rec;
    px_geo g;
    bool has_geo;
    px_err err = change_key(b, e, (r->flags & PXS_F_LONG) ? r->rdata : NULL, r->rdata_len, x);
    if (!err)
        err = org_names(b, r->orgs, sizeof *r->orgs, r->n_orgs, &x->orgs);
    if (!err)
        err = org_names(b, was->new_ids, sizeof *was->new_ids, was->n_new, &x->new_orgs);
    if (!err)
        err = stored_geo(b, r, &g, &has_geo);
    if (err)
        return err;
    x->count_before = was->count;
    x->first_before = was->first;
    x->last_before = was->last;
    x->count = r->count;
    x->first = r->first;
    x->last = r->last;
    x->n_orgs = r->n_orgs;
    x->n_new_orgs = was->n_new;
    x->geo = has_geo ? &g : NULL;
    ttl_set(e, x);
    return feed_send(b, &c);
}

static bool dom_has_org(const pxs_dom *d, uint32_t id)
{
    for (size_t i = 0; i < d->n_orgs; i++) {
        if (d->orgs[i] == id)
            return true;
    }
    return false;
}

static int sighting_cmp(const void *a, const void *b)
{
    return strcmp(((const px_change_sighting *)a)->org, ((const px_change_sighting *)b)->org);
}

/* The organisations' sightings of the domain in this transaction, sorted
 * by name (e->seen: from the merge or the batch log). */
static px_err seen_build(px_store_batch *b, const bdom *e, px_change_domain *x)
{
    const pxs_rec *r = e->seen;
    size_t n = r ? r->n_orgs : 0;
    px_change_sighting *v = px_arena_alloc(b->arena, (n ? n : 1) * sizeof *v);
    if (!v)
        return PX_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        px_err err = org_name(b, r->orgs[i].id, &v[i].org);
        if (err)
            return err;
        v[i].first = r->orgs[i].first;
        v[i].last = r->orgs[i].last;
    }
    qsort(v, n, sizeof *v, sighting_cmp);
    x->seen = v;
    x->n_seen = n;
    return PX_OK;
}

/* A registered domain after the merge (d); stored: the store held it,
 * first seen at first_before, and lacked the organisations
 * new_ids[0..n_new). */
px_err pxs_feed_dom(px_store_batch *b, const bdom *e, const pxs_dom *d, bool stored,
                    int64_t first_before, const uint32_t *new_ids, size_t n_new)
{
    px_change c = {.kind = PX_CHANGE_DOMAIN_FIRST};
    px_change_domain *x = &c.dom;
    x->prev_first_seen = INT64_MIN;
    if (stored) {
        /* A held domain changes with every transaction that saw it: even
         * when its last sighting and organisations stay, an organisation's
         * own sighting (seen) may be news to a reader counting a window. */
        if (d->first < first_before)
            x->prev_first_seen = first_before;
        else
            c.kind = PX_CHANGE_DOMAIN_GREW;
    }
    x->domain = px_arena_strndup(b->arena, (const char *)e->k.key, e->k.klen);
    if (!x->domain)
        return PX_ERR_NOMEM;
    x->len = e->k.klen;
    x->first_seen = d->first;
    x->last_seen = d->last;
    px_err err = org_names(b, d->orgs, sizeof *d->orgs, d->n_orgs, &x->orgs);
    if (!err && stored)
        err = org_names(b, new_ids, sizeof *new_ids, n_new, &x->new_orgs);
    if (!err)
        err = seen_build(b, e, x);
    if (err)
        return err;
    x->n_orgs = d->n_orgs;
    x->n_new_orgs = stored ? n_new : d->n_orgs;
    if (!stored)
        x->new_orgs = x->orgs;
    return feed_send(b, &c);
}

/* The organisations of a domain's delta the stored value lacks, in the
 * arena; NULL on no memory. */
uint32_t *pxs_dom_new_orgs(px_store_batch *b, const pxs_dom *stored, const pxs_dom *d, size_t *n)
{
    uint32_t *v = px_arena_alloc(b->arena, (d->n_orgs ? d->n_orgs : 1) * sizeof *v);
    for (size_t i = 0; v && i < d->n_orgs; i++) {
        if (!dom_has_org(stored, d->orgs[i]))
            v[(*n)++] = d->orgs[i];
    }
    return v;
}
