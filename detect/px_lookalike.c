/* px_lookalike.c: the look-alike score. See px_lookalike.h for the methods
 * and docs/DETECTION.md for the thresholds and their reasons.
 *
 * Labels are compared by their key: NFC(skeleton(fold(skeleton(label)))).
 * The TR39 skeleton maps confusables to one prototype (Cyrillic а -> a,
 * 1 -> l, m -> rn) but keeps case, and maps 0 to capital O; DNS ignores
 * case, so the skeleton is case-folded and mapped again, and 0 meets o.
 * NFC at the end makes a letter with its accent one code point, so that
 * "bucher" is one edit from "bücher" and not two. Everything about
 * confusables comes from ICU's data; there is no table of our own. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idn2.h>
#include <unicode/unorm2.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>

#include "detect/px_lookalike.h"

#define LABEL_MAX 63     /* octets of one label on the wire */
#define DNS_NAME_MAX 253 /* octets of a name in presentation form, no trailing dot */

/* A string of code points. */
typedef struct cps {
    UChar32 *v;
    size_t n;
} cps;

/* A label as the scorer compares it: its code points, the same without
 * the hyphens, and how many hyphens it has. */
typedef struct view {
    cps s, flat;
    size_t hyphens;
} view;

typedef struct px_brand {
    char *conf;                 /* as configured */
    char *regdom;               /* A-label form, "paypal.com"; NULL for a bare label */
    char alabel[LABEL_MAX + 1]; /* the label, A-label form */
    view uni;                   /* the label in Unicode */
    view key;                   /* its key (file comment) */
    unsigned edits;             /* edit threshold by its length */
    bool idn;                   /* the label is an A-label */
} px_brand;

struct px_lookalike {
    USpoofChecker *sc;
    const UNormalizer2 *nfc;
    px_lookalike_opts opts;
    px_brand *b;
    size_t n;
    size_t row_max; /* longest brand key or label: the distance rows' length */
};

px_lookalike_opts px_lookalike_opts_default(void)
{
    return (px_lookalike_opts){
        .edit_min = 3, .edit2_min = 9, .prefix_min = 5, .substr_min = 6, .is_public_suffix = NULL};
}

const char *px_lookalike_method_name(px_lookalike_method m)
{
    switch (m) {
    case PX_LOOKALIKE_HOMOGLYPH:
        return "homoglyph";
    case PX_LOOKALIKE_EDIT:
        return "edit";
    case PX_LOOKALIKE_TOKEN:
        return "token";
    }
    return "?";
}

/* The brand as a message may quote it: control octets as \xHH, cut at 80. */
static void quote(const char *s, char *q, size_t qlen)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 5 < qlen; p++) {
        if (p - (const unsigned char *)s >= 80) {
            memcpy(q + o, "...", 3);
            o += 3;
            break;
        }
        if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
            o += (size_t)snprintf(q + o, qlen - o, "\\x%02x", *p);
        else
            q[o++] = (char)*p;
    }
    q[o] = '\0';
}

