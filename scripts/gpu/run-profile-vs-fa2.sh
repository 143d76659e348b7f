#!/usr/bin/env bash
# Our tensor-core kernels and FlashAttention-2 (PyTorch SDPA flash) under the same ncu sections, one call: the forward
# at head dim $FWD_DIM and the backward at $BWD_DIM (fp16, b=4, s=4096, not causal). Summaries in $OUT:
# profile-ours-fwd.log, profile-ours-bwd.log (with ptxas's report), profile-torch-flash-*.log; the source pages, gzipped.
#   FWD_DIM=96 BWD_DIM=128 bash scripts/gpu/run-profile-vs-fa2.sh      (BWD_DIM=none: the forward only)
set -uo pipefail
OUT=${OUT:-/tmp/flashattn-out}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
fwd=${FWD_DIM:-96}; bwd=${BWD_DIM:-128}
OUT=$work/fwd PASSES=fwd DTYPE=fp16 bash "$here/run-profile.sh" "$fwd" off > /dev/null 2>&1
cp "$work/fwd/profile.log" "$OUT/profile-ours-fwd-d$fwd.log"
gzip -c "$work/fwd/ncu-fwd-source.csv" > "$OUT/ours-fwd-d$fwd-source.csv.gz"
OUT=$work/torch BACKEND=flash DTYPE=fp16 PASS=fwd bash "$here/profile-torch-sdpa.sh" "$fwd" off > /dev/null 2>&1
gzip -c "$work/torch/torch-flash-fp16-fwd-d$fwd-source.csv" > "$OUT/torch-fwd-d$fwd-source.csv.gz"
if [ "$bwd" != none ]; then
  OUT=$work/bwd SKIP_PTXAS=1 PASSES=bwd DTYPE=fp16 bash "$here/run-profile.sh" "$bwd" off > /dev/null 2>&1
  cp "$work/bwd/profile.log" "$OUT/profile-ours-bwd-d$bwd.log"
  gzip -c "$work/bwd/ncu-bwd-source.csv" > "$OUT/ours-bwd-d$bwd-source.csv.gz"
  OUT=$work/torch BACKEND=flash DTYPE=fp16 PASS=bwd bash "$here/profile-torch-sdpa.sh" "$bwd" off > /dev/null 2>&1
  gzip -c "$work/torch/torch-flash-fp16-bwd-d$bwd-source.csv" > "$OUT/torch-bwd-d$bwd-source.csv.gz"
fi
cp "$work"/torch/profile-torch-*.log "$OUT/"
for f in "$OUT"/profile-*.log; do echo "######## $(basename "$f")"; grep -vE "^(backward|forward|decode|dq)_" "$f" | head -90; done
