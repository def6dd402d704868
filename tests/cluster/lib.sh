# shellcheck shell=bash
# Shared helpers for the cluster tests (tests/cluster/test_*.sh). They need
# root (daemons, network namespaces, /etc/hosts): CI runs them as root on a
# fresh Debian machine. Source it after setting nothing; it sources
# ../mpi/lib.sh (scratch dir $T, ok/not_ok/finish, make_corpus, write_config,
# same_output, pm) and adds:
#   need_root                    skip (77) loudly unless root
#   need_packages PKG...         apt-get install what is missing, or skip loudly
#   on_exit CMD...               run CMD at exit, last registered first, even on failure
#   stop_pid PID [SECS]          SIGTERM, wait, SIGKILL after SECS (default 10): ours only
#   wait_for SECS WHAT CMD...    poll CMD until it succeeds; fail naming WHAT after SECS
#   skip WHY                     exit 77 with WHY in capitals on stdout and stderr
# Nothing here sleeps for ordering: every wait polls a condition with a deadline.
. "$(dirname "${BASH_SOURCE[0]}")/../mpi/lib.sh"
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

cleanups=()
on_exit() { cleanups+=("$*"); }
run_cleanups() {
    local i
    for ((i = ${#cleanups[@]} - 1; i >= 0; i--)); do
        eval "${cleanups[i]}" || true
    done
    rm -rf "$T"
}
trap run_cleanups EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

skip() {
    echo "SKIP: $* (this test did NOT run)" | tee /dev/stderr
    exit 77
}

need_root() {
    [ "$(id -u)" -eq 0 ] || skip "needs root (daemons, network namespaces)"
}

need_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    echo "# installing ${missing[*]}"
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null; }; then
        skip "cannot install ${missing[*]} with apt-get (no network or no apt?)"
    fi
}

stop_pid() {
    local pid=$1 secs=${2:-10} i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < secs * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

wait_for() {
    local secs=$1 what=$2
    shift 2
    local end=$((SECONDS + secs))
    until "$@"; do
        if ((SECONDS >= end)); then
            echo "timed out after ${secs}s waiting for $what" >&2
            return 1
        fi
        sleep 0.1
    done
}

