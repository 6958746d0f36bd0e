/* test_lookalike.c: the look-alike score (detect/px_lookalike.h). Every
 * class of issue 11 (homoglyphs, additions, omissions, insertions,
 * replacements, transpositions, repetitions, vowel swaps, hyphenations,
 * bit flips) for an ordinary brand, short brands and IDN brands, each
 * class both by hand and generated over the whole label; the brand inside
 * a longer label; names that must not match; bad brands. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <idn2.h>

#include "detect/px_lookalike.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const main_brands[] = {"paypal.com", "ups", "ing.com", "bücher.de",
                                          "сбербанк.рф"};

static px_lookalike *make_opts(const char *const *brands, size_t n, const px_lookalike_opts *o)
{
    px_lookalike *l = NULL;
    char why[256] = "";
    px_err rc = px_lookalike_create(brands, n, o, &l, why, sizeof(why));
    if (rc != PX_OK)
        fail_msg("create: %s (%s)", px_strerror(rc), why);
    return l;
}

static px_lookalike *make(const char *const *brands, size_t n)
{
    return make_opts(brands, n, NULL);
}

/* dom resembles brand by method m; distance and skeleton checked unless
 * -1 / NULL. Returns the hit for more checks. */
static px_lookalike_hit hit(const px_lookalike *l, const char *dom, const char *brand,
                            px_lookalike_method m, int distance, const char *skeleton)
{
    px_lookalike_hit h;
    memset(&h, 0, sizeof(h));
    px_err rc = px_lookalike_match(l, dom, &h);
    if (rc != PX_OK)
        fail_msg("%s: no hit (%s), want %s by %s", dom, px_strerror(rc), brand,
                 px_lookalike_method_name(m));
    if (strcmp(h.brand, brand) != 0 || h.method != m)
        fail_msg("%s: %s by %s, want %s by %s", dom, h.brand, px_lookalike_method_name(h.method),
                 brand, px_lookalike_method_name(m));
    if (distance >= 0 && h.distance != (unsigned)distance)
        fail_msg("%s: distance %u, want %d", dom, h.distance, distance);
    if (skeleton && strcmp(h.skeleton, skeleton) != 0)
        fail_msg("%s: skeleton \"%s\", want \"%s\"", dom, h.skeleton, skeleton);
    if (h.severity < 1 || h.severity > 3)
        fail_msg("%s: severity %u", dom, h.severity);
    return h;
}

static void none(const px_lookalike *l, const char *dom)
{
    px_lookalike_hit h;
    px_err rc = px_lookalike_match(l, dom, &h);
    if (rc == PX_OK)
        fail_msg("%s: resembles %s by %s (distance %u, skeleton \"%s\"), want no likeness", dom,
                 h.brand, px_lookalike_method_name(h.method), h.distance, h.skeleton);
    if (rc != PX_ERR_NOTFOUND)
        fail_msg("%s: %s, want PX_ERR_NOTFOUND", dom, px_strerror(rc));
}

/* ---- each class by hand ---- */

static void test_homoglyphs(void **state)
{
    (void)state;
    px_lookalike *l = make(main_brands, N(main_brands));
    /* IDN: Cyrillic а (U+0430) for a: "pаypal". */
    px_lookalike_hit h =
        hit(l, "xn--pypal-4ve.com", "paypal.com", PX_LOOKALIKE_HOMOGLYPH, 1, "paypal");
    assert_int_equal(h.severity, 3);
    hit(l, "xn--pypl-53dc.com", "paypal.com", PX_LOOKALIKE_HOMOGLYPH, 2, "paypal"); /* both a */
    /* ASCII confusables through TR39: 1 -> l. Any case, trailing dot. */
    hit(l, "paypa1.com", "paypal.com", PX_LOOKALIKE_HOMOGLYPH, 1, "paypal");
    hit(l, "PAYPA1.NET.", "paypal.com", PX_LOOKALIKE_HOMOGLYPH, 1, "paypal");
    /* Short brands: Cyrillic ѕ (U+0455) in "upѕ", Cyrillic і (U+0456) in "іng". */
    hit(l, "xn--up-foc.com", "ups", PX_LOOKALIKE_HOMOGLYPH, 1, "ups");
    hit(l, "xn--ng-goc.net", "ing.com", PX_LOOKALIKE_HOMOGLYPH, 1, "ing");
    /* IDN brands: Cyrillic һ (U+04BB) in "bücһer"; the decomposed ü. */
    hit(l, "xn--bcer-0ra968c.de", "bücher.de", PX_LOOKALIKE_HOMOGLYPH, 1, "bücher");
    hit(l, "xn--bucher-xyd.de", "bücher.de", PX_LOOKALIKE_HOMOGLYPH, -1, "bücher");
    /* A Cyrillic brand spelt with Latin c, then with Latin e and p. */
    hit(l, "xn--c-8sbcat6auv.xn--p1ai", "сбербанк.рф", PX_LOOKALIKE_HOMOGLYPH, 1, NULL);
    hit(l, "xn--ep-8kcbc9cua0a.xn--p1ai", "сбербанк.рф", PX_LOOKALIKE_HOMOGLYPH, 2, NULL);
    px_lookalike_destroy(l);

    /* 0 -> O in TR39, and DNS ignores case: 0 meets o. m -> rn. */
    const char *const more[] = {"google.com", "microsoft.com"};
    l = make(more, N(more));
    hit(l, "g00gle.com", "google.com", PX_LOOKALIKE_HOMOGLYPH, 2, "google");
    hit(l, "rnicrosoft.com", "microsoft.com", PX_LOOKALIKE_HOMOGLYPH, 2, "rnicrosoft");
    hit(l, "rnicros0ft.org", "microsoft.com", PX_LOOKALIKE_HOMOGLYPH, 3, "rnicrosoft");
    px_lookalike_destroy(l);
}

