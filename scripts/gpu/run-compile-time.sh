#!/usr/bin/env bash
# Issue 14's first compile, with the FlashAttn libraries' ReadyToRun images (the bundle's, as the packages carry them) and
# without (DOTNET_ReadyToRunExcludeList: the same IL, JIT-compiled; DOTNET_ReadyToRun=0 would JIT the framework too), alternating, each in a new process. Prints per process:
# IL -> PTX of the tensor-core forward with a new user modifier (the process's first compile: .NET JIT of the compiler
# included) and the user relative bias's first forward call (IL -> PTX, driver JIT, load; the compiler already warm: only
# in the first process, which fills a kernel cache of its own that the later ones read, so that they take seconds).
# After scripts/build-gpu-bundle.sh; carry `bundle`.   ROUNDS=3 SEQLEN=1024 bash scripts/gpu/run-compile-time.sh
set -uo pipefail
OUT=${OUT:-/tmp/flashattn-out}
mkdir -p "$OUT"
cache=$(mktemp -d)
for round in $(seq 1 "${ROUNDS:-3}"); do
  for side in r2r jit; do
    if [ $side = jit ]; then export DOTNET_ReadyToRunExcludeList="FlashAttn.Compute;FlashAttn.Kernels;FlashAttn.Core"
    else unset DOTNET_ReadyToRunExcludeList; fi
    log=$OUT/compile-$side-$round.log
    FLASHATTN_KERNEL_CACHE=$cache timeout 120 bundle/run.sh Bench modifiers --seqlens "${SEQLEN:-1024}" --runs 1 --warmup 0 > "$log" 2>&1
    first=$(grep -o "first compile of it): [0-9.]* s" "$log" | grep -o "[0-9.]* s")
    passes=$(grep -o "slowest passes: .*" "$log" | head -1)
    user=$(grep -o "first forward call [0-9.]* s" "$log" | grep -o "[0-9.]* s")
    echo "$side round $round: IL->PTX cold $first; user bias first call $user; $passes"
  done
done
unset DOTNET_ReadyToRunExcludeList
