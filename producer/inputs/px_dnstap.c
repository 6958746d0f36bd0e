/* dnstap inputs: dnstap-file (a read buffer, px_rbuf.h, split into frames
 * in place), dnstap-unix and dnstap-tcp (Frame Streams receiver,
 * px_fstrm.h, in a poll() loop).
 *
 * Frames are decoded by a zero-copy protobuf reader written for the one
 * message dnstap.proto defines: protobuf-c's unpack copied every field and
 * took over half the input's time. It accepts exactly what protobuf-c's
 * generated dnstap__dnstap__unpack() accepts (tests/fuzz/fuzz_dnstap.c
 * compares the two). */
#include "px_dnstap.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstrm.h>

#include "px_fstrm.h"
#include "px_input_impl.h"
#include "core/px_clock.h"
#include "core/px_metrics.h"
#include "core/px_net.h"
#include "core/px_ratelimit.h"
#include "px_rbuf.h"
#include "core/px_wire.h"

/* ---- protobuf wire format ------------------------------------------------ */

enum {
    PX_PB_VARINT = 0,
    PX_PB_FIXED64 = 1,
    PX_PB_BYTES = 2,
    PX_PB_FIXED32 = 5,
};

typedef struct px_pb_field {
    uint32_t num;
    uint8_t wire;
    uint64_t value;      /* varint and fixed values */
    const uint8_t *data; /* length-delimited */
    size_t len;
} px_pb_field;

/* A varint of at most max bytes; bits past 64 are dropped (as protobuf-c).
 * The cursor's bound is checked for every byte. */
static uint64_t px_pb_varint_long(px_wire *w, unsigned max)
{
    uint64_t v = 0;
    const uint8_t *p = w->pos;
    for (unsigned i = 0; i < max; i++) {
        if (p == w->end) {
            px_wire_fail(w, PX_ERR_TRUNC);
            return 0;
        }
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7f) << (7 * i); /* max <= 10: i <= 9 */
        if (!(b & 0x80)) {
            w->pos = p;
            return v;
        }
    }
    px_wire_fail(w, PX_ERR_MALFORMED);
    return 0;
}

/* Most varints in a frame are tags and lengths of one byte; the rest
 * (times, ports) lie well inside the frame, so one bound check covers all
 * their bytes. The cursor must have no error (px_pb_next() stops at the
 * first). */
static inline uint64_t px_pb_varint(px_wire *w, unsigned max)
{
    const uint8_t *p = w->pos;
    if (p != w->end && p[0] < 0x80) {
        w->pos = p + 1;
        return p[0];
    }
    if ((size_t)(w->end - p) < max) {
        px_wire c = *w; /* a copy, so that *w need not live in memory */
        uint64_t v = px_pb_varint_long(&c, max);
        *w = c;
        return v;
    }
    uint64_t v = 0;
    for (unsigned i = 0; i < max; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (p[i] < 0x80) {
            w->pos = p + i + 1;
            return v;
        }
    }
    px_wire_fail(w, PX_ERR_MALFORMED);
    return 0;
}

/* The value of a field whose tag has been read (f->wire set). The cursor
 * must have no error. Inlined where the wire type is a constant. */
static inline void px_pb_value(px_wire *w, px_pb_field *f)
{
    switch (f->wire) {
    case PX_PB_VARINT:
        f->value = px_pb_varint(w, 10);
        break;
    case PX_PB_FIXED64:
        f->value = px_wire_u32le(w);
        f->value |= (uint64_t)px_wire_u32le(w) << 32;
        break;
    case PX_PB_BYTES:
        f->len = (uint32_t)px_pb_varint(w, 5);
        f->data = px_wire_bytes(w, f->len);
        break;
    case PX_PB_FIXED32:
        f->value = px_wire_u32le(w);
        break;
    default: /* groups (3, 4) and 6, 7: protobuf-c refuses them */
        px_wire_fail(w, PX_ERR_MALFORMED);
    }
}

/* The next field; false at the end or on error (px_wire_err tells). */
static bool px_pb_next(px_wire *w, px_pb_field *f)
{
    if (w->err || w->pos == w->end)
        return false;
    /* protobuf-c: a tag takes at most 5 bytes, and a first byte without
     * field bits is invalid. */
    if ((*w->pos & 0xf8) == 0) {
        px_wire_fail(w, PX_ERR_MALFORMED);
        return false;
    }
    uint64_t tag = px_pb_varint(w, 5);
    f->num = (uint32_t)(tag >> 3);
    f->wire = (uint8_t)(tag & 7);
    if (w->err)
        return false;
    px_pb_value(w, f);
    return w->err == PX_OK;
}

/* A field's tag as senders write it: one byte, for field numbers up to 15.
 * protobuf-c also takes longer encodings of the same tag; those go the
 * general way (px_pb_next()). */
#define PX_PB_TAG(num, wire) (((num) << 3) | (wire))

/* Wire type each known field must have; -1: unknown field (skipped). */
static const int8_t px_pb_msg_wire[] = {
    [0] = -1,
    [1] = PX_PB_VARINT,   /* type (required) */
    [2] = PX_PB_VARINT,   /* socket_family */
    [3] = PX_PB_VARINT,   /* socket_protocol */
    [4] = PX_PB_BYTES,    /* query_address */
    [5] = PX_PB_BYTES,    /* response_address */
    [6] = PX_PB_VARINT,   /* query_port */
    [7] = PX_PB_VARINT,   /* response_port */
    [8] = PX_PB_VARINT,   /* query_time_sec */
    [9] = PX_PB_FIXED32,  /* query_time_nsec */
    [10] = PX_PB_BYTES,   /* query_message */
    [11] = PX_PB_BYTES,   /* query_zone */
    [12] = PX_PB_VARINT,  /* response_time_sec */
    [13] = PX_PB_FIXED32, /* response_time_nsec */
    [14] = PX_PB_BYTES,   /* response_message */
};

static void px_pb_bytes(px_dnstap_bytes *b, const px_pb_field *f)
{
    b->has = true;
    b->data = f->data;
    b->len = f->len;
}

/* Stores field num (of the right wire type) of a dnstap.Message. Always
 * inlined: called with a constant num, the switch folds away. */
static inline __attribute__((always_inline)) void
px_dnstap_msg_field(px_dnstap_msg *m, uint32_t num, const px_pb_field *f, bool *has_type)
{
    switch (num) {
    case 1:
        m->type = (uint32_t)f->value;
        *has_type = true;
        break;
    case 4:
        px_pb_bytes(&m->query_address, f);
        break;
    case 5:
        px_pb_bytes(&m->response_address, f);
        break;
    case 6:
        m->has_query_port = true;
        m->query_port = (uint32_t)f->value;
        break;
    case 7:
        m->has_response_port = true;
        m->response_port = (uint32_t)f->value;
        break;
    case 8:
        m->has_query_time_sec = true;
        m->query_time_sec = f->value;
        break;
    case 9:
        m->has_query_time_nsec = true;
        m->query_time_nsec = (uint32_t)f->value;
        break;
    case 11:
        px_pb_bytes(&m->query_zone, f);
        break;
    case 12:
        m->has_response_time_sec = true;
        m->response_time_sec = f->value;
        break;
    case 13:
        m->has_response_time_nsec = true;
        m->response_time_nsec = (uint32_t)f->value;
        break;
    case 14:
        px_pb_bytes(&m->response_message, f);
        break;
    default: /* socket family/protocol, query_message: checked, unused */
        break;
    }
}

