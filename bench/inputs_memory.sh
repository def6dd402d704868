#!/usr/bin/env bash
# bench/inputs_memory.sh - peak RSS of one pilemix rank reading each input shape
# issue 10 names as "memory stays bounded", at two input sizes per shape, so a
# bounded reader shows as the same RSS at both sizes. Figures: BENCHMARKS.md,
# "Inputs: memory of the streaming readers (issue 10)".
#
#   bench/inputs_memory.sh                        every shape at its two default sizes
#   IM_SHAPES="tar tar-ctl" bench/inputs_memory.sh  some shapes only
#   IM_GZ_SIZES="1G 4G 10G" bench/inputs_memory.sh  also a 10 GB .jsonl.gz (~3 GB on disk)
#
# Shapes (each input written by python3 + gzip/tar/zstd, never by pilemix):
#   gz       one .jsonl.gz of many documents (200 B - 20 KB texts), IM_GZ_SIZES of
#            JSON lines uncompressed (default "1G 4G"), compressed with gzip -1
#   txt      one .txt of IM_TXT_SIZES (default "256M 1G"): one document longer than
#            run.max_record_bytes (default 64 MiB), so a record_too_long reject that
#            must never be buffered whole; the component also has a small .jsonl of
#            100 documents so it yields documents (on_bad_record skip, max_bad_fraction 1)
#   tar      one .tar of IM_TAR_MEMBERS (default "10000 100000") small .jsonl members
#            (3 documents each, in 100 directories), written by python3's tarfile
#   jsonzst  one .json.zst holding one JSON array of IM_ARRAY_STRINGS (default
#            "100000 1000000") strings (200 B - 2 KB), compressed with zstd -3
#   tar-ctl, jsonzst-ctl  controls: the same documents as one plain .jsonl (the tar's
#            members concatenated; the array's strings one a line), so the rows show
#            what the reader adds over the rest of the job at that data size (at small
#            sizes the rest grows until the data fills the budget's arena)
#
# Per input: `pilemix run CFG --force --progress 0 --mem-per-rank $IM_MEM` (default
# 64M) as one rank (an MPI singleton, no mpirun), with PILEMIX_TEST_REPORT_HWM=1
# (the rank prints its VmHWM) under /usr/bin/time (wall, user+sys CPU). One config
# per input: one component, epochs 1, 4 train shards, no val/test.
# Inputs are generated once into bench/cache/inputs-memory/ (gitignored; kept, as
# they are deterministic: remove the directory to regenerate, IM_CLEAN=1 removes
# each input after its run to save disk); every output and work directory is
# removed after its run. Disk: the 4G .jsonl.gz is ~1.3 GB, its run writes about
# as much again (output + spills) while it runs.
# Other environment: IM_REPS runs per input (default 1; the RSS column then shows
# min-max), IM_BUILD build dir (default build-release, configured
# --buildtype=release), IM_MEM the budget.
# Prints a table and appends it to bench/results/inputs-memory.txt. Exits non-zero
# when a tool is missing, the build is absent, or a run does not do what it must
# (exit status, the txt shape's record_too_long reject).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

shapes=${IM_SHAPES:-gz txt tar tar-ctl jsonzst jsonzst-ctl}
gz_sizes=${IM_GZ_SIZES:-1G 4G}
txt_sizes=${IM_TXT_SIZES:-256M 1G}
tar_members=${IM_TAR_MEMBERS:-10000 100000}
array_strings=${IM_ARRAY_STRINGS:-100000 1000000}
mem=${IM_MEM:-64M}
builddir=${IM_BUILD:-build-release}
clean=${IM_CLEAN:-0}
reps=${IM_REPS:-1}
cache=$root/bench/cache/inputs-memory
pilemix=$root/$builddir/pilemix

for t in python3 gzip tar zstd /usr/bin/time; do
    command -v "$t" >/dev/null || { echo "inputs_memory: missing $t" >&2; exit 2; }
done
[ -x "$pilemix" ] || { echo "inputs_memory: no $pilemix (meson setup $builddir --buildtype=release && ninja -C $builddir)" >&2; exit 2; }
mkdir -p "$cache" "$root/bench/results"

# bytes of a size like 256M / 4G (powers of 1024, as pilemix reads them)
bytes() {
    local n=${1%[KMGkmg]} u=${1: -1}
    case $u in K | k) echo $((n << 10)) ;; M | m) echo $((n << 20)) ;; G | g) echo $((n << 30)) ;; *) echo "$1" ;; esac
}

