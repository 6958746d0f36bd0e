/* px_query_cluster.c: pdnsx-query --cluster. Every endpoint is asked at
 * once through libcurl's multi interface (one easy handle each), so the
 * whole lookup takes as long as the slowest consumer, never longer than
 * --timeout; the answers are then merged with the store's rules. */
#include "px_query_cluster.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "core/px_net.h"
#include "query/px_query_route.h"

/* One transfer: its endpoint, what came so far and its bound. */
typedef struct px_qc_xfer {
    CURL *easy;
    const char *endpoint, *path;
    px_query_answer *ans;
    size_t cap, max;
    bool too_large;
    char url[320];
    char err[CURL_ERROR_SIZE];
} px_qc_xfer;

/* "HOST:PORT" (a name or IPv4 address) or "[IPv6]:PORT", port 1-65535,
 * as core splits it; writes the URL of path at it. false for anything
 * else (user info, a path or a query in the host among it). */
static bool px_qc_url(const char *endpoint, const char *path, char *url, size_t len)
{
    char host[256];
    uint16_t port = 0;
    if (px_hostport_split(endpoint, host, sizeof(host), &port, PX_HOSTPORT_NAME) != PX_OK ||
        port == 0)
        return false;
    bool v6 = strchr(host, ':') != NULL;
    int n = snprintf(url, len, "http://%s%s%s:%u%s", v6 ? "[" : "", host, v6 ? "]" : "",
                     (unsigned)port, path);
    return n > 0 && (size_t)n < len;
}

static size_t px_qc_write(char *data, size_t size, size_t nmemb, void *ctx)
{
    px_qc_xfer *x = ctx;
    px_query_answer *a = x->ans;
    size_t n = size * nmemb;
    if (n > x->max - a->len) {
        x->too_large = true;
        return 0; /* curl ends the transfer: CURLE_WRITE_ERROR */
    }
    if (a->len + n + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 16384;
        while (cap < a->len + n + 1)
            cap *= 2;
        char *b = realloc(a->body, cap);
        if (!b)
            return 0;
        a->body = b, x->cap = cap;
    }
    memcpy(a->body + a->len, data, n);
    a->len += n;
    a->body[a->len] = '\0';
    return n;
}

static px_err px_qc_setup(px_qc_xfer *x, CURLM *multi, int timeout_ms,
                          const struct curl_slist *headers, char *why, size_t whylen)
{
    if (!px_qc_url(x->endpoint, x->path, x->url, sizeof(x->url))) {
        snprintf(why, whylen, "%s: expected HOST:PORT or [IPv6]:PORT", x->endpoint);
        return PX_ERR_IO;
    }
    x->easy = curl_easy_init();
    if (!x->easy)
        return PX_ERR_NOMEM;
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, x->url);
    /* Only the plain http:// URL built above, no redirects, no proxy from
     * the environment: the operator named these consumers. */
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, px_qc_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->err);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    if (curl_multi_add_handle(multi, e) != CURLM_OK)
        return PX_ERR_NOMEM;
    return PX_OK;
}

/* The outcome of one finished transfer; why names its endpoint. */
static px_err px_qc_done(px_qc_xfer *x, CURLcode rc, char *why, size_t whylen)
{
    if (rc == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        x->ans->status = (int)status;
        if (!x->ans->body && !(x->ans->body = calloc(1, 1)))
            return PX_ERR_NOMEM;
        return PX_OK;
    }
    px_err err = PX_ERR_IO;
    const char *reason = x->err[0] ? x->err : curl_easy_strerror(rc);
    if (x->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        err = PX_ERR_FULL;
        snprintf(why, whylen, "%s: answer larger than %zu bytes", x->endpoint, x->max);
        return err;
    }
    if (rc == CURLE_OPERATION_TIMEDOUT)
        err = PX_ERR_AGAIN;
    else if (rc == CURLE_OUT_OF_MEMORY || rc == CURLE_WRITE_ERROR)
        err = PX_ERR_NOMEM; /* px_qc_write refuses only for memory besides the bound */
    snprintf(why, whylen, "%s: %s", x->endpoint, reason);
    return err;
}

