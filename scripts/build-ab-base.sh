#!/usr/bin/env bash
# The base side of a same-call A/B (scripts/gpu/run-ab.sh, run-cpu-ab.sh): builds the named projects at REV in a temporary
# worktree and puts their DLLs in bundle-base/ (ignored), which ab_apps lays over the bundle's apps. Carry `bundle` and
# `bundle-base`.
#   scripts/build-ab-base.sh REV [PROJECT ...]      (default project: FlashAttn.Kernels; the CPU path's is FlashAttn.Core)
#   SIDE=mid scripts/build-ab-base.sh REV ...       (into bundle-mid/: a third side for run-ab.sh's SIDES="base mid new")
#   SIDE=v41 PATCH=docs/results/2026-12-07f-h200/v41-walk.patch scripts/build-ab-base.sh HEAD
#                                                   (REV with PATCH applied: a kernel change kept as a patch until a GPU
#                                                   has timed it, as side v41 of scripts/gpu/run-patches-ab.sh)
set -euo pipefail
rev=${1:?usage: scripts/build-ab-base.sh REV [PROJECT ...]}
shift
projects=("$@")
[ ${#projects[@]} -gt 0 ] || projects=(FlashAttn.Kernels)
root=$(git rev-parse --show-toplevel)
tree=$(mktemp -d)
git -C "$root" worktree add -q --detach "$tree" "$rev"
trap 'git -C "$root" worktree remove --force "$tree"' EXIT
[ -z "${PATCH:-}" ] || git -C "$tree" apply "$(realpath "$PATCH")"
out=$root/bundle-${SIDE:-base}
rm -rf "$out"
mkdir -p "$out"
for project in "${projects[@]}"; do
  if ! dotnet build "$tree/$project" -c Release > "$tree/build-$project.log" 2>&1; then
    tail -20 "$tree/build-$project.log"
    exit 1
  fi
  cp "$tree/$project/bin/Release/net10.0/$project.dll" "$out/"
done
echo "$(git -C "$root" rev-parse --short "$rev")${PATCH:+ + $(basename "$PATCH" .patch)}" > "$out/COMMIT"
ls -l "$out"
