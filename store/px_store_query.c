/* px_store_query.c: read side of the store (rrset, rdata and domain
 * queries, statistics). A query of the callback API runs in one read
 * transaction, so it sees the last committed batch and never an open one;
 * an iterator (px_store_iter) runs each step in its own, resuming after
 * the last key it visited, so that nothing stays pinned between steps.
 * Either reads the pages of its snapshot through the checked reader
 * (px_store_file.h), never through LMDB: a damaged page or value is
 * reported and left out. A callback query answers the rest and returns
 * PX_ERR_DAMAGED at its end; an iterator's step that met damage returns
 * it and ends the walk there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/px_addr.h"
#include "dns/px_dns_name.h"
#include "dns/px_dns_type.h"
#include "px_store_int.h"

/* The zone of a "*.zone" lookup. Its key prefix ("com.example.b.")
 * comes from the name reversal of store format 2, which does not know
 * escapes: "a\.b.example.com" (one label "a.b" under example.com) is
 * stored as "com.example.b.a\" and falls in the range of *.b.example.com.
 * Each record of the range is checked against the zone by name. */
typedef struct qzone {
    bool wild;
    char name[PXS_NAME_MAX + 1];
    size_t len; /* 0: everything ("*.") */
} qzone;

typedef struct qctx {
    px_store *s;
    pxs_snap *sn;
    px_store_fence fence;
    int type; /* -1: any */
    qzone zone;
    px_store_rec_fn fn;
    void *ctx;
    bool stopped;
    pxs_rec rec;
    px_buf text; /* rdata and bailiwick text */
    char *names; /* n_orgs x (PXS_DICT_STR_MAX + 1) */
    const char **orgs;
    int64_t *ofirst, *olast;
    size_t *perm;
    size_t cap;
} qctx;

static void qctx_free(qctx *q)
{
    pxs_snap_end(q->sn);
    pxs_rec_release(&q->rec);
    free(q->text.p);
    free(q->names);
    free(q->orgs);
    free(q->ofirst);
    free(q->olast);
    free(q->perm);
}

static px_err qctx_begin(qctx *q, px_store *s, const px_store_fence *fence)
{
    memset(q, 0, sizeof *q);
    q->s = s;
    q->type = -1;
    q->fence = fence ? *fence : (px_store_fence){INT64_MIN, INT64_MAX};
    return pxs_snap_begin(s, false, &q->sn);
}

/* The query's end: damage met anywhere in the snapshot fails it, after
 * everything that could be read was given. */
static px_err qctx_end(qctx *q, px_err err)
{
    if (!err && q->sn && q->sn->f.findings)
        err = PX_ERR_DAMAGED;
    qctx_free(q);
    return err;
}

/* A table's reader; a table the snapshot lacks is damage. */
static pxs_tree *qtree(qctx *q, int dbi)
{
    pxs_tree *t = pxs_snap_tree(q->sn, dbi);
    if (!t) {
        char where[64];
        snprintf(where, sizeof where, "table %s", pxs_dbi_names[dbi]);
        pxs_file_damage(&q->sn->f, where, "missing");
    }
    return t;
}

/* The five per-organisation arrays grow together: each from q->cap to
 * the same capacity, which becomes q->cap once all have it. */
static px_err qctx_grow(qctx *q, size_t n)
{
    if (n <= q->cap)
        return PX_OK;
    size_t c[5] = {q->cap, q->cap, q->cap, q->cap, q->cap};
    px_err err = px_array_reserve((void **)&q->names, &c[0], n, PXS_DICT_STR_MAX + 1, 8);
    if (!err)
        err = PX_ARRAY_RESERVE(q->orgs, c[1], n, 8);
    if (!err)
        err = PX_ARRAY_RESERVE(q->ofirst, c[2], n, 8);
    if (!err)
        err = PX_ARRAY_RESERVE(q->olast, c[3], n, 8);
    if (!err)
        err = PX_ARRAY_RESERVE(q->perm, c[4], n, 8);
    if (err)
        return err;
    q->cap = c[0];
    return PX_OK;
}

