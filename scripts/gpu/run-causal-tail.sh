#!/usr/bin/env bash
# The causal long-sequence rows' question (docs/performance.md, "A caution on the causal s = 16k rows"): the same rows
# three times in one call, as the table times them, with --settle-ms 500 (the GPU idles before each pass) and with
# --warmup-ms 300 (the pass itself runs untimed for 300 ms first), nvidia-smi logging clocks and power beside them,
# then PyTorch's flash backend on the same rows. Prints per row each mode's ms, fwd + bwd against fwd_bwd, and FA2's.
#   ROWS="--dtypes fp16 --head-dims 64,128 --seqlens 8192,16384 --causal both" bash scripts/gpu/run-causal-tail.sh
# APPS: the apps to time (default: the bundle's; /tmp/apps-base after run-ab.sh's ab_apps for a base build).
set -uo pipefail
source "$(dirname "$0")/common.sh"
rows=${ROWS:---dtypes fp16 --head-dims 64,128 --seqlens 8192,16384 --causal both}
apps=${APPS:-}
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active \
  --format=csv -lms 100 > "$OUT/causal-smi.csv" 2>&1 &
smi=$!
for mode in plain settle warmup; do
  case $mode in plain) extra=();; settle) extra=(--settle-ms 500);; warmup) extra=(--warmup-ms 300);; esac
  echo "$mode start $(date +%s.%N)" >> "$OUT/causal-marks.log"
  # shellcheck disable=SC2086
  FLASHATTN_APPS=$apps timeout "${MODE_SECONDS:-100}" bundle/run.sh Bench sweep $rows --passes fwd,bwd,fwd_bwd "${extra[@]}" \
    --json "$OUT/causal-$mode.json" >> "$OUT/causal-sweep.log" 2>&1
  echo "$mode end $(date +%s.%N) exit $?" >> "$OUT/causal-marks.log"
done
timeout "${TORCH_SECONDS:-100}" python3 scripts/gpu/torch_sdpa_sweep.py --match "$OUT/causal-plain.json" --backends flash \
  --json "$OUT/causal-torch.json" >> "$OUT/causal-torch.log" 2>&1
kill "$smi" 2>/dev/null
python3 - "$OUT" >> "$summary" <<'PY'
import json, os, sys
out = sys.argv[1]
def rows(path):
    try:
        data = json.load(open(path))
    except Exception as e:
        return {}
    return {(r["dtype"], r["head_dim"], r["causal"], r["seqlen"], r["pass"]): r.get("ms") for r in data["results"]
            if r.get("backend", "flashattn") in ("flashattn", "flash")}
modes = {m: rows(os.path.join(out, f"causal-{m}.json")) for m in ("plain", "settle", "warmup")}
torch = rows(os.path.join(out, "causal-torch.json"))
print("== causal rows: ms per mode (fwd+bwd: the separate passes' sum; FA2: PyTorch flash, no settle)")
print("| dtype | d | causal | s | pass | plain | settle 500 | warmup 300 | FA2 | FA2/plain | FA2/settle | FA2/warmup |")
print("|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
keys = sorted({k[:4] for m in modes.values() for k in m})
fmt = lambda x: "—" if x is None else f"{x:.3f}"
ratio = lambda a, b: "—" if a is None or b is None else f"{a / b:.3f}"
for key in keys:
    for p in ("fwd", "bwd", "fwd_bwd", "sum"):
        get = (lambda m: (None if m.get(key + ("fwd",)) is None or m.get(key + ("bwd",)) is None
                          else m[key + ("fwd",)] + m[key + ("bwd",)])) if p == "sum" else (lambda m: m.get(key + (p,)))
        t = get(torch)
        vals = [get(modes[m]) for m in ("plain", "settle", "warmup")]
        print(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {'fwd+bwd' if p == 'sum' else p} | " + " | ".join(fmt(v) for v in vals)
              + f" | {fmt(t)} | " + " | ".join(ratio(t, v) for v in vals) + " |")
PY
{ echo "== clocks (MHz) and power (W) per mode"; python3 - "$OUT" <<'PY'
import csv, sys, os
out = sys.argv[1]
marks = {}
for line in open(os.path.join(out, "causal-marks.log")):
    parts = line.split()
    marks.setdefault(parts[0], {})[parts[1]] = float(parts[2])
from datetime import datetime
samples = []
with open(os.path.join(out, "causal-smi.csv")) as f:
    for row in csv.reader(f):
        try:
            t = datetime.strptime(row[0].strip(), "%Y/%m/%d %H:%M:%S.%f").timestamp()
            samples.append((t, float(row[1].split()[0]), float(row[3].split()[0])))
        except Exception:
            pass
for mode, m in marks.items():
    s = [x for x in samples if m.get("start", 0) <= x[0] <= m.get("end", 0)]
    if s:
        clocks = sorted(x[1] for x in s); power = sorted(x[2] for x in s)
        print(f"{mode}: {len(s)} samples, sm clock min/median {clocks[0]:.0f}/{clocks[len(s)//2]:.0f}, power median/max {power[len(s)//2]:.0f}/{power[-1]:.0f}")
PY
} >> "$summary" 2>&1
# At most 8 files come back from a call: this script's logs in one archive, its table in the summary
(cd "$OUT" && files=$(ls causal-marks.log causal-smi.csv causal-sweep.log causal-torch.log causal-*.json 2>/dev/null) \
  && tar -czf causal-logs.tar.gz $files && rm -f $files)
