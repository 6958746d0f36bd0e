/* px_store_merge.c: one observation (px_store_obs) checked, keyed and
 * merged into the batch's tables. */
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>

#include "core/px_arena.h"
#include "core/px_hash.h"
#include "px_store_batch.h"

/* ---- merge ---- */

/* One observation, prepared: everything the table work needs, copied out
 * of the caller's px_store_obs (which may be reused once the merge
 * returns), except an overlong rdata (merged at once, see the merge). */
struct merge_in {
    uint64_t count;
    uint8_t bin[16]; /* A/AAAA rdata */
    uint64_t h, dh;  /* table hashes of the key and of the domain */
    bool has_dom;
    char dn[PXS_NAME_MAX + 1]; /* normalised registered domain */
    size_t dl;
    char name[PXS_NAME_MAX + 1];
    size_t name_len;
    char bw[PXS_NAME_MAX + 1]; /* normalised bailiwick */
    size_t bw_len;
    bool has_bw;
    uint16_t type;
    const uint8_t *rd;
    size_t rd_len;
    uint8_t key[512];
    size_t klen;
    bool long_rdata;
    uint32_t org;
    int64_t first, last;
    bool has_ttl; /* for the feed */
    uint32_t ttl_min, ttl_max;
};

/* The TTL range the feed gives of a record (only with a feed: the merge
 * without one does no more than before). */
static void ttl_add(px_store_batch *b, brec *e, const merge_in *in)
{
    if (!in->has_ttl || !pxs_feed_on(b))
        return;
    if (!e->has_ttl) {
        e->has_ttl = true;
        e->ttl_min = in->ttl_min;
        e->ttl_max = in->ttl_max;
        return;
    }
    e->ttl_min = in->ttl_min < e->ttl_min ? in->ttl_min : e->ttl_min;
    e->ttl_max = in->ttl_max > e->ttl_max ? in->ttl_max : e->ttl_max;
}

/* Bailiwick of a record that has none yet: an offset into rrname when it
 * is a suffix, else its text (copied into the arena). */
static px_err set_bailiwick(px_store_batch *b, pxs_rec *r, const merge_in *in)
{
    if (!in->has_bw)
        return PX_OK;
    size_t n = in->bw_len, nl = in->name_len;
    bool suffix = n <= nl && memcmp(in->name + nl - n, in->bw, n) == 0 &&
                  (n == nl || (n > 0 && in->name[nl - n - 1] == '.'));
    if (suffix) {
        r->flags |= PXS_F_BW_SUFFIX;
        r->bw_off = nl - n;
        return PX_OK;
    }
    r->bw_text = pxs_arena_dup(b->arena, in->bw, n);
    if (!r->bw_text)
        return PX_ERR_NOMEM;
    r->flags |= PXS_F_BW_TEXT;
    r->bw_len = n;
    return PX_OK;
}

/* The delta of a record's first observation in the batch. */
static px_err rec_delta_init(px_store_batch *b, brec *e, const merge_in *in)
{
    pxs_rec *r = &e->rec;
    r->count = in->count;
    r->first = in->first;
    r->last = in->last;
    if (in->long_rdata) { /* NUL-terminated: the flush may index it as text */
        r->flags |= PXS_F_LONG;
        r->rdata = (const uint8_t *)px_arena_strndup(b->arena, (const char *)in->rd, in->rd_len);
        r->rdata_len = in->rd_len;
        if (!r->rdata)
            return PX_ERR_NOMEM;
    }
    px_err err = PX_OK;
    pxs_rec_add_org(r, in->org, in->first, in->last, &err);
    return err ? err : set_bailiwick(b, r, in);
}

/* Merges a later observation into a record's delta (the same key implies
 * the same LONG flag). */
static px_err update_record(px_store_batch *b, pxs_rec *r, const merge_in *in)
{
    /* a 64-bit hash collision of two overlong rdata: keep the first */
    if (in->long_rdata && (r->rdata_len != in->rd_len || memcmp(r->rdata, in->rd, in->rd_len)))
        return PX_ERR_UNSUPPORTED;
    uint64_t c = r->count + in->count;
    r->count = c < r->count ? UINT64_MAX : c;
    r->first = in->first < r->first ? in->first : r->first;
    r->last = in->last > r->last ? in->last : r->last;
    px_err err = PX_OK;
    pxs_rec_add_org(r, in->org, in->first, in->last, &err);
    if (!err && !(r->flags & (PXS_F_BW_SUFFIX | PXS_F_BW_TEXT)))
        err = set_bailiwick(b, r, in);
    return err;
}

/* The batch's entry of the observation's record, created on its first
 * observation in the batch (the store is read at the flush). *fresh: the
 * entry already holds this observation. */
