/* px_store_clog.c: the changelog (docs/STORE.md, "The changelog"): the
 * replicated rows each write transaction put or deleted, handed to
 * px_store_opts.changelog before the commit with the position it returns
 * written in the same transaction; the restore that writes such rows into
 * another store; a row as a Kafka message.
 *
 * The writers note (table, key) as they write (pxs_put, pxs_del); the
 * values are read back from the transaction just before it commits, so
 * a row written twice is given once, with its last value, and a row put
 * then deleted is a tombstone. Only the keys are held until then. */
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include "core/px_hash.h"

#include "px_store_batch.h"

const uint8_t pxs_clog_key[5] = {0, 'c', 'l', 'o', 'g'};

/* The tables' changelog bytes, in DBI order. */
static const uint8_t table_byte[DBI__N] = {
    PX_STORE_TABLE_REC,   PX_STORE_TABLE_RDX,   PX_STORE_TABLE_DOM,   PX_STORE_TABLE_OFF,
    PX_STORE_TABLE_ORG_N, PX_STORE_TABLE_ORG_I, PX_STORE_TABLE_ASO_N, PX_STORE_TABLE_ASO_I,
    PX_STORE_TABLE_STATE, PX_STORE_TABLE_ALERT, PX_STORE_TABLE_SINK};

/* The table of a changelog byte, or -1. */
static int table_of_byte(uint8_t t)
{
    for (int i = 0; i < DBI__N; i++) {
        if (table_byte[i] == t)
            return i;
    }
    return -1;
}

/* Local rows stay out of the changelog: the control rows of `off` (keys
 * starting with NUL: format row, page release, batch log mark, this
 * position), which describe this store's file, not its content. */
static bool row_local(int dbi, const void *key, size_t klen)
{
    return dbi == DBI_OFF && klen && ((const uint8_t *)key)[0] == 0;
}

/* ---- noting what a transaction writes ---- */

static uint64_t note_hash(const pxs_clog *c, int dbi, const void *key, size_t klen)
{
    return px_hash64(key, klen, c->seed ^ (uint64_t)dbi);
}

static bool note_eq(const pxs_clog *c, const pxs_clog_ent *e, int dbi, const void *key, size_t klen)
{
    return e->dbi == dbi && e->len == klen && memcmp(c->keys.p + e->off, key, klen) == 0;
}

/* The slot of (dbi, key): its entry's, or the empty one it would take. */
static uint32_t *note_slot(pxs_clog *c, uint64_t h, int dbi, const void *key, size_t klen)
{
    size_t mask = c->n_slot - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        uint32_t *sl = &c->slot[i];
        if (!*sl || note_eq(c, &c->ents[*sl - 1], dbi, key, klen))
            return sl;
    }
}

/* Room for one more entry at load <= 1/2. */
static px_err note_grow(pxs_clog *c)
{
    if (c->n_slot && (c->n + 1) * 2 <= c->n_slot)
        return PX_OK;
    if (c->n >= UINT32_MAX / 4)
        return PX_ERR_FULL;
    if (!c->n_slot)
        c->seed = px_hash_seed();
    size_t n_slot = c->n_slot ? c->n_slot * 2 : 256;
    uint32_t *slot = calloc(n_slot, sizeof *slot);
    if (!slot)
        return PX_ERR_NOMEM;
    free(c->slot);
    c->slot = slot;
    c->n_slot = n_slot;
    for (size_t i = 0; i < c->n; i++) {
        const pxs_clog_ent *e = &c->ents[i];
        uint64_t h = note_hash(c, e->dbi, c->keys.p + e->off, e->len);
        *note_slot(c, h, e->dbi, c->keys.p + e->off, e->len) = (uint32_t)i + 1;
    }
    return PX_OK;
}

