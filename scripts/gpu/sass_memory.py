"""Memory side of ncu's source page (CSV, SASS view): per memory opcode the executed instructions, shared wavefronts
against their ideal and L2 sectors against theirs (what told the backward's copies apart from FA2's), then the
instructions with the most samples of chosen stall reasons (MIO throttle and long scoreboard by default: waits on the
shared pipe's queue and on registers an in-flight memory instruction still has to read).

  python3 scripts/gpu/sass_memory.py source.csv [stall reason ...]     (reasons as ncu names them: mio, long_sb, wait …)
"""
import collections, sys

import ncu_source

_, instructions = ncu_source.read(sys.argv[1])
reasons = sys.argv[2:] or ["mio", "long_sb"]

per_op = collections.defaultdict(collections.Counter)
for i in instructions:
    if i.opcode.startswith(("LD", "ST", "RED", "ATOM")):
        counts = per_op[i.opcode]
        counts["instructions"] += i.value("Instructions Executed")
        counts["wavefronts"] += i.value("L1 Wavefronts Shared")
        counts["ideal wavefronts"] += i.value("L1 Wavefronts Shared Ideal")
        counts["sectors"] += i.value("L2 Theoretical Sectors Global")
        counts["ideal sectors"] += i.value("L2 Theoretical Sectors Global Ideal")

print("| opcode | executed (M) | shared wavefronts (M) | ideal | L2 sectors (M) | ideal |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for op, c in sorted(per_op.items(), key=lambda item: -item[1]["instructions"]):
    if c["instructions"]:
        print(f"| {op} | {c['instructions'] / 1e6:.1f} | {c['wavefronts'] / 1e6:.1f} | {c['ideal wavefronts'] / 1e6:.1f} | "
              f"{c['sectors'] / 1e6:.1f} | {c['ideal sectors'] / 1e6:.1f} |")
for reason in reasons:
    column = f"stall_{reason} (Not Issued)"
    found = sorted(((i.value(column), i.offset, i.source[:70]) for i in instructions if i.value(column)), reverse=True)
    print(f"\nstall {reason}: {sum(s for s, _, _ in found):,.0f} samples; most at")
    for samples, offset, source in found[:6]:
        print(f"  {samples:8,.0f}  0x{offset:05x}  {source}")
