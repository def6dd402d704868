#!/usr/bin/env bash
# bench/run.sh - pilemix benchmark: CPU per GB emitted against a floor, wall time
# and speedup at 1 and 2 ranks, documents per second, peak RSS per rank, and a
# memory-bound run. Method and latest figures: BENCHMARKS.md.
#
#   bench/run.sh                      full run: two 2G corpora (large and small docs)
#   BENCH_SIZE=256M bench/run.sh      quick run (a few minutes)
#
# Environment (all optional):
#   BENCH_SIZE     text per corpus, as pilemix-gencorpus --size takes it (default 2G)
#   BENCH_SEED     corpus seed (default 1)
#   BENCH_PROFILES corpora to run (default "large small small-gz many dups"): large and
#                  small from pilemix-gencorpus at BENCH_SIZE; PROFILE-gz is corpus PROFILE
#                  with every input recompressed as .jsonl.gz (gzip -6), its floor `zcat` in
#                  place of `zstd -dc`; many: BENCH_MANY_FILES (default 20000) tiny .jsonl
#                  files; dups: BENCH_DUP_COPIES (default 1000000) copies of one text that
#                  falls in val, and a third as many identical train texts
#   BENCH_SPILL_COMP spill_compression settings measured besides "none" (default "fast 1")
#   BENCH_RANKS    rank counts (default "1 2")
#   BENCH_MEM      budget of the memory-bound runs (default 256M; target = budget + 64 MiB)
#   BENCH_REPS     repeat every measurement, keep the one with least CPU (default 1)
#   BENCH_BUILD    build dir, configured --buildtype=release (default build-bench)
#   BENCH_KEEP=1   keep outputs and the uncompressed output under bench/cache/run/
#
# What it does, per corpus:
#   1. generates the corpus once into bench/cache/corpus-PROFILE-SIZE-seedN/ (gitignored;
#      pilemix-gencorpus is deterministic, so the cache key is the full input);
#   2. writes bench/cache/run/PROFILE.json: one component per corpus directory, epochs
#      cycling 1.0/1.5/2.0/0.8, val 0.001, test 0.001, 30 train shards, zstd level 3,
#      on_bad_record skip, default mem_per_rank (2 GiB);
#   3. measures the floor on the same data: CPU of `zstd -dc` over every input (`cat` for
#      plain .jsonl) plus CPU of `zstd -3 -T1` over the bytes pilemix emits (pilemix's
#      uncompressed output, written once to a file); and the by-hand pipeline
#      `zstdcat inputs | shuf | zstd -3 -T1`;
#   4. runs `mpirun -np N bench/rss-wrap.sh DIR pilemix run CFG --force --progress 0` for
#      each N, under /usr/bin/time (CPU of the whole mpirun process tree), the wrapper
#      recording each rank's peak RSS; then the same with --mem-per-rank $BENCH_MEM;
#      mpirun's default binding applies (-np 1 and 2: each rank bound to one core), and
#      one more 1-rank run with --bind-to none shows a single rank using every core;
#      checks every run's XXH128SUMS against the first (the output must not depend on
#      ranks or budget);
#   5. prints a table and appends it, with date, git commit and nproc, to
#      bench/results/latest.txt.
# Not a test: it exits 0 whatever pilemix does (failures show in the table), and
# non-zero only when the harness itself cannot work (missing tool, build broken).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

size=${BENCH_SIZE:-2G}
seed=${BENCH_SEED:-1}
profiles=${BENCH_PROFILES:-large small small-gz many dups}
many_files=${BENCH_MANY_FILES:-20000}
dup_copies=${BENCH_DUP_COPIES:-1000000}
spill_comps=${BENCH_SPILL_COMP:-fast 1}
ranks_list=${BENCH_RANKS:-1 2}
membudget=${BENCH_MEM:-256M}
reps=${BENCH_REPS:-1}
builddir=${BENCH_BUILD:-build-bench}
cache=$root/bench/cache
run=$cache/run
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export LC_ALL=C

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