/* Resolves org ids into q->names and a permutation sorted by name. */
static px_err resolve_orgs(qctx *q, const uint32_t *ids, size_t stride, size_t n)
{
    px_err err = qctx_grow(q, n);
    for (size_t i = 0; !err && i < n; i++) {
        uint32_t id;
        memcpy(&id, (const uint8_t *)ids + i * stride, sizeof id);
        err = pxs_dict_lookup(q->sn, DBI_ORG_I, id, q->names + i * (PXS_DICT_STR_MAX + 1));
    }
    if (err)
        return err;
    for (size_t i = 0; i < n; i++) { /* insertion sort: a handful of orgs */
        size_t j = i;
        const char *name = q->names + i * (PXS_DICT_STR_MAX + 1);
        while (j > 0 && strcmp(q->names + q->perm[j - 1] * (PXS_DICT_STR_MAX + 1), name) > 0) {
            q->perm[j] = q->perm[j - 1];
            j--;
        }
        q->perm[j] = i;
    }
    for (size_t i = 0; i < n; i++)
        q->orgs[i] = q->names + q->perm[i] * (PXS_DICT_STR_MAX + 1);
    return PX_OK;
}

/* Copies text into q->text at offset *off as a C string. */
static px_err put_text(qctx *q, const void *p, size_t n, size_t *off)
{
    if (memchr(p, 0, n))
        return PX_ERR_MALFORMED;
    px_err err = px_buf_reserve(&q->text, n + 1);
    if (err)
        return err;
    *off = q->text.len;
    memcpy(q->text.p + q->text.len, p, n);
    q->text.p[q->text.len + n] = 0;
    q->text.len += n + 1;
    return PX_OK;
}

typedef struct rec_key_parts {
    char name[PXS_NAME_MAX + 1];
    size_t name_len;
    uint16_t type;
    const uint8_t *rd;
    size_t rd_len;
    bool long_rdata;
} rec_key_parts;

/* The parts of a record key whose shape pxs_key_check() passed. */
static void split_key(const qctx *q, const uint8_t *key, size_t klen, rec_key_parts *p)
{
    p->name_len = strnlen((const char *)key, klen);
    pxs_name_reverse((const char *)key, p->name_len, p->name);
    p->type = (uint16_t)(key[p->name_len + 1] << 8 | key[p->name_len + 2]);
    p->rd = key + p->name_len + 3;
    p->rd_len = klen - p->name_len - 3;
    p->long_rdata = klen >= q->s->maxkey;
}

/* rdata presentation text of a record into q->text. */
static px_err rdata_text(qctx *q, const rec_key_parts *p, size_t *off)
{
    if (p->long_rdata != ((q->rec.flags & PXS_F_LONG) != 0))
        return PX_ERR_MALFORMED;
    if (p->long_rdata)
        return put_text(q, q->rec.rdata, q->rec.rdata_len, off);
    if (p->type == 1 || p->type == 28) {
        if (p->rd_len != (p->type == 1 ? 4u : 16u))
            return PX_ERR_MALFORMED;
        char buf[PX_ADDR_TEXT_MAX];
        size_t n = px_addr_format_bytes(p->rd, p->rd_len, buf);
        return put_text(q, buf, n, off);
    }
    return put_text(q, p->rd, p->rd_len, off);
}

static px_err fill_geo(qctx *q, px_store_rec *out)
{
    out->has_geo = (q->rec.flags & PXS_F_GEO) != 0;
    if (!out->has_geo)
        return PX_OK;
    memcpy(out->geo.country, q->rec.country, sizeof out->geo.country);
    out->geo.country[3] = 0;
    out->geo.asn = q->rec.asn;
    if (q->rec.as_org == 0)
        return PX_OK;
    char buf[PXS_DICT_STR_MAX + 1];
    px_err err = pxs_dict_lookup(q->sn, DBI_ASO_I, q->rec.as_org, buf);
    if (err)
        return err;
    size_t n = strnlen(buf, sizeof out->geo.as_org - 1);
    memcpy(out->geo.as_org, buf, n);
    out->geo.as_org[n] = 0;
    return PX_OK;
}