static void test_edit_classes_by_hand(void **state)
{
    (void)state;
    px_lookalike *l = make(main_brands, N(main_brands));
    static const char *const paypal[] = {
        "paypall.com", /* repetition */
        "ppaypal.com", /* repetition */
        "paypel.com",  /* vowel swap */
        "poypal.com",  /* vowel swap */
        "papyal.com",  /* transposition */
        "pypal.com",   /* omission */
        "paypl.com",   /* omission */
        "payppal.com", /* insertion */
        "paytpal.com", /* insertion */
        "paypal1.com", /* addition (1 is l to TR39: "paypall") */
        "paypalx.com", /* addition */
        "xpaypal.com", /* addition in front */
        "paypak.com",  /* replacement */
        "paypam.com",  /* replacement (its key "payparn" is two edits; the label one) */
        "pay-pal.com", /* hyphenation */
        "paypa-l.com", /* hyphenation */
        "qaypal.com",  /* bit flip p (0x70) -> q (0x71) */
        "0aypal.com",  /* bit flip p (0x70) -> 0 (0x30) */
        "paypah.com",  /* bit flip l (0x6c) -> h (0x68) */
        "paypal-.net", /* addition of a hyphen */
        "pa4pal.com",  /* replacement by a digit */
        "paypaal.net", /* repetition */
    };
    for (size_t i = 0; i < N(paypal); i++) {
        px_lookalike_hit h = hit(l, paypal[i], "paypal.com", PX_LOOKALIKE_EDIT, 1, NULL);
        assert_int_equal(h.severity, 2);
    }
    /* A homoglyph and a repetition at once: one edit between the keys. */
    hit(l, "xn--pypall-3nf.com", "paypal.com", PX_LOOKALIKE_EDIT, 1, "paypall");
    /* Two edits are beyond a 6-letter brand's threshold... */
    none(l, "paypaall.com");
    none(l, "pyapl.com");
    /* ...but hyphenation and repetition at once still hold the brand whole. */
    hit(l, "pay-pall.com", "paypal.com", PX_LOOKALIKE_TOKEN, 0, NULL);

    static const char *const ups[] = {
        "upss.com", "uups.com", /* repetition */
        "ops.com",  "ups1.com", /* vowel swap, addition */
        "usp.com",  "pus.com",  /* transpositions */
        "up.net",   "us.org",   /* omissions (us.com would be the private suffix's) */
        "upts.com", "upsx.com", /* insertion, addition */
        "ubs.com",  "u-ps.com", /* replacement, hyphenation */
        "uqs.com",  "tps.com",  /* bit flips p -> q, u -> t */
    };
    for (size_t i = 0; i < N(ups); i++) {
        px_lookalike_hit h = hit(l, ups[i], "ups", PX_LOOKALIKE_EDIT, 1, NULL);
        assert_int_equal(h.severity, 1); /* one edit from a 3-letter brand is weak */
    }

    static const char *const ing[] = {"inng.com", "ign.com",   "ig.com",  "img.com",
                                      "i-ng.nl",  "ingx.com",  "lng.com", "1ng.com",
                                      "ang.com",  "iing.info", "hng.com"};
    for (size_t i = 0; i < N(ing); i++)
        hit(l, ing[i], "ing.com", PX_LOOKALIKE_EDIT, 1, NULL);

    /* The IDN brand: the ü dropped, doubled, replaced; a letter swapped. */
    hit(l, "bucher.de", "bücher.de", PX_LOOKALIKE_EDIT, 1, "bucher");
    hit(l, "bcher.de", "bücher.de", PX_LOOKALIKE_EDIT, 1, "bcher");
    hit(l, "xn--bcher-kvaa.de", "bücher.de", PX_LOOKALIKE_EDIT, 1, "büücher");
    hit(l, "xn--bcner-kva.de", "bücher.de", PX_LOOKALIKE_EDIT, 1, "bücner");
    hit(l, "xn--bc-her-3ya.de", "bücher.de", PX_LOOKALIKE_EDIT, 1, "büc-her");
    /* Bit flips in the A-label that decode far from "bücher" ("xn--bcher-kwa"
     * is ă in front) are one edit on the wire. */
    hit(l, "xn--bcher-kwa.de", "bücher.de", PX_LOOKALIKE_EDIT, 1, NULL);
    hit(l, "xn--bchex-kva.de", "bücher.de", PX_LOOKALIKE_EDIT, 1, "büchex");
    /* The Cyrillic brand with k for к: one edit (к is not k to TR39). */
    hit(l, "xn--k-7sbcat4csf.xn--p1ai", "сбербанк.рф", PX_LOOKALIKE_EDIT, 1, NULL);
    px_lookalike_destroy(l);

    /* Long brands take two edits. */
    const char *const ms[] = {"microsoft.com"};
    l = make(ms, N(ms));
    px_lookalike_hit h = hit(l, "micosotf.com", "microsoft.com", PX_LOOKALIKE_EDIT, 2, NULL);
    assert_int_equal(h.severity, 1);
    hit(l, "mircosoft.com", "microsoft.com", PX_LOOKALIKE_EDIT, 1, NULL);
    none(l, "micsotf.com"); /* three */
    px_lookalike_destroy(l);
}

