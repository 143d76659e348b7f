"""PyTorch's attention on the configurations of our sweep, timed the same way, and the ratios ours / theirs.

Backends: SDPA's flash, cudnn, mem_efficient and math (torch.nn.attention.sdpa_kernel with one SDPBackend each) and
a naive matmul-softmax-matmul in the input dtype. Configurations as `FlashAttn.Bench sweep`: batch·seqlen = 16384,
heads = 2048 / head_dim, head_dim 64 and 128, causal off and on, seqlen 512 … 16384, fp32 / fp16 / bf16, passes
fwd, bwd (the backward alone, after one forward) and fwd_bwd; `--match ours.json` runs exactly the configurations
of our JSON instead.

Timing: CUDA events around each call, after one warm-up call (kernel choice, cuDNN graph build; it also gives
peak_bytes: torch.cuda.max_memory_allocated above what was allocated before the call). The median of --runs timed
calls (default 10), or of as many as fit in --budget-ms (default 400) at the first timed call's speed, at least 3:
calls slower than 40 ms (math and naive from seqlen 2048, the others' fwd_bwd at 16384 in fp32) run fewer than 10
times, so that the whole sweep stays within about 4 minutes on an H100.
Inputs are random normal, 64 MiB or more per tensor, past the 50 MB L2, so no rotation is needed. TF32 is off:
fp32 matmuls are true fp32.

Layout: q, k, v and dO are allocated (b, s, h, d) like ours and passed to SDPA as transposed views (b, h, s, d),
the layout flash-attn and mem-efficient read natively; math and naive work on the same views.

FLOPs: 4·b·s²·h·d for the forward, halved when causal; the backward 2.5×, forward + backward 3.5× that.
naive_bytes: the b·h·s² score matrix a naive implementation materialises, in the input dtype.

Unsupported combinations (flash on fp32, cuDNN on fp32, …) and out-of-memory (math and naive at large seqlen) are
rows with "error" set and ms null; after an out-of-memory a backend skips the larger seqlens of that configuration.

  python3 scripts/gpu/torch_sdpa_sweep.py --json torch.json [--match ours.json] [--ours ours.json --md ratios.md]
      [--dtypes fp16,bf16] [--head-dims 64,128] [--seqlens 512,1024] [--causal false,true] [--passes fwd,bwd,fwd_bwd]
      [--backends flash,cudnn,mem_efficient,math,naive] [--runs 10] [--budget-ms 1500]
  python3 scripts/gpu/torch_sdpa_sweep.py --from-json torch.json --ours ours.json --md ratios.md   # table only

The ratio table (with --ours): for each configuration of ours, our TFLOP/s divided by each backend's (the same as
their ms / our ms): above 1 we are faster. Markdown to stdout and to --md. Needs torch only when timing.
"""
import argparse
import datetime
import gc
import json
import math
import os
import re
import subprocess
import sys
import time
import warnings

TOKENS = 16384          # batch · seqlen
HIDDEN = 2048           # heads · head_dim
DTYPES = ("fp32", "fp16", "bf16")
HEAD_DIMS = (64, 128)
SEQLENS = (512, 1024, 2048, 4096, 8192, 16384)
PASSES = ("fwd", "bwd", "fwd_bwd")
BACKENDS = ("flash", "cudnn", "mem_efficient", "math", "naive")
PASS_FLOP_FACTOR = {"fwd": 1.0, "bwd": 2.5, "fwd_bwd": 3.5}
MIN_RUNS = 3
OURS = "flashattn"


def forward_flops(batch, seqlen, heads, head_dim, causal):
    """4·b·s²·h·d (two matmuls of 2·s²·d per head), halved when causal."""
    flops = 4.0 * batch * seqlen * seqlen * heads * head_dim
    return flops / 2 if causal else flops


def config_key(row):
    return (row["dtype"], row["head_dim"], row["causal"], row["batch"], row["seqlen"], row["heads"], row["pass"])


# ---------------------------------------------------------------- configurations

def parse_list(text, cast):
    return tuple(cast(x) for x in text.split(",") if x)


def parse_bool(text):
    if text.lower() in ("true", "1", "on", "yes"):
        return True
    if text.lower() in ("false", "0", "off", "no"):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {text}")