static px_err fill_bailiwick(qctx *q, const rec_key_parts *p, size_t *off, bool *has)
{
    *has = true;
    if (q->rec.flags & PXS_F_BW_SUFFIX) {
        if (q->rec.bw_off > p->name_len)
            return PX_ERR_MALFORMED;
        return put_text(q, p->name + q->rec.bw_off, p->name_len - q->rec.bw_off, off);
    }
    if (q->rec.flags & PXS_F_BW_TEXT)
        return put_text(q, q->rec.bw_text, q->rec.bw_len, off);
    *has = false;
    return PX_OK;
}

/* Checks and decodes one record, applies the fence and calls back. A
 * record that fails a check is reported and left out (PX_OK: the query
 * goes on; it fails at its end); only the store failing stops it. */
static px_err emit(qctx *q, const pxs_ent *e)
{
    const char *why = pxs_key_check(DBI_REC, e->key, e->klen, q->s->maxkey);
    size_t n = 0;
    if (!why && pxs_val_open(DBI_REC, e->key, e->klen, e->val, e->vlen, &n) != PX_OK)
        why = "the value fails its checksum";
    if (!why && pxs_rec_decode(e->val, n, &q->rec) != PX_OK)
        why = "the value does not decode";
    if (!why)
        why = pxs_rec_key_fit(&q->rec, e->key, e->klen, q->s->maxkey);
    if (why) {
        pxs_snap_damage(q->sn, DBI_REC, e->key, e->klen, why);
        return PX_OK;
    }
    rec_key_parts p;
    split_key(q, e->key, e->klen, &p);
    px_err err;
    if (q->type >= 0 && p.type != q->type)
        return PX_OK;
    if (q->zone.wild && q->zone.len &&
        (p.name_len == q->zone.len ||
         !px_dns_name_in_zone(p.name, p.name_len, q->zone.name, q->zone.len)))
        return PX_OK;
    if (q->rec.first > q->fence.before || q->rec.last < q->fence.after)
        return PX_OK;
    px_store_rec out = {0};
    char tbuf[16];
    size_t rd_off = 0, bw_off = 0;
    bool has_bw = false;
    q->text.len = 0;
    err = rdata_text(q, &p, &rd_off);
    if (!err)
        err = fill_bailiwick(q, &p, &bw_off, &has_bw);
    if (!err)
        err = resolve_orgs(q, q->rec.n_orgs ? &q->rec.orgs[0].id : NULL, sizeof(pxs_org),
                           q->rec.n_orgs);
    if (!err)
        err = fill_geo(q, &out);
    if (err == PX_ERR_MALFORMED) {
        pxs_snap_damage(q->sn, DBI_REC, e->key, e->klen, "the value disagrees with its key");
        return PX_OK;
    }
    if (err == PX_ERR_DAMAGED) /* a dictionary entry it needs: reported */
        return PX_OK;
    if (err)
        return err;
    for (size_t i = 0; i < q->rec.n_orgs; i++) {
        q->ofirst[i] = q->rec.orgs[q->perm[i]].first;
        q->olast[i] = q->rec.orgs[q->perm[i]].last;
    }
    out.rrname = p.name;
    out.rrtype = px_dns_type_name(p.type, tbuf, sizeof tbuf);
    out.rdata = (const char *)q->text.p + rd_off;
    out.bailiwick = has_bw ? (const char *)q->text.p + bw_off : NULL;
    out.count = q->rec.count;
    out.time_first = q->rec.first;
    out.time_last = q->rec.last;
    out.n_orgs = q->rec.n_orgs;
    out.orgs = q->orgs;
    out.org_first = q->ofirst;
    out.org_last = q->olast;
    q->stopped = !q->fn(q->ctx, &out);
    return PX_OK;
}

/* One walk over the keys of a table that start with a prefix: all of
 * them in one snapshot (the callback API), or a step of an iterator
 * (px_store_iter), which resumes after the last key it visited. */
typedef struct scan {
    int dbi;
    const uint8_t *prefix;
    size_t plen;
    const uint8_t *after; /* resume strictly after this key; NULL: from the prefix */
    size_t after_len;
    size_t budget; /* keys to visit at most */
    uint8_t *last; /* out: the last key visited (NULL: not kept) */
    size_t last_cap, last_len;
    bool more; /* out: stopped by the budget or the callback, not at the end */
} scan;

