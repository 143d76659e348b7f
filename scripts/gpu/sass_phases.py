"""Splits ncu's source page (CSV, SASS view) of a kernel at its BAR instructions: per segment the share of stall samples,
the executed instructions, FFMAs and shared loads, and shared wavefronts per load (measured and ideal), so the phases
of a tiled kernel (between barriers) can be weighed against the work they do.

  python3 scripts/gpu/sass_phases.py source.csv
"""
import collections, sys

import ncu_source

_, instructions = ncu_source.read(sys.argv[1])
segment, segments = 0, collections.defaultdict(collections.Counter)
total = 0.0
for i in instructions:
    executed, samples = i.value("Instructions Executed"), i.value("Warp Stall Sampling (All Samples)")
    total += samples
    s = segments[segment]
    s["samples"] += samples
    s["instr"] += executed
    if i.full_opcode.startswith("FFMA"):
        s["ffma"] += executed
    if i.full_opcode.startswith("LDS"):  # LDS and LDSM
        s["lds"] += executed
        s["wf"] += i.value("L1 Wavefronts Shared")
        s["wfideal"] += i.value("L1 Wavefronts Shared Ideal")
    if i.full_opcode.startswith("REDG"):
        s["red"] += executed
    if i.full_opcode.startswith("BAR"):
        segment += 1
print("segment | samples% | instr(M) | ffma(M) | lds(M) | wavefronts/lds | ideal/lds | red")
for k in sorted(segments):
    s = segments[k]
    if s["samples"] == 0 and s["instr"] == 0:
        continue
    print(k, f"{(100 * s['samples'] / total if total else 0):5.1f}%", f"{s['instr'] / 1e6:8.1f}", f"{s['ffma'] / 1e6:8.1f}",
          f"{s['lds'] / 1e6:6.1f}", f"{(s['wf'] / s['lds'] if s['lds'] else 0):.2f}",
          f"{(s['wfideal'] / s['lds'] if s['lds'] else 0):.2f}", int(s["red"]))