/* Runs every transfer to its end (each has its own timeout); the first
 * failure (in endpoint order) is the result. */
static px_err px_qc_run(CURLM *multi, px_qc_xfer *xs, size_t n, char *why, size_t whylen)
{
    int running = 1;
    CURLMcode mc = CURLM_OK;
    while (running && mc == CURLM_OK) {
        mc = curl_multi_perform(multi, &running);
        if (mc == CURLM_OK && running)
            mc = curl_multi_poll(multi, NULL, 0, 1000, NULL);
    }
    if (mc != CURLM_OK) {
        snprintf(why, whylen, "libcurl: %s", curl_multi_strerror(mc));
        return mc == CURLM_OUT_OF_MEMORY ? PX_ERR_NOMEM : PX_ERR_IO;
    }
    CURLcode *rcs = calloc(n, sizeof(*rcs));
    if (!rcs)
        return PX_ERR_NOMEM;
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(multi, &left))) {
        px_qc_xfer *x = NULL;
        if (m->msg == CURLMSG_DONE &&
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x) == CURLE_OK && x)
            rcs[x - xs] = m->data.result;
    }
    px_err err = PX_OK;
    for (size_t i = 0; i < n && err == PX_OK; i++)
        err = px_qc_done(&xs[i], rcs[i], why, whylen);
    free(rcs);
    return err;
}

void px_query_answers_free(px_query_answer *a, size_t n)
{
    for (size_t i = 0; a && i < n; i++) {
        free(a[i].body);
        a[i] = (px_query_answer){0};
    }
}

/* px_query_fetch with a path per endpoint (paths[i] for endpoints[i]). */
static px_err px_query_fetch_each(const char *const *endpoints, const char *const *paths, size_t n,
                                  int timeout_ms, size_t max_bytes, px_query_answer *out, char *why,
                                  size_t whylen)
{
    memset(out, 0, n * sizeof(*out));
    CURLM *multi = curl_multi_init();
    px_qc_xfer *xs = calloc(n ? n : 1, sizeof(*xs));
    struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/x-ndjson");
    px_err err = multi && xs && headers ? PX_OK : PX_ERR_NOMEM;
    for (size_t i = 0; i < n && err == PX_OK; i++) {
        xs[i] = (px_qc_xfer){
            .endpoint = endpoints[i], .path = paths[i], .ans = &out[i], .max = max_bytes};
        err = px_qc_setup(&xs[i], multi, timeout_ms, headers, why, whylen);
    }
    if (err == PX_OK)
        err = px_qc_run(multi, xs, n, why, whylen);
    for (size_t i = 0; xs && i < n; i++) {
        if (xs[i].easy) {
            curl_multi_remove_handle(multi, xs[i].easy);
            curl_easy_cleanup(xs[i].easy);
        }
    }
    curl_slist_free_all(headers);
    curl_multi_cleanup(multi);
    free(xs);
    if (err == PX_ERR_NOMEM && why && !why[0])
        snprintf(why, whylen, "out of memory");
    if (err != PX_OK)
        px_query_answers_free(out, n);
    return err;
}

px_err px_query_fetch(const char *const *endpoints, size_t n, const char *path, int timeout_ms,
                      size_t max_bytes, px_query_answer *out, char *why, size_t whylen)
{
    const char **paths = calloc(n ? n : 1, sizeof(*paths));
    if (!paths) {
        snprintf(why, whylen, "out of memory");
        return PX_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        paths[i] = path;
    px_err err = px_query_fetch_each(endpoints, paths, n, timeout_ms, max_bytes, out, why, whylen);
    free(paths);
    return err;
}

/* ---- the merge ---------------------------------------------------------------- */

/* Every answer a 200, or the first that is not, named with the first line
 * of its body (which says why). */
static px_err px_qc_all_ok(const char *const *names, const px_query_answer *a, size_t n, char *why,
                           size_t whylen)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i].status == 200)
            continue;
        int line = (int)strcspn(a[i].body, "\r\n");
        snprintf(why, whylen, "%s answered %d: %.*s", names[i], a[i].status,
                 line > 200 ? 200 : line, a[i].body);
        return PX_ERR_IO;
    }
    return PX_OK;
}

