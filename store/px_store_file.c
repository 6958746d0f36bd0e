/* px_store_file.c: the bounds-checked reader of data.mdb (px_store_file.h;
 * the format in docs/STORE-FORMAT.md, "The LMDB file"). Every page is read with
 * pread() and checked through px_wire before a byte of it is used; the
 * accessors after a check read only what the check bounded. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "px_store_file.h"
#include "core/px_wire.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "data.mdb is read as the little-endian 64-bit LMDB layout (docs/STORE-FORMAT.md)"
#endif
_Static_assert(sizeof(size_t) == 8, "data.mdb is read as the 64-bit LMDB layout");

#define PAGEHDRSZ 16u
#define NODESIZE 8u
#define P_BRANCH 0x01
#define P_LEAF 0x02
#define P_OVERFLOW 0x04
#define P_META 0x08
#define F_BIGDATA 0x01
#define F_SUBDATA 0x02
#define MDB_MAGIC 0xBEEFC0DEu
#define MDB_DATA_VERSION 1
#define MDB_INTEGERKEY 0x08
#define PXS_PGNO_MAX ((1ULL << 48) - 1) /* a branch node holds 48 bits */
/* The largest value read (an overflow value): the store's own are below
 * 64 KiB; LMDB's free list of a 64 GiB map stays below 128 MiB. */
#define PXS_VALUE_MAX (256u << 20)
#define META_READS 50 /* attempts to read two agreeing copies of the meta pages */

static uint64_t wire_u64le(px_wire *w)
{
    uint64_t lo = px_wire_u32le(w);
    uint64_t hi = px_wire_u32le(w);
    return lo | hi << 32;
}

/* Little-endian loads from a page the checks have bounded. */
static inline uint16_t ld16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint32_t ld32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint64_t ld64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static bool fail(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool fail(char *why, size_t len, const char *fmt, ...)
{
    if (why && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, len, fmt, ap);
        va_end(ap);
    }
    return false;
}

void pxs_file_damage(pxs_file *f, const char *where, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    f->findings++;
    if (f->report)
        f->report(f->report_ctx, where, what);
}

/* ---- meta pages ---- */

static void wire_db(px_wire *w, pxs_db *d)
{
    d->pad = px_wire_u32le(w);
    d->flags = px_wire_u16le(w);
    d->depth = px_wire_u16le(w);
    d->branch_pages = wire_u64le(w);
    d->leaf_pages = wire_u64le(w);
    d->overflow_pages = wire_u64le(w);
    d->entries = wire_u64le(w);
    d->root = wire_u64le(w);
}

/* A tree record against the last page of its snapshot. */
static bool db_sane(const pxs_db *d, uint64_t last_pg, char *why, size_t len)
{
    if (d->root == PXS_P_INVALID) {
        if (d->depth != 0 || d->entries != 0)
            return fail(why, len, "empty tree with depth %u and %llu entries", d->depth,
                        (unsigned long long)d->entries);
        return true;
    }
    if (d->root < PXS_META_PAGES || d->root > last_pg)
        return fail(why, len, "root page %llu outside pages 2..%llu", (unsigned long long)d->root,
                    (unsigned long long)last_pg);
    if (d->depth < 1 || d->depth > PXS_MAX_DEPTH)
        return fail(why, len, "depth %u", d->depth);
    return true;
}

/* Parses and checks one meta page image (at least PXS_META_BYTES bytes;
 * slot 0 or 1) without the file size; false with the reason in why. */
