/* px-avro-tool: drives the px_avro codec from the command line, for the
 * interoperability test against another Avro implementation.
 *
 *   px-avro-tool encode       JSON lines of observations in, one hex
 *                             single-object message per line out
 *   px-avro-tool decode       hex lines in, JSON lines out
 *   px-avro-tool fingerprint  fingerprint (unsigned decimal), then the
 *                             Parsing Canonical Form
 *   px-avro-tool bench [N]    ns per encode and per decode
 *
 * JSON observations use the schema's field names; bailiwick and clients
 * may be null. A line that fails is reported on stderr and the exit status
 * is 1; the other lines are still processed. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "obs/px_avro.h"

/* schemas/observation.avsc, embedded by pdnsx_schemas. */
extern const char px_schema_observation[];

/* A whole message the way the producer builds it: head, then tail. */
static px_err encode(px_avro_codec *c, const px_avro_obs *obs, const uint8_t **msg, size_t *len)
{
    static uint8_t head[PX_AVRO_HEAD_MAX];
    size_t head_len;
    px_err err = px_avro_encode_head(c, obs, head, sizeof(head), &head_len);
    return err ? err : px_avro_encode_tail(c, head, head_len, obs, msg, len);
}

static int get_str(json_t *o, const char *key, int nullable, const char **out)
{
    json_t *v = json_object_get(o, key);
    if (nullable && (!v || json_is_null(v))) {
        *out = NULL;
        return 0;
    }
    if (!json_is_string(v))
        return -1;
    *out = json_string_value(v);
    return 0;
}

static int get_int(json_t *o, const char *key, int nullable, int64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (nullable && (!v || json_is_null(v))) {
        *out = -1;
        return 0;
    }
    if (!json_is_integer(v))
        return -1;
    *out = json_integer_value(v);
    return 0;
}

static int obs_from_json(json_t *o, px_avro_obs *obs)
{
    int bad = 0;
    bad |= get_str(o, "rrname", 0, &obs->rrname);
    bad |= get_str(o, "rrtype", 0, &obs->rrtype);
    bad |= get_str(o, "rdata", 0, &obs->rdata);
    bad |= get_str(o, "bailiwick", 1, &obs->bailiwick);
    bad |= get_int(o, "count", 0, &obs->count);
    bad |= get_int(o, "time_first", 0, &obs->time_first);
    bad |= get_int(o, "time_last", 0, &obs->time_last);
    bad |= get_int(o, "ttl_min", 0, &obs->ttl_min);
    bad |= get_int(o, "ttl_max", 0, &obs->ttl_max);
    bad |= get_int(o, "clients", 1, &obs->clients);
    bad |= get_str(o, "org", 0, &obs->org);
    bad |= get_str(o, "sensor", 0, &obs->sensor);
    return bad ? -1 : 0;
}

static json_t *obs_to_json(const px_avro_obs *obs)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:I, s:I, s:I, s:I, s:I, s:o, s:s, s:s}", "rrname",
                     obs->rrname, "rrtype", obs->rrtype, "rdata", obs->rdata, "bailiwick",
                     obs->bailiwick ? json_string(obs->bailiwick) : json_null(), "count",
                     (json_int_t)obs->count, "time_first", (json_int_t)obs->time_first, "time_last",
                     (json_int_t)obs->time_last, "ttl_min", (json_int_t)obs->ttl_min, "ttl_max",
                     (json_int_t)obs->ttl_max, "clients",
                     obs->clients < 0 ? json_null() : json_integer(obs->clients), "org", obs->org,
                     "sensor", obs->sensor);
}

static int cmd_encode(px_avro_codec *c)
{
    char *line = NULL;
    size_t cap = 0;
    int status = 0;
    unsigned long lineno = 0;
    while (getline(&line, &cap, stdin) > 0) {
        json_error_t jerr;
        px_avro_obs obs;
        const uint8_t *msg;
        size_t len;
        px_err err = PX_ERR_MALFORMED;
        lineno++;
        json_t *o = json_loads(line, 0, &jerr);
        if (o && obs_from_json(o, &obs) == 0)
            err = encode(c, &obs, &msg, &len);
        if (err == PX_OK) {
            for (size_t i = 0; i < len; i++)
                printf("%02x", msg[i]);
            putchar('\n');
        } else {
            fprintf(stderr, "line %lu: %s\n", lineno, px_strerror(err));
            status = 1;
        }
        json_decref(o);
    }
    free(line);
    return status;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Hex text to bytes in place; returns the length or -1. */
static long unhex(char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    if (n % 2)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        s[i / 2] = (char)(hi << 4 | lo);
    }
    return (long)(n / 2);
}

