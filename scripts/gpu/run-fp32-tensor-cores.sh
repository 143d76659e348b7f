#!/usr/bin/env bash
# fp32 on the tensor cores (3xTF32, issue 15) on the GPU machine (device tool), after scripts/build-gpu-bundle.sh, in one call:
#   1. ptxas -v and a SASS census (HMMA, LDS, spills) of the 3xTF32 kernels' PTX (AttentionPtxTests dumps);
#   2. the tf32 corpus cases on CUDA, and the 3xTF32 rows of the attention table on CUDA (the fp32 accuracy rule);
#   3. the fp32 sweep (d 64/128, causal on/off, s 1k-16k, fwd and fwd_bwd) with both fp32 maths, beside PyTorch SDPA's
#      mem-efficient backend (its fp32 kernels are 3xTF32 too), same call;
#   4. the PyTorch oracle on the fp32 cases with ours on the tensor cores.
# STEPS (default "ptx tests sweep oracle") picks steps; logs and results in $OUT, a short summary printed last.
set -uo pipefail
STEPS=${STEPS:-ptx tests sweep oracle}
SEQLENS=${SEQLENS:-1024,2048,4096,8192,16384}
source "$(dirname "$0")/common.sh"

for s in $STEPS; do
  case $s in
    ptx)
      dump=$(mktemp -d)
      FLASHATTN_PTX_DUMP=$dump timeout 200 bundle/run.sh Tests --filter "Name~SplitTf32KernelsKeep" > "$OUT/ptx-tests.log" 2>&1
      ptxas_report "$dump" "*Tf32Split*.ptx" HMMA LDS LDGSTS STS IADD3 LOP3 FADD MUFU SHFL BAR RED STL LDL ;;
    tests)
      timeout 200 bundle/run.sh Tests --filter "FullyQualifiedName~CorpusTests.RunsOnCuda&Name~Tf32" > "$OUT/corpus-cuda.log" 2>&1
      echo "tf32 corpus on cuda exit: $?" >> "$OUT/corpus-cuda.log"
      FLASHATTN_TEST_DEVICE=cuda timeout 240 bundle/run.sh Tests --filter "Name~SplitTf32|Name~Fp32WithTensorCoreMath" > "$OUT/tests-cuda.log" 2>&1
      echo "3xtf32 attention tests on cuda exit: $?" >> "$OUT/tests-cuda.log" ;;
    sweep)
      for math in tensor-cores exact; do
        timeout 240 bundle/run.sh Bench sweep --dtypes fp32 --head-dims 64,128 --seqlens "$SEQLENS" --passes fwd,fwd_bwd \
          --fp32-math "$math" --json "$OUT/ours-$math.json" --md "$OUT/ours-$math.md" > "$OUT/sweep-$math.log" 2>&1
      done
      timeout 240 python3 scripts/gpu/torch_sdpa_sweep.py --match "$OUT/ours-tensor-cores.json" --backends mem_efficient \
        --json "$OUT/torch.json" --ours "$OUT/ours-tensor-cores.json" --md "$OUT/ratios-tensor-cores.md" > "$OUT/torch.log" 2>&1
      python3 scripts/gpu/torch_sdpa_sweep.py --from-json "$OUT/torch.json" --ours "$OUT/ours-exact.json" --md "$OUT/ratios-exact.md" \
        >> "$OUT/torch.log" 2>&1 ;;
    oracle)
      timeout 300 python3 scripts/gpu/torch_oracle.py --dtypes fp32 --fp32-math tensor_cores --dir "$OUT/oracle-cases" \
        --out "$OUT/oracle-3xtf32" > "$OUT/oracle.log" 2>&1
      rm -rf "$OUT/oracle-cases" ;;
  esac
done

{
  cat "$OUT/ptxas.log" 2>/dev/null
  grep -hE "exit:|total:|failed:|succeeded:" "$OUT/corpus-cuda.log" "$OUT/tests-cuda.log" 2>/dev/null
  grep -hE "^failed" "$OUT/corpus-cuda.log" "$OUT/tests-cuda.log" 2>/dev/null | head -8
  for math in tensor-cores exact; do
    echo "== ours fp32 ($math) vs PyTorch mem-efficient"
    grep -E "^\|" "$OUT/ratios-$math.md" 2>/dev/null | head -45
    grep -E "geometric" "$OUT/ratios-$math.md" 2>/dev/null
  done
  grep -E "^oracle: " "$OUT/oracle.log" 2>/dev/null | tail -2
} >> "$summary"
cat "$summary"
