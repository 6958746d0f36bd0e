/* DNS response parsing: header, first question, then one record at a time
 * in canonical wire form, formatted to text on demand through the one
 * formatter (px_dns_rdata_to_text). Every read goes through px_wire;
 * nothing here trusts a count or a length from the message. No allocation:
 * all output is written into the caller's px_dns_iter. */
#include <string.h>

#include "dns/px_dns_msg.h"
#include "px_dns_text.h"

#define DNS_NAME_WIRE_MAX PX_DNS_NAME_WIRE_MAX
#define DNS_MAX_HOPS 127

/* A compression pointer whose first octet is len: moves *cur (the name's
 * cursor, w itself until the first pointer) to its target in a cursor
 * over the whole message, jump. The target must lie before the run of
 * labels that held the pointer (offsets strictly decrease: no loop), and
 * hops are limited as a second guard. */
static inline px_err name_pointer(const uint8_t *msg, size_t msglen, uint8_t len, px_wire **cur,
                                  px_wire *jump, size_t *run_start, unsigned *hops)
{
    if (!msg)
        return PX_ERR_MALFORMED;
    size_t target = ((size_t)(len & 0x3F) << 8) | px_wire_u8(*cur);
    if (px_wire_err(*cur))
        return px_wire_err(*cur);
    if (target >= *run_start || ++*hops > DNS_MAX_HOPS)
        return PX_ERR_LOOP;
    if (*cur != jump) {
        px_wire_init(jump, msg, msglen);
        *cur = jump;
    }
    px_wire_seek(*cur, target);
    *run_start = target;
    return PX_OK;
}

/* Copies n octets lowercasing ASCII letters, eight at a time: per octet
 * c < 0x80, c + 0x3f has bit 7 set from 'A' up and c + 0x25 from 'Z' + 1
 * up (no carry crosses an octet), so their difference marks 'A'..'Z';
 * octets with bit 7 set are left alone. */
static void copy_lower(uint8_t *out, const uint8_t *in, size_t n, size_t readable)
{
    const uint64_t hi = 0x8080808080808080ULL, lo7 = 0x7f7f7f7f7f7f7f7fULL;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = 0, x;
        if (i + 8 <= readable) {
            memcpy(&v, in + i, 8);
        } else {
            for (size_t k = 0; k < n - i; k++)
                v |= (uint64_t)in[i + k] << (8 * k);
        }
        x = v & lo7;
        uint64_t upper = (x + 0x3f3f3f3f3f3f3f3fULL) & ~(x + 0x2525252525252525ULL) & ~v & hi;
        v |= upper >> 2;
        memcpy(out + i, &v, 8); /* may write up to 7 octets past n: see name_canon */
    }
}

/* Reads one name at w's position (w moves past its bytes, up to and
 * including the first pointer) into its canonical wire form: labels
 * uncompressed, ASCII letters lowercased (px_dns_name_fold()'s letters),
 * so equal wire forms are exactly equal texts. Pointers are resolved
 * against msg[0..msglen) (name_pointer()). A name over 255 octets is
 * PX_ERR_TOOLONG. out holds 255 + 8 octets (labels are copied in words of
 * 8; what lies past the name is scratch). */
static px_err name_canon(const uint8_t *msg, size_t msglen, px_wire *w, uint8_t *out,
                         size_t *outlen)
{
    px_wire jump;
    px_wire *cur = w;
    size_t run_start = msg ? (size_t)(w->pos - msg) : 0;
    size_t n = 0;
    unsigned hops = 0;

    for (;;) {
        /* A run of plain labels is its own canonical form but for the
         * letters (length octets are <= 63, never letters): framed label
         * by label, then lowercased in one copy, not one per label. */
        const uint8_t *start = cur->pos;
        size_t run = 0;
        uint8_t len;
        for (;;) {
            len = px_wire_u8(cur);
            if (px_wire_err(cur))
                return px_wire_err(cur);
            if (len == 0 || (len & 0xC0))
                break;
            if (n + run + 1 + (size_t)len + 1 > DNS_NAME_WIRE_MAX)
                return PX_ERR_TOOLONG;
            px_wire_skip(cur, len);
            if (px_wire_err(cur))
                return px_wire_err(cur);
            run += 1 + (size_t)len;
        }
        copy_lower(out + n, start, run, (size_t)(cur->end - start));
        n += run;
        if (len == 0)
            break;
        if ((len & 0xC0) != 0xC0) /* 01 (extended label, retired) and 10 */
            return PX_ERR_MALFORMED;
        px_err e = name_pointer(msg, msglen, len, &cur, &jump, &run_start, &hops);
        if (e != PX_OK)
            return e;
    }
    out[n++] = 0;
    *outlen = n;
    return PX_OK;
}

