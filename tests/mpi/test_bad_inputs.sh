#!/usr/bin/env bash
# Bad input and integrity (issue 4), through the real job.
#
# Every case in tests/data/bad_inputs/ is one input file NAME.jsonl (or
# NAME.jsonl.zst) and NAME.expected, one directive a line:
#   accept N            N documents of the file reach the output (train+val+test)
#   reject REASON LINE  line LINE is a bad record with that reason
#   blank N / empty N   blank lines ignored / empty texts skipped (0 when absent)
#   contains STRING     some output line contains STRING (fixed string)
#   fail_file REGEX     a file-level fault: the message names the file and matches REGEX
#   companion           the component also holds companion.jsonl (2 documents):
#                       alone the case yields no document, which fails the job
#                       (the empty-component guard, tested in test_guards.sh)
#   make HOW            build the input from NAME.jsonl here: zst, zst_multiframe,
#                       zst_truncate, zst_flip, zst_garbage
#   iofault MODE WHEN   change the file under the job with an LD_PRELOAD shim:
#                       MODE grow|shrink|touch|vanish|eio, WHEN open (between
#                       planning and reading) or read (after the first read)
# Skip mode (on_bad_record and on_bad_file "skip"): all record-level cases as
# components of one job on 2 ranks (then on 1: same bytes), the bad-file
# cases in another 2-rank job, the shim cases one by one. Per component:
# exit 0; manifest counts (by reason, blank, empty, skipped_files), the
# rejects.jsonl entries (component, identity path, line, offset, column,
# reason, detail, bytes, raw capped at 4096 bytes), the accounting identity
# (documents = train + val + test + rejected + empty; copies as decided), and
# the output holds every accepted document; a bad file is skipped whole (only
# the companion good file of its component comes out). Plus pmcheck, verify.
# Fail mode (the defaults): each case with something bad alone on 1 rank:
# exit 1 with "PATH:LINE:COL: bad record (REASON)" for its first bad record
# (COL as in the skip run's reject), or naming the file and matching
# fail_file for a bad file, and nothing under a final output name; the
# cases with nothing bad in one job that must finish with the same counts.
# Then: the two policies are independent, plan-time faults (exit 2 whatever
# on_bad_file says), containment (planted symlinks at OUTDIR/train,
# OUTDIR/.val.jsonl.zst.tmp, WORK/spill..., fresh with --force and on
# --resume), unsafe component names, and ${VAR} expansion that must never
# run anything.
#
# Runs meant to fail use "pilemix run" without mpirun (N = 1): a failed
# mpirun job takes seconds to tear down, and there are dozens of them.
. "$(dirname "$0")/lib.sh"

CASES=$(cd "$(dirname "$0")/../data/bad_inputs" && pwd)
command -v jq >/dev/null || { echo "jq is required (jobs/setup.sh installs it)" >&2; exit 1; }
command -v zstd >/dev/null || { echo "zstd is required" >&2; exit 1; }
MAXREC=8192 # run.max_record_bytes in every config here (record_too_long relies on it)
RAWCAP=4096

# ---------------------------------------------------------------- the shim
# Changes or breaks one input file under the running job, deterministically:
# the first open of a path ending in PM_IOFAULT_PATH once PM_IOFAULT_AFTER
# exists (WORK/spill: planning is over) is the reader's. WHEN=open mutates
# just before that open; WHEN=read just after its first read. MODE=eio makes
# the second read fail; MODE=eacces makes the first matching open fail (used
# for plan-time "unreadable" when the test cannot drop root). It touches
# PM_IOFAULT_MARK when it fires, so a shim that never fired is not mistaken
# for a pass.
cat >"$T/iofault.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef ssize_t (*read_fn)(int, void *, size_t);

static int fired, tracked = -1, reads;
static char tracked_path[4096];

static const char *env(const char *n)
{
    const char *v = getenv(n);
    return v && *v ? v : "";
}

static open_fn real_open(void)
{
    static open_fn f;
    if (!f)
        f = (open_fn)dlsym(RTLD_NEXT, "open");
    return f;
}

static int target(const char *path)
{
    const char *t = env("PM_IOFAULT_PATH"), *after = env("PM_IOFAULT_AFTER");
    if (fired || !*t || !path)
        return 0;
    size_t lp = strlen(path), lt = strlen(t);
    if (lp < lt || strcmp(path + lp - lt, t))
        return 0;
    struct stat st;
    return !*after || stat(after, &st) == 0;
}

