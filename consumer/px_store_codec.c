/* px_store_codec.c: the store's compact value encodings (see the layout
 * comment in px_store.c). Decoding goes through px_wire and trusts no
 * stored length: a bad value is PX_ERR_MALFORMED. */
#include <stdlib.h>
#include <string.h>

#include "px_store_int.h"

px_err pxs_buf_reserve(pxs_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return PX_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return PX_ERR_NOMEM;
    b->p = p;
    b->cap = cap;
    return PX_OK;
}

void pxs_buf_put_varint(pxs_buf *b, uint64_t v)
{
    while (v >= 0x80) {
        b->p[b->len++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b->p[b->len++] = (uint8_t)v;
}

uint64_t pxs_wire_varint(px_wire *w)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        uint8_t c = px_wire_u8(w);
        if (px_wire_err(w))
            return 0;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return v;
    }
    px_wire_fail(w, PX_ERR_MALFORMED);
    return 0;
}

void pxs_name_reverse(const char *in, size_t len, char *out)
{
    size_t o = 0, end = len;
    while (end > 0) {
        size_t start = end;
        while (start > 0 && in[start - 1] != '.')
            start--;
        memcpy(out + o, in + start, end - start);
        o += end - start;
        if (start > 0)
            out[o++] = '.';
        end = start > 0 ? start - 1 : 0;
        if (start == 1 && end == 0) /* name began with '.': keep an empty label */
            break;
    }
    out[o] = '\0';
}

uint64_t pxs_fnv64(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static size_t rec_bound(const pxs_rec *r)
{
    return 128 + r->n_orgs * 30 + r->bw_len + r->rdata_len;
}

px_err pxs_rec_encode(const pxs_rec *r, pxs_buf *out)
{
    out->len = 0;
    px_err err = pxs_buf_reserve(out, rec_bound(r));
    if (err)
        return err;
    out->p[out->len++] = r->flags;
    pxs_buf_put_varint(out, r->count);
    pxs_buf_put_varint(out, pxs_zz(r->first));
    pxs_buf_put_varint(out, (uint64_t)r->last - (uint64_t)r->first);
    pxs_buf_put_varint(out, r->n_orgs);
    uint32_t prev = 0;
    for (size_t i = 0; i < r->n_orgs; i++) {
        const pxs_org *o = &r->orgs[i];
        /* ids ascend, times lie inside the record's: all deltas >= 0 */
        pxs_buf_put_varint(out, o->id - prev);
        pxs_buf_put_varint(out, (uint64_t)o->first - (uint64_t)r->first);
        pxs_buf_put_varint(out, (uint64_t)r->last - (uint64_t)o->last);
        prev = o->id;
    }
    if (r->flags & PXS_F_BW_SUFFIX)
        pxs_buf_put_varint(out, r->bw_off);
    if (r->flags & PXS_F_BW_TEXT) {
        pxs_buf_put_varint(out, r->bw_len);
        memcpy(out->p + out->len, r->bw_text, r->bw_len);
        out->len += r->bw_len;
    }
    if (r->flags & PXS_F_GEO) {
        size_t cl = strnlen(r->country, 3);
        out->p[out->len++] = (uint8_t)cl;
        memcpy(out->p + out->len, r->country, cl);
        out->len += cl;
        pxs_buf_put_varint(out, (uint64_t)r->asn + 1);
        pxs_buf_put_varint(out, r->as_org);
    }
    if (r->flags & PXS_F_LONG) {
        pxs_buf_put_varint(out, r->rdata_len);
        memcpy(out->p + out->len, r->rdata, r->rdata_len);
        out->len += r->rdata_len;
    }
    return PX_OK;
}

/* Grows *arr (which is NULL, the inline array of inl_cap elements, or
 * malloc'd) to hold need elements. */
static px_err grow_orgs(void **arr, size_t *cap, size_t need, size_t elem, void *inl,
                        size_t inl_cap)
{
    if (!*arr) {
        *arr = inl;
        *cap = inl_cap;
    }
    if (need <= *cap)
        return PX_OK;
    size_t c = *cap * 2;
    while (c < need)
        c *= 2;
    void *p = *arr == inl ? malloc(c * elem) : realloc(*arr, c * elem);
    if (!p)
        return PX_ERR_NOMEM;
    if (*arr == inl)
        memcpy(p, inl, *cap * elem);
    *arr = p;
    *cap = c;
    return PX_OK;
}

#define REC_GROW(r, need)                                                                          \
    grow_orgs((void **)&(r)->orgs, &(r)->cap_orgs, (need), sizeof(pxs_org), (r)->orgs_inline,      \
              PXS_REC_ORGS_INLINE)
#define DOM_GROW(d, need)                                                                          \
    grow_orgs((void **)&(d)->orgs, &(d)->cap_orgs, (need), sizeof(uint32_t), (d)->orgs_inline,     \
              PXS_DOM_ORGS_INLINE)

void pxs_rec_release(pxs_rec *r)
{
    if (r->orgs != r->orgs_inline)
        free(r->orgs);
    r->orgs = NULL;
    r->n_orgs = r->cap_orgs = 0;
}

void pxs_dom_release(pxs_dom *d)
{
    if (d->orgs != d->orgs_inline)
        free(d->orgs);
    d->orgs = NULL;
    d->n_orgs = d->cap_orgs = 0;
}

/* Reads the per-organisation list; n is bounded by the bytes left. */
static px_err rec_decode_orgs(px_wire *w, pxs_rec *r)
{
    uint64_t n = pxs_wire_varint(w);
    if (px_wire_err(w) || n > px_wire_avail(w) / 3)
        return PX_ERR_MALFORMED;
    px_err err = REC_GROW(r, (size_t)n);
    if (err)
        return err;
    uint64_t id = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t d = pxs_wire_varint(w);
        uint64_t df = pxs_wire_varint(w);
        uint64_t dl = pxs_wire_varint(w);
        if (px_wire_err(w) || d > UINT32_MAX - id || (i > 0 && d == 0))
            return PX_ERR_MALFORMED;
        id += d;
        r->orgs[i].id = (uint32_t)id;
        r->orgs[i].first = (int64_t)((uint64_t)r->first + df);
        r->orgs[i].last = (int64_t)((uint64_t)r->last - dl);
    }
    r->n_orgs = (size_t)n;
    return PX_OK;
}