typedef px_err (*visit_fn)(qctx *q, const scan *sc, const pxs_ent *e);

static px_err scan_first(pxs_tree *t, const scan *sc, pxs_ent *e)
{
    if (!sc->after)
        return pxs_tree_seek(t, sc->plen ? sc->prefix : NULL, sc->plen, e);
    px_err err = pxs_tree_seek(t, sc->after, sc->after_len, e);
    if (!err && e->klen == sc->after_len && memcmp(e->key, sc->after, sc->after_len) == 0)
        err = pxs_tree_next(t, e);
    return err;
}

/* A table the snapshot lacks (and, for the reverse index, the records it
 * names) is reported: the walk finds nothing there. */
static px_err scan_keys(qctx *q, scan *sc, visit_fn visit)
{
    sc->more = false;
    pxs_tree *t = qtree(q, sc->dbi);
    if (!t || (sc->dbi == DBI_RDX && !qtree(q, DBI_REC)))
        return PX_OK;
    pxs_ent e;
    px_err err = scan_first(t, sc, &e);
    size_t visited = 0;
    while (!err) {
        if (e.klen < sc->plen || memcmp(e.key, sc->prefix, sc->plen) != 0)
            break;
        if (visited == sc->budget || q->stopped) {
            sc->more = true;
            break;
        }
        if (sc->last && e.klen > sc->last_cap) {
            err = PX_ERR_MALFORMED;
            break;
        }
        if (sc->last) {
            memcpy(sc->last, e.key, e.klen);
            sc->last_len = e.klen;
        }
        err = visit(q, sc, &e);
        visited++;
        if (!err)
            err = pxs_tree_next(t, &e);
    }
    return err == PX_ERR_NOTFOUND ? PX_OK : err;
}

static px_err visit_rec(qctx *q, const scan *sc, const pxs_ent *e)
{
    (void)sc;
    return emit(q, e);
}

/* Whether name[0..len) is a canonical name of at most PXS_NAME_MAX
 * bytes (the store keeps no longer one). */
static bool canon_name(const char *name, size_t len)
{
    return name && len && len <= PXS_NAME_MAX && px_dns_name_is_canonical(name, len);
}

/* The walk of a lookup: its table, key prefix, type and zone filters. */
typedef struct lookup_plan {
    int dbi;
    uint8_t prefix[PXS_NAME_MAX + 4];
    size_t plen;
    int type; /* -1: any */
    qzone zone;
} lookup_plan;

/* Records of one name (prefix: reversed name, NUL[, type]), or of every
 * name below a zone (prefix: reversed zone, '.'; "." : all). */
static void plan_rrset(const px_store_lookup *l, lookup_plan *p)
{
    bool wild = l->by == PX_STORE_BY_ZONE;
    size_t n = l->name_len;
    if (wild && n == 1 && l->name[0] == '.')
        n = 0; /* every name */
    p->dbi = DBI_REC;
    p->type = l->rrtype;
    p->zone.wild = wild;
    p->zone.len = wild ? n : 0;
    memcpy(p->zone.name, l->name, p->zone.len);
    p->zone.name[p->zone.len] = 0;
    pxs_name_reverse(l->name, n, (char *)p->prefix);
    size_t len = n;
    if (wild) {
        if (n)
            p->prefix[len++] = '.';
    } else {
        p->prefix[len++] = 0;
        if (p->type >= 0) {
            p->prefix[len++] = (uint8_t)(p->type >> 8);
            p->prefix[len++] = (uint8_t)p->type;
        }
    }
    p->plen = len;
}

/* Reverse-index prefix of an address ('a'/'b' + bytes) or a target name
 * ('n' + name + NUL: the index keeps a target as its canonical text). */
static void plan_rdata(const px_store_lookup *l, lookup_plan *p)
{
    p->dbi = DBI_RDX;
    p->type = -1;
    if (l->by == PX_STORE_BY_ADDR) {
        p->prefix[0] = l->addr_len == 4 ? 'a' : 'b';
        memcpy(p->prefix + 1, l->addr, l->addr_len);
        p->plen = l->addr_len + 1;
        return;
    }
    p->prefix[0] = 'n';
    memcpy(p->prefix + 1, l->name, l->name_len);
    p->prefix[l->name_len + 1] = 0;
    p->plen = l->name_len + 2;
}

