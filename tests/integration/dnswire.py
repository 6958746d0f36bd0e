"""Tiny DNS response and pcap writer for tests: builds the packets a test
needs byte by byte, so a test states exactly what is on the wire."""
import ipaddress
import struct

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28,
         "SRV": 33, "OPT": 41}


def name(n):
    out = b""
    for label in n.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def rdata(rtype, value):
    if rtype == "A":
        return ipaddress.IPv4Address(value).packed
    if rtype == "AAAA":
        return ipaddress.IPv6Address(value).packed
    if rtype in ("CNAME", "NS", "PTR"):
        return name(value)
    if rtype == "MX":
        pref, host = value.split()
        return struct.pack(">H", int(pref)) + name(host)
    if rtype == "TXT":
        b = value.encode()
        return bytes([len(b)]) + b
    raise ValueError(rtype)


def response(qname, qtype, answers=(), authority=(), additional=(), rcode=0, qid=0x1234):
    """answers: (owner, type, ttl, value) tuples."""
    flags = 0x8180 | rcode
    msg = struct.pack(">HHHHHH", qid, flags, 1, len(answers), len(authority), len(additional))
    msg += name(qname) + struct.pack(">HH", TYPES[qtype], 1)
    for section in (answers, authority, additional):
        for owner, rtype, ttl, value in section:
            rd = rdata(rtype, value)
            msg += name(owner) + struct.pack(">HHIH", TYPES[rtype], 1, ttl, len(rd)) + rd
    return msg


def _csum(data):
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack(">%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_packet(src, dst, sport, dport, payload):
    """Ethernet + IPv4/IPv6 + UDP frame."""
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    udp = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    if s.version == 4:
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, s.packed,
                         d.packed)
        ip = ip[:10] + struct.pack(">H", _csum(ip)) + ip[12:]
        return b"\x00" * 12 + b"\x08\x00" + ip + udp
    ip = struct.pack(">IHBB16s16s", 0x60000000, len(udp), 17, 64, s.packed, d.packed)
    return b"\x00" * 12 + b"\x86\xdd" + ip + udp


def write_pcap(path, packets):
    """packets: (time_seconds, frame) pairs; microsecond Ethernet pcap."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, frame in packets:
            sec = int(t)
            usec = int(round((t - sec) * 1e6))
            f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
            f.write(frame)


# ---- dnstap (protobuf) in a Frame Streams file ----------------------------

DNSTAP_TYPES = {"AUTH_RESPONSE": 2, "RESOLVER_RESPONSE": 4, "CLIENT_RESPONSE": 6,
                "FORWARDER_RESPONSE": 8, "STUB_RESPONSE": 10, "TOOL_RESPONSE": 12}
DNSTAP_CONTENT_TYPE = b"protobuf:dnstap.Dnstap"


def _varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def _pb_varint(field, v):
    return _varint(field << 3) + _varint(v)


def _pb_bytes(field, data):
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _pb_fixed32(field, v):
    return _varint(field << 3 | 5) + struct.pack("<I", v)


def dnstap(kind, response, t, client=None, server=None, query_zone=None, udp=True):
    """One dnstap.Dnstap message (dnstap.proto): `kind` a DNSTAP_TYPES name,
    `response` the DNS message, t its time (seconds), client and server
    addresses (query_address / response_address), query_zone a zone name
    (the bailiwick of a resolver's upstream answer)."""
    addr = client or server
    family = 2 if addr and ipaddress.ip_address(addr).version == 6 else 1
    m = _pb_varint(1, DNSTAP_TYPES[kind]) + _pb_varint(2, family) + _pb_varint(3, 1 if udp else 2)
    if client:
        m += _pb_bytes(4, ipaddress.ip_address(client).packed) + _pb_varint(6, 40000)
    if server:
        m += _pb_bytes(5, ipaddress.ip_address(server).packed) + _pb_varint(7, 53)
    if query_zone:
        m += _pb_bytes(11, name(query_zone))
    sec = int(t)
    m += _pb_varint(12, sec) + _pb_fixed32(13, int(round((t - sec) * 1e9)))
    m += _pb_bytes(14, response)
    return _pb_varint(15, 1) + _pb_bytes(14, m)  # type MESSAGE, message


def fstrm_control(ctype, content_type=None):
    """A Frame Streams control frame: ctype 1 ACCEPT, 2 START, 3 STOP,
    4 READY, 5 FINISH; content_type (bytes) as its one field."""
    body = struct.pack(">I", ctype)
    if content_type:
        body += struct.pack(">II", 1, len(content_type)) + content_type
    return struct.pack(">II", 0, len(body)) + body


def fstrm_read_control(s):
    """The type of the next control frame read from socket s, 0 if the
    receiver closed."""
    buf = b""
    while len(buf) < 8 or len(buf) < 8 + struct.unpack(">I", buf[4:8])[0]:
        chunk = s.recv(4096)
        if not chunk:
            return 0
        buf += chunk
    return struct.unpack(">I", buf[8:12])[0]


def write_fstrm(path, frames):
    """A Frame Streams file (what fstrm_capture writes): START with the
    dnstap content type, one data frame per message, STOP."""
    with open(path, "wb") as f:
        start = struct.pack(">II", 2, 1) + struct.pack(">I", len(DNSTAP_CONTENT_TYPE)) \
            + DNSTAP_CONTENT_TYPE
        f.write(struct.pack(">II", 0, len(start)) + start)
        for fr in frames:
            f.write(struct.pack(">I", len(fr)) + fr)
        f.write(struct.pack(">III", 0, 4, 3))
