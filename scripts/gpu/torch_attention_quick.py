"""PyTorch SDPA on the main job's configuration (b=4, s=4096, h=16, d=128), forward only, timed like the
main job (CUDA events, median): a same-run yardstick until the full sweep of the benchmark issue exists."""
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

torch.backends.cuda.matmul.allow_tf32 = False


def median_ms(fn, repeats=10):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record(); fn(); e.record(); e.synchronize()
        times.append(s.elapsed_time(e))
    return sorted(times)[len(times) // 2]


b, s, h, d = 4, 4096, 16, 128
for dtype in (torch.float32, torch.float16):
    q, k, v = (torch.randn(b, h, s, d, device="cuda", dtype=dtype) for _ in range(3))
    for causal in (False, True):
        flops = 4 * b * s * s * h * d / (2 if causal else 1)
        backends = [("mem-efficient", SDPBackend.EFFICIENT_ATTENTION), ("math", SDPBackend.MATH)]
        if dtype == torch.float16:
            backends.insert(0, ("flash", SDPBackend.FLASH_ATTENTION))
        for name, backend in backends:
            with sdpa_kernel(backend):
                ms = median_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal))
            print(f"torch {name:13s} {str(dtype):14s} causal={causal!s:5s} {ms:8.3f} ms {flops / ms / 1e9:7.1f} TFLOP/s")
