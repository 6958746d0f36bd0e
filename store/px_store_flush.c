/* px_store_flush.c: writing a batch's deltas into the store: stored
 * values read and merged, new records enriched and indexed. */
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>

#include "core/px_arena.h"
#include "px_store_batch.h"

/* The stored rdata decides for an overlong one: the key holds its prefix
 * and hash only. */
static bool long_rdata_differs(const pxs_rec *stored, const pxs_rec *delta)
{
    return stored->rdata_len != delta->rdata_len ||
           memcmp(stored->rdata, delta->rdata, delta->rdata_len) != 0;
}

/* Merges a record's delta into its stored value s (as the observations
 * would have merged one by one). */
static px_err rec_merge(pxs_rec *s, const pxs_rec *d)
{
    uint64_t c = s->count + d->count;
    s->count = c < s->count ? UINT64_MAX : c;
    s->first = d->first < s->first ? d->first : s->first;
    s->last = d->last > s->last ? d->last : s->last;
    px_err err = PX_OK;
    for (size_t i = 0; i < d->n_orgs && !err; i++)
        pxs_rec_add_org(s, d->orgs[i].id, d->orgs[i].first, d->orgs[i].last, &err);
    if (!(s->flags & (PXS_F_BW_SUFFIX | PXS_F_BW_TEXT))) {
        s->flags |= d->flags & (PXS_F_BW_SUFFIX | PXS_F_BW_TEXT);
        s->bw_off = d->bw_off;
        s->bw_text = d->bw_text;
        s->bw_len = d->bw_len;
    }
    return err;
}

/* Holds a new record back until its AS organisation has an id. */
static px_err pend_add(px_store_batch *b, brec *e, const char *as_org)
{
    if (PX_ARRAY_RESERVE(b->pend, b->cap_pend, b->n_pend + 1, 16))
        return PX_ERR_NOMEM;
    const char *text = px_arena_strndup(b->arena, as_org, strlen(as_org));
    if (!text)
        return PX_ERR_NOMEM;
    b->pend[b->n_pend++] = (bpend){e, text};
    return PX_OK;
}

/* GeoIP answer of a new A/AAAA record, also into *g (*has_geo). *held:
 * its AS organisation is not in the dictionary yet, so the record waits
 * for flush_pending. */
static px_err rec_geo(px_store_batch *b, brec *e, uint16_t type, px_geo *g, bool *has_geo,
                      bool *held)
{
    *g = (px_geo){.asn = -1};
    *has_geo = b->enrich(b->enrich_ctx, e->k.key + e->name_len + 3, type == 1 ? 4 : 16, g);
    if (!*has_geo)
        return PX_OK;
    pxs_rec *r = &e->rec;
    r->flags |= PXS_F_GEO;
    g->country[sizeof g->country - 1] = '\0';
    memset(r->country, 0, sizeof r->country);
    memcpy(r->country, g->country, strnlen(g->country, 3));
    r->asn = g->asn < -1 ? -1 : g->asn > (int64_t)UINT32_MAX ? (int64_t)UINT32_MAX : g->asn;
    g->asn = r->asn; /* as stored */
    r->as_org = 0;
    g->as_org[sizeof g->as_org - 1] = '\0';
    if (!g->as_org[0])
        return PX_OK;
    px_err err = pxs_dict_find(b, DBI_ASO_N, g->as_org, strlen(g->as_org), &r->as_org);
    if (err != PX_ERR_NOTFOUND)
        return err;
    *held = true;
    return pend_add(b, e, g->as_org);
}

/* Reverse-index entry of a new record (e->rdx), its value sealed, in the
 * batch's arena, or in the one that outlives the log's chunks while they
 * defer the entries. */
px_err pxs_rec_rdx(px_store_batch *b, brec *e, uint16_t type)
{
    /* the rdata text: the key's rdata part (NUL-terminated here) or the
     * overlong rdata (NUL-terminated by the merge) */
    char buf[512];
    const char *text = (const char *)e->rec.rdata;
    if (!(e->rec.flags & PXS_F_LONG)) {
        size_t off = (size_t)e->name_len + 3;
        memcpy(buf, e->k.key + off, e->k.klen - off);
        buf[e->k.klen - off] = '\0';
        text = buf;
    }
    uint8_t rk[PXS_RDX_KEY_MAX], val[PXS_RDX_KEY_MAX + PXS_SUM_LEN];
    MDB_val k, v;
    if (!pxs_rdx_entry(b->s, type, text, e->k.key, e->k.klen, e->name_len, rk, &k, &v))
        return PX_OK;
    px_buf vb = PXS_FIXED_BUF(val, v.mv_size); /* room for the sum */
    memcpy(val, v.mv_data, v.mv_size);
    pxs_val_seal(DBI_RDX, k.mv_data, k.mv_size, &vb);
    px_arena *a = b->defer_rdx ? b->rdx_arena : b->arena;
    brdx *x = px_arena_alloc(a, sizeof *x);
    if (!x)
        return PX_ERR_NOMEM;
    *x = (brdx){.k = {0, pxs_arena_dup(a, k.mv_data, k.mv_size), k.mv_size},
                .v = pxs_arena_dup(a, val, vb.len),
                .vlen = (uint32_t)vb.len};
    e->rdx = x;
    return x->k.key && x->v ? PX_OK : PX_ERR_NOMEM;
}

