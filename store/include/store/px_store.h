/* px_store.h: the consumer's embedded store (LMDB). Merges observations of
 * every organisation and answers history queries.
 *
 * Merge rules (docs/DATA-MODEL.md, "Merge rules"), key (rrname, rrtype,
 * rdata): counts add up, time_first is the minimum, time_last the
 * maximum, the set of organisations is kept exactly with each one's first
 * and last sighting.
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
 * MVCC).
 *
 * Integrity (docs/STORE.md): LMDB trusts its file; the store does not.
 * Every value carries a checksum of its key and itself, and is checked
 * whenever it is read; keys are checked for shape. The data file is
 * checked against its meta pages before LMDB maps it, the writer walks
 * the whole file at open (px_store_opts.check), and queries read through
 * a bounds-checked reader of the file's pages, not through LMDB. What
 * fails a check is damage: it is reported (px_store_opts.on_damage),
 * counted, never used and never written over; the call that met it
 * returns PX_ERR_DAMAGED (a query after giving every record it could
 * read). */
#ifndef PX_STORE_H
#define PX_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"
#include "obs/px_change.h"
#include "obs/px_geo.h"

typedef struct px_store px_store;
typedef struct px_store_batch px_store_batch;

/* ---- the changelog (docs/STORE.md, "The changelog") ----
 *
 * Every replicated row a write transaction put or deleted can be handed to
 * the caller before the transaction commits, to be published to a
 * log-compacted topic; another store rebuilds the same content from those
 * rows (px_store_apply_rows). Local rows are never given: the store's
 * control rows (format row, page-release row, batch log mark, changelog
 * position). */

/* One row a write transaction put or deleted. Pointers valid during the
 * call only. */
typedef struct px_store_row {
    uint8_t table; /* the table's changelog byte (PX_STORE_TABLE_*): stable across formats */
    const uint8_t *key;
    size_t key_len;
    const uint8_t *val; /* NULL: the row was deleted (a tombstone) */
    size_t val_len;
} px_store_row;

/* The tables' changelog bytes (docs/STORE-FORMAT.md, "The changelog"). */
#define PX_STORE_TABLE_REC 'r'
#define PX_STORE_TABLE_RDX 'x'
#define PX_STORE_TABLE_DOM 'd'
#define PX_STORE_TABLE_OFF 'o'
#define PX_STORE_TABLE_ORG_N 'N'
#define PX_STORE_TABLE_ORG_I 'I'
#define PX_STORE_TABLE_ASO_N 'n'
#define PX_STORE_TABLE_ASO_I 'i'
#define PX_STORE_TABLE_STATE 's'
#define PX_STORE_TABLE_ALERT 'a'
#define PX_STORE_TABLE_SINK 'k'

/* Called once per write transaction that changed replicated rows, after
 * the feed's prepare and before the commit, with every such row in the
 * order first written, each once with its last value (a delete: val
 * NULL). Set *next to the changelog position after these rows once they
 * are durable (acknowledged): the store writes it in the same
 * transaction (px_store_changelog_next). An error rolls the transaction
 * back, as a feed error does (nothing of it committed; the batch's
 * commit returns the error). Must not call the store's functions. */
typedef px_err (*px_store_changelog_fn)(void *ctx, const px_store_row *rows, size_t n,
                                        int64_t *next);

/* The GeoIP answer of an address given in binary (A: 4 bytes, AAAA: 16).
 * Called only when an A/AAAA record is stored for the first time, so each
 * address is looked up once per record, from the thread that commits (or
 * resumes). Fill *out (it comes with asn -1 and empty strings); return
 * false if no database knows the address (stored as unknown). */
typedef bool (*px_store_enrich_fn)(void *ctx, const uint8_t *addr, size_t len, px_geo *out);

/* Damage found: where (the data file's page and table, or a table and
 * key, or batch.log) and what. Called from the thread that met it (the
 * HTTP endpoint's threads too). */
