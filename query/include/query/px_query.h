/* px_query.h: history lookups for pdnsx-query and the consumer's
 * query.listen HTTP endpoint (docs/INTERFACE.md, "pdnsx-query").
 *
 * A request is "rrset NAME [TYPE]" or "rdata VALUE" with an optional time
 * fence and a limit; its answer is COF JSON lines (px_cof.h), one record
 * per line, in the store's order, at most `limit` of them. "domain NAME"
 * answers one line for a registered domain (px_cof_domain_dumps: when it
 * was first and last seen, by which organisations), nothing when the store
 * has no such domain or it lies outside the fence. Over HTTP:
 *   GET /rrset/NAME[/TYPE]?after=T&before=T&limit=N
 *   GET /rdata/VALUE?after=T&before=T&limit=N
 *   GET /domain/NAME?after=T&before=T
 * answer 200 application/x-ndjson (empty body when nothing matches), 400
 * for bad parameters, 404 for an unknown path, 405 for other methods, 500
 * when the store fails before the answer starts. Path segments and
 * parameters are percent-decoded. T is epoch seconds or ISO 8601 UTC
 * (2026-11-26T18:00:00Z).
 *
 * The answer is streamed (chunked) as the client takes it. When more
 * records match than the limit, the answer ends with the condition line
 *   {"cond":"limited","limit":N,"msg":"answer cut at the limit of N records"}
 * (DNSDB's streaming format says the same with "cond"); when the store
 * fails once the answer has started (or meets damage: the answer stops
 * there, docs/STORE.md), with
 *   {"cond":"failed","msg":"..."}
 * Every other line is a COF record. pdnsx-query prints COF lines only and
 * says on stderr that the answer was cut. */
#ifndef PX_QUERY_H
#define PX_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/px_error.h"
#include "core/px_http.h"
#include "store/px_store.h"
#include "store/px_stores.h"

typedef enum px_query_kind {
    PX_QUERY_RRSET,
    PX_QUERY_RDATA,
    PX_QUERY_DOMAIN,
} px_query_kind;

enum { PX_QUERY_MAX_TEXT = 1024 };

typedef struct px_query_req {
    px_query_kind kind;
    /* What the user typed, parsed once through lib/dns, in canonical text
     * (docs/DATA-MODEL.md): rrset: the owner name, or "*.ZONE" for the
     * names below ZONE; rdata: an address as px_addr_format_bytes()
     * writes it, else a target name; domain: a registered domain. */
    char name[PX_QUERY_MAX_TEXT];
    char rrtype[16];      /* the type's mnemonic; "" for every type (rrset only) */
    px_store_fence fence; /* INT64_MIN / INT64_MAX when absent */
    uint64_t limit;       /* records at most; 0: not given (the default applies) */
    /* The store's lookup of name and rrtype, filled with them. */
    px_store_by by;
    size_t canon_off, canon_len; /* the name given to the store: name[off..off+len) */
    uint8_t addr[16];            /* BY_ADDR */
    size_t addr_len;
    int type; /* PX_STORE_ANY_TYPE when rrtype is "" */
} px_query_req;

/* The limits of lookups (query.limit, query.max_limit). */
typedef struct px_query_limits {
    uint64_t def; /* when a request names none */
    uint64_t max; /* a larger one is lowered to it */
} px_query_limits;

/* Largest limit a request may name, whatever the settings. */
#define PX_QUERY_LIMIT_MAX 1000000000ULL

/* An empty request with no fence. */
void px_query_req_init(px_query_req *req);

/* "rrset NAME [TYPE]", "rdata VALUE" or "domain NAME" (the positional
 * arguments of pdnsx-query). Leaves the fence alone. PX_ERR_INVAL with a message. */
px_err px_query_req_parse_args(px_query_req *req, int argc, char *const *argv, char *errbuf,
                               size_t errlen);

/* Epoch seconds ("1795716000") or ISO 8601 UTC ("2026-11-26T18:00:00Z",
 * "2026-11-26T18:00Z", "2026-11-26"). PX_ERR_INVAL otherwise. */
