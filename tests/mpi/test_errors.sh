#!/usr/bin/env bash
# Failures end the job cleanly: the right exit status, one clear line naming
# the file, line or key, no hang, and nothing under a final name that is not
# complete.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/d/a" "$T/d/b"
for i in $(seq 1 300); do printf '{"text": "doc %d of a", "meta": {"i": %d}}\n' "$i" "$i"; done >"$T/d/a/x.jsonl"
for i in $(seq 1 300); do printf '{"text": "doc %d of b"}\n' "$i"; done >"$T/d/b/y.jsonl"
for f in 1 2 3 4; do
    for i in $(seq 1 300); do printf '{"text": "doc %d of b/z%d"}\n' "$i" "$f"; done >"$T/d/b/z$f.jsonl"
done
zstd -q "$T/d/b/y.jsonl" -o "$T/d/b/y.jsonl.zst" && rm "$T/d/b/y.jsonl"
cfg() { # $1 = extra run keys
    cat >"$T/c.json" <<JSON
{"name": "e", "components": [{"name": "A", "paths": ["d/a"], "epochs": 1.5},
                              {"name": "B", "paths": ["d/b"], "epochs": 1}],
 "output": {"dir": "o", "train_shards": 3, "val_fraction": 0.1},
 "run": {"mem_per_rank": "32M"$1}}
JSON
}
cfg ""
if pm 2 run "$T/c.json" --progress 0 --keep-work >/dev/null && [ -f "$T/o.work/state.json" ]; then
    ok "clean small run; --keep-work keeps the work directory"
else
    not_ok "clean small run / --keep-work"
fi
if "$PILEMIX" plan "$T/c.json" >"$T/plan.txt" && grep -q '^A ' "$T/plan.txt" && grep -q '^Total' "$T/plan.txt"; then
    ok "plan prints the mix table"
else
    cat "$T/plan.txt"; not_ok "plan"
fi
if "$PILEMIX" --help | grep -q 'pilemix run' && "$PILEMIX" --version | grep -q '^pilemix '; then
    ok "--help and --version"
else
    not_ok "--help/--version"
fi

# Config errors: exit 2, the key named.
sed 's/"epochs": 1}/"epochs": -1}/' "$T/c.json" >"$T/bad.json"
if expect_fail 2 'components\[1\]\.epochs' pm 2 run "$T/bad.json" --force; then ok "bad epochs: exit 2 names the key"; else not_ok "bad epochs"; fi
sed 's/"train_shards"/"trian_shards"/' "$T/c.json" >"$T/bad.json"
if expect_fail 2 'did you mean "train_shards"' "$PILEMIX" plan "$T/bad.json"; then ok "unknown key: did-you-mean"; else not_ok "unknown key"; fi
if expect_fail 2 'unknown option' "$PILEMIX" run "$T/c.json" --bogus; then ok "bad flag: exit 2"; else not_ok "bad flag"; fi
if expect_fail 2 'work directory exists.*--resume' pm 1 run "$T/c.json"; then ok "a kept work directory needs --force"; else not_ok "kept work dir"; fi
rm -rf "$T/o.work"
if expect_fail 2 'already holds a pilemix output' pm 1 run "$T/c.json"; then ok "existing output needs --force"; else not_ok "existing output"; fi

# A file name that is not UTF-8 (Latin-1 "café"): plan and run refuse it with
# exit 2, the name escaped, before anything is created (README, bad input).
mkdir -p "$T/nu"
printf '{"text": "x"}\n' >"$T/nu/ok.jsonl"
printf '{"text": "y"}\n' >"$T/nu/caf$(printf '\xe9').jsonl"
cat >"$T/nu.json" <<JSON
{"name": "nu", "components": [{"name": "N", "paths": ["nu"], "epochs": 1}],
 "output": {"dir": "nu-out"}}
