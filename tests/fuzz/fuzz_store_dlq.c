/* fuzz_store_dlq.c: libFuzzer harness over the dead-letter marks' reader
 * (px_store_dlq.c): what a damaged store feeds the consumer at start-up.
 * The input is planted as one raw entry of the offsets table under the
 * marks' prefix (byte 0: how many of the following bytes are the key's
 * tail, the rest the value), beside a well-formed mark and the offset of
 * its partition; px_store_dlq_acked() and px_store_dlq_prune() must not
 * crash, must report only well-formed marks, and pruning must leave no
 * mark that the stored offsets passed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "px_store.h"
#include "px_store_int.h"

static px_store *store;
static char dir[] = "/tmp/fuzz-store-dlq.XXXXXX";

static void remove_store(void)
{
    char p[128];
    px_store_close(store);
    store = NULL;
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/lock.mdb", dir);
    unlink(p);
    rmdir(dir);
}

static void plant(const void *key, size_t klen, const void *val, size_t vlen)
{
    MDB_txn *txn;
    if (mdb_txn_begin(store->env, NULL, 0, &txn))
        abort();
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    if (mdb_put(txn, store->dbi[DBI_OFF], &k, &v, 0) || mdb_txn_commit(txn))
        mdb_txn_abort(txn);
}

static bool check_mark(void *ctx, const px_store_dlq_ent *m)
{
    size_t *n = ctx;
    size_t tl = strlen(m->topic);
    if (tl == 0 || tl > 249)
        abort(); /* not well-formed, yet reported */
    (*n)++;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!store) {
        if (!mkdtemp(dir))
            abort();
        atexit(remove_store);
        px_err err;
        char why[256];
        store = px_store_open(dir, NULL, &err, why, sizeof why);
        if (!store)
            abort();
        /* the partition pdnsx.obs.a [0] is committed up to offset 10 */
        px_store_batch *b;
        if (px_store_batch_begin(store, &b) != PX_OK ||
            px_store_set_offset(b, "pdnsx.obs.a", 0, 10) != PX_OK ||
            px_store_batch_commit(b) != PX_OK)
            abort();
    }
    if (size < 1)
        return 0;
    size_t klen = data[0] < size - 1 ? data[0] : size - 1;
    uint8_t key[4 + 256];
    memcpy(key, (const uint8_t[]){0, 'd', 'l', 'q'}, 4);
    memcpy(key + 4, data + 1, klen);
    plant(key, 4 + klen, data + 1 + klen, size - 1 - klen);
    px_store_dlq_ent good[] = {{"pdnsx.obs.a", 0, 3, false}, {"pdnsx.obs.a", 0, 12, true}};
    if (px_store_dlq_mark(store, good, 2) != PX_OK)
        abort();
    size_t n = 0;
    px_store_dlq_acked(store, check_mark, &n);
    size_t left = 0;
    if (px_store_dlq_prune(store, &left) != PX_OK)
        abort();
    n = 0;
    px_store_dlq_acked(store, check_mark, &n);
    if (n != left || n < 1) /* offset 12 is ahead of the partition: kept */
        abort();
    /* start the next input from the good mark alone */
    MDB_txn *txn;
    if (mdb_txn_begin(store->env, NULL, 0, &txn) == 0) {
        MDB_val k = {4 + klen, key};
        mdb_del(txn, store->dbi[DBI_OFF], &k, NULL);
        mdb_txn_commit(txn);
    }
    return 0;
}
