/* px_store.h: the consumer's embedded store (LMDB). Merges observations of
 * every organisation and answers history queries.
 *
 * Merge rules (DESIGN.md section 3), key (rrname, rrtype, rdata): counts add
 * up, time_first is the minimum, time_last the maximum, the set of
 * organisations is kept exactly with each one's first and last sighting.
 * Per registered domain: first seen, last seen, organisations. For A/AAAA
 * records the GeoIP answer (country, ASN, AS organisation) as of when the
 * record was first stored.
 *
 * The consumer offsets live in the same store and are written in the same
 * transaction as the data they produced: after a crash the consumer
 * resumes exactly where the last committed batch ended, so no message is
 * counted twice or skipped.
 *
 * One writer at a time (the consumer); readers (pdnsx-query, the HTTP
 * endpoint) may run concurrently from other threads or processes (LMDB
 * MVCC). */
#ifndef PX_STORE_H
#define PX_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "px_avro.h"
#include "px_error.h"

typedef struct px_store px_store;
typedef struct px_store_batch px_store_batch;

typedef struct px_store_opts {
    bool read_only;     /* pdnsx-query: open for reading only */
    uint64_t map_bytes; /* LMDB map size; 0: 64 GiB (sparse, grows on disk as used) */
    /* Records per transaction of a big batch (see px_store_batch_commit);
     * 0: 8192. */
    uint32_t chunk_records;
    /* Tests: stop applying a big batch after this many chunks per commit
     * or resume, as a crash would (0: no limit). */
    uint32_t apply_limit;
} px_store_opts;

/* Opens (creating if needed, unless read_only) the store in directory
 * `dir`. NULL on failure (*err, and a message in errbuf). */
px_store *px_store_open(const char *dir, const px_store_opts *opts, px_err *err, char *errbuf,
                        size_t errlen);
void px_store_close(px_store *s); /* NULL is fine; aborts an open batch */

/* GeoIP answer stored with an A/AAAA record. */
typedef struct px_store_geo {
    char country[4];  /* ISO 3166 alpha-2, "" if unknown */
    int64_t asn;      /* -1 if unknown */
    char as_org[128]; /* "" if unknown */
} px_store_geo;

/* Called only when an A/AAAA record is stored for the first time, so each
 * address is looked up once per record. Fill *out; return false if no
 * database knows the address (stored as unknown). */
typedef bool (*px_store_geo_fn)(void *ctx, const char *address, px_store_geo *out);

/* A write transaction. Only one batch may be open at a time
 * (PX_ERR_AGAIN, as while a batch log is pending: px_store_resume). */
px_err px_store_batch_begin(px_store *s, px_store_batch **out);
/* Merges one observation. regdom: its registered domain (the consumer
 * computes it; not trusted from the message key; NULL: none); one that is
 * no name fails the merge (PX_ERR_INVAL), nothing of the observation
 * merged. obs is copied: the caller may reuse it on return (the table
 * work of an observation may wait for the next call, for its cache misses
 * to overlap with the caller's work; the commit finishes it). geo: the
 * GeoIP lookup for the batch's new A/AAAA records (NULL: none; the latest
 * non-NULL one a batch was given serves all of them); it is called at the
 * commit, from the thread that commits, and with geo_ctx must stay valid
 * until then.
 *
 * Errors: a bad observation fails its merge only (PX_ERR_INVAL,
 * _MALFORMED, _TOOLONG; _UNSUPPORTED for an overlong rdata whose 64-bit
 * hash collides with another one of the same batch). Stored values are
 * read when the batch is written, not by the merge: a stored record or
 * domain whose value is unreadable is replaced by the batch's
 * observations (px_store_stats.corrupt_replaced counts them; the
 * observations are not refused), and an overlong rdata whose hash
 * collides with a stored record's is dropped, the stored record kept
 * (px_store_stats.collisions). A failure of the store itself (_FULL,
 * _NOMEM, _IO) fails the batch: this and every later call return it. */
px_err px_store_merge(px_store_batch *b, const px_avro_obs *obs, const char *regdom,
                      px_store_geo_fn geo, void *geo_ctx);