/* Any field, the general way: unknown fields are skipped, a known field
 * with another wire type is an error. */
static px_err px_dnstap_msg_general(px_wire *w, px_dnstap_msg *m, bool *has_type)
{
    px_pb_field f = {0};
    if (!px_pb_next(w, &f))
        return px_wire_err(w) ? PX_ERR_MALFORMED : PX_OK;
    if (f.num >= sizeof(px_pb_msg_wire) || px_pb_msg_wire[f.num] < 0)
        return PX_OK;
    if (f.wire != px_pb_msg_wire[f.num])
        return PX_ERR_MALFORMED;
    px_dnstap_msg_field(m, f.num, &f, has_type);
    return PX_OK;
}

/* Serialisers write fields in field-number order: each known field is
 * first looked for where it would be, with one compare and no dispatch. */
#define PX_DNSTAP_MSG_TRY(num, wt)                                                                 \
    if (w.pos != w.end && *w.pos == PX_PB_TAG(num, wt)) {                                          \
        w.pos++;                                                                                   \
        f.wire = (wt);                                                                             \
        px_pb_value(&w, &f);                                                                       \
        if (w.err)                                                                                 \
            return PX_ERR_MALFORMED;                                                               \
        px_dnstap_msg_field(m, (num), &f, &has_type);                                              \
    }

/* One dnstap.Message into the zeroed message fields of m. */
static px_err px_dnstap_parse_message(const uint8_t *data, size_t len, px_dnstap_msg *m)
{
    px_wire w;
    px_wire_init(&w, data, len);
    px_pb_field f = {0};
    bool has_type = false;
    PX_DNSTAP_MSG_TRY(1, PX_PB_VARINT)
    PX_DNSTAP_MSG_TRY(2, PX_PB_VARINT)
    PX_DNSTAP_MSG_TRY(3, PX_PB_VARINT)
    PX_DNSTAP_MSG_TRY(4, PX_PB_BYTES)
    PX_DNSTAP_MSG_TRY(5, PX_PB_BYTES)
    PX_DNSTAP_MSG_TRY(6, PX_PB_VARINT)
    PX_DNSTAP_MSG_TRY(7, PX_PB_VARINT)
    PX_DNSTAP_MSG_TRY(8, PX_PB_VARINT)
    PX_DNSTAP_MSG_TRY(9, PX_PB_FIXED32)
    PX_DNSTAP_MSG_TRY(10, PX_PB_BYTES)
    PX_DNSTAP_MSG_TRY(11, PX_PB_BYTES)
    PX_DNSTAP_MSG_TRY(12, PX_PB_VARINT)
    PX_DNSTAP_MSG_TRY(13, PX_PB_FIXED32)
    PX_DNSTAP_MSG_TRY(14, PX_PB_BYTES)
    /* Whatever is left (any order, unknown fields, long tags), the
     * general way. Only a copy of the cursor is passed on, so that w
     * itself stays in registers above. */
    while (w.err == PX_OK && w.pos != w.end) {
        px_wire g = w;
        if (px_dnstap_msg_general(&g, m, &has_type) != PX_OK)
            return PX_ERR_MALFORMED;
        w = g;
    }
    if (px_wire_err(&w) || !has_type)
        return PX_ERR_MALFORMED;
    return PX_OK;
}

/* protobuf-c's merge of a repeated message field: a field of the later
 * message wins, unless the later lacks it (bytes: lacks or has it empty). */
static void px_dnstap_merge_bytes(px_dnstap_bytes *dst, const px_dnstap_bytes *later)
{
    bool keep = dst->has && dst->len > 0 && !(later->has && later->len > 0);
    if (!keep)
        *dst = *later;
}

#define PX_DNSTAP_MERGE(m, later, field)                                                           \
    do {                                                                                           \
        if ((later)->has_##field) {                                                                \
            (m)->has_##field = true;                                                               \
            (m)->field = (later)->field;                                                           \
        }                                                                                          \
    } while (0)

static void px_dnstap_merge(px_dnstap_msg *m, const px_dnstap_msg *later)
{
    m->type = later->type;
    px_dnstap_merge_bytes(&m->query_address, &later->query_address);
    px_dnstap_merge_bytes(&m->response_address, &later->response_address);
    px_dnstap_merge_bytes(&m->query_zone, &later->query_zone);
    px_dnstap_merge_bytes(&m->response_message, &later->response_message);
    PX_DNSTAP_MERGE(m, later, query_port);
    PX_DNSTAP_MERGE(m, later, response_port);
    PX_DNSTAP_MERGE(m, later, query_time_sec);
    PX_DNSTAP_MERGE(m, later, query_time_nsec);
    PX_DNSTAP_MERGE(m, later, response_time_sec);
    PX_DNSTAP_MERGE(m, later, response_time_nsec);
}

/* Dnstap.message; senders write it once, but protobuf merges repeats. */
static px_err px_dnstap_parse_message_field(const uint8_t *data, size_t len, px_dnstap_msg *m)
{
    if (!m->has_message) {
        m->has_message = true;
        return px_dnstap_parse_message(data, len, m);
    }
    px_dnstap_msg later;
    memset(&later, 0, sizeof(later));
    if (px_dnstap_parse_message(data, len, &later) != PX_OK)
        return PX_ERR_MALFORMED;
    px_dnstap_merge(m, &later);
    return PX_OK;
}

/* One field of a dnstap.Dnstap (the general way). */
static px_err px_dnstap_field(const px_pb_field *f, px_dnstap_msg *m, bool *has_type)
{
    switch (f->num) {
    case 1: /* identity */
    case 2: /* version */
    case 3: /* extra */
        return f->wire == PX_PB_BYTES ? PX_OK : PX_ERR_MALFORMED;
    case 14: /* message */
        if (f->wire != PX_PB_BYTES)
            return PX_ERR_MALFORMED;
        return px_dnstap_parse_message_field(f->data, f->len, m);
    case 15: /* type (required) */
        if (f->wire != PX_PB_VARINT)
            return PX_ERR_MALFORMED;
        m->dnstap_type = (uint32_t)f->value;
        *has_type = true;
        return PX_OK;
    default:
        return PX_OK;
    }
}

/* A Dnstap bytes field that is checked but unused, in its place. */
#define PX_DNSTAP_SKIP_TRY(num)                                                                    \
    if (w.pos != w.end && *w.pos == PX_PB_TAG(num, PX_PB_BYTES)) {                                 \
        w.pos++;                                                                                   \
        f.wire = PX_PB_BYTES;                                                                      \
        px_pb_value(&w, &f);                                                                       \
        if (w.err)                                                                                 \
            return PX_ERR_MALFORMED;                                                               \
    }