static void mark(void)
{
    fired = 1;
    if (*env("PM_IOFAULT_MARK")) {
        int fd = real_open()(env("PM_IOFAULT_MARK"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0)
            close(fd);
    }
}

static void mutate(const char *path)
{
    const char *mode = env("PM_IOFAULT_MODE");
    struct stat st;
    if (!strcmp(mode, "grow")) {
        static const char more[] = "{\"text\": \"appended by iofault\"}\n";
        int fd = real_open()(path, O_WRONLY | O_APPEND);
        if (fd >= 0) {
            (void)!write(fd, more, sizeof more - 1);
            close(fd);
        }
    } else if (!strcmp(mode, "shrink")) {
        if (stat(path, &st) == 0)
            (void)!truncate(path, st.st_size / 2);
    } else if (!strcmp(mode, "touch")) {
        struct timespec ts[2] = {{978307200, 0}, {978307200, 0}}; /* 2001-01-01 */
        utimensat(AT_FDCWD, path, ts, 0);
    } else if (!strcmp(mode, "vanish")) {
        unlink(path);
    }
    mark();
}

/* -1 with errno set: fail this open. */
static int before_open(const char *path)
{
    if (!target(path))
        return 0;
    if (!strcmp(env("PM_IOFAULT_MODE"), "eacces")) {
        mark();
        errno = EACCES;
        return -1;
    }
    if (!strcmp(env("PM_IOFAULT_WHEN"), "open"))
        mutate(path);
    return 0;
}

static int after_open(int fd, const char *path)
{
    if (fd >= 0 && tracked < 0 && !strcmp(env("PM_IOFAULT_WHEN"), "read") && target(path)) {
        tracked = fd;
        strncpy(tracked_path, path, sizeof tracked_path - 1);
    }
    return fd;
}

#define MODE_ARG(flags, mode)                                                      \
    mode_t mode = 0;                                                               \
    if ((flags) & (O_CREAT | O_TMPFILE)) {                                         \
        va_list ap;                                                                \
        va_start(ap, flags);                                                       \
        mode = (mode_t)va_arg(ap, int);                                            \
        va_end(ap);                                                                \
    }

int open(const char *path, int flags, ...)
{
    MODE_ARG(flags, mode);
    if (before_open(path) < 0)
        return -1;
    return after_open(real_open()(path, flags, mode), path);
}

int open64(const char *path, int flags, ...)
{
    static open_fn f;
    MODE_ARG(flags, mode);
    if (!f)
        f = (open_fn)dlsym(RTLD_NEXT, "open64");
    if (before_open(path) < 0)
        return -1;
    return after_open(f(path, flags, mode), path);
}

int openat(int dir, const char *path, int flags, ...)
{
    static openat_fn f;
    MODE_ARG(flags, mode);
    if (!f)
        f = (openat_fn)dlsym(RTLD_NEXT, "openat");
    if (before_open(path) < 0)
        return -1;
    return after_open(f(dir, path, flags, mode), path);
}

int openat64(int dir, const char *path, int flags, ...)
{
    static openat_fn f;
    MODE_ARG(flags, mode);
    if (!f)
        f = (openat_fn)dlsym(RTLD_NEXT, "openat64");
    if (before_open(path) < 0)
        return -1;
    return after_open(f(dir, path, flags, mode), path);
}

ssize_t read(int fd, void *buf, size_t n)
{
    static read_fn f;
    if (!f)
        f = (read_fn)dlsym(RTLD_NEXT, "read");
    if (fd != tracked || fired)
        return f(fd, buf, n);
    if (!strcmp(env("PM_IOFAULT_MODE"), "eio")) {
        if (reads++ >= 1) {
            mark();
            errno = EIO;
            return -1;
        }
        return f(fd, buf, n);
    }
    ssize_t k = f(fd, buf, n);
    if (k > 0)
        mutate(tracked_path);
    return k;
}
C
have_shim=0
if cc -shared -fPIC -O1 -o "$T/iofault.so" "$T/iofault.c" -ldl 2>"$T/cc.log"; then
    have_shim=1
else
    cat "$T/cc.log" >&2
fi

# One rank without mpirun ("pilemix run" alone is N = 1). Used for the runs
# that are meant to fail: mpirun takes seconds to tear down a failed job.
pm1() { timeout 300 "$PILEMIX" "$@" </dev/null; }

# NP ranks (or "solo": pm1) with the shim in pilemix only (not in mpirun).
pm_io() {
    local np=$1
    shift
    if [ "$np" = solo ]; then
        LD_PRELOAD="$T/iofault.so" pm1 "$@"
        return
    fi
    timeout 300 mpirun --oversubscribe -np "$np" -x LD_PRELOAD="$T/iofault.so" \
        -x PM_IOFAULT_PATH -x PM_IOFAULT_MODE -x PM_IOFAULT_WHEN -x PM_IOFAULT_AFTER \
        -x PM_IOFAULT_MARK "$PILEMIX" "$@" </dev/null
}

# ---------------------------------------------------------------- cases
# Parse NAME.expected into exp_* variables.
parse_expected() {
    exp_accept=0 exp_blank=0 exp_empty=0 exp_rejects="" exp_fail="" exp_make="" exp_io=""
    exp_companion="" exp_extra=0 # documents of the companion file, when there is one
    exp_contains=()
    local key rest
    while IFS= read -r line || [ -n "$line" ]; do
        case $line in '' | '#'*) continue ;; esac
        key=${line%% *}
        rest=${line#"$key"}
        rest=${rest# }
        case $key in
        accept) exp_accept=$rest ;;
        blank) exp_blank=$rest ;;
        empty) exp_empty=$rest ;;
        reject) exp_rejects+="$rest"$'\n' ;;
        contains) exp_contains+=("$rest") ;;
        fail_file) exp_fail=$rest ;;
        make) exp_make=$rest ;;
        iofault) exp_io=$rest ;;
        companion) exp_companion=1 exp_extra=2 ;;
        *) echo "bad directive in $1.expected: $line" >&2; return 1 ;;
        esac
    done <"$CASES/$1.expected"
}

zst_of() { zstd -q -c --no-progress "$1"; }

