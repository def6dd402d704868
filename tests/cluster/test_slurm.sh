#!/usr/bin/env bash
# A real one-node Slurm (munged, slurmctld, slurmd from Debian's packages,
# all state, sockets, logs and config in a temp dir; nothing in /etc), then:
#   - `sbatch jobs/slurm.sbatch CONFIG`, unmodified, finds pilemix next to
#     itself (PILEMIX unset) and with PILEMIX=, under srun --mpi=pmix and
#     PILEMIX_LAUNCHER=mpirun: the bytes of a local mpirun run;
#   - resubmitting a finished job: --resume finds the output complete, exit 0;
#   - `srun --mpi=pmix pilemix run` directly: the same bytes;
#   - scancel mid-run (at an exact point: a rank stops itself there): exit
#     143 and the --resume hint; then scontrol requeue: the same bytes, and
#     the log (--open-mode=append) holds both attempts;
#   - the time-limit warning (SIGTERM to the batch shell, as --signal=B:TERM
#     sends it) is forwarded to the ranks: they stop, the hint, exit 143;
#     resubmitting finishes: same bytes.
# Every daemon is started here and stopped by its pid at exit.
. "$(dirname "$0")/lib.sh"
need_root
need_packages slurmctld slurmd slurm-client munge iproute2
for c in munged slurmctld slurmd sbatch srun scontrol; do
    command -v "$c" >/dev/null || PATH=$PATH:/usr/sbin:/sbin
done

# --- daemons -----------------------------------------------------------------
# munged wants every directory above its socket searchable by all.
S=$(mktemp -d "${TMPDIR:-/tmp}/pilemix-slurm.XXXXXX")
chmod 755 "$S"
on_exit rm -rf "$S"
mkdir -p "$S/ctld" "$S/spool"
head -c 1024 /dev/urandom >"$S/munge.key"
chmod 400 "$S/munge.key"
munged -F --socket="$S/munge.sock" --key-file="$S/munge.key" --pid-file="$S/munged.pid" \
    --log-file="$S/munged.log" --seed-file="$S/munged.seed" >"$S/munged.out" 2>&1 &
munged_pid=$!
on_exit stop_pid "$munged_pid"
wait_for 20 "munged's socket" test -S "$S/munge.sock" || { cat "$S/munged.out"; exit 1; }

