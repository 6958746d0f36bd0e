/* px_store.c: the consumer's LMDB store.
 *
 * Layout (one LMDB environment, named DBIs; the versioned specification,
 * store format 2, is docs/STORE.md). Every value below ends with a 4-byte
 * checksum of its key and payload (px_store_codec.c, pxs_val_seal); the
 * payloads are:
 *
 *   rec   key  reversed name ("com.example.www"), NUL, rrtype (2 bytes, big
 *             endian), rdata: A/AAAA as 4/16 binary bytes, others as text.
 *             Reversed names make "*.example.com" one prefix range
 *             ("com.example.") in name order. If the key would reach the
 *             LMDB key limit (511), it is cut to exactly that size: the
 *             rdata prefix and an FNV-1a 64 of the whole rdata, and the
 *             rdata itself moves into the value (flag LONG).
 *         val  flags u8; varint count; zigzag time_first; varint
 *             time_last - time_first; varint n_orgs, then per organisation
 *             (ascending id) varint id delta, varint org_first - time_first,
 *             varint time_last - org_last; bailiwick either as a byte offset
 *             into rrname (it is nearly always a suffix of it) or as text;
 *             GeoIP (country len+bytes, varint asn+1, varint AS-org id);
 *             the long rdata.
 *   rdx   key 'a'+4 bytes or 'b'+16 bytes (addresses), or 'n'+name+NUL
 *             (CNAME/NS/PTR/DNAME targets, MX exchanges, SRV targets),
 *             then the record's reversed name, NUL, and (names only) the
 *             rrtype and, where the rec key's rdata part is not the
 *             indexed name (MX, SRV, a target not in lower case or with a
 *             trailing dot), that rdata part: one entry per record, so a
 *             lookup is a prefix scan, and records of one owner and type
 *             that name one target (MX 10 and MX 20 mx.example.com, SRV
 *             records with different ports) keep an entry each. The payload
 *             is empty: the rec key is rebuilt from the entry. If the rdata
 *             part would take the key past the limit, the key is cut to it
 *             (the rdata part's prefix, then as much of its FNV-1a 64 as
 *             fits: none if the key up to the rrtype is at the limit, where
 *             such records share one entry) and the rdata part moves into
 *             the value. Entries whose key up to the rrtype passes the
 *             limit are skipped. Written once, when the record is new.
 *   dom   key registered domain; val zigzag first, varint last - first,
 *             varint n, org id deltas.
 *   off   key topic, NUL, partition (4 bytes big endian); val zigzag
 *             varint of the next offset. Written in the same transaction
 *             as the data, so a crash replays exactly the lost batch.
 *             Also, under keys starting with a NUL (never a topic): the
 *             mark of a batch log being applied (NUL "log"; varint id of
 *             the transaction that committed it, next chunk, chunks), the
 *             row the page-release transaction writes (NUL "gc"), and the
 *             format row (NUL "meta"; varint format 2, varint number of
 *             tables, each table's entries), the last write of every
 *             transaction: a store without it is of the format before
 *             checksums and is refused.
 *   batch.log (a file beside data.mdb) the sorted deltas of the last big
 *             batch (see "big batches"; format in px_store_log.c).
 *   org_n / org_i   org id text <-> small integer (1, 2, ...).
 *   aso_n / aso_i   AS organisation text <-> small integer (interned).
 *
 * Durability: MDB_NOMETASYNC. Each commit fsyncs the data pages but not
 * the meta page; the meta page reaches the disk with the next commit. A
 * killed process loses nothing (the OS holds the pages); a power loss may
 * undo the last commit, data and offsets together, so Kafka replays it:
 * never a torn or doubly counted batch. One fsync per batch of thousands
 * (a big batch: its log, then one per transaction of its application; a
 * power loss that undoes one of those undoes the mark's move with it, so
 * the chunk is applied again, once).
 * MDB_NOTLS: read transactions are not tied to threads.
 *
 * Errors: a bad observation (PX_ERR_INVAL, _MALFORMED for an A/AAAA rdata
 * that is no address, _TOOLONG, _UNSUPPORTED for two overlong rdata of one
 * batch under the same 64-bit hash) fails that merge only; the caller
 * counts it and goes on. The merge does not read stored records or
 * domains: the flush does (see "batches"). A stored value or dictionary
 * entry that fails its checksum, does not decode or disagrees with its key
 * is damage (PX_ERR_DAMAGED): reported (pxs_report: where and what, to
 * px_store_opts.on_damage), never merged into, replaced or built on; the
 * batch fails, as for a failure of the store itself (_FULL, _NOMEM, _IO):
 * every later call returns it and commit aborts. (Before store format 2
 * such a value was replaced by the batch's data: a store that cannot be
 * trusted now stops the consumer instead, issue 9.) A stored overlong
 * rdata that differs from the batch's under the same key (a hash
 * collision) keeps the stored record and drops the batch's observations of
 * it (px_store_stats.collisions). The writer walks the whole file when it
 * opens (px_store_opts.check: px_store_check.c); readers check what they
 * read (px_store_file.c). px_store_stats.bytes counts the pages of the
 * trees: LMDB's free pages (old copies awaiting reuse) are excluded. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dns/px_addr.h"
#include "core/px_arena.h"
#include "dns/px_dns_msg.h"
#include "core/px_hash.h"
#include "store/px_store.h"
#include "px_store_int.h"

#define PXS_DEFAULT_MAP (64ULL << 30)

const char *const pxs_dbi_names[DBI__N] = {"rec",   "rdx",   "dom",   "off",
                                           "org_n", "org_i", "aso_n", "aso_i"};

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
    brdx *rdx;         /* reverse-index entry, made by the flush if the record is new */
    pxs_rec rec;       /* the batch's observations merged (the delta); strings in the arena */
} brec;

typedef struct bdom { /* one registered domain touched by the batch */
    bkey k;
    pxs_dom dom; /* the batch's observations merged (the delta) */
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

struct px_store_batch {
    px_store *s;
    MDB_txn *txn;
    MDB_cursor *rec_c, *dom_c, *rdx_c;
    px_err failed; /* sticky: a write failed, the batch can only abort */
    px_arena *arena;
    btab recs, doms;
    uint64_t seed;
    pxs_buf val;
    pxs_rec cur;  /* the flush's decoded stored record (its org array is reused) */
    pxs_dom dcur; /* the same for domains */
    bpend *pend;  /* new records whose AS organisation is new to the dictionary */
    size_t n_pend, cap_pend;
    uint64_t n_collisions; /* the store's counter gets it at commit */
    uint64_t *org_new;     /* by org id: records new to the store (the same) */
    size_t n_org_new;
    boff *offs; /* written by the commit, not one put per message */
    size_t n_offs, cap_offs, last_off;
    /* the GeoIP of the records the flush finds new: the store's hook,
     * else the text callback of the latest compatibility merge that gave
     * one */
    px_store_enrich_fn enrich;
    void *enrich_ctx;
    px_store_geo_fn text_geo;
    void *text_geo_ctx;
    bool delivered;       /* the open transaction delivered changes to the feed */
    struct aso_name *aso; /* AS organisations the feed resolved (by id) */
    size_t n_aso, cap_aso;
    /* big batches: the log being written */
    bool log;
    pxs_logw logw;
    pxs_buf chunk;
    uint64_t n_lost; /* log chunks that could not be applied */
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
};

px_err pxs_map_mdb(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return PX_OK;
    case MDB_NOTFOUND:
        return PX_ERR_NOTFOUND;
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
        return PX_ERR_FULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
        return PX_ERR_DAMAGED;
    case MDB_VERSION_MISMATCH:
        return PX_ERR_UNSUPPORTED;
    case MDB_BAD_VALSIZE:
        return PX_ERR_MALFORMED;
    case ENOMEM:
        return PX_ERR_NOMEM;
    case EINVAL:
        return PX_ERR_INVAL;
    default:
        return PX_ERR_IO;
    }
}

/* ---- names and keys ---- */

/* Lowercases and strips one trailing dot into out (PXS_NAME_MAX + 1). A
 * stored name is presentation text: bytes 0x21..0x7e only (what a reader
 * checks a stored key against). */
px_err pxs_norm_name(const char *in, char *out, size_t *len)
{
    size_t n = strlen(in);
    if (n > 1 && in[n - 1] == '.')
        n--;
    if (n > PXS_NAME_MAX)
        return PX_ERR_TOOLONG;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if ((unsigned char)c < 0x21 || (unsigned char)c > 0x7e)
            return PX_ERR_INVAL;
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
    *len = n;
    return PX_OK;
}

/* Record key: fills key (maxkey bytes). long_rdata: rdata goes to the value. */
static px_err rec_key(const px_store *s, const char *name, size_t name_len, uint16_t type,
                      const uint8_t *rd, size_t rd_len, uint8_t *key, size_t *klen,
                      bool *long_rdata)
{
    char rev[PXS_NAME_MAX + 1];
    pxs_name_reverse(name, name_len, rev);
    size_t h = name_len + 3;
    memcpy(key, rev, name_len);
    key[name_len] = 0;
    key[name_len + 1] = (uint8_t)(type >> 8);
    key[name_len + 2] = (uint8_t)type;
    *long_rdata = h + rd_len >= s->maxkey;
    if (!*long_rdata) {
        memcpy(key + h, rd, rd_len);
        *klen = h + rd_len;
        return PX_OK;
    }
    size_t keep = s->maxkey - h - 8;
    memcpy(key + h, rd, keep);
    uint64_t fp = pxs_fnv64(rd, rd_len);
    for (int i = 0; i < 8; i++)
        key[h + keep + (size_t)i] = (uint8_t)(fp >> (56 - 8 * i));
    *klen = s->maxkey;
    return PX_OK;
}

/* Skips `fields` space-separated fields (MX preference, SRV numbers). */
static const char *skip_fields(const char *s, int fields)
{
    for (int i = 0; i < fields; i++) {
        s = strchr(s, ' ');
        if (!s)
            return NULL;
        while (*s == ' ')
            s++;
    }
    return s;
}

/* Reverse-index prefix of a value: 'a'/'b' + address bytes, or 'n' + name
 * + NUL. Returns false if the record type is not indexed. */
bool pxs_rdx_prefix(uint16_t type, const uint8_t *rd, size_t rd_len, const char *text, uint8_t *out,
                    size_t *olen)
{
    if (type == 1 || type == 28) {
        out[0] = type == 1 ? 'a' : 'b';
        memcpy(out + 1, rd, rd_len);
        *olen = rd_len + 1;
        return true;
    }
    const char *target = NULL;
    if (type == 5 || type == 2 || type == 12 || type == 39)
        target = text;
    else if (type == 15)
        target = skip_fields(text, 1);
    else if (type == 33)
        target = skip_fields(text, 3);
    if (!target || !*target || strcmp(target, ".") == 0)
        return false;
    size_t n;
    if (pxs_norm_name(target, (char *)out + 1, &n) != PX_OK)
        return false;
    out[0] = 'n';
    out[n + 1] = 0;
    *olen = n + 2;
    return true;
}

/* Ends a name entry's key (klen bytes so far, up to the rrtype) with the
 * rec key's rdata part, which tells apart the records of one owner and
 * type that name one target. Where it does not fit, the key is cut to the
 * limit as rec_key cuts an overlong rdata (its prefix, then as much of its
 * FNV-1a 64 as fits) and the rdata part goes into the value. Returns the
 * key's length. */
static size_t rdx_tail(const px_store *s, const uint8_t *rd, size_t rd_len, uint8_t *key,
                       size_t klen, MDB_val *v)
{
    size_t room = s->maxkey - klen;
    if (rd_len <= room) {
        memcpy(key + klen, rd, rd_len);
        return klen + rd_len;
    }
    size_t keep = room > 8 ? room - 8 : 0;
    memcpy(key + klen, rd, keep);
    uint64_t fp = pxs_fnv64(rd, rd_len);
    for (size_t i = 0; keep + i < room; i++)
        key[klen + keep + i] = (uint8_t)(fp >> (56 - 8 * i));
    *v = (MDB_val){rd_len, (void *)rd};
    return s->maxkey;
}

/* Reverse-index entry of a new record (layout at the top): prefix,
 * reversed name, NUL, then for names the rrtype and, where the record
 * key's rdata part is not the indexed name (MX, SRV, odd case), that part.
 * *v: the value's payload (empty, or the rdata part of a key cut to the
 * limit). Returns false (no entry) for unindexed types and where the key
 * up to the rrtype would pass the key limit. */
static bool rdx_entry(const px_store *s, uint16_t type, const char *text, const uint8_t *rkey,
                      size_t rklen, size_t name_len, uint8_t *key, MDB_val *k, MDB_val *v)
{
    const uint8_t *rd = rkey + name_len + 3;
    size_t rd_len = rklen - name_len - 3, plen;
    if (!pxs_rdx_prefix(type, rd, rd_len, text, key, &plen))
        return false;
    bool addr = key[0] != 'n';
    size_t klen = plen + name_len + 1 + (addr ? 0 : 2);
    if (klen > s->maxkey)
        return false;
    memcpy(key + plen, rkey, name_len + 1);
    if (!addr)
        memcpy(key + plen + name_len + 1, rkey + name_len + 1, 2);
    *v = (MDB_val){0, (void *)""};
    const uint8_t *payload = key + 1; /* an address's bytes are its rdata part */
    size_t pay_len = addr ? plen - 1 : plen - 2;
    if (pay_len != rd_len || memcmp(payload, rd, rd_len) != 0)
        klen = rdx_tail(s, rd, rd_len, key, klen, v);
    *k = (MDB_val){klen, key};
    return true;
}

