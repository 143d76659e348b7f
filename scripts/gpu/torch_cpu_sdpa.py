#!/usr/bin/env python3
"""PyTorch's CPU scaled_dot_product_attention on the grid of FlashAttn.Bench's `cpu` verb (issue 12), fp32.

    python3 torch_cpu_sdpa.py --threads 16 --json torch-cpu.json

Layout (b, h, s, d) as SDPA wants it; b = 1, h = 8; d in {64, 128}, s in {512, 1024, 2048, 4096}, causal off/on,
forward and forward+backward. Warm-up calls for --warmup-ms (at least one; as Bench cpu), then the median of --repeats. FLOPs as FlashAttn.Bench's
AttentionFlops: 4*b*h*s*s*d, halved when causal; forward+backward counts 3.5x the forward. Rows have the schema of
`Bench cpu --json` (threads, b, h, s, d, causal, pass_, ms, gflops), so scripts/gpu/cpu-vs-torch.sh can pair them.
"""
import argparse
import json
import platform
import statistics
import time

import torch
import torch.nn.functional as F


def flops(b, h, s, d, causal, pass_):
    forward = 4.0 * b * h * s * s * d * (0.5 if causal else 1.0)
    return forward * (3.5 if pass_ == "fwd+bwd" else 1.0)


def time_call(b, h, s, d, causal, pass_, repeats, warmup_ms):
    q, k, v = (torch.randn(b, h, s, d, dtype=torch.float32, requires_grad=(pass_ == "fwd+bwd")) for _ in range(3))
    d_out = torch.randn(b, h, s, d, dtype=torch.float32)

    def call():
        out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        if pass_ == "fwd+bwd":
            out.backward(d_out)
            q.grad = k.grad = v.grad = None

    def median_ms():
        start = time.perf_counter()
        call()  # warm-up, for at least warmup_ms
        while (time.perf_counter() - start) * 1e3 < warmup_ms:
            call()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            call()
            times.append((time.perf_counter() - start) * 1e3)
        return statistics.median(times)

    if pass_ == "fwd":
        with torch.no_grad():
            return median_ms()
    return median_ms()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, required=True, help="torch.set_num_threads (use the same for Bench cpu)")
    parser.add_argument("--json", required=True, help="output file")
    parser.add_argument("--seqlens", default="512,1024,2048,4096")
    parser.add_argument("--headdims", default="64,128")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup-ms", type=float, default=500, help="warm-up calls for this long first (at least one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for d in (int(x) for x in args.headdims.split(",")):
        for s in (int(x) for x in args.seqlens.split(",")):
            for causal in (False, True):
                for pass_ in ("fwd", "fwd+bwd"):
                    ms = time_call(args.batch, args.heads, s, d, causal, pass_, args.repeats, args.warmup_ms)
                    gflops = flops(args.batch, args.heads, s, d, causal, pass_) / (ms * 1e6)
                    rows.append(dict(threads=args.threads, b=args.batch, h=args.heads, s=s, d=d, causal=causal,
                                     pass_=pass_, ms=ms, gflops=gflops))
                    print(f"s={s:5d} d={d:3d} causal={causal!s:5} {pass_:8s} {ms:10.2f} ms {gflops:8.1f} GFLOP/s", flush=True)
    document = dict(device=f"{platform.processor() or platform.machine()}, PyTorch {torch.__version__} CPU SDPA fp32, "
                           f"{args.threads} threads, median of {args.repeats} after {args.warmup_ms:g} ms of warm-up calls; FLOPs 4*b*h*s*s*d, halved causal, fwd+bwd 3.5x",
                    rows=rows)
    with open(args.json, "w") as f:
        json.dump(document, f, indent=1)


if __name__ == "__main__":
    main()
