#!/usr/bin/env bash
# Makes the bundled default model (src/default_model/m<N>/ and REPORT.md), reproducibly:
#   1. renders the training sources ($SOURCES: FluidR3, MuseScore General, csound's sf_GMbank and
#      FreePats; add fluidr3rel etc. for their General MIDI relatives) with scripts/render-all.sh
#      if missing;
#   2. builds one dataset from all of them with `instclf dataset build $BUILD` (test split: 20% of
#      the recordings, the same run in every source on the same side), with each source's
#      recordings of none of the instruments (data/unknown/SOURCE, scripts/render-unknown.py;
#      rendered if missing, UNKNOWN=0 to leave them out), which give the model its `unknown` class;
#   3. trains one network per activation in $ACTIVATIONS and seed 0..$SEEDS-1 (`instclf train
#      $TRAIN`), then, on a second dataset of whole notes (`dataset build $NOTE_BUILD`, the same
#      split), one note-level network per activation in $NOTE_ACTIVATIONS and seed (`train
#      $NOTE_TRAIN`), and copies each into src/default_model/m1, m2, ... (build.rs embeds them all);
#      With CALIBRATION (classify --json outputs of the leave-one-source-out folds on their held-out
#      sources, as scripts/crossval.sh writes them), the networks get the temperature fitted on
#      them (scripts/fit-temperature.py) before they are copied;
#   4. writes src/default_model/REPORT.md: the data, training time, and `instclf evaluate
#      --audio` on the held-out (test-split) recordings of each source, on the fixtures, and the
#      leave-one-source-out table of scripts/crossval.sh when $CROSSVAL/crossval.md exists.
# A rerun with the same settings resumes: datasets and networks already made in $WORK are kept
# (FRESH=1 starts over); other settings start over by themselves.
# The recipe was chosen by leave-one-source-out (scripts/crossval.sh; README). Experiments that
# change it overwrite src/default_model/ too (`git checkout src/default_model` restores it).
# Env: SOURCES, UNKNOWN (1), BUILD, TRAIN, ACTIVATIONS, NOTE_BUILD, NOTE_TRAIN, NOTE_ACTIVATIONS, SEEDS, NOTE_SEEDS,
# WORK (data/default-model), CROSSVAL, WAIT_CROSSVAL (0), UNKNOWN_BIAS (stored with the
# temperature; scripts/unknown-threshold.py chooses it), FRESH (0)
# (data/crossval), CALIBRATION, BIN (an instclf binary; default: a release build).
# Needs: apt-get install fluidsynth timidity sox fluid-soundfont-gm musescore-general-soundfont
#        csound-soundfont freepats
set -euo pipefail
cd "$(dirname "$0")/.."
SOURCES=${SOURCES:-fluidr3 musescore csound freepats}
. scripts/bundled-recipe.sh
BUILD=${BUILD:-$BUNDLED_BUILD}
TRAIN=${TRAIN:-$BUNDLED_TRAIN}
ACTIVATIONS=${ACTIVATIONS-$BUNDLED_ACTIVATIONS}
NOTE_BUILD=${NOTE_BUILD:-$BUNDLED_NOTE_BUILD}
NOTE_TRAIN=${NOTE_TRAIN:-$BUNDLED_NOTE_TRAIN}
NOTE_ACTIVATIONS=${NOTE_ACTIVATIONS-$BUNDLED_NOTE_ACTIVATIONS}
SEEDS=${SEEDS:-1}
NOTE_SEEDS=${NOTE_SEEDS:-$BUNDLED_NOTE_SEEDS}
WORK=${WORK:-data/default-model}
CROSSVAL=${CROSSVAL:-data/crossval}
UNKNOWN=${UNKNOWN:-1}
for s in $SOURCES; do
  [ -d "data/render/$s" ] || bash scripts/render-all.sh "$s"
done
unknown=() k=0 ns=$(echo $SOURCES | wc -w)
for s in $SOURCES; do  # the generated and spoken recordings are dealt out over the sources
  k=$((k + 1))
  [ "$UNKNOWN" = 1 ] || continue
  case $s in *rel*) continue ;; esac
  if [ ! -f "data/unknown/$s/unknown.csv" ]; then
    python3 scripts/render-unknown.py --out "data/unknown/$s" --soundfont "$s" \
      --generated "$k/$ns" --speech "$k/$ns"
  fi
  unknown+=("$s")
done
if [ -z "${BIN:-}" ]; then
  cargo build --release -q
  BIN=target/release/instclf
fi
settings="SOURCES=$SOURCES UNKNOWN=${unknown[*]} BUILD=$BUILD TRAIN=$TRAIN ACTIVATIONS=$ACTIVATIONS \
SEEDS=$SEEDS NOTE_BUILD=$NOTE_BUILD NOTE_TRAIN=$NOTE_TRAIN NOTE_ACTIVATIONS=$NOTE_ACTIVATIONS NOTE_SEEDS=$NOTE_SEEDS"
if [ "${FRESH:-0}" = 1 ] || [ "$(cat "$WORK/settings.txt" 2>/dev/null)" != "$settings" ]; then
  rm -rf "$WORK"; mkdir -p "$WORK"; echo "$settings" > "$WORK/settings.txt"
