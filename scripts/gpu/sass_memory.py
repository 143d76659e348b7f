"""Memory side of ncu's source page (CSV, SASS view): per memory opcode the executed instructions, shared wavefronts
against their ideal and L2 sectors against theirs (what told the backward's copies apart from FA2's), then the
instructions with the most samples of chosen stall reasons (MIO throttle and long scoreboard by default: waits on the
shared pipe's queue and on registers an in-flight memory instruction still has to read).

  python3 scripts/gpu/sass_memory.py source.csv [stall reason ...]     (reasons as ncu names them: mio, long_sb, wait …)
"""
import collections, csv, sys

rows = list(csv.reader(open(sys.argv[1], newline="")))
reasons = sys.argv[2:] or ["mio", "long_sb"]
header_at = next(i for i, r in enumerate(rows) if "Address" in r and "Source" in r)
header = rows[header_at]
column = {name: i for i, name in enumerate(header)}


def number(r, name):
    try:
        return float(r[column[name]].replace(",", ""))
    except (KeyError, ValueError, IndexError):
        return 0.0


def opcode(source):
    words = source.split()
    return (words[1] if words and words[0].startswith("@") else (words[0] if words else "")).split(".")[0]


per_op = collections.defaultdict(collections.Counter)
stalls = {reason: [] for reason in reasons}
base = None
for r in rows[header_at + 1:]:
    if len(r) <= column["Source"] or not r[column["Address"]].startswith("0x"):
        continue
    address = int(r[column["Address"]], 16)
    base = address if base is None else base
    op = opcode(r[column["Source"]])
    executed = number(r, "Instructions Executed")
    if op.startswith(("LD", "ST", "RED", "ATOM")):
        counts = per_op[op]
        counts["instructions"] += executed
        counts["wavefronts"] += number(r, "L1 Wavefronts Shared")
        counts["ideal wavefronts"] += number(r, "L1 Wavefronts Shared Ideal")
        counts["sectors"] += number(r, "L2 Theoretical Sectors Global")
        counts["ideal sectors"] += number(r, "L2 Theoretical Sectors Global Ideal")
    for reason in reasons:
        samples = number(r, f"stall_{reason} (Not Issued)")
        if samples:
            stalls[reason].append((samples, address - base, r[column["Source"]].strip()[:70]))

print("| opcode | executed (M) | shared wavefronts (M) | ideal | L2 sectors (M) | ideal |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for op, c in sorted(per_op.items(), key=lambda item: -item[1]["instructions"]):
    if c["instructions"]:
        print(f"| {op} | {c['instructions'] / 1e6:.1f} | {c['wavefronts'] / 1e6:.1f} | {c['ideal wavefronts'] / 1e6:.1f} | "
              f"{c['sectors'] / 1e6:.1f} | {c['ideal sectors'] / 1e6:.1f} |")
for reason in reasons:
    found = sorted(stalls[reason], reverse=True)
    print(f"\nstall {reason}: {sum(s for s, _, _ in found):,.0f} samples; most at")
    for samples, offset, source in found[:6]:
        print(f"  {samples:8,.0f}  0x{offset:05x}  {source}")
