/* fuzz_query: the inputs a query endpoint or --cluster takes from the
 * network: request paths with their parameters (a request that parses is
 * canonical: the path it is sent on parses to the same request), and
 * consumers' ndjson answers to merge. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/px_query.h"

/* px_query_req_from_http of "PATH?after=A&before=B&limit=N", as the
 * server splits it; path is cut in place. */
static px_err reparse(char *path, px_query_req *out)
{
    static const char *const keys[3] = {"after=", "before=", "limit="};
    const char *v[3] = {NULL, NULL, NULL};
    char *q = strchr(path, '?');
    if (q)
        *q++ = '\0';
    for (char *kv = q; kv && *kv;) {
        char *amp = strchr(kv, '&');
        if (amp)
            *amp = '\0';
        for (int i = 0; i < 3; i++)
            if (strncmp(kv, keys[i], strlen(keys[i])) == 0)
                v[i] = kv + strlen(keys[i]);
        kv = amp ? amp + 1 : NULL;
    }
    char err[256];
    return px_query_req_from_http(out, path, v[0], v[1], v[2], err, sizeof(err));
}

static bool same_req(const px_query_req *a, const px_query_req *b)
{
    return a->kind == b->kind && a->by == b->by && strcmp(a->name, b->name) == 0 &&
           strcmp(a->rrtype, b->rrtype) == 0 && a->type == b->type &&
           a->canon_off == b->canon_off && a->canon_len == b->canon_len &&
           a->addr_len == b->addr_len && memcmp(a->addr, b->addr, a->addr_len) == 0 &&
           a->fence.after == b->fence.after && a->fence.before == b->fence.before &&
           a->limit == b->limit;
}

static void fuzz_path(const char *text)
{
    /* "path\nafter\nbefore\nlimit": each part optional */
    char *copy = strdup(text);
    if (!copy)
        return;
    char *parts[3] = {NULL, NULL, NULL};
    char *p = copy;
    for (int i = 0; i < 3 && (p = strchr(p, '\n')); i++) {
        *p++ = '\0';
        parts[i] = p;
    }
    px_query_req req, back;
    char err[256];
    if (px_query_req_from_http(&req, copy, parts[0], parts[1], parts[2], err, sizeof(err)) ==
        PX_OK) {
        /* what parsed is canonical: the path it is sent on gives it back */
        char *path = px_query_req_to_path(&req);
        if (path && (reparse(path, &back) != PX_OK || !same_req(&req, &back)))
            __builtin_trap();
        free(path);
    }
    free(copy);
}

static void fuzz_merge(const char *data, size_t len)
{
    const char *split = memchr(data, '\x1e', len);
    size_t first = split ? (size_t)(split - data) : len;
    const char *answers[2] = {data, split ? split + 1 : ""};
    size_t lens[2] = {first, split ? len - first - 1 : 0};
    FILE *out = fopen("/dev/null", "w");
    if (!out)
        return;
    char err[256];
    /* the first byte's low bits: a limit, or none */
    px_query_merge(answers, lens, 2, (uint64_t)(len ? (unsigned char)data[0] & 7 : 0), out, NULL,
                   err, sizeof(err));
    fclose(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if (data[0] & 1)
        fuzz_path(text);
    else
        fuzz_merge(text, size - 1);
    free(text);
    return 0;
}
