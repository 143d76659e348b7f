#!/usr/bin/env bash
# One device call that runs the open question that suits the GPU it lands on (machines are scarce: a call may get an H100
# when it asked for an H200, and a request that gets none costs 90-180 s). After scripts/build-gpu-bundle.sh; carry
# `bundle`. Each part writes under $OUT/<part>/ and prints its summary; at most ~560 s in all.
#   H200: issue 11's table on its own GPU, both sides settled (the fp16/bf16 d = 64/128 rows; docs/performance.md has no
#         H200 table since 7606244), then the decode rows of issue 13 beside PyTorch if time is left.
#   H100: ncu of the block mask's kernels with every tile full, of the 3xTF32 forward at d = 128, then of the d = 128
#         backward beside FA2 (the open backward gap).
set -uo pipefail
root=${OUT:-/tmp/flashattn-out}
name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
echo "gpu: $name"
start=$SECONDS
left() { echo $(( ${DEADLINE:-560} - (SECONDS - start) )); }
# first, on either card: the CUDA tests of the kernels changed last (c27f21c's block-mask full tiles ran on the CPU only)
# (SKIP_TESTS=1 when they ran on these kernels already: the H200 table needs the time)
if [ -z "${SKIP_TESTS:-}" ]; then
  mkdir -p "$root/tests"
  # TEST_FILTER/TEST_SECONDS widen it (e.g. "FullyQualifiedName~FlashAttn.Tests.Kernels", 300)
  FLASHATTN_TEST_DEVICE=cuda timeout "${TEST_SECONDS:-150}" bundle/run.sh Tests \
    --filter "${TEST_FILTER:-FullyQualifiedName~BlockMaskKernelTests|FullyQualifiedName~ModifierKernelTests|FullyQualifiedName~Dropout}" \
    > "$root/tests/cuda.log" 2>&1
  grep -hE "total:|failed:|succeeded:|^failed " "$root/tests/cuda.log" | head -10
fi
if [[ $name == *H200* ]]; then
  mkdir -p "$root/table" "$root/decode"
  OUT=$root/table DEADLINE=$(( $(left) - 150 )) DIMS=no SWEEP_EXTRA="--settle-ms 500" TORCH_EXTRA="--settle-ms 500" \
    TORCH_SECONDS=180 bash "$(dirname "$0")/run-next.sh" issue-table > "$root/table/out.txt" 2>&1
  tail -80 "$root/table/out.txt"
  [ "$(left)" -gt 60 ] && OUT=$root/decode STEPS="bench torch" timeout "$(left)" bash "$(dirname "$0")/run-inference.sh" \
    > "$root/decode/out.txt" 2>&1
  tail -30 "$root/decode/out.txt" 2>/dev/null
else
  # the open questions after 2026-12-07 (docs/performance.md, "Next GPU run"), profiles only (no base side needed):
  # 1. the block mask's kernels with every tile full (1 document): what a full tile still costs beside a dense one
  mkdir -p "$root/blockmask" "$root/fp32" "$root/profile"
  OUT=$root/blockmask SKIP_PTXAS=1 DTYPE=fp16 FWD_KERNEL="FlashForwardTensorCore.*BenchDocuments" BWD_KERNEL="FlashBackwardTensorCore.*BenchDocuments" \
    BENCH_ARGS="modifiers --seqlens 4096 --documents 1 --runs 1 --warmup 1" timeout 200 bash "$(dirname "$0")/run-profile.sh" > "$root/blockmask/out.txt" 2>&1
  tail -40 "$root/blockmask/profile.log" 2>/dev/null
  (cd "$root/blockmask" && tar -czf ../blockmask.tar.gz . && cd .. && rm -rf blockmask)
  # 2. the 3xTF32 forward at d = 128 (split K/V tiles, 8 warps): a third fewer instructions gave 6% of the time
  [ "$(left)" -gt 130 ] && OUT=$root/fp32 SKIP_PTXAS=1 DTYPE=fp32 FWD_KERNEL=FlashForwardTensorCore PASSES=fwd \
    BENCH_ARGS="sweep --dtypes fp32 --fp32-math tensor-cores --head-dims 128 --seqlens 4096 --causal off --passes fwd --runs 1 --warmup 1" \
    timeout 120 bash "$(dirname "$0")/run-profile.sh" > "$root/fp32/out.txt" 2>&1
  tail -25 "$root/fp32/profile.log" 2>/dev/null
  (cd "$root/fp32" && tar -czf ../fp32.tar.gz . && cd .. && rm -rf fp32)
  # 3. the d = 128 backward beside FA2 with what time is left
  [ "$(left)" -gt 120 ] && OUT=$root/profile FWD_DIM=128 BWD_DIM=128 timeout "$(( $(left) - 15 ))" bash "$(dirname "$0")/run-profile-vs-fa2.sh" \
    > "$root/profile/out.txt" 2>&1
  (cd "$root/profile" && tar -czf ../profile.tar.gz . && cd .. && rm -rf profile)
  tar -xzf "$root/profile.tar.gz" -O ./out.txt 2>/dev/null | head -60
fi
