#!/usr/bin/env bash
# Renders full instrument sets into data/render/<source>/ (ignored by git), by default the four
# training sources: the three fluidsynth soundfonts (fluidr3 musescore csound) and the FreePats
# GUS patches (freepats, through TiMidity++). A source named fluidr3rel, musescorerel2 or freepatsrel2 renders
# that source's set 1 or 2 of GM relatives of each class (render.py --relatives; musescorerel3:
# its VSCO 2 string sections). Uses scripts/render.py (varied, seeded playing); each set takes a
# few minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
for sf in "${@:-fluidr3 musescore csound freepats}"; do
  for s in $sf; do
    echo "== $s" >&2
    case $s in  # fluidr3rel, musescorerel2, freepatsrel, ...: the source's GM relatives of each class
      *rel) python3 scripts/render.py --soundfont "${s%rel}" --relatives 1 --out "data/render/$s" ;;
      *rel2) python3 scripts/render.py --soundfont "${s%rel2}" --relatives 2 --out "data/render/$s" ;;
      *rel3) python3 scripts/render.py --soundfont "${s%rel3}" --relatives 3 --out "data/render/$s" ;;
      *) python3 scripts/render.py --soundfont "$s" --out "data/render/$s" ;;
    esac
  done
done