# --------------------------------------------------------------------------
# Tools and build

if [ ! -x /usr/bin/time ]; then
    log "installing GNU time (/usr/bin/time)"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null ||
        die "/usr/bin/time missing and could not be installed (apt-get install time)"
fi
for t in zstd zstdcat shuf jq mpirun meson ninja awk; do
    command -v "$t" >/dev/null || die "missing tool: $t (./jobs/setup.sh installs most)"
done

build() {
    if [ ! -f "$builddir/build.ninja" ]; then
        meson setup "$builddir" --buildtype=release >/dev/null || return 1
    fi
    ninja -C "$builddir" pilemix pilemix-gencorpus >/dev/null
}
# Others may be mid-edit in src/: retry a broken build a few times.
for attempt in 1 2 3 4; do
    build && break
    [ "$attempt" -eq 4 ] && die "build failed in $builddir (4 attempts)"
    log "build failed (attempt $attempt), retrying in 60 s"
    sleep 60
done
# The commit the binary is built from (others may commit while this runs).
commit=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
dirty=$(git status --porcelain -- src include tools meson.build 2>/dev/null | wc -l)
[ "$dirty" -gt 0 ] && commit="$commit (+$dirty uncommitted changes in src/include/tools)"
pilemix=$root/$builddir/pilemix
gencorpus=$root/$builddir/pilemix-gencorpus
bt=$(meson introspect "$builddir" --buildoptions 2>/dev/null |
     jq -r '.[] | select(.name=="buildtype") | .value' 2>/dev/null || echo "?")

mkdir -p "$run" "$root/bench/results"
tdir=$(mktemp -d "$run/t.XXXXXX") || die "cannot create a temp dir under $run"
trap 'rm -rf "$tdir"' EXIT

# Sizes: "256M", "2G", "2GiB", bytes -> bytes (binary units, as pilemix reads them).
to_bytes() {
    awk -v s="$1" 'BEGIN {
        n = s + 0; u = toupper(substr(s, length(n "") + 1)); sub(/I?B$/, "", u);
        m = (u == "K") ? 2^10 : (u == "M") ? 2^20 : (u == "G") ? 2^30 : (u == "T") ? 2^40 : 1;
        printf "%.0f\n", n * m }'
}
membytes=$(to_bytes "$membudget")
f() { awk "BEGIN { printf \"$1\", $2 }"; }   # f FORMAT EXPR: float arithmetic

# timed NAME CMD...: run CMD BENCH_REPS times under /usr/bin/time; keep in
# $tdir/NAME.time "wall user sys maxrss_KiB" of the rep with the least CPU.
# Returns CMD's status (of the last rep).
timed() {
    local name=$1 rc=0 best="" r
    shift
    for ((r = 1; r <= reps; r++)); do
        /usr/bin/time -f "%e %U %S %M" -o "$tdir/$name.try" "$@"
        rc=$?
        if [ -z "$best" ] || awk -v a="$(cat "$tdir/$name.try")" -v b="$best" \
            'BEGIN { split(a, x, " "); split(b, y, " "); exit !(x[2]+x[3] < y[2]+y[3]) }'; then
            best=$(tail -n 1 "$tdir/$name.try")
        fi
    done
    echo "$best" >"$tdir/$name.time"
    return $rc
}
tget() { awk -v i="$2" '{ print $i }' "$tdir/$1.time"; }      # tget NAME FIELD
tcpu() { awk '{ printf "%.2f", $2 + $3 }' "$tdir/$1.time"; }

# --------------------------------------------------------------------------
# Corpora and configs

corpus_dir() {
    case $1 in
    many) echo "$cache/corpus-many-$many_files" ;;
    dups) echo "$cache/corpus-dups-$dup_copies" ;;
    *) echo "$cache/corpus-$1-$size-seed$seed" ;;
    esac
}

