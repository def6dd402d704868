#!/usr/bin/env bash
# SIGINT and SIGTERM (DESIGN 1.1): every rank stops at the next record
# boundary with nothing half-committed (the scatter task or output file in
# progress is discarded and its temp file removed; committed work stays),
# rank 0 prints one hint, and the job exits 128+n; --resume then gives the
# bytes of an uninterrupted run. The moment is exact: a rank stops itself
# with the fault injection's stop action, the test signals, then lets it go
# on (SIGCONT). Also: a real error on another rank outranks the interruption;
# SIGTERM to mpirun itself gives mpirun's own exit status (1, Open MPI 4.1),
# with the ranks still stopping cleanly; the job's log starts with its
# start line.
. "$(dirname "$0")/lib.sh"

make_corpus "$T/data" 33 3M
write_config "$T/data" "$T/out" "$T/cfg.json" ', "mem_per_rank": "32M"'
pm 2 run "$T/cfg.json" --progress 0 >/dev/null
mv "$T/out" "$T/ref"
hint="pilemix: interrupted: continue with pilemix run --resume $T/cfg.json"

# start NP FAULT [ENV=VALUE...]: mpirun in the background (its pid in job),
# stderr and stdout in $T/log; waits until a rank has stopped itself.
start() {
    local np=$1 fault=$2
    shift 2
    rm -rf "$T/out" "$T/out.work"
    env PILEMIX_FAULT="$fault" "$@" mpirun -np "$np" "$PILEMIX" run "$T/cfg.json" --progress 0 \
        </dev/null >"$T/log" 2>&1 &
    job=$!
    wait_stopped "$T/log"
}
# SIGTERM to every rank: mpirun's children here (one host).
term_ranks() {
    local pids
    mapfile -t pids < <(pgrep -P "$job")
    kill -TERM "${pids[@]}"
}
end_job() {
    rc=0
    wait "$job" || rc=$?
}
no_temps() {
    local left
    left=$(find "$T/out" "$T/out.work" -name '.*.tmp' 2>/dev/null)
    [ -z "$left" ] || { echo "temp files left: $left" >&2; return 1; }
}
hint_once() {
    [ "$(grep -cxF "$hint" "$T/log")" -eq 1 ] || { echo "hint not printed exactly once" >&2; return 1; }
}
resume_same() {
    if pm 3 run "$T/cfg.json" --resume --progress 0 >"$T/rlog" 2>&1 &&
        same_output "$T/ref" "$T/out" && grep -q "resumed: reused" "$T/rlog"; then
        return 0
    fi
    cat "$T/rlog"
    return 1
}

# 1. Mid-scatter: rank stops itself in the middle of task 0, every rank gets
# SIGTERM (as srun and scancel deliver it), then it goes on.
start 3 scatter-record:task=0:n=5:stop
term_ranks
kill -CONT "$stopped_pid"
end_job
if [ "$rc" -eq 143 ] && hint_once && no_temps && [ ! -e "$T/out.work/spill/task-0000000.spill" ] &&
    grep -q "^pilemix: SIGTERM: stopping at the next record boundary" "$T/log" &&
    ! grep -q "error" "$T/log" && resume_same; then
    ok "SIGTERM mid-scatter: exit 143, the hint once, task 0 discarded, resume identical ($(grep -o 'reused.*' "$T/rlog"))"
else
    cat "$T/log"; not_ok "SIGTERM mid-scatter (exit $rc)"
fi

# 2. Mid-gather, in the middle of output file 0 (many passes, so records
# follow the stop): the file is aborted, its temp removed, no result.
start 3 gather-pass:file=0:n=2:stop PILEMIX_TEST_GATHER_BYTES=100000
term_ranks
kill -CONT "$stopped_pid"
end_job
if [ "$rc" -eq 143 ] && hint_once && no_temps && [ ! -e "$T/out/train/0.jsonl.zst" ] &&
    [ ! -e "$T/out.work/results/file-000000.bin" ] && resume_same; then
    ok "SIGTERM mid-gather: exit 143, file 0 aborted (no temp, no result), resume identical ($(grep -o 'reused.*' "$T/rlog"))"
else
    cat "$T/log"; ls -la "$T/out/train" "$T/out.work/results" 2>&1; not_ok "SIGTERM mid-gather (exit $rc)"