/* Checks a lookup (PX_ERR_INVAL: not canonical) and plans its walk. */
static px_err plan_lookup(const px_store_lookup *l, lookup_plan *p)
{
    memset(p, 0, sizeof *p);
    if (!l)
        return PX_ERR_INVAL;
    switch (l->by) {
    case PX_STORE_BY_NAME:
    case PX_STORE_BY_ZONE:
        if (!canon_name(l->name, l->name_len) || l->rrtype < PX_STORE_ANY_TYPE || l->rrtype > 65535)
            return PX_ERR_INVAL;
        plan_rrset(l, p);
        return PX_OK;
    case PX_STORE_BY_ADDR:
        if (!l->addr || (l->addr_len != 4 && l->addr_len != 16))
            return PX_ERR_INVAL;
        plan_rdata(l, p);
        return PX_OK;
    case PX_STORE_BY_TARGET:
        if (!canon_name(l->name, l->name_len))
            return PX_ERR_INVAL;
        plan_rdata(l, p);
        return PX_OK;
    }
    return PX_ERR_INVAL;
}

/* Rebuilds the rec key from a reverse-index entry (docs/STORE-FORMAT.md, "rdx"):
 * its rdata part is the value's payload if there is one (a key cut to the
 * limit), else what follows a name entry's rrtype, else the indexed bytes
 * themselves. */
static px_err rdx_rec_key(const MDB_val *k, const MDB_val *v, size_t plen, uint8_t *out,
                          MDB_val *rk)
{
    const uint8_t *key = k->mv_data, *rest = key + plen;
    size_t left = k->mv_size - plen;
    if (k->mv_size < plen)
        return PX_ERR_MALFORMED;
    const uint8_t *nul = memchr(rest, 0, left);
    if (!nul)
        return PX_ERR_MALFORMED;
    size_t nl = (size_t)(nul - rest);
    bool addr = key[0] != 'n';
    size_t fixed = nl + 1 + (addr ? 0 : 2); /* reversed name, NUL, rrtype */
    if (left < fixed || (addr && left != fixed) || nl > PXS_NAME_MAX)
        return PX_ERR_MALFORMED;
    memcpy(out, rest, nl + 1);
    if (addr) {
        out[nl + 1] = 0;
        out[nl + 2] = key[0] == 'a' ? 1 : 28;
    } else {
        memcpy(out + nl + 1, rest + nl + 1, 2);
    }
    const uint8_t *rd = key + 1;
    size_t rd_len = addr ? plen - 1 : plen - 2;
    if (v->mv_size) {
        rd = v->mv_data;
        rd_len = v->mv_size;
    } else if (left > fixed) {
        rd = rest + fixed;
        rd_len = left - fixed;
    }
    if (nl + 3 + rd_len > PXS_RDX_KEY_MAX)
        return PX_ERR_MALFORMED;
    memcpy(out + nl + 3, rd, rd_len);
    *rk = (MDB_val){nl + 3 + rd_len, out};
    return PX_OK;
}

/* The record one reverse-index entry names: emitted; an entry that fails
 * its checks, or names a record the store lacks, is reported. */
static px_err rdx_hit(qctx *q, pxs_tree *rec, const pxs_ent *x, size_t plen)
{
    const char *why = pxs_key_check(DBI_RDX, x->key, x->klen, q->s->maxkey);
    size_t n = 0;
    if (!why && pxs_val_open(DBI_RDX, x->key, x->klen, x->val, x->vlen, &n) != PX_OK)
        why = "the value fails its checksum";
    uint8_t buf[PXS_RDX_KEY_MAX];
    MDB_val k = {x->klen, (void *)x->key}, d = {n, (void *)x->val}, rk;
    if (!why && rdx_rec_key(&k, &d, plen, buf, &rk) != PX_OK)
        why = "no record key can be built from it";
    pxs_ent e;
    px_err err = why ? PX_OK : pxs_tree_get(rec, rk.mv_data, rk.mv_size, &e);
    if (err == PX_ERR_NOTFOUND)
        why = "it names a record the store does not have";
    if (why) {
        pxs_snap_damage(q->sn, DBI_RDX, x->key, x->klen, why);
        return PX_OK;
    }
    if (err == PX_ERR_DAMAGED) /* the record's page: reported */
        return PX_OK;
    return err ? err : emit(q, &e);
}

