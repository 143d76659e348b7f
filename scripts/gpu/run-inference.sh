#!/usr/bin/env bash
# Inference loop on the GPU machine (device tool), after scripts/build-gpu-bundle.sh here, in one call (issue 13):
#   1. the sequence tests on CUDA (varlen, KV cache, paged, split-KV, GQA packing against the fp64 reference);
#   2. ptxas -v of the decode kernel variants; 3. `Bench inference` (decode contiguous and paged, varlen vs dense);
#   4. PyTorch SDPA flash and cuDNN decode on the same shapes, joined with ours.
#   scripts/gpu/run-inference.sh [inference options]     e.g. --batches 1,16,64 --caches 4096,32768,131072
# STEPS (default "tests ptx bench torch"); logs in $OUT, a short summary printed last.
set -uo pipefail
STEPS=${STEPS:-tests ptx bench torch}
source "$(dirname "$0")/common.sh"
for s in $STEPS; do
  case $s in
    tests)
      FLASHATTN_TEST_DEVICE=cuda timeout 200 bundle/run.sh Tests --filter "FullyQualifiedName~SequenceKernelTests" > "$OUT/sequence-tests-cuda.log" 2>&1
      echo "sequence tests on cuda exit: $?" >> "$OUT/sequence-tests-cuda.log" ;;
    ptx)
      dump=$(mktemp -d)
      FLASHATTN_PTX_DUMP=$dump timeout 200 bundle/run.sh Tests --filter "FullyQualifiedName~TensorCoreForward" > "$OUT/ptx-tests.log" 2>&1
      ptxas_report "$dump" "*kind*.ptx" ;;
    bench)
      timeout 300 bundle/run.sh Bench inference --md "$OUT/ours-inference.md" "$@" > "$OUT/inference.log" 2>&1 ;;
    torch)
      timeout 200 python3 scripts/gpu/torch_decode.py --json "$OUT/torch-decode.json" --ours "$OUT/ours-inference.md" > "$OUT/decode-ratios.md" 2>&1 ;;
  esac
done
{
  cat "$OUT/ptxas.log" 2>/dev/null
  grep -hE "exit:|total:|failed:|succeeded:|^failed" "$OUT/sequence-tests-cuda.log" 2>/dev/null | head -12
  cat "$OUT/decode-ratios.md" 2>/dev/null
  grep -A6 "fwd ms" "$OUT/ours-inference.md" 2>/dev/null
  tail -3 "$OUT/inference.log" 2>/dev/null
} >> "$summary"
cat "$summary"