static px_err record_entry(px_store_batch *b, const merge_in *in, brec **out, bool *fresh)
{
    uint64_t h = in->h;
    px_err err = pxs_btab_reserve(&b->recs); /* first: it moves the slots */
    if (err)
        return err;
    bslot *slot = pxs_btab_find(&b->recs, h, in->key, in->klen);
    *fresh = false;
    if (slot->e) {
        *out = (brec *)slot->e;
        return PX_OK;
    }
    brec *e = px_arena_alloc(b->arena, sizeof *e);
    const uint8_t *key = pxs_arena_dup(b->arena, in->key, in->klen);
    if (!e || !key)
        return PX_ERR_NOMEM;
    *e = (brec){
        .k = {h, key, in->klen}, .seq = (uint32_t)b->recs.n, .name_len = (uint16_t)in->name_len};
    err = rec_delta_init(b, e, in);
    if (err) {
        pxs_rec_release(&e->rec);
        return err;
    }
    *slot = (bslot){h, &e->k};
    b->recs.n++;
    *fresh = true;
    *out = e;
    return PX_OK;
}

/* One organisation's sighting of a domain, for the feed's `seen`. */
static px_err seen_add(px_store_batch *b, bdom *e, uint32_t org, int64_t first, int64_t last)
{
    if (!e->seen) {
        if (!(e->seen = px_arena_alloc(b->arena, sizeof *e->seen)))
            return PX_ERR_NOMEM;
        *e->seen = (pxs_rec){0};
    }
    px_err err = PX_OK;
    pxs_rec_add_org(e->seen, org, first, last, &err);
    return err;
}

static px_err merge_domain(px_store_batch *b, const merge_in *in)
{
    const char *dn = in->dn;
    size_t dl = in->dl;
    uint64_t h = in->dh;
    px_err err = pxs_btab_reserve(&b->doms); /* first: it moves the slots */
    if (err)
        return err;
    bslot *slot = pxs_btab_find(&b->doms, h, (const uint8_t *)dn, dl);
    bdom *e = (bdom *)slot->e;
    if (!e) {
        e = px_arena_alloc(b->arena, sizeof *e);
        const uint8_t *key = pxs_arena_dup(b->arena, dn, dl);
        if (!e || !key)
            return PX_ERR_NOMEM;
        *e = (bdom){.k = {h, key, dl}, .dom = {.first = in->first, .last = in->last}};
        *slot = (bslot){h, &e->k};
        b->doms.n++;
    }
    pxs_dom *d = &e->dom;
    d->first = in->first < d->first ? in->first : d->first;
    d->last = in->last > d->last ? in->last : d->last;
    pxs_dom_add_org(d, in->org, &err);
    if (!err && pxs_feed_on(b))
        err = seen_add(b, e, in->org, in->first, in->last);
    return err;
}

/* A canonical name of px_store_obs: its bytes as a stored name has them,
 * no trailing dot but the root's. PX_ERR_TOOLONG, _INVAL. */
static px_err name_check(const char *p, size_t n)
{
    if (n > PXS_NAME_MAX)
        return PX_ERR_TOOLONG;
    if (!p || !pxs_name_bytes_ok((const uint8_t *)p, n) || (n > 1 && p[n - 1] == '.'))
        return PX_ERR_INVAL;
    return PX_OK;
}

/* Copies a checked name into out (PXS_NAME_MAX + 1), NUL-terminated. */
static px_err name_take(const char *p, size_t n, char *out, size_t *len)
{
    px_err err = name_check(p, n);
    if (err)
        return err;
    memcpy(out, p, n);
    out[n] = 0;
    *len = n;
    return PX_OK;
}

/* The key's rdata part: an address's bytes, or the rdata text (no NUL). */
static px_err rdata_take(const px_store_obs *obs, merge_in *in)
{
    if (in->type == 1 || in->type == 28) {
        size_t want = in->type == 1 ? 4 : 16;
        if (!obs->rdata_wire || obs->rdata_wire_len != want)
            return PX_ERR_MALFORMED;
        memcpy(in->bin, obs->rdata_wire, want);
        in->rd = in->bin;
        in->rd_len = want;
        return PX_OK;
    }
    if (!obs->rdata || !obs->rdata_len || memchr(obs->rdata, 0, obs->rdata_len))
        return PX_ERR_INVAL;
    in->rd = (const uint8_t *)obs->rdata;
    in->rd_len = obs->rdata_len;
    return PX_OK;
}

/* Checks and copies one observation into in; no table is touched. */
static px_err merge_prepare(px_store_batch *b, const px_store_obs *obs, merge_in *in)
{
    if (!obs->org)
        return PX_ERR_INVAL;
    in->count = obs->count;
    in->type = obs->rrtype;
    px_err err = name_take(obs->rrname, obs->rrname_len, in->name, &in->name_len);
    in->has_bw = obs->bailiwick != NULL;
    if (!err && in->has_bw)
        err = name_take(obs->bailiwick, obs->bailiwick_len, in->bw, &in->bw_len);
    if (!err)
        err = rdata_take(obs, in);
    if (err)
        return err;
    in->first = obs->time_first < obs->time_last ? obs->time_first : obs->time_last;
    in->last = obs->time_first < obs->time_last ? obs->time_last : obs->time_first;
    in->has_ttl = obs->has_ttl;
    in->ttl_min = obs->ttl_min < obs->ttl_max ? obs->ttl_min : obs->ttl_max;
    in->ttl_max = obs->ttl_min < obs->ttl_max ? obs->ttl_max : obs->ttl_min;
    err = pxs_rec_key(b->s, in->name, in->name_len, in->type, in->rd, in->rd_len, in->key,
                      &in->klen, &in->long_rdata);
    if (err)
        return err;
    in->h = px_hash64(in->key, in->klen, b->seed);
    in->has_dom = obs->regdom != NULL;
    if (in->has_dom) {
        err = name_take(obs->regdom, obs->regdom_len, in->dn, &in->dl);
        if (err)
            return err;
        in->dh = px_hash64(in->dn, in->dl, b->seed);
    }
    return pxs_org_id(b, obs->org, &in->org);
}

