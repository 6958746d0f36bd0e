/* px_store_apply.c: big batches: the batch log written, committed and
 * applied one chunk per transaction; the resume after a crash. */
#include <stdarg.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "core/px_arena.h"
#include "px_store_batch.h"

/* ---- big batches ----
 *
 * A batch that touches most pages of a table rewrites them all in one
 * transaction, and LMDB keeps the old copies for the snapshot before it:
 * the data file held the data twice (345 bytes per record on the consumer
 * benchmark, 178 of them in use). So a batch of more than chunk_records
 * records, or one that spills, goes through the batch log: its deltas,
 * sorted, are written to <dir>/batch.log in chunks of chunk_records
 * (px_store_log.c) and fsynced; one transaction commits the offsets, the
 * dictionary entries and a mark (id of that transaction, next chunk,
 * number of chunks): from then on the batch is durable, as one
 * transaction made it before. Each chunk is then applied in a transaction
 * of its own that also moves the mark on, so a crash between chunks
 * resumes at the next one (px_store_resume) and counts nothing twice; the
 * new records' reverse-index entries come last, in their own key order
 * (writing one twice changes nothing), and the last of those transactions
 * removes the mark. A chunk rewrites the pages of its key range only,
 * and their old copies are reused two transactions later. The log is
 * truncated once the mark's removal is on disk. Readers may see a batch
 * half applied, never a chunk. */

static const uint8_t log_mark[] = {0, 'l', 'o', 'g'};

static px_err marker_put(px_store_batch *b, uint64_t id, uint64_t next, uint64_t total)
{
    uint8_t val[30 + PXS_SUM_LEN];
    px_buf vb = PXS_FIXED_BUF(val, 0); /* room for the sum */
    px_buf_put_varint(&vb, id);
    px_buf_put_varint(&vb, next);
    px_buf_put_varint(&vb, total);
    pxs_val_seal(DBI_OFF, log_mark, sizeof log_mark, &vb);
    MDB_val k = {sizeof log_mark, (void *)log_mark}, v = {vb.len, val};
    return pxs_map_mdb(mdb_put(b->txn, b->s->dbi[DBI_OFF], &k, &v, 0));
}

static px_err marker_del(px_store_batch *b)
{
    MDB_val k = {sizeof log_mark, (void *)log_mark};
    return pxs_map_mdb(mdb_del(b->txn, b->s->dbi[DBI_OFF], &k, NULL));
}

px_err pxs_marker_read(px_store *s, uint64_t *id, uint64_t *next, uint64_t *total)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return pxs_map_mdb(rc);
    MDB_val k = {sizeof log_mark, (void *)log_mark}, v;
    rc = mdb_get(txn, s->dbi[DBI_OFF], &k, &v);
    px_err err = pxs_map_mdb(rc);
    size_t n = 0;
    if (rc == 0 && pxs_val_open(DBI_OFF, log_mark, sizeof log_mark, v.mv_data, v.mv_size, &n))
        err = PX_ERR_DAMAGED;
    if (!err) {
        px_wire w;
        px_wire_init(&w, v.mv_data, n);
        *id = px_wire_varint(&w, PXS_VARINT_MAX);
        *next = px_wire_varint(&w, PXS_VARINT_MAX);
        *total = px_wire_varint(&w, PXS_VARINT_MAX);
        if (px_wire_err(&w) || px_wire_avail(&w) || *next > *total)
            err = PX_ERR_DAMAGED;
    }
    mdb_txn_abort(txn);
    return err;
}

/* The log's new directory entry must be on disk before a commit names it. */
static px_err sync_dir(px_store *s)
{
    if (s->log_dir_synced)
        return PX_OK;
    int fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return PX_ERR_IO;
    px_err err = fsync(fd) == 0 ? PX_OK : PX_ERR_IO;
    close(fd);
    s->log_dir_synced = !err;
    return err;
}

/* Appends one entry (key, then b->pre and the encoded value in b->val as
 * the entry's value) to b->chunk. */
