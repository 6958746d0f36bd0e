/* px_fstrm.h: the receiving end of a bidirectional Frame Streams connection
 * (the framing dnstap senders use on unix and TCP sockets).
 *
 * Wire format: a data frame is a 32-bit big-endian length (not 0) and that
 * many bytes. A control frame starts with the escape (length 0), then a
 * 32-bit control frame length (at most 512), a 32-bit control type and
 * fields (type CONTENT_TYPE, length, bytes). Handshake: the sender sends
 * READY listing content types, the receiver answers ACCEPT with the one it
 * takes, the sender sends START, data frames and STOP, the receiver answers
 * FINISH. A sender that sends START first (unidirectional) is accepted too.
 *
 * This parser exists because libfstrm's reader blocks, and a receiver must
 * serve several senders from one poll() loop and stop promptly; dnstap-file
 * uses px_fstrm_frame_next() too, to split frames in place. Not thread-safe
 * (one per connection). */
#ifndef PX_FSTRM_H
#define PX_FSTRM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"

enum {
    PX_FSTRM_CONTROL_ACCEPT = 1,
    PX_FSTRM_CONTROL_START = 2,
    PX_FSTRM_CONTROL_STOP = 3,
    PX_FSTRM_CONTROL_READY = 4,
    PX_FSTRM_CONTROL_FINISH = 5,
    PX_FSTRM_FIELD_CONTENT_TYPE = 1,
    PX_FSTRM_CONTROL_MAX = 512,      /* control frame length bound (spec) */
    PX_FSTRM_CONTENT_TYPE_MAX = 256, /* content type length bound (libfstrm) */
    PX_FSTRM_DATA_MAX = 1024 * 1024, /* default data frame bound */
};

/* One frame at the start of a buffer. data points into that buffer. */
typedef struct px_fstrm_frame {
    bool control;        /* control frame (data = type and fields) */
    const uint8_t *data; /* payload */
    size_t len;
    size_t size; /* bytes the frame takes in the stream, headers included */
} px_fstrm_frame;

/* Splits off the frame at the start of buf[0..len). PX_OK: *f filled.
 * PX_ERR_AGAIN: incomplete; *need (if not NULL) is the byte count the frame
 * needs, or 0 if its header is incomplete too. PX_ERR_PROTO: a length beyond
 * max_data (data) or PX_FSTRM_CONTROL_MAX (control). */
px_err px_fstrm_frame_next(const uint8_t *buf, size_t len, size_t max_data, px_fstrm_frame *f,
                           size_t *need);

/* A control frame's type, and whether it lists content type `want`.
 * PX_ERR_MALFORMED if its fields do not parse. */
typedef struct px_fstrm_control {
    uint32_t type;
    unsigned content_types; /* how many it lists */
    bool has_want;          /* one of them equals want */
} px_fstrm_control;
px_err px_fstrm_control_parse(const uint8_t *data, size_t len, const char *want,
                              px_fstrm_control *c);

/* Writes a whole control frame (escape, length, type, and a content type
 * field if content_type is not NULL) into buf. Returns its size, or 0 if it
 * does not fit in cap or content_type is too long. */
size_t px_fstrm_control_encode(uint8_t *buf, size_t cap, uint32_t type, const char *content_type);

/* Receiver session over one connection. */
typedef struct px_fstrm_recv px_fstrm_recv;
/* Called for each data frame; data is valid during the call only. */
typedef void (*px_fstrm_data_fn)(void *ctx, const uint8_t *data, size_t len);

/* content_type is the one accepted (copied); max_data bounds a data frame
 * (0: PX_FSTRM_DATA_MAX). NULL on no memory. */
px_fstrm_recv *px_fstrm_recv_create(const char *content_type, size_t max_data);
void px_fstrm_recv_destroy(px_fstrm_recv *r); /* NULL is fine */
/* Back to the state of a new connection (keeps the buffer). */
void px_fstrm_recv_reset(px_fstrm_recv *r);

/* Where to read the next bytes from the connection: *avail > 0 bytes at
 * the returned pointer. NULL if the buffer cannot grow (no memory). */
uint8_t *px_fstrm_recv_space(px_fstrm_recv *r, size_t *avail);
/* Takes n bytes just read into the space and handles every complete frame:
 * data frames go to fn, control frames drive the handshake and may queue a
 * reply. Returns PX_OK (wants more), PX_ERR_EOF (sender sent STOP; FINISH
 * is queued: send it, then close), PX_ERR_PROTO (close the connection; see
 * px_fstrm_recv_error()). After PX_ERR_EOF or PX_ERR_PROTO it ignores input. */
px_err px_fstrm_recv_commit(px_fstrm_recv *r, size_t n, px_fstrm_data_fn fn, void *ctx);

/* Bytes queued for the sender (ACCEPT, FINISH); *len 0 if none. */
const uint8_t *px_fstrm_recv_reply(const px_fstrm_recv *r, size_t *len);
/* Drops the first n queued bytes (they were sent). */
void px_fstrm_recv_replied(px_fstrm_recv *r, size_t n);

/* True once the handshake is over (START seen: data frames flow), until
 * STOP; false while waiting for READY or START, and after STOP. The input
 * gives a connection a deadline for its handshake and another for being
 * idle once started. */
bool px_fstrm_recv_started(const px_fstrm_recv *r);

/* Bytes of an incomplete frame held (a sender that vanishes loses them). */
size_t px_fstrm_recv_pending(const px_fstrm_recv *r);
/* Why the last PX_ERR_PROTO: "oversize", "content_type", "control"
 * (malformed or unexpected control frame), "reply"; NULL if none. Static. */
const char *px_fstrm_recv_error(const px_fstrm_recv *r);

#endif
