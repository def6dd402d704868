#!/bin/bash
# Canaries (issue 14, point 3): the dataset with canaries is the one without
# plus exactly the listed canaries at their listed lines (checked in Python,
# tests/mpi/stages.py); pilemix canary re-derives and finds them; the same
# bytes and list at 1 and 3 ranks, two budgets, after a kill and resume; the
# secret appears nowhere; bad canary configs exit 2 naming the key.
. "$(dirname "$0")/lib.sh"
PY="python3 $(dirname "$0")/stages.py"

$PY gen "$T/data" 5
export PM_CANARY_SECRET="s3cret-canary-value-for-the-test"
write_cfg() { # OUT CANARIES
    cat >"$T/cfg.json" <<JSON
{
  "name": "canary-test", "seed": 8,
  "components": [
    {"name": "A", "paths": ["$T/data/A"], "epochs": 1.0},
    {"name": "B", "paths": ["$T/data/B"], "epochs": 2.5},
    {"name": "C", "paths": ["$T/data/C"], "epochs": 0.5}
  ],
  "output": {"dir": "$1", "train_shards": 6, "val_fraction": 0.03, "test_fraction": 0.03 $2}
}
JSON
}
write_cfg "$T/plain" ""
pm 1 run "$T/cfg.json" --progress 0 >/dev/null
write_cfg "$T/out" ', "canaries": {"count": 40, "secret": "${PM_CANARY_SECRET}"}'
pm 1 run "$T/cfg.json" --progress 0 >"$T/run1.log" 2>&1
if $PY canaries "$T/out.canaries.jsonl" "$T/out" "$T/plain" 40 >"$T/check.log"; then
    ok "$(cat "$T/check.log")"
else
    cat "$T/check.log"
    not_ok "the dataset with canaries is the one without plus the listed canaries"
