/* fstrmread.c: the floor for dnstap file input, and the Frame Streams
 * splitter against libfstrm's reader.
 *
 *   pdnsx-bench-fstrmread FILE.dnstap             libfstrm: fstrm_reader_read
 *   pdnsx-bench-fstrmread -m own FILE.dnstap      ours: px_rbuf + px_fstrm_frame_next
 *   pdnsx-bench-fstrmread -m pair [-r N] FILE     both in paired rounds
 *
 * Each reads every data frame of a Frame Streams file and touches its
 * bytes, without decoding the protobuf; the producer's dnstap throughput is
 * compared with the first, and the pair gives the figure for the splitter
 * in docs/BENCHMARKS.md ("Why this is ours"). */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fstrm.h>

#include "bench_reader.h"
#include "px_dnstap.h"
#include "px_fstrm.h"
#include "px_rbuf.h"

static uint64_t read_libfstrm(void *ctx, uint64_t *sink)
{
    pxb_reader *rd = ctx;
    static const char ctype[] = PX_DNSTAP_CONTENT_TYPE;
    struct fstrm_file_options *fopt = fstrm_file_options_init();
    struct fstrm_reader_options *ropt = fstrm_reader_options_init();
    fstrm_file_options_set_file_path(fopt, rd->path);
    fstrm_reader_options_add_content_type(ropt, ctype, strlen(ctype));
    struct fstrm_reader *r = fstrm_file_reader_init(fopt, ropt);
    fstrm_file_options_destroy(&fopt);
    fstrm_reader_options_destroy(&ropt);
    if (!r || fstrm_reader_open(r) != fstrm_res_success) {
        fprintf(stderr, "pdnsx-bench-fstrmread: %s: cannot open as %s\n", rd->path, ctype);
        if (r)
            fstrm_reader_destroy(&r);
        rd->failed = 1;
        return 0;
    }
    const uint8_t *data;
    size_t len;
    uint64_t frames = 0;
    fstrm_res res;
    while ((res = fstrm_reader_read(r, &data, &len)) == fstrm_res_success) {
        frames++;
        pxb_touch(rd, data, len);
    }
    fstrm_reader_destroy(&r);
    /* libfstrm's file reader reports a file cut mid-frame as a clean end, so
     * callers compare the frame count with what they expect. */
    if (res != fstrm_res_stop) {
        fprintf(stderr, "pdnsx-bench-fstrmread: stream ended without a STOP frame\n");
        rd->failed = 1;
    }
    *sink += rd->touch;
    return frames;
}

/* As the dnstap-file input splits a file: frames in place in a read
 * buffer. Control frames are stepped over (the input hands the START to
 * libfstrm's control decoder once per file). */
static uint64_t read_own(void *ctx, uint64_t *sink)
{
    pxb_reader *rd = ctx;
    int fd = open(rd->path, O_RDONLY | O_CLOEXEC);
    px_rbuf *rb = fd >= 0 ? px_rbuf_create(fd, 0) : NULL;
    uint64_t frames = 0;
    px_err err = rb ? PX_OK : PX_ERR_IO;
    bool stopped = false;
    while (!err && !stopped) {
        px_fstrm_frame f;
        size_t need = 0;
        err =
            px_fstrm_frame_next(px_rbuf_data(rb), px_rbuf_avail(rb), PX_FSTRM_DATA_MAX, &f, &need);
        if (err == PX_ERR_AGAIN) {
            err = px_rbuf_fill(rb, need ? need : px_rbuf_avail(rb) + 1);
            continue;
        }
        if (err)
            break;
        if (f.control) {
            /* the control type: 32 bits, big-endian */
            stopped = f.len >= 4 && f.data[0] == 0 && f.data[1] == 0 && f.data[2] == 0 &&
                      f.data[3] == PX_FSTRM_CONTROL_STOP;
        } else {
            frames++;
            pxb_touch(rd, f.data, f.len);
        }
        px_rbuf_consume(rb, f.size);
    }
    if (!stopped) {
        fprintf(stderr, "pdnsx-bench-fstrmread: %s: %s before a STOP frame\n", rd->path,
                px_strerror(err));
        rd->failed = 1;
    }
    px_rbuf_destroy(rb);
    if (fd >= 0)
        close(fd);
    *sink += rd->touch;
    return frames;
}

int main(int argc, char **argv)
{
    pxb_side ours = {"px_fstrm", read_own}, lib = {"libfstrm", read_libfstrm};
    return pxb_reader_main(argc, argv, "pdnsx-bench-fstrmread", "FILE.dnstap", "frames",
                           "fstrm split", "frame", &ours, &lib);
}
