/* px_query_route.c: which member answers a lookup, and the partitions a
 * member owns (px_query_route.h). */
#include "query/px_query_route.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/px_hash.h"
#include "kafka/px_kafka_partition.h"
#include "obs/px_psl.h"

/* ---- routing ------------------------------------------------------------------ */

int32_t px_query_partition_of(const char *name, size_t len, int32_t partitions)
{
    const char *key;
    size_t key_len;
    if (partitions < 1 || px_psl_key(name, len, &key, &key_len) != PX_OK)
        return -1;
    return px_kafka_partition_of(key, key_len, partitions);
}

int32_t px_query_route(const px_query_req *req, int32_t partitions)
{
    /* rdata: any name may point at the value; a zone: the names below it
     * may be registered domains of their own (a public suffix between) */
    if (req->kind == PX_QUERY_RDATA || (req->kind == PX_QUERY_RRSET && req->by != PX_STORE_BY_NAME))
        return -1;
    return px_query_partition_of(req->name + req->canon_off, req->canon_len, partitions);
}

/* ---- a member's partitions --------------------------------------------------------- */

bool px_query_parse_assignment(const char *text, uint64_t *out)
{
    uint64_t v = 0;
    size_t n = 0;
    for (; text && text[n]; n++) {
        char ch = text[n];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (d < 0 || n >= 16)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return n == 16;
}

void px_query_parts_free(px_query_parts *p)
{
    if (!p)
        return;
    free(p->state);
    *p = (px_query_parts){0};
}

bool px_query_parts_is(const px_query_parts *p, int32_t partition, uint8_t flag)
{
    return partition >= 0 && partition < p->partitions && (p->state[partition] & flag) == flag;
}

size_t px_query_parts_owned(const px_query_parts *p)
{
    size_t n = 0;
    for (int32_t i = 0; i < p->partitions; i++)
        n += px_query_parts_is(p, i, PX_QUERY_PART_OWNED);
    return n;
}

/* The partitions with flag as a JSON array; NULL: no memory. */
static json_t *px_query_parts_list(const px_query_parts *p, uint8_t flag)
{
    json_t *a = json_array();
    for (int32_t i = 0; a && i < p->partitions; i++) {
        if (px_query_parts_is(p, i, flag) && json_array_append_new(a, json_integer(i)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

uint64_t px_query_parts_assignment(const px_query_parts *p)
{
    uint64_t h = px_hash64(&p->partitions, sizeof(p->partitions), 0x61737367ull);
    return p->partitions > 0 ? px_hash64(p->state, (size_t)p->partitions, h) : h;
}

/* o (taken) as one compact line with its '\n'; NULL: no memory. */
static char *px_query_json_line(json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    char *line = NULL;
    if (text && asprintf(&line, "%s\n", text) < 0)
        line = NULL;
    free(text);
    return line;
}

char *px_query_parts_json(const px_query_parts *p)
{
    char fp[24];
    snprintf(fp, sizeof(fp), "%016" PRIx64, px_query_parts_assignment(p));
    return px_query_json_line(json_pack(
        "{s:i, s:o, s:o, s:s}", "partitions", (json_int_t)p->partitions, "owned",
        px_query_parts_list(p, PX_QUERY_PART_OWNED), "restoring",
        px_query_parts_list(p, PX_QUERY_PART_RESTORING | PX_QUERY_PART_OWNED), "assignment", fp));
}

char *px_query_parts_refusal(const px_query_parts *p, const char *error, int32_t only,
                             const char *msg)
{
    json_t *list = json_array();
    for (int32_t i = 0; list && i < p->partitions; i++)
        if ((only < 0 || only == i) && px_query_parts_is(p, i, PX_QUERY_PART_RESTORING) &&
            json_array_append_new(list, json_integer(i)) != 0) {
            json_decref(list);
            return NULL;
        }
    return px_query_json_line(
        list ? json_pack("{s:s, s:o, s:s}", "error", error, "partitions", list, "msg", msg) : NULL);
}

/* Sets flag on each partition of the array a (numbers below N). */
static px_err px_query_parts_mark(px_query_parts *p, const json_t *a, const char *what,
                                  uint8_t flag, char *why, size_t whylen)
{
    if (!json_is_array(a))
        return px_errf(why, whylen, PX_ERR_MALFORMED, "\"%s\" is not a list", what);
    size_t i;
    const json_t *v;
    json_array_foreach(a, i, v)
    {
        json_int_t n = json_is_integer(v) ? json_integer_value(v) : -1;
        if (n < 0 || n >= p->partitions)
            return px_errf(why, whylen, PX_ERR_MALFORMED, "\"%s\" names no partition of %d", what,
                           (int)p->partitions);
        p->state[n] |= flag;
    }
    return PX_OK;
}

static px_err px_query_parts_fill(const json_t *o, px_query_parts *out, char *why, size_t whylen)
{
    const json_t *n = json_object_get(o, "partitions");
    json_int_t v = json_is_integer(n) ? json_integer_value(n) : 0;
    if (v < 1 || v > PX_QUERY_PARTITIONS_MAX)
        return px_errf(why, whylen, PX_ERR_MALFORMED, "\"partitions\" is not a count from 1 to %d",
                       PX_QUERY_PARTITIONS_MAX);
    out->partitions = (int32_t)v;
    out->state = calloc((size_t)v, 1);
    if (!out->state)
        return PX_ERR_NOMEM;
    px_err err = px_query_parts_mark(out, json_object_get(o, "owned"), "owned", PX_QUERY_PART_OWNED,
                                     why, whylen);
    if (err == PX_OK)
        err = px_query_parts_mark(out, json_object_get(o, "restoring"), "restoring",
                                  PX_QUERY_PART_RESTORING, why, whylen);
    for (int32_t i = 0; err == PX_OK && i < out->partitions; i++)
        if (out->state[i] == PX_QUERY_PART_RESTORING)
            err = px_errf(why, whylen, PX_ERR_MALFORMED, "partition %d restoring but not owned",
                          (int)i);
    return err;
}

/* "assignment": 16 hex digits. */
static px_err px_query_parts_fp(const json_t *o, uint64_t *out, char *why, size_t whylen)
{
    const char *t = json_string_value(json_object_get(o, "assignment"));
    if (!px_query_parse_assignment(t, out))
        return px_errf(why, whylen, PX_ERR_MALFORMED, "\"assignment\" is not 16 hex digits");
    return PX_OK;
}

px_err px_query_parts_parse(const char *text, size_t len, px_query_parts *out, uint64_t *assignment,
                            char *why, size_t whylen)
{
    *out = (px_query_parts){0};
    json_error_t jerr;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    px_err err = json_is_object(o)
                     ? px_query_parts_fill(o, out, why, whylen)
                     : px_errf(why, whylen, PX_ERR_MALFORMED, "not a JSON object: %s", jerr.text);
    if (err == PX_OK)
        err = px_query_parts_fp(o, assignment, why, whylen);
    json_decref(o);
    if (err != PX_OK)
        px_query_parts_free(out);
    return err;
}

struct px_query_owner {
    pthread_mutex_t lock;
    px_query_parts parts;
};

px_query_owner *px_query_owner_create(void)
{
    px_query_owner *o = calloc(1, sizeof(*o));
    if (o)
        pthread_mutex_init(&o->lock, NULL);
    return o;
}

void px_query_owner_destroy(px_query_owner *o)
{
    if (!o)
        return;
    px_query_parts_free(&o->parts);
    pthread_mutex_destroy(&o->lock);
    free(o);
}

px_err px_query_owner_assign(px_query_owner *o, int32_t partitions, const int32_t *owned, size_t n)
{
    if (partitions < 0 || partitions > PX_QUERY_PARTITIONS_MAX)
        return PX_ERR_INVAL;
    uint8_t *state = calloc(partitions ? (size_t)partitions : 1, 1);
    if (!state)
        return PX_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if (owned[i] < 0 || owned[i] >= partitions) {
            free(state);
            return PX_ERR_INVAL;
        }
        state[owned[i]] = PX_QUERY_PART_OWNED;
    }
    pthread_mutex_lock(&o->lock);
    for (int32_t i = 0; i < partitions && i < o->parts.partitions; i++)
        if (state[i] && (o->parts.state[i] & PX_QUERY_PART_RESTORING))
            state[i] |= PX_QUERY_PART_RESTORING;
    free(o->parts.state);
    o->parts = (px_query_parts){.partitions = partitions, .state = state};
    pthread_mutex_unlock(&o->lock);
    return PX_OK;
}

px_err px_query_owner_restoring(px_query_owner *o, int32_t partition, bool restoring)
{
    px_err err = PX_ERR_NOTFOUND;
    pthread_mutex_lock(&o->lock);
    if (px_query_parts_is(&o->parts, partition, PX_QUERY_PART_OWNED)) {
        o->parts.state[partition] =
            (uint8_t)(PX_QUERY_PART_OWNED | (restoring ? PX_QUERY_PART_RESTORING : 0));
        err = PX_OK;
    }
    pthread_mutex_unlock(&o->lock);
    return err;
}

px_err px_query_owner_get(px_query_owner *o, px_query_parts *out)
{
    *out = (px_query_parts){0};
    pthread_mutex_lock(&o->lock);
    px_err err = PX_OK;
    if (o->parts.partitions > 0) {
        out->state = malloc((size_t)o->parts.partitions);
        if (out->state) {
            memcpy(out->state, o->parts.state, (size_t)o->parts.partitions);
            out->partitions = o->parts.partitions;
        } else {
            err = PX_ERR_NOMEM;
        }
    }
    pthread_mutex_unlock(&o->lock);
    return err;
}
