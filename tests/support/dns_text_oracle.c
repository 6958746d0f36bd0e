/* The test oracle of dns_text_oracle.h. It reads through px_wire like the
 * library but decodes names on its own: compressed name -> uncompressed
 * wire (pointers strictly backwards, at most 127 hops, 255 octets) ->
 * px_dns_name_to_text(). */
#include <stdio.h>
#include <string.h>

#include "dns_text_oracle.h"

#define MAX_HOPS 127

/* Reads the name at w's position (w moves past its bytes up to and
 * including the first pointer) into text. Pointers are resolved against
 * msg[0..msglen) and must point before the run of labels holding them. */
static px_err name_read(const uint8_t *msg, size_t msglen, px_wire *w, char *text, size_t *tlen)
{
    uint8_t wire[PX_DNS_NAME_WIRE_MAX];
    size_t n = 0, run_start = (size_t)(w->pos - msg);
    unsigned hops = 0;
    px_wire jump, *cur = w;
    for (;;) {
        uint8_t len = px_wire_u8(cur);
        if (px_wire_err(cur))
            return px_wire_err(cur);
        if (len == 0)
            break;
        if ((len & 0xC0) == 0xC0) {
            size_t target = ((size_t)(len & 0x3F) << 8) | px_wire_u8(cur);
            if (px_wire_err(cur))
                return px_wire_err(cur);
            if (target >= run_start || ++hops > MAX_HOPS)
                return PX_ERR_LOOP;
            px_wire_init(&jump, msg, msglen);
            px_wire_seek(&jump, target);
            cur = &jump;
            run_start = target;
            continue;
        }
        if (len & 0xC0)
            return PX_ERR_MALFORMED;
        if (n + 1 + len + 1 > PX_DNS_NAME_WIRE_MAX)
            return PX_ERR_TOOLONG;
        const uint8_t *p = px_wire_bytes(cur, len);
        if (!p)
            return px_wire_err(cur);
        wire[n++] = len;
        memcpy(wire + n, p, len);
        n += len;
    }
    wire[n++] = 0;
    return px_dns_name_to_text(wire, n, text, PX_DNS_NAME_TEXT_MAX, tlen);
}

static px_err name_skip(px_wire *w)
{
    size_t wire_len = 1;
    for (;;) {
        uint8_t len = px_wire_u8(w);
        if (px_wire_err(w))
            return px_wire_err(w);
        if (len == 0)
            return PX_OK;
        if ((len & 0xC0) == 0xC0) {
            px_wire_skip(w, 1);
            return px_wire_err(w);
        }
        if (len & 0xC0)
            return PX_ERR_MALFORMED;
        wire_len += (size_t)len + 1;
        if (wire_len > PX_DNS_NAME_WIRE_MAX)
            return PX_ERR_TOOLONG;
        px_wire_skip(w, len);
    }
}

/* The header and question checks are the library's (px_dns_begin_wire());
 * the question name's text is the oracle's own reading. */
px_err pxt_dns_begin(px_dns_iter *it, const uint8_t *msg, size_t len, px_dns_msg *out)
{
    px_err err = px_dns_begin_wire(it, msg, len, out);
    it->name_from = 0;
    if (err || !out->has_question)
        return err;
    px_wire q;
    px_wire_init(&q, msg, len);
    px_wire_seek(&q, 12); /* the question name follows the header */
    if ((err = name_read(msg, len, &q, out->qname, &out->qname_len)) != PX_OK)
        return err;
    /* owners that point at the question reuse its text */
    memcpy(it->name, out->qname, out->qname_len + 1);
    it->name_len = out->qname_len;
    it->name_from = 12;
    return PX_OK;
}

static px_err framing_lost(px_dns_iter *it, px_err err)
{
    it->broken = true;
    px_wire_fail(&it->w, err);
    return err;
}

static px_err owner_read(px_dns_iter *it)
{
    const uint8_t *p = it->w.pos;
    uint16_t target = 0;
    if (px_wire_avail(&it->w) >= 2 && (p[0] & 0xC0) == 0xC0) {
        target = (uint16_t)(((p[0] & 0x3F) << 8) | p[1]);
        if (target == it->name_from && target != 0) {
            px_wire_skip(&it->w, 2);
            return PX_OK;
        }
    }
    it->name_from = 0;
    px_err err = name_read(it->w.start, px_wire_size(&it->w), &it->w, it->name, &it->name_len);
    if (err == PX_OK)
        it->name_from = target;
    return err;
}

