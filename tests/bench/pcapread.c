/* pcapread.c: the floor for pcap input, and the pcap reader against libpcap.
 *
 *   pdnsx-bench-pcapread FILE.pcap               libpcap: pcap_next_ex
 *   pdnsx-bench-pcapread -m own FILE.pcap        ours: px_pcapf_next
 *   pdnsx-bench-pcapread -m pair [-r N] FILE     both in paired rounds
 *
 * Each reads every record and touches its bytes, nothing more; the
 * producer's pcap throughput is compared with the first, and the pair
 * gives the figure for the reader in docs/BENCHMARKS.md ("Why this is
 * ours"). Both read the file from the page cache. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "bench_reader.h"
#include "px_pcapf.h"

static uint64_t read_libpcap(void *ctx, uint64_t *sink)
{
    pxb_reader *rd = ctx;
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(rd->path, err);
    if (!p) {
        fprintf(stderr, "pdnsx-bench-pcapread: %s\n", err);
        rd->failed = 1;
        return 0;
    }
    struct pcap_pkthdr *h;
    const u_char *data;
    uint64_t packets = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        packets++;
        pxb_touch(rd, data, h->caplen);
    }
    if (rc == PCAP_ERROR) {
        fprintf(stderr, "pdnsx-bench-pcapread: %s\n", pcap_geterr(p));
        rd->failed = 1;
    }
    pcap_close(p);
    *sink += rd->touch;
    return packets;
}

/* As the pcap-file input does: libpcap opens the file for its snapshot
 * length, px_pcapf reads the records. */
static uint64_t read_own(void *ctx, uint64_t *sink)
{
    pxb_reader *rd = ctx;
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline_with_tstamp_precision(rd->path, PCAP_TSTAMP_PRECISION_NANO, err);
    int fd = open(rd->path, O_RDONLY | O_CLOEXEC);
    px_pcapf *f = p && fd >= 0 ? px_pcapf_open(fd, (uint32_t)pcap_snapshot(p)) : NULL;
    if (p)
        pcap_close(p);
    if (!f) {
        fprintf(stderr, "pdnsx-bench-pcapread: %s: px_pcapf does not take it\n", rd->path);
        if (fd >= 0)
            close(fd);
        rd->failed = 1;
        return 0;
    }
    struct pcap_pkthdr h;
    const uint8_t *data;
    uint64_t packets = 0;
    int rc;
    while ((rc = px_pcapf_next(f, &h, &data)) == 1) {
        packets++;
        pxb_touch(rd, data, h.caplen);
    }
    if (rc < 0) {
        fprintf(stderr, "pdnsx-bench-pcapread: %s\n", px_pcapf_error(f, NULL, NULL));
        rd->failed = 1;
    }
    px_pcapf_destroy(f);
    close(fd);
    *sink += rd->touch;
    return packets;
}

int main(int argc, char **argv)
{
    pxb_side ours = {"px_pcapf", read_own}, lib = {"libpcap", read_libpcap};
    return pxb_reader_main(argc, argv, "pdnsx-bench-pcapread", "FILE.pcap", "packets", "pcap read",
                           "record", &ours, &lib);
}
