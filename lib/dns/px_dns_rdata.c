/* Rdata text: the one formatter (canonical wire -> canonical text) and the
 * one parser (any accepted text -> canonical wire). The rules are in
 * dns/px_dns_rdata.h and docs/DATA-MODEL.md. No allocation. */
#include <string.h>

#include "dns/px_addr.h"
#include "dns/px_dns_rdata.h"
#include "px_dns_text.h"

static const char hex_digits[16] = "0123456789abcdef";

/* ==== the formatter ==== */

/* Bounded text output. */
typedef struct text_out {
    char *start;
    char *p;
    char *end; /* leaves room for the NUL */
    bool full;
} text_out;

static inline bool out_room(text_out *t, size_t n)
{
    if (t->full || (size_t)(t->end - t->p) < n) {
        t->full = true;
        return false;
    }
    return true;
}

static inline void out_char(text_out *t, char c)
{
    if (out_room(t, 1))
        *t->p++ = c;
}

static inline void out_mem(text_out *t, const char *s, size_t n)
{
    if (out_room(t, n)) {
        memcpy(t->p, s, n);
        t->p += n;
    }
}

static void out_u32(text_out *t, uint32_t v)
{
    char tmp[10];
    size_t n = 0;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    out_mem(t, tmp + sizeof tmp - n, n);
}

static char *quoted_octet(char *o, uint8_t b)
{
    if (b < 0x20 || b > 0x7E)
        return pxd_put_ddd(o, b);
    if (b == '"' || b == '\\')
        *o++ = '\\';
    *o++ = (char)b;
    return o;
}

/* One character-string body as a quoted string (TXT, CAA value). */
static void out_quoted(text_out *t, const uint8_t *p, size_t n)
{
    if ((size_t)(t->end - t->p) >= n * 4 + 2 && !t->full) {
        char *o = t->p; /* room for the worst case: no check per octet */
        *o++ = '"';
        for (size_t i = 0; i < n; i++)
            o = quoted_octet(o, p[i]);
        *o++ = '"';
        t->p = o;
        return;
    }
    /* Near the end of the room: exact, so the limit is the text's length. */
    out_char(t, '"');
    for (size_t i = 0; i < n && !t->full; i++) {
        char tmp[4];
        out_mem(t, tmp, (size_t)(quoted_octet(tmp, p[i]) - tmp));
    }
    out_char(t, '"');
}

static void out_addr(text_out *t, const uint8_t *a, size_t n)
{
    char tmp[PX_ADDR_TEXT_MAX];
    out_mem(t, tmp, px_addr_format_bytes(a, n, tmp));
}

/* RFC 3597 "\# LEN HEX"; "\# 0" when empty. */
static void out_generic(text_out *t, const uint8_t *p, size_t n)
{
    out_mem(t, "\\# ", 3);
    out_u32(t, (uint32_t)n);
    if (n == 0 || !out_room(t, 1 + 2 * n))
        return;
    char *o = t->p;
    *o++ = ' ';
    for (size_t i = 0; i < n; i++) {
        *o++ = hex_digits[p[i] >> 4];
        *o++ = hex_digits[p[i] & 0xF];
    }
    t->p = o;
}

/* Appends the name at rd's position and records it as a target. */
static px_err rd_name(px_wire *rd, text_out *t, px_dns_targets *tg)
{
    char buf[PX_DNS_NAME_TEXT_MAX];
    size_t n, off = px_wire_offset(rd), text_off = (size_t)(t->p - t->start);
    px_err err = pxd_name_text(rd, buf, &n);
    if (err)
        return err;
    out_mem(t, buf, n);
    if (tg->n < 2) {
        tg->off[tg->n] = (uint16_t)off;
        tg->len[tg->n] = (uint16_t)(px_wire_offset(rd) - off);
        tg->text_off[tg->n] = (uint16_t)text_off;
        tg->text_len[tg->n] = (uint16_t)n;
        tg->n++;
    }
    return PX_OK;
}

static px_err rd_txt(px_wire *rd, text_out *t)
{
    if (px_wire_avail(rd) == 0)
        return PX_ERR_MALFORMED; /* at least one character-string */
    bool first = true;
    while (px_wire_avail(rd) > 0) {
        uint8_t n = px_wire_u8(rd);
        const uint8_t *p = px_wire_bytes(rd, n);
        if (!p)
            return PX_ERR_MALFORMED;
        if (!first)
            out_char(t, ' ');
        first = false;
        out_quoted(t, p, n);
    }
    return PX_OK;
}

