#!/usr/bin/env bash
# Output-side faults: a full disk or a write error (EFBIG) under the output
# or the work directory ends the job with exit 1 and a message naming the
# file; nothing incomplete is left under a final name (temps are hidden
# ".NAME.tmp" and removed), and once there is room again `--resume`
# finishes with the bytes of a clean run.
#
# The full disk is a small tmpfs mounted over OUTDIR or under WORK (as root;
# in a private mount namespace via `unshare -m`, or `unshare -r -m` when not
# root, when a plain mount is refused).
# "Freeing space" is remounting it larger. A write error is RLIMIT_FSIZE
# (`ulimit -f`): pilemix ignores SIGXFSZ, so the write fails with EFBIG.
# When neither works the test says so and skips. PM_DISKFULL_METHOD=fsize
# forces the fallback.

# Pick the method before lib.sh makes the scratch directory: re-running
# ourselves in a new mount namespace must happen first.
probe=$(mktemp -d "${TMPDIR:-/tmp}/pm-diskfull-probe.XXXXXX")
method=fsize
if [ "${PM_DISKFULL_METHOD:-}" = fsize ]; then
    : # forced (to exercise the fallback)
elif mount -t tmpfs -o size=1m tmpfs "$probe" 2>/dev/null; then
    umount "$probe"
    method=mount
elif [ -z "${PM_DISKFULL_NS:-}" ] && command -v unshare >/dev/null; then
    # -m: root without the right to mount here; -r -m: not root (a user
    # namespace where we may mount a tmpfs).
    for ns in "-m" "-r -m"; do
        # shellcheck disable=SC2086
        if unshare $ns sh -c "mount -t tmpfs -o size=1m tmpfs '$probe' && umount '$probe'" 2>/dev/null; then
            rmdir "$probe"
            # shellcheck disable=SC2086
            exec unshare $ns env PM_DISKFULL_NS="unshare $ns" bash "$0" "$@"
        fi
    done
fi
rmdir "$probe"
[ -n "${PM_DISKFULL_NS:-}" ] && method=mount

. "$(dirname "$0")/lib.sh"