/* Whether the record of obs (its key: rrname, rrtype, rdata) is known: in
 * the batch already (merged before, by any organisation) or in the store.
 * Finishes the table work the last merge deferred, so it costs a merge's
 * cache misses and, for a record not in the batch, a B-tree lookup: for
 * callers that must know, per observation, whether it would add a record
 * (the consumer's bound on new records per organisation). A record the
 * batch moved to its log (a batch past its memory bound) is not seen
 * there: it reads as new again, which errs towards the bound. Errors as
 * for the merge: a bad observation (nothing changes), or the store. */
px_err px_store_batch_known(px_store_batch *b, const px_avro_obs *obs, bool *known);
/* Records that everything of (topic, partition) before next_offset is in
 * this batch. */
px_err px_store_set_offset(px_store_batch *b, const char *topic, int32_t partition,
                           int64_t next_offset);
/* Commits data and offsets atomically; frees the batch.
 *
 * A big batch (more than chunk_records records, or one that outgrew its
 * memory) is written to the batch log in the store's directory, which is
 * fsynced; one transaction commits the offsets with a mark naming the log,
 * then the log is applied one chunk of records per transaction (readers
 * may see such a batch partly applied). PX_ERR_AGAIN: the batch and its
 * offsets are committed, but applying the log stopped (a store error, or
 * apply_limit): px_store_log_pending() is true and px_store_resume()
 * finishes it. Any other error: nothing of the batch was committed. */
px_err px_store_batch_commit(px_store_batch *b);
/* A committed batch log is not fully applied (after PX_ERR_AGAIN from a
 * commit, or found at open after a crash): px_store_batch_begin() returns
 * PX_ERR_AGAIN until px_store_resume() finishes it. */
bool px_store_log_pending(const px_store *s);
/* Applies what is left of a committed batch log, each chunk in its own
 * transaction with the mark of how far it got, so a crash in between
 * resumes without counting a record twice. geo: as for the merge, for the
 * records that turn out new. PX_OK if nothing was pending. A log that is
 * missing or whose chunks fail their checksums cannot be applied: the
 * chunks that can are, the rest are counted in *lost_chunks (may be NULL)
 * and PX_ERR_MALFORMED returned; the store goes on without them. Other
 * errors (_FULL, _IO, _NOMEM, _AGAIN for apply_limit) leave it pending. */
px_err px_store_resume(px_store *s, px_store_geo_fn geo, void *geo_ctx, uint64_t *lost_chunks);
/* Discards the batch; frees it. NULL is fine. */
void px_store_batch_abort(px_store_batch *b);

/* The next offset to consume for (topic, partition); PX_ERR_NOTFOUND if the
 * store has none (start from the beginning). */
px_err px_store_get_offset(px_store *s, const char *topic, int32_t partition, int64_t *next);

/* One stored record as queries return it. Strings valid during the
 * callback only. */
typedef struct px_store_rec {
    const char *rrname, *rrtype, *rdata;
    const char *bailiwick; /* NULL if never known */
    uint64_t count;
    int64_t time_first, time_last;
    size_t n_orgs;
    const char *const *orgs;             /* sorted organisation ids */
    const int64_t *org_first, *org_last; /* per organisation, same order */
    bool has_geo;                        /* A/AAAA with a GeoIP answer */
    px_store_geo geo;
} px_store_rec;

/* Return false to stop the iteration. */
typedef bool (*px_store_rec_fn)(void *ctx, const px_store_rec *rec);

/* Time fence: keep records whose [time_first, time_last] overlaps
 * [after, before]; use INT64_MIN / INT64_MAX for no fence. */
typedef struct px_store_fence {
    int64_t after, before;
} px_store_fence;

/* Records of `name` (lowercase presentation form; "*.example.com" means
 * every name strictly below example.com, in name order), optionally of one
 * rrtype (NULL: all). PX_OK also when nothing matched. */
px_err px_store_query_rrset(px_store *s, const char *name, const char *rrtype,
                            const px_store_fence *fence, px_store_rec_fn fn, void *ctx);
/* Records whose rdata is `value`: an address (A/AAAA, any textual form
 * normalised), or a name (CNAME, NS, PTR, DNAME targets, MX exchanges, SRV
 * targets). */
px_err px_store_query_rdata(px_store *s, const char *value, const px_store_fence *fence,
                            px_store_rec_fn fn, void *ctx);

