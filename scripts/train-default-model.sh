#!/usr/bin/env bash
# Makes the bundled default model (src/default_model/), reproducibly:
#   1. renders the training audio ($SOURCES: FluidR3 and MuseScore General, plus each class's GM
#      relatives from them: set 1 from both, set 2 from FluidR3, see render.py --relatives) and
#      the cross-source check set (csound's sf_GMbank.sf2, never trained on) with
#      scripts/render-all.sh, if not there yet;
#   2. builds the dataset from the training sources with `instclf dataset build`;
#   3. trains $ENSEMBLE networks per hidden activation in $ACTIVATIONS with `instclf train`, seeds
#      0, 1, ..., on that dataset and copies each one's model.json + model.safetensors into
#      src/default_model/m1, m2, ... (the bundled ensemble: classify averages their
#      log-probabilities; src/default_model.rs embeds six);
#   4. writes src/default_model/REPORT.md: data, epochs, frame accuracy, and note/file accuracy on
#      held-out FluidR3 recordings and on the csound render (scripts/eval-classify.py), for the
#      ensemble and for each member alone.
# Defaults (FluidR3 + MuseScore and their GM relatives, 2 augmented copies, half-weight CMN: CMN=1
# CMN_WEIGHT=0.5; the levels of 20 partials per frame: HARMONICS=20; 3 seeds each of a sigmoid and a
# ReLU network: ENSEMBLE=3 ACTIVATIONS="sigmoid relu"): see
# docs/experiments.md for the levers measured; full CMN (CMN_WEIGHT=1) misreads the Oboe fixture as Trumpet.
# Experiments with other knobs overwrite src/default_model/ too (`git checkout src/default_model`
# puts the bundled one back); another number of networks needs src/default_model.rs changed to match.
# SOURCES=fluidr3 trains on FluidR3 alone. BIN=path skips the cargo build and uses that binary.
# Needs: apt-get install fluidsynth fluid-soundfont-gm musescore-general-soundfont csound-soundfont
set -euo pipefail
cd "$(dirname "$0")/.."
AUGMENT=${AUGMENT:-2}
EPOCHS=${EPOCHS:-10}
HIDDEN=${HIDDEN:-256}
ENSEMBLE=${ENSEMBLE:-3}          # seeds per activation in the bundled ensemble
ACTIVATIONS=${ACTIVATIONS:-sigmoid relu} # hidden activations of its networks (6 embedded in all)
SOURCES=${SOURCES:-fluidr3 musescore fluidr3rel musescorerel fluidr3rel2}
CMN=${CMN:-1}
CMN_COEFFS=${CMN_COEFFS:-0}      # with CMN=1: normalise only the first N MFCCs (0: all)
CMN_WEIGHT=${CMN_WEIGHT:-0.5}    # with CMN=1: fraction of the mean subtracted
SKIP_COEFFS=${SKIP_COEFFS:-0}    # leave out the first N static MFCCs
NOTE_MEAN=${NOTE_MEAN:-0}        # 1: append the note's mean MFCCs to every frame
AUG_STRENGTH=${AUG_STRENGTH:-1}  # multiplies the tilt and pitch-shift ranges
AUG_EQ=${AUG_EQ:-0}              # peak dB of a random smooth equaliser (0: none)
AUG_LOWPASS=${AUG_LOWPASS:-0}    # probability of a 2-8 kHz low-pass on an augmented copy
AUG_STRETCH=${AUG_STRETCH:-0}    # largest zone stretch (pitch + formants) of half the copies, semitones
N_MFCC=${N_MFCC:-40}             # MFCCs per frame (x3 with deltas)
FMAX=${FMAX:-}                   # upper mel edge in Hz (empty: half the sample rate)
PITCH=${PITCH:-0}                # 1: append each note's pitch (log2 f0/440 by YIN) to its frames
INPUT_DROPOUT=${INPUT_DROPOUT:-0} # fraction of input features dropped per training batch
LABEL_SMOOTHING=${LABEL_SMOOTHING:-0} # fraction of each training target spread over all classes
MIXUP=${MIXUP:-0}                # mixup alpha: rows blended by a Beta(alpha, alpha) weight (0: off)
CONTEXT=${CONTEXT:-0}            # N: append the static MFCCs of the N frames either side
HARMONICS=${HARMONICS:-20}       # N: append the levels of each note's first N partials
PROFILE=${PROFILE:-release}
WORK=${WORK:-data/default-model}
for s in $SOURCES csound; do
  [ -d "data/render/$s" ] || bash scripts/render-all.sh "$s"
