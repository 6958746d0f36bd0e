/* px_stores.h: the partitioned store. The consumer keeps the state of
 * each input partition number apart (every organisation topic's partition
 * i together: co-partitioning, docs/ARCHITECTURE.md "Partitioning"), so a
 * member of the consumer group can drop, hand over or rebuild one
 * partition without touching the others, and answers only for the
 * partitions it holds.
 *
 * Layout (docs/STORE-FORMAT.md, "The partitioned layout"): store.path is
 * a directory holding the file LAYOUT (one line naming the layout, so a
 * later change is detected) and one ordinary store (px_store.h, its
 * format unchanged) per attached partition in partition-<i>/; the stores
 * of partitions detached are kept in detached-<i>/. A directory with
 * data.mdb directly in it is the single store of pdnsx before the
 * partitioned layout: read-only opens read it as one store (it answers
 * for every partition), writable opens refuse it (PX_ERR_UNSUPPORTED,
 * with a message saying what to do).
 *
 * Threads: one writer (the consumer's thread) attaches, detaches, removes
 * and writes through the px_store handles it attached; the readers below
 * (lookups, alerts, stats, verify) may run in other threads at the same
 * time (the query endpoint's). A reader holds each store it reads until
 * it is done (an iterator: until it is freed), so a store detached
 * meanwhile is closed by the last reader, never under one. */
#ifndef PX_STORES_H
#define PX_STORES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"
#include "store/px_store.h"

typedef struct px_stores px_stores;

/* The partition of a single store of the old layout (read-only opens, and
 * px_stores_wrap by default): it stands for every partition. */
#define PX_STORES_ALL (-1)
/* Partitions are 0 .. PX_STORES_MAX_PARTITION (Kafka's are int32). */
#define PX_STORES_MAX_PARTITION 99999

/* What a directory holds. */
typedef enum px_stores_layout {
    PX_STORES_NONE = 0,    /* nothing (missing or empty directory) */
    PX_STORES_SINGLE,      /* data.mdb directly in it: the old single store */
    PX_STORES_PARTITIONED, /* LAYOUT naming this layout */
    PX_STORES_OTHER,       /* LAYOUT naming another layout, or files of neither */
} px_stores_layout;
px_stores_layout px_stores_layout_of(const char *dir);

/* Opens the directory `dir`. Writable (opts->read_only false): creates it
 * and LAYOUT if need be, attaches nothing (px_stores_attach). Read-only:
 * attaches every partition-<i>/ present (each opened read-only), or the
 * old single store. opts is each partition store's (px_store_open; its
 * callbacks and contexts must outlive the set). NULL on failure (*err,
 * message in errbuf): PX_ERR_UNSUPPORTED for an old single store opened
 * writable or a layout of another version; a partition store's own error
 * for a read-only open. */
px_stores *px_stores_open(const char *dir, const px_store_opts *opts, px_err *err, char *errbuf,
                          size_t errlen);
/* Closes every store (after the readers are done with them); NULL is
 * fine. */
void px_stores_close(px_stores *ps);

/* A set of one store opened elsewhere, attached as `partition`, that the
 * set never closes (s must outlive it): for a caller holding one store
 * (tests, tools). NULL: no memory. */
px_stores *px_stores_wrap(px_store *s, int32_t partition);

/* The store of `partition`, opened (created if need be) in
 * partition-<i>/ if it is not attached yet. The handle stays the set's:
 * valid until px_stores_detach/_remove of the partition or the set's
 * close. NULL on failure (*err, message in errbuf), PX_ERR_INVAL for a
 * partition out of range or a set made by px_stores_wrap. A read-only set
 * opens it read-only (it must exist). */
px_store *px_stores_attach(px_stores *ps, int32_t partition, px_err *err, char *errbuf,
                           size_t errlen);
/* Stops answering for `partition` and closes its store; nothing if it is
 * not attached. Its files are kept, moved aside to detached-<i>/ (out of
 * a reader's sight: pdnsx-query reads partition-<i>/ only) and moved back
 * by the next attach of the partition. A reader still holding the store
 * closes it when done. */
void px_stores_detach(px_stores *ps, int32_t partition);
/* Detaches `partition` for good and moves its files to
 * set-aside-<i>.<k>/ (the first k free), where no attach takes them back
 * (a store whose content must not be mixed with another's: the operator
 * looks at it, then deletes it). *where (may be NULL): that directory. A
 * reader still holding the store closes it when done; the next attach
 * creates a new store. PX_ERR_IO (nothing moved), PX_ERR_INVAL for a
 * read-only or wrapped set. */