fi
audio=(); for s in $SOURCES; do audio+=(--audio "data/render/$s"); done
for s in "${unknown[@]}"; do audio+=(--audio "data/unknown/$s"); done
if [ ! -f "$WORK/build.txt" ]; then
  t0=$SECONDS
  # shellcheck disable=SC2086
  $BIN dataset build "${audio[@]}" -o "$WORK/dataset" --seed 0 $BUILD 2> "$WORK/build.log" > "$WORK/build.tmp"
  echo "dataset build: $((SECONDS - t0)) s" >> "$WORK/build.tmp"
  mv "$WORK/build.tmp" "$WORK/build.txt"
fi
cat "$WORK/build.txt"
models=() n=0
networks() { # networks DATASET ACTS SEEDS TRAIN_ARGS: the next members (m<n+1>, ...), one per
  # activation and seed, trained on DATASET
  local data=$1 acts=$2 seeds=$3 train=$4 act seed
  for act in $acts; do
    for seed in $(seq 0 $((seeds - 1))); do
      n=$((n + 1))
      models+=(--model "$WORK/m$n")
      [ -f "$WORK/train-m$n.json" ] && continue
      # shellcheck disable=SC2086
      $BIN train --data "$data" -o "$WORK/m$n" --force --activation "$act" --seed "$seed" \
        --quiet --json $train > "$WORK/train-m$n.tmp"
      mv "$WORK/train-m$n.tmp" "$WORK/train-m$n.json"
    done
  done
}
networks "$WORK/dataset" "$ACTIVATIONS" "$SEEDS" "$TRAIN"
if [ -n "$NOTE_ACTIVATIONS" ]; then
  if [ ! -f "$WORK/notes-build.txt" ]; then
    t0=$SECONDS
    # shellcheck disable=SC2086
    $BIN dataset build "${audio[@]}" -o "$WORK/notes-dataset" --seed 0 $NOTE_BUILD 2>> "$WORK/build.log" \
      > "$WORK/notes-build.tmp"
    echo "note dataset build: $((SECONDS - t0)) s" >> "$WORK/notes-build.tmp"
    mv "$WORK/notes-build.tmp" "$WORK/notes-build.txt"
  fi
  cat "$WORK/notes-build.txt"
  # The same recordings on the same side of the split as the frame dataset (split by file name).
  cmp -s <(awk -F, '$1 == "test" {print $2}' "$WORK/dataset/notes.csv" | sort -u) \
    <(awk -F, '$1 == "test" {print $2}' "$WORK/notes-dataset/notes.csv" | sort -u) \
    || { echo "train-default-model.sh: the two datasets split the recordings differently" >&2; exit 1; }
fi
networks "$WORK/notes-dataset" "$NOTE_ACTIVATIONS" "$NOTE_SEEDS" "$NOTE_TRAIN"
# Read only now, so a leave-one-source-out run may still be finishing while the networks train;
# WAIT_CROSSVAL=1 waits for it to write $CROSSVAL/crossval.json first.
# (No folds, no calibration: `ls` finding nothing must not stop the script under pipefail.)
if [ "${WAIT_CROSSVAL:-0}" = 1 ]; then
  while [ ! -f "$CROSSVAL/crossval.json" ]; do sleep 30; done
