/* px_cof.c: store records to and from COF JSON objects. */
#include "query/px_cof.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* json_object_set_new() takes the value even on failure, so a chain of
 * them only needs one check at the end; a NULL value fails the set. */
static int px_cof_set(json_t *obj, const char *key, json_t *value)
{
    return json_object_set_new(obj, key, value);
}

/* A JSON string. Text that is not valid UTF-8 (a store should never
 * hold it, but a query must not fail on it) has every non-ASCII byte
 * written as a DNS presentation escape \DDD, so the output stays JSON. */
static json_t *px_cof_string(const char *s)
{
    json_t *v = json_string(s);
    if (v || !s)
        return v;
    size_t n = strlen(s);
    char *esc = malloc(4 * n + 1);
    if (!esc)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x80)
            esc[o++] = (char)ch;
        else
            o += (size_t)sprintf(esc + o, "\\%03u", ch);
    }
    esc[o] = '\0';
    v = json_string(esc);
    free(esc);
    return v;
}

static json_t *px_cof_orgs(const char *const *list, size_t n)
{
    json_t *orgs = json_array();
    if (!orgs)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (json_array_append_new(orgs, px_cof_string(list[i])) != 0) {
            json_decref(orgs);
            return NULL;
        }
    }
    return orgs;
}

/* The GeoIP fields, each only when the database knew it. */
static int px_cof_geo(json_t *obj, const px_geo *geo)
{
    int rc = 0;
    if (geo->country[0])
        rc |= px_cof_set(obj, "country", px_cof_string(geo->country));
    if (geo->asn >= 0)
        rc |= px_cof_set(obj, "asn", json_integer(geo->asn));
    if (geo->as_org[0])
        rc |= px_cof_set(obj, "as_org", px_cof_string(geo->as_org));
    return rc;
}

json_t *px_cof_from_rec(const px_store_rec *rec)
{
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    json_int_t count = rec->count > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)rec->count;
    /* jansson keeps insertion order: this sequence is the key order. */
    int rc = px_cof_set(obj, "rrname", px_cof_string(rec->rrname));
    rc |= px_cof_set(obj, "rrtype", px_cof_string(rec->rrtype));
    rc |= px_cof_set(obj, "rdata", px_cof_string(rec->rdata));
    rc |= px_cof_set(obj, "time_first", json_integer(rec->time_first));
    rc |= px_cof_set(obj, "time_last", json_integer(rec->time_last));
    rc |= px_cof_set(obj, "count", json_integer(count));
    if (rec->bailiwick)
        rc |= px_cof_set(obj, "bailiwick", px_cof_string(rec->bailiwick));
    rc |= px_cof_set(obj, "orgs", px_cof_orgs(rec->orgs, rec->n_orgs));
    if (rec->has_geo)
        rc |= px_cof_geo(obj, &rec->geo);
    if (rc != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

/* The compact line of obj (taken), or NULL when out of memory. */
static char *px_cof_dumps_obj(json_t *obj)
{
    char *text =
        obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII) : NULL;
    json_decref(obj);
    return text;
}

char *px_cof_dumps(const px_store_rec *rec)
{
    return px_cof_dumps_obj(px_cof_from_rec(rec));
}

char *px_cof_domain_dumps(const px_store_domain *d)
{
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    int rc = px_cof_set(obj, "domain", px_cof_string(d->domain));
    rc |= px_cof_set(obj, "time_first", json_integer(d->first_seen));
    rc |= px_cof_set(obj, "time_last", json_integer(d->last_seen));
    rc |= px_cof_set(obj, "orgs", px_cof_orgs(d->orgs, d->n_orgs));
    if (rc != 0) {
        json_decref(obj);
        return NULL;
    }
    return px_cof_dumps_obj(obj);
}

/* text (taken) and '\n' to out. */
static px_err px_cof_put(FILE *out, char *text)
{
    if (!text)
        return PX_ERR_NOMEM;
    int rc = fputs(text, out);
    free(text);
    if (rc == EOF || fputc('\n', out) == EOF)
        return PX_ERR_IO;
    return PX_OK;
}

px_err px_cof_write(FILE *out, const px_store_rec *rec)
{
    return px_cof_put(out, px_cof_dumps(rec));
}

px_err px_cof_domain_write(FILE *out, const px_store_domain *d)
{
    return px_cof_put(out, px_cof_domain_dumps(d));
}

size_t px_cof_orgs_len(const json_t *obj)
{
    return json_array_size(json_object_get(obj, "orgs"));
}

static const char *px_cof_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static bool px_cof_int(const json_t *obj, const char *key, int64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        return false;
    *out = json_integer_value(v);
    return true;
}

/* Copies an optional string member into a fixed buffer: absent is fine
 * (*present untouched), too long or not a string returns false. */
static bool px_cof_copy(const json_t *obj, const char *key, char *buf, size_t len, bool *present)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return true;
    const char *s = json_string_value(v);
    if (!s || strlen(s) >= len)
        return false;
    memcpy(buf, s, strlen(s) + 1);
    *present = true;
    return true;
}

static px_err px_cof_read_geo(const json_t *obj, px_store_rec *out)
{
    out->geo.country[0] = '\0';
    out->geo.as_org[0] = '\0';
    out->geo.asn = -1;
    bool present = false;
    if (!px_cof_copy(obj, "country", out->geo.country, sizeof(out->geo.country), &present) ||
        !px_cof_copy(obj, "as_org", out->geo.as_org, sizeof(out->geo.as_org), &present))
        return PX_ERR_MALFORMED;
    if (json_object_get(obj, "asn")) {
        if (!px_cof_int(obj, "asn", &out->geo.asn) || out->geo.asn < 0)
            return PX_ERR_MALFORMED;
        present = true;
    }
    out->has_geo = present;
    return PX_OK;
}

px_err px_cof_to_rec(const json_t *obj, px_store_rec *out, const char **orgs_buf)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(obj))
        return PX_ERR_MALFORMED;
    out->rrname = px_cof_str(obj, "rrname");
    out->rrtype = px_cof_str(obj, "rrtype");
    out->rdata = px_cof_str(obj, "rdata");
    int64_t count = 0;
    if (!out->rrname || !out->rrtype || !out->rdata ||
        !px_cof_int(obj, "time_first", &out->time_first) ||
        !px_cof_int(obj, "time_last", &out->time_last) || !px_cof_int(obj, "count", &count) ||
        count < 0)
        return PX_ERR_MALFORMED;
    out->count = (uint64_t)count;
    const json_t *bw = json_object_get(obj, "bailiwick");
    if (bw && !json_is_null(bw) && !(out->bailiwick = json_string_value(bw)))
        return PX_ERR_MALFORMED;
    const json_t *orgs = json_object_get(obj, "orgs");
    if (orgs && !json_is_array(orgs))
        return PX_ERR_MALFORMED;
    for (size_t i = 0; i < json_array_size(orgs); i++) {
        if (!(orgs_buf[i] = json_string_value(json_array_get(orgs, i))))
            return PX_ERR_MALFORMED;
    }
    out->n_orgs = json_array_size(orgs);
    out->orgs = orgs_buf;
    return px_cof_read_geo(obj, out);
}