/* The same lookups, read in steps (an HTTP answer produced as its client
 * takes it, pdnsx-query's output): each step runs in its own read
 * transaction and resumes after the last key the previous one visited, so
 * a reader that pauses between steps pins no old pages of the store, and
 * a step's work is bounded whatever the answer's size. Each record comes
 * at most once, in the order of the callback API; a record is as of its
 * step's commit, so records of one answer may be of different batches
 * (one committed between two steps shows in the later records only).
 * PX_ERR_INVAL as the callback API for a bad name or type. */
typedef struct px_store_iter px_store_iter;
px_err px_store_iter_rrset(px_store *s, const char *name, const char *rrtype,
                           const px_store_fence *fence, px_store_iter **out);
px_err px_store_iter_rdata(px_store *s, const char *value, const px_store_fence *fence,
                           px_store_iter **out);
/* Visits at most max_keys keys (records that the fence or type leave out
 * count too) and calls fn for each record that matches; a false return
 * ends the step after that record. *done: nothing is left. */
px_err px_store_iter_step(px_store_iter *it, size_t max_keys, px_store_rec_fn fn, void *ctx,
                          bool *done);
void px_store_iter_free(px_store_iter *it); /* NULL is fine */

/* Per registered domain. */
typedef struct px_store_domain {
    const char *domain;
    int64_t first_seen, last_seen;
    size_t n_orgs;
    const char *const *orgs;
} px_store_domain;
typedef bool (*px_store_domain_fn)(void *ctx, const px_store_domain *d);
px_err px_store_query_domain(px_store *s, const char *regdom, px_store_domain_fn fn, void *ctx);

typedef struct px_store_stats {
    uint64_t records; /* distinct (rrname, rrtype, rdata) */
    uint64_t domains;
    uint64_t bytes; /* bytes of the data file in use (pages used x page size) */
    /* Since the store was opened, by committed batches: */
    uint64_t corrupt_replaced; /* unreadable stored values replaced (see the merge) */
    uint64_t collisions;       /* records kept against a colliding overlong rdata */
} px_store_stats;
px_err px_store_get_stats(px_store *s, px_store_stats *out);
/* How many records `org` helped add to the store: records that were new
 * to the store when a committed transaction wrote them, counted once for
 * each organisation that observed them in that batch (a big batch counts
 * as its log is applied). Since the store was opened, from memory; 0 for
 * an organisation that merged nothing since. */
uint64_t px_store_org_new_records(const px_store *s, const char *org);
/* corrupt_replaced and collisions of px_store_get_stats() alone, from
 * memory: no read transaction, no walk of the free pages (for a caller
 * that asks after every commit). */
void px_store_get_repairs(const px_store *s, uint64_t *corrupt_replaced, uint64_t *collisions);

/* ---- dead-letter marks (px_store_dlq.c) ----
 * The consumer's record of the source messages (topic, partition, offset)
 * whose dead-letter copy Kafka acknowledged (or refused for good) in a
 * batch it abandoned, so that no later run sends such a copy again. Kept
 * beside the store in <dir>/dlq.marks (data.mdb's format and checks are
 * the store's alone), rewritten whole and atomically at each change; a
 * mark is obsolete once the partition's stored offset passes it. A damaged
 * file holds no marks: the worst it costs is a copy sent twice. */

typedef struct px_store_dlq_ent {
    const char *topic;
    int32_t partition;
    int64_t offset;
    bool skipped; /* the copy was refused for good, not acknowledged */
} px_store_dlq_ent;

/* Adds n marks (topics by Kafka's rule, else PX_ERR_INVAL). */
px_err px_store_dlq_mark(px_store *s, const px_store_dlq_ent *marks, size_t n);
/* Calls fn for every mark (strings valid during the call only); fn
 * returns false to stop. */
typedef bool (*px_store_dlq_fn)(void *ctx, const px_store_dlq_ent *mark);
px_err px_store_dlq_acked(px_store *s, px_store_dlq_fn fn, void *ctx);
/* Deletes the marks the stored offsets have passed; *left (may be NULL):
 * how many remain. A damaged file is removed: PX_ERR_MALFORMED (its marks
 * are lost, *left 0). */
px_err px_store_dlq_prune(px_store *s, size_t *left);

#endif
