#!/usr/bin/env bash
# On the GPU machine, after scripts/build-gpu-bundle.sh (bundle/ carried along): the benchmark issue's run, in order
#   1. sweep   our sweep:                    bundle/run.sh Bench sweep --json ours.json --md ours.md [ARGS]
#   2. torch   PyTorch on the same configs:  torch_sdpa_sweep.py --match ours.json (ratios ours / theirs in ratios.md)
#   3. plot    the report:                   bundle/run.sh Bench plot --ours ours.json --torch torch.json --out plots/
#   4. oracle  our numbers against PyTorch:  torch_oracle.py (O, L, dQ, dK, dV on odd, causal, GQA cases)
#
#   scripts/gpu/run-benchmarks.sh [sweep options]            e.g. --dtypes fp16 --seqlens 1024,4096
#   STEPS="plot oracle" scripts/gpu/run-benchmarks.sh        only some steps (the others' files stay in $WORK)
#
# A step that fails is logged and the next one still runs; the exit status is 1 when any step failed. If the sweep left no ours.json, the torch step runs the
# same options itself instead of --match. Files go to $WORK (default /tmp/flashattn-bench, kept while the machine is),
# then the ones below are copied to $OUT (default /tmp/flashattn-out), eight at most:
#   ours.json ours.md torch.json ratios.md plots.tar.gz oracle.json oracle.md benchmarks.log
# Timeouts per step (seconds): SWEEP_TIMEOUT=300 TORCH_TIMEOUT=270 PLOT_TIMEOUT=60 ORACLE_TIMEOUT=240; the device
# tool's 600 s per call fits the full run only when the sweep is restricted: otherwise split it with STEPS.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
OUT=${OUT:-/tmp/flashattn-out}
WORK=${WORK:-/tmp/flashattn-bench}
STEPS=${STEPS:-sweep torch plot oracle}
mkdir -p "$OUT" "$WORK"
log=$WORK/benchmarks.log
log_start=$(( $(cat "$log" 2>/dev/null | wc -l) + 1 ))   # the log keeps earlier calls; the summary reads this one's
summary=()
failed=0

echo "gpu: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null); commit: $(cat bundle/COMMIT 2>/dev/null); steps: $STEPS; args: $*" | tee -a "$log"

# step NAME TIMEOUT COMMAND...: runs and logs one step; its exit status goes into the summary
step() {
  local name=$1 limit=$2; shift 2
  local started=$SECONDS
  echo "== $name: $*" | tee -a "$log"
  timeout "$limit" "$@" >> "$log" 2>&1
  local rc=$?
  summary+=("$name: exit $rc in $((SECONDS - started)) s$([ $rc = 124 ] && echo " (timed out after $limit s)")")
  echo "== $name: exit $rc" | tee -a "$log"
  [ $rc = 0 ] || failed=1
  return $rc
}

for s in $STEPS; do
  case $s in
    sweep)
      rm -f "$WORK/ours.json" "$WORK/ours.md"
      step sweep "${SWEEP_TIMEOUT:-300}" bundle/run.sh Bench sweep --json "$WORK/ours.json" --md "$WORK/ours.md" "$@" ;;
    torch)
      rm -f "$WORK/torch.json" "$WORK/ratios.md"
      if [ -f "$WORK/ours.json" ]; then
        step torch "${TORCH_TIMEOUT:-270}" python3 scripts/gpu/torch_sdpa_sweep.py --match "$WORK/ours.json" \
          --json "$WORK/torch.json" --ours "$WORK/ours.json" --md "$WORK/ratios.md"
      else
        echo "no ours.json: the torch sweep runs the options itself" | tee -a "$log"
        step torch "${TORCH_TIMEOUT:-270}" python3 scripts/gpu/torch_sdpa_sweep.py --json "$WORK/torch.json" "$@"
      fi ;;
    plot)
      rm -rf "$WORK/plots" "$WORK/plots.tar.gz"
      step plot "${PLOT_TIMEOUT:-60}" bundle/run.sh Bench plot --ours "$WORK/ours.json" --torch "$WORK/torch.json" \
        --out "$WORK/plots" && [ -d "$WORK/plots" ] && tar -C "$WORK" -czf "$WORK/plots.tar.gz" plots ;;
    oracle)
      rm -f "$WORK/oracle.json" "$WORK/oracle.md"
      step oracle "${ORACLE_TIMEOUT:-240}" python3 scripts/gpu/torch_oracle.py --dir "$WORK/oracle-cases" --out "$WORK" ;;
    *)
      echo "unknown step $s (sweep, torch, plot, oracle)" | tee -a "$log" ;;
  esac
done

for f in ours.json ours.md torch.json ratios.md plots.tar.gz oracle.json oracle.md benchmarks.log; do
  [ -f "$WORK/$f" ] && cp "$WORK/$f" "$OUT/$f"
done

echo
echo "== summary"
printf '%s\n' "${summary[@]}"
tail -n "+$log_start" "$log" | grep "^torch sweep: " | tail -1
tail -n "+$log_start" "$log" | grep -E "^oracle: [0-9]+ of [0-9]+ cases pass" | tail -1
case " $STEPS " in *" torch "*) [ -f "$WORK/ratios.md" ] && grep "geometric mean" "$WORK/ratios.md" \
  | sed 's/^/ratios ours \/ theirs (flash, cudnn, mem_efficient, math, naive): /' ;; esac
exit $failed
