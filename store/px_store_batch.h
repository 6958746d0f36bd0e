/* px_store_batch.h: the batch, and what the store's files share to write
 * it. Not a public contract. */
#ifndef PX_STORE_BATCH_H
#define PX_STORE_BATCH_H

#include <lmdb.h>

#include "core/px_arena.h"
#include "store/px_store.h"
#include "px_store_int.h"

#define PXS_SPILL_ENTRIES (1u << 18)
#define PXS_SPILL_BYTES (128u << 20)
#define PXS_CHUNK_RECORDS 8192 /* default px_store_opts.chunk_records */

typedef pxs_bkey bkey;
typedef struct merge_in merge_in;

typedef struct brdx { /* a new record's reverse-index entry, to be written */
    bkey k;
    const uint8_t *v; /* sealed */
    uint32_t vlen;
} brdx;

typedef struct brec { /* one record touched by the batch */
    bkey k;
    uint32_t seq;      /* creation order in the flush: the order of first observations */
    uint16_t name_len; /* of the reversed name that starts the key */
    bool has_ttl;      /* the feed's TTL range of the batch's observations (not stored) */
    brdx *rdx;         /* reverse-index entry, made by the flush if the record is new */
    pxs_rec rec;       /* the batch's observations merged (the delta); strings in the arena */
    /* after the fields the merge touches for every observation: the feed's
     * alone (has_ttl sits in padding), so the merge's lines stay as they were */
    uint32_t ttl_min, ttl_max;
} brec;

typedef struct bdom { /* one registered domain touched by the batch */
    bkey k;
    pxs_dom dom; /* the batch's observations merged (the delta) */
    /* With a feed only (else NULL): each organisation's first and last
     * sighting of the domain in the batch, its orgs the delta's. */
    pxs_rec *seen;
} bdom;

/* A slot keeps the entry's hash: a probe compares it without touching the
 * entry (the profile showed the merge waiting on those cache misses). */
typedef struct bslot {
    uint64_t h;
    bkey *e; /* NULL: empty */
} bslot;

/* Open-addressing table of entry pointers (linear probing, load <= 1/2). */
typedef struct btab {
    bslot *slot;
    size_t cap, n;
} btab;

typedef struct boff { /* offset of one partition in the batch */
    char topic[250];
    int32_t partition;
    int64_t next;
} boff;

/* A new record held back by the flush until its AS organisation has an id:
 * ids are given in the order of the records' first observations, as when
 * the merge looked them up, so the dictionary comes out the same. */
typedef struct bpend {
    brec *e;
    const char *as_org; /* in the arena */
} bpend;

/* The replicated rows the open transaction wrote, for the changelog
 * (px_store_clog.c): each (table, key) once, in the order first written;
 * their values are read from the transaction before it commits. */
typedef struct pxs_clog_ent {
    size_t off; /* of the key in keys */
    uint16_t len;
    uint8_t dbi;
} pxs_clog_ent;

typedef struct pxs_clog {
    px_buf keys;
    pxs_clog_ent *ents;
    size_t n, cap;
    uint32_t *slot; /* open addressing: index + 1 of an entry, 0 empty */
    size_t n_slot;  /* a power of two, or 0 */
    uint64_t seed;  /* random: the keys come from DNS traffic */
} pxs_clog;

struct px_store_batch {
    px_store *s;
    MDB_txn *txn;
    MDB_cursor *rec_c, *dom_c, *rdx_c;
    px_err failed; /* sticky: a write failed, the batch can only abort */
    px_arena *arena;
    btab recs, doms;
    uint64_t seed;
    px_buf val;
    pxs_rec cur;  /* the flush's decoded stored record (its org array is reused) */
    pxs_dom dcur; /* the same for domains */
    bpend *pend;  /* new records whose AS organisation is new to the dictionary */
    size_t n_pend, cap_pend;
    uint64_t n_collisions; /* the store's counter gets it at commit */
    uint64_t *org_new;     /* by org id: records new to the store (the same) */
    size_t n_org_new;
    boff *offs; /* written by the commit, not one put per message */
    size_t n_offs, cap_offs, last_off;
    /* the GeoIP of the records the flush finds new (px_store_opts) */
    px_store_enrich_fn enrich;
    void *enrich_ctx;
    bool delivered;       /* the open transaction delivered changes to the feed */
    px_err txn_err;       /* the first failed px_change_txn call of the prepare */
    px_buf tval;          /* a state value or alert being written */
    struct aso_name *aso; /* AS organisations the feed resolved (by id) */
    size_t n_aso, cap_aso;
    /* big batches: the log being written */
    bool log;
    pxs_logw logw;
    px_buf chunk;
    px_buf pre;        /* an entry's feed prefix */
    uint64_t n_lost;   /* log chunks that could not be applied */
    uint32_t org_last; /* the greatest organisation id when the log is applied */
    /* the merge holds one observation back (see px_store_merge) */
    struct merge_in *ring; /* two: the one held and the next */
    int ring_cur;          /* the next one's */
    bool held;
    /* while a log is applied, the new records' reverse-index entries wait
     * here, to be written in their own key order at the end */
    bool defer_rdx;
    px_arena *rdx_arena;
    bkey **rdxs; /* brdx */
    size_t n_rdxs, cap_rdxs;
    pxs_clog clog; /* with px_store_opts.changelog only */
};

