#!/usr/bin/env bash
# Fuzz the core library: build the libFuzzer targets in fuzz/ with clang
# (-fsanitize=fuzzer,address,undefined) against the core sources, make the
# spill seeds and regressions from the current spill writer
# (fuzz/gen_spill_seeds.c -> build-fuzz/seeds/fuzz_spill/ and
# build-fuzz/regressions/fuzz_spill/), check that the seeds reach the deep
# code, replay the saved crash inputs, then fuzz each target for SECONDS
# (default 30) starting from its seeds.
#
#   jobs/fuzz.sh [SECONDS]          CI runs `jobs/fuzz.sh 20`
#   FUZZ_TARGETS="fuzz_record" jobs/fuzz.sh 600    one target only
#
# Seeds: build-fuzz/seeds/fuzz_spill/ (generated), fuzz/corpus/<target>/ for
# the others. Seed check: every seed is replayed once with PM_FUZZ_REPORT set
# (each target reports whether an input got past the format checks into the
# code behind them, see the targets' comments); the job fails when fewer than
# min_deep percent do, so a format change cannot turn the fuzzing into a
# test of the first check. Regressions: fuzz/regressions/<target>/ and the
# generated build-fuzz/regressions/<target>/.
#
# Exits 1 when any target crashes, fails an oracle check, leaks, times out or
# runs out of memory (libFuzzer writes the input to build-fuzz/artifacts/),
# or when the seed check fails; replay one input with
# `build-fuzz/<target> FILE`. New corpus entries go to build-fuzz/corpus/<target>/,
# never into the source tree.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-30}
if ! [[ $secs =~ ^[0-9]+$ ]]; then
    echo "usage: jobs/fuzz.sh [SECONDS]" >&2
    exit 2
fi
out=${FUZZ_BUILDDIR:-build-fuzz}
targets=(${FUZZ_TARGETS:-fuzz_record fuzz_config fuzz_spill fuzz_source})

