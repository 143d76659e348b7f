"""The correctness oracle from outside the project: PyTorch checks FlashAttn's O, L, dQ, dK and dV.

On the GPU machine, after scripts/build-gpu-bundle.sh:

  python3 scripts/gpu/torch_oracle.py [--dir /tmp/flashattn-oracle] [--out $OUT] [--bench "bundle/run.sh Bench"]
      [--dtypes fp32,fp16,bf16] [--cases odd777,gqa] [--skip-run]

1. Writes the cases to --dir: cases.json and per case q.bin, k.bin, v.bin, do.bin, raw little-endian in the case's
   dtype, layout (b, s, h, d) like ours; random normal inputs (seeded; never zeros).
2. Runs `<bench> oracle --dir DIR`: our public API (Forward with the log-sum-exp, then Backward) on the default
   device; it writes o.bin, lse.bin (fp32, (b, h_q, s_q)), dq.bin, dk.bin, dv.bin per case and results.json.
3. Compares with attention written out in PyTorch (scores, mask, softmax, P·V; gradients by autograd):
   the reference in float64 on the GPU from the same dtype-rounded inputs, and naive attention in the case's
   dtype (every matmul rounded to the dtype, softmax in fp32 rounded to the dtype, L = logsumexp in fp32 of the
   rounded scores: what NaiveAttention in FlashAttn.Kernels does). The rule, per tensor, is the one of the kernel
   table in FlashAttn.Tests (flash-attn's): max|ours − fp64| ≤ factor · max|naive − fp64| + slack, with factor 2 for
   O and L and 3 for dQ, dK, dV; slack 1e-5 for fp16 and bf16 as there, 1e-6 for fp32 (errors there are ~1e-6, so
   1e-5 would pass anything). Rows that see no key (bottom-right causal with s_q > s_k) must give O = 0,
   L = +inf and dQ = 0 exactly. GQA/MQA: dK, dV of a kv head are the sums over its query heads.
4. Checks the mask convention against torch itself: SDPA's math backend in float64 with
   torch.nn.attention.bias.causal_lower_right (our BottomRight: query i sees key j iff j ≤ i + s_k − s_q) or
   is_causal=True (our TopLeft: j ≤ i) must equal the fp64 reference on the rows that see a key. SDPA's math
   backend in the case's dtype is shown beside (column "math", O only) but takes no part in the rule.

Prints a PASS/FAIL table, writes oracle.json and oracle.md to --out, exits 1 on any failure.
"""
import argparse
import datetime
import json
import math
import os
import shlex
import struct
import subprocess
import sys
import time
import warnings
import zlib

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.attention.bias import causal_lower_right

FORWARD_FACTOR, GRADIENT_FACTOR = 2.0, 3.0
SLACK = {"fp32": 1e-6, "fp16": 1e-5, "bf16": 1e-5}   # absolute floor of the bound per dtype
CONVENTION_TOLERANCE = 1e-9   # fp64 SDPA math vs the fp64 reference: the same sums in another order
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
TENSORS = ("O", "L", "dQ", "dK", "dV")

