/* px_input_impl.h: what a concrete input provides to px_input.c. Private to
 * the producer library. */
#ifndef PX_INPUT_IMPL_H
#define PX_INPUT_IMPL_H

#include "px_input.h"

typedef struct px_input_ops {
    px_err (*run)(void *impl);
    void (*stop)(void *impl);
    void (*destroy)(void *impl);
} px_input_ops;

/* Formats a message for px_input_conf.log_fn (nothing if fn is NULL). */
void px_input_logf(void (*fn)(void *ctx, int level, const char *msg), void *ctx, int level,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* pcap-file and pcap-live (px_pcap.c). Returns NULL and fills errbuf on failure. */
void *px_pcap_input_open(const px_input_conf *conf, px_event_fn sink, void *ctx, char *errbuf,
                         size_t errlen);
extern const px_input_ops px_pcap_input_ops;

/* dnstap-unix, dnstap-tcp and dnstap-file (px_dnstap.c). */
void *px_dnstap_input_open(const px_input_conf *conf, px_event_fn sink, void *ctx, char *errbuf,
                           size_t errlen);
extern const px_input_ops px_dnstap_input_ops;

#endif