mounts=()
cleanup() {
    local m
    for m in "${mounts[@]+"${mounts[@]}"}"; do umount "$m" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT

fsize_ok=0
if (ulimit -f 64 && [ "$(ulimit -f)" = 64 ]) 2>/dev/null; then fsize_ok=1; fi
if [ "$method" = fsize ] && [ "$fsize_ok" -ne 1 ]; then
    skip "cannot mount a tmpfs (even with unshare -m) nor set RLIMIT_FSIZE here"
    finish # exits 77: meson reports SKIP
fi
echo "# method: $method${PM_DISKFULL_NS:+ (in a private mount namespace: $PM_DISKFULL_NS)}"

# ~3 MB of output, ~9 MB of spills at its peak.
make_corpus "$T/data" 17 6M
# Every scenario runs the same config text in its own directory, so the
# manifest (which records the config) is comparable byte for byte.
cfg_in() { # DIR
    mkdir -p "$1"
    cat >"$1/c.json" <<JSON
{"name": "diskfull", "seed": 11,
 "components": [{"name": "Pile-CC", "paths": ["$T/data/pile-cc"], "epochs": 1.5},
                {"name": "Github", "paths": ["$T/data/github"], "epochs": 1},
                {"name": "Books3", "paths": ["$T/data/books3"], "epochs": 2},
                {"name": "Wikipedia (en)", "paths": ["$T/data/wikipedia_en"], "epochs": 2}],
 "output": {"dir": "out", "train_shards": 4, "val_fraction": 0.02, "test_fraction": 0.02},
 "run": {"work_dir": "work", "mem_per_rank": "32M"}}
JSON
}
cfg_in "$T/ref"
pm 2 run "$T/ref/c.json" --progress 0 >/dev/null
echo "# clean output $(du -sk "$T/ref/out" | cut -f1) KiB"

# After a failed run in DIR: exit 1, a message naming a file under FULL
# (the directory that ran out) with the errno text, no temp left anywhere,
# and every final-named output file complete (identical to the clean run's).
check_failed() { # LABEL DIR FULL RC ERRNO-REGEX
    local label=$1 dir=$2 full=$3 rc=$4 why=$5 f temps
    if [ "$rc" -ne 1 ]; then
        cat "$dir/stderr"
        not_ok "$label: exit $rc (want 1; 124 = hang, >128 = killed by a signal)"
        return 1
    fi
    if ! grep -qE -- "error.*$full/[^: ]+.*($why)" "$dir/stderr"; then
        cat "$dir/stderr"
        not_ok "$label: no error line naming a file under $full with /$why/"
        return 1
    fi
    temps=$(find "$dir/out" "$dir/work" -name '.*.tmp' 2>/dev/null | head -3)
    if [ -n "$temps" ]; then
        not_ok "$label: temp files left behind: $temps"
        return 1
    fi
    while IFS= read -r f; do
        if ! cmp -s "$dir/out/$f" "$T/ref/out/$f"; then
            not_ok "$label: $f is under its final name but incomplete or wrong"
            return 1
        fi
    done < <(cd "$dir/out" 2>/dev/null && find . -type f | sed 's|^\./||')
    ok "$label: exit 1: $(grep -m1 -E "($why)" "$dir/stderr" | sed "s|$dir/||" | cut -c1-110)"
}

resume_same() { # LABEL DIR NP
    local label=$1 dir=$2 np=$3
    if pm "$np" run "$dir/c.json" --resume --progress 0 >"$dir/resume.log" 2>&1 &&
        same_output "$T/ref/out" "$dir/out"; then
        ok "$label: after freeing space, --resume on $np rank(s) gives the clean run's bytes"
    else
        tail -5 "$dir/resume.log"
        not_ok "$label: --resume after freeing space"
    fi
}

# SUB (out|work) on a tmpfs of SIZE; fail on NP ranks, resume on RNP. OUTDIR
# is the mount point itself; WORK is a directory inside the mount (pilemix
# removes WORK itself after a success, which a mount point refuses with
# EBUSY). run.work_dir is not part of the config's meaning, so the
# manifest stays comparable.
full_case() { # SUB SIZE NP RNP
    local sub=$1 size=$2 np=$3 rnp=$4 dir="$T/full-$1-$2" rc=0 label mnt
    label="$sub on a $size tmpfs, $np rank(s)"
    cfg_in "$dir"
    mnt="$dir/out"
    if [ "$sub" = work ]; then
        mnt="$dir/wmnt"
        sed -i 's|"work_dir": "work"|"work_dir": "wmnt/work"|' "$dir/c.json"
    fi
    mkdir -p "$mnt"
    mount -t tmpfs -o "size=$size" tmpfs "$mnt"
    mounts+=("$mnt")
    # --no-space-check: this is about a disk that fills while writing (the
    # up-front refusal is test_space.sh's).
    pm "$np" run "$dir/c.json" --no-space-check --progress 0 >"$dir/stdout" 2>"$dir/stderr" || rc=$?
    if [ "$rc" -eq 0 ]; then
        not_ok "$label: the run fit; make the corpus bigger or the tmpfs smaller"
        return
    fi
    check_failed "$label" "$dir" "$mnt" "$rc" "No space left on device" || return 0
    mount -o remount,size=256m "$mnt"
    resume_same "$label" "$dir" "$rnp"
}

if [ "$method" = mount ]; then
    full_case out 1m 2 1      # the first shards do not fit
    full_case out 2600k 1 2   # a late shard, the manifest or the sums do not fit
    # Room for exactly the data files (tmpfs counts whole 4 KiB pages): the
    # manifest or the sums are what does not fit.
    pages=0
    for f in "$T/ref/out"/train/*.jsonl.zst "$T/ref/out"/val.jsonl.zst "$T/ref/out"/test.jsonl.zst; do
        pages=$((pages + ($(stat -c %s "$f") + 4095) / 4096))
    done
    full_case out $((pages * 4))k 2 2
    full_case work 3m 2 2     # the spills do not fit (scatter)
    # Nearly fits: the spills do, a gather result file does not. Room for
    # the one-rank run's spill stream (measured: its size depends on the
    # spill format), state.json, the lock and one result record.
    cfg_in "$T/measure"
    pm 1 run "$T/measure/c.json" --keep-work --progress 0 >/dev/null
    spill_pages=0
    for f in "$T/measure/work/spill"/*; do
        spill_pages=$((spill_pages + ($(stat -c %s "$f") + 4095) / 4096))
    done
    full_case work $(((spill_pages + 3) * 4))k 1 1
fi

# A write error that is not ENOSPC: files over RLIMIT_FSIZE fail with EFBIG.
# The limit is set inside the rank only (1 rank: MPI's own shared-memory
# files would hit it too with more), so mpirun itself is not limited.
if [ "$fsize_ok" -eq 1 ]; then
    dir="$T/fsize"
    cfg_in "$dir"
    rc=0
    timeout 300 mpirun --oversubscribe -np 1 bash -c 'ulimit -f "$1" && shift && exec "$@"' _ 256 \
        "$PILEMIX" run "$dir/c.json" --progress 0 </dev/null >"$dir/stdout" 2>"$dir/stderr" || rc=$?
    if [ "$rc" -eq 0 ]; then
        not_ok "RLIMIT_FSIZE 256 KiB: the run fit"
    elif check_failed "RLIMIT_FSIZE 256 KiB (EFBIG)" "$dir" "$dir" "$rc" "File too large"; then
        resume_same "RLIMIT_FSIZE 256 KiB (EFBIG)" "$dir" 2
    fi
fi
finish
