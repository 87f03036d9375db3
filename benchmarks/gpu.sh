#!/usr/bin/env bash
# One call on a lent GPU machine (issue 17 §3): the CUDA tests, then every benchmark's CUDA mode,
# in under 8 minutes (the limits add up to 7.9); each step has its own time limit so one slow step cannot eat the rest.
# The engine step skips t-SNE (openTSNE runs on the CPU whatever the device; benchmarks/README.md has its CPU figures)
# to leave time for the CUDA tests (150 s: they include a torch.compile test) and the compile measurement.
# Every command here also runs with --device cpu (dry-run them there before spending a GPU on them).
# Usage (from the repository root, on the GPU machine): bash benchmarks/gpu.sh [OUT_DIR]
# Results: OUT_DIR/*.json and OUT_DIR/gpu.log (OUT_DIR defaults to $OUT, else ./gpu-results).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-gpu-results}}"
mkdir -p "$out"
log="$out/gpu.log"
step() {  # step SECONDS NAME COMMAND...
  local limit=$1 name=$2
  shift 2
  local t0=$SECONDS
  echo "== $name (limit ${limit}s)" | tee -a "$log"
  timeout "$limit" "$@" >>"$log" 2>&1
  local rc=$?
  echo "== $name: exit $rc in $((SECONDS - t0)) s" | tee -a "$log"
}
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))" | tee -a "$log" || exit 1
step 150 cuda-tests python -m pytest -q -m "slow or not slow" tests/engine/test_cuda.py
step 45 engine python benchmarks/engine.py --device cuda --quick --measures train,evaluate,workspace --json "$out/engine.json"
step 75 compile python benchmarks/engine.py --device cuda --quick --measures compile --json "$out/compile.json"
step 35 attribution python benchmarks/attribution.py --device cuda --quick --json "$out/attribution.json"
step 25 neurons python benchmarks/neurons.py --device cuda --quick --json "$out/neurons.json"
step 25 criticism python benchmarks/criticism.py --device cuda --quick --json "$out/criticism.json"
step 25 regions python benchmarks/regions.py --device cuda --quick --json "$out/regions.json"
step 25 translate python benchmarks/translate.py --device cuda --quick --json "$out/translate.json"
step 70 scale python benchmarks/scale.py --device cuda --sizes 10000 --size 128 --json "$out/scale.json"
grep -E "ratio|exit" "$log"
