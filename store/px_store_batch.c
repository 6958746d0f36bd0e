/* px_store_batch.c: a batch's life: its tables in memory, its
 * transaction, commit, abort and the consumer offsets it carries. */
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/px_arena.h"
#include "core/px_hash.h"
#include "px_store_batch.h"

#define PXS_BATCH_SEED_K 0x73746f7265626174ULL /* "storebat" */

/* ---- batches ----
 *
 * A batch aggregates in memory, without reading the store: the first
 * observation of a record (or registered domain) in the batch starts an
 * entry holding only the batch's observations (a delta), later ones merge
 * into it. The flush walks the entries in key order through the table's
 * write cursor, which stays on the page it just wrote, so reading a stored
 * value is mostly a search within one page rather than a descent of the
 * tree (the random reads of the merge were most of the store's CPU). For
 * each entry it reads the stored value, merges the delta into it and
 * writes it back in place. A record absent from the store is new: its
 * GeoIP answer is looked up and its reverse-index entry built then, once.
 * A stored value that fails its checks is damage: the flush fails (nothing
 * of the batch commits); an overlong rdata whose 64-bit hash meets a
 * different stored one keeps the stored record (the delta is dropped;
 * counted as collisions). The flush runs at commit; a
 * batch that grows past PXS_SPILL_ENTRIES / PXS_SPILL_BYTES moves what it
 * holds to the batch log first, which bounds its memory (see "big
 * batches"). */

/* Copy of n bytes in arena a. */
const void *pxs_arena_dup(px_arena *a, const void *p, size_t n)
{
    void *q = px_arena_alloc(a, n ? n : 1);
    if (q && n)
        memcpy(q, p, n);
    return q;
}

bslot *pxs_btab_find(btab *t, uint64_t h, const uint8_t *key, size_t klen)
{
    size_t mask = t->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        bslot *sl = &t->slot[i];
        if (!sl->e || (sl->h == h && sl->e->klen == klen && memcmp(sl->e->key, key, klen) == 0))
            return sl;
    }
}

/* Room for one more entry. */
px_err pxs_btab_reserve(btab *t)
{
    if (t->cap && (t->n + 1) * 2 <= t->cap)
        return PX_OK;
    size_t cap = t->cap ? t->cap * 2 : 1024;
    bslot *slot = calloc(cap, sizeof *slot);
    if (!slot)
        return PX_ERR_NOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slot[i].e)
            continue;
        size_t j = (size_t)t->slot[i].h & (cap - 1);
        while (slot[j].e)
            j = (j + 1) & (cap - 1);
        slot[j] = t->slot[i];
    }
    free(t->slot);
    t->slot = slot;
    t->cap = cap;
    return PX_OK;
}

void pxs_bdom_release(bdom *e)
{
    pxs_dom_release(&e->dom);
    if (e->seen)
        pxs_rec_release(e->seen);
}

/* Frees what the entries own (their org arrays) and empties the tables;
 * the caller resets the arena. */
void pxs_batch_clear(px_store_batch *b)
{
    for (size_t i = 0; i < b->recs.cap; i++) {
        if (b->recs.slot[i].e)
            pxs_rec_release(&((brec *)b->recs.slot[i].e)->rec);
    }
    for (size_t i = 0; i < b->doms.cap; i++) {
        if (b->doms.slot[i].e)
            pxs_bdom_release((bdom *)b->doms.slot[i].e);
    }
    if (b->recs.n)
        memset(b->recs.slot, 0, b->recs.cap * sizeof *b->recs.slot);
    if (b->doms.n)
        memset(b->doms.slot, 0, b->doms.cap * sizeof *b->doms.slot);
    b->recs.n = b->doms.n = 0;
}