/* Skips one name (question entries after the first). */
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
        if (wire_len > DNS_NAME_WIRE_MAX)
            return PX_ERR_TOOLONG;
        px_wire_skip(w, len);
    }
}

/* ---- header and question ---- */

px_err px_dns_begin_wire(px_dns_iter *it, const uint8_t *msg, size_t len, px_dns_msg *out)
{
    px_wire_init(&it->w, msg, len);
    it->broken = true;
    it->section = PX_DNS_ANSWER;
    it->left[0] = 0;
    it->want = NULL;
    it->want_ctx = NULL;

    out->id = px_wire_u16(&it->w);
    uint16_t flags = px_wire_u16(&it->w);
    out->qdcount = px_wire_u16(&it->w);
    out->ancount = px_wire_u16(&it->w);
    out->nscount = px_wire_u16(&it->w);
    out->arcount = px_wire_u16(&it->w);
    out->has_question = false;
    out->qname[0] = '\0';
    out->qname_len = 0;
    out->qtype = 0;
    out->qclass = 0;
    if (px_wire_err(&it->w))
        return px_wire_err(&it->w);
    out->qr = flags & 0x8000;
    out->opcode = (flags >> 11) & 0xF;
    out->aa = flags & 0x0400;
    out->tc = flags & 0x0200;
    out->rd = flags & 0x0100;
    out->ra = flags & 0x0080;
    out->rcode = flags & 0xF;

    for (uint16_t i = 0; i < out->qdcount; i++) {
        px_err err;
        if (i == 0)
            err = name_canon(msg, len, &it->w, it->owner, &it->owner_len);
        else
            err = name_skip(&it->w);
        if (err)
            return err;
        uint16_t qtype = px_wire_u16(&it->w);
        uint16_t qclass = px_wire_u16(&it->w);
        if (px_wire_err(&it->w))
            return px_wire_err(&it->w);
        if (i == 0) {
            out->qtype = qtype;
            out->qclass = qclass;
            out->has_question = true;
        }
    }
    it->left[PX_DNS_ANSWER] = out->ancount;
    it->left[PX_DNS_AUTHORITY] = out->nscount;
    it->left[PX_DNS_ADDITIONAL] = out->arcount;
    it->broken = false;
    it->name_from = 0;
    it->owner_from = 0;
    if (out->has_question)
        it->owner_from = 12; /* the question name follows the 12-byte header */
    return PX_OK;
}

bool px_dns_can_continue(const px_dns_iter *it)
{
    return !it->broken;
}

void px_dns_set_want(px_dns_iter *it, px_dns_want_fn want, void *ctx)
{
    it->want = want;
    it->want_ctx = ctx;
}

/* ---- rdata text ---- */

/* Copies the text of a name inside the rdata text to buf (a target). */
static const char *target_text(const char *text, const px_dns_targets *tg, int i, char *buf)
{
    memcpy(buf, text + tg->text_off[i], tg->text_len[i]);
    buf[tg->text_len[i]] = '\0';
    return buf;
}

/* Formats canonical rdata rd[0..len) through px_dns_rdata_to_text() into
 * it->rdata and sets the target fields. */
