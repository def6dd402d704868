#!/usr/bin/env bash
# Fuzz the core library: build the libFuzzer targets in fuzz/ with clang
# (-fsanitize=fuzzer,address,undefined) against the core sources, replay the
# saved crash inputs in fuzz/regressions/<target>/, then fuzz each target for
# SECONDS (default 30) starting from fuzz/corpus/<target>/.
#
#   jobs/fuzz.sh [SECONDS]          CI runs `jobs/fuzz.sh 20`
#   FUZZ_TARGETS="fuzz_record" jobs/fuzz.sh 600    one target only
#
# Exits 1 when any target crashes, fails an oracle check, leaks, times out or
# runs out of memory (libFuzzer writes the input to build-fuzz/artifacts/);
# replay one input with `build-fuzz/<target> FILE`. New corpus entries go to
# build-fuzz/corpus/<target>/, never into the source tree.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-30}
if ! [[ $secs =~ ^[0-9]+$ ]]; then
    echo "usage: jobs/fuzz.sh [SECONDS]" >&2
    exit 2
fi
out=${FUZZ_BUILDDIR:-build-fuzz}
targets=(${FUZZ_TARGETS:-fuzz_record fuzz_config fuzz_spill})

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
install_missing clang libzstd-dev libxxhash-dev libjansson-dev
clang_major=$(clang -dumpversion | cut -d. -f1)
install_missing "libclang-rt-${clang_major}-dev"

# --- build -----------------------------------------------------------------
CC=${CC:-clang}
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
# The core guard dir keeps mpi.h out of the core library, as in meson.build.
common=(-std=c11 -g -O1 -fno-omit-frame-pointer $san -D_GNU_SOURCE '-DPM_VERSION="fuzz"'
        -Isrc/core_guard -Iinclude)
libs=(-lzstd -lxxhash -ljansson -lm -lpthread)

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

    regs=()
    if [ -d "fuzz/regressions/$t" ]; then
        while IFS= read -r -d '' f; do regs+=("$f"); done \
            < <(find "fuzz/regressions/$t" -type f ! -name '*.md' -print0 | sort -z)
    fi
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
        -artifact_prefix="$out/artifacts/$t/" "$out/corpus/$t" "fuzz/corpus/$t" \
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
