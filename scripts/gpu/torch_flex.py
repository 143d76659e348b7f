"""FlexAttention beside ours (issue 14): the same user relative-position bias (score_mod) and half-documents block mask
(mask_mod + create_block_mask) as `FlashAttn.Bench modifiers`, fp16, d = 128, h = 16, torch.compile'd; prints the compile
time of the first call and the forward/backward ms (median of 10 after 3 warm-up, CUDA events), plus SDPA flash for
plain causal and for causal with dropout 0.1 at the same shape. With --ours (that verb's markdown) prints ours / Flex for the matching rows."""
import argparse, re, statistics, time
import torch
from torch.nn.attention.flex_attention import flex_attention, create_block_mask

ap = argparse.ArgumentParser()
ap.add_argument("--seqlens", default="4096,16384")
ap.add_argument("--batch-tokens", type=int, default=16384)
ap.add_argument("--ours")
a = ap.parse_args()
H, D, MAXD = 16, 128, 128

def timed(f, runs=10, warmup=3):
    for _ in range(warmup): f()
    torch.cuda.synchronize()
    ts = []
    for _ in range(runs):
        s, e = torch.cuda.Event(True), torch.cuda.Event(True)
        s.record(); f(); e.record(); torch.cuda.synchronize(); ts.append(s.elapsed_time(e))
    return statistics.median(ts)

rows = {}
compiled = torch.compile(flex_attention)
for S in map(int, a.seqlens.split(",")):
    B = max(1, a.batch_tokens // S)
    q, k, v = (torch.randn(B, H, S, D, device="cuda", dtype=torch.float16, requires_grad=True) for _ in range(3))
    dout = torch.randn_like(q)
    table = torch.randn(H, 2 * MAXD + 1, device="cuda", dtype=torch.float32) * 0.1
    def rel_bias(score, b, h, qi, ki):
        return score + table[h, (ki - qi).clamp(-MAXD, MAXD) + MAXD]
    def causal(b, h, qi, ki):
        return qi >= ki
    def half_docs(b, h, qi, ki):
        return (qi < S // 2) == (ki < S // 2)
    causal_mask = create_block_mask(causal, None, None, S, S)
    t0 = time.perf_counter()
    out = compiled(q, k, v, score_mod=rel_bias, block_mask=causal_mask)
    torch.cuda.synchronize()
    first = time.perf_counter() - t0
    fwd = timed(lambda: compiled(q, k, v, score_mod=rel_bias, block_mask=causal_mask))
    bwd = timed(lambda: torch.autograd.grad(compiled(q, k, v, score_mod=rel_bias, block_mask=causal_mask), (q, k, v), dout)) - fwd
    rows[(S, "user relative bias")] = (fwd, bwd, f"first call {first:.1f} s (torch.compile)")
    docs = create_block_mask(half_docs, None, None, S, S)
    fwd = timed(lambda: compiled(q, k, v, block_mask=docs))
    bwd = timed(lambda: torch.autograd.grad(compiled(q, k, v, block_mask=docs), (q, k, v), dout)) - fwd
    rows[(S, "document mask + block mask (50% empty)")] = (fwd, bwd, "flex block mask")
    with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.FLASH_ATTENTION):
        fwd = timed(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True))
        bwd = timed(lambda: torch.autograd.grad(torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True), (q, k, v), dout)) - fwd
    rows[(S, "plain causal")] = (fwd, bwd, "SDPA flash")
    # FA2's own dropout beside its plain causal: how far from "within 10% of plain" flash-attn's Philox keeps itself
    with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.FLASH_ATTENTION):
        attend = lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=0.1, is_causal=True)
        fwd = timed(attend)
        bwd = timed(lambda: torch.autograd.grad(attend(), (q, k, v), dout)) - fwd
    plain = rows[(S, "plain causal")]
    rows[(S, "dropout 0.1")] = (fwd, bwd, f"SDPA flash: {plain[0] / fwd:.2f}× / {plain[1] / bwd:.2f}× its plain causal (as ours' fwd / plain)")
    del q, k, v, dout
    torch.cuda.empty_cache()

ours = {}
if a.ours:
    for line in open(a.ours):
        m = re.match(r"\|\s*(\d+)\s*\|\s*([^|]+?)\s*\|\s*([\d.]+)\s*\|[^|]*\|\s*([\d.]+)\s*\|", line)
        if m: ours[(int(m[1]), m[2])] = (float(m[3]), float(m[4]))
print("| seqlen | row | torch fwd ms | torch bwd ms | ours fwd ms | ours bwd ms | fwd ratio (torch/ours) | bwd ratio | note |")
print("|---|---|---|---|---|---|---|---|---|")
for (S, name), (fwd, bwd, note) in rows.items():
    o = ours.get((S, name))
    ratio = f"{fwd / o[0]:.2f}× | {bwd / o[1]:.2f}×" if o else "– | –"
    print(f"| {S} | {name} | {fwd:.3f} | {bwd:.3f} | " + (f"{o[0]:.3f} | {o[1]:.3f}" if o else "– | –") + f" | {ratio} | {note} |")