def default_configs(args):
    """The sweep's grid: (dtype, head_dim, causal, batch, seqlen, heads, pass)."""
    return [(dtype, d, causal, TOKENS // s, s, HIDDEN // d, p)
            for dtype in args.dtypes for d in args.head_dims for s in args.seqlens
            for causal in args.causal for p in args.passes]


def matched_configs(path):
    """The configurations of our JSON (rows of backend flashattn), in its order, without repeats."""
    with open(path) as f:
        ours = json.load(f)
    seen, configs = set(), []
    for row in ours["results"]:
        if row.get("backend", OURS) != OURS:
            continue
        key = config_key(row)
        if key not in seen:
            seen.add(key)
            configs.append(key)
    return configs


# ---------------------------------------------------------------- timing

def timed(fn, runs, budget_ms):
    """(median ms, peak bytes): a warm-up call, whose peak memory is the one reported (max_memory_allocated above
    what was allocated before it), then cuda_timing.median_ms."""
    import torch
    from cuda_timing import median_ms
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - base
    return median_ms(fn, runs, warmups=0, budget_ms=budget_ms, min_runs=MIN_RUNS), peak


def make_attention(backend, causal, head_dim, seqlen, device):
    """attend(qh, kh, vh) on (b, h, s, d) views for one backend."""
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel
    scale = 1.0 / math.sqrt(head_dim)
    if backend == "naive":
        masked = torch.ones(seqlen, seqlen, dtype=torch.bool, device=device).triu(1) if causal else None

        def attend(qh, kh, vh):
            s = (qh * scale) @ kh.transpose(-1, -2)          # (b, h, s, s) in the input dtype
            if masked is not None:
                s = s.masked_fill(masked, float("-inf"))
            return torch.softmax(s, dim=-1) @ vh
        return attend
    sdp = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION,
           "mem_efficient": SDPBackend.EFFICIENT_ATTENTION, "math": SDPBackend.MATH}[backend]

    def attend(qh, kh, vh):
        with sdpa_kernel(sdp):
            return F.scaled_dot_product_attention(qh, kh, vh, is_causal=causal, scale=scale)
    return attend


def measure(attend, pass_name, q, k, v, d_out, runs, budget_ms):
    """(ms, peak_bytes) of one pass; q, k, v, d_out are (b, s, h, d) leaves."""
    import torch

    def views():
        return q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)

    if pass_name == "fwd":
        def fn():
            with torch.no_grad():
                attend(*views())
        return timed(fn, runs, budget_ms)
    if pass_name == "bwd":
        out = attend(*views())

        def fn():
            torch.autograd.grad(out, (q, k, v), d_out.transpose(1, 2), retain_graph=True)
        try:
            return timed(fn, runs, budget_ms)
        finally:
            del out

    def fn():
        torch.autograd.grad(attend(*views()), (q, k, v), d_out.transpose(1, 2))
    return timed(fn, runs, budget_ms)


WARNING_NAMES = {"flash": "flash attention", "cudnn": "cudnn", "mem_efficient": "memory efficient", "math": "math"}


def first_line(error, caught, backend):
    """The exception's first line, with the reasons SDPA gave as warnings about this backend when it found no kernel."""
    text = (str(error).strip().splitlines() or [type(error).__name__])[0]
    messages = [re.sub(r"\s*\(Triggered internally at [^)]*\)", "", " ".join(str(w.message).split())) for w in caught]
    # "<Backend> kernel not used because:" comes first, the reason in the warnings after it, up to the next backend's
    first = next((i for i, m in enumerate(messages) if WARNING_NAMES.get(backend, backend) in m.lower()), 0)
    last = next((i for i in range(first + 1, len(messages)) if "not used because" in messages[i]), len(messages))
    reasons = [m for m in dict.fromkeys(messages[first:last]) if m]
    if reasons:
        text += " — " + " ".join(reasons)
    return text[:400]


