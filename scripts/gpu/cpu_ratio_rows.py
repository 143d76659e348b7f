#!/usr/bin/env python3
"""Pairs `Bench cpu --json` (ours) with torch_cpu_sdpa.py's JSON (theirs) row by row and prints ours / PyTorch.

    python3 cpu_ratio_rows.py ours.json torch.json
"""
import json
import sys


def key(row):
    return (row["threads"], row["s"], row["d"], bool(row["causal"]), row["pass_"])


def main():
    ours_doc, theirs_doc = (json.load(open(path)) for path in sys.argv[1:3])
    theirs = {key(r): r for r in theirs_doc["rows"]}
    peak = ours_doc.get("fma_peak_gflops")
    print(f"ours:  {ours_doc['device']}" + (f"; FMA peak {peak:.0f} GFLOP/s" if peak else ""))
    print(f"torch: {theirs_doc['device']}")
    print(f"| threads | s | d | causal | pass | ours GFLOP/s | PyTorch GFLOP/s | ours / PyTorch |")
    print(f"|---:|---:|---:|:---:|:---|---:|---:|---:|")
    ratios = []
    for row in ours_doc["rows"]:
        other = theirs.get(key(row))
        if other is None:
            continue
        ratio = row["gflops"] / other["gflops"]
        ratios.append(ratio)
        print(f"| {row['threads']} | {row['s']} | {row['d']} | {'yes' if row['causal'] else 'no'} | {row['pass_']} | "
              f"{row['gflops']:.1f} | {other['gflops']:.1f} | {ratio:.2f}x |")
    if ratios:
        product = 1.0
        for r in ratios:
            product *= r
        print(f"\ngeometric mean {product ** (1 / len(ratios)):.2f}x over {len(ratios)} rows; "
              f"min {min(ratios):.2f}x, max {max(ratios):.2f}x")


if __name__ == "__main__":
    main()
