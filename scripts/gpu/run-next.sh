#!/usr/bin/env bash
# The open questions of docs/performance.md's "Next GPU run" tables, grouped so that each group fits one device call
# (at most ~9 minutes: every step gets what is left of DEADLINE seconds, default 540, so a slow step cannot eat the
# call). After scripts/build-gpu-bundle.sh; carry `bundle`. Logs and tables in $OUT; the summary printed last.
#   scripts/gpu/run-next.sh tensor-cores   fp16/bf16 sweep (IfConversion on, then off) beside PyTorch, kernel tests on CUDA
#   scripts/gpu/run-next.sh fp32           kernel tests on CUDA, the 3xTF32 oracle, the fp32 sweep with both maths beside
#                                          mem-efficient
#   scripts/gpu/run-next.sh backward       fp16/bf16 sweep beside PyTorch, the backward's kernels timed one by one (ncu), the
#                                          fp16/bf16 attention table and sequence tests on CUDA
#   scripts/gpu/run-next.sh issue-table    issue 11's table: fp16/bf16 fwd, bwd, fwd+bwd at d 64/128 × s 1k-16k and d 32/96/256
#                                          × s 1k/4k/16k beside PyTorch flash and cuDNN, ptxas -v of the kernels, the
#                                          fp16/bf16 attention table and sequence tests on CUDA
#   scripts/gpu/run-next.sh inference      GPU-only tests, ring/NCCL tests on one GPU, registered host memory, decode
#                                          split counts, varlen three times, other tensor-core head dims, fp32 auto
set -uo pipefail
group=${1:?group: tensor-cores, fp32 or inference}
source "$(dirname "$0")/common.sh"
start=$SECONDS
deadline=${DEADLINE:-540}

# step MAX_SECONDS LOG COMMAND...: runs COMMAND with the smaller of MAX_SECONDS and what is left of the deadline.
step() {
  local max=$1 log=$2; shift 2
  local left=$((deadline - (SECONDS - start)))
  [ "$left" -lt "$max" ] && max=$left
  if [ "$max" -le 5 ]; then echo "skipped (deadline): $*" >> "$summary"; return; fi
  local t0=$SECONDS
  timeout "$max" "$@" >> "$OUT/$log" 2>&1
  local rc=$?
  echo "step exit $rc in $((SECONDS - t0)) s (limit $max): $*" >> "$OUT/$log"
  echo "$log: exit $rc, $((SECONDS - t0)) s" >> "$OUT/steps.log"
}