static bool meta_parse(const uint8_t *page, size_t len, int slot, pxs_meta *m, char *why,
                       size_t whylen)
{
    px_wire w;
    px_wire_init(&w, page, len);
    uint64_t pgno = wire_u64le(&w);
    px_wire_skip(&w, 2);
    uint16_t flags = px_wire_u16le(&w);
    px_wire_skip(&w, 4);
    m->magic = px_wire_u32le(&w);
    m->version = px_wire_u32le(&w);
    m->address = wire_u64le(&w);
    m->mapsize = wire_u64le(&w);
    wire_db(&w, &m->free_db);
    wire_db(&w, &m->main_db);
    m->last_pg = wire_u64le(&w);
    m->txnid = wire_u64le(&w);
    if (px_wire_err(&w))
        return fail(why, whylen, "meta page %d is cut short", slot);
    if (m->magic != MDB_MAGIC)
        return fail(why, whylen, "meta page %d: not an LMDB data file (magic 0x%08x)", slot,
                    m->magic);
    if (m->version != MDB_DATA_VERSION)
        return fail(why, whylen, "meta page %d: LMDB data format %u, not %d", slot, m->version,
                    MDB_DATA_VERSION);
    if (pgno != (uint64_t)slot || flags != P_META)
        return fail(why, whylen, "meta page %d: its header says page %llu, flags 0x%x", slot,
                    (unsigned long long)pgno, flags);
    uint32_t ps = m->free_db.pad;
    if (ps < 512 || ps > 65536 || (ps & (ps - 1)))
        return fail(why, whylen, "meta page %d: page size %u", slot, ps);
    /* the free tree's flags hold the environment's persistent flags (none
     * here, MDB_INTEGERKEY in newer LMDB); the main tree is opened plain */
    if ((m->free_db.flags & ~MDB_INTEGERKEY) || m->main_db.flags || m->main_db.pad || m->address)
        return fail(why, whylen, "meta page %d: unexpected flags 0x%x/0x%x or fixed address", slot,
                    m->free_db.flags, m->main_db.flags);
    if (m->last_pg < PXS_META_PAGES - 1 || m->last_pg > PXS_PGNO_MAX)
        return fail(why, whylen, "meta page %d: last page %llu", slot,
                    (unsigned long long)m->last_pg);
    char sub[160];
    pxs_db fdb = m->free_db;
    fdb.pad = 0;
    if (!db_sane(&fdb, m->last_pg, sub, sizeof sub))
        return fail(why, whylen, "meta page %d: free-page tree: %s", slot, sub);
    if (!db_sane(&m->main_db, m->last_pg, sub, sizeof sub))
        return fail(why, whylen, "meta page %d: main tree: %s", slot, sub);
    return true;
}

/* Reads n bytes at off; PX_ERR_DAMAGED if the file ends first. */
static px_err read_at(int fd, uint8_t *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return PX_ERR_IO;
        if (r == 0)
            return PX_ERR_DAMAGED;
        got += (size_t)r;
    }
    return PX_OK;
}

/* Both meta pages' fields (the second sits one page, as the first says,
 * after the first). */
static px_err read_metas(int fd, uint8_t (*m)[PXS_META_BYTES], char *why, size_t len)
{
    px_err err = read_at(fd, m[0], PXS_META_BYTES, 0);
    if (err == PX_ERR_DAMAGED)
        fail(why, len, "the file is too short to hold a meta page");
    if (err)
        return err;
    uint32_t ps = ld32(m[0] + PAGEHDRSZ + 24);
    if (ps < 512 || ps > 65536 || (ps & (ps - 1))) {
        fail(why, len, "meta page 0: page size %u", ps);
        return PX_ERR_DAMAGED;
    }
    err = read_at(fd, m[1], PXS_META_BYTES, ps);
    if (err == PX_ERR_DAMAGED)
        fail(why, len, "the file is too short to hold its second meta page");
    return err;
}

/* Checks both metas and picks the newer (LMDB's mdb_env_pick_meta). */
static px_err pick_meta(pxs_file *f, uint8_t (*raw)[PXS_META_BYTES], char *why, size_t len)
{
    pxs_meta m[2];
    for (int i = 0; i < 2; i++) {
        if (!meta_parse(raw[i], PXS_META_BYTES, i, &m[i], why, len))
            return PX_ERR_DAMAGED;
    }
    if (m[0].free_db.pad != m[1].free_db.pad) {
        fail(why, len, "the meta pages disagree on the page size (%u, %u)", m[0].free_db.pad,
             m[1].free_db.pad);
        return PX_ERR_DAMAGED;
    }
    f->meta_slot = m[0].txnid < m[1].txnid;
    f->meta = m[f->meta_slot];
    f->psize = f->meta.free_db.pad;
    return PX_OK;
}

