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
d=${1:-128}
cat > "$OUT/memeff_fwd.py" <<PY
import torch, torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
b, s, h, d = 4, 4096, 2048 // $d, $d
q, k, v = (torch.randn(b, h, s, d, device="cuda", dtype=torch.float32) for _ in range(3))
with sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION):
    for _ in range(2):
        F.scaled_dot_product_attention(q, k, v)
torch.cuda.synchronize()
PY
timeout 200 ncu --clock-control none -k "regex:fmha|attention|cutlass" --launch-skip 1 --launch-count 1 \
  --section SpeedOfLight --section ComputeWorkloadAnalysis --section InstructionStats --section WarpStateStats \
  --section SourceCounters --section LaunchStats --section Occupancy \
  --metrics l1tex__data_pipe_lsu_wavefronts_mem_shared_op_ld.sum,smsp__sass_inst_executed_op_shared_ld.sum,l1tex__data_pipe_lsu_wavefronts_mem_shared.avg.pct_of_peak_sustained_elapsed,smsp__inst_executed_pipe_fma.sum \
  -o "$OUT/memeff" -f python3 "$OUT/memeff_fwd.py" > "$OUT/ncu-memeff-run.log" 2>&1
ncu --import "$OUT/memeff.ncu-rep" --print-details all > "$OUT/ncu-memeff.txt" 2>&1
ncu --import "$OUT/memeff.ncu-rep" --page source --csv --print-source sass > "$OUT/ncu-memeff-source.csv" 2>/dev/null
python3 "$here/sass_summary.py" "$OUT/ncu-memeff-source.csv" > "$OUT/sass-summary-memeff.txt" 2>&1
{ echo "== PyTorch mem-efficient fp32 forward d=$d s=4096"
  grep -E "^  [a-zA-Z_]*fmha|^  [a-zA-Z_]*attention|Grid Size|Block Size|Registers Per Thread|Shared Memory Configuration Size|Dynamic Shared|Static Shared|Achieved Occupancy|Theoretical Occupancy|Issue Slots Busy|Duration  |Pipe Fma Cycles|Waves Per SM" "$OUT/ncu-memeff.txt" | head -20
  grep -E "l1tex__data|smsp__sass_inst_executed_op_shared|pipe_fma.sum" "$OUT/ncu-memeff.txt" | head -6
  grep -E "_not_issued\)" "$OUT/ncu-memeff.txt" | awk '{print $(NF), $0}' | sort -rn | head -7 | cut -c1-12,40-130
  python3 "$here/sass_phases.py" "$OUT/ncu-memeff-source.csv"
  head -28 "$OUT/sass-summary-memeff.txt"; } > "$OUT/profile-memeff.log"
cat "$OUT/profile-memeff.log"