# name, b, s_q, s_k, h_q, h_kv, d, causal, alignment, scale (None: 1/√d)
CONFIGS = [
    ("odd777", 2, 777, 777, 4, 4, 64, False, "bottom_right", None),
    ("sq333_sk555", 1, 333, 555, 4, 4, 128, False, "bottom_right", None),
    ("causal_br_sq333_sk555", 1, 333, 555, 4, 4, 64, True, "bottom_right", None),
    ("causal_br_sq555_sk333", 1, 555, 333, 4, 4, 128, True, "bottom_right", None),   # rows 0…221 see no key
    ("causal_tl_sq333_sk555", 1, 333, 555, 4, 4, 72, True, "top_left", None),
    ("causal_tl_sq555_sk333", 1, 555, 333, 2, 2, 40, True, "top_left", None),
    ("causal_tl_257", 2, 257, 257, 2, 2, 128, True, "top_left", None),
    ("gqa8x2_causal_br_513", 2, 513, 513, 8, 2, 128, True, "bottom_right", None),
    ("gqa8x2_sq200_sk700", 1, 200, 700, 8, 2, 64, True, "bottom_right", None),
    ("mqa8x1_sq300_sk200_scale0.3", 1, 300, 200, 8, 1, 40, False, "bottom_right", 0.3),
    ("d72_causal_300", 2, 300, 300, 4, 4, 72, True, "bottom_right", None),
    # the tensor-core issue's cases: head dims that are not multiples of 8/16/32, the largest, GQA 3:1
    ("d59_causal_br_sq400_sk250", 1, 400, 250, 3, 3, 59, True, "bottom_right", None),   # rows 0…149 see no key
    ("d96_gqa3x1_causal_tl_333", 2, 333, 333, 6, 2, 96, True, "top_left", None),
    ("d256_causal_br_sq300_sk450", 1, 300, 450, 2, 2, 256, True, "bottom_right", None),
    ("d256_gqa3x1_sq257_sk129", 1, 257, 129, 3, 1, 256, False, "bottom_right", None),
]

# issue 14's variants (PyTorch oracle: SDPA with an explicit mask or bias for windows and ALiBi; softcap against the
# written-out attention only): name, b, s_q, s_k, h_q, h_kv, d, causal, alignment, scale, variant
VARIANTS = [
    ("window_l64_causal_br_300", 1, 300, 300, 4, 2, 64, True, "bottom_right", None, {"window_left": 64}),
    ("window_l40_r17_tl_sq200_sk333", 2, 200, 333, 2, 2, 128, False, "top_left", None, {"window_left": 40, "window_right": 17}),
    ("alibi_causal_br_sq257_sk400", 1, 257, 400, 4, 4, 64, True, "bottom_right", None, {"alibi": True}),
    ("alibi_gqa4x2_full_300", 1, 300, 300, 4, 2, 96, False, "bottom_right", None, {"alibi": True}),
    ("softcap5_causal_br_333", 1, 333, 333, 4, 4, 128, True, "bottom_right", None, {"softcap": 5.0}),
    ("softcap2_alibi_window_l50_257", 1, 257, 257, 2, 2, 64, True, "bottom_right", None, {"softcap": 2.0, "alibi": True, "window_left": 50}),
]


# ---------------------------------------------------------------- raw files (FlashAttn.Bench/Oracle/RawTensorFile.cs)

def write_raw(path, t):
    """Row-major elements, little-endian, nothing else; fp16 is IEEE binary16, bf16 the top half of a binary32."""
    t.detach().contiguous().cpu().reshape(-1).view(torch.uint8).numpy().tofile(path)


def read_raw(path, dtype, shape):
    with open(path, "rb") as f:
        data = f.read()
    expected = math.prod(shape) * torch.tensor([], dtype=dtype).element_size()
    if len(data) != expected:
        raise ValueError(f"{os.path.basename(path)}: {len(data)} bytes, expected {expected}")
    return torch.frombuffer(bytearray(data), dtype=dtype).reshape(shape)


# ---------------------------------------------------------------- attention in PyTorch

def diagonal(case, device):
    """(s_q, s_k) of j − (i + offset): the key's distance from the query's diagonal (bottom-right or top-left)."""
    i = torch.arange(case["s_q"], device=device)[:, None]
    j = torch.arange(case["s_k"], device=device)[None, :]
    offset = case["s_k"] - case["s_q"] if case["alignment"] == "bottom_right" else 0
    return j - (i + offset)


def visible_keys(case, device):
    """(s_q, s_k) bool, True where query i sees key j (causal and sliding window); None without a mask."""
    left, right = case.get("window_left", -1), case.get("window_right", -1)
    if not case["causal"] and left < 0 and right < 0:
        return None
    distance = diagonal(case, device)
    visible = torch.ones_like(distance, dtype=torch.bool)
    if case["causal"]:
        visible &= distance <= 0
    if right >= 0:
        visible &= distance <= right
    if left >= 0:
        visible &= distance >= -left
    return visible


