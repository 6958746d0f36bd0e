/* px_lookalike.h: the look-alike score (issue 11): does a registered domain
 * resemble a protected brand of detect.brands? Pure computation, no I/O:
 * libidn2 decodes IDNs, ICU's spoof checker (Unicode TR39) maps
 * confusables to their skeleton, and the rest is string distance.
 *
 * Three methods, as docs/INTERFACE.md's `pdnsx.lookalike` names them:
 *   homoglyph  the label's skeleton equals the brand's but the label is
 *              another string ("xn--pypal-4ve" = "pаypal" with Cyrillic а,
 *              "paypa1", "rnicrosoft");
 *   edit       the skeletons are a few edits apart (optimal string
 *              alignment: insertion, omission, replacement, transposition),
 *              the brand's own label under another suffix (distance 0), or
 *              for an IDN brand its A-label one edit away (a flipped bit on
 *              the wire);
 *   token      the brand inside a longer label ("paypal-secure",
 *              "paypalsupport").
 * The thresholds and their reasoning are in docs/DETECTION.md. */
#ifndef PX_LOOKALIKE_H
#define PX_LOOKALIKE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/px_error.h"

typedef struct px_lookalike px_lookalike;

/* Thresholds, in code points of the brand's label as a person reads it
 * (Unicode, NFC): "paypal" is 6, "bücher" 6, "microsoft" 9. */
typedef struct px_lookalike_opts {
    /* Shorter brands take no edit at all, only homoglyphs and exact tokens
     * (every label of 1 or 2 characters is a couple of edits from any
     * other). Default 3. */
    unsigned edit_min;
    /* Brands this long or longer take 2 edits; shorter ones (from
     * edit_min) 1. Default 9. */
    unsigned edit2_min;
    /* Brands this long or longer match at the start of a longer hyphen
     * token ("applesupport") and, within the edit threshold, as a whole
     * token ("paypa-secure"). Default 5. */
    unsigned prefix_min;
    /* Brands this long or longer match anywhere in the label, hyphens
     * ignored ("securepaypal", "pay-pal-login"). Default 6. */
    unsigned substr_min;
    /* Optional: true if `name` (lowercase A-labels, no trailing dot, len
     * octets) is a public suffix. When set, a brand with a dot must be one
     * label above a public suffix (a registered domain), so that
     * "www.paypal.com" is refused rather than protecting the label "www".
     * It should answer by the list the registered domains come from (the
     * private section included). NULL: the first label is the brand. */
    bool (*is_public_suffix)(const char *name, size_t len);
} px_lookalike_opts;

/* The defaults above. */
px_lookalike_opts px_lookalike_opts_default(void);

/* True if `brand` is a valid entry of detect.brands: a label or a domain
 * name, ASCII or IDN (U-labels or A-labels, any case, one trailing dot
 * allowed), each label 1 to 63 octets of letters, digits and hyphens once
 * in A-label form, 253 in all; with opts->is_public_suffix, a registered
 * domain. Otherwise false and a sentence in why ("brand \"pay pal\": ' '
 * is not a letter, digit or hyphen"); why may be NULL. opts NULL: the
 * defaults. The signature of px_conf_item.check once opts is bound. */
bool px_lookalike_check_brand(const char *brand, const px_lookalike_opts *opts, char *why,
                              size_t whylen);

/* A scorer for n brands (each as px_lookalike_check_brand accepts; the
 * strings are copied, the caller keeps its own). opts NULL: the defaults.
 * Returns PX_OK and *out, PX_ERR_INVAL with why naming the first bad brand,
 * or PX_ERR_NOMEM (also for ICU's data failing to load, said in why). No
 * brands is fine: nothing matches. */
px_err px_lookalike_create(const char *const *brands, size_t n, const px_lookalike_opts *opts,
                           px_lookalike **out, char *why, size_t whylen);
void px_lookalike_destroy(px_lookalike *l); /* NULL is fine */

typedef enum px_lookalike_method {
    PX_LOOKALIKE_HOMOGLYPH,
    PX_LOOKALIKE_EDIT,
    PX_LOOKALIKE_TOKEN,
} px_lookalike_method;

/* "homoglyph", "edit", "token" (the alert JSON's words). */
const char *px_lookalike_method_name(px_lookalike_method m);

/* Longest skeleton a hit carries, in octets with the NUL: a longer one
 * (only labels full of characters TR39 expands, 18 code points for one at
 * most) is cut at a character. */
#define PX_LOOKALIKE_SKELETON_MAX 256

typedef struct px_lookalike_hit {
    const char *brand; /* as configured; owned by the scorer, valid until destroy */
    px_lookalike_method method;
    /* homoglyph: characters changed from the brand's label (Unicode);
     * edit: edits between the skeletons, or between the A-labels for the
     * wire rule, 0 for the brand's label under another suffix; token:
     * edits between the token and the brand (0: the brand itself). */
    unsigned distance;
    /* Points to add to event.severity: 3 (reads as the brand: homoglyph,
     * or the brand's label under another suffix); 2 (one edit from a brand
     * of prefix_min characters or more, or the brand whole inside the
     * label); 1 (two edits, one edit from a shorter brand, or a token one
     * edit from the brand). */
    unsigned severity;
    /* The candidate label's skeleton (UTF-8, NFC, NUL-terminated): the
     * string that resembles the brand ("paypal" for "xn--pypal-4ve"). */
    char skeleton[PX_LOOKALIKE_SKELETON_MAX];
} px_lookalike_hit;

/* Scores a registered domain as it travels in DNS (one label and its public
 * suffix, A-labels for IDNs, "xn--pypal-4ve.com"; ASCII case is ignored,
 * one trailing dot allowed) against every brand and writes the strongest
 * hit (highest severity, then homoglyph before edit before token, then the
 * smaller distance, then the brand listed first).
 *
 * Returns PX_OK and *out; PX_ERR_NOTFOUND when the domain resembles no
 * brand, and also when it is a brand's own: a brand listed as a domain
 * ("paypal.com") owns that registered domain, a bare label ("paypal") owns
 * its label under every suffix; and when its label cannot be a registered
 * hostname label (empty, longer than 63, a character other than a letter,
 * digit or hyphen, no suffix). PX_ERR_INVAL for NULL arguments,
 * PX_ERR_NOMEM. Never touches *out unless it returns PX_OK.
 * Thread-safe: any number of threads may score with one scorer. */
px_err px_lookalike_match(const px_lookalike *l, const char *regdom, px_lookalike_hit *out);

#endif
