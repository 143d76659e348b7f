#!/usr/bin/env bash
# One device call that runs the open question that suits the GPU it lands on (machines are scarce: a call may get an H100
# when it asked for an H200, and a request that gets none costs 90-180 s). After scripts/build-gpu-bundle.sh; carry
# `bundle`. Each part writes under $OUT/<part>/ and prints its summary; at most ~560 s in all.
#   H200: issue 11's table on its own GPU, both sides settled (the fp16/bf16 d = 64/128 rows; docs/performance.md has no
#         H200 table since 7606244), then the decode rows of issue 13 beside PyTorch if time is left.
#   H100: the modifiers bench A/B against bundle-base/ when one was built (v26: `scripts/build-ab-base.sh c939fe4`; carry it
#         too), ncu of the d = 128 backward beside FA2 (the open backward gap), then dropout beside FA2's own and FlexAttention.
set -uo pipefail
root=${OUT:-/tmp/flashattn-out}
name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
echo "gpu: $name"
start=$SECONDS
left() { echo $(( ${DEADLINE:-560} - (SECONDS - start) )); }
if [[ $name == *H200* ]]; then
  mkdir -p "$root/table" "$root/decode"
  OUT=$root/table DEADLINE=$(( $(left) - 150 )) DIMS=no SWEEP_EXTRA="--settle-ms 500" TORCH_EXTRA="--settle-ms 500" \
    TORCH_SECONDS=180 bash "$(dirname "$0")/run-next.sh" issue-table > "$root/table/out.txt" 2>&1
  tail -80 "$root/table/out.txt"
  [ "$(left)" -gt 60 ] && OUT=$root/decode STEPS="bench torch" timeout "$(left)" bash "$(dirname "$0")/run-inference.sh" \
    > "$root/decode/out.txt" 2>&1
  tail -30 "$root/decode/out.txt" 2>/dev/null
else
  mkdir -p "$root/profile" "$root/dropout" "$root/ab"
  # the modifiers bench A/B first (~80 s) where a base side was built (bundle-base/, scripts/build-ab-base.sh)
  [ -d bundle-base ] && OUT=$root/ab DEADLINE=120 ROUNDS=2 bash "$(dirname "$0")/run-modifiers-ab.sh" > /dev/null 2>&1 \
    && grep -E "dropout|plain|block mask|^==" "$root/ab/summary.log"
  # the 3xTF32 forward's split K/V tiles (d = 128; fp32 under Auto: 3xTF32 forward, exact backward) beside mem-efficient
  [ -d bundle-base ] && mkdir -p "$root/fp32" && OUT=$root/fp32 DEADLINE=100 ROUNDS=1 TORCH_BACKENDS=mem_efficient \
    SWEEP="--dtypes fp32 --fp32-math auto --head-dims 128 --seqlens 4096,16384 --passes fwd,fwd_bwd" \
    bash "$(dirname "$0")/run-ab.sh" > /dev/null 2>&1; tail -14 "$root/fp32/summary.log" 2>/dev/null
  # and at d = 64 (one round): the dropout backward's spills there (v27)
  [ -d bundle-base ] && mkdir -p "$root/ab64" && OUT=$root/ab64 DEADLINE=70 ROUNDS=1 MODIFIER_EXTRA="--head-dim 64" \
    bash "$(dirname "$0")/run-modifiers-ab.sh" > /dev/null 2>&1 && grep -E "dropout|plain causal|^==" "$root/ab64/summary.log"
  OUT=$root/profile FWD_DIM=128 BWD_DIM=128 timeout "$(( $(left) - 15 ))" bash "$(dirname "$0")/run-profile-vs-fa2.sh" > "$root/profile/out.txt" 2>&1
  (cd "$root/profile" && tar -czf ../profile.tar.gz . && cd .. && rm -rf profile)
  OUT=$root/dropout STEPS="bench torch" timeout "$(left)" bash "$(dirname "$0")/run-modifiers.sh" --seqlens 4096,16384 \
    > "$root/dropout/out.txt" 2>&1
  tar -xzf "$root/profile.tar.gz" -O ./out.txt 2>/dev/null | head -120
  tail -40 "$root/dropout/out.txt"
  (cd "$root/dropout" && tar -czf ../dropout.tar.gz . && cd .. && rm -rf dropout)
fi
