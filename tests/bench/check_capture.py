#!/usr/bin/python3
"""Independent check of a pdnsx-gencap capture (standard library only).

Parses the pcap and the Frame Streams dnstap file from scratch, checks that
both carry the same DNS responses in the same order, that every DNS message
parses strictly (counts, lengths, compression pointers pointing backwards),
and recomputes the (rrname, rrtype, rdata) keys the default privacy filter
should pass. With --gencap-output it compares those numbers with what the
generator printed. Exit status 0 if everything matches, 1 otherwise.
"""
import argparse
import ipaddress
import struct
import sys

TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 41: "OPT"}
RECORDED = {"A", "AAAA", "CNAME", "MX", "NS"}
LOCAL_ZONES = ["local", "localhost", "internal", "home.arpa", "lan", "intranet", "corp", "private",
               "localdomain", "test", "invalid", "example", "onion", "alt"]


class Bad(Exception):
    pass


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, _, _, _, _, _, linktype = struct.unpack_from("<IHHiIII", data, 0)
    if magic != 0xA1B2C3D4 or linktype != 1:
        raise Bad("not a little-endian microsecond Ethernet pcap")
    off, out = 24, []
    while off < len(data):
        sec, usec, caplen, length = struct.unpack_from("<IIII", data, off)
        off += 16
        pkt = data[off:off + caplen]
        off += caplen
        if len(pkt) != caplen or caplen != length:
            raise Bad("truncated pcap record")
        out.append((sec + usec / 1e6, udp_payload(pkt)))
    return out


def udp_payload(pkt):
    ethertype = struct.unpack_from(">H", pkt, 12)[0]
    if ethertype == 0x0800:
        ihl = (pkt[14] & 15) * 4
        total, proto = struct.unpack_from(">H", pkt, 16)[0], pkt[23]
        if proto != 17 or total != len(pkt) - 14:
            raise Bad("IPv4 length or protocol wrong")
        udp = pkt[14 + ihl:]
    elif ethertype == 0x86DD:
        plen, nxt = struct.unpack_from(">HB", pkt, 18)
        if nxt != 17 or plen != len(pkt) - 54:
            raise Bad("IPv6 length or next header wrong")
        udp = pkt[54:]
    else:
        raise Bad("unexpected ethertype %#x" % ethertype)
    sport, _, ulen = struct.unpack_from(">HHH", udp, 0)
    if sport != 53 or ulen != len(udp):
        raise Bad("UDP source port or length wrong")
    return udp[8:]


def varint(buf, off):
    val = shift = 0
    while True:
        b = buf[off]
        off += 1
        val |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return val, off


def pb_fields(buf):
    off, out = 0, {}
    while off < len(buf):
        key, off = varint(buf, off)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, off = varint(buf, off)
        elif wt == 2:
            n, off = varint(buf, off)
            val, off = buf[off:off + n], off + n
        elif wt == 5:
            val, off = struct.unpack_from("<I", buf, off)[0], off + 4
        elif wt == 1:
            val, off = struct.unpack_from("<Q", buf, off)[0], off + 8
        else:
            raise Bad("protobuf wire type %d" % wt)
        out[num] = val
    return out


def read_dnstap(path):
    with open(path, "rb") as f:
        data = f.read()
    off, out, started, stopped = 0, [], False, False
    while off < len(data):
        (n,) = struct.unpack_from(">I", data, off)
        off += 4
        if n == 0:  # control frame
            (clen,) = struct.unpack_from(">I", data, off)
            ctrl = data[off + 4:off + 4 + clen]
            off += 4 + clen
            ctype = struct.unpack_from(">I", ctrl, 0)[0]
            if ctype == 2:  # START
                if b"protobuf:dnstap.Dnstap" not in ctrl:
                    raise Bad("START without the dnstap content type")
                started = True
            elif ctype == 3:  # STOP
                stopped = True
            continue
        if not started or stopped:
            raise Bad("data frame outside START..STOP")
        top = pb_fields(data[off:off + n])
        off += n
        if top.get(15) != 1 or 14 not in top:
            raise Bad("Dnstap frame is not a MESSAGE")
        m = pb_fields(top[14])
        if m.get(1) != 6:
            raise Bad("message type %s is not CLIENT_RESPONSE" % m.get(1))
        fam, qaddr = m.get(2), m.get(4, b"")
        if (fam, len(qaddr)) not in ((1, 4), (2, 16)) or m.get(3) != 1 or m.get(7) != 53:
            raise Bad("socket family/protocol/address/port inconsistent")
        out.append((m[12] + m[13] / 1e9, m[14]))
    if not stopped or off != len(data):
        raise Bad("no STOP frame at the end")
    return out


