/* px_window.h: the aggregation window. Reduces runs of identical records
 * to counts over a window of event time.
 *
 * Windows are aligned to multiples of `seconds` in event time, so replaying
 * a file gives the same windows every time. Key: (rrname, rrtype, rdata,
 * bailiwick). All memory of a window is one arena, freed at flush.
 * When the table holds max_entries keys the window flushes early: nothing is
 * dropped for lack of room. */
#ifndef PX_WINDOW_H
#define PX_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "px_error.h"

/* One aggregated record as the window emits it. Strings are
 * NUL-terminated, *_len is their length without the NUL, and both are
 * valid only during the emit call. */
typedef struct px_obs {
    const char *rrname;
    size_t rrname_len;
    uint16_t rrtype;
    const char *rdata;
    size_t rdata_len;
    const char *bailiwick; /* NULL if unknown */
    size_t bailiwick_len;  /* 0 if bailiwick is NULL */
    uint64_t count;
    int64_t time_first, time_last; /* event time, epoch seconds */
    uint32_t ttl_min, ttl_max;
    /* Approximate number of distinct querying clients; -1 if the input
     * showed no clients for this key. */
    int64_t clients;
} px_obs;

typedef void (*px_window_emit_fn)(void *ctx, const px_obs *obs);

typedef struct px_window_conf {
    int64_t seconds;      /* window.seconds, >= 1 */
    size_t max_entries;   /* window.max_entries, >= 1 */
    uint32_t min_clients; /* privacy.min_clients: 1 shares everything */
} px_window_conf;

typedef struct px_window_stats {
    uint64_t added;         /* records added */
    uint64_t emitted;       /* observations emitted */
    uint64_t withheld;      /* keys below min_clients, not emitted */
    uint64_t flushes;       /* windows flushed */
    uint64_t early_flushes; /* flushes because the table was full */
} px_window_stats;

typedef struct px_window px_window;

px_window *px_window_create(const px_window_conf *conf, px_window_emit_fn emit, void *ctx);
void px_window_destroy(px_window *w); /* does not flush; NULL is fine */

/* Adds one record seen at event time `now` (epoch seconds). If `now` lies
 * at or past the open window's end, the window is flushed first and a new
 * one opened. client_hash is a keyed hash of the querying client (the
 * client itself never reaches the window); has_client false when the input
 * shows none. Strings need not be NUL-terminated; they are copied. */
px_err px_window_add(px_window *w, const char *rrname, size_t rrname_len, uint16_t rrtype,
                     const char *rdata, size_t rdata_len, const char *bailiwick,
                     size_t bailiwick_len, uint32_t ttl, int64_t now, uint64_t client_hash,
                     bool has_client);

/* Flushes the open window if event time `now` is at or past its end. */
void px_window_tick(px_window *w, int64_t now);
/* Emits every entry of the open window and frees its arena. */
void px_window_flush(px_window *w);

size_t px_window_entries(const px_window *w);
/* Bytes of memory held by the window (arena + table). */
size_t px_window_bytes(const px_window *w);
void px_window_get_stats(const px_window *w, px_window_stats *out);

#endif
