#!/usr/bin/python3
"""Avro interoperability: pdnsx's C codec against Debian's python3-avro.

usage: test_avro_interop.py PATH/TO/px-avro-tool

1. The C tool encodes observations; Python checks the single-object header
   (magic, fingerprint equal to its own CRC-64-AVRO of python3-avro's
   canonical form of schemas/observation.avsc) and decodes the datum with
   avro.io, which must consume it exactly.
2. Python writes single-object messages; the C tool decodes them.
Fields are compared exactly. Exit status 0 on success.
"""
import io
import json
import os
import struct
import subprocess
import sys

import avro.io
import avro.schema

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_PATH = os.path.join(HERE, "..", "..", "schemas", "observation.avsc")
EMPTY = 0xC15D213AA4D7A795
I64_MAX = 2**63 - 1

OBSERVATIONS = [
    {"rrname": "www.example.com", "rrtype": "A", "rdata": "192.0.2.1",
     "bailiwick": "example.com", "count": 12, "time_first": 1764180000,
     "time_last": 1764180059, "ttl_min": 300, "ttl_max": 300, "clients": 3,
     "org": "org-a", "sensor": "sensor-1"},
    {"rrname": "mail.example.org", "rrtype": "MX", "rdata": "10 mx.example.org",
     "bailiwick": None, "count": 1, "time_first": 0, "time_last": 0,
     "ttl_min": 0, "ttl_max": 0, "clients": None, "org": "o", "sensor": ""},
    {"rrname": "b\u00fccher.example", "rrtype": "TXT",
     "rdata": "\"quoted\" \\\\ back\\slash \u2713 \U0001F600",
     "bailiwick": "", "count": I64_MAX, "time_first": -(2**63), "time_last": I64_MAX,
     "ttl_min": -1, "ttl_max": 2**31, "clients": I64_MAX, "org": "org-\u00e9", "sensor": "s"},
    {"rrname": "a\\032b\\.c.example", "rrtype": "TYPE65280", "rdata": "\\# 2 abcd",
     "bailiwick": "c.example", "count": 2**40, "time_first": 1, "time_last": 2,
     "ttl_min": 3, "ttl_max": 4, "clients": 0, "org": "org-b", "sensor": "x" * 5000},
]


def crc64_avro(data):
    """CRC-64-AVRO, bit at a time (the spec gives the table-driven form)."""
    fp = EMPTY
    for byte in data:
        fp ^= byte
        for _ in range(8):
            fp = (fp >> 1) ^ (EMPTY if fp & 1 else 0)
    return fp


def diff(got, want):
    """The fields that differ, shortened: a failure should stay readable."""
    keys = sorted(set(got) | set(want))
    return {k: (repr(got.get(k))[:60], repr(want.get(k))[:60])
            for k in keys if got.get(k, "<missing>") != want.get(k, "<missing>")}


def run(tool, cmd, text, expect_ok=True):
    proc = subprocess.run([tool, cmd], input=text.encode(), capture_output=True, check=False)
    if expect_ok and proc.returncode != 0:
        sys.exit(f"px-avro-tool {cmd} failed ({proc.returncode}): {proc.stderr.decode()}")
    return proc


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    tool = sys.argv[1]
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        schema = avro.schema.parse(f.read())
    canon = schema.canonical_form
    fp = crc64_avro(canon.encode("utf-8"))
    assert crc64_avro(b'"null"') == 7195948357588979594, "spec test vector"
    header = b"\xc3\x01" + struct.pack("<Q", fp)

    # The C side agrees on the canonical form and the fingerprint.
    out = run(tool, "fingerprint", "").stdout.decode().splitlines()
    assert out[0] == str(fp), f"fingerprint: C {out[0]}, Python {fp}"
    assert out[1] == canon, f"canonical form:\nC      {out[1]}\nPython {canon}"

    # C encodes, Python decodes.
    lines = "".join(json.dumps(o) + "\n" for o in OBSERVATIONS)
    hexes = run(tool, "encode", lines).stdout.decode().split()
    assert len(hexes) == len(OBSERVATIONS), hexes
    reader = avro.io.DatumReader(schema)
    for want, hx in zip(OBSERVATIONS, hexes):
        msg = bytes.fromhex(hx)
        assert msg[:2] == b"\xc3\x01", f"magic {msg[:2]!r}"
        assert msg[:10] == header, f"fingerprint {msg[2:10].hex()} != {header[2:].hex()}"
        body = io.BytesIO(msg[10:])
        got = reader.read(avro.io.BinaryDecoder(body))
        assert body.tell() == len(msg) - 10, "datum not consumed exactly"
        assert got == want, f"C->Python (got, want): {diff(got, want)}"

    # Python encodes, C decodes.
    writer = avro.io.DatumWriter(schema)
    py_hexes = []
    for o in OBSERVATIONS:
        buf = io.BytesIO()
        writer.write(o, avro.io.BinaryEncoder(buf))
        py_hexes.append((header + buf.getvalue()).hex())
    assert py_hexes == hexes, "both implementations should write the same bytes"
    decoded = run(tool, "decode", "\n".join(py_hexes) + "\n").stdout.decode().splitlines()
    assert len(decoded) == len(OBSERVATIONS), decoded
    for want, line in zip(OBSERVATIONS, decoded):
        got = json.loads(line)
        assert got == want, f"Python->C (got, want): {diff(got, want)}"

    # A message under another schema's fingerprint is refused, not misread.
    other = b"\xc3\x01" + struct.pack("<Q", fp ^ 1) + bytes.fromhex(py_hexes[0])[10:]
    proc = run(tool, "decode", other.hex() + "\n", expect_ok=False)
    assert proc.returncode == 1 and not proc.stdout, proc
    print(f"ok: {len(OBSERVATIONS)} observations both ways, fingerprint {fp}")


if __name__ == "__main__":
    main()
