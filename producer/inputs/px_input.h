/* px_input.h: the one input interface. Every input (dnstap unix/TCP/file,
 * pcap file/live) turns what it reads into DNS response events for a sink.
 *
 * An input is run in its own thread: px_input_run() blocks until the input
 * ends (files: end of file) or px_input_stop() is called from another
 * thread. The sink is called from that thread; it must be thread-safe when
 * several inputs share it. */
#ifndef PX_INPUT_H
#define PX_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/px_addr.h"
#include "core/px_error.h"
#include "producer/px_producer_types.h"

/* Which dnstap message types feed the pipeline (bit = 1 << dnstap type). */
enum {
    PX_DT_AUTH_RESPONSE = 1u << 2,
    PX_DT_RESOLVER_RESPONSE = 1u << 4,
    PX_DT_CLIENT_RESPONSE = 1u << 6,
    PX_DT_FORWARDER_RESPONSE = 1u << 8,
    PX_DT_STUB_RESPONSE = 1u << 10,
    PX_DT_TOOL_RESPONSE = 1u << 12,
    PX_DT_UPDATE_RESPONSE = 1u << 14,
    PX_DT_ALL_RESPONSES =
        (1u << 2) | (1u << 4) | (1u << 6) | (1u << 8) | (1u << 10) | (1u << 12) | (1u << 14),
};
/* Bit for a dnstap type name ("CLIENT_RESPONSE"), 0 if unknown or not a
 * response type. */
uint32_t px_dnstap_type_bit(const char *name);

/* One DNS response as an input saw it. Valid only during the sink call. */
typedef struct px_dns_event {
    const uint8_t *msg; /* DNS message, wire format */
    size_t len;
    int64_t time_sec; /* event time (packet or dnstap timestamp), UTC */
    uint32_t time_nsec;
    /* The querying client, family 0 if the input does not show one (or the
     * "client" is the resolver itself, as in RESOLVER_RESPONSE). The sink
     * hashes it at once; it is never stored or sent. */
    px_addr client;
    /* The server that answered, family 0 if unknown (wildcard_servers). */
    px_addr server;
    /* dnstap query_zone (uncompressed wire name), NULL if none. */
    const uint8_t *query_zone;
    size_t query_zone_len;
} px_dns_event;

typedef void (*px_event_fn)(void *ctx, const px_dns_event *ev);

typedef struct px_input_conf {
    px_input_type type;
    const char *path;      /* dnstap-unix, dnstap-file, pcap-file */
    const char *listen;    /* dnstap-tcp: "host:port" */
    const char *interface; /* pcap-live */
    const char *filter;    /* pcap: BPF filter, NULL: "port 53" for live */
    uint32_t dnstap_types; /* PX_DT_* mask; 0 means PX_DT_ALL_RESPONSES */
    /* dnstap-unix, dnstap-tcp: senders served at once, and the deadlines
     * of a connection (the dnstap.* settings); 0: the PX_DNSTAP_*_DEFAULT
     * below. When every slot is taken, a new sender takes the slot of the
     * oldest connection still in its handshake, else of the one idle the
     * longest. */
    unsigned max_connections;
    unsigned handshake_ms; /* from accept to START; from STOP to FINISH sent */
    uint64_t idle_ms;      /* nothing received for this long: closed */
    /* Where an input says what it refused or closed (rate-limited), and
     * where and why a file is damaged, the daemon's logger (inputs never
     * log themselves); level is syslog-style (3 error, 4 warning, 6 info).
     * May be NULL. */
    void (*log_fn)(void *ctx, int level, const char *msg);
    void *log_ctx;
} px_input_conf;

/* Defaults of the dnstap socket inputs' limits (and of the settings). The
 * handshake takes a real sender one round trip; an hour of silence is
 * rare for a resolver that has clients, and one that is closed reconnects
 * (README, dnstap.idle_seconds). */
enum {
    PX_DNSTAP_MAX_CONNECTIONS_DEFAULT = 64,
    PX_DNSTAP_HANDSHAKE_MS_DEFAULT = 5000,
    PX_DNSTAP_IDLE_SECONDS_DEFAULT = 3600,
};

typedef struct px_input px_input;

/* Opens the input (binds the socket, opens the file or device) so that
 * errors show at start-up. On failure returns NULL and writes a message to
 * errbuf. Strings in conf are copied. */
px_input *px_input_create(const px_input_conf *conf, px_event_fn sink, void *ctx, char *errbuf,
                          size_t errlen);
/* Reads until end of input or px_input_stop(); returns PX_OK at a normal
 * end, an error if the input failed. A file input that met damage returns
 * PX_ERR_TRUNC when the file ends inside a record (cut short) and
 * PX_ERR_MALFORMED for other damage; it has reported where and why, and
 * whether it could read on past it, through px_input_conf.log. */
px_err px_input_run(px_input *in);
/* Thread-safe, async-signal-unsafe: makes px_input_run() return soon. */
void px_input_stop(px_input *in);
void px_input_destroy(px_input *in); /* NULL is fine */

#endif