px_err pxs_file_init(pxs_file *f, int fd, uint64_t min_txnid, pxs_report_fn report, void *ctx,
                     char *why, size_t whylen)
{
    memset(f, 0, sizeof *f);
    f->fd = fd;
    f->report = report;
    f->report_ctx = ctx;
    uint8_t a[2][PXS_META_BYTES], b[2][PXS_META_BYTES];
    for (int attempt = 0; attempt < META_READS; attempt++) {
        px_err err = read_metas(fd, a, why, whylen);
        if (!err)
            err = read_metas(fd, b, why, whylen);
        if (err)
            return err;
        if (memcmp(a, b, sizeof a) != 0) /* a commit wrote one meanwhile */
            continue;
        err = pick_meta(f, a, why, whylen);
        if (err)
            return err;
        if (f->meta.txnid < min_txnid)
            continue;
        struct stat st;
        if (fstat(fd, &st) != 0)
            return PX_ERR_IO;
        f->n_pages = (uint64_t)st.st_size / f->psize;
        if (f->meta.last_pg >= f->n_pages) {
            fail(why, whylen,
                 "the file holds %llu pages but its meta page %d (transaction %llu) uses "
                 "%llu: it was cut short",
                 (unsigned long long)f->n_pages, f->meta_slot, (unsigned long long)f->meta.txnid,
                 (unsigned long long)f->meta.last_pg + 1);
            return PX_ERR_DAMAGED;
        }
        return PX_OK;
    }
    fail(why, whylen, "the meta pages kept changing while read");
    return PX_ERR_AGAIN;
}

void pxs_file_release(pxs_file *f)
{
    free(f->seen);
    f->seen = NULL;
}

bool pxs_db_parse(const pxs_file *f, const uint8_t *p, size_t len, pxs_db *db, char *why,
                  size_t whylen)
{
    px_wire w;
    px_wire_init(&w, p, len);
    wire_db(&w, db);
    if (px_wire_err(&w) || len != PXS_DB_BYTES)
        return fail(why, whylen, "a table record of %zu bytes", len);
    if (db->pad)
        return fail(why, whylen, "table record: pad %u", db->pad);
    return db_sane(db, f->meta.last_pg, why, whylen);
}

/* ---- trees ---- */

void pxs_tree_init(pxs_tree *t, pxs_file *f, const char *name, const pxs_db *db, int cmp,
                   size_t key_size)
{
    memset(t, 0, sizeof *t);
    t->f = f;
    t->name = name;
    t->db = *db;
    t->cmp = cmp;
    t->key_size = key_size;
    t->top = -1;
}

void pxs_tree_release(pxs_tree *t)
{
    for (int i = 0; i < PXS_MAX_DEPTH; i++) {
        free(t->lv[i].page);
        t->lv[i].page = NULL;
    }
    free(t->ovf);
    t->ovf = NULL;
    t->ovf_cap = 0;
}