fi
CALIBRATION=${CALIBRATION:-$( (ls "$CROSSVAL"/folds/*/classify.json 2>/dev/null || true) | tr '\n' ' ')}
if [ -n "$CALIBRATION" ]; then
  # shellcheck disable=SC2086
  python3 scripts/fit-temperature.py $CALIBRATION --cross --fitted-on "leave-one-source-out: $CALIBRATION" \
    ${UNKNOWN_BIAS:+--unknown-bias "$UNKNOWN_BIAS"} \
    --write $(for i in $(seq 1 "$n"); do echo "$WORK/m$i"; done) | tee "$WORK/calibration.json"
fi
rm -rf src/default_model/m*/
for i in $(seq 1 "$n"); do
  mkdir -p "src/default_model/m$i"
  cp "$WORK/m$i/model.json" "$WORK/m$i/model.safetensors" "src/default_model/m$i/"
done
# The held-out recordings of each source: its test-split files, linked into one folder each.
link_heldout() { # link_heldout DST SRC...: the test-split recordings that lie in a SRC into DST
  mkdir -p "$1"
  python3 - "$WORK/dataset/notes.csv" "$@" <<'PY'
import csv, os, sys
notes, dst, *srcs = sys.argv[1:]
srcs = {os.path.abspath(s) for s in srcs}
for r in csv.DictReader(open(notes)):
    f = os.path.abspath(r["file"])
    if r["split"] == "test" and r["variant"] == "0" and os.path.dirname(f) in srcs:
        link = os.path.join(dst, os.path.basename(f))
        if not os.path.lexists(link):
            os.symlink(f, link)
PY
}
evals=()
for s in $SOURCES; do
  case $s in *rel*) continue ;; esac
  link_heldout "$WORK/heldout/$s" "data/render/$s"
  evals+=("$s")
done
if [ ${#unknown[@]} -gt 0 ]; then  # the held-out (test-split) unknown recordings of every source
  link_heldout "$WORK/heldout/unknown" "${unknown[@]/#/data/unknown/}"
  evals+=(unknown)
fi
for s in "${evals[@]}"; do
  $BIN evaluate --audio "$WORK/heldout/$s" --label-from name "${models[@]}" --json > "$WORK/eval-$s.json"
done
$BIN evaluate --audio fixtures/audio --label-from name "${models[@]}" --json > "$WORK/eval-fixtures.json"
python3 - "$WORK" "$n" "$SOURCES" "$BUILD" "$TRAIN" "$CROSSVAL" "$NOTE_BUILD" "$NOTE_TRAIN" "${evals[@]}" <<'PY'
import json, os, sys
work, n, sources, build, train, crossval, note_build, note_train, *evals = sys.argv[1:]
n = int(n)
trains = [json.load(open(f"{work}/train-m{i}.json")) for i in range(1, n + 1)]
metas = [json.load(open(f"{work}/m{i}/model.json")) for i in range(1, n + 1)]
kind = lambda m: "note-level" if m["recipe"].get("pool") else "frame"
recipes = {}
for m in metas:
    recipes.setdefault(kind(m), ", ".join(f"{k}={v}" for k, v in sorted(m["recipe"].items())))
recipe = "; ".join(f"{k}: {v}" for k, v in recipes.items())
shapes = "; ".join(sorted({f"{kind(m)} {m['architecture']['n_features']} -> "
                           f"{' -> '.join(map(str, m['architecture']['hidden']))} -> {m['architecture']['n_classes']}"
                           for m in metas}))
data = "; ".join(open(f"{work}/{f}").read().strip().replace("\n", ", ")
                 for f in ("build.txt", "notes-build.txt") if os.path.exists(f"{work}/{f}"))
rows = []
pct = lambda v: "-" if v is None else f"{v:.4f}"
for s in evals + ["fixtures"]:
    e = json.load(open(f"{work}/eval-{s}.json"))
    rows.append(f"| {s} | {e['files']} | {e['file_accuracy']:.4f} | {e['notes']} | {e['note_accuracy']:.4f} | "
                f"{pct(e.get('notes_turned_unknown'))} | {e['ece']:.3f} |")
nets = "\n".join(
    f"| m{i} | {kind(m)} | {m['architecture']['activation']} | {m['training']['seed']} | {t['epochs']} | "
    f"{t['train_time_s']:.1f} | {t['test_accuracy']:.4f} |"
    for i, (t, m) in enumerate(zip(trains, metas), 1))
cal = "none (confidences are the plain softmax of note scores)."
if os.path.exists(f"{work}/calibration.json"):
    c = json.load(open(f"{work}/calibration.json"))
    cal = (f"temperature {c['temperature']:.3f}, fitted on {c['notes']} held-out notes of the "
           f"leave-one-source-out folds (ECE there {c['ece_before']:.3f} -> {c['ece_after']:.3f}; wrong notes "
           f"at confidence >= 0.9: {c['wrong_at_0.9_before']:.1%} -> {c['wrong_at_0.9_after']:.1%}).")
loso = ""
if os.path.exists(f"{crossval}/crossval.md"):
    cv = json.load(open(f"{crossval}/crossval.json"))
    loso = (f"\n## Leave-one-source-out (`scripts/crossval.sh`, build `{cv['build']}`, train "
            f"`{cv['train']}`, networks: {', '.join(cv['activations'])} x {cv['seeds']} seed(s)"
            + (f"; note-level: build `{cv['note_build']}`, train `{cv['note_train']}`, "
               f"{', '.join(cv['note_activations'])} x {cv.get('note_seeds', cv['seeds'])} seed(s)"
               if cv.get('note_activations') else "")
            + ")\n\n"
            + open(f"{crossval}/crossval.md").read())
text = f"""# The bundled default model

Made by `scripts/train-default-model.sh`: SOURCES="{sources}", BUILD="{build}", TRAIN="{train}",
NOTE_BUILD="{note_build}", NOTE_TRAIN="{note_train}".

- Data: {data}
- Feature recipes: {recipe}.
- Networks: {n} ({shapes}; softmax); `classify` averages their log-probabilities per note (a
  frame network's over the note's frames). Training took
  {sum(t['train_time_s'] for t in trains):.1f} s in all.
- Calibration: {cal}

## Held-out recordings of the training sources (test split) and the fixtures

`unknown` holds the recordings of none of the instruments; its file accuracy is the share answered
unknown. "-> unknown": the share of instrument notes answered unknown.

| recordings | files | file accuracy | notes | note accuracy | -> unknown | ECE |
|---|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

## Each network (accuracy on its dataset's test rows: frames, or notes for note-level ones)

| network | kind | activation | seed | epochs | train s | test rows |
|---|---|---|---:|---:|---:|---:|
{nets}
{loso}"""
open("src/default_model/REPORT.md", "w").write(text)
print(text)
PY
