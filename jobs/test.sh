#!/usr/bin/env bash
# Set up (packages, build) and run the whole test suite: the check unit
# suites and the mpirun job tests. Extra arguments go to `meson test`.
set -euo pipefail
cd "$(dirname "$0")/.."
./jobs/setup.sh
# mpirun refuses root unless told; CI and containers run as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
exec meson test -C "${BUILDDIR:-build}" --print-errorlogs "$@"
