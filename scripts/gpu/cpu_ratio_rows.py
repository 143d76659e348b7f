#!/usr/bin/env python3
"""Pairs `Bench cpu --json` (ours) with torch_cpu_sdpa.py's JSON (theirs) row by row and prints ours / PyTorch.

    python3 cpu_ratio_rows.py ours.json torch.json
    python3 cpu_ratio_rows.py --ours ours-r1.json ours-r2.json --torch torch-r1.json torch-r2.json

With several rounds per side (cpu-vs-torch.sh runs them interleaved: ours, PyTorch, ours, PyTorch, ...) each side's row
is its best round (the highest of the rounds' medians): a shared host's slow phases hit one round of one side, not the
comparison. The spread column gives each side's worst round over its best.
"""
import argparse
import json


def key(row):
    return (row["threads"], row["s"], row["d"], bool(row["causal"]), row["pass_"])


def best_rows(paths):
    """Per row key: (best row, worst GFLOP/s over best) across the files; the first file's device line."""
    docs = [json.load(open(path)) for path in paths]
    rows = {}
    for doc in docs:
        for row in doc["rows"]:
            rows.setdefault(key(row), []).append(row)
    best = {k: (max(rs, key=lambda r: r["gflops"]), min(r["gflops"] for r in rs) / max(r["gflops"] for r in rs))
            for k, rs in rows.items()}
    return docs[0], best, [key(r) for r in docs[0]["rows"]]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pair", nargs="*", help="ours.json torch.json (one round each)")
    parser.add_argument("--ours", nargs="+", default=[])
    parser.add_argument("--torch", nargs="+", default=[])
    args = parser.parse_args()
    ours_paths, theirs_paths = (args.ours, args.torch) if args.ours else (args.pair[:1], args.pair[1:2])
    ours_doc, ours, order = best_rows(ours_paths)
    theirs_doc, theirs, _ = best_rows(theirs_paths)
    peak = ours_doc.get("fma_peak_gflops")
    rounds = f"; best of {len(ours_paths)} interleaved rounds per side" if len(ours_paths) > 1 else ""
    print(f"ours:  {ours_doc['device']}" + (f"; FMA peak {peak:.0f} GFLOP/s" if peak else "") + rounds)
    print(f"torch: {theirs_doc['device']}")
    spread = len(ours_paths) > 1
    print("| threads | s | d | causal | pass | ours GFLOP/s | PyTorch GFLOP/s | ours / PyTorch |" + (" spread ours, PyTorch |" if spread else ""))
    print("|---:|---:|---:|:---:|:---|---:|---:|---:|" + ("---|" if spread else ""))
    ratios = []
    for k in order:
        if k not in theirs:
            continue
        (row, ours_spread), (other, theirs_spread) = ours[k], theirs[k]
        ratio = row["gflops"] / other["gflops"]
        ratios.append(ratio)
        print(f"| {row['threads']} | {row['s']} | {row['d']} | {'yes' if row['causal'] else 'no'} | {row['pass_']} | "
              f"{row['gflops']:.1f} | {other['gflops']:.1f} | {ratio:.2f}x |" + (f" {ours_spread:.2f}, {theirs_spread:.2f} |" if spread else ""))
    if ratios:
        product = 1.0
        for r in ratios:
            product *= r
        print(f"\ngeometric mean {product ** (1 / len(ratios)):.2f}x over {len(ratios)} rows; "
              f"min {min(ratios):.2f}x, max {max(ratios):.2f}x")


if __name__ == "__main__":
    main()
