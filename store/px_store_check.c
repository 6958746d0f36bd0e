/* px_store_check.c: reading the store through the checked reader
 * (px_store_file.h): snapshots for queries and the open, dictionary
 * lookups, the whole-store walk of px_store_verify(), and the reporting of
 * damage. What is checked, and why, is in docs/STORE.md. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_store_int.h"

#define MDB_INTEGERKEY_FLAG 0x08

/* ---- reports ---- */

void pxs_report(px_store *s, const char *where, const char *what)
{
    __atomic_fetch_add(&s->damaged, 1, __ATOMIC_RELAXED);
    if (s->on_damage)
        s->on_damage(s->damage_ctx, where, what);
}

px_err pxs_report_key(px_store *s, int dbi, const void *key, size_t klen, const char *what)
{
    char kt[360], where[400];
    pxs_key_text(dbi, key, klen, s->maxkey, kt, sizeof kt);
    snprintf(where, sizeof where, "table %s, %s", pxs_dbi_names[dbi], kt);
    pxs_report(s, where, what);
    return PX_ERR_DAMAGED;
}

px_err pxs_snap_damage(pxs_snap *sn, int dbi, const void *key, size_t klen, const char *what)
{
    sn->f.findings++;
    return pxs_report_key(sn->s, dbi, key, klen, what);
}

static void file_report(void *ctx, const char *where, const char *what)
{
    pxs_report(ctx, where, what);
}

/* ---- snapshots ---- */

static int table_of(const uint8_t *name, size_t len)
{
    for (int i = 0; i < DBI__N; i++) {
        if (strlen(pxs_dbi_names[i]) == len && memcmp(pxs_dbi_names[i], name, len) == 0)
            return i;
    }
    return -1;
}

static uint16_t table_flags(int dbi)
{
    return dbi == DBI_ORG_I || dbi == DBI_ASO_I ? MDB_INTEGERKEY_FLAG : 0;
}

/* The records of the store's tables, from the main tree. */
static px_err walk_main(pxs_snap *sn)
{
    pxs_tree *m = &sn->main;
    pxs_tree_init(m, &sn->f, "main", &sn->f.meta.main_db, PXS_CMP_BYTES, 0);
    m->is_main = true;
    m->mark = sn->f.seen != NULL;
    pxs_ent e;
    px_err err;
    for (err = pxs_tree_seek(m, NULL, 0, &e); !err; err = pxs_tree_next(m, &e)) {
        char where[300], why[160];
        int dbi = table_of(e.key, e.klen);
        snprintf(where, sizeof where, "table %.*s", (int)(e.klen < 64 ? e.klen : 64), e.key);
        if (dbi < 0) {
            pxs_file_damage(&sn->f, where, "a table this store does not have");
            continue;
        }
        if (!pxs_db_parse(&sn->f, e.val, e.vlen, &sn->db[dbi], why, sizeof why)) {
            pxs_file_damage(&sn->f, where, "its record: %s", why);
            continue;
        }
        if (sn->db[dbi].flags != table_flags(dbi)) {
            pxs_file_damage(&sn->f, where, "its record has flags 0x%x", sn->db[dbi].flags);
            continue;
        }
        sn->have[dbi] = true;
    }
    return err == PX_ERR_NOTFOUND ? PX_OK : err;
}

px_err pxs_snap_begin(px_store *s, bool mark, pxs_snap **out)
{
    *out = NULL;
    pxs_snap *sn = calloc(1, sizeof *sn);
    if (!sn)
        return PX_ERR_NOMEM;
    sn->s = s;
    char why[256] = "";
    px_err err = PX_ERR_AGAIN;
    /* a commit between the transaction's start and the meta's read moves
     * the meta on; two more and the transaction's own is overwritten */
    for (int i = 0; i < 20 && err == PX_ERR_AGAIN; i++) {
        if (sn->txn)
            mdb_txn_abort(sn->txn);
        sn->txn = NULL;
        int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &sn->txn);
        if (rc) {
            sn->txn = NULL;
            err = pxs_map_mdb(rc);
            break;
        }
        err =
            pxs_file_init(&sn->f, s->data_fd, mdb_txn_id(sn->txn), file_report, s, why, sizeof why);
    }
    if (err == PX_ERR_DAMAGED)
        pxs_report(s, "data.mdb", why);
    if (!err && mark) {
        sn->f.seen = calloc(sn->f.meta.last_pg / 8 + 1, 1);
        if (!sn->f.seen)
            err = PX_ERR_NOMEM;
        for (uint64_t p = 0; !err && p < PXS_META_PAGES; p++)
            pxs_file_claim(&sn->f, p);
    }
    if (!err)
        err = walk_main(sn);
    if (err) {
        pxs_snap_end(sn);
        return err;
    }
    *out = sn;
    return PX_OK;
}

