/* px_spool.h: an on-disk FIFO of Kafka messages (spool.path), for when
 * Kafka is unreachable longer than memory allows. Each record carries a
 * checksum; a torn tail (crash mid-write) is cut at open.
 *
 * Delivery is at least once: the read position is kept in memory and the
 * file is emptied only when every record has been handed back, so a crash
 * while draining re-sends, never loses. Not thread-safe: the caller locks. */
#ifndef PX_SPOOL_H
#define PX_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"

typedef struct px_spool px_spool;

/* Opens or creates the spool file; records left by an earlier run are
 * pending. max_bytes bounds the file (0: 1 GiB). */
px_err px_spool_open(const char *path, uint64_t max_bytes, px_spool **out);
void px_spool_close(px_spool *s); /* NULL is fine */

/* Appends one message. PX_ERR_FULL past max_bytes, PX_ERR_IO on a write error. */
px_err px_spool_append(px_spool *s, const void *key, size_t klen, const void *val, size_t vlen);
/* The oldest pending message; pointers valid until the next call.
 * PX_ERR_EOF when empty. Corrupt records are skipped (and counted). */
px_err px_spool_peek(px_spool *s, const void **key, size_t *klen, const void **val, size_t *vlen);
/* Drops the message px_spool_peek() returned; empties the file when it
 * was the last. */
void px_spool_consume(px_spool *s);
/* Messages appended and not consumed. */
uint64_t px_spool_pending(const px_spool *s);
/* Records found corrupt (at open or while reading). */
uint64_t px_spool_corrupt(const px_spool *s);

#endif