port_free() { [ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }
port=16817
while ! port_free "$port" || ! port_free $((port + 1)); do port=$((port + 10)); done
node=$(hostname -s)
cpus=$(nproc)
((cpus >= 2)) || cpus=2 # the job script's default asks for 2 ranks on a node
cat >"$S/slurm.conf" <<EOF
ClusterName=pmtest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$S/munge.sock,cred_expire=5
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$S/ctld
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/slurmctld.log
SlurmdLogFile=$S/slurmd.log
SlurmdParameters=config_overrides
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
export SLURM_CONF=$S/slurm.conf
slurmctld -D -f "$SLURM_CONF" >"$S/slurmctld.out" 2>&1 &
ctld_pid=$!
on_exit stop_pid "$ctld_pid"
slurmd -D -f "$SLURM_CONF" >"$S/slurmd.out" 2>&1 &
slurmd_pid=$!
# Last registered, first run: cancel what is left, let the steps end, then
# slurmd (slurmctld and munged after it).
on_exit stop_pid "$slurmd_pid"
on_exit 'scancel --quiet $(squeue -h -o %i) 2>/dev/null; wait_for 40 "jobs to end" no_jobs'
no_jobs() { [ -z "$(squeue -h -o %i 2>/dev/null)" ]; }
node_idle() { sinfo -h -o %T 2>/dev/null | grep -qx idle; }
if ! wait_for 60 "the Slurm node to be idle" node_idle; then
    tail -n 20 "$S/slurmctld.log" "$S/slurmd.log" "$S"/*.out
    exit 1
fi
echo "# slurm $(sinfo --version | cut -d' ' -f2) up on $node, ports $port/$((port + 1))"

# --- jobs ----------------------------------------------------------------------
job_field() { scontrol show job "$1" -o 2>/dev/null | grep -o "$2=[^ ]*" | cut -d= -f2; }
job_done() {
    case $(job_field "$1" JobState) in
    PENDING | RUNNING | CONFIGURING | COMPLETING | REQUEUED | SUSPENDED | RESIZING) return 1 ;;
    *) return 0 ;;
    esac
}
# submit [ENV=VALUE | -u NAME]... -- SCRIPT ARGS...: sbatch from $T (the
# configs' and logs' directory); prints the job id.
submit() {
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    (cd "$T" && env "${envs[@]}" sbatch --parsable "$@") | cut -d';' -f1
}
wait_job() { wait_for 240 "job $1 to end" job_done "$1"; }
requeued() { [ "$(job_field "$1" Restarts)" -ge 1 ]; }
job_ok() { [ "$(job_field "$1" JobState)" = COMPLETED ] && [ "$(job_field "$1" ExitCode)" = 0:0 ]; }
show_job() {
    echo "--- job $1: $(job_field "$1" JobState) exit $(job_field "$1" ExitCode)"
    cat "$T/pilemix-$1.log" 2>/dev/null
    echo "--- slurmctld and slurmd logs on job $1"
    grep -h -E "(JobId=|job_?)$1\b" "$S/slurmctld.log" "$S/slurmd.log" | tail -n 30
}

make_corpus "$T/data" 41 4M
write_config "$T/data" out "$T/cfg.json" ', "mem_per_rank": "32M"'
# The same data at zstd level 19: a few seconds of gather on two ranks, long
# enough to interrupt it between two output files.
sed 's/"test_fraction": 0.03}/"test_fraction": 0.03, "zstd_level": 19}/; s/"dir": "out"/"dir": "out19"/' \
    "$T/cfg.json" >"$T/cfg19.json"
(cd "$T" && pm 2 run cfg.json --progress 0 >/dev/null && mv out ref &&
    pm 2 run cfg19.json --progress 0 >/dev/null && mv out19 ref19)

# 1. An unmodified copy of the script, with pilemix in build/ next to its
# directory and PILEMIX unset: sbatch runs a spooled copy, so this also
# checks that the script finds its submitted path.
mkdir -p "$T/copy/jobs" "$T/copy/build"
cp "$REPO/jobs/slurm.sbatch" "$T/copy/jobs/"
ln -s "$PILEMIX" "$T/copy/build/pilemix"
if command -v pilemix >/dev/null; then
    echo "# note: a pilemix on PATH ($(command -v pilemix)) takes precedence over build/"
fi
id=$(submit -u PILEMIX -- "$T/copy/jobs/slurm.sbatch" cfg.json)
wait_job "$id"
if job_ok "$id" && same_output "$T/ref" "$T/out" &&
    grep -q "pilemix job: srun --mpi=pmix .*run --resume --progress 60 cfg.json$" "$T/pilemix-$id.log" &&
    grep -q "starting a new run" "$T/pilemix-$id.log"; then
    ok "sbatch jobs/slurm.sbatch (srun --mpi=pmix, pilemix found next to the script): identical to mpirun"
else
    show_job "$id"; not_ok "sbatch with srun"
fi
grep -q "at $T/copy/build/pilemix" "$T/pilemix-$id.log" || command -v pilemix >/dev/null ||
    { show_job "$id"; not_ok "the script did not use build/pilemix next to it"; }

# 2. The repository's script with PILEMIX= and mpirun as the launcher.
rm -rf "$T/out"
id=$(submit PILEMIX="$PILEMIX" PILEMIX_LAUNCHER=mpirun -- "$REPO/jobs/slurm.sbatch" cfg.json --progress 0)
wait_job "$id"
if job_ok "$id" && same_output "$T/ref" "$T/out" &&
    grep -q "pilemix job: mpirun $PILEMIX run --resume --progress 60 cfg.json --progress 0$" "$T/pilemix-$id.log"; then
    ok "sbatch jobs/slurm.sbatch with PILEMIX_LAUNCHER=mpirun: identical"
else
    show_job "$id"; not_ok "sbatch with mpirun"
fi

# 3. Resubmitting a finished job: nothing to do, exit 0, nothing touched.
(cd "$T/out" && find . -printf '%p %i %T@ %s\n' | sort) >"$T/before"
id=$(submit PILEMIX="$PILEMIX" -- "$REPO/jobs/slurm.sbatch" cfg.json)
wait_job "$id"
if job_ok "$id" && grep -q "already complete for this config" "$T/pilemix-$id.log" &&
    (cd "$T/out" && find . -printf '%p %i %T@ %s\n' | sort) | cmp -s - "$T/before"; then
    ok "resubmitting a finished job: already complete, exit 0, output untouched"
else
    show_job "$id"; not_ok "resubmit of a finished job"
fi

# 4. srun --mpi=pmix directly (its own allocation).
rm -rf "$T/out"
if (cd "$T" && timeout 120 srun -n 2 --mpi=pmix "$PILEMIX" run cfg.json --progress 0) >"$T/srun.log" 2>&1 &&
    same_output "$T/ref" "$T/out"; then
    ok "srun -n 2 --mpi=pmix pilemix run: identical"
else
    cat "$T/srun.log"; not_ok "srun --mpi=pmix"
fi

# 5. scancel mid-run, then scontrol requeue. Mid-run, exactly: on the first
# attempt a rank stops itself after the first bucket pass of output file 1
# (the fault injection's stop action; a wrapper sets PILEMIX_FAULT on the
# first attempt only). scancel sends SIGCONT and SIGTERM to every rank: they
# stop at the next record boundary, print the hint, exit 143.
cat >"$T/pm-first" <<EOF
#!/bin/sh
# pilemix, with \$PM_FIRST_FAULT as PILEMIX_FAULT on a job's first attempt only
if [ "\${SLURM_RESTART_COUNT:-0}" = 0 ] && [ -n "\${PM_FIRST_FAULT:-}" ]; then
    PILEMIX_FAULT=\$PM_FIRST_FAULT
    export PILEMIX_FAULT
fi
exec "$PILEMIX" "\$@"
EOF
chmod +x "$T/pm-first"
hint19="pilemix: interrupted: continue with pilemix run --resume cfg19.json"
id=$(submit PILEMIX="$T/pm-first" PM_FIRST_FAULT=gather-pass:file=1:n=1:stop -- \
    "$REPO/jobs/slurm.sbatch" cfg19.json --progress 0.2)
wait_stopped "$T/pilemix-$id.log"
scancel "$id"
wait_job "$id"
if [ -e "$T/out19/manifest.json" ]; then
    show_job "$id"; not_ok "the job finished before scancel reached it (not mid-run)"
elif [ "$(job_field "$id" JobState)" != CANCELLED ]; then
    show_job "$id"; not_ok "scancel: job state $(job_field "$id" JobState)"
else
    # Requeue only once the node has let the job go: Slurm marks a job
    # CANCELLED before its node has cleaned up, and a job id launched again
    # onto a node still holding it can fail to start.
    wait_for 60 "the node to be idle again" node_idle
    scontrol requeue "$id"
    # Slurm holds a requeued job (BeginTime) until the credentials of its
    # first run have expired: AuthInfo cred_expire, 120 s by default, 5 s
    # here. Starting it earlier (scontrol update StartTime=now) fails now
    # and then with "Job credential revoked".
    wait_for 30 "job $id to be requeued" requeued "$id"
    wait_job "$id"
    log=$T/pilemix-$id.log
    if job_ok "$id" && same_output "$T/ref19" "$T/out19" &&
        [ "$(grep -c "^pilemix job: job $id attempt" "$log")" -eq 2 ] &&
        grep -q "^pilemix job: job $id attempt 2 " "$log" &&
        grep -q "CANCELLED" "$log" && grep -q "resumed: reused" "$log" &&
        [ "$(grep -cxF "$hint19" "$log")" -eq 1 ] && grep -q "^pilemix job: exit status 143 " "$log" &&
        [ "$(grep -c "^pilemix: run cfg19.json (" "$log")" -eq 2 ] &&
        grep -q "^pilemix: gather" "$log"; then
        ok "scancel mid-run: exit 143 and the hint; scontrol requeue: identical; the log holds both attempts ($(grep -o 'reused.*' "$log"))"
    else
        show_job "$id"; not_ok "scancel + requeue"
    fi
fi

# 6. The time-limit warning: Slurm sends --signal=B:TERM@120 to the batch
# shell only; simulate it with scancel --batch and check that the script
# forwards it to the ranks: they stop, print the hint, the job exits 143;
# then resubmit. The same exact point as above; the forwarded SIGTERM comes
# without a SIGCONT, so the test lets the stopped rank go on once that
# SIGTERM is pending on it.
rm -rf "$T/out19" "$T/out19.work"
id=$(submit PILEMIX="$T/pm-first" PM_FIRST_FAULT=gather-pass:file=1:n=1:stop -- \
    "$REPO/jobs/slurm.sbatch" cfg19.json)
wait_stopped "$T/pilemix-$id.log"
scancel --batch --signal=TERM "$id"
term_pending() { # PID: SIGTERM (bit 15) pending on the process
    local mask
    mask=$(awk '/^ShdPnd:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
    [ -n "$mask" ] && (((0x$mask >> 14) & 1))
}
wait_for 60 "the forwarded SIGTERM to reach the stopped rank" term_pending "$stopped_pid" || true
kill -CONT "$stopped_pid" 2>/dev/null || true
wait_job "$id"
log=$T/pilemix-$id.log
if [ -e "$T/out19/manifest.json" ]; then
    show_job "$id"; not_ok "the job finished before the warning signal reached it"
elif grep -q "got SIGTERM .*asking the ranks to stop" "$log" && grep -q "^pilemix job: exit status 143 " "$log" &&
    [ "$(grep -cxF "$hint19" "$log")" -eq 1 ] && [ "$(job_field "$id" ExitCode)" = 143:0 ]; then
    ok "warning signal to the batch shell: forwarded, the ranks stop, the hint, exit 143"
    id2=$(submit PILEMIX="$PILEMIX" -- "$REPO/jobs/slurm.sbatch" cfg19.json)
    wait_job "$id2"
    if job_ok "$id2" && same_output "$T/ref19" "$T/out19" && grep -q "resumed: reused" "$T/pilemix-$id2.log"; then
        ok "resubmitted after the warning signal: identical"
    else
        show_job "$id2"; not_ok "resubmit after the warning signal"
    fi
else
    show_job "$id"; not_ok "warning signal forwarding"
fi
finish