px_err px_dnstap_parse(const uint8_t *frame, size_t len, px_dnstap_msg *m)
{
    memset(m, 0, sizeof(*m));
    px_wire w;
    px_wire_init(&w, frame, len);
    px_pb_field f = {0};
    bool has_type = false;
    /* In field order first (see PX_DNSTAP_MSG_TRY): identity, version,
     * extra (checked, unused), message, type. */
    PX_DNSTAP_SKIP_TRY(1)
    PX_DNSTAP_SKIP_TRY(2)
    PX_DNSTAP_SKIP_TRY(3)
    if (w.pos != w.end && *w.pos == PX_PB_TAG(14, PX_PB_BYTES)) {
        w.pos++;
        f.wire = PX_PB_BYTES;
        px_pb_value(&w, &f);
        if (w.err || px_dnstap_parse_message_field(f.data, f.len, m) != PX_OK)
            return PX_ERR_MALFORMED;
    }
    if (w.pos != w.end && *w.pos == PX_PB_TAG(15, PX_PB_VARINT)) {
        w.pos++;
        m->dnstap_type = (uint32_t)px_pb_varint(&w, 10);
        has_type = true;
    }
    /* The rest, in any order, the general way (on a copy of the cursor). */
    while (w.err == PX_OK && w.pos != w.end) {
        px_wire g = w;
        px_pb_field gf = {0};
        if (px_pb_next(&g, &gf) && px_dnstap_field(&gf, m, &has_type) != PX_OK)
            return PX_ERR_MALFORMED;
        w = g; /* on error, the loop ends */
    }
    if (px_wire_err(&w) || !has_type)
        return PX_ERR_MALFORMED;
    return PX_OK;
}

/* ---- metrics -------------------------------------------------------------- */

#define PX_DT_LABEL "{input=\"dnstap\"}"
#define PX_DT_MALFORMED(reason)                                                                    \
    "pdnsx_input_malformed_total{input=\"dnstap\",reason=\"" reason "\"}"

/* Why the receiver closed a connection:
 * pdnsx_input_connections_closed_total{input="dnstap",reason=...}. */
typedef enum px_dt_close {
    PX_DT_CLOSE_HANDSHAKE,    /* no whole handshake within handshake_ms */
    PX_DT_CLOSE_IDLE,         /* nothing received for idle_ms */
    PX_DT_CLOSE_EVICTED,      /* every slot taken: room made for a new sender */
    PX_DT_CLOSE_OVERSIZE,     /* a frame over the bound */
    PX_DT_CLOSE_CONTENT_TYPE, /* the sender does not send dnstap */
    PX_DT_CLOSE_CONTROL,      /* an unexpected or malformed control frame */
    PX_DT_CLOSE__COUNT,
} px_dt_close;

static const char *const px_dt_close_names[PX_DT_CLOSE__COUNT] = {
    [PX_DT_CLOSE_HANDSHAKE] = "handshake_timeout",
    [PX_DT_CLOSE_IDLE] = "idle_timeout",
    [PX_DT_CLOSE_EVICTED] = "evicted",
    [PX_DT_CLOSE_OVERSIZE] = "oversize",
    [PX_DT_CLOSE_CONTENT_TYPE] = "content_type",
    [PX_DT_CLOSE_CONTROL] = "control",
};

typedef struct px_dt_metrics {
    px_metric *frames, *events, *filtered, *connections, *rejected;
    px_metric *protobuf, *no_message, *unknown_type, *no_response, *no_time;
    px_metric *oversize, *content_type, *control, *truncated, *file;
    px_metric *closed[PX_DT_CLOSE__COUNT];
    /* dnstap-file damage */
    px_metric *file_oversize, *file_control, *file_truncated, *file_read, *file_skipped;
} px_dt_metrics;

static px_dt_metrics px_dt_m;

static void px_dt_metrics_init(void)
{
    static const char help_malformed[] = "Input frames or packets skipped as malformed";
    px_dt_m.frames = px_metric_counter("pdnsx_input_frames_total" PX_DT_LABEL,
                                       "Frames or packets read by inputs");
    px_dt_m.events =
        px_metric_counter("pdnsx_input_events_total" PX_DT_LABEL, "DNS responses inputs passed on");
    px_dt_m.filtered = px_metric_counter("pdnsx_input_filtered_total" PX_DT_LABEL,
                                         "Input messages of types not selected");
    px_dt_m.connections = px_metric_counter("pdnsx_input_connections_total" PX_DT_LABEL,
                                            "Connections accepted by inputs");
    px_dt_m.rejected = px_metric_counter("pdnsx_input_connections_rejected_total" PX_DT_LABEL,
                                         "Connections refused (no memory for a receiver)");
    for (int i = 0; i < PX_DT_CLOSE__COUNT; i++) {
        char name[128];
        snprintf(name, sizeof(name),
                 "pdnsx_input_connections_closed_total{input=\"dnstap\",reason=\"%s\"}",
                 px_dt_close_names[i]);
        px_dt_m.closed[i] = px_metric_counter(name, "Connections the receiver closed, by reason");
    }
    px_dt_m.protobuf = px_metric_counter(PX_DT_MALFORMED("protobuf"), help_malformed);
    px_dt_m.no_message = px_metric_counter(PX_DT_MALFORMED("no_message"), help_malformed);
    px_dt_m.unknown_type = px_metric_counter(PX_DT_MALFORMED("unknown_type"), help_malformed);
    px_dt_m.no_response = px_metric_counter(PX_DT_MALFORMED("no_response"), help_malformed);
    px_dt_m.no_time = px_metric_counter(PX_DT_MALFORMED("no_time"), help_malformed);
    px_dt_m.oversize = px_metric_counter(PX_DT_MALFORMED("oversize"), help_malformed);
    px_dt_m.content_type = px_metric_counter(PX_DT_MALFORMED("content_type"), help_malformed);
    px_dt_m.control = px_metric_counter(PX_DT_MALFORMED("control"), help_malformed);
    px_dt_m.truncated = px_metric_counter(PX_DT_MALFORMED("truncated"), help_malformed);
    px_dt_m.file = px_metric_counter(PX_DT_MALFORMED("file"), help_malformed);
#define PX_DT_FILE_ERR(reason)                                                                     \
    "pdnsx_input_file_errors_total{input=\"dnstap\",reason=\"" reason "\"}"
    static const char file_help[] = "Damage met in input files";
    px_dt_m.file_oversize = px_metric_counter(PX_DT_FILE_ERR("oversize"), file_help);
    px_dt_m.file_control = px_metric_counter(PX_DT_FILE_ERR("bad_control"), file_help);
    px_dt_m.file_truncated = px_metric_counter(PX_DT_FILE_ERR("truncated"), file_help);
    px_dt_m.file_read = px_metric_counter(PX_DT_FILE_ERR("read_error"), file_help);
    px_dt_m.file_skipped = px_metric_counter("pdnsx_input_skipped_bytes_total" PX_DT_LABEL,
                                             "Bytes of damaged input files passed over unread");
}

static void px_dt_metrics_once(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, px_dt_metrics_init);
}

/* ---- frame decoding ----------------------------------------------------- */

/* dnstap.proto values (Dnstap.Type, Message.Type). */
enum {
    PX_DT_TYPE_MESSAGE = 1,
    PX_DT_MSG_FIRST = 1, /* AUTH_QUERY */
    PX_DT_MSG_AUTH_RESPONSE = 2,
    PX_DT_MSG_CLIENT_RESPONSE = 6,
    PX_DT_MSG_UPDATE_RESPONSE = 14, /* the last */
};

