#!/usr/bin/env bash
# Disk planning (DESIGN 2): `plan` states what the work directory (spills)
# and the output will need, and the estimate is within 10% of what a run
# used (spills) on generated corpora; `run` refuses up front (exit 2, before
# creating anything) a work directory whose file system clearly cannot hold
# the spills, unless --no-space-check.
. "$(dirname "$0")/lib.sh"

# "needs ~12.3 MiB" of the work directory / output line of `plan`, in bytes.
needs() { # PLAN_OUTPUT WHICH(work|output)
    local label=$2
    [ "$label" = work ] && label="work directory"
    sed -n "s/^  $label .*: needs ~\([0-9.]*\) \([KMGT]*i*B\).*/\1 \2/p" "$1" | awk '
        {m = 1; if ($2 == "KiB") m = 1024; if ($2 == "MiB") m = 1048576; if ($2 == "GiB") m = 1073741824
         printf "%d\n", $1 * m}'
}
within() { # EST ACTUAL PERCENT
    awk -v e="$1" -v a="$2" -v p="$3" 'BEGIN { d = e - a; if (d < 0) d = -d; exit !(a > 0 && d <= a * p / 100) }'
}

# small-gz: the small corpus as .jsonl.gz (gzip -6), the sample read
# through the same document source as the run (every format, not only zstd).
for case in "demo 21 8M" "small 22 6M" "large 23 12M" "small-gz 24 12M"; do
    set -- $case
    profile=$1 seed=$2 size=$3
    rm -rf "$T/data" "$T/out" "$T/out.work"
    "$GENCORPUS" --out "$T/data" --seed "$seed" --size "$size" --profile "${profile%-gz}" >/dev/null
    if [ "$profile" != "${profile%-gz}" ]; then
        find "$T/data" -name '*.jsonl.zst' | while read -r z; do
            zstd -qdc -- "$z" | gzip -6 >"${z%.zst}.gz" && rm -f -- "$z"
        done
    fi
    comps=""
    for d in "$T/data"/*/; do
        [ -d "$d" ] || continue
        n=$(basename "$d")
        comps="$comps${comps:+, }{\"name\": \"$n\", \"paths\": [\"$d\"], \"epochs\": 1.7}"
    done
    cat >"$T/cfg.json" <<JSON
{"name": "space", "seed": 1, "components": [$comps],
 "output": {"dir": "$T/out", "train_shards": 5, "val_fraction": 0.02, "test_fraction": 0.01},
 "run": {"on_bad_record": "skip", "mem_per_rank": "64M"}}
JSON
    "$PILEMIX" plan "$T/cfg.json" >"$T/plan.txt"
    est=$(needs "$T/plan.txt" work)
    out_est=$(needs "$T/plan.txt" output)
    pm 2 run "$T/cfg.json" --keep-work --progress 0 >/dev/null
    used=$(cat "$T/out.work/spill"/* | wc -c)
    out_used=$(cat "$T/out"/*.jsonl.zst "$T/out"/train/*.jsonl.zst | wc -c)
    if within "$est" "$used" 10; then
        ok "$profile corpus: plan's spill estimate $est bytes, the run used $used (within 10%)"
    else
        cat "$T/plan.txt"; not_ok "$profile: spill estimate $est vs $used used"
    fi
    if within "$out_est" "$out_used" 25; then
        ok "$profile corpus: output estimate $out_est bytes, written $out_used (within 25%)"
    else
        not_ok "$profile: output estimate $out_est vs $out_used written"
    fi
done

# The start line comes at once, with what the job is about to do; more
# ranks than output files draws a warning with the fix.
sed 's/"train_shards": 5/"train_shards": 1/' "$T/cfg.json" >"$T/cfg1.json"
pm 4 run "$T/cfg1.json" --force --progress 30 >/dev/null 2>"$T/start.log"
if grep -qE '^pilemix: start: [0-9]+ input files \(.* on disk, ~.* uncompressed\), 4 ranks at mem_per_rank 64.0 MiB, 3 output files \(1 train shards, val, test\), the work directory needs ~.* for spills$' "$T/start.log" &&
    grep -q '^pilemix: warning: 4 ranks but 3 output files: 1 ranks will idle in the gather.*raise output.train_shards to at least 2' "$T/start.log"; then
    ok "start line and the idle-ranks warning"
else
    cat "$T/start.log"; not_ok "start line / idle warning"
fi

# A work directory on a file system far too small: refused before anything
# is created, naming need and free; --no-space-check goes ahead (and then
# runs out of space like any full disk).
mnt="$T/small-fs"
mkdir -p "$mnt"
if mount -t tmpfs -o size=1m tmpfs "$mnt" 2>/dev/null; then
    trap 'umount "$mnt" 2>/dev/null || true; rm -rf "$T"' EXIT
    rm -rf "$T/out"
    if expect_fail 2 "spills need about .* MiB and the work directory's file system has .* free.*--no-space-check" \
        pm 1 run "$T/cfg.json" --work-dir "$mnt/work" --progress 0 &&
        [ ! -e "$mnt/work" ] && [ ! -e "$T/out" ]; then
        ok "refused up front: $(grep -o 'the spills need.*free' "$T/stderr")"
    else
        not_ok "a work directory on a 1 MiB file system was not refused up front"
    fi
    if expect_fail 1 "No space left on device" pm 1 run "$T/cfg.json" --work-dir "$mnt/work" \
        --no-space-check --progress 0; then
        ok "--no-space-check runs anyway (and fails on the full disk, exit 1)"
    else
        not_ok "--no-space-check"
    fi
else
    skip "cannot mount a tmpfs here: the refusal case needs a small file system"
fi
finish
