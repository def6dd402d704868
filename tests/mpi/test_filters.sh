#!/bin/bash
# Filters (issue 14, point 1): counts per component and reason exact against
# an independent Python count over the inputs (tests/mpi/stages.py); the
# same bytes at 1 and 3 ranks and two budgets; resume after a kill; bad
# filters exit 2 naming the key; a filter that drops everything fails.
. "$(dirname "$0")/lib.sh"
PY="python3 $(dirname "$0")/stages.py"

$PY gen "$T/data" 11
write_cfg() { # OUT FILTER_A
    cat >"$T/cfg.json" <<JSON
{
  "name": "filter-test", "seed": 3,
  "components": [
    {"name": "A", "paths": ["$T/data/A"], "epochs": 1.5, "filter": $2},
    {"name": "B", "paths": ["$T/data/B"], "epochs": 2.0,
     "filter": [{"field": "lang", "in": ["en", "de"]}, {"field": "r.up", "min": 0, "max": 40, "missing": "keep"}]},
    {"name": "C", "paths": ["$T/data/C"], "epochs": 1.0}
  ],
  "output": {"dir": "$1", "train_shards": 4, "val_fraction": 0.05, "test_fraction": 0.05}
}
JSON
}
write_cfg "$T/out" '{"field": "score", "min": 3}'
pm 1 run "$T/cfg.json" --progress 0 >"$T/run1.log"
if $PY filters "$T/cfg.json" "$T/out" >"$T/check.log"; then
    ok "filtered counts per component and reason match an independent count; no filtered text in the output"
else
    cat "$T/check.log"
    not_ok "filtered counts"
fi
if grep -q "^filtered: A: " "$T/run1.log" && "$PILEMIX" stats "$T/out" | grep -q "^filtered: B: " &&
    "$PILEMIX" verify "$T/out" >/dev/null; then
    ok "summary and stats show the filtered documents; verify passes"
else
    not_ok "summary and stats show the filtered documents"
fi
cp -r "$T/out" "$T/ref"

# plan --count applies the filters: a cold census (cache removed) on 2
# ranks counts what the run's manifest (checked above against Python) says
# each filter left out, and a changed filter is never served from the cache.
census_says() { # COMPONENT -> "kept filtered" from plan --count --json-less text
    sed -n "s/^Filter of $1: keeps \([0-9,]*\) of [0-9,]* documents (\([0-9,]*\) left out).*/\1 \2/p" "$T/count.log" | tr -d ,
}
rm -f "$T/out.work/census.json"
pm 2 plan --count "$T/cfg.json" >"$T/count.log"
ok_count=1
for c in A B; do
    i=$([ "$c" = A ] && echo 0 || echo 1)
    want=$(jq -r ".components[$i].filtered.total" "$T/out/manifest.json")
    got=$(census_says "$c" | cut -d' ' -f2)
    [ -n "$got" ] && [ "$got" = "$want" ] || ok_count=0
done
write_cfg "$T/out" '{"field": "score", "min": 5}'
pm 1 plan --count "$T/cfg.json" >"$T/count.log"
got5=$(census_says A | cut -d' ' -f2)
write_cfg "$T/out" '{"field": "score", "min": 3}'
if [ "$ok_count" = 1 ] && [ -n "$got5" ] && [ "$got5" -gt "$(jq -r '.components[0].filtered.total' "$T/out/manifest.json")" ]; then
    ok "plan --count applies the filters (the run's counts), a changed filter is counted again"
else
    cat "$T/count.log"; not_ok "plan --count with filters"
fi

PILEMIX_TEST_LAYOUT_BYTES=65536 pm 3 run "$T/cfg.json" --force --mem-per-rank 16M --progress 0 >/dev/null
if same_output "$T/ref" "$T/out"; then ok "same bytes at 3 ranks, small buckets, 16M budget"; else not_ok "same bytes at 3 ranks"; fi

rm -rf "$T/out" "$T/out.work"
rc=0
PILEMIX_FAULT=scatter-task:task=3 pm 2 run "$T/cfg.json" --progress 0 >"$T/crash.log" 2>&1 || rc=$?
if fault_killed "$rc" "$T/crash.log" 'scatter-task:task=3:n=1' &&
    pm 3 run "$T/cfg.json" --resume --progress 0 >/dev/null && same_output "$T/ref" "$T/out"; then
    ok "killed after a scatter task, resumed on 3 ranks: the same bytes"
else
    not_ok "resume after a kill"
fi

write_cfg "$T/out" '{"field": "score", "min": "3"}'
if expect_fail 2 'components\[0\]\.filter\.min: must be a number' "$PILEMIX" plan "$T/cfg.json"; then
    ok "bad filter: exit 2 naming components[0].filter.min"
else
    not_ok "bad filter exit 2"
fi
write_cfg "$T/out" '[{"field": "score"}, {"feld": "x"}]'
if expect_fail 2 'components\[0\]\.filter\[1\]\.feld: unknown key' "$PILEMIX" plan "$T/cfg.json"; then
    ok "unknown filter key: exit 2 naming components[0].filter[1].feld"
else
    not_ok "unknown filter key exit 2"
fi
write_cfg "$T/out2" '{"field": "scroe", "min": 3}'
if expect_fail 1 'component "A" yielded no document .* its filter dropped all 2800 documents, mostly missing' pm 1 run "$T/cfg.json" --progress 0; then
    ok "a filter that drops everything fails the run, naming the likely mistake"
else
    not_ok "a filter that drops everything"
fi
finish
