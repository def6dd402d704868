#!/usr/bin/env bash
# The demo: set up, generate a small Pile-like corpus (5 components, documents
# from a few bytes to over 1 MB, multilingual text, .jsonl.zst and .jsonl),
# mix it with 2 MPI ranks per configs/demo.json, and verify the result.
# Output: out/demo/ (train/0..7.jsonl.zst, val, test, manifest.json, XXH128SUMS)
# and its report, out/demo.report.html.
set -euo pipefail
cd "$(dirname "$0")/.."
./jobs/setup.sh >/dev/null
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ranks=${RANKS:-2}
if [ ! -d out/demo-data ]; then
    ./build/pilemix-gencorpus --out out/demo-data --profile demo
fi
./build/pilemix plan configs/demo.json
mpirun --oversubscribe -np "$ranks" ./build/pilemix run configs/demo.json --force --progress 2
./build/pilemix verify out/demo
./build/pilemix report out/demo
echo
echo "demo: done. Try:  zstdcat out/demo/train/0.jsonl.zst | head -c 600; echo"
echo "                  ./build/pilemix stats out/demo"
echo "                  ./build/pilemix sample out/demo -n 3"
echo "                  open out/demo.report.html in a browser"
