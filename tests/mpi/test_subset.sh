#!/bin/bash
# Nested subsets (issue 14, point 4): the prefix property of the train order
# and `pilemix subset`, checked by tests/mpi/stages.py (plain Python over the
# files, no pilemix code).
. "$(dirname "$0")/lib.sh"
PY="python3 $(dirname "$0")/stages.py"

python3 "$(dirname "$0")/stages.py" gen "$T/data" 7
cat >"$T/cfg.json" <<JSON
{
  "name": "subset-test", "seed": 5,
  "components": [
    {"name": "A", "paths": ["$T/data/A"], "epochs": 1.0},
    {"name": "B", "paths": ["$T/data/B"], "epochs": 2.0},
    {"name": "C", "paths": ["$T/data/C"], "epochs": 0.5}
  ],
  "output": {"dir": "$T/out", "train_shards": 16, "val_fraction": 0.01, "test_fraction": 0.01}
}
JSON
pm 2 run "$T/cfg.json" --progress 0 >/dev/null

# Every prefix of k of S shards holds k/S of each component, of each source
# file and of each quarter of the files (by position), within 5 sigma.
if $PY prefix "$T/out" 5; then ok "prefix property: first k of S shards uniform by component, file, position"; else not_ok "prefix property"; fi

for p in 0.01 0.1 0.37 0.5 0.9375 1; do
    if "$PILEMIX" subset "$T/out" --fraction "$p" --into "$T/sub-$p" >"$T/log" 2>&1 &&
        "$PILEMIX" verify "$T/sub-$p" >>"$T/log" 2>&1 &&
        (cd "$T/sub-$p" && xxh128sum -c --quiet XXH128SUMS) >>"$T/log" 2>&1 &&
        $PY subset "$T/out" "$T/sub-$p" "$p" >>"$T/log"; then
        ok "subset --fraction $p: verified, the expected lines, counts in the manifest"
    else
        cat "$T/log"
        not_ok "subset --fraction $p"
    fi
done
nest=0
for pair in "0.01 0.1" "0.1 0.37" "0.37 0.5" "0.5 0.9375" "0.9375 1"; do
    set -- $pair
    $PY nested "$T/sub-$1" "$T/sub-$2" >/dev/null || nest=1
done
if [ $nest = 0 ]; then ok "subsets nested: 1% in 10% in 37% in 50% in 93.75% in 100%"; else not_ok "subsets nested"; fi
if same_output "$T/out/train" "$T/sub-1/train" && cmp -s "$T/out/val.jsonl.zst" "$T/sub-1/val.jsonl.zst"; then
    ok "subset --fraction 1 is the whole dataset"
else
    not_ok "subset --fraction 1 is the whole dataset"
fi

bytes=$(python3 -c "import json; m=json.load(open('$T/out/manifest.json')); print(sum(f['text_bytes'] for f in m['files'] if f['split']=='train')*3//10+17)")
if "$PILEMIX" subset "$T/out" --bytes "$bytes" --into "$T/sub-b" >"$T/log" 2>&1 &&
    "$PILEMIX" verify "$T/sub-b" >>"$T/log" 2>&1 && $PY subset-bytes "$T/out" "$T/sub-b" "$bytes" >>"$T/log" &&
    $PY nested "$T/sub-0.1" "$T/sub-b" >>"$T/log" && $PY nested "$T/sub-b" "$T/sub-0.37" >>"$T/log"; then
    ok "subset --bytes: the longest prefix within the bytes, verified, nested between 10% and 37%"
else
    cat "$T/log"
    not_ok "subset --bytes"
fi

# The same subset twice: the same bytes.
"$PILEMIX" subset "$T/out" --fraction 0.37 --into "$T/sub-again" >/dev/null
if same_output "$T/sub-0.37" "$T/sub-again"; then ok "subset is deterministic"; else not_ok "subset is deterministic"; fi

if expect_fail 2 "fraction" "$PILEMIX" subset "$T/out" --fraction 0 --into "$T/x" &&
    expect_fail 2 "fraction" "$PILEMIX" subset "$T/out" --fraction 1.5 --into "$T/x" &&
    expect_fail 2 "one of --fraction and --bytes" "$PILEMIX" subset "$T/out" --into "$T/x" &&
    expect_fail 2 "not empty" "$PILEMIX" subset "$T/out" --fraction 0.5 --into "$T/sub-0.1" &&
    expect_fail 1 "manifest" "$PILEMIX" subset "$T/nothing" --fraction 0.5 --into "$T/x"; then
    ok "bad subset arguments: exit 2 naming the option; no dataset: exit 1"
else
    not_ok "bad subset arguments"
fi
# A subset's manifest holds its parent's config: reproduce refuses it
# rather than rebuild the parent into DIR.
if expect_fail 2 "subset .*cannot be reproduced" "$PILEMIX" reproduce "$T/sub-0.37" --into "$T/re" &&
    [ ! -e "$T/re/manifest.json" ]; then
    ok "reproduce refuses a subset, naming why"
else
    not_ok "reproduce of a subset"
fi
finish
