/* px_avro.c: CRC-64-AVRO, Parsing Canonical Form and the observation
 * codec (Avro single-object encoding) on top of avro-c.
 *
 * A datum of the embedded schema is read directly with the px_wire cursor
 * (decode_direct); avro-c resolves those of older writer schemas. It never
 * gets untrusted bytes directly: avro-c allocates whatever a string length
 * says before checking it against the input, so a hostile length would make
 * it allocate gigabytes. Such a datum is first walked against the writer
 * schema with the bounds-checked px_wire cursor, which
 * also gives exact truncation and trailing-garbage detection (avro-c's
 * memory reader cannot tell where it stopped). */
#include "obs/px_avro.h"

#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>
#include <jansson.h>

#include "core/px_wire.h"

extern const char px_schema_observation[];
extern const char *const px_schema_observation_versions[];

/* ---- CRC-64-AVRO ---------------------------------------------------- */

#define PX_CRC64_EMPTY UINT64_C(0xc15d213aa4d7a795)

static uint64_t crc64_table[256];
static pthread_once_t crc64_once = PTHREAD_ONCE_INIT;

static void crc64_init(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint64_t fp = i;
        for (int j = 0; j < 8; j++)
            fp = (fp >> 1) ^ (PX_CRC64_EMPTY & (0 - (fp & 1)));
        crc64_table[i] = fp;
    }
}

uint64_t px_avro_crc64(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t fp = PX_CRC64_EMPTY;

    pthread_once(&crc64_once, crc64_init);
    for (size_t i = 0; i < len; i++)
        fp = (fp >> 8) ^ crc64_table[(fp ^ p[i]) & 0xff];
    return fp;
}

/* ---- Parsing Canonical Form --------------------------------------- */

#define CANON_MAX_DEPTH 64

typedef struct canon_ctx {
    json_t *defined; /* object used as a set of defined full names */
    px_err err;
} canon_ctx;

static const char *const primitives[] = {"null",  "boolean", "int",   "long",
                                         "float", "double",  "bytes", "string"};

static int is_primitive(const char *t)
{
    for (size_t i = 0; i < sizeof(primitives) / sizeof(primitives[0]); i++)
        if (strcmp(t, primitives[i]) == 0)
            return 1;
    return 0;
}

/* A name component: [A-Za-z_][A-Za-z0-9_]*. */
static int valid_fullname(const char *n)
{
    int start = 1;
    if (*n == '\0')
        return 0;
    for (; *n; n++) {
        char ch = *n;
        int alpha = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_';
        int digit = ch >= '0' && ch <= '9';
        if (ch == '.') {
            if (start)
                return 0;
            start = 1;
        } else if (alpha || (digit && !start)) {
            start = 0;
        } else {
            return 0;
        }
    }
    return !start;
}

static json_t *canon_fail(canon_ctx *x, px_err err)
{
    if (x->err == PX_OK)
        x->err = err;
    return NULL;
}

/* Full name of `name` in namespace `ns` (FULLNAMES): a dotted name is
 * already full. Returns a json string, or NULL. */
static json_t *full_name(const char *name, const char *ns)
{
    if (strchr(name, '.') || ns == NULL || *ns == '\0')
        return json_string(name);
    return json_sprintf("%s.%s", ns, name);
}

/* A reference to a named type. References must follow the definition
 * (Avro has no forward references). An unqualified name that is not
 * defined in the enclosing namespace but is in the null namespace refers to
 * that one, as the Java implementation resolves it. */
static json_t *canon_ref(canon_ctx *x, const char *name, const char *ns)
{
    if (is_primitive(name))
        return json_string(name);
    json_t *full = full_name(name, ns);
    if (!full)
        return canon_fail(x, PX_ERR_NOMEM);
    if (!json_object_get(x->defined, json_string_value(full))) {
        json_decref(full);
        if (strchr(name, '.') || !json_object_get(x->defined, name))
            return canon_fail(x, PX_ERR_INVAL);
        full = json_string(name);
    }
    return full ? full : canon_fail(x, PX_ERR_NOMEM);
}

static json_t *canon(canon_ctx *x, json_t *s, const char *ns, int depth);

/* Adds key -> val to obj, taking val; fails the context on NULL. */
static int put(canon_ctx *x, json_t *obj, const char *key, json_t *val)
{
    if (!val)
        return canon_fail(x, PX_ERR_NOMEM), -1;
    if (json_object_set_new(obj, key, val) != 0)
        return canon_fail(x, PX_ERR_NOMEM), -1;
    return 0;
}

static int canon_fields(canon_ctx *x, json_t *out, json_t *fields, const char *ns, int depth)
{
    if (!json_is_array(fields))
        return canon_fail(x, PX_ERR_INVAL), -1;
    json_t *arr = json_array();
    if (put(x, out, "fields", arr) < 0)
        return -1;
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f)
    {
        json_t *fname = json_object_get(f, "name");
        json_t *ftype = json_object_get(f, "type");
        if (!json_is_string(fname) || !ftype)
            return canon_fail(x, PX_ERR_INVAL), -1;
        json_t *cf = json_object();
        if (!cf || json_array_append_new(arr, cf) != 0)
            return canon_fail(x, PX_ERR_NOMEM), -1;
        if (put(x, cf, "name", json_copy(fname)) < 0)
            return -1;
        json_t *ct = canon(x, ftype, ns, depth + 1);
        if (!ct || put(x, cf, "type", ct) < 0)
            return -1;
    }
    return 0;
}

static int canon_symbols(canon_ctx *x, json_t *out, json_t *symbols)
{
    size_t i;
    json_t *sym;
    if (!json_is_array(symbols))
        return canon_fail(x, PX_ERR_INVAL), -1;
    json_array_foreach(symbols, i, sym)
    {
        if (!json_is_string(sym) || !valid_fullname(json_string_value(sym)) ||
            strchr(json_string_value(sym), '.'))
            return canon_fail(x, PX_ERR_INVAL), -1;
    }
    return put(x, out, "symbols", json_deep_copy(symbols));
}

