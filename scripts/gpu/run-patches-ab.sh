#!/usr/bin/env bash
# The experiments kept as patches, in one device call (machines are scarce: one call should answer all of them). After
# scripts/build-gpu-bundle.sh (main) and, for each patch, SIDE=NAME PATCH=FILE scripts/build-ab-base.sh HEAD; carry `bundle` and the
# bundle-NAME folders. Sides that were not built are skipped. Every A/B interleaves main ("new", the bundle as built)
# with the patched side, ROUNDS times (default 2):
#   v41   docs/results/2026-12-07f-h200/v41-walk.patch          (CUDA 12.4's ptxas predicts it worse: build it only with time
#         to spare) Bench modifiers at s = 4k/16k (the block mask's rows), then
#         the block-mask CUDA tests and ncu of the all-full forward on both sides (IMAD count, duration)
#   page  docs/results/2026-12-07f-h200/decode-page-ahead.patch  Bench inference --rows decode (paged against contiguous),
#         then the sequence CUDA tests
#   stages docs/results/2026-12-07g-h100/decode-stages.patch           the same, for decode's three-stage K/V ring
# first the engine's corpus on CUDA (main); then, on main, decode's split counts at b = 16/64 with 32k/128k caches (SPLITS, default "1 2 3 17 33") beside PyTorch's
# decode on those shapes: whether whole waves of groups take back the memory-bound rows' last 3% (docs/performance.md,
# "Next GPU run"). DEADLINE (default 560 s) bounds the whole call; logs packed into logs.tar.gz, the summary printed last.
set -uo pipefail
source "$(dirname "$0")/common.sh"
start=$SECONDS
limit() { local left=$(( ${DEADLINE:-560} - (SECONDS - start) )); [ "$left" -lt "$1" ] && echo $(( left > 1 ? left : 1 )) || echo "$1"; }
ab_apps
run() { local side=$1 seconds=$2 log=$3; shift 3; FLASHATTN_APPS=/tmp/apps-$side timeout "$(limit "$seconds")" bundle/run.sh "$@" > "$OUT/$log" 2>&1; }
# cuda_tests SIDE SECONDS FILTER: the tests FILTER names, on CUDA, with SIDE's build; their counts and first failures in the summary
cuda_tests() {
  FLASHATTN_TEST_DEVICE=cuda run "$1" "$2" "tests-$1-${3##*~}.log" Tests --filter "$3"
  { echo "== CUDA tests ($1, $3)"; grep -hE "total:|failed:|succeeded:" "$OUT/tests-$1-${3##*~}.log" | tail -3
    grep -hE "^failed " "$OUT/tests-$1-${3##*~}.log" | head -5; } >> "$summary"
}
# first, the engine's corpus on CUDA on main (Warp.Or, the 64-bit bit counts, capturing local functions, the CPU's cp.async
# meaning, wgmma, mbarriers, bulk loads and setmaxnreg ran on no GPU)
cuda_tests new 150 "FullyQualifiedName~Corpus"
if [ -d bundle-v41 ]; then
  for round in $(seq 1 "${ROUNDS:-2}"); do
    for side in new v41; do
      run "$side" 110 "modifiers-$side-$round.log" Bench modifiers --seqlens 4096,16384 --md "$OUT/modifiers-$side-$round.md"
      { echo "== modifiers $side round $round"; grep -E "block mask|plain non-causal" "$OUT/modifiers-$side-$round.md" | cut -d'|' -f2-7; } >> "$summary"
    done
  done
  cuda_tests v41 120 "FullyQualifiedName~BlockMask"
  for side in new v41; do
    mkdir -p "$OUT/ncu-$side"
    FLASHATTN_APPS=/tmp/apps-$side OUT=$OUT/ncu-$side SKIP_PTXAS=1 DTYPE=fp16 PASSES=fwd FWD_KERNEL="FlashForwardTensorCore.*BenchDocuments" \
      BENCH_ARGS="modifiers --seqlens 4096 --documents 1 --runs 1 --warmup 1" timeout "$(limit 60)" bash "$(dirname "$0")/run-profile.sh" > /dev/null 2>&1
    { echo "== ncu all-full forward ($side)"; grep -E "Duration" "$OUT/ncu-$side/profile.log" | head -1
      grep -E "^\| (IMAD|HMMA|LDL|STL|SHF|REDUX|VOTE) " "$OUT/ncu-$side/sass-summary-fwd.txt"; } >> "$summary" 2>/dev/null
    rm -f "$OUT/ncu-$side"/*.ncu-rep
  done
fi
# decode's sides: the page lookup a block ahead (page), the three-stage K/V ring (stages, docs/results/2026-12-07g-h100/decode-stages.patch)
decode_sides=$(for side in page stages; do [ -d "bundle-$side" ] && echo -n " $side"; done)
if [ -n "$decode_sides" ]; then
  for round in $(seq 1 "${ROUNDS:-2}"); do
    for side in new $decode_sides; do
      run "$side" 60 "decode-$side-$round.log" Bench inference --rows decode --md "$OUT/decode-$side-$round.md"
      { echo "== decode $side round $round"; grep -E "^\| [0-9]" "$OUT/decode-$side-$round.md"; } >> "$summary"
    done
  done
  for side in $decode_sides; do cuda_tests "$side" 120 "FullyQualifiedName~SequenceKernelTests"; done
fi
for n in ${SPLITS:-1 2 3 17 33}; do
  [ "$(limit 40)" -gt 15 ] || break
  run new 40 "splits-$n.log" Bench inference --rows decode --batches 16,64 --caches 32768,131072 --splits "$n" --md "$OUT/splits-$n.md"
  { echo "== decode, $n splits"; grep -E "^\| [0-9]" "$OUT/splits-$n.md"; } >> "$summary"
done
[ "$(limit 60)" -gt 30 ] && timeout "$(limit 60)" python3 "$(dirname "$0")/torch_decode.py" --batches 16,64 --caches 32768,131072 \
  --json "$OUT/torch-decode.json" > "$OUT/torch-decode.log" 2>&1 && { echo "== PyTorch decode"; tail -8 "$OUT/torch-decode.log"; } >> "$summary"
(cd "$OUT" && tar -czf /tmp/logs.tar.gz --exclude summary.log . && find . -mindepth 1 ! -name summary.log -delete && mv /tmp/logs.tar.gz .)
cat "$summary"
