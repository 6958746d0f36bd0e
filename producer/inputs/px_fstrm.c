/* Frame Streams receiver: framing and the bidirectional handshake. */
#include "px_fstrm.h"

#include <stdlib.h>
#include <string.h>

#include "core/px_buf.h"
#include "core/px_wire.h"

px_err px_fstrm_frame_next(const uint8_t *buf, size_t len, size_t max_data, px_fstrm_frame *f,
                           size_t *need)
{
    px_wire w;
    px_wire_init(&w, buf, len);
    if (need)
        *need = 0;
    uint32_t flen = px_wire_u32(&w);
    size_t hdr = 4;
    bool control = false;
    if (px_wire_err(&w) == PX_OK && flen == 0) {
        /* The escape: a control frame follows, with its own length. */
        control = true;
        flen = px_wire_u32(&w);
        hdr = 8;
        if (px_wire_err(&w) == PX_OK && flen > PX_FSTRM_CONTROL_MAX)
            return PX_ERR_PROTO;
    } else if (px_wire_err(&w) == PX_OK && flen > max_data) {
        return PX_ERR_PROTO;
    }
    if (px_wire_err(&w))
        return PX_ERR_AGAIN;
    if (need)
        *need = hdr + flen;
    const uint8_t *p = px_wire_bytes(&w, flen);
    if (!p)
        return PX_ERR_AGAIN;
    f->control = control;
    f->data = p;
    f->len = flen;
    f->size = hdr + flen;
    return PX_OK;
}

px_err px_fstrm_control_parse(const uint8_t *data, size_t len, const char *want,
                              px_fstrm_control *c)
{
    px_wire w;
    px_wire_init(&w, data, len);
    size_t want_len = want ? strlen(want) : 0;
    memset(c, 0, sizeof(*c));
    c->type = px_wire_u32(&w);
    while (px_wire_err(&w) == PX_OK && px_wire_avail(&w) > 0) {
        uint32_t ftype = px_wire_u32(&w);
        uint32_t flen = px_wire_u32(&w);
        const uint8_t *p = px_wire_bytes(&w, flen);
        if (!p)
            break;
        /* The spec defines only the content type field; skip others. */
        if (ftype != PX_FSTRM_FIELD_CONTENT_TYPE)
            continue;
        if (flen > PX_FSTRM_CONTENT_TYPE_MAX)
            return PX_ERR_MALFORMED;
        c->content_types++;
        if (want && flen == want_len && memcmp(p, want, flen) == 0)
            c->has_want = true;
    }
    return px_wire_err(&w) ? PX_ERR_MALFORMED : PX_OK;
}

static void px_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

size_t px_fstrm_control_encode(uint8_t *buf, size_t cap, uint32_t type, const char *content_type)
{
    size_t ct_len = content_type ? strlen(content_type) : 0;
    if (ct_len > PX_FSTRM_CONTENT_TYPE_MAX)
        return 0;
    size_t body = 4 + (content_type ? 8 + ct_len : 0);
    size_t total = 8 + body;
    if (total > cap)
        return 0;
    px_put_u32(buf, 0);
    px_put_u32(buf + 4, (uint32_t)body);
    px_put_u32(buf + 8, type);
    if (content_type) {
        px_put_u32(buf + 12, PX_FSTRM_FIELD_CONTENT_TYPE);
        px_put_u32(buf + 16, (uint32_t)ct_len);
        memcpy(buf + 20, content_type, ct_len);
    }
    return total;
}

enum px_fstrm_state {
    PX_FSTRM_WAIT_READY, /* nothing yet: READY (or START, unidirectional) */
    PX_FSTRM_WAIT_START, /* ACCEPT queued: START */
    PX_FSTRM_DATA,       /* data frames until STOP */
    PX_FSTRM_DONE,       /* STOP seen, FINISH queued */
    PX_FSTRM_FAILED,
};

enum { PX_FSTRM_BUF_INITIAL = 64 * 1024, PX_FSTRM_COMPACT_AT = 4096 };

struct px_fstrm_recv {
    enum px_fstrm_state state;
    char *content_type;
    size_t max_data;
    px_buf buf;  /* the unparsed bytes; max: the largest frame */
    size_t need; /* size of the incomplete frame at their start, 0 if unknown */
    const char *error;
    uint8_t reply[2 * (8 + 12 + PX_FSTRM_CONTENT_TYPE_MAX)];
    size_t reply_len;
};

px_fstrm_recv *px_fstrm_recv_create(const char *content_type, size_t max_data)
{
    px_fstrm_recv *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->content_type = strdup(content_type);
    r->max_data = max_data ? max_data : PX_FSTRM_DATA_MAX;
    /* A frame is read whole into the buffer, so the largest frame
     * px_fstrm_frame_next() lets through bounds it. */
    size_t frame_max =
        r->max_data + 4 > 8 + PX_FSTRM_CONTROL_MAX ? r->max_data + 4 : 8 + PX_FSTRM_CONTROL_MAX;
    r->buf.max = frame_max > PX_FSTRM_BUF_INITIAL ? frame_max : PX_FSTRM_BUF_INITIAL;
    if (!r->content_type || px_buf_reserve(&r->buf, PX_FSTRM_BUF_INITIAL) != PX_OK ||
        strlen(content_type) > PX_FSTRM_CONTENT_TYPE_MAX) {
        px_fstrm_recv_destroy(r);
        return NULL;
    }
    return r;
}

