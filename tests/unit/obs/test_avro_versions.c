/* test_avro_versions.c: decoding observations written with other writer
 * schemas (earlier versions, extra fields, other field order) through the
 * codec's writer registry and avro-c's schema resolution.
 *
 * The writer schemas are variants of the embedded schema made here with
 * jansson, and the messages are written by avro-c's generic writer (not by
 * pxt_avro_encode, which only knows the current schema), with the header
 * built from px_avro_canonical_form + px_avro_crc64 as the spec says. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <avro.h>
#include <jansson.h>

#include "avro_encode.h"
#include "obs/px_avro.h"

/* ---- writer schema variants ----------------------------------------- */

/* The embedded schema as a jansson document to edit. */
static json_t *current_doc(void)
{
    json_t *doc = json_loads(px_schema_observation, 0, NULL);
    assert_non_null(doc);
    return doc;
}

static json_t *fields_of(json_t *doc)
{
    json_t *f = json_object_get(doc, "fields");
    assert_true(json_is_array(f));
    return f;
}

static size_t field_pos(json_t *doc, const char *name)
{
    json_t *fields = fields_of(doc);
    for (size_t i = 0; i < json_array_size(fields); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(fields, i), "name")), name) ==
            0)
            return i;
    fail_msg("no field %s", name);
    return 0;
}

static void drop_field(json_t *doc, const char *name)
{
    assert_int_equal(json_array_remove(fields_of(doc), field_pos(doc, name)), 0);
}

static void set_type(json_t *doc, const char *name, const char *type_json)
{
    json_t *f = json_array_get(fields_of(doc), field_pos(doc, name));
    assert_int_equal(json_object_set_new(f, "type", json_loads(type_json, JSON_DECODE_ANY, NULL)),
                     0);
}

static void insert_field(json_t *doc, size_t pos, const char *field_json)
{
    assert_int_equal(json_array_insert_new(fields_of(doc), pos, json_loads(field_json, 0, NULL)),
                     0);
}

/* Serialises and frees doc; the caller frees the text. */
static char *text_of(json_t *doc)
{
    char *s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_non_null(s);
    json_decref(doc);
    return s;
}

/* ---- writing with avro-c -------------------------------------------- */

static const px_avro_obs sample = {
    .rrname = "www.example.com",
    .rrtype = "A",
    .rdata = "192.0.2.7",
    .bailiwick = "example.com",
    .count = 12,
    .time_first = 1764180000,
    .time_last = 1764180059,
    .ttl_min = 30,
    .ttl_max = 300,
    .clients = 4,
    .org = "org-a",
    .sensor = "s1",
};

static const char *str_field(const px_avro_obs *o, const char *name)
{
    if (strcmp(name, "rrname") == 0)
        return o->rrname;
    if (strcmp(name, "rrtype") == 0)
        return o->rrtype;
    if (strcmp(name, "rdata") == 0)
        return o->rdata;
    if (strcmp(name, "bailiwick") == 0)
        return o->bailiwick;
    if (strcmp(name, "org") == 0)
        return o->org;
    if (strcmp(name, "sensor") == 0)
        return o->sensor;
    return "extra";
}

static int64_t num_field(const px_avro_obs *o, const char *name)
{
    if (strcmp(name, "count") == 0)
        return o->count;
    if (strcmp(name, "time_first") == 0)
        return o->time_first;
    if (strcmp(name, "time_last") == 0)
        return o->time_last;
    if (strcmp(name, "ttl_min") == 0)
        return o->ttl_min;
    if (strcmp(name, "ttl_max") == 0)
        return o->ttl_max;
    if (strcmp(name, "clients") == 0)
        return o->clients;
    return 64500; /* an extra field */
}

/* Sets v (of schema s) from the observation's field `name`; a union takes
 * its null branch when the field is null. */
