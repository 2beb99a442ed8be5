#!/usr/bin/env bash
# Makes the bundled default model (src/default_model/: m1, m2, ..., recipe.toml, REPORT.md,
# report.json) from recipes/default.toml with one command, `instclf bundle`, after rendering what
# is missing:
#   1. the training sources ($SOURCES: FluidR3, MuseScore General, csound's sf_GMbank and
#      FreePats, and their General MIDI relatives set 1, fluidr3rel etc., which
#      leave-one-source-out favours: docs/experiments.md) with scripts/render-all.sh;
#   2. each source's recordings of none of the instruments (data/unknown/SOURCE,
#      scripts/render-unknown.py; UNKNOWN=0 leaves them out), which give the model its `unknown`
#      class;
#   3. instclf bundle: every member's dataset from all of them (test split: 20% of the
#      recordings, the same run in every source on the same side), every network, the recipe's
#      calibration, and REPORT.md: the ensemble on each source's held-out recordings, on
#      fixtures/audio and on fixtures/unknown. build.rs embeds every m<N>/ folder.
# A rerun resumes: datasets and networks already made in $WORK are kept (a network interrupted
# mid-training resumes from its last epoch); FRESH=1 starts over.
# The recipe was chosen by leave-one-source-out (scripts/crossval.sh --recipe; README).
# Env: SOURCES, UNKNOWN (1), RECIPE (recipes/default.toml), WORK (data/default-model), FRESH (0),
# THREADS, BIN (an instclf binary; default: a release build).
# Needs: apt-get install fluidsynth timidity sox espeak-ng fluid-soundfont-gm
#        musescore-general-soundfont csound-soundfont freepats
set -euo pipefail
cd "$(dirname "$0")/.."
SOURCES=${SOURCES:-fluidr3 musescore csound freepats fluidr3rel musescorerel csoundrel freepatsrel}
RECIPE=${RECIPE:-recipes/default.toml}
WORK=${WORK:-data/default-model}
UNKNOWN=${UNKNOWN:-1}
for s in $SOURCES; do
  [ -d "data/render/$s" ] || bash scripts/render-all.sh "$s"
done
audio=() k=0 ns=0
for s in $SOURCES; do
  audio+=(--audio "data/render/$s")
  case $s in *rel*) ;; *) ns=$((ns + 1)) ;; esac  # relatives sets have no unknown recordings
done
for s in $SOURCES; do  # the generated and spoken recordings are dealt out over the sources
  [ "$UNKNOWN" = 1 ] || continue
  case $s in *rel*) continue ;; esac
  k=$((k + 1))
  if [ ! -f "data/unknown/$s/unknown.csv" ]; then
    python3 scripts/render-unknown.py --out "data/unknown/$s" --soundfont "$s" \
      --generated "$k/$ns" --speech "$k/$ns"
  fi
  audio+=(--audio "data/unknown/$s")
done
if [ -z "${BIN:-}" ]; then
  cargo build --release -q
  BIN=target/release/instclf
fi
[ "${FRESH:-0}" = 1 ] && rm -rf "$WORK"
"$BIN" bundle --recipe "$RECIPE" "${audio[@]}" --eval fixtures/audio --eval fixtures/unknown \
  --work "$WORK" -o src/default_model --force ${THREADS:+--threads "$THREADS"}