/* What a record held before the flush merged into it. */
typedef struct rec_before {
    uint64_t count;
    int64_t first, last;
    uint32_t *new_ids; /* the delta's organisations the record lacked */
    size_t n_new;
} rec_before;

/* px_store.c */
int pxs_txn_commit(px_store *s, MDB_txn *txn);
bool pxs_release_freed_pages(px_store *s);
/* px_store_keys.c */
px_err pxs_rec_key(const px_store *s, const char *name, size_t name_len, uint16_t type,
                   const uint8_t *rd, size_t rd_len, uint8_t *key, size_t *klen, bool *long_rdata);
bool pxs_rdx_entry(const px_store *s, uint16_t type, const char *text, const uint8_t *rkey,
                   size_t rklen, size_t name_len, uint8_t *key, MDB_val *k, MDB_val *v);
size_t pxs_off_key(const char *topic, int32_t partition, uint8_t *key);
/* px_store_dict.c */
px_err pxs_dict_find(px_store_batch *b, int dn, const char *str, size_t len, uint32_t *id);
px_err pxs_dict_add(px_store_batch *b, int dn, int di, const char *str, size_t len, uint32_t *id);
/* The greatest id of dictionary di (0: empty); ids are given in order. */
px_err pxs_dict_last(px_store *s, MDB_txn *txn, int di, uint32_t *last);
px_err pxs_org_id(px_store_batch *b, const char *org, uint32_t *id);
px_err pxs_dict_text(px_store_batch *b, int di, uint32_t id, char *out);
/* px_store_batch.c */
const void *pxs_arena_dup(px_arena *a, const void *p, size_t n);
bslot *pxs_btab_find(btab *t, uint64_t h, const uint8_t *key, size_t klen);
px_err pxs_btab_reserve(btab *t);
void pxs_bdom_release(bdom *e); /* its org arrays */
void pxs_batch_clear(px_store_batch *b);
px_err pxs_txn_open(px_store_batch *b);
px_store_batch *pxs_batch_new(px_store *s);
px_err pxs_batch_check(px_store_batch *b, px_err err);
void pxs_batch_free(px_store_batch *b);
bkey **pxs_btab_sorted(px_store_batch *b, const btab *t);
px_err pxs_flush_offsets(px_store_batch *b);
/* The zigzag value of row key in `off` (an offset, the changelog
 * position), read through LMDB; damage reported (`what` if it does not
 * decode). */
px_err pxs_off_get(px_store *s, const uint8_t *key, size_t kl, const char *what, int64_t *next);
/* px_store_flush.c */
px_err pxs_rec_rdx(px_store_batch *b, brec *e, uint16_t type);
void pxs_org_new_commit(px_store_batch *b);
px_err pxs_rdx_write(px_store_batch *b, const brdx *x);
px_err pxs_flush_rdx(px_store_batch *b, bkey **v, size_t n, size_t n_rdx);
px_err pxs_flush_rec_array(px_store_batch *b, bkey **v, size_t n);
px_err pxs_flush_dom(px_store_batch *b, const bdom *e);
px_err pxs_batch_flush(px_store_batch *b);
/* px_store_feed.c */
bool pxs_feed_on(const px_store_batch *b);
void pxs_feed_end(px_store_batch *b, bool committed);
px_err pxs_feed_rec_new(px_store_batch *b, const brec *e, const px_geo *geo);
px_err pxs_rec_before_take(px_store_batch *b, const pxs_rec *stored, const pxs_rec *delta,
                           rec_before *out);
px_err pxs_feed_rec_grew(px_store_batch *b, const brec *e, const pxs_rec *r, const rec_before *was);
px_err pxs_feed_dom(px_store_batch *b, const bdom *e, const pxs_dom *d, bool stored,
                    int64_t first_before, const uint32_t *new_ids, size_t n_new);
uint32_t *pxs_dom_new_orgs(px_store_batch *b, const pxs_dom *stored, const pxs_dom *d, size_t *n);
/* px_store_alert.c: the sink's prepare over the open transaction, if it
 * delivered changes; an error (its own or of a txn call) fails it. */
px_err pxs_feed_prepare(px_store_batch *b);
/* px_store_apply.c */
px_err pxs_marker_read(px_store *s, uint64_t *id, uint64_t *next, uint64_t *total);
px_err pxs_log_segment(px_store_batch *b);
px_err pxs_log_commit(px_store_batch *b);
/* px_store_clog.c: mdb_cursor_put (c NULL: mdb_put) into table dbi,
 * noted for the changelog when the store has one. */
px_err pxs_put(px_store_batch *b, int dbi, MDB_cursor *c, MDB_val *k, MDB_val *v, unsigned flags);
/* mdb_del of key (MDB_NOTFOUND: PX_OK), noted. */
px_err pxs_del(px_store_batch *b, int dbi, const void *key, size_t klen);
void pxs_clog_reset(pxs_clog *c); /* a new transaction */
void pxs_clog_free(pxs_clog *c);
/* Before the commit: the noted rows to the changelog callback, then the
 * position it returns into the transaction. Nothing noted: nothing done. */
px_err pxs_clog_emit(px_store_batch *b);
/* px_store_merge.c */
px_err pxs_merge_drain(px_store_batch *b);

#endif