/* ---- each class generated over the whole label ---- */

typedef struct family {
    const char *name;
    uint32_t v[128][72]; /* variants, NUL-terminated code points */
    size_t n;
} family;

static void add(family *f, const uint32_t *s, size_t n)
{
    assert_true(f->n < N(f->v) && n < N(f->v[0]));
    memcpy(f->v[f->n], s, n * sizeof(uint32_t));
    f->v[f->n][n] = 0;
    f->n++;
}

static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
/* Vowels, Latin and Cyrillic: a vowel swap stays in its script. */
static const uint32_t latin_vowels[] = {'a', 'e', 'i', 'o', 'u', 'y', 0};
static const uint32_t cyrillic_vowels[] = {0x430, 0x435, 0x438, 0x43e, 0x443,
                                           0x44b, 0x44d, 0x44e, 0x44f, 0};

static const uint32_t *vowels_of(uint32_t c)
{
    for (const uint32_t *const *set = (const uint32_t *const[]){latin_vowels, cyrillic_vowels};;
         set++) {
        for (const uint32_t *v = *set; *v; v++)
            if (*v == c)
                return *set;
        if (*set == cyrillic_vowels)
            return NULL;
    }
}

/* Builds one family of variants of label b (n code points). The
 * replacement and insertion families take every 5th letter or digit, so
 * that one family fits; all 36 are covered over the positions. */
static void generate(family *f, const char *cls, const uint32_t *b, size_t n)
{
    uint32_t t[72];
    f->name = cls;
    f->n = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(cls, "omission") == 0) {
            memcpy(t, b, i * 4);
            memcpy(t + i, b + i + 1, (n - i - 1) * 4);
            add(f, t, n - 1);
        } else if (strcmp(cls, "repetition") == 0) {
            memcpy(t, b, (i + 1) * 4);
            memcpy(t + i + 1, b + i, (n - i) * 4);
            add(f, t, n + 1);
        } else if (strcmp(cls, "transposition") == 0 && i + 1 < n && b[i] != b[i + 1]) {
            memcpy(t, b, n * 4);
            t[i] = b[i + 1];
            t[i + 1] = b[i];
            add(f, t, n);
        } else if (strcmp(cls, "hyphenation") == 0 && i > 0) {
            memcpy(t, b, i * 4);
            t[i] = '-';
            memcpy(t + i + 1, b + i, (n - i) * 4);
            add(f, t, n + 1);
        } else if (strcmp(cls, "vowel swap") == 0 && vowels_of(b[i])) {
            for (const uint32_t *v = vowels_of(b[i]); *v; v++) {
                if (*v == b[i])
                    continue;
                memcpy(t, b, n * 4);
                t[i] = *v;
                add(f, t, n);
            }
        } else if (strcmp(cls, "replacement") == 0) {
            for (size_t k = i % 5; k < 36; k += 5) {
                if ((uint32_t)alnum[k] == b[i])
                    continue;
                memcpy(t, b, n * 4);
                t[i] = (uint32_t)alnum[k];
                add(f, t, n);
            }
        } else if (strcmp(cls, "insertion") == 0 && i > 0) {
            for (size_t k = i % 5; k < 36; k += 5) {
                memcpy(t, b, i * 4);
                t[i] = (uint32_t)alnum[k];
                memcpy(t + i + 1, b + i, (n - i) * 4);
                add(f, t, n + 1);
            }
        }
    }
    if (strcmp(cls, "addition") == 0) {
        for (size_t k = 0; k < 36; k++) {
            memcpy(t, b, n * 4);
            t[n] = (uint32_t)alnum[k];
            add(f, t, n + 1);
        }
    }
}