# JSON lines of distinct documents to stdout until $1 bytes: a pool of 1000
# texts of random words (200 B - 20 KB, JSON-safe), each line made distinct
# by its number. Deterministic (seeded).
gen_jsonl() {
    python3 - "$1" "${2:-20000}" <<'EOF'
import random, sys
limit, maxlen = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(10)
words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))
         for _ in range(5000)]
pool = []
for _ in range(1000):
    n, parts = rng.randint(200, maxlen), []
    size = 0
    while size < n:
        w = rng.choice(words)
        parts.append(w)
        size += len(w) + 1
    pool.append(" ".join(parts))
out, done, i = sys.stdout, 0, 0
buf = []
while done < limit:
    line = '{"text": "%d %s", "meta": {"n": %d}}\n' % (i, pool[i % 1000], i)
    buf.append(line)
    done += len(line)
    i += 1
    if len(buf) >= 1000:
        out.write("".join(buf))
        buf = []
out.write("".join(buf))
EOF
}

# generate input for SHAPE SIZE into $cache; prints its path (cached)
make_input() {
    local shape=$1 size=$2 f
    case $shape in
        gz)
            f=$cache/docs-$size.jsonl.gz
            [ -s "$f" ] || { gen_jsonl "$(bytes "$size")" | gzip -1 >"$f.tmp" && mv "$f.tmp" "$f"; }
            ;;
        txt)
            f=$cache/txt-$size
            if [ ! -s "$f/book.txt" ]; then
                rm -rf "$f" && mkdir -p "$f.tmp"
                python3 - "$(bytes "$size")" "$f.tmp/book.txt" <<'EOF'
import random, sys
limit, path = int(sys.argv[1]), sys.argv[2]
rng = random.Random(11)
words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))
         for _ in range(5000)]
para = []
for _ in range(200):
    para.append(" ".join(rng.choice(words) for _ in range(rng.randint(20, 200))) + "\n\n")
chunk = "".join(para).encode()
with open(path, "wb") as f:
    done = 0
    while done < limit:
        b = chunk[: limit - done]
        f.write(b)
        done += len(b)
EOF
                gen_jsonl 400000 2000 | head -n 100 >"$f.tmp/small.jsonl"
                mv "$f.tmp" "$f"
            fi
            ;;
        tar)
            f=$cache/members-$size.tar
            [ -s "$f" ] || python3 - "$size" "$f.tmp" <<'EOF'
import io, random, sys, tarfile
n, path = int(sys.argv[1]), sys.argv[2]
rng = random.Random(12)
words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))
         for _ in range(2000)]
with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as t:
    for i in range(n):
        lines = "".join('{"text": "member %d doc %d %s"}\n'
                        % (i, j, " ".join(rng.choice(words) for _ in range(rng.randint(5, 60))))
                        for j in range(3)).encode()
        ti = tarfile.TarInfo("d%02d/m%06d.jsonl" % (i % 100, i))
        ti.size, ti.mtime, ti.mode = len(lines), 0, 0o644
        t.addfile(ti, io.BytesIO(lines))
EOF
            [ -s "$f" ] || mv "$f.tmp" "$f"
            ;;
        tar-ctl)
            # control: the tar's member contents, concatenated, as one plain .jsonl
            local base
            base=$(make_input tar "$size")
            f=$cache/members-$size-ctl.jsonl
            [ -s "$f" ] || { tar -xOf "$base" >"$f.tmp" && mv "$f.tmp" "$f"; }
            ;;
        jsonzst-ctl)
            # control: the array's strings as one plain .jsonl of bare JSON strings
            local base
            base=$(make_input jsonzst "$size")
            f=$cache/array-$size-ctl.jsonl
            [ -s "$f" ] || {
                zstd -dc "$base" | python3 -c 'import json, sys
for s in json.load(sys.stdin): sys.stdout.write(json.dumps(s) + "\n")' >"$f.tmp" && mv "$f.tmp" "$f"
            }
            ;;
        jsonzst)
            f=$cache/array-$size.json.zst
            [ -s "$f" ] || {
                python3 - "$size" <<'EOF' | zstd -q -3 >"$f.tmp" && mv "$f.tmp" "$f"
import json, random, sys
n = int(sys.argv[1])
rng = random.Random(13)
words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))
         for _ in range(5000)]
pool = [" ".join(rng.choice(words) for _ in range(rng.randint(30, 300))) for _ in range(1000)]
out = sys.stdout
out.write("[\n")
for i in range(n):
    out.write("%s%s" % ("" if i == 0 else ",\n", json.dumps("%d %s" % (i, pool[i % 1000]))))
out.write("\n]\n")
EOF
            }
            ;;
    esac
    echo "$f"
}

