/* fuzz_lookalike.c: arbitrary bytes as a registered domain through the
 * look-alike scorer (detect/px_lookalike.h), and as a brand. Input: up to
 * the first NUL, the domain; after it, if any, one more brand. Checks,
 * besides no crash and no leak: a brand that px_lookalike_check_brand
 * accepts is one px_lookalike_create accepts, and the other way round; the
 * same domain scores the same twice, in capitals and with a trailing dot
 * (DNS ignores both); a hit is well formed. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "detect/px_lookalike.h"

static const char *const brands[] = {"paypal.com",  "ups",           "ing.com",      "bücher.de",
                                     "сбербанк.рф", "microsoft.com", "t-mobile.com", "hp"};
#define N_BRANDS (sizeof(brands) / sizeof(brands[0]))

/* Well formed: a brand of the list, a known method, severity 1..3, a
 * skeleton that ends in the buffer and is UTF-8. */
static void check_hit(const px_lookalike_hit *h, const char *const *list, size_t n)
{
    bool known = false;
    for (size_t i = 0; i < n; i++)
        known = known || h->brand == list[i] || strcmp(h->brand, list[i]) == 0;
    if (!known || h->method > PX_LOOKALIKE_TOKEN || h->severity < 1 || h->severity > 3 ||
        h->distance > 63 || (h->method != PX_LOOKALIKE_HOMOGLYPH && h->distance > 2))
        abort();
    size_t len = strnlen(h->skeleton, sizeof(h->skeleton));
    if (len == sizeof(h->skeleton))
        abort();
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)h->skeleton[i];
        size_t k = c < 0x80 ? 1 : c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : 4;
        if (c >= 0xf5 || (c >= 0x80 && c < 0xc2) || i + k > len)
            abort();
        for (size_t j = 1; j < k; j++)
            if (((unsigned char)h->skeleton[i + j] & 0xc0) != 0x80)
                abort();
        i += k;
    }
}

static void score(const px_lookalike *l, const char *dom, const char *const *list, size_t n)
{
    px_lookalike_hit a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    px_err ra = px_lookalike_match(l, dom, &a);
    if (ra != PX_OK && ra != PX_ERR_NOTFOUND && ra != PX_ERR_NOMEM)
        abort();
    if (ra == PX_OK)
        check_hit(&a, list, n);
    /* Deterministic, blind to ASCII case and to one trailing dot. */
    size_t len = strlen(dom);
    char *v = malloc(len + 2);
    if (!v)
        return;
    for (size_t i = 0; i < len; i++)
        v[i] = (char)toupper((unsigned char)dom[i]);
    v[len] = '\0';
    for (int round = 0; round < 3; round++) {
        const char *d = round == 0 ? dom : v;
        if (round == 2) {
            if (len > 0 && dom[len - 1] == '.')
                break; /* a second dot is another name */
            v[len] = '.';
            v[len + 1] = '\0';
        }
        memset(&b, 0, sizeof(b));
        px_err rb = px_lookalike_match(l, d, &b);
        if (rb != ra || (ra == PX_OK && memcmp(&a, &b, sizeof(a)) != 0))
            abort();
    }
    free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static px_lookalike *l;
    if (!l && px_lookalike_create(brands, N_BRANDS, NULL, &l, NULL, 0) != PX_OK)
        abort();
    if (size > 1024)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    size_t dom_len = strlen(text);
    score(l, text, brands, N_BRANDS);

    if (dom_len < size) {
        /* One more brand from the bytes after the NUL. */
        const char *extra = text + dom_len + 1;
        const char *list[N_BRANDS + 1];
        memcpy(list, brands, sizeof(brands));
        list[N_BRANDS] = extra;
        char why[256] = "";
        bool ok = px_lookalike_check_brand(extra, NULL, why, sizeof(why));
        px_lookalike *m = NULL;
        px_err rc = px_lookalike_create(list, N_BRANDS + 1, NULL, &m, why, sizeof(why));
        if (rc != PX_ERR_NOMEM && ok != (rc == PX_OK))
            abort();
        if (rc == PX_ERR_INVAL && (m || why[0] == '\0'))
            abort(); /* refused: no scorer, and a reason */
        if (m) {
            score(m, text, list, N_BRANDS + 1);
            score(m, extra, list, N_BRANDS + 1);
        }
        px_lookalike_destroy(m);
    }
    free(text);
    return 0;
}
