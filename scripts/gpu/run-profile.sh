#!/usr/bin/env bash
# Profile of the register-tiled attention kernels on the GPU machine (after scripts/build-gpu-bundle.sh here):
# ptxas's register/spill report and a static SASS opcode census, then Nsight Compute on one fp32 forward and one
# backward (b=4, s=4096, h=16, d=128 unless given): throughput, warp-state stalls and the source page (per SASS
# instruction: executed count and stall samples), summarised by sass_summary.py. Full reports in $OUT.
#   bash scripts/gpu/run-profile.sh [head dim] [causal: on|off]     # PASSES="fwd" to profile the forward only
# BENCH_ARGS replaces the profiled run's Bench arguments, e.g. the block mask's kernels:
#   DTYPE=fp16 FWD_KERNEL="FlashForwardTensorCore.*BenchDocuments" BWD_KERNEL="FlashBackwardTensorCore.*BenchDocuments" \
#     BENCH_ARGS="modifiers --seqlens 4096 --documents 1 --runs 1 --warmup 1" bash scripts/gpu/run-profile.sh
# SKIP_PTXAS=1 leaves out the ptxas/SASS report. DTYPE=fp16 profiles the tensor-core kernels (FWD_KERNEL/BWD_KERNEL override the kernel name regexes).
set -uo pipefail
OUT=${OUT:-/tmp/flashattn-out}
mkdir -p "$OUT"
d=${1:-128}; causal=${2:-off}
echo "gpu: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader); commit: $(cat bundle/COMMIT); date: $(date -u +%FT%TZ)" > "$OUT/profile.log"

dump=$(mktemp -d)
[ -n "${SKIP_PTXAS:-}" ] || {
FLASHATTN_PTX_DUMP=$dump timeout 120 bundle/run.sh Tests --filter "FullyQualifiedName~AttentionPtxTests" > "$OUT/ptx-tests.log" 2>&1
for f in "$dump"/*.ptx; do
  name=$(basename "$f" .ptx)
  ptxas -arch=sm_90 -v "$f" -o "$dump/$name.cubin" 2>&1 | grep -E "registers|spill|rror" | sed "s|^|$name: |" >> "$OUT/profile.log"
  cuobjdump -sass "$dump/$name.cubin" > "$dump/$name.sass" 2>&1
done
tar -C "$dump" -czf "$OUT/sass.tar.gz" .
}

dtype=${DTYPE:-fp32}
if [ "$dtype" = fp32 ]; then fwd_kernel=${FWD_KERNEL:-FlashForwardTiled}; bwd_kernel=${BWD_KERNEL:-FlashBackwardTiled}
else fwd_kernel=${FWD_KERNEL:-FlashForwardTensorCore}; bwd_kernel=${BWD_KERNEL:-FlashBackwardTensorCore}; fi
for pass in ${PASSES:-fwd bwd}; do
  kernel=$fwd_kernel; [ $pass = bwd ] && kernel=$bwd_kernel
  timeout 200 ncu --clock-control none -k "regex:$kernel" --launch-skip 1 --launch-count 1 \
    --section SpeedOfLight --section ComputeWorkloadAnalysis --section InstructionStats --section WarpStateStats \
    --section SourceCounters --section LaunchStats --section Occupancy --section MemoryWorkloadAnalysis_Tables \
    --metrics l1tex__data_pipe_lsu_wavefronts_mem_shared_op_ld.sum,l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_ld.sum,smsp__sass_inst_executed_op_shared_ld.sum,l1tex__data_pipe_lsu_wavefronts_mem_shared.avg.pct_of_peak_sustained_elapsed,smsp__inst_executed_pipe_fma.sum,smsp__inst_executed_pipe_tensor.sum,sm__pipe_tensor_cycles_active.avg.pct_of_peak_sustained_elapsed,smsp__inst_executed_pipe_xu.sum -o "$OUT/$pass" -f \
    bundle/run.sh Bench ${BENCH_ARGS:-sweep --dtypes $dtype --head-dims $d --seqlens 4096 --causal $causal --passes $pass --runs 1 --warmup 1} \
    > "$OUT/ncu-$pass-run.log" 2>&1
  ncu --import "$OUT/$pass.ncu-rep" --print-details all > "$OUT/ncu-$pass.txt" 2>&1
  ncu --import "$OUT/$pass.ncu-rep" --page source --csv --print-source sass > "$OUT/ncu-$pass-source.csv" 2>"$OUT/ncu-$pass-source.err"
  python3 scripts/gpu/sass_summary.py "$OUT/ncu-$pass-source.csv" > "$OUT/sass-summary-$pass.txt" 2>&1
  { echo "== $pass d=$d causal=$causal"
    grep -E "Issue Slots Busy|Registers Per Thread|Achieved Occupancy|Duration  |Pipe Fma Cycles" "$OUT/ncu-$pass.txt" | head -8
    grep -E "l1tex__data|smsp__sass_inst_executed_op_shared|pipe_fma.sum|pipe_tensor|pipe_xu|Shared Load|Bank" "$OUT/ncu-$pass.txt" | head -12
    grep -E "_not_issued\)" "$OUT/ncu-$pass.txt" | awk '{print $(NF), $0}' | sort -rn | head -7 | cut -c1-12,40-130
    python3 scripts/gpu/sass_phases.py "$OUT/ncu-$pass-source.csv"
    python3 scripts/gpu/sass_memory.py "$OUT/ncu-$pass-source.csv"
    head -40 "$OUT/sass-summary-$pass.txt"; } >> "$OUT/profile.log"
done
cat "$OUT/profile.log"