JSON
if expect_fail 2 'component "N": path ".*/nu/caf\\xE9\.jsonl" is not valid UTF-8.*rename it' "$PILEMIX" plan "$T/nu.json"; then
    ok "plan refuses a non-UTF-8 file name, shown escaped"
else
    not_ok "plan and a non-UTF-8 file name"
fi
if expect_fail 2 'caf\\xE9\.jsonl" is not valid UTF-8' pm 2 run "$T/nu.json" --progress 0 &&
    ! grep -q 'success' "$T/stderr" && [ ! -e "$T/nu-out" ] && [ ! -e "$T/nu-out.work" ]; then
    ok "run refuses it too, before creating the work or output directory"
else
    ls -d "$T"/nu-out* 2>&1; not_ok "run and a non-UTF-8 file name"
fi

# A bad record in fail mode (the default): exit 1 with file:line and reason.
printf '{"text": "fine"}\n{"text": broken}\n' >>"$T/d/a/x.jsonl"
if expect_fail 1 'x\.jsonl:302:[0-9]+: bad record \(invalid_json\)' pm 3 run "$T/c.json" --force --progress 0; then
    ok "bad record fails the job with file:line:column"
else
    not_ok "bad record in fail mode"
fi
if ls "$T/o/train"/*.jsonl.zst >/dev/null 2>&1; then not_ok "failed run left final-named output"; else ok "no output file after a scatter failure"; fi

# Skip mode: counted, kept in rejects/ with file:line, manifest adds up.
cfg ', "on_bad_record": "skip"'
if pm 2 run "$T/c.json" --force --progress 0 >"$T/skip.log" &&
    grep -q '"reason": "invalid_json"' "$T/o/rejects/rejects.jsonl" &&
    grep -q '"line": 302' "$T/o/rejects/rejects.jsonl" &&
    "$PILEMIX" verify "$T/o" >/dev/null; then
    ok "skip mode: reject recorded with its line; verify passes"
else
    cat "$T/skip.log"; not_ok "skip mode"
fi
cfg ', "on_bad_record": "skip", "max_bad_records": 0'
if expect_fail 1 'max_bad_records' pm 2 run "$T/c.json" --force --progress 0; then ok "max_bad_records enforced"; else not_ok "max_bad_records"; fi
head -n 300 "$T/d/a/x.jsonl" >"$T/x" && mv "$T/x" "$T/d/a/x.jsonl"
cfg ""

# A truncated zstd input: exit 1 naming the file (never a silent partial read).
cp "$T/d/b/y.jsonl.zst" "$T/y.keep"
head -c 200 "$T/y.keep" >"$T/d/b/y.jsonl.zst"
if expect_fail 1 'y\.jsonl\.zst.*(truncated|corrupt)' pm 2 run "$T/c.json" --force --progress 0; then
    ok "truncated .zst fails naming the file"
else
    not_ok "truncated zst"
fi
printf 'not zstd at all\n' >"$T/d/b/y.jsonl.zst"
# Text named .zst: a bad file, found by the plan, which says what it looks like.
if expect_fail 1 'y\.jsonl\.zst" is a bad file: is named \.jsonl\.zst but is not zstd-compressed \(it looks like plain text\)' pm 1 run "$T/c.json" --force --progress 0; then ok "non-zstd .zst fails naming the file"; else not_ok "non-zstd"; fi
printf '\x01\x02garbage' >"$T/d/b/y.jsonl.zst"
if expect_fail 1 'y\.jsonl\.zst" is a bad file: not a zstd stream' pm 1 run "$T/c.json" --force --progress 0; then ok "garbage .zst: a bad file at planning"; else not_ok "garbage zst"; fi
cp "$T/y.keep" "$T/d/b/y.jsonl.zst"

# A killed rank ends the job (exit 137 from mpirun, no hang), and it is the
# injected kill that ends it. Tasks: 0 = d/a/x.jsonl, 1 = d/b/y.jsonl.zst,
# 2-5 = d/b/z1-4.jsonl (plan order); rank=1 at a point every rank passes.
for fault in "scatter-record:task=0:n=50 scatter-record:task=0:n=50 [0-9]+" \
    "scatter-start:rank=1 scatter-start:n=1 1"; do
    read -r f place rank <<<"$fault"
    rc=0
    PILEMIX_FAULT=$f pm 2 run "$T/c.json" --force --progress 0 >/dev/null 2>"$T/kill.log" || rc=$?
    if fault_killed "$rc" "$T/kill.log" "$place" "$rank"; then
        ok "killed rank ($f): mpirun exits 137 after the injected kill, no hang"
    else
        not_ok "killed rank ($f): exit $rc"
    fi
done

# Injected errors: the exit status of the code, the rank's error line.
PILEMIX_FAULT=gather-pass:file=1:n=1:eio pm 2 run "$T/c.json" --force --progress 0 >/dev/null 2>"$T/e.log" && rc=0 || rc=$?
if [ "$rc" -eq 1 ] && grep -qE '^pilemix: error( \(rank [0-9]\))?: injected fault at gather-pass:file=1:n=1 \(eio\)$' "$T/e.log" &&
    ! ls "$T/o/train/1.jsonl.zst" >/dev/null 2>&1; then
    ok "injected I/O error in a gather pass: exit 1, the error line, no final-named file 1"
else
    cat "$T/e.log"; not_ok "injected gather-pass eio: exit $rc"
fi

# Two ranks fail differently at the same point: the exit status follows the
# documented severity (error.h), whichever rank has which error, and both
# ranks' error lines are printed. The points end each phase where ranks
# agree: setup, the scatter's dispatch, opening the spills, the gather's.
severity_case() { # POINT CODE_RANK0 CODE_RANK1 EXPECTED_EXIT
    local point=$1 c0=$2 c1=$3 want=$4 rc=0
    PILEMIX_FAULT="$point:rank=0:$c0;$point:rank=1:$c1" pm 2 run "$T/c.json" --force --progress 0 \
        >/dev/null 2>"$T/sev.log" || rc=$?
    local pl=${point%%:*}
    if [ "$rc" -eq "$want" ] &&
        grep -qE "^pilemix: error: injected fault at $pl:.*\($c0\)\$" "$T/sev.log" &&
        grep -qE "^pilemix: error \(rank 1\): injected fault at $pl:.*\($c1\)\$" "$T/sev.log"; then
        ok "rank 0 $c0 + rank 1 $c1 at $point: exit $want, both error lines"
    else
        cat "$T/sev.log"
        not_ok "rank 0 $c0 + rank 1 $c1 at $point: exit $rc (want $want)"
    fi
}
for point in setup scatter-start spill-open:task=2 gather-start; do
    # I/O (exit 1) outranks config (exit 2), in both assignments.
    severity_case "$point" eio econfig 1
    severity_case "$point" econfig eio 1
done
# Within a class the status is the same either way; these show that no
# assignment hangs or loses a rank's line.
severity_case scatter-start estate econfig 2
severity_case scatter-start edata einternal 1

# Two runs at once on the same work directory: the second is refused. The
# first is stopped right after it took the lock (a stop fault), so it is
# known to hold it when the second starts.
rm -rf "$T/o" "$T/o.work"
PILEMIX_FAULT=scatter-start:stop pm 1 run "$T/c.json" --force --progress 0 >/dev/null 2>"$T/first.log" &
first=$!
if wait_stopped "$T/first.log"; then
    if expect_fail 2 'another pilemix run' pm 1 run "$T/c.json" --force --progress 0; then
        ok "concurrent run refused by the lock the first run holds"
    else
        not_ok "lock"
    fi
    kill -KILL "$stopped_pid"
else
    not_ok "lock: the first run never stopped at scatter-start"
    kill -KILL "$first" 2>/dev/null || true
fi
rc=0
wait "$first" || rc=$?
[ "$rc" -eq 137 ] || not_ok "lock: the first run exited $rc after its rank was killed, not 137"
finish