/* Merges what the endpoints answered; names the endpoint of the first
 * answer cut at its limit, and of an answer that does not merge. */
static px_err px_qc_merge(const char *const *names, const px_query_answer *a, size_t n,
                          uint64_t limit, FILE *out, px_query_result *res, char *why, size_t whylen)
{
    const char **text = calloc(n, sizeof(*text));
    size_t *lens = calloc(n, sizeof(*lens));
    if (!text || !lens) {
        free(text);
        free(lens);
        return PX_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        text[i] = a[i].body, lens[i] = a[i].len;
    char mwhy[512] = "";
    px_err err = px_query_merge(text, lens, n, limit, out, res, mwhy, sizeof(mwhy));
    free(text);
    free(lens);
    size_t which = 0;
    if (err != PX_OK && sscanf(mwhy, "answer %zu", &which) == 1 && which >= 1 && which <= n)
        snprintf(why, whylen, "%s: %s", names[which - 1], mwhy);
    else if (err != PX_OK)
        snprintf(why, whylen, "%s", mwhy);
    if (err == PX_OK && res->answers_cut && sscanf(res->cut_by, "answer %zu", &which) == 1 &&
        which >= 1 && which <= n)
        snprintf(res->cut_by, sizeof(res->cut_by), "%s", names[which - 1]);
    return err;
}

/* The comma-separated list as an array of pointers into list (modified). */
static size_t px_qc_split(char *list, const char **names, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *ep = strtok_r(list, ",", &save); ep && n < max; ep = strtok_r(NULL, ",", &save))
        names[n++] = ep;
    return n;
}

/* ---- the members: who owns which partition (px_query_route.h) ----------------------- */

/* A /partitions answer is a few bytes per partition. */
#define PX_QC_PARTITIONS_MAX_ANSWER ((size_t)8 << 20)
/* Lookups answered "moved" (a rebalance between /partitions and the
 * lookup) are asked again, from /partitions, this many times in all. */
#define PX_QC_ATTEMPTS 3

/* What the members said at /partitions. */
typedef struct px_qc_members {
    size_t n;
    px_query_parts *parts; /* per member */
    uint64_t *assignment;  /* per member: the fingerprint lookups carry */
    int32_t partitions;    /* N, the same at every member */
    size_t *owner;         /* per partition: the member owning it */
} px_qc_members;

static void px_qc_members_free(px_qc_members *m)
{
    for (size_t i = 0; m->parts && i < m->n; i++)
        px_query_parts_free(&m->parts[i]);
    free(m->parts);
    free(m->assignment);
    free(m->owner);
    *m = (px_qc_members){0};
}

/* Reads each member's /partitions answer into m; why names a bad one. */
static px_err px_qc_members_parse(const char *const *names, const px_query_answer *a,
                                  px_qc_members *m, char *why, size_t whylen)
{
    px_err err = px_qc_all_ok(names, a, m->n, why, whylen);
    for (size_t i = 0; i < m->n && err == PX_OK; i++) {
        char pwhy[256] = "";
        err = px_query_parts_parse(a[i].body, a[i].len, &m->parts[i], &m->assignment[i], pwhy,
                                   sizeof(pwhy));
        if (err == PX_ERR_MALFORMED)
            snprintf(why, whylen, "%s: /partitions: %s", names[i], pwhy);
    }
    return err;
}

/* Asks every member's GET /partitions. */
static px_err px_qc_members_read(const char *const *names, size_t n, int timeout_ms,
                                 px_qc_members *m, char *why, size_t whylen)
{
    m->n = n;
    m->parts = calloc(n, sizeof(*m->parts));
    m->assignment = calloc(n, sizeof(*m->assignment));
    px_query_answer *a = calloc(n, sizeof(*a));
    px_err err = m->parts && m->assignment && a ? PX_OK : PX_ERR_NOMEM;
    if (err == PX_OK)
        err = px_query_fetch(names, n, "/partitions", timeout_ms, PX_QC_PARTITIONS_MAX_ANSWER, a,
                             why, whylen);
    if (err == PX_OK)
        err = px_qc_members_parse(names, a, m, why, whylen);
    px_query_answers_free(a, a ? n : 0); /* zeroed when the fetch failed */
    free(a);
    return err;
}

