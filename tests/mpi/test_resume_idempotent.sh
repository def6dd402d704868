#!/usr/bin/env bash
# --resume is idempotent (DESIGN 1.1), so a requeued cluster job can always
# pass it: with nothing there it starts a run (and says so); after a kill it
# continues; on a complete output it exits 0 at once and touches nothing;
# an output it cannot vouch for is refused, never overwritten.
. "$(dirname "$0")/lib.sh"

make_corpus "$T/data" 31 2M
write_config "$T/data" "$T/out" "$T/cfg.json" ', "mem_per_rank": "32M"'
pm 2 run "$T/cfg.json" --progress 0 >/dev/null
mv "$T/out" "$T/ref"

# Nothing to resume: starts a run.
if pm 2 run "$T/cfg.json" --resume --progress 0 >"$T/log" 2>&1 &&
    grep -q -- "--resume: no interrupted run in .*starting a new run" "$T/log" &&
    same_output "$T/ref" "$T/out" && work_gone "$T/out.work"; then
    ok "resume with nothing there starts a run, says so, same bytes"
else
    cat "$T/log"; not_ok "resume with nothing there"
fi

# Complete: exit 0 at once, nothing touched (same inodes and mtimes, no work dir).
snapshot() { (cd "$T/out" && find . -printf '%p %i %T@ %s\n' | sort); }
snapshot >"$T/before"
if pm 2 run "$T/cfg.json" --resume --progress 0 >"$T/log" 2>&1 &&
    grep -q "already complete for this config.*nothing to do" "$T/log" &&
    ! grep -q "time:" "$T/log" && snapshot | cmp -s - "$T/before" && work_gone "$T/out.work"; then
    ok "resume after completion: exit 0, nothing to do, nothing touched"
else
    cat "$T/log"; snapshot | diff "$T/before" - | head; not_ok "resume after completion"
fi
# The same on one rank, as plain `pilemix run` (no mpirun).
if "$PILEMIX" run "$T/cfg.json" --resume --progress 0 >"$T/log" 2>&1 &&
    grep -q "already complete" "$T/log" && snapshot | cmp -s - "$T/before"; then
    ok "resume after completion without mpirun"
else
    cat "$T/log"; not_ok "resume after completion without mpirun"
fi

# Killed mid-gather: resume continues (reusing work), then resume again is a no-op.
rm -rf "$T/out" "$T/out.work"
rc=0
PILEMIX_FAULT=gather-file:file=2 pm 2 run "$T/cfg.json" --progress 0 >"$T/log" 2>&1 || rc=$?
if [ "$rc" -ne 137 ] || ! grep -q "PILEMIX_FAULT: killing .* at gather-file:file=2" "$T/log"; then
    cat "$T/log"; not_ok "the fault did not kill the run (exit $rc)"
fi
if pm 2 run "$T/cfg.json" --resume --progress 0 >"$T/log" 2>&1 &&
    grep -q "resumed: reused" "$T/log" && ! grep -q "starting a new run" "$T/log" &&
    same_output "$T/ref" "$T/out"; then
    ok "resume after a kill continues: same bytes ($(grep -o 'reused.*' "$T/log"))"
else
    cat "$T/log"; not_ok "resume after a kill"
fi
if pm 1 run "$T/cfg.json" --resume --progress 0 >"$T/log" 2>&1 && grep -q "already complete" "$T/log"; then
    ok "a second resume after that finds it complete"
else
    cat "$T/log"; not_ok "second resume"
fi

# Not complete and nothing to continue: refused (exit 2), naming why, nothing deleted.
victim=$(cd "$T/out" && ls train | head -1)
truncate -s -1 "$T/out/train/$victim"
if expect_fail 2 "not complete for this config: train/$victim is not the size.*--force" \
    pm 2 run "$T/cfg.json" --resume --progress 0 && [ -e "$T/out/train/$victim" ] &&
    work_gone "$T/out.work"; then
    ok "a damaged output without state is refused, naming the file"
else
    not_ok "damaged output"
fi
cp "$T/ref/train/$victim" "$T/out/train/$victim"
# Another config's complete output is not this config's.
sed 's/"seed": 99/"seed": 7/' "$T/cfg.json" >"$T/cfg2.json"
if expect_fail 2 "made from another config" pm 1 run "$T/cfg2.json" --resume --progress 0 &&
    same_output "$T/ref" "$T/out"; then
    ok "another config's output is refused and left alone"
else
    not_ok "another config's output"
fi
finish
