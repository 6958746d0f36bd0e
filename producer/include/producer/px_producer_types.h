/* px_producer_types.h: the kinds of input and the window's settings, as
 * the producer's settings (px_producer_conf.h) carry them to the inputs
 * and the window. */
#ifndef PX_PRODUCER_TYPES_H
#define PX_PRODUCER_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* The `type` of an input group, in the order of the setting's choices. */
typedef enum px_input_type {
    PX_INPUT_DNSTAP_UNIX,
    PX_INPUT_DNSTAP_TCP,
    PX_INPUT_DNSTAP_FILE,
    PX_INPUT_PCAP_FILE,
    PX_INPUT_PCAP_LIVE,
} px_input_type;

typedef struct px_window_conf {
    int64_t seconds;      /* window.seconds, >= 1 */
    size_t max_entries;   /* window.max_entries, >= 1 */
    uint32_t min_clients; /* privacy.min_clients: 1 shares everything */
} px_window_conf;

#endif