/* Every member counts the same partitions per topic, and each partition
 * is owned by exactly one of them: else the members given are not one
 * whole group (or a rebalance is under way), and an answer could be short
 * or count twice. PX_ERR_CONFIG with why. */
static px_err px_qc_members_check(const char *const *names, px_qc_members *m, char *why,
                                  size_t whylen)
{
    int32_t n_parts = m->parts[0].partitions;
    for (size_t i = 1; i < m->n; i++)
        if (m->parts[i].partitions != n_parts) {
            snprintf(why, whylen,
                     "%s and %s count %d and %d partitions per topic: not members of one group",
                     names[0], names[i], (int)n_parts, (int)m->parts[i].partitions);
            return PX_ERR_CONFIG;
        }
    m->partitions = n_parts;
    m->owner = malloc((size_t)n_parts * sizeof(*m->owner));
    if (!m->owner)
        return PX_ERR_NOMEM;
    for (int32_t p = 0; p < n_parts; p++) {
        m->owner[p] = SIZE_MAX;
        for (size_t i = 0; i < m->n; i++) {
            if (!px_query_parts_is(&m->parts[i], p, PX_QUERY_PART_OWNED))
                continue;
            if (m->owner[p] != SIZE_MAX) {
                snprintf(why, whylen,
                         "partition %d is owned by both %s and %s: they are not members of one "
                         "group, or a rebalance is under way",
                         (int)p, names[m->owner[p]], names[i]);
                return PX_ERR_CONFIG;
            }
            m->owner[p] = i;
        }
        if (m->owner[p] == SIZE_MAX) {
            snprintf(why, whylen,
                     "partition %d of %d is owned by none of the consumers given: list every "
                     "member of the group (or a rebalance is under way)",
                     (int)p, (int)n_parts);
            return PX_ERR_CONFIG;
        }
    }
    return PX_OK;
}

/* The members the lookup goes to: the owner of the one partition that
 * holds all it can match, else every member owning some partition.
 * Returns how many (targets has m->n slots). */
static size_t px_qc_targets(const px_qc_members *m, const px_query_req *req, size_t *targets)
{
    int32_t need = px_query_route(req, m->partitions);
    if (need >= 0) {
        targets[0] = m->owner[need];
        return 1;
    }
    size_t k = 0;
    for (size_t i = 0; i < m->n; i++)
        if (px_query_parts_owned(&m->parts[i]) > 0)
            targets[k++] = i;
    return k;
}

/* A target restoring a partition the lookup needs: its answer would be
 * short. PX_ERR_AGAIN naming the member and its partitions. */
static px_err px_qc_restoring(const char *const *names, const px_qc_members *m,
                              const px_query_req *req, const size_t *targets, size_t k, char *why,
                              size_t whylen)
{
    int32_t need = px_query_route(req, m->partitions);
    for (size_t t = 0; t < k; t++) {
        const px_query_parts *p = &m->parts[targets[t]];
        char list[256] = "";
        size_t at = 0;
        for (int32_t i = 0; i < p->partitions && at < sizeof(list); i++)
            if ((need < 0 || need == i) && px_query_parts_is(p, i, PX_QUERY_PART_RESTORING))
                at +=
                    (size_t)snprintf(list + at, sizeof(list) - at, "%s%d", at ? ", " : "", (int)i);
        if (at) {
            snprintf(why, whylen,
                     "%s is restoring partition(s) %s: its answer would be short; ask again once "
                     "they are restored",
                     names[targets[t]], list);
            return PX_ERR_AGAIN;
        }
    }
    return PX_OK;
}

/* A member answered "moved": its partitions changed after /partitions. */
static bool px_qc_moved(const px_query_answer *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].status == 503 && strstr(a[i].body, "\"error\":\"moved\""))
            return true;
    return false;
}

/* One lookup at the targets, each asked with the assignment it gave.
 * *moved: a target's partitions changed since (nothing written). */