struct px_dnstap_decoder {
    uint32_t types;
};

px_dnstap_decoder *px_dnstap_decoder_create(uint32_t types)
{
    px_dt_metrics_once();
    px_dnstap_decoder *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->types = types ? types : PX_DT_ALL_RESPONSES;
    return d;
}

void px_dnstap_decoder_destroy(px_dnstap_decoder *d)
{
    free(d);
}

static void px_dt_addr(px_addr *a, const px_dnstap_bytes *b, bool has_port, uint32_t port)
{
    memset(a, 0, sizeof(*a));
    if (!b->has || (b->len != 4 && b->len != 16))
        return;
    a->family = b->len == 4 ? 4 : 6;
    memcpy(a->bytes, b->data, b->len);
    a->port = has_port && port <= UINT16_MAX ? (uint16_t)port : 0;
}

/* Whose address is the client: for answers given to a querying party
 * (a stub asking the resolver, anyone asking an authoritative server, an
 * updater) it is query_address. For answers the resolver or a tool itself
 * received (from upstream servers) the querier is not a client: no client,
 * and the answering server is response_address. */
static bool px_dt_type_has_client(uint32_t t)
{
    return t == PX_DT_MSG_CLIENT_RESPONSE || t == PX_DT_MSG_AUTH_RESPONSE ||
           t == PX_DT_MSG_UPDATE_RESPONSE;
}

static px_err px_dt_malformed(px_metric *m, const char *why, const char **reason)
{
    px_metric_inc(m);
    if (reason)
        *reason = why;
    return PX_ERR_MALFORMED;
}

static px_err px_dt_event(const px_dnstap_msg *m, uint32_t types, px_dns_event *ev,
                          const char **reason)
{
    types = types ? types : PX_DT_ALL_RESPONSES;
    if (m->dnstap_type != PX_DT_TYPE_MESSAGE || !m->has_message)
        return px_dt_malformed(px_dt_m.no_message, "no_message", reason);
    if (m->type < PX_DT_MSG_FIRST || m->type > PX_DT_MSG_UPDATE_RESPONSE)
        return px_dt_malformed(px_dt_m.unknown_type, "unknown_type", reason);
    if (!((1u << m->type) & PX_DT_ALL_RESPONSES & types)) {
        px_metric_inc(px_dt_m.filtered);
        return PX_ERR_NOTFOUND;
    }
    if (!m->response_message.has || m->response_message.len == 0)
        return px_dt_malformed(px_dt_m.no_response, "no_response", reason);

    uint64_t sec;
    uint32_t nsec;
    if (m->has_response_time_sec) {
        sec = m->response_time_sec;
        nsec = m->has_response_time_nsec ? m->response_time_nsec : 0;
    } else if (m->has_query_time_sec) {
        sec = m->query_time_sec;
        nsec = m->has_query_time_nsec ? m->query_time_nsec : 0;
    } else {
        return px_dt_malformed(px_dt_m.no_time, "no_time", reason);
    }
    if (sec > INT64_MAX || nsec > 999999999)
        return px_dt_malformed(px_dt_m.no_time, "no_time", reason);

    memset(ev, 0, sizeof(*ev));
    ev->msg = m->response_message.data;
    ev->len = m->response_message.len;
    ev->time_sec = (int64_t)sec;
    ev->time_nsec = nsec;
    if (px_dt_type_has_client(m->type))
        px_dt_addr(&ev->client, &m->query_address, m->has_query_port, m->query_port);
    else
        px_dt_addr(&ev->server, &m->response_address, m->has_response_port, m->response_port);
    if (m->query_zone.has && m->query_zone.len > 0) {
        ev->query_zone = m->query_zone.data;
        ev->query_zone_len = m->query_zone.len;
    }
    return PX_OK;
}

/* px_dnstap_decode() without the frame and event counters (the caller
 * counts: the file input adds them up per batch). */
static px_err px_dt_decode(px_dnstap_decoder *d, const uint8_t *frame, size_t len, px_event_fn sink,
                           void *ctx, const char **reason)
{
    px_dnstap_msg m;
    if (px_dnstap_parse(frame, len, &m) != PX_OK)
        return px_dt_malformed(px_dt_m.protobuf, "protobuf", reason);
    px_dns_event ev;
    px_err err = px_dt_event(&m, d->types, &ev, reason);
    if (err == PX_OK)
        sink(ctx, &ev);
    return err;
}

px_err px_dnstap_decode(px_dnstap_decoder *d, const uint8_t *frame, size_t len, px_event_fn sink,
                        void *ctx, const char **reason)
{
    if (reason)
        *reason = NULL;
    px_metric_inc(px_dt_m.frames);
    px_err err = px_dt_decode(d, frame, len, sink, ctx, reason);
    if (err == PX_OK)
        px_metric_inc(px_dt_m.events);
    return err;
}

/* ---- the input ---------------------------------------------------------- */

enum {
    PX_DT_READS_PER_WAKE = 8,
    /* Log lines about connections: a sender (or a flood of them) could
     * otherwise write one per connection. Counters count them all. */
    PX_DT_LOG_BURST = 10,
    PX_DT_LOG_INTERVAL_MS = 60 * 1000,
};

typedef struct px_dt_conn {
    int fd;
    px_fstrm_recv *fr;
    bool closing;     /* STOP seen: send FINISH, then close */
    int64_t phase_ms; /* accepted at; STOP seen at, once closing */
    int64_t rx_ms;    /* bytes last received at */
    uint64_t seq;     /* accept order: ties of the clock go to the older */
} px_dt_conn;

typedef struct px_dt_input {
    px_input_type type;
    px_event_fn sink;
    void *ctx;
    px_dnstap_decoder *dec;
    int fd;                   /* dnstap-file, -1 for the others */
    char *file_path;          /* dnstap-file: for reports */
    px_rbuf *rb;              /* dnstap-file */
    struct fstrm_control *fc; /* dnstap-file: control frame decoder */
    int lfd;                  /* listening socket, -1 for files */
    char *unix_path;          /* dnstap-unix: removed at destroy */
    int wake[2];              /* self-pipe: px_input_stop() wakes poll() */
    atomic_bool stopping;
    /* dnstap-unix, dnstap-tcp: the senders' slots, conns[0..nconns) in
     * use, and the poll set (wake pipe, listener, then conns). */
    px_dt_conn *conns;
    struct pollfd *pfd;
    size_t nconns, max_conns;
    uint64_t accepted; /* connections accepted so far (px_dt_conn.seq) */
    int64_t handshake_ms, idle_ms;
    char name[160]; /* "dnstap-unix PATH", "dnstap-tcp LISTEN": for log lines */
    void (*log_fn)(void *ctx, int level, const char *msg);
    void *log_ctx;
    px_ratelimit log_rl;
} px_dt_input;

static void px_dt_input_destroy(void *impl);

static void *px_dt_fail(px_dt_input *in, char *errbuf, size_t errlen, const char *fmt,
                        const char *arg, int err)
{
    if (errbuf && errlen)
        snprintf(errbuf, errlen, fmt, arg, err ? strerror(err) : "");
    px_dt_input_destroy(in);
    return NULL;
}

