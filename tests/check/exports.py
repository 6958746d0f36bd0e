#!/usr/bin/env python3
"""Lists the exported functions of pdnsx's libraries that no program needs.

    exports.py BUILD [--allow tests/check/exports-allow.txt] [--enforce]

BUILD is a build of the programs only, without inlining and with unused
sections dropped at link time (scripts/test.sh configures it):

    cmake -S . -B build-check -G Ninja -DPX_TESTS=OFF -DCMAKE_BUILD_TYPE=None \\
          -DCMAKE_C_FLAGS="-O0 -fno-inline -ffunction-sections -fdata-sections" \\
          -DCMAKE_EXE_LINKER_FLAGS="-Wl,--gc-sections"

Two lists, each line "LIBRARY OBJECT FUNCTION":
- unreached: a global function of a library (libpdnsx_*.a) that is in no
  program of BUILD/bin: only tests use it (or nothing does);
- own-file only: reached, but referenced from no other object than the one
  defining it: it could be static.
A function listed in the allow file ("name: reason", one a line, # for
comments) is left out of both. Without --enforce the lists are a report and
the exit status is 0; with it, 1 if anything is listed.
"""
import argparse
import collections
import glob
import os
import subprocess
import sys

NOT_OURS = ('libpdnsx_schemas.a', 'libpdnsx_dnstap_pb.a')


def nm(*args):
    out = subprocess.run(['nm', *args], capture_output=True, text=True, check=True).stdout
    return out.splitlines()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('build')
    ap.add_argument('--allow', default=os.path.join(os.path.dirname(__file__), 'exports-allow.txt'))
    ap.add_argument('--enforce', action='store_true')
    a = ap.parse_args()

    allowed = {}
    if os.path.exists(a.allow):
        for line in open(a.allow):
            line = line.split('#', 1)[0].strip()
            if line:
                name, _, why = line.partition(':')
                allowed[name.strip()] = why.strip()

    libs = sorted(p for p in glob.glob(os.path.join(a.build, '**', 'libpdnsx_*.a'), recursive=True)
                  if os.path.basename(p) not in NOT_OURS and 'test_support' not in p)
    programs = sorted(glob.glob(os.path.join(a.build, 'bin', '*')))
    if not libs or not programs:
        sys.exit(f'exports.py: no libraries or programs in {a.build}')

    defined = {}  # function -> (library, object)
    refs = collections.defaultdict(set)  # function -> objects that reference it
    for lib in libs:
        for line in nm('-A', '--defined-only', lib):
            parts = line.split()
            if len(parts) == 3 and parts[1] == 'T':
                obj = parts[0].split(':')[1]
                defined[parts[2]] = (os.path.basename(lib), obj)
        for line in nm('-A', '-u', lib):
            parts = line.split()
            if len(parts) >= 3:
                refs[parts[-1]].add(parts[0].split(':')[1])
    mains = glob.glob(os.path.join(a.build, '**', 'CMakeFiles', '*.dir', '**', '*.o'), recursive=True)
    for obj in mains:
        for line in nm('-u', obj):
            refs[line.split()[-1]].add(os.path.basename(obj))
    reached = set()
    for p in programs:
        for line in nm('--defined-only', p):
            parts = line.split()
            if len(parts) == 3 and parts[1] in 'Tt':
                reached.add(parts[2])

    unreached, own_only = [], []
    for fn, (lib, obj) in sorted(defined.items(), key=lambda kv: (kv[1], kv[0])):
        if fn in allowed:
            continue
        if fn not in reached:
            unreached.append(f'{lib} {obj} {fn}')
        elif not (refs.get(fn, set()) - {obj}):
            own_only.append(f'{lib} {obj} {fn}')

    print(f'== exported functions no program reaches: {len(unreached)}')
    print('\n'.join(unreached))
    print(f'== exported functions referenced only from their own file: {len(own_only)}')
    print('\n'.join(own_only))
    print(f'== allowed (tests/check/exports-allow.txt): {len(allowed)}')
    if a.enforce and (unreached or own_only):
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