static bool is_ldh(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static unsigned min2(unsigned a, unsigned b)
{
    return a < b ? a : b;
}

/* ---- ICU: UTF-16 buffers that grow to what ICU says it needs ---- */

typedef struct ubuf {
    UChar *p;
    int32_t n, cap;
} ubuf;

enum icu_step { STEP_SKELETON, STEP_FOLD, STEP_NFC };

static int32_t icu_step(const px_lookalike *l, enum icu_step step, const ubuf *in, UChar *dst,
                        int32_t cap, UErrorCode *st)
{
    switch (step) {
    case STEP_SKELETON:
        return uspoof_getSkeleton(l->sc, 0, in->p, in->n, dst, cap, st);
    case STEP_FOLD:
        return u_strFoldCase(dst, cap, in->p, in->n, U_FOLD_CASE_DEFAULT, st);
    case STEP_NFC:
        break;
    }
    return unorm2_normalize(l->nfc, in->p, in->n, dst, cap, st);
}

/* out = step(in): one try into out's buffer, and if ICU says it needs
 * more, a second one into a buffer of that size. */
static px_err icu_run(const px_lookalike *l, enum icu_step step, const ubuf *in, ubuf *out)
{
    for (int tries = 0; tries < 2; tries++) {
        UErrorCode st = U_ZERO_ERROR;
        int32_t need = icu_step(l, step, in, out->p, out->cap, &st);
        if (st == U_BUFFER_OVERFLOW_ERROR && tries == 0 && need > 0 && need < INT32_MAX / 2) {
            UChar *p = realloc(out->p, (size_t)need * sizeof(UChar));
            if (!p)
                return PX_ERR_NOMEM;
            out->p = p;
            out->cap = need;
            continue;
        }
        if (st == U_MEMORY_ALLOCATION_ERROR)
            return PX_ERR_NOMEM;
        if (U_FAILURE(st))
            return PX_ERR_MALFORMED;
        out->n = need;
        return PX_OK;
    }
    return PX_ERR_MALFORMED;
}

/* key = NFC(skeleton(fold(skeleton(label)))), as code points. */
static px_err key_of(const px_lookalike *l, const cps *label, cps *key)
{
    ubuf a = {0}, b = {0};
    UErrorCode st = U_ZERO_ERROR;
    int32_t n16 = 0;
    px_err rc = PX_ERR_NOMEM;
    a.cap = (int32_t)(2 * label->n + 1);
    a.p = malloc((size_t)a.cap * sizeof(UChar));
    if (!a.p)
        goto out;
    u_strFromUTF32(a.p, a.cap, &n16, label->v, (int32_t)label->n, &st);
    if (U_FAILURE(st)) {
        rc = PX_ERR_MALFORMED; /* a surrogate or beyond U+10FFFF */
        goto out;
    }
    a.n = n16;
    if ((rc = icu_run(l, STEP_SKELETON, &a, &b)) != PX_OK ||
        (rc = icu_run(l, STEP_FOLD, &b, &a)) != PX_OK ||
        (rc = icu_run(l, STEP_SKELETON, &a, &b)) != PX_OK ||
        (rc = icu_run(l, STEP_NFC, &b, &a)) != PX_OK)
        goto out;
    /* UTF-16 to code points: never more code points than units. */
    key->v = malloc(((size_t)a.n + 1) * sizeof(UChar32));
    if (!key->v) {
        rc = PX_ERR_NOMEM;
        goto out;
    }
    st = U_ZERO_ERROR;
    int32_t n32 = 0;
    u_strToUTF32(key->v, a.n + 1, &n32, a.p, a.n, &st);
    if (U_FAILURE(st)) {
        free(key->v);
        key->v = NULL;
        rc = PX_ERR_MALFORMED;
        goto out;
    }
    key->n = (size_t)n32;
    rc = PX_OK;
out:
    free(a.p);
    free(b.p);
    return rc;
}

/* The label in Unicode: an A-label decoded by libidn2 (punycode only; an
 * invalid IDN is judged by what it decodes to), anything else, or an
 * A-label that does not decode, as the ASCII it is. */
static px_err unicode_of(const char *label, size_t len, cps *uni)
{
    uint32_t *dec = NULL;
    size_t n = 0;
    if (len > 4 && len <= LABEL_MAX && memcmp(label, "xn--", 4) == 0) {
        char z[LABEL_MAX + 1]; /* the label alone, not the name it starts */
        memcpy(z, label, len);
        z[len] = '\0';
        int rc = idn2_to_unicode_8z4z(z, &dec, 0);
        if (rc == IDN2_MALLOC)
            return PX_ERR_NOMEM;
        if (rc != IDN2_OK || !dec) {
            idn2_free(dec);
            dec = NULL;
        } else {
            while (dec[n])
                n++;
        }
    }
    uni->v = malloc((dec && n ? n : len) * sizeof(UChar32) + sizeof(UChar32));
    if (!uni->v) {
        idn2_free(dec);
        return PX_ERR_NOMEM;
    }
    if (dec && n) {
        for (size_t i = 0; i < n; i++)
            uni->v[i] = (UChar32)dec[i];
        uni->n = n;
    } else {
        for (size_t i = 0; i < len; i++)
            uni->v[i] = (unsigned char)label[i];
        uni->n = len;
    }
    idn2_free(dec);
    return PX_OK;
}

/* The view of s (taken over): its hyphens counted and taken out. */
static px_err view_init(view *v, cps s)
{
    v->s = s;
    v->flat.v = malloc((s.n + 1) * sizeof(UChar32));
    if (!v->flat.v)
        return PX_ERR_NOMEM;
    v->flat.n = 0;
    v->hyphens = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (s.v[i] == '-')
            v->hyphens++;
        else
            v->flat.v[v->flat.n++] = s.v[i];
    }
    return PX_OK;
}