static px_err px_qc_lookup(const char *const *names, const px_qc_members *m, const size_t *targets,
                           size_t k, const px_query_req *req, int timeout_ms, FILE *out,
                           px_query_result *res, bool *moved, char *why, size_t whylen)
{
    const char **tnames = calloc(k, sizeof(*tnames));
    char **paths = calloc(k, sizeof(*paths));
    px_query_answer *answers = calloc(k, sizeof(*answers));
    char *path = px_query_req_to_path(req);
    px_err err = tnames && paths && answers && path ? PX_OK : PX_ERR_NOMEM;
    for (size_t t = 0; t < k && err == PX_OK; t++) {
        tnames[t] = names[targets[t]];
        if (asprintf(&paths[t], "%s%cassignment=%016" PRIx64, path, strchr(path, '?') ? '&' : '?',
                     m->assignment[targets[t]]) < 0) {
            paths[t] = NULL;
            err = PX_ERR_NOMEM;
        }
    }
    if (err == PX_OK)
        err = px_query_fetch_each(tnames, (const char *const *)paths, k, timeout_ms,
                                  PX_QUERY_CLUSTER_MAX_ANSWER, answers, why, whylen);
    *moved = err == PX_OK && px_qc_moved(answers, k);
    if (err == PX_OK && !*moved)
        err = px_qc_all_ok(tnames, answers, k, why, whylen);
    if (err == PX_OK && !*moved)
        err = px_qc_merge(tnames, answers, k, req->limit, out, res, why, whylen);
    px_query_answers_free(answers, answers ? k : 0); /* zeroed when the fetch failed */
    for (size_t t = 0; paths && t < k; t++)
        free(paths[t]);
    free(answers);
    free(paths);
    free(tnames);
    free(path);
    return err;
}

/* One attempt: the members' partitions, then the lookup where it must go. */
static px_err px_qc_attempt(const char *const *names, size_t n, const px_query_req *req,
                            int timeout_ms, FILE *out, px_query_result *res, bool *moved, char *why,
                            size_t whylen)
{
    px_qc_members m = {0};
    size_t *targets = calloc(n, sizeof(*targets));
    px_err err = targets ? PX_OK : PX_ERR_NOMEM;
    if (err == PX_OK)
        err = px_qc_members_read(names, n, timeout_ms, &m, why, whylen);
    if (err == PX_OK)
        err = px_qc_members_check(names, &m, why, whylen);
    size_t k = err == PX_OK ? px_qc_targets(&m, req, targets) : 0;
    if (err == PX_OK)
        err = px_qc_restoring(names, &m, req, targets, k, why, whylen);
    if (err == PX_OK)
        err = px_qc_lookup(names, &m, targets, k, req, timeout_ms, out, res, moved, why, whylen);
    px_qc_members_free(&m);
    free(targets);
    return err;
}

px_err px_query_cluster(const char *endpoints, const px_query_req *req, int timeout_ms, FILE *out,
                        px_query_result *res, char *why, size_t whylen)
{
    px_query_result local;
    if (!res)
        res = &local;
    memset(res, 0, sizeof(*res));
    size_t max = 1;
    for (const char *p = endpoints; *p; p++)
        max += *p == ',';
    char *list = strdup(endpoints);
    const char **names = calloc(max, sizeof(*names));
    px_err err = list && names ? PX_OK : PX_ERR_NOMEM;
    size_t n = err == PX_OK ? px_qc_split(list, names, max) : 0;
    if (err == PX_OK && n == 0) {
        snprintf(why, whylen, "--cluster: no endpoint given");
        err = PX_ERR_INVAL;
    }
    bool moved = true;
    for (int i = 0; err == PX_OK && moved && i < PX_QC_ATTEMPTS; i++)
        err = px_qc_attempt(names, n, req, timeout_ms, out, res, &moved, why, whylen);
    if (err == PX_OK && moved) {
        snprintf(why, whylen,
                 "the group's partitions kept moving (rebalances) during the lookup: ask again");
        err = PX_ERR_AGAIN;
    }
    if (err == PX_ERR_NOMEM && !why[0])
        snprintf(why, whylen, "out of memory");
    free(names);
    free(list);
    return err;
}