done
if [ -z "${BIN:-}" ]; then  # BIN=path uses an instclf binary built already
  cargo build --profile "$PROFILE"
  BIN=target/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")/instclf
fi
cmn_arg=(--skip-coeffs "$SKIP_COEFFS" --augment-strength "$AUG_STRENGTH" --augment-eq "$AUG_EQ"
  --augment-lowpass "$AUG_LOWPASS" --augment-stretch "$AUG_STRETCH" --n-mfcc "$N_MFCC" --context "$CONTEXT" --harmonics "$HARMONICS")
[ -n "$FMAX" ] && cmn_arg+=(--fmax "$FMAX")
[ "$CMN" = 1 ] && cmn_arg+=(--cmn --cmn-coeffs "$CMN_COEFFS" --cmn-weight "$CMN_WEIGHT")
[ "$NOTE_MEAN" = 1 ] && cmn_arg+=(--note-mean)
[ "$PITCH" = 1 ] && cmn_arg+=(--pitch)
rm -rf "$WORK"; mkdir -p "$WORK"
audio_args=(); for s in $SOURCES; do audio_args+=(--audio "data/render/$s"); done
$BIN dataset build "${audio_args[@]}" --out "$WORK/dataset" --augment "$AUGMENT" "${cmn_arg[@]}" --seed 0 \
  2> "$WORK/build.log" | tee "$WORK/build.txt"
models=()
n=0
for act in $ACTIVATIONS; do
  for seed in $(seq 0 $((ENSEMBLE - 1))); do
    n=$((n + 1))
    $BIN train --data "$WORK/dataset" -o "$WORK/m$n" --epochs "$EPOCHS" --hidden "$HIDDEN" \
      --activation "$act" --input-dropout "$INPUT_DROPOUT" --label-smoothing "$LABEL_SMOOTHING" --mixup "$MIXUP" \
      --seed "$seed" --quiet --json > "$WORK/train-m$n.json"
    models+=(--model "$WORK/m$n")
  done
done
rm -rf src/default_model/m*/
for i in $(seq 1 "$n"); do
  mkdir -p "src/default_model/m$i"
  cp "$WORK/m$i/model.json" "$WORK/m$i/model.safetensors" "src/default_model/m$i/"
done
evaluate() {  # evaluate OUT MODEL_ARGS...: held-out FluidR3 and csound figures as two JSON lines
  local out=$1; shift
  python3 scripts/eval-classify.py $BIN data/render/fluidr3 "$@" \
    --files-from "$WORK/dataset/notes.csv" --split test > "$out"
  python3 scripts/eval-classify.py $BIN data/render/csound "$@" >> "$out"
}
evaluate "$WORK/eval.jsonl" "${models[@]}"
for i in $(seq 1 "$n"); do evaluate "$WORK/eval-m$i.jsonl" --model "$WORK/m$i"; done
python3 - "$WORK" "$n" "$SOURCES" "$AUGMENT" "$HIDDEN" "$CMN" \
  "CMN_COEFFS=$CMN_COEFFS CMN_WEIGHT=$CMN_WEIGHT SKIP_COEFFS=$SKIP_COEFFS NOTE_MEAN=$NOTE_MEAN AUG_STRENGTH=$AUG_STRENGTH AUG_EQ=$AUG_EQ AUG_LOWPASS=$AUG_LOWPASS AUG_STRETCH=$AUG_STRETCH N_MFCC=$N_MFCC FMAX=${FMAX:-none} PITCH=$PITCH INPUT_DROPOUT=$INPUT_DROPOUT CONTEXT=$CONTEXT HARMONICS=$HARMONICS LABEL_SMOOTHING=$LABEL_SMOOTHING MIXUP=$MIXUP" <<'PY'