/* Notes (dbi, key) as written by the open transaction (no changelog: nothing). */
static px_err pxs_clog_note(px_store_batch *b, int dbi, const void *key, size_t klen)
{
    pxs_clog *c = &b->clog;
    if (!b->s->changelog || row_local(dbi, key, klen))
        return PX_OK;
    px_err err = note_grow(c);
    if (err)
        return err;
    uint32_t *sl = note_slot(c, note_hash(c, dbi, key, klen), dbi, key, klen);
    if (*sl)
        return PX_OK; /* written before in this transaction */
    if (PX_ARRAY_RESERVE(c->ents, c->cap, c->n + 1, 256) ||
        px_buf_append(&c->keys, key, klen) != PX_OK)
        return PX_ERR_NOMEM;
    c->ents[c->n] = (pxs_clog_ent){c->keys.len - klen, (uint16_t)klen, (uint8_t)dbi};
    *sl = (uint32_t)++c->n;
    return PX_OK;
}

void pxs_clog_reset(pxs_clog *c)
{
    if (c->n)
        memset(c->slot, 0, c->n_slot * sizeof *c->slot);
    c->n = 0;
    c->keys.len = 0;
}

void pxs_clog_free(pxs_clog *c)
{
    px_buf_free(&c->keys);
    free(c->ents);
    free(c->slot);
    memset(c, 0, sizeof *c);
}

px_err pxs_put(px_store_batch *b, int dbi, MDB_cursor *c, MDB_val *k, MDB_val *v, unsigned flags)
{
    int rc = c ? mdb_cursor_put(c, k, v, flags) : mdb_put(b->txn, b->s->dbi[dbi], k, v, flags);
    return rc ? pxs_map_mdb(rc) : pxs_clog_note(b, dbi, k->mv_data, k->mv_size);
}

px_err pxs_del(px_store_batch *b, int dbi, const void *key, size_t klen)
{
    MDB_val k = {klen, (void *)key};
    int rc = mdb_del(b->txn, b->s->dbi[dbi], &k, NULL);
    if (rc == MDB_NOTFOUND)
        return PX_OK;
    return rc ? pxs_map_mdb(rc) : pxs_clog_note(b, dbi, key, klen);
}

/* ---- the position ---- */

static px_err position_put(px_store *s, MDB_txn *txn, int64_t next)
{
    uint8_t val[PXS_VARINT_MAX + PXS_SUM_LEN];
    px_buf vb = PXS_FIXED_BUF(val, 0); /* room for the sum */
    px_buf_put_varint(&vb, px_zigzag(next));
    pxs_val_seal(DBI_OFF, pxs_clog_key, sizeof pxs_clog_key, &vb);
    MDB_val k = {sizeof pxs_clog_key, (void *)pxs_clog_key}, v = {vb.len, val};
    px_err err = pxs_map_mdb(mdb_put(txn, s->dbi[DBI_OFF], &k, &v, 0));
    if (!err)
        s->format = PXS_FORMAT; /* the row is format 4's */
    return err;
}

px_err px_store_changelog_next(px_store *s, int64_t *next)
{
    if (!s || !next)
        return PX_ERR_INVAL;
    return pxs_off_get(s, pxs_clog_key, sizeof pxs_clog_key, "the position does not decode", next);
}

px_err px_store_set_changelog(px_store *s, px_store_changelog_fn fn, void *ctx)
{
    if (!s || s->read_only || s->batch)
        return PX_ERR_INVAL;
    s->changelog = fn;
    s->changelog_ctx = fn ? ctx : NULL;
    return PX_OK;
}

/* ---- the rows of a transaction, to the callback ---- */

/* The noted rows with their values as the transaction holds them now
 * (pointers into its pages: valid until it writes again). */
static px_err rows_read(px_store_batch *b, px_store_row *rows)
{
    const pxs_clog *c = &b->clog;
    for (size_t i = 0; i < c->n; i++) {
        const pxs_clog_ent *e = &c->ents[i];
        MDB_val k = {e->len, c->keys.p + e->off}, v;
        int rc = mdb_get(b->txn, b->s->dbi[e->dbi], &k, &v);
        if (rc && rc != MDB_NOTFOUND)
            return pxs_map_mdb(rc);
        rows[i] = (px_store_row){table_byte[e->dbi], k.mv_data, k.mv_size, rc ? NULL : v.mv_data,
                                 rc ? 0 : v.mv_size};
    }
    return PX_OK;
}

