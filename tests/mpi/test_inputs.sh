#!/usr/bin/env bash
# Discovery guards, empty-success guards and hints for the usual input
# mistakes (issue 10), as data: each directory of tests/data/inputs/ is one
# case, with
#   setup      a bash script run in a fresh directory: it writes the inputs
#              under data/ (with gzip, zstd, tar, iconv: never pilemix) and,
#              optionally, config.json (else: one component "C" over data,
#              output o; `cfg COMPONENT_KEYS RUN_KEYS` writes that config
#              with extra keys)
#   expected   the exit status ("exit N") and, one a line, extended regular
#              expressions that must all appear on stderr
# Each case runs `pilemix run` (1 rank); a case expected to fail must also
# leave no output file under a final name, and `pilemix plan` must give the
# same status for the plan-time cases (exit 2, and bad files found there).
. "$(dirname "$0")/lib.sh"
CASES=$(cd "$(dirname "$0")/../data/inputs" && pwd)

cfg() { # COMPONENT_KEYS RUN_KEYS
    local comp="" run=""
    [ -z "${1:-}" ] || comp=", $1"
    [ -z "${2:-}" ] || run=", \"run\": {$2}"
    cat >config.json <<JSON
{"name": "t", "components": [{"name": "C", "paths": ["data"], "epochs": 1$comp}],
 "output": {"dir": "o", "train_shards": 2}$run}
JSON
}
export -f cfg

for dir in "$CASES"/*/; do
    name=$(basename "$dir")
    R=$T/$name
    mkdir -p "$R"
    if ! (cd "$R" && cfg && bash -e "$dir/setup") >"$T/setup.log" 2>&1; then
        cat "$T/setup.log"; not_ok "$name: setup failed"; continue
    fi
    want=$(sed -n 's/^exit //p' "$dir/expected")
    rc=0
    "$PILEMIX" run "$R/config.json" --progress 0 >"$R/stdout" 2>"$R/stderr" || rc=$?
    bad=""
    [ "$rc" = "$want" ] || bad="exit $rc, want $want"
    while IFS= read -r re; do
        case $re in '' | 'exit '*) continue ;; esac
        grep -qE -- "$re" "$R/stderr" || bad="${bad:+$bad; }stderr lacks /$re/"
    done <"$dir/expected"
    if [ "$want" != 0 ] && { [ -e "$R/o/manifest.json" ] || ls "$R"/o/train/*.jsonl.zst >/dev/null 2>&1; }; then
        bad="${bad:+$bad; }an output file exists under its final name"
    fi
    # Plan-time findings: `pilemix plan` says the same, with the same status.
    if [ -z "$bad" ] && [ "$want" != 0 ] && ! grep -q 'yielded\|max_bad_fraction\|bad record\|member\|JSON array' "$R/stderr"; then
        prc=0
        "$PILEMIX" plan "$R/config.json" >/dev/null 2>"$R/plan.err" || prc=$?
        [ "$prc" = "$want" ] && cmp -s <(grep -o 'error: .*' "$R/stderr") <(grep -o 'error: .*' "$R/plan.err") ||
            bad="plan: exit $prc: $(cat "$R/plan.err")"
    fi
    if [ -z "$bad" ]; then
        ok "$name: exit $rc${want/0/}$( [ "$want" = 0 ] || printf ': %s' "$(grep -m1 -oE 'error: .*' "$R/stderr" | sed "s|$R/||g" | cut -c8-150)")"
    else
        cat "$R/stderr"; not_ok "$name: $bad"
    fi
done
finish