static bool caa_tag_ok(const uint8_t *tag, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = tag[i];
        bool alnum = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
        if (!alnum)
            return false; /* RFC 8659: tags are [A-Za-z0-9]+ */
    }
    return n > 0;
}

static px_err rd_caa(px_wire *rd, text_out *t)
{
    uint8_t flags = px_wire_u8(rd);
    uint8_t tag_len = px_wire_u8(rd);
    const uint8_t *tag = px_wire_bytes(rd, tag_len);
    if (!tag || !caa_tag_ok(tag, tag_len))
        return PX_ERR_MALFORMED;
    size_t vlen = px_wire_avail(rd);
    const uint8_t *val = px_wire_bytes(rd, vlen);
    out_u32(t, flags);
    out_char(t, ' ');
    out_mem(t, (const char *)tag, tag_len);
    out_char(t, ' ');
    out_quoted(t, val ? val : tag, vlen);
    return PX_OK;
}

static px_err rd_format(uint16_t type, px_wire *rd, text_out *t, px_dns_targets *tg)
{
    size_t n = px_wire_avail(rd);
    px_err err = PX_OK;
    switch (type) {
    case PX_DNS_TYPE_A:
    case PX_DNS_TYPE_AAAA:
        if (n != (type == PX_DNS_TYPE_A ? 4u : 16u))
            return PX_ERR_MALFORMED;
        out_addr(t, rd->pos, n);
        px_wire_skip(rd, n);
        break;
    case PX_DNS_TYPE_NS:
    case PX_DNS_TYPE_CNAME:
    case PX_DNS_TYPE_PTR:
    case PX_DNS_TYPE_DNAME:
        err = rd_name(rd, t, tg);
        break;
    case PX_DNS_TYPE_MX:
        out_u32(t, px_wire_u16(rd));
        out_char(t, ' ');
        err = rd_name(rd, t, tg);
        break;
    case PX_DNS_TYPE_SRV:
        for (int i = 0; i < 3; i++) {
            out_u32(t, px_wire_u16(rd));
            out_char(t, ' ');
        }
        err = rd_name(rd, t, tg);
        break;
    case PX_DNS_TYPE_SOA:
        err = rd_name(rd, t, tg);
        out_char(t, ' ');
        if (!err)
            err = rd_name(rd, t, tg);
        for (int i = 0; i < 5 && !err; i++) {
            out_char(t, ' ');
            out_u32(t, px_wire_u32(rd));
        }
        break;
    case PX_DNS_TYPE_TXT:
        err = rd_txt(rd, t);
        break;
    case PX_DNS_TYPE_CAA:
        err = rd_caa(rd, t);
        break;
    default:
        out_generic(t, rd->pos, n);
        px_wire_skip(rd, n);
        break;
    }
    return err;
}

px_err px_dns_rdata_to_text(uint16_t type, const uint8_t *rd, size_t len, char *out, size_t cap,
                            size_t *used, px_dns_targets *targets)
{
    px_dns_targets tg = {0};
    px_wire w;
    if ((!rd && len) || !out || cap == 0)
        return PX_ERR_INVAL;
    if (cap > PX_DNS_RDATA_TEXT_MAX)
        cap = PX_DNS_RDATA_TEXT_MAX;
    text_out t = {out, out, out + cap - 1, false};
    px_wire_init(&w, rd, len);
    px_err err = rd_format(type, &w, &t, &tg);
    if (!err && px_wire_err(&w))
        err = PX_ERR_MALFORMED; /* fixed fields ran past rdlength */
    if (!err && px_wire_avail(&w) != 0)
        err = PX_ERR_MALFORMED; /* bytes left over after the last field */
    if (!err && t.full)
        err = PX_ERR_TOOLONG;
    if (err) /* a name that runs past rdlength is a bad rdata, not truncation */
        return err == PX_ERR_TRUNC ? PX_ERR_MALFORMED : err;
    *t.p = '\0';
    if (used)
        *used = (size_t)(t.p - out);
    if (targets)
        *targets = tg;
    return PX_OK;
}

