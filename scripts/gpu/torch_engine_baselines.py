"""PyTorch baselines for the engine benchmarks, timed the same way (CUDA events, median, random data):
device-to-device copy bandwidth (bytes read + written) and fp32 SGEMM with TF32 off."""
import json
import sys

import torch

from cuda_timing import median_ms

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False


results = {"device": torch.cuda.get_device_name(), "torch": torch.__version__}
x = torch.rand(1 << 28, device="cuda")
y = torch.empty_like(x)
ms = median_ms(lambda: y.copy_(x), runs=20, warmups=3)
results["torch copy GB/s"] = 2 * x.numel() * 4 / ms / 1e6
for n in (2048, 4096):
    a = torch.rand(n, n, device="cuda") - 0.5
    b = torch.rand(n, n, device="cuda") - 0.5
    ms = median_ms(lambda: torch.mm(a, b), runs=20, warmups=3)
    results[f"torch sgemm {n}^3 TFLOP/s (TF32 off)"] = 2 * n**3 / ms / 1e9
json.dump(results, sys.stdout, indent=1)
print()