typedef void (*px_store_damage_fn)(void *ctx, const char *where, const char *what);

/* How much of the store a writable open checks before it hands the store
 * out (a read-only open checks the meta pages and the table records; its
 * queries check what they read). */
typedef enum px_store_check {
    PX_STORE_CHECK_FULL = 0, /* every page, key and value (px_store_verify) */
    PX_STORE_CHECK_PAGES,    /* every page and the order of keys, not the values */
    PX_STORE_CHECK_META,     /* the meta pages, the file size and the table records */
} px_store_check;

typedef struct px_store_opts {
    bool read_only;     /* pdnsx-query: open for reading only */
    uint64_t map_bytes; /* LMDB map size; 0: 64 GiB (sparse, grows on disk as used) */
    /* Records per transaction of a big batch (see px_store_batch_commit);
     * 0: 8192. */
    uint32_t chunk_records;
    /* Tests: stop applying a big batch after this many chunks per commit
     * or resume, as a crash would (0: no limit). */
    uint32_t apply_limit;
    px_store_check check; /* writable opens */
    /* A committed batch log that cannot be applied whole (see
     * px_store_resume): false (the default) refuses to go on; true drops
     * what cannot be applied. */
    bool drop_damaged_log;
    px_store_damage_fn on_damage; /* NULL: damage is only counted */
    void *damage_ctx;
    /* GeoIP of new A/AAAA records (NULL: none), for every batch and
     * resume; enrich_ctx must outlive the store. */
    px_store_enrich_fn enrich;
    void *enrich_ctx;
    /* The change feed (obs/px_change.h; feed.change NULL: none): what each
     * write transaction changed, delivered inside it, from the thread
     * that commits or resumes (docs/STORE.md, "The change feed"), then
     * feed.prepare with the transaction's px_change_txn (see "the change
     * feed's reader" below). Without a feed the merge keeps neither the
     * TTL ranges nor the per-organisation sightings (`seen`) it carries.
     * The callbacks (and enrich) must not call the store's functions;
     * feed.ctx must outlive the store. */
    px_change_sink feed;
    /* The changelog (NULL: none): see px_store_changelog_fn. With it, a
     * batch never goes through the batch log: a big batch, or one past its
     * memory bound, is written into its own transaction, so that no other
     * store ever holds its offsets without its data (docs/STORE.md, "The
     * changelog"). changelog_ctx must outlive the store. */
    px_store_changelog_fn changelog;
    void *changelog_ctx;
} px_store_opts;

/* Opens (creating if needed, unless read_only) the store in directory
 * `dir`. NULL on failure (*err, and a message in errbuf): PX_ERR_DAMAGED
 * for a damaged data file (each finding went to on_damage),
 * PX_ERR_UNSUPPORTED for a store of another format (written before values
 * carried checksums, or by a newer pdnsx). */
px_store *px_store_open(const char *dir, const px_store_opts *opts, px_err *err, char *errbuf,
                        size_t errlen);
void px_store_close(px_store *s); /* NULL is fine; aborts an open batch */

/* A write transaction. Only one batch may be open at a time
 * (PX_ERR_AGAIN, as while a batch log is pending: px_store_resume). */
px_err px_store_batch_begin(px_store *s, px_store_batch **out);
/* One observation, checked and parsed by the caller (the store parses no
 * text and knows no message format). Names are canonical text: lowercase
 * presentation form of bytes 0x21..0x7e, no trailing dot ("." for the
 * root), at most 255 bytes; the lengths count bytes, no NUL needed. */
