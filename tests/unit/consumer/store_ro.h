/* store_ro.h: the consumer's partition stores (store.path, px_stores.h)
 * opened for reading, as pdnsx-query opens them, for the tests to look at
 * what a run left behind. */
#ifndef STORE_RO_H
#define STORE_RO_H

#include "store/px_stores.h"
#include "store_text.h"

static inline px_stores *open_ro(const char *dir)
{
    px_err err;
    char why[512];
    px_stores *s = px_stores_open(dir, &(px_store_opts){.read_only = true}, &err, why, sizeof(why));
    if (!s)
        fail_msg("store: %s", why);
    return s;
}

/* The offset (topic, partition) resumes from: in the partition's store;
 * PX_ERR_NOTFOUND when it has none (or there is no such store). */
static inline px_err ro_offset(px_stores *s, const char *topic, int32_t partition, int64_t *next)
{
    px_store *p = px_stores_get(s, partition);
    return p ? px_store_get_offset(p, topic, partition, next) : PX_ERR_NOTFOUND;
}

/* pxt_store_find_rrset / _rdata over every partition store. */
static inline px_err ro_find_rrset(px_stores *s, const char *name, const char *rrtype,
                                   const px_store_fence *fence, px_store_rec_fn fn, void *ctx)
{
    char buf[PX_DNS_NAME_TEXT_MAX];
    px_store_lookup l;
    px_err err = pxt_store_rrset(name, rrtype, buf, &l);
    return err ? err : px_stores_find(s, &l, fence, fn, ctx);
}

static inline px_err ro_find_rdata(px_stores *s, const char *value, const px_store_fence *fence,
                                   px_store_rec_fn fn, void *ctx)
{
    char buf[PX_DNS_NAME_TEXT_MAX];
    px_addr a;
    px_store_lookup l;
    px_err err = pxt_store_rdata(value, buf, &a, &l);
    return err ? err : px_stores_find(s, &l, fence, fn, ctx);
}

/* Partition store `partition` of store.path opened writable with opts
 * (tests that leave a batch log behind, as a crash would): the set, to
 * close when done, and the store in *out. */
static inline px_stores *open_part_rw(const char *dir, int32_t partition, const px_store_opts *opts,
                                      px_store **out)
{
    px_err err;
    char why[512];
    px_store_opts o = opts ? *opts : (px_store_opts){0};
    px_stores *s = px_stores_open(dir, &o, &err, why, sizeof(why));
    if (!s)
        fail_msg("store: %s", why);
    *out = px_stores_attach(s, partition, &err, why, sizeof(why));
    if (!*out)
        fail_msg("store: partition %d: %s", (int)partition, why);
    return s;
}

#endif
