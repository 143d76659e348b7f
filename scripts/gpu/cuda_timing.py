"""CUDA-event timing shared by the GPU scripts: warm-up calls, then the median of timed calls."""
import torch


def median_ms(fn, runs=10, warmups=1, budget_ms=None, min_runs=3):
    """Median milliseconds of fn() by CUDA events around each call, after `warmups` untimed calls: `runs` timed
    calls, or with `budget_ms` as many as fit in it at the first timed call's speed, but at least `min_runs`."""
    for _ in range(warmups):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    target = runs
    while len(times) < target:
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
        if budget_ms is not None and len(times) == 1:
            target = max(min_runs, min(runs, int(budget_ms / max(times[0], 1e-3))))
    times.sort()
    return times[len(times) // 2]