typedef struct px_store_obs {
    const char *rrname;
    size_t rrname_len;
    uint16_t rrtype;
    /* Canonical rdata text; A/AAAA: unused (may be NULL), the record is
     * keyed by its address bytes. The reverse index takes the target name
     * from this text (NS, CNAME, PTR, DNAME: the whole of it; MX: after
     * the preference; SRV: after the three numbers), as store format 2
     * defines it (docs/STORE-FORMAT.md): a batch applied from its log
     * after a crash has only the record's key to index it from. */
    const char *rdata;
    size_t rdata_len;
    const uint8_t *rdata_wire; /* A/AAAA: the 4/16 address bytes; else unused */
    size_t rdata_wire_len;
    const char *bailiwick; /* canonical; NULL: unknown */
    size_t bailiwick_len;
    const char *regdom; /* registered domain, canonical; NULL: none */
    size_t regdom_len;
    const char *org; /* organisation id, NUL-terminated, 1..255 bytes */
    uint64_t count;
    int64_t time_first, time_last; /* either order */
    /* TTL range of the observation, handed to the change feed (not
     * stored); has_ttl false: unknown. */
    bool has_ttl;
    uint32_t ttl_min, ttl_max;
} px_store_obs;

/* Merges one observation. obs is copied: the caller may reuse it on
 * return (the table work of an observation may wait for the next call,
 * for its cache misses to overlap with the caller's work; the commit
 * finishes it). A name that is not canonical, an empty or too long org,
 * an rdata text that is empty or holds a NUL fail the merge
 * (PX_ERR_INVAL; _TOOLONG for a name past 255 bytes), as does an A/AAAA
 * record without its 4/16 bytes (_MALFORMED): nothing of the observation
 * is merged.
 *
 * Errors: a bad observation fails its merge only (PX_ERR_INVAL,
 * _MALFORMED, _TOOLONG; _UNSUPPORTED for an overlong rdata whose 64-bit
 * hash collides with another one of the same batch). Stored values are
 * read when the batch is written, not by the merge: an overlong rdata
 * whose hash collides with a stored record's is dropped, the stored
 * record kept (px_store_stats.collisions). A failure of the store itself
 * (_FULL, _NOMEM, _IO) or damage met in it (_DAMAGED: a stored value or
 * dictionary entry that fails its checks; nothing is built on it, nothing
 * replaces it) fails the batch: this and every later call return it. */
px_err px_store_merge(px_store_batch *b, const px_store_obs *obs);
/* Whether the record of obs (its key: rrname, rrtype, rdata) is known: in
 * the batch already (merged before, by any organisation) or in the store.
 * Finishes the table work the last merge deferred, so it costs a merge's
 * cache misses and, for a record not in the batch, a B-tree lookup: for
 * callers that must know, per observation, whether it would add a record
 * (the consumer's bound on new records per organisation). A record the
 * batch moved to its log (a batch past its memory bound) is not seen
 * there: it reads as new again, which errs towards the bound. Errors as
 * for the merge: a bad observation (nothing changes), or the store. */
px_err px_store_batch_known(px_store_batch *b, const px_store_obs *obs, bool *known);
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
 * finishes it. PX_ERR_DAMAGED: committed too, but applying it met damage
 * (reported): the log stays pending and resuming meets it again. Any
 * other error: nothing of the batch was committed. */
px_err px_store_batch_commit(px_store_batch *b);
/* A committed batch log is not fully applied (after PX_ERR_AGAIN from a
 * commit, or found at open after a crash): px_store_batch_begin() returns
 * PX_ERR_AGAIN until px_store_resume() finishes it. */
bool px_store_log_pending(const px_store *s);
/* Applies what is left of a committed batch log, each chunk in its own
 * transaction with the mark of how far it got, so a crash in between
 * resumes without counting a record twice. New A/AAAA records get their
 * GeoIP through px_store_opts.enrich. PX_OK if nothing was pending. A
 * log that is missing, is of another batch, or whose chunks fail their
 * checksums, or a mark that fails its own, cannot be applied whole:
 * PX_ERR_DAMAGED (reported), nothing applied, the log left pending; with
 * px_store_opts.drop_damaged_log the chunks that can be applied are, the
 * rest are counted in *lost_chunks (may be NULL) and PX_ERR_MALFORMED is
 * returned: the store goes on without them. Other errors (_FULL, _IO,
 * _NOMEM, _AGAIN for apply_limit, _DAMAGED for damage met in the store
 * while applying) leave it pending. */