px_err px_stores_set_aside(px_stores *ps, int32_t partition, char *where, size_t wlen);
/* Detaches `partition` and deletes its files (partition-<i>/ and
 * detached-<i>/). PX_ERR_AGAIN while a reader still holds it (detached
 * anyway: try again later), PX_ERR_IO. */
px_err px_stores_remove(px_stores *ps, int32_t partition);
/* The attached store of `partition`, NULL if none. Writer's thread. */
px_store *px_stores_get(px_stores *ps, int32_t partition);
/* The partitions whose store is in the directory (partition-<i>/), attached
 * or not, in increasing order: at most max into parts; returns how many
 * there are (0 when the directory cannot be read). */
size_t px_stores_present(px_stores *ps, int32_t *parts, size_t max);
/* The attached partitions in increasing order, at most max of them into
 * parts (may be NULL with max 0); returns how many are attached. */
size_t px_stores_list(px_stores *ps, int32_t *parts, size_t max);

/* Which attached stores a lookup reads (the query endpoint's: the
 * partitions its member owns, query/px_query_route.h): want(ctx, p) is
 * asked for each attached store when the lookup takes hold of them, under
 * the set's lock (it must be quick and call nothing of the set); p is
 * PX_STORES_ALL for a store standing for every partition. A NULL
 * selector (or want): every attached store. */
typedef struct px_stores_sel {
    bool (*want)(void *ctx, int32_t partition);
    void *ctx;
} px_stores_sel;

/* ---- readers: over every attached store ----
 * Records of one owner name are in one partition (the producers key them
 * by their registered domain), so stores never hold the same record: a
 * fan-out gives each record once. Answers come partition by partition
 * (increasing), each partition's in px_store_find's order. Damage: as
 * px_store_find, each store's reported and left out; PX_ERR_DAMAGED at
 * the end if any store met it, the others' records given. */
px_err px_stores_find(px_stores *ps, const px_store_lookup *l, const px_store_fence *fence,
                      px_store_rec_fn fn, void *ctx);

/* The same, read in steps (px_store_iter_find): a step reads one store;
 * the stores sel wants only (may be NULL: all). */
typedef struct px_stores_iter px_stores_iter;
px_err px_stores_iter_find(px_stores *ps, const px_stores_sel *sel, const px_store_lookup *l,
                           const px_store_fence *fence, px_stores_iter **out);
/* As px_store_iter_step; *done once every store is read. A store's damage
 * ends the walk (*done, PX_ERR_DAMAGED), as in px_store_iter_step. */
px_err px_stores_iter_step(px_stores_iter *it, size_t max_keys, px_store_rec_fn fn, void *ctx,
                           bool *done);
void px_stores_iter_free(px_stores_iter *it); /* NULL is fine */

/* The registered domain's row: rows of several stores (which the keying
 * never makes) combine as the merge would (earliest first, latest last,
 * every organisation), fn called at most once. The stores sel wants only
 * (may be NULL: all). */
px_err px_stores_find_domain(px_stores *ps, const px_stores_sel *sel, const char *regdom,
                             size_t len, px_store_domain_fn fn, void *ctx);

/* The alerts of every attached store's outbox (px_store_alerts, from seq
 * 1): partition by partition (increasing), each in seq order; `partition`
 * is given with each. Each store numbers its own alerts (a sink keeps a
 * cursor in each store: px_store_sink_get/_set). */
typedef bool (*px_stores_alert_fn)(void *ctx, int32_t partition, const px_alert *a);
px_err px_stores_alerts(px_stores *ps, const px_store_fence *fence, const char *rule,
                        px_stores_alert_fn fn, void *ctx);

/* Summed over the attached stores. */
px_err px_stores_get_stats(px_stores *ps, px_store_stats *out);
uint64_t px_stores_org_new_records(px_stores *ps, const char *org);

/* px_store_verify of each attached store; each's result to fn (may be
 * NULL), the sum in *out (txnid: 0; log_pending: any). PX_ERR_DAMAGED if
 * any store has damage; other errors stop the walk. */
typedef void (*px_stores_verify_fn)(void *ctx, int32_t partition, const px_store_verify_result *r,
                                    px_err err);
px_err px_stores_verify(px_stores *ps, px_store_check level, px_stores_verify_fn fn, void *ctx,
                        px_store_verify_result *out);

#endif
