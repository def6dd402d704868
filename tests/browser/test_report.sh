#!/usr/bin/env bash
# `pilemix report` in a real browser: headless Chromium (Debian's chromium,
# installed here when missing) loads the page offline, dumps its DOM and
# takes a screenshot; check_report.py then checks that every component's
# name and realized share are in the DOM, that each chart has the bars the
# manifest implies, that the page refers to nothing outside itself, and that
# the screenshot is not blank. Component names with CJK, emoji and HTML
# special characters test the escaping; a component with bad records, blank
# lines and empty texts fills the "left out" chart. Also: the default output
# path is OUTDIR.report.html and leaves OUTDIR as verify wants it; a
# manifest with 300 train shards draws the shard-size histogram.
# Exit 77 (SKIP) only when chromium is not installable or cannot start.
. "$(dirname "$0")/../mpi/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

if ! command -v chromium >/dev/null; then
    echo "test_report: installing chromium"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
    { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            chromium; } >/dev/null 2>&1 || true
fi
if ! command -v chromium >/dev/null; then
    echo "SKIP: chromium is not installed and cannot be installed here (apt-get install chromium)"
    exit 77
fi
# No network: no QUIC, no background fetches, no component updates, no sync.
chrome() {
    timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --hide-scrollbars --user-data-dir="$(mktemp -d "$T/chrome.XXXXXX")" "$@" 2>>"$T/chrome.log"
}
if ! chrome --dump-dom "data:text/html,<p>up</p>" | grep -q '<p>up</p>'; then
    echo "SKIP: chromium cannot start headless here:"
    tail -5 "$T/chrome.log"
    exit 77
fi

make_corpus "$T/data" 11 3M
mkdir -p "$T/bad"
printf '%s\n' '{"text": "a good one", "meta": {}}' '{"text": "broken' '' \
    '{"text": ""}' '{"text": 5}' '{"text": "fine too"}' '   ' >"$T/bad/odd.jsonl"
cat >"$T/cfg.json" <<JSON
{
  "name": "report <test> & \"co\"", "seed": 5,
  "components": [
    {"name": "Pile-CC", "paths": ["$T/data/pile-cc"], "epochs": 1.0},
    {"name": "维基百科 Wikipedia", "paths": ["$T/data/wikipedia_en"], "epochs": 2.5},
    {"name": "📚 Books <b>&amp;\"'", "paths": ["$T/data/books3"], "epochs": 1.5},
    {"name": "PubMed", "paths": ["$T/data/pubmed/*.jsonl.zst", "$T/data/pubmed/*.jsonl"], "epochs": 2.0},
    {"name": "Github", "paths": ["$T/data/github", "$T/bad"], "epochs": 0.8}
  ],
  "output": {"dir": "$T/out", "train_shards": 12, "val_fraction": 0.02, "test_fraction": 0.02},
  "run": {"on_bad_record": "skip"}
}
JSON
"$PILEMIX" run "$T/cfg.json" --progress 0 >/dev/null

# The default path: next to OUTDIR, so OUTDIR stays exactly what verify expects.
if "$PILEMIX" report "$T/out/" | grep -qF "wrote $T/out.report.html" && [ -s "$T/out.report.html" ] &&
    "$PILEMIX" verify "$T/out" >/dev/null; then
    ok "report writes OUTDIR.report.html by default; verify still passes"
else
    not_ok "report's default path"
fi
"$PILEMIX" report "$T/out" -o "$T/r.html" >/dev/null
if cmp -s "$T/r.html" "$T/out.report.html" && "$PILEMIX" report "$T/out" -o - | cmp -s - "$T/r.html"; then
    ok "the page is the same for -o FILE, -o - and the default (deterministic)"
else
    not_ok "report output differs between runs"
fi
if expect_fail 1 "report: $T/nothing/manifest\.json: cannot open" "$PILEMIX" report "$T/nothing" &&
    expect_fail 2 "report needs an OUTDIR" "$PILEMIX" report; then
    ok "report without a manifest or OUTDIR: one clear line, exit 1 / 2"
else
    not_ok "report error paths"
fi

browse() { # $1 = page, $2 = prefix of the outputs: PREFIX.dom.html, PREFIX.png
    chrome --dump-dom "file://$1" >"$2.dom.html" &&
        chrome --window-size=1100,2400 --screenshot="$2.png" "file://$1" >/dev/null &&
        [ -s "$2.dom.html" ] && [ -s "$2.png" ]
}
if browse "$T/r.html" "$T/r"; then
    ok "chromium rendered the page (DOM and screenshot)"
else
    not_ok "chromium could not render the page"
    tail -20 "$T/chrome.log"
fi
if python3 "$HERE/check_report.py" "$T/out/manifest.json" "$T/r.html" "$T/r.dom.html" "$T/r.png"; then
    ok "check_report: names, shares, bars, offline, screenshot"
else
    not_ok "check_report"
fi

# 300 train shards: too many for a bar each; the chart bins the sizes.
python3 - "$T/out/manifest.json" "$T/many/manifest.json" <<'PY'
import copy, json, os, sys
m = json.load(open(sys.argv[1]))
train = [f for f in m["files"] if f["split"] == "train"]
rest = [f for f in m["files"] if f["split"] != "train"]
many = []
for i in range(300):
    f = copy.deepcopy(train[i % len(train)])
    f["path"] = "train/%03d.jsonl.zst" % i
    f["compressed_bytes"] += 37 * i
    many.append(f)
m["files"] = many + rest
os.makedirs(os.path.dirname(sys.argv[2]), exist_ok=True)
json.dump(m, open(sys.argv[2], "w"))
PY
"$PILEMIX" report "$T/many" -o "$T/many.html" >/dev/null
if browse "$T/many.html" "$T/many" &&
    python3 "$HERE/check_report.py" "$T/many/manifest.json" "$T/many.html" "$T/many.dom.html" "$T/many.png" >"$T/many.log" &&
    grep -q "^ok - chart shard: 30 bars" "$T/many.log"; then
    ok "300 shards: a 30-bin histogram of shard sizes"
else
    not_ok "300 shards"
    cat "$T/many.log"
fi
finish
