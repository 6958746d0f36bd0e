/* bench_dnstap.h: the data frames of a dnstap file, read whole into memory
 * and split with px_fstrm_frame_next (control frames left out), for the
 * benches that decode them (dnstapdecode.c, dnsparse.c). */
#ifndef PX_BENCH_DNSTAP_H
#define PX_BENCH_DNSTAP_H

#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "px_fstrm.h"

typedef struct pxb_frames {
    uint8_t *file;
    size_t n;
    const uint8_t **data;
    size_t *len;
} pxb_frames;

static inline void pxb_frames_free(pxb_frames *fr)
{
    free(fr->data);
    free(fr->len);
    free(fr->file);
}

/* 0, or -1 when the file cannot be read or holds no data frame. */
static inline int pxb_frames_load(const char *path, pxb_frames *fr)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        return -1;
    size_t size = (size_t)st.st_size, got = 0, cap = 0;
    fr->file = malloc(size ? size : 1);
    while (fr->file && got < size) {
        ssize_t r = read(fd, fr->file + got, size - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!fr->file || got != size)
        return -1;
    for (size_t off = 0; off < size;) {
        px_fstrm_frame f;
        if (px_fstrm_frame_next(fr->file + off, size - off, PX_FSTRM_DATA_MAX, &f, NULL) != PX_OK)
            return -1;
        off += f.size;
        if (f.control)
            continue;
        if (fr->n == cap) {
            cap = cap ? 2 * cap : 65536;
            const uint8_t **d = realloc(fr->data, cap * sizeof(*fr->data));
            size_t *l = d ? realloc(fr->len, cap * sizeof(*fr->len)) : NULL;
            if (d)
                fr->data = d;
            if (!d || !l)
                return -1;
            fr->len = l;
        }
        fr->data[fr->n] = f.data;
        fr->len[fr->n++] = f.len;
    }
    return fr->n ? 0 : -1;
}

/* The command line of these benches: [-r ROUNDS] FILE.dnstap, the file's
 * frames loaded into *fr. Returns 0, or the exit status after a message. */
static inline int pxb_frames_args(int argc, char **argv, const char *prog, int *rounds,
                                  pxb_frames *fr)
{
    int opt;
    *rounds = 5;
    while ((opt = getopt(argc, argv, "r:")) != -1) {
        if (opt != 'r')
            optind = argc + 1; /* usage */
        else
            *rounds = atoi(optarg);
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: %s [-r ROUNDS] FILE.dnstap\n", prog);
        return 2;
    }
    if (pxb_frames_load(argv[optind], fr) != 0) {
        fprintf(stderr, "%s: %s: cannot read its frames\n", prog, argv[optind]);
        return 1;
    }
    return 0;
}

#endif