/* ==== the parser ==== */

/* Text being parsed, and the wire being written. */
typedef struct text_in {
    const char *p, *end;
    uint8_t *o, *ostart, *oend;
    px_err err; /* first error; later writes and reads are no-ops */
} text_in;

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static void in_fail(text_in *in, px_err e)
{
    if (!in->err)
        in->err = e;
}

static void skip_blanks(text_in *in)
{
    while (in->p < in->end && is_blank(*in->p))
        in->p++;
}

/* The next field: a run of non-blank characters where '\' takes the next
 * character with it (so "a\ b" is one field). Empty at the end. */
static size_t field(text_in *in, const char **start)
{
    skip_blanks(in);
    const char *s = in->p;
    while (in->p < in->end && !is_blank(*in->p))
        in->p += (*in->p == '\\' && in->p + 1 < in->end) ? 2 : 1;
    *start = s;
    return (size_t)(in->p - s);
}

static void put(text_in *in, const void *b, size_t n)
{
    if (in->err)
        return;
    if ((size_t)(in->oend - in->o) < n) {
        in_fail(in, PX_ERR_TOOLONG);
        return;
    }
    memcpy(in->o, b, n);
    in->o += n;
}

/* A decimal field up to max; leading zeros are fine. */
static uint32_t number(text_in *in, uint32_t max)
{
    const char *s;
    size_t n = field(in, &s);
    uint64_t v = 0;
    if (n == 0)
        in_fail(in, PX_ERR_MALFORMED);
    for (size_t i = 0; i < n && !in->err; i++) {
        if (!is_digit(s[i]))
            in_fail(in, PX_ERR_MALFORMED);
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > max)
            in_fail(in, PX_ERR_MALFORMED);
    }
    return in->err ? 0 : (uint32_t)v;
}

static void put_u16(text_in *in, uint32_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(in, b, 2);
}

static void put_u32(text_in *in, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(in, b, 4);
}

static void put_name(text_in *in, px_dns_targets *tg)
{
    const char *s;
    size_t n = field(in, &s);
    uint8_t wire[PX_DNS_NAME_WIRE_MAX];
    size_t wlen;
    if (in->err)
        return;
    px_err e = px_dns_name_from_text(s, n, wire, &wlen);
    if (e) {
        in_fail(in, e);
        return;
    }
    size_t off = (size_t)(in->o - in->ostart);
    put(in, wire, wlen);
    if (!in->err && tg->n < 2) {
        tg->off[tg->n] = (uint16_t)off;
        tg->len[tg->n] = (uint16_t)wlen;
        tg->n++;
    }
}

static void put_addr(text_in *in, int family)
{
    const char *s;
    size_t n = field(in, &s);
    px_addr a;
    if (in->err)
        return;
    if (px_addr_parse_n(s, n, &a) != PX_OK || a.family != family) {
        in_fail(in, PX_ERR_MALFORMED);
        return;
    }
    put(in, a.bytes, family == 4 ? 4 : 16);
}

/* One octet of a character-string at in->p ("\X", "\DDD" or itself);
 * quoted: blanks are octets too. */
static int string_octet(text_in *in, bool quoted)
{
    uint8_t c = (uint8_t)*in->p;
    if (c != '\\') {
        bool ok =
            quoted ? (c == '\t' || (c >= 0x20 && c != 0x7f)) : (c >= 0x21 && c <= 0x7e && c != '"');
        in->p++;
        return ok ? c : -1;
    }
    if (in->p + 1 >= in->end)
        return -1;
    c = (uint8_t)in->p[1];
    if (!is_digit((char)c)) {
        in->p += 2;
        return c >= 0x20 ? c : -1;
    }
    if (in->p + 3 >= in->end || !is_digit(in->p[2]) || !is_digit(in->p[3]))
        return -1;
    int v = (c - '0') * 100 + (in->p[2] - '0') * 10 + (in->p[3] - '0');
    in->p += 4;
    return v <= 255 ? v : -1;
}

/* One character-string, quoted or bare, into buf; returns its length
 * (at most max), or -1 (in->err set). */
