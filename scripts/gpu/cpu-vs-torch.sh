#!/usr/bin/env bash
# On the GPU machine's host (16 cores), from the repository root, after scripts/build-gpu-bundle.sh here: the CPU
# path (Bench cpu) against PyTorch's CPU SDPA on the same grid and the same thread count, then ours / PyTorch rows.
#
#   bash scripts/gpu/cpu-vs-torch.sh 16        # all 16 cores, ~3 min for both
#   bash scripts/gpu/cpu-vs-torch.sh 2         # 2 threads, as on the 2-core development machine (~10 min: split with
#                                              # SEQLENS=512,1024,2048 then SEQLENS=4096 to stay within 600 s a call)
#
# Writes $OUT/cpu-ours-N.json, $OUT/cpu-torch-N.json, $OUT/cpu-ratios-N.md and the logs. SEQLENS and HEADDIMS narrow
# the grid (comma lists, default 512,1024,2048,4096 and 64,128). No GPU is used.
set -uo pipefail
threads=${1:?usage: cpu-vs-torch.sh THREADS}
OUT=${OUT:-/tmp/flashattn-out}
SEQLENS=${SEQLENS:-512,1024,2048,4096}
HEADDIMS=${HEADDIMS:-64,128}
mkdir -p "$OUT"
here=$(cd "$(dirname "$0")" && pwd)
echo "commit: $(cat bundle/COMMIT 2>/dev/null); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); nproc: $(nproc)" \
  | tee "$OUT/cpu-$threads.log"
bundle/run.sh Bench cpu --threads "$threads" --seqlens "$SEQLENS" --headdims "$HEADDIMS" \
  --json "$OUT/cpu-ours-$threads.json" 2>&1 | tee -a "$OUT/cpu-$threads.log"
python3 "$here/torch_cpu_sdpa.py" --threads "$threads" --seqlens "$SEQLENS" --headdims "$HEADDIMS" \
  --json "$OUT/cpu-torch-$threads.json" 2>&1 | tee -a "$OUT/cpu-$threads.log"
python3 "$here/cpu_ratio_rows.py" "$OUT/cpu-ours-$threads.json" "$OUT/cpu-torch-$threads.json" | tee "$OUT/cpu-ratios-$threads.md"