static px_err chunk_put(px_store_batch *b, const bkey *k)
{
    size_t vlen = b->pre.len + b->val.len;
    px_err err = px_buf_reserve(&b->chunk, 20 + k->klen + vlen);
    if (err)
        return err;
    px_buf_put_varint(&b->chunk, k->klen);
    memcpy(b->chunk.p + b->chunk.len, k->key, k->klen);
    b->chunk.len += k->klen;
    px_buf_put_varint(&b->chunk, vlen);
    if (b->pre.len)
        memcpy(b->chunk.p + b->chunk.len, b->pre.p, b->pre.len);
    b->chunk.len += b->pre.len;
    memcpy(b->chunk.p + b->chunk.len, b->val.p, b->val.len);
    b->chunk.len += b->val.len;
    return PX_OK;
}

/* What a feed needs of an entry and its value does not hold, into
 * b->pre: a record's TTL range (a flag byte, then min and max), a
 * domain's per-organisation times in the order of its delta's orgs (their
 * number, then per org its first, zigzag, and last - first). */
static px_err feed_prefix(px_store_batch *b, uint8_t kind, const bkey *k)
{
    b->pre.len = 0;
    if (kind == PXS_LOG_REC_FEED) {
        const brec *e = (const brec *)k;
        px_err err = px_buf_reserve(&b->pre, 1 + 2 * PXS_VARINT_MAX);
        if (err)
            return err;
        b->pre.p[b->pre.len++] = e->has_ttl;
        if (e->has_ttl) {
            px_buf_put_varint(&b->pre, e->ttl_min);
            px_buf_put_varint(&b->pre, e->ttl_max);
        }
        return PX_OK;
    }
    if (kind != PXS_LOG_DOM_FEED)
        return PX_OK;
    const bdom *e = (const bdom *)k;
    size_t n = e->seen ? e->seen->n_orgs : 0;
    if (n != e->dom.n_orgs)
        return PX_ERR_INVAL; /* the merge keeps them together: a bug */
    px_err err = px_buf_reserve(&b->pre, PXS_VARINT_MAX * (1 + 2 * n));
    if (err)
        return err;
    px_buf_put_varint(&b->pre, n);
    for (size_t i = 0; i < n; i++) {
        const pxs_org *o = &e->seen->orgs[i];
        px_buf_put_varint(&b->pre, px_zigzag(o->first));
        px_buf_put_varint(&b->pre, (uint64_t)o->last - (uint64_t)o->first);
    }
    return PX_OK;
}

/* Writes the sorted entries v[0..n) of one kind in chunks (the feed's
 * kinds when the store has a feed). */
static px_err log_entries(px_store_batch *b, uint8_t kind, bkey **v, size_t n)
{
    size_t per = b->s->chunk_records;
    bool rec = kind == PXS_LOG_REC;
    if (pxs_feed_on(b))
        kind = rec ? PXS_LOG_REC_FEED : PXS_LOG_DOM_FEED;
    for (size_t i = 0; i < n; i += per) {
        size_t m = n - i < per ? n - i : per;
        b->chunk.len = 0;
        for (size_t j = i; j < i + m; j++) {
            if (j + 8 < n) /* entries in key order lie anywhere in memory */
                __builtin_prefetch(v[j + 8]);
            if (j + 8 < n && rec)
                __builtin_prefetch((const char *)v[j + 8] + 64);
            px_err err = rec ? pxs_rec_encode(&((brec *)v[j])->rec, &b->val)
                             : pxs_dom_encode(&((bdom *)v[j])->dom, &b->val);
            if (!err)
                err = feed_prefix(b, kind, v[j]);
            if (!err)
                err = chunk_put(b, v[j]);
            if (err)
                return err;
        }
        px_err err = pxs_logw_chunk(&b->logw, kind, (uint32_t)m, b->chunk.p, b->chunk.len);
        if (err)
            return err;
    }
    return PX_OK;
}

