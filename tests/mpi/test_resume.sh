#!/usr/bin/env bash
# Kill a rank (SIGKILL, via PILEMIX_FAULT) at each point of the job, check
# that the injected kill is what ended the run, resume with the same or
# another rank count, and require the exact bytes of a clean run. Also: a killed rank ends the job (no hang), a fresh run refuses
# the leftover work directory, a changed input refuses to resume.
. "$(dirname "$0")/lib.sh"

make_corpus "$T/data" 23 4M
write_config "$T/data" "$T/out" "$T/cfg.json" ', "mem_per_rank": "32M"'
pm 2 run "$T/cfg.json" --progress 0 >/dev/null
cp -r "$T/out" "$T/ref"

# Faults name deterministic places (fault.h): a task or an output file is
# handled by exactly one rank, so "the 100th record of task 2" is reached at
# every rank count and under any schedule, and every case must end by the
# injected kill. Tasks are the plan's input files in order: 0-3 Pile-CC,
# 4-6 Wikipedia, 7-8 Books3, 9-12 PubMed, 13-17 Github; output files 0-4
# train, 5 val, 6 test. rank=1 faults use points every rank passes.
#
# fault                    place printed by the kill     rank  crash -> resume ranks
cases="scatter-record:task=2:n=100 scatter-record:task=2:n=100 any 2 1
scatter-record:task=9:n=5 scatter-record:task=9:n=5 any 3 2
scatter-task:task=4 scatter-task:task=4:n=1 any 2 3
scatter-start:rank=1 scatter-start:n=1 1 2 2
spill-open:task=3:rank=1 spill-open:task=3:n=1 1 3 1
gather-pass:file=2:n=2 gather-pass:file=2:n=2 any 3 1
gather-file:file=0 gather-file:file=0:n=1 any 2 3
gather-file:file=5 gather-file:file=5:n=1 any 3 2
finish finish:n=1 0 1 2"
while read -r -u 3 fault place rank crash_np resume_np; do
    [ "$rank" = any ] && rank='[0-9]+'
    rm -rf "$T/out" "$T/out.work"
    rc=0
    # Many small gather passes, so output files take several gather-pass points.
    PILEMIX_TEST_GATHER_BYTES=200000 PILEMIX_FAULT=$fault pm "$crash_np" run "$T/cfg.json" --progress 0 >"$T/crash.log" 2>&1 || rc=$?
    if ! fault_killed "$rc" "$T/crash.log" "$place" "$rank"; then
        not_ok "$fault: the run was not ended by the injected kill"
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

# crash_1 FAULT PLACE: a 1-rank run killed by FAULT (with one rank, the n-th
# hit of a point without a place is deterministic too).
crash_1() {
    rm -rf "$T/out" "$T/out.work"
    local rc=0
    PILEMIX_FAULT=$1 pm 1 run "$T/cfg.json" --progress 0 >"$T/crash.log" 2>&1 || rc=$?
    fault_killed "$rc" "$T/crash.log" "$2" 0
}

# Work that was committed is not redone: after a crash late in gather, the
# resume reuses every scatter task and the 3 files committed.
if crash_1 gather-file:n=3 'gather-file:file=[0-9]+:n=3'; then
    pm 2 run "$T/cfg.json" --resume --progress 0 >"$T/resume.log"
    ntasks=$(ls "$T/data"/*/*.jsonl* "$T/data"/*/*/*.jsonl* 2>/dev/null | wc -l)
    if grep -q "reused $ntasks of $ntasks scatter tasks and 3 of" "$T/resume.log"; then
        ok "resume after gather crash reuses all $ntasks tasks and 3 files"
    else
        cat "$T/resume.log"; not_ok "reuse counts"
    fi
else
    not_ok "gather-file:n=3 on 1 rank: not ended by the injected kill"
fi

# A changed input file refuses to resume, naming the file.
if crash_1 scatter-task:n=2 'scatter-task:task=[0-9]+:n=2'; then
    victim=$(ls "$T/data/github"/* | head -1)
    touch -d '2001-01-01' "$victim"
    if expect_fail 2 "input file changed.*--force" pm 1 run "$T/cfg.json" --resume --progress 0 &&
        grep -q "$(basename "$victim")" "$T/stderr"; then
        ok "changed input refuses to resume, naming the file"
    else
        not_ok "changed input"
    fi
else
    not_ok "scatter-task:n=2 on 1 rank: not ended by the injected kill"
fi
# A changed config refuses too.
sed 's/"seed": 99/"seed": 7/' "$T/cfg.json" >"$T/cfg2.json"
if expect_fail 2 "config changed" pm 1 run "$T/cfg2.json" --resume --work-dir "$T/out.work" --progress 0; then
    ok "changed config refuses to resume"
else
    not_ok "changed config"
fi
finish
