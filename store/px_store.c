/* px_store.c: the consumer's LMDB store: opening it (the checks before
 * LMDB maps the file, the tables, the format this code reads), closing
 * it, and the format row every write transaction ends with.
 *
 * What the store writes, byte by byte (store format 4: the environment,
 * the eleven tables, every key and value, the batch log, durability), is
 * specified in docs/STORE-FORMAT.md; what it checks and how an operator
 * recovers, in docs/STORE.md.
 *
 * Errors: a bad observation (PX_ERR_INVAL, _MALFORMED for an A/AAAA
 * record without its address bytes, _TOOLONG, _UNSUPPORTED for two
 * overlong rdata of one batch under the same 64-bit hash) fails that merge
 * only; the caller counts it and goes on. The merge does not read stored
 * records or domains: the flush does (px_store_flush.c). A stored value or
 * dictionary entry that fails its checksum, does not decode or disagrees
 * with its key is damage (PX_ERR_DAMAGED): reported (pxs_report: where
 * and what, to px_store_opts.on_damage), never merged into, replaced or
 * built on; the batch fails, as for a failure of the store itself (_FULL,
 * _NOMEM, _IO): every later call returns it and commit aborts: a
 * consumer that cannot trust its store stops rather than write over what
 * it cannot read. A stored overlong rdata that differs from the batch's
 * under the same key (a hash collision) keeps the stored record and drops
 * the batch's observations of it (px_store_stats.collisions). The writer
 * walks the whole file when it opens (px_store_opts.check:
 * px_store_check.c); readers check what they read (px_store_file.c).
 * px_store_stats.bytes counts the pages of the trees: LMDB's free pages
 * (old copies awaiting reuse) are excluded. */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "px_store_batch.h"

#define PXS_DEFAULT_MAP (64ULL << 30)

const char *const pxs_dbi_names[DBI__N] = {"rec",   "rdx",   "dom",   "off",    "org_n", "org_i",
                                           "aso_n", "aso_i", "state", "alerts", "sinks"};

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

/* ---- open / close ---- */

/* The format row (docs/STORE-FORMAT.md, "off"): the format, then every table's number
 * of entries, written last in every write transaction so that a walk of
 * the file can tell entries that are missing. */
static px_err meta_put(px_store *s, MDB_txn *txn)
{
    pxs_meta_row m = {.format = s->format, .n_tables = DBI__N};
    for (int i = 0; i < DBI__N; i++) {
        if (i >= DBI_STATE && !(s->touched & (1u << i))) {
            m.entries[i] = s->feed_entries[i];
            continue;
        }
        MDB_stat st;
        int rc = mdb_stat(txn, s->dbi[i], &st);
        if (rc)
            return pxs_map_mdb(rc);
        m.entries[i] = st.ms_entries;
    }
    MDB_val k = {sizeof pxs_meta_key, (void *)pxs_meta_key}, v;
    if (mdb_get(txn, s->dbi[DBI_OFF], &k, &v) == MDB_NOTFOUND)
        m.entries[DBI_OFF]++; /* the row itself */
    px_buf b = {0};
    px_err err = pxs_meta_encode(&m, &b);
    if (!err) {
        v = (MDB_val){b.len, b.p};
        err = pxs_map_mdb(mdb_put(txn, s->dbi[DBI_OFF], &k, &v, 0));
    }
    free(b.p);
    return err;
}

/* The feed reader's table counts as the format row just written says. */
static void feed_entries_take(px_store *s, MDB_txn *txn)
{
    for (int i = DBI_STATE; i < DBI__N; i++) {
        MDB_stat st;
        if ((s->touched & (1u << i)) && mdb_stat(txn, s->dbi[i], &st) == 0)
            s->feed_entries[i] = st.ms_entries;
    }
}

/* Commits a write transaction with its format row; aborts it on failure. */
int pxs_txn_commit(px_store *s, MDB_txn *txn)
{
    px_err err = meta_put(s, txn);
    if (err) {
        s->touched = 0;
        mdb_txn_abort(txn);
        return err == PX_ERR_FULL ? MDB_MAP_FULL : err == PX_ERR_NOMEM ? ENOMEM : EIO;
    }
    uint64_t was[DBI__N];
    memcpy(was, s->feed_entries, sizeof was);
    feed_entries_take(s, txn);
    int rc = mdb_txn_commit(txn);
    if (rc)
        memcpy(s->feed_entries, was, sizeof was);
    s->touched = 0;
    return rc;
}

/* Creates (a new store, with its format row) or opens the tables; a
 * format-2 store (format) opened for writing gains the tables of format
 * 3 and its format row says 3 from this commit on (4 from its first
 * changelog position on: px_store_clog.c). */
