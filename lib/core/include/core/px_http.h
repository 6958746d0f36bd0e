/* px_http.h: the one HTTP server of pdnsx's endpoints (metrics.listen,
 * query.listen), on libmicrohttpd, with what a port open to a network
 * needs: every connection has a deadline, each client address a bound,
 * and a full endpoint still answers a new client.
 *
 * Limits (the http.* settings, px_http_conf_items):
 *   - a request must arrive whole within request_timeout of the
 *     connection opening, or of the previous answer ending on a kept-alive
 *     connection (libmicrohttpd's own timeout restarts on every byte, so a
 *     client sending one byte a second would hold its slot for ever);
 *   - an answer must be sent within answer_timeout of the request;
 *   - at most max_per_client connections per client address (an IPv6
 *     client counts by its /64), and at most max_connections in all. A
 *     connection over either bound is let in and an older one is closed
 *     instead: one that is not being answered, the oldest first, else the
 *     answer that has run longest. A crowd of slow or idle clients can
 *     therefore never lock a new one out.
 * A connection past a deadline or evicted is shut down (shutdown(2);
 * libmicrohttpd then closes it), counted in
 * pdnsx_http_rejected_total{endpoint,reason} and reported through the
 * log hook, at most one line per reason every 10 seconds. A kept-alive
 * connection left idle past request_timeout after an answer is closed
 * quietly (pdnsx_http_idle_closed_total). Client addresses are never
 * logged.
 *
 * Requests are answered once read whole (keep-alive and pipelining work:
 * a handler never answers early, which makes libmicrohttpd drop the rest
 * of the connection). An answer is a buffer or a stream produced piece by
 * piece as the client takes it, so memory per answer does not grow with
 * its size. */
#ifndef PX_HTTP_H
#define PX_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/px_config.h"
#include "core/px_error.h"
#include "core/px_log.h"

typedef struct px_http_limits {
    unsigned max_connections;    /* http.max_connections */
    unsigned max_per_client;     /* http.max_per_client */
    unsigned request_timeout_ms; /* http.request_timeout, in seconds there */
    unsigned answer_timeout_ms;  /* http.answer_timeout, in seconds there */
} px_http_limits;

/* The http.* rows of a program's settings table (px_config.h), a
 * {NULL}-terminated fragment: put {.include = px_http_conf_items} in its
 * table. The defaults are those of px_http_limits_default(). */
extern const px_conf_item px_http_conf_items[];

void px_http_limits_default(px_http_limits *out);
/* Reads the http.* settings of a validated config. */
void px_http_limits_from_config(const px_config *cfg, px_http_limits *out);

/* One request, valid during the handler call only. */
typedef struct px_http_request px_http_request;
const char *px_http_method(const px_http_request *r);
/* The path as sent, still percent-encoded, without the query string. */
const char *px_http_path(const px_http_request *r);
/* Calls fn for each query parameter in order, with key and value as
 * sent (still percent-encoded; value NULL for "?key" alone). */
typedef void (*px_http_arg_fn)(void *ctx, const char *key, const char *value);
void px_http_args(const px_http_request *r, px_http_arg_fn fn, void *ctx);

/* The connection a request came on, valid during the handler call and
 * the stream callbacks of its answer. */
typedef struct px_http_conn px_http_conn;
const px_http_conn *px_http_request_conn(const px_http_request *r);
/* True once the server has decided to close the connection (a deadline
 * passed, or it was evicted): long work for it should stop. NULL: false. */
bool px_http_conn_closing(const px_http_conn *c);

/* Fills buf with the next up to max bytes of an answer: returns how many
 * (> 0), 0 at the end, or -1 to cut the answer off (the client sees it
 * incomplete; with HTTP/1.1 the chunked framing says so). */
typedef ssize_t (*px_http_stream_fn)(void *state, const px_http_conn *conn, char *buf, size_t max);

/* What a handler answers: status, content type (a static string) and
 * either a whole body (malloc()ed; the server frees it) or a stream (the
 * server calls stream_free(stream_state) once the answer is over, sent or
 * not). */
typedef struct px_http_answer {
    unsigned status;
    const char *content_type;
    char *body;
    size_t len;
    px_http_stream_fn stream;
    void *stream_state;
    void (*stream_free)(void *state);
} px_http_answer;

/* Sets a text/plain answer "STATUS message\n". PX_ERR_NOMEM. */
px_err px_http_answer_text(px_http_answer *a, unsigned status, const char *message);

/* Called once per request, when it has been read whole, from one of the
 * server's threads (several at once with threads > 1). An error, or an
 * answer without status, answers 500. */
typedef px_err (*px_http_handler)(void *ctx, const px_http_request *r, px_http_answer *a);

/* The older form of the warning hook (opts.log); new callers set
 * opts.report. */
typedef void (*px_http_log_fn)(const char *message);

typedef struct px_http_opts {
    /* the setting the endpoint comes from ("query.listen"): names it in
     * messages, and without ".listen" in the metrics' endpoint label */
    const char *setting;
    unsigned threads; /* worker threads; 0: 1 */
    px_http_limits limits;
    /* Receives the warnings about rejected clients (already rate-limited)
     * at PX_LOG_WARNING, e.g. px_report_to_log: libraries do not log
     * themselves. NULL: opts.log, if set, gets them. */
    px_report_fn report;
    void *report_ctx;
    px_http_log_fn log; /* NULL: no warnings (when report is NULL too) */
    px_http_handler handler;
    void *ctx;
} px_http_opts;

typedef struct px_http_server px_http_server;
/* Listens on "IPv4:port" or "[IPv6]:port" (numeric; port 0 picks a free
 * one) and serves; *out is the caller's, for px_http_stop(). PX_ERR_CONFIG
 * (the address, or no handler), PX_ERR_IO (binding), PX_ERR_NOMEM, with a
 * message in why (may be NULL). */
px_err px_http_server_start(const char *listen, const px_http_opts *opts, px_http_server **out,
                            char *why, size_t whylen);
/* Closes every connection (an answer under way is cut) and frees; NULL is
 * fine. */
void px_http_stop(px_http_server *s);
uint16_t px_http_port(const px_http_server *s);

#endif
