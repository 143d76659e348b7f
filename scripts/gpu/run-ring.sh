#!/usr/bin/env bash
# Context parallelism (ring attention over NCCL) on the GPU machine (device tool), after scripts/build-gpu-bundle.sh here, in one call:
#   1. `Bench ring` over every GPU (nvidia-smi's count), a thread per rank in one process: the ring against one GPU at
#      8k tokens, weak scaling at 1M tokens (b=1, h=16, d=128, causal, zig-zag) against one GPU at S/N, and with
#      --largest the largest sequence whose forward + backward runs;
#   2. PyTorch SDPA (flash backend, causal) on one GPU at the per-rank shape, for a same-run reference TFLOP/s.
#   scripts/gpu/run-ring.sh [ring options]     e.g. --dtype bf16 | --largest --check-tokens 0 --tokens 0 | --tokens 262144
# NCCL comes from PyTorch's pip wheel (nvidia-nccl-cu*: site-packages/nvidia/nccl/lib/libnccl.so.2), exported as
# FLASHATTN_NCCL_LIBRARY unless that is already set. 1M tokens on 2 GPUs takes minutes: the weak scaling and --largest
# may each need a call of their own (the device tool allows 600 s a call; RING_TIMEOUT, default 540 s, bounds the bench).
# STEPS (default "bench torch"); logs and results in $OUT, a short summary printed last.
set -uo pipefail
STEPS=${STEPS:-bench torch}
source "$(dirname "$0")/common.sh"
gpus=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | wc -l)
gpu_arg=(); [ "$gpus" -gt 0 ] && gpu_arg=(--gpus "$gpus")   # none: the verb says why it cannot run

# libnccl.so.2 from PyTorch's wheel: the nvidia.nccl package, else any copy under site-packages
if [ -z "${FLASHATTN_NCCL_LIBRARY:-}" ]; then
  nccl_dir=$(python3 -c "import nvidia.nccl as m, os; print(os.path.dirname(m.__file__) if m.__file__ else list(m.__path__)[0])" 2>/dev/null)
  if [ -n "$nccl_dir" ] && [ -f "$nccl_dir/lib/libnccl.so.2" ]; then
    export FLASHATTN_NCCL_LIBRARY=$nccl_dir/lib/libnccl.so.2
  else
    sites=$(python3 -c "import site; print(' '.join(site.getsitepackages() + [site.getusersitepackages()]))" 2>/dev/null)
    found=$(find $sites -name 'libnccl.so.2' 2>/dev/null | head -1)
    [ -n "$found" ] && export FLASHATTN_NCCL_LIBRARY=$found
  fi
fi
echo "gpus: $gpus; FLASHATTN_NCCL_LIBRARY=${FLASHATTN_NCCL_LIBRARY:-(not found: the ring verb says what it tried)}" >> "$summary"

for s in $STEPS; do
  case $s in
    bench)
      timeout "${RING_TIMEOUT:-540}" bundle/run.sh Bench ring "${gpu_arg[@]}" --out "$OUT" "$@" > "$OUT/ring.log" 2>&1
      echo "ring exit: $?" >> "$OUT/ring.log" ;;
    torch)
      ours=$(ls -t "$OUT"/ring-*.json 2>/dev/null | head -1)
      timeout 240 python3 scripts/gpu/ring_torch.py "${gpu_arg[@]}" "$@" --json "$OUT/torch-ring.json" ${ours:+--ours "$ours"} \
        > "$OUT/torch-ring.md" 2>&1
      echo "torch exit: $?" >> "$OUT/torch-ring.md" ;;
  esac
done
{
  cat "$(ls -t "$OUT"/ring-*.md 2>/dev/null | head -1)" 2>/dev/null
  echo
  cat "$OUT/torch-ring.md" 2>/dev/null
  echo
  grep -E "^ring:|exit:" "$OUT/ring.log" 2>/dev/null | tail -6
} >> "$summary"
cat "$summary"