/* Compares keys in the tree's order. */
static int tree_cmp(const pxs_tree *t, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    if (t->cmp == PXS_CMP_UINT) { /* sizes checked equal: little-endian numbers */
        uint64_t x = 0, y = 0;
        memcpy(&x, a, alen < 8 ? alen : 8);
        memcpy(&y, b, blen < 8 ? blen : 8);
        return x < y ? -1 : x > y;
    }
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* Whether this page was reported lately (then it is not again). */
static bool reported(pxs_file *f, uint64_t pgno)
{
    for (unsigned i = 0; i < f->n_reported && i < 8; i++) {
        if (f->reported[i] == pgno)
            return true;
    }
    f->reported[f->n_reported++ % 8] = pgno;
    return false;
}

static px_err page_damage(pxs_tree *t, uint64_t pgno, const char *what)
{
    if (!reported(t->f, pgno)) {
        char where[96];
        snprintf(where, sizeof where, "data.mdb page %llu (table %s)", (unsigned long long)pgno,
                 t->name);
        pxs_file_damage(t->f, where, "%s", what);
    }
    return PX_ERR_DAMAGED;
}

bool pxs_file_claim(pxs_file *f, uint64_t pgno)
{
    uint8_t *s = f->seen;
    if (!s)
        return true;
    uint8_t bit = (uint8_t)(1u << (pgno & 7));
    if (s[pgno >> 3] & bit)
        return false;
    s[pgno >> 3] |= bit;
    return true;
}

static bool claim(pxs_tree *t, uint64_t pgno)
{
    return !t->mark || pxs_file_claim(t->f, pgno);
}

/* Checks one node of a leaf page (its header at off); *key, *ks set. */
static bool check_leaf_node(const pxs_tree *t, const uint8_t *p, unsigned i, size_t off, char *why,
                            size_t len)
{
    size_t ps = t->f->psize, room = ps - off - NODESIZE;
    uint16_t lo = ld16(p + off), hi = ld16(p + off + 2), fl = ld16(p + off + 4);
    size_t ks = ld16(p + off + 6), ds = (size_t)lo | (size_t)hi << 16;
    if (ks == 0 || ks > PXS_MAX_KEY || ks > room)
        return fail(why, len, "node %u: key of %zu bytes", i, ks);
    bool sub = fl == F_SUBDATA, big = fl == F_BIGDATA;
    if ((fl && !sub && !big) || sub != t->is_main || (sub && ds != PXS_DB_BYTES))
        return fail(why, len, "node %u: flags 0x%x with %zu bytes of data", i, fl, ds);
    if ((big ? 8 : ds) > room - ks)
        return fail(why, len, "node %u: %zu bytes of data pass the page's end", i, ds);
    return true;
}

static bool check_branch_node(const pxs_tree *t, const uint8_t *p, unsigned i, size_t off,
                              char *why, size_t len)
{
    size_t room = t->f->psize - off - NODESIZE, ks = ld16(p + off + 6);
    uint64_t child =
        ld16(p + off) | (uint64_t)ld16(p + off + 2) << 16 | (uint64_t)ld16(p + off + 4) << 32;
    if (child < PXS_META_PAGES || child > t->f->meta.last_pg)
        return fail(why, len, "node %u: child page %llu outside pages 2..%llu", i,
                    (unsigned long long)child, (unsigned long long)t->f->meta.last_pg);
    if (ks > room || ks > PXS_MAX_KEY || (i > 0 && ks == 0))
        return fail(why, len, "node %u: key of %zu bytes", i, ks);
    return true;
}

/* Keys ascend, lie in the level's [lo, hi), and have the tree's size. */
static bool check_key(const pxs_tree *t, const pxs_lvl *l, unsigned i, const uint8_t *key,
                      size_t ks, const uint8_t *prev, size_t prev_len, char *why, size_t len)
{
    if (t->cmp == PXS_CMP_UINT && ks != t->key_size)
        return fail(why, len, "node %u: key of %zu bytes in a table of %zu-byte keys", i, ks,
                    t->key_size);
    if (prev && tree_cmp(t, prev, prev_len, key, ks) >= 0)
        return fail(why, len, "node %u: key out of order", i);
    if (l->lo && tree_cmp(t, key, ks, l->lo, l->lo_len) < 0)
        return fail(why, len, "node %u: key below the range its branch gives the page", i);
    if (l->hi && tree_cmp(t, key, ks, l->hi, l->hi_len) >= 0)
        return fail(why, len, "node %u: key above the range its branch gives the page", i);
    return true;
}

/* The nodes tile [upper, psize) exactly: LMDB keeps them packed (each
 * EVEN-sized), and moves them as a block when it inserts or deletes one;
 * nodes that overlap, or a gap, are damage it would spread over the page. */
static bool nodes_tile(const uint8_t *p, unsigned n, size_t upper, size_t ps, bool leaf, char *why,
                       size_t len)
{
    uint64_t map[65536 / 2 / 64]; /* a bit per 2 bytes of the largest page */
    memset(map, 0, (ps / 2 + 63) / 64 * sizeof map[0]);
    size_t total = 0;
    for (unsigned i = 0; i < n; i++) {
        size_t off = ld16(p + PAGEHDRSZ + 2 * (size_t)i), ks = ld16(p + off + 6);
        size_t ds = leaf ? (ld16(p + off + 4) == F_BIGDATA
                                ? 8
                                : ((size_t)ld16(p + off) | (size_t)ld16(p + off + 2) << 16))
                         : 0;
        size_t size = (NODESIZE + ks + ds + 1) & ~(size_t)1;
        if (off + size > ps)
            return fail(why, len, "node %u passes the page's end", i);
        for (size_t u = off / 2; u < (off + size) / 2; u++) {
            uint64_t bit = 1ULL << (u & 63);
            if (map[u >> 6] & bit)
                return fail(why, len, "node %u overlaps another", i);
            map[u >> 6] |= bit;
        }
        total += size;
    }
    if (total != ps - upper)
        return fail(why, len, "the nodes leave %zu bytes unaccounted for", ps - upper - total);
    return true;
}

/* Everything the accessors below rely on: header, node offsets, sizes,
 * child page numbers, key order and range, nodes packed. */
static bool check_page(const pxs_tree *t, const pxs_lvl *l, bool leaf, char *why, size_t len)
{
    const uint8_t *p = l->page;
    size_t ps = t->f->psize;
    px_wire w;
    px_wire_init(&w, p, ps);
    uint64_t no = wire_u64le(&w);
    px_wire_skip(&w, 2);
    uint16_t flags = px_wire_u16le(&w), lower = px_wire_u16le(&w), upper = px_wire_u16le(&w);
    if (px_wire_err(&w))
        return fail(why, len, "page shorter than its header");
    if (no != l->pgno)
        return fail(why, len, "the page says it is page %llu", (unsigned long long)no);
    if (flags != (leaf ? P_LEAF : P_BRANCH))
        return fail(why, len, "flags 0x%x where a %s page belongs", flags,
                    leaf ? "leaf" : "branch");
    if (lower < PAGEHDRSZ || lower > upper || upper > ps || (lower & 1))
        return fail(why, len, "free space %u..%u", lower, upper);
    unsigned n = (lower - PAGEHDRSZ) / 2;
    if (n == 0 || (!leaf && n < (t->is_free ? 1u : 2u)))
        return fail(why, len, "%u nodes on a %s page", n, leaf ? "leaf" : "branch");
    const uint8_t *prev = NULL;
    size_t prev_len = 0;
    for (unsigned i = 0; i < n; i++) {
        px_wire_seek(&w, PAGEHDRSZ + 2 * (size_t)i);
        size_t off = px_wire_u16le(&w);
        if (px_wire_err(&w) || off < upper || (off & 1) || off > ps - NODESIZE)
            return fail(why, len, "node %u at offset %zu, outside %u..%zu", i, off, upper,
                        ps - NODESIZE);
        bool ok = leaf ? check_leaf_node(t, p, i, off, why, len)
                       : check_branch_node(t, p, i, off, why, len);
        if (!ok)
            return false;
        if (!leaf && i == 0) /* LMDB never reads a branch's first key */
            continue;
        const uint8_t *key = p + off + NODESIZE;
        size_t ks = ld16(p + off + 6);
        if (!check_key(t, l, i, key, ks, prev, prev_len, why, len))
            return false;
        prev = key;
        prev_len = ks;
    }
    return nodes_tile(p, n, upper, ps, leaf, why, len);
}

/* Node i of a checked page. */
static inline const uint8_t *node(const pxs_lvl *l, unsigned i)
{
    return l->page + ld16(l->page + PAGEHDRSZ + 2 * (size_t)i);
}

static inline size_t node_ks(const uint8_t *nd)
{
    return ld16(nd + 6);
}

/* Reads and checks page pgno into level L, its keys bounded by [lo, hi). */
static px_err load(pxs_tree *t, int L, uint64_t pgno, const uint8_t *lo, size_t lo_len,
                   const uint8_t *hi, size_t hi_len)
{
    pxs_file *f = t->f;
    pxs_lvl *l = &t->lv[L];
    bool leaf = L == t->db.depth - 1;
    if (L == 0 && l->valid && l->pgno == pgno && !t->mark) { /* the root, checked before */
        l->i = 0;
        return PX_OK;
    }
    l->valid = false;
    if (pgno < PXS_META_PAGES || pgno > f->meta.last_pg)
        return page_damage(t, pgno, "page number outside the file's pages");
    if (!claim(t, pgno))
        return page_damage(t, pgno, "a second reference to a page already in use");
    if (!l->page && !(l->page = malloc(f->psize)))
        return PX_ERR_NOMEM;
    px_err err = read_at(f->fd, l->page, f->psize, pgno * f->psize);
    if (err == PX_ERR_DAMAGED)
        return page_damage(t, pgno, "the file ends before this page");
    if (err)
        return err;
    l->pgno = pgno;
    l->lo = lo;
    l->lo_len = lo_len;
    l->hi = hi;
    l->hi_len = hi_len;
    char why[160];
    if (!check_page(t, l, leaf, why, sizeof why))
        return page_damage(t, pgno, why);
    l->n = (ld16(l->page + 12) - PAGEHDRSZ) / 2;
    l->i = 0;
    l->valid = true;
    if (leaf)
        t->n_leaf++;
    else
        t->n_branch++;
    return PX_OK;
}

/* Loads child i of branch level L, bounded by its neighbours' keys. */
static px_err load_child(pxs_tree *t, int L)
{
    const pxs_lvl *l = &t->lv[L];
    unsigned i = l->i;
    const uint8_t *nd = node(l, i);
    uint64_t child = ld16(nd) | (uint64_t)ld16(nd + 2) << 16 | (uint64_t)ld16(nd + 4) << 32;
    const uint8_t *lo = l->lo, *hi = l->hi;
    size_t lo_len = l->lo_len, hi_len = l->hi_len;
    if (i > 0) {
        lo = nd + NODESIZE;
        lo_len = node_ks(nd);
    }
    if (i + 1 < l->n) {
        const uint8_t *nx = node(l, i + 1);
        hi = nx + NODESIZE;
        hi_len = node_ks(nx);
    }
    return load(t, L + 1, child, lo, lo_len, hi, hi_len);
}

/* The value of a node put on overflow pages. */
static px_err read_overflow(pxs_tree *t, uint64_t pgno, size_t size, const uint8_t **out)
{
    pxs_file *f = t->f;
    uint64_t pages = (PAGEHDRSZ - 1 + (uint64_t)size) / f->psize + 1;
    if (pgno < PXS_META_PAGES || pgno > f->meta.last_pg || pages > f->meta.last_pg - pgno + 1 ||
        size > PXS_VALUE_MAX)
        return page_damage(t, pgno, "an overflow value outside the file's pages");
    uint8_t head[PAGEHDRSZ];
    px_err err = read_at(f->fd, head, sizeof head, pgno * f->psize);
    if (err)
        return err == PX_ERR_DAMAGED ? page_damage(t, pgno, "the file ends before this page") : err;
    if (ld64(head) != pgno || ld16(head + 10) != P_OVERFLOW || ld32(head + 12) != pages)
        return page_damage(t, pgno, "not the overflow page its node names");
    for (uint64_t i = 0; i < pages; i++) {
        if (!claim(t, pgno + i))
            return page_damage(t, pgno, "an overflow value over pages already in use");
    }
    if (size > t->ovf_cap) {
        uint8_t *p = realloc(t->ovf, size);
        if (!p)
            return PX_ERR_NOMEM;
        t->ovf = p;
        t->ovf_cap = size;
    }
    err = read_at(f->fd, t->ovf, size, pgno * f->psize + PAGEHDRSZ);
    if (err)
        return err == PX_ERR_DAMAGED ? page_damage(t, pgno, "the file ends inside this value")
                                     : err;
    t->n_overflow += pages;
    *out = t->ovf;
    return PX_OK;
}

/* Entry i of a leaf level. */
static px_err entry(pxs_tree *t, const pxs_lvl *l, unsigned i, pxs_ent *e)
{
    const uint8_t *nd = node(l, i);
    uint16_t fl = ld16(nd + 4);
    size_t ks = node_ks(nd), ds = (size_t)ld16(nd) | (size_t)ld16(nd + 2) << 16;
    e->key = nd + NODESIZE;
    e->klen = ks;
    e->vlen = ds;
    e->subdb = fl == F_SUBDATA;
    if (fl != F_BIGDATA) {
        e->val = nd + NODESIZE + ks;
        return PX_OK;
    }
    return read_overflow(t, ld64(nd + NODESIZE + ks), ds, &e->val);
}

/* From the current position on, the first entry that can be read: a level
 * run out goes back up and on to the next child; a damaged child or value
 * is skipped. */
static px_err settle(pxs_tree *t, pxs_ent *e)
{
    int leaf = t->db.depth - 1;
    for (;;) {
        if (t->top < 0)
            return PX_ERR_NOTFOUND;
        pxs_lvl *l = &t->lv[t->top];
        if (l->i >= l->n) {
            if (--t->top >= 0)
                t->lv[t->top].i++;
            continue;
        }
        px_err err;
        if (t->top == leaf) {
            err = entry(t, l, l->i, e);
            if (!err) {
                t->n_entries++;
                return PX_OK;
            }
        } else {
            err = load_child(t, t->top);
            if (!err) {
                t->top++;
                continue;
            }
        }
        if (err != PX_ERR_DAMAGED)
            return err;
        t->skipped++;
        l->i++;
    }
}

/* Index of the child to descend for key (the last whose key is <= key; the
 * first key is not read), or of the first leaf key >= key. */
static unsigned search(const pxs_tree *t, const pxs_lvl *l, bool leaf, const uint8_t *key,
                       size_t klen)
{
    unsigned lo = leaf ? 0 : 1, hi = l->n; /* first index whose key > key (branch), >= (leaf) */
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        const uint8_t *nd = node(l, mid);
        int c = tree_cmp(t, nd + NODESIZE, node_ks(nd), key, klen);
        if (c < 0 || (!leaf && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return leaf ? lo : lo - 1;
}

px_err pxs_tree_seek(pxs_tree *t, const uint8_t *key, size_t klen, pxs_ent *e)
{
    t->top = -1;
    if (t->db.root == PXS_P_INVALID)
        return PX_ERR_NOTFOUND;
    if (t->cmp == PXS_CMP_UINT && key && klen != t->key_size)
        return PX_ERR_INVAL;
    px_err err = load(t, 0, t->db.root, NULL, 0, NULL, 0);
    if (err == PX_ERR_DAMAGED) {
        t->skipped++;
        return PX_ERR_NOTFOUND;
    }
    int leaf = t->db.depth - 1;
    for (int L = 0; !err; L++) {
        pxs_lvl *l = &t->lv[L];
        l->i = key ? search(t, l, L == leaf, key, klen) : 0;
        t->top = L;
        if (L == leaf)
            return settle(t, e);
        err = load_child(t, L);
        if (err == PX_ERR_DAMAGED) { /* what follows the damaged child is >= key */
            t->skipped++;
            l->i++;
            return settle(t, e);
        }
    }
    return err;
}

px_err pxs_tree_next(pxs_tree *t, pxs_ent *e)
{
    if (t->top < 0)
        return PX_ERR_NOTFOUND;
    t->lv[t->top].i++;
    return settle(t, e);
}

px_err pxs_tree_get(pxs_tree *t, const uint8_t *key, size_t klen, pxs_ent *e)
{
    uint64_t skipped = t->skipped;
    px_err err = pxs_tree_seek(t, key, klen, e);
    if (!err && tree_cmp(t, e->key, e->klen, key, klen) == 0)
        return PX_OK;
    if (err && err != PX_ERR_NOTFOUND)
        return err;
    return t->skipped != skipped ? PX_ERR_DAMAGED : PX_ERR_NOTFOUND;
}