import json, sys
work, ensemble, sources, augment, hidden, cmn, extra = sys.argv[1:]
n = int(ensemble)
def lines(p):
    return [json.loads(l) for l in open(p)]
held, cross = lines(f"{work}/eval.jsonl")
members = [lines(f"{work}/eval-m{i}.jsonl") for i in range(1, n + 1)]
trains = [json.load(open(f"{work}/train-m{i}.json")) for i in range(1, n + 1)]
metas = [json.load(open(f"{work}/m{i}/model.json")) for i in range(1, n + 1)]
m = metas[0]
arch = m["architecture"]
layers = " -> ".join(str(h) for h in arch["hidden"])
acts = [x["architecture"]["activation"] for x in metas]
recipe = ", ".join(f"{k}={v}" for k, v in sorted(m["recipe"].items()))
build = open(f"{work}/build.txt").read().strip()
t = trains[0]
rows = "\n".join(
    f"| m{i} | {act} | {x['training']['seed']} | {tr['history'][-1]['accuracy']:.4f} "
    f"| {tr['test_accuracy']:.4f} | {h['note_accuracy']:.4f} / {h['file_accuracy']:.4f} "
    f"| {c['note_accuracy']:.4f} / {c['file_accuracy']:.4f} |"
    for i, (tr, (h, c), act, x) in enumerate(zip(trains, members, acts, metas), 1))
with open("src/default_model/REPORT.md", "w") as f:
    f.write(f"""# The bundled default model

Made by `scripts/train-default-model.sh` ({n} networks, AUGMENT={augment}, HIDDEN={hidden}, CMN={cmn},
{extra}, SOURCES="{sources}").

- Data: {build}
- Training sources: {sources} (rendered by scripts/render.py); {augment} augmented copies of each
  training recording (gain, noise, spectral tilt, pitch shift, reverb, random equaliser when
  AUG_EQ > 0); cepstral mean normalisation per recording: {"on" if cmn == "1" else "off"}. The
  test split holds out whole recordings (and the same recording from every source).
- Feature recipe: {recipe}.
- Networks: {n} (m1..m{n}), each {arch['n_features']} -> {layers} ({' or '.join(sorted(set(acts)))}) -> {arch['n_classes']} (softmax), Adam lr 0.001,
  batch 128, {t['epochs']} epochs, on the same rows with the activations and seeds below; `classify`
  averages their log-probabilities (an ensemble). Training took {sum(tr['train_time_s'] for tr in trains):.1f} s in all.
- Held-out FluidR3 recordings, the ensemble: note accuracy {held['note_accuracy']:.4f} over {held['notes']} notes,
  file accuracy {held['file_accuracy']:.4f} over {held['files']} files.
- Cross-source, csound sf_GMbank.sf2 (never trained on), the ensemble: note accuracy {cross['note_accuracy']:.4f}
  over {cross['notes']} notes, file accuracy {cross['file_accuracy']:.4f} over {cross['files']} files;
  most frequent confusions: {', '.join(cross['top_confusions'])}.

Each network alone (frame accuracy on the training rows and on the held-out test rows; note /
file accuracy):

| network | activation | seed | train frames | test frames | held-out FluidR3 | csound |
|---|---|---:|---:|---:|---:|---:|
{rows}
""")
print(open("src/default_model/REPORT.md").read())
PY
