/* px_store_alert.c: what the change feed's reader keeps in the store
 * (store format 3, docs/STORE-FORMAT.md): its state, its outbox of
 * decided alerts and the sinks' cursors; px_change_txn over the write
 * transaction that delivered the changes; the read APIs of the outbox.
 *
 * The tables are touched only by a sink's prepare and by the cursor
 * calls: a store without a feed, or whose feed has no prepare, does no
 * more LMDB work than before (the format row counts these tables only in
 * a transaction that wrote them: px_store.c). */
#include <lmdb.h>
#include <string.h>

#include "px_store_batch.h"

/* ---- keys and values ---- */

static bool sink_name_ok(const uint8_t *p, size_t n)
{
    if (n == 0 || n > PXS_SINK_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x21 || p[i] > 0x7e)
            return false;
    }
    return true;
}

static uint64_t seq_of(const uint8_t *key)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | key[i];
    return v;
}

static void seq_key(uint64_t seq, uint8_t key[8])
{
    for (int i = 0; i < 8; i++)
        key[i] = (uint8_t)(seq >> (56 - 8 * i));
}

const char *pxs_feed_key_check(int dbi, const uint8_t *key, size_t klen)
{
    switch (dbi) {
    case DBI_STATE:
        return klen >= 1 && klen <= PX_CHANGE_STATE_KEY_MAX ? NULL
                                                            : "a state key empty or too long";
    case DBI_ALERT:
        return klen == 8 && seq_of(key) != 0 ? NULL : "an alert key that is no seq 1..2^64-1";
    default: /* DBI_SINK */
        return sink_name_ok(key, klen) ? NULL : "a sink name empty, too long or not printable";
    }
}

/* One text of an alert: varint length, the bytes, a NUL (so that a
 * reader hands it out in place); 1..max bytes without a NUL (max 0: any
 * length, empty too). */
static const char *text_take(px_wire *w, size_t min, size_t max, size_t *len)
{
    uint64_t n = px_wire_varint(w, PXS_VARINT_MAX);
    if (px_wire_err(w) || n < min || (max && n > max) || n >= px_wire_avail(w))
        return NULL;
    const uint8_t *p = px_wire_bytes(w, (size_t)n + 1);
    if (!p || p[n] != 0 || memchr(p, 0, (size_t)n))
        return NULL;
    *len = (size_t)n;
    return (const char *)p;
}

px_err pxs_alert_decode(const uint8_t *key, const uint8_t *v, size_t n, px_alert *a)
{
    px_wire w;
    px_wire_init(&w, v, n);
    size_t rl, kl, il;
    *a = (px_alert){.seq = seq_of(key)};
    a->time = px_unzigzag(px_wire_varint(&w, PXS_VARINT_MAX));
    if (px_wire_err(&w))
        return PX_ERR_MALFORMED;
    a->rule = text_take(&w, 1, PXS_ALERT_TEXT_MAX, &rl);
    a->key = a->rule ? text_take(&w, 1, PXS_NAME_MAX, &kl) : NULL;
    a->id = a->key ? text_take(&w, 1, PXS_ALERT_TEXT_MAX, &il) : NULL;
    a->json = a->id ? text_take(&w, 0, PX_ALERT_JSON_MAX, &a->json_len) : NULL;
    if (!a->json || a->json_len > PX_ALERT_JSON_MAX || px_wire_avail(&w))
        return PX_ERR_MALFORMED;
    return PX_OK;
}