static px_err visit_rdx(qctx *q, const scan *sc, const pxs_ent *x)
{
    return rdx_hit(q, pxs_snap_tree(q->sn, DBI_REC), x, sc->plen);
}

/* The walk of a planned lookup, for the callback API and an iterator. */
static visit_fn plan_visit(const lookup_plan *p)
{
    return p->dbi == DBI_RDX ? visit_rdx : visit_rec;
}

px_err px_store_find(px_store *s, const px_store_lookup *l, const px_store_fence *fence,
                     px_store_rec_fn fn, void *ctx)
{
    if (!s || !fn)
        return PX_ERR_INVAL;
    lookup_plan p;
    px_err err = plan_lookup(l, &p);
    if (err)
        return err;
    scan sc = {.dbi = p.dbi, .prefix = p.prefix, .plen = p.plen, .budget = SIZE_MAX};
    qctx q;
    err = qctx_begin(&q, s, fence);
    q.type = p.type;
    q.zone = p.zone;
    q.fn = fn;
    q.ctx = ctx;
    if (!err)
        err = scan_keys(&q, &sc, plan_visit(&p));
    return qctx_end(&q, err);
}

/* ---- resumable lookups ---- */

struct px_store_iter {
    qctx q; /* buffers kept between steps; q.sn only during one */
    scan sc;
    visit_fn visit;
    uint8_t prefix[PXS_NAME_MAX + 4];
    uint8_t last[1024]; /* above any key LMDB takes (511 bytes by default) */
    bool started, done;
    px_err err; /* PX_ERR_DAMAGED: a step met damage; the walk ended there */
};

static px_err iter_new(px_store *s, const px_store_fence *fence, px_store_iter **out)
{
    *out = NULL;
    px_store_iter *it = calloc(1, sizeof(*it));
    if (!it)
        return PX_ERR_NOMEM;
    memset(&it->q, 0, sizeof(it->q));
    it->q.s = s;
    it->q.type = -1;
    it->q.fence = fence ? *fence : (px_store_fence){INT64_MIN, INT64_MAX};
    it->sc.prefix = it->prefix;
    it->sc.last = it->last;
    it->sc.last_cap = sizeof(it->last);
    *out = it;
    return PX_OK;
}

px_err px_store_iter_find(px_store *s, const px_store_lookup *l, const px_store_fence *fence,
                          px_store_iter **out)
{
    if (!s || !out)
        return PX_ERR_INVAL;
    *out = NULL;
    lookup_plan p;
    px_err err = plan_lookup(l, &p);
    if (!err)
        err = iter_new(s, fence, out);
    if (err)
        return err;
    px_store_iter *it = *out;
    memcpy(it->prefix, p.prefix, p.plen);
    it->sc.plen = p.plen;
    it->sc.dbi = p.dbi;
    it->q.type = p.type;
    it->q.zone = p.zone;
    it->visit = plan_visit(&p);
    return PX_OK;
}

/* A step: its own snapshot through the checked reader, resuming after the
 * last key of the step before. Damage met in it (a page, a key, a value,
 * or a table the snapshot lacks) ends the walk: what the step gave passed
 * every check, and nothing after the damage is given. */
px_err px_store_iter_step(px_store_iter *it, size_t max_keys, px_store_rec_fn fn, void *ctx,
                          bool *done)
{
    if (!it || !fn || !done)
        return PX_ERR_INVAL;
    *done = it->done;
    if (it->done)
        return it->err;
    qctx *q = &it->q;
    px_err err = pxs_snap_begin(q->s, false, &q->sn);
    q->fn = fn;
    q->ctx = ctx;
    q->stopped = false;
    it->sc.budget = max_keys ? max_keys : 1;
    it->sc.after = it->started ? it->last : NULL;
    it->sc.after_len = it->sc.last_len;
    if (!err)
        err = scan_keys(q, &it->sc, it->visit);
    if (!err && q->sn->f.findings)
        err = PX_ERR_DAMAGED;
    pxs_snap_end(q->sn); /* nothing pinned between steps */
    q->sn = NULL;
    if (it->sc.last_len)
        it->started = true;
    if (err == PX_ERR_DAMAGED)
        it->err = err;
    if (err == PX_ERR_DAMAGED || (!err && !it->sc.more))
        it->done = true;
    *done = it->done;
    return err;
}