void px_fstrm_recv_destroy(px_fstrm_recv *r)
{
    if (!r)
        return;
    free(r->content_type);
    px_buf_free(&r->buf);
    free(r);
}

void px_fstrm_recv_reset(px_fstrm_recv *r)
{
    r->state = PX_FSTRM_WAIT_READY;
    px_buf_clear(&r->buf);
    r->need = r->reply_len = 0;
    r->error = NULL;
}

uint8_t *px_fstrm_recv_space(px_fstrm_recv *r, size_t *avail)
{
    size_t held = px_buf_size(&r->buf);
    size_t want = r->need > held ? r->need : held + 1;
    /* Move the partial frame to the front when the tail is short (reads
     * of a few bytes); px_buf_reserve() moves it when the frame would not
     * fit behind it. */
    if (r->buf.cap - r->buf.len < PX_FSTRM_COMPACT_AT)
        px_buf_compact(&r->buf);
    if (px_buf_reserve(&r->buf, want - held) != PX_OK)
        return NULL;
    *avail = r->buf.cap - r->buf.len;
    return r->buf.p + r->buf.len;
}

static px_err px_fstrm_fail(px_fstrm_recv *r, const char *why)
{
    r->state = PX_FSTRM_FAILED;
    r->error = why;
    return PX_ERR_PROTO;
}

static px_err px_fstrm_queue(px_fstrm_recv *r, uint32_t type, const char *content_type)
{
    size_t n = px_fstrm_control_encode(r->reply + r->reply_len, sizeof(r->reply) - r->reply_len,
                                       type, content_type);
    if (n == 0)
        return px_fstrm_fail(r, "reply");
    r->reply_len += n;
    return PX_OK;
}

static px_err px_fstrm_on_start(px_fstrm_recv *r, const px_fstrm_control *c)
{
    if (c->type != PX_FSTRM_CONTROL_START)
        return px_fstrm_fail(r, "control");
    /* START may omit the content type; if it names one, it must be ours. */
    if (c->content_types > 0 && !c->has_want)
        return px_fstrm_fail(r, "content_type");
    r->state = PX_FSTRM_DATA;
    return PX_OK;
}

static px_err px_fstrm_on_control(px_fstrm_recv *r, const px_fstrm_frame *f)
{
    px_fstrm_control c;
    if (px_fstrm_control_parse(f->data, f->len, r->content_type, &c) != PX_OK)
        return px_fstrm_fail(r, "control");
    switch (r->state) {
    case PX_FSTRM_WAIT_READY:
        if (c.type == PX_FSTRM_CONTROL_READY) {
            /* Spec: without a common content type the receiver closes. */
            if (!c.has_want)
                return px_fstrm_fail(r, "content_type");
            r->state = PX_FSTRM_WAIT_START;
            return px_fstrm_queue(r, PX_FSTRM_CONTROL_ACCEPT, r->content_type);
        }
        /* A unidirectional sender starts with START. */
        return px_fstrm_on_start(r, &c);
    case PX_FSTRM_WAIT_START:
        return px_fstrm_on_start(r, &c);
    case PX_FSTRM_DATA:
        if (c.type != PX_FSTRM_CONTROL_STOP)
            return px_fstrm_fail(r, "control");
        r->state = PX_FSTRM_DONE;
        if (px_fstrm_queue(r, PX_FSTRM_CONTROL_FINISH, NULL) != PX_OK)
            return PX_ERR_PROTO;
        return PX_ERR_EOF;
    default:
        return px_fstrm_fail(r, "control");
    }
}

px_err px_fstrm_recv_commit(px_fstrm_recv *r, size_t n, px_fstrm_data_fn fn, void *ctx)
{
    r->buf.len += n;
    while (r->state != PX_FSTRM_DONE && r->state != PX_FSTRM_FAILED) {
        px_fstrm_frame f;
        px_err err = px_fstrm_frame_next(px_buf_data(&r->buf), px_buf_size(&r->buf), r->max_data,
                                         &f, &r->need);
        if (err == PX_ERR_AGAIN)
            return PX_OK;
        if (err != PX_OK)
            return px_fstrm_fail(r, "oversize");
        px_buf_consume(&r->buf, f.size); /* f.data stays where it is */
        r->need = 0;
        if (f.control) {
            err = px_fstrm_on_control(r, &f);
            if (err != PX_OK)
                return err;
        } else if (r->state == PX_FSTRM_DATA) {
            fn(ctx, f.data, f.len);
        } else {
            return px_fstrm_fail(r, "control"); /* data before START */
        }
    }
    /* Finished or failed: whatever follows is dropped. */
    px_buf_clear(&r->buf);
    return r->state == PX_FSTRM_DONE ? PX_ERR_EOF : PX_ERR_PROTO;
}

const uint8_t *px_fstrm_recv_reply(const px_fstrm_recv *r, size_t *len)
{
    *len = r->reply_len;
    return r->reply;
}

void px_fstrm_recv_replied(px_fstrm_recv *r, size_t n)
{
    if (n >= r->reply_len) {
        r->reply_len = 0;
        return;
    }
    memmove(r->reply, r->reply + n, r->reply_len - n);
    r->reply_len -= n;
}

bool px_fstrm_recv_started(const px_fstrm_recv *r)
{
    return r->state == PX_FSTRM_DATA;
}

size_t px_fstrm_recv_pending(const px_fstrm_recv *r)
{
    return px_buf_size(&r->buf);
}

const char *px_fstrm_recv_error(const px_fstrm_recv *r)
{
    return r->error;
}
