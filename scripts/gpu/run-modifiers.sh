#!/usr/bin/env bash
# Variants and modifiers loop on the GPU machine (device tool), after scripts/build-gpu-bundle.sh here, in one call (issue 14):
#   1. the modifier, block-mask, window and sequence tests on CUDA (against fp64 with the same modifiers and dropout mask);
#   2. `Bench modifiers` (each variant vs plain, block sparsity vs dense, a new modifier's first-call time);
#   3. FlexAttention (torch.compile'd) and SDPA flash on the same rows, joined with ours.
#   scripts/gpu/run-modifiers.sh [modifiers options]     e.g. --seqlens 4096,16384
# STEPS (default "tests bench torch"); logs in $OUT, a short summary printed last.
set -uo pipefail
STEPS=${STEPS:-tests bench torch}
source "$(dirname "$0")/common.sh"
for s in $STEPS; do
  case $s in
    tests)
      FLASHATTN_TEST_DEVICE=cuda timeout 240 bundle/run.sh Tests --filter \
        "FullyQualifiedName~ModifierKernelTests|FullyQualifiedName~BlockMaskKernelTests|FullyQualifiedName~Window|FullyQualifiedName~SequenceKernelTests" \
        > "$OUT/modifier-tests-cuda.log" 2>&1
      echo "modifier tests on cuda exit: $?" >> "$OUT/modifier-tests-cuda.log" ;;
    bench)
      timeout 300 bundle/run.sh Bench modifiers --md "$OUT/ours-modifiers.md" "$@" > "$OUT/modifiers.log" 2>&1 ;;
    torch)
      timeout 300 python3 scripts/gpu/torch_flex.py --ours "$OUT/ours-modifiers.md" > "$OUT/flex-ratios.md" 2>&1 ;;
  esac
done
{
  grep -hE "exit:|total:|failed:|succeeded:|^failed" "$OUT/modifier-tests-cuda.log" 2>/dev/null | head -12
  cat "$OUT/ours-modifiers.md" 2>/dev/null
  cat "$OUT/flex-ratios.md" 2>/dev/null | tail -12
  tail -3 "$OUT/modifiers.log" 2>/dev/null
} >> "$summary"
cat "$summary"
