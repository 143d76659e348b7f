#!/usr/bin/env bash
# Tensor-core kernel loop on the GPU machine (device tool), after scripts/build-gpu-bundle.sh here, in one call:
#   1. ptxas -v and a SASS census (HMMA, LDSM, spills) of the tensor-core kernels' PTX (AttentionPtxTests dumps);
#   2. the corpus on CUDA (every intrinsic against its CPU reference) and the attention table on CUDA;
#   3. a sweep of ours beside PyTorch SDPA's flash (FA2) and cuDNN backends, same configurations, same call.
#   scripts/gpu/run-tensor-cores.sh [sweep options]      e.g. --dtypes fp16 --seqlens 1024,4096,16384
# STEPS (default "ptx corpus tests sweep") picks steps; logs and results in $OUT, a short summary printed last.
set -uo pipefail
STEPS=${STEPS:-ptx corpus tests sweep}
source "$(dirname "$0")/common.sh"

for s in $STEPS; do
  case $s in
    ptx)
      dump=$(mktemp -d)
      FLASHATTN_PTX_DUMP=$dump timeout 200 bundle/run.sh Tests --filter "FullyQualifiedName~TensorCore" > "$OUT/ptx-tests.log" 2>&1
      ptxas_report "$dump" "*_tc_*.ptx" HMMA LDSM LDGSTS STS LDS MUFU SHFL BAR RED ATOM STL LDL
      tar -C "$dump" -czf "$OUT/tensor-core-sass.tar.gz" . ;;
    corpus)
      timeout 200 bundle/run.sh Tests --filter "FullyQualifiedName~CorpusTests.RunsOnCuda" > "$OUT/corpus-cuda.log" 2>&1
      echo "corpus on cuda exit: $?" >> "$OUT/corpus-cuda.log" ;;
    tests)
      FLASHATTN_TEST_DEVICE=cuda timeout 240 bundle/run.sh Tests --filter "FullyQualifiedName~FlashAttn.Tests.Kernels" > "$OUT/tests-cuda.log" 2>&1
      echo "attention tests on cuda exit: $?" >> "$OUT/tests-cuda.log" ;;
    sweep)
      timeout 240 bundle/run.sh Bench sweep --json "$OUT/ours.json" --md "$OUT/ours.md" "$@" > "$OUT/sweep.log" 2>&1
      timeout 200 python3 scripts/gpu/torch_sdpa_sweep.py --match "$OUT/ours.json" --backends flash,cudnn \
        --json "$OUT/torch.json" --ours "$OUT/ours.json" --md "$OUT/ratios.md" > "$OUT/torch.log" 2>&1 ;;
  esac
done

{
  cat "$OUT/ptxas.log" 2>/dev/null
  grep -hE "exit:|total:|failed:|succeeded:" "$OUT/corpus-cuda.log" "$OUT/tests-cuda.log" 2>/dev/null
  grep -hE "^failed" "$OUT/corpus-cuda.log" "$OUT/tests-cuda.log" 2>/dev/null | head -8
  grep -E "^\|" "$OUT/ratios.md" 2>/dev/null | head -80
  grep -E "geometric" "$OUT/ratios.md" 2>/dev/null
  tail -3 "$OUT/sweep.log" 2>/dev/null
} >> "$summary"
cat "$summary"
