/* px_store_dlq.c: the consumer's dead-letter marks (px_store.h).
 *
 * A mark lives in the offsets table under a key no offset can have (an
 * offset's key starts with a topic name, never empty): 0 'd' 'l' 'q',
 * topic, NUL, partition (big-endian 32 bits), offset (big-endian 64
 * bits); the value is one byte, 'a' (acknowledged) or 's' (skipped). Marks
 * are few (the copies of abandoned batches) and short-lived, so they are
 * written in transactions of their own, outside batches. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "px_store_int.h"

static const uint8_t px_dlq_prefix[] = {0, 'd', 'l', 'q'};
#define PX_DLQ_KEY_MAX (sizeof(px_dlq_prefix) + 249 + 1 + 4 + 8)

static size_t dlq_key(const char *topic, int32_t partition, int64_t offset, uint8_t *key)
{
    size_t tl = strlen(topic);
    if (tl == 0 || tl > 249)
        return 0;
    uint8_t *p = key;
    memcpy(p, px_dlq_prefix, sizeof(px_dlq_prefix));
    p += sizeof(px_dlq_prefix);
    memcpy(p, topic, tl + 1);
    p += tl + 1;
    uint32_t part = htonl((uint32_t)partition);
    memcpy(p, &part, 4);
    p += 4;
    uint64_t off = (uint64_t)offset;
    for (int i = 7; i >= 0; i--, off >>= 8)
        p[i] = (uint8_t)off;
    return (size_t)(p + 8 - key);
}

/* Parses a key with the prefix; false if it is not a well-formed mark. */
static bool dlq_parse(const MDB_val *k, const MDB_val *v, px_store_dlq_ent *out)
{
    const uint8_t *key = k->mv_data;
    size_t pl = sizeof(px_dlq_prefix);
    if (k->mv_size < pl + 2 + 12 || k->mv_size > PX_DLQ_KEY_MAX)
        return false;
    const uint8_t *nul = memchr(key + pl, 0, k->mv_size - pl);
    if (!nul || nul == key + pl || (size_t)(key + k->mv_size - nul) != 1 + 12)
        return false;
    uint32_t part;
    memcpy(&part, nul + 1, 4);
    uint64_t off = 0;
    for (int i = 0; i < 8; i++)
        off = off << 8 | nul[5 + i];
    if (v->mv_size != 1 ||
        (((const uint8_t *)v->mv_data)[0] != 'a' && ((const uint8_t *)v->mv_data)[0] != 's'))
        return false;
    out->topic = (const char *)key + pl;
    out->partition = (int32_t)ntohl(part);
    out->offset = (int64_t)off;
    out->skipped = ((const uint8_t *)v->mv_data)[0] == 's';
    return true;
}

px_err px_store_dlq_mark(px_store *s, const px_store_dlq_ent *marks, size_t n)
{
    if (s->read_only)
        return PX_ERR_INVAL;
    if (s->batch)
        return PX_ERR_AGAIN;
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc)
        return pxs_map_mdb(rc);
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint8_t key[PX_DLQ_KEY_MAX];
        size_t kl = dlq_key(marks[i].topic, marks[i].partition, marks[i].offset, key);
        if (!kl) {
            mdb_txn_abort(txn);
            return PX_ERR_INVAL;
        }
        MDB_val k = {kl, key}, v = {1, marks[i].skipped ? "s" : "a"};
        rc = mdb_put(txn, s->dbi[DBI_OFF], &k, &v, 0);
    }
    if (rc == 0)
        return pxs_map_mdb(mdb_txn_commit(txn));
    mdb_txn_abort(txn);
    return pxs_map_mdb(rc);
}

/* Walks the keys with the prefix in txn; fn gets each key, value and
 * whether it parsed. */
typedef bool (*dlq_walk_fn)(void *ctx, const MDB_val *k, const MDB_val *v, bool ok,
                            const px_store_dlq_ent *mark);