pxs_tree *pxs_snap_tree(pxs_snap *sn, int dbi)
{
    if (!sn->have[dbi])
        return NULL;
    pxs_tree *t = &sn->t[dbi];
    if (!sn->t_ready[dbi]) {
        bool uint = table_flags(dbi) != 0;
        pxs_tree_init(t, &sn->f, pxs_dbi_names[dbi], &sn->db[dbi],
                      uint ? PXS_CMP_UINT : PXS_CMP_BYTES, uint ? sizeof(uint32_t) : 0);
        t->mark = sn->f.seen != NULL;
        sn->t_ready[dbi] = true;
    }
    return t;
}

void pxs_snap_end(pxs_snap *sn)
{
    if (!sn)
        return;
    pxs_tree_release(&sn->main);
    for (int i = 0; i < DBI__N; i++) {
        if (sn->t_ready[i])
            pxs_tree_release(&sn->t[i]);
    }
    pxs_file_release(&sn->f);
    if (sn->txn)
        mdb_txn_abort(sn->txn);
    free(sn);
}

px_err pxs_snap_meta(pxs_snap *sn, pxs_meta_row *m)
{
    pxs_tree *t = pxs_snap_tree(sn, DBI_OFF);
    if (!t)
        return PX_ERR_NOTFOUND;
    pxs_ent e;
    px_err err = pxs_tree_get(t, pxs_meta_key, sizeof pxs_meta_key, &e);
    if (err)
        return err;
    if (pxs_meta_decode(e.val, e.vlen, m))
        return pxs_snap_damage(sn, DBI_OFF, e.key, e.klen, "the format row fails its checks");
    return PX_OK;
}

px_err pxs_dict_lookup(pxs_snap *sn, int di, uint32_t id, char *out)
{
    pxs_tree *t = pxs_snap_tree(sn, di);
    pxs_ent e;
    px_err err = t ? pxs_tree_get(t, (const uint8_t *)&id, sizeof id, &e) : PX_ERR_DAMAGED;
    if (err == PX_ERR_NOTFOUND)
        return pxs_snap_damage(sn, di, &id, sizeof id, "missing, and a record refers to it");
    if (err)
        return err;
    size_t n;
    if (pxs_val_open(di, e.key, e.klen, e.val, e.vlen, &n) != PX_OK)
        return pxs_snap_damage(sn, di, e.key, e.klen, "the value fails its checksum");
    if (n == 0 || n > PXS_DICT_STR_MAX || memchr(e.val, 0, n))
        return pxs_snap_damage(sn, di, e.key, e.klen, "a text empty, too long or with a NUL");
    memcpy(out, e.val, n);
    out[n] = '\0';
    return PX_OK;
}

/* ---- the whole-store walk ---- */

typedef struct vwalk {
    pxs_snap *sn;
    px_store *s;
    px_store_check level;
    uint64_t met[DBI__N], sound[DBI__N];
    pxs_meta_row meta;
    bool have_meta, have_mark;
    uint64_t mark_id, mark_next, mark_total;
    pxs_rec rec;
    pxs_dom dom;
} vwalk;

/* An overlong rdata must be the one its key's prefix and hash name. */
static const char *long_rdata_check(const vwalk *v, const pxs_ent *e, size_t name_len)
{
    size_t h = name_len + 3, keep = v->s->maxkey - h - 8;
    const pxs_rec *r = &v->rec;
    if (r->rdata_len < keep + 8 || memcmp(r->rdata, e->key + h, keep) != 0)
        return "the overlong rdata does not start as its key says";
    uint64_t fp = pxs_key_fnv1a64(r->rdata, r->rdata_len);
    for (int i = 0; i < 8; i++) {
        if (e->key[h + keep + (size_t)i] != (uint8_t)(fp >> (56 - 8 * i)))
            return "the overlong rdata does not hash to its key";
    }
    return NULL;
}

