/* px_store_codec.c: the store's compact value encodings (docs/STORE-FORMAT.md,
 * "Encodings" and "Tables"), their checksums and the shape
 * of stored keys. Decoding goes through px_wire and trusts no stored
 * length: a bad payload is PX_ERR_MALFORMED, a value whose checksum fails
 * PX_ERR_DAMAGED. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* XXH3 inlined: the values are short (20-60 bytes), where a call into the
 * shared library costs as much as the hash. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "dns/px_addr.h"
#include "dns/px_dns_type.h"
#include "px_store_int.h"

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

uint64_t pxs_key_fnv1a64(const void *data, size_t len)
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

px_err pxs_rec_encode(const pxs_rec *r, px_buf *out)
{
    out->len = 0;
    px_err err = px_buf_reserve(out, rec_bound(r));
    if (err)
        return err;
    out->p[out->len++] = r->flags;
    px_buf_put_varint(out, r->count);
    px_buf_put_varint(out, px_zigzag(r->first));
    px_buf_put_varint(out, (uint64_t)r->last - (uint64_t)r->first);
    px_buf_put_varint(out, r->n_orgs);
    uint32_t prev = 0;
    for (size_t i = 0; i < r->n_orgs; i++) {
        const pxs_org *o = &r->orgs[i];
        /* ids ascend, times lie inside the record's: all deltas >= 0 */
        px_buf_put_varint(out, o->id - prev);
        px_buf_put_varint(out, (uint64_t)o->first - (uint64_t)r->first);
        px_buf_put_varint(out, (uint64_t)r->last - (uint64_t)o->last);
        prev = o->id;
    }
    if (r->flags & PXS_F_BW_SUFFIX)
        px_buf_put_varint(out, r->bw_off);
    if (r->flags & PXS_F_BW_TEXT) {
        px_buf_put_varint(out, r->bw_len);
        memcpy(out->p + out->len, r->bw_text, r->bw_len);
        out->len += r->bw_len;
    }
    if (r->flags & PXS_F_GEO) {
        size_t cl = strnlen(r->country, 3);
        out->p[out->len++] = (uint8_t)cl;
        memcpy(out->p + out->len, r->country, cl);
        out->len += cl;
        px_buf_put_varint(out, (uint64_t)r->asn + 1);
        px_buf_put_varint(out, r->as_org);
    }
    if (r->flags & PXS_F_LONG) {
        px_buf_put_varint(out, r->rdata_len);
        memcpy(out->p + out->len, r->rdata, r->rdata_len);
        out->len += r->rdata_len;
    }
    return PX_OK;
}

/* Grows *arr (which is NULL, the inline array of inl_cap elements, or
 * malloc'd) to hold need elements: the inline array first, then memory
 * of its own, doubling from there. */
static px_err grow_orgs(void **arr, size_t *cap, size_t need, size_t elem, void *inl,
                        size_t inl_cap)
{
    if (!*arr) {
        *arr = inl;
        *cap = inl_cap;
    }
    if (need <= *cap)
        return PX_OK;
    void *heap = *arr == inl ? NULL : *arr;
    size_t c = *cap;
    px_err err = px_array_reserve(&heap, &c, need, elem, inl_cap);
    if (err)
        return err;
    if (*arr == inl)
        memcpy(heap, inl, *cap * elem);
    *arr = heap;
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
    uint64_t n = px_wire_varint(w, PXS_VARINT_MAX);
    if (px_wire_err(w) || n > px_wire_avail(w) / 3)
        return PX_ERR_MALFORMED;
    px_err err = REC_GROW(r, (size_t)n);
    if (err)
        return err;
    uint64_t id = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t d = px_wire_varint(w, PXS_VARINT_MAX);
        uint64_t df = px_wire_varint(w, PXS_VARINT_MAX);
        uint64_t dl = px_wire_varint(w, PXS_VARINT_MAX);
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
        r->bw_off = px_wire_varint(w, PXS_VARINT_MAX);
    if (r->flags & PXS_F_BW_TEXT) {
        r->bw_len = (size_t)px_wire_varint(w, PXS_VARINT_MAX);
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
        r->asn = (int64_t)(px_wire_varint(w, PXS_VARINT_MAX) - 1);
        uint64_t a = px_wire_varint(w, PXS_VARINT_MAX);
        if (a > UINT32_MAX)
            px_wire_fail(w, PX_ERR_MALFORMED);
        r->as_org = (uint32_t)a;
    }
    if (r->flags & PXS_F_LONG) {
        r->rdata_len = (size_t)px_wire_varint(w, PXS_VARINT_MAX);
        r->rdata = px_wire_bytes(w, r->rdata_len);
    }
}