/* Moves what the batch aggregated so far into the log (opened on the
 * first call) and empties the batch's memory. */
px_err pxs_log_segment(px_store_batch *b)
{
    px_err err = PX_OK;
    if (!b->log) {
        err = pxs_logw_open(&b->logw, b->s->log_path, mdb_txn_id(b->txn));
        b->log = !err;
    }
    bkey **v = err ? NULL : pxs_btab_sorted(b, &b->recs);
    bkey **d = v ? pxs_btab_sorted(b, &b->doms) : NULL;
    if (!err && !d)
        err = PX_ERR_NOMEM;
    if (!err)
        err = log_entries(b, PXS_LOG_REC, v, b->recs.n);
    if (!err)
        err = log_entries(b, PXS_LOG_DOM, d, b->doms.n);
    pxs_batch_clear(b);
    px_arena_reset(b->arena);
    if (err) /* what was not written is gone: the batch cannot commit */
        b->failed = err;
    return err;
}

/* The next entry of a chunk (as chunk_put wrote it); false if it does not
 * decode or its key is empty or too long for LMDB. */
static bool chunk_entry(const px_store_batch *b, px_wire *w, const uint8_t **key, size_t *klen,
                        const uint8_t **val, size_t *vlen)
{
    *klen = (size_t)px_wire_varint(w, PXS_VARINT_MAX);
    *key = px_wire_bytes(w, *klen);
    *vlen = (size_t)px_wire_varint(w, PXS_VARINT_MAX);
    *val = px_wire_bytes(w, *vlen);
    return *key && *val && *klen && *klen <= b->s->maxkey;
}

/* Builds the batch entry of one log entry (the i-th of its chunk) in the
 * arena: *out as soon as it exists (its memory must be released), false
 * if the entry does not decode. */
typedef bool (*chunk_entry_fn)(px_store_batch *b, const uint8_t *key, size_t klen,
                               const uint8_t *val, size_t vlen, size_t i, bkey **out);

static bool rec_from_log(px_store_batch *b, const uint8_t *key, size_t klen, const uint8_t *val,
                         size_t vlen, size_t i, bkey **out)
{
    const uint8_t *nul = memchr(key, 0, klen);
    if (!nul || klen < (size_t)(nul - key) + 3)
        return false;
    brec *e = px_arena_alloc(b->arena, sizeof *e);
    if (!e)
        return false;
    *e = (brec){.k = {0, key, klen}, .seq = (uint32_t)i, .name_len = (uint16_t)(nul - key)};
    *out = &e->k;
    if (pxs_rec_decode(val, vlen, &e->rec) != PX_OK || (e->rec.flags & PXS_F_GEO))
        return false;
    for (size_t j = 0; j < e->rec.n_orgs; j++) {
        if (e->rec.orgs[j].id > b->org_last)
            return false;
    }
    if (e->rec.flags & PXS_F_LONG) { /* the flush indexes it as text */
        char *t = px_arena_strndup(b->arena, (const char *)e->rec.rdata, e->rec.rdata_len);
        if (!t || strlen(t) != e->rec.rdata_len)
            return false;
        e->rec.rdata = (const uint8_t *)t;
    }
    return true;
}

/* A record entry with its feed prefix (feed_prefix). */
static bool rec_feed_from_log(px_store_batch *b, const uint8_t *key, size_t klen,
                              const uint8_t *val, size_t vlen, size_t i, bkey **out)
{
    px_wire w;
    px_wire_init(&w, val, vlen);
    uint8_t has = px_wire_u8(&w);
    uint64_t lo = has ? px_wire_varint(&w, PXS_VARINT_MAX) : 0;
    uint64_t hi = has ? px_wire_varint(&w, PXS_VARINT_MAX) : 0;
    if (px_wire_err(&w) || has > 1 || lo > hi || hi > UINT32_MAX)
        return false;
    size_t pre = vlen - px_wire_avail(&w);
    if (!rec_from_log(b, key, klen, val + pre, vlen - pre, i, out))
        return false;
    brec *e = (brec *)*out;
    e->has_ttl = has;
    e->ttl_min = (uint32_t)lo;
    e->ttl_max = (uint32_t)hi;
    return true;
}

