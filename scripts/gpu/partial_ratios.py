#!/usr/bin/env python3
"""Ours / PyTorch ratios from a PyTorch sweep that was cut short (its log lines, not its JSON, which it writes at the end):
    python3 scripts/gpu/partial_ratios.py ours.json torch.log > ratios-partial.md
ours.json from `Bench sweep --json`, torch.log from scripts/gpu/torch_sdpa_sweep.py's output; the rows PyTorch reached."""
import json,re,math,sys
ours={(r['dtype'],r['head_dim'],r['causal'],r['seqlen'],r['pass']):r['ms'] for r in json.load(open(sys.argv[1]))['results']}
t={}
for l in open(sys.argv[2]):
    m=re.match(r'\[\s*[\d.]+ s\] (\w+)\s+(\w+) d=\s*(\d+) causal=(\w+)\s+s=\s*(\d+) (\w+)\s+([\d.]+) ms',l)
    if m:
        b,dt,d,c,s,p,ms=m.groups(); t[(b,dt,int(d),c=='True',int(s),p)]=float(ms)
print("| dtype | d | causal | s | pass | ours ms | FA2 ms | cuDNN ms | ours/FA2 | ours/cuDNN |")
print("|---|---:|---|---:|---|---:|---:|---:|---:|---:|")
g={}
for k,ms in ours.items():
    f=t.get(('flash',)+k); c=t.get(('cudnn',)+k)
    if f is None: continue
    r=f/ms; g.setdefault(k[4],[]).append(r)
    print(f"| {k[0]} | {k[1]} | {'yes' if k[2] else 'no'} | {k[3]} | {k[4]} | {ms:.3f} | {f:.3f} | {c if c else float('nan'):.3f} | {r:.3f} | {(c/ms if c else float('nan')):.3f} |")
for p,v in g.items(): print(p, len(v), "geomean vs FA2 %.3f"%math.exp(sum(map(math.log,v))/len(v)), "min %.3f max %.3f"%(min(v),max(v)))
