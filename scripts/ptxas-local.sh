#!/usr/bin/env bash
# Register and spill report of the kernels' PTX on a machine without a GPU or a CUDA toolkit: the AttentionPtxTests dump
# their PTX (FLASHATTN_PTX_DUMP), and CUDA 12.4's ptxas from Debian trixie's non-free archive assembles it for sm_90, as
# it is (PTX ISA 8.4 takes our 8.1, the vector reds and the bulk copies).
#
#   scripts/ptxas-local.sh [TEST-FILTER] [GLOB]        (defaults: "FullyQualifiedName~AttentionPtxTests" and "*.ptx")
#
# How close it comes to the H200's CUDA 13.0 (the 46 tensor-core kernels of 443a76d, 2026-12-07): the same registers and
# spill bytes on 29, spilling or not alike on 41 (the modifier and dropout kernels all alike); the block-mask forwards
# 116/84 and 68/52 B of spills against 13.0's 104/124 and 112/140, where CUDA 11.8, this script's toolkit before, gave
# 12/16 and 36/36. Unlike on 5: the block-mask backwards (0 here, 20–24 B there), the fp16 d' = 128 backwards without
# staging (causal 8 B here, 0 there; non-causal 0 here, 8 there), the paged causal forward (96 B here, 0 there). Its
# numbers are for comparing kernel versions here, not for quoting as the GPU's.
# First run: fetches the toolkit's .deb once into ${PTXAS_HOME:-/tmp/cuda-12.4} (root, apt; 87 MB).
set -euo pipefail
filter=${1:-FullyQualifiedName~AttentionPtxTests}
glob=${2:-*.ptx}
home=${PTXAS_HOME:-/tmp/cuda-12.4}
ptxas=$home/usr/bin/ptxas
if [ ! -x "$ptxas" ]; then
  sources=/etc/apt/sources.list.d/flashattn-trixie-nonfree.sources
  printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: non-free\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    > "$sources"
  apt-get update -qq
  mkdir -p "$home"
  (cd "$home" && apt-get download -qq nvidia-cuda-toolkit=12.4.131~12.4.1-2 && dpkg -x nvidia-cuda-toolkit_*.deb .)
  rm -f "$sources" && apt-get update -qq
fi
dump=$(mktemp -d)
FLASHATTN_PTX_DUMP=$dump dotnet test --project FlashAttn.Tests -c Release --no-build -- --filter "$filter" > "$dump/tests.log" 2>&1 \
  || { tail -20 "$dump/tests.log"; exit 1; }
for f in "$dump"/$glob; do
  [ -e "$f" ] || continue
  # the module's own target: sm_90a where it uses wgmma, sm_90 otherwise
  arch=$(sed -nE 's/^\.target (sm_[0-9]+a?).*/\1/p' "$f" | head -1)
  report=$("$ptxas" -arch="${arch:-sm_90}" -v "$f" -o "${f%.ptx}.cubin" 2>&1 | grep -E "registers|spill|rror|C75" \
    | sed -E 's/ptxas (info|error) *: //' | tr -s ' \n' ' ' || true)
  printf '%-50s %s\n' "$(basename "$f" .ptx)" "$report"
done
echo "(PTX and cubins in $dump)"