/* The variant as it travels in DNS, with the suffix. */
static void to_wire(const uint32_t *v, const char *suffix, char *out, size_t outlen)
{
    bool ascii = true;
    size_t n = 0;
    for (; v[n]; n++)
        ascii = ascii && v[n] < 128;
    if (ascii) {
        char s[80];
        for (size_t i = 0; i <= n; i++)
            s[i] = (char)v[i];
        snprintf(out, outlen, "%s.%s", s, suffix);
        return;
    }
    char *a = NULL;
    int rc = idn2_to_ascii_4z(v, &a, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    if (rc != IDN2_OK)
        fail_msg("a variant IDNA refuses: %s", idn2_strerror(rc));
    snprintf(out, outlen, "%s.%s", a, suffix);
    idn2_free(a);
}

static void check_families(const char *brand, const uint32_t *label, const char *suffix,
                           unsigned want_severity)
{
    static const char *const classes[] = {"omission",    "repetition", "transposition",
                                          "hyphenation", "vowel swap", "replacement",
                                          "insertion",   "addition"};
    static family f;
    px_lookalike *l = make(&brand, 1);
    size_t n = 0;
    while (label[n])
        n++;
    for (size_t c = 0; c < N(classes); c++) {
        generate(&f, classes[c], label, n);
        for (size_t i = 0; i < f.n; i++) {
            char dom[300];
            to_wire(f.v[i], suffix, dom, sizeof(dom));
            px_lookalike_hit h;
            px_err rc = px_lookalike_match(l, dom, &h);
            if (rc != PX_OK)
                fail_msg("%s of %s: %s not caught (%s)", classes[c], brand, dom, px_strerror(rc));
            /* A replacement may make a TR39 confusable ("paypa1"). */
            bool ok = h.method == PX_LOOKALIKE_EDIT || (h.method == PX_LOOKALIKE_HOMOGLYPH &&
                                                        strcmp(classes[c], "replacement") == 0);
            if (!ok || h.distance != 1)
                fail_msg("%s of %s: %s by %s, distance %u", classes[c], brand, dom,
                         px_lookalike_method_name(h.method), h.distance);
            if (h.method == PX_LOOKALIKE_EDIT && h.severity != want_severity)
                fail_msg("%s of %s: %s severity %u, want %u", classes[c], brand, dom, h.severity,
                         want_severity);
        }
        assert_true(f.n > 0);
    }
    px_lookalike_destroy(l);
}

static void test_edit_classes_generated(void **state)
{
    (void)state;
    static const uint32_t paypal[] = {'p', 'a', 'y', 'p', 'a', 'l', 0};
    static const uint32_t ups[] = {'u', 'p', 's', 0};
    static const uint32_t ing[] = {'i', 'n', 'g', 0};
    static const uint32_t bucher[] = {'b', 0xfc, 'c', 'h', 'e', 'r', 0};
    static const uint32_t sber[] = {0x441, 0x431, 0x435, 0x440, 0x431, 0x430, 0x43d, 0x43a, 0};
    check_families("paypal.com", paypal, "net", 2);
    check_families("ups", ups, "com", 1);
    check_families("ing.com", ing, "org", 1);
    check_families("bücher.de", bucher, "de", 2);
    check_families("сбербанк.рф", sber, "xn--p1ai", 2);
}

/* Every single-bit flip of the label as it travels (the A-label for an
 * IDN) that gives another hostname character: caught. */
static void check_bitflips(const char *brand, const char *wire, const char *suffix)
{
    px_lookalike *l = make(&brand, 1);
    size_t n = strlen(wire), tried = 0;
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            unsigned char c = (unsigned char)wire[i] ^ (unsigned char)(1u << bit);
            bool ldh = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
            if (!ldh)
                continue; /* not a hostname character, or the same letter in capitals */
            char dom[128];
            snprintf(dom, sizeof(dom), "%.*s%c%s.%s", (int)i, wire, c, wire + i + 1, suffix);
            px_lookalike_hit h;
            px_err rc = px_lookalike_match(l, dom, &h);
            if (rc != PX_OK)
                fail_msg("bit flip of %s: %s not caught (%s)", brand, dom, px_strerror(rc));
            if (h.method == PX_LOOKALIKE_TOKEN || h.distance > 1)
                fail_msg("bit flip of %s: %s by %s distance %u", brand, dom,
                         px_lookalike_method_name(h.method), h.distance);
            tried++;
        }
    }
    assert_true(tried >= n); /* at least one flip a character, on average */
    px_lookalike_destroy(l);
}

static void test_bitflips(void **state)
{
    (void)state;
    check_bitflips("paypal.com", "paypal", "com");
    check_bitflips("ups", "ups", "com");
    check_bitflips("ing.com", "ing", "com");
    check_bitflips("microsoft.com", "microsoft", "com");
    check_bitflips("bücher.de", "xn--bcher-kva", "de");
    check_bitflips("сбербанк.рф", "xn--80abap1arsf", "xn--p1ai");
}

/* ---- the brand inside a longer label ---- */

