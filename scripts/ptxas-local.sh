#!/usr/bin/env bash
# Register and spill report of the kernels' PTX on a machine without a GPU or a CUDA toolkit: the AttentionPtxTests dump
# their PTX (FLASHATTN_PTX_DUMP), and CUDA 11.8's ptxas from Debian's non-free archive assembles it for sm_90.
#
#   scripts/ptxas-local.sh [TEST-FILTER] [GLOB]        (defaults: "FullyQualifiedName~AttentionPtxTests" and "*.ptx")
#
# ptxas 11.8 reads PTX ISA 7.8, ours says 8.1: the report lowers the version and splits the vector reds
# (`red.global.add.v2/v4.f32`, PTX 8.1) into scalar ones, the only 8.1 instructions the kernels use, and stands in for the
# bulk copies (below). Its numbers track CUDA 13's (at bed8720's parent:
# forward 3xTF32 d 128 186 registers on both, d 64 238 here vs 236 on the H200); they are for comparing kernel versions
# here, not for quoting as the GPU's.
# First run: fetches the toolkit's .deb once into ${PTXAS_HOME:-/tmp/cuda-11.8} (root, apt; 84 MB).
set -euo pipefail
filter=${1:-FullyQualifiedName~AttentionPtxTests}
glob=${2:-*.ptx}
home=${PTXAS_HOME:-/tmp/cuda-11.8}
ptxas=$home/usr/bin/ptxas
if [ ! -x "$ptxas" ]; then
  if ! apt-cache policy nvidia-cuda-toolkit | grep -q "Candidate: 11"; then
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: contrib non-free\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      > /etc/apt/sources.list.d/flashattn-nonfree.sources
    apt-get update -qq
  fi
  mkdir -p "$home"
  (cd "$home" && apt-get download -qq nvidia-cuda-toolkit && dpkg -x nvidia-cuda-toolkit_*.deb .)
fi
dump=$(mktemp -d)
FLASHATTN_PTX_DUMP=$dump dotnet test --project FlashAttn.Tests -c Release --no-build -- --filter "$filter" > "$dump/tests.log" 2>&1 \
  || { tail -20 "$dump/tests.log"; exit 1; }
for f in "$dump"/$glob; do
  [ -e "$f" ] || continue
  lowered=${f%.ptx}.78.ptx
  python3 - "$f" "$lowered" <<'PY'
import re, sys
text = open(sys.argv[1]).read().replace(".version 8.1", ".version 7.8", 1)
def scalar(m):
    base, offset = m.group(2), int(m.group(3) or 0)
    values = [v.strip() for v in m.group(4).split(",")]
    return " ".join(f"red.global.add.f32 [{base}+{offset + 4 * i}], {v};" for i, v in enumerate(values))
text = re.sub(r"red\.global\.add\.v(2|4)\.f32 \[(%\w+)(?:\+(\d+))?\], \{([^}]*)\};", scalar, text)
# sm_90's bulk copies (the staged dQ of the d' = 128 backward; PTX 8.0) do not assemble here: each bulk reduction becomes two
# global stores of its operands (its registers stay live), its commits and waits go, the proxy fence becomes membar.cta.
# The kernel's registers and spills then approximate CUDA 13's for it; nothing here is run.
text = re.sub(r"cp\.async\.bulk\.commit_group;|cp\.async\.bulk\.wait_group(\.read)? \d+;", "", text)
text = text.replace("fence.proxy.async.shared::cta;", "membar.cta;")
text = re.sub(r"cp\.reduce\.async\.bulk\.global\.shared::cta\.bulk_group\.add\.f32 \[(%\w+)\], \[(%\w+)(?:\+\d+)?\], (%\w+);",
              r"st.global.u32 [\1], \3; st.global.u64 [\1+8], \2;", text)
open(sys.argv[2], "w").write(text)
PY
  report=$("$ptxas" -arch=sm_90 -v "$lowered" -o "${f%.ptx}.cubin" 2>&1 | grep -E "registers|spill|rror" \
    | sed -E 's/ptxas (info|error) *: //' | tr -s ' \n' ' ' || true)
  printf '%-50s %s\n' "$(basename "$f" .ptx)" "$report"
done
echo "(PTX and cubins in $dump)"