def alibi_slopes(case, device):
    """2^(−8(h + 1)/h_q) per query head, as OracleCase.AlibiSlopes."""
    h = torch.arange(case["h_q"], device=device, dtype=torch.float32)
    return torch.pow(2.0, -8.0 * (h + 1) / case["h_q"]).to(torch.float32)


def modify_scores(s, case, device):
    """Softcap then ALiBi (flash-attn's order) on the scores (b, h_q, s_q, s_k), in their dtype."""
    if case.get("softcap"):
        cap = case["softcap"]
        s = cap * torch.tanh(s / cap)
    if case.get("alibi"):
        bias = -alibi_slopes(case, device)[:, None, None].to(torch.float64) * diagonal(case, device).abs()[None].to(torch.float64)
        s = s + bias.to(s.dtype)
    return s


def attention(q, k, v, scale, visible, case=None):
    """Attention written out, in q's dtype. q (b, s_q, h_q, d); k, v (b, s_k, h_kv, d); visible (s_q, s_k) or None.
    Returns O (b, s_q, h_q, d) and L (b, h_q, s_q): fp32 (fp64 for fp64 inputs), +inf on rows that see no key."""
    group = q.shape[2] // k.shape[2]
    qh = q.transpose(1, 2)                                      # (b, h_q, s_q, d)
    kh = k.transpose(1, 2).repeat_interleave(group, dim=1)      # (b, h_q, s_k, d): kv head g // group
    vh = v.transpose(1, 2).repeat_interleave(group, dim=1)
    s = (qh * scale) @ kh.transpose(-1, -2)                      # S = scale·q·kᵀ   (b, h_q, s_q, s_k), rounded to the dtype
    if case is not None:
        s = modify_scores(s, case, q.device)                     # softcap, ALiBi
    seen = None
    if visible is not None:
        seen = visible.any(dim=-1, keepdim=True)                 # (s_q, 1): the row sees a key
        s = s.masked_fill(~visible, float("-inf"))
        s = torch.where(seen, s, torch.zeros_like(s))            # an empty row: no NaN in softmax or its backward
    lse = torch.logsumexp(s.to(torch.float64 if q.dtype == torch.float64 else torch.float32), dim=-1)
    p = torch.softmax(s, dim=-1)                                 # fp32 inside, rounded to the dtype
    if seen is not None:
        p = p * seen
        lse = lse.masked_fill(~seen[:, 0], float("inf"))
    return (p @ vh).transpose(1, 2), lse


def attention_with_grads(q, k, v, d_out, scale, visible, case=None):
    """O, L, dQ, dK, dV by autograd, in q's dtype."""
    q, k, v = (t.detach().clone().requires_grad_() for t in (q, k, v))
    o, lse = attention(q, k, v, scale, visible, case)
    dq, dk, dv = torch.autograd.grad(o, (q, k, v), d_out)
    return {"O": o.detach(), "L": lse.detach(), "dQ": dq, "dK": dk, "dV": dv}


def sdpa_math(q, k, v, case, scale):
    """SDPA's math backend with torch's own mask: causal_lower_right (bottom-right) or is_causal (top-left)."""
    group = case["h_q"] // case["h_kv"]
    qh = q.transpose(1, 2)
    kh, vh = (t.transpose(1, 2).repeat_interleave(group, dim=1) for t in (k, v))
    mask, is_causal = None, False
    if case.get("window_left", -1) >= 0 or case.get("window_right", -1) >= 0 or case.get("alibi"):
        # windows and ALiBi as an explicit mask / bias (softcap has no SDPA form: those cases skip this check)
        visible = visible_keys(case, q.device)
        mask = torch.zeros(case["s_q"], case["s_k"], device=q.device, dtype=q.dtype)[None].repeat(case["h_q"], 1, 1)
        if visible is not None:
            mask = mask.masked_fill(~visible[None], float("-inf"))
        if case.get("alibi"):
            mask = mask + (-alibi_slopes(case, q.device)[:, None, None] * diagonal(case, q.device).abs()[None]).to(q.dtype)
    elif case["causal"] and case["alignment"] == "bottom_right":
        with warnings.catch_warnings():   # "will produce NaNs when seq_len_q > seq_len_kv": on rows that see no key
            warnings.simplefilter("ignore")
            mask = causal_lower_right(case["s_q"], case["s_k"])
    elif case["causal"]:
        is_causal = True
    with sdpa_kernel(SDPBackend.MATH):
        o = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=mask, is_causal=is_causal, scale=scale)
    return o.transpose(1, 2)