# split_of TEXT: "val" or "train" for TEXT in the dups config (seed 42, val 0.5):
# the split is a keyed hash of the text, so ask pilemix on a one-line corpus.
split_of() {
    local d=$tdir/split
    rm -rf "$d" && mkdir -p "$d/in"
    printf '{"text": "%s"}\n' "$1" >"$d/in/a.jsonl"
    printf '{"name": "s", "seed": 42, "components": [{"name": "V", "paths": ["in"], "epochs": 1}],
             "output": {"dir": "o", "train_shards": 2, "val_fraction": 0.5}}' >"$d/c.json"
    "$pilemix" run "$d/c.json" --progress 0 >/dev/null 2>&1 || return 1
    if [ "$(zstdcat "$d/o/val.jsonl.zst" | wc -l)" -eq 1 ]; then echo val; else echo train; fi
}

make_corpus() {
    local p=$1 d
    d=$(corpus_dir "$p")
    [ -f "$d/.complete" ] && return 0
    if [ "${p%-gz}" != "$p" ]; then
        # The same documents as .jsonl.gz, as Dolma-style corpora ship.
        local base x rel
        make_corpus "${p%-gz}"
        base=$(corpus_dir "${p%-gz}")
        log "recompressing the ${p%-gz} corpus as .jsonl.gz (gzip -6) into ${d#$root/} (once)"
        rm -rf "$d"
        while IFS= read -r x; do
            rel=${x#$base/}
            rel=${rel%.zst}
            mkdir -p "$(dirname "$d/$rel")"
            case $x in
            *.zst) zstd -qdc -- "$x" | gzip -6 >"$d/$rel.gz" ;;
            *) gzip -6 -c -- "$x" >"$d/$rel.gz" ;;
            esac
        done < <(inputs "${p%-gz}")
        date -u +%FT%TZ >"$d/.complete"
        return 0
    fi
    rm -rf "$d"
    case $p in
    many)
        log "generating the many-files corpus ($many_files files) into ${d#$root/} (once)"
        mkdir -p "$d/a" "$d/b"
        awk -v n="$many_files" -v dir="$d" 'BEGIN {
            for (i = 0; i < n; i++) {
                f = sprintf("%s/%s/f%06d.jsonl", dir, i % 7 == 0 ? "b" : "a", i)
                for (j = 0; j <= i % 9; j++)
                    printf "{\"text\": \"file %d doc %d %s\"}\n", i, j,
                           substr("lorem ipsum dolor sit amet consectetur adipiscing elit sed do", 1, 10 + (i * 7 + j) % 50) > f
                close(f)
            } }'
        ;;
    dups)
        log "generating the duplicate-heavy corpus ($dup_copies copies) into ${d#$root/} (once)"
        local pad t val="" train="" i
        pad=$(printf 'lorem ipsum dolor sit amet %.0s' $(seq 1 7))
        for i in $(seq 1 60); do
            t="copy $i $pad"
            case $(split_of "$t") in
            val) [ -n "$val" ] || val=$t ;;
            train) [ -n "$train" ] || train=$t ;;
            esac
            [ -n "$val" ] && [ -n "$train" ] && break
        done
        [ -n "$val" ] && [ -n "$train" ] || die "dups: no texts of known split found"
        mkdir -p "$d/v" "$d/t"
        yes "{\"text\": \"$val\"}" | head -n "$dup_copies" >"$d/v/copies.jsonl"
        yes "{\"text\": \"$train\"}" | head -n $((dup_copies / 3)) >"$d/t/same.jsonl"
        ;;
    *)
        log "generating the $p corpus ($size, seed $seed) into ${d#$root/} (once)"
        "$gencorpus" --out "$d" --profile "$p" --size "$size" --seed "$seed" >"$run/gen-$p.log" 2>&1 ||
            { cat "$run/gen-$p.log" >&2; die "pilemix-gencorpus failed"; }
        ;;
    esac
    date -u +%FT%TZ >"$d/.complete"
}

