using FlashAttn.Bench.Attention;
using FlashAttn.Bench.Results;
using FlashAttn.Bench.Timing;
using FlashAttn.Compute.Runtime.Cuda;
using FlashAttn.Distributed;

namespace FlashAttn.Bench.Ring;

/// <summary>
/// Weak scaling: the ring over S tokens on N ranks (each holding S / N) against one GPU running causal attention over
/// S / N tokens, forward and forward + backward, per-rank TFLOP/s of each and their ratio (the issue's target: ≥ 0.85).
/// </summary>
internal static class RingScalingBenchmark
{
    /// <summary>How the numbers are made, for the notes.</summary>
    public const string MethodNote =
        "weak scaling: ring per-rank TFLOP/s = FLOPs of causal attention over the whole sequence S / N / step time; the step time of an " +
        "iteration is the slowest rank's (CUDA events recorded on each rank's stream around back-to-back calls of FlashAttention.Forward/" +
        "Backward with a ContextParallel, outputs allocated and freed by each call as the API does); median over the runs after the " +
        "warm-up, the ranks meeting at a barrier before the timed runs. Single-GPU TFLOP/s = FLOPs of causal attention over S / N / time " +
        "on GPU 0 into preallocated outputs (the destination overloads of FlashAttention.Forward/Backward), median likewise";

    /// <summary>Measures both and returns the two passes.</summary>
    /// <exception cref="RankFailure">A rank of the ring failed.</exception>
    public static RingScaling Run<T>(RingRanks ranks, RingOptions options, TextWriter progress) where T : unmanaged
    {
        int s = options.Tokens, n = ranks.Count, local = s / n, h = options.Heads, d = options.HeadDim;
        var attention = new AttentionOptions { Causal = true, ReturnLse = true };

        progress.WriteLine($"scaling: single GPU at S/N={local} on {ranks.Gpus[0].Name}");
        var (singleForward, singleBoth) = Single<T>(ranks.Gpus[0], options, local);
        ranks.ReleaseCachedMemory();

        progress.WriteLine($"scaling: ring at S={s} over {n} ranks ({local} tokens each)");
        var perRank = ranks.WithGroups(groups => RingRanks.OnEveryRank(groups, (group, barrier) =>
        {
            var device = group.Device;
            using var q = RandomFill.Tensor<T>(device, 1000 + 4 * group.Rank, 1, local, h, d);
            using var k = RandomFill.Tensor<T>(device, 1001 + 4 * group.Rank, 1, local, h, d);
            using var v = RandomFill.Tensor<T>(device, 1002 + 4 * group.Rank, 1, local, h, d);
            using var dOut = RandomFill.Tensor<T>(device, 1003 + 4 * group.Rank, 1, local, h, d);
            using var timer = new CudaEventTimer((CudaAccelerator)device.Accelerator);
            var parallel = new ContextParallel(group);
            barrier.Wait(); // every rank holds its inputs: none enters the ring alone
            double[] forward = Time(device, timer, options, barrier, _ =>
            {
                using var result = FlashAttention.Forward(q, k, v, attention, parallel);
            });
            double[] both = Time(device, timer, options, barrier, _ =>
            {
                using var result = FlashAttention.Forward(q, k, v, attention, parallel);
                using var grads = FlashAttention.Backward(dOut, q, k, v, result.Output, result.Lse!, attention, parallel);
            });
            return (Forward: forward, Both: both);
        }), progress);

        var passes = new List<ScalingPass>
        {
            Pass(AttentionPass.Forward, [.. perRank.Select(r => r.Forward)], singleForward, s, local, options),
            Pass(AttentionPass.ForwardBackward, [.. perRank.Select(r => r.Both)], singleBoth, s, local, options),
        };
        foreach (var p in passes)
            progress.WriteLine($"scaling: {AttentionPasses.Name(p.Pass),-7} ring {p.RingMs:F2} ms = {p.RingTflopsPerRank:F1} TFLOP/s per rank " +
                $"(ranks {string.Join(", ", p.RingMsPerRank.Select(ms => ms.ToString("F2")))} ms); single {p.SingleMs:F2} ms = " +
                $"{p.SingleTflops:F1} TFLOP/s; ratio {p.Ratio:F3} (target {ScalingPass.Target})");
        return new RingScaling(s, local, options.Runs, options.Warmup, passes);
    }

    /// <summary>One GPU over <paramref name="seqLen"/> tokens: forward and forward + backward times of each timed run.</summary>
    private static (double[] Forward, double[] Both) Single<T>(Device device, RingOptions options, int seqLen) where T : unmanaged
    {
        int h = options.Heads, d = options.HeadDim;
        var attention = new AttentionOptions { Causal = true };
        using var q = RandomFill.Tensor<T>(device, 11, 1, seqLen, h, d);
        using var k = RandomFill.Tensor<T>(device, 12, 1, seqLen, h, d);
        using var v = RandomFill.Tensor<T>(device, 13, 1, seqLen, h, d);
        using var dOut = RandomFill.Tensor<T>(device, 14, 1, seqLen, h, d);
        using var output = DeviceTensor.Empty<T>(device, 1, seqLen, h, d);
        using var lse = DeviceTensor.Empty<float>(device, 1, h, seqLen);
        using var dq = DeviceTensor.Empty<T>(device, 1, seqLen, h, d);
        using var dk = DeviceTensor.Empty<T>(device, 1, seqLen, h, d);
        using var dv = DeviceTensor.Empty<T>(device, 1, seqLen, h, d);
        using var timer = new CudaEventTimer((CudaAccelerator)device.Accelerator);
        double[] forward = Time(device, timer, options, null, _ => FlashAttention.Forward(q, k, v, output, lse, attention));
        double[] both = Time(device, timer, options, null, _ =>
        {
            FlashAttention.Forward(q, k, v, output, lse, attention);
            FlashAttention.Backward(dOut, q, k, v, output, lse, dq, dk, dv, attention);
        });
        return (forward, both);
    }

    /// <summary>
    /// The warm-up runs, a wait for the device (and for the other ranks at <paramref name="barrier"/>), then the
    /// milliseconds of each timed run.
    /// </summary>
    internal static double[] Time(Device device, ILaunchTimer timer, RingOptions options, RankBarrier? barrier, Action<int> launch)
    {
        for (int run = 0; run < options.Warmup; run++) launch(run);
        device.Synchronize();
        barrier?.Wait();
        return timer.TimeEach(options.Runs, launch);
    }

    /// <summary>Each iteration's slowest rank, median over iterations, against the single GPU's median.</summary>
    private static ScalingPass Pass(AttentionPass pass, double[][] ranks, double[] single, int tokens, int tokensPerRank, RingOptions options)
    {
        double[] steps = [.. Enumerable.Range(0, ranks[0].Length).Select(i => ranks.Max(r => r[i]))];
        double ringMs = Median.Of(steps), singleMs = Median.Of(single);
        double ringFlops = AttentionFlops.Of(pass, RingOptions.Batch, tokens, options.Heads, options.HeadDim, causal: true) / ranks.Length;
        double singleFlops = AttentionFlops.Of(pass, RingOptions.Batch, tokensPerRank, options.Heads, options.HeadDim, causal: true);
        return new ScalingPass(pass, ringMs, AttentionFlops.Tflops(ringFlops, ringMs), [.. ranks.Select(r => Median.Of(r))], singleMs,
            AttentionFlops.Tflops(singleFlops, singleMs));
    }
}