static px_err rdata_text(px_dns_iter *it, px_dns_rr *rr, const uint8_t *rd, size_t len)
{
    px_dns_targets *tg = &rr->targets;
    size_t n;
    rr->target = NULL;
    rr->target2 = NULL;
    px_err err = px_dns_rdata_to_text(rr->type, rd, len, it->rdata, sizeof it->rdata, &n, tg);
    if (err) {
        tg->n = 0;
        return err;
    }
    rr->rdata = it->rdata;
    rr->rdata_len = n;
    if (tg->n > 0)
        rr->target = target_text(it->rdata, tg, 0, it->target);
    if (tg->n > 1)
        rr->target2 = target_text(it->rdata, tg, 1, it->target2);
    return PX_OK;
}

/* ---- records ---- */

static px_err framing_lost(px_dns_iter *it, px_err err)
{
    it->broken = true;
    px_wire_fail(&it->w, err);
    return err;
}

/* Type, class, TTL and rdata length after the owner name; rd gets the
 * rdata. */
static px_err fixed_read(px_dns_iter *it, px_dns_rr *rr, px_wire *rd)
{
    /* One bounds check for the ten fixed octets, not four. */
    const uint8_t *f = px_wire_bytes(&it->w, 10);
    if (!f)
        return framing_lost(it, px_wire_err(&it->w));
    rr->type = (uint16_t)((f[0] << 8) | f[1]);
    rr->rclass = (uint16_t)((f[2] << 8) | f[3]);
    rr->ttl = ((uint32_t)f[4] << 24) | ((uint32_t)f[5] << 16) | ((uint32_t)f[6] << 8) | f[7];
    rr->rdlen = (uint16_t)((f[8] << 8) | f[9]);
    *rd = px_wire_sub(&it->w, rr->rdlen);
    if (px_wire_err(&it->w))
        return framing_lost(it, px_wire_err(&it->w));
    rr->rdata_wire = rd->pos;
    return PX_OK;
}

static px_err owner_canon(px_dns_iter *it);

/* Frames the record (the owner name is only stepped over), asks the want
 * function if there is one, and decodes the owner name only for a wanted
 * record: the name is read again from its start, and it->w ends where the
 * framing left it. */
static px_err frame_record(px_dns_iter *it, px_dns_rr *rr, px_wire *rd, bool *wanted)
{
    *wanted = false;
    size_t owner = px_wire_offset(&it->w);
    px_err err = name_skip(&it->w);
    if (err)
        return framing_lost(it, err);
    if ((err = fixed_read(it, rr, rd)) != PX_OK)
        return err;
    if (it->want && !it->want(it->want_ctx, rr))
        return PX_OK;
    *wanted = true;
    size_t end = px_wire_offset(&it->w);
    px_wire_seek(&it->w, owner);
    if ((err = owner_canon(it)) != PX_OK)
        return framing_lost(it, err);
    px_wire_seek(&it->w, end);
    return PX_OK;
}

/* Moves to the next record of the message and clears what it fills in;
 * PX_ERR_EOF after the last one. */
static px_err next_begin(px_dns_iter *it, px_dns_rr *rr)
{
    if (it->broken)
        return px_wire_err(&it->w) ? px_wire_err(&it->w) : PX_ERR_MALFORMED;
    while (it->section <= PX_DNS_ADDITIONAL && it->left[it->section] == 0)
        it->section++;
    if (it->section > PX_DNS_ADDITIONAL)
        return PX_ERR_EOF;
    it->left[it->section]--;

    rr->section = it->section;
    rr->name = NULL;
    rr->name_len = 0;
    rr->target = NULL;
    rr->target2 = NULL;
    rr->targets.n = 0;
    rr->rdata = NULL;
    rr->rdata_len = 0;
    rr->owner_wire = NULL;
    rr->owner_wire_len = 0;
    rr->rdata_canon = NULL;
    rr->rdata_canon_len = 0;
    return PX_OK;
}

/* ---- wire mode ---- */

/* The owner name's canonical wire form; an owner that points where the
 * last one did (nearly every answer points at the question) is not read
 * again. Any pointer there was validated then and points before this
 * record too. */