/* ---- open / close ---- */

/* The format row (docs/STORE.md): the format, then every table's number
 * of entries, written last in every write transaction so that a walk of
 * the file can tell entries that are missing. */
static px_err meta_put(const px_store *s, MDB_txn *txn)
{
    pxs_meta_row m = {.format = PXS_FORMAT, .n_tables = DBI__N};
    for (int i = 0; i < DBI__N; i++) {
        MDB_stat st;
        int rc = mdb_stat(txn, s->dbi[i], &st);
        if (rc)
            return pxs_map_mdb(rc);
        m.entries[i] = st.ms_entries;
    }
    MDB_val k = {sizeof pxs_meta_key, (void *)pxs_meta_key}, v;
    if (mdb_get(txn, s->dbi[DBI_OFF], &k, &v) == MDB_NOTFOUND)
        m.entries[DBI_OFF]++; /* the row itself */
    pxs_buf b = {0};
    px_err err = pxs_meta_encode(&m, &b);
    if (!err) {
        v = (MDB_val){b.len, b.p};
        err = pxs_map_mdb(mdb_put(txn, s->dbi[DBI_OFF], &k, &v, 0));
    }
    free(b.p);
    return err;
}

/* Commits a write transaction with its format row; aborts it on failure. */
static int txn_commit(const px_store *s, MDB_txn *txn)
{
    px_err err = meta_put(s, txn);
    if (err) {
        mdb_txn_abort(txn);
        return err == PX_ERR_FULL ? MDB_MAP_FULL : err == PX_ERR_NOMEM ? ENOMEM : EIO;
    }
    return mdb_txn_commit(txn);
}

/* Creates (a new store, with its format row) or opens the tables. */
static px_err open_dbis(px_store *s, bool fresh, char *errbuf, size_t errlen)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, s->read_only ? MDB_RDONLY : 0, &txn);
    for (int i = 0; rc == 0 && i < DBI__N; i++) {
        unsigned flags = fresh ? MDB_CREATE : 0;
        if (i == DBI_ORG_I || i == DBI_ASO_I)
            flags |= MDB_INTEGERKEY;
        rc = mdb_dbi_open(txn, pxs_dbi_names[i], flags, &s->dbi[i]);
    }
    if (rc == 0)
        rc = fresh ? txn_commit(s, txn) : mdb_txn_commit(txn);
    else if (txn)
        mdb_txn_abort(txn);
    if (rc)
        snprintf(errbuf, errlen, "store: opening tables: %s", mdb_strerror(rc));
    return pxs_map_mdb(rc);
}

static px_err marker_read(px_store *s, uint64_t *id, uint64_t *next, uint64_t *total);

/* The batch log's settings, and whether the last batch left one pending. */
static px_err open_log(px_store *s, const char *dir, const px_store_opts *o, char *errbuf,
                       size_t errlen)
{
    s->chunk_records = o->chunk_records ? o->chunk_records : PXS_CHUNK_RECORDS;
    s->apply_limit = o->apply_limit;
    size_t n = strlen(dir) + sizeof "/batch.log";
    s->dir = strdup(dir);
    s->log_path = malloc(n);
    if (!s->dir || !s->log_path) {
        snprintf(errbuf, errlen, "store: out of memory");
        return PX_ERR_NOMEM;
    }
    snprintf(s->log_path, n, "%s/batch.log", dir);
    if (s->read_only)
        return PX_OK;
    uint64_t id, next, total;
    px_err err = marker_read(s, &id, &next, &total);
    s->log_pending = err != PX_ERR_NOTFOUND;
    if (err == PX_ERR_NOTFOUND || err == PX_ERR_DAMAGED) /* resume says what is wrong */
        return PX_OK;
    if (err)
        snprintf(errbuf, errlen, "store: reading the batch log mark: %s", px_strerror(err));
    return err;
}

/* While the store opens: the first report, for the error message. */
typedef struct open_reports {
    px_store_damage_fn fn;
    void *ctx;
    char first[400];
} open_reports;

static void open_report(void *ctx, const char *where, const char *what)
{
    open_reports *r = ctx;
    if (!r->first[0])
        snprintf(r->first, sizeof r->first, "%s: %s", where, what);
    if (r->fn)
        r->fn(r->ctx, where, what);
}

/* Checks data.mdb, if there is one, before LMDB maps it: meta pages and
 * the file's size (a file cut short would kill the process with SIGBUS). */
static px_err open_file(px_store *s, const char *dir, char *errbuf, size_t errlen)
{
    char path[4096], why[256];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    s->data_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->data_fd < 0 && errno == ENOENT)
        return PX_OK; /* a new store (or none: LMDB says so) */
    if (s->data_fd < 0) {
        snprintf(errbuf, errlen, "store: open %s: %s", path, strerror(errno));
        return PX_ERR_IO;
    }
    pxs_file f;
    px_err err = pxs_file_init(&f, s->data_fd, 0, NULL, NULL, why, sizeof why);
    if (err == PX_ERR_DAMAGED)
        pxs_report(s, "data.mdb", why);
    if (err == PX_ERR_DAMAGED)
        snprintf(errbuf, errlen, "store: %s is damaged: %s", path, why);
    else if (err)
        snprintf(errbuf, errlen, "store: %s: %s", path, why);
    return err;
}

static px_err damaged_msg(px_err err, const open_reports *r, const char *dir, char *errbuf,
                          size_t errlen)
{
    if (err == PX_ERR_DAMAGED)
        snprintf(errbuf, errlen,
                 "store: %s/data.mdb is damaged: %s ('pdnsx-query verify' lists all it finds; "
                 "README: recovering a damaged store)",
                 dir, r->first[0] ? r->first : "see the reports before");
    else if (err)
        snprintf(errbuf, errlen, "store: reading %s/data.mdb: %s", dir, px_strerror(err));
    return err;
}

/* Before LMDB reads a page: the main tree and the tables' records through
 * the checked reader, and the format this code reads. *fresh: no tables
 * yet (a new store). */
static px_err open_check(px_store *s, const open_reports *r, const char *dir, bool *fresh,
                         char *errbuf, size_t errlen)
{
    pxs_snap *sn;
    px_err err = pxs_snap_begin(s, false, &sn);
    if (err)
        return damaged_msg(err, r, dir, errbuf, errlen);
    int have = 0;
    for (int i = 0; i < DBI__N; i++)
        have += sn->have[i];
    pxs_meta_row m = {0};
    px_err merr = have ? pxs_snap_meta(sn, &m) : PX_ERR_NOTFOUND;
    *fresh = !have && !sn->f.findings;
    if (sn->f.findings || merr == PX_ERR_DAMAGED || (merr && merr != PX_ERR_NOTFOUND))
        err = damaged_msg(merr && merr != PX_ERR_NOTFOUND ? merr : PX_ERR_DAMAGED, r, dir, errbuf,
                          errlen);
    else if (have && merr == PX_ERR_NOTFOUND) {
        snprintf(errbuf, errlen,
                 "store: %s was written by a pdnsx before store format %d (values without "
                 "checksums), which this one does not read: move it away and let "
                 "pdnsx-consumer rebuild it from Kafka (README: recovering a damaged store)",
                 dir, PXS_FORMAT);
        err = PX_ERR_UNSUPPORTED;
    } else if (have && m.format != PXS_FORMAT) {
        snprintf(errbuf, errlen, "store: %s has store format %llu; this pdnsx reads format %d%s",
                 dir, (unsigned long long)m.format, PXS_FORMAT,
                 m.format > PXS_FORMAT ? ": run the pdnsx that wrote it" : "");
        err = PX_ERR_UNSUPPORTED;
    } else if (have && have != DBI__N) {
        pxs_report(s, "data.mdb", "tables of the store are missing");
        err = damaged_msg(PX_ERR_DAMAGED, r, dir, errbuf, errlen);
    }
    pxs_snap_end(sn);
    return err;
}

/* A writable open walks the file as opts.check says before it hands the
 * store out: a consumer that cannot trust its store does not merge into
 * it. */
static px_err open_verify(px_store *s, px_store_check level, const open_reports *r, const char *dir,
                          char *errbuf, size_t errlen)
{
    if (s->read_only || level == PX_STORE_CHECK_META)
        return PX_OK;
    px_store_verify_result res;
    px_err err = pxs_verify(s, level, false, &res);
    if (err == PX_ERR_DAMAGED) {
        damaged_msg(err, r, dir, errbuf, errlen);
        size_t n = strlen(errbuf);
        if (res.findings > 1 && n < errlen)
            snprintf(errbuf + n, errlen - n, "; %llu damaged places in all",
                     (unsigned long long)res.findings);
    } else if (err) {
        damaged_msg(err, r, dir, errbuf, errlen);
    }
    return err;
}

static px_err open_env(px_store *s, const char *dir, const px_store_opts *o, char *errbuf,
                       size_t errlen)
{
    int rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, DBI__N);
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->env, o->map_bytes ? o->map_bytes : PXS_DEFAULT_MAP);
    unsigned flags = MDB_NOTLS | MDB_NOMETASYNC | (o->read_only ? MDB_RDONLY : 0);
    if (rc == 0)
        rc = mdb_env_open(s->env, dir, flags, 0644);
    if (rc) {
        snprintf(errbuf, errlen, "store: open %s: %s", dir, mdb_strerror(rc));
        return pxs_map_mdb(rc);
    }
    s->maxkey = (size_t)mdb_env_get_maxkeysize(s->env);
    if (s->data_fd < 0) { /* LMDB made it */
        char path[4096];
        snprintf(path, sizeof path, "%s/data.mdb", dir);
        s->data_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (s->data_fd < 0) {
            snprintf(errbuf, errlen, "store: open %s: %s", path, strerror(errno));
            return PX_ERR_IO;
        }
    }
    return PX_OK;
}

px_store *px_store_open(const char *dir, const px_store_opts *opts, px_err *err, char *errbuf,
                        size_t errlen)
{
    px_store_opts o = opts ? *opts : (px_store_opts){0};
    px_store *s = calloc(1, sizeof *s);
    if (!s) {
        *err = PX_ERR_NOMEM;
        snprintf(errbuf, errlen, "store: out of memory");
        return NULL;
    }
    s->data_fd = -1;
    s->read_only = o.read_only;
    s->drop_damaged_log = o.drop_damaged_log;
    s->enrich = o.enrich;
    s->enrich_ctx = o.enrich_ctx;
    s->feed = o.feed;
    open_reports r = {.fn = o.on_damage, .ctx = o.damage_ctx};
    s->on_damage = open_report;
    s->damage_ctx = &r;
    *err = PX_OK;
    if (!o.read_only && mkdir(dir, 0755) != 0 && errno != EEXIST) {
        *err = PX_ERR_IO;
        snprintf(errbuf, errlen, "store: mkdir %s: %s", dir, strerror(errno));
    }
    bool fresh = false;
    if (!*err)
        *err = open_file(s, dir, errbuf, errlen);
    if (!*err)
        *err = open_env(s, dir, &o, errbuf, errlen);
    if (!*err)
        *err = open_check(s, &r, dir, &fresh, errbuf, errlen);
    if (!*err)
        *err = open_dbis(s, fresh && !o.read_only, errbuf, errlen);
    if (!*err && !fresh)
        *err = open_verify(s, o.check, &r, dir, errbuf, errlen);
    if (!*err)
        *err = open_log(s, dir, &o, errbuf, errlen);
    s->on_damage = o.on_damage;
    s->damage_ctx = o.damage_ctx;
    if (*err) {
        px_store_close(s);
        return NULL;
    }
    return s;
}

void px_store_close(px_store *s)
{
    if (!s)
        return;
    px_store_batch_abort(s->batch);
    if (s->env)
        mdb_env_close(s->env);
    if (s->data_fd >= 0)
        close(s->data_fd);
    free(s->orgs);
    free(s->org_new);
    free(s->dir);
    free(s->log_path);
    free(s);
}

/* ---- dictionaries ---- */

/* Id of str[0..len) in dictionary dn: PX_ERR_NOTFOUND if absent,
 * _DAMAGED (reported) if its stored id fails its checks. */
static px_err dict_find(px_store_batch *b, int dn, const char *str, size_t len, uint32_t *id)
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
    uint64_t x = pxs_wire_varint(&w);
    if (px_wire_err(&w) || px_wire_avail(&w) || x == 0 || x > UINT32_MAX)
        return pxs_report_key(b->s, dn, str, len, "the id does not decode");
    *id = (uint32_t)x;
    return PX_OK;
}

