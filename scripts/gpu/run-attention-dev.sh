#!/usr/bin/env bash
# Kernel development loop on the GPU machine (device tool), after scripts/build-gpu-bundle.sh here:
# ptxas register/spill report and a SASS instruction census of the attention kernels, forward throughput of
# ours and PyTorch's SDPA on the main job's shape (b=4, s=4096, h=16) at d=64 and 128, the attention tests on
# CUDA, and racecheck on a small subset. Full logs in $OUT; a short summary is printed last.
set -uo pipefail
OUT=${OUT:-/tmp/flashattn-out}
mkdir -p "$OUT"
gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1)
echo "gpu: $gpu; commit: $(cat bundle/COMMIT 2>/dev/null); date: $(date -u +%F)" > "$OUT/summary.log"

# 1. PTX of the attention kernels → ptxas -v and a SASS census (per kernel: registers, spills, FFMA, LDS.128 ...).
dump=$(mktemp -d)
FLASHATTN_PTX_DUMP=$dump bundle/run.sh Tests --filter "FullyQualifiedName~AttentionPtxTests" > "$OUT/ptx-tests.log" 2>&1
{
  for f in "$dump"/*.ptx; do
    name=$(basename "$f" .ptx)
    ptxas -arch=sm_90 -v "$f" -o "$dump/$name.cubin" 2>&1 | grep -E "registers|spill|rror" | sed "s|^|$name: |"
    cuobjdump -sass "$dump/$name.cubin" > "$dump/$name.sass" 2>&1
    printf '%s: SASS' "$name"
    for op in FFMA LDS.128 LDS STS LDGSTS SHFL MUFU BAR IMAD IADD3 LEA; do
      printf ' %s=%s' "$op" "$(grep -cE "\b$op\b" "$dump/$name.sass")"
    done
    echo
  done
} > "$OUT/ptxas.log" 2>&1
tar -C "$dump" -czf "$OUT/attention-sass.tar.gz" .

# 2. Forward throughput: ours (the main job) and PyTorch on the same shape.
for d in 128 64; do
  timeout 240 bundle/run.sh App --headdim $d --samples 8 >> "$OUT/ours.log" 2>&1
done
timeout 200 python3 scripts/gpu/torch_attention_quick.py > "$OUT/torch.log" 2>&1
timeout 200 bundle/run.sh Bench engine > "$OUT/engine.log" 2>&1

# 3. Correctness on CUDA, then racecheck on the odd-length subset.
FLASHATTN_TEST_DEVICE=cuda timeout 200 bundle/run.sh Tests --filter "FullyQualifiedName~FlashAttn.Tests.Kernels" --no-progress --no-ansi > "$OUT/tests-attention-cuda.log" 2>&1
echo "attention-on-cuda tests exit: $?" >> "$OUT/tests-attention-cuda.log"
FLASHATTN_TEST_DEVICE=cuda timeout 150 compute-sanitizer --tool racecheck --print-limit 10 \
  "${FLASHATTN_DOTNET_ROOT:-/tmp/flashattn-dotnet}/dotnet" /tmp/flashattn-apps/Tests/FlashAttn.Tests.dll \
  --filter "FullyQualifiedName~sq113" --no-progress --no-ansi > "$OUT/racecheck.log" 2>&1

{
  cat "$OUT/ptxas.log"
  grep -vE "^\s*$" "$OUT/ours.log" | head -60
  grep -E "TFLOP" "$OUT/torch.log"
  grep -E "^\| (Sgemm|copy kernel)" "$OUT/engine.log"
  grep -E "exit:|total:|failed:|succeeded:" "$OUT/tests-attention-cuda.log"
  grep -E "^failed" "$OUT/tests-attention-cuda.log" | head -5
  grep -E "RACECHECK SUMMARY|ERROR SUMMARY|total:|failed:" "$OUT/racecheck.log"
} >> "$OUT/summary.log"
cat "$OUT/summary.log"