static void test_token(void **state)
{
    (void)state;
    px_lookalike *l = make(main_brands, N(main_brands));
    px_lookalike_hit h =
        hit(l, "paypal-secure.net", "paypal.com", PX_LOOKALIKE_TOKEN, 0, "paypal-secure");
    assert_int_equal(h.severity, 2);
    hit(l, "login-paypal.com", "paypal.com", PX_LOOKALIKE_TOKEN, 0, NULL);
    hit(l, "my-paypal-account.com", "paypal.com", PX_LOOKALIKE_TOKEN, 0, NULL);
    /* docs/INTERFACE.md's example: a homoglyph inside a token. */
    hit(l, "paypa1-secure.net", "paypal.com", PX_LOOKALIKE_TOKEN, 0, "paypal-secure");
    hit(l, "xn--paypal-ecure-uok.com", "paypal.com", PX_LOOKALIKE_TOKEN, 0, "paypal-secure");
    /* Plain substring for a brand of 6 or more, hyphens ignored. */
    hit(l, "paypalsupport.com", "paypal.com", PX_LOOKALIKE_TOKEN, 0, NULL);
    hit(l, "securepaypal.com", "paypal.com", PX_LOOKALIKE_TOKEN, 0, NULL);
    hit(l, "mypaypallogin.com", "paypal.com", PX_LOOKALIKE_TOKEN, 0, NULL);
    hit(l, "pay-pal-login.com", "paypal.com", PX_LOOKALIKE_TOKEN, 0, NULL);
    /* A token one edit from the brand. */
    h = hit(l, "paypa-secure.com", "paypal.com", PX_LOOKALIKE_TOKEN, 1, NULL);
    assert_int_equal(h.severity, 1);
    hit(l, "paypai-login.com", "paypal.com", PX_LOOKALIKE_TOKEN, 1, "paypai-login");
    hit(l, "secure-paypai-login.com", "paypal.com", PX_LOOKALIKE_TOKEN, 1, NULL);
    /* Short brands: whole hyphen tokens only. */
    hit(l, "ups-tracking.com", "ups", PX_LOOKALIKE_TOKEN, 0, "ups-tracking");
    hit(l, "track-ups-parcel.info", "ups", PX_LOOKALIKE_TOKEN, 0, NULL);
    hit(l, "ing-bank.com", "ing.com", PX_LOOKALIKE_TOKEN, 0, NULL);
    px_lookalike_destroy(l);
}

static void test_token_lengths(void **state)
{
    (void)state;
    const char *const b[] = {"apple.com", "visa", "t-mobile.com", "chase.com"};
    px_lookalike *l = make(b, N(b));
    /* 5 letters: at the start of a token. */
    hit(l, "applesupport.com", "apple.com", PX_LOOKALIKE_TOKEN, 0, NULL);
    hit(l, "appleid-verify.com", "apple.com", PX_LOOKALIKE_TOKEN, 0, NULL);
    hit(l, "secure-appleid.com", "apple.com", PX_LOOKALIKE_TOKEN, 0, NULL);
    hit(l, "chaseonline.com", "chase.com", PX_LOOKALIKE_TOKEN, 0, NULL);
    none(l, "pineapple.com"); /* not at the start */
    none(l, "purchase.com");
    none(l, "purchase-online.com");
    /* 4 letters: whole tokens only. */
    hit(l, "visa-card.com", "visa", PX_LOOKALIKE_TOKEN, 0, NULL);
    none(l, "advisable.com");
    none(l, "visacard.com");
    none(l, "television.com");
    /* A brand with a hyphen is a run of as many tokens. */
    hit(l, "t-mobile-login.com", "t-mobile.com", PX_LOOKALIKE_TOKEN, 0, NULL);
    hit(l, "my-t-mobile.com", "t-mobile.com", PX_LOOKALIKE_TOKEN, 0, NULL);
    hit(l, "t-mobileshop.com", "t-mobile.com", PX_LOOKALIKE_TOKEN, 0, NULL);
    hit(l, "tmobile.com", "t-mobile.com", PX_LOOKALIKE_EDIT, 1, NULL);
    hit(l, "securetmobile.com", "t-mobile.com", PX_LOOKALIKE_TOKEN, 0, NULL);
    none(l, "mobile-t.com");
    px_lookalike_destroy(l);
}

/* ---- the brand's own domains, other suffixes ---- */

static void test_own_and_other_suffix(void **state)
{
    (void)state;
    px_lookalike *l = make(main_brands, N(main_brands));
    /* A brand listed as a domain owns that domain... */
    none(l, "paypal.com");
    none(l, "PayPal.COM.");
    none(l, "xn--bcher-kva.de");
    none(l, "xn--80abap1arsf.xn--p1ai");
    /* ...and its label under another suffix is a look-alike. */
    px_lookalike_hit h = hit(l, "paypal.de", "paypal.com", PX_LOOKALIKE_EDIT, 0, "paypal");
    assert_int_equal(h.severity, 3);
    hit(l, "paypal.xyz", "paypal.com", PX_LOOKALIKE_EDIT, 0, NULL);
    hit(l, "paypal.github.io", "paypal.com", PX_LOOKALIKE_EDIT, 0, NULL);
    hit(l, "xn--bcher-kva.com", "bücher.de", PX_LOOKALIKE_EDIT, 0, "bücher");
    hit(l, "ing.nl", "ing.com", PX_LOOKALIKE_EDIT, 0, NULL);
    /* A bare label owns itself under every suffix. */
    none(l, "ups.com");
    none(l, "ups.de");
    none(l, "UPS.co.uk");
    px_lookalike_destroy(l);

    /* Two domains of one brand: both its own, a third suffix not. */
    const char *const two[] = {"paypal.com", "paypal.de"};
    l = make(two, N(two));
    none(l, "paypal.de");
    none(l, "paypal.com");
    hit(l, "paypal.fr", "paypal.com", PX_LOOKALIKE_EDIT, 0, NULL); /* the first listed */
    px_lookalike_destroy(l);
}

