#!/usr/bin/env bash
# Leave-one-source-out validation: for sources given as NAME=DIR[,DIR...], builds one dataset per
# source (`instclf dataset build` over all its folders), then for each source trains the networks
# on the other sources' datasets (`instclf train --data A --data B ...`) and scores them on the
# held-out source's FIRST folder (`instclf evaluate --audio DIR --label-from name`): whole sources
# are held out, never recordings of one source. Further folders of a source (its General MIDI
# relatives, say) are trained on but not scored. Writes OUT/crossval.json and OUT/crossval.md
# (note and file accuracy and ECE per held-out source, the mean and the worst) and prints the table;
# OUT/calibration.json holds the temperature fitted on all held-out notes (scripts/
# fit-temperature.py) and each source's ECE with the temperature fitted on the others alone.
# Every step's output is written atomically and kept, so a rerun resumes where it stopped.
#
#   scripts/crossval.sh -o OUT [--bin PATH] [--recipe FILE] [--unknown NAME=DIR ...]
#       NAME=DIR[,DIR...] NAME=DIR ...
#
# --recipe FILE (default recipes/default.toml, the bundled recipe; docs/recipes.md): every fold
# trains the recipe's networks (`instclf bundle --recipe FILE --list-networks`), each member's on
# per-source datasets built with that member's features and augmentation (`dataset build
# --recipe FILE --member M`) and trained with its settings (`train --recipe FILE --member M
# --activation A --seed S`). The recipe's calibration is not used: the folds are what it is
# fitted on.
#
# --unknown NAME=DIR (repeatable) gives source NAME's folder of `unknown.*` recordings (none of
# the instruments: scripts/render-unknown.py). It is built into datasets of its own
# (NAME.unknown.MEMBER) that train every fold the source is not held out of, which gives the
# networks their `unknown` class, and the held-out source's is scored apart (eval-unknown.json):
# the fraction of its recordings answered unknown, per group (`unknown.GROUP-...`), beside the
# fraction of instrument notes turned unknown.
#
# --bin: an instclf binary (default: target/release/instclf, built if missing). Example (after
# scripts/render-all.sh):
#   scripts/crossval.sh -o data/crossval fluidr3=data/render/fluidr3,data/render/fluidr3rel \
#     musescore=data/render/musescore csound=data/render/csound freepats=data/render/freepats
set -euo pipefail
cd "$(dirname "$0")/.."
die() { echo "crossval.sh: error: $*" >&2; exit 2; }
OUT= BIN= RECIPE=recipes/default.toml
names=() dirs=() unknown_specs=()
while [ $# -gt 0 ]; do
  case $1 in
    -o|--output) OUT=${2:?}; shift 2 ;;
    --bin) BIN=${2:?}; shift 2 ;;
    --recipe) RECIPE=${2:?}; shift 2 ;;
    --unknown) unknown_specs+=("${2:?}"); shift 2 ;;
    -h|--help) sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *=*)
      name=${1%%=*} list=${1#*=}
      [[ $name =~ ^[A-Za-z0-9_-]+$ ]] || die "source '$1': NAME must be letters, digits, - or _"
      for n in "${names[@]}"; do [ "$n" = "$name" ] && die "source name '$name' given twice"; done
      IFS=, read -ra ds <<<"$list"
      [ ${#ds[@]} -gt 0 ] || die "source '$name' names no folder"
      for d in "${ds[@]}"; do [ -d "$d" ] || die "source '$name': $d: no such folder"; done
      names+=("$name") dirs+=("$list"); shift ;;
    *) die "'$1' is not NAME=DIR[,DIR...]" ;;
  esac
done
[ -n "$OUT" ] || die "-o OUT is required"
declare -A unknown=()
for spec in "${unknown_specs[@]}"; do
  name=${spec%%=*} d=${spec#*=}
  [[ $spec == *=* ]] || die "--unknown '$spec' is not NAME=DIR"
  [[ " ${names[*]} " == *" $name "* ]] || die "--unknown $spec: no source named '$name'"
  [ -d "$d" ] || die "--unknown $spec: $d: no such folder"
  [ -z "${unknown[$name]:-}" ] || die "--unknown given twice for source '$name'"
  unknown[$name]=$d
done
[ ${#names[@]} -ge 2 ] || die "give at least two sources (NAME=DIR), got ${#names[@]}"
if [ -z "$BIN" ]; then
  BIN=target/release/instclf
  [ -x "$BIN" ] || cargo build --release -q
fi
[ -x "$BIN" ] || die "--bin $BIN: not an executable"
# The recipe's networks, one "MEMBER ACTIVATION SEED" line each (the binary checks the recipe).
plan=$("$BIN" bundle --recipe "$RECIPE" --list-networks) || exit 2
members=$(awk '!seen[$1]++ {print $1}' <<<"$plan")
# Every source must name the same classes (file names' first tokens), at least two of them.
python3 - "${names[@]}" -- "${dirs[@]}" <<'PY' || exit 2
import os, sys
args = sys.argv[1:]
k = args.index("--")
names, dirs = args[:k], args[k + 1:]
ext = (".aiff", ".aif", ".aifc", ".wav", ".flac", ".mp3", ".ogg", ".oga")  # = AUDIO_EXTENSIONS
def fail(msg):
    sys.exit(f"crossval.sh: error: {msg}")
labels = {}
for name, ds in zip(names, dirs):
    found = set()
    for d in ds.split(","):
        files = [f for _, _, fs in os.walk(d) for f in fs if f.lower().endswith(ext)]
        if not files:
            fail(f"source '{name}': {d}: no audio files in this folder")
        found |= {f.split(".")[0] for f in files}
    if len(found) < 2:
        fail(f"source '{name}' has one class only ({', '.join(found)}): each source needs every class")
    labels[name] = found
first = names[0]
for name in names[1:]:
    for a, b in ((first, name), (name, first)):
        extra = sorted(labels[a] - labels[b])
        if extra:
            fail(f"source '{a}' has class(es) {', '.join(extra)} that source '{b}' lacks: "
                 "every source needs the same classes")
PY
mkdir -p "$OUT/datasets" "$OUT/folds"
if [ -f "$OUT/recipe.toml" ]; then  # a rerun resumes only with the recipe it started with
  cmp -s "$OUT/recipe.toml" "$RECIPE" || die "$OUT holds folds made with another recipe ($OUT/recipe.toml); use another -o"
else
  cp "$RECIPE" "$OUT/recipe.toml"
fi
atomic() { # atomic FILE CMD...: CMD's stdout into FILE, only if CMD succeeds
  local f=$1; shift
  "$@" > "$f.tmp" && mv "$f.tmp" "$f" || { rm -f "$f.tmp"; return 1; }
}
t0=$SECONDS
datasets() { # datasets MEMBER: one dataset per source, OUT/datasets/NAME.MEMBER
  local member=$1 i n ds d x args
  for i in "${!names[@]}"; do
    n=${names[$i]} ds=$OUT/datasets/${names[$i]}.$member
    [ -d "$ds" ] && continue
    IFS=, read -ra d <<<"${dirs[$i]}"
    args=(); for x in "${d[@]}"; do args+=(--audio "$x"); done
    echo "== $member dataset $n ($((SECONDS - t0)) s)" >&2
    "$BIN" dataset build "${args[@]}" -o "$ds" --seed 0 --recipe "$RECIPE" --member "$member" \
      > "$OUT/datasets/$n.$member.txt"
  done
  for n in "${!unknown[@]}"; do  # the source's unknown recordings, a dataset of their own
    ds=$OUT/datasets/$n.unknown.$member
    [ -d "$ds" ] && continue
    echo "== $member dataset $n unknown ($((SECONDS - t0)) s)" >&2
    "$BIN" dataset build --audio "${unknown[$n]}" -o "$ds" --seed 0 --recipe "$RECIPE" \
      --member "$member" > "$OUT/datasets/$n.unknown.$member.txt"
  done
}
network() { # network MEMBER ACTIVATION SEED: this fold's network on the other sources'
  # datasets of MEMBER, added to `models`
  local member=$1 act=$2 seed=$3 n m data=()
  for n in "${names[@]}"; do
    [ "$n" = "$held" ] && continue
    data+=(--data "$OUT/datasets/$n.$member")
    [ -z "${unknown[$n]:-}" ] || data+=(--data "$OUT/datasets/$n.unknown.$member")
  done
  m=$fold/$member-$act-$seed
  models+=(--model "$m")
  [ -f "$m.json" ] && return 0
  echo "== fold $held: train $member $act seed $seed ($((SECONDS - t0)) s)" >&2
  atomic "$m.json" "$BIN" train "${data[@]}" -o "$m" --force --recipe "$RECIPE" --member "$member" \
    --activation "$act" --seed "$seed" --json --quiet
}
for member in $members; do datasets "$member"; done
for i in "${!names[@]}"; do
  held=${names[$i]} fold=$OUT/folds/${names[$i]}
  mkdir -p "$fold"
  models=()
  while read -r member act seed; do network "$member" "$act" "$seed"; done <<<"$plan"
  if [ ! -f "$fold/eval.json" ]; then
    echo "== fold $held: evaluate ($((SECONDS - t0)) s)" >&2
    atomic "$fold/eval.json" "$BIN" evaluate --audio "${dirs[$i]%%,*}" --label-from name \
      "${models[@]}" --json
  fi
  held_unknown=${unknown[$held]:-}
  if [ -n "$held_unknown" ] && [ ! -f "$fold/eval-unknown.json" ]; then
    echo "== fold $held: evaluate unknown ($((SECONDS - t0)) s)" >&2
    atomic "$fold/eval-unknown.json" "$BIN" evaluate --audio "$held_unknown" --label-from name \
      "${models[@]}" --json
  fi
  if [ ! -f "$fold/classify.json" ]; then  # every class's probability of every note
    echo "== fold $held: classify for calibration ($((SECONDS - t0)) s)" >&2
    atomic "$fold/classify.json" "$BIN" classify --json --top 1000 "${models[@]}" "${dirs[$i]%%,*}" \
      ${held_unknown:+"$held_unknown"}
  fi
done
# The temperature that calibrates these folds, and each fold scored with the T of the others.
cal=(); for n in "${names[@]}"; do cal+=("$OUT/folds/$n/classify.json"); done
atomic "$OUT/calibration.json" python3 scripts/fit-temperature.py "${cal[@]}" --cross
python3 - "$OUT" "$RECIPE" "$plan" "${names[@]}" <<'PY'
import json, os, sys
out, recipe, plan = sys.argv[1:4]
names = sys.argv[4:]
cal = json.load(open(os.path.join(out, "calibration.json")))
cross = {os.path.basename(os.path.dirname(c["input"])): c for c in cal["cross"]}
rows = []
for n in names:
    e = json.load(open(os.path.join(out, "folds", n, "eval.json")))
    trains = [json.load(open(os.path.join(out, "folds", n, f)))
              for f in sorted(os.listdir(os.path.join(out, "folds", n)))
              if f.endswith(".json") and f not in ("eval.json", "eval-unknown.json", "classify.json")]
    unk_path = os.path.join(out, "folds", n, "eval-unknown.json")
    unk = json.load(open(unk_path)) if os.path.exists(unk_path) else None
    groups = {}
    for f in unk["per_file"] if unk else []:
        g = os.path.basename(f["file"]).split(".")[1].split("-")[0]
        hit, tot = groups.get(g, (0, 0))
        groups[g] = (hit + (f["label"] == "unknown"), tot + 1)
    rows.append({"held_out": n, "notes": e["notes"], "files": e["files"],
                 "note_accuracy": e["note_accuracy"], "file_accuracy": e["file_accuracy"],
                 "ece": e["ece"], "ece_calibrated": cross[n]["ece_after"],
                 "temperature": cross[n]["temperature"], "top_confusions": e["top_confusions"][:5],
                 "train_time_s": sum(t["train_time_s"] for t in trains),
                 "notes_turned_unknown": e.get("notes_turned_unknown") or 0.0,
                 "unknown_files": unk["files"] if unk else None,
                 "unknown_recognised": unk["file_accuracy"] if unk else None,
                 "unknown_by_group": {g: h / t for g, (h, t) in sorted(groups.items())}})
mean = lambda k: sum(r[k] for r in rows) / len(rows)
# ece_calibrated: with the temperature fitted on the other sources' notes alone
worst = min(rows, key=lambda r: r["note_accuracy"])
summary = {"recipe": recipe, "networks": plan.splitlines(),
           "folds": rows, "mean_note_accuracy": mean("note_accuracy"),
           "mean_file_accuracy": mean("file_accuracy"), "mean_ece": mean("ece"),
           "mean_ece_calibrated": mean("ece_calibrated"), "temperature": cal["temperature"],
           "worst": {"held_out": worst["held_out"], "note_accuracy": worst["note_accuracy"]},
           "mean_notes_turned_unknown": mean("notes_turned_unknown")}
if all(r["unknown_recognised"] is not None for r in rows):
    summary["mean_unknown_recognised"] = mean("unknown_recognised")
md = ["| held out | notes | note acc | files | file acc | ECE | ECE, T of the others | top confusions |",
      "|---|---:|---:|---:|---:|---:|---:|---|"]
for r in rows:
    md.append(f"| {r['held_out']} | {r['notes']} | {r['note_accuracy']:.3f} | {r['files']} | "
              f"{r['file_accuracy']:.3f} | {r['ece']:.3f} | {r['ece_calibrated']:.3f} | "
              f"{', '.join(r['top_confusions'][:3])} |")
md.append(f"| **mean** | | **{summary['mean_note_accuracy']:.3f}** | | **{summary['mean_file_accuracy']:.3f}** | "
          f"{summary['mean_ece']:.3f} | {summary['mean_ece_calibrated']:.3f} | "
          f"worst: {worst['held_out']} {worst['note_accuracy']:.3f} |")
if "mean_unknown_recognised" in summary:
    groups = sorted({g for r in rows for g in r["unknown_by_group"]})
    md += ["", "| held out | instrument notes -> unknown | unknown files | unknown recognised | "
           + " | ".join(groups) + " |", "|---|---:|---:|---:|" + "---:|" * len(groups)]
    for r in rows:
        md.append(f"| {r['held_out']} | {r['notes_turned_unknown']:.3f} | {r['unknown_files']} | "
                  f"{r['unknown_recognised']:.3f} | "
                  + " | ".join(f"{r['unknown_by_group'].get(g, float('nan')):.2f}" for g in groups) + " |")
    md.append(f"| **mean** | **{summary['mean_notes_turned_unknown']:.3f}** | | "
              f"**{summary['mean_unknown_recognised']:.3f}** |" + " |" * len(groups))
for name, text in (("crossval.json", json.dumps(summary, indent=1)), ("crossval.md", "\n".join(md) + "\n")):
    with open(os.path.join(out, name + ".tmp"), "w") as f:
        f.write(text)
    os.replace(os.path.join(out, name + ".tmp"), os.path.join(out, name))
print("\n".join(md))
PY
