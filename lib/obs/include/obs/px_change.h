/* px_change.h: the change feed, what a merge changed in the history of
 * passive DNS (docs/DATA-MODEL.md, "The change feed"). The store emits it
 * from each merge; detection consumes it without knowing the store.
 *
 * Delivery (the store's side, docs/STORE.md "The change feed"):
 * - changes are delivered inside the write transaction that writes them,
 *   before it commits: per transaction, records in key order, then
 *   registered domains in key order;
 * - after a transaction that delivered changes commits, `committed` is
 *   called; when a transaction of a batch is rolled back (the caller
 *   aborted the batch, a commit failed, a change callback failed),
 *   `aborted` is called, whether or not it had delivered any: the changes
 *   since the last `committed` never happened;
 * - a big batch applied through the store's batch log delivers each
 *   chunk's changes in that chunk's transaction: a process killed between
 *   two chunks has committed the earlier ones, and the resume delivers
 *   the rest, so a sink that acts on `committed` sees each change once;
 * - strings and arrays are valid during the call only.
 * An error returned by `change` fails the transaction (and the batch). */
#ifndef PX_CHANGE_H
#define PX_CHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"
#include "obs/px_alert.h"
#include "obs/px_geo.h"

typedef enum px_change_kind {
    PX_CHANGE_RECORD_NEW = 1, /* (rrname, rrtype, rdata) the store did not hold */
    PX_CHANGE_RECORD_GREW,  /* a held record: count grew, time range widened, organisations added */
    PX_CHANGE_DOMAIN_FIRST, /* a registered domain seen for the first time, or its first
                               sighting moved earlier */
    PX_CHANGE_DOMAIN_GREW,  /* a held domain seen again: last sighting moved, organisations
                               added, or only new sightings (seen) */
} px_change_kind;

/* A record (the store's key: rrname, rrtype, rdata). Its registered
 * domain is not part of it: the domain's own changes come as
 * PX_CHANGE_DOMAIN_* (a record is not tied to one in the store). */
typedef struct px_change_record {
    const char *rrname; /* canonical name text, NUL-terminated */
    size_t rrname_len;
    uint16_t rrtype;
    const char *rdata; /* canonical rdata text, NUL-terminated */
    size_t rdata_len;
    const uint8_t *addr; /* A/AAAA: the 4 or 16 address bytes; NULL otherwise */
    size_t addr_len;
    uint64_t count_before, count;      /* count_before: 0 for a new record */
    int64_t first_before, last_before; /* 0 for a new record */
    int64_t first, last;               /* after the merge */
    size_t n_orgs;                     /* organisations after the merge, sorted */
    const char *const *orgs;
    size_t n_new_orgs; /* those this merge added (all of them for a new record), sorted */
    const char *const *new_orgs;
    const px_geo *geo; /* A/AAAA: as enriched (new) or as stored (grown); NULL: none */
    /* TTL range of this transaction's observations of the record (not
     * stored); has_ttl false when none said (px_store_obs.has_ttl). */
    bool has_ttl;
    uint32_t ttl_min, ttl_max;
} px_change_record;

/* One organisation's sightings of a registered domain in this
 * transaction, in event time: the least time_first and the greatest
 * time_last of its observations this transaction merged. */
typedef struct px_change_sighting {
    const char *org;
    int64_t first, last;
} px_change_sighting;

typedef struct px_change_domain {
    const char *domain; /* canonical name text, NUL-terminated */
    size_t len;
    int64_t first_seen;
    int64_t prev_first_seen; /* PX_CHANGE_DOMAIN_FIRST: INT64_MIN when the domain is new */
    int64_t last_seen;
    size_t n_orgs; /* organisations after the merge, sorted */
    const char *const *orgs;
    size_t n_new_orgs; /* those this merge added, sorted */
    const char *const *new_orgs;
    /* The organisations whose observations of the domain this
     * transaction merged, sorted by org, each with its own times (a
     * batch applied from its log too): what a sliding window of distinct
     * organisations counts. */
    size_t n_seen;
    const px_change_sighting *seen;
} px_change_domain;

typedef struct px_change {
    px_change_kind kind;
    union {
        px_change_record rec; /* PX_CHANGE_RECORD_* */
        px_change_domain dom; /* PX_CHANGE_DOMAIN_* */
    };
} px_change;

/* What the feed's reader keeps in the store, written in the transaction
 * that delivers the changes it concerns, committed or rolled back with
 * them and with the Kafka offsets that caused them: its own state
 * (opaque key/value pairs) and the alerts it decided (the outbox). The
 * store implements it; a reader never includes the store. A key is 1 to
 * PX_CHANGE_STATE_KEY_MAX bytes and should start with what places it in
 * a partition (the registered domain the state concerns), so that the
 * state of a partition can move with it; a value is 0 to
 * PX_CHANGE_STATE_VAL_MAX bytes. Reads see the transaction's own writes.
 * Errors (_FULL, _NOMEM, _IO, _DAMAGED, _INVAL for a key or value out of
 * bounds) fail the transaction. */
#define PX_CHANGE_STATE_KEY_MAX 384
#define PX_CHANGE_STATE_VAL_MAX 65536

typedef struct px_change_txn px_change_txn;
struct px_change_txn {
    /* The value of key: *val valid until the next call on t;
     * PX_ERR_NOTFOUND when there is none. */
    px_err (*get)(px_change_txn *t, const void *key, size_t klen, const void **val, size_t *vlen);
    px_err (*put)(px_change_txn *t, const void *key, size_t klen, const void *val, size_t vlen);
    px_err (*del)(px_change_txn *t, const void *key, size_t klen); /* PX_OK when absent */
    /* Appends a decided alert to the outbox (a->seq is ignored); *seq
     * (may be NULL): the number the store gave it. */
    px_err (*alert)(px_change_txn *t, const px_alert *a, uint64_t *seq);
    void *impl;
};

/* Where the changes go. change == NULL: none are built. */
typedef struct px_change_sink {
    px_err (*change)(void *ctx, const px_change *c);
    void (*committed)(void *ctx); /* may be NULL */
    void (*aborted)(void *ctx);   /* may be NULL */
    void *ctx;
    /* Called once per write transaction that delivered changes, after its
     * last change and before it commits: what the reader decided goes
     * into t, in the same transaction. An error fails the transaction
     * (then `aborted`). May be NULL. */
    px_err (*prepare)(void *ctx, px_change_txn *t);
} px_change_sink;

#endif