# Inputs of a corpus, one per line, sorted (what the floor and shuf read).
inputs() { find "$(corpus_dir "$1")" -type f \( -name '*.jsonl.zst' -o -name '*.jsonl' -o -name '*.jsonl.gz' \) | sort; }

# Decompress every input to stdout (zstd -dc for .zst, cat for plain).
catinputs() {
    local x
    while IFS= read -r x; do
        case $x in
        *.zst) zstd -qdc -- "$x" ;;
        *.gz) gzip -dc -- "$x" ;;
        *) cat -- "$x" ;;
        esac
    done < <(inputs "$1")
}
export -f inputs catinputs corpus_dir
export cache size seed many_files dup_copies

write_config() {
    local p=$1 d i=0 comps="" e
    local epochs=(1.0 1.5 2.0 0.8)
    d=$(corpus_dir "$p")
    for c in $(find "$d" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort); do
        e=${epochs[$((i % 4))]}
        comps+="${comps:+,}
    {\"name\": \"$c\", \"paths\": [\"$d/$c\"], \"epochs\": $e}"
        i=$((i + 1))
    done
    local val=0.001 test=0.001
    [ "$p" = dups ] && val=0.5 test=0
    cat >"$run/$p.json" <<EOF
{
  "name": "bench-$p",
  "seed": 42,
  "components": [$comps
  ],
  "output": {"dir": "$run/out-$p", "train_shards": 30, "val_fraction": $val,
             "test_fraction": $test, "zstd_level": 3, "keep_meta": true},
  "run": {"work_dir": "$run/work-$p", "on_bad_record": "skip"}
}
EOF
    # The same job with compressed spills (run.spill_compression).
    local z
    for z in $spill_comps; do
        sed "s/\"on_bad_record\": \"skip\"}/\"on_bad_record\": \"skip\", \"spill_compression\": \"$z\"}/" \
            "$run/$p.json" >"$run/$p-z$z.json"
    done
}

# --------------------------------------------------------------------------
# Measurements

rows=()      # table rows, tab-separated
notes=()

# pilemix_run PROFILE NAME RANKS [extra run args]: one measured run. Leaves
# $tdir/NAME.time (mpirun tree), $tdir/NAME.ranks ("rank rss_KiB cpu_s" lines),
# $tdir/NAME.status.
# mpirun's default binding applies (each rank bound to a core for -np <= 2);
# MPIRUN_OPTS adds options, e.g. --bind-to none.
pilemix_run() {
    local p=$1 name=$2 n=$3 rd rc
    shift 3
    rd=$tdir/$name.rss
    rm -rf "$rd"
    mkdir -p "$rd"
    log "$p: pilemix run, $n rank(s) $*"
    # shellcheck disable=SC2086 # MPIRUN_OPTS is a list of words
    timed "$name" mpirun --oversubscribe ${MPIRUN_OPTS:-} -np "$n" "$root/bench/rss-wrap.sh" "$rd" \
        "$pilemix" run "$run/${BENCH_CFG:-$p}.json" --force --progress 0 "$@" >"$tdir/$name.log" 2>&1
    rc=$?
    : >"$tdir/$name.ranks"
    for ((r = 0; r < n; r++)); do
        if [ -s "$rd/rank.$r" ]; then
            tail -n 1 "$rd/rank.$r" | awk -v r="$r" '{ printf "%d %d %.2f\n", r, $1, $2 + $3 }' >>"$tdir/$name.ranks"
        else
            echo "$r 0 0" >>"$tdir/$name.ranks"
        fi
    done
    if [ $rc -ne 0 ]; then
        echo "FAIL(exit $rc)" >"$tdir/$name.status"
        log "$p: pilemix failed (exit $rc):"
        tail -n 5 "$tdir/$name.log" >&2
    elif [ ! -f "$tdir/$p.sums" ]; then
        cp "$run/out-$p/XXH128SUMS" "$tdir/$p.sums"
        echo "ok" >"$tdir/$name.status"
    elif cmp -s "$run/out-$p/XXH128SUMS" "$tdir/$p.sums"; then
        echo "ok" >"$tdir/$name.status"
    else
        echo "DIFFERS" >"$tdir/$name.status"
        notes+=("$p $name: output differs from the first run (XXH128SUMS)!")
    fi
    return $rc
}

rss_list() { awk '{ printf "%s%d", (NR > 1 ? "/" : ""), $2 / 1024 }' "$tdir/$1.ranks"; }
rss_max() { awk 'BEGIN { m = 0 } { if ($2 > m) m = $2 } END { print m }' "$tdir/$1.ranks"; }
rank_cpu() { awk '{ s += $3 } END { printf "%.2f", s }' "$tdir/$1.ranks"; }

bench_profile() {
    local p=$1 files inbytes injson emitted docs gb floor n name wall cpu w1="" wlast="" wfree=""
    make_corpus "$p"
    write_config "$p"
    files=$(inputs "$p" | wc -l)
    inbytes=$(inputs "$p" | tr '\n' '\0' | xargs -0 stat -c %s | awk '{ s += $1 } END { print s }')
    log "$p: $files input files, $inbytes bytes on disk; warming the page cache"
    injson=$(catinputs "$p" | wc -c)

    # floor, part 1: decompress every input once
    log "$p: floor: zstd -dc over the inputs"
    timed "$p.dec" bash -c "catinputs $p >/dev/null"
    # by-hand pipeline
    log "$p: by hand: zstdcat | shuf | zstd -3 -T1"
    timed "$p.shuf" bash -c "catinputs $p | shuf | zstd -q -3 -T1 >/dev/null"

    # pilemix runs (the first one is the reference output)
    local first=""
    for n in $ranks_list; do
        name=$p.r$n
        pilemix_run "$p" "$name" "$n"
        if [ -z "$first" ] && [ "$(cat "$tdir/$name.status")" = ok ]; then
            first=$name
            emitted=$(jq '[.files[].uncompressed_bytes] | add' "$run/out-$p/manifest.json")
            docs=$(jq '[.files[].documents] | add' "$run/out-$p/manifest.json")
            # floor, part 2: zstd -3 over the bytes pilemix emits
            log "$p: floor: zstd -3 -T1 over pilemix's uncompressed output"
            zstdcat "$run/out-$p"/train/*.jsonl.zst "$run/out-$p/val.jsonl.zst" \
                "$run/out-$p/test.jsonl.zst" >"$run/emitted-$p.jsonl"
            local got
            got=$(stat -c %s "$run/emitted-$p.jsonl")
            [ "$got" = "$emitted" ] || notes+=("$p: uncompressed output is $got bytes, manifest says $emitted")
            timed "$p.comp" zstd -q -3 -T1 -c "$run/emitted-$p.jsonl" >/dev/null
            [ "${BENCH_KEEP:-0}" = 1 ] || rm -f "$run/emitted-$p.jsonl"
        fi
    done
    for n in $ranks_list; do
        pilemix_run "$p" "$p.m$n" "$n" --mem-per-rank "$membudget"
    done
    # One rank left free to use every core (its zstd workers take the
    # spare ones): what a user gets with --bind-to none.
    MPIRUN_OPTS="--bind-to none" pilemix_run "$p" "$p.u1" 1
    local z
    for z in $spill_comps; do
        BENCH_CFG=$p-z$z pilemix_run "$p" "$p.z$z" 1
    done
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$run/out-$p" "$run/work-$p"

    if [ -z "$first" ]; then
        rows+=("$p	pilemix failed at every rank count: no figures	")
        return 0
    fi
    gb=$(f %.4f "$emitted / 1e9")
    floor=$(f %.2f "$(tcpu "$p.dec") + $(tcpu "$p.comp")")
    local fwall
    fwall=$(f %.1f "$(tget "$p.dec" 1) + $(tget "$p.comp" 1)")
    local dec="zstd -dc"
    [ "${p%-gz}" != "$p" ] && dec="zcat"
    rows+=("$p	floor: $dec + zstd -3 -T1	-	$fwall	$floor	$(f %.2f "$floor / $gb")	1.00	-	-	-	dec $(tcpu "$p.dec") s + comp $(tcpu "$p.comp") s")
    local sgb scpu
    sgb=$(f %.4f "$injson / 1e9")
    scpu=$(tcpu "$p.shuf")
    rows+=("$p	by hand: zstdcat|shuf|zstd -3	-	$(tget "$p.shuf" 1)	$scpu	$(f %.2f "$scpu / $sgb")	$(f %.2f "($scpu / $sgb) / ($floor / $gb)")	-	-	$(($(tget "$p.shuf" 4) / 1024))	no epochs/splits: emits $(f %.2f "$sgb") GB")
    local kinds="r m u"
    for z in $spill_comps; do kinds="$kinds z$z"; done
    for kind in $kinds; do
        for n in $ranks_list; do
            name=$p.$kind$n
            [ "${kind#z}" != "$kind" ] && name=$p.$kind
            local st label sp="-" extra
            [ "$kind" = u ] && [ "$n" != 1 ] && continue
            [ "${kind#z}" != "$kind" ] && [ "$n" != 1 ] && continue
            st=$(cat "$tdir/$name.status")
            label="pilemix"
            [ "$kind" = m ] && label="pilemix --mem-per-rank $membudget"
            [ "$kind" = u ] && label="pilemix, mpirun --bind-to none"
            [ "${kind#z}" != "$kind" ] && label="pilemix, spill_compression ${kind#z}"
            if [ "$st" != ok ] && [ "$st" != DIFFERS ]; then
                rows+=("$p	$label	$n	$(tget "$name" 1)	-	-	-	-	-	-	$st")
                continue
            fi
            wall=$(tget "$name" 1)
            cpu=$(tcpu "$name")
            if [ "${kind#z}" != "$kind" ]; then
                extra="rank CPU $(rank_cpu "$name") s"
            elif [ "$kind" = r ]; then
                [ -z "$w1" ] && w1=$wall
                [ "$n" != "$(echo $ranks_list | awk '{ print $1 }')" ] && sp=$(f %.2f "$w1 / $wall")
                extra="rank CPU $(rank_cpu "$name") s"
                wlast=$wall
            elif [ "$kind" = u ]; then
                extra="rank CPU $(rank_cpu "$name") s"
                wfree=$wall
            else
                local lim
                lim=$((membytes / 1024 + 65536))
                extra="target $((lim / 1024)) MiB: $(awk -v m="$(rss_max "$name")" -v l="$lim" \
                    'BEGIN { print (m <= l ? "within" : "OVER") }')"
            fi
            # pilemix's own summary: "time: T s (scatter A s, gather B s) on N ranks; P gather passes ..."
            extra="$extra; $(sed -n 's/^time: .*(\(scatter [0-9.]* s\), \(gather [0-9.]* s\)).*; \([0-9]*\) gather passes.*/\1, \2, \3 passes/p' "$tdir/$name.log" | tail -n 1)"
            # and its spill line: "spill: X MB in S streams, R runs; gather read N calls (K per
            # GB emitted), Y MB, at most F spill files open per rank"
            local smb sline
            smb=$(sed -n 's/^spill: \([0-9.]*\) MB in .*/\1/p' "$tdir/$name.log" | tail -n 1)
            sline=$(sed -n 's/^spill: .* \([0-9]*\) runs; gather read [0-9]* calls (\([0-9]*\) per GB emitted), [0-9.]* MB, at most \([0-9]*\) spill.*/\1 runs, \2 reads\/GB, \3 files open/p' "$tdir/$name.log" | tail -n 1)
            [ -n "$smb" ] && extra="$extra; spill $smb MB = $(f %.2f "$smb * 1e6 / $emitted") B/B emitted, $sline"
            [ "$st" = DIFFERS ] && extra="$extra; OUTPUT DIFFERS"
            rows+=("$p	$label	$n	$wall	$cpu	$(f %.2f "$cpu / $gb")	$(f %.2f "($cpu / $gb) / ($floor / $gb)")	$sp	$(f %.0f "$docs / $wall")	$(rss_list "$name")	$extra")
        done
    done
    if [ -n "$w1" ] && [ -n "$wlast" ] && [ "$w1" != "$wlast" ]; then
        local msg
        msg="$p: wall of $(echo $ranks_list | awk '{ print $NF }') ranks / 1 rank: $(f %.2f "$wlast / $w1") (default binding: 1 rank = 1 core)"
        [ -n "$wfree" ] && msg="$msg; $(f %.2f "$wlast / $wfree") against 1 rank unbound (--bind-to none, zstd worker on the spare core)"
        notes+=("$msg")
    fi
    # The memory-bound run must shuffle well over the budget: compare what it
    # emits (epoch copies included) with the budget.
    local ratio
    ratio=$(f %.1f "$emitted / $membytes")
    notes+=("$p: $files inputs, $(f %.2f "$inbytes / 1e9") GB on disk, $(f %.2f "$injson / 1e9") GB JSON in; pilemix emits $(f %.2f "$emitted / 1e9") GB (uncompressed), $docs documents")
    if awk -v r="$ratio" 'BEGIN { exit !(r < 10) }'; then
        notes+=("$p: memory-bound run: output is only ${ratio}x the $membudget budget (BENCH_SIZE=$size), below the 10x that makes it a real test")
    else
        notes+=("$p: memory-bound run: output is ${ratio}x the $membudget budget")
    fi
}

start=$(date -u +%FT%TZ)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for p in $profiles; do
    bench_profile "$p"
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# --------------------------------------------------------------------------
# Report

report() {
    echo "pilemix benchmark  $start  commit $commit  $("$pilemix" --version 2>/dev/null | head -n 1)"
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 2^20 }' /proc/meminfo), $(uname -m); load avg $load0 (start) -> $load1 (end)"
    echo "BENCH_SIZE=$size seed=$seed reps=$reps build=$builddir ($bt); CPU = user+sys seconds, GB = 1e9 bytes emitted (uncompressed)"
    echo
    {
        printf 'corpus\tmeasurement\tranks\twall_s\tcpu_s\tcpu_s/GB\tx_floor\tspeedup\tdocs/s\tpeak_RSS_MiB/rank\tnotes\n'
        printf '%s\n' "${rows[@]}"
    } | awk -F'\t' '
        { for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR; if (NF > nf) nf = NF }
        END { for (r = 1; r <= n; r++) { line = ""
                for (i = 1; i <= nf; i++) line = line (i == nf ? c[r, i] : sprintf(i <= 2 ? "%-*s  " : "%*s  ", w[i], c[r, i]))
                sub(/ +$/, "", line); print line } }'
    echo
    for x in "${notes[@]}"; do echo "- $x"; done
    echo "- x_floor = (CPU per GB) / (floor CPU per GB); the by-hand row uses its own output size."
    echo "- pilemix cpu_s is the whole mpirun process tree (launcher included); 'rank CPU' sums the ranks alone."
}
report | tee "$tdir/report.txt"
{
    echo "=============================================================================="
    cat "$tdir/report.txt"
    echo
} >>"$root/bench/results/latest.txt"
log "appended to bench/results/latest.txt"
exit 0
