#!/usr/bin/env bash
# Kernel A/B on the GPU machine: the same benchmark subset for several builds of FlashAttn.Kernels.dll in one session,
# beside PyTorch's mem-efficient backend, then ncu (source-level stalls, SASS opcode mix) on the bundle's own build.
# Variants: bundle/variants/NAME/*.dll, e.g. FlashAttn.Kernels.dll (the kernels compile from IL at run time, so swapping that
# DLL into a copy of the Bench app is a different kernel build; the kernel cache keys on the assembly's MVID).
#   bash scripts/gpu/run-variants.sh [seqlens] [head dims]      # defaults 4096, 64,128
set -uo pipefail
OUT=${OUT:-/tmp/flashattn-out}
mkdir -p "$OUT"
seqlens=${1:-4096}; dims=${2:-64,128}
echo "gpu: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader); commit: $(cat bundle/COMMIT); date: $(date -u +%FT%TZ)" > "$OUT/summary.log"
bundle/run.sh Bench --help > /dev/null 2>&1   # unpacks the runtime and the apps once
for dir in bundle/variants/*/; do
  name=$(basename "$dir")
  apps=/tmp/apps-$name
  rm -rf "$apps" && cp -r /tmp/flashattn-apps "$apps" && cp "$dir"/*.dll "$apps/Bench/" && touch "$apps/.stamp"
  FLASHATTN_APPS=$apps timeout 240 bundle/run.sh Bench sweep --dtypes fp32 --head-dims "$dims" --seqlens "$seqlens" \
    --json "$OUT/var-$name.json" > "$OUT/var-$name.log" 2>&1
  echo "variant $name exit $?" >> "$OUT/summary.log"
done
timeout 240 bundle/run.sh Bench sweep --dtypes fp32 --head-dims "$dims" --seqlens "$seqlens" --json "$OUT/var-tree.json" > "$OUT/var-tree.log" 2>&1
timeout 200 python3 scripts/gpu/torch_sdpa_sweep.py --match "$OUT/var-tree.json" --backends mem_efficient --json "$OUT/torch-var.json" > "$OUT/torch-var.log" 2>&1
python3 scripts/gpu/variant_table.py "$OUT" >> "$OUT/summary.log" 2>&1
cat "$OUT/summary.log"
