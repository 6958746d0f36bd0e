/* px_dnstap.h: dnstap frame decoding, shared by the dnstap inputs, their
 * tests and the fuzz harness. Private to the producer library; the inputs
 * themselves are reached through px_input.h. */
#ifndef PX_DNSTAP_H
#define PX_DNSTAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"
#include "px_input.h"

#define PX_DNSTAP_CONTENT_TYPE "protobuf:dnstap.Dnstap"

/* A dnstap.Dnstap frame as px_dnstap_parse() reads it: the fields the
 * inputs use, pointing into the frame (no copies). */
typedef struct px_dnstap_bytes {
    const uint8_t *data;
    size_t len;
    bool has;
} px_dnstap_bytes;

typedef struct px_dnstap_msg {
    uint32_t dnstap_type; /* Dnstap.type (1: MESSAGE) */
    bool has_message;
    /* Dnstap.message, valid if has_message */
    uint32_t type; /* Message.type */
    px_dnstap_bytes query_address, response_address, query_zone, response_message;
    bool has_query_port, has_response_port;
    uint32_t query_port, response_port;
    bool has_query_time_sec, has_query_time_nsec, has_response_time_sec, has_response_time_nsec;
    uint64_t query_time_sec, response_time_sec;
    uint32_t query_time_nsec, response_time_nsec;
} px_dnstap_msg;

/* Reads a serialised dnstap.Dnstap. Accepts what protobuf-c's generated
 * dnstap__dnstap__unpack() accepts, with the same field values (unknown
 * fields skipped, a repeated field's last value wins, a repeated message
 * merges); PX_ERR_MALFORMED otherwise. */
px_err px_dnstap_parse(const uint8_t *frame, size_t len, px_dnstap_msg *m);

/* Turns dnstap data frames into px_dns_event. Allocates nothing per
 * frame. Not thread-safe: one per input thread. */
typedef struct px_dnstap_decoder px_dnstap_decoder;

/* types: PX_DT_* mask of message types that make events (0: all
 * responses). NULL on no memory. */
px_dnstap_decoder *px_dnstap_decoder_create(uint32_t types);
void px_dnstap_decoder_destroy(px_dnstap_decoder *d); /* NULL is fine */

/* Decodes one data frame (a serialised dnstap.Dnstap). A selected response
 * message with a response and a time goes to sink (once) and gives PX_OK.
 * A message type not selected (queries, say) gives PX_ERR_NOTFOUND.
 * Anything else is counted in pdnsx_input_malformed_total{input="dnstap",
 * reason=...} and gives PX_ERR_MALFORMED with *reason (static, may be
 * NULL): "protobuf", "no_message", "unknown_type", "no_response",
 * "no_time". Events point into the frame: valid during the sink call. */
px_err px_dnstap_decode(px_dnstap_decoder *d, const uint8_t *frame, size_t len, px_event_fn sink,
                        void *ctx, const char **reason);

#endif