/* The table work of a prepared observation. */
static px_err merge_finish(px_store_batch *b, const merge_in *in)
{
    brec *e;
    bool fresh;
    px_err err = record_entry(b, in, &e, &fresh);
    if (!err && !fresh)
        err = update_record(b, &e->rec, in);
    if (!err)
        ttl_add(b, e, in);
    if (!err && in->has_dom)
        err = merge_domain(b, in);
    return err;
}

/* Finishes the observation the last merge held back (see the merge). Only
 * a failure of the store can happen there: it fails the batch. */
px_err pxs_merge_drain(px_store_batch *b)
{
    if (!b->held)
        return PX_OK;
    b->held = false;
    return pxs_batch_check(b, merge_finish(b, &b->ring[b->ring_cur ^ 1]));
}

px_err px_store_merge(px_store_batch *b, const px_store_obs *obs)
{
    if (!b || !obs)
        return PX_ERR_INVAL;
    if (b->failed)
        return b->failed;
    if (!b->ring && !(b->ring = calloc(2, sizeof *b->ring)))
        return pxs_batch_check(b, PX_ERR_NOMEM);
    merge_in *in = &b->ring[b->ring_cur];
    px_err err = pxs_batch_check(b, merge_prepare(b, obs, in));
    if (b->failed || err)
        return err; /* a bad observation: nothing of it is merged */
    /* Its table slots are fetched now and used at the next call: the
     * caller decodes the next message meanwhile, so the cache misses of
     * the two tables (most of the merge's time) overlap with that work.
     * An overlong rdata is merged at once: a hash collision within the
     * batch is its own error. */
    if (b->recs.cap)
        __builtin_prefetch(&b->recs.slot[in->h & (b->recs.cap - 1)]);
    if (in->has_dom && b->doms.cap)
        __builtin_prefetch(&b->doms.slot[in->dh & (b->doms.cap - 1)]);
    pxs_merge_drain(b);
    if (!b->failed && in->long_rdata) {
        err = pxs_batch_check(b, merge_finish(b, in));
    } else if (!b->failed) {
        b->held = true;
        b->ring_cur ^= 1;
    }
    if (b->failed)
        return b->failed;
    if (b->recs.n >= PXS_SPILL_ENTRIES || px_arena_bytes(b->arena) >= PXS_SPILL_BYTES) {
        /* with a changelog, into the batch's own transaction: its rows
         * never go to another store without its offsets (px_store_opts) */
        px_err ferr = pxs_merge_drain(b);
        if (!ferr)
            ferr = b->s->changelog ? pxs_batch_flush(b) : pxs_log_segment(b);
        if (ferr)
            return ferr;
    }
    return err;
}

px_err px_store_batch_known(px_store_batch *b, const px_store_obs *obs, bool *known)
{
    *known = false;
    if (!b || !obs)
        return PX_ERR_INVAL;
    if (b->failed)
        return b->failed;
    merge_in in;
    px_store_obs rec_only = *obs;
    rec_only.regdom = NULL; /* the record's key is all that is asked */
    px_err err = pxs_batch_check(b, merge_prepare(b, &rec_only, &in));
    if (err)
        return err;           /* a bad observation (the merge would refuse it too), or the store */
    err = pxs_merge_drain(b); /* the observation held back is in the table now */
    if (err)
        return err;
    if (b->recs.cap && pxs_btab_find(&b->recs, in.h, in.key, in.klen)->e) {
        *known = true;
        return PX_OK;
    }
    /* the batch writes records only at the flush: the transaction reads
     * what the store held when the batch began. A stored value that fails
     * its checksum is damage, as at the flush: reported, and the batch
     * fails (its decoding is left to the flush, which fails it too). */
    MDB_val k = {in.klen, in.key}, v;
    int rc = mdb_get(b->txn, b->s->dbi[DBI_REC], &k, &v);
    if (rc == MDB_NOTFOUND)
        return PX_OK;
    if (rc)
        return pxs_batch_check(b, pxs_map_mdb(rc));
    size_t n;
    if (pxs_val_open(DBI_REC, in.key, in.klen, v.mv_data, v.mv_size, &n) != PX_OK)
        return pxs_batch_check(
            b, pxs_report_key(b->s, DBI_REC, in.key, in.klen, "the value fails its checksum"));
    *known = true;
    return PX_OK;
}