/* Gives str[0..len) the next free id of the pair (dn, di). */
static px_err dict_add(px_store_batch *b, int dn, int di, const char *str, size_t len, uint32_t *id)
{
    px_store *s = b->s;
    MDB_cursor *c;
    int rc = mdb_cursor_open(b->txn, s->dbi[di], &c);
    if (rc)
        return pxs_map_mdb(rc);
    MDB_val lk, lv;
    rc = mdb_cursor_get(c, &lk, &lv, MDB_LAST);
    mdb_cursor_close(c);
    uint32_t next = 1;
    if (rc == 0) {
        memcpy(&next, lk.mv_data, lk.mv_size == sizeof next ? sizeof next : 0);
        if (lk.mv_size != sizeof next || next == UINT32_MAX)
            return pxs_report_key(s, di, lk.mv_data, lk.mv_size, "the last id is no id");
        next++;
    } else if (rc != MDB_NOTFOUND) {
        return pxs_map_mdb(rc);
    }
    uint8_t enc[10 + PXS_SUM_LEN], txt[PXS_DICT_STR_MAX + PXS_SUM_LEN];
    pxs_buf eb = {enc, 0, sizeof enc}, tb = {txt, len, sizeof txt};
    pxs_buf_put_varint(&eb, next);
    memcpy(txt, str, len);
    pxs_val_seal(dn, str, len, &eb); /* room reserved: no realloc of the arrays */
    pxs_val_seal(di, &next, sizeof next, &tb);
    MDB_val k = {len, (void *)str}, nv = {eb.len, enc}, ik = {sizeof next, &next},
            iv = {tb.len, txt};
    rc = mdb_put(b->txn, s->dbi[dn], &k, &nv, 0);
    if (rc == 0)
        rc = mdb_put(b->txn, s->dbi[di], &ik, &iv, 0);
    *id = next;
    return pxs_map_mdb(rc);
}

/* Id of `str` in a dictionary pair, creating it if absent. */
static px_err dict_intern(px_store_batch *b, int dn, int di, const char *str, uint32_t *id)
{
    size_t len = strlen(str);
    if (len == 0 || len > PXS_DICT_STR_MAX)
        return len ? PX_ERR_TOOLONG : PX_ERR_INVAL;
    px_err err = dict_find(b, dn, str, len, id);
    return err == PX_ERR_NOTFOUND ? dict_add(b, dn, di, str, len, id) : err;
}

static px_err org_id(px_store_batch *b, const char *org, uint32_t *id)
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
    if (s->n_orgs == s->cap_orgs) {
        size_t cap = s->cap_orgs ? s->cap_orgs * 2 : 16;
        org_cache_ent *p = realloc(s->orgs, cap * sizeof *p);
        if (!p)
            return PX_OK; /* the cache is an optimisation only */
        s->orgs = p;
        s->cap_orgs = cap;
    }
    snprintf(s->orgs[s->n_orgs].name, sizeof s->orgs[0].name, "%s", org);
    s->orgs[s->n_orgs++].id = *id;
    return PX_OK;
}

/* ---- batches ----
 *
 * A batch aggregates in memory, without reading the store: the first
 * observation of a record (or registered domain) in the batch starts an
 * entry holding only the batch's observations (a delta), later ones merge
 * into it. The flush walks the entries in key order through the table's
 * write cursor, which stays on the page it just wrote, so reading a stored
 * value is mostly a search within one page rather than a descent of the
 * tree (the random reads of the merge were most of the store's CPU). For
 * each entry it reads the stored value, merges the delta into it and
 * writes it back in place. A record absent from the store is new: its
 * GeoIP answer is looked up and its reverse-index entry built then, once.
 * A stored value that fails its checks is damage: the flush fails (nothing
 * of the batch commits); an overlong rdata whose 64-bit hash meets a
 * different stored one keeps the stored record (the delta is dropped;
 * counted as collisions). The flush runs at commit; a
 * batch that grows past PXS_SPILL_ENTRIES / PXS_SPILL_BYTES moves what it
 * holds to the batch log first, which bounds its memory (see "big
 * batches"). */

/* Copy of n bytes in arena a. */
static const void *arena_dup(px_arena *a, const void *p, size_t n)
{
    void *q = px_arena_alloc(a, n ? n : 1);
    if (q && n)
        memcpy(q, p, n);
    return q;
}

static bslot *btab_find(btab *t, uint64_t h, const uint8_t *key, size_t klen)
{
    size_t mask = t->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        bslot *sl = &t->slot[i];
        if (!sl->e || (sl->h == h && sl->e->klen == klen && memcmp(sl->e->key, key, klen) == 0))
            return sl;
    }
}

/* Room for one more entry. */
static px_err btab_reserve(btab *t)
{
    if (t->cap && (t->n + 1) * 2 <= t->cap)
        return PX_OK;
    size_t cap = t->cap ? t->cap * 2 : 1024;
    bslot *slot = calloc(cap, sizeof *slot);
    if (!slot)
        return PX_ERR_NOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slot[i].e)
            continue;
        size_t j = (size_t)t->slot[i].h & (cap - 1);
        while (slot[j].e)
            j = (j + 1) & (cap - 1);
        slot[j] = t->slot[i];
    }
    free(t->slot);
    t->slot = slot;
    t->cap = cap;
    return PX_OK;
}

/* Frees what the entries own (their org arrays) and empties the tables;
 * the caller resets the arena. */
static void batch_clear(px_store_batch *b)
{
    for (size_t i = 0; i < b->recs.cap; i++) {
        if (b->recs.slot[i].e)
            pxs_rec_release(&((brec *)b->recs.slot[i].e)->rec);
    }
    for (size_t i = 0; i < b->doms.cap; i++) {
        if (b->doms.slot[i].e)
            pxs_dom_release(&((bdom *)b->doms.slot[i].e)->dom);
    }
    if (b->recs.n)
        memset(b->recs.slot, 0, b->recs.cap * sizeof *b->recs.slot);
    if (b->doms.n)
        memset(b->doms.slot, 0, b->doms.cap * sizeof *b->doms.slot);
    b->recs.n = b->doms.n = 0;
}

/* Begins the batch's write transaction with its cursors. */
static px_err txn_open(px_store_batch *b)
{
    const px_store *s = b->s;
    int rc = mdb_txn_begin(s->env, NULL, 0, &b->txn);
    if (rc == 0)
        rc = mdb_cursor_open(b->txn, s->dbi[DBI_REC], &b->rec_c);
    if (rc == 0)
        rc = mdb_cursor_open(b->txn, s->dbi[DBI_DOM], &b->dom_c);
    if (rc == 0)
        rc = mdb_cursor_open(b->txn, s->dbi[DBI_RDX], &b->rdx_c);
    if (rc && b->txn) {
        mdb_txn_abort(b->txn); /* frees its cursors */
        b->txn = NULL;
    }
    return pxs_map_mdb(rc);
}

static void batch_free(px_store_batch *b);

/* A batch object without a transaction; registered as the store's. */
static px_store_batch *batch_new(px_store *s)
{
    px_store_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->arena = px_arena_create(256 * 1024);
    if (!b->arena) {
        free(b);
        return NULL;
    }
    /* per batch, so crafted names cannot aim at one probe sequence */
    b->seed = (uint64_t)(uintptr_t)b ^ ((uint64_t)time(NULL) << 20) ^ (uint64_t)clock();
    b->logw.fd = -1;
    b->enrich = s->enrich;
    b->enrich_ctx = s->enrich_ctx;
    b->text_geo = s->text_geo;
    b->text_geo_ctx = s->text_geo_ctx;
    b->s = s;
    s->batch = b;
    return b;
}

px_err px_store_batch_begin(px_store *s, px_store_batch **out)
{
    *out = NULL;
    if (s->read_only)
        return PX_ERR_INVAL;
    if (s->batch || s->log_pending)
        return PX_ERR_AGAIN;
    px_store_batch *b = batch_new(s);
    if (!b)
        return PX_ERR_NOMEM;
    px_err err = txn_open(b);
    if (err) {
        batch_free(b);
        return err;
    }
    *out = b;
    return PX_OK;
}

/* Errors of the store itself (as opposed to a bad observation) may leave a
 * merge or a flush half done, and LMDB refuses further writes after
 * MDB_MAP_FULL: they fail the whole batch. */
static px_err batch_check(px_store_batch *b, px_err err)
{
    if (err == PX_ERR_FULL || err == PX_ERR_NOMEM || err == PX_ERR_IO || err == PX_ERR_DAMAGED)
        b->failed = err;
    return err;
}

static void feed_end(px_store_batch *b, bool committed);

static void batch_free(px_store_batch *b)
{
    if (b->txn) {
        mdb_txn_abort(b->txn);
        feed_end(b, false);
    }
    if (b->logw.fd >= 0) { /* a log that was not committed: its space back */
        if (ftruncate(b->logw.fd, 0) != 0) {
            /* the next log truncates it anyway */
        }
        pxs_logw_close(&b->logw);
    }
    free(b->chunk.p);
    free(b->ring);
    free(b->rdxs);
    px_arena_destroy(b->rdx_arena);
    b->s->batch = NULL;
    batch_clear(b);
    pxs_rec_release(&b->cur);
    pxs_dom_release(&b->dcur);
    free(b->pend);
    free(b->recs.slot);
    free(b->doms.slot);
    px_arena_destroy(b->arena);
    free(b->val.p);
    free(b->offs);
    free(b->org_new);
    free(b->aso);
    free(b);
}

/* The table's entries sorted by key, in the arena; NULL on no memory. */
static bkey **btab_sorted(px_store_batch *b, const btab *t)
{
    bkey **v = px_arena_alloc(b->arena, (t->n ? t->n : 1) * sizeof *v);
    if (!v)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slot[i].e)
            v[n++] = t->slot[i].e;
    }
    return pxs_bkeys_sort(b->arena, v, n) ? v : NULL;
}

/* The stored rdata decides for an overlong one: the key holds its prefix
 * and hash only. */
static bool long_rdata_differs(const pxs_rec *stored, const pxs_rec *delta)
{
    return stored->rdata_len != delta->rdata_len ||
           memcmp(stored->rdata, delta->rdata, delta->rdata_len) != 0;
}

/* Merges a record's delta into its stored value s (as the observations
 * would have merged one by one). */
static px_err rec_merge(pxs_rec *s, const pxs_rec *d)
{
    uint64_t c = s->count + d->count;
    s->count = c < s->count ? UINT64_MAX : c;
    s->first = d->first < s->first ? d->first : s->first;
    s->last = d->last > s->last ? d->last : s->last;
    px_err err = PX_OK;
    for (size_t i = 0; i < d->n_orgs && !err; i++)
        pxs_rec_add_org(s, d->orgs[i].id, d->orgs[i].first, d->orgs[i].last, &err);
    if (!(s->flags & (PXS_F_BW_SUFFIX | PXS_F_BW_TEXT))) {
        s->flags |= d->flags & (PXS_F_BW_SUFFIX | PXS_F_BW_TEXT);
        s->bw_off = d->bw_off;
        s->bw_text = d->bw_text;
        s->bw_len = d->bw_len;
    }
    return err;
}

/* Holds a new record back until its AS organisation has an id. */
static px_err pend_add(px_store_batch *b, brec *e, const char *as_org)
{
    if (b->n_pend == b->cap_pend) {
        size_t cap = b->cap_pend ? 2 * b->cap_pend : 16;
        bpend *p = realloc(b->pend, cap * sizeof *p);
        if (!p)
            return PX_ERR_NOMEM;
        b->pend = p;
        b->cap_pend = cap;
    }
    const char *text = px_arena_strndup(b->arena, as_org, strlen(as_org));
    if (!text)
        return PX_ERR_NOMEM;
    b->pend[b->n_pend++] = (bpend){e, text};
    return PX_OK;
}

/* ---- the change feed (obs/px_change.h) ----
 *
 * Built by the flush, which alone knows what the store held before: a
 * record or domain it does not find is new, one it merges into grew if
 * the merge changed it. Built only with a sink; strings and arrays in the
 * batch's arena (reset after each flush or chunk). Organisation names come
 * from the org cache, else the dictionary (then cached); AS organisations
 * of stored records through the dictionary, once per id per batch. */

typedef struct aso_name {
    uint32_t id;
    char text[sizeof((px_geo *)0)->as_org];
} aso_name;

#define PXS_ASO_CACHE_MAX 1024

static bool feed_on(const px_store_batch *b)
{
    return b->s->feed.change != NULL;
}

/* After a transaction of the batch: committed (if it delivered changes)
 * or rolled back. */
static void feed_end(px_store_batch *b, bool committed)
{
    const px_change_sink *f = &b->s->feed;
    if (committed && b->delivered && f->committed)
        f->committed(f->ctx);
    else if (!committed && f->aborted)
        f->aborted(f->ctx);
    b->delivered = false;
}

static px_err feed_send(px_store_batch *b, const px_change *c)
{
    b->delivered = true;
    return b->s->feed.change(b->s->feed.ctx, c);
}

/* Text of id in dictionary di (DBI_ORG_I, DBI_ASO_I) through the write
 * transaction, into out (PXS_DICT_STR_MAX + 1): PX_ERR_DAMAGED (reported)
 * if the id is unknown or its entry fails its checks. */
static px_err dict_text(px_store_batch *b, int di, uint32_t id, char *out)
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