static px_err dlq_walk(px_store *s, MDB_txn *txn, dlq_walk_fn fn, void *ctx)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->dbi[DBI_OFF], &c);
    if (rc)
        return pxs_map_mdb(rc);
    MDB_val k = {sizeof(px_dlq_prefix), (void *)px_dlq_prefix}, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size < sizeof(px_dlq_prefix) ||
            memcmp(k.mv_data, px_dlq_prefix, sizeof(px_dlq_prefix)) != 0)
            break;
        px_store_dlq_ent m;
        bool ok = dlq_parse(&k, &v, &m);
        if (!fn(ctx, &k, &v, ok, &m))
            break;
    }
    mdb_cursor_close(c);
    return rc == 0 || rc == MDB_NOTFOUND ? PX_OK : pxs_map_mdb(rc);
}

typedef struct dlq_user {
    px_store_dlq_fn fn;
    void *ctx;
} dlq_user;

static bool dlq_to_user(void *ctx, const MDB_val *k, const MDB_val *v, bool ok,
                        const px_store_dlq_ent *m)
{
    (void)k;
    (void)v;
    const dlq_user *u = ctx;
    return !ok || u->fn(u->ctx, m); /* a damaged mark is no mark */
}

px_err px_store_dlq_acked(px_store *s, px_store_dlq_fn fn, void *ctx)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return pxs_map_mdb(rc);
    dlq_user u = {fn, ctx};
    px_err err = dlq_walk(s, txn, dlq_to_user, &u);
    mdb_txn_abort(txn);
    return err;
}

/* The keys to delete: damaged marks, and those the offsets passed. */
typedef struct dlq_prune {
    px_store *s;
    uint8_t (*keys)[PX_DLQ_KEY_MAX];
    size_t *lens;
    size_t n, cap, left;
    px_err err;
} dlq_prune;

static bool dlq_prune_one(void *ctx, const MDB_val *k, const MDB_val *v, bool ok,
                          const px_store_dlq_ent *m)
{
    (void)v;
    dlq_prune *p = ctx;
    int64_t next;
    if (ok) {
        px_err err = px_store_get_offset(p->s, m->topic, m->partition, &next);
        if (err != PX_OK && err != PX_ERR_NOTFOUND) {
            p->err = err;
            return false;
        }
        if (err == PX_ERR_NOTFOUND || next <= m->offset) {
            p->left++;
            return true;
        }
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 16;
        void *keys = realloc(p->keys, cap * sizeof(*p->keys));
        if (keys)
            p->keys = keys;
        size_t *lens = keys ? realloc(p->lens, cap * sizeof(*p->lens)) : NULL;
        if (!lens) {
            p->err = PX_ERR_NOMEM;
            return false;
        }
        p->lens = lens;
        p->cap = cap;
    }
    memcpy(p->keys[p->n], k->mv_data, k->mv_size);
    p->lens[p->n++] = k->mv_size;
    return true;
}

px_err px_store_dlq_prune(px_store *s, size_t *left)
{
    if (s->read_only)
        return PX_ERR_INVAL;
    if (s->batch)
        return PX_ERR_AGAIN;
    /* Collect first (reading offsets takes read transactions of its own),
     * then delete in one write transaction. */
    dlq_prune p = {.s = s};
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return pxs_map_mdb(rc);
    px_err err = dlq_walk(s, txn, dlq_prune_one, &p);
    mdb_txn_abort(txn);
    if (!err)
        err = p.err;
    if (!err && p.n) {
        rc = mdb_txn_begin(s->env, NULL, 0, &txn);
        if (rc == 0) {
            for (size_t i = 0; rc == 0 && i < p.n; i++) {
                MDB_val k = {p.lens[i], p.keys[i]};
                rc = mdb_del(txn, s->dbi[DBI_OFF], &k, NULL);
                if (rc == MDB_NOTFOUND)
                    rc = 0;
            }
            if (rc == 0)
                rc = mdb_txn_commit(txn);
            else
                mdb_txn_abort(txn);
        }
        err = pxs_map_mdb(rc);
    }
    free(p.keys);
    free(p.lens);
    if (left)
        *left = p.left;
    return err;
}
