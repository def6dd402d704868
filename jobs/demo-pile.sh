#!/usr/bin/env bash
# The mini-Pile demo: generate a small Pile v1 (the 22 components of
# configs/pile-v1.json with the paper's relative sizes and mean documents,
# in their release formats: .jsonl.zst, a .jsonl.zst.tar, .tar.gz of .txt
# books, .txt, JSON arrays), print its Table 1 with `plan --count`, then
# assemble it with configs/pile-v1.json on 2 MPI ranks and verify it.
# Output: out/pile-v1/ (train/00..29.jsonl.zst, val, test, manifest.json).
#   SIZE=256M ./jobs/demo-pile.sh     a bigger mini-Pile (default 64M of text)
set -euo pipefail
cd "$(dirname "$0")/.."
./jobs/setup.sh >/dev/null
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ranks=${RANKS:-2}
size=${SIZE:-64M}
export PILE_DATA=$PWD/out/mini-pile-data
if [ ! -d "$PILE_DATA" ]; then
    ./build/pilemix-gencorpus --profile pile-v1 --size "$size" --out "$PILE_DATA"
fi
mpirun --oversubscribe -np "$ranks" ./build/pilemix plan --count configs/pile-v1.json
mpirun --oversubscribe -np "$ranks" ./build/pilemix run configs/pile-v1.json --force --progress 2
./build/pilemix verify out/pile-v1
echo
echo "demo-pile: done. Try:  ./build/pilemix stats out/pile-v1"
echo "                       PILE_DATA=$PILE_DATA ./build/pilemix reproduce out/pile-v1 --into out/pile-v1-again"
