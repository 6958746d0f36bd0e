/* libFuzzer harness: the input is a whole capture file, read by px_pcapf
 * and by libpcap side by side; they must agree on every record (times,
 * lengths, bytes) and on how the file ends. The input is put in a memfd
 * (px_pcapf reads a descriptor) and handed to libpcap with fmemopen(). A
 * header px_pcapf does not take is not compared. Tiny read chunks are not
 * needed: records cross the 1 MiB buffer only in large inputs, and
 * tests/unit/test_rbuf.c covers refills. */
#include <pcap/pcap.h>
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
    px_pcapf_destroy(f);
    close(fd);
    pcap_close(p);
    return 0;
}
