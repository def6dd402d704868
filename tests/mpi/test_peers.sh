#!/usr/bin/env bash
# Lost peers (DESIGN 1.6): a rank that stops answering for run.peer_timeout
# ends the job, with an error naming it, instead of hanging it. One host here (tests/cluster/test_multihost.sh cuts a host
# off a real TCP job); a rank "stops answering" by SIGSTOP, which the fault
# injection's stop action sends itself at an exact point.
. "$(dirname "$0")/lib.sh"

make_corpus "$T/data" 35 3M
write_config "$T/data" "$T/out" "$T/cfg.json" ', "mem_per_rank": "32M", "peer_timeout": "3s"'

# lost_run NP FAULT: the run ends by itself, non-zero, well within the
# test's own bound (the stopped rank never resumes).
lost_run() {
    rm -rf "$T/out" "$T/out.work"
    rc=0
    SECONDS=0
    PILEMIX_FAULT=$2 timeout 120 mpirun -np "$1" "$PILEMIX" run "$T/cfg.json" --progress 0 \
        </dev/null >"$T/log" 2>&1 || rc=$?
    took=$SECONDS
}
no_ranks_left() { ! pgrep -f "^$PILEMIX run $T/cfg.json" >/dev/null; }

# 1. A worker stops answering (stopped before its first task): rank 0 names
# it after 3 s and ends the job; mpirun takes the stopped rank down too.
lost_run 3 scatter-start:rank=2:stop
if [ "$rc" -eq 1 ] && [ "$took" -lt 60 ] &&
    grep -qE "^pilemix: error: lost rank 2: not a word for [3-9] s \(run.peer_timeout is 3 s\) during the scatter" "$T/log" &&
    no_ranks_left; then
    ok "a silent worker ends the job: exit 1 after ${took}s, naming rank 2"
else
    cat "$T/log"; not_ok "silent worker (exit $rc after ${took}s)"
fi

# 2. Rank 0 stops answering (stopped before its first task): the workers,
# waiting for its answer, name it and end the job.
lost_run 3 scatter-start:rank=0:stop
if [ "$rc" -eq 1 ] && [ "$took" -lt 60 ] &&
    grep -qE "^pilemix: error \(rank [12]\): lost rank 0: not a word for [3-9] s .* during the scatter" "$T/log" &&
    no_ranks_left; then
    ok "a silent rank 0 ends the job: exit 1 after ${took}s, a worker names rank 0"
else
    cat "$T/log"; not_ok "silent rank 0 (exit $rc after ${took}s)"
fi

# 3. Mid-gather: a worker stopped after a bucket pass of output file 1.
lost_run 2 gather-pass:file=1:n=1:stop
if [ "$rc" -eq 1 ] && grep -qE "lost rank [01]: .* during the gather" "$T/log" && no_ranks_left; then
    ok "a rank silent mid-gather ends the job: exit 1 after ${took}s"
else
    cat "$T/log"; not_ok "silent mid-gather (exit $rc after ${took}s)"
fi

finish
