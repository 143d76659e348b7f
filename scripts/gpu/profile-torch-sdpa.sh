#!/usr/bin/env bash
# Nsight Compute on one PyTorch SDPA kernel at the profile configuration of run-profile.sh (b=4, s=4096, h=2048/d, not
# causal unless given), with the same sections, metrics and summaries as our kernels' profile, to read side by side:
# launch shape, registers, occupancy, issue and pipe use, shared wavefronts and bank conflicts, stalls, opcode mix and
# the split at the barriers.
#   BACKEND=flash DTYPE=fp16 PASS=bwd bash scripts/gpu/profile-torch-sdpa.sh [head dim] [causal: on|off]
# BACKEND: flash (FA2), efficient (CUTLASS mem-efficient) or cudnn; DTYPE: fp32, fp16 or bf16; PASS: fwd or bwd.
# Writes $OUT/profile-torch-BACKEND-DTYPE-PASS-dD.log (the summary) and the ncu report beside it.
set -uo pipefail
OUT=${OUT:-/tmp/flashattn-out}
mkdir -p "$OUT"
here=$(cd "$(dirname "$0")" && pwd)
d=${1:-128}; causal=${2:-off}
backend=${BACKEND:-flash}; dtype=${DTYPE:-fp16}; pass=${PASS:-fwd}
case $backend in
  flash) sdp=FLASH_ATTENTION; fwd_kernel=flash_fwd_kernel; bwd_kernel=flash_bwd_dq_dk_dv ;;
  efficient) sdp=EFFICIENT_ATTENTION; fwd_kernel="fmha|attention|cutlass"; bwd_kernel=fmha_cutlassB ;;
  cudnn) sdp=CUDNN_ATTENTION; fwd_kernel="cudnn|sm90|fmha"; bwd_kernel="cudnn|sm90|fmha|bprop" ;;
  *) echo "BACKEND: flash, efficient or cudnn" >&2; exit 2 ;;
esac
kernel=$fwd_kernel; [ "$pass" = bwd ] && kernel=$bwd_kernel
torch_dtype=$(case $dtype in fp32) echo float32 ;; fp16) echo float16 ;; bf16) echo bfloat16 ;; esac)
name=torch-$backend-$dtype-$pass-d$d
cat > "$OUT/$name.py" <<PY
import torch, torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
b, s, h, d = 4, 4096, 2048 // $d, $d
q, k, v = (torch.randn(b, h, s, d, device="cuda", dtype=torch.$torch_dtype, requires_grad=True) for _ in range(3))
with sdpa_kernel(SDPBackend.$sdp):
    for _ in range(2):
        o = F.scaled_dot_product_attention(q, k, v, is_causal=${causal/off/False})
        if "$pass" == "bwd":
            o.backward(torch.randn_like(o))
torch.cuda.synchronize()
PY
sed -i "s/is_causal=on/is_causal=True/" "$OUT/$name.py"
timeout 200 ncu --clock-control none -k "regex:$kernel" --launch-skip 1 --launch-count 1 \
  --section SpeedOfLight --section ComputeWorkloadAnalysis --section InstructionStats --section WarpStateStats \
  --section SourceCounters --section LaunchStats --section Occupancy --section MemoryWorkloadAnalysis_Tables \
  --metrics l1tex__data_pipe_lsu_wavefronts_mem_shared_op_ld.sum,l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_ld.sum,smsp__sass_inst_executed_op_shared_ld.sum,l1tex__data_pipe_lsu_wavefronts_mem_shared.avg.pct_of_peak_sustained_elapsed,smsp__inst_executed_pipe_fma.sum,smsp__inst_executed_pipe_tensor.sum,sm__pipe_tensor_cycles_active.avg.pct_of_peak_sustained_elapsed,smsp__inst_executed_pipe_xu.sum \
  -o "$OUT/$name" -f python3 "$OUT/$name.py" > "$OUT/$name-run.log" 2>&1
ncu --import "$OUT/$name.ncu-rep" --print-details all > "$OUT/$name.txt" 2>&1
ncu --import "$OUT/$name.ncu-rep" --page source --csv --print-source sass > "$OUT/$name-source.csv" 2>/dev/null
python3 "$here/sass_summary.py" "$OUT/$name-source.csv" > "$OUT/$name-sass-summary.txt" 2>&1
{ echo "== PyTorch $backend $dtype $pass d=$d s=4096 causal=$causal"
  grep -E "^  [a-zA-Z_]*(flash|fmha|attention|cudnn|sm90)|Grid Size|Block Size|Registers Per Thread|Dynamic Shared|Static Shared|Achieved Occupancy|Issue Slots Busy|Duration  |Waves Per SM" "$OUT/$name.txt" | head -14
  grep -E "l1tex__data|smsp__sass_inst_executed_op_shared|pipe_fma.sum|pipe_tensor|pipe_xu|Bank" "$OUT/$name.txt" | head -12
  grep -E "_not_issued\)" "$OUT/$name.txt" | awk '{print $(NF), $0}' | sort -rn | head -7 | cut -c1-12,40-130
  python3 "$here/sass_phases.py" "$OUT/$name-source.csv"
  python3 "$here/sass_memory.py" "$OUT/$name-source.csv"
  head -40 "$OUT/$name-sass-summary.txt"; } > "$OUT/profile-$name.log"
cat "$OUT/profile-$name.log"