fi
if [ "$(stat -c %a "$T/out.canaries.jsonl")" = 600 ] && [ ! -e "$T/out/canaries.jsonl" ] &&
    ! grep -rq "$PM_CANARY_SECRET" "$T/out" "$T/run1.log" "$T/out.canaries.jsonl" &&
    ! zstdcat "$T"/out/*.zst "$T"/out/train/*.zst | grep -q "$PM_CANARY_SECRET" &&
    python3 -c "import json,sys; m=json.load(open(sys.argv[1])); assert m['canaries']['count']==40 and 'text' not in json.dumps(m['canaries'])" "$T/out/manifest.json"; then
    ok "list mode 0600 outside the output; the secret nowhere in output, manifest, list or log; manifest says 40"
else
    not_ok "the list and the secret"
fi
PILEMIX_CANARY_SECRET=$PM_CANARY_SECRET "$PILEMIX" canary "$T/out" >"$T/find.log" 2>&1 || true
if grep -q "40 of 40 canaries found" "$T/find.log" &&
    python3 - "$T/out.canaries.jsonl" "$T/find.log" <<'PY'; then
import json, re, sys
want = {c["index"]: "%s:%d" % (c["shard"], c["line"]) for c in map(json.loads, open(sys.argv[1]))}
got = {int(m.group(1)): m.group(2) for m in re.finditer(r"canary (\d+): found (\S+)", open(sys.argv[2]).read())}
sys.exit(0 if got == want else 1)
PY
    ok "pilemix canary (secret from the environment) finds all 40 where the list says"
else
    cat "$T/find.log"
    not_ok "pilemix canary finds them"
fi
if ! "$PILEMIX" canary --secret "another-secret-of-enough-length" "$T/out" >"$T/wrong.log" 2>&1 &&
    grep -q "0 of 40 canaries found" "$T/wrong.log" &&
    "$PILEMIX" verify "$T/out" >/dev/null && "$PILEMIX" stats "$T/out" | grep -q "^canaries: 40 documents"; then
    ok "another secret finds none (exit 1); verify and stats pass and say 40 canaries"
else
    not_ok "another secret, verify, stats"
fi
cp -r "$T/out" "$T/ref"
"$PILEMIX" subset "$T/out" --fraction 0.55 --into "$T/half" >/dev/null
if PILEMIX_CANARY_SECRET=$PM_CANARY_SECRET "$PILEMIX" canary "$T/half" >"$T/half.log" 2>&1 &&
    python3 - "$T/out.canaries.jsonl" "$T/half.log" "$T/half/manifest.json" <<'PY'; then
import json, re, sys
lst = list(map(json.loads, open(sys.argv[1])))
log = open(sys.argv[2]).read()
cut = json.load(open(sys.argv[3]))["subset"]["partial_shard"]
inside = 0
for c in lst:
    shard = int(re.search(r"/(\d+)\.", c["shard"]).group(1))
    pshard = int(re.search(r"/(\d+)\.", cut["path"]).group(1))  # 0.55 * 6 shards: 3.3
    want_in = shard < pshard or (shard == pshard and c["line"] <= cut["lines"])
    found = re.search(r"canary %d: found %s:%d\n" % (c["index"], re.escape(c["shard"]), c["line"]), log)
    if bool(found) != want_in:
        sys.exit("canary %d: found %s, expected %s" % (c["index"], bool(found), want_in))
    inside += want_in
if "%d of 40 canaries found (%d outside this subset)" % (inside, 40 - inside) not in log:
    sys.exit("summary line")
PY
    ok "canary on a 55% subset (a partial shard): exactly the canaries inside it found, the rest outside, exit 0"
else
    cat "$T/half.log"
    not_ok "canary on a subset"
fi
cp "$T/out.canaries.jsonl" "$T/ref.canaries.jsonl"

PILEMIX_TEST_LAYOUT_BYTES=65536 pm 3 run "$T/cfg.json" --force --mem-per-rank 16M --progress 0 >/dev/null
if same_output "$T/ref" "$T/out" && cmp -s "$T/ref.canaries.jsonl" "$T/out.canaries.jsonl"; then
    ok "same bytes and list at 3 ranks, small buckets, 16M budget"
else
    not_ok "same bytes at 3 ranks"
fi
rm -rf "$T/out" "$T/out.work" "$T/out.canaries.jsonl"
rc=0
PILEMIX_FAULT=gather-file:file=2 pm 2 run "$T/cfg.json" --progress 0 >"$T/crash.log" 2>&1 || rc=$?
if fault_killed "$rc" "$T/crash.log" 'gather-file:file=2:n=1' &&
    pm 3 run "$T/cfg.json" --resume --progress 0 >/dev/null && same_output "$T/ref" "$T/out" &&
    cmp -s "$T/ref.canaries.jsonl" "$T/out.canaries.jsonl"; then
    ok "killed in the gather, resumed on 3 ranks: the same bytes and list"
else
    not_ok "resume after a kill"
fi

write_cfg "$T/x" ', "canaries": {"count": 4, "secret": "short"}'
a=0
expect_fail 2 'output\.canaries\.secret: too short' "$PILEMIX" plan "$T/cfg.json" || a=1
write_cfg "$T/x" ', "canaries": {"count": 4, "secret": "${PM_UNSET_SECRET_X}"}'
expect_fail 2 'output\.canaries\.secret: environment variable PM_UNSET_SECRET_X is not set' "$PILEMIX" plan "$T/cfg.json" || a=1
write_cfg "$T/x" ', "canaries": {"count": -1, "secret": "${PM_CANARY_SECRET}"}'
expect_fail 2 'output\.canaries\.count' "$PILEMIX" plan "$T/cfg.json" || a=1
write_cfg "$T/x" ', "canaries": {"count": 4, "secret_digest": "0123456789abcdef0123456789abcdef"}'
expect_fail 2 'output\.canaries: this config has only the secret.s digest' pm 1 run "$T/cfg.json" --progress 0 || a=1
if [ $a = 0 ]; then ok "bad canaries: exit 2 naming output.canaries.secret / .count; a digest alone (a manifest's config) cannot run"; else not_ok "bad canaries exit 2"; fi
finish
