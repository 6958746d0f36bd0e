/* fuzz_avro.c: libFuzzer harness over px_avro_decode.
 *
 * The first input byte picks the mode: bit 0 set means "the rest is a
 * datum", and the harness puts a valid header (magic + a fingerprint) in
 * front so the fuzzer reaches the datum parser without having to guess a
 * 64-bit fingerprint: the codec's own one, or with bit 1 also set that of
 * a registered writer schema that differs from the current one (extra
 * field of every Avro type, other order, a field missing, promotions), so
 * the schema resolution path is fuzzed as well; bit 0 clear means "the
 * rest is a whole message". Whatever decodes must encode again (under the
 * current schema) and decode to the same observation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "obs/px_avro.h"

/* schemas/observation.avsc, embedded by pdnsx_schemas. */
extern const char px_schema_observation[];

static px_avro_codec *codec;
static uint64_t codec_fp, writer_fp;

static const char writer_schema[] =
    "{\"type\":\"record\",\"name\":\"Observation\",\"namespace\":\"org.pdnsx\",\"fields\":["
    "{\"name\":\"extra\",\"type\":{\"type\":\"map\",\"values\":[\"null\",\"boolean\",\"int\","
    "\"double\",\"float\",{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\",\"Y\"]},"
    "{\"type\":\"fixed\",\"name\":\"F\",\"size\":3},{\"type\":\"array\",\"items\":\"bytes\"}]}},"
    "{\"name\":\"sensor\",\"type\":\"string\"},{\"name\":\"org\",\"type\":\"string\"},"
    "{\"name\":\"rrname\",\"type\":\"string\"},{\"name\":\"rrtype\",\"type\":\"string\"},"
    "{\"name\":\"rdata\",\"type\":\"string\"},{\"name\":\"bailiwick\",\"type\":\"string\"},"
    "{\"name\":\"count\",\"type\":\"int\"},{\"name\":\"time_first\",\"type\":\"long\"},"
    "{\"name\":\"time_last\",\"type\":\"long\"},{\"name\":\"ttl_min\",\"type\":\"long\"},"
    "{\"name\":\"ttl_max\",\"type\":\"long\"}]}";

static uint64_t fingerprint(const char *schema)
{
    char *canon = NULL;
    if (px_avro_canonical_form(schema, &canon) != PX_OK)
        abort();
    uint64_t fp = px_avro_crc64(canon, strlen(canon));
    free(canon);
    return fp;
}

static void init(void)
{
    if (px_avro_codec_create(&codec, NULL, 0) != PX_OK ||
        px_avro_codec_add_writer(codec, writer_schema, NULL, 0) != PX_OK)
        abort();
    codec_fp = fingerprint(px_schema_observation);
    writer_fp = fingerprint(writer_schema);
}

/* avro-c's generic records lay fields out back to back, so the strings after
 * a union sit at unaligned addresses; LeakSanitizer only follows aligned
 * pointers and would report the codec's live strings as leaked at exit. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
    return "use_unaligned=1";
}

static int same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void check_round_trip(const px_avro_obs *obs)
{
    /* obs points into the codec: copy the strings before reusing it */
    px_avro_obs copy = *obs, back;
    char *s[6] = {strdup(obs->rrname), strdup(obs->rrtype),
                  strdup(obs->rdata),  obs->bailiwick ? strdup(obs->bailiwick) : NULL,
                  strdup(obs->org),    strdup(obs->sensor)};
    copy.rrname = s[0], copy.rrtype = s[1], copy.rdata = s[2];
    copy.bailiwick = s[3], copy.org = s[4], copy.sensor = s[5];
    /* as the producer encodes: the head, then the tail; the head's room
     * by the strings' lengths (a decoded rdata may exceed PX_AVRO_HEAD_MAX) */
    size_t cap = strlen(s[0]) + strlen(s[1]) + strlen(s[2]) + (s[3] ? strlen(s[3]) : 0) + 64;
    uint8_t *head = malloc(cap);
    const uint8_t *msg;
    size_t head_len, len;
    if (!head || px_avro_encode_head(codec, &copy, head, cap, &head_len) != PX_OK ||
        px_avro_encode_tail(codec, head, head_len, &copy, &msg, &len) != PX_OK)
        abort();
    free(head);
    uint8_t *m = malloc(len);
    memcpy(m, msg, len);
    if (px_avro_decode(codec, m, len, &back) != PX_OK)
        abort();
    if (!same_str(back.rrname, copy.rrname) || !same_str(back.rrtype, copy.rrtype) ||
        !same_str(back.rdata, copy.rdata) || !same_str(back.bailiwick, copy.bailiwick) ||
        !same_str(back.org, copy.org) || !same_str(back.sensor, copy.sensor) ||
        back.count != copy.count || back.time_first != copy.time_first ||
        back.time_last != copy.time_last || back.ttl_min != copy.ttl_min ||
        back.ttl_max != copy.ttl_max || back.clients != copy.clients)
        abort();
    free(m);
    for (int i = 0; i < 6; i++)
        free(s[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!codec)
        init();
    if (size == 0)
        return 0;
    uint8_t *msg = malloc(size + 10);
    size_t len = size - 1;
    if (data[0] & 1) {
        uint64_t fp = (data[0] & 2) ? writer_fp : codec_fp;
        msg[0] = 0xc3;
        msg[1] = 0x01;
        for (int i = 0; i < 8; i++)
            msg[2 + i] = (uint8_t)(fp >> (8 * i));
        memcpy(msg + 10, data + 1, size - 1);
        len += 10;
    } else {
        memcpy(msg, data + 1, size - 1);
    }
    px_avro_obs obs;
    if (px_avro_decode(codec, msg, len, &obs) == PX_OK)
        check_round_trip(&obs);
    free(msg);
    return 0;
}