flip_byte() { # FILE OFFSET: xor one byte with 0xff in place
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "\\$(printf '%03o' $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# Build case NAME's input in DIR. Sets in_file (the file the job reads) and
# in_src (its uncompressed stream, for offsets; empty when there is none).
make_input() {
    local name=$1 dir=$2 src="$CASES/$1.jsonl"
    mkdir -p "$dir"
    in_src=""
    if [ -e "$CASES/$name.jsonl.zst" ]; then
        in_file="$dir/$name.jsonl.zst"
        cp "$CASES/$name.jsonl.zst" "$in_file"
        return 0
    fi
    in_src=$src
    case $exp_make in
    "")
        in_file="$dir/$name.jsonl"
        cp "$src" "$in_file"
        return 0
        ;;
    zst) zst_of "$src" >"$dir/$name.jsonl.zst" ;;
    zst_multiframe)
        { head -n 2 "$src" | zstd -q -c; sed -n 3,4p "$src" | zstd -q -c; tail -n +5 "$src" | zstd -q -c; } >"$dir/$name.jsonl.zst" ;;
    zst_truncate)
        zst_of "$src" >"$T/full.zst"
        head -c $(($(wc -c <"$T/full.zst") / 2)) "$T/full.zst" >"$dir/$name.jsonl.zst" ;;
    zst_flip)
        zst_of "$src" >"$dir/$name.jsonl.zst"
        flip_byte "$dir/$name.jsonl.zst" $(($(wc -c <"$dir/$name.jsonl.zst") / 2)) ;;
    zst_garbage)
        { zst_of "$src"; printf 'garbage after the frame\n'; } >"$dir/$name.jsonl.zst" ;;
    *) echo "unknown make $exp_make" >&2; return 1 ;;
    esac
    in_file="$dir/$name.jsonl.zst"
}

# A good file next to a bad one: what a skipped bad file leaves behind.
make_companion() {
    printf '{"text": "companion of %s, doc %d"}\n' "$1" 1 "$1" 2 >"$2/companion.jsonl"
}

# config FILE NAME... : one component per NAME over d/NAME; $mode picks the policy.
write_cfg() {
    local cfg=$1 sep="" n policy=""
    shift
    [ "$mode" = skip ] && policy=', "on_bad_record": "skip", "on_bad_file": "skip"'
    {
        printf '{"name": "bad-inputs", "seed": 7, "components": [\n'
        for n in "$@"; do
            printf '%s  {"name": "%s", "paths": ["d/%s"], "epochs": 1}' "$sep" "$n" "$n"
            sep=$',\n'
        done
        printf '],\n "output": {"dir": "o", "train_shards": 2, "val_fraction": 0.2, "test_fraction": 0.2},\n'
        # One component per case, most of them mostly bad: the per-component
        # fraction guard is tested on its own (test_guards.sh).
        printf ' "run": {"mem_per_rank": "32M", "max_record_bytes": %d, "max_bad_fraction": 1%s}}\n' "$MAXREC" "$policy"
    } >"$cfg"
}