static px_err owner_canon(px_dns_iter *it)
{
    const uint8_t *p = it->w.pos;
    const uint8_t *msg = it->w.start;
    size_t size = px_wire_size(&it->w);
    if (px_wire_avail(&it->w) >= 2 && (p[0] & 0xC0) == 0xC0) {
        uint16_t target = (uint16_t)(((p[0] & 0x3F) << 8) | p[1]);
        if (target == it->owner_from && target != 0) {
            px_wire_skip(&it->w, 2);
            return PX_OK;
        }
        it->owner_from = 0;
        px_err err = name_canon(msg, size, &it->w, it->owner, &it->owner_len);
        if (err == PX_OK)
            it->owner_from = target;
        return err;
    }
    it->owner_from = 0;
    return name_canon(msg, size, &it->w, it->owner, &it->owner_len);
}

/* n fixed octets of rdata copied as they are. */
static void canon_fixed(px_wire *rd, uint8_t *out, size_t *at, size_t n)
{
    const uint8_t *p = px_wire_bytes(rd, n);
    if (p)
        memcpy(out + *at, p, n);
    *at += n;
}

static px_err canon_name(const px_dns_iter *it, px_wire *rd, uint8_t *out, size_t *at)
{
    size_t n;
    px_err err = name_canon(it->w.start, px_wire_size(&it->w), rd, out + *at, &n);
    if (err == PX_OK)
        *at += n;
    return err;
}

/* The canonical rdata: for types with names, the same fields
 * px_dns_rdata_to_text() reads, in the same order, with the same checks. */
static px_err rdata_canon(px_dns_iter *it, px_dns_rr *rr, px_wire *rd)
{
    size_t at = 0;
    px_err err = PX_OK;
    uint8_t *o = it->canon;
    switch (rr->type) {
    case PX_DNS_TYPE_NS:
    case PX_DNS_TYPE_CNAME:
    case PX_DNS_TYPE_PTR:
    case PX_DNS_TYPE_DNAME:
        err = canon_name(it, rd, o, &at);
        break;
    case PX_DNS_TYPE_MX:
        canon_fixed(rd, o, &at, 2);
        err = canon_name(it, rd, o, &at);
        break;
    case PX_DNS_TYPE_SRV:
        canon_fixed(rd, o, &at, 6);
        err = canon_name(it, rd, o, &at);
        break;
    case PX_DNS_TYPE_SOA:
        err = canon_name(it, rd, o, &at);
        if (!err)
            err = canon_name(it, rd, o, &at);
        if (!err)
            canon_fixed(rd, o, &at, 20);
        break;
    default:
        rr->rdata_canon = rr->rdata_wire;
        rr->rdata_canon_len = rr->rdlen;
        return PX_OK;
    }
    if (!err && px_wire_err(rd))
        err = PX_ERR_MALFORMED;
    if (!err && px_wire_avail(rd) != 0)
        err = PX_ERR_MALFORMED;
    if (err)
        return err == PX_ERR_TRUNC ? PX_ERR_MALFORMED : err;
    rr->rdata_canon = o;
    rr->rdata_canon_len = at;
    return PX_OK;
}

px_err px_dns_next_wire(px_dns_iter *it, px_dns_rr *rr)
{
    px_err err = next_begin(it, rr);
    if (err)
        return err;
    px_wire rd;
    bool wanted;
    if ((err = frame_record(it, rr, &rd, &wanted)) != PX_OK || !wanted)
        return err;
    rr->owner_wire = it->owner;
    rr->owner_wire_len = it->owner_len;
    return rdata_canon(it, rr, &rd);
}

px_err px_dns_rr_text(px_dns_iter *it, px_dns_rr *rr)
{
    if (!it || !rr || !rr->owner_wire || !rr->rdata_canon)
        return PX_ERR_INVAL;
    px_wire w;
    px_wire_init(&w, rr->owner_wire, rr->owner_wire_len);
    it->name_from = 0; /* it->name no longer holds the name at name_from */
    px_err err = pxd_name_text(&w, it->name, &it->name_len);
    if (err)
        return err;
    rr->name = it->name;
    rr->name_len = it->name_len;
    return rdata_text(it, rr, rr->rdata_canon, rr->rdata_canon_len);
}
