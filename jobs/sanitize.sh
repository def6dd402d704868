#!/usr/bin/env bash
# Build pilemix with AddressSanitizer + UndefinedBehaviorSanitizer in
# ./build-asan (gcc, -Db_sanitize=address,undefined) and run the whole test
# suite there: the check unit suites and the mpirun job tests. Extra
# arguments go to `meson test` (e.g. --suite unit).
#
#   jobs/sanitize.sh
#
# Leaks: detect_leaks=1 everywhere, the MPI job tests included, with
# tests/lsan.supp suppressing only leaks whose stack is inside Open MPI and
# the libraries under it (libmpi, libopen-pal/-rte, hwloc, PMIx, libevent):
# they keep state until exit, pilemix's own leaks still count.
# UBSan halts on the first finding. Every sanitizer report is also written to
# build-asan/sanitizer-logs/, and the script fails when any report is there,
# so a finding in a process whose exit status a test ignores (a pilemix run
# expected to fail, a tool in a pipeline) still fails the job.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
builddir=${ASAN_BUILDDIR:-build-asan}

# b_lundef=false: sanitized shared objects leave the runtime's symbols
# undefined. werror=false: GCC's flow warnings are unreliable under
# sanitizer instrumentation (it reports paths the instrumentation creates);
# the plain build keeps -Werror. (setup.sh installs the packages, configures
# and builds.)
BUILDDIR=$builddir \
    MESON_ARGS="${MESON_ARGS:-} -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=false" \
    ./jobs/setup.sh

logs=$root/$builddir/sanitizer-logs
rm -rf "$logs"
mkdir -p "$logs"
# verify_asan_link_order=0: a job test LD_PRELOADs an I/O fault shim into
# the ranks, which puts it ahead of libasan.
# fast_unwind_on_malloc=0: Open MPI and libc have no frame pointers, so the
# fast unwinder stops one frame above malloc, inside an MCA component that
# MPI_Finalize has already dlclose()d ("<unknown module>"); only full
# unwinding reaches the libmpi/libopen-pal frames tests/lsan.supp names.
export ASAN_OPTIONS="detect_leaks=1:fast_unwind_on_malloc=0:malloc_context_size=64:abort_on_error=0:verify_asan_link_order=0:log_path=$logs/asan:log_exe_name=1"
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan:log_exe_name=1"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# check's per-test timeout (4 s by default) is too short for the heavier
# cases under ASan on a loaded 2-core machine.
export CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-5}

start=$(date +%s)
rc=0
meson test -C "$builddir" --print-errorlogs --timeout-multiplier "${ASAN_TIMEOUT_MULTIPLIER:-2}" "$@" ||
    rc=$?
echo "sanitize: test suite took $(($(date +%s) - start))s (meson test exit $rc)"

if compgen -G "$logs/*" >/dev/null; then
    for f in "$logs"/*; do
        echo "===== sanitizer report: ${f#"$root"/}"
        head -n 80 "$f"
    done
    echo "sanitize: FAILED: $(ls "$logs" | wc -l) sanitizer report(s) in ${logs#"$root"/}"
    exit 1
fi
if [ "$rc" -ne 0 ]; then
    echo "sanitize: FAILED: test failures (see above)"
    exit "$rc"
fi
echo "sanitize: ok (no sanitizer reports)"
