/* Domain name text: the one writer (wire -> canonical text), the one
 * reader (any accepted spelling -> canonical wire) and the label
 * operations the filter, privacy rules and queries use. The rules are in
 * dns/px_dns_name.h and docs/DATA-MODEL.md. */
#include <stdio.h>
#include <string.h>

#include "dns/px_dns_name.h"
#include "px_dns_text.h"

#define LABEL_MAX 63

/* Presentation of one name octet: 0 = write as \DDD, 1 = write as backslash
 * and the octet itself ('.' and '\\'), anything else = the octet to write
 * (uppercase already folded to lowercase). */
/* clang-format off */
static const uint8_t name_map[256] = {
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
    0,   33,  0,   35,  0,   37,  38,  39,  0,   0,   42,  43,  44,  45,  1,   47,
    48,  49,  50,  51,  52,  53,  54,  55,  56,  57,  58,  0,   60,  61,  62,  63,
    0,   97,  98,  99,  100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111,
    112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 91,  1,   93,  94,  95,
    96,  97,  98,  99,  100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111,
    112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 0,
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
};
/* clang-format on */

static uint8_t fold(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Writes the text of one label's n octets (at most 4 * n chars); returns
 * the end. */
static char *put_label(char *o, const uint8_t *p, size_t n)
{
    /* Fast path without branches per octet: almost every label needs no
     * escape, so copy through the table and redo the label if one did. */
    unsigned escapes = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t m = name_map[p[i]];
        o[i] = (char)m;
        escapes |= m < 2;
    }
    if (!escapes)
        return o + n;
    for (size_t i = 0; i < n; i++) {
        uint8_t m = name_map[p[i]];
        if (m > 1) {
            *o++ = (char)m;
        } else if (m == 1) {
            *o++ = '\\';
            *o++ = (char)p[i];
        } else {
            o = pxd_put_ddd(o, p[i]);
        }
    }
    return o;
}

px_err pxd_name_text(px_wire *w, char *out, size_t *outlen)
{
    size_t wire_len = 1; /* the root label */
    char *o = out;
    for (;;) {
        uint8_t len = px_wire_u8(w);
        if (px_wire_err(w))
            return px_wire_err(w);
        if (len == 0)
            break;
        if (len & 0xC0) /* a pointer, or 01/10 (extended labels, retired) */
            return PX_ERR_MALFORMED;
        wire_len += (size_t)len + 1;
        if (wire_len > PX_DNS_NAME_WIRE_MAX)
            return PX_ERR_TOOLONG;
        const uint8_t *p = px_wire_bytes(w, len);
        if (!p)
            return px_wire_err(w);
        if (o != out)
            *o++ = '.';
        o = put_label(o, p, len);
    }
    if (o == out)
        *o++ = '.';
    *o = '\0';
    *outlen = (size_t)(o - out);
    return PX_OK;
}

px_err px_dns_name_to_text(const uint8_t *wire, size_t len, char *out, size_t cap, size_t *used)
{
    char tmp[PX_DNS_NAME_TEXT_MAX];
    size_t n;
    px_wire w;

    if (!wire || !out)
        return PX_ERR_INVAL;
    px_wire_init(&w, wire, len);
    px_err err = pxd_name_text(&w, tmp, &n);
    if (err)
        return err;
    if (px_wire_avail(&w) != 0)
        return PX_ERR_MALFORMED; /* bytes after the root label */
    if (n + 1 > cap)
        return PX_ERR_TOOLONG;
    memcpy(out, tmp, n + 1);
    if (used)
        *used = n;
    return PX_OK;
}

/* One octet of name text at t[*i] (an escape or a plain character);
 * *i moves past it. */