/* ---- new records per organisation ----
 *
 * Whether a record is new to the store is known only here, at the flush,
 * which reads the stored values: a record new in a transaction counts once
 * for each organisation that observed it in the batch, and the counts
 * reach the store (px_store_org_new_records) when the transaction
 * commits. Counted by org id: ids are small and dense (the dictionary's).
 * Under memory exhaustion a count is dropped, never the data. */
#define PXS_ORG_NEW_MAX (1u << 20)

static bool org_new_room(uint64_t **v, size_t *n, uint32_t id)
{
    if (id < *n)
        return true;
    if (id >= PXS_ORG_NEW_MAX)
        return false;
    size_t old = *n; /* the counters are as long as their array */
    if (PX_ARRAY_RESERVE(*v, *n, (size_t)id + 1, 16))
        return false;
    memset(*v + old, 0, (*n - old) * sizeof **v);
    return true;
}

static void org_new_count(px_store_batch *b, const pxs_rec *r)
{
    for (size_t i = 0; i < r->n_orgs; i++) {
        if (org_new_room(&b->org_new, &b->n_org_new, r->orgs[i].id))
            b->org_new[r->orgs[i].id]++;
    }
}

/* The transaction committed: its counts go to the store. */
void pxs_org_new_commit(px_store_batch *b)
{
    px_store *s = b->s;
    for (size_t id = 0; id < b->n_org_new; id++) {
        if (b->org_new[id] && org_new_room(&s->org_new, &s->n_org_new, (uint32_t)id))
            s->org_new[id] += b->org_new[id];
        b->org_new[id] = 0;
    }
}

uint64_t px_store_org_new_records(const px_store *s, const char *org)
{
    for (size_t i = 0; s && org && i < s->n_orgs; i++) {
        if (strcmp(s->orgs[i].name, org) == 0)
            return s->orgs[i].id < s->n_org_new ? s->org_new[s->orgs[i].id] : 0;
    }
    return 0;
}

/* The stored form of record r under key k, sealed, into b->val. */
static px_err rec_value(px_store_batch *b, const pxs_rec *r, const bkey *k)
{
    px_err err = pxs_rec_encode(r, &b->val);
    return err ? err : pxs_val_seal(DBI_REC, k->key, k->klen, &b->val);
}

/* A record the store does not hold: the delta is its whole value. Its
 * GeoIP answer is looked up and its reverse-index entry built now, once. */
static px_err rec_store_new(px_store_batch *b, brec *e)
{
    const uint8_t *tp = e->k.key + e->name_len + 1;
    uint16_t type = (uint16_t)(tp[0] << 8 | tp[1]);
    bool held = false, has_geo = false;
    px_geo geo;
    px_err err = PX_OK;
    org_new_count(b, &e->rec);
    if ((type == 1 || type == 28) && b->enrich)
        err = rec_geo(b, e, type, &geo, &has_geo, &held);
    if (!err && pxs_feed_on(b))
        err = pxs_feed_rec_new(b, e, has_geo ? &geo : NULL);
    if (!err)
        err = pxs_rec_rdx(b, e, type);
    if (!err && !held)
        err = rec_value(b, &e->rec, &e->k);
    if (err || held)
        return err;
    MDB_val k = {e->k.klen, (void *)e->k.key}, v = {b->val.len, b->val.p};
    return pxs_put(b, DBI_REC, b->rec_c, &k, &v, 0);
}

/* Reads one record's stored value through the write cursor (positioned by
 * the previous, smaller key), merges the delta into it and writes it in
 * place (MDB_CURRENT: no second search; LMDB moves the node if the size
 * changed). A stored value that fails its checks is damage: reported, and
 * the batch fails; nothing is merged into it or written over it. */
