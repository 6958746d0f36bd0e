/* px_query_http.c: the query.listen HTTP endpoint (px_http, answers
 * streamed). pdnsx-query --cluster is its client (query/cli). */
#include "query/px_query.h"

#include <stdlib.h>
#include <string.h>

#include "core/px_metrics.h"
#include "query/px_query_route.h"

/* ---- server ---------------------------------------------------------------- */

struct px_query_server {
    px_http_server *http;
    px_stores *stores;
    px_query_limits limits;
    px_query_owner *owner; /* NULL: answers for the whole store */
    /* pdnsx_query_requests_total{endpoint}: by px_query_kind, then /partitions */
    px_metric *m_requests[PX_QUERY_DOMAIN + 2];
};

/* The parameters of one request; anything but after/before/limit and
 * assignment (once each) is a bad request rather than silently ignored. */
typedef struct px_query_args {
    const char *after, *before, *limit;
    const char *assignment; /* pdnsx-query --cluster's (px_query_route.h) */
    bool bad;
} px_query_args;

static void px_query_arg(void *cls, const char *key, const char *value)
{
    px_query_args *a = cls;
    const char **slot = strcmp(key, "after") == 0        ? &a->after
                        : strcmp(key, "before") == 0     ? &a->before
                        : strcmp(key, "limit") == 0      ? &a->limit
                        : strcmp(key, "assignment") == 0 ? &a->assignment
                                                         : NULL;
    if (!slot || !value || *slot)
        a->bad = true;
    else
        *slot = value;
}

/* A streamed answer: the lookup's pieces, then a condition line when it
 * was cut at the limit or failed once started. */
typedef struct px_query_answer {
    px_query_stream *qs;
    px_query_parts parts; /* the member's partitions at the start: the stores read */
    bool whole;           /* a store standing for every partition is read */
    const char *data;
    size_t len, off;
    bool finished;
    uint64_t limit;
    char tail[320];
} px_query_answer;

static void px_query_answer_free(void *state)
{
    px_query_answer *qa = state;
    px_query_stream_free(qa->qs);
    px_query_parts_free(&qa->parts);
    free(qa);
}

static bool px_query_go_on(void *ctx)
{
    return !px_http_conn_closing(ctx);
}

/* Ends the answer: the condition line if it was cut or failed. */
static void px_query_finish(px_query_answer *qa, px_err err)
{
    px_query_result r;
    px_query_stream_result(qa->qs, &r);
    qa->finished = true;
    qa->data = qa->tail;
    qa->off = 0;
    if (err != PX_OK)
        qa->len = px_query_cond_failed(qa->tail, sizeof(qa->tail), px_strerror(err));
    else
        qa->len = r.cut ? px_query_cond_limited(qa->tail, sizeof(qa->tail), qa->limit) : 0;
}

/* Gets the next piece into qa; false when the answer is to be cut off
 * (its connection is closing). */
static bool px_query_refill(px_query_answer *qa, const px_http_conn *conn)
{
    qa->off = 0;
    px_err err = px_query_stream_next(qa->qs, px_query_go_on, (void *)conn, &qa->data, &qa->len);
    if (err == PX_ERR_AGAIN)
        return false;
    if (err != PX_OK || qa->len == 0)
        px_query_finish(qa, err);
    return true;
}

static ssize_t px_query_body(void *state, const px_http_conn *conn, char *buf, size_t max)
{
    px_query_answer *qa = state;
    while (qa->off == qa->len) {
        if (qa->finished)
            return 0;
        if (!px_query_refill(qa, conn))
            return -1;
    }
    size_t n = qa->len - qa->off < max ? qa->len - qa->off : max;
    memcpy(buf, qa->data + qa->off, n);
    qa->off += n;
    return (ssize_t)n;
}

/* ---- ownership: the partitions this member answers for (px_query_route.h) ---- */

/* A JSON answer (body: one line, taken). */
static px_err px_query_answer_json(px_http_answer *a, unsigned status, char *body)
{
    if (!body)
        return PX_ERR_NOMEM;
    *a = (px_http_answer){
        .status = status, .content_type = "application/json", .body = body, .len = strlen(body)};
    return PX_OK;
}

/* GET /partitions */
static px_err px_query_partitions(px_query_server *s, px_http_answer *a)
{
    px_query_parts p;
    px_err err = px_query_owner_get(s->owner, &p);
    if (err == PX_OK)
        err = px_query_answer_json(a, 200, px_query_parts_json(&p));
    px_query_parts_free(&p);
    return err;
}

