#!/usr/bin/env bash
# Nsight Compute on PyTorch's mem-efficient (CUTLASS) fp32 forward at the profile configuration of run-profile.sh
# (b=4, s=4096, h=16, d=128 unless given, not causal): launch shape, registers, shared memory, occupancy, issue
# and pipe use, shared wavefronts per load and the SASS opcode mix, to read beside our kernel's profile.
#   bash scripts/gpu/profile-torch-memeff.sh [head dim]
#   bash scripts/gpu/profile-torch-memeff.sh census   # every kernel of a forward+backward at d = 64 and 128: name,
#                                                     # registers, FFMA and tensor-core (HMMA) instructions executed
set -uo pipefail
OUT=${OUT:-/tmp/flashattn-out}
mkdir -p "$OUT"
here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" = census ]; then
  cat > "$OUT/memeff_census.py" <<'PY'
import torch, torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
for d in (64, 128):
    q, k, v = (torch.randn(1, 2048 // d, 1024, d, device="cuda", dtype=torch.float32, requires_grad=True) for _ in range(3))
    with sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION):
        F.scaled_dot_product_attention(q, k, v).sum().backward()
torch.cuda.synchronize()
PY
  timeout 200 ncu --clock-control none -k "regex:fmha|attention|cutlass" --csv --print-units base \
    --metrics launch__registers_per_thread,smsp__sass_thread_inst_executed_op_ffma_pred_on.sum,smsp__inst_executed_pipe_tensor_op_hmma.sum \
    python3 "$OUT/memeff_census.py" > "$OUT/memeff-census.csv" 2> "$OUT/memeff-census.err"
  python3 - "$OUT/memeff-census.csv" <<'PY' | tee "$OUT/memeff-census.md"
import csv, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
head, body = rows[0], rows[1:]
name, metric, value = head.index("Kernel Name"), head.index("Metric Name"), head.index("Metric Value")
kernels = {}
for r in body:
    kernels.setdefault((r[head.index("ID")], r[name]), {})[r[metric]] = r[value]
print("| kernel | registers | FFMA (thread instr.) | HMMA (warp instr.) |")
for (_, kernel), m in kernels.items():
    print(f"| {kernel.split('(')[0]} | {m.get('launch__registers_per_thread')} | "
          f"{m.get('smsp__sass_thread_inst_executed_op_ffma_pred_on.sum')} | {m.get('smsp__inst_executed_pipe_tensor_op_hmma.sum')} |")
PY
  exit 0
fi
# the forward's profile: the general PyTorch-kernel profile with the mem-efficient backend
BACKEND=efficient DTYPE=fp32 PASS=fwd exec bash "$here/profile-torch-sdpa.sh" "${1:-128}" off
