"""Summarises ncu's source page (CSV, SASS view): executed warp instructions and stall samples per opcode, then the
instructions with the most not-issued samples and their two main stall reasons, so the instruction mix of a kernel
and where it waits can be read at a glance.

  ncu --import run.ncu-rep --page source --csv --print-source sass > source.csv
  python3 scripts/gpu/sass_summary.py source.csv [top]
"""
import collections, csv, sys

rows = list(csv.reader(open(sys.argv[1], newline="")))
top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
header_at = next(i for i, r in enumerate(rows) if "Address" in r and "Source" in r)
header = rows[header_at]
address, source = header.index("Address"), header.index("Source")
executed = header.index("Instructions Executed")
samples = header.index("Warp Stall Sampling (All Samples)")
not_issued = header.index("Warp Stall Sampling (Not-issued Samples)")
reasons = {i: h[len("stall_"):-len(" (Not Issued)")] for i, h in enumerate(header)
           if h.startswith("stall_") and h.endswith("(Not Issued)")}

def number(text):
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return 0.0

instructions = []
for r in rows[header_at + 1:]:
    if len(r) <= max(executed, not_issued) or not r[address].startswith("0x"):
        continue
    words = r[source].split()
    if not words:
        continue
    op = (words[1] if words[0].startswith("@") and len(words) > 1 else words[0]).split(".")[0]
    instructions.append((int(r[address], 16), r[source].strip(), op, number(r[executed]), number(r[samples]),
                         number(r[not_issued]), {name: number(r[i]) for i, name in reasons.items()}))

ops, stalls, waits = collections.Counter(), collections.Counter(), collections.Counter()
for _, _, op, n, s, w, _ in instructions:
    ops[op] += n; stalls[op] += s; waits[op] += w
total = sum(ops.values()) or 1
print(f"executed warp instructions: {total:.0f}")
print("| opcode | executed | share | stall samples (all) | not issued |")
for op, n in ops.most_common(top):
    print(f"| {op} | {n:.0f} | {100 * n / total:.1f}% | {stalls[op]:.0f} | {waits[op]:.0f} |")
base = instructions[0][0] if instructions else 0
print(f"\ninstructions with the most not-issued samples (offset, SASS, executed, not issued, main reasons):")
for at, text, _, n, _, w, why in sorted(instructions, key=lambda i: -i[5])[:top]:
    main = ", ".join(f"{k} {v:.0f}" for k, v in sorted(why.items(), key=lambda kv: -kv[1])[:2] if v > 0)
    print(f"{at - base:#07x}  {text[:60]:60}  {n:>12.0f}  {w:>8.0f}  {main}")
