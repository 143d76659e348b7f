#!/usr/bin/env bash
# Runs on the GPU machine (device tool), from the repository root, after scripts/build-gpu-bundle.sh here:
# GPU tests of the published test executable (engine corpus on CUDA, CUDA runtime tests, attention table
# on CUDA), ptxas's register/spill report for every corpus kernel, the engine benchmarks, and PyTorch's
# baselines in the same call. Full logs go to $OUT; a short summary is printed last.
set -uo pipefail
OUT=${OUT:-/tmp/flashattn-out}
mkdir -p "$OUT"
gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>&1)

# 1. GPU tests (corpus on CUDA, CUDA runtime) and the attention table on CUDA.
timeout 180 bundle/run.sh Tests --filter "TestCategory=Gpu" --no-progress --no-ansi > "$OUT/tests-gpu.log" 2>&1
echo "gpu tests exit: $?" >> "$OUT/tests-gpu.log"
FLASHATTN_TEST_DEVICE=cuda timeout 200 bundle/run.sh Tests --filter "FullyQualifiedName~FlashAttn.Tests.Kernels" --no-progress --no-ansi > "$OUT/tests-attention-cuda.log" 2>&1
echo "attention-on-cuda tests exit: $?" >> "$OUT/tests-attention-cuda.log"

# 2. ptxas report (registers, spills) for every corpus kernel's PTX.
dump=$(mktemp -d)
FLASHATTN_PTX_DUMP=$dump bundle/run.sh Tests --filter "FullyQualifiedName~CompilesToPtx" > /dev/null 2>&1
for f in "$dump"/*.ptx; do
  ptxas -arch=sm_90 -v "$f" -o /dev/null 2>&1 | grep -E "registers|spill|rror" | sed "s|^|$(basename "$f" .ptx): |"
done > "$OUT/ptxas.log"
tar -C "$dump" -czf "$OUT/corpus-ptx.tar.gz" .

# 3. Engine benchmarks, then PyTorch's baselines.
echo "gpu: $gpu; commit: $(cat bundle/COMMIT 2>/dev/null)" > "$OUT/engine.log"
timeout 150 bundle/run.sh Bench engine --json "$OUT/engine.json" >> "$OUT/engine.log" 2>&1
echo "engine bench exit: $?" >> "$OUT/engine.log"
python3 scripts/gpu/torch_engine_baselines.py > "$OUT/torch.json" 2>&1

# 4. compute-sanitizer on a representative subset of the attention table (odd lengths, GQA, causal, 3 dtypes).
{
  for tool in memcheck racecheck; do
    echo "== $tool"
    FLASHATTN_TEST_DEVICE=cuda timeout 200 compute-sanitizer --tool $tool --print-limit 20 \
      "${FLASHATTN_DOTNET_ROOT:-/tmp/flashattn-dotnet}/dotnet" /tmp/flashattn-apps/Tests/FlashAttn.Tests.dll \
      --filter "FullyQualifiedName~sq113" --no-progress --no-ansi 2>&1 | grep -vE "^\s+at " | tail -25
  done
} > "$OUT/sanitizer.log" 2>&1

echo "== $gpu"
grep -E "^failed|exit:|total:|failed:|succeeded:|skipped:" "$OUT/tests-gpu.log" | head -40
grep -E "^failed|exit:|total:|failed:|succeeded:" "$OUT/tests-attention-cuda.log" | head -20
grep -c "spill" "$OUT/ptxas.log" | sed 's/^/ptxas lines mentioning spills: /'
grep -E "[1-9][0-9]* bytes spill" "$OUT/ptxas.log" | head
tail -15 "$OUT/engine.log"
cat "$OUT/torch.json"
grep -E "^== |ERROR SUMMARY|total:|failed:|succeeded:" "$OUT/sanitizer.log"
