#!/usr/bin/env bash
# The CPU path of two builds on the GPU machine's host, interleaved (no GPU used): "new" is bundle/ as built, "base" the
# same apps with a base commit's FlashAttn.Core.dll laid over them (`scripts/build-ab-base.sh REV FlashAttn.Core` puts it in
# bundle-base/; carry `bundle` and `bundle-base`).
#   SEQLENS=512,1024 HEADDIMS=64 THREADS="16 8" bash scripts/gpu/run-cpu-ab.sh
# Prints each side's rows (Bench cpu: ms, GFLOP/s, % of peak, best) in the order they ran: base, new, base, new.
# SIDES="base mid new" adds a third build (bundle-mid/ from `SIDE=mid scripts/build-ab-base.sh REV FlashAttn.Core`).
set -uo pipefail
source "$(dirname "$0")/common.sh"
echo "commit $(cat bundle/COMMIT); $(grep -m1 'model name' /proc/cpuinfo); nproc $(nproc); $(lscpu | grep -E '^Thread|^Core|^Socket' | tr -s ' ' | tr '\n' ' ')"
ab_apps
for side in ${SIDES:-base new} ${SIDES:-base new}; do
  for threads in ${THREADS:-16 8}; do
    echo "== $side, $threads threads"
    FLASHATTN_APPS=/tmp/apps-$side timeout 60 bundle/run.sh Bench cpu --threads "$threads" --seqlens "${SEQLENS:-512,1024}" \
      --headdims "${HEADDIMS:-64}" --repeats "${REPEATS:-5}" 2>&1 | grep -E "^ +[0-9]+ +[0-9]+ +(True|False)"
  done
done
