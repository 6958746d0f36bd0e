/* px_store_file.h: a reader of the store's data file (data.mdb, LMDB 0.9's
 * on-disk format) that trusts nothing in it.
 *
 * LMDB maps the file and follows its page numbers and offsets as they are:
 * a file cut short makes it die with SIGBUS, a damaged page with SIGSEGV or
 * an abort, and a damaged value is returned as if it were good. This
 * reader reads pages with pread() into its own buffers and checks each one
 * before it uses anything in it (px_wire): the meta pages against each
 * other and the file's size, every page's number, kind, bounds and node
 * offsets, key order inside a page and against the keys of the branch
 * above it, child and overflow page numbers against the last page of the
 * snapshot, the depth of every leaf. A page that fails is reported (where,
 * what) and its subtree skipped: what the reader returns comes from pages
 * that passed. The format (docs/STORE-FORMAT.md): 64-bit little-endian LMDB 0.9,
 * MDB_DATA_VERSION 1, no MDB_DUPSORT, no MDB_WRITEMAP-only structures.
 *
 * Readers pin their snapshot with an LMDB read transaction (so the writer
 * reuses none of its pages) and pass its id: pxs_file_init() takes the
 * meta page of that transaction or a newer one, whose pages are pinned as
 * well. Not thread-safe per object; one pxs_file per thread (pread on a
 * shared descriptor is fine). */
#ifndef PX_STORE_FILE_H
#define PX_STORE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"

#define PXS_P_INVALID UINT64_MAX /* an empty tree's root */
#define PXS_MAX_DEPTH 32         /* LMDB's CURSOR_STACK */
#define PXS_MAX_KEY 511          /* LMDB's MDB_MAXKEYSIZE (Debian's build) */
#define PXS_META_PAGES 2
#define PXS_DB_BYTES 48 /* an MDB_db record */

/* An LMDB database record (MDB_db): a tree. */
typedef struct pxs_db {
    uint32_t pad; /* in the meta's free-DB record: the page size */
    uint16_t flags, depth;
    uint64_t branch_pages, leaf_pages, overflow_pages, entries;
    uint64_t root; /* PXS_P_INVALID: empty */
} pxs_db;

/* A meta page (MDB_meta). */
typedef struct pxs_meta {
    uint32_t magic, version;
    uint64_t address, mapsize;
    pxs_db free_db, main_db;
    uint64_t last_pg, txnid;
} pxs_meta;

/* Damage found: where (page, table, key) and what. */
typedef void (*pxs_report_fn)(void *ctx, const char *where, const char *what);

typedef struct pxs_file {
    int fd;           /* borrowed */
    uint32_t psize;   /* page size */
    uint64_t n_pages; /* whole pages the file holds */
    pxs_meta meta;    /* of the snapshot read */
    int meta_slot;    /* 0 or 1 */
    pxs_report_fn report;
    void *report_ctx;
    uint64_t findings; /* reports made */
    /* the full walk: a bit per page, set when a tree, an overflow value or
     * the free list claims it (NULL: not kept) */
    uint8_t *seen;
    /* pages reported lately, so that repeated lookups through one damaged
     * page report it once */
    uint64_t reported[8];
    unsigned n_reported;
} pxs_file;

#define PXS_META_BYTES 152 /* what is read of a meta page */

/* Reads both meta pages of the data file open as fd, checks them, picks
 * the newer (as LMDB does) and checks it against the file's size: a file
 * shorter than its last page is refused here, before anything maps it.
 * min_txnid: the reader's transaction; an older newest meta is refused
 * (PX_ERR_AGAIN: read again). Tolerates a meta page written while it is
 * read (reads until two reads agree). PX_ERR_DAMAGED with the reason in
 * why; PX_ERR_IO. report/ctx: for later findings (may be NULL). */
px_err pxs_file_init(pxs_file *f, int fd, uint64_t min_txnid, pxs_report_fn report, void *ctx,
                     char *why, size_t whylen);
void pxs_file_release(pxs_file *f); /* frees seen; the fd stays open */
/* Reports damage (counted in findings). */
void pxs_file_damage(pxs_file *f, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Claims a page for the full walk (f->seen): false if something claimed
 * it before. Always true without a page map. */
bool pxs_file_claim(pxs_file *f, uint64_t pgno);
/* Parses an MDB_db record (PXS_DB_BYTES) and checks it against the
 * snapshot; false with the reason. */
bool pxs_db_parse(const pxs_file *f, const uint8_t *p, size_t len, pxs_db *db, char *why,
                  size_t whylen);

/* One entry of a tree: pointers into the tree's buffers, valid until the
 * next call on the tree. */
typedef struct pxs_ent {
    const uint8_t *key, *val;
    size_t klen, vlen;
    bool subdb; /* a named database record (main tree only) */
} pxs_ent;

enum { PXS_CMP_BYTES, PXS_CMP_UINT }; /* LMDB's default order; MDB_INTEGERKEY */

typedef struct pxs_lvl {
    uint64_t pgno;
    uint8_t *page; /* psize bytes */
    unsigned n, i; /* nodes; the current one */
    bool valid;
    /* the keys of this subtree lie in [lo, hi) (NULL: unbounded); they
     * point into the level above, which stays while this one is used */
    const uint8_t *lo, *hi;
    size_t lo_len, hi_len;
} pxs_lvl;

typedef struct pxs_tree {
    pxs_file *f;
    const char *name; /* for reports */
    pxs_db db;
    int cmp;
    size_t key_size; /* PXS_CMP_UINT: 4 or 8 */
    bool is_main, is_free;
    bool mark; /* claim pages in f->seen (the full walk) */
    pxs_lvl lv[PXS_MAX_DEPTH];
    int top;      /* current level, -1: none */
    uint8_t *ovf; /* an overflow value */
    size_t ovf_cap;
    uint64_t skipped; /* subtrees and entries skipped for damage */
    /* what the walk met (pages of each kind, entries returned) */
    uint64_t n_branch, n_leaf, n_overflow, n_entries;
} pxs_tree;

/* A tree of the snapshot; name is kept (a literal). */
void pxs_tree_init(pxs_tree *t, pxs_file *f, const char *name, const pxs_db *db, int cmp,
                   size_t key_size);
void pxs_tree_release(pxs_tree *t); /* a zeroed tree is fine */

/* The first entry whose key is >= key (key NULL: the first entry):
 * PX_OK, PX_ERR_NOTFOUND past the end; PX_ERR_IO, _NOMEM. Damaged pages
 * and values on the way are reported and skipped (t->skipped grows). */
px_err pxs_tree_seek(pxs_tree *t, const uint8_t *key, size_t klen, pxs_ent *e);
/* The entry after the last one returned. */
px_err pxs_tree_next(pxs_tree *t, pxs_ent *e);
/* The entry of exactly this key: PX_OK, PX_ERR_NOTFOUND, or PX_ERR_DAMAGED
 * when damage on its path leaves the answer unknown. */
px_err pxs_tree_get(pxs_tree *t, const uint8_t *key, size_t klen, pxs_ent *e);

#endif
