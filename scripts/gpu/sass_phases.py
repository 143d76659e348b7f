"""Splits ncu's source page (CSV, SASS view) of a kernel at its BAR instructions: per segment the share of stall samples,
the executed instructions, FFMAs and shared loads, and shared wavefronts per load (measured and ideal), so the phases
of a tiled kernel (between barriers) can be weighed against the work they do.

  python3 scripts/gpu/sass_phases.py source.csv
"""
import csv, sys, collections
rows = list(csv.reader(open(sys.argv[1], newline="")))
h = next(i for i, r in enumerate(rows) if "Address" in r and "Source" in r)
H = rows[h]; A=H.index("Address"); S=H.index("Source"); E=H.index("Instructions Executed")
SA=H.index("Warp Stall Sampling (All Samples)"); W=H.index("L1 Wavefronts Shared"); WI=H.index("L1 Wavefronts Shared Ideal")
def num(t):
    try: return float(t.replace(",",""))
    except: return 0.0
seg=0; segs=collections.defaultdict(lambda: collections.Counter()); tot=0
lds=collections.Counter()
for r in rows[h+1:]:
    if len(r)<=W or not r[A].startswith("0x"): continue
    src=r[S].strip(); ex=num(r[E]); sa=num(r[SA]); tot+=sa
    words=src.split()
    if len(words) < (2 if src.startswith("@") else 1): continue
    op=words[1] if src.startswith("@") else words[0]
    s=segs[seg]; s['samples']+=sa; s['instr']+=ex
    if op.startswith("FFMA"): s['ffma']+=ex
    if op.startswith("LDS"): s['lds']+=ex; s['wf']+=num(r[W]); s['wfideal']+=num(r[WI]); lds[op]+=ex
    if op.startswith("REDG"): s['red']+=ex
    if op.startswith("BAR"): seg+=1; segs[seg]['first']=int(r[A],16)
print("segment | samples% | instr(M) | ffma(M) | lds(M) | wavefronts/lds | ideal/lds | red")
for k in sorted(segs):
    s=segs[k]
    if s['samples']==0 and s['instr']==0: continue
    print(k, f"{(100*s['samples']/tot if tot else 0):5.1f}%", f"{s['instr']/1e6:8.1f}", f"{s['ffma']/1e6:8.1f}", f"{s['lds']/1e6:6.1f}",
          f"{(s['wf']/s['lds'] if s['lds'] else 0):.2f}", f"{(s['wfideal']/s['lds'] if s['lds'] else 0):.2f}", int(s['red']))