# Decompress a finished output once: every line in $1.lines, and per
# component name its number of output lines in $1.per_component.
read_output() {
    zstdcat "$1"/train/*.jsonl.zst "$1/val.jsonl.zst" "$1/test.jsonl.zst" >"$1.lines"
    jq -r '.meta.pile_set_name' "$1.lines" | sort | uniq -c >"$1.per_component"
}

# Everything checkable about component NAME in the finished output OUT
# (read_output done). Uses exp_* (parse_expected) and in_file/in_src
# (make_input). Prints problems on stderr; returns 1 if any.
check_component() {
    local name=$1 out=$2
    local bad=0 exp act rej="$out/rejects/rejects.jsonl" base
    base=$(basename "$in_file")
    # 1. counts: expected vs manifest + rejects.jsonl, as sorted lines
    if [ -n "$exp_fail" ]; then
        exp=$(printf 'accept 2\nblank 0\nempty 0\nskipped_files 1\nbad_total 0\nreject bad_file -\n')
    else
        exp=$(
            printf 'accept %s\nblank %s\nempty %s\nskipped_files 0\n' "$((exp_accept + exp_extra))" "$exp_blank" "$exp_empty"
            printf 'bad_total %s\n' "$(printf '%s' "$exp_rejects" | grep -c . || true)"
            printf '%s' "$exp_rejects" | awk 'NF {n[$1]++} END {for (r in n) print "by_reason", r, n[r]}'
            printf '%s' "$exp_rejects" | awk 'NF {print "reject", $1, $2}'
        )
    fi
    exp=$(printf '%s\n' "$exp" | sort)
    act=$(
        jq -r --arg c "$name" '.components[] | select(.name == $c) |
            "accept \(.train_documents + .val_documents + .test_documents)",
            "blank \(.blank_lines)", "empty \(.empty_documents)",
            "skipped_files \(.skipped_files // 0)", "bad_total \(.bad_records.total)",
            (.bad_records.by_reason | to_entries[] | "by_reason \(.key) \(.value)")' "$out/manifest.json"
        if [ -f "$rej" ]; then
            jq -r --arg c "$name" 'select(.component == $c) |
                if .reason == "bad_file" then "reject bad_file -" else "reject \(.reason) \(.line)" end' "$rej"
        fi
    )
    act=$(printf '%s\n' "$act" | sort)
    if [ "$exp" != "$act" ]; then
        echo "$name: counts differ (< expected, > actual):" >&2
        diff <(printf '%s\n' "$exp") <(printf '%s\n' "$act") | grep '^[<>]' >&2
        bad=1
    fi
    # 2. the accounting identity (and train copies = train documents at epochs 1),
    # 3. no accepted document missing: its output lines + holdout duplicates
    local want=$((exp_accept + exp_extra)) lines
    [ -n "$exp_fail" ] && want=2
    lines=$(awk -v c="$name" '{n = $1; sub(/^ *[0-9]+ /, ""); if ($0 == c) print n}' "$out.per_component")
    if ! jq -e --arg c "$name" --argjson lines "${lines:-0}" --argjson want "$want" '.components[] | select(.name == $c) |
            .documents == .train_documents + .val_documents + .test_documents
                          + .bad_records.total + .empty_documents
            and .emitted.train == .train_documents and .train_documents_sampled_out == 0
            and .emitted.val + .holdout_duplicates.val == .val_documents
            and .emitted.test + .holdout_duplicates.test == .test_documents
            and ([.bad_records.by_reason[]] | add // 0) == .bad_records.total
            and .emitted.train + .emitted.val + .emitted.test == $lines
            and $lines + .holdout_duplicates.val + .holdout_duplicates.test == $want' \
            "$out/manifest.json" >/dev/null; then
        echo "$name: accounting identity or output count ($lines lines, $want accepted expected) fails:" >&2
        jq -c --arg c "$name" '.components[] | select(.name == $c) | {documents, train_documents,
            val_documents, test_documents, bad_records, empty_documents, emitted, holdout_duplicates}' \
            "$out/manifest.json" >&2
        bad=1
    fi
    if [ -n "$exp_fail" ]; then
        local foreign
        foreign=$(jq -r --arg c "$name" 'select(.meta.pile_set_name == $c) | .text' "$out.lines" |
            grep -cv '^companion of' || true)
        if [ "$foreign" -ne 0 ]; then
            echo "$name: $foreign documents of the skipped file reached the output" >&2
            bad=1
        fi
    fi
    local s
    for s in "${exp_contains[@]+"${exp_contains[@]}"}"; do
        if ! grep -F -- "$s" "$out.lines" | grep -qF "\"pile_set_name\": \"$name\""; then
            echo "$name: no output line contains [$s]" >&2
            bad=1
        fi
    done
    # 4. each reject entry: fields, identity path, offset, bytes, raw
    [ -f "$rej" ] || return $bad
    if [ -n "$exp_fail" ]; then
        if ! jq -se --arg c "$name" --arg f "$base" --arg re "$exp_fail" \
                '[.[] | select(.component == $c) | .file == $f and (.detail | type == "string" and test($re))]
                 | length == 1 and all' "$rej" >/dev/null; then
            echo "$name: bad_file entry lacks file $base or a detail matching /$exp_fail/:" >&2
            grep -F "\"component\": \"$name\"" "$rej" >&2 || true
            bad=1
        fi
        return $bad
    fi
    [ -n "$exp_rejects" ] || return $bad
    # (slurped: jq 1.6 -e reports on the last input, not the last output)
    if ! jq -se --arg c "$name" --arg f "$base" --argjson cap "$RAWCAP" '[.[] | select(.component == $c) |
            .file == $f and (.line | type == "number") and (.offset | type == "number")
            and (.column | type == "number") and (.detail | type == "string" and length > 0)
            and (.bytes | type == "number") and (.raw | type == "string")
            and (.raw | utf8bytelength <= $cap)
            and (if .reason == "invalid_utf8" then .raw | contains("\ufffd") else true end)] | all' \
            "$rej" >/dev/null; then
        echo "$name: malformed reject entries:" >&2
        jq -c --arg c "$name" 'select(.component == $c) | .raw |= .[0:80]' "$rej" >&2
        bad=1
    fi
    [ -n "$in_src" ] || return $bad
    local l off bytes reason want_off want_bytes
    while read -r l off bytes reason; do
        want_off=$(head -n $((l - 1)) "$in_src" | wc -c)
        want_bytes=$(tail -c +$((want_off + 1)) "$in_src" | head -n 1 | tr -d '\n' | wc -c)
        if [ "$off" -ne "$want_off" ] || [ "$bytes" -ne "$want_bytes" ]; then
            echo "$name: line $l: offset $off bytes $bytes, expected offset $want_off bytes $want_bytes" >&2
            bad=1
        fi
        [ "$reason" = invalid_utf8 ] && continue
        if ! cmp -s <(jq -j --arg c "$name" --argjson l "$l" 'select(.component == $c and .line == $l) | .raw' "$rej") \
                <(tail -c +$((want_off + 1)) "$in_src" | head -c "$((want_bytes < RAWCAP ? want_bytes : RAWCAP))"); then
            echo "$name: line $l: raw is not the line's first $RAWCAP bytes" >&2
            bad=1
        fi
    done < <(jq -r --arg c "$name" 'select(.component == $c and .reason != "bad_file") | "\(.line) \(.offset) \(.bytes) \(.reason)"' "$rej")
    return $bad
}

no_final_output() { # OUT: nothing under a final name after a failed run
    local leftovers
    leftovers=$(cd "$1" 2>/dev/null && find . \( -name '*.jsonl.zst' -o -name manifest.json -o -name XXH128SUMS \
        -o -name rejects.jsonl -o -name '.*.tmp' \) -print | head -3)
    if [ -n "$leftovers" ]; then
        echo "left under final names after a failure: $leftovers" >&2
        return 1
    fi
}

one_line() { tr '\n' ' ' | cut -c1-"${1:-110}"; }

# A finished job over components NAMES... in RD: one ok/not ok per component.
check_job() { # LABEL RD NAMES...
    local label=$1 rd=$2 name errs
    shift 2
    read_output "$rd/o"
    for name in "$@"; do
        parse_expected "$name"
        make_input "$name" "$T/scratch/$name" # for in_file / in_src only
        errs=""
        # the summary table's row for the component ends with its rejected count
        local nrej row
        nrej=$(printf '%s' "$exp_rejects" | grep -c . || true)
        row=$(awk -v c="$name" '$1 == c {print $NF}' "$rd/stdout")
        if [ "$row" != "$nrej" ]; then
            errs="$name: the summary table says ${row:-nothing} rejected, expected $nrej"
        fi
        if errs+=$(check_component "$name" "$rd/o" 2>&1) && [ -z "$errs" ]; then
            if [ -n "$exp_fail" ]; then
                ok "$name ($label): file skipped whole, listed as bad_file, companion kept"
            else
                ok "$name ($label): accept $exp_accept, $(printf '%s' "$exp_rejects" | grep -c . || true) rejects, blank $exp_blank, empty $exp_empty"
            fi
        else
            printf '%s\n' "$errs"
            not_ok "$name ($label): output does not match $name.expected"
        fi
    done
}

# Build one job over cases NAMES... in RD ($mode picks the policy), run it
# on NP ranks (or solo); sets job_rc.
job_of() { # RD NP NAMES...
    local rd=$1 np=$2 name
    shift 2
    rm -rf "$rd"
    for name in "$@"; do
        parse_expected "$name"
        make_input "$name" "$rd/d/$name"
        if [ -n "$exp_fail" ] || [ -n "$exp_companion" ]; then make_companion "$name" "$rd/d/$name"; fi
    done
    write_cfg "$rd/c.json" "$@"
    job_rc=0
    if [ "$np" = solo ]; then
        pm1 run "$rd/c.json" --progress 0 >"$rd/stdout" 2>"$rd/stderr" || job_rc=$?
    else
        pm "$np" run "$rd/c.json" --progress 0 >"$rd/stdout" 2>"$rd/stderr" || job_rc=$?
    fi
}

all_cases=$(cd "$CASES" && ls *.expected | sed 's/\.expected$//')
record_cases="" file_cases="" io_cases="" clean_cases="" bad_cases=""
for name in $all_cases; do
    parse_expected "$name"
    if [ -n "$exp_io" ]; then
        io_cases+=" $name"
    elif [ -n "$exp_fail" ]; then
        file_cases+=" $name"
    else
        record_cases+=" $name"
    fi
    if [ -n "$exp_fail$exp_rejects" ]; then bad_cases+=" $name"; else clean_cases+=" $name"; fi
done

# ---- skip mode: all record-level cases as components of one job, on 2
# ranks and on 1 (same bytes, rejects included), plus pmcheck and verify.
mode=skip
# shellcheck disable=SC2086
job_of "$T/rec2" 2 $record_cases
if [ "$job_rc" -eq 0 ]; then
    # shellcheck disable=SC2086
    check_job "skip, 2 ranks" "$T/rec2" $record_cases
    total=$(jq '[.components[].bad_records.total] | add' "$T/rec2/o/manifest.json")
    if grep -qE "^$total bad records( and [0-9]+ bad files)? skipped" "$T/rec2/stdout"; then
        ok "skip mode: the summary reports the $total bad records"
    else
        cat "$T/rec2/stdout"; not_ok "skip mode: the summary does not report $total bad records"
    fi
    if "$PILEMIX" verify "$T/rec2/o" >"$T/verify.log" 2>&1; then
        ok "skip mode: pilemix verify passes"
    else
        tail -5 "$T/verify.log"; not_ok "skip mode: pilemix verify"
    fi
    if "$PMCHECK" "$T/rec2/c.json" >"$T/pmcheck.log" 2>&1; then
        ok "skip mode: pmcheck (independent re-derivation: nothing lost, nothing invented)"
    else
        tail -5 "$T/pmcheck.log"; not_ok "skip mode: pmcheck"
    fi
    cp -a "$T/rec2" "$T/rec1"
    rm -rf "$T/rec1/o" "$T/rec1/o.work"
    if pm 1 run "$T/rec1/c.json" --progress 0 >/dev/null 2>"$T/rec1/stderr" && same_output "$T/rec2/o" "$T/rec1/o"; then
        ok "skip mode: 1 rank writes the same bytes as 2 (rejects and manifest included)"
    else
        cat "$T/rec1/stderr"; not_ok "skip mode: 1 rank vs 2 ranks"
    fi
else
    cat "$T/rec2/stderr"
    not_ok "skip mode: the job over all record-level cases exited $job_rc"
fi

# ---- skip mode, file level: the zstd and empty-file cases in one job
# (2 ranks), the shim cases one by one (the shim targets one file).
# shellcheck disable=SC2086
job_of "$T/files2" 2 $file_cases
if [ "$job_rc" -eq 0 ]; then
    # shellcheck disable=SC2086
    check_job "skip, 2 ranks" "$T/files2" $file_cases
    nfiles=$(echo $file_cases | wc -w)
    if grep -qE "( |^)$nfiles bad files? skipped" "$T/files2/stdout"; then
        ok "skip mode: the summary reports the $nfiles bad files"
    else
        cat "$T/files2/stdout"; not_ok "skip mode: the summary does not report $nfiles bad files"
    fi
    cp -a "$T/files2" "$T/files1"
    rm -rf "$T/files1/o" "$T/files1/o.work"
    if pm 1 run "$T/files1/c.json" --progress 0 >/dev/null 2>"$T/files1/stderr" && same_output "$T/files2/o" "$T/files1/o"; then
        ok "skip mode, bad files: 1 rank writes the same bytes as 2"
    else
        cat "$T/files1/stderr"; not_ok "skip mode, bad files: 1 rank vs 2 ranks"
    fi
else
    not_ok "skip mode: the job over the bad-file cases ($(echo $file_cases)) on 2 ranks exited $job_rc: $(grep -m1 error "$T/files2/stderr" | one_line 160)"
    # Tell a scatter problem from one in shipping the config to other ranks.
    # shellcheck disable=SC2086
    job_of "$T/files1" 1 $file_cases
    if [ "$job_rc" -eq 0 ]; then
        # shellcheck disable=SC2086
        check_job "skip, 1 rank" "$T/files1" $file_cases
    else
        not_ok "skip mode: ... and on 1 rank exited $job_rc: $(grep -m1 error "$T/files1/stderr" | one_line 160)"
    fi
fi

# Run a shim case alone (NP 1 or solo); sets job_rc, fails if the shim never fired.
io_job() { # RD NAME NP
    local rd=$1 name=$2 np=$3
    rm -rf "$rd"
    parse_expected "$name"
    make_input "$name" "$rd/d/$name"
    make_companion "$name" "$rd/d/$name"
    write_cfg "$rd/c.json" "$name"
    job_rc=0
    PM_IOFAULT_PATH="/$(basename "$in_file")" PM_IOFAULT_MODE=${exp_io% *} PM_IOFAULT_WHEN=${exp_io#* } \
        PM_IOFAULT_AFTER="$rd/o.work/spill" PM_IOFAULT_MARK="$rd/fired" \
        pm_io "$np" run "$rd/c.json" --progress 0 >"$rd/stdout" 2>"$rd/stderr" || job_rc=$?
    [ -e "$rd/fired" ]
}
for name in $io_cases; do
    if [ "$have_shim" -ne 1 ]; then
        skip "$name (skip): no C compiler for the I/O shim"
    elif ! io_job "$T/io/$name.skip" "$name" 1; then
        not_ok "$name (skip): the I/O shim never fired (does the reader still use open() and read()?)"
    elif [ "$job_rc" -ne 0 ]; then
        not_ok "$name (skip): exit $job_rc: $(grep -m1 error "$T/io/$name.skip/stderr" | one_line 160)"
    else
        check_job "skip" "$T/io/$name.skip" "$name"
    fi
done

# ---- fail mode (the defaults): each case with something bad alone on 1
# rank; the cases with nothing bad together in one job.
mode=fail
for name in $bad_cases; do
    rd="$T/fail/$name"
    parse_expected "$name"
    if [ -n "$exp_io" ]; then
        if [ "$have_shim" -ne 1 ]; then
            skip "$name (fail): no C compiler for the I/O shim"
            continue
        fi
        if ! io_job "$rd" "$name" solo; then
            not_ok "$name (fail): the I/O shim never fired"
            continue
        fi
    else
        job_of "$rd" solo "$name"
    fi
    base=$(basename "$in_file")
    re=${base//./\\.}
    if [ -n "$exp_fail" ]; then
        if [ "$job_rc" -eq 1 ] && grep -qE -- "$re.*$exp_fail" "$rd/stderr" && no_final_output "$rd/o"; then
            ok "$name (fail): exit 1: $(grep -m1 -oE "$re.*" "$rd/stderr" | one_line)"
        else
            cat "$rd/stderr"
            not_ok "$name (fail): expected exit 1 naming $base and /$exp_fail/, got exit $job_rc"
        fi
        continue
    fi
    first=$(printf '%s' "$exp_rejects" | sort -k2,2n | head -n 1)
    reason=${first% *} line=${first#* }
    msg="$re:$line(:[0-9]+)?: bad record \\($reason\\)"
    if [ "$job_rc" -eq 1 ] && grep -qE -- "$msg" "$rd/stderr" && no_final_output "$rd/o"; then
        # the column agrees with the skip run's rejects entry
        col=$(grep -m1 -oE "$re:$line:[0-9]+:" "$rd/stderr" | awk -F: '{print $(NF-1)}')
        skipcol=$(jq -r --arg c "$name" --argjson l "$line" 'select(.component == $c and .line == $l) | .column' \
            "$T/rec2/o/rejects/rejects.jsonl" 2>/dev/null | head -n 1)
        if [ -n "$col" ] && [ -n "$skipcol" ] && [ "$col" != "$skipcol" ]; then
            not_ok "$name (fail): column $col on stderr but $skipcol in the skip run's rejects"
        else
            ok "$name (fail): exit 1, $base:$line${col:+:$col}: bad record ($reason)"
        fi
    else
        cat "$rd/stderr"
        not_ok "$name (fail): expected exit 1 and /$msg/ on stderr, got exit $job_rc"
    fi
done
# shellcheck disable=SC2086
job_of "$T/clean" 1 $clean_cases
if [ "$job_rc" -eq 0 ] && [ ! -e "$T/clean/o/rejects" ]; then
    # shellcheck disable=SC2086
    check_job "fail" "$T/clean" $clean_cases
else
    cat "$T/clean/stderr"
    not_ok "fail mode: the job over the cases with nothing bad exited $job_rc (or wrote rejects)"
fi

# The two policies are independent: a bad record under on_bad_file "skip"
# still fails, a bad file under on_bad_record "skip" still fails.
mode=skip
parse_expected invalid_json
make_input invalid_json "$T/x1/d/invalid_json"
write_cfg "$T/x1/c.json" invalid_json
sed -i 's/"on_bad_record": "skip", //' "$T/x1/c.json"
if expect_fail 1 'invalid_json\.jsonl:2:[0-9]+: bad record \(invalid_json\)' pm1 run "$T/x1/c.json" --progress 0; then
    ok "on_bad_file skip does not skip bad records"
else
    not_ok "on_bad_file skip with on_bad_record fail"
fi
parse_expected zst_truncated
make_input zst_truncated "$T/x2/d/zst_truncated"
make_companion zst_truncated "$T/x2/d/zst_truncated"
write_cfg "$T/x2/c.json" zst_truncated
sed -i 's/, "on_bad_file": "skip"//' "$T/x2/c.json"
if expect_fail 1 'zst_truncated\.jsonl\.zst.*truncated' pm1 run "$T/x2/c.json" --progress 0; then
    ok "on_bad_record skip does not skip bad files"
else
    not_ok "on_bad_record skip with on_bad_file fail"
fi

# ---------------------------------------------------------------- plan-time faults
# Always exit 2 at planning, naming the path, whatever on_bad_file says;
# nothing is created in the output or work directory.
P=$T/plan
mkdir -p "$P/good" "$P/empty" "$P/unsupported"
printf '{"text": "plan good"}\n' >"$P/good/a.jsonl"
printf 'not an input\n' >"$P/unsupported/README.md"
printf '{"text": "x"}\n' >"$P/unsupported/data.json"
ln -s "$P/no-such-target.jsonl" "$P/broken.jsonl"
mkdir -p "$P/brokendir" && ln -s "$P/gone.jsonl" "$P/brokendir/b.jsonl"
plan_cfg() { # PATH POLICY
    cat >"$P/c.json" <<JSON
{"name": "p", "components": [{"name": "G", "paths": ["good"], "epochs": 1},
                             {"name": "X", "paths": ["$1"], "epochs": 1}],
 "output": {"dir": "o", "train_shards": 2},
 "run": {"on_bad_record": "$2", "on_bad_file": "$2"}}
JSON
}
while read -r -u 3 what path pattern; do
    for policy in fail skip; do
        rm -rf "$P/o" "$P/o.work"
        plan_cfg "$path" "$policy"
        if expect_fail 2 "$pattern" pm1 run "$P/c.json" --progress 0 &&
            [ ! -e "$P/o/train" ] && [ ! -e "$P/o.work/spill" ]; then
            ok "plan-time: $what, on_bad_file $policy: exit 2: $(grep -m1 -oE "$pattern.*" "$T/stderr" | cut -c1-90)"
        else
            not_ok "plan-time: $what, on_bad_file $policy"
        fi
    done
done 3<<EOF
nothing-matches nothing-here.jsonl nothing-here\.jsonl
glob-matches-nothing good/*.jsonl.zst good/\*\.jsonl\.zst
directory-without-inputs empty empty
directory-of-unsupported-files unsupported 2.files.under.its.paths.are.not.inputs.*"README\.md",."data\.json".\(JSON.lines\?.name.it.\.jsonl
broken-symlink broken.jsonl broken\.jsonl
broken-symlink-in-directory brokendir brokendir/b\.jsonl
EOF
# An unreadable file: as root, permission bits do not stop us, so drop to
# nobody when we can; otherwise make open() fail with EACCES via the shim.
mkdir -p "$P/locked"
printf '{"text": "locked"}\n' >"$P/locked/l.jsonl"
chmod 000 "$P/locked/l.jsonl"
for policy in fail skip; do
    plan_cfg locked "$policy"
    rm -rf "$P/o" "$P/o.work"
    how=""
    if [ "$(id -u)" -ne 0 ]; then
        expect_fail 2 'locked/l\.jsonl.*(not readable|Permission denied)' pm1 run "$P/c.json" --progress 0 && how="chmod 000"
    elif command -v setpriv >/dev/null && chmod 755 "$T" "$P" "$P/good" "$P/locked" &&
        chmod 644 "$P/c.json" "$P/good/a.jsonl" && chmod 777 "$P" &&
        setpriv --reuid=65534 --regid=65534 --clear-groups test -r "$P/c.json" 2>/dev/null; then
        expect_fail 2 'locked/l\.jsonl.*(not readable|Permission denied)' \
            setpriv --reuid=65534 --regid=65534 --clear-groups "$PILEMIX" run "$P/c.json" --progress 0 &&
            how="chmod 000, run as nobody"
    elif [ "$have_shim" -eq 1 ]; then
        PM_IOFAULT_PATH=/l.jsonl PM_IOFAULT_MODE=eacces PM_IOFAULT_WHEN=open PM_IOFAULT_AFTER="" PM_IOFAULT_MARK="" \
            expect_fail 2 'locked/l\.jsonl.*(not readable|Permission denied)' pm_io solo run "$P/c.json" --progress 0 &&
            how="EACCES from the shim"
    else
        how="skipped"
    fi
    chmod 700 "$T"
    case $how in
    "") not_ok "plan-time: unreadable file, on_bad_file $policy" ;;
    skipped) skip "plan-time: unreadable file: running as root without setpriv or a C compiler" ;;
    *) ok "plan-time: unreadable file ($how), on_bad_file $policy: exit 2 naming it" ;;
    esac
done
chmod 644 "$P/locked/l.jsonl"

# ---------------------------------------------------------------- containment
# No input may make pilemix write outside OUTDIR and WORK. Plant a symlink
# where pilemix writes, for a fresh run with --force and for a --resume:
# the target must stay untouched, and the run must either refuse with a
# clear message or replace the symlink itself (then the output is the clean
# run's, byte for byte).
K=$T/contain
mkdir -p "$K/d"
for f in a b c; do
    for i in $(seq 1 40); do printf '{"text": "contain %s %d"}\n' "$f" "$i"; done >"$K/d/$f.jsonl"
done
cat >"$K/c.json" <<'JSON'
{"name": "k", "seed": 5, "components": [{"name": "K", "paths": ["d"], "epochs": 1}],
 "output": {"dir": "o", "train_shards": 2, "val_fraction": 0.2}, "run": {"mem_per_rank": "32M"}}
JSON
pm1 run "$K/c.json" --progress 0 >/dev/null
cp -a "$K/o" "$K/ref"
mkdir -p "$K/elsewhere"
echo canary >"$K/elsewhere/canary"
echo victim >"$K/victim"
touch -d '2001-02-03 04:05:06' "$K/victim" "$K/elsewhere/canary" "$K/elsewhere"
untouched() {
    [ "$(ls -A "$K/elsewhere")" = canary ] && [ "$(cat "$K/elsewhere/canary")" = canary ] &&
        [ "$(cat "$K/victim")" = victim ] &&
        [ "$(stat -c %Y "$K/victim")" = "$(stat -c %Y "$K/elsewhere/canary")" ]
}
# Leave an interrupted run behind (killed after its first scatter task; one
# rank, so "the first task committed" is deterministic).
interrupted() {
    rm -rf "$K/o" "$K/o.work"
    local rc=0
    PILEMIX_FAULT=scatter-task:n=1 pm1 run "$K/c.json" --progress 0 >/dev/null 2>"$K/interrupted.log" || rc=$?
    if ! fault_killed "$rc" "$K/interrupted.log" 'scatter-task:task=[0-9]+:n=1' 0 ||
        [ ! -e "$K/o.work/state.json" ]; then
        not_ok "containment: could not leave an interrupted run behind"
    fi
}
plant() { # RELPATH-under-K TARGET
    rm -rf "${K:?}/$1"
    ln -s "$2" "$K/$1"
}
contain_case() { # LABEL LINK TARGET SETUP(fresh|resume)
    local label=$1 link=$2 target=$3 how=$4 rc=0
    if [ "$how" = fresh ]; then
        rm -rf "$K/o" "$K/o.work"
        cp -a "$K/ref" "$K/o"
        # a finished output (and, for WORK links, a leftover work directory)
        case $link in o.work/*) interrupted ;; esac
        plant "$link" "$target"
        pm1 run "$K/c.json" --force --progress 0 >"$K/stdout" 2>"$K/stderr" || rc=$?
    else
        interrupted
        plant "$link" "$target"
        pm1 run "$K/c.json" --resume --progress 0 >"$K/stdout" 2>"$K/stderr" || rc=$?
    fi
    if ! untouched; then
        ls -la "$K/elsewhere" "$K/victim"
        not_ok "containment: $label: wrote through the planted symlink $link"
    elif [ "$rc" -eq 0 ]; then
        if [ -L "$K/$link" ] || ! same_output "$K/ref" "$K/o"; then
            not_ok "containment: $label: exit 0 but the symlink is still there or the output differs"
        else
            ok "containment: $label: symlink replaced, output identical to a clean run"
        fi
    elif [ "$rc" -eq 1 ] || [ "$rc" -eq 2 ]; then
        # a clear message: an error line that names the planted entry
        if grep -E "error" "$K/stderr" | grep -qF -- "$(basename "$link")"; then
            ok "containment: $label: refused (exit $rc): $(head -c 150 "$K/stderr" | head -n 1)"
        else
            cat "$K/stderr"
            not_ok "containment: $label: exit $rc without a clear message naming $link"
        fi
    else
        cat "$K/stderr"
        not_ok "containment: $label: exit $rc"
    fi
    if [ -L "$K/$link" ]; then rm -f "$K/$link"; fi
}
for how in fresh resume; do
    contain_case "OUTDIR/train -> elsewhere ($how)" o/train "$K/elsewhere" "$how"
    contain_case "OUTDIR/.val.jsonl.zst.tmp -> victim ($how)" o/.val.jsonl.zst.tmp "$K/victim" "$how"
    contain_case "OUTDIR/train/.0.jsonl.zst.tmp -> victim ($how)" o/train/.0.jsonl.zst.tmp "$K/victim" "$how"
    contain_case "WORK/spill -> elsewhere ($how)" o.work/spill "$K/elsewhere" "$how"
    contain_case "WORK/rejects -> elsewhere ($how)" o.work/rejects "$K/elsewhere" "$how"
done

# Component names that could escape a directory or a terminal are refused.
for bad in '../../etc' 'a/b' '..' 'tab\there' 'esc\u001b[31m' 'c1\u0085x'; do
    cat >"$K/n.json" <<JSON
{"name": "n", "components": [{"name": "$bad", "paths": ["d"], "epochs": 1}], "output": {"dir": "o"}}
JSON
    if expect_fail 2 'components\[0\]\.name' "$PILEMIX" plan "$K/n.json"; then
        ok "component name \"$bad\" refused by the config"
    else
        not_ok "component name \"$bad\" accepted"
    fi
done

# ${VAR} substitutes text and never runs anything: no shell, no wordexp.
export PM_T_SUBST='$(touch '"$T"'/pwned-subst)'
export PM_T_TICKS='`touch '"$T"'/pwned-ticks`'
export PM_T_SEMI='x; touch '"$T"'/pwned-semi'
V=$T/vars
mkdir -p "$V/d"
printf '{"text": "vars"}\n' >"$V/d/a.jsonl"
var_cfg() { # PATHS-JSON OUTDIR WORKDIR
    cat >"$V/c.json" <<JSON
{"name": "v", "components": [{"name": "V", "paths": $1, "epochs": 1}],
 "output": {"dir": "$2", "train_shards": 1}, "run": {"work_dir": "$3"}}
JSON
}
var_cfg '["${PM_T_SUBST}/a.jsonl", "d"]' o o.work
expect_fail 2 'matches no file|no such|nothing' "$PILEMIX" plan "$V/c.json" || true
var_cfg '["d", "${PM_T_TICKS}"]' o o.work
pm1 run "$V/c.json" --progress 0 >/dev/null 2>&1 || true
var_cfg '["d/*${PM_T_SEMI}*", "d"]' o o.work
pm1 run "$V/c.json" --progress 0 >/dev/null 2>&1 || true
var_cfg '["d"]' 'o-${PM_T_SUBST}' 'w-${PM_T_TICKS}'
rc=0
pm1 run "$V/c.json" --progress 0 >/dev/null 2>"$V/stderr" || rc=$?
if ls "$T"/pwned-* >/dev/null 2>&1; then
    not_ok "\${VAR} expansion ran a command: $(ls "$T"/pwned-*)"
else
    ok "\${VAR} with \$(...), backticks and ; in the value runs nothing (paths, output.dir, run.work_dir)"
fi
finish
