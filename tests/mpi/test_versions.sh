#!/usr/bin/env bash
# Pile versions (issue 13) on a mini-Pile (pilemix-gencorpus --profile pile-v1):
#  - plan --count: Table 1's shares of the paper, the same counts at 1 and 3
#    ranks, the census equal to what the run counts, the cache (a second
#    census reads nothing, a touched file is read again, a run fills it);
#  - the no-Books3 variant: the full output with Books3's lines removed,
#    shard by shard, in the same order;
#  - shares: epochs computed from the census, realized shares within 3 sigma;
#    a share needing more than max_epochs is a config error naming the epochs;
#  - reproduce: all files match; a changed input is named and nothing runs;
#    another pilemix version in the manifest is a warning.
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
export PILE_DATA=$T/data
"$GENCORPUS" --profile pile-v1 --size 12M --out "$PILE_DATA" >/dev/null
# The shipped configs, with the output here and 6 train shards (quicker).
for v in pile-v1 pile-v1-no-books3; do
    python3 - "$SRC/configs/$v.json" "$T/$v.json" "$T/out/$v" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["output"]["dir"] = sys.argv[3]
c["output"]["train_shards"] = 6
c["output"]["val_fraction"] = 0.02   # enough held-out documents to matter
c["output"]["test_fraction"] = 0.02
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY
done

# --- Table 1 --------------------------------------------------------------
# The paper's Table 1 (Gao et al. 2020), "Percentage of the Pile" by
# effective size. The mini-Pile's text per component is the paper's raw
# size scaled to the byte, so its shares differ from the paper's printed
# ones only by the paper's rounding (two decimals of a percent: 0.005) and
# by the raw sizes being given to two decimals of a GiB (at most 0.0008
# percentage points, Enron's 0.88 GiB): 0.01 points covers both.
if pm 3 plan --count --json "$T/pile-v1.json" >"$T/count3.json" 2>"$T/count3.err" &&
    python3 - "$T/count3.json" <<'PY'; then
import json, sys
paper = [18.11, 14.40, 12.07, 10.01, 8.96, 7.59, 6.12, 5.13, 3.65, 3.07, 2.17,
         1.55, 1.53, 1.24, 0.88, 0.75, 0.73, 0.62, 0.60, 0.38, 0.30, 0.14]
c = json.load(open(sys.argv[1]))["components"]
assert len(c) == 22, len(c)
for row, p in zip(c, paper):
    got = 100 * row["share"]
    assert abs(got - p) <= 0.01, (row["name"], got, p)
PY
    ok "plan --count on a mini-Pile gives the paper's Table 1 shares (within 0.01 points)"
else
    not_ok "plan --count Table 1 shares"
    cat "$T/count3.err" "$T/count3.json" | head -20
fi

# The same census at 1 rank, from scratch (the cache removed).
rm -f "$T/out/pile-v1.work/census.json"
if pm 1 plan --count --json "$T/pile-v1.json" >"$T/count1.json" 2>/dev/null &&
    python3 - "$T/count1.json" "$T/count3.json" <<'PY'; then
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["components"] == b["components"], "census differs between 1 and 3 ranks"
assert a["census"]["files_read"] == b["census"]["files_read"] > 0
PY
    ok "plan --count: the same census at 1 and 3 ranks"
else
    not_ok "plan --count at 1 and 3 ranks"
fi