px_err px_query_parse_time(const char *text, int64_t *out);

/* Sets fence.after / fence.before from text; checks after <= before once
 * both are set. PX_ERR_INVAL with a message. */
px_err px_query_req_set_after(px_query_req *req, const char *text, char *errbuf, size_t errlen);
px_err px_query_req_set_before(px_query_req *req, const char *text, char *errbuf, size_t errlen);
/* Sets the limit from decimal text, 1 to PX_QUERY_LIMIT_MAX. PX_ERR_INVAL
 * with a message. */
px_err px_query_req_set_limit(px_query_req *req, const char *text, char *errbuf, size_t errlen);
/* Fills in the default limit when the request names none and lowers one
 * above the maximum. */
void px_query_req_apply_limits(px_query_req *req, const px_query_limits *limits);

/* The HTTP form of a request: "/rrset/NAME[/TYPE]?after=..&before=..&limit=..",
 * path segments percent-encoded. Caller free()s; NULL when out of memory. */
char *px_query_req_to_path(const px_query_req *req);

/* Parses a request path (still percent-encoded, without the query string)
 * and the raw values of the after/before/limit parameters (NULL: absent).
 * PX_ERR_NOTFOUND for a path that is no endpoint, PX_ERR_INVAL for a bad
 * name, type, time or limit (message in errbuf). */
px_err px_query_req_from_http(px_query_req *req, const char *path, const char *after,
                              const char *before, const char *limit, char *errbuf, size_t errlen);

/* Decodes %XX escapes of [src, src+len) into dst (NUL-terminated, at most
 * dstlen bytes with the NUL). false for a bad escape, an encoded NUL or
 * a result that does not fit. '+' stays '+'. */
bool px_query_pct_decode(const char *src, size_t len, char *dst, size_t dstlen);

/* What an answer came to. */
typedef struct px_query_result {
    size_t records; /* COF lines written */
    bool cut;       /* more records matched than the limit: the rest are left out */
    /* --cluster: answers that their consumer cut at its limit (the merged
     * answer may then lack records, or counts of records past a cut), and
     * the endpoint of the first one */
    size_t answers_cut;
    char cut_by[256];
} px_query_result;

/* A lookup read piece by piece (px_stores_iter underneath: the attached
 * partition stores one after the other, px_stores.h): memory and the
 * work of one piece are bounded whatever the answer's size. The stores
 * read: those sel wants (NULL: all; sel is copied, its ctx must outlive
 * the stream): a member's, the partitions it owns. The request's
 * limit must be set (px_query_req_apply_limits). PX_ERR_INVAL for a bad
 * name or type. The stream holds the stores it reads until freed. */
typedef struct px_query_stream px_query_stream;
px_err px_query_stream_open(px_stores *stores, const px_stores_sel *sel, const px_query_req *req,
                            px_query_stream **out);
/* Leaves out each record (and a domain line) whose name keep says no to,
 * without counting it against the limit: a member's answer from a store
 * that stands for every partition (PX_STORES_ALL) when it owns only some
 * (query/px_query_route.h). Set before the first px_query_stream_next;
 * keep NULL: every record. */
typedef bool (*px_query_keep_fn)(void *ctx, const char *name);
void px_query_stream_keep(px_query_stream *qs, px_query_keep_fn keep, void *ctx);
/* Asked between steps of a long scan; false abandons the answer
 * (PX_ERR_AGAIN): its client is gone or out of time. */
typedef bool (*px_query_go_fn)(void *ctx);
/* The next piece: whole COF lines, about 16 KiB (more when one line is
 * longer), valid until the next call; *len 0 at the end. go may be NULL.
 * A store error ends the answer: PX_ERR_DAMAGED when a step met damage
 * (reported through px_store_opts.on_damage). The records read before it
 * (each passed every check) come first, as a piece of their own, and the
 * next call returns the error; nothing past the damage is given. */