/* dnstap-file. libfstrm's file reader copied every frame through stdio
 * (three library calls and a copy per frame); the file is read here in
 * large blocks and split in place. Files are accepted and refused as that
 * reader did: a START control frame of our content type first (libfstrm
 * decodes control frames), data frames up to PX_FSTRM_DATA_MAX, other
 * control frames skipped, STOP the end. */

/* The frame at the read position; PX_OK, PX_ERR_EOF (the file ends before
 * the frame does), PX_ERR_PROTO (length over the bound), PX_ERR_IO or
 * PX_ERR_NOMEM. It stays valid until px_rbuf_fill(). */
static px_err px_dt_file_frame(px_rbuf *rb, px_fstrm_frame *f)
{
    for (;;) {
        size_t need = 0;
        px_err err =
            px_fstrm_frame_next(px_rbuf_data(rb), px_rbuf_avail(rb), PX_FSTRM_DATA_MAX, f, &need);
        if (err != PX_ERR_AGAIN)
            return err;
        /* need 0: the header itself is incomplete */
        err = px_rbuf_fill(rb, need ? need : px_rbuf_avail(rb) + 1);
        if (err)
            return err;
    }
}

/* A control frame's type, 0 if libfstrm does not decode it. */
static uint32_t px_dt_file_control(px_dt_input *in, const px_fstrm_frame *f)
{
    fstrm_control_type type;
    if (fstrm_control_decode(in->fc, f->data, f->len, 0) != fstrm_res_success ||
        fstrm_control_get_type(in->fc, &type) != fstrm_res_success)
        return 0;
    return (uint32_t)type;
}

static bool px_dt_file_start(px_dt_input *in)
{
    px_fstrm_frame f;
    if (px_dt_file_frame(in->rb, &f) != PX_OK || !f.control ||
        px_dt_file_control(in, &f) != PX_FSTRM_CONTROL_START)
        return false;
    if (fstrm_control_match_field_content_type(in->fc, (const uint8_t *)PX_DNSTAP_CONTENT_TYPE,
                                               strlen(PX_DNSTAP_CONTENT_TYPE)) != fstrm_res_success)
        return false;
    px_rbuf_consume(in->rb, f.size);
    return true;
}

static void *px_dt_open_file(px_dt_input *in, const char *path, char *errbuf, size_t errlen)
{
    if (!path || !*path)
        return px_dt_fail(in, errbuf, errlen, "dnstap-file: no path%s", "", 0);
    in->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (in->fd < 0)
        return px_dt_fail(in, errbuf, errlen, "dnstap-file %s: %s", path, errno);
    in->rb = px_rbuf_create(in->fd, 0);
    in->fc = fstrm_control_init();
    in->file_path = strdup(path);
    if (!in->rb || !in->fc || !in->file_path)
        return px_dt_fail(in, errbuf, errlen, "dnstap-file %s: %s", path, ENOMEM);
    if (!px_dt_file_start(in))
        return px_dt_fail(in, errbuf, errlen,
                          "dnstap-file %s: not a Frame Streams file of content type "
                          "\"" PX_DNSTAP_CONTENT_TYPE "\"%s",
                          path, 0);
    return in;
}

/* Frees a half-opened input whose error message is already in errbuf. */
static void *px_dt_destroyed(px_dt_input *in)
{
    px_dt_input_destroy(in);
    return NULL;
}

static void *px_dt_open_unix(px_dt_input *in, const char *path, char *errbuf, size_t errlen)
{
    px_listen l;
    /* The resolver connects as its own user; it shares our group. */
    if (px_listen_unix("dnstap-unix", path, 0660, 16, PX_LISTEN_NONBLOCK, &l, errbuf, errlen) !=
        PX_OK)
        return px_dt_destroyed(in);
    in->lfd = l.fd;
    in->unix_path = strdup(path);
    if (!in->unix_path) {
        unlink(path);
        return px_dt_fail(in, errbuf, errlen, "dnstap-unix %s: %s", path, ENOMEM);
    }
    return in;
}

/* An IPv6 address listens on IPv6 only (px_listen_tcp), as metrics.listen
 * does: IPv4 senders need an input of their own (docs/INTERFACE.md). */
static void *px_dt_open_tcp(px_dt_input *in, const char *listen_on, char *errbuf, size_t errlen)
{
    px_listen l;
    if (px_listen_tcp("dnstap-tcp", listen_on, 16, PX_LISTEN_NONBLOCK, &l, errbuf, errlen) != PX_OK)
        return px_dt_destroyed(in);
    in->lfd = l.fd;
    /* The port is known from this line only when the setting said port 0
     * (tests and operators read it). */
    const char *colon = strrchr(listen_on, ':');
    px_input_logf(in->log_fn, in->log_ctx, 6, "dnstap-tcp: listening on %.*s:%u",
                  (int)(colon - listen_on), listen_on, (unsigned)l.port);
    return in;
}

/* The slots, deadlines and logger of a socket input. False on no memory. */
static bool px_dt_sockets_init(px_dt_input *in, const px_input_conf *conf, const char *where)
{
    in->max_conns =
        conf->max_connections ? conf->max_connections : PX_DNSTAP_MAX_CONNECTIONS_DEFAULT;
    in->handshake_ms = conf->handshake_ms ? conf->handshake_ms : PX_DNSTAP_HANDSHAKE_MS_DEFAULT;
    in->idle_ms =
        conf->idle_ms ? (int64_t)conf->idle_ms : (int64_t)PX_DNSTAP_IDLE_SECONDS_DEFAULT * 1000;
    in->log_fn = conf->log_fn;
    in->log_ctx = conf->log_ctx;
    px_ratelimit_init(&in->log_rl, PX_DT_LOG_BURST, PX_DT_LOG_INTERVAL_MS);
    snprintf(in->name, sizeof(in->name), "%s %s",
             conf->type == PX_INPUT_DNSTAP_UNIX ? "dnstap-unix" : "dnstap-tcp", where ? where : "");
    in->conns = calloc(in->max_conns, sizeof(*in->conns));
    in->pfd = calloc(2 + in->max_conns, sizeof(*in->pfd));
    return in->conns && in->pfd;
}

void *px_dnstap_input_open(const px_input_conf *conf, px_event_fn sink, void *ctx, char *errbuf,
                           size_t errlen)
{
    px_dt_input *in = calloc(1, sizeof(*in));
    if (!in)
        return px_dt_fail(NULL, errbuf, errlen, "dnstap: %s%s", strerror(ENOMEM), 0);
    in->type = conf->type;
    in->sink = sink;
    in->ctx = ctx;
    in->log_fn = conf->log_fn; /* dnstap-file reports damage through it too */
    in->log_ctx = conf->log_ctx;
    in->lfd = -1;
    in->fd = -1;
    in->wake[0] = in->wake[1] = -1;
    in->dec = px_dnstap_decoder_create(conf->dnstap_types);
    if (!in->dec || pipe2(in->wake, O_NONBLOCK | O_CLOEXEC) != 0)
        return px_dt_fail(in, errbuf, errlen, "dnstap: %s%s", strerror(ENOMEM), 0);
    switch (conf->type) {
    case PX_INPUT_DNSTAP_FILE:
        return px_dt_open_file(in, conf->path, errbuf, errlen);
    case PX_INPUT_DNSTAP_UNIX:
        if (!px_dt_sockets_init(in, conf, conf->path))
            return px_dt_fail(in, errbuf, errlen, "dnstap: %s%s", strerror(ENOMEM), 0);
        return px_dt_open_unix(in, conf->path, errbuf, errlen);
    case PX_INPUT_DNSTAP_TCP:
        if (!px_dt_sockets_init(in, conf, conf->listen))
            return px_dt_fail(in, errbuf, errlen, "dnstap: %s%s", strerror(ENOMEM), 0);
        return px_dt_open_tcp(in, conf->listen, errbuf, errlen);
    default:
        return px_dt_fail(in, errbuf, errlen, "dnstap: not a dnstap input type%s%s", "", 0);
    }
}