px_err px_store_resume(px_store *s, uint64_t *lost_chunks);
/* Discards the batch; frees it (its transaction is rolled back:
 * px_store_opts.feed.aborted is called). NULL is fine. */
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
    px_geo geo;
} px_store_rec;

/* Return false to stop the iteration. */
typedef bool (*px_store_rec_fn)(void *ctx, const px_store_rec *rec);

/* Time fence: keep records whose [time_first, time_last] overlaps
 * [after, before]; use INT64_MIN / INT64_MAX for no fence. */
typedef struct px_store_fence {
    int64_t after, before;
} px_store_fence;

/* What a lookup asks for, in canonical form: the caller parsed what the
 * user typed once, through lib/dns (px_dns_name_canon, px_addr_parse,
 * px_dns_type_parse). The store parses no text: a name that is not
 * canonical (px_dns_name_is_canonical), an address that is not 4 or 16
 * bytes or a type out of range is refused (PX_ERR_INVAL). */
typedef enum px_store_by {
    PX_STORE_BY_NAME = 1, /* records of the owner name `name` */
    /* records of every name strictly below the zone `name` ("." : every
     * name), in the store's name order; a name is below the zone as DNS
     * has it ("a\.b.example.com" is not below "b.example.com") */
    PX_STORE_BY_ZONE,
    PX_STORE_BY_ADDR,   /* A (4 bytes) or AAAA (16) records of the address `addr` */
    PX_STORE_BY_TARGET, /* records naming `name`: NS CNAME PTR DNAME, MX exchange, SRV target */
} px_store_by;

#define PX_STORE_ANY_TYPE (-1)

typedef struct px_store_lookup {
    px_store_by by;
    const char *name; /* BY_NAME, BY_ZONE, BY_TARGET: canonical text, no NUL needed */
    size_t name_len;
    const uint8_t *addr; /* BY_ADDR: network order */
    size_t addr_len;
    int rrtype; /* BY_NAME, BY_ZONE: 0..65535, or PX_STORE_ANY_TYPE; else unused */
} px_store_lookup;

/* The records the lookup asks for, in key order; PX_OK also when nothing
 * matched. Queries read the file through the checked reader: a damaged
 * page or value is reported and left out, the others are given, and
 * PX_ERR_DAMAGED returned at the end. */
px_err px_store_find(px_store *s, const px_store_lookup *l, const px_store_fence *fence,
                     px_store_rec_fn fn, void *ctx);

/* The same lookups, read in steps (an HTTP answer produced as its client
 * takes it, pdnsx-query's output): each step runs in its own read
 * transaction (its own snapshot) and resumes after the last key the previous one visited, so
 * a reader that pauses between steps pins no old pages of the store, and
 * a step's work is bounded whatever the answer's size. Each record comes
 * at most once, in the order of the callback API; a record is as of its
 * step's commit, so records of one answer may be of different batches
 * (one committed between two steps shows in the later records only).
 * PX_ERR_INVAL as px_store_find() for a lookup that is not canonical. */
typedef struct px_store_iter px_store_iter;
px_err px_store_iter_find(px_store *s, const px_store_lookup *l, const px_store_fence *fence,
                          px_store_iter **out);
/* Visits at most max_keys keys (records that the fence or type leave out
 * count too) and calls fn for each record that matches; a false return
 * ends the step after that record. *done: nothing is left. Each step
 * reads its snapshot through the checked reader, as the callback API:
 * PX_ERR_DAMAGED when it met damage (reported); the records it gave
 * passed every check, and the walk ends there (*done; later steps return
 * PX_ERR_DAMAGED again). */
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
/* The row of the registered domain regdom[0..len) (canonical, not the
 * root: else PX_ERR_INVAL); fn is not called when the store has none. */