def run_sweep(args, configs):
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = torch.device("cuda")
    dtypes = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    results = []
    # (backend, dtype, head_dim) → [(seqlen, pass rank)] that ran out of memory: a longer sequence, or a pass that
    # needs as much (fwd < bwd < fwd_bwd), or the other causal setting, would too.
    out_of_memory = {}
    # One set of inputs per (dtype, head_dim, batch, seqlen, heads); configurations are grouped by it.
    groups = {}
    for key in configs:
        dtype, d, causal, b, s, h, p = key
        groups.setdefault((dtype, d, b, s, h), []).append((causal, p))
    started = time.time()
    for (dtype, d, b, s, h), members in groups.items():
        gen = torch.Generator(device=device).manual_seed(1234 + s + d)
        q, k, v, d_out = (torch.randn(b, s, h, d, device=device, dtype=dtypes[dtype], generator=gen).requires_grad_(i < 3)
                          for i in range(4))
        elem = q.element_size()
        for causal, p in members:
            flops = forward_flops(b, s, h, d, causal) * PASS_FLOP_FACTOR[p]
            for backend in args.backends:
                row = {"backend": backend, "dtype": dtype, "head_dim": d, "causal": causal, "batch": b, "seqlen": s,
                       "heads": h, "pass": p, "ms": None, "tflops": None, "peak_bytes": None,
                       "naive_bytes": b * h * s * s * elem, "error": None}
                oom = [(s0, r0) for s0, r0 in out_of_memory.get((backend, dtype, d), []) if s0 <= s and r0 <= PASSES.index(p)]
                if oom:
                    row["error"] = f"skipped: out of memory at seqlen {oom[0][0]} ({PASSES[oom[0][1]]})"
                else:
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        try:
                            attend = make_attention(backend, causal, d, s, device)
                            if args.settle_ms > 0:  # as our sweep's --settle-ms: the GPU idles before each pass
                                torch.cuda.synchronize()
                                time.sleep(args.settle_ms / 1000)
                            ms, peak = measure(attend, p, q, k, v, d_out, args.runs, args.budget_ms)
                            row.update(ms=round(ms, 4), tflops=round(flops / ms / 1e9, 2), peak_bytes=int(peak))
                        except torch.cuda.OutOfMemoryError:
                            row["error"] = "out of memory"
                            out_of_memory.setdefault((backend, dtype, d), []).append((s, PASSES.index(p)))
                        except RuntimeError as e:
                            row["error"] = first_line(e, caught, backend)
                    attend = None
                    if row["error"]:   # give back what the failed call held; otherwise the cache serves the next
                        gc.collect()
                        torch.cuda.empty_cache()
                results.append(row)
                shown = f"{row['ms']:9.3f} ms {row['tflops']:7.1f} TFLOP/s" if row["ms"] is not None else row["error"][:90]
                print(f"[{time.time() - started:6.1f} s] {backend:13s} {dtype} d={d:3d} causal={causal!s:5s} s={s:5d} "
                      f"{p:7s} {shown}", flush=True)
        del q, k, v, d_out
        gc.collect()
        torch.cuda.empty_cache()
    return results


def machine_info():
    import torch
    info = {"device": torch.cuda.get_device_name(), "driver": None}
    try:
        info["driver"] = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                        capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        info["driver"] = f"CUDA {torch.version.cuda}"
    info["torch"] = torch.__version__
    return info


