#!/usr/bin/env bash
# Comments, code, build files, scripts and the README point into docs/, not
# to documents outside the repository (the design notes in ../shared/):
# lists every reference to DESIGN.md, INTERFACE.md or ../shared/*.md outside
# docs/. Fixture paths such as ../shared/corpus are not documents.
#
#   tests/check/docrefs.sh [--enforce] [ROOT]
#
# Without --enforce it reports (exit 0); with it, exit 1 if any is found.
set -euo pipefail
enforce=0
if [ "${1:-}" = --enforce ]; then enforce=1; shift; fi
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"
pattern='(^|[^/A-Za-z_-])(DESIGN|INTERFACE)\.md|\.\./shared/[A-Za-z_-]+\.md'
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  found=$(git grep -nE "$pattern" -- . ':!docs/' ':!tests/check/docrefs.sh' || true)
else
  found=$(grep -rnE "$pattern" --exclude-dir=docs --exclude-dir='build*' --exclude-dir=.git \
            --exclude=docrefs.sh . || true)
fi
n=$(printf '%s' "$found" | grep -c . || true)
echo "== references to documents outside the repository: $n"
[ -z "$found" ] || printf '%s\n' "$found"
if [ "$enforce" = 1 ] && [ "$n" -gt 0 ]; then exit 1; fi
exit 0