/* The per-organisation times of a domain's delta: from the entry's feed
 * prefix (w; NULL: a log written without a feed, whose times are the
 * delta's own for each organisation). */
static bool seen_from_log(px_store_batch *b, bdom *e, px_wire *w)
{
    const pxs_dom *d = &e->dom;
    if (!(e->seen = px_arena_alloc(b->arena, sizeof *e->seen)))
        return false;
    *e->seen = (pxs_rec){0};
    uint64_t n = w ? px_wire_varint(w, PXS_VARINT_MAX) : d->n_orgs;
    if ((w && px_wire_err(w)) || n != d->n_orgs)
        return false;
    for (size_t i = 0; i < n; i++) {
        int64_t first = d->first, last = d->last;
        if (w) {
            first = px_unzigzag(px_wire_varint(w, PXS_VARINT_MAX));
            last = (int64_t)((uint64_t)first + px_wire_varint(w, PXS_VARINT_MAX));
            if (px_wire_err(w) || last < first || first < d->first || last > d->last)
                return false;
        }
        px_err err = PX_OK;
        pxs_rec_add_org(e->seen, d->orgs[i], first, last, &err);
        if (err)
            return false;
    }
    return true;
}

static bool dom_entry_from_log(px_store_batch *b, const uint8_t *key, size_t klen,
                               const uint8_t *val, size_t vlen, bool feed, bkey **out)
{
    bdom *e = px_arena_alloc(b->arena, sizeof *e);
    if (!e)
        return false;
    *e = (bdom){.k = {0, key, klen}};
    *out = &e->k;
    px_wire w;
    px_wire_init(&w, val, vlen);
    size_t pre = 0;
    if (feed) { /* the prefix needs the delta's orgs: skip it, decode, come back */
        uint64_t n = px_wire_varint(&w, PXS_VARINT_MAX);
        for (uint64_t i = 0; i < 2 * n && !px_wire_err(&w) && px_wire_avail(&w); i++)
            px_wire_varint(&w, PXS_VARINT_MAX);
        if (px_wire_err(&w))
            return false;
        pre = vlen - px_wire_avail(&w);
        px_wire_init(&w, val, pre);
    }
    if (pxs_dom_decode(val + pre, vlen - pre, &e->dom) != PX_OK)
        return false;
    for (size_t j = 0; j < e->dom.n_orgs; j++) {
        if (e->dom.orgs[j] > b->org_last)
            return false;
    }
    if (!pxs_feed_on(b))
        return true;
    if (!feed)
        return seen_from_log(b, e, NULL);
    return seen_from_log(b, e, &w) && !px_wire_avail(&w);
}

static bool dom_from_log(px_store_batch *b, const uint8_t *key, size_t klen, const uint8_t *val,
                         size_t vlen, size_t i, bkey **out)
{
    (void)i;
    return dom_entry_from_log(b, key, klen, val, vlen, false, out);
}

static bool dom_feed_from_log(px_store_batch *b, const uint8_t *key, size_t klen,
                              const uint8_t *val, size_t vlen, size_t i, bkey **out)
{
    (void)i;
    return dom_entry_from_log(b, key, klen, val, vlen, true, out);
}

/* Decodes a chunk into entries v (sorted as written), *n of them to
 * release; false if it does not decode (a log entry is only ever written
 * by log_entries). */
static bool chunk_decode(px_store_batch *b, const pxs_log_chunk *c, chunk_entry_fn fn, bkey **v,
                         size_t *n)
{
    px_wire w;
    px_wire_init(&w, c->p, c->len);
    for (*n = 0; px_wire_avail(&w) && *n < c->n;) {
        const uint8_t *key, *val;
        size_t klen, vlen;
        if (!chunk_entry(b, &w, &key, &klen, &val, &vlen))
            return false;
        bkey *k = NULL;
        bool ok = fn(b, key, klen, val, vlen, *n, &k);
        if (k)
            v[(*n)++] = k;
        if (!ok)
            return false;
    }
    return *n == c->n && !px_wire_avail(&w);
}

