/* bench_reader.h: what the two file-reader benches (pcapread.c,
 * fstrmread.c) share: the reader's state, touching every byte read, and
 * their main: -m LIB (default: the library alone, the floor run.sh uses),
 * -m own (ours alone), -m pair (both in paired rounds, bench_pair.h). */
#ifndef PX_BENCH_READER_H
#define PX_BENCH_READER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_pair.h"

typedef struct pxb_reader {
    const char *path;
    unsigned long long bytes;
    uint32_t touch; /* a sum over every byte keeps the reads honest */
    int failed;
} pxb_reader;

static inline void pxb_touch(pxb_reader *rd, const uint8_t *data, size_t len)
{
    rd->bytes += len;
    for (size_t i = 0; i < len; i++)
        rd->touch += data[i];
}

/* The bench's main. unit: "packets", "frames" (the first line printed in a
 * single mode, which run.sh and smoke.sh read); what, per: the pair's name
 * and unit ("pcap read", "record"). */
static inline int pxb_reader_main(int argc, char **argv, const char *prog, const char *file,
                                  const char *unit, const char *what, const char *per,
                                  const pxb_side *ours, const pxb_side *lib)
{
    const char *mode = lib->name;
    int rounds = 5, opt;
    while ((opt = getopt(argc, argv, "m:r:")) != -1) {
        if (opt == 'm')
            mode = optarg;
        else if (opt == 'r')
            rounds = atoi(optarg);
        else
            goto usage;
    }
    if (optind != argc - 1)
        goto usage;
    pxb_reader rd = {.path = argv[optind]};
    uint64_t sink = 0;
    if (strcmp(mode, "pair") == 0)
        return pxb_pair(what, per, ours, lib, &rd, rounds) || rd.failed;
    const pxb_side *side = strcmp(mode, lib->name) == 0 ? lib
                           : strcmp(mode, "own") == 0   ? ours
                                                        : NULL;
    if (!side)
        goto usage;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long long n = side->run(&rd, &sink);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%s %llu\nbytes %llu\nseconds %.3f\nper_second %.0f\nchecksum %u\n", unit, n, rd.bytes,
           secs, secs > 0 ? (double)n / secs : 0.0, rd.touch);
    return rd.failed;
usage:
    fprintf(stderr, "usage: %s [-m %s|own|pair] [-r ROUNDS] %s\n", prog, lib->name, file);
    return 2;
}

#endif