sizes_of() {
    case $1 in
        gz) echo "$gz_sizes" ;; txt) echo "$txt_sizes" ;;
        tar | tar-ctl) echo "$tar_members" ;; jsonzst | jsonzst-ctl) echo "$array_strings" ;;
        *) echo "inputs_memory: unknown shape $1" >&2; exit 2 ;;
    esac
}

run=$cache/run
rm -rf "$run"
mkdir -p "$run"
table=$run/table
printf '%-11s %-26s %10s %13s %8s %8s  %s\n' shape input on_disk_MB peak_RSS_MiB wall_s cpu_s notes >"$table"
fail=0
for shape in $shapes; do
    for size in $(sizes_of "$shape"); do
        echo "inputs_memory: $shape $size: generating (once)" >&2
        in=$(make_input "$shape" "$size")
        disk=$(du -sm "$in" | cut -f1)
        extra=''
        [ "$shape" = txt ] && extra=', "on_bad_record": "skip", "max_bad_fraction": 1'
        cfg=$run/$shape.json
        cat >"$cfg" <<EOF
{"name": "inputs-memory", "seed": 1,
 "components": [{"name": "$shape", "paths": ["$in"], "epochs": 1}],
 "output": {"dir": "$run/out", "train_shards": 4},
 "run": {"work_dir": "$run/work"$extra}}
EOF
        echo "inputs_memory: $shape $size: running" >&2
        # IM_REPS runs: the RSS column shows min-max over them (a rank's zstd
        # worker threads make the peak vary by a few MiB run to run), wall and CPU
        # are the least-CPU run's
        rc=0 hwms='' best=''
        for _ in $(seq "$reps"); do
            PILEMIX_TEST_REPORT_HWM=1 /usr/bin/time -f '%e %U %S %M' -o "$run/time" \
                "$pilemix" run "$cfg" --force --progress 0 --mem-per-rank "$mem" >"$run/stdout" 2>"$run/stderr" || rc=$?
            read -r wall user sys _ <"$run/time" || true
            hwms="$hwms $(sed -n 's/^pilemix: rank 0 peak RSS \([0-9]*\) kB$/\1/p' "$run/stderr" | tail -n 1)"
            cpu=$(python3 -c "print('%.2f' % ($user + $sys))")
            if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $cpu < ${best#* } else 1)"; then
                best="$wall $cpu"
            fi
            [ "$rc" = 0 ] || break
        done
        rss=$(python3 -c 'import sys
v = [int(x) / 1024 for x in sys.argv[1:]] or [0]
print("%.1f" % min(v) if len(v) == 1 else "%.1f-%.1f" % (min(v), max(v)))' $hwms)
        # documents and bad records by reason, from the manifest
        docs=$(python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))["components"][0]
r = c["bad_records"]["by_reason"]
print("%d docs" % c["documents"] + "".join("; %d %s" % (v, k) for k, v in sorted(r.items())))' \
            "$run/out/manifest.json" 2>/dev/null || true)
        notes="exit $rc"
        [ "$rc" = 0 ] || { fail=1; notes="$notes: $(grep -m1 'pilemix:' "$run/stderr" | cut -c1-160)"; }
        [ -n "$docs" ] && notes="$notes; $docs"
        if [ "$shape" = txt ] && [ "$rc" = 0 ]; then
            # the one long document must be a record_too_long reject, not emitted
            case $docs in
                *"; 1 record_too_long"*) notes="$notes ($(du -sk "$run/out/rejects" | cut -f1) KiB in rejects/)" ;;
                *) fail=1 notes="$notes; NO record_too_long reject" ;;
            esac
        fi
        printf '%-11s %-26s %10s %13s %8s %8s  %s\n' "$shape" "$size $(basename "$in")" "$disk" \
            "$rss" ${best% *} ${best#* } "$notes" >>"$table"
        tail -n 1 "$table" >&2
        rm -rf "$run/out" "$run/work"
        [ "$clean" = 1 ] && rm -rf "$in"
    done
done
{
    echo "pilemix inputs memory  $(date -u +%FT%TZ)  commit $(git rev-parse --short HEAD)  $("$pilemix" --version 2>&1 | head -n 1)"
    echo "machine: $(nproc) cores; load avg $(cut -d' ' -f1-3 /proc/loadavg); --mem-per-rank $mem, 1 rank, build $builddir"
    echo "peak_RSS_MiB: the rank's VmHWM (PILEMIX_TEST_REPORT_HWM), min-max over IM_REPS=$reps runs; wall_s, cpu_s (user+sys): the least-CPU run"
    cat "$table"
    echo
} | tee -a "$root/bench/results/inputs-memory.txt"
rm -rf "$run"
exit $fail