px_err pxs_clog_emit(px_store_batch *b)
{
    px_store *s = b->s;
    pxs_clog *c = &b->clog;
    if (!s->changelog || !c->n)
        return PX_OK;
    px_store_row *rows = malloc(c->n * sizeof *rows);
    if (!rows)
        return PX_ERR_NOMEM;
    int64_t next = -1;
    px_err err = rows_read(b, rows);
    if (!err)
        err = s->changelog(s->changelog_ctx, rows, c->n, &next);
    free(rows);
    if (!err && next < 0)
        err = PX_ERR_INVAL; /* a Kafka offset: the callback did not say */
    if (!err)
        err = position_put(s, b->txn, next);
    pxs_clog_reset(c);
    return err;
}

/* ---- restore ---- */

/* Writes one checked row; a table of the feed's reader is counted from
 * LMDB at the commit (px_store.c, the format row). */
static px_err row_write(px_store *s, MDB_txn *txn, int dbi, const px_store_row *r)
{
    MDB_val k = {r->key_len, (void *)r->key}, v = {r->val_len, (void *)r->val};
    if (dbi >= DBI_STATE)
        s->touched |= 1u << dbi;
    int rc = r->val ? mdb_put(txn, s->dbi[dbi], &k, &v, 0) : mdb_del(txn, s->dbi[dbi], &k, NULL);
    return rc == MDB_NOTFOUND ? PX_OK : pxs_map_mdb(rc);
}

/* The table of a row, if the row is one a changelog may carry (else -1). */
static int row_table(px_store *s, const px_store_row *r)
{
    int dbi = table_of_byte(r->table);
    if (dbi < 0 || dbi >= s->n_tables || !r->key || !r->key_len)
        return -1;
    if (!r->val)
        return row_local(dbi, r->key, r->key_len) ||
                       pxs_key_check(dbi, r->key, r->key_len, s->maxkey)
                   ? -1
                   : dbi;
    return pxs_row_check(s, dbi, r->key, r->key_len, r->val, r->val_len) ? -1 : dbi;
}

px_err px_store_apply_rows(px_store *s, const px_store_row *rows, size_t n, int64_t next)
{
    if (!s || (!rows && n) || next < 0 || s->read_only)
        return PX_ERR_INVAL;
    if (s->batch || s->log_pending)
        return PX_ERR_AGAIN;
    for (size_t i = 0; i < n; i++) {
        if (row_table(s, &rows[i]) < 0)
            return PX_ERR_MALFORMED;
    }
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc)
        return pxs_map_mdb(rc);
    s->touched = 0;
    px_err err = PX_OK;
    for (size_t i = 0; i < n && !err; i++)
        err = row_write(s, txn, table_of_byte(rows[i].table), &rows[i]);
    if (!err)
        err = position_put(s, txn, next);
    if (err) {
        s->touched = 0;
        mdb_txn_abort(txn);
        return err;
    }
    /* the organisations' ids are the source's now */
    s->n_orgs = s->n_committed = 0;
    rc = pxs_txn_commit(s, txn);
    if (rc == 0)
        pxs_release_freed_pages(s);
    return pxs_map_mdb(rc);
}

/* ---- messages ---- */

px_err px_store_row_to_msg(const px_store_row *row, uint8_t *key, size_t cap, size_t *key_len)
{
    if (!row || !key || !key_len || table_of_byte(row->table) < 0 || !row->key_len)
        return PX_ERR_INVAL;
    if (row->key_len + 1 > cap)
        return PX_ERR_TOOLONG;
    key[0] = row->table;
    memcpy(key + 1, row->key, row->key_len);
    *key_len = row->key_len + 1;
    return PX_OK;
}

px_err px_store_row_from_msg(const uint8_t *key, size_t key_len, const uint8_t *val, size_t val_len,
                             px_store_row *row)
{
    if (!key || key_len < 2 || table_of_byte(key[0]) < 0 || (val && !val_len) || !row)
        return PX_ERR_MALFORMED;
    *row = (px_store_row){key[0], key + 1, key_len - 1, val, val ? val_len : 0};
    return PX_OK;
}