/* ---- names that must not match ---- */

static void test_unrelated(void **state)
{
    (void)state;
    px_lookalike *l = make(main_brands, N(main_brands));
    static const char *const names[] = {
        "example.com", "example.org", "google.com", "wikipedia.org", "youtube.com", "facebook.com",
        "amazon.com", "twitter.com", "instagram.com", "linkedin.com", "netflix.com", "yahoo.com",
        "reddit.com", "ebay.com", "cloudflare.com", "github.com", "stackoverflow.com", "bbc.co.uk",
        "spiegel.de", "mail.ru", "yandex.ru", "baidu.com", "debian.org", "kernel.org",
        "mozilla.org", "apache.org",
        /* short brands inside common words: no substring rule below 5 */
        "groups.com", "startups.com", "upstream.com", "everything.com", "shopping.com",
        "pingdom.com", "bring.com", "thing.org", "ingress.io",
        /* IDNs that resemble nothing listed */
        "xn--e1afmkfd.xn--p1ai", "xn--d1acpjx3f.xn--p1ai", "xn--mnchen-3ya.de", "xn--strae-oqa.de",
        "xn--hxargifdar.gr", "xn--wgv71a119e.jp",
        /* an A-label that decodes to nonsense, and one that does not decode */
        "xn--paypal.com", "xn--zz.com"};
    for (size_t i = 0; i < N(names); i++)
        none(l, names[i]);
    px_lookalike_destroy(l);

    /* google vs brand paypal, the other way round too. */
    const char *const p[] = {"paypal"};
    l = make(p, N(p));
    none(l, "google.com");
    px_lookalike_destroy(l);
    const char *const g[] = {"google.com"};
    l = make(g, N(g));
    none(l, "paypal.com");
    none(l, "goggles.com"); /* two edits from a 6-letter brand */
    px_lookalike_destroy(l);
}

/* What is not a registered hostname label is no look-alike. */
static void test_not_a_registered_label(void **state)
{
    (void)state;
    px_lookalike *l = make(main_brands, N(main_brands));
    char long_label[80];
    memset(long_label, 'p', 64);
    strcpy(long_label + 64, ".com");
    static const char *const names[] = {"",
                                        ".",
                                        "paypal",
                                        "paypal.",
                                        ".com",
                                        "pay_pal.com",
                                        "pay\\032pal.com",
                                        "pay pal.com",
                                        "paypa1\\.com.net",
                                        "*.paypal.com",
                                        "paypa1..com",
                                        "xn--pypal-4ve"};
    for (size_t i = 0; i < N(names); i++)
        none(l, names[i]);
    none(l, long_label);
    /* Raw UTF-8 never travels in DNS as a hostname: A-labels only. */
    none(l, "pаypal.com");
    px_lookalike_destroy(l);
}

/* Two letters: homoglyphs and whole tokens, no edits. */
static void test_two_letter_brand(void **state)
{
    (void)state;
    const char *const b[] = {"hp.com"};
    px_lookalike *l = make(b, N(b));
    hit(l, "xn--p-50b.com", "hp.com", PX_LOOKALIKE_HOMOGLYPH, 1, "hp"); /* Cyrillic һ */
    hit(l, "hp-support.com", "hp.com", PX_LOOKALIKE_TOKEN, 0, NULL);
    hit(l, "hp.net", "hp.com", PX_LOOKALIKE_EDIT, 0, NULL);
    none(l, "hq.com");
    none(l, "hpe.com");
    none(l, "h.com");
    px_lookalike_destroy(l);
}

static void test_strongest_hit(void **state)
{
    (void)state;
    /* "paypa1" is one edit from "paypa" but a homoglyph of "paypal",
     * listed second: the homoglyph wins. */
    const char *const b[] = {"paypa.com", "paypal.com"};
    px_lookalike *l = make(b, N(b));
    hit(l, "paypa1.com", "paypal.com", PX_LOOKALIKE_HOMOGLYPH, 1, "paypal");
    px_lookalike_destroy(l);
    /* Equal strength: the brand listed first. */
    const char *const c[] = {"paypal.com", "paypal.net"};
    l = make(c, N(c));
    hit(l, "paypal.org", "paypal.com", PX_LOOKALIKE_EDIT, 0, NULL);
    px_lookalike_destroy(l);
    const char *const d[] = {"paypal.net", "paypal.com"};
    l = make(d, N(d));
    hit(l, "paypal.org", "paypal.net", PX_LOOKALIKE_EDIT, 0, NULL);
    px_lookalike_destroy(l);
}

