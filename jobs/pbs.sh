#!/usr/bin/env bash
# pilemix on PBS Pro or Torque. Submit from the directory your config's
# relative paths are relative to:
#
#   qsub -v CONFIG=pile.json jobs/pbs.sh
#   qsub -l nodes=4:ppn=32 -v CONFIG=pile.json,EXTRA_ARGS="--mem-per-rank 3GiB" jobs/pbs.sh
#   qsub -F "pile.json --mem-per-rank 3GiB" jobs/pbs.sh        (Torque only)
#
# Arguments: the script's own (Torque's -F, or when run by hand) or else
# CONFIG and EXTRA_ARGS from the environment (qsub -v). Every attempt runs
# `pilemix run --resume` (idempotent: continues an interrupted run, starts
# one when there is none, exits 0 at once when the output is complete), so
# a rerun (-r y, qrerun, a node failure) or a resubmission finishes the same
# dataset with the bytes of an uninterrupted run. --force is refused.
#
# What to edit (or override on qsub's command line): nothing is required.
# "-l nodes=1:ppn=2" is understood by Torque and by PBS Pro (which turns it
# into a select statement); for a real dataset give one rank per core, e.g.
# nodes=4:ppn=32. Lines starting with "##PBS" are off; remove one "#":
#   -q QUEUE, -A ACCOUNT     your site's names (placeholders below)
#   -l walltime              the queue's default applies when unset
#   -l mem / pmem            keep run.mem_per_rank (default 2GiB) below the
#                            memory per rank
#
# Ranks: one per line of $PBS_NODEFILE (a host appears once per rank slot),
# on those hosts. Debian's Open MPI (and others built without PBS/TM
# support) would ignore the allocation and run every rank on the first
# host, so the script always passes a hostfile built from $PBS_NODEFILE;
# the other hosts are reached with Open MPI's rsh agent (ssh, as PBS sites
# set up between their nodes). Inputs, output.dir, run.work_dir and pilemix
# itself must be on a file system every node sees. Which pilemix: $PILEMIX
# if set (qsub -v PILEMIX=...), else `pilemix` on PATH, else build/pilemix
# next to this script's directory.
#
# Signals: qdel, preemption and the walltime send SIGTERM, then SIGKILL
# after the server's kill_delay. The trap forwards SIGTERM to mpirun, which
# (Open MPI 4.1) sends the ranks SIGCONT, SIGTERM
# OMPI_MCA_odls_base_sigkill_timeout later (30 s here; its default is 1 s)
# and SIGKILL as long after that; the ranks stop cleanly on the SIGTERM and
# print the --resume hint, and mpirun exits 1 (its own status).
#
# Log: PBS copies a job's output file back only at its end and a rerun
# replaces it, so the script appends everything to its own log,
# $PBS_O_WORKDIR/pilemix-$PBS_JOBID.log (the job id survives reruns): each
# attempt starts with a "pilemix job:" header and ends with its exit status.
#
#PBS -N pilemix
#PBS -l nodes=1:ppn=2
#PBS -r y
#PBS -j oe
##PBS -q QUEUE
##PBS -A ACCOUNT
##PBS -l walltime=12:00:00
set -uo pipefail

say() { echo "pilemix job: $*"; }
die() {
    echo "pilemix job: error: $*" >&2
    exit 2
}

cd "${PBS_O_WORKDIR:-.}" || die "cannot enter ${PBS_O_WORKDIR:-.}"
if (($# == 0)); then
    [ -n "${CONFIG:-}" ] || die "usage: qsub -v CONFIG=pile.json[,EXTRA_ARGS=\"...\"] jobs/pbs.sh"
    set -- "$CONFIG"
    # EXTRA_ARGS splits on blanks, as qsub -v values are plain strings.
    # shellcheck disable=SC2086
    [ -n "${EXTRA_ARGS:-}" ] && set -- "$@" ${EXTRA_ARGS}
fi
for a in "$@"; do
    [ "$a" = "--force" ] && die "--force: this script always resumes (an attempt must never undo" \
        "the previous one's work); to start over, remove output.dir and run.work_dir first"
done

log=pilemix-${PBS_JOBID:-local}.log
exec >>"$log" 2>&1

# PBS runs a copy of the script; PBS_O_WORKDIR is where qsub ran, so the
# build directory is looked for next to the jobs/ directory named by $0
# when that is the original, else under the submit directory.
here=$(cd "$(dirname "$0")" && pwd)
[ -x "$here/../build/pilemix" ] || here=$PWD/jobs
if [ -n "${PILEMIX:-}" ]; then
    [ -x "$PILEMIX" ] || die "PILEMIX=$PILEMIX is not an executable file"
    pilemix=$PILEMIX
elif command -v pilemix >/dev/null; then
    pilemix=$(command -v pilemix)
elif [ -x "$here/../build/pilemix" ]; then
    pilemix=$(cd "$here/../build" && pwd)/pilemix
else
    die "pilemix not found: set PILEMIX=/path/to/pilemix (qsub -v PILEMIX=...), put pilemix" \
        "on PATH, or build it in build/ next to jobs/ (./jobs/setup.sh)"
fi

if [ -z "${PBS_NODEFILE:-}" ] || [ ! -s "$PBS_NODEFILE" ]; then
    die "PBS_NODEFILE is not set or empty: submit with qsub (or set it to a file of host names)"
fi
ranks=$(grep -c . "$PBS_NODEFILE")
hostfile=$(mktemp "${TMPDIR:-/tmp}/pilemix-hosts.XXXXXX")
# Hosts in the order they first appear, with their slot counts.
awk 'NF { if (!($1 in n)) order[++k] = $1; n[$1]++ }
     END { for (i = 1; i <= k; i++) print order[i] " slots=" n[order[i]] }' \
    "$PBS_NODEFILE" >"$hostfile"
export OMPI_MCA_odls_base_sigkill_timeout=${OMPI_MCA_odls_base_sigkill_timeout:-30}

say "job ${PBS_JOBID:-?} started $(date '+%F %T'): $ranks ranks on $(awk '{printf "%s%s(%s)", (NR > 1 ? ", " : ""), $1, substr($2, 7)}' "$hostfile")"
say "$("$pilemix" --version 2>&1 | head -n 1) at $pilemix"
# Our defaults first, the user's arguments last (the last value wins).
args=(run --resume --progress 60 "$@")
launch=(mpirun --hostfile "$hostfile" -np "$ranks")
say "${launch[*]} $pilemix ${args[*]}"

child=
# shellcheck disable=SC2317 # called by the trap
forward() {
    say "got SIGTERM (walltime, qdel or preemption): asking the ranks to stop"
    [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
}
trap forward TERM
"${launch[@]}" "$pilemix" "${args[@]}" </dev/null &
child=$!
while :; do
    wait "$child"
    rc=$?
    kill -0 "$child" 2>/dev/null || break
done
rm -f "$hostfile"
case $rc in
0) say "done ($(date '+%F %T'))" ;;
*) say "exit status $rc ($(date '+%F %T')); rerun or resubmit the job to continue with --resume" ;;
esac
exit "$rc"