/* The name of organisation id, copied into the arena. */
static px_err org_name(px_store_batch *b, uint32_t id, const char **out)
{
    px_store *s = b->s;
    char name[PXS_DICT_STR_MAX + 1];
    const char *found = NULL;
    for (size_t i = 0; i < s->n_orgs && !found; i++) {
        if (s->orgs[i].id == id)
            found = s->orgs[i].name;
    }
    if (!found) {
        px_err err = dict_text(b, DBI_ORG_I, id, name);
        if (err)
            return err;
        found = name;
    }
    *out = px_arena_strndup(b->arena, found, strlen(found));
    return *out ? PX_OK : PX_ERR_NOMEM;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted names of the organisation ids ids[0..n) (stride bytes apart). */
static px_err org_names(px_store_batch *b, const void *ids, size_t stride, size_t n,
                        const char *const **out)
{
    const char **v = px_arena_alloc(b->arena, (n ? n : 1) * sizeof *v);
    if (!v)
        return PX_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        uint32_t id;
        memcpy(&id, (const uint8_t *)ids + i * stride, sizeof id);
        px_err err = org_name(b, id, &v[i]);
        if (err)
            return err;
    }
    qsort(v, n, sizeof *v, str_cmp);
    *out = v;
    return PX_OK;
}

/* Copies a NUL-terminated text into out[0..len), cut to fit. */
static void text_copy(char *out, size_t len, const char *text)
{
    size_t n = strnlen(text, len - 1);
    memcpy(out, text, n);
    out[n] = 0;
}

/* The text of AS organisation id of a stored record. */
static px_err aso_text(px_store_batch *b, uint32_t id, char *out, size_t len)
{
    for (size_t i = 0; i < b->n_aso; i++) {
        if (b->aso[i].id == id) {
            text_copy(out, len, b->aso[i].text);
            return PX_OK;
        }
    }
    char text[PXS_DICT_STR_MAX + 1];
    px_err err = dict_text(b, DBI_ASO_I, id, text);
    if (err)
        return err;
    text_copy(out, len, text);
    if (b->n_aso == b->cap_aso && b->cap_aso < PXS_ASO_CACHE_MAX) {
        size_t cap = b->cap_aso ? 2 * b->cap_aso : 16;
        aso_name *p = realloc(b->aso, cap * sizeof *p);
        if (p) {
            b->aso = p;
            b->cap_aso = cap;
        }
    }
    if (b->n_aso < b->cap_aso) {
        b->aso[b->n_aso].id = id;
        text_copy(b->aso[b->n_aso++].text, sizeof b->aso[0].text, text);
    }
    return PX_OK;
}

/* The GeoIP answer a stored record holds, into g; false if none. */
static px_err stored_geo(px_store_batch *b, const pxs_rec *r, px_geo *g, bool *has)
{
    *has = (r->flags & PXS_F_GEO) != 0;
    if (!*has)
        return PX_OK;
    *g = (px_geo){.asn = r->asn};
    memcpy(g->country, r->country, sizeof g->country);
    g->country[sizeof g->country - 1] = 0;
    return r->as_org ? aso_text(b, r->as_org, g->as_org, sizeof g->as_org) : PX_OK;
}

/* The key's parts as the feed gives them: rrname, rdata text, address
 * bytes. long_rd: the overlong rdata (from the value). */
static px_err change_key(px_store_batch *b, const brec *e, const uint8_t *long_rd, size_t long_len,
                         px_change_record *c)
{
    size_t nl = e->name_len, off = nl + 3;
    const uint8_t *tp = e->k.key + nl + 1;
    c->rrtype = (uint16_t)(tp[0] << 8 | tp[1]);
    char *name = px_arena_alloc(b->arena, nl + 1);
    if (!name)
        return PX_ERR_NOMEM;
    pxs_name_reverse((const char *)e->k.key, nl, name);
    c->rrname = name;
    c->rrname_len = nl;
    if (c->rrtype == 1 || c->rrtype == 28) {
        char *text = px_arena_alloc(b->arena, 64);
        if (!text)
            return PX_ERR_NOMEM;
        px_addr a = {.family = c->rrtype == 1 ? 4 : 6};
        c->addr = e->k.key + off;
        c->addr_len = c->rrtype == 1 ? 4 : 16;
        memcpy(a.bytes, c->addr, c->addr_len);
        px_addr_format(&a, text, 64);
        c->rdata = text;
        c->rdata_len = strlen(text);
        return PX_OK;
    }
    const uint8_t *rd = long_rd ? long_rd : e->k.key + off;
    size_t len = long_rd ? long_len : e->k.klen - off;
    c->rdata = px_arena_strndup(b->arena, (const char *)rd, len);
    c->rdata_len = len;
    return c->rdata ? PX_OK : PX_ERR_NOMEM;
}

/* A record the store did not hold: r is all of it; geo as enriched. */
static px_err feed_rec_new(px_store_batch *b, const brec *e, const px_geo *geo)
{
    px_change c = {.kind = PX_CHANGE_RECORD_NEW};
    px_change_record *x = &c.rec;
    const pxs_rec *r = &e->rec;
    px_err err = change_key(b, e, (r->flags & PXS_F_LONG) ? r->rdata : NULL, r->rdata_len, x);
    if (!err)
        err = org_names(b, r->orgs, sizeof *r->orgs, r->n_orgs, &x->orgs);
    if (err)
        return err;
    x->count = r->count;
    x->first = r->first;
    x->last = r->last;
    x->n_orgs = x->n_new_orgs = r->n_orgs;
    x->new_orgs = x->orgs;
    x->geo = geo;
    return feed_send(b, &c);
}

/* What a record held before the flush merged into it. */
typedef struct rec_before {
    uint64_t count;
    int64_t first, last;
    uint32_t *new_ids; /* the delta's organisations the record lacked */
    size_t n_new;
} rec_before;

static bool rec_has_org(const pxs_rec *r, uint32_t id)
{
    for (size_t i = 0; i < r->n_orgs; i++) {
        if (r->orgs[i].id == id)
            return true;
    }
    return false;
}

static px_err rec_before_take(px_store_batch *b, const pxs_rec *stored, const pxs_rec *delta,
                              rec_before *out)
{
    *out = (rec_before){stored->count, stored->first, stored->last, NULL, 0};
    out->new_ids = px_arena_alloc(b->arena, (delta->n_orgs ? delta->n_orgs : 1) * sizeof(uint32_t));
    if (!out->new_ids)
        return PX_ERR_NOMEM;
    for (size_t i = 0; i < delta->n_orgs; i++) {
        if (!rec_has_org(stored, delta->orgs[i].id))
            out->new_ids[out->n_new++] = delta->orgs[i].id;
    }
    return PX_OK;
}

/* A held record after the merge (r), if the merge changed it. */
static px_err feed_rec_grew(px_store_batch *b, const brec *e, const pxs_rec *r,
                            const rec_before *was)
{
    if (r->count == was->count && r->first == was->first && r->last == was->last && !was->n_new)
        return PX_OK;
    px_change c = {.kind = PX_CHANGE_RECORD_GREW};
    px_change_record *x = &c.rec;
    px_geo g;
    bool has_geo;
    px_err err = change_key(b, e, (r->flags & PXS_F_LONG) ? r->rdata : NULL, r->rdata_len, x);
    if (!err)
        err = org_names(b, r->orgs, sizeof *r->orgs, r->n_orgs, &x->orgs);
    if (!err)
        err = org_names(b, was->new_ids, sizeof *was->new_ids, was->n_new, &x->new_orgs);
    if (!err)
        err = stored_geo(b, r, &g, &has_geo);
    if (err)
        return err;
    x->count_before = was->count;
    x->first_before = was->first;
    x->last_before = was->last;
    x->count = r->count;
    x->first = r->first;
    x->last = r->last;
    x->n_orgs = r->n_orgs;
    x->n_new_orgs = was->n_new;
    x->geo = has_geo ? &g : NULL;
    return feed_send(b, &c);
}

static bool dom_has_org(const pxs_dom *d, uint32_t id)
{
    for (size_t i = 0; i < d->n_orgs; i++) {
        if (d->orgs[i] == id)
            return true;
    }
    return false;
}

/* A registered domain after the merge (d); stored: the store held it,
 * with the sightings first_before, last_before, and lacked the
 * organisations new_ids[0..n_new). */
static px_err feed_dom(px_store_batch *b, const bdom *e, const pxs_dom *d, bool stored,
                       int64_t first_before, int64_t last_before, const uint32_t *new_ids,
                       size_t n_new)
{
    px_change c = {.kind = PX_CHANGE_DOMAIN_FIRST};
    px_change_domain *x = &c.dom;
    x->prev_first_seen = INT64_MIN;
    if (stored) {
        if (d->first < first_before)
            x->prev_first_seen = first_before;
        else if (d->last > last_before || n_new)
            c.kind = PX_CHANGE_DOMAIN_GREW;
        else
            return PX_OK;
    }
    x->domain = px_arena_strndup(b->arena, (const char *)e->k.key, e->k.klen);
    if (!x->domain)
        return PX_ERR_NOMEM;
    x->len = e->k.klen;
    x->first_seen = d->first;
    x->last_seen = d->last;
    px_err err = org_names(b, d->orgs, sizeof *d->orgs, d->n_orgs, &x->orgs);
    if (!err && stored)
        err = org_names(b, new_ids, sizeof *new_ids, n_new, &x->new_orgs);
    if (err)
        return err;
    x->n_orgs = d->n_orgs;
    x->n_new_orgs = stored ? n_new : d->n_orgs;
    if (!stored)
        x->new_orgs = x->orgs;
    return feed_send(b, &c);
}

/* The GeoIP answer of addr[0..len): the store's hook, else the text
 * callback of the compatibility merge. */
static bool geo_lookup(const px_store_batch *b, const uint8_t *addr, size_t len, px_geo *g)
{
    if (b->enrich)
        return b->enrich(b->enrich_ctx, addr, len, g);
    return b->text_geo && pxs_text_geo(b->text_geo, b->text_geo_ctx, addr, len, g);
}

/* GeoIP answer of a new A/AAAA record, also into *g (*has_geo). *held:
 * its AS organisation is not in the dictionary yet, so the record waits
 * for flush_pending. */
static px_err rec_geo(px_store_batch *b, brec *e, uint16_t type, px_geo *g, bool *has_geo,
                      bool *held)
{
    *g = (px_geo){.asn = -1};
    *has_geo = geo_lookup(b, e->k.key + e->name_len + 3, type == 1 ? 4 : 16, g);
    if (!*has_geo)
        return PX_OK;
    pxs_rec *r = &e->rec;
    r->flags |= PXS_F_GEO;
    g->country[sizeof g->country - 1] = '\0';
    memset(r->country, 0, sizeof r->country);
    memcpy(r->country, g->country, strnlen(g->country, 3));
    r->asn = g->asn < -1 ? -1 : g->asn > (int64_t)UINT32_MAX ? (int64_t)UINT32_MAX : g->asn;
    g->asn = r->asn; /* as stored */
    r->as_org = 0;
    g->as_org[sizeof g->as_org - 1] = '\0';
    if (!g->as_org[0])
        return PX_OK;
    px_err err = dict_find(b, DBI_ASO_N, g->as_org, strlen(g->as_org), &r->as_org);
    if (err != PX_ERR_NOTFOUND)
        return err;
    *held = true;
    return pend_add(b, e, g->as_org);
}

/* Reverse-index entry of a new record (e->rdx), its value sealed, in the
 * batch's arena, or in the one that outlives the log's chunks while they
 * defer the entries. */
static px_err rec_rdx(px_store_batch *b, brec *e, uint16_t type)
{
    /* the rdata text: the key's rdata part (NUL-terminated here) or the
     * overlong rdata (NUL-terminated by the merge) */
    char buf[512];
    const char *text = (const char *)e->rec.rdata;
    if (!(e->rec.flags & PXS_F_LONG)) {
        size_t off = (size_t)e->name_len + 3;
        memcpy(buf, e->k.key + off, e->k.klen - off);
        buf[e->k.klen - off] = '\0';
        text = buf;
    }
    uint8_t rk[PXS_RDX_KEY_MAX], val[PXS_RDX_KEY_MAX + PXS_SUM_LEN];
    MDB_val k, v;
    if (!rdx_entry(b->s, type, text, e->k.key, e->k.klen, e->name_len, rk, &k, &v))
        return PX_OK;
    pxs_buf vb = {val, v.mv_size, sizeof val}; /* room for the sum: no realloc */
    memcpy(val, v.mv_data, v.mv_size);
    pxs_val_seal(DBI_RDX, k.mv_data, k.mv_size, &vb);
    px_arena *a = b->defer_rdx ? b->rdx_arena : b->arena;
    brdx *x = px_arena_alloc(a, sizeof *x);
    if (!x)
        return PX_ERR_NOMEM;
    *x = (brdx){.k = {0, arena_dup(a, k.mv_data, k.mv_size), k.mv_size},
                .v = arena_dup(a, val, vb.len),
                .vlen = (uint32_t)vb.len};
    e->rdx = x;
    return x->k.key && x->v ? PX_OK : PX_ERR_NOMEM;
}