static px_err flush_rec(px_store_batch *b, brec *e)
{
    MDB_val k = {e->k.klen, (void *)e->k.key}, v;
    int rc = mdb_cursor_get(b->rec_c, &k, &v, MDB_SET);
    if (rc == MDB_NOTFOUND)
        return rec_store_new(b, e);
    if (rc)
        return pxs_map_mdb(rc);
    pxs_rec *s = &b->cur; /* its strings point into the page until the put */
    size_t n;
    px_err err = pxs_val_open(DBI_REC, e->k.key, e->k.klen, v.mv_data, v.mv_size, &n);
    if (err)
        return pxs_report_key(b->s, DBI_REC, e->k.key, e->k.klen, "the value fails its checksum");
    err = pxs_rec_decode(v.mv_data, n, s);
    if (err == PX_ERR_NOMEM)
        return err;
    const char *why =
        err ? "the value does not decode" : pxs_rec_key_fit(s, e->k.key, e->k.klen, b->s->maxkey);
    if (why)
        return pxs_report_key(b->s, DBI_REC, e->k.key, e->k.klen, why);
    if ((s->flags & PXS_F_LONG) && long_rdata_differs(s, &e->rec)) {
        b->n_collisions++;
        return PX_OK;
    }
    rec_before was = {0};
    err = pxs_feed_on(b) ? pxs_rec_before_take(b, s, &e->rec, &was) : PX_OK;
    if (!err)
        err = rec_merge(s, &e->rec);
    if (!err && pxs_feed_on(b))
        err = pxs_feed_rec_grew(b, e, s, &was);
    if (!err)
        err = rec_value(b, s, &e->k);
    if (err)
        return err;
    /* k as given (MDB_SET_KEY would point it into the page the put moves) */
    MDB_val pk = {e->k.klen, (void *)e->k.key}, nv = {b->val.len, b->val.p};
    return pxs_put(b, DBI_REC, b->rec_c, &pk, &nv, MDB_CURRENT);
}

/* Interns the held records' AS organisations in the order of the records'
 * first observations (the dictionary's ids follow the order the data came
 * in, not the key order of the flush), then writes the records, in key
 * order. A dictionary entry that fails its checks fails the batch
 * (damage). */
static px_err flush_pending(px_store_batch *b, size_t n)
{
    if (!b->n_pend)
        return PX_OK;
    /* seq is dense in [0, n): placing them beats sorting */
    bpend **order = px_arena_alloc(b->arena, n * sizeof *order);
    if (!order)
        return PX_ERR_NOMEM;
    memset(order, 0, n * sizeof *order);
    for (size_t i = 0; i < b->n_pend; i++)
        order[b->pend[i].e->seq] = &b->pend[i];
    for (size_t i = 0, j = 0; j < b->n_pend; i++) {
        if (order[i])
            order[j++] = order[i];
    }
    for (size_t i = 0; i < b->n_pend; i++) {
        const char *t = order[i]->as_org;
        uint32_t id = 0;
        px_err err = pxs_dict_find(b, DBI_ASO_N, t, strlen(t), &id);
        if (err == PX_ERR_NOTFOUND)
            err = pxs_dict_add(b, DBI_ASO_N, DBI_ASO_I, t, strlen(t), &id);
        if (err)
            return err;
        order[i]->e->rec.as_org = id;
    }
    for (size_t i = 0; i < b->n_pend; i++) {
        brec *e = b->pend[i].e;
        px_err err = rec_value(b, &e->rec, &e->k);
        if (err)
            return err;
        MDB_val k = {e->k.klen, (void *)e->k.key}, v = {b->val.len, b->val.p};
        err = pxs_put(b, DBI_REC, b->rec_c, &k, &v, 0);
        if (err)
            return err;
    }
    b->n_pend = 0;
    return PX_OK;
}

/* Writes a new record's reverse-index entry. */
px_err pxs_rdx_write(px_store_batch *b, const brdx *x)
{
    MDB_val k = {x->k.klen, (void *)x->k.key}, v = {x->vlen, (void *)x->v};
    return pxs_put(b, DBI_RDX, b->rdx_c, &k, &v, 0);
}

/* Keeps x for the end of the log. */
static px_err rdx_defer(px_store_batch *b, brdx *x)
{
    if (PX_ARRAY_RESERVE(b->rdxs, b->cap_rdxs, b->n_rdxs + 1, 4096))
        return PX_ERR_NOMEM;
    b->rdxs[b->n_rdxs++] = &x->k;
    return PX_OK;
}

/* Writes (or defers) the reverse-index entries of the new records among
 * v[0..n), in their own key order. */
px_err pxs_flush_rdx(px_store_batch *b, bkey **v, size_t n, size_t n_rdx)
{
    bkey **x = px_arena_alloc(b->arena, (n_rdx ? n_rdx : 1) * sizeof *x);
    if (!x)
        return PX_ERR_NOMEM;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        brdx *r = ((const brec *)v[i])->rdx;
        if (!r)
            continue;
        px_err err = b->defer_rdx ? rdx_defer(b, r) : PX_OK;
        if (err)
            return err;
        x[j++] = &r->k;
    }
    if (b->defer_rdx)
        return PX_OK;
    if (!pxs_bkeys_sort(b->arena, x, j))
        return PX_ERR_NOMEM;
    for (size_t i = 0; i < j; i++) {
        px_err err = pxs_rdx_write(b, (const brdx *)x[i]);
        if (err)
            return err;
    }
    return PX_OK;
}

