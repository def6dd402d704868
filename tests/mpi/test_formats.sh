#!/usr/bin/env bash
# Every input format of DESIGN 1.4 through the real job (issue 10).
#
# The corpus is written by Python's gzip/lzma/bz2/tarfile/zipfile/json and
# the zstd tool (tests/tools/formats_corpus.py), never by pilemix's readers,
# with known documents; the same script checks that every document comes out
# exactly per its epochs with byte-identical text and meta, and that the
# manifest's counts match. Then, with val/test splits: the same bytes at 1
# and 3 ranks, at two budgets (and many small buckets), and with the corpus
# moved to another directory. Then damaged inputs: a tar cut inside a member
# and a gzip stream with a flipped bit fail naming file (and member), never
# a partial read, and are skipped whole under on_bad_file "skip".
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || { skip "Debian's python3 is missing"; finish; exit; }
GEN="$(cd "$(dirname "$0")/../tools" && pwd)/formats_corpus.py"

D=$T/c
mkdir -p "$D"
"$PY" "$GEN" make "$D"
if pm 1 run "$D/config.json" --progress 0 >"$T/run1.log" 2>&1 && "$PY" "$GEN" check "$D" >"$T/check.log" 2>&1; then
    ok "every format: $(tail -n 1 "$T/check.log")"
else
    cat "$T/run1.log" "$T/check.log"; not_ok "every format, 1 rank"
fi
if "$PILEMIX" verify "$D/out" >/dev/null; then ok "verify accepts the output"; else not_ok "verify"; fi

# Determinism with holdouts (their duplicates order by identity, members
# included): ranks, budgets, buckets, a moved corpus.
jq '.output.val_fraction = 0.15 | .output.test_fraction = 0.1' "$D/config.json" >"$D/split.json"
pm 1 run "$D/split.json" --force --progress 0 >/dev/null
cp -a "$D/out" "$T/ref"
for case in "3 64M" "2 16M"; do
    set -- $case
    pm "$1" run "$D/split.json" --force --mem-per-rank "$2" --progress 0 >/dev/null
    if same_output "$T/ref" "$D/out"; then ok "$1 ranks, $2: byte-identical"; else not_ok "$1 ranks, $2"; fi
done
PILEMIX_TEST_LAYOUT_BYTES=2048 pm 3 run "$D/split.json" --force --progress 0 >"$T/runb.log"
if same_output "$T/ref" "$D/out"; then ok "many small buckets, 3 ranks: byte-identical"; else not_ok "small buckets"; fi
mv "$D" "$T/moved"
pm 2 run "$T/moved/split.json" --force --progress 0 >/dev/null
if same_output "$T/ref" "$T/moved/out"; then ok "the corpus moved elsewhere: byte-identical"; else not_ok "moved corpus"; fi
mv "$T/moved" "$D"

# ---- damaged inputs
# cfg_one DIR POLICY: one component over DIR/in next to a good file.
cfg_one() {
    mkdir -p "$1/in"
    printf '{"text": "good %d"}\n' 1 2 3 >"$1/in/good.jsonl"
    cat >"$1/c.json" <<JSON
{"name": "damaged", "components": [{"name": "D", "paths": ["in"], "epochs": 1}],
 "output": {"dir": "o", "train_shards": 2}, "run": {"on_bad_file": "$2"}}
JSON
}
# A tar cut inside its second member's data: the plan's look at the first
# block passes; the reader names archive and member.
"$PY" - "$T/big.tar" <<'PYEOF'
import io, json, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    for k in range(2):
        data = b"".join(json.dumps({"text": f"member {k} doc {i}"}).encode() + b"\n" for i in range(4000))
        ti = tarfile.TarInfo(f"m/part{k}.jsonl"); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
PYEOF
size=$(stat -c %s "$T/big.tar")
# A gzip stream whose CRC-32 does not match (a flipped bit in the trailer):
# the plan decodes only the first 64 KiB; zlib finds it at the end.
"$PY" -c 'import gzip, json, sys; sys.stdout.buffer.write(gzip.compress(b"".join(json.dumps({"text": "gz doc %d" % i}).encode() + b"\n" for i in range(20000))))' >"$T/crc.jsonl.gz"
gsize=$(stat -c %s "$T/crc.jsonl.gz")
printf "\\$(printf '%03o' $(( $(od -An -tu1 -j $((gsize - 6)) -N1 "$T/crc.jsonl.gz") ^ 1 )))" |
    dd of="$T/crc.jsonl.gz" bs=1 seek=$((gsize - 6)) conv=notrunc status=none
for what in "tar cut.tar cut\.tar:m/part1\.jsonl:.*(damaged|truncated)" \
    "gz crc.jsonl.gz crc\.jsonl\.gz:.*corrupt gzip stream: incorrect data check.*\(byte [0-9]+\)"; do
    read -r kind name pattern <<<"$what"
    R=$T/dmg-$kind
    cfg_one "$R" fail
    if [ "$kind" = tar ]; then head -c $((size * 3 / 4)) "$T/big.tar" >"$R/in/$name"; else cp "$T/crc.jsonl.gz" "$R/in/$name"; fi
    if expect_fail 1 "$pattern" pm 1 run "$R/c.json" --progress 0 && ! ls "$R"/o/train/*.jsonl.zst >/dev/null 2>&1 && [ ! -e "$R/o/manifest.json" ]; then
        ok "$kind damaged: exit 1, $(grep -m1 -oE "$name.*" "$T/stderr" | cut -c1-110)"
    else
        not_ok "$kind damaged (fail)"
    fi
    cfg_one "$R.skip" skip
    cp "$R/in/$name" "$R.skip/in/$name"
    if pm 2 run "$R.skip/c.json" --progress 0 >"$T/skip.log" 2>&1 &&
        [ "$(zstdcat "$R.skip"/o/train/*.jsonl.zst | jq -r .text | sort | tr '\n' ,)" = "good 1,good 2,good 3," ] &&
        jq -e --arg n "$name" 'select(.reason == "bad_file" and .file == $n)' "$R.skip/o/rejects/rejects.jsonl" >/dev/null; then
        ok "$kind damaged, on_bad_file skip: skipped whole (nothing of it emitted), listed in rejects"
    else
        cat "$T/skip.log"; not_ok "$kind damaged (skip)"
    fi
done
finish
