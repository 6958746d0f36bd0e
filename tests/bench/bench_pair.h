/* bench_pair.h: paired rounds for the "ours against the library" benches
 * (docs/BENCHMARKS.md, "Why this is ours").
 *
 * The machine these run on is shared and noisy, so each round runs both
 * sides once, back to back, alternating which goes first, and the figure
 * is the median over rounds of the per-round ratio library/ours: noise
 * that hits a whole round cancels out of its ratio. Wall time
 * (CLOCK_MONOTONIC) and the process's CPU time (CLOCK_PROCESS_CPUTIME_ID)
 * are both reported: a ratio that holds in CPU time but not in wall time
 * was the machine, not the code. Header-only; each bench includes it once. */
#ifndef PX_BENCH_PAIR_H
#define PX_BENCH_PAIR_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define PXB_MAX_ROUNDS 64

typedef struct pxb_side {
    const char *name;
    /* Runs the whole workload once; returns the units done (frames,
     * records, messages) and adds something of every result to *sink so
     * that nothing is optimised away. 0 units is a failure. */
    uint64_t (*run)(void *ctx, uint64_t *sink);
} pxb_side;

typedef struct pxb_clock {
    double wall, cpu;
} pxb_clock;

static inline pxb_clock pxb_now(void)
{
    struct timespec w, c;
    clock_gettime(CLOCK_MONOTONIC, &w);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c);
    return (pxb_clock){(double)w.tv_sec + (double)w.tv_nsec / 1e9,
                       (double)c.tv_sec + (double)c.tv_nsec / 1e9};
}

static int pxb_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline double pxb_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), pxb_cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Runs ours and lib `rounds` times each, alternating the order, prints one
 * line per round and a summary:
 *   WHAT: ours NS/UNIT (cpu NS), LIB NS/UNIT (cpu NS), LIB/ours wall X cpu Y
 * Returns 0, or 1 if a side failed or the two did different amounts of work. */
static inline int pxb_pair(const char *what, const char *unit, const pxb_side *ours,
                           const pxb_side *lib, void *ctx, int rounds)
{
    double ow[PXB_MAX_ROUNDS], oc[PXB_MAX_ROUNDS], lw[PXB_MAX_ROUNDS], lc[PXB_MAX_ROUNDS];
    double rw[PXB_MAX_ROUNDS], rc[PXB_MAX_ROUNDS];
    uint64_t sink = 0, units = 0;
    if (rounds < 1)
        rounds = 1;
    if (rounds > PXB_MAX_ROUNDS)
        rounds = PXB_MAX_ROUNDS;
    for (int r = 0; r < rounds; r++) {
        const pxb_side *order[2] = {r % 2 ? lib : ours, r % 2 ? ours : lib};
        for (int k = 0; k < 2; k++) {
            pxb_clock t0 = pxb_now();
            uint64_t n = order[k]->run(ctx, &sink);
            pxb_clock t1 = pxb_now();
            if (n == 0 || (units && n != units)) {
                fprintf(stderr, "%s: %s did %llu %s, expected %llu\n", what, order[k]->name,
                        (unsigned long long)n, unit, (unsigned long long)units);
                return 1;
            }
            units = n;
            double *w = order[k] == ours ? ow : lw, *c = order[k] == ours ? oc : lc;
            w[r] = (t1.wall - t0.wall) * 1e9 / (double)n;
            c[r] = (t1.cpu - t0.cpu) * 1e9 / (double)n;
        }
        rw[r] = lw[r] / ow[r];
        rc[r] = lc[r] / oc[r];
        printf("round %d: %s %.1f ns/%s (cpu %.1f), %s %.1f ns/%s (cpu %.1f), %s/%s wall %.2f cpu "
               "%.2f\n",
               r + 1, ours->name, ow[r], unit, oc[r], lib->name, lw[r], unit, lc[r], lib->name,
               ours->name, rw[r], rc[r]);
    }
    double mow = pxb_median(ow, rounds), moc = pxb_median(oc, rounds);
    double mlw = pxb_median(lw, rounds), mlc = pxb_median(lc, rounds);
    double mrw = pxb_median(rw, rounds), mrc = pxb_median(rc, rounds);
    printf("%s: %llu %s, %d rounds (medians): %s %.1f ns/%s (cpu %.1f), %s %.1f ns/%s (cpu %.1f); "
           "%s/%s wall %.2f, cpu %.2f [sink %llu]\n",
           what, (unsigned long long)units, unit, rounds, ours->name, mow, unit, moc, lib->name,
           mlw, unit, mlc, lib->name, ours->name, mrw, mrc, (unsigned long long)(sink & 0xffff));
    return 0;
}

#endif
