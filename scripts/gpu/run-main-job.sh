#!/usr/bin/env bash
# On the GPU machine: the README's main job (default device = CUDA) and PyTorch SDPA on the same shape.
set -uo pipefail
OUT=${OUT:-/tmp/flashattn-out}
mkdir -p "$OUT"
echo "gpu: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader); commit: $(cat bundle/COMMIT)" | tee "$OUT/main-job.log"
timeout 300 bundle/run.sh App >> "$OUT/main-job.log" 2>&1; echo "main job exit: $?" >> "$OUT/main-job.log"
timeout 120 python3 scripts/gpu/torch_attention_quick.py > "$OUT/torch-attention.log" 2>&1
cat "$OUT/main-job.log" "$OUT/torch-attention.log"