void px_store_iter_free(px_store_iter *it)
{
    if (!it)
        return;
    qctx_free(&it->q);
    free(it);
}

px_err px_store_find_domain(px_store *s, const char *regdom, size_t len, px_store_domain_fn fn,
                            void *ctx)
{
    if (!s || !fn || !canon_name(regdom, len) || (len == 1 && regdom[0] == '.'))
        return PX_ERR_INVAL;
    char norm[PXS_NAME_MAX + 1]; /* the answer's domain, as a C string */
    size_t n = len;
    memcpy(norm, regdom, n);
    norm[n] = 0;
    qctx q;
    px_err err;
    pxs_dom d = {0};
    err = qctx_begin(&q, s, NULL);
    pxs_tree *t = err ? NULL : qtree(&q, DBI_DOM);
    pxs_ent e;
    px_err gerr = t ? pxs_tree_get(t, (const uint8_t *)norm, n, &e) : PX_ERR_NOTFOUND;
    if (t && !gerr) {
        size_t vn;
        err = pxs_val_open(DBI_DOM, e.key, e.klen, e.val, e.vlen, &vn);
        if (!err && pxs_dom_decode(e.val, vn, &d) != PX_OK)
            err = PX_ERR_DAMAGED;
        if (err)
            pxs_snap_damage(q.sn, DBI_DOM, e.key, e.klen, "the value fails its checks");
        if (!err)
            err = resolve_orgs(&q, d.orgs, sizeof(uint32_t), d.n_orgs);
        if (!err) {
            px_store_domain out = {.domain = norm,
                                   .first_seen = d.first,
                                   .last_seen = d.last,
                                   .n_orgs = d.n_orgs,
                                   .orgs = q.orgs};
            fn(ctx, &out);
        }
    } else if (!err && gerr != PX_ERR_NOTFOUND) {
        err = gerr;
    }
    pxs_dom_release(&d);
    return qctx_end(&q, err);
}

/* Pages on LMDB's freelist (database 0): each entry is a page-number list
 * whose first word is its length. Free pages are not "in use". */
static int free_pages(MDB_txn *txn, uint64_t *out)
{
    MDB_cursor *c;
    MDB_val k, v;
    *out = 0;
    int rc = mdb_cursor_open(txn, 0, &c);
    if (rc)
        return rc;
    while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
        size_t n = 0;
        if (v.mv_size >= sizeof n)
            memcpy(&n, v.mv_data, sizeof n);
        *out += n;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

void px_store_get_counters(const px_store *s, uint64_t *damaged, uint64_t *collisions)
{
    *damaged = __atomic_load_n(&s->damaged, __ATOMIC_RELAXED);
    *collisions = s->collisions;
}

px_err px_store_get_stats(px_store *s, px_store_stats *out)
{
    if (!s || !out)
        return PX_ERR_INVAL;
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return pxs_map_mdb(rc);
    MDB_stat rs, ds, es;
    MDB_envinfo info;
    uint64_t nfree = 0;
    rc = mdb_stat(txn, s->dbi[DBI_REC], &rs);
    if (!rc)
        rc = free_pages(txn, &nfree);
    if (!rc)
        rc = mdb_stat(txn, s->dbi[DBI_DOM], &ds);
    if (!rc)
        rc = mdb_env_stat(s->env, &es);
    if (!rc)
        rc = mdb_env_info(s->env, &info);
    mdb_txn_abort(txn);
    if (rc)
        return pxs_map_mdb(rc);
    px_store_get_counters(s, &out->damaged, &out->collisions);
    out->records = rs.ms_entries;
    out->domains = ds.ms_entries;
    uint64_t pages = (uint64_t)info.me_last_pgno + 1;
    out->bytes = (pages > nfree ? pages - nfree : 0) * es.ms_psize;
    return PX_OK;
}
