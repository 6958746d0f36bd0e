/* px_store_int.h: internals shared by the store's files (key
 * building, value encodings). Not a public contract. */
#ifndef PX_STORE_INT_H
#define PX_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "core/px_arena.h"
#include "core/px_buf.h"
#include "core/px_error.h"
#include "store/px_store.h"
#include "px_store_file.h"
#include "core/px_wire.h"
#include "obs/px_alert.h"

#define PXS_NAME_MAX 255     /* presentation name, without NUL */
#define PXS_DICT_STR_MAX 255 /* org ids and AS organisation names */

/* Record value flags (first byte). */
#define PXS_F_BW_SUFFIX 0x01 /* bailiwick = rrname + offset */
#define PXS_F_BW_TEXT 0x02   /* bailiwick stored as text */
#define PXS_F_GEO 0x04       /* GeoIP answer present */
#define PXS_F_LONG 0x08      /* rdata too long for the key: stored here */
#define PXS_F_ALL 0x0f

typedef struct pxs_org {
    uint32_t id;
    int64_t first, last;
} pxs_org;

/* A decoded (or to-be-encoded) record value. Pointers reference either the
 * stored value or caller memory; they live as long as that memory. */
/* Records and domains seen by a handful of organisations keep their lists
 * inline: no malloc per record in a batch (it was ~10% of the consumer's
 * profile). Such a struct must not be copied by value while it lives. */
#define PXS_REC_ORGS_INLINE 4
#define PXS_DOM_ORGS_INLINE 8

typedef struct pxs_rec {
    uint64_t count;
    int64_t first, last;
    size_t n_orgs, cap_orgs;
    pxs_org *orgs; /* sorted by id; inline or malloc'd: pxs_rec_release() */
    pxs_org orgs_inline[PXS_REC_ORGS_INLINE];
    uint8_t flags;
    uint64_t bw_off;     /* PXS_F_BW_SUFFIX */
    const char *bw_text; /* PXS_F_BW_TEXT */
    size_t bw_len;
    char country[4]; /* PXS_F_GEO */
    int64_t asn;
    uint32_t as_org;      /* 0: none */
    const uint8_t *rdata; /* PXS_F_LONG */
    size_t rdata_len;
} pxs_rec;

typedef struct pxs_dom {
    int64_t first, last;
    size_t n_orgs, cap_orgs;
    uint32_t *orgs; /* sorted; inline or malloc'd: pxs_dom_release() */
    uint32_t orgs_inline[PXS_DOM_ORGS_INLINE];
} pxs_dom;

/* A px_buf over a fixed array holding `used` bytes: max = cap, so a
 * reserve past the array fails (PX_ERR_FULL) instead of reallocating
 * memory the buffer does not own. Never px_buf_free() it. */
#define PXS_FIXED_BUF(arr, used)                                                                   \
    ((px_buf){.p = (arr), .len = (used), .cap = sizeof(arr), .max = sizeof(arr)})

/* The store's varints are LEB128 of at most 10 bytes (px_wire_varint). */
#define PXS_VARINT_MAX 10

/* ---- integrity (docs/STORE.md; bytes: docs/STORE-FORMAT.md) ----
 *
 * Every stored value ends with a checksum of its key and payload:
 * XXH3-64 of the payload, seeded with the XXH3-64 of the key seeded with
 * the table's tag, its low PXS_SUM_LEN bytes little-endian. A value whose checksum fails is
 * damaged: it is reported, never used, never written over. */
#define PXS_SUM_LEN 4
/* The store format (the meta key's first field): 2 = checksummed values;
 * 3 = the tables of the change feed's reader (state, alerts, sinks).
 * Stores without the meta key are of the format before 2 (1). A writable
 * open upgrades a format-2 store in place (its tables created, the format
 * row rewritten); a read-only one reads it as it is (no alerts). */
#define PXS_FORMAT 4
#define PXS_FORMAT_OLDEST 2
/* 4 = 3 and the changelog position row (`00 "clog"`), which a store gets
 * at its first write of one: a store without a changelog stays 3, read by
 * the pdnsx before. */
#define PXS_FORMAT_TABLES 3 /* the first format with all DBI__N tables */
#define PXS_TABLES_V2 8     /* the tables of format 2: DBI_REC..DBI_ASO_I */