static const char *rec_value_check(vwalk *v, const pxs_ent *e, size_t n)
{
    if (pxs_rec_decode(e->val, n, &v->rec) != PX_OK)
        return "the value does not decode";
    const char *why = pxs_rec_key_fit(&v->rec, e->key, e->klen, v->s->maxkey);
    if (!why && e->klen == v->s->maxkey)
        why = long_rdata_check(v, e, strnlen((const char *)e->key, e->klen));
    return why;
}

static const char *off_value_check(vwalk *v, const pxs_ent *e, size_t n)
{
    px_wire w;
    px_wire_init(&w, e->val, n);
    if (e->key[0] != 0) { /* an offset */
        px_wire_varint(&w, PXS_VARINT_MAX);
        return px_wire_err(&w) || px_wire_avail(&w) ? "the offset does not decode" : NULL;
    }
    if (e->klen == sizeof pxs_meta_key && memcmp(e->key, pxs_meta_key, e->klen) == 0) {
        v->have_meta = pxs_meta_decode(e->val, e->vlen, &v->meta) == PX_OK;
        return v->have_meta ? NULL : "the format row does not decode";
    }
    if (e->klen == sizeof pxs_clog_key && memcmp(e->key, pxs_clog_key, e->klen) == 0) {
        px_wire_varint(&w, PXS_VARINT_MAX);
        return px_wire_err(&w) || px_wire_avail(&w) ? "the changelog position does not decode"
                                                    : NULL;
    }
    if (e->klen == 3) /* NUL "gc": empty */
        return n ? "the page-release row is not empty" : NULL;
    v->mark_id = px_wire_varint(&w, PXS_VARINT_MAX);
    v->mark_next = px_wire_varint(&w, PXS_VARINT_MAX);
    v->mark_total = px_wire_varint(&w, PXS_VARINT_MAX);
    if (px_wire_err(&w) || px_wire_avail(&w) || v->mark_next > v->mark_total)
        return "the batch log's mark does not decode";
    v->have_mark = true;
    return NULL;
}

static const char *value_check(vwalk *v, int dbi, const pxs_ent *e, size_t n)
{
    px_wire w;
    px_wire_init(&w, e->val, n);
    switch (dbi) {
    case DBI_REC:
        return rec_value_check(v, e, n);
    case DBI_RDX: /* the rdata part, where the key had no room for it */
        return n && e->klen != v->s->maxkey ? "a reverse-index value under a key not cut" : NULL;
    case DBI_DOM:
        return pxs_dom_decode(e->val, n, &v->dom) ? "the value does not decode" : NULL;
    case DBI_OFF:
        return off_value_check(v, e, n);
    case DBI_STATE:
    case DBI_ALERT:
    case DBI_SINK:
        return pxs_feed_value_check(dbi, e->val, n);
    case DBI_ORG_N:
    case DBI_ASO_N: {
        uint64_t id = px_wire_varint(&w, PXS_VARINT_MAX);
        bool bad = px_wire_err(&w) || px_wire_avail(&w) || id == 0 || id > UINT32_MAX;
        return bad ? "the id does not decode" : NULL;
    }
    default: /* DBI_ORG_I, DBI_ASO_I */
        return n == 0 || n > PXS_DICT_STR_MAX || memchr(e->val, 0, n)
                   ? "a text empty, too long or with a NUL"
                   : NULL;
    }
}

const char *pxs_row_check(px_store *s, int dbi, const uint8_t *key, size_t klen, const uint8_t *val,
                          size_t vlen)
{
    if (dbi == DBI_OFF && klen && key[0] == 0)
        return "a control row, local to its store";
    const char *why = pxs_key_check(dbi, key, klen, s->maxkey);
    size_t n = 0;
    if (!why && pxs_val_open(dbi, key, klen, val, vlen, &n) != PX_OK)
        why = "the value fails its checksum";
    vwalk v = {.s = s, .level = PX_STORE_CHECK_FULL};
    pxs_ent e = {.key = key, .klen = klen, .val = val, .vlen = vlen};
    if (!why)
        why = value_check(&v, dbi, &e, n);
    pxs_rec_release(&v.rec);
    pxs_dom_release(&v.dom);
    return why;
}

