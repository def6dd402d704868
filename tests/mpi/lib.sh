# Shared helpers for the mpirun job tests. Source it; it sets -eu, makes a
# scratch directory $T (removed on exit) and defines:
#   pm NP ARGS...      run `pilemix ARGS` under mpirun with NP ranks (timeout guards hangs)
#   same_output A B    byte-compare two output dirs (every file), fail loudly if not
#   expect_fail CODE PATTERN CMD...   run CMD, require exit CODE and PATTERN on stderr
#   make_corpus DIR SEED SIZE         generate a small Pile-like corpus
#   ok / not_ok / skip MSG            one result line each; finish prints the counts and
#                                     exits 77 (meson: SKIP) when every case was skipped
#   fault_killed RC LOG PLACE [RANK]  the run ended because PILEMIX_FAULT killed a rank
#   wait_stopped LOG                  wait until a rank stopped itself (PILEMIX_FAULT ...:stop)
#   work_gone DIR                     a work directory after success: absent, or holding
#                                     only the census cache (census.json)
set -eu
: "${PILEMIX:?}" "${PMCHECK:?}" "${GENCORPUS:?}"
base=${PM_TEST_TMP:-/tmp}
mkdir -p "$base"
T=$(mktemp -d "$base/pm-mpi.XXXXXX")
trap 'rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# Quiet the shared-memory transport warnings some containers print.
export OMPI_MCA_btl_vader_single_copy_mechanism=none

fails=0
passes=0
skips=0
ok() { passes=$((passes + 1)); echo "ok - $*"; }
not_ok() { fails=$((fails + 1)); echo "not ok - $*"; }
# A case that cannot run here: never counted as a pass.
skip() { skips=$((skips + 1)); echo "skip - $*"; }
finish() {
    echo "$passes passed, $fails failed, $skips skipped"
    [ "$fails" -eq 0 ] || return 1
    if [ "$passes" -eq 0 ] && [ "$skips" -gt 0 ]; then
        exit 77 # the automake/meson convention for "skipped"
    fi
}

pm() {
    local np=$1
    shift
    # </dev/null: mpirun forwards stdin, which would eat a caller's loop input.
    timeout 300 mpirun --oversubscribe -np "$np" "$PILEMIX" "$@" </dev/null
}

work_gone() {
    [ ! -e "$1" ] || [ "$(ls -A "$1")" = census.json ]
}

same_output() {
    if diff -r "$1" "$2" >/dev/null; then
        return 0
    fi
    echo "outputs differ: $1 vs $2" >&2
    diff -r "$1" "$2" 2>&1 | head -5 >&2
    return 1
}

expect_fail() {
    local code=$1 pattern=$2
    shift 2
    local rc=0
    "$@" >"$T/stdout" 2>"$T/stderr" || rc=$?
    if [ "$rc" -ne "$code" ]; then
        echo "expected exit $code, got $rc from: $*" >&2
        cat "$T/stderr" >&2
        return 1
    fi
    if ! grep -qE -- "$pattern" "$T/stderr"; then
        echo "stderr lacks /$pattern/ for: $*" >&2
        cat "$T/stderr" >&2
        return 1
    fi
}

make_corpus() {
    "$GENCORPUS" --out "$1" --seed "$2" --size "$3" --profile demo >/dev/null
}

# A config over a demo-profile corpus in $1, output in $2 (relative paths are
# relative to the config file, which is written to $3).
write_config() {
    local data=$1 out=$2 cfg=$3 extra_run=${4:-}
    cat >"$cfg" <<JSON
{
  "name": "test", "seed": 99,
  "components": [
    {"name": "Pile-CC", "paths": ["$data/pile-cc"], "epochs": 1.0},
    {"name": "Wikipedia (en)", "paths": ["$data/wikipedia_en"], "epochs": 3.0},
    {"name": "Books3", "paths": ["$data/books3"], "epochs": 1.5},
    {"name": "PubMed Abstracts", "paths": ["$data/pubmed/*.jsonl.zst", "$data/pubmed/*.jsonl"], "epochs": 2.0},
    {"name": "Github", "paths": ["$data/github"], "epochs": 0.95}
  ],
  "output": {"dir": "$out", "train_shards": 5, "val_fraction": 0.02, "test_fraction": 0.03},
  "run": {"on_bad_record": "skip"$extra_run}
}
JSON
}

# fault_killed RC LOG PLACE [RANK]: the run that exited RC, its stderr in LOG,
# ended because PILEMIX_FAULT killed a rank (RANK, default any) at PLACE (an
# ERE for what fault.c prints after "at ", e.g. 'scatter-task:task=4:n=1'):
# the fault's line is there, and the exit status is mpirun's (or the shell's)
# for a process killed by SIGKILL, 128 + 9.
fault_killed() {
    local rc=$1 log=$2 place=$3 rank=${4:-[0-9]+}
    if ! grep -qE "^pilemix: PILEMIX_FAULT: killing pid [0-9]+ \(rank $rank\) at $place\$" "$log"; then
        echo "no 'PILEMIX_FAULT: killing ... (rank $rank) at $place' line in $log:" >&2
        cat "$log" >&2
        return 1
    fi
    if [ "$rc" -ne 137 ]; then
        echo "the run exited $rc, not 137 (a rank killed by SIGKILL)" >&2
        return 1
    fi
}

# wait_stopped LOG: wait until a rank has printed "PILEMIX_FAULT: stopping pid
# P" into LOG and P is in the stopped state; sets stopped_pid. Polls a
# condition (up to 2 minutes), never a fixed delay.
wait_stopped() {
    local log=$1 pid="" state="" i
    stopped_pid=""
    for i in $(seq 1 2400); do
        [ -n "$pid" ] || pid=$(sed -n 's/^pilemix: PILEMIX_FAULT: stopping pid \([0-9]*\) .*/\1/p' "$log" | head -n 1)
        if [ -n "$pid" ]; then
            state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
            if [ "$state" = T ]; then
                stopped_pid=$pid
                return 0
            fi
        fi
        sleep 0.05
    done
    echo "no rank stopped itself (log: $log, pid '$pid', state '$state')" >&2
    cat "$log" >&2
    return 1
}