uint64_t pxs_sum(int dbi, const void *key, size_t klen, const void *payload, size_t plen);
/* Appends the checksum of (key, out->p[0..out->len)) to out. */
px_err pxs_val_seal(int dbi, const void *key, size_t klen, px_buf *out);
/* Checks a stored value against its key: PX_OK with *plen, the payload's
 * length; PX_ERR_DAMAGED if it is too short or its checksum fails. */
px_err pxs_val_open(int dbi, const void *key, size_t klen, const void *val, size_t vlen,
                    size_t *plen);
/* Why a stored key of table dbi is not one the store writes (NULL: it
 * is): the shape of a reversed lowercase name, a known rdata encoding, an
 * offset or dictionary key. maxkey: the key limit (overlong rdata). */
const char *pxs_key_check(int dbi, const uint8_t *key, size_t klen, size_t maxkey);
/* Why a decoded record value cannot belong to its (checked) key, or NULL:
 * the overlong-rdata flag against the key's length, a bailiwick offset
 * inside the name, GeoIP data only on address records. */
const char *pxs_rec_key_fit(const pxs_rec *r, const uint8_t *key, size_t klen, size_t maxkey);
/* A name as stored (reversed or not): 1..PXS_NAME_MAX bytes of 0x21..0x7e
 * without uppercase letters. */
bool pxs_name_bytes_ok(const uint8_t *p, size_t n);
/* The key of the store's format meta row in the off table. */
extern const uint8_t pxs_meta_key[5];
/* The key of the changelog position row (format 4). */
extern const uint8_t pxs_clog_key[5];
/* Why (key, val) of table dbi is not a row a changelog may carry, or NULL:
 * a local row, a key of the wrong shape, a value that fails its checksum
 * or does not decode, as px_store_verify checks a stored row. */
const char *pxs_row_check(px_store *s, int dbi, const uint8_t *key, size_t klen, const uint8_t *val,
                          size_t vlen);
/* The meta row: format, then the number of entries of each table. */
typedef struct pxs_meta_row {
    uint64_t format;
    size_t n_tables;
    uint64_t entries[16];
} pxs_meta_row;
px_err pxs_meta_encode(const pxs_meta_row *m, px_buf *out); /* sealed */
/* Decodes a stored meta row (checksum included): PX_ERR_DAMAGED if it
 * fails its checksum or does not decode. */
px_err pxs_meta_decode(const uint8_t *v, size_t len, pxs_meta_row *m);
/* Prints a key of table dbi for a report: "record www.example.com A
 * 192.0.2.1", "domain example.com", or escaped bytes. */
void pxs_key_text(int dbi, const uint8_t *key, size_t klen, size_t maxkey, char *out, size_t len);

/* "www.example.com" -> "com.example.www" (labels reversed); the same
 * function undoes it. out holds len + 1 bytes (NUL-terminated). */
void pxs_name_reverse(const char *in, size_t len, char *out);

/* FNV-1a 64: the hash suffix of overlong rec and rdx keys, as store
 * format 2 writes it (docs/STORE-FORMAT.md, "rec"). On disk: never
 * px_hash64, whose values are not stable. */
uint64_t pxs_key_fnv1a64(const void *data, size_t len);

px_err pxs_rec_encode(const pxs_rec *r, px_buf *out);
/* Decodes v into r (orgs array grown as needed: r owns it). */
px_err pxs_rec_decode(const uint8_t *v, size_t len, pxs_rec *r);
bool pxs_rec_add_org(pxs_rec *r, uint32_t id, int64_t first, int64_t last, px_err *err);
/* Frees the org list if it outgrew the inline room; r stays usable. */
void pxs_rec_release(pxs_rec *r);

px_err pxs_dom_encode(const pxs_dom *d, px_buf *out);
px_err pxs_dom_decode(const uint8_t *v, size_t len, pxs_dom *d);
/* Returns true if the set changed. */
bool pxs_dom_add_org(pxs_dom *d, uint32_t id, px_err *err);
void pxs_dom_release(pxs_dom *d);

