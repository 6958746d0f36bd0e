/* libFuzzer harness: the input is a whole capture file, read by px_pcapf
 * and by libpcap side by side; they must agree on every record (times,
 * lengths, bytes) and on how the file ends. The input is put in a memfd
 * (px_pcapf reads a descriptor) and handed to libpcap with fmemopen(). A
 * header px_pcapf does not take is not compared. Tiny read chunks are not
 * needed: records cross the 1 MiB buffer only in large inputs, and
 * tests/unit/producer/test_rbuf.c covers refills.
 *
 * Where libpcap stops at damage, px_pcapf goes on: resynchronising and
 * reading until the end of the input, with the accounting checked (errors
 * at increasing offsets, skipped bytes within the file, the last resync
 * that finds nothing skipping exactly to the end, the record resumed at
 * within the snapshot length and not longer than its original). */
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "px_pcapf.h"

static int px_fuzz_fd(const uint8_t *data, size_t size)
{
    int fd = memfd_create("pcapf", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    if (size && write(fd, data, size) != (ssize_t)size)
        abort();
    lseek(fd, 0, SEEK_SET);
    return fd;
}

/* After libpcap's end: damage after damage until the end of the input. */
static void px_fuzz_resync(px_pcapf *f, size_t size, uint32_t snapshot)
{
    uint64_t last_err = 0;
    bool first = true;
    for (;;) {
        uint64_t off = 0, skipped = 0;
        px_err kind;
        if (!px_pcapf_error(f, &off, &kind))
            return; /* a clean end */
        if ((!first && off <= last_err) || off >= size)
            abort();
        first = false;
        last_err = off;
        int r = px_pcapf_resync(f, &skipped);
        if (r < 0)
            return; /* memfds do not fail reads; nothing to resume from */
        if (skipped == 0 || off + skipped > size || (r == 0 && off + skipped != size))
            abort();
        if (r == 0)
            break;
        /* the record resumed at is one a resync could take; the ones
         * after it are read as libpcap would read them */
        struct pcap_pkthdr h;
        const uint8_t *d;
        int rc = px_pcapf_next(f, &h, &d);
        if (rc == 1 && (h.caplen == 0 || h.caplen > snapshot || h.caplen > h.len))
            abort();
        while (rc == 1)
            rc = px_pcapf_next(f, &h, &d);
        if (rc == 0)
            break;
    }
    struct pcap_pkthdr h;
    const uint8_t *d;
    if (px_pcapf_next(f, &h, &d) != 0) /* the end stays the end */
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *mem = size ? fmemopen((void *)data, size, "rb") : NULL;
    if (!mem)
        return 0;
    char err[PCAP_ERRBUF_SIZE];
    /* libpcap owns mem from here (pcap_close() closes it) */
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(mem, PCAP_TSTAMP_PRECISION_NANO, err);
    if (!p) {
        fclose(mem);
        return 0;
    }
    int fd = px_fuzz_fd(data, size);
    px_pcapf *f = px_pcapf_open(fd, (uint32_t)pcap_snapshot(p));
    while (f) {
        struct pcap_pkthdr *lh, h;
        const u_char *ld;
        const uint8_t *d;
        int lrc = pcap_next_ex(p, &lh, &ld);
        int want = lrc == 1 ? 1 : lrc == PCAP_ERROR_BREAK ? 0 : -1;
        int rc = px_pcapf_next(f, &h, &d);
        if (rc != want)
            abort();
        if (rc != 1)
            break;
        if (h.ts.tv_sec != lh->ts.tv_sec || h.ts.tv_usec != lh->ts.tv_usec ||
            h.caplen != lh->caplen || h.len != lh->len || memcmp(d, ld, h.caplen) != 0)
            abort();
    }
    if (f)
        px_fuzz_resync(f, size, (uint32_t)pcap_snapshot(p));
    px_pcapf_destroy(f);
    close(fd);
    pcap_close(p);
    return 0;
}