px_err px_store_find_domain(px_store *s, const char *regdom, size_t len, px_store_domain_fn fn,
                            void *ctx);

typedef struct px_store_stats {
    uint64_t records; /* distinct (rrname, rrtype, rdata) */
    uint64_t domains;
    uint64_t bytes; /* bytes of the data file in use (pages used x page size) */
    /* Since the store was opened: */
    uint64_t damaged;    /* damage reported (on_damage calls), by any call */
    uint64_t collisions; /* records kept against a colliding overlong rdata (committed) */
} px_store_stats;
px_err px_store_get_stats(px_store *s, px_store_stats *out);
/* How many records `org` helped add to the store: records that were new
 * to the store when a committed transaction wrote them, counted once for
 * each organisation that observed them in that batch (a big batch counts
 * as its log is applied). Since the store was opened, from memory; 0 for
 * an organisation that merged nothing since. */
uint64_t px_store_org_new_records(const px_store *s, const char *org);
/* damaged and collisions of px_store_get_stats() alone, from memory: no
 * read transaction, no walk of the free pages (for a caller that asks
 * after every commit). */
void px_store_get_counters(const px_store *s, uint64_t *damaged, uint64_t *collisions);

/* What px_store_verify() found. */
typedef struct px_store_verify_result {
    uint64_t findings;             /* damage reported */
    uint64_t pages, pages_in_file; /* pages checked; pages the snapshot has */
    uint64_t records, domains;     /* entries of those tables read and sound */
    uint64_t records_expected;     /* the store's own count of records */
    uint64_t txnid;                /* the snapshot checked */
    bool log_pending;              /* a committed batch log is not fully applied */
} px_store_verify_result;

/* Walks the whole store in one read transaction (the writer may run):
 * the meta pages and file size, every page of every table and of LMDB's
 * free list (each claimed once, none left over), every key's shape,
 * every value's checksum and encoding, the number of entries of each
 * table against the store's own count and LMDB's, and a pending batch
 * log. Each finding goes to on_damage. PX_OK: nothing found;
 * PX_ERR_DAMAGED: out->findings places; other errors (_IO, _NOMEM): the
 * walk could not finish. level: PX_STORE_CHECK_PAGES leaves the values
 * out. */
px_err px_store_verify(px_store *s, px_store_check level, px_store_verify_result *out);

/* ---- the change feed's reader: outbox and sink cursors (px_store_alert.c) ----
 * The feed's sink keeps its state and the alerts it decides in the store
 * through px_change_txn (obs/px_change.h), in the write transaction that
 * delivered the changes: its `prepare` is called once per transaction
 * that delivered changes (an ordinary batch, each chunk of a big batch,
 * each chunk a resume applies), after the last change and before the
 * commit. An error of prepare or of any px_change_txn call fails that
 * transaction: nothing of it is committed (state, alerts and data roll
 * back together), `aborted` is called; for a chunk the batch log stays
 * pending (px_store_resume retries it). Alerts get seq 1, 2, ... in the
 * order they are decided, never reused. A format-2 store opened read-only
 * has no outbox: no alerts, every cursor 1. */

/* An alert of the outbox; its strings valid during the call only. Return
 * false to stop. */
typedef bool (*px_store_alert_fn)(void *ctx, const px_alert *a);
/* The alerts with seq >= from_seq, in seq order, whose time lies in the
 * fence (NULL: any) and whose rule is `rule` (NULL: any), read through
 * the checked reader (read-only opens too, while the writer commits): a
 * damaged alert is reported and left out, the others given, and
 * PX_ERR_DAMAGED returned at the end. */
px_err px_store_alerts(px_store *s, uint64_t from_seq, const px_store_fence *fence,
                       const char *rule, px_store_alert_fn fn, void *ctx);
