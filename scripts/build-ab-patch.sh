#!/usr/bin/env bash
# A side of a same-call A/B built from a patch over HEAD (a kernel change kept as a patch until a GPU has timed it, e.g.
# docs/results/2026-12-07f-h200/v41-walk.patch): applies PATCH in a temporary worktree at HEAD, builds the named projects
# and puts their DLLs in bundle-NAME/ (ignored), which ab_apps (scripts/gpu/common.sh) lays over the bundle's apps as side
# NAME. Carry `bundle` and `bundle-NAME`.
#   scripts/build-ab-patch.sh NAME PATCH [PROJECT ...]      (default project: FlashAttn.Kernels)
set -euo pipefail
name=${1:?usage: scripts/build-ab-patch.sh NAME PATCH [PROJECT ...]}
patch=$(realpath "${2:?usage: scripts/build-ab-patch.sh NAME PATCH [PROJECT ...]}")
shift 2
projects=("$@")
[ ${#projects[@]} -gt 0 ] || projects=(FlashAttn.Kernels)
root=$(git rev-parse --show-toplevel)
tree=$(mktemp -d)
git -C "$root" worktree add -q --detach "$tree" HEAD
trap 'git -C "$root" worktree remove --force "$tree"' EXIT
git -C "$tree" apply "$patch"
out=$root/bundle-$name
rm -rf "$out"
mkdir -p "$out"
for project in "${projects[@]}"; do
  if ! dotnet build "$tree/$project" -c Release > "$tree/build-$project.log" 2>&1; then
    tail -20 "$tree/build-$project.log"
    exit 1
  fi
  cp "$tree/$project/bin/Release/net10.0/$project.dll" "$out/"
done
echo "$(git -C "$root" rev-parse --short HEAD)+$(basename "$patch" .patch)" > "$out/COMMIT"
ls -l "$out"
