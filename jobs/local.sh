#!/usr/bin/env bash
# Run pilemix on this machine with one rank per core (RANKS=N to choose):
#
#   jobs/local.sh CONFIG [run options...]        e.g. jobs/local.sh pile.json --resume
#
# Which pilemix, as in jobs/slurm.sbatch and jobs/pbs.sh: $PILEMIX if set,
# else `pilemix` on PATH, else build/pilemix next to this script's directory.
# The exit status is mpirun's: pilemix's own (0, 1, 2, README), or mpirun's
# when a rank died of a signal (137 for SIGKILL).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -n "${PILEMIX:-}" ]; then
    [ -x "$PILEMIX" ] || { echo "local.sh: PILEMIX=$PILEMIX is not an executable file" >&2; exit 2; }
    pilemix=$PILEMIX
elif command -v pilemix >/dev/null; then
    pilemix=$(command -v pilemix)
elif [ -x "$here/../build/pilemix" ]; then
    pilemix=$(cd "$here/../build" && pwd)/pilemix
else
    echo "local.sh: pilemix not found: set PILEMIX=/path/to/pilemix, put pilemix on PATH, or" \
        "build it with ./jobs/setup.sh" >&2
    exit 2
fi
ranks=${RANKS:-$(nproc)}
exec mpirun -np "$ranks" "$pilemix" run "$@"