/* The seq of the newest alert (0: none). */
px_err px_store_alert_last(px_store *s, uint64_t *last_seq);
/* A sink's cursor: the seq of the first alert it has not delivered (1
 * when none was recorded). Sink names are 1..64 bytes of 0x21..0x7e
 * (else PX_ERR_INVAL). */
px_err px_store_sink_get(px_store *s, const char *sink, uint64_t *next_seq);
/* Records a sink's cursor (next_seq >= 1) in the batch: committed with it
 * (a batch may hold only cursors). A failure of the store fails the
 * batch. */
px_err px_store_sink_set(px_store_batch *b, const char *sink, uint64_t next_seq);

/* ---- dead-letter marks (px_store_dlq.c) ----
 * The consumer's record of the source messages (topic, partition, offset)
 * whose dead-letter copy Kafka acknowledged (or refused for good) in a
 * batch it abandoned, so that no later run sends such a copy again. Kept
 * beside the store in <dir>/dlq.marks (data.mdb's format and checks are
 * the store's alone), rewritten whole and atomically at each change; a
 * mark is obsolete once the partition's stored offset passes it. Each
 * mark carries a checksum (docs/STORE.md, "dlq.marks"): a damaged mark is
 * none, a damaged file holds none; the worst either costs is a copy sent
 * twice (never a copy left unsent for another message). */

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

/* ---- the changelog: position, restore, messages ---- */

/* The changelog position the store holds: what the last transaction's
 * callback returned, or the last px_store_apply_rows() wrote
 * (PX_ERR_NOTFOUND: none). */
px_err px_store_changelog_next(px_store *s, int64_t *next);

/* Sets (fn NULL: removes) the changelog callback of an open store, as
 * px_store_opts.changelog would have: the partitioned store opens every
 * partition's store with the same options, and each partition publishes
 * to its own partition of the topic (ctx: the caller's per partition;
 * must outlive the store or the next call). Writer's thread, between
 * transactions; PX_ERR_INVAL read-only or a batch open. */
px_err px_store_set_changelog(px_store *s, px_store_changelog_fn fn, void *ctx);

/* Restore: writes rows read from a changelog (another store's), and next
 * as the changelog position, in one transaction. Each row is checked
 * first as verify checks a stored row (its table, the key's shape, the
 * value's checksum and encoding; a local row is refused): a bad row fails
 * the call with PX_ERR_MALFORMED and nothing of it is written. Neither
 * the feed nor opts.changelog sees the rows. Values are absolute, so a
 * row applied again, or an older value followed by a newer one, ends the
 * same. A restore may span many calls; once the changelog has been read
 * to its end the store equals the source (px_store_verify passes, every
 * lookup answers the same); in between it is "restoring" and not to be
 * served. Restore into a new store, or one restored from the same
 * changelog (dictionary ids are the source's). PX_ERR_AGAIN while a
 * batch is open or a batch log pending; PX_ERR_INVAL read-only. */
px_err px_store_apply_rows(px_store *s, const px_store_row *rows, size_t n, int64_t next);

/* A row as a Kafka message of the changelog topic: the key is the table's
 * byte then the row's key (into key, cap bytes: PX_STORE_MSG_KEY_MAX
 * suffice; *key_len), the value is row->val itself (NULL: a tombstone).
 * PX_ERR_INVAL for an unknown table or an empty key, _TOOLONG if cap is
 * short. */
#define PX_STORE_MSG_KEY_MAX 1024
px_err px_store_row_to_msg(const px_store_row *row, uint8_t *key, size_t cap, size_t *key_len);
/* The row of a changelog message (pointers into key and val; val NULL:
 * a tombstone). PX_ERR_MALFORMED for a key shorter than 2 bytes or of an
 * unknown table, or a value that is not NULL but empty (every stored
 * value has its checksum). The row's content is checked by
 * px_store_apply_rows. */
px_err px_store_row_from_msg(const uint8_t *key, size_t key_len, const uint8_t *val, size_t val_len,
                             px_store_row *row);

#endif