# The cache: nothing is read again; a touched file is.
pm 2 plan --count --json "$T/pile-v1.json" >"$T/again.json" 2>/dev/null || true
touch -d '2001-01-01' "$PILE_DATA"/europarl/*.jsonl.zst
pm 2 plan --count --json "$T/pile-v1.json" >"$T/touched.json" 2>/dev/null || true
if python3 - "$T/again.json" "$T/touched.json" "$T/count3.json" <<'PY'; then
import json, sys
again, touched, first = (json.load(open(p)) for p in sys.argv[1:4])
assert again["census"]["files_read"] == 0 and again["census"]["files_cached"] > 0, again["census"]
assert touched["census"]["files_read"] == 1, touched["census"]
assert again["components"] == first["components"] == touched["components"]
PY
    ok "census cache: a second plan --count reads no file, a touched file is read again"
else
    not_ok "census cache"
fi

# A damaged cache is ignored (and rebuilt), never trusted.
sed -i 's/"kept_docs": \([0-9]\)/"kept_docs": 9\1/' "$T/out/pile-v1.work/census.json"
if pm 1 plan --count --json "$T/pile-v1.json" >"$T/damaged.json" 2>"$T/damaged.err" &&
    grep -q "census.json is damaged" "$T/damaged.err" &&
    python3 - "$T/damaged.json" "$T/count3.json" <<'PY'; then
import json, sys
d, first = (json.load(open(p)) for p in sys.argv[1:3])
assert d["components"] == first["components"] and d["census"]["files_read"] > 0
PY
    ok "a damaged census cache is ignored with a note and rebuilt"
else
    not_ok "damaged census cache"
    cat "$T/damaged.err"
fi

# A corrupt input: the census fails on the rank that reads it, naming the
# file and offset, and every rank ends (exit 1, no hang); with on_bad_file
# "skip" it is counted as a bad file instead, as the run would skip it.
mkdir -p "$T/bad/enron"
cp "$PILE_DATA"/enron_emails/*.jsonl.zst "$T/bad/enron/a.jsonl.zst"
# A whole first frame (past what planning probes), then a cut one.
big=$(ls "$PILE_DATA"/pile_cc/*.jsonl.zst | head -n 1)
cat "$big" >"$T/bad/enron/b.jsonl.zst"
head -c 300 "$big" >>"$T/bad/enron/b.jsonl.zst"
cat >"$T/bad.json" <<JSON
{"name": "bad", "components": [{"name": "E", "paths": ["$T/bad/enron"], "epochs": 1}],
 "output": {"dir": "$T/out/bad"}}
JSON
if expect_fail 1 'b\.jsonl\.zst: truncated zstd stream .*\(byte [0-9]+\)' pm 2 plan --count "$T/bad.json"; then
    ok "plan --count: a truncated input fails the census naming it, on every rank"
else
    not_ok "plan --count with a truncated input"
fi
sed -i 's|"output": {|"run": {"on_bad_file": "skip"}, "output": {|' "$T/bad.json"
if pm 2 plan --count --json "$T/bad.json" >"$T/bad.out" 2>"$T/bad.err" &&
    python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["components"][0]; assert c["bad_files"] == 1 and c["documents"] > 0, c' "$T/bad.out"; then
    ok "plan --count: with on_bad_file skip the truncated input is one bad file"
else
    not_ok "plan --count with on_bad_file skip"
    cat "$T/bad.err"
fi

# --- the run, and the census against it -----------------------------------
if pm 2 run "$T/pile-v1.json" --progress 0 >"$T/run.log" 2>&1 &&
    python3 - "$T/out/pile-v1/manifest.json" "$T/count3.json" <<'PY'; then
import json, sys
m, c = (json.load(open(p)) for p in sys.argv[1:3])
for mc, cc in zip(m["components"], c["components"]):
    assert mc["name"] == cc["name"]
    kept = mc["documents"] - mc["bad_records"]["total"] - mc["empty_documents"]
    assert kept == cc["documents"], (mc["name"], kept, cc["documents"])
    assert mc["text_bytes"] == cc["text_bytes"], mc["name"]
    assert mc["split_text_bytes"]["train"] == cc["train_text_bytes"], mc["name"]
PY
    ok "the census counts what the run counts (documents, text and train text bytes)"
else
    not_ok "census against the run"
    tail -5 "$T/run.log"
fi

# --- the takedown variant ---------------------------------------------------
# Train: each shard of the variant is the full shard with Books3's lines
# dropped, in the same order. Val/test: the same, provided no Books3 text
# also appears in another component (a held-out duplicate keeps the copy
# with the smallest identity, and removing Books3 could let another copy
# in); the mini-Pile's texts are distinct, which the check asserts first.
if pm 2 run "$T/pile-v1-no-books3.json" --progress 0 >"$T/nb.log" 2>&1 &&
    python3 - "$T/out/pile-v1" "$T/out/pile-v1-no-books3" <<'PY'; then
import glob, json, os, subprocess, sys
full, var = sys.argv[1:3]
def lines(p):
    return subprocess.run(["zstd", "-dcq", p], check=True, capture_output=True).stdout.splitlines()
names = sorted(os.path.relpath(p, full) for p in glob.glob(full + "/train/*.jsonl.zst")) + ["val.jsonl.zst", "test.jsonl.zst"]
texts, books, kept = {}, 0, 0
for n in names:
    a, b = lines(os.path.join(full, n)), lines(os.path.join(var, n))
    rest = []
    for l in a:
        d = json.loads(l)
        comp = d["meta"]["pile_set_name"]
        if texts.setdefault(d["text"], comp) != comp:
            raise SystemExit("a text in two components: the holdout check does not apply")
        if comp == "Books3":
            books += 1
        else:
            rest.append(l)
    assert rest == b, n
    kept += len(b)
assert books > 0 and kept > 0
print(f"{books} Books3 lines removed, {kept} other lines in the same shards and order")
PY
    ok "pile-v1-no-books3 = pile-v1 without Books3's lines, every other line in its shard and order"
else
    not_ok "the no-Books3 variant"
    tail -5 "$T/nb.log"
fi

# --- shares ---------------------------------------------------------------
# pile-v1 weighed by shares instead: each component's share of the paper's
# mix, at most 3 epochs each. Epochs come from the census; the realized
# share of component c is X_c / sum X, X_c its train text written (copies
# counted). X_c = sum over its train documents of len_d x (floor(e_c) + B_d)
# with B_d ~ Bernoulli(f_c), f_c = frac(e_c): mean e_c x train_c (exactly
# the asked share of the total, by construction), variance V_c = f_c (1 -
# f_c) sum len_d^2. Linearised, r_c - s_c ~ ((1 - s_c) D_c - s_c sum_{k!=c}
# D_k) / S with D = X - E[X], so sigma_c^2 = ((1 - s_c)^2 V_c + s_c^2
# sum_{k!=c} V_k) / S^2. sum len_d^2 is taken over the documents seen in
# the output (each distinct text once; the mini-Pile's texts are distinct),
# divided by the chance a document is seen (1 when floor(e) >= 1, else f).
python3 - "$T/pile-v1.json" "$T/count3.json" "$T/shares.json" "$T/out/shares" <<'PY'
import json, sys
cfg, count = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
cfg["name"] = "pile-v1-shares"
cfg["output"]["dir"] = sys.argv[4]
for comp, row in zip(cfg["components"], count["components"]):
    del comp["epochs"]
    comp["share"] = row["share"]
    comp["max_epochs"] = 3
s = sum(c["share"] for c in cfg["components"])
cfg["components"][0]["share"] += 1 - s  # the decimals sum to 1
json.dump(cfg, open(sys.argv[3], "w"), indent=1)
PY
if pm 2 run "$T/shares.json" --progress 0 >"$T/shares.log" 2>&1 &&
    grep -q "epochs from the census" "$T/shares.log" && grep -q "realized share" "$T/shares.log" &&
    python3 - "$T/out/shares" <<'PY'; then
import glob, json, math, subprocess, sys
out = sys.argv[1]
m = json.load(open(out + "/manifest.json"))
comps = {c["name"]: c for c in m["components"]}
X, seen = {}, {}
for p in glob.glob(out + "/train/*.jsonl.zst"):
    for l in subprocess.run(["zstd", "-dcq", p], check=True, capture_output=True).stdout.splitlines():
        d = json.loads(l)
        c, n = d["meta"]["pile_set_name"], len(d["text"].encode())
        X[c] = X.get(c, 0) + n
        seen.setdefault(c, {})[d["text"]] = n
S = sum(X.values())
V = {}
for c, o in comps.items():
    e = o["epochs"]
    f = e - math.floor(e)
    p_seen = 1.0 if e >= 1 else f
    V[c] = f * (1 - f) * sum(n * n for n in seen.get(c, {}).values()) / p_seen
worst = 0
for c, o in comps.items():
    s_c, r_c = o["share_asked"], X.get(c, 0) / S
    assert abs(o["share_realized"] - r_c) < 1e-12, (c, o["share_realized"], r_c)
    sigma = math.sqrt((1 - s_c) ** 2 * V[c] + s_c ** 2 * sum(V[k] for k in V if k != c)) / S
    z = abs(r_c - s_c) / sigma if sigma > 0 else (0 if abs(r_c - s_c) < 1e-9 else math.inf)
    worst = max(worst, z)
    assert z <= 3, (c, s_c, r_c, sigma, z)
assert max(o["epochs"] for o in comps.values()) == 3.0
print(f"realized shares within {worst:.2f} sigma of the asked ones")
PY
    ok "shares: epochs from the census, realized shares within 3 sigma of the asked ones"
else
    not_ok "shares: realized against asked"
    tail -5 "$T/shares.log"
fi

# A total that needs more than max_epochs: exit 2, saying how many.
python3 - "$T/shares.json" "$T/shares2.json" "$T/out/shares2" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["output"]["dir"] = sys.argv[3]
c["output"]["train_bytes"] = "1G"
json.dump(c, open(sys.argv[2], "w"))
PY
if expect_fail 2 'components\[0\]\.share: "Pile-CC" would need [0-9.]+ epochs .* but max_epochs is 3' pm 1 run "$T/shares2.json" --progress 0 &&
    [ ! -e "$T/out/shares2" ]; then
    ok "a share needing more than max_epochs is a config error naming the epochs, nothing created"
else
    not_ok "share over max_epochs"
fi

# --- reproduce --------------------------------------------------------------
if pm 2 reproduce "$T/out/pile-v1" --into "$T/again" --progress 0 >"$T/rep.log" 2>&1 &&
    grep -q "all .* output files match" "$T/rep.log" &&
    grep -q "all .* input files match the manifest" "$T/rep.log"; then
    ok "reproduce: inputs checked, every output file matches"
else
    not_ok "reproduce matches"
    tail -5 "$T/rep.log"
fi

# Another version in the manifest: a warning, and the comparison decides.
cp -r "$T/out/pile-v1" "$T/old"
sed -i 's/"pilemix_version": "[^"]*"/"pilemix_version": "0.0.9"/' "$T/old/manifest.json"
if pm 1 reproduce "$T/old" --into "$T/again2" --progress 0 >"$T/rep2.log" 2>&1 &&
    grep -q "warning: .* was made by pilemix 0.0.9" "$T/rep2.log"; then
    ok "reproduce: another pilemix version is warned about, the files still compared"
else
    not_ok "reproduce with another version"
    tail -5 "$T/rep2.log"
fi

# A changed input (the same size, other text): named, and nothing is run.
f=$(ls "$PILE_DATA"/pg19/*.txt | head -n 1)
head -c "$(stat -c %s "$f")" /dev/zero | tr '\0' x >"$T/same-size" && cp "$T/same-size" "$f"
rc=0
pm 2 reproduce "$T/out/pile-v1" --into "$T/again3" --progress 0 >"$T/rep3.log" 2>&1 || rc=$?
if [ "$rc" -eq 1 ] && grep -q "input changed: Gutenberg (PG-19): $(basename "$f")" "$T/rep3.log" &&
    grep -q "not rerunning" "$T/rep3.log" && [ ! -e "$T/again3/manifest.json" ]; then
    ok "reproduce: a changed input is named (exit 1) before anything runs"
else
    not_ok "reproduce with a changed input (rc $rc)"
    cat "$T/rep3.log"
fi

finish
