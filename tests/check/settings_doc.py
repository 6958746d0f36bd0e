#!/usr/bin/python3
"""check/settings-doc: docs/INTERFACE.md cannot drift from the programs.

For each program, the settings table under the heading named in PROGRAMS
is compared with the "Settings (PATH, type, default)" part of the
program's --help: the same paths, and for each path the same default. A
default cell is the --help default written as code (`"info"`, `64`) or,
for a setting without one, the word `none` / `required` (--help prints
"(none)" / "(required)"); text may follow it. Exit 0 when every table
matches, 1 with one line per difference.

  settings_doc.py --bin BUILD/bin --doc docs/INTERFACE.md
  settings_doc.py --help-file pdnsx-x=FILE ...   (a saved --help, for tests)
  settings_doc.py --bin BUILD/bin --rows pdnsx-x (table rows from --help,
                                                  to paste after a change)
"""
import argparse
import re
import subprocess
import sys

# program -> heading (## ...) of its settings table in docs/INTERFACE.md.
PROGRAMS = {
    "pdnsx-producer": "pdnsx-producer settings",
    "pdnsx-consumer": "pdnsx-consumer settings",
    # pdnsx-query reads the consumer's configuration file (the same table).
    "pdnsx-query": "pdnsx-consumer settings",
}
TYPES = "string array|list of groups|string|integer|boolean|group"
HELP_ROW = re.compile(r"^  (\S+) +(?:%s) +(.*?)\s*$" % TYPES)


def help_rows(text):
    """Markdown rows (path, default, meaning) from a --help text."""
    rows, inside, cur = [], False, None
    for line in text.splitlines():
        if line.startswith("Settings (PATH"):
            inside = True
            continue
        if not inside:
            continue
        if line and not line.startswith(" "):
            break
        m = HELP_ROW.match(line)
        if m:
            default = m.group(2)
            cell = default.strip("()") if default.startswith("(") else "`%s`" % default
            cur = [m.group(1), cell, []]
            rows.append(cur)
        elif cur and line.startswith("      "):
            cur[2].append(line.strip())
    return ["| `%s` | %s | %s |" % (p, d, "; ".join(h).replace("|", "\\|")) for p, d, h in rows]


def help_settings(text):
    """{path: default} from a --help text's settings part."""
    out, inside = {}, False
    for line in text.splitlines():
        if line.startswith("Settings (PATH"):
            inside = True
            continue
        if inside and line and not line.startswith(" "):
            break
        m = HELP_ROW.match(line) if inside else None
        if m:
            out[m.group(1)] = m.group(2)
    return out


def doc_tables(text):
    """{heading: {path: default cell}} for every table under a ## heading."""
    tables, heading = {}, None
    for line in text.splitlines():
        if line.startswith("## "):
            heading = line[3:].strip()
            continue
        if heading is None or not line.startswith("| `"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) < 2:
            continue
        path = cells[0].strip("`")
        tables.setdefault(heading, {})[path] = cells[1]
    return tables


def cell_default(cell):
    """The default a doc cell states, in --help's spelling."""
    m = re.match(r"^`([^`]*)`", cell)
    if m:
        return m.group(1)
    word = cell.split()[0] if cell.split() else ""
    return "(%s)" % word if word in ("none", "required") else cell


def compare(prog, helped, documented):
    problems = []
    for path, default in helped.items():
        if path not in documented:
            problems.append("%s: setting %s (default %s) is not in the table" % (prog, path, default))
        elif cell_default(documented[path]) != default:
            problems.append("%s: %s: the table says %s, --help says %s"
                            % (prog, path, cell_default(documented[path]), default))
    for path in documented:
        if path not in helped:
            problems.append("%s: the table lists %s, which --help does not" % (prog, path))
    return problems


def heading_ok(prog, helped, tables):
    return bool(helped) and PROGRAMS.get(prog) in tables


def refuses_drift(prog, helped, documented):
    """The check itself can fail: a table with one default changed, one with
    a row missing and one with a row too many must each be refused."""
    first = next(iter(documented))
    changed = dict(documented, **{first: "`drifted`"})
    missing = {k: v for k, v in documented.items() if k != first}
    extra = dict(documented, **{"no.such_setting": "`1`"})
    return all(compare(prog, helped, t) for t in (changed, missing, extra))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin")
    ap.add_argument("--doc")
    ap.add_argument("--rows", metavar="PROG")
    ap.add_argument("--help-file", action="append", default=[], metavar="PROG=FILE")
    args = ap.parse_args()
    if args.rows:
        run = subprocess.run(["%s/%s" % (args.bin, args.rows), "--help"], capture_output=True,
                             text=True, check=True)
        print("\n".join(help_rows(run.stdout)))
        return 0
    if not args.doc:
        ap.error("--doc is needed")
    with open(args.doc, encoding="utf-8") as f:
        tables = doc_tables(f.read())
    helps = {}
    for spec in args.help_file:
        prog, _, path = spec.partition("=")
        with open(path, encoding="utf-8") as f:
            helps[prog] = f.read()
    if not args.help_file:
        for prog in PROGRAMS:
            run = subprocess.run(["%s/%s" % (args.bin, prog), "--help"], capture_output=True,
                                 text=True, check=False)
            if run.returncode != 0:
                print("%s --help: exit %d" % (prog, run.returncode))
                return 1
            helps[prog] = run.stdout
    problems = []
    for prog, text in helps.items():
        helped = help_settings(text)
        if heading_ok(prog, helped, tables) and not refuses_drift(prog, helped, tables[PROGRAMS[prog]]):
            problems.append("%s: the comparison does not see a drifted table" % prog)
        heading = PROGRAMS.get(prog)
        if not helped:
            problems.append("%s: --help lists no settings" % prog)
        elif heading not in tables:
            problems.append("%s: %s has no table under '## %s'" % (prog, args.doc, heading))
        else:
            problems += compare(prog, helped, tables[heading])
    for p in problems:
        print(p)
    print("settings-doc: %d program(s), %d difference(s)" % (len(helps), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