px_err px_query_stream_next(px_query_stream *qs, px_query_go_fn go, void *go_ctx, const char **data,
                            size_t *len);
/* Once the end is reached: whether the limit cut the answer, and how many
 * records it holds. */
void px_query_stream_result(const px_query_stream *qs, px_query_result *out);
void px_query_stream_free(px_query_stream *qs); /* NULL is fine */

/* The condition lines of an HTTP answer, with their '\n'; NUL-terminated
 * into buf (truncated to len). Return the length. */
size_t px_query_cond_limited(char *buf, size_t len, uint64_t limit);
size_t px_query_cond_failed(char *buf, size_t len, const char *why);

/* Runs the request (its limit set) and writes COF lines to out; *res (may
 * be NULL) says how many and whether the limit cut the answer. On an
 * error the lines written so far stay written. */
px_err px_query_run(px_stores *stores, const px_query_req *req, FILE *out, px_query_result *res);

/* `pdnsx-query alerts`: the stores' alerts (the outboxes) whose time lies
 * in fence (NULL: any) and of rule (NULL: any), as JSON lines, partition
 * by partition, each in the order they were decided (newest last). *n
 * (may be NULL): how many. A damaged
 * alert is reported (px_store_opts.on_damage) and left out, the others
 * written, and PX_ERR_DAMAGED returned; PX_ERR_IO when out fails. */
px_err px_query_alerts(px_stores *stores, const px_store_fence *fence, const char *rule, FILE *out,
                       uint64_t *n);

/* Merges the ndjson answers of several consumers (--cluster): records
 * with the same (rrname, rrtype, rdata) combine with the store's rules
 * (counts add, min time_first, max time_last, union of orgs; bailiwick
 * and GeoIP from the earliest-seen answer that has them) and are written
 * to out as COF lines sorted as px_query_rec_cmp() orders them, at most
 * `limit` (0: all). An answer may end with a "limited" condition line
 * (counted in res->answers_cut); a "failed" one fails the merge
 * (PX_ERR_IO), and any other line that is not a COF object too
 * (PX_ERR_MALFORMED), with a message naming answer and line. The answers
 * of a domain request (one domain line each, px_cof_domain_dumps) combine
 * into one line: earliest time_first, latest time_last, union of orgs;
 * lines of two different domains are PX_ERR_MALFORMED. */
px_err px_query_merge(const char *const *answers, const size_t *lens, size_t n, uint64_t limit,
                      FILE *out, px_query_result *res, char *errbuf, size_t errlen);

/* The order of merged answers: owner names in DNS canonical order
 * (px_dns_name_cmp), then rrtype, then rdata, bytewise. */
int px_query_rec_cmp(const px_store_rec *a, const px_store_rec *b);

typedef struct px_query_server px_query_server;
typedef struct px_query_server_opts {
    px_http_limits http; /* max_connections 0: the defaults */
    px_query_limits limits;
    px_http_log_fn log; /* warnings about rejected clients; NULL: none */
    /* The partitions this member owns (px_query_route.h; it must outlive
     * the server): GET /partitions tells them, lookups answer for them
     * only and answer 503 when none is owned or one they need is
     * restoring. NULL: the whole store, no /partitions. */
    struct px_query_owner *owner;
} px_query_server_opts;
/* Serves the endpoints above on "host:port" (numeric; port 0 picks a
 * free one) with px_http (4 threads), answering from the stores attached
 * to `stores` when each request comes (px_stores.h: a partition detached
 * meanwhile is left out of later answers). The set must outlive the
 * server; answers are streamed, each piece in its own store read
 * transaction.
 * opts NULL: every default (limit 10000, max 1000000). NULL on failure
 * (message in errbuf). */
px_query_server *px_query_server_start(const char *listen, px_stores *stores,
                                       const px_query_server_opts *opts, char *errbuf,
                                       size_t errlen);
void px_query_server_stop(px_query_server *s); /* NULL is fine */
/* The port actually bound (for "127.0.0.1:0" in tests). */
uint16_t px_query_server_port(const px_query_server *s);

#endif
