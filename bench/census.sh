#!/usr/bin/env bash
# bench/census.sh - the census's cost (`pilemix plan --count`) against the
# floor of decompressing the same inputs, and the cache's effect on a second
# census and on a run weighed by shares. Figures: BENCHMARKS.md.
#
#   bench/census.sh                 a 512M mini-Pile (pilemix-gencorpus --profile pile-v1)
#   CENSUS_SIZE=2G bench/census.sh
#
# CPU is user + sys of the process tree (/usr/bin/time), the least of
# CENSUS_REPS (default 3) runs; the floor decompresses every input once as
# the census must: `zstd -dc` for .jsonl.zst/.json.zst, `tar -xOf | zstd
# -dc` for the tars of .jsonl.zst, `gzip -dc` for .tar.gz, `cat` for .txt.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${CENSUS_SIZE:-512M}
reps=${CENSUS_REPS:-3}
build=${CENSUS_BUILD:-build}
ninja -C "$build" >/dev/null
dir=$PWD/bench/cache/census-$size
export PILE_DATA=$dir/data
[ -d "$PILE_DATA" ] || "$build/pilemix-gencorpus" --profile pile-v1 --size "$size" --out "$PILE_DATA" >/dev/null
python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
c = json.load(open("configs/pile-v1.json"))
c["output"]["dir"] = d + "/out"
json.dump(c, open(d + "/pile-v1.json", "w"))
s = json.loads(json.dumps(c))
s["name"] = "pile-v1-shares"
s["output"]["dir"] = d + "/out-shares"
# The paper's mix as shares (raw GiB x epochs), at most 3 epochs each.
raw = [227.12, 90.27, 100.96, 62.77, 56.21, 95.16, 51.15, 32.20, 22.90, 19.26, 10.88,
       12.98, 6.38, 7.75, 5.52, 6.30, 4.59, 3.90, 3.73, 2.38, 1.89, 0.88]
eff = [r * comp["epochs"] for r, comp in zip(raw, s["components"])]
for comp, e in zip(s["components"], eff):
    del comp["epochs"]
    comp["share"] = e / sum(eff)
    comp["max_epochs"] = 3
s["components"][0]["share"] += 1 - sum(c["share"] for c in s["components"])
json.dump(s, open(d + "/shares.json", "w"))
PY
floor() {
    find "$PILE_DATA" \( -name '*.jsonl.zst' -o -name '*.json.zst' \) -print0 | xargs -0 zstd -dcq >/dev/null
    find "$PILE_DATA" -name '*.tar' -print0 | xargs -0 -n1 sh -c 'tar -xOf "$0" | zstd -dcq >/dev/null'
    find "$PILE_DATA" -name '*.tar.gz' -print0 | xargs -0 -n1 sh -c 'gzip -dc "$0" >/dev/null'
    find "$PILE_DATA" -name '*.txt' -print0 | xargs -0 cat >/dev/null
}
export -f floor
best() { # best CPU seconds and its wall time of "$@" over $reps runs
    local b="" w="" i t
    for i in $(seq "$reps"); do
        [ -z "${PRE:-}" ] || eval "$PRE"
        /usr/bin/time -o "$dir/time" -f '%U %S %e' "$@" >/dev/null 2>&1
        read -r u s e <"$dir/time"
        c=$(echo "$u + $s" | bc)
        if [ -z "$b" ] || [ "$(echo "$c < $b" | bc)" = 1 ]; then b=$c; w=$e; fi
    done
    echo "$b $w"
}
text=$("$build/pilemix" plan --count --json "$dir/pile-v1.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["text_bytes"])')
gb=$(echo "scale=6; $text / 10^9" | bc)
read -r fc fw <<<"$(best bash -c floor)"
read -r cc cw <<<"$(PRE="rm -f $dir/out.work/census.json" best "$build/pilemix" plan --count "$dir/pile-v1.json")"
read -r hc hw <<<"$(best "$build/pilemix" plan --count "$dir/pile-v1.json")"
read -r rc rw <<<"$(PRE="rm -rf $dir/out-shares $dir/out-shares.work" best "$build/pilemix" run "$dir/shares.json" --progress 0)"
read -r qc qw <<<"$(PRE="rm -rf $dir/out-shares" best "$build/pilemix" run "$dir/shares.json" --force --progress 0)"
echo "mini-Pile $size: $text bytes of text ($gb GB), $(du -sb "$PILE_DATA" | cut -f1) bytes on disk"
printf 'floor (decompress every input once)  CPU %6.2f s  (%.2f s/GB)  wall %s s\n' "$fc" "$(echo "$fc / $gb" | bc -l)" "$fw"
printf 'plan --count, cold cache           CPU %6.2f s  (%.2f s/GB, %.2fx the floor)  wall %s s\n' "$cc" "$(echo "$cc / $gb" | bc -l)" "$(echo "$cc / $fc" | bc -l)" "$cw"
printf 'plan --count, warm cache           CPU %6.2f s  wall %s s\n' "$hc" "$hw"
printf 'run with shares, cold cache        CPU %6.2f s  wall %s s\n' "$rc" "$rw"
printf 'run with shares, warm cache        CPU %6.2f s  wall %s s\n' "$qc" "$qw"
