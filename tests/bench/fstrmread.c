/* fstrmread.c: the floor for dnstap file input. Reads every data frame of a
 * Frame Streams file with libfstrm's reader and touches its bytes, without
 * decoding the protobuf; the producer's dnstap throughput is compared with
 * this. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <fstrm.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: pdnsx-bench-fstrmread FILE.dnstap\n");
        return 2;
    }
    static const char ctype[] = "protobuf:dnstap.Dnstap";
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct fstrm_file_options *fopt = fstrm_file_options_init();
    struct fstrm_reader_options *ropt = fstrm_reader_options_init();
    fstrm_file_options_set_file_path(fopt, argv[1]);
    fstrm_reader_options_add_content_type(ropt, ctype, strlen(ctype));
    struct fstrm_reader *r = fstrm_file_reader_init(fopt, ropt);
    fstrm_file_options_destroy(&fopt);
    fstrm_reader_options_destroy(&ropt);
    if (!r || fstrm_reader_open(r) != fstrm_res_success) {
        fprintf(stderr, "pdnsx-bench-fstrmread: %s: cannot open as %s\n", argv[1], ctype);
        if (r)
            fstrm_reader_destroy(&r);
        return 1;
    }
    const uint8_t *data;
    size_t len;
    unsigned long long frames = 0, bytes = 0;
    uint32_t touch = 0; /* a sum over every byte keeps the reads honest */
    fstrm_res res;
    while ((res = fstrm_reader_read(r, &data, &len)) == fstrm_res_success) {
        frames++;
        bytes += len;
        for (size_t i = 0; i < len; i++)
            touch += data[i];
    }
    fstrm_reader_destroy(&r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("frames %llu\nbytes %llu\nseconds %.3f\nper_second %.0f\nchecksum %u\n", frames, bytes,
           secs, secs > 0 ? (double)frames / secs : 0.0, touch);
    /* libfstrm's file reader reports a file cut mid-frame as a clean end, so
     * callers compare the frame count with what they expect. */
    if (res != fstrm_res_stop) {
        fprintf(stderr, "pdnsx-bench-fstrmread: stream ended without a STOP frame\n");
        return 1;
    }
    return 0;
}
