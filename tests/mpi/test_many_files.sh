#!/usr/bin/env bash
# Scale rule (DESIGN 2): the files a rank holds open and the gather's read
# calls do not grow with the number of input files. 20,000 tiny input files
# run under `ulimit -n 256` (soft and hard: pilemix cannot raise it) at 1 and
# 3 ranks, and after a kill in the gather and a --resume, with the bytes of a
# run under the usual limit. (Before the spill streams, each task had a spill
# file and the gather opened all of them: 1,500 files failed under 1024.)
. "$(dirname "$0")/lib.sh"

n=20000
mkdir -p "$T/data/a" "$T/data/b"
# Two components, files of 1-4 short documents; a few duplicate texts, so
# val holds duplicates too.
awk -v n="$n" -v dir="$T/data" 'BEGIN {
    for (i = 0; i < n; i++) {
        f = sprintf("%s/%s/f%05d.jsonl", dir, i % 7 == 0 ? "b" : "a", i)
        for (j = 0; j <= i % 4; j++)
            printf "{\"text\": \"file %d doc %d %s\"}\n", (i % 97 == 0 ? 0 : i), j,
                   substr("lorem ipsum dolor sit amet consectetur", 1, 5 + (i * 7 + j) % 30) > f
        close(f)
    }
}'
cat >"$T/cfg.json" <<JSON
{"name": "many", "seed": 3,
 "components": [{"name": "A", "paths": ["$T/data/a"], "epochs": 1.5},
                {"name": "B", "paths": ["$T/data/b"], "epochs": 1.0}],
 "output": {"dir": "$T/out", "train_shards": 4, "val_fraction": 0.05},
 "run": {"mem_per_rank": "64M"}}
JSON

# limited NP ARGS...: pilemix under mpirun with every process at 256 files.
limited() {
    local np=$1
    shift
    (ulimit -n 256 && timeout 600 mpirun --oversubscribe -np "$np" "$PILEMIX" "$@" </dev/null)
}

pm 2 run "$T/cfg.json" --progress 0 >"$T/ref.log"
cp -r "$T/out" "$T/ref"
if "$PMCHECK" "$T/cfg.json" >"$T/pmcheck.log" 2>&1; then
    ok "$n files, usual limit: pmcheck"
else
    tail -5 "$T/pmcheck.log"; not_ok "$n files: pmcheck"
fi

# The summary line: the gather's files and reads, whatever the input count.
spill_line_ok() { # LOG: at most 64 spill files open per rank, runs not ~ files
    local open runs
    open=$(sed -n 's/.*at most \([0-9]*\) spill files open per rank.*/\1/p' "$1")
    runs=$(sed -n 's/^spill: .* \([0-9]*\) runs;.*/\1/p' "$1")
    [ -n "$open" ] && [ "$open" -le 64 ] && [ -n "$runs" ] && [ "$runs" -lt 50 ]
}

for np in 1 3; do
    rm -rf "$T/out"
    if limited "$np" run "$T/cfg.json" --progress 0 >"$T/run$np.log" 2>&1 &&
        same_output "$T/ref" "$T/out" && spill_line_ok "$T/run$np.log"; then
        ok "$n files under ulimit -n 256, $np rank(s): identical; $(grep '^spill:' "$T/run$np.log")"
    else
        tail -5 "$T/run$np.log"; not_ok "$n files under ulimit -n 256, $np rank(s)"
    fi
done

# Killed after the second output file (one rank: the others are still to
# do), then resumed on 2 ranks, all under the limit.
rm -rf "$T/out"
rc=0
PILEMIX_FAULT=gather-file:file=1 limited 1 run "$T/cfg.json" --progress 0 >"$T/crash.log" 2>&1 || rc=$?
if fault_killed "$rc" "$T/crash.log" 'gather-file:file=1:n=1'; then
    if limited 2 run "$T/cfg.json" --resume --progress 0 >"$T/resume.log" 2>&1 &&
        same_output "$T/ref" "$T/out" &&
        grep -q "reused $n of $n scatter tasks" "$T/resume.log"; then
        ok "killed in the gather, resumed under ulimit -n 256: identical ($(grep -o 'reused.*' "$T/resume.log"))"
    else
        tail -5 "$T/resume.log"; not_ok "resume under ulimit -n 256"
    fi
else
    not_ok "gather-file:file=1: the run was not ended by the injected kill"
fi
finish