static long string(text_in *in, uint8_t *buf, size_t max)
{
    skip_blanks(in);
    if (in->err || in->p >= in->end) {
        in_fail(in, PX_ERR_MALFORMED);
        return -1;
    }
    bool quoted = *in->p == '"';
    size_t n = 0;
    if (quoted)
        in->p++;
    for (;;) {
        if (in->p >= in->end) {
            if (quoted)
                in_fail(in, PX_ERR_MALFORMED); /* no closing quote */
            break;
        }
        if (quoted ? *in->p == '"' : is_blank(*in->p))
            break;
        int c = string_octet(in, quoted);
        if (c < 0) {
            in_fail(in, PX_ERR_MALFORMED);
            return -1;
        }
        if (n == max) {
            in_fail(in, PX_ERR_TOOLONG);
            return -1;
        }
        buf[n++] = (uint8_t)c;
    }
    if (quoted && !in->err)
        in->p++; /* the closing quote */
    if (quoted && in->p < in->end && !is_blank(*in->p))
        in_fail(in, PX_ERR_MALFORMED); /* "a"b */
    return in->err ? -1 : (long)n;
}

static void parse_txt(text_in *in)
{
    uint8_t buf[255];
    do {
        long n = string(in, buf, sizeof buf);
        if (n < 0)
            return;
        uint8_t len = (uint8_t)n;
        put(in, &len, 1);
        put(in, buf, (size_t)n);
        skip_blanks(in);
    } while (!in->err && in->p < in->end);
}

static void parse_caa(text_in *in)
{
    uint32_t flags = number(in, 255);
    const char *tag;
    size_t tn = field(in, &tag);
    if (in->err)
        return;
    if (tn > 255 || !caa_tag_ok((const uint8_t *)tag, tn)) {
        in_fail(in, PX_ERR_MALFORMED);
        return;
    }
    uint8_t head[2] = {(uint8_t)flags, (uint8_t)tn};
    put(in, head, 2);
    put(in, tag, tn);
    /* The value has no length octet: it is the rest of the rdata. */
    uint8_t buf[PX_DNS_RDATA_TEXT_MAX];
    long n = string(in, buf, sizeof buf);
    if (n >= 0)
        put(in, buf, (size_t)n);
}

