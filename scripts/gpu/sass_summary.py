"""Summarises ncu's source page (CSV, SASS view): executed warp instructions per opcode and the stall samples per
opcode, so the instruction mix of a kernel and where it waits can be read at a glance."""
import collections, csv, sys

rows = list(csv.reader(open(sys.argv[1], newline="")))
header_at = next(i for i, r in enumerate(rows) if any("Source" == c or "# Address" == c or "Address" == c for c in r))
header = rows[header_at]
def col(*names):
    for n in names:
        for i, h in enumerate(header):
            if h.strip() == n:
                return i
    return None
src = col("Source")
executed = col("Warp Instructions Executed", "Instructions Executed")
samples = col("Warp Stall Sampling (All Samples)", "Sampling Data (All)")
not_issued = col("Warp Stall Sampling (Not-issued Samples)", "Sampling Data (Not Issued)")
print("columns:", [h for h in header][:40])
def num(r, i):
    try:
        return float(r[i].replace(",", "")) if i is not None and r[i] else 0.0
    except ValueError:
        return 0.0
ops = collections.Counter(); stalls = collections.Counter(); ni = collections.Counter()
for r in rows[header_at + 1:]:
    if src is None or len(r) <= src: continue
    text = r[src].strip()
    parts = text.split()
    if not parts: continue
    op = parts[1] if parts[0].startswith("@") and len(parts) > 1 else parts[0]
    op = op.split(".")[0]
    ops[op] += num(r, executed); stalls[op] += num(r, samples); ni[op] += num(r, not_issued)
total = sum(ops.values()) or 1
print(f"executed warp instructions: {total:.0f}")
print("| opcode | executed | share | stall samples (all) | not issued |")
for op, n in ops.most_common(25):
    print(f"| {op} | {n:.0f} | {100*n/total:.1f}% | {stalls[op]:.0f} | {ni[op]:.0f} |")
