/* px_dnstap.h: dnstap frame decoding, shared by the dnstap inputs, their
 * tests and the fuzz harness. Private to the producer library; the inputs
 * themselves are reached through px_input.h. */
#ifndef PX_DNSTAP_H
#define PX_DNSTAP_H

#include <stddef.h>
#include <stdint.h>

#include "px_error.h"
#include "px_input.h"

#define PX_DNSTAP_CONTENT_TYPE "protobuf:dnstap.Dnstap"

/* Turns dnstap data frames into px_dns_event. Holds a reusable scratch
 * arena for protobuf-c, so decoding allocates nothing in the steady state.
 * Not thread-safe: one per input thread. */
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
 * "no_time". Events point into the decoder: valid during the sink call. */
px_err px_dnstap_decode(px_dnstap_decoder *d, const uint8_t *frame, size_t len, px_event_fn sink,
                        void *ctx, const char **reason);

/* Port a dnstap-tcp input listens on (useful after "host:0"); 0 for the
 * other dnstap inputs. impl is what px_dnstap_input_open() returned. */
uint16_t px_dnstap_input_port(const void *impl);

#endif
