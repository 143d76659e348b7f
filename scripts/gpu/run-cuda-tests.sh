#!/usr/bin/env bash
# Every GPU test in one call (device tool), after scripts/build-gpu-bundle.sh: the kernel tests on CUDA (attention table,
# windows, 3xTF32, (b, h, s, d) rows, sequences, modifiers, block masks; FLASHATTN_TEST_DEVICE=cuda), then the tests that
# exist only with a GPU (corpus on CUDA, CudaGpuTests, the ILGPU adapter on ILGPU's CUDA accelerator, API on CUDA).
# Logs in $OUT; the pass/fail lines go to the summary.
set -uo pipefail
source "$(dirname "$0")/common.sh"
FLASHATTN_TEST_DEVICE=cuda timeout "${KERNEL_TESTS_TIMEOUT:-260}" bundle/run.sh Tests --filter "FullyQualifiedName~FlashAttn.Tests.Kernels" \
  > "$OUT/kernel-tests-cuda.log" 2>&1
echo "kernel tests on cuda exit: $?" >> "$OUT/kernel-tests-cuda.log"
timeout "${GPU_TESTS_TIMEOUT:-150}" bundle/run.sh Tests --filter "FullyQualifiedName~CorpusTests.RunsOnCuda|FullyQualifiedName~CudaGpuTests|FullyQualifiedName~IlgpuCudaTests" > "$OUT/gpu-only-tests.log" 2>&1
echo "gpu-only tests exit: $?" >> "$OUT/gpu-only-tests.log"
for log in kernel-tests-cuda gpu-only-tests; do
  echo "== $log"
  grep -hE "exit:|total:|failed:|succeeded:|skipped:" "$OUT/$log.log" | tail -6
  grep -hE "^failed |^  failed " "$OUT/$log.log" | head -12
done >> "$summary"
cat "$summary"