static void fill(avro_value_t *v, avro_schema_t s, const char *name, const px_avro_obs *o)
{
    avro_value_t branch, item;
    switch (avro_typeof(s)) {
    case AVRO_STRING:
        assert_int_equal(avro_value_set_string(v, str_field(o, name)), 0);
        return;
    case AVRO_BYTES: {
        const char *t = str_field(o, name);
        assert_int_equal(avro_value_set_bytes(v, (void *)t, strlen(t)), 0);
        return;
    }
    case AVRO_INT64:
        assert_int_equal(avro_value_set_long(v, num_field(o, name)), 0);
        return;
    case AVRO_INT32:
        assert_int_equal(avro_value_set_int(v, (int32_t)num_field(o, name)), 0);
        return;
    case AVRO_ARRAY:
        assert_int_equal(avro_value_append(v, &item, NULL), 0);
        fill(&item, avro_schema_array_items(s), name, o);
        return;
    case AVRO_UNION: {
        int is_null = strcmp(name, "bailiwick") == 0 ? o->bailiwick == NULL
                      : strcmp(name, "clients") == 0 ? o->clients < 0
                                                     : 0;
        int nb = avro_typeof(avro_schema_union_branch(s, 0)) == AVRO_NULL ? 0 : 1;
        assert_int_equal(avro_value_set_branch(v, is_null ? nb : 1 - nb, &branch), 0);
        if (is_null)
            assert_int_equal(avro_value_set_null(&branch), 0);
        else
            fill(&branch, avro_schema_union_branch(s, 1 - nb), name, o);
        return;
    }
    default:
        fail_msg("type %d not handled by the test writer", avro_typeof(s));
    }
}

/* A single-object message of o under the writer schema `json`, written
 * by avro-c. Returns the length; buf must hold 1024 bytes. */
static size_t write_with(const char *json, const px_avro_obs *o, uint8_t *buf)
{
    avro_schema_t s;
    assert_int_equal(avro_schema_from_json_length(json, strlen(json), &s), 0);
    avro_value_iface_t *iface = avro_generic_class_from_schema(s);
    avro_value_t rec, field;
    assert_int_equal(avro_generic_value_new(iface, &rec), 0);
    for (size_t i = 0; i < avro_schema_record_size(s); i++) {
        const char *name = avro_schema_record_field_name(s, (int)i);
        assert_int_equal(avro_value_get_by_index(&rec, i, &field, NULL), 0);
        fill(&field, avro_schema_record_field_get_by_index(s, (int)i), name, o);
    }

    char *canon = NULL;
    assert_int_equal(px_avro_canonical_form(json, &canon), PX_OK);
    uint64_t fp = px_avro_crc64(canon, strlen(canon));
    free(canon);
    buf[0] = 0xc3;
    buf[1] = 0x01;
    for (int i = 0; i < 8; i++)
        buf[2 + i] = (uint8_t)(fp >> (8 * i));
    avro_writer_t w = avro_writer_memory((char *)buf + 10, 1024 - 10);
    assert_int_equal(avro_value_write(w, &rec), 0);
    size_t len = 10 + (size_t)avro_writer_tell(w);
    avro_writer_free(w);
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    avro_schema_decref(s);
    return len;
}

static void assert_obs_equal(const px_avro_obs *a, const px_avro_obs *b)
{
    assert_string_equal(a->rrname, b->rrname);
    assert_string_equal(a->rrtype, b->rrtype);
    assert_string_equal(a->rdata, b->rdata);
    if (a->bailiwick && b->bailiwick)
        assert_string_equal(a->bailiwick, b->bailiwick);
    else
        assert_true(a->bailiwick == NULL && b->bailiwick == NULL);
    assert_true(a->count == b->count);
    assert_true(a->time_first == b->time_first);
    assert_true(a->time_last == b->time_last);
    assert_true(a->ttl_min == b->ttl_min);
    assert_true(a->ttl_max == b->ttl_max);
    assert_true(a->clients == b->clients);
    assert_string_equal(a->org, b->org);
    assert_string_equal(a->sensor, b->sensor);
}

static int setup_codec(void **state)
{
    px_avro_codec *c = NULL;
    char why[256] = "";
    assert_int_equal(px_avro_codec_create(&c, why, sizeof(why)), PX_OK);
    assert_non_null(c);
    assert_string_equal(why, ""); /* untouched on success */
    *state = c;
    return 0;
}

static int teardown_codec(void **state)
{
    px_avro_codec_destroy(*state);
    return 0;
}

/* Registers `json`, writes the sample with it, decodes, compares with
 * `want`. Frees json. */
static void round_trip(px_avro_codec *c, char *json, const px_avro_obs *want)
{
    uint8_t buf[1024];
    px_avro_obs got;
    size_t len = write_with(json, &sample, buf);
    /* not known before registration */
    assert_int_equal(px_avro_decode(c, buf, len, &got), PX_ERR_NOTFOUND);
    assert_int_equal(px_avro_codec_add_writer(c, json, NULL, 0), PX_OK);
    assert_int_equal(px_avro_decode(c, buf, len, &got), PX_OK);
    assert_obs_equal(&got, want);
    free(json);
}