/* 503 and px_query_parts_refusal's line. */
static px_err px_query_unavailable(px_http_answer *a, const char *what, const px_query_parts *p,
                                   int32_t only, const char *msg)
{
    return px_query_answer_json(a, 503, px_query_parts_refusal(p, what, only, msg));
}

/* Whether req may be answered here (else *a is the 503): the assignment
 * the client was told (assignment, may be NULL) still in force, some
 * partition owned, and no partition req needs restoring. */
static bool px_query_may_answer(const px_query_req *req, const char *assignment,
                                const px_query_parts *p, px_http_answer *a, px_err *err)
{
    uint64_t told;
    if (assignment &&
        (!px_query_parse_assignment(assignment, &told) || told != px_query_parts_assignment(p))) {
        *err = px_query_unavailable(a, "moved", p, INT32_MAX,
                                    "this consumer's partitions changed since /partitions (a "
                                    "rebalance): ask /partitions again");
        return false;
    }
    if (px_query_parts_owned(p) == 0) {
        *err = px_query_unavailable(a, "unassigned", p, -1,
                                    "no partitions assigned to this consumer (yet)");
        return false;
    }
    int32_t need = px_query_route(req, p->partitions);
    bool restoring = false;
    for (int32_t i = 0; i < p->partitions; i++)
        restoring |= (need < 0 || need == i) && px_query_parts_is(p, i, PX_QUERY_PART_RESTORING);
    if (!restoring)
        return true;
    *err = px_query_unavailable(a, "restoring", p, need,
                                "partitions this lookup needs are being restored here: their "
                                "answer would be short; ask again once they are restored");
    return false;
}

/* The stores read: those of the partitions owned and not restoring (the
 * answer leaves out a store attached but not owned, between a revocation
 * and the next assignment, without looking at its records; a lookup that
 * needs a restoring partition is refused, px_query_may_answer, and one
 * that does not finds nothing in its store). A store standing for every
 * partition (an old single store, px_stores_wrap's default) is read too,
 * through the filter below. */
static bool px_query_want_owned(void *ctx, int32_t partition)
{
    px_query_answer *qa = ctx;
    if (partition != PX_STORES_ALL)
        return px_query_parts_is(&qa->parts, partition, PX_QUERY_PART_OWNED) &&
               !px_query_parts_is(&qa->parts, partition, PX_QUERY_PART_RESTORING);
    qa->whole = true;
    return true;
}

/* The filter, for a store that stands for every partition only: a
 * record's name hashes to an owned partition. */
static bool px_query_keep_owned(void *ctx, const char *name)
{
    const px_query_answer *qa = ctx;
    const px_query_parts *p = &qa->parts;
    return !qa->whole ||
           px_query_parts_is(p, px_query_partition_of(name, strlen(name), p->partitions),
                             PX_QUERY_PART_OWNED);
}

/* Opens qa's stream over the stores of the member's partitions (every
 * store without an owner). */
static px_err px_query_open(px_query_server *s, const px_query_req *req, px_query_answer *qa)
{
    if (!s->owner)
        return px_query_stream_open(s->stores, NULL, req, &qa->qs);
    px_err err = px_query_owner_get(s->owner, &qa->parts);
    px_stores_sel sel = {.want = px_query_want_owned, .ctx = qa};
    return err ? err : px_query_stream_open(s->stores, &sel, req, &qa->qs);
}

/* Whether the member may answer req (else *a says why); owning only some
 * partitions, a store standing for every one is filtered. */
static bool px_query_own(px_query_server *s, const px_query_req *req, const char *assignment,
                         px_query_answer *qa, px_http_answer *a, px_err *err)
{
    if (!s->owner)
        return true;
    if (!px_query_may_answer(req, assignment, &qa->parts, a, err))
        return false;
    /* owning all: nothing to leave out, no hashing */
    if (px_query_parts_owned(&qa->parts) < (size_t)qa->parts.partitions)
        px_query_stream_keep(qa->qs, px_query_keep_owned, qa);
    return true;
}

/* Opens the lookup and reads its first piece here, so that a store that
 * fails at once still gets a 500 rather than a broken 200. */