/* The brand in any form a person writes it; the hit names it as written. */
static void test_brand_forms(void **state)
{
    (void)state;
    static const char *const forms[] = {"bücher.de",        "BÜCHER.de",  "xn--bcher-kva.de",
                                        "XN--BCHER-KVA.DE", "bücher.de.", "bücher"};
    for (size_t i = 0; i < N(forms); i++) {
        px_lookalike *l = make(&forms[i], 1);
        hit(l, "xn--bcer-0ra968c.de", forms[i], PX_LOOKALIKE_HOMOGLYPH, 1, "bücher");
        hit(l, "bucher.com", forms[i], PX_LOOKALIKE_EDIT, 1, "bucher");
        none(l, "xn--bcher-kva.de");
        px_lookalike_destroy(l);
    }
    const char *const p[] = {"PayPal.COM"};
    px_lookalike *l = make(p, N(p));
    hit(l, "paypa1.com", "PayPal.COM", PX_LOOKALIKE_HOMOGLYPH, 1, "paypal");
    none(l, "paypal.com");
    px_lookalike_destroy(l);
}

static void expect_bad(const char *brand, const px_lookalike_opts *o, const char *want)
{
    char why[256] = "";
    if (px_lookalike_check_brand(brand, o, why, sizeof(why)))
        fail_msg("brand \"%s\" accepted", brand ? brand : "(null)");
    if (!strstr(why, want))
        fail_msg("brand \"%s\": \"%s\" does not say \"%s\"", brand ? brand : "(null)", why, want);
    /* create refuses it too, with the same sentence, among good brands. */
    const char *const list[] = {"paypal.com", brand};
    px_lookalike *l = (px_lookalike *)1;
    char why2[256] = "";
    assert_int_equal(px_lookalike_create(list, 2, o, &l, why2, sizeof(why2)), PX_ERR_INVAL);
    assert_null(l);
    assert_string_equal(why, why2);
}

static void test_bad_brands(void **state)
{
    (void)state;
    expect_bad(NULL, NULL, "empty");
    expect_bad("", NULL, "brand \"\": empty");
    expect_bad(".", NULL, "empty");
    expect_bad("pay pal", NULL, "brand \"pay pal\": not a label or domain (' ' is not a letter");
    expect_bad("pay_pal.com", NULL, "'_' is not a letter, digit or hyphen");
    expect_bad("paypal.com/login", NULL, "'/' is not");
    expect_bad("https://paypal.com", NULL, "':' is not");
    expect_bad("pay\001pal", NULL, "brand \"pay\\x01pal\"");
    expect_bad("-paypal.com", NULL, "hyphen");
    expect_bad("paypal-.com", NULL, "hyphen");
    expect_bad("paypal..com", NULL, "a label of 0 octets");
    expect_bad(".paypal.com", NULL, "a label of 0 octets");
    expect_bad("xn--zz.com", NULL, "punycode");
    expect_bad("ab--cd.com", NULL, "hyphen");
    expect_bad("\xf0\x9f\x92\xa9.com", NULL, "disallowed"); /* an emoji */
    char big[300];
    memset(big, 'a', 64);
    big[64] = '\0';
    expect_bad(big, NULL, "label longer than 63");
    for (int i = 0; i < 5; i++)
        memcpy(big + i * 50, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.", 50);
    big[250] = '\0';
    strcat(big, "abcd");
    expect_bad(big, NULL, "longer than a domain name");
    memset(big, 'a', 299);
    big[299] = '\0';
    expect_bad(big, NULL, "longer than a domain name");
}

/* A small stand-in for the public suffix list. */
static bool fake_public_suffix(const char *name, size_t len)
{
    static const char *const ps[] = {"com", "de", "uk", "co.uk", "xn--p1ai", "github.io", "io"};
    for (size_t i = 0; i < N(ps); i++)
        if (strlen(ps[i]) == len && memcmp(ps[i], name, len) == 0)
            return true;
    return false;
}

static void test_brands_registered(void **state)
{
    (void)state;
    px_lookalike_opts o = px_lookalike_opts_default();
    o.is_public_suffix = fake_public_suffix;
    static const char *const good[] = {"paypal.com",   "paypal",
                                       "paypal.co.uk", "xn--80abap1arsf.xn--p1ai",
                                       "сбербанк.рф",  "mybrand.github.io"};
    for (size_t i = 0; i < N(good); i++) {
        char why[256] = "";
        if (!px_lookalike_check_brand(good[i], &o, why, sizeof(why)))
            fail_msg("%s refused: %s", good[i], why);
    }
    expect_bad("www.paypal.com", &o, "a name below \"paypal.com\"");
    expect_bad("login.paypal.co.uk", &o, "a name below \"paypal.co.uk\"");
    expect_bad("co.uk", &o, "a public suffix");
    expect_bad("paypal.example", &o, "no public suffix");
    /* Without the list, the first label is the brand. */
    assert_true(px_lookalike_check_brand("www.paypal.com", NULL, NULL, 0));
}

/* Thresholds are options. */
static void test_opts(void **state)
{
    (void)state;
    const char *const b[] = {"ups", "apple.com"};
    px_lookalike_opts o = px_lookalike_opts_default();
    px_lookalike *l = make_opts(b, N(b), &o);
    hit(l, "upss.com", "ups", PX_LOOKALIKE_EDIT, 1, NULL);
    none(l, "pineapple.com");
    px_lookalike_destroy(l);
    o.edit_min = 4;   /* no edits for 3 letters */
    o.substr_min = 5; /* 5 letters anywhere */
    l = make_opts(b, N(b), &o);
    none(l, "upss.com");
    hit(l, "xn--up-foc.com", "ups", PX_LOOKALIKE_HOMOGLYPH, 1, NULL);
    hit(l, "pineapple.com", "apple.com", PX_LOOKALIKE_TOKEN, 0, NULL);
    px_lookalike_destroy(l);
}

static void test_no_brands_and_null(void **state)
{
    (void)state;
    px_lookalike *l = NULL;
    assert_int_equal(px_lookalike_create(NULL, 0, NULL, &l, NULL, 0), PX_OK);
    none(l, "paypa1.com");
    px_lookalike_hit h;
    assert_int_equal(px_lookalike_match(l, NULL, &h), PX_ERR_INVAL);
    assert_int_equal(px_lookalike_match(l, "paypal.com", NULL), PX_ERR_INVAL);
    assert_int_equal(px_lookalike_match(NULL, "paypal.com", &h), PX_ERR_INVAL);
    px_lookalike_destroy(l);
    px_lookalike_destroy(NULL);
    assert_int_equal(px_lookalike_create(NULL, 1, NULL, &l, NULL, 0), PX_ERR_INVAL);
    assert_string_equal(px_lookalike_method_name(PX_LOOKALIKE_HOMOGLYPH), "homoglyph");
    assert_string_equal(px_lookalike_method_name(PX_LOOKALIKE_EDIT), "edit");
    assert_string_equal(px_lookalike_method_name(PX_LOOKALIKE_TOKEN), "token");
}

/* A label TR39 expands past the hit's skeleton buffer: the match still
 * finds the brand, the skeleton is cut at a character and stays UTF-8. */
static void test_long_skeleton(void **state)
{
    (void)state;
    px_lookalike *l = make(main_brands, N(main_brands));
    /* "paypal" and 48 U+FDFA, each 18 characters in the skeleton. */
    const char *dom = "xn--paypal-g248aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com";
    px_lookalike_hit h = hit(l, dom, "paypal.com", PX_LOOKALIKE_TOKEN, 0, NULL);
    size_t n = strlen(h.skeleton);
    assert_true(n > 200 && n < PX_LOOKALIKE_SKELETON_MAX);
    assert_memory_equal(h.skeleton, "paypal", 6);
    /* Valid UTF-8: the cut fell between characters. */
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)h.skeleton[i];
        size_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        assert_true(i + len <= n);
        for (size_t k = 1; k < len; k++)
            assert_int_equal((unsigned char)h.skeleton[i + k] & 0xc0, 0x80);
        i += len;
    }
    px_lookalike_destroy(l);
}

