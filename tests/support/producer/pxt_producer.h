/* pxt_producer.h: white-box test support for pdnsx-producer's library
 * (pdnsx_test_support_producer): what only tests need, built on the
 * library's own API so that the tests run the code the program runs. */
#ifndef PXT_PRODUCER_H
#define PXT_PRODUCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"
#include "px_fstrm.h"
#include "px_window.h"

/* ---- Frame Streams (fstrm_feed.c) ---- */

/* px_fstrm_recv_space() + px_fstrm_recv_commit() over a buffer, as the
 * dnstap socket input does over what it reads: the whole of data, in as
 * many commits as the receiver's buffer takes. Returns the last commit's
 * result (PX_ERR_NOMEM if the buffer could not grow). */
px_err pxt_fstrm_recv_feed(px_fstrm_recv *r, const uint8_t *data, size_t len, px_fstrm_data_fn fn,
                           void *ctx);

/* ---- the port a listener reported (logged_port.c) ---- */

/* The port of the last "WHAT: listening on HOST:PORT" line in logs (lines
 * as an input's log_fn or the daemon's log wrote them) whose WHAT is
 * `what`; 0 if there is none. */
uint16_t pxt_logged_port(const char *logs, const char *what);

/* ---- text keys over the keyed window (window_text.c) ---- */

/* One aggregated record as the text window emits it. Strings are
 * NUL-terminated, *_len is their length without the NUL; valid only
 * during the emit call. */
typedef struct pxt_obs {
    const char *rrname;
    size_t rrname_len;
    uint16_t rrtype;
    const char *rdata;
    size_t rdata_len;
    const char *bailiwick; /* NULL if unknown */
    size_t bailiwick_len;  /* 0 if bailiwick is NULL */
    uint64_t count;
    int64_t time_first, time_last;
    uint32_t ttl_min, ttl_max;
    int64_t clients; /* as px_window_counts.clients */
} pxt_obs;

typedef void (*pxt_window_emit_fn)(void *ctx, const pxt_obs *obs);

/* A px_window whose key is (rrname, rrtype, rdata, bailiwick) in
 * presentation form: px_window_create() underneath, the texts kept
 * beside each entry, the emit rebuilding the record from them. */
typedef struct pxt_window pxt_window;

/* NULL for what px_window_create() refuses, or a NULL emit. */
pxt_window *pxt_window_create(const px_window_conf *conf, pxt_window_emit_fn emit, void *ctx);
void pxt_window_destroy(pxt_window *w); /* does not flush; NULL is fine */
/* Counts one record seen at event time `now` (px_window_count()).
 * Strings need not be NUL-terminated; they are copied. PX_ERR_TOOLONG for
 * a string of UINT16_MAX bytes or more. */
px_err pxt_window_add(pxt_window *w, const char *rrname, size_t rrname_len, uint16_t rrtype,
                      const char *rdata, size_t rdata_len, const char *bailiwick,
                      size_t bailiwick_len, uint32_t ttl, int64_t now, uint64_t client_hash,
                      bool has_client);
void pxt_window_tick(pxt_window *w, int64_t now);
/* px_window_flush(), then every key is forgotten and its memory given
 * back (a fresh keyed window): what a text window always did at a flush. */
void pxt_window_flush(pxt_window *w);
/* The keyed window's figures (px_window_entries(), _bytes()); the stats
 * add up over the windows a flush replaced. */
size_t pxt_window_entries(const pxt_window *w);
size_t pxt_window_bytes(const pxt_window *w);
void pxt_window_get_stats(const pxt_window *w, px_window_stats *out);

#endif
