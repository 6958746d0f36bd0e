/* px_query.h: history lookups for pdnsx-query and the consumer's
 * query.listen HTTP endpoint (INTERFACE.md "pdnsx-query").
 *
 * A request is "rrset NAME [TYPE]" or "rdata VALUE" with an optional time
 * fence; its answer is COF JSON lines (px_cof.h), one record per line, in
 * the store's order. Over HTTP:
 *   GET /rrset/NAME[/TYPE]?after=T&before=T
 *   GET /rdata/VALUE?after=T&before=T
 * answer 200 application/x-ndjson (empty body when nothing matches), 400
 * for bad parameters, 404 for an unknown path, 405 for other methods, 500
 * when the store fails. Path segments and parameters are percent-decoded.
 * T is epoch seconds or ISO 8601 UTC (2026-11-26T18:00:00Z). */
#ifndef PX_QUERY_H
#define PX_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "px_error.h"
#include "px_store.h"

typedef enum px_query_kind {
    PX_QUERY_RRSET,
    PX_QUERY_RDATA,
} px_query_kind;

enum { PX_QUERY_MAX_TEXT = 1024 };

typedef struct px_query_req {
    px_query_kind kind;
    /* rrset: the owner name, lowercase, no trailing dot ("." for the
     * root), possibly "*.example.com"; rdata: the value as given (the
     * store normalises addresses), names lowercased without trailing dot. */
    char name[PX_QUERY_MAX_TEXT];
    char rrtype[16];      /* uppercase; "" for every type (rrset only) */
    px_store_fence fence; /* INT64_MIN / INT64_MAX when absent */
} px_query_req;

/* An empty request with no fence. */
void px_query_req_init(px_query_req *req);

/* "rrset NAME [TYPE]" or "rdata VALUE" (the positional arguments of
 * pdnsx-query). Leaves the fence alone. PX_ERR_INVAL with a message. */
px_err px_query_req_parse_args(px_query_req *req, int argc, char *const *argv, char *errbuf,
                               size_t errlen);

/* Epoch seconds ("1795716000") or ISO 8601 UTC ("2026-11-26T18:00:00Z",
 * "2026-11-26T18:00Z", "2026-11-26"). PX_ERR_INVAL otherwise. */
px_err px_query_parse_time(const char *text, int64_t *out);

/* Sets fence.after / fence.before from text; checks after <= before once
 * both are set. PX_ERR_INVAL with a message. */
px_err px_query_req_set_after(px_query_req *req, const char *text, char *errbuf, size_t errlen);
px_err px_query_req_set_before(px_query_req *req, const char *text, char *errbuf, size_t errlen);

/* The HTTP form of a request: "/rrset/NAME[/TYPE]?after=..&before=..",
 * path segments percent-encoded. Caller free()s; NULL when out of memory. */
char *px_query_req_to_path(const px_query_req *req);

/* Parses a request path (still percent-encoded, without the query string)
 * and the raw values of the after/before parameters (NULL: absent).
 * PX_ERR_NOTFOUND for a path that is no endpoint, PX_ERR_INVAL for a bad
 * name, type or time (message in errbuf). */
px_err px_query_req_from_http(px_query_req *req, const char *path, const char *after,
                              const char *before, char *errbuf, size_t errlen);

/* Decodes %XX escapes of [src, src+len) into dst (NUL-terminated, at most
 * dstlen bytes with the NUL). false for a bad escape, an encoded NUL or
 * a result that does not fit. '+' stays '+'. */
bool px_query_pct_decode(const char *src, size_t len, char *dst, size_t dstlen);

/* Runs the request and writes COF lines to out; *n_out (may be NULL)
 * receives the number of records written. */
px_err px_query_run(px_store *store, const px_query_req *req, FILE *out, size_t *n_out);

/* Merges the ndjson answers of several consumers (--cluster): records
 * with the same (rrname, rrtype, rdata) combine with the store's rules
 * (counts add, min time_first, max time_last, union of orgs; bailiwick
 * and GeoIP from the earliest-seen answer that has them) and are written
 * to out as COF lines sorted as px_query_rec_cmp() orders them. A line
 * that is not a COF object fails the merge (PX_ERR_MALFORMED, message
 * naming answer and line). */
px_err px_query_merge(const char *const *answers, const size_t *lens, size_t n, FILE *out,
                      size_t *n_out, char *errbuf, size_t errlen);

/* The order of merged answers: owner names in DNS canonical order
 * (labels compared from the right), then rrtype, then rdata, bytewise. */
int px_query_name_cmp(const char *a, const char *b);
int px_query_rec_cmp(const px_store_rec *a, const px_store_rec *b);

/* A minimal HTTP/1.1 GET client for --cluster: connects to "host:port"
 * or "[v6]:port", sends GET path, reads the whole answer (plain or
 * chunked) within timeout_ms overall. On PX_OK *status is the HTTP status
 * and *body (NUL-terminated, caller free()s) its body of *len bytes.
 * PX_ERR_IO / PX_ERR_PROTO / PX_ERR_AGAIN (timeout) with a message. */
px_err px_query_http_get(const char *hostport, const char *path, int timeout_ms, int *status,
                         char **body, size_t *len, char *errbuf, size_t errlen);

/* Asks every endpoint of the comma-separated list and merges the answers
 * to out. Any endpoint failing or answering other than 200 fails the
 * whole query (a partial history would mislead): PX_ERR_IO with a message
 * naming the endpoint. */
px_err px_query_cluster(const char *endpoints, const px_query_req *req, int timeout_ms, FILE *out,
                        size_t *n_out, char *errbuf, size_t errlen);

typedef struct px_query_server px_query_server;
/* Serves the endpoints above on "host:port" (numeric; port 0 picks a
 * free one) with libmicrohttpd's thread pool. The store must outlive the
 * server; each request runs its own store read transaction. NULL on
 * failure (message in errbuf). */
px_query_server *px_query_server_start(const char *listen, px_store *store, char *errbuf,
                                       size_t errlen);
void px_query_server_stop(px_query_server *s); /* NULL is fine */
/* The port actually bound (for "127.0.0.1:0" in tests). */
uint16_t px_query_server_port(const px_query_server *s);

#endif