/* One scorer, four threads, the same answers as one thread. */
static const char *const thread_names[] = {
    "xn--pypal-4ve.com", "paypa1.com", "paypall.com",     "ups-tracking.com", "example.com",
    "groups.com",        "bucher.de",  "paypal.de",       "xn--bcher-kwa.de", "paypalsupport.com",
    "ups.com",           "uqs.com",    "login-paypal.com"};

typedef struct thread_run {
    const px_lookalike *l;
    px_lookalike_hit h[N(thread_names)];
    px_err rc[N(thread_names)];
} thread_run;

static void *thread_main(void *arg)
{
    thread_run *r = arg;
    for (int round = 0; round < 50; round++)
        for (size_t i = 0; i < N(thread_names); i++) {
            memset(&r->h[i], 0, sizeof(r->h[i]));
            r->rc[i] = px_lookalike_match(r->l, thread_names[i], &r->h[i]);
        }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    px_lookalike *l = make(main_brands, N(main_brands));
    static thread_run one, many[4];
    one.l = l;
    thread_main(&one);
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        many[i].l = l;
        assert_int_equal(pthread_create(&t[i], NULL, thread_main, &many[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_memory_equal(many[i].rc, one.rc, sizeof(one.rc));
        assert_memory_equal(many[i].h, one.h, sizeof(one.h));
    }
    px_lookalike_destroy(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_homoglyphs),
        cmocka_unit_test(test_edit_classes_by_hand),
        cmocka_unit_test(test_edit_classes_generated),
        cmocka_unit_test(test_bitflips),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_token_lengths),
        cmocka_unit_test(test_own_and_other_suffix),
        cmocka_unit_test(test_unrelated),
        cmocka_unit_test(test_not_a_registered_label),
        cmocka_unit_test(test_two_letter_brand),
        cmocka_unit_test(test_strongest_hit),
        cmocka_unit_test(test_brand_forms),
        cmocka_unit_test(test_bad_brands),
        cmocka_unit_test(test_brands_registered),
        cmocka_unit_test(test_opts),
        cmocka_unit_test(test_no_brands_and_null),
        cmocka_unit_test(test_long_skeleton),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