/* Begins the batch's write transaction with its cursors. */
px_err pxs_txn_open(px_store_batch *b)
{
    px_store *s = b->s;
    s->touched = 0;
    pxs_clog_reset(&b->clog);
    int rc = mdb_txn_begin(s->env, NULL, 0, &b->txn);
    if (rc == 0)
        rc = mdb_cursor_open(b->txn, s->dbi[DBI_REC], &b->rec_c);
    if (rc == 0)
        rc = mdb_cursor_open(b->txn, s->dbi[DBI_DOM], &b->dom_c);
    if (rc == 0)
        rc = mdb_cursor_open(b->txn, s->dbi[DBI_RDX], &b->rdx_c);
    if (rc && b->txn) {
        mdb_txn_abort(b->txn); /* frees its cursors */
        b->txn = NULL;
    }
    return pxs_map_mdb(rc);
}

/* A batch object without a transaction; registered as the store's. */
px_store_batch *pxs_batch_new(px_store *s)
{
    px_store_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->arena = px_arena_create(256 * 1024);
    if (!b->arena) {
        free(b);
        return NULL;
    }
    /* a random seed, so names from DNS traffic cannot aim at one probe
     * sequence; xored with the table's own constant */
    b->seed = px_hash_seed() ^ PXS_BATCH_SEED_K;
    b->logw.fd = -1;
    b->enrich = s->enrich;
    b->enrich_ctx = s->enrich_ctx;
    b->s = s;
    s->batch = b;
    return b;
}

px_err px_store_batch_begin(px_store *s, px_store_batch **out)
{
    *out = NULL;
    if (s->read_only)
        return PX_ERR_INVAL;
    if (s->batch || s->log_pending)
        return PX_ERR_AGAIN;
    px_store_batch *b = pxs_batch_new(s);
    if (!b)
        return PX_ERR_NOMEM;
    px_err err = pxs_txn_open(b);
    if (err) {
        pxs_batch_free(b);
        return err;
    }
    *out = b;
    return PX_OK;
}

/* Errors of the store itself (as opposed to a bad observation) may leave a
 * merge or a flush half done, and LMDB refuses further writes after
 * MDB_MAP_FULL: they fail the whole batch. */
px_err pxs_batch_check(px_store_batch *b, px_err err)
{
    if (err == PX_ERR_FULL || err == PX_ERR_NOMEM || err == PX_ERR_IO || err == PX_ERR_DAMAGED)
        b->failed = err;
    return err;
}

void pxs_batch_free(px_store_batch *b)
{
    if (b->txn) {
        mdb_txn_abort(b->txn);
        b->s->touched = 0; /* nothing it wrote counts */
        pxs_feed_end(b, false);
    }
    if (b->logw.fd >= 0) { /* a log that was not committed: its space back */
        if (ftruncate(b->logw.fd, 0) != 0) {
            /* the next log truncates it anyway */
        }
        pxs_logw_close(&b->logw);
    }
    pxs_clog_free(&b->clog);
    free(b->chunk.p);
    free(b->pre.p);
    free(b->tval.p);
    free(b->ring);
    free(b->rdxs);
    px_arena_destroy(b->rdx_arena);
    b->s->batch = NULL;
    pxs_batch_clear(b);
    pxs_rec_release(&b->cur);
    pxs_dom_release(&b->dcur);
    free(b->pend);
    free(b->recs.slot);
    free(b->doms.slot);
    px_arena_destroy(b->arena);
    free(b->val.p);
    free(b->offs);
    free(b->org_new);
    free(b->aso);
    free(b);
}

/* The table's entries sorted by key, in the arena; NULL on no memory. */
bkey **pxs_btab_sorted(px_store_batch *b, const btab *t)
{
    bkey **v = px_arena_alloc(b->arena, (t->n ? t->n : 1) * sizeof *v);
    if (!v)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slot[i].e)
            v[n++] = t->slot[i].e;
    }
    return pxs_bkeys_sort(b->arena, v, n) ? v : NULL;
}

