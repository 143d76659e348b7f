"""Prints one row per configuration: TFLOP/s of each variant (var-*.json in DIR) and PyTorch's mem-efficient (torch-var.json)."""
import glob, json, os, sys

def key(r):
    return (r["head_dim"], r["causal"], r["seqlen"], r["pass"])

out = sys.argv[1]
runs = {}
for path in sorted(glob.glob(os.path.join(out, "var-*.json"))):
    name = os.path.basename(path)[4:-5]
    runs[name] = {key(r): r.get("tflops") for r in json.load(open(path))["results"]}
torch = {}
tpath = os.path.join(out, "torch-var.json")
if os.path.exists(tpath):
    torch = {key(r): r.get("tflops") for r in json.load(open(tpath))["results"] if r["backend"] == "mem_efficient"}
names = list(runs)
keys = sorted({k for r in runs.values() for k in r})
print("| d | causal | s | pass | " + " | ".join(names) + " | mem-eff |")
for k in keys:
    cells = [f"{runs[n].get(k) or 0:.1f}" for n in names]
    print(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | " + " | ".join(cells) + f" | {torch.get(k) or 0:.1f} |")