static void view_free(view *v)
{
    free(v->s.v);
    free(v->flat.v);
}

/* The label in Unicode and its key. A label whose Unicode ICU refuses (a
 * decoded surrogate) is judged as its ASCII. */
static px_err label_views(const px_lookalike *l, const char *label, size_t len, view *uni,
                          view *key)
{
    cps u = {0}, k = {0};
    px_err rc = unicode_of(label, len, &u);
    if (rc == PX_OK && (rc = key_of(l, &u, &k)) == PX_ERR_MALFORMED) {
        free(u.v);
        if (!(u.v = malloc(len * sizeof(UChar32) + sizeof(UChar32))))
            return PX_ERR_NOMEM;
        for (size_t i = 0; i < len; i++)
            u.v[i] = (unsigned char)label[i];
        u.n = len;
        rc = key_of(l, &u, &k);
    }
    if (rc != PX_OK) {
        free(u.v);
        return rc;
    }
    rc = view_init(uni, u);
    if (rc != PX_OK) {
        free(k.v);
        return rc;
    }
    return view_init(key, k);
}

/* ---- distance ---- */

/* Optimal string alignment distance of a and b (Damerau–Levenshtein in
 * which no substring is edited twice: insertion, deletion, replacement,
 * transposition of neighbours, each 1), or k + 1 as soon as it must
 * exceed k (a row's minimum never decreases). rows: 3 * (lb + 1). */
static unsigned osa(const UChar32 *a, size_t la, const UChar32 *b, size_t lb, unsigned k,
                    unsigned *rows)
{
    if ((la > lb ? la - lb : lb - la) > k)
        return k + 1;
    unsigned *pp = rows, *p = rows + lb + 1, *cur = rows + 2 * (lb + 1);
    for (size_t j = 0; j <= lb; j++)
        p[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (unsigned)i;
        unsigned rowmin = cur[0];
        for (size_t j = 1; j <= lb; j++) {
            unsigned v = min2(p[j] + 1, cur[j - 1] + 1);
            v = min2(v, p[j - 1] + (a[i - 1] != b[j - 1]));
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                v = min2(v, pp[j - 2] + 1);
            cur[j] = v;
            rowmin = min2(rowmin, v);
        }
        if (rowmin > k)
            return k + 1;
        unsigned *t = pp;
        pp = p;
        p = cur;
        cur = t;
    }
    return p[lb] > k ? k + 1 : p[lb];
}

static bool same(const UChar32 *a, size_t la, const UChar32 *b, size_t lb)
{
    return la == lb && memcmp(a, b, la * sizeof(UChar32)) == 0;
}

/* ---- brands ---- */

/* Lowercase A-label form of a brand, checked as a label or domain name,
 * into out (DNS_NAME_MAX + 1). */