/* ---- tests ---------------------------------------------------------- */

static void test_embedded_versions(void **state)
{
    px_avro_codec *c = *state;
    const char *const *v = px_schema_observation_versions;
    assert_non_null(v[0]);
    assert_ptr_equal(v[0], px_schema_observation);
    /* the codec knows every released version from create on, without
     * add_writer: a message written with any of them decodes */
    for (; *v; v++) {
        uint8_t buf[1024];
        px_avro_obs got;
        px_avro_obs want = sample;
        json_t *doc = json_loads(*v, 0, NULL);
        assert_non_null(doc);
        json_t *fields = json_object_get(doc, "fields");
        int has_bailiwick = 0, has_clients = 0;
        for (size_t i = 0; i < json_array_size(fields); i++) {
            const char *n = json_string_value(json_object_get(json_array_get(fields, i), "name"));
            has_bailiwick |= strcmp(n, "bailiwick") == 0;
            has_clients |= strcmp(n, "clients") == 0;
        }
        json_decref(doc);
        if (!has_bailiwick)
            want.bailiwick = NULL;
        if (!has_clients)
            want.clients = -1;
        size_t len = write_with(*v, &sample, buf);
        assert_int_equal(px_avro_decode(c, buf, len, &got), PX_OK);
        assert_obs_equal(&got, &want);
    }
}

static void test_older_without_optional_fields(void **state)
{
    json_t *doc = current_doc();
    drop_field(doc, "clients");
    drop_field(doc, "bailiwick");
    px_avro_obs want = sample;
    want.clients = -1;     /* default null */
    want.bailiwick = NULL; /* default null */
    round_trip(*state, text_of(doc), &want);
}

static void test_extra_fields_skipped(void **state)
{
    json_t *doc = current_doc();
    insert_field(doc, 0, "{\"name\":\"asn\",\"type\":\"long\"}");
    insert_field(doc, 5, "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"}}");
    insert_field(doc, 9, "{\"name\":\"note\",\"type\":[\"null\",\"string\"]}");
    round_trip(*state, text_of(doc), &sample);
}

static void test_other_field_order(void **state)
{
    json_t *doc = current_doc();
    json_t *fields = fields_of(doc);
    json_t *rev = json_array();
    for (size_t i = json_array_size(fields); i-- > 0;)
        json_array_append(rev, json_array_get(fields, i));
    json_object_set_new(doc, "fields", rev);
    round_trip(*state, text_of(doc), &sample);
}

static void test_promotions(void **state)
{
    json_t *doc = current_doc();
    set_type(doc, "count", "\"int\"");               /* int -> long */
    set_type(doc, "bailiwick", "\"string\"");        /* string -> [null, string] */
    set_type(doc, "clients", "[\"long\",\"null\"]"); /* other branch order */
    round_trip(*state, text_of(doc), &sample);

    /* the branch order of the writer's union does not leak into null */
    doc = current_doc();
    set_type(doc, "clients", "[\"long\",\"null\"]");
    set_type(doc, "ttl_min", "\"int\"");
    char *json = text_of(doc);
    px_avro_obs o = sample;
    o.clients = -1;
    uint8_t buf[1024];
    px_avro_obs got;
    size_t len = write_with(json, &o, buf);
    assert_int_equal(px_avro_codec_add_writer(*state, json, NULL, 0), PX_OK);
    assert_int_equal(px_avro_decode(*state, buf, len, &got), PX_OK);
    assert_obs_equal(&got, &o);
    free(json);
}

static void assert_refused(px_avro_codec *c, char *json)
{
    assert_int_equal(px_avro_codec_add_writer(c, json, NULL, 0), PX_ERR_UNSUPPORTED);
    /* and nothing half-registered: its messages stay unknown */
    uint8_t buf[1024];
    px_avro_obs got;
    char *canon = NULL;
    assert_int_equal(px_avro_canonical_form(json, &canon), PX_OK);
    uint64_t fp = px_avro_crc64(canon, strlen(canon));
    free(canon);
    buf[0] = 0xc3;
    buf[1] = 0x01;
    for (int i = 0; i < 8; i++)
        buf[2 + i] = (uint8_t)(fp >> (8 * i));
    buf[10] = 0;
    assert_int_equal(px_avro_decode(c, buf, 11, &got), PX_ERR_NOTFOUND);
    free(json);
}

