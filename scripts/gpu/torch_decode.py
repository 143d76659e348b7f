"""Decode beside ours (issue 13): PyTorch SDPA's flash and cuDNN backends on s_q = 1 against a KV cache, fp16,
GQA 32/8, d = 128 (enable_gqa), timed with CUDA events (median of 20 after 5 warm-up), same shapes as
`FlashAttn.Bench inference --rows decode`. With --ours (that verb's markdown) prints the joined table:
ours / the faster of flash and cuDNN per row (> 1: we are faster), and paged / contiguous for ours."""
import argparse, json, re, statistics
import torch
import torch.nn.functional as F
from torch.nn.attention import sdpa_kernel, SDPBackend

ap = argparse.ArgumentParser()
ap.add_argument("--batches", default="1,16,64")
ap.add_argument("--caches", default="4096,32768,131072")
ap.add_argument("--json")
ap.add_argument("--ours")
a = ap.parse_args()
H, HK, D = 32, 8, 128
rows = []
for b in map(int, a.batches.split(",")):
    for cache in map(int, a.caches.split(",")):
        q = torch.randn(b, H, 1, D, device="cuda", dtype=torch.float16)
        k = torch.randn(b, HK, cache, D, device="cuda", dtype=torch.float16)
        v = torch.randn_like(k)
        for name, be in (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
            try:
                with sdpa_kernel(be):
                    f = lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
                    for _ in range(5): f()
                    torch.cuda.synchronize()
                    ts = []
                    for _ in range(20):
                        s, e = torch.cuda.Event(True), torch.cuda.Event(True)
                        s.record(); f(); e.record(); torch.cuda.synchronize(); ts.append(s.elapsed_time(e))
                ms = statistics.median(ts)
                rows.append(dict(b=b, cache=cache, backend=name, ms=ms, kv_TBps=2 * b * cache * HK * D * 2 / (ms * 1e9)))
            except Exception as ex:
                rows.append(dict(b=b, cache=cache, backend=name, error=str(ex)[:120]))
        del q, k, v
        torch.cuda.empty_cache()
if a.json:
    json.dump(dict(device=torch.cuda.get_device_name(), torch=torch.__version__, rows=rows), open(a.json, "w"), indent=1)
best = {}
for r in rows:
    if "ms" in r:
        key = (r["b"], r["cache"])
        best[key] = min(best.get(key, (1e9, ""))[0], r["ms"]), r["backend"] if r["ms"] < best.get(key, (1e9, ""))[0] else best[key][1]
if not a.ours:
    for r in rows: print(r)
    raise SystemExit
ours = {}
for line in open(a.ours):
    m = re.match(r"\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*([a-z]+(?: \d+)?)\s*\|\s*(\d*)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|", line)
    if m: ours[(int(m[1]), int(m[2]), m[3])] = (float(m[5]), float(m[6]), m[4])
print("| b | cache | torch best (ms, TB/s) | ours contiguous (ms, TB/s, splits) | ratio | ours paged (ms, TB/s) | paged/contiguous |")
print("|---|---|---|---|---|---|---|")
ratios = []
for (b, cache), (ms, backend) in sorted(best.items()):
    c = ours.get((b, cache, "contiguous"))
    p = next((v for k, v in ours.items() if k[0] == b and k[1] == cache and k[2].startswith("paged")), None)
    tb = 2 * b * cache * HK * D * 2 / (ms * 1e9)
    ratio = ms / c[0] if c else float("nan")
    if c: ratios.append(ratio)
    print(f"| {b} | {cache} | {ms:.4f} ({backend}), {tb:.2f} | " + (f"{c[0]:.4f}, {c[1]:.2f}, {c[2]} | {ratio:.2f}× |" if c else "– | – |")
          + (f" {p[0]:.4f}, {p[1]:.2f} | {c[0] / p[0]:.2f} |" if p and c else " – | – |"))
if ratios:
    print(f"\ngeometric mean ours vs the faster of flash/cuDNN: {statistics.geometric_mean(ratios):.2f}×; worst {min(ratios):.2f}×")
