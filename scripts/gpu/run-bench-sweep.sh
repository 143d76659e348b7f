#!/usr/bin/env bash
# On the GPU machine, from the repository root, after scripts/build-gpu-bundle.sh here: the attention benchmarks
# of FlashAttn.Bench. One stage per call, so each stays within the device tool's 10-minute command limit:
#
#   bash scripts/gpu/run-bench-sweep.sh sweep fp32     # flash-attn's grid for one dtype (fp32 | fp16 | bf16), ~5 min
#   bash scripts/gpu/run-bench-sweep.sh memory         # peak memory per configuration, largest seqlen, confirming run
#   bash scripts/gpu/run-bench-sweep.sh api            # BenchmarkDotNet suite of the API's own costs, ~2 min
#
# Results go to $OUT (sweep-DTYPE.json/.md/.log, memory.json/.md/.log, api/ and api.log). Charts and the comparison
# with PyTorch are drawn on any machine afterwards:
#   dotnet run -c Release --project FlashAttn.Bench -- plot --ours sweep-fp32.json,sweep-fp16.json,sweep-bf16.json \
#       --torch torch-sdpa.json --out docs/figures/sweep
set -uo pipefail
OUT=${OUT:-/tmp/flashattn-out}
mkdir -p "$OUT"
stage=${1:?usage: run-bench-sweep.sh sweep DTYPE | memory | api}
header="gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1); commit: $(cat bundle/COMMIT 2>/dev/null)"
case "$stage" in
  sweep)
    dtype=${2:?usage: run-bench-sweep.sh sweep fp32|fp16|bf16}
    echo "$header" > "$OUT/sweep-$dtype.log"
    # The JSON is rewritten after every shape: a run cut off by the timeout keeps what it measured.
    timeout 570 bundle/run.sh Bench sweep --dtypes "$dtype" --json "$OUT/sweep-$dtype.json" --md "$OUT/sweep-$dtype.md" \
      >> "$OUT/sweep-$dtype.log" 2>&1
    echo "sweep $dtype exit: $?" >> "$OUT/sweep-$dtype.log"
    cat "$OUT/sweep-$dtype.md" 2>/dev/null; tail -n 3 "$OUT/sweep-$dtype.log" ;;
  memory)
    echo "$header" > "$OUT/memory.log"
    timeout 570 bundle/run.sh Bench memory --json "$OUT/memory.json" --md "$OUT/memory.md" >> "$OUT/memory.log" 2>&1
    echo "memory exit: $?" >> "$OUT/memory.log"
    cat "$OUT/memory.md" 2>/dev/null; tail -n 3 "$OUT/memory.log" ;;
  api)
    echo "$header" > "$OUT/api.log"
    timeout 570 bundle/run.sh Bench api --artifacts "$OUT/api" >> "$OUT/api.log" 2>&1
    echo "api exit: $?" >> "$OUT/api.log"
    grep -E '^\||exit' "$OUT/api.log" ;;
  *) echo "unknown stage '$stage': sweep DTYPE | memory | api" >&2; exit 2 ;;
esac