static px_err read_octet(const char *t, size_t len, size_t *i, uint8_t *octet)
{
    uint8_t c = (uint8_t)t[*i];
    if (c != '\\') {
        if (c < 0x21 || c > 0x7e)
            return PX_ERR_MALFORMED;
        *octet = c;
        *i += 1;
        return PX_OK;
    }
    if (*i + 1 >= len)
        return PX_ERR_MALFORMED; /* dangling escape */
    c = (uint8_t)t[*i + 1];
    if (!is_digit((char)c)) {
        if (c < 0x20 || c > 0x7e)
            return PX_ERR_MALFORMED;
        *octet = c;
        *i += 2;
        return PX_OK;
    }
    if (*i + 3 >= len || !is_digit(t[*i + 2]) || !is_digit(t[*i + 3]))
        return PX_ERR_MALFORMED;
    unsigned v =
        (unsigned)(c - '0') * 100 + (unsigned)(t[*i + 2] - '0') * 10 + (unsigned)(t[*i + 3] - '0');
    if (v > 255)
        return PX_ERR_MALFORMED;
    *octet = (uint8_t)v;
    *i += 4;
    return PX_OK;
}

px_err px_dns_name_from_text(const char *t, size_t len, uint8_t *wire, size_t *wire_len)
{
    if (!t || !wire || !wire_len)
        return PX_ERR_INVAL;
    if (len == 0)
        return PX_ERR_MALFORMED;
    if (len == 1 && t[0] == '.') {
        wire[0] = 0;
        *wire_len = 1;
        return PX_OK;
    }
    /* n: octets written; label: where the open label's length octet goes.
     * n stays <= 254 so the root label fits. */
    size_t n = 1, label = 0;
    bool open = true;
    for (size_t i = 0; i < len;) {
        if (t[i] == '.') {
            if (n == label + 1)
                return PX_ERR_MALFORMED; /* empty label */
            wire[label] = (uint8_t)(n - label - 1);
            if (++i == len) {
                open = false; /* one trailing dot */
                break;
            }
            label = n++;
            continue;
        }
        uint8_t octet;
        px_err e = read_octet(t, len, &i, &octet);
        if (e)
            return e;
        if (n - label - 1 >= LABEL_MAX || n >= PX_DNS_NAME_WIRE_MAX - 1)
            return PX_ERR_TOOLONG;
        wire[n++] = fold(octet);
    }
    if (open)
        wire[label] = (uint8_t)(n - label - 1); /* not empty: it follows an octet */
    wire[n++] = 0;
    *wire_len = n;
    return PX_OK;
}

px_err px_dns_name_canon(const char *text, size_t len, char *out, size_t cap, size_t *used)
{
    uint8_t wire[PX_DNS_NAME_WIRE_MAX];
    size_t n;
    px_err e = px_dns_name_from_text(text, len, wire, &n);
    if (e)
        return e;
    return px_dns_name_to_text(wire, n, out, cap, used);
}

/* An octet the canonical text writes as itself (the table's 0 and 1 are
 * markers, never octets written). */
static bool plain(uint8_t c)
{
    return c > 1 && name_map[c] == c;
}

/* What the canonical text writes for an octet is the octet itself (name_map
 * > 1), the octet after a backslash (1), or \DDD (0): the checker reads
 * text back with the same table. */
bool px_dns_name_is_canonical(const char *t, size_t len)
{
    if (!t || len == 0)
        return false;
    if (len == 1)
        return t[0] == '.' || plain((uint8_t)t[0]);
    size_t wire = 1, label = 0;
    for (size_t i = 0; i < len;) {
        uint8_t c = (uint8_t)t[i];
        if (c == '.') {
            if (label == 0 || i + 1 == len)
                return false; /* empty label, or a trailing dot */
            wire += 1;
            label = 0;
            i++;
            continue;
        }
        uint8_t octet;
        if (c != '\\') {
            if (!plain(c)) /* upper case, or needs an escape */
                return false;
            i++;
        } else {
            size_t at = i;
            if (read_octet(t, len, &i, &octet) != PX_OK)
                return false;
            /* "\." and "\\" are the only \X forms; \DDD only for table 0 */
            if (i - at == 2 ? name_map[octet] != 1 : name_map[octet] != 0)
                return false;
        }
        if (++label > LABEL_MAX || ++wire > PX_DNS_NAME_WIRE_MAX - 1)
            return false;
    }
    return true;
}