tc_args=(--dtypes fp16,bf16 --head-dims 64,128 --seqlens 1024,4096,16384)
case $group in
  tensor-cores)
    step 200 sweep-on.log bundle/run.sh Bench sweep "${tc_args[@]}" --json "$OUT/ours-on.json" --md "$OUT/ours-on.md"
    step 160 torch.log python3 scripts/gpu/torch_sdpa_sweep.py --match "$OUT/ours-on.json" --backends flash,cudnn \
      --json "$OUT/torch.json" --ours "$OUT/ours-on.json" --md "$OUT/ratios-on.md"
    FLASHATTN_IF_CONVERSION=off step 150 sweep-off.log bundle/run.sh Bench sweep "${tc_args[@]}" \
      --json "$OUT/ours-off.json" --md "$OUT/ours-off.md"
    step 10 torch.log python3 scripts/gpu/torch_sdpa_sweep.py --from-json "$OUT/torch.json" --ours "$OUT/ours-off.json" \
      --md "$OUT/ratios-off.md"
    {
      for v in on off; do echo "== IfConversion $v"; grep -E "^\|" "$OUT/ratios-$v.md" | cut -d'|' -f2-10; grep geometric "$OUT/ratios-$v.md"; done
    } >> "$summary" 2>/dev/null ;;
  fp32)
    # Timings first, alone on the GPU; then the correctness runs side by side (three processes, 16 host cores).
    for math in tensor-cores exact; do
      step 90 "sweep-$math.log" bundle/run.sh Bench sweep --dtypes fp32 --head-dims 64,128 --seqlens 1024,4096,16384 \
        --passes fwd,fwd_bwd --fp32-math "$math" --json "$OUT/fp32-$math.json" --md "$OUT/fp32-$math.md"
    done
    step 60 torch.log python3 scripts/gpu/torch_sdpa_sweep.py --match "$OUT/fp32-tensor-cores.json" --backends mem_efficient \
      --json "$OUT/torch-fp32.json" --ours "$OUT/fp32-tensor-cores.json" --md "$OUT/ratios-fp32-tensor-cores.md"
    step 10 torch.log python3 scripts/gpu/torch_sdpa_sweep.py --from-json "$OUT/torch-fp32.json" --ours "$OUT/fp32-exact.json" \
      --md "$OUT/ratios-fp32-exact.md"
    FLASHATTN_TEST_DEVICE=cuda step 400 kernel-tests-table.log bundle/run.sh Tests \
      --filter "FullyQualifiedName~FlashAttn.Tests.Kernels.AttentionKernelTests" &
    FLASHATTN_TEST_DEVICE=cuda step 400 kernel-tests-rest.log bundle/run.sh Tests \
      --filter "FullyQualifiedName~FlashAttn.Tests.Kernels&FullyQualifiedName!~AttentionKernelTests" &
    step 400 oracle.log python3 scripts/gpu/torch_oracle.py --dtypes fp32 --fp32-math tensor_cores --timeout 390 \
      --dir /tmp/oracle-cases --out "$OUT/oracle-3xtf32"
    wait
    {
      grep -E "^oracle: " "$OUT/oracle.log" | tail -2
      for math in tensor-cores exact; do echo "== fp32 $math"; grep -E "^\|" "$OUT/ratios-fp32-$math.md" | cut -d'|' -f2-10; grep geometric "$OUT/ratios-fp32-$math.md"; done
      for log in kernel-tests-table kernel-tests-rest; do echo "== $log"; grep -hE "total:|failed:|succeeded:" "$OUT/$log.log" | tail -4; grep -hE "^failed " "$OUT/$log.log" | head -8; done
    } >> "$summary" 2>/dev/null ;;
  inference)
    step 60 upload.log bundle/run.sh Bench upload --mib 1,16,256,1024
    step 80 gpu-only-tests.log bundle/run.sh Tests \
      --filter "FullyQualifiedName~CorpusTests.RunsOnCuda|FullyQualifiedName~CudaGpuTests|FullyQualifiedName~IlgpuCudaTests"
    step 120 sweep-dims.log bundle/run.sh Bench sweep --dtypes fp16,bf16 --head-dims 32,96,256 --seqlens 1024,4096,16384 \
      --json "$OUT/ours-dims.json" --md "$OUT/ours-dims.md"
    step 100 torch-dims.log python3 scripts/gpu/torch_sdpa_sweep.py --match "$OUT/ours-dims.json" --backends flash,cudnn \
      --json "$OUT/torch-dims.json" --ours "$OUT/ours-dims.json" --md "$OUT/ratios-dims.md"
    step 60 sweep-auto.log bundle/run.sh Bench sweep --dtypes fp32 --head-dims 64,128 --seqlens 4096 --passes fwd,fwd_bwd \
      --fp32-math auto --json "$OUT/fp32-auto.json" --md "$OUT/fp32-auto.md"
    step 60 torch-auto.log python3 scripts/gpu/torch_sdpa_sweep.py --match "$OUT/fp32-auto.json" --backends mem_efficient \
      --json "$OUT/torch-auto.json" --ours "$OUT/fp32-auto.json" --md "$OUT/ratios-fp32-auto.md"
    for s in 1 2 3 4; do
      step 45 decode-splits.log bundle/run.sh Bench inference --rows decode --batches 16 --caches 32768,131072 --splits $s
    done
    for i in 1 2 3; do step 40 varlen.log bundle/run.sh Bench inference --rows varlen; done
    FLASHATTN_NCCL_LIBRARY=$(python3 -c "import nvidia.nccl as m; print(list(m.__path__)[0])")/lib/libnccl.so.2 \
      step 80 ring-tests.log bundle/run.sh Tests --filter "FullyQualifiedName~RingGpuTests|FullyQualifiedName~NcclGpuTests"
    {
      for log in gpu-only-tests ring-tests; do echo "== $log"; grep -hE "total:|failed:|succeeded:" "$OUT/$log.log" | tail -3; grep -hE "^failed " "$OUT/$log.log" | head -6; done
      echo "== upload"; grep -E "^\||MiB" "$OUT/upload.log" | head -20
      echo "== fp32 auto"; grep -E "^\|" "$OUT/ratios-fp32-auto.md" | cut -d'|' -f2-10
      echo "== decode splits (b = 16)"; grep -E "^\|" "$OUT/decode-splits.log" | head -24
      echo "== varlen x3"; grep -E "^\|" "$OUT/varlen.log" | head -24
      echo "== head dims 32/96/256"; grep -E "^\|" "$OUT/ratios-dims.md" | cut -d'|' -f2-10; grep geometric "$OUT/ratios-dims.md"
    } >> "$summary" 2>/dev/null ;;
  backward)
    # the fp16/bf16 sweep beside PyTorch, the backward's kernels one by one (ncu durations at s = 1k and 16k), then the
    # fp16/bf16 rows of the attention table and the sequence tests on CUDA
    # HEAD_DIMS picks the sweep's head dims (default 64,128); TEST_FILTER adds test classes to the CUDA run
    step 200 sweep-on.log bundle/run.sh Bench sweep --dtypes fp16,bf16 --head-dims "${HEAD_DIMS:-64,128}" \
      --seqlens 1024,4096,16384 --json "$OUT/ours-on.json" --md "$OUT/ours-on.md"
    step 160 torch.log python3 scripts/gpu/torch_sdpa_sweep.py --match "$OUT/ours-on.json" --backends flash,cudnn \
      --json "$OUT/torch.json" --ours "$OUT/ours-on.json" --md "$OUT/ratios-on.md"
    step 60 breakdown.log ncu --clock-control none --metrics gpu__time_duration.sum bundle/run.sh Bench sweep --dtypes fp16 \
      --head-dims "${BREAKDOWN_DIM:-128}" --seqlens 1024,16384 --causal off --passes bwd --runs 1 --warmup 0
    FLASHATTN_TEST_DEVICE=cuda step 300 kernel-tests.log bundle/run.sh Tests \
      --filter "FullyQualifiedName~AttentionKernelTests.MatchesReference&Name!~Fp32|FullyQualifiedName~SequenceKernelTests|FullyQualifiedName~BackwardWorkspaceTests${TEST_FILTER:+|$TEST_FILTER}"
    {
      echo "== sweep"; grep -E "^\|" "$OUT/ratios-on.md" | cut -d'|' -f2-13; grep geometric "$OUT/ratios-on.md"
      echo "== backward kernels (ncu)"; grep -E "^  [A-Z]|gpu__time" "$OUT/breakdown.log" | sed -E 's/_s[0-9a-f]{8}//; s/Context.*//' | paste - - | awk '{print $1, $(NF-1), $NF}'
      echo "== kernel tests"; grep -hE "total:|failed:|succeeded:" "$OUT/kernel-tests.log" | tail -3; grep -hE "^failed " "$OUT/kernel-tests.log" | head -8
    } >> "$summary" 2>/dev/null ;;
  issue-table)
    # SWEEP_EXTRA: more sweep options, e.g. "--settle-ms 500" (idle before each pass: see docs/performance.md on the
    # causal s = 16k rows, whose separate fwd and bwd timings ran 3-11% above their fwd_bwd in these tables), and
    # TORCH_EXTRA the same for PyTorch's sweep ("--settle-ms 500"), so that both sides are timed alike. DIMS=no skips the
    # d = 32/96/256 part; TORCH_SECONDS the PyTorch step's limit (default 110; its settled sweep of the main part needs ~170);
    # TEST_EXTRA adds a test filter to the CUDA kernel tests (e.g. "FullyQualifiedName~ModifierKernelTests")
    step 170 sweep-main.log bundle/run.sh Bench sweep --dtypes fp16,bf16 --head-dims 64,128 --seqlens 1024,2048,4096,8192,16384 \
      --passes fwd,bwd,fwd_bwd ${SWEEP_EXTRA:-} --json "$OUT/ours-main.json" --md "$OUT/ours-main.md"
    parts="main"
    if [ "${DIMS:-yes}" != no ]; then
      parts="main dims"
      step 120 sweep-dims.log bundle/run.sh Bench sweep --dtypes fp16,bf16 --head-dims 32,96,256 --seqlens 1024,4096,16384 \
        --passes fwd,bwd,fwd_bwd ${SWEEP_EXTRA:-} --json "$OUT/ours-dims.json" --md "$OUT/ours-dims.md"
    fi
    for part in $parts; do
      step "${TORCH_SECONDS:-110}" torch.log python3 scripts/gpu/torch_sdpa_sweep.py --match "$OUT/ours-$part.json" --backends flash,cudnn \
        ${TORCH_EXTRA:-} --json "$OUT/torch-$part.json" --ours "$OUT/ours-$part.json" --md "$OUT/ratios-$part.md"
    done
    dump=$(mktemp -d)
    FLASHATTN_PTX_DUMP=$dump step 60 ptx-tests.log bundle/run.sh Tests --filter "FullyQualifiedName~AttentionPtxTests"
    ptxas_report "$dump" "*_tc_*" HMMA LDSM
    FLASHATTN_TEST_DEVICE=cuda step 200 kernel-tests.log bundle/run.sh Tests \
      --filter "FullyQualifiedName~AttentionKernelTests.MatchesReference&Name!~Fp32|FullyQualifiedName~SequenceKernelTests${TEST_EXTRA:+|$TEST_EXTRA}"
    {
      for part in $parts; do echo "== $part"; grep -E "^\|" "$OUT/ratios-$part.md" | cut -d'|' -f2-13; grep geometric "$OUT/ratios-$part.md"; done
      echo "== per head dim"; python3 scripts/gpu/ratio_summary.py "$OUT/ratios-main.md" $([ -e "$OUT/ratios-dims.md" ] && echo "$OUT/ratios-dims.md")
      echo "== kernel tests"; grep -hE "total:|failed:|succeeded:" "$OUT/kernel-tests.log" | tail -3; grep -hE "^failed " "$OUT/kernel-tests.log" | head -8
    } >> "$summary" 2>/dev/null ;;
  *) echo "unknown group: $group" >&2; exit 2 ;;
esac
cat "$OUT/steps.log" >> "$summary"
# At most 8 files come back from a call: every log and table in one archive, the summary beside it.
(cd "$OUT" && tar -czf /tmp/logs.tar.gz --exclude summary.log . && find . -mindepth 1 ! -name summary.log -delete && mv /tmp/logs.tar.gz .)
cat "$summary"
