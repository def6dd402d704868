# Shared helpers for the mpirun job tests. Source it; it sets -eu, makes a
# scratch directory $T (removed on exit) and defines:
#   pm NP ARGS...      run `pilemix ARGS` under mpirun with NP ranks (timeout guards hangs)
#   same_output A B    byte-compare two output dirs (every file), fail loudly if not
#   expect_fail CODE PATTERN CMD...   run CMD, require exit CODE and PATTERN on stderr
#   make_corpus DIR SEED SIZE         generate a small Pile-like corpus
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
ok() { passes=$((passes + 1)); echo "ok - $*"; }
not_ok() { fails=$((fails + 1)); echo "not ok - $*"; }
finish() {
    echo "$passes passed, $fails failed"
    [ "$fails" -eq 0 ]
}

pm() {
    local np=$1
    shift
    # </dev/null: mpirun forwards stdin, which would eat a caller's loop input.
    timeout 300 mpirun --oversubscribe -np "$np" "$PILEMIX" "$@" </dev/null
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