static void rec_decode_tail(px_wire *w, pxs_rec *r)
{
    if (r->flags & PXS_F_BW_SUFFIX)
        r->bw_off = pxs_wire_varint(w);
    if (r->flags & PXS_F_BW_TEXT) {
        r->bw_len = (size_t)pxs_wire_varint(w);
        r->bw_text = (const char *)px_wire_bytes(w, r->bw_len);
        if (r->bw_len > PXS_NAME_MAX)
            px_wire_fail(w, PX_ERR_MALFORMED);
    }
    if (r->flags & PXS_F_GEO) {
        uint8_t cl = px_wire_u8(w);
        memset(r->country, 0, sizeof r->country);
        if (cl > 3)
            px_wire_fail(w, PX_ERR_MALFORMED);
        else
            px_wire_copy(w, r->country, cl);
        r->asn = (int64_t)(pxs_wire_varint(w) - 1);
        uint64_t a = pxs_wire_varint(w);
        if (a > UINT32_MAX)
            px_wire_fail(w, PX_ERR_MALFORMED);
        r->as_org = (uint32_t)a;
    }
    if (r->flags & PXS_F_LONG) {
        r->rdata_len = (size_t)pxs_wire_varint(w);
        r->rdata = px_wire_bytes(w, r->rdata_len);
    }
}