static int cmd_decode(px_avro_codec *c)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int status = 0;
    unsigned long lineno = 0;
    while ((got = getline(&line, &cap, stdin)) > 0) {
        px_avro_obs obs;
        px_err err = PX_ERR_MALFORMED;
        lineno++;
        long len = unhex(line, (size_t)got);
        if (len >= 0)
            err = px_avro_decode(c, (const uint8_t *)line, (size_t)len, &obs);
        json_t *o = err == PX_OK ? obs_to_json(&obs) : NULL;
        char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (text) {
            puts(text);
        } else {
            fprintf(stderr, "line %lu: %s\n", lineno, px_strerror(err ? err : PX_ERR_NOMEM));
            status = 1;
        }
        free(text);
        json_decref(o);
    }
    free(line);
    return status;
}

/* The fingerprint the codec writes (bytes 2..9 of a message, little
 * endian) and the canonical form of the schema it encodes with. */
static int cmd_fingerprint(px_avro_codec *c)
{
    px_avro_obs obs = {"a.b", "A", "192.0.2.1", NULL, 1, 1, 1, 0, 0, -1, "o", "s"};
    const uint8_t *msg;
    size_t len;
    char *canon = NULL;
    px_err err = encode(c, &obs, &msg, &len);
    if (!err)
        err = px_avro_canonical_form(px_schema_observation, &canon);
    if (err) {
        fprintf(stderr, "fingerprint: %s\n", px_strerror(err));
        return 1;
    }
    uint64_t fp = 0;
    for (int i = 0; i < 8; i++)
        fp |= (uint64_t)msg[2 + i] << (8 * i);
    printf("%" PRIu64 "\n%s\n", fp, canon);
    free(canon);
    return 0;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmd_bench(px_avro_codec *c, long n)
{
    px_avro_obs obs = {"www.example.com", "A",        "192.0.2.1", "example.com", 12,
                       1764180000,        1764180059, 300,         300,           3,
                       "org-a",           "sensor-1"};
    px_avro_obs back;
    const uint8_t *msg;
    size_t len;
    uint8_t copy[512];
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        obs.count = i;
        if (encode(c, &obs, &msg, &len) != PX_OK)
            return 1;
    }
    double t1 = now_ns();
    if (len > sizeof(copy))
        return 1;
    memcpy(copy, msg, len);
    for (long i = 0; i < n; i++)
        if (px_avro_decode(c, copy, len, &back) != PX_OK)
            return 1;
    double t2 = now_ns();
    printf("encode %.0f ns, decode %.0f ns, %zu bytes\n", (t1 - t0) / (double)n,
           (t2 - t1) / (double)n, len);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: px-avro-tool encode|decode|fingerprint|bench [N]\n");
        return 2;
    }
    px_avro_codec *c = NULL;
    char why[512];
    if (px_avro_codec_create(&c, why, sizeof(why)) != PX_OK) {
        fprintf(stderr, "px-avro-tool: %s\n", why);
        return 1;
    }
    int status = 2;
    if (strcmp(argv[1], "encode") == 0)
        status = cmd_encode(c);
    else if (strcmp(argv[1], "decode") == 0)
        status = cmd_decode(c);
    else if (strcmp(argv[1], "fingerprint") == 0)
        status = cmd_fingerprint(c);
    else if (strcmp(argv[1], "bench") == 0)
        status = cmd_bench(c, argc > 2 ? atol(argv[2]) : 1000000);
    else
        fprintf(stderr, "px-avro-tool: unknown command %s\n", argv[1]);
    px_avro_codec_destroy(c);
    return status;
}
