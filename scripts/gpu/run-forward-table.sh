#!/usr/bin/env bash
# Issue 11's forward rows alone (fp16/bf16, d = 64/128, s = 1k-16k, causal and not) beside PyTorch SDPA's flash and cuDNN
# backends, both sides settled: for a call too short for the whole table (scripts/gpu/run-next.sh issue-table), e.g. to
# see the forward target on an H200. After scripts/build-gpu-bundle.sh; carry `bundle`.   SETTLE_MS=300 bash scripts/gpu/run-forward-table.sh
set -uo pipefail
source "$(dirname "$0")/common.sh"
settle=${SETTLE_MS:-300}
timeout 100 bundle/run.sh Bench sweep --dtypes fp16,bf16 --head-dims 64,128 --seqlens 1024,2048,4096,8192,16384 --passes fwd \
  --settle-ms "$settle" --json "$OUT/ours-fwd.json" --md "$OUT/ours-fwd.md" > "$OUT/sweep-fwd.log" 2>&1
timeout 130 python3 scripts/gpu/torch_sdpa_sweep.py --match "$OUT/ours-fwd.json" --backends flash,cudnn --settle-ms "$settle" \
  --json "$OUT/torch-fwd.json" --ours "$OUT/ours-fwd.json" --md "$OUT/ratios-fwd.md" > "$OUT/torch-fwd.log" 2>&1
{ echo "== forward (settled ${settle} ms)"; grep -E "^\|" "$OUT/ratios-fwd.md" | cut -d'|' -f2-13; } >> "$summary"
cat "$summary"