px_err pxs_rec_decode(const uint8_t *v, size_t len, pxs_rec *r)
{
    px_wire w;
    px_wire_init(&w, v, len);
    r->flags = px_wire_u8(&w);
    r->count = pxs_wire_varint(&w);
    r->first = pxs_unzz(pxs_wire_varint(&w));
    r->last = (int64_t)((uint64_t)r->first + pxs_wire_varint(&w));
    r->bw_len = 0;
    r->bw_text = NULL;
    r->rdata = NULL;
    r->rdata_len = 0;
    if (px_wire_err(&w) || (r->flags & ~PXS_F_ALL) ||
        (r->flags & (PXS_F_BW_SUFFIX | PXS_F_BW_TEXT)) == (PXS_F_BW_SUFFIX | PXS_F_BW_TEXT) ||
        r->last < r->first)
        return PX_ERR_MALFORMED;
    px_err err = rec_decode_orgs(&w, r);
    if (err)
        return err;
    rec_decode_tail(&w, r);
    if (px_wire_err(&w) || px_wire_avail(&w) != 0)
        return PX_ERR_MALFORMED;
    return PX_OK;
}

bool pxs_rec_add_org(pxs_rec *r, uint32_t id, int64_t first, int64_t last, px_err *err)
{
    size_t i = 0;
    while (i < r->n_orgs && r->orgs[i].id < id)
        i++;
    if (i < r->n_orgs && r->orgs[i].id == id) {
        pxs_org *o = &r->orgs[i];
        o->first = first < o->first ? first : o->first;
        o->last = last > o->last ? last : o->last;
        return false;
    }
    *err = REC_GROW(r, r->n_orgs + 1);
    if (*err)
        return false;
    memmove(&r->orgs[i + 1], &r->orgs[i], (r->n_orgs - i) * sizeof(pxs_org));
    r->orgs[i] = (pxs_org){.id = id, .first = first, .last = last};
    r->n_orgs++;
    return true;
}

px_err pxs_dom_encode(const pxs_dom *d, pxs_buf *out)
{
    out->len = 0;
    px_err err = pxs_buf_reserve(out, 40 + d->n_orgs * 5);
    if (err)
        return err;
    pxs_buf_put_varint(out, pxs_zz(d->first));
    pxs_buf_put_varint(out, (uint64_t)d->last - (uint64_t)d->first);
    pxs_buf_put_varint(out, d->n_orgs);
    uint32_t prev = 0;
    for (size_t i = 0; i < d->n_orgs; i++) {
        pxs_buf_put_varint(out, d->orgs[i] - prev);
        prev = d->orgs[i];
    }
    return PX_OK;
}

px_err pxs_dom_decode(const uint8_t *v, size_t len, pxs_dom *d)
{
    px_wire w;
    px_wire_init(&w, v, len);
    d->first = pxs_unzz(pxs_wire_varint(&w));
    d->last = (int64_t)((uint64_t)d->first + pxs_wire_varint(&w));
    uint64_t n = pxs_wire_varint(&w);
    if (px_wire_err(&w) || n > px_wire_avail(&w) || d->last < d->first)
        return PX_ERR_MALFORMED;
    px_err err = DOM_GROW(d, (size_t)n);
    if (err)
        return err;
    uint64_t id = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t delta = pxs_wire_varint(&w);
        if (px_wire_err(&w) || delta > UINT32_MAX - id || (i > 0 && delta == 0))
            return PX_ERR_MALFORMED;
        id += delta;
        d->orgs[i] = (uint32_t)id;
    }
    d->n_orgs = (size_t)n;
    return px_wire_avail(&w) == 0 && !px_wire_err(&w) ? PX_OK : PX_ERR_MALFORMED;
}

bool pxs_dom_add_org(pxs_dom *d, uint32_t id, px_err *err)
{
    size_t i = 0;
    while (i < d->n_orgs && d->orgs[i] < id)
        i++;
    if (i < d->n_orgs && d->orgs[i] == id)
        return false;
    *err = DOM_GROW(d, d->n_orgs + 1);
    if (*err)
        return false;
    memmove(&d->orgs[i + 1], &d->orgs[i], (d->n_orgs - i) * sizeof(uint32_t));
    d->orgs[i] = id;
    d->n_orgs++;
    return true;
}