px_err pxs_rec_decode(const uint8_t *v, size_t len, pxs_rec *r)
{
    px_wire w;
    px_wire_init(&w, v, len);
    r->flags = px_wire_u8(&w);
    r->count = px_wire_varint(&w, PXS_VARINT_MAX);
    r->first = px_unzigzag(px_wire_varint(&w, PXS_VARINT_MAX));
    r->last = (int64_t)((uint64_t)r->first + px_wire_varint(&w, PXS_VARINT_MAX));
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

px_err pxs_dom_encode(const pxs_dom *d, px_buf *out)
{
    out->len = 0;
    px_err err = px_buf_reserve(out, 40 + d->n_orgs * 5);
    if (err)
        return err;
    px_buf_put_varint(out, px_zigzag(d->first));
    px_buf_put_varint(out, (uint64_t)d->last - (uint64_t)d->first);
    px_buf_put_varint(out, d->n_orgs);
    uint32_t prev = 0;
    for (size_t i = 0; i < d->n_orgs; i++) {
        px_buf_put_varint(out, d->orgs[i] - prev);
        prev = d->orgs[i];
    }
    return PX_OK;
}

px_err pxs_dom_decode(const uint8_t *v, size_t len, pxs_dom *d)
{
    px_wire w;
    px_wire_init(&w, v, len);
    d->first = px_unzigzag(px_wire_varint(&w, PXS_VARINT_MAX));
    d->last = (int64_t)((uint64_t)d->first + px_wire_varint(&w, PXS_VARINT_MAX));
    uint64_t n = px_wire_varint(&w, PXS_VARINT_MAX);
    if (px_wire_err(&w) || n > px_wire_avail(&w) || d->last < d->first)
        return PX_ERR_MALFORMED;
    px_err err = DOM_GROW(d, (size_t)n);
    if (err)
        return err;
    uint64_t id = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t delta = px_wire_varint(&w, PXS_VARINT_MAX);
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

/* ---- integrity ---- */

/* Each table's checksum seed: a value copied under the same key into
 * another table fails. Stored: never change one. */
static const uint64_t pxs_tags[DBI__N] = {
    [DBI_REC] = 0x7265632e70647378ULL,   [DBI_RDX] = 0x7264782e70647378ULL,
    [DBI_DOM] = 0x646f6d2e70647378ULL,   [DBI_OFF] = 0x6f66662e70647378ULL,
    [DBI_ORG_N] = 0x6f72676e70647378ULL, [DBI_ORG_I] = 0x6f72676970647378ULL,
    [DBI_ASO_N] = 0x61736f6e70647378ULL, [DBI_ASO_I] = 0x61736f6970647378ULL,
    [DBI_STATE] = 0x7374742e70647378ULL, [DBI_ALERT] = 0x616c722e70647378ULL,
    [DBI_SINK] = 0x736e6b2e70647378ULL,
};

uint64_t pxs_sum(int dbi, const void *key, size_t klen, const void *payload, size_t plen)
{
    uint64_t tag = dbi >= 0 && dbi < DBI__N ? pxs_tags[dbi] : 0;
    return XXH3_64bits_withSeed(payload, plen, XXH3_64bits_withSeed(key, klen, tag));
}

px_err pxs_val_seal(int dbi, const void *key, size_t klen, px_buf *out)
{
    px_err err = px_buf_reserve(out, PXS_SUM_LEN);
    if (err)
        return err;
    uint64_t h = pxs_sum(dbi, key, klen, out->p, out->len);
    for (int i = 0; i < PXS_SUM_LEN; i++)
        out->p[out->len++] = (uint8_t)(h >> (8 * i));
    return PX_OK;
}

px_err pxs_val_open(int dbi, const void *key, size_t klen, const void *val, size_t vlen,
                    size_t *plen)
{
    if (vlen < PXS_SUM_LEN)
        return PX_ERR_DAMAGED;
    const uint8_t *v = val;
    size_t n = vlen - PXS_SUM_LEN;
    uint64_t h = 0;
    for (int i = PXS_SUM_LEN - 1; i >= 0; i--)
        h = h << 8 | v[n + (size_t)i];
    uint64_t mask = PXS_SUM_LEN >= 8 ? UINT64_MAX : (1ULL << (8 * PXS_SUM_LEN)) - 1;
    if (h != (pxs_sum(dbi, key, klen, v, n) & mask))
        return PX_ERR_DAMAGED;
    *plen = n;
    return PX_OK;
}

bool pxs_name_bytes_ok(const uint8_t *p, size_t n)
{
    if (n == 0 || n > PXS_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x21 || p[i] > 0x7e || (p[i] >= 'A' && p[i] <= 'Z'))
            return false;
    }
    return true;
}

/* Length of the name that starts p[0..n) and ends at a NUL, or 0. */
static size_t name_then_nul(const uint8_t *p, size_t n)
{
    const uint8_t *nul = memchr(p, 0, n < PXS_NAME_MAX + 1 ? n : PXS_NAME_MAX + 1);
    size_t len = nul ? (size_t)(nul - p) : 0;
    return len && pxs_name_bytes_ok(p, len) ? len : 0;
}

static const char *rec_key_check(const uint8_t *k, size_t n, size_t maxkey)
{
    size_t nl = name_then_nul(k, n);
    if (!nl || n < nl + 3)
        return "the key is no reversed lowercase name, NUL and type";
    uint16_t type = (uint16_t)(k[nl + 1] << 8 | k[nl + 2]);
    size_t rd = n - nl - 3;
    if (n == maxkey) /* rdata prefix and hash: any bytes */
        return type == 1 || type == 28 ? "an address record under an overlong key" : NULL;
    if ((type == 1 && rd != 4) || (type == 28 && rd != 16))
        return "an address of the wrong length";
    if (type == 1 || type == 28)
        return NULL;
    if (rd == 0 || memchr(k + nl + 3, 0, rd))
        return "the key's rdata is empty or holds a NUL";
    return NULL;
}

static const char *rdx_key_check(const uint8_t *k, size_t n, size_t maxkey)
{
    if (n > maxkey || n < 2)
        return "a reverse-index key of the wrong length";
    if (k[0] == 'a' || k[0] == 'b') {
        size_t al = k[0] == 'a' ? 4 : 16;
        size_t nl = n > al + 1 ? name_then_nul(k + 1 + al, n - 1 - al) : 0;
        return nl && n == 1 + al + nl + 1 ? NULL : "an address entry of the wrong shape";
    }
    if (k[0] != 'n')
        return "a reverse-index key of an unknown kind";
    size_t tl = name_then_nul(k + 1, n - 1);
    size_t at = 1 + tl + 1;
    size_t ol = tl && n > at ? name_then_nul(k + at, n - at) : 0;
    return ol && n >= at + ol + 3 ? NULL : "a name entry of the wrong shape";
}

static const char *const pxs_nul_keys[] = {"log", "gc", "meta", "clog", NULL};

static const char *off_key_check(const uint8_t *k, size_t n)
{
    if (n >= 1 && k[0] == 0) {
        for (size_t i = 0; pxs_nul_keys[i]; i++) {
            size_t l = strlen(pxs_nul_keys[i]);
            if (n == l + 1 && memcmp(k + 1, pxs_nul_keys[i], l) == 0)
                return NULL;
        }
        return "an unknown control row";
    }
    const uint8_t *nul = memchr(k, 0, n);
    size_t tl = nul ? (size_t)(nul - k) : 0;
    if (tl < 1 || tl > 249 || n != tl + 5)
        return "an offset key of the wrong shape";
    for (size_t i = 0; i < tl; i++) {
        if (k[i] < 0x21 || k[i] > 0x7e)
            return "a topic name with a byte Kafka does not allow";
    }
    return NULL;
}

const char *pxs_key_check(int dbi, const uint8_t *key, size_t klen, size_t maxkey)
{
    switch (dbi) {
    case DBI_REC:
        return rec_key_check(key, klen, maxkey);
    case DBI_RDX:
        return rdx_key_check(key, klen, maxkey);
    case DBI_DOM:
        return pxs_name_bytes_ok(key, klen) ? NULL : "no lowercase registered domain";
    case DBI_OFF:
        return off_key_check(key, klen);
    case DBI_ORG_N:
    case DBI_ASO_N:
        return klen >= 1 && klen <= PXS_DICT_STR_MAX && !memchr(key, 0, klen)
                   ? NULL
                   : "a dictionary text empty, too long or with a NUL";
    case DBI_ORG_I:
    case DBI_ASO_I: {
        uint32_t id = 0;
        if (klen == sizeof id)
            memcpy(&id, key, sizeof id);
        return id ? NULL : "a dictionary id that is not 1..2^32-1";
    }
    case DBI_STATE:
    case DBI_ALERT:
    case DBI_SINK:
        return pxs_feed_key_check(dbi, key, klen);
    default:
        return "a key of an unknown table";
    }
}

const char *pxs_rec_key_fit(const pxs_rec *r, const uint8_t *key, size_t klen, size_t maxkey)
{
    size_t name_len = strnlen((const char *)key, klen);
    if (klen < name_len + 3)
        return "the key is too short";
    uint16_t type = (uint16_t)(key[name_len + 1] << 8 | key[name_len + 2]);
    if (((r->flags & PXS_F_LONG) != 0) != (klen == maxkey))
        return "the value's overlong-rdata flag disagrees with its key";
    if ((r->flags & PXS_F_BW_SUFFIX) && r->bw_off > name_len)
        return "the bailiwick lies outside the name";
    if ((r->flags & PXS_F_GEO) && type != 1 && type != 28)
        return "GeoIP data on a record that is no address";
    return NULL;
}

const uint8_t pxs_meta_key[5] = {0, 'm', 'e', 't', 'a'};

px_err pxs_meta_encode(const pxs_meta_row *m, px_buf *out)
{
    out->len = 0;
    px_err err = px_buf_reserve(out, 10 * (m->n_tables + 2));
    if (err)
        return err;
    px_buf_put_varint(out, m->format);
    px_buf_put_varint(out, m->n_tables);
    for (size_t i = 0; i < m->n_tables; i++)
        px_buf_put_varint(out, m->entries[i]);
    return pxs_val_seal(DBI_OFF, pxs_meta_key, sizeof pxs_meta_key, out);
}

px_err pxs_meta_decode(const uint8_t *v, size_t len, pxs_meta_row *m)
{
    size_t n;
    if (pxs_val_open(DBI_OFF, pxs_meta_key, sizeof pxs_meta_key, v, len, &n))
        return PX_ERR_DAMAGED;
    px_wire w;
    px_wire_init(&w, v, n);
    m->format = px_wire_varint(&w, PXS_VARINT_MAX);
    uint64_t t = px_wire_varint(&w, PXS_VARINT_MAX);
    if (px_wire_err(&w) || t > sizeof m->entries / sizeof m->entries[0])
        return PX_ERR_DAMAGED;
    m->n_tables = (size_t)t;
    for (size_t i = 0; i < m->n_tables; i++)
        m->entries[i] = px_wire_varint(&w, PXS_VARINT_MAX);
    return px_wire_err(&w) || px_wire_avail(&w) ? PX_ERR_DAMAGED : PX_OK;
}

/* Printable ASCII as is, the rest as \xHH; at most `max` bytes of input. */
static void put_escaped(char **o, char *end, const uint8_t *p, size_t n, size_t max)
{
    for (size_t i = 0; i < n && i < max && *o + 5 < end; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
            *(*o)++ = (char)p[i];
        else
            *o += snprintf(*o, (size_t)(end - *o), "\\x%02x", p[i]);
    }
    if (n > max && *o + 4 < end) {
        memcpy(*o, "...", 3);
        *o += 3;
    }
    **o = '\0';
}

static void rec_key_text(const uint8_t *key, size_t klen, size_t maxkey, char *out, size_t len)
{
    char name[PXS_NAME_MAX + 1], tbuf[16], addr[64];
    size_t nl = strnlen((const char *)key, klen);
    pxs_name_reverse((const char *)key, nl, name);
    uint16_t type = (uint16_t)(key[nl + 1] << 8 | key[nl + 2]);
    const uint8_t *rd = key + nl + 3;
    size_t rl = klen - nl - 3;
    int n = snprintf(out, len, "record %s %s ", name, px_dns_type_name(type, tbuf, sizeof tbuf));
    char *o = out + (n > 0 && (size_t)n < len ? (size_t)n : len - 1), *end = out + len;
    if ((type == 1 && rl == 4) || (type == 28 && rl == 16)) {
        px_addr a = {.family = type == 1 ? 4 : 6};
        memcpy(a.bytes, rd, rl);
        px_addr_format(&a, addr, sizeof addr);
        snprintf(o, (size_t)(end - o), "%s", addr);
        return;
    }
    put_escaped(&o, end, rd, klen == maxkey ? rl - 8 : rl, 80);
}

void pxs_key_text(int dbi, const uint8_t *key, size_t klen, size_t maxkey, char *out, size_t len)
{
    static const char *const what[DBI__N] = {
        [DBI_REC] = "record",
        [DBI_RDX] = "reverse-index entry",
        [DBI_DOM] = "domain",
        [DBI_OFF] = "offset row",
        [DBI_ORG_N] = "organisation",
        [DBI_ORG_I] = "organisation id",
        [DBI_ASO_N] = "AS organisation",
        [DBI_ASO_I] = "AS organisation id",
        [DBI_STATE] = "state key",
        [DBI_ALERT] = "alert",
        [DBI_SINK] = "sink",
    };
    if (dbi == DBI_REC && !pxs_key_check(dbi, key, klen, maxkey)) {
        rec_key_text(key, klen, maxkey, out, len);
        return;
    }
    int n = snprintf(out, len, "%s ", dbi >= 0 && dbi < DBI__N ? what[dbi] : "entry");
    char *o = out + (n > 0 && (size_t)n < len ? (size_t)n : len - 1);
    if ((dbi == DBI_ORG_I || dbi == DBI_ASO_I) && klen == 4) {
        uint32_t id;
        memcpy(&id, key, sizeof id);
        snprintf(o, (size_t)(out + len - o), "%u", id);
        return;
    }
    if (dbi == DBI_ALERT && klen == 8) {
        uint64_t seq = 0;
        for (int i = 0; i < 8; i++)
            seq = seq << 8 | key[i];
        snprintf(o, (size_t)(out + len - o), "%llu", (unsigned long long)seq);
        return;
    }
    put_escaped(&o, out + len, key, klen, 120);
}
