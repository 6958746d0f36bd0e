/* px-store-tool: puts a store in states the damage test needs and the
 * consumer only reaches by crashing at the right moment.
 *
 *   px-store-tool pending DIR N   merges N synthetic records (names under
 *                                 pending.test) in one big batch whose
 *                                 application stops after its first chunk,
 *                                 as a crash would: the batch and its
 *                                 offsets are committed, batch.log is
 *                                 pending. Exit 0 when it is.
 *   px-store-tool hold DIR        takes the store's write lock (an LMDB
 *                                 write transaction), prints "held" and
 *                                 keeps it until standard input ends:
 *                                 a consumer's merging stands still
 *                                 meanwhile (its Kafka client and
 *                                 /metrics go on), as on a stalled disk.
 *
 * Test helper, not installed. */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/px_store.h"

static int pending(const char *dir, long n)
{
    px_err err;
    char why[512];
    px_store *s = px_store_open(dir, &(px_store_opts){.chunk_records = 64, .apply_limit = 1}, &err,
                                why, sizeof why);
    if (!s) {
        fprintf(stderr, "px-store-tool: %s\n", why);
        return 1;
    }
    px_store_batch *b;
    err = px_store_batch_begin(s, &b);
    for (long i = 0; i < n && !err; i++) {
        char name[64];
        snprintf(name, sizeof name, "h%ld.pending.test", i);
        size_t len = strlen(name);
        px_store_obs o = {.rrname = name,
                          .rrname_len = len,
                          .rrtype = 16, /* TXT */
                          .rdata = name,
                          .rdata_len = len,
                          .regdom = "pending.test",
                          .regdom_len = strlen("pending.test"),
                          .org = "fixture",
                          .count = 1,
                          .time_first = 1764201600,
                          .time_last = 1764201600};
        err = px_store_merge(b, &o);
    }
    if (!err)
        err = px_store_batch_commit(b);
    else
        px_store_batch_abort(b);
    bool ok = err == PX_ERR_AGAIN && px_store_log_pending(s);
    px_store_close(s);
    if (!ok)
        fprintf(stderr, "px-store-tool: no pending log: %s\n", px_strerror(err));
    return ok ? 0 : 1;
}

static int hold(const char *dir)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    int rc = mdb_env_create(&env);
    if (rc == 0) /* the store's own map size is taken from the file */
        rc = mdb_env_open(env, dir, MDB_NOTLS, 0644);
    if (rc == 0)
        rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (rc != 0) {
        fprintf(stderr, "px-store-tool: %s: %s\n", dir, mdb_strerror(rc));
        mdb_env_close(env);
        return 1;
    }
    printf("held\n");
    fflush(stdout);
    while (getchar() != EOF)
        ;
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "hold") == 0)
        return hold(argv[2]);
    if (argc == 4 && strcmp(argv[1], "pending") == 0 && atol(argv[3]) > 64)
        return pending(argv[2], atol(argv[3]));
    fprintf(stderr, "usage: px-store-tool pending DIR N (N > 64) | hold DIR\n");
    return 2;
}