/* Writes the record entries v[0..n) (sorted; seq dense in [0, n)). */
px_err pxs_flush_rec_array(px_store_batch *b, bkey **v, size_t n)
{
    b->n_pend = 0;
    size_t n_rdx = 0;
    for (size_t i = 0; i < n; i++) {
        brec *e = (brec *)v[i];
        px_err err = flush_rec(b, e);
        if (err)
            return err;
        n_rdx += e->rdx != NULL;
    }
    px_err err = flush_pending(b, n);
    return err ? err : pxs_flush_rdx(b, v, n, n_rdx);
}

static px_err flush_recs(px_store_batch *b)
{
    bkey **v = pxs_btab_sorted(b, &b->recs);
    return v ? pxs_flush_rec_array(b, v, b->recs.n) : PX_ERR_NOMEM;
}

/* Merges a domain's delta into its stored value s; *changed: s differs. */
static px_err dom_merge(pxs_dom *s, const pxs_dom *d, bool *changed)
{
    *changed = d->first < s->first || d->last > s->last;
    s->first = d->first < s->first ? d->first : s->first;
    s->last = d->last > s->last ? d->last : s->last;
    px_err err = PX_OK;
    for (size_t i = 0; i < d->n_orgs && !err; i++)
        *changed |= pxs_dom_add_org(s, d->orgs[i], &err);
    return err;
}

/* As flush_rec for a registered domain; an unchanged row is not written. */
px_err pxs_flush_dom(px_store_batch *b, const bdom *e)
{
    MDB_val k = {e->k.klen, (void *)e->k.key}, v;
    int rc = mdb_cursor_get(b->dom_c, &k, &v, MDB_SET);
    if (rc && rc != MDB_NOTFOUND)
        return pxs_map_mdb(rc);
    const pxs_dom *out = &e->dom;
    if (rc == 0) {
        size_t n;
        px_err err = pxs_val_open(DBI_DOM, e->k.key, e->k.klen, v.mv_data, v.mv_size, &n);
        if (!err)
            err = pxs_dom_decode(v.mv_data, n, &b->dcur);
        if (err == PX_ERR_NOMEM)
            return err;
        if (err)
            return pxs_report_key(b->s, DBI_DOM, e->k.key, e->k.klen,
                                  err == PX_ERR_DAMAGED ? "the value fails its checksum"
                                                        : "the value does not decode");
        int64_t first = b->dcur.first;
        uint32_t *new_ids = NULL;
        size_t n_new = 0;
        if (pxs_feed_on(b) && !(new_ids = pxs_dom_new_orgs(b, &b->dcur, &e->dom, &n_new)))
            return PX_ERR_NOMEM;
        bool changed = true;
        if ((err = dom_merge(&b->dcur, &e->dom, &changed)) != PX_OK)
            return err;
        out = &b->dcur;
        /* the feed first: a domain whose row stays may have new sightings */
        if (pxs_feed_on(b) && (err = pxs_feed_dom(b, e, out, true, first, new_ids, n_new)) != PX_OK)
            return err;
        if (!changed)
            return PX_OK;
    } else if (pxs_feed_on(b)) {
        px_err err = pxs_feed_dom(b, e, out, false, 0, NULL, 0);
        if (err)
            return err;
    }
    px_err err = pxs_dom_encode(out, &b->val);
    if (!err)
        err = pxs_val_seal(DBI_DOM, e->k.key, e->k.klen, &b->val);
    if (err)
        return err;
    MDB_val pk = {e->k.klen, (void *)e->k.key}, nv = {b->val.len, b->val.p};
    return pxs_put(b, DBI_DOM, b->dom_c, &pk, &nv, rc == 0 ? MDB_CURRENT : 0);
}

static px_err flush_doms(px_store_batch *b)
{
    bkey **v = pxs_btab_sorted(b, &b->doms);
    if (!v)
        return PX_ERR_NOMEM;
    for (size_t i = 0; i < b->doms.n; i++) {
        px_err err = pxs_flush_dom(b, (const bdom *)v[i]);
        if (err)
            return err;
    }
    return PX_OK;
}

/* Writes everything aggregated so far into the transaction and empties
 * the batch's memory. */
px_err pxs_batch_flush(px_store_batch *b)
{
    px_err err = flush_recs(b);
    if (!err)
        err = flush_doms(b);
    pxs_batch_clear(b);
    px_arena_reset(b->arena);
    if (err) /* what was not written is gone: the batch cannot commit */
        b->failed = err;
    return err;
}