static void test_unresolvable(void **state)
{
    px_avro_codec *c = *state;
    json_t *doc = current_doc();
    set_type(doc, "rrname", "\"int\""); /* int is no string */
    assert_refused(c, text_of(doc));

    doc = current_doc();
    set_type(doc, "count", "\"double\""); /* no demotion to long */
    assert_refused(c, text_of(doc));

    /* the spec allows bytes -> string, avro-c 1.11's resolver does not */
    doc = current_doc();
    set_type(doc, "sensor", "\"bytes\"");
    assert_refused(c, text_of(doc));

    /* a reader field without a default that the writer lacks */
    doc = current_doc();
    drop_field(doc, "ttl_min");
    drop_field(doc, "ttl_max");
    drop_field(doc, "clients");
    char *json = text_of(doc);
    char why[256] = "";
    assert_int_equal(px_avro_codec_add_writer(c, json, why, sizeof(why)), PX_ERR_UNSUPPORTED);
    assert_true(strstr(why, "ttl_min") != NULL);
    assert_refused(c, json);

    /* another record name: Avro resolves records by name */
    doc = current_doc();
    json_object_set_new(doc, "name", json_string("Sighting"));
    assert_refused(c, text_of(doc));

    /* not a record at all */
    assert_refused(c, strdup("{\"type\":\"array\",\"items\":\"string\"}"));

    /* not a schema: the canonical form's errors */
    assert_int_equal(px_avro_codec_add_writer(c, "{", why, sizeof(why)), PX_ERR_MALFORMED);
    assert_non_null(strstr(why, "writer schema: "));
    assert_int_equal(px_avro_codec_add_writer(c, "{\"type\":\"nope\"}", NULL, 0), PX_ERR_INVAL);
    assert_int_equal(px_avro_codec_add_writer(c, NULL, NULL, 0), PX_ERR_INVAL);
}

static void test_registry(void **state)
{
    px_avro_codec *c = *state;
    uint8_t cur[1024], old[1024];
    px_avro_obs got;
    const uint8_t *msg;
    size_t len;

    /* the current schema and a repeat registration change nothing */
    assert_int_equal(px_avro_codec_add_writer(c, px_schema_observation, NULL, 0), PX_OK);
    json_t *doc = current_doc();
    drop_field(doc, "clients");
    char *json = text_of(doc);
    assert_int_equal(px_avro_codec_add_writer(c, json, NULL, 0), PX_OK);
    assert_int_equal(px_avro_codec_add_writer(c, json, NULL, 0), PX_OK);

    /* alternate between the fast path and the resolved writer */
    size_t old_len = write_with(json, &sample, old);
    assert_int_equal(pxt_avro_encode(c, &sample, &msg, &len), PX_OK);
    memcpy(cur, msg, len);
    px_avro_obs want_old = sample;
    want_old.clients = -1;
    for (int round = 0; round < 3; round++) {
        assert_int_equal(px_avro_decode(c, cur, len, &got), PX_OK);
        assert_obs_equal(&got, &sample);
        assert_int_equal(px_avro_decode(c, old, old_len, &got), PX_OK);
        assert_obs_equal(&got, &want_old);
    }
    /* a decoded old record re-encodes under the current schema */
    assert_int_equal(pxt_avro_encode(c, &got, &msg, &len), PX_OK);
    assert_true(msg[2] != old[2] || memcmp(msg + 2, old + 2, 8) != 0);
    memcpy(cur, msg, len);
    assert_int_equal(px_avro_decode(c, cur, len, &got), PX_OK);
    assert_obs_equal(&got, &want_old);

    /* unknown fingerprint */
    old[5] ^= 0x40;
    assert_int_equal(px_avro_decode(c, old, old_len, &got), PX_ERR_NOTFOUND);
    free(json);
}

/* Hostile bytes under a resolved writer: checked against the writer
 * schema before avro-c sees them. */