static px_err brand_alabels(const char *brand, const px_lookalike_opts *o, char *out, char *why,
                            size_t whylen)
{
    char q[128], in[4 * DNS_NAME_MAX + 2];
    quote(brand ? brand : "", q, sizeof(q));
    size_t len = brand ? strlen(brand) : 0;
    if (len > 0 && brand[len - 1] == '.')
        len--; /* the root: "paypal.com." is "paypal.com" */
    if (len == 0) {
        px_why(why, whylen, "brand \"%s\": empty, not a label or domain", q);
        return PX_ERR_INVAL;
    }
    if (len >= sizeof(in)) {
        px_why(why, whylen, "brand \"%s\": longer than a domain name (%d octets)", q, DNS_NAME_MAX);
        return PX_ERR_INVAL;
    }
    memcpy(in, brand, len);
    in[len] = '\0';
    char *a = NULL;
    int rc = idn2_to_ascii_8z(in, &a, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    if (rc == IDN2_MALLOC)
        return PX_ERR_NOMEM;
    if (rc == IDN2_TOO_BIG_DOMAIN) {
        px_why(why, whylen, "brand \"%s\": longer than a domain name (%d octets)", q, DNS_NAME_MAX);
        return PX_ERR_INVAL;
    }
    if (rc != IDN2_OK || !a) {
        px_why(why, whylen, "brand \"%s\": not a label or domain (%s)", q, idn2_strerror(rc));
        idn2_free(a);
        return PX_ERR_INVAL;
    }
    size_t n = strlen(a);
    px_err err = PX_OK;
    if (n > DNS_NAME_MAX) {
        px_why(why, whylen, "brand \"%s\": longer than a domain name (%d octets)", q, DNS_NAME_MAX);
        err = PX_ERR_INVAL;
    }
    for (size_t i = 0, start = 0; err == PX_OK && i <= n; i++) {
        unsigned char c = (unsigned char)(i < n ? a[i] : '.');
        if (c >= 'A' && c <= 'Z')
            a[i] = (char)(c + 32);
        else if (c == '.') {
            size_t ll = i - start;
            if (ll == 0 || ll > LABEL_MAX) {
                px_why(why, whylen, "brand \"%s\": not a label or domain (a label of %zu octets)",
                       q, ll);
                err = PX_ERR_INVAL;
            } else if (a[start] == '-' || a[i - 1] == '-') {
                px_why(why, whylen,
                       "brand \"%s\": not a label or domain (a label starts or ends "
                       "with a hyphen)",
                       q);
                err = PX_ERR_INVAL;
            }
            start = i + 1;
        } else if (!is_ldh(c)) {
            char cq[8];
            char one[2] = {(char)c, 0};
            quote(one, cq, sizeof(cq));
            px_why(why, whylen,
                   "brand \"%s\": not a label or domain ('%s' is not a letter, digit "
                   "or hyphen)",
                   q, cq);
            err = PX_ERR_INVAL;
        }
    }
    if (err == PX_OK)
        memcpy(out, a, n + 1);
    idn2_free(a);
    if (err != PX_OK || !o->is_public_suffix)
        return err;
    const char *dot = strchr(out, '.');
    if (!dot)
        return PX_OK; /* a bare label */
    if (o->is_public_suffix(out, n)) {
        px_why(why, whylen, "brand \"%s\": a public suffix, not a registered domain", q);
        return PX_ERR_INVAL;
    }
    if (o->is_public_suffix(dot + 1, n - (size_t)(dot + 1 - out)))
        return PX_OK;
    /* Below a registered domain ("www.paypal.com"): name it. */
    for (const char *s = dot + 1; (dot = strchr(s, '.')); s = dot + 1) {
        if (o->is_public_suffix(dot + 1, n - (size_t)(dot + 1 - out))) {
            px_why(why, whylen,
                   "brand \"%s\": not a registered domain but a name below \"%s\" (list that, or "
                   "its label alone)",
                   q, s);
            return PX_ERR_INVAL;
        }
    }
    px_why(why, whylen, "brand \"%s\": not a registered domain (no public suffix)", q);
    return PX_ERR_INVAL;
}

bool px_lookalike_check_brand(const char *brand, const px_lookalike_opts *opts, char *why,
                              size_t whylen)
{
    px_lookalike_opts d = px_lookalike_opts_default();
    char a[DNS_NAME_MAX + 1];
    px_err rc = brand_alabels(brand, opts ? opts : &d, a, why, whylen);
    if (rc == PX_ERR_NOMEM)
        px_why(why, whylen, "out of memory checking a brand");
    return rc == PX_OK;
}

static unsigned edits_for(const px_lookalike_opts *o, size_t len)
{
    if (len < o->edit_min)
        return 0;
    return len < o->edit2_min ? 1 : 2;
}

static void brand_free(px_brand *b)
{
    free(b->conf);
    free(b->regdom);
    view_free(&b->uni);
    view_free(&b->key);
}

static px_err brand_init(px_lookalike *l, px_brand *b, const char *conf, char *why, size_t whylen)
{
    char a[DNS_NAME_MAX + 1];
    px_err rc = brand_alabels(conf, &l->opts, a, why, whylen);
    if (rc != PX_OK)
        return rc;
    if (!(b->conf = strdup(conf)))
        return PX_ERR_NOMEM;
    const char *dot = strchr(a, '.');
    size_t ll = dot ? (size_t)(dot - a) : strlen(a);
    memcpy(b->alabel, a, ll);
    b->alabel[ll] = '\0';
    b->idn = ll > 4 && memcmp(a, "xn--", 4) == 0;
    if (dot && !(b->regdom = strdup(a)))
        return PX_ERR_NOMEM;
    rc = label_views(l, b->alabel, ll, &b->uni, &b->key);
    if (rc == PX_ERR_MALFORMED) {
        px_why(why, whylen, "brand \"%s\": ICU cannot map its label", conf);
        return PX_ERR_INVAL;
    }
    if (rc != PX_OK)
        return rc;
    b->edits = edits_for(&l->opts, b->uni.s.n);
    if (b->key.s.n > l->row_max)
        l->row_max = b->key.s.n;
    return PX_OK;
}

px_err px_lookalike_create(const char *const *brands, size_t n, const px_lookalike_opts *opts,
                           px_lookalike **out, char *why, size_t whylen)
{
    if (!out || (n && !brands))
        return PX_ERR_INVAL;
    *out = NULL;
    px_lookalike *l = calloc(1, sizeof(*l));
    if (!l)
        return PX_ERR_NOMEM;
    l->opts = opts ? *opts : px_lookalike_opts_default();
    l->row_max = LABEL_MAX;
    UErrorCode st = U_ZERO_ERROR;
    l->sc = uspoof_open(&st);
    l->nfc = unorm2_getNFCInstance(&st);
    if (U_FAILURE(st)) {
        px_why(why, whylen, "ICU's spoof checker: %s", u_errorName(st));
        px_lookalike_destroy(l);
        return PX_ERR_NOMEM;
    }
    if (n && !(l->b = calloc(n, sizeof(*l->b)))) {
        px_lookalike_destroy(l);
        return PX_ERR_NOMEM;
    }
    for (; l->n < n; l->n++) {
        px_err rc = brand_init(l, &l->b[l->n], brands[l->n], why, whylen);
        if (rc != PX_OK) {
            l->n++; /* so that destroy frees what it holds */
            px_lookalike_destroy(l);
            return rc;
        }
    }
    *out = l;
    return PX_OK;
}

void px_lookalike_destroy(px_lookalike *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        brand_free(&l->b[i]);
    free(l->b);
    if (l->sc)
        uspoof_close(l->sc);
    free(l);
}

/* ---- scoring ---- */

typedef struct cand {
    char name[DNS_NAME_MAX + 1]; /* lowercase, no trailing dot */
    size_t label_len;            /* name[0, label_len) is the label */
    view uni, key;
} cand;

/* A registered domain as it travels in DNS, lowercased, split. */
static bool cand_parse(const char *regdom, cand *c)
{
    size_t len = strnlen(regdom, DNS_NAME_MAX + 2);
    if (len > 0 && regdom[len - 1] == '.')
        len--;
    if (len == 0 || len > DNS_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)regdom[i];
        c->name[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    c->name[len] = '\0';
    const char *dot = memchr(c->name, '.', len);
    if (!dot || dot == c->name || dot + 1 == c->name + len)
        return false;
    if (strstr(dot, "..") || c->name[len - 1] == '.')
        return false; /* an empty label in the suffix */
    c->label_len = (size_t)(dot - c->name);
    if (c->label_len > LABEL_MAX)
        return false;
    for (size_t i = 0; i < c->label_len; i++)
        if (!is_ldh((unsigned char)c->name[i]))
            return false;
    return true;
}

/* The candidate is a brand's own: listed as that domain, or its label is
 * a bare-label brand. */
static bool owned(const px_lookalike *l, const cand *c)
{
    for (size_t i = 0; i < l->n; i++) {
        const px_brand *b = &l->b[i];
        if (b->regdom ? strcmp(b->regdom, c->name) == 0
                      : strlen(b->alabel) == c->label_len &&
                            memcmp(b->alabel, c->name, c->label_len) == 0)
            return true;
    }
    return false;
}

typedef struct score {
    bool hit;
    px_lookalike_method method;
    unsigned distance, severity;
    size_t brand;
} score;

/* a stronger than b: severity, then method, then distance, then the
 * brand listed first. */
static bool stronger(const score *a, const score *b)
{
    if (!b->hit)
        return a->hit;
    if (!a->hit)
        return false;
    if (a->severity != b->severity)
        return a->severity > b->severity;
    if (a->method != b->method)
        return a->method < b->method;
    if (a->distance != b->distance)
        return a->distance < b->distance;
    return a->brand < b->brand;
}

/* One match under way: osa()'s scratch rows, the strongest score so far,
 * and the brand being scored. */
typedef struct scoring {
    unsigned *rows;
    score best;
    size_t brand;
} scoring;

static void consider(scoring *sc, px_lookalike_method m, unsigned d, unsigned sev)
{
    score s = {true, m, d, sev, sc->brand};
    if (stronger(&s, &sc->best))
        sc->best = s;
}

static bool has_prefix(const UChar32 *s, size_t n, const cps *p)
{
    return n > p->n && memcmp(s, p->v, p->n * sizeof(UChar32)) == 0;
}

/* True if `needle` occurs in hay. */
static bool contains(const cps *hay, const cps *needle)
{
    if (needle->n == 0 || needle->n > hay->n)
        return false;
    for (size_t i = 0; i + needle->n <= hay->n; i++)
        if (memcmp(hay->v + i, needle->v, needle->n * sizeof(UChar32)) == 0)
            return true;
    return false;
}

/* The token rules on one view of the candidate (c) and the brand (b), the
 * brand blen characters long: the brand as a run of whole hyphen tokens
 * (as many as it has itself: "t-mobile" in "t-mobile-login"); for brands
 * of prefix_min, a run that starts with the brand ("applesupport") or is
 * within the edit threshold of it ("paypa-secure"); for brands of
 * substr_min, the brand anywhere with the hyphens ignored. */
static void score_tokens(const px_lookalike *l, const view *b, size_t blen, unsigned edits,
                         const view *c, scoring *sc)
{
    const px_lookalike_opts *o = &l->opts;
    const UChar32 *k = c->s.v;
    size_t n = c->s.n;
    bool longer = blen >= o->prefix_min;
    if (c->hyphens == b->hyphens && longer && has_prefix(k, n, &b->s))
        consider(sc, PX_LOOKALIKE_TOKEN, 0, 2); /* the whole label: "applesupport" */
    for (size_t s = 0; c->hyphens > b->hyphens && s < n;) {
        size_t e = s, seen = 0; /* the run of b->hyphens + 1 tokens from s */
        while (e < n && (k[e] != '-' || seen < b->hyphens))
            seen += k[e++] == '-';
        if (seen < b->hyphens)
            break; /* fewer tokens left than the brand has */
        if (same(k + s, e - s, b->s.v, b->s.n))
            consider(sc, PX_LOOKALIKE_TOKEN, 0, 2);
        else if (longer && has_prefix(k + s, e - s, &b->s))
            consider(sc, PX_LOOKALIKE_TOKEN, 0, 2);
        else if (longer && edits) {
            unsigned d = osa(k + s, e - s, b->s.v, b->s.n, edits, sc->rows);
            if (d <= edits)
                consider(sc, PX_LOOKALIKE_TOKEN, d, 1);
        }
        while (s < n && k[s] != '-')
            s++; /* on to the next token */
        s++;
    }
    if (blen >= o->substr_min && contains(&c->flat, &b->flat))
        consider(sc, PX_LOOKALIKE_TOKEN, 0, 2);
}

/* One edit from a brand of prefix_min or more is as strong as the brand
 * inside a label; one edit from a shorter brand ("bing" from "ing", "cups"
 * from "ups") and two edits from any are weaker evidence. */
static unsigned edit_severity(const px_lookalike *l, unsigned d, size_t blen)
{
    return d <= 1 && blen >= l->opts.prefix_min ? 2 : 1;
}

static void score_brand(const px_lookalike *l, const px_brand *b, const cand *c, scoring *sc)
{
    const cps *ck = &c->key.s, *bk = &b->key.s, *cu = &c->uni.s, *bu = &b->uni.s;
    if (same(ck->v, ck->n, bk->v, bk->n)) {
        if (same(cu->v, cu->n, bu->v, bu->n)) {
            /* The brand's label under another suffix (owned() let it by). */
            consider(sc, PX_LOOKALIKE_EDIT, 0, 3);
        } else {
            unsigned k = (unsigned)(cu->n > bu->n ? cu->n : bu->n);
            consider(sc, PX_LOOKALIKE_HOMOGLYPH, osa(cu->v, cu->n, bu->v, bu->n, k, sc->rows), 3);
        }
        return;
    }
    if (b->edits) {
        /* On the keys (a homoglyph and a typo at once) and on the labels
         * themselves, where the key would count one edit twice ("paypam"
         * is one edit from "paypal", but its key "payparn" two). */
        unsigned d = min2(osa(ck->v, ck->n, bk->v, bk->n, b->edits, sc->rows),
                          osa(cu->v, cu->n, bu->v, bu->n, b->edits, sc->rows));
        if (d <= b->edits)
            consider(sc, PX_LOOKALIKE_EDIT, d, edit_severity(l, d, bu->n));
    }
    if (b->idn) {
        /* The wire form: a flipped bit or a typo in the A-label may decode
         * to anything, but is one edit from the brand's A-label. */
        UChar32 wa[LABEL_MAX], wb[LABEL_MAX];
        size_t nb = strlen(b->alabel);
        for (size_t i = 0; i < c->label_len; i++)
            wa[i] = (unsigned char)c->name[i];
        for (size_t i = 0; i < nb; i++)
            wb[i] = (unsigned char)b->alabel[i];
        if (osa(wa, c->label_len, wb, nb, 1, sc->rows) <= 1)
            consider(sc, PX_LOOKALIKE_EDIT, 1, edit_severity(l, 1, bu->n));
    }
    score_tokens(l, &b->key, bu->n, b->edits, &c->key, sc);
    score_tokens(l, &b->uni, bu->n, b->edits, &c->uni, sc);
}

/* The key as UTF-8 into out, cut at a character if it does not fit. */
static void put_skeleton(const cps *key, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < key->n; i++) {
        UChar32 ch = key->v[i];
        if (o + (size_t)U8_LENGTH(ch) >= cap)
            break;
        U8_APPEND_UNSAFE(out, o, ch);
    }
    out[o] = '\0';
}

px_err px_lookalike_match(const px_lookalike *l, const char *regdom, px_lookalike_hit *out)
{
    if (!l || !regdom || !out)
        return PX_ERR_INVAL;
    cand c = {0};
    if (l->n == 0 || !cand_parse(regdom, &c) || owned(l, &c))
        return PX_ERR_NOTFOUND;
    scoring sc = {0};
    px_err rc = label_views(l, c.name, c.label_len, &c.uni, &c.key);
    if (rc == PX_OK && !(sc.rows = malloc(3 * (l->row_max + 1) * sizeof(unsigned))))
        rc = PX_ERR_NOMEM;
    for (sc.brand = 0; rc == PX_OK && sc.brand < l->n; sc.brand++)
        score_brand(l, &l->b[sc.brand], &c, &sc);
    if (rc == PX_OK && sc.best.hit) {
        out->brand = l->b[sc.best.brand].conf;
        out->method = sc.best.method;
        out->distance = sc.best.distance;
        out->severity = sc.best.severity;
        put_skeleton(&c.key.s, out->skeleton, sizeof(out->skeleton));
    } else if (rc == PX_OK || rc == PX_ERR_MALFORMED) {
        rc = PX_ERR_NOTFOUND;
    }
    free(sc.rows);
    view_free(&c.uni);
    view_free(&c.key);
    return rc;
}
