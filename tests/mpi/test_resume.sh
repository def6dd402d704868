#!/usr/bin/env bash
# Kill a rank (SIGKILL, via PILEMIX_FAULT) at each point of the job, resume
# with the same or another rank count, and require the exact bytes of a
# clean run. Also: a killed rank ends the job (no hang), a fresh run refuses
# the leftover work directory, a changed input refuses to resume.
. "$(dirname "$0")/lib.sh"

make_corpus "$T/data" 23 4M
write_config "$T/data" "$T/out" "$T/cfg.json" ', "mem_per_rank": "32M"'
pm 2 run "$T/cfg.json" --progress 0 >/dev/null
cp -r "$T/out" "$T/ref"

# point:count:rank   crash ranks -> resume ranks
cases="scatter-record:200:0 2 1
scatter-record:5:1 3 2
scatter-task:2:0 2 3
scatter-task:1:1 2 2
gather-pass:2:1 3 1
gather-file:1:0 2 3
gather-file:1:2 3 2
finish:1:0 1 2"
while read -r -u 3 fault crash_np resume_np; do
    # Work is handed out as ranks ask, so a rank other than 0 may, rarely,
    # get too little of it to reach the fault point (the run then succeeds):
    # that is the schedule, not a bug, so try a few times before failing.
    for attempt in 1 2 3 4 5; do
        rm -rf "$T/out" "$T/out.work"
        rc=0
        # Many small gather passes, so every rank that writes a file passes the
        # gather-pass points.
        PILEMIX_TEST_GATHER_BYTES=200000 PILEMIX_FAULT=$fault pm "$crash_np" run "$T/cfg.json" --progress 0 >"$T/crash.log" 2>&1 || rc=$?
        [ "$rc" -ne 0 ] && break
        echo "# $fault: fault point not reached on attempt $attempt (rank got less work); again"
    done
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then
        cat "$T/crash.log"; not_ok "$fault: the killed run exited $rc (0 = fault missed, 124 = hang)"
        continue
    fi
    expect_fail 2 "--resume" pm "$resume_np" run "$T/cfg.json" --progress 0 ||
        not_ok "$fault: a fresh run should refuse the leftover work directory"
    if pm "$resume_np" run "$T/cfg.json" --resume --progress 0 >"$T/resume.log" 2>&1 &&
        same_output "$T/ref" "$T/out"; then
        ok "$fault on $crash_np ranks, resumed on $resume_np: identical ($(grep -o 'reused.*' "$T/resume.log" || echo 'nothing reused'))"
    else
        cat "$T/resume.log"; not_ok "$fault: resume on $resume_np ranks"
    fi
done 3<<<"$cases"

# Work that was committed is not redone: after a crash late in gather, the
# resume reuses every scatter task.
rm -rf "$T/out" "$T/out.work"
PILEMIX_FAULT=gather-file:3:0 pm 1 run "$T/cfg.json" --progress 0 >/dev/null 2>&1 || true
pm 2 run "$T/cfg.json" --resume --progress 0 >"$T/resume.log"
ntasks=$(ls "$T/data"/*/*.jsonl* "$T/data"/*/*/*.jsonl* 2>/dev/null | wc -l)
if grep -q "reused $ntasks of $ntasks scatter tasks and 3 of" "$T/resume.log"; then
    ok "resume after gather crash reuses all $ntasks tasks and 3 files"
else
    cat "$T/resume.log"; not_ok "reuse counts"
fi

# A changed input file refuses to resume, naming the file.
rm -rf "$T/out" "$T/out.work"
PILEMIX_FAULT=scatter-task:2:0 pm 1 run "$T/cfg.json" --progress 0 >/dev/null 2>&1 || true
victim=$(ls "$T/data/github"/* | head -1)
touch -d '2001-01-01' "$victim"
if expect_fail 2 "input file changed.*--force" pm 1 run "$T/cfg.json" --resume --progress 0 &&
    grep -q "$(basename "$victim")" "$T/stderr"; then
    ok "changed input refuses to resume, naming the file"
else
    not_ok "changed input"
fi
# A changed config refuses too.
sed 's/"seed": 99/"seed": 7/' "$T/cfg.json" >"$T/cfg2.json"
if expect_fail 2 "config changed" pm 1 run "$T/cfg2.json" --resume --work-dir "$T/out.work" --progress 0; then
    ok "changed config refuses to resume"
else
    not_ok "changed config"
fi
finish
