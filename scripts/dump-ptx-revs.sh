#!/usr/bin/env bash
# The tensor-core kernels' PTX at other commits, for ptxas on the GPU machine (CUDA 13) beside today's: each REV is built
# in a temporary worktree and its PTX tests dump into ptx-revs/REV/ (ignored; carry `ptx-revs` in the device call and run
# `ptxas -arch=sm_90 -v` on each file there). Keeps only the backward kernels named by KEEP (a grep -E pattern).
#   scripts/dump-ptx-revs.sh REV [REV ...]
set -u
root=$(git rev-parse --show-toplevel)
keep=${KEEP:-backward_tc_(Half_128_causal_NoScoreModifier_NoMaskModifier|Half_128_causal_chunked_dq|Half_128_full_chunked_dq_staged|BFloat16_64_causal_chunked_dq|Half_96_full_chunked_dq)\.ptx}
filter="FullyQualifiedName~TensorCoreModifiersRunBranchFreeAndLoadEachAddressOnce|FullyQualifiedName~TensorCoreBackwardKeepsFragmentsInRegisters"
for rev in "$@"; do
  tree=$(mktemp -d)
  git -C "$root" worktree add -q --detach "$tree" "$rev" || continue
  out=$root/ptx-revs/$rev
  mkdir -p "$out"
  if dotnet build "$tree/FlashAttn.Tests" -c Release > "$tree/build.log" 2>&1; then
    FLASHATTN_PTX_DUMP=$out dotnet test --project "$tree/FlashAttn.Tests" -c Release --no-build -- --filter "$filter" > "$tree/test.log" 2>&1
  else
    tail -5 "$tree/build.log"
  fi
  find "$out" -name "*.ptx" | grep -vE "$keep" | xargs -r rm -f
  echo "$rev: $(ls "$out" | grep -c '\.ptx$') kernels"
  git -C "$root" worktree remove --force "$tree"
done