/* Head of a batch's in-memory entry: its table hash and key. */
typedef struct pxs_bkey {
    uint64_t h;
    const uint8_t *key;
    size_t klen;
} pxs_bkey;

/* Sorts v[0..n) by key in LMDB's default order (bytes, then the shorter
 * first); equal keys keep their order. Scratch memory (48 bytes a key and
 * 96 KiB) comes from arena; false if it has none. */
bool pxs_bkeys_sort(px_arena *arena, pxs_bkey **v, size_t n);

/* The batch log (px_store_log.c): chunks of a big batch's sorted deltas. */
#define PXS_LOG_REC 'r'
#define PXS_LOG_DOM 'd'
/* The same with what only the change feed needs (written when the store
 * has a feed): a record's TTL range, a domain's per-organisation times
 * (docs/STORE-FORMAT.md, "batch.log"). */
#define PXS_LOG_REC_FEED 'R'
#define PXS_LOG_DOM_FEED 'D'

typedef struct pxs_logw {
    int fd;
    uint32_t n_chunks;
} pxs_logw;

/* Creates (truncates) path and writes the header. */
px_err pxs_logw_open(pxs_logw *w, const char *path, uint64_t id);
px_err pxs_logw_chunk(pxs_logw *w, uint8_t kind, uint32_t n, const uint8_t *payload, size_t len);
px_err pxs_logw_sync(pxs_logw *w); /* fdatasync */
void pxs_logw_close(pxs_logw *w);  /* fd -1 is fine */

typedef struct pxs_log_chunk {
    uint8_t kind;
    uint32_t n; /* entries, as the writer said (not trusted) */
    const uint8_t *p;
    size_t len;
} pxs_log_chunk;

typedef struct pxs_log {
    void *map;
    size_t size;
    uint64_t id;
    pxs_log_chunk *chunks; /* those whose checksum holds, up to the first that fails */
    size_t n_chunks;
} pxs_log;

/* Maps path and indexes its chunks: PX_ERR_NOTFOUND (no file), _TRUNC,
 * _MALFORMED (no log header), _IO. Release with pxs_log_release. */
px_err pxs_log_read(const char *path, pxs_log *l);
void pxs_log_release(pxs_log *l); /* a zeroed pxs_log is fine */

enum {
    DBI_REC,
    DBI_RDX,
    DBI_DOM,
    DBI_OFF,
    DBI_ORG_N,
    DBI_ORG_I,
    DBI_ASO_N,
    DBI_ASO_I,
    /* format 3: the change feed's reader (px_store_alert.c) */
    DBI_STATE, /* its opaque state */
    DBI_ALERT, /* the outbox: seq -> alert */
    DBI_SINK,  /* sink cursors: name -> next seq */
    DBI__N
};

/* Sink names: 1..PXS_SINK_NAME_MAX bytes of 0x21..0x7e. */
#define PXS_SINK_NAME_MAX 64
/* The alert's texts: rule and id at most PXS_ALERT_TEXT_MAX bytes, key a
 * name (PXS_NAME_MAX). */
#define PXS_ALERT_TEXT_MAX 128

typedef struct org_cache_ent {
    char name[PXS_DICT_STR_MAX + 1];
    uint32_t id;
} org_cache_ent;

extern const char *const pxs_dbi_names[DBI__N];

struct px_store {
    MDB_env *env;
    MDB_dbi dbi[DBI__N];
    bool read_only;
    /* The tables the store has: DBI__N, or PXS_TABLES_V2 for a format-2
     * store opened read-only (no alerts). */
    int n_tables;
    /* Entries of the feed reader's tables (DBI_STATE..) as of the last
     * commit, for the format row: a transaction that did not touch them
     * (the bit of its table in `touched`) does not count them again. */
    uint64_t feed_entries[DBI__N];
    unsigned touched;
    size_t maxkey;
    int data_fd; /* data.mdb, for the checked reader (pread) */
    px_store_batch *batch;
    /* org ids already resolved; entries past n_committed came from an open
     * batch and are dropped if it aborts */
    org_cache_ent *orgs;
    size_t n_orgs, n_committed, cap_orgs;
    uint64_t collisions; /* of committed batches: px_store_stats */
    uint64_t damaged;    /* reports made (atomic: query threads report too) */
    px_store_damage_fn on_damage;
    void *damage_ctx;
    bool drop_damaged_log;
    px_store_enrich_fn enrich; /* px_store_opts */
    void *enrich_ctx;
    px_change_sink feed;
    px_store_changelog_fn changelog; /* px_store_opts */
    void *changelog_ctx;
    /* The format the format row says: PXS_FORMAT_TABLES until the store
     * holds a changelog position (then PXS_FORMAT, docs/STORE-FORMAT.md). */
    uint64_t format;
    uint64_t *org_new; /* by org id: new records of committed transactions */
    size_t n_org_new;
    /* big batches (px_store_apply.c) */
    char *dir, *log_path;
    bool log_pending;    /* a committed batch log is not fully applied */
    bool log_dir_synced; /* the log's directory entry is on disk */
    uint32_t chunk_records, apply_limit;
};