def name_at(msg, off, limit_ptr):
    """Reads a name; pointers must point before the name being read."""
    labels, jumped, end, start = [], False, None, off
    for _ in range(128):
        n = msg[off]
        if n >= 0xC0:
            ptr = ((n & 0x3F) << 8) | msg[off + 1]
            if ptr >= start or ptr >= limit_ptr:
                raise Bad("compression pointer does not point backwards")
            if not jumped:
                end, jumped = off + 2, True
            off = start = ptr
            continue
        if n > 63:
            raise Bad("bad label length")
        if n == 0:
            return ".".join(labels), end if jumped else off + 1
        labels.append(msg[off + 1:off + 1 + n].decode("ascii"))
        off += 1 + n
    raise Bad("name loop")


def parse(msg):
    """Returns (rcode, [(section, owner, type, rdata)])."""
    qid, flags, qd, an, ns, ar = struct.unpack_from(">HHHHHH", msg, 0)
    if not flags & 0x8000 or qd != 1:
        raise Bad("not a response with one question")
    qname, off = name_at(msg, 12, 12)
    off += 4
    rrs = []
    for section, count in ((1, an), (2, ns), (3, ar)):
        for _ in range(count):
            owner, off = name_at(msg, off, off)
            rtype, _, _, rdlen = struct.unpack_from(">HHIH", msg, off)
            off += 10
            rd = msg[off:off + rdlen]
            if len(rd) != rdlen:
                raise Bad("rdata overruns the message")
            t = TYPES.get(rtype, "TYPE%d" % rtype)
            if t == "A":
                rdata = str(ipaddress.IPv4Address(rd))
            elif t == "AAAA":
                rdata = str(ipaddress.IPv6Address(rd))
            elif t in ("CNAME", "NS", "PTR"):
                rdata, e = name_at(msg, off, off)
                if e != off + rdlen:
                    raise Bad("name rdata length wrong")
            elif t == "MX":
                target, e = name_at(msg, off + 2, off + 2)
                if e != off + rdlen:
                    raise Bad("MX rdata length wrong")
                rdata = "%d %s" % (struct.unpack_from(">H", msg, off)[0], target)
            else:
                rdata = rd.hex()
            off += rdlen
            rrs.append((section, owner.lower(), t, rdata.lower()))
    if off != len(msg):
        raise Bad("trailing bytes after the last record")
    return flags & 15, rrs


def is_local(name):
    if "." not in name:
        return True
    return any(name == z or name.endswith("." + z) for z in LOCAL_ZONES)


def passes(rcode, section, owner, t, rdata):
    if rcode != 0 or section != 1 or t not in RECORDED or is_local(owner):
        return False
    if t in ("A", "AAAA"):
        return ipaddress.ip_address(rdata).is_global
    target = rdata.split(" ")[-1]
    return not is_local(target)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pcap")
    ap.add_argument("dnstap")
    ap.add_argument("--responses", type=int, help="expected number of responses")
    ap.add_argument("--gencap-output", help="file with pdnsx-gencap's printed summary")
    a = ap.parse_args()
    try:
        pc, dt = read_pcap(a.pcap), read_dnstap(a.dnstap)
        if len(pc) != len(dt):
            raise Bad("pcap has %d responses, dnstap %d" % (len(pc), len(dt)))
        keys, key_windows, last_t, filtered = set(), set(), 0.0, 0
        for i, ((tp, mp), (td, md)) in enumerate(zip(pc, dt)):
            if mp != md or abs(tp - td) > 1e-5:
                raise Bad("response %d differs between pcap and dnstap" % i)
            if tp < last_t:
                raise Bad("time goes backwards at response %d" % i)
            last_t = tp
            rcode, rrs = parse(mp)
            kept = [(o, t, r) for s, o, t, r in rrs if passes(rcode, s, o, t, r)]
            filtered += not kept and (rcode != 0 or any(s == 1 for s, *_ in rrs))
            for k in kept:
                keys.add(k)
                key_windows.add((k, int(tp) // 60))
    except (Bad, struct.error, IndexError, UnicodeDecodeError, KeyError, ValueError) as e:
        print("FAIL: %s: %s" % (type(e).__name__, e))
        return 1
    span = pc[-1][0] - pc[0][0] if pc else 0
    print("responses %d\nspan_seconds %.0f\nresponses_without_kept_records %d\n"
          "distinct_keys %d\ndistinct_key_windows_60s %d"
          % (len(pc), span, filtered, len(keys), len(key_windows)))
    ok = a.responses is None or a.responses == len(pc)
    if a.gencap_output:
        said = dict(line.split(" ", 1) for line in open(a.gencap_output).read().splitlines())
        for what, mine in (("responses", len(pc)), ("distinct_keys", len(keys)),
                           ("distinct_key_windows_60s", len(key_windows))):
            if int(said[what].split()[0]) != mine:
                print("FAIL: gencap says %s %s, the capture has %d" % (what, said[what], mine))
                ok = False
    print("OK" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