static px_err fixed_read(px_dns_iter *it, px_dns_rr *rr, px_wire *rd)
{
    rr->type = px_wire_u16(&it->w);
    rr->rclass = px_wire_u16(&it->w);
    rr->ttl = px_wire_u32(&it->w);
    rr->rdlen = px_wire_u16(&it->w);
    if (px_wire_err(&it->w))
        return framing_lost(it, px_wire_err(&it->w));
    *rd = px_wire_sub(&it->w, rr->rdlen);
    if (px_wire_err(&it->w))
        return framing_lost(it, px_wire_err(&it->w));
    rr->rdata_wire = rd->pos;
    return PX_OK;
}

/* A name inside the rdata, appended to the text at *o. */
static px_err rd_name(px_dns_iter *it, px_wire *rd, char *buf, char **o)
{
    size_t n;
    px_err err = name_read(it->w.start, px_wire_size(&it->w), rd, buf, &n);
    if (err == PX_OK) {
        memcpy(*o, buf, n);
        *o += n;
    }
    return err;
}

static char *put_u32(char *o, uint32_t v)
{
    return o + sprintf(o, "%u", (unsigned)v);
}

/* The rdata of the types with names, written here; the text always fits
 * (two names and five numbers at most). */
static px_err names_rdata(px_dns_iter *it, px_dns_rr *rr, px_wire *rd)
{
    char *o = it->rdata;
    px_err err = PX_OK;
    switch (rr->type) {
    case PX_DNS_TYPE_MX:
        o = put_u32(o, px_wire_u16(rd));
        *o++ = ' ';
        break;
    case PX_DNS_TYPE_SRV:
        for (int i = 0; i < 3; i++) {
            o = put_u32(o, px_wire_u16(rd));
            *o++ = ' ';
        }
        break;
    default:
        break;
    }
    err = rd_name(it, rd, it->target, &o);
    rr->target = it->target;
    if (rr->type == PX_DNS_TYPE_SOA) {
        *o++ = ' ';
        if (!err)
            err = rd_name(it, rd, it->target2, &o);
        rr->target2 = it->target2;
        for (int i = 0; i < 5 && !err; i++) {
            *o++ = ' ';
            o = put_u32(o, px_wire_u32(rd));
        }
    }
    if (!err && px_wire_err(rd))
        err = PX_ERR_MALFORMED;
    if (!err && px_wire_avail(rd) != 0)
        err = PX_ERR_MALFORMED;
    if (err) {
        rr->target = rr->target2 = NULL;
        return err == PX_ERR_TRUNC ? PX_ERR_MALFORMED : err;
    }
    *o = '\0';
    rr->rdata = it->rdata;
    rr->rdata_len = (size_t)(o - it->rdata);
    return PX_OK;
}

static px_err rdata_read(px_dns_iter *it, px_dns_rr *rr, px_wire *rd)
{
    switch (rr->type) {
    case PX_DNS_TYPE_NS:
    case PX_DNS_TYPE_CNAME:
    case PX_DNS_TYPE_PTR:
    case PX_DNS_TYPE_DNAME:
    case PX_DNS_TYPE_MX:
    case PX_DNS_TYPE_SRV:
    case PX_DNS_TYPE_SOA:
        return names_rdata(it, rr, rd);
    default: {
        size_t n;
        px_err err = px_dns_rdata_to_text(rr->type, rd->pos, px_wire_avail(rd), it->rdata,
                                          sizeof it->rdata, &n, NULL);
        if (err)
            return err;
        rr->rdata = it->rdata;
        rr->rdata_len = n;
        return PX_OK;
    }
    }
}

px_err pxt_dns_next(px_dns_iter *it, px_dns_rr *rr)
{
    if (!px_dns_can_continue(it))
        return px_wire_err(&it->w) ? px_wire_err(&it->w) : PX_ERR_MALFORMED;
    while (it->section <= PX_DNS_ADDITIONAL && it->left[it->section] == 0)
        it->section++;
    if (it->section > PX_DNS_ADDITIONAL)
        return PX_ERR_EOF;
    it->left[it->section]--;
    memset(rr, 0, sizeof *rr);
    rr->section = it->section;

    px_wire rd;
    size_t owner = px_wire_offset(&it->w);
    px_err err = name_skip(&it->w);
    if (err)
        return framing_lost(it, err);
    if ((err = fixed_read(it, rr, &rd)) != PX_OK)
        return err;
    if (it->want && !it->want(it->want_ctx, rr))
        return PX_OK; /* framed only: name and rdata stay NULL */
    size_t end = px_wire_offset(&it->w);
    px_wire_seek(&it->w, owner);
    if ((err = owner_read(it)) != PX_OK)
        return framing_lost(it, err);
    px_wire_seek(&it->w, end);
    rr->name = it->name;
    rr->name_len = it->name_len;
    return rdata_read(it, rr, &rd);
}