px_err pxs_map_mdb(int rc);
/* Reports damage: counts it and calls on_damage (any thread). */
void pxs_report(px_store *s, const char *where, const char *what);
/* Reports damage in the entry of key in table dbi ("table rec, record
 * www.example.com A 192.0.2.1: what"); returns PX_ERR_DAMAGED. */
px_err pxs_report_key(px_store *s, int dbi, const void *key, size_t klen, const char *what);

/* A snapshot read through the checked reader (px_store_file.h): an LMDB
 * read transaction pins it (the writer reuses none of its pages), the
 * reader reads its pages with pread. Reports go to pxs_report and count in
 * f.findings. */
typedef struct pxs_snap {
    px_store *s;
    MDB_txn *txn;
    pxs_file f;
    pxs_tree main;
    pxs_db db[DBI__N];
    bool have[DBI__N];
    pxs_tree t[DBI__N];
    bool t_ready[DBI__N];
    /* the meta row, if the walk of the main tree's tables met it */
} pxs_snap;

/* Begins a snapshot: reads the meta pages (at or after the transaction),
 * checks the file size, walks the main tree and checks the records of the
 * store's tables (a missing or damaged one is reported). mark: keep the
 * full walk's page map. PX_ERR_DAMAGED when the file cannot be read at
 * all (reported), _IO, _NOMEM, _AGAIN. Free with pxs_snap_end (NULL fine). */
px_err pxs_snap_begin(px_store *s, bool mark, pxs_snap **out);
/* The reader of a table; NULL if its record is missing or damaged. */
pxs_tree *pxs_snap_tree(pxs_snap *sn, int dbi);
void pxs_snap_end(pxs_snap *sn);
/* Reports damage found in the snapshot (counts in f.findings too). */
px_err pxs_snap_damage(pxs_snap *sn, int dbi, const void *key, size_t klen, const char *what);
/* px_store_verify(); log: check a pending batch log too (the open leaves
 * that to px_store_resume, which may be told to drop it). */
px_err pxs_verify(px_store *s, px_store_check level, bool log, px_store_verify_result *out);
/* px_store_alert.c: the feed reader's tables. Why key/value of table dbi
 * (DBI_STATE, DBI_ALERT, DBI_SINK) is not one the store writes, or NULL;
 * the payload without its checksum. */
const char *pxs_feed_key_check(int dbi, const uint8_t *key, size_t klen);
const char *pxs_feed_value_check(int dbi, const uint8_t *val, size_t n);
/* Decodes an alert's payload (pointers into v; strings NUL-terminated in
 * it): PX_ERR_MALFORMED if it does not. */
px_err pxs_alert_decode(const uint8_t *key, const uint8_t *v, size_t n, px_alert *a);

/* The store's format row through the reader: PX_OK, PX_ERR_NOTFOUND (none),
 * PX_ERR_DAMAGED (reported). */
px_err pxs_snap_meta(pxs_snap *sn, pxs_meta_row *m);
#define PXS_RDX_KEY_MAX 520
/* Text of a dictionary id (DBI_ORG_I, DBI_ASO_I) into out
 * (PXS_DICT_STR_MAX + 1), through the checked reader: PX_ERR_DAMAGED (id
 * unknown, or its entry damaged: reported). */
px_err pxs_dict_lookup(pxs_snap *sn, int di, uint32_t id, char *out);

#endif
