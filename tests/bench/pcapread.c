/* pcapread.c: the floor for pcap input. Reads every packet with
 * pcap_next_ex and touches its bytes, nothing more; the producer's pcap
 * throughput is compared with this. */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <pcap/pcap.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: pdnsx-bench-pcapread FILE.pcap\n");
        return 2;
    }
    char err[PCAP_ERRBUF_SIZE];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pcap_t *p = pcap_open_offline(argv[1], err);
    if (!p) {
        fprintf(stderr, "pdnsx-bench-pcapread: %s\n", err);
        return 1;
    }
    struct pcap_pkthdr *h;
    const u_char *data;
    unsigned long long packets = 0, bytes = 0;
    uint32_t touch = 0; /* a sum over every byte keeps the reads honest */
    int rc;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        packets++;
        bytes += h->caplen;
        for (bpf_u_int32 i = 0; i < h->caplen; i++)
            touch += data[i];
    }
    if (rc == PCAP_ERROR)
        fprintf(stderr, "pdnsx-bench-pcapread: %s\n", pcap_geterr(p));
    pcap_close(p);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("packets %llu\nbytes %llu\nseconds %.3f\nper_second %.0f\nchecksum %u\n", packets, bytes,
           secs, secs > 0 ? (double)packets / secs : 0.0, touch);
    return rc == PCAP_ERROR ? 1 : 0;
}