static void px_dt_on_frame(void *ctx, const uint8_t *data, size_t len)
{
    px_dt_input *in = ctx;
    (void)px_dnstap_decode(in->dec, data, len, in->sink, in->ctx, NULL);
}

enum { PX_DT_FILE_BATCH = 1024 }; /* frames between stop checks */

/* The data frames that lie whole in the buffer, up to a batch, straight to
 * the decoder: no call per frame to split it, counters added once. Stops
 * at anything else (a control frame, a frame cut by the buffer's end, a
 * length over the bound), which px_dt_run_file() reads the general way.
 * Returns the number of frames decoded. */
static size_t px_dt_file_batch(px_dt_input *in)
{
    px_wire w;
    px_wire_init(&w, px_rbuf_data(in->rb), px_rbuf_avail(in->rb));
    size_t n = 0, events = 0;
    const uint8_t *done = w.pos;
    while (n < PX_DT_FILE_BATCH) {
        uint32_t len = px_wire_u32(&w);
        const uint8_t *data = len > 0 && len <= PX_FSTRM_DATA_MAX ? px_wire_bytes(&w, len) : NULL;
        if (!data)
            break;
        events += px_dt_decode(in->dec, data, len, in->sink, in->ctx, NULL) == PX_OK;
        n++;
        done = w.pos;
    }
    px_rbuf_consume(in->rb, (size_t)(done - px_rbuf_data(in->rb)));
    px_metric_add(px_dt_m.frames, n);
    px_metric_add(px_dt_m.events, events);
    return n;
}

/* Why the frame at the read position could not be read (err from
 * px_dt_file_frame(), or PX_ERR_MALFORMED for a control frame libfstrm
 * does not decode), into why; counts it. Returns what the input returns:
 * PX_ERR_TRUNC, the file ended inside a frame or without STOP, or
 * PX_ERR_MALFORMED. */
static px_err px_dt_file_why(px_dt_input *in, px_err err, char *why, size_t len)
{
    const uint8_t *p = px_rbuf_data(in->rb);
    size_t have = px_rbuf_avail(in->rb);
    px_wire w;
    px_wire_init(&w, p, have);
    uint32_t flen = px_wire_u32(&w);
    uint32_t clen = flen == 0 ? px_wire_u32(&w) : 0;
    switch (err) {
    case PX_ERR_EOF:
        /* Only a STOP frame is a proper end; a file cut short (or a
         * writer killed) ends without one. */
        px_metric_inc(px_dt_m.truncated);
        px_metric_inc(px_dt_m.file_truncated);
        if (have == 0)
            snprintf(why, len, "the file ends without a STOP frame");
        else
            snprintf(why, len, "the file ends %zu bytes into a frame%s", have,
                     have < (flen ? 4u : 8u) ? " header" : "");
        return PX_ERR_TRUNC;
    case PX_ERR_PROTO:
        px_metric_inc(px_dt_m.file);
        px_metric_inc(px_dt_m.file_oversize);
        if (flen == 0)
            snprintf(why, len, "control frame length %u is over the maximum of %d", clen,
                     PX_FSTRM_CONTROL_MAX);
        else
            snprintf(why, len, "frame length %u is over the maximum of %d", flen,
                     PX_FSTRM_DATA_MAX);
        return PX_ERR_MALFORMED;
    case PX_ERR_MALFORMED:
        px_metric_inc(px_dt_m.file);
        px_metric_inc(px_dt_m.file_control);
        snprintf(why, len, "a %u-byte control frame that does not decode", clen);
        return PX_ERR_MALFORMED;
    default:
        px_metric_inc(px_dt_m.file);
        px_metric_inc(px_dt_m.file_read);
        snprintf(why, len, "read error: %s", err == PX_ERR_IO ? strerror(errno) : px_strerror(err));
        return PX_ERR_MALFORMED;
    }
}

/* The frame at the read position cannot be read: say where and why. A
 * Frame Streams file has no marker to find the next frame by (a frame is
 * its length and bytes), so reading cannot go on: the rest is counted as
 * skipped. */
