#!/usr/bin/env bash
# The Hopper forward (FlashForwardWarpGroupKernel) in one device call, after scripts/build-gpu-bundle.sh; carry `bundle`:
# first its correctness on CUDA (the WarpGroupForward tests, the TMA/mbarrier/wgmma corpus cases, the fp16/bf16 rows of
# the attention table, where d = 64/128/256 now take it), then the forward sweep (fp16/bf16, d 64/128/256, s 1k/4k/16k, causal
# on/off) with it, with FA3's tiles (FLASHATTN_WARPGROUP_FA3=on) and without it (FLASHATTN_WARPGROUP_FORWARD=off: the FA2
# kernel) beside PyTorch's flash and cuDNN
# backends, and ptxas -v of its PTX. With bundle-base/ carried too (scripts/build-ab-base.sh REV: an earlier version of the
# kernel), its sweep as well, against the same PyTorch timings. SIDES (e.g. "on") limits the sweeps, SKIP_TABLE=1 leaves
# out the attention table, SEQLENS (default 1024,4096,16384) and TESTS_SECONDS (150) trim it further. DEADLINE (default 560 s) bounds the call; logs packed into logs.tar.gz, summary last.
set -uo pipefail
source "$(dirname "$0")/common.sh"
start=$SECONDS
limit() { local left=$(( ${DEADLINE:-560} - (SECONDS - start) )); [ "$left" -lt "$1" ] && echo $(( left > 1 ? left : 1 )) || echo "$1"; }
tests() { # tests LOG SECONDS FILTER
  FLASHATTN_TEST_DEVICE=cuda timeout "$(limit "$2")" bundle/run.sh Tests --filter "$3" > "$OUT/$1" 2>&1
  { echo "== tests: $3"; grep -hE "total:|failed:|succeeded:" "$OUT/$1" | tail -3; grep -hE "^failed |exceeds|Exception:" "$OUT/$1" | head -8; } >> "$summary"
}
tests hopper-tests.log "${TESTS_SECONDS:-150}" "FullyQualifiedName~WarpGroupForwardTests|FullyQualifiedName~RunsOnCuda&(FullyQualifiedName~TensorTileLoad|FullyQualifiedName~WarpSpecialized|FullyQualifiedName~MBarrier|FullyQualifiedName~WarpGroupProduct)"
sweep=(--dtypes fp16,bf16 --head-dims 64,128,256 --seqlens "${SEQLENS:-1024,4096,16384}" --passes fwd)
ab_apps
# sides: on (the Hopper kernel, measured tiles), fa3 (FA3's tiles: FLASHATTN_WARPGROUP_FA3=on), base (bundle-base's kernel),
# off (the FA2 kernel)
sides="on fa3 off"; [ -d bundle-base ] && sides="on fa3 base off"
sides=${SIDES:-$sides}
for side in $sides; do
  apps=/tmp/apps-new; [ "$side" = base ] && apps=/tmp/apps-base
  FLASHATTN_APPS=$apps FLASHATTN_WARPGROUP_FORWARD=$([ "$side" = off ] && echo off || echo on) FLASHATTN_WARPGROUP_FA3=$([ "$side" = fa3 ] && echo on || echo off) \
    timeout "$(limit 100)" bundle/run.sh Bench sweep "${sweep[@]}" --json "$OUT/ours-$side.json" --md "$OUT/ours-$side.md" > "$OUT/sweep-$side.log" 2>&1
done
timeout "$(limit 150)" python3 "$(dirname "$0")/torch_sdpa_sweep.py" --match "$OUT/ours-on.json" --backends flash,cudnn \
  --json "$OUT/torch.json" --ours "$OUT/ours-on.json" --md "$OUT/ratios-on.md" > "$OUT/torch.log" 2>&1
for side in $sides; do
  [ "$side" = on ] || timeout "$(limit 20)" python3 "$(dirname "$0")/torch_sdpa_sweep.py" --from-json "$OUT/torch.json" --ours "$OUT/ours-$side.json" \
    --md "$OUT/ratios-$side.md" >> "$OUT/torch.log" 2>&1
done
for side in $sides; do
  label=$(cat bundle/COMMIT); [ "$side" = base ] && label=$(cat bundle-base/COMMIT)
  { echo "== forward, Hopper kernel $side ($label)"; grep -E "^\|" "$OUT/ratios-$side.md" | cut -d'|' -f2-10; grep geometric "$OUT/ratios-$side.md"; } >> "$summary" 2>/dev/null
done
[ -z "${SKIP_TABLE:-}" ] && [ "$(limit 60)" -gt 30 ] && tests attention-table.log "$(limit 200)" "FullyQualifiedName~AttentionKernelTests.MatchesReference&(FullyQualifiedName~Fp16|FullyQualifiedName~Bf16)"
dump=$(mktemp -d)
FLASHATTN_PTX_DUMP=$dump timeout "$(limit 60)" bundle/run.sh Tests --filter "FullyQualifiedName~WarpGroupForwardRunsOnTmaAndWgmma" > /dev/null 2>&1
for f in "$dump"/forward_warpgroup_*.ptx; do
  [ -e "$f" ] && echo "$(basename "$f" .ptx): $(ptxas -arch=sm_90a -v "$f" -o /dev/null 2>&1 | grep -E "registers|spill|rror" | tr '\n' ' ')" >> "$summary"
done
(cd "$OUT" && tar -czf /tmp/logs.tar.gz --exclude summary.log . && find . -mindepth 1 ! -name summary.log -delete && mv /tmp/logs.tar.gz .)
cat "$summary"