/* Decodes chunk c into entries *v in the arena, *n of them (to release
 * with chunk_release, even when it fails); false if it does not decode or
 * claims more entries than its bytes can hold (*err: out of memory). */
static bool chunk_load(px_store_batch *b, const pxs_log_chunk *c, bkey ***v, size_t *n, px_err *err)
{
    size_t cap = c->len / 2 + 1; /* an entry takes two bytes at least */
    *n = 0;
    *v = px_arena_alloc(b->arena, (c->n < cap ? c->n : cap) * sizeof **v + sizeof **v);
    if (!*v) {
        *err = PX_ERR_NOMEM;
        return false;
    }
    if (c->n > cap)
        return false;
    switch (c->kind) {
    case PXS_LOG_REC:
        return chunk_decode(b, c, rec_from_log, *v, n);
    case PXS_LOG_REC_FEED:
        return chunk_decode(b, c, rec_feed_from_log, *v, n);
    case PXS_LOG_DOM:
        return chunk_decode(b, c, dom_from_log, *v, n);
    case PXS_LOG_DOM_FEED:
        return chunk_decode(b, c, dom_feed_from_log, *v, n);
    default:
        return false;
    }
}

static bool chunk_is_rec(const pxs_log_chunk *c)
{
    return c->kind == PXS_LOG_REC || c->kind == PXS_LOG_REC_FEED;
}

static void chunk_release(const pxs_log_chunk *c, bkey **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (chunk_is_rec(c))
            pxs_rec_release(&((brec *)v[i])->rec);
        else
            pxs_bdom_release((bdom *)v[i]);
    }
}

/* A log that cannot be applied whole: damage, unless the store was told
 * to drop what cannot be applied (then it is counted lost). */
