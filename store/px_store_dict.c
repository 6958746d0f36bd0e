/* px_store_dict.c: the dictionaries (organisations, AS organisations)
 * and the org cache. */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_store_batch.h"

/* ---- dictionaries ---- */

/* Id of str[0..len) in dictionary dn: PX_ERR_NOTFOUND if absent,
 * _DAMAGED (reported) if its stored id fails its checks. */
px_err pxs_dict_find(px_store_batch *b, int dn, const char *str, size_t len, uint32_t *id)
{
    MDB_val k = {len, (void *)str}, v;
    int rc = mdb_get(b->txn, b->s->dbi[dn], &k, &v);
    if (rc)
        return pxs_map_mdb(rc);
    size_t n;
    if (pxs_val_open(dn, str, len, v.mv_data, v.mv_size, &n) != PX_OK)
        return pxs_report_key(b->s, dn, str, len, "the value fails its checksum");
    px_wire w;
    px_wire_init(&w, v.mv_data, n);
    uint64_t x = px_wire_varint(&w, PXS_VARINT_MAX);
    if (px_wire_err(&w) || px_wire_avail(&w) || x == 0 || x > UINT32_MAX)
        return pxs_report_key(b->s, dn, str, len, "the id does not decode");
    *id = (uint32_t)x;
    return PX_OK;
}

px_err pxs_dict_last(px_store *s, MDB_txn *txn, int di, uint32_t *last)
{
    MDB_cursor *c;
    *last = 0;
    int rc = mdb_cursor_open(txn, s->dbi[di], &c);
    if (rc)
        return pxs_map_mdb(rc);
    MDB_val lk, lv;
    rc = mdb_cursor_get(c, &lk, &lv, MDB_LAST);
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND)
        return PX_OK;
    if (rc)
        return pxs_map_mdb(rc);
    if (lk.mv_size != sizeof *last)
        return pxs_report_key(s, di, lk.mv_data, lk.mv_size, "the last id is no id");
    memcpy(last, lk.mv_data, sizeof *last);
    return PX_OK;
}

/* Gives str[0..len) the next free id of the pair (dn, di). */
px_err pxs_dict_add(px_store_batch *b, int dn, int di, const char *str, size_t len, uint32_t *id)
{
    px_store *s = b->s;
    uint32_t next;
    px_err err = pxs_dict_last(s, b->txn, di, &next);
    if (err)
        return err;
    if (next == UINT32_MAX)
        return pxs_report_key(s, di, &next, sizeof next, "the last id is no id");
    next++;
    uint8_t enc[10 + PXS_SUM_LEN], txt[PXS_DICT_STR_MAX + PXS_SUM_LEN];
    px_buf eb = PXS_FIXED_BUF(enc, 0), tb = PXS_FIXED_BUF(txt, len);
    px_buf_put_varint(&eb, next);
    memcpy(txt, str, len);
    pxs_val_seal(dn, str, len, &eb); /* room reserved */
    pxs_val_seal(di, &next, sizeof next, &tb);
    MDB_val k = {len, (void *)str}, nv = {eb.len, enc}, ik = {sizeof next, &next},
            iv = {tb.len, txt};
    err = pxs_put(b, dn, NULL, &k, &nv, 0);
    if (!err)
        err = pxs_put(b, di, NULL, &ik, &iv, 0);
    *id = next;
    return err;
}

/* Id of `str` in a dictionary pair, creating it if absent. */
static px_err dict_intern(px_store_batch *b, int dn, int di, const char *str, uint32_t *id)
{
    size_t len = strlen(str);
    if (len == 0 || len > PXS_DICT_STR_MAX)
        return len ? PX_ERR_TOOLONG : PX_ERR_INVAL;
    px_err err = pxs_dict_find(b, dn, str, len, id);
    return err == PX_ERR_NOTFOUND ? pxs_dict_add(b, dn, di, str, len, id) : err;
}

px_err pxs_org_id(px_store_batch *b, const char *org, uint32_t *id)
{
    px_store *s = b->s;
    for (size_t i = 0; i < s->n_orgs; i++) {
        if (strcmp(s->orgs[i].name, org) == 0) {
            *id = s->orgs[i].id;
            return PX_OK;
        }
    }
    px_err err = dict_intern(b, DBI_ORG_N, DBI_ORG_I, org, id);
    if (err)
        return err;
    if (PX_ARRAY_RESERVE(s->orgs, s->cap_orgs, s->n_orgs + 1, 16))
        return PX_OK; /* the cache is an optimisation only */
    snprintf(s->orgs[s->n_orgs].name, sizeof s->orgs[0].name, "%s", org);
    s->orgs[s->n_orgs++].id = *id;
    return PX_OK;
}

/* Text of id in dictionary di (DBI_ORG_I, DBI_ASO_I) through the write
 * transaction, into out (PXS_DICT_STR_MAX + 1): PX_ERR_DAMAGED (reported)
 * if the id is unknown or its entry fails its checks. */
px_err pxs_dict_text(px_store_batch *b, int di, uint32_t id, char *out)
{
    MDB_val k = {sizeof id, &id}, v;
    int rc = mdb_get(b->txn, b->s->dbi[di], &k, &v);
    if (rc == MDB_NOTFOUND)
        return pxs_report_key(b->s, di, &id, sizeof id, "an id in use is not in the dictionary");
    if (rc)
        return pxs_map_mdb(rc);
    size_t n;
    if (pxs_val_open(di, &id, sizeof id, v.mv_data, v.mv_size, &n) != PX_OK)
        return pxs_report_key(b->s, di, &id, sizeof id, "the value fails its checksum");
    if (n == 0 || n > PXS_DICT_STR_MAX || memchr(v.mv_data, 0, n))
        return pxs_report_key(b->s, di, &id, sizeof id,
                              "the text is empty, too long or holds a NUL");
    memcpy(out, v.mv_data, n);
    out[n] = 0;
    return PX_OK;
}
