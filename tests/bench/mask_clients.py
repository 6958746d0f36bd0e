#!/usr/bin/python3
"""Reads pdnsx-tail --raw lines (KEY TAB PARTITION TAB HEX) and writes them
with the Avro `clients` value replaced by "*": the producer hashes clients
with a random per-process key, so bitmap collisions (and with them the
estimate) differ from run to run while everything else must not.
Field order is schemas/observation.avsc: rrname, rrtype, rdata, bailiwick
(null|string), count, time_first, time_last, ttl_min, ttl_max,
clients (null|long), org, sensor."""
import sys


def varint(b, i):
    shift = value = 0
    while True:
        c = b[i]
        i += 1
        value |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return (value >> 1) ^ -(value & 1), i


def main():
    for line in sys.stdin:
        key, part, hexdata = line.rstrip("\n").split("\t")
        b = bytes.fromhex(hexdata)
        i = 10  # C3 01 + fingerprint
        for _ in range(3):  # rrname, rrtype, rdata
            n, i = varint(b, i)
            i += n
        branch, i = varint(b, i)  # bailiwick
        if branch == 1:
            n, i = varint(b, i)
            i += n
        for _ in range(5):  # count .. ttl_max
            _, i = varint(b, i)
        start = i
        branch, i = varint(b, i)  # clients
        if branch == 1:
            _, i = varint(b, i)
        print(f"{key}\t{part}\t{b[:start].hex()}*{b[i:].hex()}")


main()