const char *pxs_feed_value_check(int dbi, const uint8_t *val, size_t n)
{
    static const uint8_t any_key[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    px_alert a;
    px_wire w;
    switch (dbi) {
    case DBI_STATE:
        return n <= PX_CHANGE_STATE_VAL_MAX ? NULL : "a state value too long";
    case DBI_ALERT:
        return pxs_alert_decode(any_key, val, n, &a) ? "the alert does not decode" : NULL;
    default: /* DBI_SINK */
        px_wire_init(&w, val, n);
        uint64_t next = px_wire_varint(&w, PXS_VARINT_MAX);
        return px_wire_err(&w) || px_wire_avail(&w) || next == 0 ? "the cursor does not decode"
                                                                 : NULL;
    }
}

static px_err text_put(px_buf *b, const char *s, size_t n)
{
    px_err err = px_buf_reserve(b, PXS_VARINT_MAX + n + 1);
    if (err)
        return err;
    px_buf_put_varint(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len++] = 0;
    return PX_OK;
}

/* A text of an alert as the outbox keeps it: NULL, empty (min 1), too
 * long or with a NUL is refused. */
static bool text_ok(const char *s, size_t n, size_t min, size_t max)
{
    return s && n >= min && n <= max && !memchr(s, 0, n);
}

static px_err alert_encode(const px_alert *a, px_buf *out)
{
    size_t rl = a->rule ? strlen(a->rule) : 0, kl = a->key ? strlen(a->key) : 0;
    size_t il = a->id ? strlen(a->id) : 0;
    if (!text_ok(a->rule, rl, 1, PXS_ALERT_TEXT_MAX) || !text_ok(a->key, kl, 1, PXS_NAME_MAX) ||
        !text_ok(a->id, il, 1, PXS_ALERT_TEXT_MAX) ||
        !text_ok(a->json ? a->json : "", a->json_len, 0, PX_ALERT_JSON_MAX) ||
        (!a->json && a->json_len))
        return PX_ERR_INVAL;
    out->len = 0;
    px_err err = px_buf_reserve(out, PXS_VARINT_MAX);
    if (err)
        return err;
    px_buf_put_varint(out, px_zigzag(a->time));
    err = text_put(out, a->rule, rl);
    if (!err)
        err = text_put(out, a->key, kl);
    if (!err)
        err = text_put(out, a->id, il);
    if (!err)
        err = text_put(out, a->json ? a->json : "", a->json_len);
    return err;
}

/* ---- px_change_txn over the batch's write transaction ---- */

/* An error of a txn call fails the transaction even if prepare goes on. */
static px_err txn_fail(px_store_batch *b, px_err err)
{
    if (err && err != PX_ERR_NOTFOUND && !b->txn_err)
        b->txn_err = err;
    return err;
}

static px_err txn_get(px_change_txn *t, const void *key, size_t klen, const void **val,
                      size_t *vlen)
{
    px_store_batch *b = t->impl;
    if (!key || klen == 0 || klen > PX_CHANGE_STATE_KEY_MAX)
        return txn_fail(b, PX_ERR_INVAL);
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(b->txn, b->s->dbi[DBI_STATE], &k, &v);
    if (rc)
        return txn_fail(b, pxs_map_mdb(rc));
    size_t n;
    if (pxs_val_open(DBI_STATE, key, klen, v.mv_data, v.mv_size, &n) ||
        pxs_feed_value_check(DBI_STATE, v.mv_data, n))
        return txn_fail(b,
                        pxs_report_key(b->s, DBI_STATE, key, klen, "the value fails its checks"));
    *val = v.mv_data;
    *vlen = n;
    return PX_OK;
}

static px_err txn_put(px_change_txn *t, const void *key, size_t klen, const void *val, size_t vlen)
{
    px_store_batch *b = t->impl;
    if (!key || klen == 0 || klen > PX_CHANGE_STATE_KEY_MAX || vlen > PX_CHANGE_STATE_VAL_MAX ||
        (!val && vlen))
        return txn_fail(b, PX_ERR_INVAL);
    b->tval.len = 0;
    px_err err = px_buf_reserve(&b->tval, vlen + PXS_SUM_LEN);
    if (err)
        return txn_fail(b, err);
    if (vlen)
        memcpy(b->tval.p, val, vlen);
    b->tval.len = vlen;
    pxs_val_seal(DBI_STATE, key, klen, &b->tval);
    MDB_val k = {klen, (void *)key}, v = {b->tval.len, b->tval.p};
    b->s->touched |= 1u << DBI_STATE;
    return txn_fail(b, pxs_put(b, DBI_STATE, NULL, &k, &v, 0));
}

static px_err txn_del(px_change_txn *t, const void *key, size_t klen)
{
    px_store_batch *b = t->impl;
    if (!key || klen == 0 || klen > PX_CHANGE_STATE_KEY_MAX)
        return txn_fail(b, PX_ERR_INVAL);
    b->s->touched |= 1u << DBI_STATE;
    return txn_fail(b, pxs_del(b, DBI_STATE, key, klen));
}

/* The last seq of the outbox in txn (0: none); a key that fails its
 * check is damage (reported). */
static px_err last_seq(px_store *s, MDB_txn *txn, uint64_t *seq)
{
    MDB_cursor *c;
    *seq = 0;
    int rc = mdb_cursor_open(txn, s->dbi[DBI_ALERT], &c);
    if (rc)
        return pxs_map_mdb(rc);
    MDB_val k, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND)
        return PX_OK;
    if (rc)
        return pxs_map_mdb(rc);
    if (pxs_feed_key_check(DBI_ALERT, k.mv_data, k.mv_size))
        return pxs_report_key(s, DBI_ALERT, k.mv_data, k.mv_size, "a key that is no seq");
    *seq = seq_of(k.mv_data);
    return PX_OK;
}

