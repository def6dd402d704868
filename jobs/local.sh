#!/usr/bin/env bash
# Run pilemix on this machine with one rank per core.
#   jobs/local.sh CONFIG [run options...]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
ranks=${RANKS:-$(nproc)}
exec mpirun -np "$ranks" "$here/build/pilemix" run "$@"
