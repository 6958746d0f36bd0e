/* px_query_cluster.h: pdnsx-query --cluster, the HTTP client that asks
 * every consumer's query.listen endpoint at once (libcurl) and merges
 * their answers (px_query_merge). Private to pdnsx-query and its tests. */
#ifndef PX_QUERY_CLUSTER_H
#define PX_QUERY_CLUSTER_H

#include <stddef.h>
#include <stdio.h>

#include "core/px_error.h"
#include "query/px_query.h"

/* The largest answer one endpoint may send: an answer holds at most the
 * request's limit of records (query.max_limit is 1,000,000 by default),
 * and each is held in memory to be merged. */
#define PX_QUERY_CLUSTER_MAX_ANSWER ((size_t)512 << 20)

/* What one endpoint answered. */
typedef struct px_query_answer {
    int status; /* the HTTP status */
    char *body; /* NUL-terminated, owned: px_query_answers_free() */
    size_t len;
} px_query_answer;

/* GETs path ("/rrset/...", px_query_req_to_path) from each of the n
 * endpoints ("HOST:PORT" or "[IPv6]:PORT") in parallel, every transfer
 * within timeout_ms, each body at most max_bytes. out[i] is the answer of
 * endpoints[i] (out has n slots). PX_OK when every endpoint answered,
 * whatever its status. Otherwise the first endpoint that failed is named
 * in why with libcurl's reason: PX_ERR_IO (not HOST:PORT, cannot connect,
 * not HTTP), PX_ERR_AGAIN (timed out), PX_ERR_FULL (answer over
 * max_bytes), PX_ERR_NOMEM; out is then freed. */
px_err px_query_fetch(const char *const *endpoints, size_t n, const char *path, int timeout_ms,
                      size_t max_bytes, px_query_answer *out, char *why, size_t whylen);
/* Frees the bodies of n answers and zeroes them; NULL is fine. */
void px_query_answers_free(px_query_answer *a, size_t n);

/* Asks every endpoint of the comma-separated list (with the request's
 * limit, which must be set) within timeout_ms and merges the answers to
 * out, at most req->limit records; res (may be NULL) says how many,
 * whether the merged answer was cut, and which endpoints cut theirs (the
 * first one's endpoint in res->cut_by). Any endpoint failing or answering
 * other than 200 fails the whole query (a partial history would mislead):
 * PX_ERR_IO (PX_ERR_AGAIN for a timeout) with a message naming the
 * endpoint; PX_ERR_INVAL for an empty list. The answers are held in
 * memory to be merged (each at most PX_QUERY_CLUSTER_MAX_ANSWER). */
px_err px_query_cluster(const char *endpoints, const px_query_req *req, int timeout_ms, FILE *out,
                        px_query_result *res, char *why, size_t whylen);

#endif
