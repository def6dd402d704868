#!/usr/bin/env bash
# Run every check unit suite (build/tests/test_*) under valgrind memcheck, in
# no-fork mode so valgrind sees every test in one process:
#
#   CK_FORK=no valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect \
#       --error-exitcode=1 -q build/tests/test_X
#
#   jobs/valgrind.sh              all suites (builds ./build first via setup.sh)
#   jobs/valgrind.sh record spill only test_record and test_spill
#
# Exits 1 when any suite has a memcheck error, a definite or indirect leak,
# or a failing test. The MPI job tests are not run here (jobs/sanitize.sh
# covers them under ASan); valgrind logs go to build/valgrind-logs/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
builddir=${BUILDDIR:-build}

if ! command -v valgrind >/dev/null; then
    echo "valgrind: installing valgrind"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        valgrind >/dev/null
fi
BUILDDIR=$builddir ./jobs/setup.sh >/dev/null

suites=()
if (($#)); then
    for s in "$@"; do suites+=("$builddir/tests/test_$s"); done
else
    for f in "$builddir"/tests/test_*; do
        [ -f "$f" ] && [ -x "$f" ] && suites+=("$f")
    done
fi
if ((${#suites[@]} == 0)); then
    echo "valgrind: no unit suites in $builddir/tests" >&2
    exit 1
fi

logs=$root/$builddir/valgrind-logs
mkdir -p "$logs" "$root/$builddir/tests/tmp"
export PM_TEST_TMP=$root/$builddir/tests/tmp
failed=()
start=$(date +%s)
for t in "${suites[@]}"; do
    name=$(basename "$t")
    t0=$(date +%s)
    rc=0
    CK_FORK=no valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --error-exitcode=1 -q --log-file="$logs/$name.vg" "$t" >"$logs/$name.out" 2>&1 || rc=$?
    # -q leaves only findings in the log; "possibly lost" blocks are listed
    # there too but, as --errors-for-leak-kinds says, are not errors.
    if [ "$rc" -ne 0 ]; then
        echo "valgrind: $name FAILED (exit $rc, $(($(date +%s) - t0))s)"
        tail -n 30 "$logs/$name.out"
        head -n 120 "$logs/$name.vg"
        failed+=("$name")
    else
        note=""
        [ -s "$logs/$name.vg" ] && note=", notes in ${logs#"$root"/}/$name.vg"
        echo "valgrind: $name ok ($(($(date +%s) - t0))s$note)"
    fi
done
echo "valgrind: ${#suites[@]} suites in $(($(date +%s) - start))s"
if ((${#failed[@]})); then
    echo "valgrind: FAILED: ${failed[*]} (logs in ${logs#"$root"/})"
    exit 1
fi
echo "valgrind: ok"
