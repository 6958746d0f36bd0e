/* px_pcapf.h: a reader of classic pcap savefiles (version 2.4, micro- or
 * nanosecond magic, either byte order) that hands out records in place
 * from a large read buffer (px_rbuf.h).
 *
 * pcap-file used libpcap's reader for every file: one fread() of the
 * record header and one of the packet per record, each copying. This
 * reader gives records exactly as libpcap 1.10 does for such files
 * (pcap_open_offline_with_tstamp_precision(NANO), no filter): the same
 * header values, bytes, end of file and errors. Anything else (pcapng, old
 * versions, other magics) is left to libpcap: px_pcapf_open() refuses it.
 * Not thread-safe: one reader per input thread. */
#ifndef PX_PCAPF_H
#define PX_PCAPF_H

#include <pcap/pcap.h>
#include <stdint.h>

#include "core/px_error.h"

/* libpcap's largest record (MAXIMUM_SNAPLEN) for every link type
 * px_pkt decodes; longer records make libpcap stop with an error. */
#define PX_PCAPF_MAX_CAPLEN 262144u

typedef struct px_pcapf px_pcapf;

/* Reads the file header at the start of fd (which stays the caller's and
 * must not be read meanwhile). NULL if it is not a file this reader takes
 * (or no memory): then read the file with libpcap. snapshot is the
 * snapshot length libpcap uses for the file (pcap_snapshot()): a longer
 * record is cut to it, as libpcap does. */
px_pcapf *px_pcapf_open(int fd, uint32_t snapshot);
void px_pcapf_destroy(px_pcapf *f); /* NULL is fine */

/* The next record: 1 with *h (time in nanoseconds in ts.tv_usec, as
 * libpcap gives it at nanosecond precision) and *data, valid until the
 * next call; 0 at the end of the file; -1 if a record is cut short or
 * bigger than PX_PCAPF_MAX_CAPLEN, or reading failed (where libpcap says
 * PCAP_ERROR; nothing more is read unless px_pcapf_resync() finds a way
 * on). */
int px_pcapf_next(px_pcapf *f, struct pcap_pkthdr *h, const uint8_t **data);

/* Why the last -1, and the file offset of the record header it concerns
 * (*offset, if not NULL), and its kind (*kind, if not NULL):
 * PX_ERR_MALFORMED a damaged header, PX_ERR_TRUNC the file ends inside the
 * record, PX_ERR_IO reading failed. The text stays valid until the next
 * call on f; NULL if px_pcapf_next() has not failed. */
const char *px_pcapf_error(const px_pcapf *f, uint64_t *offset, px_err *kind);

/* After a -1 for a damaged or cut record: looks past its header for the
 * next plausible record header (caplen within the snapshot length, len not
 * under caplen, a valid fraction of a second, a time no more than a day
 * before the last good record's, and a plausible header within a day of it
 * right after its data, or the end of the file), so that one bad header
 * does not cost the rest of the file.
 * Returns 1 when it found one: px_pcapf_next() reads on from there, and
 * *skipped is the number of bytes passed over, from the damaged header on.
 * 0 when the file ends first: *skipped is every byte from the damaged
 * header to the end. -1 when there is nothing to resume from (a read
 * error, or no failure). */
int px_pcapf_resync(px_pcapf *f, uint64_t *skipped);

#endif