def max_error(x, ref):
    """max |x − ref| in fp64; equal infinities count as 0, NaN or one-sided infinity as +inf (as AttentionRun.MaxError)."""
    x = x.to(torch.float64)
    diff = torch.where(x == ref, torch.zeros_like(ref), (x - ref).abs())
    diff = torch.nan_to_num(diff, nan=math.inf)
    return diff.max().item() if diff.numel() else 0.0


# ---------------------------------------------------------------- cases

def fp32(x):
    """x rounded to float32: the scale ours reads, so that every side uses the very same one."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def make_cases(dtypes, only, fp32_math="exact"):
    cases = []
    for dtype in dtypes:
        for name, b, sq, sk, hq, hkv, d, causal, alignment, scale, *variant in CONFIGS + VARIANTS:
            if only and not any(o in name for o in only):
                continue
            case = {"name": f"{name}_{dtype}", "dtype": dtype, "b": b, "s_q": sq, "s_k": sk, "h_q": hq,
                    "h_kv": hkv, "d": d, "causal": causal, "alignment": alignment,
                    "scale": fp32(scale if scale is not None else 1.0 / math.sqrt(d)), "deterministic": False}
            case.update(variant[0] if variant else {})
            if dtype == "fp32" and fp32_math != "exact":
                # ours multiplies fp32 on the tensor cores (3xTF32); the rule stays the fp32 one
                case["name"] += "_3xtf32" if fp32_math == "tensor_cores" else "_" + fp32_math
                case["fp32_math"] = fp32_math
            cases.append(case)
    return cases


def case_inputs(case, device):
    """q, k, v, dO in the case's dtype: standard normal, seeded by the case's name."""
    gen = torch.Generator(device=device).manual_seed(zlib.crc32(case["name"].encode()))
    b, sq, sk, hq, hkv, d = (case[x] for x in ("b", "s_q", "s_k", "h_q", "h_kv", "d"))
    shapes = {"q": (b, sq, hq, d), "k": (b, sk, hkv, d), "v": (b, sk, hkv, d), "do": (b, sq, hq, d)}
    return {n: torch.randn(s, generator=gen, device=device, dtype=torch.float32).to(DTYPES[case["dtype"]])
            for n, s in shapes.items()}


def write_cases(directory, cases, device):
    os.makedirs(directory, exist_ok=True)
    for case in cases:
        folder = os.path.join(directory, case["name"])
        os.makedirs(folder, exist_ok=True)
        for name, t in case_inputs(case, device).items():
            write_raw(os.path.join(folder, name + ".bin"), t)
    with open(os.path.join(directory, "cases.json"), "w") as f:
        json.dump({"cases": cases}, f, indent=1)


def run_ours(bench, directory, timeout):
    """Our oracle verb; its statuses by case name ({} when it gave none)."""
    command = shlex.split(bench) + ["oracle", "--dir", directory]
    print("$ " + " ".join(command), flush=True)
    started = time.time()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        print(done.stdout + done.stderr, end="", flush=True)
        print(f"(exit {done.returncode}, {time.time() - started:.0f} s)")
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"oracle verb did not finish: {e}")
    try:
        with open(os.path.join(directory, "results.json")) as f:
            return {s["name"]: s for s in json.load(f)["cases"]}
    except (OSError, ValueError, KeyError):
        return {}


def check_case(case, directory, status, device):
    """The rule applied to one case: {"tensors": {name: {...}}, "masked_rows": ..., "convention": ..., "pass": bool}."""
    record = {"case": case, "status": (status or {}).get("status", "missing"), "error": (status or {}).get("error"),
              "tensors": {}, "masked_rows": None, "convention": None, "pass": False}
    if record["status"] != "ok":
        return record
    inputs = case_inputs(case, device)
    dtype = DTYPES[case["dtype"]]
    folder = os.path.join(directory, case["name"])
    b, sq, hq = case["b"], case["s_q"], case["h_q"]
    try:
        ours = {"O": read_raw(os.path.join(folder, "o.bin"), dtype, inputs["q"].shape),
                "L": read_raw(os.path.join(folder, "lse.bin"), torch.float32, (b, hq, sq)),
                "dQ": read_raw(os.path.join(folder, "dq.bin"), dtype, inputs["q"].shape),
                "dK": read_raw(os.path.join(folder, "dk.bin"), dtype, inputs["k"].shape),
                "dV": read_raw(os.path.join(folder, "dv.bin"), dtype, inputs["v"].shape)}
    except (OSError, ValueError) as e:
        record.update(status="error", error=f"reading our outputs: {e}")
        return record
    ours = {n: t.to(device) for n, t in ours.items()}
    visible = visible_keys(case, device)
    scale = case["scale"]
    wide = {n: t.to(torch.float64) for n, t in inputs.items()}
    reference = attention_with_grads(wide["q"], wide["k"], wide["v"], wide["do"], scale, visible, case)
    naive = attention_with_grads(inputs["q"], inputs["k"], inputs["v"], inputs["do"], scale, visible, case)
    expressible = not case.get("softcap")   # SDPA has no softcap: those cases skip its checks
    with torch.no_grad():
        math_o = sdpa_math(inputs["q"], inputs["k"], inputs["v"], case, scale) if expressible else None
        math_o64 = sdpa_math(wide["q"], wide["k"], wide["v"], case, scale) if expressible else None
    seen = visible.any(dim=-1) if visible is not None else torch.ones(sq, dtype=torch.bool, device=device)

    passed = True
    for name in TENSORS:
        factor = FORWARD_FACTOR if name in ("O", "L") else GRADIENT_FACTOR
        ours_error = max_error(ours[name], reference[name])
        naive_error = max_error(naive[name], reference[name])
        bound = factor * naive_error + SLACK[case["dtype"]]
        entry = {"ours": ours_error, "naive": naive_error, "bound": bound, "pass": ours_error <= bound,
                 "ratio": ours_error / naive_error if naive_error > 0 else None, "math": None}
        if name == "O" and expressible:   # torch's own math backend in the dtype, on the rows that see a key
            entry["math"] = max_error(math_o[:, seen], reference["O"][:, seen])
        record["tensors"][name] = entry
        passed &= entry["pass"]
    # rows that see no key: O = 0, L = +inf, dQ = 0, exactly
    if not bool(seen.all()):
        empty = ~seen
        record["masked_rows"] = bool((ours["O"][:, empty] == 0).all() and (ours["dQ"][:, empty] == 0).all()
                                     and torch.isposinf(ours["L"][:, :, empty]).all())
        passed &= record["masked_rows"]
    # torch's mask convention is ours: fp64 SDPA math with its own mask equals the fp64 reference where a key is seen
    if expressible:
        convention_error = max_error(math_o64[:, seen], reference["O"][:, seen])
        record["convention"] = {"error": convention_error, "pass": convention_error <= CONVENTION_TOLERANCE}
        passed &= record["convention"]["pass"]
    record["pass"] = bool(passed)
    return record


# ---------------------------------------------------------------- report

def fmt(x):
    if x is None:
        return "—"
    return f"{x:.2e}" if math.isfinite(x) else str(x)


def report(records):
    lines = [f"Rule: max|ours − fp64| ≤ factor · max|naive same-dtype − fp64| + slack; factor {FORWARD_FACTOR:g} for "
             f"O and L, {GRADIENT_FACTOR:g} for dQ, dK, dV; slack {SLACK}. math: SDPA's math backend in the dtype (O, rows that see "
             f"a key; not part of the rule). masked rows: O = 0, L = +inf, dQ = 0 exactly on rows that see no key. "
             f"convention: fp64 SDPA math with torch's mask vs the fp64 reference (≤ {CONVENTION_TOLERANCE:g}).",
             "",
             "| case | tensor | ours | naive | ours/naive | bound | math | result |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in records:
        name = r["case"]["name"]
        if r["status"] != "ok":
            lines.append(f"| {name} | — | | | | | | **FAIL**: {r['status']}: {(r['error'] or '')[:200]} |")
            continue
        for tensor, e in r["tensors"].items():
            ratio = "—" if e["ratio"] is None else f"{e['ratio']:.2f}"
            lines.append(f"| {name} | {tensor} | {fmt(e['ours'])} | {fmt(e['naive'])} | {ratio} | "
                         f"{fmt(e['bound'])} | {fmt(e['math'])} | {'PASS' if e['pass'] else '**FAIL**'} |")
        if r["masked_rows"] is not None:
            lines.append(f"| {name} | masked rows | | | | | | {'PASS' if r['masked_rows'] else '**FAIL**'} |")
        c = r["convention"]
        if c is None:   # softcap: SDPA cannot express it, so there is no convention check
            lines.append(f"| {name} | convention | — | | | | | not expressible in SDPA |")
        else:
            lines.append(f"| {name} | convention | {fmt(c['error'])} | | | {CONVENTION_TOLERANCE:g} | | "
                         f"{'PASS' if c['pass'] else '**FAIL**'} |")
    failed = [r["case"]["name"] for r in records if not r["pass"]]
    summary = (f"oracle: {len(records) - len(failed)} of {len(records)} cases pass"
               + (f"; FAIL: {', '.join(failed)}" if failed else ""))
    return "\n".join(lines) + "\n\n" + summary + "\n", summary, not failed


def finite_json(x):
    """JSON has no infinities: write them as strings."""
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, dict):
        return {k: finite_json(v) for k, v in x.items()}
    if isinstance(x, list):
        return [finite_json(v) for v in x]
    return x


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="/tmp/flashattn-oracle", help="where the cases and our outputs go")
    ap.add_argument("--out", default=os.environ.get("OUT", "/tmp/flashattn-out"), help="oracle.json and oracle.md")
    ap.add_argument("--bench", default="bundle/run.sh Bench", help="how to start FlashAttn.Bench")
    ap.add_argument("--dtypes", default="fp32,fp16,bf16")
    ap.add_argument("--cases", default="", help="comma-separated substrings of case names to keep")
    ap.add_argument("--fp32-math", default="exact", choices=("exact", "tensor_cores", "auto"),
                    help="how our fp32 cases multiply: exact FFMA, 3xTF32 on the tensor cores, or the library's default")
    ap.add_argument("--skip-run", action="store_true", help="reuse our outputs already in --dir")
    ap.add_argument("--timeout", type=int, default=480, help="seconds for the oracle verb")
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cases = make_cases([d for d in args.dtypes.split(",") if d], [c for c in args.cases.split(",") if c], args.fp32_math)
    if not args.skip_run:
        write_cases(args.dir, cases, device)
        statuses = run_ours(args.bench, args.dir, args.timeout)
    else:
        with open(os.path.join(args.dir, "results.json")) as f:
            statuses = {s["name"]: s for s in json.load(f)["cases"]}
    records = [check_case(c, args.dir, statuses.get(c["name"]), device) for c in cases]
    table, summary, ok = report(records)
    print(table)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "oracle.md"), "w") as f:
        f.write(f"# Oracle: FlashAttn vs PyTorch {torch.__version__} "
                f"({torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'})\n\n" + table)
    with open(os.path.join(args.out, "oracle.json"), "w") as f:
        json.dump(finite_json({"torch": torch.__version__, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                               "rule": {"forward_factor": FORWARD_FACTOR, "gradient_factor": GRADIENT_FACTOR,
                                        "slack": SLACK}, "pass": ok, "records": records}), f, indent=1)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
