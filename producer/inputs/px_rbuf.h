/* px_rbuf.h: a large read buffer over a file descriptor, for the file
 * inputs (pcap-file, dnstap-file). They parse records in place, straight
 * from the buffer, instead of one stdio call (and one copy) per record.
 *
 * read() is used, not mmap(): it works the same on regular files, FIFOs
 * and standard input, follows a file that grows while read, and a file
 * cut shorter meanwhile gives an early end instead of SIGBUS.
 * Not thread-safe: one reader per buffer. */
#ifndef PX_RBUF_H
#define PX_RBUF_H

#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"

enum { PX_RBUF_CHUNK = 1024 * 1024 }; /* default buffer size */

typedef struct px_rbuf px_rbuf;

/* Reads fd, which stays the caller's (px_rbuf_destroy() does not close
 * it). chunk: bytes asked of each read() (0: PX_RBUF_CHUNK). NULL on no
 * memory. */
px_rbuf *px_rbuf_create(int fd, size_t chunk);
void px_rbuf_destroy(px_rbuf *b); /* NULL is fine */

/* The unread bytes: valid until the next px_rbuf_fill() or
 * px_rbuf_destroy(). */
const uint8_t *px_rbuf_data(const px_rbuf *b);
size_t px_rbuf_avail(const px_rbuf *b);
/* Marks n (<= avail) bytes read. */
void px_rbuf_consume(px_rbuf *b, size_t n);

/* Reads until at least n bytes are unread (the buffer grows if it must).
 * PX_OK: they are. PX_ERR_EOF: the file ended first (avail tells how many
 * there are). PX_ERR_IO: read() failed (errno). PX_ERR_NOMEM: n is more
 * than could be allocated. Data may have moved: fetch it again. */
px_err px_rbuf_fill(px_rbuf *b, size_t n);

/* Bytes consumed since the start (the file offset for a file read from
 * its beginning). */
uint64_t px_rbuf_offset(const px_rbuf *b);

#endif
