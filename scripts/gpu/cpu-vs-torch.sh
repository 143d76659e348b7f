#!/usr/bin/env bash
# On the GPU machine's host (16 cores), from the repository root, after scripts/build-gpu-bundle.sh here: the CPU
# path (Bench cpu) against PyTorch's CPU SDPA on the same grid and the same thread count, then ours / PyTorch rows.
#
#   bash scripts/gpu/cpu-vs-torch.sh 16        # all 16 cores, ~1 min a round for both
#   bash scripts/gpu/cpu-vs-torch.sh 2         # 2 threads, as on the 2-core development machine (~10 min: split with
#                                              # SEQLENS=512,1024,2048 then SEQLENS=4096 to stay within 600 s a call)
#
# Writes $OUT/cpu-ours-N-rR.json, $OUT/cpu-torch-N-rR.json (round R), $OUT/cpu-ratios-N.md and the logs. SEQLENS and
# HEADDIMS narrow the grid (comma lists, default 512,1024,2048,4096 and 64,128). ROUNDS (default 2) runs both sides that
# many times, interleaved (ours, PyTorch, ours, ...); each row takes each side's best round: the host is a shared VM whose
# slow phases (a whole row 2-14x slower, 2026-12-07) would otherwise decide a row. No GPU is used.
set -uo pipefail
threads=${1:?usage: cpu-vs-torch.sh THREADS}
OUT=${OUT:-/tmp/flashattn-out}
SEQLENS=${SEQLENS:-512,1024,2048,4096}
HEADDIMS=${HEADDIMS:-64,128}
ROUNDS=${ROUNDS:-2}
mkdir -p "$OUT"
here=$(cd "$(dirname "$0")" && pwd)
echo "commit: $(cat bundle/COMMIT 2>/dev/null); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); nproc: $(nproc)" \
  | tee "$OUT/cpu-$threads.log"
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round" | tee -a "$OUT/cpu-$threads.log"
  bundle/run.sh Bench cpu --threads "$threads" --seqlens "$SEQLENS" --headdims "$HEADDIMS" \
    --json "$OUT/cpu-ours-$threads-r$round.json" 2>&1 | tee -a "$OUT/cpu-$threads.log"
  python3 "$here/torch_cpu_sdpa.py" --threads "$threads" --seqlens "$SEQLENS" --headdims "$HEADDIMS" \
    --json "$OUT/cpu-torch-$threads-r$round.json" 2>&1 | tee -a "$OUT/cpu-$threads.log"
done
python3 "$here/cpu_ratio_rows.py" --ours "$OUT"/cpu-ours-"$threads"-r*.json --torch "$OUT"/cpu-torch-"$threads"-r*.json \
  | tee "$OUT/cpu-ratios-$threads.md"