/* Seqs are the last one plus one: the outbox is only appended to, so
 * none is ever given twice. */
static px_err txn_alert(px_change_txn *t, const px_alert *a, uint64_t *seq)
{
    px_store_batch *b = t->impl;
    if (!a)
        return txn_fail(b, PX_ERR_INVAL);
    uint64_t last;
    px_err err = alert_encode(a, &b->tval);
    if (!err)
        err = last_seq(b->s, b->txn, &last);
    if (!err && last == UINT64_MAX)
        err = PX_ERR_FULL;
    uint8_t key[8];
    if (!err) {
        seq_key(last + 1, key);
        err = pxs_val_seal(DBI_ALERT, key, sizeof key, &b->tval);
    }
    if (err)
        return txn_fail(b, err);
    MDB_val k = {sizeof key, key}, v = {b->tval.len, b->tval.p};
    b->s->touched |= 1u << DBI_ALERT;
    err = pxs_put(b, DBI_ALERT, NULL, &k, &v, MDB_APPEND);
    if (!err && seq)
        *seq = last + 1;
    return txn_fail(b, err);
}

px_err pxs_feed_prepare(px_store_batch *b)
{
    const px_change_sink *f = &b->s->feed;
    if (!b->delivered || !f->prepare)
        return PX_OK;
    b->txn_err = PX_OK;
    px_change_txn t = {txn_get, txn_put, txn_del, txn_alert, b};
    px_err err = f->prepare(f->ctx, &t);
    return err ? err : b->txn_err;
}

/* ---- sink cursors ---- */

px_err px_store_sink_set(px_store_batch *b, const char *sink, uint64_t next_seq)
{
    if (!b || !sink || !sink_name_ok((const uint8_t *)sink, strlen(sink)) || next_seq == 0)
        return PX_ERR_INVAL;
    if (b->failed)
        return b->failed;
    size_t kl = strlen(sink);
    uint8_t val[PXS_VARINT_MAX + PXS_SUM_LEN];
    px_buf vb = PXS_FIXED_BUF(val, 0); /* room for the sum */
    px_buf_put_varint(&vb, next_seq);
    pxs_val_seal(DBI_SINK, sink, kl, &vb);
    MDB_val k = {kl, (void *)sink}, v = {vb.len, val};
    b->s->touched |= 1u << DBI_SINK;
    return pxs_batch_check(b, pxs_put(b, DBI_SINK, NULL, &k, &v, 0));
}

static bool has_outbox(const px_store *s)
{
    return s->n_tables > DBI_SINK;
}

/* A read transaction for the writer's reads of the new tables (through
 * LMDB, as px_store_get_offset: the writer's open checked the file);
 * *txn NULL: a format-2 store, which has none of them. */
static px_err read_begin(px_store *s, MDB_txn **txn)
{
    *txn = NULL;
    return has_outbox(s) ? pxs_map_mdb(mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn)) : PX_OK;
}