/* ---- new records per organisation ----
 *
 * Whether a record is new to the store is known only here, at the flush,
 * which reads the stored values: a record new in a transaction counts once
 * for each organisation that observed it in the batch, and the counts
 * reach the store (px_store_org_new_records) when the transaction
 * commits. Counted by org id: ids are small and dense (the dictionary's).
 * Under memory exhaustion a count is dropped, never the data. */
#define PXS_ORG_NEW_MAX (1u << 20)

static bool org_new_room(uint64_t **v, size_t *n, uint32_t id)
{
    if (id < *n)
        return true;
    if (id >= PXS_ORG_NEW_MAX)
        return false;
    size_t cap = *n ? *n : 16;
    while (cap <= id)
        cap *= 2;
    uint64_t *p = realloc(*v, cap * sizeof *p);
    if (!p)
        return false;
    memset(p + *n, 0, (cap - *n) * sizeof *p);
    *v = p;
    *n = cap;
    return true;
}

static void org_new_count(px_store_batch *b, const pxs_rec *r)
{
    for (size_t i = 0; i < r->n_orgs; i++) {
        if (org_new_room(&b->org_new, &b->n_org_new, r->orgs[i].id))
            b->org_new[r->orgs[i].id]++;
    }
}

/* The transaction committed: its counts go to the store. */
static void org_new_commit(px_store_batch *b)
{
    px_store *s = b->s;
    for (size_t id = 0; id < b->n_org_new; id++) {
        if (b->org_new[id] && org_new_room(&s->org_new, &s->n_org_new, (uint32_t)id))
            s->org_new[id] += b->org_new[id];
        b->org_new[id] = 0;
    }
}

uint64_t px_store_org_new_records(const px_store *s, const char *org)
{
    for (size_t i = 0; s && org && i < s->n_orgs; i++) {
        if (strcmp(s->orgs[i].name, org) == 0)
            return s->orgs[i].id < s->n_org_new ? s->org_new[s->orgs[i].id] : 0;
    }
    return 0;
}

/* The stored form of record r under key k, sealed, into b->val. */
static px_err rec_value(px_store_batch *b, const pxs_rec *r, const bkey *k)
{
    px_err err = pxs_rec_encode(r, &b->val);
    return err ? err : pxs_val_seal(DBI_REC, k->key, k->klen, &b->val);
}

/* A record the store does not hold: the delta is its whole value. Its
 * GeoIP answer is looked up and its reverse-index entry built now, once. */
static px_err rec_store_new(px_store_batch *b, brec *e)
{
    const uint8_t *tp = e->k.key + e->name_len + 1;
    uint16_t type = (uint16_t)(tp[0] << 8 | tp[1]);
    bool held = false, has_geo = false;
    px_geo geo;
    px_err err = PX_OK;
    org_new_count(b, &e->rec);
    if ((type == 1 || type == 28) && (b->enrich || b->text_geo))
        err = rec_geo(b, e, type, &geo, &has_geo, &held);
    if (!err && feed_on(b))
        err = feed_rec_new(b, e, has_geo ? &geo : NULL);
    if (!err)
        err = rec_rdx(b, e, type);
    if (!err && !held)
        err = rec_value(b, &e->rec, &e->k);
    if (err || held)
        return err;
    MDB_val k = {e->k.klen, (void *)e->k.key}, v = {b->val.len, b->val.p};
    return pxs_map_mdb(mdb_cursor_put(b->rec_c, &k, &v, 0));
}

/* Reads one record's stored value through the write cursor (positioned by
 * the previous, smaller key), merges the delta into it and writes it in
 * place (MDB_CURRENT: no second search; LMDB moves the node if the size
 * changed). A stored value that fails its checks is damage: reported, and
 * the batch fails; nothing is merged into it or written over it. */
static px_err flush_rec(px_store_batch *b, brec *e)
{
    MDB_val k = {e->k.klen, (void *)e->k.key}, v;
    int rc = mdb_cursor_get(b->rec_c, &k, &v, MDB_SET);
    if (rc == MDB_NOTFOUND)
        return rec_store_new(b, e);
    if (rc)
        return pxs_map_mdb(rc);
    pxs_rec *s = &b->cur; /* its strings point into the page until the put */
    size_t n;
    px_err err = pxs_val_open(DBI_REC, e->k.key, e->k.klen, v.mv_data, v.mv_size, &n);
    if (err)
        return pxs_report_key(b->s, DBI_REC, e->k.key, e->k.klen, "the value fails its checksum");
    err = pxs_rec_decode(v.mv_data, n, s);
    if (err == PX_ERR_NOMEM)
        return err;
    const char *why =
        err ? "the value does not decode" : pxs_rec_key_fit(s, e->k.key, e->k.klen, b->s->maxkey);
    if (why)
        return pxs_report_key(b->s, DBI_REC, e->k.key, e->k.klen, why);
    if ((s->flags & PXS_F_LONG) && long_rdata_differs(s, &e->rec)) {
        b->n_collisions++;
        return PX_OK;
    }
    rec_before was = {0};
    err = feed_on(b) ? rec_before_take(b, s, &e->rec, &was) : PX_OK;
    if (!err)
        err = rec_merge(s, &e->rec);
    if (!err && feed_on(b))
        err = feed_rec_grew(b, e, s, &was);
    if (!err)
        err = rec_value(b, s, &e->k);
    if (err)
        return err;
    /* k as given (MDB_SET_KEY would point it into the page the put moves) */
    MDB_val pk = {e->k.klen, (void *)e->k.key}, nv = {b->val.len, b->val.p};
    return pxs_map_mdb(mdb_cursor_put(b->rec_c, &pk, &nv, MDB_CURRENT));
}

/* Interns the held records' AS organisations in the order of the records'
 * first observations (the ids the merge used to give), then writes the
 * records, in key order. A dictionary entry that fails its checks fails
 * the batch (damage). */
static px_err flush_pending(px_store_batch *b, size_t n)
{
    if (!b->n_pend)
        return PX_OK;
    /* seq is dense in [0, n): placing them beats sorting */
    bpend **order = px_arena_alloc(b->arena, n * sizeof *order);
    if (!order)
        return PX_ERR_NOMEM;
    memset(order, 0, n * sizeof *order);
    for (size_t i = 0; i < b->n_pend; i++)
        order[b->pend[i].e->seq] = &b->pend[i];
    for (size_t i = 0, j = 0; j < b->n_pend; i++) {
        if (order[i])
            order[j++] = order[i];
    }
    for (size_t i = 0; i < b->n_pend; i++) {
        const char *t = order[i]->as_org;
        uint32_t id = 0;
        px_err err = dict_find(b, DBI_ASO_N, t, strlen(t), &id);
        if (err == PX_ERR_NOTFOUND)
            err = dict_add(b, DBI_ASO_N, DBI_ASO_I, t, strlen(t), &id);
        if (err)
            return err;
        order[i]->e->rec.as_org = id;
    }
    for (size_t i = 0; i < b->n_pend; i++) {
        brec *e = b->pend[i].e;
        px_err err = rec_value(b, &e->rec, &e->k);
        if (err)
            return err;
        MDB_val k = {e->k.klen, (void *)e->k.key}, v = {b->val.len, b->val.p};
        int rc = mdb_cursor_put(b->rec_c, &k, &v, 0);
        if (rc)
            return pxs_map_mdb(rc);
    }
    b->n_pend = 0;
    return PX_OK;
}

/* Writes a new record's reverse-index entry. */
static px_err rdx_write(px_store_batch *b, const brdx *x)
{
    MDB_val k = {x->k.klen, (void *)x->k.key}, v = {x->vlen, (void *)x->v};
    return pxs_map_mdb(mdb_cursor_put(b->rdx_c, &k, &v, 0));
}

/* Keeps x for the end of the log. */
static px_err rdx_defer(px_store_batch *b, brdx *x)
{
    if (b->n_rdxs == b->cap_rdxs) {
        size_t cap = b->cap_rdxs ? 2 * b->cap_rdxs : 4096;
        bkey **p = realloc(b->rdxs, cap * sizeof *p);
        if (!p)
            return PX_ERR_NOMEM;
        b->rdxs = p;
        b->cap_rdxs = cap;
    }
    b->rdxs[b->n_rdxs++] = &x->k;
    return PX_OK;
}

/* Writes (or defers) the reverse-index entries of the new records among
 * v[0..n), in their own key order. */
static px_err flush_rdx(px_store_batch *b, bkey **v, size_t n, size_t n_rdx)
{
    bkey **x = px_arena_alloc(b->arena, (n_rdx ? n_rdx : 1) * sizeof *x);
    if (!x)
        return PX_ERR_NOMEM;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        brdx *r = ((const brec *)v[i])->rdx;
        if (!r)
            continue;
        px_err err = b->defer_rdx ? rdx_defer(b, r) : PX_OK;
        if (err)
            return err;
        x[j++] = &r->k;
    }
    if (b->defer_rdx)
        return PX_OK;
    if (!pxs_bkeys_sort(b->arena, x, j))
        return PX_ERR_NOMEM;
    for (size_t i = 0; i < j; i++) {
        px_err err = rdx_write(b, (const brdx *)x[i]);
        if (err)
            return err;
    }
    return PX_OK;
}

/* Writes the record entries v[0..n) (sorted; seq dense in [0, n)). */
static px_err flush_rec_array(px_store_batch *b, bkey **v, size_t n)
{
    b->n_pend = 0;
    size_t n_rdx = 0;
    for (size_t i = 0; i < n; i++) {
        brec *e = (brec *)v[i];
        px_err err = flush_rec(b, e);
        if (err)
            return err;
        n_rdx += e->rdx != NULL;
    }
    px_err err = flush_pending(b, n);
    return err ? err : flush_rdx(b, v, n, n_rdx);
}

static px_err flush_recs(px_store_batch *b)
{
    bkey **v = btab_sorted(b, &b->recs);
    return v ? flush_rec_array(b, v, b->recs.n) : PX_ERR_NOMEM;
}

/* The organisations of a domain's delta the stored value lacks, in the
 * arena; NULL on no memory. */
static uint32_t *dom_new_orgs(px_store_batch *b, const pxs_dom *stored, const pxs_dom *d, size_t *n)
{
    uint32_t *v = px_arena_alloc(b->arena, (d->n_orgs ? d->n_orgs : 1) * sizeof *v);
    for (size_t i = 0; v && i < d->n_orgs; i++) {
        if (!dom_has_org(stored, d->orgs[i]))
            v[(*n)++] = d->orgs[i];
    }
    return v;
}

/* Merges a domain's delta into its stored value s; *changed: s differs. */
static px_err dom_merge(pxs_dom *s, const pxs_dom *d, bool *changed)
{
    *changed = d->first < s->first || d->last > s->last;
    s->first = d->first < s->first ? d->first : s->first;
    s->last = d->last > s->last ? d->last : s->last;
    px_err err = PX_OK;
    for (size_t i = 0; i < d->n_orgs && !err; i++)
        *changed |= pxs_dom_add_org(s, d->orgs[i], &err);
    return err;
}

/* As flush_rec for a registered domain; an unchanged row is not written. */
static px_err flush_dom(px_store_batch *b, const bdom *e)
{
    MDB_val k = {e->k.klen, (void *)e->k.key}, v;
    int rc = mdb_cursor_get(b->dom_c, &k, &v, MDB_SET);
    if (rc && rc != MDB_NOTFOUND)
        return pxs_map_mdb(rc);
    const pxs_dom *out = &e->dom;
    if (rc == 0) {
        size_t n;
        px_err err = pxs_val_open(DBI_DOM, e->k.key, e->k.klen, v.mv_data, v.mv_size, &n);
        if (!err)
            err = pxs_dom_decode(v.mv_data, n, &b->dcur);
        if (err == PX_ERR_NOMEM)
            return err;
        if (err)
            return pxs_report_key(b->s, DBI_DOM, e->k.key, e->k.klen,
                                  err == PX_ERR_DAMAGED ? "the value fails its checksum"
                                                        : "the value does not decode");
        int64_t first = b->dcur.first, last = b->dcur.last;
        uint32_t *new_ids = NULL;
        size_t n_new = 0;
        if (feed_on(b) && !(new_ids = dom_new_orgs(b, &b->dcur, &e->dom, &n_new)))
            return PX_ERR_NOMEM;
        bool changed = true;
        if ((err = dom_merge(&b->dcur, &e->dom, &changed)) != PX_OK)
            return err;
        out = &b->dcur;
        if (!changed)
            return PX_OK;
        if (feed_on(b) && (err = feed_dom(b, e, out, true, first, last, new_ids, n_new)) != PX_OK)
            return err;
    } else if (feed_on(b)) {
        px_err err = feed_dom(b, e, out, false, 0, 0, NULL, 0);
        if (err)
            return err;
    }
    px_err err = pxs_dom_encode(out, &b->val);
    if (!err)
        err = pxs_val_seal(DBI_DOM, e->k.key, e->k.klen, &b->val);
    if (err)
        return err;
    MDB_val pk = {e->k.klen, (void *)e->k.key}, nv = {b->val.len, b->val.p};
    return pxs_map_mdb(mdb_cursor_put(b->dom_c, &pk, &nv, rc == 0 ? MDB_CURRENT : 0));
}

