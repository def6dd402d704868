#!/bin/bash
# Exact dedup (issue 14, point 2): winners, output lines and counts checked
# against the inputs in Python (tests/mpi/stages.py); the same bytes at 1
# and 3 ranks and two budgets (small buckets, dedup and gather passes);
# resume after a kill in the dedup phase and in the gather; a bad value
# exits 2 naming output.dedup.
. "$(dirname "$0")/lib.sh"
PY="python3 $(dirname "$0")/stages.py"

$PY gen "$T/data" 13
write_cfg() { # OUT DEDUP
    cat >"$T/cfg.json" <<JSON
{
  "name": "dedup-test", "seed": 21,
  "components": [
    {"name": "A", "paths": ["$T/data/A"], "epochs": 1.5},
    {"name": "B", "paths": ["$T/data/B"], "epochs": 2.0},
    {"name": "C", "paths": ["$T/data/C"], "epochs": 0.5}
  ],
  "output": {"dir": "$1", "train_shards": 4, "val_fraction": 0.15, "test_fraction": 0.1, "dedup": $2}
}
JSON
}
write_cfg "$T/out" '"exact"'
pm 1 run "$T/cfg.json" --progress 0 >"$T/run1.log"
if $PY dedup "$T/cfg.json" "$T/out" >"$T/check.log"; then
    ok "$(tail -1 "$T/check.log")"
else
    cat "$T/check.log"
    not_ok "dedup against an independent count"
fi
if grep -q "^exact duplicates dropped (output.dedup): A " "$T/run1.log" &&
    "$PILEMIX" stats "$T/out" | grep -q "^exact duplicates dropped" && "$PILEMIX" verify "$T/out" >/dev/null; then
    ok "summary and stats show the duplicates; verify passes"
else
    not_ok "summary, stats, verify"
fi
cp -r "$T/out" "$T/ref"
PILEMIX_TEST_LAYOUT_BYTES=65536 PILEMIX_TEST_GATHER_BYTES=20000 pm 3 run "$T/cfg.json" --force --progress 0 >"$T/run3.log"
if same_output "$T/ref" "$T/out" && grep -qE "dedup: .* over [0-9]+ dedup buckets" "$T/run3.log" &&
    ! grep -q "over 1 dedup buckets" "$T/run3.log"; then
    ok "same bytes at 3 ranks with many small buckets and tiny passes"
else
    not_ok "same bytes at 3 ranks"
fi
for fault in dedup-bucket:bucket=1 gather-file:file=1; do
    rm -rf "$T/out" "$T/out.work"
    rc=0
    PILEMIX_TEST_LAYOUT_BYTES=65536 PILEMIX_FAULT=$fault pm 2 run "$T/cfg.json" --progress 0 >"$T/crash.log" 2>&1 || rc=$?
    if fault_killed "$rc" "$T/crash.log" "$fault:n=1" &&
        PILEMIX_TEST_LAYOUT_BYTES=65536 pm 3 run "$T/cfg.json" --resume --progress 0 >/dev/null && same_output "$T/ref" "$T/out"; then
        ok "killed at $fault, resumed on 3 ranks: the same bytes"
    else
        not_ok "resume after a kill at $fault"
    fi
done
write_cfg "$T/plain" '"none"'
pm 1 run "$T/cfg.json" --progress 0 >/dev/null
if ! same_output "$T/ref" "$T/plain" 2>/dev/null && ! grep -q exact_duplicates "$T/plain/manifest.json"; then
    ok "dedup \"none\" (the default) keeps duplicates and the manifest as it was"
else
    not_ok "dedup none"
fi
# All stages at once: a filter before the dedup, canaries among the winners.
export PM_DEDUP_CANARY="a canary secret for the dedup test"
cat >"$T/all.json" <<JSON
{
  "name": "all-stages", "seed": 4,
  "components": [
    {"name": "A", "paths": ["$T/data/A"], "epochs": 1.5, "filter": {"field": "score", "min": 2}},
    {"name": "B", "paths": ["$T/data/B"], "epochs": 2.0},
    {"name": "C", "paths": ["$T/data/C"], "epochs": 0.5, "filter": {"field": "lang", "in": ["en", "fr"]}}
  ],
  "output": {"dir": "$T/all", "train_shards": 3, "val_fraction": 0.2, "test_fraction": 0.2,
             "dedup": "exact", "canaries": {"count": 9, "secret": "\${PM_DEDUP_CANARY}"}}
}
JSON
pm 1 run "$T/all.json" --progress 0 >/dev/null
cp -r "$T/all" "$T/all-ref"
cp "$T/all.canaries.jsonl" "$T/all-ref.canaries.jsonl"
PILEMIX_TEST_LAYOUT_BYTES=65536 pm 3 run "$T/all.json" --force --mem-per-rank 16M --progress 0 >/dev/null
if $PY dedup "$T/all.json" "$T/all" >"$T/all.log" && $PY filters "$T/all.json" "$T/all" >>"$T/all.log" &&
    same_output "$T/all-ref" "$T/all" && cmp -s "$T/all-ref.canaries.jsonl" "$T/all.canaries.jsonl" &&
    "$PILEMIX" verify "$T/all" >/dev/null &&
    PILEMIX_CANARY_SECRET=$PM_DEDUP_CANARY "$PILEMIX" canary "$T/all" | grep -q "9 of 9 canaries found"; then
    ok "filter + dedup + canaries together: counts as the inputs say, same bytes at 1 and 3 ranks, canaries found"
else
    cat "$T/all.log"
    not_ok "all stages together"
fi
write_cfg "$T/x" '"fuzzy"'
if expect_fail 2 'output\.dedup' "$PILEMIX" plan "$T/cfg.json"; then
    ok "bad output.dedup: exit 2 naming the key"
else
    not_ok "bad output.dedup exit 2"
fi
finish
