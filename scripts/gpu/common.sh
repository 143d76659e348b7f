# Shared by the scripts/gpu/run-*.sh loops (sourced): where results go, the summary's first line, and ptxas/SASS reports.
# After sourcing: $OUT exists, $summary names the summary log (its first line: GPU, driver, commit, date).
OUT=${OUT:-/tmp/flashattn-out}
mkdir -p "$OUT"
summary=$OUT/summary.log
echo "gpu: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1); commit: $(cat bundle/COMMIT 2>/dev/null); date: $(date -u +%F)" >> "$summary"

# ptxas_report DUMP GLOB [OPS...]: for each DUMP/GLOB PTX file, one line in $OUT/ptxas.log with ptxas -v's registers and
# spills (sm_90) and, when OPS are given, how many SASS instructions of each opcode the cubin has.
ptxas_report() {
  local dump=$1 glob=$2; shift 2
  local f name report census op
  for f in "$dump"/$glob; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .ptx)
    report=$(ptxas -arch=sm_90 -v "$f" -o "$dump/$name.cubin" 2>&1 | grep -E "registers|spill|rror" | tr '\n' ' ')
    census=""
    if [ $# -gt 0 ]; then
      cuobjdump -sass "$dump/$name.cubin" > "$dump/$name.sass" 2>&1
      census="|"
      for op in "$@"; do census+=" $op=$(grep -cE "\b$op\b" "$dump/$name.sass")"; done
    fi
    echo "$name: $report$census" >> "$OUT/ptxas.log"
  done
}

# ab_apps: the bundle's apps unpacked once per side for an A/B in one call: /tmp/apps-new as built, and for each
# bundle-SIDE/ (a base commit's changed assemblies: bundle-base/, and e.g. bundle-mid/ for a three-way A/B)
# /tmp/apps-SIDE with its DLLs laid over them. Run each side with FLASHATTN_APPS=/tmp/apps-SIDE.
ab_apps() {
  rm -rf /tmp/apps-new && mkdir -p /tmp/apps-new && tar -C /tmp/apps-new -xJf bundle/apps.tar.xz && touch /tmp/apps-new/.stamp
  local dir side app
  for dir in bundle-*/; do
    side=${dir#bundle-}; side=${side%/}
    rm -rf "/tmp/apps-$side" && cp -a /tmp/apps-new "/tmp/apps-$side" && touch "/tmp/apps-$side/.stamp"
    for app in Tests Bench App; do cp "$dir"*.dll "/tmp/apps-$side/$app/"; done
  done
}