px_err px_store_sink_get(px_store *s, const char *sink, uint64_t *next_seq)
{
    if (!s || !sink || !next_seq || !sink_name_ok((const uint8_t *)sink, strlen(sink)))
        return PX_ERR_INVAL;
    *next_seq = 1;
    MDB_txn *txn;
    px_err err = read_begin(s, &txn);
    if (err || !txn)
        return err;
    size_t kl = strlen(sink), n;
    MDB_val k = {kl, (void *)sink}, v;
    int rc = mdb_get(txn, s->dbi[DBI_SINK], &k, &v);
    err = rc == MDB_NOTFOUND ? PX_OK : pxs_map_mdb(rc);
    if (rc == 0 && (pxs_val_open(DBI_SINK, sink, kl, v.mv_data, v.mv_size, &n) ||
                    pxs_feed_value_check(DBI_SINK, v.mv_data, n)))
        err = pxs_report_key(s, DBI_SINK, sink, kl, "the value fails its checks");
    else if (rc == 0) {
        px_wire w;
        px_wire_init(&w, v.mv_data, n);
        *next_seq = px_wire_varint(&w, PXS_VARINT_MAX);
    }
    mdb_txn_abort(txn);
    return err;
}

/* ---- reading the outbox ---- */

px_err px_store_alert_last(px_store *s, uint64_t *last)
{
    if (!s || !last)
        return PX_ERR_INVAL;
    *last = 0;
    MDB_txn *txn;
    px_err err = read_begin(s, &txn);
    if (err || !txn)
        return err;
    err = last_seq(s, txn, last);
    mdb_txn_abort(txn);
    return err;
}

typedef struct alert_walk {
    uint64_t from;
    px_store_fence fence;
    const char *rule;
    px_store_alert_fn fn;
    void *ctx;
} alert_walk;

/* One entry of the outbox: false to stop. */
static bool alert_visit(pxs_snap *sn, const alert_walk *w, const pxs_ent *e)
{
    size_t n;
    px_alert a;
    const char *why = pxs_feed_key_check(DBI_ALERT, e->key, e->klen);
    if (!why && pxs_val_open(DBI_ALERT, e->key, e->klen, e->val, e->vlen, &n))
        why = "the value fails its checksum";
    if (!why && pxs_alert_decode(e->key, e->val, n, &a))
        why = "the alert does not decode";
    if (why) {
        pxs_snap_damage(sn, DBI_ALERT, e->key, e->klen, why);
        return true;
    }
    if (a.time < w->fence.after || a.time > w->fence.before ||
        (w->rule && strcmp(w->rule, a.rule) != 0))
        return true;
    return w->fn(w->ctx, &a);
}

px_err px_store_alerts(px_store *s, uint64_t from_seq, const px_store_fence *fence,
                       const char *rule, px_store_alert_fn fn, void *ctx)
{
    if (!s || !fn)
        return PX_ERR_INVAL;
    if (!has_outbox(s))
        return PX_OK;
    alert_walk w = {from_seq ? from_seq : 1,
                    fence ? *fence : (px_store_fence){INT64_MIN, INT64_MAX}, rule, fn, ctx};
    pxs_snap *sn;
    px_err err = pxs_snap_begin(s, false, &sn);
    if (err)
        return err;
    pxs_tree *t = pxs_snap_tree(sn, DBI_ALERT);
    if (!t) {
        pxs_report(s, "table alerts", "missing or its record damaged");
        err = PX_ERR_DAMAGED;
    }
    uint8_t key[8];
    seq_key(w.from, key);
    pxs_ent e;
    px_err werr = t ? pxs_tree_seek(t, key, sizeof key, &e) : PX_ERR_NOTFOUND;
    for (; !werr && alert_visit(sn, &w, &e);)
        werr = pxs_tree_next(t, &e);
    if (!err && werr && werr != PX_ERR_NOTFOUND)
        err = werr;
    if (!err && sn->f.findings)
        err = PX_ERR_DAMAGED;
    pxs_snap_end(sn);
    return err;
}
