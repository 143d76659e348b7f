#!/usr/bin/env python3
"""New / base TFLOP/s per sweep row from A/B runs of one call (scripts/gpu/run-ab.sh): each side's best of its
repeats, the ratio, and the geometric mean per pass. Usage: ab_compare.py --base a.json [b.json ...] --new c.json [...]"""
import argparse, json, math
from collections import defaultdict

ap = argparse.ArgumentParser()
ap.add_argument("--base", nargs="+", required=True)
ap.add_argument("--new", nargs="+", required=True)
args = ap.parse_args()

def best(files):
    rows = {}
    for f in files:
        for r in json.load(open(f))["results"]:
            if r.get("error") or not r.get("tflops"):
                continue
            key = (r["dtype"], r["head_dim"], r["seqlen"], r["causal"], r["pass"])
            rows[key] = max(rows.get(key, 0.0), r["tflops"])
    return rows

base, new = best(args.base), best(args.new)
print("| dtype | d | s | causal | pass | base TFLOP/s | new TFLOP/s | new / base |")
print("|---|---:|---:|:---:|---|---:|---:|---:|")
logs = defaultdict(list)
for key in sorted(set(base) & set(new)):
    ratio = new[key] / base[key]
    logs[key[4]].append(math.log(ratio))
    dtype, d, s, causal, p = key
    print(f"| {dtype} | {d} | {s} | {'yes' if causal else 'no'} | {p} | {base[key]:.1f} | {new[key]:.1f} | {ratio:.3f} |")
for p, l in sorted(logs.items()):
    print(f"geometric mean new / base, {p}: {math.exp(sum(l) / len(l)):.3f} over {len(l)} rows")