static px_err flush_doms(px_store_batch *b)
{
    bkey **v = btab_sorted(b, &b->doms);
    if (!v)
        return PX_ERR_NOMEM;
    for (size_t i = 0; i < b->doms.n; i++) {
        px_err err = flush_dom(b, (const bdom *)v[i]);
        if (err)
            return err;
    }
    return PX_OK;
}

/* Writes everything aggregated so far into the transaction and empties
 * the batch's memory. */
static px_err batch_flush(px_store_batch *b)
{
    px_err err = flush_recs(b);
    if (!err)
        err = flush_doms(b);
    batch_clear(b);
    px_arena_reset(b->arena);
    if (err) /* what was not written is gone: the batch cannot commit */
        b->failed = err;
    return err;
}

static px_err flush_offsets(px_store_batch *b);
static px_err log_segment(px_store_batch *b);

/* LMDB hands a page freed by transaction N out again only from N + 2 on:
 * the snapshot N - 1 it belonged to is still the newest but one, which a
 * reader may be starting on. A batch rewrites most record pages, so its
 * old copies would wait for two more batches, and the data file would
 * hold two batches' worth of free pages besides the data. One tiny
 * transaction after each batch lets the next batch reuse them: measured
 * on the consumer benchmark (200k records), the file shrank from 480 to
 * 331 bytes per record. Its key cannot be an offset (those start with a
 * topic name, never empty); a failure here costs space, not data. */
static bool release_freed_pages(px_store *s)
{
    static const uint8_t key[] = {0, 'g', 'c'};
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, 0, &txn) != 0)
        return false;
    uint8_t sum[PXS_SUM_LEN];
    pxs_buf vb = {sum, 0, sizeof sum};
    pxs_val_seal(DBI_OFF, key, sizeof key, &vb);
    MDB_val k = {sizeof key, (void *)key}, v = {vb.len, sum};
    if (mdb_put(txn, s->dbi[DBI_OFF], &k, &v, 0) == 0)
        return txn_commit(s, txn) == 0;
    mdb_txn_abort(txn);
    return false;
}

static px_err log_commit(px_store_batch *b);
static px_err merge_drain(px_store_batch *b);

px_err px_store_batch_commit(px_store_batch *b)
{
    if (!b)
        return PX_ERR_INVAL;
    if (!b->failed)
        merge_drain(b);
    if (!b->failed && !b->log && b->recs.n > b->s->chunk_records)
        log_segment(b);
    if (b->log)
        return log_commit(b);
    if (!b->failed)
        batch_flush(b);
    px_err err = b->failed ? b->failed : flush_offsets(b);
    if (err) {
        px_store_batch_abort(b);
        return err;
    }
    int rc = txn_commit(b->s, b->txn);
    b->txn = NULL;
    feed_end(b, rc == 0);
    if (rc == 0) {
        b->s->n_committed = b->s->n_orgs;
        b->s->collisions += b->n_collisions;
        org_new_commit(b);
        release_freed_pages(b->s);
    } else {
        b->s->n_orgs = b->s->n_committed;
    }
    batch_free(b);
    return pxs_map_mdb(rc);
}

void px_store_batch_abort(px_store_batch *b)
{
    if (!b)
        return;
    b->s->n_orgs = b->s->n_committed;
    batch_free(b);
}

/* Offset key: topic, NUL, partition (4 bytes big endian); 0 if invalid. */
static size_t off_key(const char *topic, int32_t partition, uint8_t *key)
{
    size_t tl = strlen(topic);
    if (tl == 0 || tl > 249)
        return 0;
    memcpy(key, topic, tl);
    key[tl] = 0;
    uint32_t p = htonl((uint32_t)partition);
    memcpy(key + tl + 1, &p, 4);
    return tl + 5;
}

px_err px_store_set_offset(px_store_batch *b, const char *topic, int32_t partition,
                           int64_t next_offset)
{
    size_t tl = strlen(topic);
    if (tl == 0 || tl > 249)
        return PX_ERR_INVAL;
    if (b->failed)
        return b->failed;
    boff *o = b->n_offs ? &b->offs[b->last_off] : NULL;
    if (!o || o->partition != partition || strcmp(o->topic, topic) != 0) {
        o = NULL;
        for (size_t i = 0; i < b->n_offs && !o; i++) {
            if (b->offs[i].partition == partition && strcmp(b->offs[i].topic, topic) == 0)
                o = &b->offs[i];
        }
    }
    if (!o) {
        if (b->n_offs == b->cap_offs) {
            size_t cap = b->cap_offs ? 2 * b->cap_offs : 16;
            boff *p = realloc(b->offs, cap * sizeof *p);
            if (!p)
                return batch_check(b, PX_ERR_NOMEM);
            b->offs = p;
            b->cap_offs = cap;
        }
        o = &b->offs[b->n_offs++];
        memcpy(o->topic, topic, tl + 1);
        o->partition = partition;
    }
    o->next = next_offset;
    b->last_off = (size_t)(o - b->offs);
    return PX_OK;
}

static px_err flush_offsets(px_store_batch *b)
{
    for (size_t i = 0; i < b->n_offs; i++) {
        uint8_t key[256], val[10 + PXS_SUM_LEN];
        size_t kl = off_key(b->offs[i].topic, b->offs[i].partition, key);
        pxs_buf vb = {val, 0, sizeof val}; /* room for the sum: no realloc */
        pxs_buf_put_varint(&vb, pxs_zz(b->offs[i].next));
        pxs_val_seal(DBI_OFF, key, kl, &vb);
        MDB_val k = {kl, key}, v = {vb.len, val};
        int rc = mdb_put(b->txn, b->s->dbi[DBI_OFF], &k, &v, 0);
        if (rc)
            return pxs_map_mdb(rc);
    }
    b->n_offs = 0;
    return PX_OK;
}

px_err px_store_get_offset(px_store *s, const char *topic, int32_t partition, int64_t *next)
{
    uint8_t key[256];
    size_t kl = off_key(topic, partition, key);
    if (!kl)
        return PX_ERR_INVAL;
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return pxs_map_mdb(rc);
    MDB_val k = {kl, key}, v;
    rc = mdb_get(txn, s->dbi[DBI_OFF], &k, &v);
    px_err err = pxs_map_mdb(rc);
    size_t n = 0;
    if (rc == 0 && pxs_val_open(DBI_OFF, key, kl, v.mv_data, v.mv_size, &n) != PX_OK)
        err = pxs_report_key(s, DBI_OFF, key, kl, "the value fails its checksum");
    if (!err) {
        px_wire w;
        px_wire_init(&w, v.mv_data, n);
        *next = pxs_unzz(pxs_wire_varint(&w));
        if (px_wire_err(&w) || px_wire_avail(&w))
            err = pxs_report_key(s, DBI_OFF, key, kl, "the offset does not decode");
    }
    mdb_txn_abort(txn);
    return err;
}

/* ---- big batches ----
 *
 * A batch that touches most pages of a table rewrites them all in one
 * transaction, and LMDB keeps the old copies for the snapshot before it:
 * the data file held the data twice (345 bytes per record on the consumer
 * benchmark, 178 of them in use). So a batch of more than chunk_records
 * records, or one that spills, goes through the batch log: its deltas,
 * sorted, are written to <dir>/batch.log in chunks of chunk_records
 * (px_store_log.c) and fsynced; one transaction commits the offsets, the
 * dictionary entries and a mark (id of that transaction, next chunk,
 * number of chunks): from then on the batch is durable, as one
 * transaction made it before. Each chunk is then applied in a transaction
 * of its own that also moves the mark on, so a crash between chunks
 * resumes at the next one (px_store_resume) and counts nothing twice; the
 * new records' reverse-index entries come last, in their own key order
 * (writing one twice changes nothing), and the last of those transactions
 * removes the mark. A chunk rewrites the pages of its key range only,
 * and their old copies are reused two transactions later. The log is
 * truncated once the mark's removal is on disk. Readers may see a batch
 * half applied, never a chunk. */

static const uint8_t log_mark[] = {0, 'l', 'o', 'g'};

static px_err marker_put(px_store_batch *b, uint64_t id, uint64_t next, uint64_t total)
{
    uint8_t val[30 + PXS_SUM_LEN];
    pxs_buf vb = {val, 0, sizeof val}; /* room for the sum: no realloc */
    pxs_buf_put_varint(&vb, id);
    pxs_buf_put_varint(&vb, next);
    pxs_buf_put_varint(&vb, total);
    pxs_val_seal(DBI_OFF, log_mark, sizeof log_mark, &vb);
    MDB_val k = {sizeof log_mark, (void *)log_mark}, v = {vb.len, val};
    return pxs_map_mdb(mdb_put(b->txn, b->s->dbi[DBI_OFF], &k, &v, 0));
}

static px_err marker_del(px_store_batch *b)
{
    MDB_val k = {sizeof log_mark, (void *)log_mark};
    return pxs_map_mdb(mdb_del(b->txn, b->s->dbi[DBI_OFF], &k, NULL));
}

static px_err marker_read(px_store *s, uint64_t *id, uint64_t *next, uint64_t *total)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return pxs_map_mdb(rc);
    MDB_val k = {sizeof log_mark, (void *)log_mark}, v;
    rc = mdb_get(txn, s->dbi[DBI_OFF], &k, &v);
    px_err err = pxs_map_mdb(rc);
    size_t n = 0;
    if (rc == 0 && pxs_val_open(DBI_OFF, log_mark, sizeof log_mark, v.mv_data, v.mv_size, &n))
        err = PX_ERR_DAMAGED;
    if (!err) {
        px_wire w;
        px_wire_init(&w, v.mv_data, n);
        *id = pxs_wire_varint(&w);
        *next = pxs_wire_varint(&w);
        *total = pxs_wire_varint(&w);
        if (px_wire_err(&w) || px_wire_avail(&w) || *next > *total)
            err = PX_ERR_DAMAGED;
    }
    mdb_txn_abort(txn);
    return err;
}

/* The log's new directory entry must be on disk before a commit names it. */
static px_err sync_dir(px_store *s)
{
    if (s->log_dir_synced)
        return PX_OK;
    int fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return PX_ERR_IO;
    px_err err = fsync(fd) == 0 ? PX_OK : PX_ERR_IO;
    close(fd);
    s->log_dir_synced = !err;
    return err;
}

/* Appends one entry (key, then the encoded value in b->val) to b->chunk. */
static px_err chunk_put(px_store_batch *b, const bkey *k)
{
    px_err err = pxs_buf_reserve(&b->chunk, 20 + k->klen + b->val.len);
    if (err)
        return err;
    pxs_buf_put_varint(&b->chunk, k->klen);
    memcpy(b->chunk.p + b->chunk.len, k->key, k->klen);
    b->chunk.len += k->klen;
    pxs_buf_put_varint(&b->chunk, b->val.len);
    memcpy(b->chunk.p + b->chunk.len, b->val.p, b->val.len);
    b->chunk.len += b->val.len;
    return PX_OK;
}

/* Writes the sorted entries v[0..n) of one kind in chunks. */
static px_err log_entries(px_store_batch *b, uint8_t kind, bkey **v, size_t n)
{
    size_t per = b->s->chunk_records;
    for (size_t i = 0; i < n; i += per) {
        size_t m = n - i < per ? n - i : per;
        b->chunk.len = 0;
        for (size_t j = i; j < i + m; j++) {
            if (j + 8 < n) /* entries in key order lie anywhere in memory */
                __builtin_prefetch(v[j + 8]);
            if (j + 8 < n && kind == PXS_LOG_REC)
                __builtin_prefetch((const char *)v[j + 8] + 64);
            px_err err = kind == PXS_LOG_REC ? pxs_rec_encode(&((brec *)v[j])->rec, &b->val)
                                             : pxs_dom_encode(&((bdom *)v[j])->dom, &b->val);
            if (!err)
                err = chunk_put(b, v[j]);
            if (err)
                return err;
        }
        px_err err = pxs_logw_chunk(&b->logw, kind, (uint32_t)m, b->chunk.p, b->chunk.len);
        if (err)
            return err;
    }
    return PX_OK;
}

/* Moves what the batch aggregated so far into the log (opened on the
 * first call) and empties the batch's memory. */
static px_err log_segment(px_store_batch *b)
{
    px_err err = PX_OK;
    if (!b->log) {
        err = pxs_logw_open(&b->logw, b->s->log_path, mdb_txn_id(b->txn));
        b->log = !err;
    }
    bkey **v = err ? NULL : btab_sorted(b, &b->recs);
    bkey **d = v ? btab_sorted(b, &b->doms) : NULL;
    if (!err && !d)
        err = PX_ERR_NOMEM;
    if (!err)
        err = log_entries(b, PXS_LOG_REC, v, b->recs.n);
    if (!err)
        err = log_entries(b, PXS_LOG_DOM, d, b->doms.n);
    batch_clear(b);
    px_arena_reset(b->arena);
    if (err) /* what was not written is gone: the batch cannot commit */
        b->failed = err;
    return err;
}

