#!/usr/bin/env bash
# Fuzzes every parser instclf owns or drives (issue 8) with cargo-fuzz (libFuzzer), one target
# at a time, at low priority, and prints each target's execution count.
#
#   scripts/fuzz.sh                      # every target, 1,000,000 runs each
#   RUNS=0 SECONDS_EACH=1800 scripts/fuzz.sh          # 30 minutes each instead
#   scripts/fuzz.sh decode_wav npy       # some targets only
#
# Targets (fuzz/fuzz_targets/): decode_aiff, decode_wav, decode_flac, decode_mp3, decode_ogg
# (arbitrary bytes through instclf_audio::decode::decode_bytes with that extension), npy (the
# .npy feature and label readers), model (Model::from_bytes: model.json + model.safetensors).
# Seeds come from fixtures/reference (good files) and fixtures/bad (the catalogue); the grown
# corpora stay in fuzz/corpus/ and crashes in fuzz/artifacts/ (both git-ignored). Needs
# `cargo install cargo-fuzz`; the stable toolchain works with RUSTC_BOOTSTRAP=1 (set here).
# Built without a sanitizer (`-s none`): the code under test is safe Rust, and libFuzzer still
# catches panics, aborts (a failed huge allocation aborts), timeouts and RSS over -rss_limit_mb.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-1000000}
SECONDS_EACH=${SECONDS_EACH:-0}
NICE=${NICE:-19}
MAX_LEN=${MAX_LEN:-4096} # longest input tried, bytes (headers and first packets)
export RUSTC_BOOTSTRAP=1

ALL=(decode_aiff decode_wav decode_flac decode_mp3 decode_ogg npy model)
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${ALL[@]}")

seed() { # seed TARGET: fills fuzz/corpus/TARGET from the committed fixtures
    local t=$1 dir=fuzz/corpus/$1
    mkdir -p "$dir"
    case $t in
    decode_*)
        local ext=${t#decode_}
        local pats=("*.$ext")
        [ "$ext" = aiff ] && pats+=("*.aifc")
        for p in "${pats[@]}"; do
            find fixtures/reference fixtures/bad/audio -name "$p" -size -40k \
                -exec cp -n {} "$dir/" \;
        done
        ;;
    npy)
        find fixtures/bad/data -name '*.npy' | while read -r f; do
            cp -n "$f" "$dir/$(echo "$f" | tr / _)"
        done
        ;;
    model)
        # Input layout of fuzz_targets/model.rs: u16 LE length N, N bytes of model.json, then
        # the model.safetensors bytes.
        python3 - "$dir" <<'EOF'
import os, struct, sys
out = sys.argv[1]
root = "fixtures/bad/models"
for name in sorted(os.listdir(root)):
    d = os.path.join(root, name)
    def rd(f):
        p = os.path.join(d, f)
        return open(p, "rb").read() if os.path.exists(p) else b""
    j, s = rd("model.json"), rd("model.safetensors")
    open(os.path.join(out, name), "wb").write(struct.pack("<H", len(j)) + j + s)
EOF
        ;;
    esac
}

echo "building fuzz targets (cargo fuzz build -s none -O)..." >&2
nice -n "$NICE" cargo fuzz build -s none -O >&2
BIN=$ROOT/fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release

printf '%-12s %12s %8s %10s  %s\n' target executions seconds exec/s result
for t in "${TARGETS[@]}"; do
    seed "$t"
    mkdir -p "fuzz/artifacts/$t"
    log=fuzz/artifacts/$t/last-run.log
    args=(-timeout=10 -rss_limit_mb=2048 "-max_len=$MAX_LEN" -print_final_stats=1
        "-artifact_prefix=$ROOT/fuzz/artifacts/$t/")
    if [ "$SECONDS_EACH" != 0 ]; then args+=("-max_total_time=$SECONDS_EACH"); fi
    if [ "$RUNS" != 0 ]; then args+=("-runs=$RUNS"); fi
    start=$(date +%s)
    set +e
    # The binary directly, not `cargo fuzz run`, which would rebuild whenever a source changed.
    nice -n "$NICE" "$BIN/$t" "${args[@]}" "$ROOT/fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    set -e
    secs=$(($(date +%s) - start))
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    execs=${execs:-?}
    if [ $rc -eq 0 ]; then result=ok; else result="FAILED rc=$rc (see $log)"; fi
    rate=?
    if [ "$execs" != "?" ] && [ "$secs" -gt 0 ]; then rate=$((execs / secs)); fi
    printf '%-12s %12s %8s %10s  %s\n' "$t" "$execs" "$secs" "$rate" "$result"
done