static int hex_value(char c)
{
    if (is_digit(c))
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* RFC 3597 "\# LEN HEX" (the "\#" already read); the hex may have blanks. */
static void parse_generic(text_in *in)
{
    uint32_t len = number(in, PX_DNS_RDATA_WIRE_MAX);
    size_t got = 0;
    int hi = -1;
    skip_blanks(in);
    for (; !in->err && in->p < in->end; in->p++) {
        if (is_blank(*in->p))
            continue;
        int v = hex_value(*in->p);
        if (v < 0 || got == len) {
            in_fail(in, PX_ERR_MALFORMED);
            return;
        }
        if (hi < 0) {
            hi = v;
            continue;
        }
        uint8_t b = (uint8_t)(hi << 4 | v);
        put(in, &b, 1);
        hi = -1;
        got++;
    }
    if (!in->err && (got != len || hi >= 0))
        in_fail(in, PX_ERR_MALFORMED);
}

static void parse_type(uint16_t type, text_in *in, px_dns_targets *tg)
{
    switch (type) {
    case PX_DNS_TYPE_A:
        put_addr(in, 4);
        break;
    case PX_DNS_TYPE_AAAA:
        put_addr(in, 6);
        break;
    case PX_DNS_TYPE_NS:
    case PX_DNS_TYPE_CNAME:
    case PX_DNS_TYPE_PTR:
    case PX_DNS_TYPE_DNAME:
        put_name(in, tg);
        break;
    case PX_DNS_TYPE_MX:
        put_u16(in, number(in, 0xffff));
        put_name(in, tg);
        break;
    case PX_DNS_TYPE_SRV:
        for (int i = 0; i < 3; i++)
            put_u16(in, number(in, 0xffff));
        put_name(in, tg);
        break;
    case PX_DNS_TYPE_SOA:
        put_name(in, tg);
        put_name(in, tg);
        for (int i = 0; i < 5; i++)
            put_u32(in, number(in, 0xffffffffu));
        break;
    case PX_DNS_TYPE_TXT:
        parse_txt(in);
        break;
    case PX_DNS_TYPE_CAA:
        parse_caa(in);
        break;
    default:
        in_fail(in, PX_ERR_MALFORMED); /* no presentation rule: "\#" only */
        break;
    }
}

static bool is_name_type(uint16_t type)
{
    return type == PX_DNS_TYPE_NS || type == PX_DNS_TYPE_CNAME || type == PX_DNS_TYPE_PTR ||
           type == PX_DNS_TYPE_DNAME;
}

static bool has_rule(uint16_t type)
{
    switch (type) {
    case PX_DNS_TYPE_A:
    case PX_DNS_TYPE_AAAA:
    case PX_DNS_TYPE_NS:
    case PX_DNS_TYPE_CNAME:
    case PX_DNS_TYPE_PTR:
    case PX_DNS_TYPE_DNAME:
    case PX_DNS_TYPE_MX:
    case PX_DNS_TYPE_SRV:
    case PX_DNS_TYPE_SOA:
    case PX_DNS_TYPE_TXT:
    case PX_DNS_TYPE_CAA:
        return true;
    default:
        return false;
    }
}

/* "\#" for a type with a presentation rule: the wire must be a valid one,
 * and its names canonical, so it goes through that rule's text once. */
static px_err generic_known(uint16_t type, uint8_t *out, size_t cap, size_t *used,
                            px_dns_targets *tg)
{
    char text[PX_DNS_RDATA_TEXT_MAX];
    size_t n;
    px_err e = px_dns_rdata_to_text(type, out, *used, text, sizeof text, &n, NULL);
    if (e)
        return e == PX_ERR_TOOLONG ? e : PX_ERR_MALFORMED;
    return px_dns_rdata_from_text(type, text, n, out, cap, used, tg);
}

px_err px_dns_rdata_from_text(uint16_t type, const char *text, size_t len, uint8_t *out, size_t cap,
                              size_t *used, px_dns_targets *targets)
{
    px_dns_targets tg = {0};
    if ((!text && len) || !out || !used)
        return PX_ERR_INVAL;
    text_in in = {text, text + len, out, out, out + cap, PX_OK};
    const char *s;
    const char *save = in.p;
    size_t n = field(&in, &s);
    bool generic = n == 2 && s[0] == '\\' && s[1] == '#';
    if (generic)
        parse_generic(&in);
    else {
        in.p = save;
        parse_type(type, &in, &tg);
    }
    skip_blanks(&in);
    if (!in.err && in.p != in.end)
        in.err = PX_ERR_MALFORMED; /* trailing fields */
    if (in.err)
        return in.err;
    *used = (size_t)(in.o - out);
    if (generic && has_rule(type)) {
        px_err e = generic_known(type, out, cap, used, &tg);
        if (e)
            return e;
    }
    if (targets)
        *targets = tg;
    return PX_OK;
}

px_err px_dns_rdata_canon(uint16_t type, const char *text, size_t len, char *out, size_t cap,
                          size_t *used)
{
    uint8_t wire[PX_DNS_RDATA_WIRE_MAX];
    size_t n;
    px_err e = px_dns_rdata_from_text(type, text, len, wire, sizeof wire, &n, NULL);
    if (e)
        return e;
    return px_dns_rdata_to_text(type, wire, n, out, cap, used, NULL);
}

px_err px_dns_rdata_check(uint16_t type, const char *text, size_t len, uint8_t *wire, size_t cap,
                          size_t *wire_len, px_dns_targets *targets)
{
    char back[PX_DNS_RDATA_TEXT_MAX];
    size_t n;
    px_dns_targets tg;
    px_err e = px_dns_rdata_from_text(type, text, len, wire, cap, wire_len, &tg);
    if (e)
        return e;
    if (is_name_type(type)) {
        /* The text is the name's: the one-pass check, no formatting. */
        if (!px_dns_name_is_canonical(text, len))
            return PX_ERR_INVAL;
        tg.text_off[0] = 0;
        tg.text_len[0] = (uint16_t)len;
        if (targets)
            *targets = tg;
        return PX_OK;
    }
    /* The formatter's targets: the same wire, and (the text being equal)
     * the names' places in the caller's text. */
    e = px_dns_rdata_to_text(type, wire, *wire_len, back, sizeof back, &n, &tg);
    if (e || n != len || memcmp(back, text, len) != 0)
        return PX_ERR_INVAL;
    if (targets)
        *targets = tg;
    return PX_OK;
}