static px_err px_dt_file_damaged(px_dt_input *in, px_err err)
{
    uint64_t off = px_rbuf_offset(in->rb);
    char why[160];
    px_err ret = px_dt_file_why(in, err, why, sizeof(why));
    px_input_logf(in->log_fn, in->log_ctx, 3, "%s: offset %" PRIu64 ": %s", in->file_path, off,
                  why);
    struct stat st;
    if (fstat(in->fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > off) {
        uint64_t rest = (uint64_t)st.st_size - off;
        px_metric_add(px_dt_m.file_skipped, rest);
        px_input_logf(in->log_fn, in->log_ctx, 3,
                      "%s: Frame Streams has no marker to find the next frame by: the last "
                      "%" PRIu64 " bytes of the file are not read",
                      in->file_path, rest);
    }
    return ret;
}

static px_err px_dt_run_file(px_dt_input *in)
{
    while (!atomic_load_explicit(&in->stopping, memory_order_relaxed)) {
        if (px_dt_file_batch(in) == PX_DT_FILE_BATCH)
            continue;
        px_fstrm_frame f;
        px_err err = px_dt_file_frame(in->rb, &f);
        if (err != PX_OK)
            return px_dt_file_damaged(in, err);
        if (!f.control) {
            px_dt_on_frame(in, f.data, f.len);
            px_rbuf_consume(in->rb, f.size);
            continue;
        }
        uint32_t type = px_dt_file_control(in, &f);
        if (type == 0)
            return px_dt_file_damaged(in, PX_ERR_MALFORMED);
        if (type == PX_FSTRM_CONTROL_STOP)
            return PX_OK;
        px_rbuf_consume(in->rb, f.size);
    }
    return PX_OK;
}

static void px_dt_conn_close(px_dt_conn *c)
{
    close(c->fd);
    c->fd = -1;
}

/* A line about connections, through the daemon's logger, at most
 * PX_DT_LOG_BURST a minute per input. Never a sender's address: a unix
 * socket has none, and over TCP it is the resolver's, which the operator
 * knows (the counters say how often). */
static void px_dt_log(px_dt_input *in, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void px_dt_log(px_dt_input *in, int level, const char *fmt, ...)
{
    uint64_t held;
    if (!in->log_fn || !px_ratelimit_allow(&in->log_rl, px_clock_mono_ms(), &held))
        return;
    char msg[512];
    int n = snprintf(msg, sizeof(msg), "%s: ", in->name);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(msg))
        n += vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    if (held && n > 0 && (size_t)n < sizeof(msg))
        snprintf(msg + n, sizeof(msg) - (size_t)n,
                 " (%llu more connection events not logged in the last minute; "
                 "pdnsx_input_connections_closed_total counts them all)",
                 (unsigned long long)held);
    in->log_fn(in->log_ctx, level, msg);
}

/* Still shaking hands (no START yet), or finishing (STOP seen): the
 * handshake deadline applies, and such a connection is the first to make
 * room for a new one. */
static bool px_dt_conn_in_handshake(const px_dt_conn *c)
{
    return c->closing || !px_fstrm_recv_started(c->fr);
}

static int64_t px_dt_conn_deadline(const px_dt_input *in, const px_dt_conn *c)
{
    return px_dt_conn_in_handshake(c) ? c->phase_ms + in->handshake_ms : c->rx_ms + in->idle_ms;
}

/* Closes a connection for `why`: counted, and logged (rate-limited). */
static void px_dt_conn_drop(px_dt_input *in, px_dt_conn *c, px_dt_close why, int64_t now)
{
    px_metric_inc(px_dt_m.closed[why]);
    switch (why) {
    case PX_DT_CLOSE_HANDSHAKE:
        px_dt_log(in, 4,
                  "closed a connection that did not complete the Frame Streams handshake "
                  "within %lld ms (dnstap.handshake_ms)",
                  (long long)in->handshake_ms);
        break;
    case PX_DT_CLOSE_IDLE:
        /* whole seconds as the setting says; tests use less */
        px_dt_log(in, 6,
                  "closed a connection that sent nothing for %lld %s (dnstap.idle_seconds); "
                  "a resolver reconnects",
                  (long long)(in->idle_ms % 1000 ? in->idle_ms : in->idle_ms / 1000),
                  in->idle_ms % 1000 ? "ms" : "s");
        break;
    case PX_DT_CLOSE_EVICTED:
        if (px_dt_conn_in_handshake(c))
            px_dt_log(in, 4,
                      "all %zu connection slots in use (dnstap.max_connections): closed one "
                      "still in its handshake after %lld ms to serve a new sender",
                      in->max_conns, (long long)(now - c->phase_ms));
        else
            px_dt_log(in, 4,
                      "all %zu connection slots in use (dnstap.max_connections): closed the "
                      "one idle longest (%lld ms) to serve a new sender",
                      in->max_conns, (long long)(now - c->rx_ms));
        break;
    case PX_DT_CLOSE_OVERSIZE:
        px_dt_log(in, 4, "closed a connection that sent a frame over %u bytes",
                  (unsigned)PX_FSTRM_DATA_MAX);
        break;
    case PX_DT_CLOSE_CONTENT_TYPE:
        px_dt_log(in, 4,
                  "closed a connection whose sender does not offer content type "
                  "\"" PX_DNSTAP_CONTENT_TYPE "\"");
        break;
    default:
        px_dt_log(in, 4,
                  "closed a connection that broke the Frame Streams protocol (a control frame "
                  "malformed or out of place, or data before START)");
        break;
    }
    px_dt_conn_close(c);
}

/* A protocol error the receiver reported: counted as malformed input
 * (as before) and as a close reason. */
static px_dt_close px_dt_proto_reason(const px_fstrm_recv *fr)
{
    const char *why = px_fstrm_recv_error(fr);
    if (why && strcmp(why, "oversize") == 0) {
        px_metric_inc(px_dt_m.oversize);
        return PX_DT_CLOSE_OVERSIZE;
    }
    if (why && strcmp(why, "content_type") == 0) {
        px_metric_inc(px_dt_m.content_type);
        return PX_DT_CLOSE_CONTENT_TYPE;
    }
    px_metric_inc(px_dt_m.control);
    return PX_DT_CLOSE_CONTROL;
}

/* Sends queued control replies. False when the connection is done. */
static bool px_dt_conn_flush(px_dt_conn *c)
{
    size_t len;
    const uint8_t *p;
    while ((p = px_fstrm_recv_reply(c->fr, &len)), len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true; /* poll for POLLOUT */
        if (n <= 0)
            return false;
        px_fstrm_recv_replied(c->fr, (size_t)n);
    }
    return !c->closing;
}

/* Reads what the sender has (bounded, for fairness between senders).
 * False when the connection is done (closed here on a protocol error). */
static bool px_dt_conn_read(px_dt_input *in, px_dt_conn *c, int64_t now)
{
    for (int i = 0; i < PX_DT_READS_PER_WAKE && !c->closing; i++) {
        size_t avail;
        uint8_t *p = px_fstrm_recv_space(c->fr, &avail);
        if (!p)
            return false;
        ssize_t n = recv(c->fd, p, avail, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            /* Gone: only a frame it had not finished is lost. */
            if (px_fstrm_recv_pending(c->fr) > 0) {
                px_metric_inc(px_dt_m.truncated);
                px_dt_log(in, 4,
                          "a sender closed its connection in the middle of a frame "
                          "(that frame is lost)");
            }
            return false;
        }
        c->rx_ms = now;
        px_err err = px_fstrm_recv_commit(c->fr, (size_t)n, px_dt_on_frame, in);
        if (err == PX_ERR_EOF) {
            c->closing = true;
            c->phase_ms = now;
        } else if (err != PX_OK) {
            px_dt_conn_drop(in, c, px_dt_proto_reason(c->fr), now);
            return false;
        }
    }
    return px_dt_conn_flush(c);
}

/* Drops closed connections, keeping their receivers for reuse. */
static void px_dt_compact(px_dt_input *in)
{
    size_t j = 0;
    for (size_t i = 0; i < in->nconns; i++) {
        if (in->conns[i].fd < 0)
            continue;
        if (i != j) {
            px_dt_conn tmp = in->conns[j];
            in->conns[j] = in->conns[i];
            in->conns[i] = tmp;
        }
        j++;
    }
    in->nconns = j;
}

/* The connection that makes room when every slot is taken: the oldest
 * still in its handshake, else the one idle the longest. A sender that
 * is sending is the last to go; an idle one that is closed reconnects. */
static px_dt_conn *px_dt_victim(px_dt_input *in)
{
    px_dt_conn *hs = NULL, *idle = NULL;
    for (size_t i = 0; i < in->nconns; i++) {
        px_dt_conn *c = &in->conns[i];
        if (px_dt_conn_in_handshake(c)) {
            if (!hs || c->seq < hs->seq)
                hs = c;
        } else if (!idle || c->rx_ms < idle->rx_ms ||
                   (c->rx_ms == idle->rx_ms && c->seq < idle->seq)) {
            idle = c;
        }
    }
    return hs ? hs : idle;
}

/* A slot for a new connection: a free one, else an evicted one. NULL on
 * no memory. */
static px_dt_conn *px_dt_slot(px_dt_input *in, int64_t now)
{
    if (in->nconns < in->max_conns) {
        px_dt_conn *c = &in->conns[in->nconns];
        if (!c->fr)
            c->fr = px_fstrm_recv_create(PX_DNSTAP_CONTENT_TYPE, PX_FSTRM_DATA_MAX);
        if (!c->fr)
            return NULL;
        in->nconns++;
        return c;
    }
    px_dt_conn *c = px_dt_victim(in);
    if (c)
        px_dt_conn_drop(in, c, PX_DT_CLOSE_EVICTED, now);
    return c;
}

/* Out of file descriptors (the process's limit, below the slots): the
 * slot that would be evicted gives its descriptor to a waiting sender.
 * accept() says EMFILE whether or not one waits, so look first. Returns
 * that slot with the new connection's descriptor in *fd, or NULL. */
static px_dt_conn *px_dt_slot_no_fd(px_dt_input *in, int *fd)
{
    int err = errno;
    struct pollfd lp = {.fd = in->lfd, .events = POLLIN};
    if (poll(&lp, 1, 0) != 1)
        return NULL; /* nobody waits */
    px_dt_conn *c = px_dt_victim(in);
    if (c) {
        px_metric_inc(px_dt_m.closed[PX_DT_CLOSE_EVICTED]);
        px_dt_log(in, 4,
                  "out of file descriptors (%s): closed the connection that would be evicted "
                  "to serve a new sender",
                  strerror(err));
        px_dt_conn_close(c);
        *fd = accept4(in->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (*fd >= 0)
            return c;
        err = errno;
        px_dt_compact(in); /* the evicted slot is empty */
    }
    px_dt_log(in, 3, "cannot accept a connection: %s", strerror(err));
    return NULL;
}

static void px_dt_accept(px_dt_input *in, int64_t now)
{
    for (;;) {
        int fd = accept4(in->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        px_dt_conn *c;
        if (fd >= 0)
            c = px_dt_slot(in, now);
        else if (errno == EMFILE || errno == ENFILE)
            c = px_dt_slot_no_fd(in, &fd);
        else
            return; /* EAGAIN, or a connection that vanished: try next wake */
        if (fd < 0)
            return;
        if (!c) {
            px_metric_inc(px_dt_m.rejected);
            px_dt_log(in, 3, "refused a connection: %s", strerror(ENOMEM));
            close(fd);
            continue;
        }
        px_fstrm_recv_reset(c->fr);
        c->fd = fd;
        c->closing = false;
        c->phase_ms = c->rx_ms = now;
        c->seq = in->accepted++;
        px_metric_inc(px_dt_m.connections);
    }
}

/* Closes connections past their deadline. A finishing one (STOP seen,
 * FINISH not taken) is closed quietly: everything it sent was read. */
static void px_dt_expire(px_dt_input *in, int64_t now)
{
    for (size_t i = 0; i < in->nconns; i++) {
        px_dt_conn *c = &in->conns[i];
        if (c->fd < 0 || now < px_dt_conn_deadline(in, c))
            continue;
        if (c->closing)
            px_dt_conn_close(c);
        else
            px_dt_conn_drop(
                in, c, px_dt_conn_in_handshake(c) ? PX_DT_CLOSE_HANDSHAKE : PX_DT_CLOSE_IDLE, now);
    }
}

/* How long poll() may wait: until the nearest deadline (-1: none). */
static int px_dt_poll_timeout(const px_dt_input *in, int64_t now)
{
    int64_t wait = -1;
    for (size_t i = 0; i < in->nconns; i++) {
        int64_t d = px_dt_conn_deadline(in, &in->conns[i]) - now;
        if (d < 0)
            d = 0;
        if (wait < 0 || d < wait)
            wait = d;
    }
    return wait > INT32_MAX ? INT32_MAX : (int)wait;
}

static void px_dt_poll_set(px_dt_input *in)
{
    in->pfd[0] = (struct pollfd){.fd = in->wake[0], .events = POLLIN};
    in->pfd[1] = (struct pollfd){.fd = in->lfd, .events = POLLIN};
    for (size_t i = 0; i < in->nconns; i++) {
        size_t len;
        px_fstrm_recv_reply(in->conns[i].fr, &len);
        in->pfd[2 + i] = (struct pollfd){
            .fd = in->conns[i].fd,
            .events = (short)((in->conns[i].closing ? 0 : POLLIN) | (len > 0 ? POLLOUT : 0))};
    }
}

static px_err px_dt_run_sockets(px_dt_input *in)
{
    px_err ret = PX_OK;
    while (!atomic_load(&in->stopping)) {
        int64_t now = px_clock_mono_ms();
        px_dt_expire(in, now);
        px_dt_compact(in);
        px_dt_poll_set(in);
        if (poll(in->pfd, 2 + in->nconns, px_dt_poll_timeout(in, now)) < 0) {
            if (errno == EINTR)
                continue;
            ret = PX_ERR_IO;
            break;
        }
        if (in->pfd[0].revents)
            break;
        now = px_clock_mono_ms();
        for (size_t i = 0; i < in->nconns; i++) {
            px_dt_conn *c = &in->conns[i];
            short re = in->pfd[2 + i].revents;
            bool keep = true;
            if (re & (POLLIN | POLLHUP | POLLERR))
                keep = px_dt_conn_read(in, c, now);
            else if (re & POLLOUT)
                keep = px_dt_conn_flush(c);
            if (!keep && c->fd >= 0)
                px_dt_conn_close(c);
        }
        px_dt_compact(in);
        if (in->pfd[1].revents & POLLIN)
            px_dt_accept(in, now);
    }
    /* Senders reconnect to the next run (or the next process). */
    for (size_t i = 0; i < in->nconns; i++)
        px_dt_conn_close(&in->conns[i]);
    in->nconns = 0;
    return ret;
}

static px_err px_dt_input_run(void *impl)
{
    px_dt_input *in = impl;
    return in->rb ? px_dt_run_file(in) : px_dt_run_sockets(in);
}

static void px_dt_input_stop(void *impl)
{
    px_dt_input *in = impl;
    atomic_store(&in->stopping, true);
    if (in->wake[1] >= 0) {
        ssize_t n = write(in->wake[1], "x", 1);
        (void)n; /* a full pipe already wakes poll() */
    }
}

static void px_dt_input_destroy(void *impl)
{
    px_dt_input *in = impl;
    if (!in)
        return;
    for (size_t i = 0; in->conns && i < in->max_conns; i++) {
        if (i < in->nconns)
            px_dt_conn_close(&in->conns[i]);
        px_fstrm_recv_destroy(in->conns[i].fr);
    }
    free(in->conns);
    free(in->pfd);
    px_rbuf_destroy(in->rb);
    free(in->file_path);
    if (in->fc)
        fstrm_control_destroy(&in->fc);
    if (in->fd >= 0)
        close(in->fd);
    if (in->lfd >= 0)
        close(in->lfd);
    if (in->unix_path) {
        unlink(in->unix_path);
        free(in->unix_path);
    }
    for (int i = 0; i < 2; i++)
        if (in->wake[i] >= 0)
            close(in->wake[i]);
    px_dnstap_decoder_destroy(in->dec);
    free(in);
}

const px_input_ops px_dnstap_input_ops = {
    .run = px_dt_input_run,
    .stop = px_dt_input_stop,
    .destroy = px_dt_input_destroy,
};