static void test_hostile_resolved(void **state)
{
    px_avro_codec *c = *state;
    json_t *doc = current_doc();
    insert_field(doc, 0, "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"}}");
    char *json = text_of(doc);
    assert_int_equal(px_avro_codec_add_writer(c, json, NULL, 0), PX_OK);
    uint8_t buf[1100];
    px_avro_obs got;
    size_t len = write_with(json, &sample, buf);
    assert_int_equal(px_avro_decode(c, buf, len, &got), PX_OK);

    /* every strict prefix is truncated */
    for (size_t n = 0; n < len; n++)
        assert_int_equal(px_avro_decode(c, buf, n, &got), PX_ERR_TRUNC);
    buf[len] = 0;
    assert_int_equal(px_avro_decode(c, buf, len + 1, &got), PX_ERR_MALFORMED);

    /* the extra array claims 2^40 items (datum starts at 10) */
    uint8_t bad[1100];
    memcpy(bad, buf, len);
    static const uint8_t huge[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x40};
    memcpy(bad + 10, huge, sizeof(huge));
    assert_int_equal(px_avro_decode(c, bad, len, &got), PX_ERR_TRUNC);
    /* a negative block count whose byte size is negative */
    static const uint8_t neg[] = {0x01, 0x01};
    memcpy(bad + 10, neg, sizeof(neg));
    assert_int_equal(px_avro_decode(c, bad, len, &got), PX_ERR_MALFORMED);
    /* one item whose string length is 2^40 */
    static const uint8_t huge_str[] = {0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40};
    memcpy(bad + 10, huge_str, sizeof(huge_str));
    assert_int_equal(px_avro_decode(c, bad, len, &got), PX_ERR_TRUNC);

    /* sensor, the last field ("s1": length 0x04 and 2 bytes), must be
     * UTF-8 and hold no NUL under a resolved writer too */
    memcpy(bad, buf, len);
    assert_int_equal(bad[len - 3], 0x04);
    bad[len - 2] = 0xff;
    assert_int_equal(px_avro_decode(c, bad, len, &got), PX_ERR_MALFORMED);
    bad[len - 2] = 0x00; /* a NUL would cut the C string */
    assert_int_equal(px_avro_decode(c, bad, len, &got), PX_ERR_MALFORMED);

    /* flipping every byte one at a time never crashes, and the codec
     * still decodes the good message afterwards */
    for (size_t i = 10; i < len; i++) {
        memcpy(bad, buf, len);
        bad[i] ^= 0xff;
        (void)px_avro_decode(c, bad, len, &got);
    }
    assert_int_equal(px_avro_decode(c, buf, len, &got), PX_OK);
    assert_obs_equal(&got, &sample);
    free(json);
}

/* A writer union whose null branch the reader's plain string cannot take:
 * avro-c resolves the union per branch, so the string branch decodes and
 * the null branch is a decoding error, not a crash or a NULL rrname. */
static void test_union_to_plain(void **state)
{
    px_avro_codec *c = *state;
    json_t *doc = current_doc();
    set_type(doc, "rdata", "[\"null\",\"string\"]");
    char *json = text_of(doc);
    assert_int_equal(px_avro_codec_add_writer(c, json, NULL, 0), PX_OK);
    uint8_t buf[1024];
    px_avro_obs got;
    size_t len = write_with(json, &sample, buf);
    assert_int_equal(px_avro_decode(c, buf, len, &got), PX_OK);
    assert_obs_equal(&got, &sample);
    /* rdata sits after rrname ("www.example.com") and rrtype ("A"):
     * branch 1 (0x02) then the string; switch to branch 0 (null) and
     * drop the string */
    size_t at = 10 + 1 + 15 + 1 + 1;
    assert_int_equal(buf[at], 0x02);
    size_t slen = 1 + strlen(sample.rdata);
    buf[at] = 0x00;
    memmove(buf + at + 1, buf + at + 1 + slen, len - at - 1 - slen);
    assert_int_not_equal(px_avro_decode(c, buf, len - slen, &got), PX_OK);
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_embedded_versions, setup_codec, teardown_codec),
        cmocka_unit_test_setup_teardown(test_older_without_optional_fields, setup_codec,
                                        teardown_codec),
        cmocka_unit_test_setup_teardown(test_extra_fields_skipped, setup_codec, teardown_codec),
        cmocka_unit_test_setup_teardown(test_other_field_order, setup_codec, teardown_codec),
        cmocka_unit_test_setup_teardown(test_promotions, setup_codec, teardown_codec),
        cmocka_unit_test_setup_teardown(test_unresolvable, setup_codec, teardown_codec),
        cmocka_unit_test_setup_teardown(test_registry, setup_codec, teardown_codec),
        cmocka_unit_test_setup_teardown(test_hostile_resolved, setup_codec, teardown_codec),
        cmocka_unit_test_setup_teardown(test_union_to_plain, setup_codec, teardown_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
