using FlashAttn.Bench.Attention;
using FlashAttn.Bench.Results;
using FlashAttn.Bench.Timing;
using FlashAttn.Compute.Runtime.Cuda;
using FlashAttn.Distributed;

namespace FlashAttn.Bench.Ring;

/// <summary>
/// The largest sequence whose forward + backward runs on the ranks: the total length doubles from
/// <see cref="RingOptions.LargestStart"/> (rounded up to a multiple of 2N) until a run fails (out of device memory, the
/// expected end) or passes --largest-max. Each length runs once, timed with CUDA events (no warm-up at that length).
/// </summary>
internal static class RingLargestSearch
{
    /// <summary>How the search works, for the notes.</summary>
    public const string MethodNote =
        "largest: one forward + backward through the ring at total lengths doubling from 131072 (a multiple of 2N), each rank allocating " +
        "its random q, k, v, dOut shards first; stops at the first failure (an OutOfMemoryException from an allocation, or a CudaException " +
        "whose result is out of memory, on any rank) or past --largest-max; peak_bytes is the most any rank's allocator held";

    /// <summary>Runs the search; <paramref name="report"/> gets the probes so far after each one.</summary>
    /// <exception cref="RankFailure">A rank hung (reported first with stopped_by "hung"); <see cref="RingRanks.Stuck"/> is then set.</exception>
    public static RingLargest Run<T>(RingRanks ranks, RingOptions options, TextWriter progress, Action<RingLargest> report) where T : unmanaged
    {
        int n = ranks.Count, chunks = 2 * n, h = options.Heads, d = options.HeadDim;
        long start = (RingOptions.LargestStart + chunks - 1) / chunks * chunks;
        var probes = new List<LargestProbe>();
        string stoppedBy = "--largest-max";
        RingLargest Current() => new([.. probes], probes.LastOrDefault(p => p.Outcome == "ran")?.Tokens ?? 0, stoppedBy);

        ranks.WithGroups(groups =>
        {
            for (long total = start; total <= options.LargestMax; total *= 2)
            {
                int tokens = (int)total, local = tokens / n;
                progress.WriteLine($"largest: forward + backward at S={tokens} ({local} tokens per rank)");
                try
                {
                    var runs = RingRanks.OnEveryRank(groups, (group, barrier) => Probe<T>(group, barrier, local, h, d));
                    double ms = runs.Max(r => r.Ms);
                    double flops = AttentionFlops.Of(AttentionPass.ForwardBackward, RingOptions.Batch, tokens, h, d, causal: true) / n;
                    probes.Add(new LargestProbe(tokens, local, "ran", ms, AttentionFlops.Tflops(flops, ms), runs.Max(r => r.PeakBytes), null));
                    progress.WriteLine($"largest: S={tokens} ran in {ms:F0} ms ({probes[^1].TflopsPerRank:F1} TFLOP/s per rank, " +
                        $"peak {ByteSize.Format(probes[^1].PeakBytes)} per rank)");
                }
                catch (RankFailure failure)
                {
                    stoppedBy = failure.Hung.Count > 0 ? "hung" : failure.OutOfMemory ? "out of memory" : "error";
                    probes.Add(new LargestProbe(tokens, local, stoppedBy, null, null, null, failure.Message));
                    progress.WriteLine($"largest: S={tokens} {stoppedBy}: {failure.Message}");
                    report(Current());
                    if (failure.Hung.Count > 0) throw;
                    break;
                }
                report(Current());
                ranks.ReleaseCachedMemory();
            }
            return 0;
        }, progress);
        return Current();
    }

    /// <summary>One rank's forward + backward with <paramref name="local"/> tokens of its own: its step time and its allocator's peak.</summary>
    private static (double Ms, long PeakBytes) Probe<T>(ProcessGroup group, RankBarrier barrier, int local, int heads, int headDim)
        where T : unmanaged
    {
        var device = group.Device;
        device.ResetPeakAllocatedBytes();
        var attention = new AttentionOptions { Causal = true, ReturnLse = true };
        var parallel = new ContextParallel(group);
        using var q = RandomFill.Tensor<T>(device, 21 + 4 * group.Rank, 1, local, heads, headDim);
        using var k = RandomFill.Tensor<T>(device, 22 + 4 * group.Rank, 1, local, heads, headDim);
        using var v = RandomFill.Tensor<T>(device, 23 + 4 * group.Rank, 1, local, heads, headDim);
        using var dOut = RandomFill.Tensor<T>(device, 24 + 4 * group.Rank, 1, local, heads, headDim);
        using var timer = new CudaEventTimer((CudaAccelerator)device.Accelerator);
        device.Synchronize();
        barrier.Wait(); // every rank holds its inputs: none enters the ring alone
        double ms = timer.TimeEach(1, _ =>
        {
            using var result = FlashAttention.Forward(q, k, v, attention, parallel);
            using var grads = FlashAttention.Backward(dOut, q, k, v, result.Output, result.Lse!, attention, parallel);
        })[0];
        return (ms, device.PeakAllocatedBytes);
    }
}
