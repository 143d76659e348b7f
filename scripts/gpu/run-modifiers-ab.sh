#!/usr/bin/env bash
# `Bench modifiers` A/B in one device call, interleaved (base: bundle-base/'s assemblies over the bundle's apps, from
# scripts/build-ab-base.sh; new: the bundle as built), then the CUDA tests named by TEST_FILTER on the new build, then,
# when TABLE_DTYPES is set, the issue-11 sweep for those dtypes beside PyTorch, both sides settled (--settle-ms 500).
#   TABLE_DTYPES=bf16 ROUNDS=2 TEST_FILTER="FullyQualifiedName~ModifierKernelTests" bash scripts/gpu/run-modifiers-ab.sh
# CPU_THREADS=16 adds scripts/gpu/cpu-vs-torch.sh 16 (the CPU path beside PyTorch's CPU SDPA, FLASHATTN_CPU_TRACE=1) last,
# over CPU_SEQLENS (default its grid); MODIFIER_SEQLENS picks the modifiers bench's lengths (default 4096,16384),
# MODIFIER_EXTRA adds options to it (e.g. "--head-dim 64").
# SIDES="base mid new" runs a third side from bundle-mid/ (SIDE=mid scripts/build-ab-base.sh REV).
# DEADLINE (default 560 s) bounds the whole call; logs packed into logs.tar.gz, the summary printed last.
set -uo pipefail
source "$(dirname "$0")/common.sh"
start=$SECONDS
limit() { local left=$(( ${DEADLINE:-560} - (SECONDS - start) )); [ "$left" -lt "$1" ] && echo $(( left > 1 ? left : 1 )) || echo "$1"; }
ab_apps
if [ -n "${TABLE_DTYPES:-}" ]; then
  FLASHATTN_APPS=/tmp/apps-new timeout "$(limit 80)" bundle/run.sh Bench sweep --dtypes "$TABLE_DTYPES" --head-dims 64,128 \
    --seqlens 1024,2048,4096,8192,16384 --passes fwd,bwd,fwd_bwd --settle-ms 500 --json "$OUT/ours-table.json" \
    --md "$OUT/ours-table.md" > "$OUT/sweep-table.log" 2>&1
  timeout "$(limit 160)" python3 scripts/gpu/torch_sdpa_sweep.py --match "$OUT/ours-table.json" --backends flash,cudnn --settle-ms 500 \
    --json "$OUT/torch-table.json" --ours "$OUT/ours-table.json" --md "$OUT/ratios-table.md" > "$OUT/torch-table.log" 2>&1
  { echo "== table ($TABLE_DTYPES, settled)"; grep -E "^\|" "$OUT/ratios-table.md" | cut -d'|' -f2-13; grep geometric "$OUT/ratios-table.md"; } >> "$summary"
fi
for round in $(seq 1 "${ROUNDS:-2}"); do
  for side in ${SIDES:-base new}; do
    FLASHATTN_APPS=/tmp/apps-$side timeout "$(limit 110)" bundle/run.sh Bench modifiers --seqlens "${MODIFIER_SEQLENS:-4096,16384}" \
      ${MODIFIER_EXTRA:-} --md "$OUT/modifiers-$side-$round.md" > "$OUT/modifiers-$side-$round.log" 2>&1
    echo "modifiers $side round $round: exit $?" >> "$summary"
  done
done
if [ -n "${TEST_FILTER:-}" ]; then
  FLASHATTN_APPS=/tmp/apps-new FLASHATTN_TEST_DEVICE=cuda timeout "$(limit 200)" bundle/run.sh Tests --filter "$TEST_FILTER" > "$OUT/tests-new.log" 2>&1
  { echo "== CUDA tests (new)"; grep -hE "total:|failed:|succeeded:" "$OUT/tests-new.log" | tail -3; grep -hE "^failed " "$OUT/tests-new.log" | head -8; } >> "$summary"
fi
if [ -n "${CPU_THREADS:-}" ]; then
  # the CPU path against PyTorch's CPU SDPA on the host (no GPU), with the CPU path's trace beside each of our rows
  SEQLENS=${CPU_SEQLENS:-512,1024,2048,4096} FLASHATTN_CPU_TRACE=1 timeout "$(limit 280)" bash scripts/gpu/cpu-vs-torch.sh "$CPU_THREADS" \
    > "$OUT/cpu-vs-torch.log" 2>&1
  { echo "== CPU, $CPU_THREADS threads, ours / PyTorch"; grep -E "^\||geometric" "$OUT/cpu-ratios-$CPU_THREADS.md"; } >> "$summary"
fi
for f in "$OUT"/modifiers-*.md; do [ -e "$f" ] && { echo "== $(basename "$f" .md)"; grep -E "^\|" "$f"; } >> "$summary"; done
(cd "$OUT" && tar -czf /tmp/logs.tar.gz --exclude summary.log . && find . -mindepth 1 ! -name summary.log -delete && mv /tmp/logs.tar.gz .)
cat "$summary"
