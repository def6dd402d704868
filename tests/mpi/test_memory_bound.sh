#!/usr/bin/env bash
# Memory per rank stays under mem_per_rank whatever the content (DESIGN 2):
# 1,000,000 copies of one text that falls in val (one key: no key sub-range
# can split them, so a gather pass once held them all) and a train component
# of 300,000 identical texts, at --mem-per-rank 32M on 2 ranks. Peak RSS per
# rank (VmHWM, printed under PILEMIX_TEST_REPORT_HWM) must stay within the
# budget + 48 MiB (MPI, zstd and I/O buffers), and the output must be right:
# the val text once, 999,999 duplicates counted, every train copy written.
# A memory bound is a correctness property, so this is a test, with margin.
. "$(dirname "$0")/lib.sh"

# Texts whose split is known: try candidates on a one-line corpus (the
# split is a keyed hash of the text, DESIGN 1.3).
split_of() { # TEXT -> "val" or "train"
    rm -rf "$T/try" && mkdir -p "$T/try/in"
    printf '{"text": "%s"}\n' "$1" >"$T/try/in/a.jsonl"
    cat >"$T/try/c.json" <<JSON
{"name": "m", "seed": 5, "components": [{"name": "V", "paths": ["in"], "epochs": 1}],
 "output": {"dir": "o", "train_shards": 2, "val_fraction": 0.5}}
JSON
    pm 1 run "$T/try/c.json" --progress 0 >/dev/null
    if [ "$(zstdcat "$T/try/o/val.jsonl.zst" | wc -l)" -eq 1 ]; then echo val; else echo train; fi
}
pad=$(printf 'lorem ipsum dolor sit amet %.0s' $(seq 1 7))
val_text="" train_text=""
for i in $(seq 1 40); do
    t="copy $i $pad"
    case $(split_of "$t") in
    val) [ -n "$val_text" ] || val_text=$t ;;
    train) [ -n "$train_text" ] || train_text=$t ;;
    esac
    [ -n "$val_text" ] && [ -n "$train_text" ] && break
done
[ -n "$val_text" ] && [ -n "$train_text" ] || { not_ok "no candidate texts found"; finish; }

mkdir -p "$T/data/v" "$T/data/t"
yes "{\"text\": \"$val_text\"}" | head -n 1000000 >"$T/data/v/copies.jsonl"
yes "{\"text\": \"$train_text\"}" | head -n 300000 >"$T/data/t/same.jsonl"
cat >"$T/cfg.json" <<JSON
{"name": "m", "seed": 5,
 "components": [{"name": "V", "paths": ["$T/data/v"], "epochs": 1},
                {"name": "T", "paths": ["$T/data/t"], "epochs": 1}],
 "output": {"dir": "$T/out", "train_shards": 2, "val_fraction": 0.5}}
JSON

limit_kb=$(((32 + 48) * 1024))
PILEMIX_TEST_REPORT_HWM=1 pm 2 run "$T/cfg.json" --mem-per-rank 32M --progress 0 \
    >"$T/run.log" 2>"$T/err.log"
peaks=$(sed -n 's/^pilemix: rank [0-9]* peak RSS \([0-9]*\) kB$/\1/p' "$T/err.log")
over=0
for p in $peaks; do [ "$p" -le "$limit_kb" ] || over=1; done
if [ "$(echo "$peaks" | wc -w)" -eq 2 ] && [ "$over" -eq 0 ]; then
    ok "1,000,000 copies of one val text at 32M: peak RSS per rank $(echo $peaks) kB <= $limit_kb kB"
else
    cat "$T/err.log"; not_ok "peak RSS per rank $(echo $peaks) kB, limit $limit_kb kB"
fi
vlines=$(zstdcat "$T/out/val.jsonl.zst" | wc -l)
dups=$(jq '.components[0].holdout_duplicates.val' "$T/out/manifest.json")
train=$(jq '.components[1].emitted.train' "$T/out/manifest.json")
tlines=$(zstdcat "$T/out"/train/*.jsonl.zst | grep -c "$train_text" || true)
if [ "$vlines" -eq 1 ] && [ "$dups" -eq 999999 ] && [ "$train" -eq 300000 ] &&
    [ "$tlines" -eq 300000 ] && "$PILEMIX" verify "$T/out" >/dev/null; then
    ok "output: the val text once, $dups duplicates counted, $train train copies; verify passes"
else
    not_ok "output: $vlines val lines, $dups duplicates, $train/$tlines train copies"
fi
# The same bytes with a large budget (one pass per bucket).
cp -r "$T/out" "$T/ref1"
pm 1 run "$T/cfg.json" --force --mem-per-rank 1GiB --progress 0 >/dev/null
if same_output "$T/ref1" "$T/out"; then ok "same bytes at 1 rank, 1 GiB"; else not_ok "1 GiB output differs"; fi
finish
