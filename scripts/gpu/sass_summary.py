"""Summarises ncu's source page (CSV, SASS view): executed warp instructions and stall samples per opcode, then the
instructions with the most not-issued samples and their two main stall reasons, so the instruction mix of a kernel
and where it waits can be read at a glance.

  ncu --import run.ncu-rep --page source --csv --print-source sass > source.csv
  python3 scripts/gpu/sass_summary.py source.csv [top]
"""
import collections, sys

import ncu_source

header, instructions = ncu_source.read(sys.argv[1])
top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
reasons = [h for h in header if h.startswith("stall_") and h.endswith("(Not Issued)")]

ops, stalls, waits = collections.Counter(), collections.Counter(), collections.Counter()
for i in instructions:
    ops[i.opcode] += i.value("Instructions Executed")
    stalls[i.opcode] += i.value("Warp Stall Sampling (All Samples)")
    waits[i.opcode] += i.value("Warp Stall Sampling (Not-issued Samples)")
total = sum(ops.values()) or 1
print(f"executed warp instructions: {total:.0f}")
print("| opcode | executed | share | stall samples (all) | not issued |")
for op, n in ops.most_common(top):
    print(f"| {op} | {n:.0f} | {100 * n / total:.1f}% | {stalls[op]:.0f} | {waits[op]:.0f} |")
print(f"\ninstructions with the most not-issued samples (offset, SASS, executed, not issued, main reasons):")
for i in sorted(instructions, key=lambda i: -i.value("Warp Stall Sampling (Not-issued Samples)"))[:top]:
    why = {r[len("stall_"):-len(" (Not Issued)")]: i.value(r) for r in reasons}
    main = ", ".join(f"{k} {v:.0f}" for k, v in sorted(why.items(), key=lambda kv: -kv[1])[:2] if v > 0)
    print(f"{i.offset:#07x}  {i.source[:60]:60}  {i.value('Instructions Executed'):>12.0f}  "
          f"{i.value('Warp Stall Sampling (Not-issued Samples)'):>8.0f}  {main}")
