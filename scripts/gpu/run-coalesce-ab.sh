#!/usr/bin/env bash
# One device call for the PTX backend's phi coalescing (PtxPhiCoalescing, FLASHATTN_COALESCE_PHIS): the same bundle timed with
# it on and off, two interleaved rounds (fp16 d = 64/128, s = 4k/16k, causal and not, fwd and bwd; then the block mask at
# s = 4k beside dense), then the kernel tests on CUDA with it on (the coalesced PTX must be right), then ptxas
# -v of the kernels both ways. After scripts/build-gpu-bundle.sh; carry `bundle`. Logs in $OUT; the summary printed last.
set -uo pipefail
source "$(dirname "$0")/common.sh"
start=$SECONDS
deadline=${DEADLINE:-560}
left() { echo $(( deadline - (SECONDS - start) )); }
# SWEEP overrides the sweep's arguments (e.g. "--dtypes bf16 --head-dims 32,96,256 --seqlens 4096 --passes fwd,bwd")
read -r -a sweep <<< "${SWEEP:---dtypes fp16 --head-dims 64,128 --seqlens 4096,16384 --passes fwd,bwd} --settle-ms 300"
for round in 1 2; do
  for side in off on; do
    [ "$(left)" -lt 200 ] && break 2
    FLASHATTN_COALESCE_PHIS=$side timeout 90 bundle/run.sh Bench sweep "${sweep[@]}" --json "$OUT/sweep-$side-$round.json" \
      > "$OUT/sweep-$side-$round.log" 2>&1
  done
done
for side in off on; do
  [ "$(left)" -lt 170 ] && break
  FLASHATTN_COALESCE_PHIS=$side timeout 60 bundle/run.sh Bench modifiers --seqlens 4096 --documents 2 --runs 10 --warmup 2 \
    > "$OUT/blockmask2-$side.log" 2>&1
  FLASHATTN_COALESCE_PHIS=$side timeout 60 bundle/run.sh Bench modifiers --seqlens 4096 --documents 1 --runs 10 --warmup 2 \
    > "$OUT/blockmask1-$side.log" 2>&1
done
FLASHATTN_COALESCE_PHIS=on FLASHATTN_TEST_DEVICE=cuda timeout $(( $(left) - 40 )) bundle/run.sh Tests --filter "FullyQualifiedName~FlashAttn.Tests.Kernels" \
  > "$OUT/kernel-tests-cuda.log" 2>&1
echo "kernel tests on cuda exit: $?" >> "$OUT/kernel-tests-cuda.log"
for side in off on; do
  mkdir -p "$OUT/ptx-$side"
  FLASHATTN_COALESCE_PHIS=$side FLASHATTN_PTX_DUMP="$OUT/ptx-$side" timeout 25 bundle/run.sh Tests --filter "FullyQualifiedName~AttentionPtxTests" \
    > "$OUT/ptx-$side/tests.log" 2>&1
  ptxas_report "$OUT/ptx-$side" "*_tc_*.ptx"; mv "$OUT/ptxas.log" "$OUT/ptxas-$side.log" 2>/dev/null
done
{
  python3 "$(dirname "$0")/ab_compare.py" --base "$OUT"/sweep-off-*.json --new "$OUT"/sweep-on-*.json
  for f in "$OUT"/blockmask*-*.log; do echo "== $(basename "$f")"; grep -E "^\| 4096" "$f"; done
  echo "== kernel tests (cuda, coalescing on)"; grep -hE "exit:|total:|failed:|succeeded:" "$OUT/kernel-tests-cuda.log" | tail -5
  grep -hE "^failed " "$OUT/kernel-tests-cuda.log" | head -8
  echo "== ptxas spills (off | on)"; paste -d'|' <(cut -c1-110 "$OUT/ptxas-off.log" 2>/dev/null) <(cut -c1-110 "$OUT/ptxas-on.log" 2>/dev/null) | grep -i spill | grep -v " 0 bytes spill stores.*| .* 0 bytes spill stores" | head -20
} >> "$summary" 2>&1
cat "$summary"