px_err px_store_batch_commit(px_store_batch *b)
{
    if (!b)
        return PX_ERR_INVAL;
    if (!b->failed)
        pxs_merge_drain(b);
    /* with a changelog, a batch is one transaction: see px_store_opts */
    if (!b->failed && !b->log && !b->s->changelog && b->recs.n > b->s->chunk_records)
        pxs_log_segment(b);
    if (b->log)
        return pxs_log_commit(b);
    if (!b->failed)
        pxs_batch_flush(b);
    px_err err = b->failed ? b->failed : pxs_flush_offsets(b);
    if (!err)
        err = pxs_feed_prepare(b);
    if (!err)
        err = pxs_clog_emit(b);
    if (err) {
        px_store_batch_abort(b);
        return err;
    }
    int rc = pxs_txn_commit(b->s, b->txn);
    b->txn = NULL;
    pxs_feed_end(b, rc == 0);
    if (rc == 0) {
        b->s->n_committed = b->s->n_orgs;
        b->s->collisions += b->n_collisions;
        pxs_org_new_commit(b);
        pxs_release_freed_pages(b->s);
    } else {
        b->s->n_orgs = b->s->n_committed;
    }
    pxs_batch_free(b);
    return pxs_map_mdb(rc);
}

void px_store_batch_abort(px_store_batch *b)
{
    if (!b)
        return;
    b->s->n_orgs = b->s->n_committed;
    pxs_batch_free(b);
}

px_err px_store_set_offset(px_store_batch *b, const char *topic, int32_t partition,
                           int64_t next_offset)
{
    size_t tl = strlen(topic);
    if (tl == 0 || tl > 249)
        return PX_ERR_INVAL;
    if (b->failed)
        return b->failed;
    boff *o = b->n_offs ? &b->offs[b->last_off] : NULL;
    if (!o || o->partition != partition || strcmp(o->topic, topic) != 0) {
        o = NULL;
        for (size_t i = 0; i < b->n_offs && !o; i++) {
            if (b->offs[i].partition == partition && strcmp(b->offs[i].topic, topic) == 0)
                o = &b->offs[i];
        }
    }
    if (!o) {
        if (PX_ARRAY_RESERVE(b->offs, b->cap_offs, b->n_offs + 1, 16))
            return pxs_batch_check(b, PX_ERR_NOMEM);
        o = &b->offs[b->n_offs++];
        memcpy(o->topic, topic, tl + 1);
        o->partition = partition;
    }
    o->next = next_offset;
    b->last_off = (size_t)(o - b->offs);
    return PX_OK;
}

px_err pxs_flush_offsets(px_store_batch *b)
{
    for (size_t i = 0; i < b->n_offs; i++) {
        uint8_t key[256], val[10 + PXS_SUM_LEN];
        size_t kl = pxs_off_key(b->offs[i].topic, b->offs[i].partition, key);
        px_buf vb = PXS_FIXED_BUF(val, 0); /* room for the sum */
        px_buf_put_varint(&vb, px_zigzag(b->offs[i].next));
        pxs_val_seal(DBI_OFF, key, kl, &vb);
        MDB_val k = {kl, key}, v = {vb.len, val};
        px_err err = pxs_put(b, DBI_OFF, NULL, &k, &v, 0);
        if (err)
            return err;
    }
    b->n_offs = 0;
    return PX_OK;
}

px_err px_store_get_offset(px_store *s, const char *topic, int32_t partition, int64_t *next)
{
    uint8_t key[256];
    size_t kl = pxs_off_key(topic, partition, key);
    if (!kl)
        return PX_ERR_INVAL;
    return pxs_off_get(s, key, kl, "the offset does not decode", next);
}

px_err pxs_off_get(px_store *s, const uint8_t *key, size_t kl, const char *what, int64_t *next)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return pxs_map_mdb(rc);
    MDB_val k = {kl, (void *)key}, v;
    rc = mdb_get(txn, s->dbi[DBI_OFF], &k, &v);
    px_err err = pxs_map_mdb(rc);
    size_t n = 0;
    if (rc == 0 && pxs_val_open(DBI_OFF, key, kl, v.mv_data, v.mv_size, &n) != PX_OK)
        err = pxs_report_key(s, DBI_OFF, key, kl, "the value fails its checksum");
    if (!err) {
        px_wire w;
        px_wire_init(&w, v.mv_data, n);
        *next = px_unzigzag(px_wire_varint(&w, PXS_VARINT_MAX));
        if (px_wire_err(&w) || px_wire_avail(&w))
            err = pxs_report_key(s, DBI_OFF, key, kl, what);
    }
    mdb_txn_abort(txn);
    return err;
}
