/* lookalike_bench.c: the cost of the look-alike score (detect/px_lookalike.h)
 * per candidate domain, and per candidate and brand, for 1, 10 and 100
 * brands. The candidates are what a burst brings: mostly names that
 * resemble nothing (random labels, some IDNs), a few look-alikes.
 *
 *   pdnsx-bench-lookalike [ROUNDS]      (default 20 rounds of 2,000 names) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detect/px_lookalike.h"

#define N_CAND 2000

static const char *const base_brands[] = {
    "paypal.com",   "ups",           "ing.com",      "bücher.de",
    "сбербанк.рф",  "microsoft.com", "google.com",   "apple.com",
    "amazon.com",   "netflix.com",   "chase.com",    "wellsfargo.com",
    "dhl.de",       "t-mobile.com",  "facebook.com", "instagram.com",
    "linkedin.com", "dropbox.com",   "docusign.net", "office.com"};
#define N_BASE (sizeof(base_brands) / sizeof(base_brands[0]))

static const char *const lookalikes[] = {
    "xn--pypal-4ve.com",  "paypa1-secure.net", "rnicrosoft.com",   "g00gle.com",
    "appleid-verify.com", "upss.com",          "xn--bcher-kwa.de", "netfl1x-billing.com"};

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 20;
    if (rounds < 1)
        rounds = 1;
    static char cand[N_CAND][64];
    static const char *const idns[] = {"xn--mnchen-3ya.de", "xn--e1afmkfd.xn--p1ai",
                                       "xn--wgv71a119e.jp", "xn--strae-oqa.de"};
    for (size_t i = 0; i < N_CAND; i++) {
        if (i % 50 == 0) {
            snprintf(cand[i], sizeof(cand[i]), "%s", lookalikes[(i / 50) % 8]);
        } else if (i % 50 == 1) {
            snprintf(cand[i], sizeof(cand[i]), "%s", idns[(i / 50) % 4]);
        } else {
            size_t len = 6 + next() % 9, o = 0;
            for (; o < len; o++)
                cand[i][o] =
                    "abcdefghijklmnopqrstuvwxyz0123456789-"[next() % (o && o + 1 < len ? 37 : 36)];
            snprintf(cand[i] + o, sizeof(cand[i]) - o, ".com");
        }
    }
    printf("%-8s %14s %18s %8s\n", "brands", "us/candidate", "ns/candidate/brand", "hits");
    static const size_t sizes[] = {1, 10, 100};
    for (size_t s = 0; s < 3; s++) {
        size_t nb = sizes[s];
        static char names[100][80];
        const char *list[100];
        for (size_t i = 0; i < nb; i++) {
            /* Past the 20 real ones: the same with a number, as long. */
            if (i < N_BASE)
                snprintf(names[i], sizeof(names[i]), "%s", base_brands[i]);
            else
                snprintf(names[i], sizeof(names[i]), "%zu%s", i / N_BASE, base_brands[i % N_BASE]);
            list[i] = names[i];
        }
        px_lookalike *l = NULL;
        char why[256];
        if (px_lookalike_create(list, nb, NULL, &l, why, sizeof(why)) != PX_OK) {
            fprintf(stderr, "create: %s\n", why);
            return 1;
        }
        size_t hits = 0;
        double t0 = now();
        for (int r = 0; r < rounds; r++)
            for (size_t i = 0; i < N_CAND; i++) {
                px_lookalike_hit h;
                hits += px_lookalike_match(l, cand[i], &h) == PX_OK;
            }
        double per = (now() - t0) / ((double)rounds * N_CAND);
        printf("%-8zu %14.2f %18.0f %8zu\n", nb, per * 1e6, per * 1e9 / (double)nb,
               hits / (size_t)rounds);
        px_lookalike_destroy(l);
    }
    return 0;
}