/* The next entry of a chunk (as chunk_put wrote it); false if it does not
 * decode or its key is empty or too long for LMDB. */
static bool chunk_entry(const px_store_batch *b, px_wire *w, const uint8_t **key, size_t *klen,
                        const uint8_t **val, size_t *vlen)
{
    *klen = (size_t)pxs_wire_varint(w);
    *key = px_wire_bytes(w, *klen);
    *vlen = (size_t)pxs_wire_varint(w);
    *val = px_wire_bytes(w, *vlen);
    return *key && *val && *klen && *klen <= b->s->maxkey;
}

/* Builds the batch entry of one log entry (the i-th of its chunk) in the
 * arena: *out as soon as it exists (its memory must be released), false
 * if the entry does not decode. */
typedef bool (*chunk_entry_fn)(px_store_batch *b, const uint8_t *key, size_t klen,
                               const uint8_t *val, size_t vlen, size_t i, bkey **out);

static bool rec_from_log(px_store_batch *b, const uint8_t *key, size_t klen, const uint8_t *val,
                         size_t vlen, size_t i, bkey **out)
{
    const uint8_t *nul = memchr(key, 0, klen);
    if (!nul || klen < (size_t)(nul - key) + 3)
        return false;
    brec *e = px_arena_alloc(b->arena, sizeof *e);
    if (!e)
        return false;
    *e = (brec){.k = {0, key, klen}, .seq = (uint32_t)i, .name_len = (uint16_t)(nul - key)};
    *out = &e->k;
    if (pxs_rec_decode(val, vlen, &e->rec) != PX_OK || (e->rec.flags & PXS_F_GEO))
        return false;
    if (e->rec.flags & PXS_F_LONG) { /* the flush indexes it as text */
        char *t = px_arena_strndup(b->arena, (const char *)e->rec.rdata, e->rec.rdata_len);
        if (!t || strlen(t) != e->rec.rdata_len)
            return false;
        e->rec.rdata = (const uint8_t *)t;
    }
    return true;
}

static bool dom_from_log(px_store_batch *b, const uint8_t *key, size_t klen, const uint8_t *val,
                         size_t vlen, size_t i, bkey **out)
{
    (void)i;
    bdom *e = px_arena_alloc(b->arena, sizeof *e);
    if (!e)
        return false;
    *e = (bdom){.k = {0, key, klen}};
    *out = &e->k;
    return pxs_dom_decode(val, vlen, &e->dom) == PX_OK;
}

/* Decodes a chunk into entries v (sorted as written), *n of them to
 * release; false if it does not decode (a log entry is only ever written
 * by log_entries). */
static bool chunk_decode(px_store_batch *b, const pxs_log_chunk *c, chunk_entry_fn fn, bkey **v,
                         size_t *n)
{
    px_wire w;
    px_wire_init(&w, c->p, c->len);
    for (*n = 0; px_wire_avail(&w) && *n < c->n;) {
        const uint8_t *key, *val;
        size_t klen, vlen;
        if (!chunk_entry(b, &w, &key, &klen, &val, &vlen))
            return false;
        bkey *k = NULL;
        bool ok = fn(b, key, klen, val, vlen, *n, &k);
        if (k)
            v[(*n)++] = k;
        if (!ok)
            return false;
    }
    return *n == c->n && !px_wire_avail(&w);
}

/* Decodes chunk c into entries *v in the arena, *n of them (to release
 * with chunk_release, even when it fails); false if it does not decode or
 * claims more entries than its bytes can hold (*err: out of memory). */
static bool chunk_load(px_store_batch *b, const pxs_log_chunk *c, bkey ***v, size_t *n, px_err *err)
{
    size_t cap = c->len / 2 + 1; /* an entry takes two bytes at least */
    *n = 0;
    *v = px_arena_alloc(b->arena, (c->n < cap ? c->n : cap) * sizeof **v + sizeof **v);
    if (!*v) {
        *err = PX_ERR_NOMEM;
        return false;
    }
    if (c->n > cap)
        return false;
    if (c->kind == PXS_LOG_REC)
        return chunk_decode(b, c, rec_from_log, *v, n);
    return c->kind == PXS_LOG_DOM && chunk_decode(b, c, dom_from_log, *v, n);
}

static void chunk_release(const pxs_log_chunk *c, bkey **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (c->kind == PXS_LOG_REC)
            pxs_rec_release(&((brec *)v[i])->rec);
        else
            pxs_dom_release(&((bdom *)v[i])->dom);
    }
}

/* A log that cannot be applied whole: damage, unless the store was told
 * to drop what cannot be applied (then it is counted lost). */