static px_err px_query_answer_lookup(px_query_server *s, const px_query_req *req,
                                     const char *assignment, const px_http_conn *conn,
                                     px_http_answer *a)
{
    px_query_answer *qa = calloc(1, sizeof(*qa));
    if (!qa)
        return PX_ERR_NOMEM;
    qa->limit = req->limit;
    px_err err = px_query_open(s, req, qa);
    if (err == PX_OK && !px_query_own(s, req, assignment, qa, a, &err)) {
        px_query_answer_free(qa);
        return err;
    }
    if (err == PX_OK)
        err = px_query_stream_next(qa->qs, px_query_go_on, (void *)conn, &qa->data, &qa->len);
    if (err != PX_OK) {
        px_query_answer_free(qa);
        return err == PX_ERR_INVAL ? px_http_answer_text(a, 400, "bad name or type")
                                   : px_http_answer_text(a, 500, px_strerror(err));
    }
    if (qa->len == 0)
        px_query_finish(qa, PX_OK); /* empty, or cut at once */
    *a = (px_http_answer){.status = 200,
                          .content_type = "application/x-ndjson",
                          .stream = px_query_body,
                          .stream_state = qa,
                          .stream_free = px_query_answer_free};
    return PX_OK;
}

static px_err px_query_handle(void *cls, const px_http_request *r, px_http_answer *a)
{
    px_query_server *s = cls;
    const char *method = px_http_method(r);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return px_http_answer_text(a, 405, "only GET");
    px_query_args args = {0};
    px_http_args(r, px_query_arg, &args);
    if (s->owner && strcmp(px_http_path(r), "/partitions") == 0) {
        px_metric_inc(s->m_requests[PX_QUERY_DOMAIN + 1]);
        return args.bad || args.after || args.before || args.limit || args.assignment
                   ? px_http_answer_text(a, 400, "/partitions takes no parameters")
                   : px_query_partitions(s, a);
    }
    char why[256] = "";
    px_query_req req;
    px_err err = px_query_req_from_http(&req, px_http_path(r), args.after, args.before, args.limit,
                                        why, sizeof(why));
    if (err == PX_ERR_NOTFOUND)
        return px_http_answer_text(a, 404, why);
    if (err == PX_OK && args.bad)
        return px_http_answer_text(a, 400,
                                   "parameters: after=T, before=T, limit=N and assignment=X only");
    if (err != PX_OK)
        return px_http_answer_text(a, 400, why[0] ? why : px_strerror(err));
    px_query_req_apply_limits(&req, &s->limits);
    px_metric_inc(s->m_requests[req.kind]);
    return px_query_answer_lookup(s, &req, args.assignment, px_http_request_conn(r), a);
}

static void px_query_server_metrics(px_query_server *s)
{
    static const char *const names[] = {
        [PX_QUERY_RRSET] = "rrset",
        [PX_QUERY_RDATA] = "rdata",
        [PX_QUERY_DOMAIN] = "domain",
        [PX_QUERY_DOMAIN + 1] = "partitions",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char name[96];
        snprintf(name, sizeof(name), "pdnsx_query_requests_total{endpoint=\"%s\"}", names[i]);
        s->m_requests[i] = px_metric_counter(
            name, "Requests the query endpoint (query.listen) took, by endpoint (answered or not)");
    }
}

px_query_server *px_query_server_start(const char *listen, px_stores *stores,
                                       const px_query_server_opts *opts, char *errbuf,
                                       size_t errlen)
{
    if (!listen || !stores) {
        snprintf(errbuf, errlen, "query.listen: no address or no store");
        return NULL;
    }
    px_query_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    s->stores = stores;
    s->limits = (px_query_limits){.def = 10000, .max = 1000000};
    px_query_server_metrics(s);
    /* A few threads: a piece of an answer is quick, but one client's
     * store reads should not hold up another's. */
    px_http_opts o = {
        .setting = "query.listen", .threads = 4, .handler = px_query_handle, .ctx = s};
    if (opts) {
        o.limits = opts->http;
        o.log = opts->log;
        if (opts->limits.def)
            s->limits = opts->limits;
        s->owner = opts->owner;
    }
    if (px_http_server_start(listen, &o, &s->http, errbuf, errlen) != PX_OK) {
        free(s);
        return NULL;
    }
    return s;
}

uint16_t px_query_server_port(const px_query_server *s)
{
    return s ? px_http_port(s->http) : 0;
}

void px_query_server_stop(px_query_server *s)
{
    if (!s)
        return;
    px_http_stop(s->http);
    free(s);
}