static px_err open_dbis(px_store *s, bool fresh, uint64_t format, char *errbuf, size_t errlen)
{
    MDB_txn *txn;
    bool upgrade = !fresh && !s->read_only && format < PXS_FORMAT_TABLES;
    s->n_tables = s->read_only && format < PXS_FORMAT_TABLES ? PXS_TABLES_V2 : DBI__N;
    s->format = upgrade || fresh ? PXS_FORMAT_TABLES : format;
    int rc = mdb_txn_begin(s->env, NULL, s->read_only ? MDB_RDONLY : 0, &txn);
    for (int i = 0; rc == 0 && i < s->n_tables; i++) {
        unsigned flags = fresh || (upgrade && i >= PXS_TABLES_V2) ? MDB_CREATE : 0;
        if (i == DBI_ORG_I || i == DBI_ASO_I)
            flags |= MDB_INTEGERKEY;
        rc = mdb_dbi_open(txn, pxs_dbi_names[i], flags, &s->dbi[i]);
    }
    for (int i = DBI_STATE; rc == 0 && i < s->n_tables; i++) {
        MDB_stat st;
        rc = mdb_stat(txn, s->dbi[i], &st);
        s->feed_entries[i] = rc == 0 ? st.ms_entries : 0;
    }
    if (rc == 0)
        rc = fresh || upgrade ? pxs_txn_commit(s, txn) : mdb_txn_commit(txn);
    else if (txn)
        mdb_txn_abort(txn);
    if (rc)
        snprintf(errbuf, errlen, "store: opening tables: %s", mdb_strerror(rc));
    return pxs_map_mdb(rc);
}

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
    px_err err = pxs_marker_read(s, &id, &next, &total);
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
                         uint64_t *format, char *errbuf, size_t errlen)
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
                 dir, PXS_FORMAT_OLDEST);
        err = PX_ERR_UNSUPPORTED;
    } else if (have && (m.format > PXS_FORMAT || m.format < PXS_FORMAT_OLDEST)) {
        snprintf(errbuf, errlen,
                 "store: %s has store format %llu; this pdnsx reads formats %d to %d%s", dir,
                 (unsigned long long)m.format, PXS_FORMAT_OLDEST, PXS_FORMAT,
                 m.format > PXS_FORMAT ? ": run the pdnsx that wrote it" : "");
        err = PX_ERR_UNSUPPORTED;
    } else if (have && have != (m.format < PXS_FORMAT_TABLES ? PXS_TABLES_V2 : DBI__N)) {
        pxs_report(s, "data.mdb", "tables of the store are missing");
        err = damaged_msg(PX_ERR_DAMAGED, r, dir, errbuf, errlen);
    }
    *format = have ? m.format : PXS_FORMAT_TABLES;
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
    s->changelog = o.changelog;
    s->changelog_ctx = o.changelog_ctx;
    open_reports r = {.fn = o.on_damage, .ctx = o.damage_ctx};
    s->on_damage = open_report;
    s->damage_ctx = &r;
    *err = PX_OK;
    if (!o.read_only && mkdir(dir, 0755) != 0 && errno != EEXIST) {
        *err = PX_ERR_IO;
        snprintf(errbuf, errlen, "store: mkdir %s: %s", dir, strerror(errno));
    }
    bool fresh = false;
    uint64_t format = PXS_FORMAT_TABLES;
    s->n_tables = DBI__N;
    if (!*err)
        *err = open_file(s, dir, errbuf, errlen);
    if (!*err)
        *err = open_env(s, dir, &o, errbuf, errlen);
    if (!*err)
        *err = open_check(s, &r, dir, &fresh, &format, errbuf, errlen);
    if (!*err)
        *err = open_dbis(s, fresh && !o.read_only, format, errbuf, errlen);
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

/* LMDB hands a page freed by transaction N out again only from N + 2 on:
 * the snapshot N - 1 it belonged to is still the newest but one, which a
 * reader may be starting on. A batch rewrites most record pages, so its
 * old copies would wait for two more batches, and the data file would
 * hold two batches' worth of free pages besides the data. One tiny
 * transaction after each batch lets the next batch reuse them: measured
 * on the consumer benchmark (200k records), the file shrank from 480 to
 * 331 bytes per record. Its key cannot be an offset (those start with a
 * topic name, never empty); a failure here costs space, not data. */
bool pxs_release_freed_pages(px_store *s)
{
    static const uint8_t key[] = {0, 'g', 'c'};
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, 0, &txn) != 0)
        return false;
    uint8_t sum[PXS_SUM_LEN];
    px_buf vb = PXS_FIXED_BUF(sum, 0);
    pxs_val_seal(DBI_OFF, key, sizeof key, &vb);
    MDB_val k = {sizeof key, (void *)key}, v = {vb.len, sum};
    if (mdb_put(txn, s->dbi[DBI_OFF], &k, &v, 0) == 0)
        return pxs_txn_commit(s, txn) == 0;
    mdb_txn_abort(txn);
    return false;
}