static px_err log_damage(px_store_batch *b, uint64_t lost, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static px_err log_damage(px_store_batch *b, uint64_t lost, const char *fmt, ...)
{
    if (b->s->drop_damaged_log) {
        b->n_lost += lost;
        return PX_OK;
    }
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    pxs_report(b->s, "batch.log", what);
    return PX_ERR_DAMAGED;
}

/* Writes chunk i's entries into the open transaction. A chunk that does
 * not decode (its checksum held: written so) is damage. */
static px_err chunk_write(px_store_batch *b, const pxs_log_chunk *c, uint64_t i)
{
    bkey **v;
    size_t n;
    px_err err = PX_OK;
    bool ok = chunk_load(b, c, &v, &n, &err);
    if (ok && c->kind == PXS_LOG_REC)
        err = flush_rec_array(b, v, n);
    for (size_t j = 0; ok && !err && c->kind == PXS_LOG_DOM && j < n; j++)
        err = flush_dom(b, (const bdom *)v[j]);
    if (!ok && !err)
        err = log_damage(b, 1, "chunk %llu does not decode", (unsigned long long)i + 1);
    chunk_release(c, v, n);
    return err;
}

/* Ends a transaction of the log's application. */
static px_err step_commit(px_store_batch *b, px_err err)
{
    px_arena_reset(b->arena);
    if (err)
        return err; /* batch_free aborts the transaction */
    int rc = txn_commit(b->s, b->txn);
    b->txn = NULL;
    feed_end(b, rc == 0);
    if (rc)
        return pxs_map_mdb(rc);
    b->s->collisions += b->n_collisions;
    b->n_collisions = 0;
    org_new_commit(b);
    return PX_OK;
}

/* Applies log chunk i (NULL: lost, dropped) in a transaction of its own,
 * with the mark moved past it. */
static px_err chunk_apply(px_store_batch *b, const pxs_log_chunk *c, uint64_t id, uint64_t i,
                          uint64_t total)
{
    px_err err = txn_open(b);
    if (!err && c)
        err = chunk_write(b, c, i);
    b->n_lost += !c;
    if (!err)
        err = marker_put(b, id, i + 1, total);
    err = step_commit(b, err);
    if (!err)
        release_freed_pages(b->s);
    return err;
}

/* The reverse-index entries of every record in an applied chunk, for a
 * log resumed after its records were written but not those entries:
 * whether a record was new is no longer known, and writing an entry that
 * exists changes nothing. */
static px_err rdx_rebuild(px_store_batch *b, const pxs_log_chunk *c, uint64_t ci)
{
    bkey **v;
    size_t n;
    px_err err = PX_OK;
    bool ok = c->kind != PXS_LOG_REC || chunk_load(b, c, &v, &n, &err);
    if (c->kind == PXS_LOG_REC && ok) {
        for (size_t i = 0; i < n && !err; i++) {
            brec *e = (brec *)v[i];
            const uint8_t *tp = e->k.key + e->name_len + 1;
            err = rec_rdx(b, e, (uint16_t)(tp[0] << 8 | tp[1]));
        }
        err = err ? err : flush_rdx(b, v, n, n);
    }
    if (!ok && !err)
        err = log_damage(b, 1, "chunk %llu does not decode", (unsigned long long)ci + 1);
    if (c->kind == PXS_LOG_REC)
        chunk_release(c, v, n);
    px_arena_reset(b->arena);
    return err;
}

/* The last step: the deferred reverse-index entries in their key order,
 * chunk_records a transaction; the last one removes the mark. *steps
 * counts the transactions against apply_limit. */
static px_err rdx_apply(px_store_batch *b, uint64_t *steps)
{
    px_store *s = b->s;
    if (!pxs_bkeys_sort(b->rdx_arena, b->rdxs, b->n_rdxs))
        return PX_ERR_NOMEM;
    size_t per = s->chunk_records, i = 0;
    do {
        if (s->apply_limit && *steps == s->apply_limit)
            return PX_ERR_AGAIN;
        size_t end = b->n_rdxs - i < per ? b->n_rdxs : i + per;
        px_err err = txn_open(b);
        for (; !err && i < end; i++)
            err = rdx_write(b, (const brdx *)b->rdxs[i]);
        if (!err && i == b->n_rdxs)
            err = marker_del(b);
        err = step_commit(b, err);
        if (err)
            return err;
        ++*steps;
        /* the mark's removal is on disk once another commit synced the
         * file: only then may the log go */
        if (release_freed_pages(s) && i == b->n_rdxs) {
            if (truncate(s->log_path, 0) != 0) {
                /* the next log truncates it */
            }
        }
    } while (i < b->n_rdxs);
    s->log_pending = false;
    return PX_OK;
}

/* A mark that fails its checks: what is left cannot be told. Dropped only
 * when the store was told to. */
static px_err marker_drop(px_store_batch *b)
{
    px_err err = log_damage(b, 1, "the store's mark of the pending batch fails its checks");
    if (err)
        return err;
    err = txn_open(b);
    err = step_commit(b, err ? err : marker_del(b));
    b->s->log_pending = err != PX_OK;
    return err;
}

/* Applies the committed log from the mark on: the chunks left, then the
 * reverse-index entries of the batch's new records. */
static px_err log_apply(px_store_batch *b)
{
    px_store *s = b->s;
    uint64_t id, next, total, steps = 0;
    px_err err = marker_read(s, &id, &next, &total);
    if (err == PX_ERR_NOTFOUND) {
        s->log_pending = false;
        return PX_OK;
    }
    if (err)
        return err == PX_ERR_DAMAGED ? marker_drop(b) : err;
    b->defer_rdx = true;
    if (!b->rdx_arena && !(b->rdx_arena = px_arena_create(1 << 20)))
        return PX_ERR_NOMEM;
    pxs_log l;
    err = pxs_log_read(s->log_path, &l);
    if (err == PX_ERR_NOMEM || err == PX_ERR_IO)
        return err;
    size_t have = !err && l.id == id ? l.n_chunks : 0;
    /* nothing of a log that is not whole is applied, unless told to */
    if (have < total)
        err = log_damage(b, 0, "%s: chunks %llu..%llu of the committed batch cannot be applied",
                         err == PX_ERR_NOTFOUND ? "missing"
                         : err                  ? "no batch log header"
                         : l.id != id           ? "of another batch"
                                                : "chunks fail their checksums",
                         (unsigned long long)(have > next ? have : next) + 1,
                         (unsigned long long)total);
    else
        err = PX_OK;
    for (uint64_t i = 0; i < next && i < have && !err; i++)
        err = rdx_rebuild(b, &l.chunks[i], i);
    for (uint64_t i = next; i < total && !err; i++, steps++) {
        if (s->apply_limit && steps == s->apply_limit)
            err = PX_ERR_AGAIN;
        else
            err = chunk_apply(b, i < have ? &l.chunks[i] : NULL, id, i, total);
    }
    if (!err)
        err = rdx_apply(b, &steps);
    pxs_log_release(&l);
    return err;
}

/* Commits a batch that went to the log: offsets and mark, then the
 * chunks. */
static px_err log_commit(px_store_batch *b)
{
    px_store *s = b->s;
    if (!b->failed && (b->recs.n || b->doms.n))
        log_segment(b);
    px_err err = b->failed;
    uint64_t id = mdb_txn_id(b->txn), total = b->logw.n_chunks;
    if (!err)
        err = pxs_logw_sync(&b->logw);
    if (!err)
        err = sync_dir(s);
    if (!err)
        err = flush_offsets(b);
    if (!err && total)
        err = marker_put(b, id, 0, total);
    if (err) {
        px_store_batch_abort(b);
        return err;
    }
    pxs_logw_close(&b->logw); /* the log stays: it is the batch now */
    int rc = txn_commit(s, b->txn);
    b->txn = NULL;
    feed_end(b, rc == 0);
    if (rc) {
        s->n_orgs = s->n_committed;
        batch_free(b);
        return pxs_map_mdb(rc);
    }
    s->n_committed = s->n_orgs;
    s->log_pending = total > 0;
    err = log_apply(b);
    batch_free(b);
    return err == PX_ERR_DAMAGED ? err : err ? PX_ERR_AGAIN : PX_OK;
}

bool px_store_log_pending(const px_store *s)
{
    return s->log_pending;
}

px_err px_store_resume_log(px_store *s, uint64_t *lost_chunks)
{
    if (lost_chunks)
        *lost_chunks = 0;
    if (s->read_only)
        return PX_ERR_INVAL;
    if (s->batch)
        return PX_ERR_AGAIN;
    if (!s->log_pending)
        return PX_OK;
    px_store_batch *b = batch_new(s);
    if (!b)
        return PX_ERR_NOMEM;
    px_err err = log_apply(b);
    uint64_t lost = b->n_lost;
    batch_free(b);
    if (lost_chunks)
        *lost_chunks = lost;
    return !err && lost ? PX_ERR_MALFORMED : err;
}

/* ---- merge ---- */

/* One observation, prepared: everything the table work needs, copied out
 * of the caller's px_store_obs (which may be reused once the merge
 * returns), except an overlong rdata (merged at once, see the merge). */
struct merge_in {
    uint64_t count;
    uint8_t bin[16]; /* A/AAAA rdata */
    uint64_t h, dh;  /* table hashes of the key and of the domain */
    bool has_dom;
    char dn[PXS_NAME_MAX + 1]; /* normalised registered domain */
    size_t dl;
    char name[PXS_NAME_MAX + 1];
    size_t name_len;
    char bw[PXS_NAME_MAX + 1]; /* normalised bailiwick */
    size_t bw_len;
    bool has_bw;
    uint16_t type;
    const uint8_t *rd;
    size_t rd_len;
    uint8_t key[512];
    size_t klen;
    bool long_rdata;
    uint32_t org;
    int64_t first, last;
};

/* Bailiwick of a record that has none yet: an offset into rrname when it
 * is a suffix, else its text (copied into the arena). */
static px_err set_bailiwick(px_store_batch *b, pxs_rec *r, const merge_in *in)
{
    if (!in->has_bw)
        return PX_OK;
    size_t n = in->bw_len, nl = in->name_len;
    bool suffix = n <= nl && memcmp(in->name + nl - n, in->bw, n) == 0 &&
                  (n == nl || (n > 0 && in->name[nl - n - 1] == '.'));
    if (suffix) {
        r->flags |= PXS_F_BW_SUFFIX;
        r->bw_off = nl - n;
        return PX_OK;
    }
    r->bw_text = arena_dup(b->arena, in->bw, n);
    if (!r->bw_text)
        return PX_ERR_NOMEM;
    r->flags |= PXS_F_BW_TEXT;
    r->bw_len = n;
    return PX_OK;
}

/* The delta of a record's first observation in the batch. */
static px_err rec_delta_init(px_store_batch *b, brec *e, const merge_in *in)
{
    pxs_rec *r = &e->rec;
    r->count = in->count;
    r->first = in->first;
    r->last = in->last;
    if (in->long_rdata) { /* NUL-terminated: the flush may index it as text */
        r->flags |= PXS_F_LONG;
        r->rdata = (const uint8_t *)px_arena_strndup(b->arena, (const char *)in->rd, in->rd_len);
        r->rdata_len = in->rd_len;
        if (!r->rdata)
            return PX_ERR_NOMEM;
    }
    px_err err = PX_OK;
    pxs_rec_add_org(r, in->org, in->first, in->last, &err);
    return err ? err : set_bailiwick(b, r, in);
}

/* Merges a later observation into a record's delta (the same key implies
 * the same LONG flag). */
static px_err update_record(px_store_batch *b, pxs_rec *r, const merge_in *in)
{
    /* a 64-bit hash collision of two overlong rdata: keep the first */
    if (in->long_rdata && (r->rdata_len != in->rd_len || memcmp(r->rdata, in->rd, in->rd_len)))
        return PX_ERR_UNSUPPORTED;
    uint64_t c = r->count + in->count;
    r->count = c < r->count ? UINT64_MAX : c;
    r->first = in->first < r->first ? in->first : r->first;
    r->last = in->last > r->last ? in->last : r->last;
    px_err err = PX_OK;
    pxs_rec_add_org(r, in->org, in->first, in->last, &err);
    if (!err && !(r->flags & (PXS_F_BW_SUFFIX | PXS_F_BW_TEXT)))
        err = set_bailiwick(b, r, in);
    return err;
}

/* The batch's entry of the observation's record, created on its first
 * observation in the batch (the store is read at the flush). *fresh: the
 * entry already holds this observation. */
static px_err record_entry(px_store_batch *b, const merge_in *in, brec **out, bool *fresh)
{
    uint64_t h = in->h;
    px_err err = btab_reserve(&b->recs); /* first: it moves the slots */
    if (err)
        return err;
    bslot *slot = btab_find(&b->recs, h, in->key, in->klen);
    *fresh = false;
    if (slot->e) {
        *out = (brec *)slot->e;
        return PX_OK;
    }
    brec *e = px_arena_alloc(b->arena, sizeof *e);
    const uint8_t *key = arena_dup(b->arena, in->key, in->klen);
    if (!e || !key)
        return PX_ERR_NOMEM;
    *e = (brec){
        .k = {h, key, in->klen}, .seq = (uint32_t)b->recs.n, .name_len = (uint16_t)in->name_len};
    err = rec_delta_init(b, e, in);
    if (err) {
        pxs_rec_release(&e->rec);
        return err;
    }
    *slot = (bslot){h, &e->k};
    b->recs.n++;
    *fresh = true;
    *out = e;
    return PX_OK;
}

static px_err merge_domain(px_store_batch *b, const merge_in *in)
{
    const char *dn = in->dn;
    size_t dl = in->dl;
    uint64_t h = in->dh;
    px_err err = btab_reserve(&b->doms); /* first: it moves the slots */
    if (err)
        return err;
    bslot *slot = btab_find(&b->doms, h, (const uint8_t *)dn, dl);
    bdom *e = (bdom *)slot->e;
    if (!e) {
        e = px_arena_alloc(b->arena, sizeof *e);
        const uint8_t *key = arena_dup(b->arena, dn, dl);
        if (!e || !key)
            return PX_ERR_NOMEM;
        *e = (bdom){.k = {h, key, dl}, .dom = {.first = in->first, .last = in->last}};
        *slot = (bslot){h, &e->k};
        b->doms.n++;
    }
    pxs_dom *d = &e->dom;
    d->first = in->first < d->first ? in->first : d->first;
    d->last = in->last > d->last ? in->last : d->last;
    pxs_dom_add_org(d, in->org, &err);
    return err;
}

/* A canonical name of px_store_obs: its bytes as a stored name has them,
 * no trailing dot but the root's. PX_ERR_TOOLONG, _INVAL. */
static px_err name_check(const char *p, size_t n)
{
    if (n > PXS_NAME_MAX)
        return PX_ERR_TOOLONG;
    if (!p || !pxs_name_bytes_ok((const uint8_t *)p, n) || (n > 1 && p[n - 1] == '.'))
        return PX_ERR_INVAL;
    return PX_OK;
}

/* Copies a checked name into out (PXS_NAME_MAX + 1), NUL-terminated. */
static px_err name_take(const char *p, size_t n, char *out, size_t *len)
{
    px_err err = name_check(p, n);
    if (err)
        return err;
    memcpy(out, p, n);
    out[n] = 0;
    *len = n;
    return PX_OK;
}

/* The key's rdata part: an address's bytes, or the rdata text (no NUL). */
static px_err rdata_take(const px_store_obs *obs, merge_in *in)
{
    if (in->type == 1 || in->type == 28) {
        size_t want = in->type == 1 ? 4 : 16;
        if (!obs->rdata_wire || obs->rdata_wire_len != want)
            return PX_ERR_MALFORMED;
        memcpy(in->bin, obs->rdata_wire, want);
        in->rd = in->bin;
        in->rd_len = want;
        return PX_OK;
    }
    if (!obs->rdata || !obs->rdata_len || memchr(obs->rdata, 0, obs->rdata_len))
        return PX_ERR_INVAL;
    in->rd = (const uint8_t *)obs->rdata;
    in->rd_len = obs->rdata_len;
    return PX_OK;
}

/* Checks and copies one observation into in; no table is touched. */
static px_err merge_prepare(px_store_batch *b, const px_store_obs *obs, merge_in *in)
{
    if (!obs->org)
        return PX_ERR_INVAL;
    in->count = obs->count;
    in->type = obs->rrtype;
    px_err err = name_take(obs->rrname, obs->rrname_len, in->name, &in->name_len);
    in->has_bw = obs->bailiwick != NULL;
    if (!err && in->has_bw)
        err = name_take(obs->bailiwick, obs->bailiwick_len, in->bw, &in->bw_len);
    if (!err)
        err = rdata_take(obs, in);
    if (err)
        return err;
    in->first = obs->time_first < obs->time_last ? obs->time_first : obs->time_last;
    in->last = obs->time_first < obs->time_last ? obs->time_last : obs->time_first;
    err = rec_key(b->s, in->name, in->name_len, in->type, in->rd, in->rd_len, in->key, &in->klen,
                  &in->long_rdata);
    if (err)
        return err;
    in->h = px_hash64(in->key, in->klen, b->seed);
    in->has_dom = obs->regdom != NULL;
    if (in->has_dom) {
        err = name_take(obs->regdom, obs->regdom_len, in->dn, &in->dl);
        if (err)
            return err;
        in->dh = px_hash64(in->dn, in->dl, b->seed);
    }
    return org_id(b, obs->org, &in->org);
}

/* The table work of a prepared observation. */
static px_err merge_finish(px_store_batch *b, const merge_in *in)
{
    brec *e;
    bool fresh;
    px_err err = record_entry(b, in, &e, &fresh);
    if (!err && !fresh)
        err = update_record(b, &e->rec, in);
    if (!err && in->has_dom)
        err = merge_domain(b, in);
    return err;
}

/* Finishes the observation the last merge held back (see the merge). Only
 * a failure of the store can happen there: it fails the batch. */
static px_err merge_drain(px_store_batch *b)
{
    if (!b->held)
        return PX_OK;
    b->held = false;
    return batch_check(b, merge_finish(b, &b->ring[b->ring_cur ^ 1]));
}

px_err px_store_merge_obs(px_store_batch *b, const px_store_obs *obs)
{
    if (!b || !obs)
        return PX_ERR_INVAL;
    if (b->failed)
        return b->failed;
    if (!b->ring && !(b->ring = calloc(2, sizeof *b->ring)))
        return batch_check(b, PX_ERR_NOMEM);
    merge_in *in = &b->ring[b->ring_cur];
    px_err err = batch_check(b, merge_prepare(b, obs, in));
    if (b->failed || err)
        return err; /* a bad observation: nothing of it is merged */
    /* Its table slots are fetched now and used at the next call: the
     * caller decodes the next message meanwhile, so the cache misses of
     * the two tables (most of the merge's time) overlap with that work.
     * An overlong rdata is merged at once: a hash collision within the
     * batch is its own error. */
    if (b->recs.cap)
        __builtin_prefetch(&b->recs.slot[in->h & (b->recs.cap - 1)]);
    if (in->has_dom && b->doms.cap)
        __builtin_prefetch(&b->doms.slot[in->dh & (b->doms.cap - 1)]);
    merge_drain(b);
    if (!b->failed && in->long_rdata) {
        err = batch_check(b, merge_finish(b, in));
    } else if (!b->failed) {
        b->held = true;
        b->ring_cur ^= 1;
    }
    if (b->failed)
        return b->failed;
    if (b->recs.n >= PXS_SPILL_ENTRIES || px_arena_bytes(b->arena) >= PXS_SPILL_BYTES) {
        px_err ferr = merge_drain(b);
        if (!ferr)
            ferr = log_segment(b);
        if (ferr)
            return ferr;
    }
    return err;
}

px_err px_store_known_obs(px_store_batch *b, const px_store_obs *obs, bool *known)
{
    *known = false;
    if (!b || !obs)
        return PX_ERR_INVAL;
    if (b->failed)
        return b->failed;
    merge_in in;
    px_store_obs rec_only = *obs;
    rec_only.regdom = NULL; /* the record's key is all that is asked */
    px_err err = batch_check(b, merge_prepare(b, &rec_only, &in));
    if (err)
        return err;       /* a bad observation (the merge would refuse it too), or the store */
    err = merge_drain(b); /* the observation held back is in the table now */
    if (err)
        return err;
    if (b->recs.cap && btab_find(&b->recs, in.h, in.key, in.klen)->e) {
        *known = true;
        return PX_OK;
    }
    /* the batch writes records only at the flush: the transaction reads
     * what the store held when the batch began. A stored value that fails
     * its checksum is damage, as at the flush: reported, and the batch
     * fails (its decoding is left to the flush, which fails it too). */
    MDB_val k = {in.klen, in.key}, v;
    int rc = mdb_get(b->txn, b->s->dbi[DBI_REC], &k, &v);
    if (rc == MDB_NOTFOUND)
        return PX_OK;
    if (rc)
        return batch_check(b, pxs_map_mdb(rc));
    size_t n;
    if (pxs_val_open(DBI_REC, in.key, in.klen, v.mv_data, v.mv_size, &n) != PX_OK)
        return batch_check(
            b, pxs_report_key(b->s, DBI_REC, in.key, in.klen, "the value fails its checksum"));
    *known = true;
    return PX_OK;
}

void pxs_batch_set_text_geo(px_store_batch *b, px_store_geo_fn geo, void *ctx)
{
    b->text_geo = geo;
    b->text_geo_ctx = ctx;
}

void pxs_store_set_text_geo(px_store *s, px_store_geo_fn geo, void *ctx)
{
    s->text_geo = geo;
    s->text_geo_ctx = ctx;
}
