#!/usr/bin/env bash
# `pilemix verify` passes on good output (1 and 3 ranks) and catches a flipped
# byte, a truncated file, a missing file and an unexpected file, each with a
# message naming the file; `stats` prints tables and JSON, and the same
# component table as the run's summary. Also: kill -9 of
# mpirun itself at a known point mid-run, then --resume, gives the clean bytes.
. "$(dirname "$0")/lib.sh"

make_corpus "$T/data" 5 6M
write_config "$T/data" "$T/out" "$T/cfg.json"
pm 2 run "$T/cfg.json" --progress 0 >"$T/run.out"
cp -r "$T/out" "$T/ref"

if pm 1 verify "$T/out" >/dev/null && pm 3 verify "$T/out" >/dev/null; then
    ok "verify passes on good output at 1 and 3 ranks"
else
    not_ok "verify on good output"
fi

check_catches() { # $1 = description, $2 = stderr pattern; the damage is already done
    if expect_fail 1 "$2" pm 2 verify "$T/out"; then ok "verify catches $1"; else not_ok "verify misses $1"; fi
    rm -rf "$T/out" && cp -r "$T/ref" "$T/out"
}
printf '\x5a' | dd of="$T/out/train/2.jsonl.zst" bs=1 seek=3000 conv=notrunc 2>/dev/null
check_catches "a flipped byte" 'train/2\.jsonl\.zst: .*(corrupt|checksum)'
truncate -s 5000 "$T/out/val.jsonl.zst"
check_catches "a truncated file" 'val\.jsonl\.zst: truncated'
rm "$T/out/train/4.jsonl.zst"
check_catches "a missing file" 'train/4\.jsonl\.zst: missing file'
echo hi >"$T/out/train/stray.jsonl.zst"
check_catches "an unexpected file" 'train/stray\.jsonl\.zst: unexpected file'
zstd -q -c "$T/data/pubmed/00.jsonl.zst" >/dev/null 2>&1 || true
# A second frame appended: readers that stop at the first frame would miss it.
printf '{"text": "extra", "meta": {"pile_set_name": "Github"}}\n' | zstd -q -c >>"$T/out/test.jsonl.zst"
check_catches "a second zstd frame" 'test\.jsonl\.zst: more than one zstd frame'

# No manifest, or a broken one: exit 1 with the file and, when known, the
# line and column (jansson says line -1 for a file it cannot open: never
# printed as 18446744073709551615).
if expect_fail 1 "^pilemix: verify: $T/nonexistent/manifest\.json: cannot open: No such file or directory" pm 2 verify "$T/nonexistent" &&
    [ "$(grep -c "^pilemix:" "$T/stderr")" -eq 1 ] && ! grep -q '18446744073709551615' "$T/stderr" &&
    expect_fail 1 "^pilemix: stats: $T/nonexistent/manifest\.json: cannot open" "$PILEMIX" stats "$T/nonexistent"; then
    ok "verify and stats on a directory without a manifest: one line, no bogus line number"
else
    not_ok "verify /nonexistent"
fi
mkdir -p "$T/broken"
printf '{\n  "files": [\n  oops\n' >"$T/broken/manifest.json"
if expect_fail 1 'broken/manifest\.json:3:[0-9]+: cannot read manifest' pm 1 verify "$T/broken"; then
    ok "verify names the line and column of a broken manifest"
else
    not_ok "verify on a broken manifest"
fi

if "$PILEMIX" stats "$T/out" | grep -q 'Wikipedia (en)' &&
    "$PILEMIX" stats "$T/out" --json | jq -e '.components | length == 5' >/dev/null; then
    ok "stats prints a table and JSON"
else
    not_ok "stats"
fi
# sample: the same documents for the same seed, a clear usage error otherwise.
"$PILEMIX" sample "$T/out" -n 3 --seed 9 >"$T/s1" && "$PILEMIX" sample "$T/out" -n 3 --seed 9 >"$T/s2"
if cmp -s "$T/s1" "$T/s2" && [ "$(grep -c '^\[' "$T/s1")" -eq 3 ] && grep -q '    text: ' "$T/s1" &&
    "$PILEMIX" sample "$T/out" -n 2 --component Books3 --split train | grep -q '^\[2\] Books3 ' &&
    expect_fail 2 'not a split' "$PILEMIX" sample "$T/out" --split dev &&
    expect_fail 2 'no component "Nope"' "$PILEMIX" sample "$T/out" --component Nope &&
    expect_fail 2 '-n needs a whole number' "$PILEMIX" sample "$T/out" -n x; then
    ok "sample: reproducible for a seed, filters, usage errors"
else
    not_ok "sample"
fi
# The run's summary and stats print the same table (one code path, summary.h):
# from the header line to the output files line, byte for byte.
summary_table() { sed -n '/^Component /,/output files:/p' "$1"; }
"$PILEMIX" stats "$T/out" >"$T/stats.out"
if [ -s "$T/stats.out" ] && [ "$(summary_table "$T/run.out" | wc -l)" -ge 9 ] &&
    diff <(summary_table "$T/run.out") <(summary_table "$T/stats.out") >&2; then
    ok "stats and the run's summary print the same component table"
else
    not_ok "stats and the run summary disagree"
fi

# kill -9 of mpirun and its ranks (as a scheduler ends a job step) at a known
# point: the rank that commits output file 1 stops itself there (a stop
# fault), so the scatter is complete and file 1 committed, and the run cannot
# finish before it is killed. Then resume on 3 ranks.
rm -rf "$T/out" "$T/out.work"
PILEMIX_FAULT=gather-file:file=1:stop setsid timeout 300 mpirun --oversubscribe -np 2 "$PILEMIX" run "$T/cfg.json" --progress 0 \
    </dev/null >/dev/null 2>"$T/stopped.log" &
launcher=$!
if wait_stopped "$T/stopped.log"; then
    kill -9 -- "-$launcher" 2>/dev/null || true
    # Open MPI puts ranks in their own process groups; a scheduler kills them
    # all. The stopped rank dies too (SIGKILL needs no SIGCONT).
    pkill -9 -f "$PILEMIX run $T/cfg.json" 2>/dev/null || true
    wait "$launcher" 2>/dev/null || true
    for _ in $(seq 1 600); do
        pgrep -f "$PILEMIX run $T/cfg.json" >/dev/null || break
        sleep 0.05
    done
    ntasks=$(ls "$T/data"/*/*.jsonl* "$T/data"/*/*/*.jsonl* 2>/dev/null | wc -l)
    if pgrep -f "$PILEMIX run $T/cfg.json" >/dev/null; then
        not_ok "ranks survived kill -9"
    elif [ -f "$T/out/manifest.json" ]; then
        not_ok "the stopped run finished anyway"
    elif pm 3 run "$T/cfg.json" --resume --progress 0 >"$T/resume.log" 2>&1 &&
        same_output "$T/ref" "$T/out" &&
        grep -qE "reused $ntasks of $ntasks scatter tasks and [1-9][0-9]* of" "$T/resume.log"; then
        ok "kill -9 of mpirun after output file 1, resumed on 3 ranks: identical ($(grep -o 'reused.*' "$T/resume.log"))"
    else
        cat "$T/resume.log"; not_ok "resume after kill -9 of mpirun"
    fi
else
    kill -9 -- "-$launcher" 2>/dev/null || true
    pkill -9 -f "$PILEMIX run $T/cfg.json" 2>/dev/null || true
    wait "$launcher" 2>/dev/null || true
    not_ok "kill -9 of mpirun: no rank stopped at gather-file:file=1"
fi
finish
