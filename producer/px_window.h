/* px_window.h: the aggregation window. Reduces runs of identical records
 * to counts over a window of event time.
 *
 * Windows are aligned to multiples of `seconds` in event time, so replaying
 * a file gives the same windows every time. When the open window holds
 * max_entries keys it flushes early: nothing is dropped for lack of room.
 * A flush emits the keys in the order they entered the window.
 *
 * The caller's key bytes name an entry that outlives its window and
 * carries caller data (whatever is a pure function of the key: texts,
 * verdicts, encodings), so a key seen again in a later window costs a hash
 * probe. Memory stays bounded: after a flush, once the table holds more
 * than twice the keys kept at the last clean-up (and at least
 * PX_WINDOW_KEEP_MIN), entries looked up neither in the open window nor in
 * the two before it are evicted at the next lookup (when that frees at
 * least half the table); and it never holds more than
 * 2 * max_entries + PX_WINDOW_KEEP_MIN keys (past that, every key not
 * counted in the open window is evicted). Evicting a key loses nothing: it
 * is made again when seen again. */
#ifndef PX_WINDOW_H
#define PX_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"
#include "producer/px_producer_types.h"

typedef struct px_window_stats {
    uint64_t added;         /* records added */
    uint64_t emitted;       /* observations emitted */
    uint64_t withheld;      /* keys below min_clients, not emitted */
    uint64_t flushes;       /* windows flushed */
    uint64_t early_flushes; /* flushes because the table was full */
} px_window_stats;

#define PX_WINDOW_KEEP_MIN 131072

typedef struct px_window px_window;
typedef struct px_window_entry px_window_entry;

/* The counters of one key over one window, as a flush emits them. */
typedef struct px_window_counts {
    uint64_t count;
    int64_t time_first, time_last; /* event time, epoch seconds */
    uint32_t ttl_min, ttl_max;
    /* Approximate number of distinct querying clients; -1 if the input
     * showed no clients for this key. */
    int64_t clients;
} px_window_counts;

/* Called at flush for each key counted in the window (and not withheld by
 * min_clients), in the order the keys entered the window. */
typedef void (*px_window_emit_fn)(void *ctx, px_window_entry *e, const px_window_counts *c);

/* NULL on no memory, or for a conf or emit it cannot work with (seconds
 * or max_entries 0, max_entries over UINT32_MAX / 2, emit NULL). */
px_window *px_window_create(const px_window_conf *conf, px_window_emit_fn emit, void *ctx);
void px_window_destroy(px_window *w); /* does not flush; NULL is fine */

/* Flushes the open window if event time `now` is at or past its end. */
void px_window_tick(px_window *w, int64_t now);
/* Emits every entry counted in the open window and closes it. */
void px_window_flush(px_window *w);

/* A lookup takes two steps, so that a caller with several keys at hand
 * can start the memory loads of all before it needs the first:
 * px_window_hash() of the key, px_window_prefetch() of that hash (a hint
 * only, nothing changes), later px_window_lookup_hashed() with the same
 * key and hash. */
uint64_t px_window_hash(const px_window *w, const void *key, size_t key_len);
void px_window_prefetch(const px_window *w, uint64_t hash);
/* The second step of the same hint, once the slot has had time to load:
 * starts loading the entry the slot points to (if its hash matches). */
void px_window_prefetch_entry(const px_window *w, uint64_t hash);
/* The entry of key[0..key_len), NULL if the table holds none. Marks it
 * used (it survives the next clean-up). May evict unused entries first: an
 * entry pointer is valid until the next px_window_lookup_hashed(),
 * px_window_insert() or px_window_destroy(). */
px_window_entry *px_window_lookup_hashed(px_window *w, uint64_t hash, const void *key,
                                         size_t key_len);
/* Adds a key the table does not hold, with data_len bytes of caller data
 * (zeroed, 8-byte aligned) and a tag of 0. NULL on no memory (or key_len
 * over UINT32_MAX / 2, data_len over UINT16_MAX). Validity as for
 * px_window_lookup_hashed(). */
px_window_entry *px_window_insert(px_window *w, const void *key, size_t key_len, size_t data_len);
void *px_window_entry_data(px_window_entry *e);
/* One byte of caller data kept beside the key: what a lookup hit needs
 * most often (a verdict), read without touching the data's cache line. */
uint8_t px_window_entry_tag(const px_window_entry *e);
void px_window_entry_set_tag(px_window_entry *e, uint8_t tag);
/* Counts one record of e seen at event time `now` (epoch seconds): if
 * `now` lies at or past the open window's end, the window is flushed first
 * and a new one opened; a window full of keys flushes early. client_hash
 * is a keyed hash of the querying client (the client itself never reaches
 * the window); has_client false when the input shows none. e stays valid. */
px_err px_window_count(px_window *w, px_window_entry *e, uint32_t ttl, int64_t now,
                       uint64_t client_hash, bool has_client);

/* What the daemon exports as metrics (through px_pipeline_stats): keys
 * held in the table, counted in the open window or not; */
size_t px_window_keys(const px_window *w);
/* keys counted in the open window; */
size_t px_window_entries(const px_window *w);
/* bytes of memory held by the window (arena + table); */
size_t px_window_bytes(const px_window *w);
/* the counters since create. */
void px_window_get_stats(const px_window *w, px_window_stats *out);

#endif
