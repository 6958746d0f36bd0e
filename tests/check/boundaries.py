#!/usr/bin/env python3
"""Checks every #include of pdnsx's code against the module graph.

    boundaries.py --graph BUILD/px_modules.json [--root DIR] [--expect-findings N]

The graph is what cmake/PxModules.cmake writes from cmake/PxGraph.cmake:
every module, program library and program, its folders, its public header
folder and the modules it may use. For each .c and .h under those folders:

- "px_x.h" (unqualified) must be a private header of the file's own target,
  in one of its folders; a public header may not include one (whoever
  includes the public header cannot reach it);
- "m/px_x.h" must name the file's own module or one it may use (or a
  program library listed as an exception), and that header must exist in
  m's public folder;
- no include climbs out with "..", none of ours is written <m/...>;
- a third-party header only where its owner is (THIRD_PARTY below).

Prints one line per finding, FILE:LINE: message. Exit status: 0 without
findings, 1 with. With --expect-findings N (the negative fixture): 0 if
exactly N findings, 1 otherwise.
"""
import argparse
import json
import os
import re
import sys

# Third-party headers and the only places that may include them (path
# prefixes relative to the root). Anything not listed is the C library or
# the system and free to all.
THIRD_PARTY = {
    'lmdb.h': ['store/'],
    'microhttpd.h': ['lib/core/px_http.c'],
    'libconfig.h': ['lib/core/px_config.c'],
    'librdkafka/rdkafka.h': ['lib/kafka/', 'producer/', 'consumer/', 'tools/'],
    'curl/curl.h': ['query/cli/'],
    'maxminddb.h': ['consumer/px_geoip.c'],
    'avro.h': ['lib/obs/px_avro.c'],
    'libpsl.h': ['lib/obs/px_psl.c'],
    # the producer's settings compile the BPF filter at --check;
    # pdnsx-scenario writes its captures with libpcap
    'pcap.h': ['producer/'],
    'pcap/pcap.h': ['producer/', 'tools/px_scenario.c'],
    'fstrm.h': ['producer/inputs/'],
    'xxhash.h': ['lib/core/include/core/px_hash.h', 'store/px_store_codec.c'],
    'sodium.h': ['lib/core/px_keyed_hash.c'],
    'jansson.h': ['lib/obs/', 'query/', 'tools/', 'detect/px_detect_json.c',
                  'consumer/px_alert_syslog.c', 'lib/kafka/px_kafka_statistics.c'],
    'protobuf-c/protobuf-c.h': [],
    'dnstap.pb-c.h': [],
    'cmocka.h': [],
}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def load_units(path):
    with open(path) as f:
        targets = json.load(f)['targets']
    units = {}  # unit name -> {dirs, public, deps, allow}
    owner_of = {}  # source file -> unit
    for t in targets.values():
        u = units.setdefault(t['unit'], {'dirs': [], 'public': '', 'deps': set(), 'allow': set()})
        for d in t['dirs']:
            if d not in u['dirs']:
                u['dirs'].append(d)
        u['public'] = u['public'] or t['public']
        u['deps'] |= set(t['deps'])
        u['allow'] |= set(t['allow'])
        for s in t['sources']:
            owner_of[s] = t['unit']
    return units, owner_of


def unit_of(rel, units, owner_of):
    """The unit a file belongs to, and whether it is one of its public headers."""
    if rel in owner_of:
        return owner_of[rel], False
    best, best_len, public = None, -1, False
    for name, u in units.items():
        if u['public'] and rel.startswith(u['public'] + '/') and len(u['public']) > best_len:
            best, best_len, public = name, len(u['public']), True
        for d in u['dirs']:
            if rel.startswith(d + '/') and len(d) > best_len:
                best, best_len, public = name, len(d), False
    return best, public


def third_party_allowed(header, rel):
    places = THIRD_PARTY.get(header)
    return places is None or any(rel == p or rel.startswith(p) for p in places)


def check_file(root, rel, units, owner_of, findings):
    unit, public = unit_of(rel, units, owner_of)
    if unit is None:
        findings.append(f'{rel}:1: in no module: declare its folder (cmake/PxGraph.cmake)')
        return
    u = units[unit]
    may = u['deps'] | {unit}
    with open(os.path.join(root, rel), errors='replace') as f:
        for n, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            quote, name = m.groups()
            where = f'{rel}:{n}: #include {quote}{name}{">" if quote == "<" else chr(34)}'
            if '..' in name.split('/'):
                findings.append(f'{where}: no "..": include a module\'s header as "MODULE/px_x.h"')
                continue
            first = name.split('/')[0]
            if quote == '<':
                if '/' in name and first in units:
                    findings.append(f'{where}: our headers are included with quotes')
                elif not third_party_allowed(name, rel):
                    owners = ', '.join(THIRD_PARTY[name]) or 'tests only'
                    findings.append(f'{where}: {name} belongs to {owners}')
                continue
            if '/' not in name:
                if public:
                    findings.append(f'{where}: a public header includes only public headers '
                                    f'("MODULE/px_x.h")')
                elif not any(os.path.exists(os.path.join(root, d, name)) for d in u['dirs']):
                    findings.append(f'{where}: not a private header of {unit} '
                                    f'(another module\'s header is "MODULE/{name}")')
                continue
            target = units.get(first)
            if target is None or not target['public']:
                findings.append(f'{where}: {first} has no public headers')
            elif first not in may and first not in u['allow']:
                findings.append(f'{where}: {unit} may use only '
                                f'{", ".join(sorted(u["deps"])) or "nothing"} '
                                f'(cmake/PxGraph.cmake)')
            elif not os.path.exists(os.path.join(root, target['public'],
                                                 name[len(first) + 1:])):
                findings.append(f'{where}: no such public header of {first}')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--graph', required=True)
    ap.add_argument('--root', default=os.path.join(os.path.dirname(__file__), '..', '..'))
    ap.add_argument('--expect-findings', type=int)
    a = ap.parse_args()
    units, owner_of = load_units(a.graph)
    findings = []
    roots = sorted({d.split('/')[0] for u in units.values() for d in u['dirs']})
    for top in roots:
        for dirpath, dirnames, filenames in os.walk(os.path.join(a.root, top)):
            dirnames.sort()
            for fn in sorted(filenames):
                if fn.endswith(('.c', '.h')):
                    rel = os.path.relpath(os.path.join(dirpath, fn), a.root)
                    check_file(a.root, rel, units, owner_of, findings)
    for f in findings:
        print(f)
    if a.expect_findings is not None:
        ok = len(findings) == a.expect_findings
        print(f'{len(findings)} findings, expected {a.expect_findings}: '
              f'{"the check refuses what it must" if ok else "WRONG"}')
        return 0 if ok else 1
    return 1 if findings else 0


if __name__ == '__main__':
    sys.exit(main())
