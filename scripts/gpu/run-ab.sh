#!/usr/bin/env bash
# A/B of two builds in one device call, interleaved so that both see the same GPU state: "new" is bundle/ as built,
# "base" is the same apps with the assemblies in bundle-base/ laid over them (`scripts/build-ab-base.sh REV [PROJECT ...]`
# builds them; carry both `bundle` and `bundle-base`).
#   SWEEP="--dtypes fp16,bf16 --head-dims 64,128 --seqlens 1024,4096,16384 --passes fwd" ROUNDS=2 \
#     INFERENCE="--rows decode --batches 1,16" TEST_FILTER="FullyQualifiedName~..." bash scripts/gpu/run-ab.sh
# SIDES="base mid new" (bundle-mid/ from `SIDE=mid scripts/build-ab-base.sh`) adds a third build; each side is compared with
# the one before it as well (ab-mid.md: mid / base, ab-new.md: new / mid).
# TORCH_BACKENDS (default flash,cudnn; mem_efficient for fp32) picks PyTorch's side.
# Writes $OUT/{base,new}-N.json, ab.md (new / base per row, each side's best round), ratios-new.md (new beside
# PyTorch's flash and cuDNN) and the CUDA test log of the new build; the summary printed last.
set -uo pipefail
source "$(dirname "$0")/common.sh"
sweep=${SWEEP:---dtypes fp16,bf16 --head-dims 64,128 --seqlens 1024,4096,16384 --passes fwd}
rounds=${ROUNDS:-2}
sides=${SIDES:-base new}
start=$SECONDS
# limit MAX: the smaller of MAX seconds and what is left of DEADLINE (default 560) for one step
limit() { local left=$(( ${DEADLINE:-560} - (SECONDS - start) )); [ "$left" -lt "$1" ] && echo $(( left > 1 ? left : 1 )) || echo "$1"; }
ab_apps
for round in $(seq 1 "$rounds"); do
  for side in $sides; do
    # shellcheck disable=SC2086
    FLASHATTN_APPS=/tmp/apps-$side timeout "$(limit 150)" bundle/run.sh Bench sweep $sweep --json "$OUT/$side-$round.json" \
      --md "$OUT/$side-$round.md" >> "$OUT/sweep-$side.log" 2>&1
    echo "sweep $side round $round: exit $?" >> "$summary"
  done
done
if [ -n "${INFERENCE:-}" ]; then
  for side in ${INFERENCE_SIDES:-base new}; do
    # shellcheck disable=SC2086
    { echo "== inference $side: $INFERENCE"; FLASHATTN_APPS=/tmp/apps-$side timeout "$(limit 60)" bundle/run.sh Bench inference $INFERENCE 2>&1 | grep -E "^\|"; } \
      >> "$OUT/inference-ab.log" 2>&1
  done
fi
python3 "$(dirname "$0")/ab_compare.py" --base "$OUT"/base-*.json --new "$OUT"/new-*.json > "$OUT/ab.md" 2>&1
previous=""
for side in $sides; do
  [ -n "$previous" ] && [ "$sides" != "base new" ] && python3 "$(dirname "$0")/ab_compare.py" --base "$OUT/$previous"-*.json \
    --new "$OUT/$side"-*.json > "$OUT/ab-$side.md" 2>&1
  previous=$side
done
timeout "$(limit 150)" python3 scripts/gpu/torch_sdpa_sweep.py --match "$OUT/new-1.json" --backends "${TORCH_BACKENDS:-flash,cudnn}" --json "$OUT/torch.json" \
  --ours "$OUT/new-1.json" --md "$OUT/ratios-new.md" > "$OUT/torch.log" 2>&1
if [ -n "${TEST_FILTER:-}" ]; then
  FLASHATTN_APPS=/tmp/apps-new FLASHATTN_TEST_DEVICE=cuda timeout "$(limit "${TEST_SECONDS:-200}")" bundle/run.sh Tests \
    --filter "$TEST_FILTER" > "$OUT/tests-new.log" 2>&1
  { echo "== CUDA tests (new)"; grep -hE "total:|failed:|succeeded:" "$OUT/tests-new.log" | tail -3; grep -hE "^failed " "$OUT/tests-new.log" | head -8; } >> "$summary"
fi
{ echo "== new / base"; cat "$OUT/ab.md"; for f in "$OUT"/ab-*.md; do [ -e "$f" ] && { echo "== $(basename "$f" .md): this side / the one before"; cat "$f"; }; done; cat "$OUT/inference-ab.log" 2>/dev/null; echo "== new beside PyTorch"; grep -E "^\|" "$OUT/ratios-new.md" | cut -d'|' -f2-13; grep geometric "$OUT/ratios-new.md"; } >> "$summary"
(cd "$OUT" && tar -czf /tmp/logs.tar.gz --exclude summary.log --exclude 'ab*.md' . && find . -mindepth 1 ! -name summary.log ! -name 'ab*.md' -delete && mv /tmp/logs.tar.gz .)
cat "$summary"
