/* fuzz_query: the inputs a query endpoint or --cluster takes from the
 * network: request paths with their parameters, and consumers' ndjson
 * answers to merge. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/px_query.h"

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
    px_query_req req;
    char err[256];
    if (px_query_req_from_http(&req, copy, parts[0], parts[1], parts[2], err, sizeof(err)) ==
        PX_OK) {
        char *path = px_query_req_to_path(&req);
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
