"""PyTorch SDPA (flash backend, causal) on one GPU at `Bench ring`'s per-rank shape (b = 1, h, S/N, d): the same-run
reference for the ring benchmark's single-GPU and ring per-rank TFLOP/s, forward and forward + backward, counted as
the benchmark counts them (FLOPs = 4·b·s²·h·d / 2 causal, backward 2.5×), timed by CUDA events (median after warm-up).
Takes the ring verb's options (--gpus N, --dtype, --tokens, --heads, --head-dim, --runs, --warmup; others are ignored),
plus --json FILE (these numbers) and --ours FILE (the verb's results JSON: prints ours beside PyTorch's)."""
import argparse, json, sys
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from cuda_timing import median_ms

ap = argparse.ArgumentParser()
ap.add_argument("--gpus", type=int, default=None)
ap.add_argument("--dtype", default="fp16", choices=["fp16", "bf16"])
ap.add_argument("--tokens", type=int, default=1 << 20)
ap.add_argument("--heads", type=int, default=16)
ap.add_argument("--head-dim", type=int, default=128)
ap.add_argument("--runs", type=int, default=5)
ap.add_argument("--warmup", type=int, default=2)
ap.add_argument("--json")
ap.add_argument("--ours")
a, _ = ap.parse_known_args()  # the ring verb's other options (--largest, --transport ...) are not ours
if a.tokens == 0:
    sys.exit("--tokens 0: no weak-scaling shape to compare")
n = a.gpus or torch.cuda.device_count()
s, h, d = a.tokens // n, a.heads, a.head_dim
dtype = torch.float16 if a.dtype == "fp16" else torch.bfloat16
fwd_flops = 4 * s * s * h * d / 2

q, k, v, dout = (torch.rand(1, h, s, d, device="cuda", dtype=dtype) * 2 - 1 for _ in range(4))
for t in (q, k, v):
    t.requires_grad_(True)


def forward():
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def forward_backward():
    torch.autograd.grad(forward(), (q, k, v), dout)


rows = []
with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
    for name, fn, flops in (("fwd", lambda: forward(), fwd_flops), ("fwd_bwd", forward_backward, 3.5 * fwd_flops)):
        try:
            with torch.no_grad() if name == "fwd" else torch.enable_grad():
                ms = median_ms(fn, runs=a.runs, warmups=a.warmup)
            rows.append(dict(pass_=name, ms=ms, tflops=flops / (ms * 1e9)))
        except Exception as e:  # e.g. out of memory at a long S/N
            rows.append(dict(pass_=name, error=f"{type(e).__name__}: {str(e)[:200]}"))

ours = {}
if a.ours:
    try:
        scaling = json.load(open(a.ours)).get("scaling") or {}
        ours = {p["pass"]: p for p in scaling.get("passes", [])}
    except (OSError, ValueError) as e:
        print(f"(could not read {a.ours}: {e})")

print(f"PyTorch {torch.__version__} SDPA flash, causal, {a.dtype}, b=1 h={h} s={s} (S/N = {a.tokens}/{n}) d={d} "
      f"on {torch.cuda.get_device_name()}; median of {a.runs} after {a.warmup} warm-up")
print()
print("| pass | torch ms | torch TFLOP/s | ours single TFLOP/s | ours / torch | ring TFLOP/s per rank | ring / torch |")
print("|---|---:|---:|---:|---:|---:|---:|")
for r in rows:
    if "error" in r:
        print(f"| {r['pass_']} | {r['error']} | | | | | |")
        continue
    o = ours.get(r["pass_"], {})
    single, ring = o.get("single_tflops"), o.get("ring_tflops_per_rank")
    cell = lambda x: f"{x:.1f}" if x is not None else "—"
    ratio = lambda x: f"{x / r['tflops']:.3f}" if x is not None else "—"
    print(f"| {r['pass_']} | {r['ms']:.2f} | {r['tflops']:.1f} | {cell(single)} | {ratio(single)} | {cell(ring)} | {ratio(ring)} |")

if a.json:
    json.dump(dict(device=torch.cuda.get_device_name(), torch=torch.__version__, dtype=a.dtype, ranks=n, tokens=a.tokens,
                   seqlen=s, heads=h, head_dim=d, causal=True, backend="flash",
                   rows=[{("pass" if k == "pass_" else k): v for k, v in r.items()} for r in rows]),
              open(a.json, "w"), indent=1)