static void check_entry(vwalk *v, int dbi, const pxs_ent *e)
{
    v->met[dbi]++;
    const char *why = pxs_key_check(dbi, e->key, e->klen, v->s->maxkey);
    size_t n = 0;
    if (!why && v->level == PX_STORE_CHECK_PAGES && dbi != DBI_OFF) { /* off: the counts */
        v->sound[dbi]++;
        return;
    }
    if (!why && pxs_val_open(dbi, e->key, e->klen, e->val, e->vlen, &n) != PX_OK)
        why = "the value fails its checksum";
    if (!why)
        why = value_check(v, dbi, e, n);
    if (why)
        pxs_snap_damage(v->sn, dbi, e->key, e->klen, why);
    else
        v->sound[dbi]++;
}

static void table_damage(vwalk *v, int dbi, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void table_damage(vwalk *v, int dbi, const char *fmt, ...)
{
    char where[64], what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(where, sizeof where, "table %s", pxs_dbi_names[dbi]);
    pxs_file_damage(&v->sn->f, where, "%s", what);
}

/* Every entry of one table; then its page counts against LMDB's record
 * (where nothing was skipped: a skipped subtree's pages were not met). */
static px_err walk_table(vwalk *v, int dbi)
{
    pxs_tree *t = pxs_snap_tree(v->sn, dbi);
    if (!t) {
        table_damage(v, dbi, "missing");
        return PX_OK;
    }
    pxs_ent e;
    px_err err;
    for (err = pxs_tree_seek(t, NULL, 0, &e); !err; err = pxs_tree_next(t, &e))
        check_entry(v, dbi, &e);
    if (err != PX_ERR_NOTFOUND)
        return err;
    const pxs_db *d = &v->sn->db[dbi];
    if (!t->skipped && (t->n_branch != d->branch_pages || t->n_leaf != d->leaf_pages ||
                        t->n_overflow != d->overflow_pages))
        table_damage(v, dbi,
                     "its record counts %llu branch, %llu leaf, %llu overflow pages; the "
                     "tree has %llu, %llu, %llu",
                     (unsigned long long)d->branch_pages, (unsigned long long)d->leaf_pages,
                     (unsigned long long)d->overflow_pages, (unsigned long long)t->n_branch,
                     (unsigned long long)t->n_leaf, (unsigned long long)t->n_overflow);
    return PX_OK;
}

/* One entry of LMDB's free list: a transaction id, and the pages it freed
 * (a count, then the page numbers in descending order). */
static void free_entry(vwalk *v, const pxs_ent *e)
{
    pxs_file *f = &v->sn->f;
    char where[64];
    uint64_t txn = 0, n = 0;
    memcpy(&txn, e->key, 8);
    snprintf(where, sizeof where, "free list, entry of transaction %llu", (unsigned long long)txn);
    if (e->vlen >= 8)
        memcpy(&n, e->val, 8);
    if (txn > f->meta.txnid || e->vlen % 8 || e->vlen < 8 || n != e->vlen / 8 - 1) {
        pxs_file_damage(f, where, "%zu bytes for %llu pages", e->vlen, (unsigned long long)n);
        return;
    }
    uint64_t prev = UINT64_MAX;
    for (uint64_t i = 1; i <= n; i++) {
        uint64_t pg;
        memcpy(&pg, e->val + 8 * i, 8);
        if (pg < PXS_META_PAGES || pg > f->meta.last_pg || pg >= prev) {
            pxs_file_damage(f, where, "page %llu out of range or order", (unsigned long long)pg);
            return;
        }
        if (!pxs_file_claim(f, pg))
            pxs_file_damage(f, where, "page %llu is free and in use", (unsigned long long)pg);
        prev = pg;
    }
}

static px_err walk_free(vwalk *v)
{
    pxs_tree t;
    pxs_tree_init(&t, &v->sn->f, "free list", &v->sn->f.meta.free_db, PXS_CMP_UINT, 8);
    t.is_free = true;
    t.mark = true;
    pxs_ent e;
    px_err err;
    for (err = pxs_tree_seek(&t, NULL, 0, &e); !err; err = pxs_tree_next(&t, &e))
        free_entry(v, &e);
    pxs_tree_release(&t);
    return err == PX_ERR_NOTFOUND ? PX_OK : err;
}

/* Each table's entries against LMDB's count and the store's own. */
static void check_counts(vwalk *v)
{
    if (!v->have_meta) {
        table_damage(v, DBI_OFF, "the store's format row is missing or damaged");
        return;
    }
    for (int i = 0; i < DBI__N; i++) {
        if (!v->sn->have[i])
            continue;
        uint64_t lmdb = v->sn->db[i].entries,
                 own = i < (int)v->meta.n_tables ? v->meta.entries[i] : UINT64_MAX;
        if (own != lmdb)
            table_damage(v, i, "the store counted %llu entries, LMDB's record says %llu",
                         (unsigned long long)own, (unsigned long long)lmdb);
        if (v->met[i] != lmdb)
            table_damage(v, i, "%llu entries expected, %llu found%s", (unsigned long long)lmdb,
                         (unsigned long long)v->met[i],
                         v->met[i] < lmdb ? ": the missing ones cannot be read" : "");
    }
}

/* A committed batch log must be whole until it is applied. */
static void check_log(vwalk *v)
{
    if (!v->have_mark || v->mark_next == v->mark_total)
        return;
    pxs_log l;
    px_err err = pxs_log_read(v->s->log_path, &l);
    char what[256] = "";
    if (err == PX_ERR_NOTFOUND)
        snprintf(what, sizeof what, "missing");
    else if (err && err != PX_ERR_NOMEM && err != PX_ERR_IO)
        snprintf(what, sizeof what, "no batch log header");
    else if (!err && l.id != v->mark_id)
        snprintf(what, sizeof what, "of another batch (%llu, the store's mark says %llu)",
                 (unsigned long long)l.id, (unsigned long long)v->mark_id);
    else if (!err && l.n_chunks < v->mark_total)
        snprintf(what, sizeof what, "%zu of its %llu chunks pass their checksums", l.n_chunks,
                 (unsigned long long)v->mark_total);
    if (what[0])
        pxs_file_damage(&v->sn->f, "batch.log",
                        "%s: the committed batch's chunks %llu..%llu cannot be applied", what,
                        (unsigned long long)v->mark_next + 1, (unsigned long long)v->mark_total);
    if (!err)
        pxs_log_release(&l);
}

static uint64_t pages_claimed(const pxs_file *f, uint64_t *first_free)
{
    uint64_t n = 0;
    *first_free = UINT64_MAX;
    for (uint64_t p = 0; p <= f->meta.last_pg; p++) {
        if (f->seen[p >> 3] & (1u << (p & 7)))
            n++;
        else if (*first_free == UINT64_MAX)
            *first_free = p;
    }
    return n;
}

static px_err walk_all(vwalk *v, bool log, px_store_verify_result *out)
{
    px_err err = PX_OK;
    for (int i = 0; i < v->s->n_tables && !err; i++)
        err = walk_table(v, i);
    if (!err)
        err = walk_free(v);
    if (err)
        return err;
    uint64_t structural = v->sn->f.findings;
    check_counts(v);
    if (log)
        check_log(v);
    pxs_file *f = &v->sn->f;
    uint64_t lost;
    out->pages = pages_claimed(f, &lost);
    out->pages_in_file = f->meta.last_pg + 1;
    /* after damage, pages under a skipped subtree are not claimed: said then */
    if (out->pages != out->pages_in_file && !structural)
        pxs_file_damage(
            f, "data.mdb", "%llu pages belong to no table and are not free (the first: page %llu)",
            (unsigned long long)(out->pages_in_file - out->pages), (unsigned long long)lost);
    return PX_OK;
}

px_err px_store_verify(px_store *s, px_store_check level, px_store_verify_result *out)
{
    return pxs_verify(s, level, true, out);
}

px_err pxs_verify(px_store *s, px_store_check level, bool log, px_store_verify_result *out)
{
    memset(out, 0, sizeof *out);
    pxs_snap *sn;
    px_err err = pxs_snap_begin(s, level != PX_STORE_CHECK_META, &sn);
    if (err == PX_ERR_DAMAGED)
        out->findings = 1;
    if (err)
        return err;
    vwalk v = {.sn = sn, .s = s, .level = level};
    if (level != PX_STORE_CHECK_META)
        err = walk_all(&v, log, out);
    out->txnid = sn->f.meta.txnid;
    out->findings = sn->f.findings;
    out->records = v.sound[DBI_REC];
    out->domains = v.sound[DBI_DOM];
    out->records_expected = v.have_meta ? v.meta.entries[DBI_REC] : sn->db[DBI_REC].entries;
    out->log_pending = v.have_mark && v.mark_next < v.mark_total;
    pxs_rec_release(&v.rec);
    pxs_dom_release(&v.dom);
    pxs_snap_end(sn);
    if (err)
        return err;
    return out->findings ? PX_ERR_DAMAGED : PX_OK;
}
