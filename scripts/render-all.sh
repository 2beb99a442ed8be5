#!/usr/bin/env bash
# Renders the full instrument sets from all three soundfonts into data/render/<source>/ (ignored
# by git). Uses scripts/render.py; each set takes a few minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
for sf in "${@:-fluidr3 csound musescore}"; do
  for s in $sf; do
    echo "== $s" >&2
    python3 scripts/render.py --soundfont "$s" --out "data/render/$s"
  done
done