/* record, error, enum, fixed: a definition. */
static json_t *canon_named(canon_ctx *x, json_t *s, const char *type, const char *ns, int depth)
{
    json_t *jname = json_object_get(s, "name");
    json_t *jns = json_object_get(s, "namespace");
    if (!json_is_string(jname) || (jns && !json_is_string(jns) && !json_is_null(jns)))
        return canon_fail(x, PX_ERR_INVAL);
    if (json_is_string(jns))
        ns = json_string_value(jns);

    json_t *out = json_object();
    json_t *full = full_name(json_string_value(jname), ns);
    if (!out || !full) {
        json_decref(out);
        json_decref(full);
        return canon_fail(x, PX_ERR_NOMEM);
    }
    const char *fn = json_string_value(full);
    if (!valid_fullname(fn) || is_primitive(fn) || json_object_get(x->defined, fn) ||
        json_object_set(x->defined, fn, json_true()) != 0) {
        json_decref(out);
        json_decref(full);
        return canon_fail(x, PX_ERR_INVAL);
    }
    /* Nested definitions inherit the namespace of this full name. */
    char *inner = strdup(fn);
    int rc = inner ? 0 : (canon_fail(x, PX_ERR_NOMEM), -1);
    if (rc == 0) {
        char *dot = strrchr(inner, '.');
        *(dot ? dot : inner) = '\0';
        rc = put(x, out, "name", full);
        full = NULL;
    }
    if (rc == 0)
        rc = put(x, out, "type", json_string(type));
    if (rc == 0 && (strcmp(type, "record") == 0 || strcmp(type, "error") == 0))
        rc = canon_fields(x, out, json_object_get(s, "fields"), inner, depth);
    else if (rc == 0 && strcmp(type, "enum") == 0)
        rc = canon_symbols(x, out, json_object_get(s, "symbols"));
    else if (rc == 0) {
        json_t *size = json_object_get(s, "size");
        if (!json_is_integer(size) || json_integer_value(size) < 0)
            rc = (canon_fail(x, PX_ERR_INVAL), -1);
        else
            rc = put(x, out, "size", json_integer(json_integer_value(size)));
    }
    free(inner);
    json_decref(full);
    if (rc < 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* array and map: {"type":T,"items"|"values":S}. */
static json_t *canon_container(canon_ctx *x, json_t *s, const char *type, const char *key,
                               const char *ns, int depth)
{
    json_t *sub = json_object_get(s, key);
    if (!sub)
        return canon_fail(x, PX_ERR_INVAL);
    json_t *out = json_object();
    if (!out)
        return canon_fail(x, PX_ERR_NOMEM);
    json_t *csub = NULL;
    if (put(x, out, "type", json_string(type)) < 0 || !(csub = canon(x, sub, ns, depth + 1)) ||
        put(x, out, key, csub) < 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

static json_t *canon_union(canon_ctx *x, json_t *s, const char *ns, int depth)
{
    json_t *out = json_array();
    size_t i;
    json_t *branch;
    if (!out)
        return canon_fail(x, PX_ERR_NOMEM);
    json_array_foreach(s, i, branch)
    {
        json_t *cb = canon(x, branch, ns, depth + 1);
        if (!cb || json_array_append_new(out, cb) != 0) {
            json_decref(out);
            return canon_fail(x, PX_ERR_NOMEM);
        }
    }
    return out;
}

static json_t *canon(canon_ctx *x, json_t *s, const char *ns, int depth)
{
    if (depth > CANON_MAX_DEPTH)
        return canon_fail(x, PX_ERR_TOOLONG);
    if (json_is_string(s))
        return canon_ref(x, json_string_value(s), ns);
    if (json_is_array(s))
        return canon_union(x, s, ns, depth);
    if (!json_is_object(s))
        return canon_fail(x, PX_ERR_INVAL);

    json_t *jt = json_object_get(s, "type");
    if (!json_is_string(jt))
        return canon_fail(x, PX_ERR_INVAL);
    const char *t = json_string_value(jt);
    if (is_primitive(t)) /* PRIMITIVES: {"type":"int",...} -> "int" */
        return json_string(t);
    if (strcmp(t, "record") == 0 || strcmp(t, "error") == 0 || strcmp(t, "enum") == 0 ||
        strcmp(t, "fixed") == 0)
        return canon_named(x, s, t, ns, depth);
    if (strcmp(t, "array") == 0)
        return canon_container(x, s, t, "items", ns, depth);
    if (strcmp(t, "map") == 0)
        return canon_container(x, s, t, "values", ns, depth);
    return canon_ref(x, t, ns); /* {"type":"Name"}: a reference */
}

px_err px_avro_canonical_form(const char *schema_json, char **out)
{
    if (!schema_json || !out)
        return PX_ERR_INVAL;
    *out = NULL;
    json_error_t jerr;
    json_t *doc = json_loads(schema_json, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return PX_ERR_MALFORMED;

    canon_ctx x = {.defined = json_object(), .err = PX_OK};
    json_t *c = x.defined ? canon(&x, doc, NULL, 0) : NULL;
    if (!x.defined)
        x.err = PX_ERR_NOMEM;
    if (c) {
        /* COMPACT is WHITESPACE; without ENSURE_ASCII strings stay UTF-8
         * (STRINGS); integers are printed bare (INTEGERS). */
        *out = json_dumps(c, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        if (!*out)
            x.err = PX_ERR_NOMEM;
    } else if (x.err == PX_OK) {
        x.err = PX_ERR_NOMEM;
    }
    json_decref(c);
    json_decref(x.defined);
    json_decref(doc);
    return x.err;
}

/* ---- Datum validation with px_wire ---------------------------------- */

#define DATUM_MAX_DEPTH 32

/* An Avro int (bits 32) or long (64): a zigzag varint of at most
 * ceil(bits / 7) bytes with nothing set past the type's bits. */
static inline int64_t wire_varint(px_wire *w, unsigned bits)
{
    return px_unzigzag(px_wire_varint_strict(w, bits));
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static int utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* ASCII fast path: names and addresses are nearly always ASCII */
        uint64_t word;
        if (n - i >= 8 && (memcpy(&word, s + i, 8), (word & UINT64_C(0x8080808080808080)) == 0)) {
            i += 8;
            continue;
        }
        uint8_t b = s[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if (b >= 0xc2 && b <= 0xdf)
            len = 2, cp = b & 0x1f, min = 0x80;
        else if (b >= 0xe0 && b <= 0xef)
            len = 3, cp = b & 0x0f, min = 0x800;
        else if (b >= 0xf0 && b <= 0xf4)
            len = 4, cp = b & 0x07, min = 0x10000;
        else
            return 0;
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

static void wire_bytes(px_wire *w, int is_string)
{
    int64_t n = wire_varint(w, 64);
    if (n < 0) {
        px_wire_fail(w, PX_ERR_MALFORMED);
        return;
    }
    const uint8_t *p = px_wire_bytes(w, (uint64_t)n > SIZE_MAX ? SIZE_MAX : (size_t)n);
    if (p && is_string && !utf8_valid(p, (size_t)n))
        px_wire_fail(w, PX_ERR_MALFORMED);
}

static void wire_datum(px_wire *w, avro_schema_t s, int depth);

/* Arrays and maps come in blocks; a negative count is followed by the
 * block's byte size. Counts above the bytes left are refused so that a
 * block of zero-sized items cannot spin for 2^63 rounds. */
static void wire_blocks(px_wire *w, avro_schema_t item, int is_map, int depth)
{
    for (;;) {
        int64_t count = wire_varint(w, 64);
        if (px_wire_err(w) || count == 0)
            return;
        if (count < 0) {
            count = count == INT64_MIN ? -1 : -count;
            if (wire_varint(w, 64) < 0)
                px_wire_fail(w, PX_ERR_MALFORMED);
        }
        if (count < 0) {
            px_wire_fail(w, PX_ERR_MALFORMED);
            return;
        }
        if ((uint64_t)count > px_wire_avail(w)) {
            /* items of a byte or more cannot fit: the input ends early */
            px_wire_fail(w, avro_typeof(item) == AVRO_NULL ? PX_ERR_MALFORMED : PX_ERR_TRUNC);
            return;
        }
        for (int64_t i = 0; i < count && !px_wire_err(w); i++) {
            if (is_map)
                wire_bytes(w, 1);
            wire_datum(w, item, depth + 1);
        }
    }
}

static void wire_datum(px_wire *w, avro_schema_t s, int depth)
{
    if (px_wire_err(w))
        return;
    if (depth > DATUM_MAX_DEPTH) {
        px_wire_fail(w, PX_ERR_TOOLONG);
        return;
    }
    switch (avro_typeof(s)) {
    case AVRO_NULL:
        return;
    case AVRO_BOOLEAN:
        if (px_wire_u8(w) > 1)
            px_wire_fail(w, PX_ERR_MALFORMED);
        return;
    case AVRO_INT32:
        (void)wire_varint(w, 32);
        return;
    case AVRO_INT64:
        (void)wire_varint(w, 64);
        return;
    case AVRO_FLOAT:
        px_wire_skip(w, 4);
        return;
    case AVRO_DOUBLE:
        px_wire_skip(w, 8);
        return;
    case AVRO_BYTES:
    case AVRO_STRING:
        wire_bytes(w, avro_typeof(s) == AVRO_STRING);
        return;
    case AVRO_FIXED:
        px_wire_skip(w, (size_t)avro_schema_fixed_size(s));
        return;
    case AVRO_ENUM: {
        int64_t v = wire_varint(w, 64);
        if (v < 0 || v >= avro_schema_enum_number_of_symbols(s))
            px_wire_fail(w, PX_ERR_MALFORMED);
        return;
    }
    case AVRO_ARRAY:
        wire_blocks(w, avro_schema_array_items(s), 0, depth);
        return;
    case AVRO_MAP:
        wire_blocks(w, avro_schema_map_values(s), 1, depth);
        return;
    case AVRO_UNION: {
        int64_t v = wire_varint(w, 64);
        if (v < 0 || (uint64_t)v >= avro_schema_union_size(s))
            px_wire_fail(w, PX_ERR_MALFORMED);
        else
            wire_datum(w, avro_schema_union_branch(s, (int)v), depth + 1);
        return;
    }
    case AVRO_RECORD:
        for (size_t i = 0; i < avro_schema_record_size(s); i++)
            wire_datum(w, avro_schema_record_field_get_by_index(s, (int)i), depth + 1);
        return;
    case AVRO_LINK:
        wire_datum(w, avro_schema_link_target(s), depth + 1);
        return;
    default:
        px_wire_fail(w, PX_ERR_UNSUPPORTED);
        return;
    }
}

/* ---- The observation codec ------------------------------------------ */

#define HDR_LEN 10                  /* C3 01 + 8-byte fingerprint */
#define BUF_MIN 512                 /* typical message: ~100 bytes */
#define BUF_MAX (16u * 1024 * 1024) /* one observation never needs more */

enum field_kind { F_STR, F_LONG, F_OPT_STR, F_OPT_LONG };

static const struct obs_field {
    const char *name;
    enum field_kind kind;
    size_t off;
} obs_fields[] = {
    {"rrname", F_STR, offsetof(px_avro_obs, rrname)},
    {"rrtype", F_STR, offsetof(px_avro_obs, rrtype)},
    {"rdata", F_STR, offsetof(px_avro_obs, rdata)},
    {"bailiwick", F_OPT_STR, offsetof(px_avro_obs, bailiwick)},
    {"count", F_LONG, offsetof(px_avro_obs, count)},
    {"time_first", F_LONG, offsetof(px_avro_obs, time_first)},
    {"time_last", F_LONG, offsetof(px_avro_obs, time_last)},
    {"ttl_min", F_LONG, offsetof(px_avro_obs, ttl_min)},
    {"ttl_max", F_LONG, offsetof(px_avro_obs, ttl_max)},
    {"clients", F_OPT_LONG, offsetof(px_avro_obs, clients)},
    {"org", F_STR, offsetof(px_avro_obs, org)},
    {"sensor", F_STR, offsetof(px_avro_obs, sensor)},
};
#define N_FIELDS (sizeof(obs_fields) / sizeof(obs_fields[0]))

/* Where each field sits in the schema, and for ["null", T] unions which
 * branch is which: found at create so the order in the .avsc is free.
 * index -1: the writer lacks the field, the reader's default applies. */
struct field_slot {
    int index;
    int null_branch, value_branch;
};

/* A reader field's default (schemas/observation.avsc "default"). */
struct field_default {
    int has;
    int is_null;
    int64_t num;
    char *str;
};

/* A registered writer schema other than the embedded one. avro-c's
 * resolver fails on a reader field the writer lacks (it has no defaults),
 * so the reader side is a projection of the embedded schema onto the
 * fields the writer has; the codec fills the others from their defaults. */
struct writer {
    uint64_t fingerprint;
    avro_schema_t schema;     /* the writer's */
    avro_schema_t projection; /* reader fields the writer has, reader types */
    avro_value_iface_t *proj_iface, *resolver;
    avro_value_t proj, resolved; /* resolved writes into proj */
    int have_proj, have_resolved;
    struct field_slot slots[];
};

struct px_avro_codec {
    avro_schema_t schema;
    avro_reader_t reader; /* older writers' datums, through avro-c */
    uint64_t fingerprint;
    uint8_t *buf;
    size_t cap;
    /* strings of the last observation decoded directly (current schema),
     * each NUL-terminated */
    char *sbuf;
    size_t scap;
    struct field_slot slots[N_FIELDS];
    size_t order[N_FIELDS]; /* schema field position -> obs_fields index */
    struct field_default defaults[N_FIELDS];
    struct writer **writers;
    size_t n_writers;
    char errbuf[256];
};

static px_err avro_failed(px_avro_codec *c, px_err err)
{
    snprintf(c->errbuf, sizeof(c->errbuf), "%s", avro_strerror());
    return err;
}

/* Checks a field's schema in `schema` against what the struct expects. */
static px_err bind_field(avro_schema_t schema, size_t i, struct field_slot *slot)
{
    slot->index = avro_schema_record_field_get_index(schema, obs_fields[i].name);
    if (slot->index < 0)
        return PX_ERR_UNSUPPORTED;
    avro_schema_t fs = avro_schema_record_field_get_by_index(schema, slot->index);
    avro_type_t want =
        (obs_fields[i].kind == F_STR || obs_fields[i].kind == F_OPT_STR) ? AVRO_STRING : AVRO_INT64;
    if (obs_fields[i].kind == F_STR || obs_fields[i].kind == F_LONG)
        return avro_typeof(fs) == want ? PX_OK : PX_ERR_UNSUPPORTED;
    if (avro_typeof(fs) != AVRO_UNION || avro_schema_union_size(fs) != 2)
        return PX_ERR_UNSUPPORTED;
    int first_null = avro_typeof(avro_schema_union_branch(fs, 0)) == AVRO_NULL;
    slot->null_branch = first_null ? 0 : 1;
    slot->value_branch = first_null ? 1 : 0;
    if (avro_typeof(avro_schema_union_branch(fs, slot->null_branch)) != AVRO_NULL ||
        avro_typeof(avro_schema_union_branch(fs, slot->value_branch)) != want)
        return PX_ERR_UNSUPPORTED;
    return PX_OK;
}

/* Reads each field's "default" from the embedded schema text: avro-c
 * parses defaults but offers no way to read them back. */
static px_err load_default(struct field_default *d, const struct obs_field *f, json_t *jfield)
{
    json_t *def = json_object_get(jfield, "default");
    if (!def)
        return PX_OK;
    d->has = 1;
    /* a union's default is of its first branch; ours put null first */
    if (json_is_null(def) && (f->kind == F_OPT_STR || f->kind == F_OPT_LONG)) {
        d->is_null = 1;
        return PX_OK;
    }
    if (json_is_integer(def) && (f->kind == F_LONG || f->kind == F_OPT_LONG)) {
        d->num = json_integer_value(def);
        return PX_OK;
    }
    if (json_is_string(def) && (f->kind == F_STR || f->kind == F_OPT_STR)) {
        d->str = strdup(json_string_value(def));
        return d->str ? PX_OK : PX_ERR_NOMEM;
    }
    d->has = 0; /* a default we cannot represent: treat the field as required */
    return PX_OK;
}

static px_err load_defaults(px_avro_codec *c)
{
    json_t *doc = json_loads(px_schema_observation, 0, NULL);
    json_t *fields = json_object_get(doc, "fields");
    px_err err = json_is_array(fields) ? PX_OK : PX_ERR_UNSUPPORTED;
    size_t k;
    json_t *jf;
    json_array_foreach(fields, k, jf)
    {
        const char *name = json_string_value(json_object_get(jf, "name"));
        for (size_t i = 0; name && i < N_FIELDS && err == PX_OK; i++)
            if (strcmp(name, obs_fields[i].name) == 0)
                err = load_default(&c->defaults[i], &obs_fields[i], jf);
    }
    json_decref(doc);
    return err;
}

static void writer_free(struct writer *w)
{
    if (!w)
        return;
    if (w->have_resolved)
        avro_value_decref(&w->resolved);
    if (w->have_proj)
        avro_value_decref(&w->proj);
    if (w->resolver)
        avro_value_iface_decref(w->resolver);
    if (w->proj_iface)
        avro_value_iface_decref(w->proj_iface);
    if (w->projection)
        avro_schema_decref(w->projection);
    if (w->schema)
        avro_schema_decref(w->schema);
    free(w);
}

/* The embedded schema with only the fields `writer` has (by name), as JSON
 * text parsed by avro-c. Fails if a dropped field has no default. */
static px_err make_projection(px_avro_codec *c, avro_schema_t writer, avro_schema_t *out)
{
    json_t *doc = json_loads(px_schema_observation, 0, NULL);
    json_t *fields = json_object_get(doc, "fields");
    px_err err = json_is_array(fields) ? PX_OK : PX_ERR_NOMEM;
    for (size_t k = 0; err == PX_OK && k < json_array_size(fields);) {
        const char *name = json_string_value(json_object_get(json_array_get(fields, k), "name"));
        if (!name || avro_schema_record_field_get_index(writer, name) >= 0) {
            k++;
            continue;
        }
        for (size_t i = 0; i < N_FIELDS; i++)
            if (strcmp(name, obs_fields[i].name) == 0 && !c->defaults[i].has) {
                snprintf(c->errbuf, sizeof(c->errbuf),
                         "writer lacks field %s, which has no default", name);
                err = PX_ERR_UNSUPPORTED;
            }
        if (err == PX_OK && json_array_remove(fields, k) != 0)
            err = PX_ERR_NOMEM;
    }
    char *text = err == PX_OK ? json_dumps(doc, JSON_COMPACT) : NULL;
    if (err == PX_OK && !text)
        err = PX_ERR_NOMEM;
    if (err == PX_OK && avro_schema_from_json_length(text, strlen(text), out) != 0)
        err = avro_failed(c, PX_ERR_AVRO);
    free(text);
    json_decref(doc);
    return err;
}

/* Builds the resolver and the values a decode under `w` reuses. */
static px_err writer_bind(px_avro_codec *c, struct writer *w)
{
    px_err err = make_projection(c, w->schema, &w->projection);
    if (err != PX_OK)
        return err;
    for (size_t i = 0; i < N_FIELDS; i++) {
        if (bind_field(w->projection, i, &w->slots[i]) != PX_OK)
            w->slots[i].index = -1; /* dropped: the default applies */
    }
    w->resolver = avro_resolved_writer_new(w->schema, w->projection);
    if (!w->resolver)
        return avro_failed(c, PX_ERR_UNSUPPORTED);
    w->proj_iface = avro_generic_class_from_schema(w->projection);
    if (!w->proj_iface)
        return avro_failed(c, PX_ERR_AVRO);
    if (avro_generic_value_new(w->proj_iface, &w->proj) != 0)
        return avro_failed(c, PX_ERR_AVRO);
    w->have_proj = 1;
    if (avro_resolved_writer_new_value(w->resolver, &w->resolved) != 0)
        return avro_failed(c, PX_ERR_AVRO);
    w->have_resolved = 1;
    avro_resolved_writer_set_dest(&w->resolved, &w->proj);
    return PX_OK;
}

static struct writer *find_writer(const px_avro_codec *c, uint64_t fp)
{
    for (size_t i = 0; i < c->n_writers; i++)
        if (c->writers[i]->fingerprint == fp)
            return c->writers[i];
    return NULL;
}

/* "what: error text: avro-c's or our detail" into why (may be NULL). */
static px_err codec_why(const px_avro_codec *c, px_err err, const char *what, char *why,
                        size_t whylen)
{
    if (err != PX_OK && why && whylen)
        snprintf(why, whylen, "%s: %s%s%s", what, px_strerror(err), c && c->errbuf[0] ? ": " : "",
                 c ? c->errbuf : "");
    return err;
}

static px_err add_writer(px_avro_codec *c, const char *schema_json)
{
    c->errbuf[0] = '\0';
    char *canon_text = NULL;
    px_err err = px_avro_canonical_form(schema_json, &canon_text);
    if (err != PX_OK)
        return err;
    uint64_t fp = px_avro_crc64(canon_text, strlen(canon_text));
    free(canon_text);
    if (fp == c->fingerprint || find_writer(c, fp))
        return PX_OK;

    struct writer *w = calloc(1, sizeof(*w) + N_FIELDS * sizeof(w->slots[0]));
    if (!w)
        return PX_ERR_NOMEM;
    w->fingerprint = fp;
    if (avro_schema_from_json_length(schema_json, strlen(schema_json), &w->schema) != 0)
        err = avro_failed(c, PX_ERR_INVAL);
    else if (avro_typeof(w->schema) != AVRO_RECORD)
        err = PX_ERR_UNSUPPORTED;
    else
        err = writer_bind(c, w);
    struct writer **grown = NULL;
    if (err == PX_OK) {
        grown = realloc(c->writers, (c->n_writers + 1) * sizeof(*grown));
        err = grown ? PX_OK : PX_ERR_NOMEM;
    }
    if (err != PX_OK) {
        writer_free(w);
        /* avro-c's resolver and parser failures are not transient */
        return err == PX_ERR_AVRO ? PX_ERR_UNSUPPORTED : err;
    }
    c->writers = grown;
    c->writers[c->n_writers++] = w;
    return PX_OK;
}

px_err px_avro_codec_add_writer(px_avro_codec *c, const char *schema_json, char *why, size_t whylen)
{
    if (!c || !schema_json)
        return codec_why(NULL, PX_ERR_INVAL, "writer schema", why, whylen);
    return codec_why(c, add_writer(c, schema_json), "writer schema", why, whylen);
}

static px_err codec_init(px_avro_codec *c)
{
    const char *json = px_schema_observation;
    char *canon_text = NULL;
    px_err err = px_avro_canonical_form(json, &canon_text);
    if (err)
        return err;
    c->fingerprint = px_avro_crc64(canon_text, strlen(canon_text));
    free(canon_text);

    if (avro_schema_from_json_length(json, strlen(json), &c->schema) != 0)
        return avro_failed(c, PX_ERR_AVRO);
    if (avro_typeof(c->schema) != AVRO_RECORD)
        return PX_ERR_UNSUPPORTED;
    if (avro_schema_record_size(c->schema) != N_FIELDS)
        return PX_ERR_UNSUPPORTED;
    for (size_t i = 0; i < N_FIELDS; i++) {
        if ((err = bind_field(c->schema, i, &c->slots[i])) != PX_OK)
            return err;
        c->order[c->slots[i].index] = i;
    }
    if ((err = load_defaults(c)) != PX_OK)
        return err;
    c->cap = BUF_MIN;
    c->buf = malloc(c->cap);
    c->reader = avro_reader_memory(NULL, 0);
    if (!c->buf || !c->reader)
        return PX_ERR_NOMEM;
    /* earlier versions: a released schema that no longer resolves is a
     * build mistake that must not wait for the first old message */
    for (const char *const *v = px_schema_observation_versions; *v; v++)
        if ((err = px_avro_codec_add_writer(c, *v, NULL, 0)) != PX_OK)
            return err;
    return PX_OK;
}

px_err px_avro_codec_create(px_avro_codec **out, char *why, size_t whylen)
{
    *out = NULL;
    px_avro_codec *c = calloc(1, sizeof(*c));
    if (!c)
        return codec_why(NULL, PX_ERR_NOMEM, "Avro codec", why, whylen);
    px_err err = codec_init(c);
    if (err != PX_OK) {
        codec_why(c, err, "Avro observation schema", why, whylen);
        px_avro_codec_destroy(c);
        return err;
    }
    *out = c;
    return PX_OK;
}

void px_avro_codec_destroy(px_avro_codec *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_writers; i++)
        writer_free(c->writers[i]);
    free(c->writers);
    for (size_t i = 0; i < N_FIELDS; i++)
        free(c->defaults[i].str);
    if (c->schema)
        avro_schema_decref(c->schema);
    if (c->reader)
        avro_reader_free(c->reader);
    free(c->buf);
    free(c->sbuf);
    free(c);
}

static void put_header(uint8_t *p, uint64_t fp)
{
    p[0] = 0xc3;
    p[1] = 0x01;
    for (int i = 0; i < 8; i++)
        p[2 + i] = (uint8_t)(fp >> (8 * i));
}

/* The datum is written here rather than with avro_value_write(): the
 * benchmark showed avro-c's generic writer (value filling, wrapped buffers,
 * per-field dispatch) taking a third of the producer's time at window
 * flush. The schema is fixed and bound at create, so the binary encoding
 * (zigzag varints, length-prefixed strings, union branch indexes) is a few
 * lines; decode of the embedded schema reads it the same way
 * (decode_direct), and the tests decode what this writes with avro-c and
 * with python3-avro. */
static uint8_t *put_long(uint8_t *p, int64_t v)
{
    uint64_t z = px_zigzag(v);
    while (z >= 0x80) {
        *p++ = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    *p++ = (uint8_t)z;
    return p;
}

/* A string field's value, or NULL for a number field. */
static const char *field_str(size_t i, const px_avro_obs *obs)
{
    const struct obs_field *f = &obs_fields[i];
    if (f->kind != F_STR && f->kind != F_OPT_STR)
        return NULL;
    return *(const char *const *)((const char *)obs + f->off);
}

/* Copies n bytes of string and checks them as UTF-8 in the same pass:
 * ASCII words (nearly every name and address) are checked as they are
 * copied; only a word with a high bit set sends the whole string through
 * the full check. Returns false if the string is not UTF-8. */
static bool put_utf8(uint8_t *p, const char *str, size_t n)
{
    const uint8_t *s = (const uint8_t *)str;
    uint64_t high = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t word;
        memcpy(&word, s + i, 8);
        memcpy(p + i, &word, 8);
        high |= word;
    }
    for (; i < n; i++) {
        p[i] = s[i];
        high |= s[i];
    }
    return (high & UINT64_C(0x8080808080808080)) == 0 || utf8_valid(s, n);
}

static px_err encode_field(const px_avro_codec *c, size_t i, const px_avro_obs *obs,
                           const size_t *lens, uint8_t **pp)
{
    const struct obs_field *f = &obs_fields[i];
    const void *slotp = (const char *)obs + f->off;
    int is_str = f->kind == F_STR || f->kind == F_OPT_STR;
    /* read only the member the field is, never a pointer as a number */
    const char *str = field_str(i, obs);
    int64_t num = is_str ? 0 : *(const int64_t *)slotp;
    uint8_t *p = *pp;
    if (f->kind == F_OPT_STR || f->kind == F_OPT_LONG) {
        int is_null = f->kind == F_OPT_STR ? str == NULL : num < 0;
        p = put_long(p, is_null ? c->slots[i].null_branch : c->slots[i].value_branch);
        if (is_null) {
            *pp = p;
            return PX_OK;
        }
    }
    if (is_str) {
        p = put_long(p, (int64_t)lens[i]);
        if (!put_utf8(p, str, lens[i]))
            return PX_ERR_INVAL;
        p += lens[i];
    } else {
        p = put_long(p, num);
    }
    *pp = p;
    return PX_OK;
}

/* The head is schema positions 0..HEAD_FIELDS-1; the split only works if
 * those are the four key fields (obs_fields 0..3), as in the embedded
 * schema. */
#define HEAD_FIELDS 4

static bool head_split_ok(const px_avro_codec *c)
{
    for (size_t j = 0; j < HEAD_FIELDS; j++)
        if (c->order[j] >= HEAD_FIELDS)
            return false;
    return true;
}

/* Grows the codec's buffer to need bytes (its content moves along). */
static bool buf_reserve(px_avro_codec *c, size_t need)
{
    if (need <= c->cap)
        return true;
    uint8_t *nb = realloc(c->buf, need);
    if (!nb)
        return false;
    c->buf = nb;
    c->cap = need;
    return true;
}

/* Encodes schema positions [from, to) of obs at c->buf + at, growing the
 * buffer to hold `extra` more bytes than the fields need. */
static px_err encode_range(px_avro_codec *c, const px_avro_obs *obs, size_t from, size_t to,
                           size_t at, size_t *end)
{
    size_t lens[N_FIELDS] = {0};
    size_t need = at + (to - from) * 10 + 2 * 10;
    for (size_t j = from; j < to; j++) {
        size_t i = c->order[j];
        const char *str = field_str(i, obs);
        if (obs_fields[i].kind == F_STR && !str)
            return PX_ERR_INVAL;
        lens[i] = str ? strlen(str) : 0;
        need += lens[i];
    }
    if (need > BUF_MAX)
        return PX_ERR_TOOLONG;
    if (!buf_reserve(c, need))
        return PX_ERR_NOMEM;
    uint8_t *p = c->buf + at;
    for (size_t j = from; j < to; j++) {
        px_err err = encode_field(c, c->order[j], obs, lens, &p);
        if (err != PX_OK)
            return err;
    }
    *end = (size_t)(p - c->buf);
    return PX_OK;
}

px_err px_avro_encode_head(px_avro_codec *c, const px_avro_obs *obs, uint8_t *out, size_t cap,
                           size_t *len)
{
    if (!c || !obs || !out || !len)
        return PX_ERR_INVAL;
    if (!head_split_ok(c))
        return PX_ERR_UNSUPPORTED;
    c->errbuf[0] = '\0';
    size_t end;
    px_err err = encode_range(c, obs, 0, HEAD_FIELDS, 0, &end);
    if (err != PX_OK)
        return err;
    if (end > cap)
        return PX_ERR_TOOLONG;
    memcpy(out, c->buf, end);
    *len = end;
    return PX_OK;
}

/* One tail field (schema positions HEAD_FIELDS..): numbers, the clients
 * union, org and sensor (the only strings there). Written for the per-emit
 * path: no generic dispatch, string lengths taken once. */
static uint8_t *tail_field(const px_avro_codec *c, size_t i, const px_avro_obs *obs, uint8_t *p,
                           size_t org_len, size_t sensor_len, bool *bad)
{
    const struct obs_field *f = &obs_fields[i];
    const void *slotp = (const char *)obs + f->off;
    if (f->kind == F_LONG)
        return put_long(p, *(const int64_t *)slotp);
    if (f->kind == F_OPT_LONG) {
        int64_t num = *(const int64_t *)slotp;
        if (num < 0)
            return put_long(p, c->slots[i].null_branch);
        p = put_long(p, c->slots[i].value_branch);
        return put_long(p, num);
    }
    /* F_STR: org or sensor, checked non-NULL by the caller */
    const char *str = *(const char *const *)slotp;
    size_t n = slotp == (const void *)&obs->org ? org_len : sensor_len;
    p = put_long(p, (int64_t)n);
    if (!put_utf8(p, str, n))
        *bad = true;
    return p + n;
}

px_err px_avro_encode_tail(px_avro_codec *c, const uint8_t *head, size_t head_len,
                           const px_avro_obs *obs, const uint8_t **out, size_t *len)
{
    if (!c || !head || !obs || !out || !len || !obs->org || !obs->sensor)
        return PX_ERR_INVAL;
    if (!head_split_ok(c))
        return PX_ERR_UNSUPPORTED;
    c->errbuf[0] = '\0';
    size_t org_len = strlen(obs->org), sensor_len = strlen(obs->sensor);
    size_t need = HDR_LEN + head_len + (N_FIELDS - HEAD_FIELDS) * 10 + 2 * 10;
    if (head_len > BUF_MAX || org_len > BUF_MAX || sensor_len > BUF_MAX)
        return PX_ERR_TOOLONG;
    need += org_len + sensor_len;
    if (need > BUF_MAX)
        return PX_ERR_TOOLONG;
    if (!buf_reserve(c, need))
        return PX_ERR_NOMEM;
    put_header(c->buf, c->fingerprint);
    memcpy(c->buf + HDR_LEN, head, head_len);
    uint8_t *p = c->buf + HDR_LEN + head_len;
    bool bad = false;
    for (size_t j = HEAD_FIELDS; j < N_FIELDS; j++)
        p = tail_field(c, c->order[j], obs, p, org_len, sensor_len, &bad);
    if (bad)
        return PX_ERR_INVAL;
    *out = c->buf;
    *len = (size_t)(p - c->buf);
    return PX_OK;
}

/* A field the writer did not have: the reader's default. */
static void default_field(const px_avro_codec *c, size_t i, px_avro_obs *obs)
{
    const struct obs_field *f = &obs_fields[i];
    const struct field_default *d = &c->defaults[i];
    if (f->kind == F_STR || f->kind == F_OPT_STR)
        *(const char **)((char *)obs + f->off) = d->is_null ? NULL : d->str;
    else
        *(int64_t *)((char *)obs + f->off) = d->is_null ? -1 : d->num;
}

/* Field i of obs from the decoded record `dec` laid out as `slot` says.
 * Strings were UTF-8-checked by the wire walk: avro-c resolves a reader
 * string only from a writer string. */
static px_err read_field(avro_value_t *dec, const struct field_slot *slot, size_t i,
                         px_avro_obs *obs)
{
    const struct obs_field *f = &obs_fields[i];
    const char **strp = (const char **)((char *)obs + f->off);
    int64_t *nump = (int64_t *)((char *)obs + f->off);
    avro_value_t field, branch, *v = &field;
    int disc;

    if (avro_value_get_by_index(dec, slot->index, &field, NULL))
        return PX_ERR_AVRO;
    if (f->kind == F_OPT_STR || f->kind == F_OPT_LONG) {
        if (avro_value_get_discriminant(&field, &disc) ||
            avro_value_get_current_branch(&field, &branch))
            return PX_ERR_AVRO;
        if (disc == slot->null_branch) {
            if (f->kind == F_OPT_STR)
                *strp = NULL;
            else
                *nump = -1;
            return PX_OK;
        }
        v = &branch;
    }
    if (f->kind == F_STR || f->kind == F_OPT_STR) {
        const char *s;
        size_t size;
        if (avro_value_get_string(v, &s, &size) || size == 0)
            return PX_ERR_AVRO;
        /* the struct carries C strings: an embedded NUL would cut it */
        if (memchr(s, '\0', size - 1))
            return PX_ERR_MALFORMED;
        *strp = s;
        return PX_OK;
    }
    if (avro_value_get_long(v, nump))
        return PX_ERR_AVRO;
    /* a negative count of clients would read back as null */
    if (f->kind == F_OPT_LONG && *nump < 0)
        return PX_ERR_MALFORMED;
    return PX_OK;
}

/* A string of the current schema, copied NUL-terminated to *dst. An
 * embedded NUL is reported through *late, not the cursor: the generic path
 * finds it only after the whole datum was walked, so truncation or bad
 * bytes further on take precedence. */
static const char *direct_string(px_wire *w, char **dst, px_err *late)
{
    int64_t n = wire_varint(w, 64);
    if (n < 0) {
        px_wire_fail(w, PX_ERR_MALFORMED);
        return NULL;
    }
    const uint8_t *p = px_wire_bytes(w, (uint64_t)n > SIZE_MAX ? SIZE_MAX : (size_t)n);
    if (!p)
        return NULL;
    if (!utf8_valid(p, (size_t)n)) {
        px_wire_fail(w, PX_ERR_MALFORMED);
        return NULL;
    }
    if (memchr(p, '\0', (size_t)n) && *late == PX_OK)
        *late = PX_ERR_MALFORMED; /* the struct carries C strings */
    char *s = *dst;
    memcpy(s, p, (size_t)n);
    s[n] = '\0';
    *dst = s + n + 1;
    return s;
}

/* The branch of a ["null", T] union: 1 for T, 0 for null. */
static int direct_branch(px_wire *w, const struct field_slot *slot)
{
    int64_t v = wire_varint(w, 64);
    if (px_wire_err(w))
        return 0;
    if (v != slot->null_branch && v != slot->value_branch) {
        px_wire_fail(w, PX_ERR_MALFORMED);
        return 0;
    }
    return v == slot->value_branch;
}

/* A datum of the embedded schema, read field by field in schema order as
 * px_avro_encode_head and _tail write it: the profile showed avro-c's generic reader
 * (value resets, per-field dispatch, string copies) costing more than the
 * consumer's store. Same checks, same order of errors as the walk plus
 * avro-c: the cursor's first error, then trailing bytes, then an embedded
 * NUL or a negative clients in field order. */
static px_err decode_direct(px_avro_codec *c, px_wire *w, px_avro_obs *obs)
{
    size_t need = px_wire_avail(w) + N_FIELDS;
    if (need > c->scap) {
        char *nb = realloc(c->sbuf, need);
        if (!nb)
            return PX_ERR_NOMEM;
        c->sbuf = nb;
        c->scap = need;
    }
    char *dst = c->sbuf;
    px_err late = PX_OK;
    for (size_t j = 0; j < N_FIELDS && !px_wire_err(w); j++) {
        size_t i = c->order[j];
        const struct obs_field *f = &obs_fields[i];
        const char **strp = (const char **)((char *)obs + f->off);
        int64_t *nump = (int64_t *)((char *)obs + f->off);
        switch (f->kind) {
        case F_OPT_STR:
            if (!direct_branch(w, &c->slots[i])) {
                *strp = NULL;
                break;
            }
            /* fall through */
        case F_STR:
            *strp = direct_string(w, &dst, &late);
            break;
        case F_OPT_LONG:
            if (!direct_branch(w, &c->slots[i])) {
                *nump = -1;
                break;
            }
            *nump = wire_varint(w, 64);
            /* a negative count of clients would read back as null */
            if (*nump < 0 && late == PX_OK)
                late = PX_ERR_MALFORMED;
            break;
        case F_LONG:
            *nump = wire_varint(w, 64);
            break;
        }
    }
    if (px_wire_err(w))
        return px_wire_err(w);
    if (px_wire_avail(w) != 0)
        return PX_ERR_MALFORMED; /* trailing bytes */
    return late;
}

px_err px_avro_decode(px_avro_codec *c, const uint8_t *msg, size_t len, px_avro_obs *obs)
{
    px_wire w;
    if (!c || (!msg && len) || !obs)
        return PX_ERR_INVAL;
    c->errbuf[0] = '\0';
    px_wire_init(&w, msg, len);
    /* a wrong magic byte is malformed even when the message is short */
    if ((len > 0 && msg[0] != 0xc3) || (len > 1 && msg[1] != 0x01))
        return PX_ERR_MALFORMED;
    px_wire_skip(&w, 2);
    uint64_t fp = px_wire_u32le(&w);
    fp |= (uint64_t)px_wire_u32le(&w) << 32;
    if (px_wire_err(&w))
        return px_wire_err(&w);
    struct writer *wr = NULL;
    if (fp != c->fingerprint && !(wr = find_writer(c, fp)))
        return PX_ERR_NOTFOUND;
    if (!wr)
        return decode_direct(c, &w, obs);

    /* an older writer: the whole datum is checked against its schema
     * before avro-c reads a byte of it */
    px_wire datum = w;
    wire_datum(&w, wr->schema, 0);
    if (px_wire_err(&w))
        return px_wire_err(&w);
    if (px_wire_avail(&w) != 0)
        return PX_ERR_MALFORMED; /* trailing bytes */

    avro_reader_memory_set_source(c->reader, (const char *)datum.pos, (int64_t)(w.pos - datum.pos));
    if (avro_value_read(c->reader, &wr->resolved) != 0)
        return avro_failed(c, PX_ERR_MALFORMED);
    for (size_t i = 0; i < N_FIELDS; i++) {
        px_err err = PX_OK;
        if (wr->slots[i].index < 0)
            default_field(c, i, obs);
        else
            err = read_field(&wr->proj, &wr->slots[i], i, obs);
        if (err)
            return err == PX_ERR_AVRO ? avro_failed(c, err) : err;
    }
    return PX_OK;
}