# --- packages: clang and its libFuzzer runtime (in compiler-rt) -----------
install_missing() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    if ((${#missing[@]})); then
        echo "fuzz: installing ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    fi
}
install_missing clang libzstd-dev libxxhash-dev libjansson-dev libarchive-dev zlib1g-dev zstd xz-utils bzip2 zip
clang_major=$(clang -dumpversion | cut -d. -f1)
install_missing "libclang-rt-${clang_major}-dev"

# --- build -----------------------------------------------------------------
CC=${CC:-clang}
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
# The core guard dir keeps mpi.h out of the core library, as in meson.build.
common=(-std=c11 -g -O1 -fno-omit-frame-pointer $san -D_GNU_SOURCE '-DPM_VERSION="fuzz"'
        -Isrc/core_guard -Iinclude)
libs=(-lzstd -lxxhash -ljansson -larchive -lz -lm -lpthread)

mkdir -p "$out/obj"
echo "fuzz: building the core library with $($CC --version | head -n1)"
objs=()
jobs_max=$(nproc)
running=0
for src in src/*.c; do # the core library: everything but src/mpi/
    obj="$out/obj/$(basename "${src%.c}").o"
    objs+=("$obj")
    $CC "${common[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj" &
    if ((++running >= jobs_max)); then
        wait -n
        running=$((running - 1))
    fi
done
while ((running > 0)); do
    wait -n
    running=$((running - 1))
done
for t in "${targets[@]}"; do
    $CC "${common[@]}" -Wall -Wextra -Wpedantic -Werror -fsanitize=fuzzer \
        "fuzz/$t.c" "${objs[@]}" "${libs[@]}" -o "$out/$t"
done
$CC "${common[@]}" -Wall -Wextra -Werror fuzz/gen_spill_seeds.c "${objs[@]}" "${libs[@]}" \
    -o "$out/gen_spill_seeds"

# --- seeds and regressions from the current spill writer --------------------
rm -rf "$out/seeds/fuzz_spill" "$out/regressions/fuzz_spill"
mkdir -p "$out/seeds/fuzz_spill" "$out/regressions/fuzz_spill"
ASAN_OPTIONS=detect_leaks=1 "$out/gen_spill_seeds" "$out/seeds/fuzz_spill" "$out/regressions/fuzz_spill"
# Source seeds: one small valid file per input format, made by the standard
# tools (never committed: binary), behind the format byte the target reads.
src_seeds=$PWD/$out/seeds/fuzz_source
rm -rf "$src_seeds" "$out/seedwork"
mkdir -p "$src_seeds" "$out/seedwork/d"
(
    cd "$out/seedwork"
    printf '{"text": "a", "meta": {"k": 1}}\n"bare"\n\n{"text": ["x", "y"]}\n' >d/a.jsonl
    printf 'a book\nwith two lines\n' >d/b.txt
    printf '["one", "two \\u00e9", {"text": "three"}]' >d/c.json
    seed() { { printf "\\$(printf '%03o' "$1")"; cat; } >"$src_seeds/$2"; }
    seed 0 jsonl <d/a.jsonl
    zstd -q -c d/a.jsonl | seed 1 jsonl.zst
    gzip -c d/a.jsonl | seed 2 jsonl.gz
    xz -c d/a.jsonl | seed 3 jsonl.xz
    bzip2 -c d/a.jsonl | seed 4 jsonl.bz2
    gzip -c d/a.jsonl | seed 5 json.gz
    zstd -q -c d/c.json | seed 6 json.zst
    tar -cf - -C d a.jsonl b.txt | seed 7 tar
    tar -czf - -C d a.jsonl b.txt | seed 8 tar.gz
    (cd d && zip -q -r - a.jsonl b.txt) | seed 9 zip
    seed 10 txt <d/b.txt
    gzip -c d/b.txt | seed 11 txt.gz
    zstd -q -c d/b.txt | seed 12 txt.zst
)
seeds_of() { # TARGET -> its seed directory
    case $1 in
    fuzz_spill | fuzz_source) echo "$out/seeds/$1" ;;
    *) echo "fuzz/corpus/$1" ;;
    esac
}
# Percent of seeds that must go deep. Spills: every seed is a valid spill,
# so all should; records: many seeds are deliberately invalid JSON or UTF-8
# (their parser paths are the point), 37 of 62 (60%) are JSON; configs:
# nearly all are JSON objects, each refused by a different schema check.
min_deep() {
    case $1 in
    fuzz_spill) echo 90 ;;
    fuzz_record) echo 50 ;;
    fuzz_source) echo 100 ;; # one valid file per format
    *) echo 90 ;;
    esac
}

# --- run -------------------------------------------------------------------
# halt_on_error: UBSan findings are crashes too. Leak checking is on (the
# libFuzzer default under ASan): a leak is a failure.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
opts=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
failed=()
for t in "${targets[@]}"; do
    mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
    dict=()
    [ -f "fuzz/$t.dict" ] && dict=("-dict=fuzz/$t.dict")

    seeds=$(seeds_of "$t")

    # Seed check: replay each seed once, count those that reach the deep code.
    seed_files=()
    while IFS= read -r -d '' f; do seed_files+=("$f"); done \
        < <(find "$seeds" -type f -print0 | sort -z)
    report="$out/$t.seeds.report"
    rm -f "$report"
    # -detect_leaks=0: libFuzzer's leak check re-runs an input, which would
    # add a report line; leaks are checked by the replay and fuzzing below.
    if ! PM_FUZZ_REPORT="$report" "$out/$t" "${opts[@]}" -detect_leaks=0 "${seed_files[@]}" \
        >"$out/$t.seeds.log" 2>&1; then
        tail -n 40 "$out/$t.seeds.log"
        echo "fuzz: $t: a seed fails (log: $out/$t.seeds.log)"
        failed+=("$t:seeds")
    fi
    n_seeds=${#seed_files[@]}
    n_lines=$(wc -l <"$report" 2>/dev/null || echo 0)
    n_deep=$(grep -cE '^(deep|ok)' "$report" 2>/dev/null || true)
    pct=$((n_seeds ? 100 * n_deep / n_seeds : 0))
    echo "fuzz: $t: $n_deep of $n_seeds seeds reach the deep code ($pct%, need $(min_deep "$t")%)"
    if [ "$n_lines" -ne "$n_seeds" ]; then
        echo "fuzz: $t: $n_lines report lines for $n_seeds seeds"
        failed+=("$t:seed-report")
    elif [ "$pct" -lt "$(min_deep "$t")" ]; then
        grep -v -E '^(deep|ok)' "$report" | sort | uniq -c | sort -rn | head -n 10
        echo "fuzz: $t: too many seeds stop at the first checks (format drift?)"
        failed+=("$t:seed-depth")
    fi
    if [ "$t" = fuzz_config ]; then
        # A valid config seed that stops loading means the schema moved away
        # from the seeds: the success-path oracles would go untested.
        for i in "${!seed_files[@]}"; do
            case $(basename "${seed_files[$i]}") in good_*)
                line=$(sed -n "$((i + 1))p" "$report")
                if [ "$line" != ok ]; then
                    echo "fuzz: $t: ${seed_files[$i]} does not load: $line"
                    failed+=("$t:$(basename "${seed_files[$i]}")")
                fi ;;
            esac
        done
    fi

    regs=()
    for d in "fuzz/regressions/$t" "$out/regressions/$t"; do
        [ -d "$d" ] || continue
        while IFS= read -r -d '' f; do regs+=("$f"); done \
            < <(find "$d" -type f ! -name '*.md' -print0 | sort -z)
    done
    # One run per input: libFuzzer stops at the first crash of a run.
    ((${#regs[@]})) && echo "fuzz: $t: replaying ${#regs[@]} regression input(s)"
    for f in "${regs[@]}"; do
        log="$out/$t.regression.$(basename "$f").log"
        if ! "$out/$t" "${opts[@]}" "$f" >"$log" 2>&1; then
            grep -E '^(==[0-9]+==ERROR|SUMMARY|    #[0-4] |fuzz_[a-z]+: )' "$log" | head -n 20 || true
            echo "fuzz: $t: regression input $f fails (log: $log)"
            failed+=("$t:$(basename "$f")")
        fi
    done

    echo "fuzz: $t: fuzzing for ${secs}s"
    if "$out/$t" "${opts[@]}" "${dict[@]}" -max_total_time="$secs" \
        -artifact_prefix="$out/artifacts/$t/" "$out/corpus/$t" "$seeds" \
        >"$out/$t.log" 2>&1; then
        grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^#[0-9]+ +DONE' "$out/$t.log" || true
    else
        tail -n 60 "$out/$t.log"
        echo "fuzz: $t: FAILED (log: $out/$t.log, input: $out/artifacts/$t/)"
        failed+=("$t")
    fi
done

if ((${#failed[@]})); then
    echo "fuzz: failures: ${failed[*]}"
    exit 1
fi
echo "fuzz: all targets ok"