void px_dns_name_fold(uint8_t *wire, size_t len)
{
    for (size_t i = 0; i < len; i++)
        wire[i] = fold(wire[i]);
}

/* Length of the escape sequence starting at name[i] == '\\': "\DDD" or "\X". */
static size_t escape_len(const char *name, size_t len, size_t i)
{
    if (i + 1 < len && is_digit(name[i + 1]))
        return 4;
    return 2;
}

size_t px_dns_name_last_label(const char *name, size_t len, bool *has_dot)
{
    /* Names without a backslash (nearly all) take the memrchr path. */
    if (!memchr(name, '\\', len)) {
        const char *dot = memrchr(name, '.', len);
        *has_dot = dot != NULL;
        return dot ? (size_t)(dot - name) + 1 : 0;
    }
    size_t last = 0;
    *has_dot = false;
    for (size_t i = 0; i < len;) {
        if (name[i] == '\\') {
            i += escape_len(name, len, i);
            continue;
        }
        if (name[i] == '.') {
            last = i + 1;
            *has_dot = true;
        }
        i++;
    }
    return last;
}

bool px_dns_name_in_zone(const char *name, size_t name_len, const char *zone, size_t zone_len)
{
    if (zone_len == 0 || (zone_len == 1 && zone[0] == '.'))
        return true;
    if (name_len < zone_len)
        return false;
    if (memcmp(name + name_len - zone_len, zone, zone_len) != 0)
        return false;
    if (name_len == zone_len)
        return true;
    /* A label boundary must precede the zone, and that dot must not be an
     * escaped one ("a\.example" is one label). Count the backslashes. */
    size_t dot = name_len - zone_len - 1;
    if (name[dot] != '.')
        return false;
    size_t bs = 0;
    while (bs < dot && name[dot - 1 - bs] == '\\')
        bs++;
    return bs % 2 == 0;
}

/* Label starts of a wire name, left to right; returns how many (the root
 * label not counted). */
static size_t label_starts(const uint8_t *w, size_t len, uint8_t *at)
{
    size_t k = 0;
    for (size_t i = 0; i < len && w[i] != 0; i += (size_t)w[i] + 1)
        at[k++] = (uint8_t)i;
    return k;
}

int px_dns_name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    uint8_t wa[PX_DNS_NAME_WIRE_MAX], wb[PX_DNS_NAME_WIRE_MAX];
    size_t la, lb;
    bool oka = px_dns_name_from_text(a, alen, wa, &la) == PX_OK;
    bool okb = px_dns_name_from_text(b, blen, wb, &lb) == PX_OK;
    if (!oka || !okb) {
        if (oka != okb)
            return oka ? -1 : 1;
        int c = memcmp(a, b, alen < blen ? alen : blen);
        return c ? c : (alen > blen) - (alen < blen);
    }
    uint8_t sa[128], sb[128];
    size_t na = label_starts(wa, la, sa), nb = label_starts(wb, lb, sb);
    for (size_t i = 1; i <= na && i <= nb; i++) {
        const uint8_t *x = wa + sa[na - i], *y = wb + sb[nb - i];
        size_t lx = x[0], ly = y[0];
        int c = memcmp(x + 1, y + 1, lx < ly ? lx : ly);
        if (c)
            return c;
        if (lx != ly)
            return lx < ly ? -1 : 1;
    }
    return (na > nb) - (na < nb);
}

bool px_dns_conf_check_name(const char *v, char *why, size_t whylen)
{
    uint8_t wire[PX_DNS_NAME_WIRE_MAX];
    size_t n;
    if (v && px_dns_name_from_text(v, strlen(v), wire, &n) == PX_OK && n > 1)
        return true;
    snprintf(why, whylen, "not a domain name (printable, no empty label, not the root)");
    return false;
}