fi

# 3. SIGINT to one rank only (as a user's kill would): it stops, tells the
# others at the next agreement, and every rank exits 130.
start 3 scatter-record:task=0:n=5:stop
kill -INT "$stopped_pid"
kill -CONT "$stopped_pid"
end_job
if [ "$rc" -eq 130 ] && hint_once && grep -q "^pilemix: SIGINT: stopping" "$T/log" && no_temps &&
    resume_same; then
    ok "SIGINT to one rank: the job stops, exit 130, resume identical"
else
    cat "$T/log"; not_ok "SIGINT to one rank (exit $rc)"
fi

# 4. A real error elsewhere outranks the interruption: rank 1 fails with an
# I/O error at the scatter's start while rank 0, stopped there, is
# interrupted. Exit 1 (the error's), the error printed, no hint.
start 2 "scatter-start:rank=0:stop;scatter-start:rank=1:eio"
kill -TERM "$stopped_pid"
kill -CONT "$stopped_pid"
end_job
if [ "$rc" -eq 1 ] && grep -q "error (rank 1): injected fault at scatter-start" "$T/log" &&
    ! grep -qF "$hint" "$T/log"; then
    ok "an I/O error on one rank outranks SIGTERM on another: exit 1, no hint"
else
    cat "$T/log"; not_ok "error vs interruption (exit $rc)"
fi

# 5. SIGTERM to mpirun itself. Open MPI 4.1 cannot forward SIGTERM or SIGINT
# as such (ess_base_forward_signals refuses them). It sends every rank
# SIGCONT at once, SIGTERM odls_base_sigkill_timeout (T, 1 s by default; 3 s
# here) later, SIGKILL T after that, and exits 1 whatever the ranks return.
# The ranks stop cleanly on that SIGTERM and rank 0 prints the hint. To
# hold the job at a known point through mpirun's SIGCONT, the rank stops
# itself twice (records 5 and 6 of task 0); the test lets it go on once the
# SIGTERM is pending on it, well before the SIGKILL.
term_pending_stopped() { # PID: stopped, with SIGTERM (bit 15) pending
    local mask
    [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = T ] || return 1
    mask=$(awk '/^ShdPnd:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
    [ -n "$mask" ] && (((0x$mask >> 14) & 1))
}
start 3 "scatter-record:task=0:n=5:stop;scatter-record:task=0:n=6:stop" \
    OMPI_MCA_odls_base_sigkill_timeout=3
kill -TERM "$job"
for ((i = 0; i < 1200; i++)); do # poll (60 s at most), never a fixed wait
    term_pending_stopped "$stopped_pid" && break
    sleep 0.05
done
kill -CONT "$stopped_pid" 2>/dev/null || true
end_job
if [ "$rc" -eq 1 ] && hint_once && no_temps && [ ! -e "$T/out.work/spill/task-0000000.spill" ] &&
    ! grep -q "^time:" "$T/log" && resume_same; then
    ok "SIGTERM to mpirun: mpirun's own exit 1, the ranks stopped cleanly (hint, task 0 discarded), resume identical"
else
    cat "$T/log"; not_ok "SIGTERM to mpirun (exit $rc)"
fi

# 6. One rank without mpirun (MPI singleton), SIGINT as Ctrl-C sends it to
# the foreground process: exit 130, and the log starts with the start line.
rm -rf "$T/out" "$T/out.work"
PILEMIX_FAULT=scatter-record:task=0:n=5:stop "$PILEMIX" run "$T/cfg.json" --progress 0 </dev/null >"$T/log" 2>&1 &
job=$!
wait_stopped "$T/log"
kill -INT "$job"
kill -CONT "$job"
end_job
first=$(head -n 1 "$T/log")
if [ "$rc" -eq 130 ] && hint_once && no_temps &&
    [[ $first == "pilemix: run $T/cfg.json (test, config hash "*", pilemix "*") on 1 rank, 1 host: "*"(1); mem_per_rank 32 MiB; peer_timeout 300 s; output $T/out; work $T/out.work; started "* ]] &&
    resume_same; then
    ok "SIGINT to a plain pilemix run: exit 130; the log starts with the start line; resume identical"
else
    cat "$T/log"; not_ok "SIGINT without mpirun (exit $rc)"
fi
finish
