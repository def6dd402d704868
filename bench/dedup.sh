#!/usr/bin/env bash
# bench/dedup.sh - what exact dedup costs: CPU per GB emitted with and without
# output.dedup "exact" on a corpus where about 20% of the documents repeat an
# earlier text, against the floor of bench/run.sh (CPU of `zstd -dc` over the
# inputs plus `zstd -3 -T1` over the bytes pilemix emits, for each run's own
# output). Not a test: it prints a table; figures in BENCHMARKS.md.
#
#   bench/dedup.sh                          256M of text, small documents
#   DEDUP_SIZE=1G DEDUP_PROFILE=large bench/dedup.sh
# Environment: DEDUP_SIZE (default 256M), DEDUP_PROFILE (small), DEDUP_RATE (0.2),
# DEDUP_RANKS (1), DEDUP_BUILD (build: a configured build dir).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
size=${DEDUP_SIZE:-256M}
profile=${DEDUP_PROFILE:-small}
rate=${DEDUP_RATE:-0.2}
ranks=${DEDUP_RANKS:-1}
build=${DEDUP_BUILD:-build}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 LC_ALL=C
ninja -C "$build" pilemix pilemix-gencorpus >/dev/null
cache=$root/bench/cache
corpus=$cache/corpus-$profile-$size-dup$rate
run=$cache/dedup-run
mkdir -p "$cache" "$run"
if [ ! -f "$corpus/.done" ]; then
    rm -rf "$corpus"
    "$build/pilemix-gencorpus" --out "$corpus" --size "$size" --profile "$profile" --seed 1 \
        --dup-rate "$rate" >&2
    touch "$corpus/.done"
fi
comps=""
for d in "$corpus"/*/; do
    n=$(basename "$d")
    comps="$comps${comps:+,}{\"name\": \"$n\", \"paths\": [\"$d\"], \"epochs\": 1.0}"
done
cpu() { # seconds of user+sys CPU of a command (children included)
    /usr/bin/time -f "%U %S %e" -o "$run/time" "$@" >/dev/null 2>"$run/stderr" || {
        cat "$run/stderr" >&2
        return 1
    }
    awk '{printf "%.2f %.2f\n", $1 + $2, $3}' "$run/time"
}
# floor, part 1: decompress every input once
dec=$(cpu sh -c "find '$corpus' -name '*.zst' -print0 | xargs -0 zstd -dc; find '$corpus' -name '*.jsonl' -print0 | xargs -0 cat")
printf 'dedup\tcpu_s\twall_s\temitted_GB\tcpu_s/GB\tfloor_cpu_s\tx_floor\tdropped\n'
for mode in none exact; do
    cat >"$run/$mode.json" <<JSON
{"name": "dedup-bench", "seed": 1, "components": [$comps],
 "output": {"dir": "$run/out-$mode", "train_shards": 8, "val_fraction": 0.001,
            "test_fraction": 0.001, "dedup": "$mode"},
 "run": {"on_bad_record": "skip"}}
JSON
    read -r c w < <(cpu mpirun --oversubscribe -np "$ranks" "$build/pilemix" run "$run/$mode.json" --force --progress 0)
    emitted=$(python3 -c "import json; m=json.load(open('$run/out-$mode/manifest.json')); print(sum(f['uncompressed_bytes'] for f in m['files']))")
    dropped=$(python3 -c "import json; m=json.load(open('$run/out-$mode/manifest.json')); print(sum(c.get('exact_duplicates', {}).get('total', 0) for c in m['components']))")
    # floor, part 2: zstd -3 over the bytes this run emitted
    find "$run/out-$mode" -name '*.zst' | sort | xargs zstd -dc >"$run/emitted.jsonl"
    read -r comp _ < <(cpu zstd -3 -T1 -f "$run/emitted.jsonl" -o "$run/emitted.zst")
    read -r d _ <<<"$dec"
    gb=$(python3 -c "print($emitted / 1e9)")
    floor=$(python3 -c "print(round($d + $comp, 2))")
    python3 -c "print('%s\t%.2f\t%.2f\t%.3f\t%.2f\t%.2f\t%.2f\t%s' % ('$mode', $c, $w, $gb, $c / $gb, $floor, ($c / $gb) / ($floor / $gb), '$dropped'))"
    rm -f "$run/emitted.jsonl" "$run/emitted.zst"
done
echo "(corpus: $corpus, $ranks rank(s); x_floor = CPU per GB emitted / floor CPU per GB)"
