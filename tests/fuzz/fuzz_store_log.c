/* fuzz_store_log.c: libFuzzer harness over the batch log's reader and the
 * application of its chunks (what a damaged or hostile batch.log feeds the
 * store when it resumes). Byte 0 chooses: odd, the input is the whole log
 * file; even, it is one chunk's payload (kind from byte 1: record or
 * domain, with the change feed's prefix or without; entry count from
 * bytes 2-3), wrapped in a valid header and
 * checksum so the mutations reach the entry decoder. Either way a mark
 * naming the log is planted and px_store_resume() runs: without
 * drop_damaged_log (bit 2 of byte 0 set) it applies the log whole or
 * reports it damaged and leaves it pending; with it, it applies what it can
 * and must leave nothing pending. Neither may crash. The store has a
 * change feed (its entries decode the feed's prefixes and build the
 * changes). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "px_store_int.h"
#include "store/px_store.h"
#include "store_tmp.h"

#define LOG_ID 7

static pxt_tmp_store tmp;
static px_store *store;

static bool geo(void *ctx, const uint8_t *addr, size_t len, px_geo *out)
{
    (void)ctx;
    (void)len;
    snprintf(out->country, sizeof out->country, "NL");
    out->asn = 1136;
    snprintf(out->as_org, sizeof out->as_org, "AS of %u", addr[0]);
    return true;
}

static px_err on_change(void *ctx, const px_change *c)
{
    (void)ctx;
    if (c->kind == PX_CHANGE_DOMAIN_FIRST || c->kind == PX_CHANGE_DOMAIN_GREW) {
        for (size_t i = 0; i < c->dom.n_seen; i++) {
            if (c->dom.seen[i].first > c->dom.seen[i].last)
                abort();
        }
    }
    return PX_OK;
}

static void open_store(void)
{
    px_store_opts o = {.map_bytes = 1ULL << 30, .enrich = geo, .feed = {.change = on_change}};
    store = pxt_tmp_store_open(&tmp, "fuzz-store-log", &o);
}

static void write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
}

static void write_chunk(const char *path, const uint8_t *data, size_t size)
{
    pxs_logw w;
    if (pxs_logw_open(&w, path, LOG_ID) != PX_OK)
        abort();
    static const uint8_t kinds[] = {PXS_LOG_REC, PXS_LOG_DOM, PXS_LOG_REC_FEED, PXS_LOG_DOM_FEED};
    uint8_t kind = kinds[size > 1 ? data[1] & 3 : 0];
    uint32_t n = size > 3 ? (uint32_t)(data[2] << 8 | data[3]) : 0;
    const uint8_t *p = size > 4 ? data + 4 : data;
    if (pxs_logw_chunk(&w, kind, n, p, size > 4 ? size - 4 : 0) != PX_OK)
        abort();
    pxs_logw_close(&w);
}

static void plant_mark(uint64_t total)
{
    static const uint8_t key[] = {0, 'l', 'o', 'g'};
    uint8_t val[30 + PXS_SUM_LEN];
    px_buf vb = PXS_FIXED_BUF(val, 0);
    px_buf_put_varint(&vb, LOG_ID);
    px_buf_put_varint(&vb, 0);
    px_buf_put_varint(&vb, total);
    pxs_val_seal(DBI_OFF, key, sizeof key, &vb); /* room in val */
    MDB_txn *txn;
    if (mdb_txn_begin(store->env, NULL, 0, &txn) != 0)
        abort();
    MDB_val k = {sizeof key, (void *)key}, v = {vb.len, val};
    if (mdb_put(txn, store->dbi[DBI_OFF], &k, &v, 0) != 0 || mdb_txn_commit(txn) != 0)
        abort();
    store->log_pending = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!store)
        open_store();
    if (size < 1)
        return 0;
    if (data[0] & 1)
        write_file(store->log_path, data + 1, size - 1);
    else
        write_chunk(store->log_path, data, size);
    plant_mark(1 + data[0] % 3); /* sometimes more chunks than the log has */
    uint64_t lost = 0;
    store->drop_damaged_log = false;
    px_err err = (data[0] & 4) ? px_store_resume(store, &lost) : PX_ERR_DAMAGED;
    if (err == PX_ERR_DAMAGED) { /* left pending: told to drop it, it goes */
        if (!px_store_log_pending(store))
            abort();
        store->drop_damaged_log = true;
        err = px_store_resume(store, &lost);
    }
    if (err == PX_ERR_FULL) { /* the records of many runs: start over */
        pxt_tmp_store_drop(&tmp);
        store = NULL;
        return 0;
    }
    if (err != PX_OK && err != PX_ERR_MALFORMED)
        abort();
    if (px_store_log_pending(store))
        abort();
    return 0;
}