static px_err log_damage(px_store_batch *b, uint64_t lost, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static px_err log_damage(px_store_batch *b, uint64_t lost, const char *fmt, ...)
{
    if (b->s->drop_damaged_log) {
        b->n_lost += lost;
        return PX_OK;
    }
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    pxs_report(b->s, "batch.log", what);
    return PX_ERR_DAMAGED;
}

/* Writes chunk i's entries into the open transaction. A chunk that does
 * not decode (its checksum held: written so) is damage. */
static px_err chunk_write(px_store_batch *b, const pxs_log_chunk *c, uint64_t i)
{
    bkey **v;
    size_t n;
    px_err err = PX_OK;
    bool ok = chunk_load(b, c, &v, &n, &err);
    if (ok && chunk_is_rec(c))
        err = pxs_flush_rec_array(b, v, n);
    for (size_t j = 0; ok && !err && !chunk_is_rec(c) && j < n; j++)
        err = pxs_flush_dom(b, (const bdom *)v[j]);
    if (!ok && !err)
        err = log_damage(b, 1, "chunk %llu does not decode", (unsigned long long)i + 1);
    chunk_release(c, v, n);
    return err;
}

/* Ends a transaction of the log's application. */
static px_err step_commit(px_store_batch *b, px_err err)
{
    px_arena_reset(b->arena);
    if (!err)
        err = pxs_clog_emit(b);
    if (err)
        return err; /* pxs_batch_free aborts the transaction */
    int rc = pxs_txn_commit(b->s, b->txn);
    b->txn = NULL;
    pxs_feed_end(b, rc == 0);
    if (rc)
        return pxs_map_mdb(rc);
    b->s->collisions += b->n_collisions;
    b->n_collisions = 0;
    pxs_org_new_commit(b);
    return PX_OK;
}

/* Applies log chunk i (NULL: lost, dropped) in a transaction of its own,
 * with the mark moved past it. */
static px_err chunk_apply(px_store_batch *b, const pxs_log_chunk *c, uint64_t id, uint64_t i,
                          uint64_t total)
{
    px_err err = pxs_txn_open(b);
    if (!err && c)
        err = chunk_write(b, c, i);
    if (!err)
        err = pxs_feed_prepare(b);
    b->n_lost += !c;
    if (!err)
        err = marker_put(b, id, i + 1, total);
    err = step_commit(b, err);
    if (!err)
        pxs_release_freed_pages(b->s);
    return err;
}

/* The reverse-index entries of every record in an applied chunk, for a
 * log resumed after its records were written but not those entries:
 * whether a record was new is no longer known, and writing an entry that
 * exists changes nothing. */
static px_err rdx_rebuild(px_store_batch *b, const pxs_log_chunk *c, uint64_t ci)
{
    bkey **v;
    size_t n;
    px_err err = PX_OK;
    bool rec = chunk_is_rec(c);
    bool ok = !rec || chunk_load(b, c, &v, &n, &err);
    if (rec && ok) {
        for (size_t i = 0; i < n && !err; i++) {
            brec *e = (brec *)v[i];
            const uint8_t *tp = e->k.key + e->name_len + 1;
            err = pxs_rec_rdx(b, e, (uint16_t)(tp[0] << 8 | tp[1]));
        }
        err = err ? err : pxs_flush_rdx(b, v, n, n);
    }
    if (!ok && !err)
        err = log_damage(b, 1, "chunk %llu does not decode", (unsigned long long)ci + 1);
    if (rec)
        chunk_release(c, v, n);
    px_arena_reset(b->arena);
    return err;
}

/* The last step: the deferred reverse-index entries in their key order,
 * chunk_records a transaction; the last one removes the mark. *steps
 * counts the transactions against apply_limit. */
static px_err rdx_apply(px_store_batch *b, uint64_t *steps)
{
    px_store *s = b->s;
    if (!pxs_bkeys_sort(b->rdx_arena, b->rdxs, b->n_rdxs))
        return PX_ERR_NOMEM;
    size_t per = s->chunk_records, i = 0;
    do {
        if (s->apply_limit && *steps == s->apply_limit)
            return PX_ERR_AGAIN;
        size_t end = b->n_rdxs - i < per ? b->n_rdxs : i + per;
        px_err err = pxs_txn_open(b);
        for (; !err && i < end; i++)
            err = pxs_rdx_write(b, (const brdx *)b->rdxs[i]);
        if (!err && i == b->n_rdxs)
            err = marker_del(b);
        err = step_commit(b, err);
        if (err)
            return err;
        ++*steps;
        /* the mark's removal is on disk once another commit synced the
         * file: only then may the log go */
        if (pxs_release_freed_pages(s) && i == b->n_rdxs) {
            if (truncate(s->log_path, 0) != 0) {
                /* the next log truncates it */
            }
        }
    } while (i < b->n_rdxs);
    s->log_pending = false;
    return PX_OK;
}

/* A mark that fails its checks: what is left cannot be told. Dropped only
 * when the store was told to. */
static px_err marker_drop(px_store_batch *b)
{
    px_err err = log_damage(b, 1, "the store's mark of the pending batch fails its checks");
    if (err)
        return err;
    err = pxs_txn_open(b);
    err = step_commit(b, err ? err : marker_del(b));
    b->s->log_pending = err != PX_OK;
    return err;
}

/* The organisations a log may name: the batch that wrote it committed
 * their dictionary entries before its mark, so an id past the last is
 * one the log cannot hold (a chunk naming it does not decode). */
static px_err org_last(px_store_batch *b)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(b->s->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return pxs_map_mdb(rc);
    px_err err = pxs_dict_last(b->s, txn, DBI_ORG_I, &b->org_last);
    mdb_txn_abort(txn);
    return err;
}

/* Applies the committed log from the mark on: the chunks left, then the
 * reverse-index entries of the batch's new records. */
static px_err log_apply(px_store_batch *b)
{
    px_store *s = b->s;
    uint64_t id, next, total, steps = 0;
    px_err err = pxs_marker_read(s, &id, &next, &total);
    if (err == PX_ERR_NOTFOUND) {
        s->log_pending = false;
        return PX_OK;
    }
    if (err)
        return err == PX_ERR_DAMAGED ? marker_drop(b) : err;
    b->defer_rdx = true;
    if (!b->rdx_arena && !(b->rdx_arena = px_arena_create(1 << 20)))
        return PX_ERR_NOMEM;
    if ((err = org_last(b)) != PX_OK)
        return err;
    pxs_log l;
    err = pxs_log_read(s->log_path, &l);
    if (err == PX_ERR_NOMEM || err == PX_ERR_IO)
        return err;
    size_t have = !err && l.id == id ? l.n_chunks : 0;
    /* nothing of a log that is not whole is applied, unless told to */
    if (have < total)
        err = log_damage(b, 0, "%s: chunks %llu..%llu of the committed batch cannot be applied",
                         err == PX_ERR_NOTFOUND ? "missing"
                         : err                  ? "no batch log header"
                         : l.id != id           ? "of another batch"
                                                : "chunks fail their checksums",
                         (unsigned long long)(have > next ? have : next) + 1,
                         (unsigned long long)total);
    else
        err = PX_OK;
    for (uint64_t i = 0; i < next && i < have && !err; i++)
        err = rdx_rebuild(b, &l.chunks[i], i);
    for (uint64_t i = next; i < total && !err; i++, steps++) {
        if (s->apply_limit && steps == s->apply_limit)
            err = PX_ERR_AGAIN;
        else
            err = chunk_apply(b, i < have ? &l.chunks[i] : NULL, id, i, total);
    }
    if (!err)
        err = rdx_apply(b, &steps);
    pxs_log_release(&l);
    return err;
}

/* Commits a batch that went to the log: offsets and mark, then the
 * chunks. */
px_err pxs_log_commit(px_store_batch *b)
{
    px_store *s = b->s;
    if (!b->failed && (b->recs.n || b->doms.n))
        pxs_log_segment(b);
    px_err err = b->failed;
    uint64_t id = mdb_txn_id(b->txn), total = b->logw.n_chunks;
    if (!err)
        err = pxs_logw_sync(&b->logw);
    if (!err)
        err = sync_dir(s);
    if (!err)
        err = pxs_flush_offsets(b);
    if (!err && total)
        err = marker_put(b, id, 0, total);
    if (!err)
        err = pxs_clog_emit(b);
    if (err) {
        px_store_batch_abort(b);
        return err;
    }
    pxs_logw_close(&b->logw); /* the log stays: it is the batch now */
    int rc = pxs_txn_commit(s, b->txn);
    b->txn = NULL;
    pxs_feed_end(b, rc == 0);
    if (rc) {
        s->n_orgs = s->n_committed;
        pxs_batch_free(b);
        return pxs_map_mdb(rc);
    }
    s->n_committed = s->n_orgs;
    s->log_pending = total > 0;
    err = log_apply(b);
    pxs_batch_free(b);
    return err == PX_ERR_DAMAGED ? err : err ? PX_ERR_AGAIN : PX_OK;
}

bool px_store_log_pending(const px_store *s)
{
    return s->log_pending;
}

px_err px_store_resume(px_store *s, uint64_t *lost_chunks)
{
    if (lost_chunks)
        *lost_chunks = 0;
    if (s->read_only)
        return PX_ERR_INVAL;
    if (s->batch)
        return PX_ERR_AGAIN;
    if (!s->log_pending)
        return PX_OK;
    px_store_batch *b = pxs_batch_new(s);
    if (!b)
        return PX_ERR_NOMEM;
    px_err err = log_apply(b);
    uint64_t lost = b->n_lost;
    pxs_batch_free(b);
    if (lost_chunks)
        *lost_chunks = lost;
    return !err && lost ? PX_ERR_MALFORMED : err;
}