def commit():
    """The bundle's commit on the GPU machine, else git's."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    try:
        with open(os.path.join(root, "bundle", "COMMIT")) as f:
            return f.read().strip()
    except OSError:
        pass
    try:
        return subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


# ---------------------------------------------------------------- ratio table

def ratio_table(ours, theirs, backends):
    """Markdown: per configuration of ours, our TFLOP/s and ours / theirs per backend (their ms / our ms)."""
    by_key = {}
    for row in theirs["results"]:
        by_key[(row["backend"],) + config_key(row)] = row
    lines = ["| dtype | d | causal | seqlen | pass | ours TFLOP/s | " + " | ".join(backends) + " |",
             "|---|---:|---|---:|---|---:|" + "---:|" * len(backends)]
    logs = {b: [] for b in backends}
    for row in ours["results"]:
        if row.get("backend", OURS) != OURS:
            continue
        cells = []
        for backend in backends:
            other = by_key.get((backend,) + config_key(row))
            if row.get("ms") is None:
                cells.append("—")
            elif other is None:
                cells.append("not run")
            elif other.get("ms") is None:
                cells.append("—")
            else:
                ratio = other["ms"] / row["ms"]
                logs[backend].append(math.log(ratio))
                cells.append(f"{ratio:.2f}×")
        ours_tflops = f"{row['tflops']:.1f}" if row.get("ms") is not None else "ours: " + (row.get("error") or "no time")[:60]
        lines.append(f"| {row['dtype']} | {row['head_dim']} | {'yes' if row['causal'] else 'no'} | {row['seqlen']} | "
                     f"{row['pass']} | {ours_tflops} | " + " | ".join(cells) + " |")
    means = [f"**{math.exp(sum(v) / len(v)):.2f}×** ({len(v)})" if v else "—" for v in logs.values()]
    lines.append("| geometric mean | | | | | | " + " | ".join(means) + " |")
    header = ("Ours / theirs: our TFLOP/s over theirs (= their ms / our ms; above 1 we are faster). "
              "— : their backend failed or ran out of memory (see the JSON's error); not run: no such row in theirs.")
    return header + "\n\n" + "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="write the torch results here")
    ap.add_argument("--match", help="run exactly the configurations of this JSON of ours")
    ap.add_argument("--ours", help="our JSON: print the ratio table ours / theirs")
    ap.add_argument("--md", help="write the ratio table here (with --ours)")
    ap.add_argument("--from-json", help="skip timing: read torch results from this JSON (for the table)")
    ap.add_argument("--dtypes", type=lambda t: parse_list(t, str), default=DTYPES)
    ap.add_argument("--head-dims", type=lambda t: parse_list(t, int), default=HEAD_DIMS)
    ap.add_argument("--seqlens", type=lambda t: parse_list(t, int), default=SEQLENS)
    ap.add_argument("--causal", type=lambda t: parse_list(t, parse_bool), default=(False, True))
    ap.add_argument("--passes", type=lambda t: parse_list(t, str), default=PASSES)
    ap.add_argument("--backends", type=lambda t: parse_list(t, str), default=BACKENDS)
    ap.add_argument("--runs", type=int, default=10, help="timed calls per measurement (median)")
    ap.add_argument("--budget-ms", type=float, default=400,
                    help="a measurement whose calls would take longer in all gets fewer runs (at least 3)")
    ap.add_argument("--settle-ms", type=float, default=0,
                    help="idle this long before each measurement (as Bench sweep --settle-ms), so that no pass starts "
                         "on the clocks the one before it left")
    args = ap.parse_args()
    for name, allowed in (("dtypes", DTYPES), ("passes", PASSES), ("backends", BACKENDS)):
        bad = [x for x in getattr(args, name) if x not in allowed]
        if bad:
            ap.error(f"--{name}: unknown {bad}; choose from {list(allowed)}")
    for s in args.seqlens:
        if s <= 0 or TOKENS % s:
            ap.error(f"--seqlens: {s} does not divide {TOKENS}")
    for d in args.head_dims:
        if d <= 0 or d > HIDDEN:
            ap.error(f"--head-dims: {d} is not in 1…{HIDDEN} (heads = {HIDDEN} // d, as flash-attn's benchmark)")

    if args.from_json:
        with open(args.from_json) as f:
            theirs = json.load(f)
    else:
        configs = matched_configs(args.match) if args.match else default_configs(args)
        started = time.time()
        results = run_sweep(args, configs)
        theirs = dict(machine_info(), commit=commit(), date=datetime.datetime.now(datetime.timezone.utc).isoformat(),
                      command=" ".join(sys.argv), results=results)
        print(f"torch sweep: {len(results)} rows in {time.time() - started:.0f} s "
              f"({sum(r['ms'] is None for r in results)} with an error)")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(theirs, f, indent=1)
    if args.ours:
        with open(args.ours) as f:
            ours = json.load(f)
        table = ratio_table(ours, theirs, [b for b in BACKENDS if b in args.backends])
        print(table)
        if args.md:
            with open(args.md, "w") as f:
                f.write(f"# Ours / PyTorch ({theirs.get('device')}, commit {theirs.get('commit')})\n\n" + table)


if __name__ == "__main__":
    main()
