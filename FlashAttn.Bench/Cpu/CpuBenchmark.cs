using System.Diagnostics;
using System.Text.Json;
using FlashAttn.Bench.Attention;
using FlashAttn.Bench.Cli;
using FlashAttn.Bench.Results;
using FlashAttn.Cpu;

namespace FlashAttn.Bench.Cpu;

/// <summary>
/// The <c>cpu</c> verb: the CPU path (<see cref="DeviceKind.Cpu"/>) through the public API over issue 12's grid, fp32,
/// with the machine's measured FMA peak beside it. FLOPs as <see cref="AttentionFlops"/> (forward+backward 3.5×);
/// warm-up calls for <c>--warmup-ms</c> (at least one), then the median of <c>--repeats</c>. Rows print as they finish; <c>--json</c> writes them in the
/// schema of scripts/gpu/torch_cpu_sdpa.py so scripts/gpu/cpu-vs-torch.sh can pair them.
/// </summary>
internal static class CpuBenchmark
{
    /// <summary>One measured row (field names as the PyTorch script's).</summary>
    /// <remarks><c>best_ms</c>/<c>best_gflops</c> are the fastest repeat: on a machine shared with other work the median
    /// measures the neighbours too.</remarks>
    public sealed record Row(int threads, int b, int h, int s, int d, bool causal, string pass_, double ms, double gflops, double peak_fraction,
        double best_ms, double best_gflops);

    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        if (!VerbArguments.TryParse(args, CpuBenchOptions.ValueOptions, null, CpuBenchOptions.Parse, CpuBenchOptions.Usage, error, out var options))
            return 2;
        using var device = Device.Cpu(options.Threads);
        int vectorBits = ((CpuAttentionKernels)device.AttentionKernels).VectorBits;
        error.WriteLine($"measuring the fp32 FMA peak on {options.Threads} threads ({vectorBits}-bit vectors)...");
        double peak = FmaPeak.Measure(options.Threads, vectorBits);
        output.WriteLine($"# {device}; fp32 FMA peak {peak:F1} GFLOP/s on {options.Threads} threads; {AttentionFlops.Formula}");
        output.WriteLine($"{"s",6} {"d",4} {"causal",6} {"pass",8} {"ms",10} {"GFLOP/s",9} {"of peak",8} {"best ms",10} {"best",7} {"of peak",8}");
        var rows = new List<Row>();
        int total = options.SeqLens.Count * options.HeadDims.Count * options.Causal.Count * options.Passes.Count, done = 0;
        foreach (int d in options.HeadDims)
            foreach (int s in options.SeqLens)
                foreach (bool causal in options.Causal)
                    foreach (string pass in options.Passes)
                    {
                        error.WriteLine($"[{++done}/{total}] s={s} d={d} causal={causal} {pass}...");
                        var (ms, best) = Time(device, options, s, d, causal, backward: pass == "fwd+bwd");
                        double flops = AttentionFlops.Of(pass == "fwd" ? AttentionPass.Forward : AttentionPass.ForwardBackward,
                            options.Batch, s, options.Heads, d, causal);
                        double gflops = flops / (ms * 1e6), bestGflops = flops / (best * 1e6);
                        var row = new Row(options.Threads, options.Batch, options.Heads, s, d, causal, pass, ms, gflops, gflops / peak,
                            best, bestGflops);
                        rows.Add(row);
                        output.WriteLine($"{s,6} {d,4} {causal,6} {pass,8} {ms,10:F2} {gflops,9:F1} {row.peak_fraction,8:P0} " +
                            $"{best,10:F2} {bestGflops,7:F1} {bestGflops / peak,8:P0}");
                    }
        if (options.Json is { } path)
        {
            var document = new
            {
                device = $"{device} ({Environment.MachineName}), FlashAttn CPU path fp32, median of {options.Repeats} after {options.WarmupMs} ms of warm-up calls; {AttentionFlops.Formula}",
                fma_peak_gflops = peak,
                rows,
            };
            File.WriteAllText(path, JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = true }));
            error.WriteLine($"wrote {path}");
        }
        return 0;
    }

    /// <summary>Median and fastest milliseconds of one forward (or forward + backward) call after the warm-up calls.</summary>
    private static (double Median, double Best) Time(Device device, CpuBenchOptions options, int s, int d, bool causal, bool backward)
    {
        using var q = RandomFill.Tensor<float>(device, 1, options.Batch, s, options.Heads, d);
        using var k = RandomFill.Tensor<float>(device, 2, options.Batch, s, options.Heads, d);
        using var v = RandomFill.Tensor<float>(device, 3, options.Batch, s, options.Heads, d);
        using var dOut = RandomFill.Tensor<float>(device, 4, options.Batch, s, options.Heads, d);
        var attention = new AttentionOptions { Causal = causal, ReturnLse = backward };
        void Call()
        {
            using var forward = FlashAttention.Forward(q, k, v, attention);
            if (backward) FlashAttention.Backward(dOut, q, k, v, forward.Output, forward.Lse!, attention).Dispose();
        }
        // warm-up calls for --warmup-ms (at least one): the JIT's tier-1 code of the path's smaller methods arrives in the
        // first tens of calls, compiled on a background thread that takes a core from a worker meanwhile (2 cores here: a
        // helper joined its loops 1.2 ms late and s = 512 ran 2× slower in some runs after a single warm-up call)
        var warmup = Stopwatch.StartNew();
        do Call(); while (warmup.Elapsed.TotalMilliseconds < options.WarmupMs);
        // FLASHATTN_CPU_TRACE=1: where the timed calls' time went (the forward's phases, every parallel loop), before the row
        if (CpuTrace.Enabled) CpuTrace.Reset();
        var times = new double[options.Repeats];
        for (int i = 0; i < times.Length; i++)
        {
            var watch = Stopwatch.StartNew();
            Call();
            times[i] = watch.Elapsed.TotalMilliseconds;
        }
        if (CpuTrace.Enabled) Console.WriteLine(CpuTrace.Summary());
        Array.Sort(times);
        return (times[times.Length / 2], times[0]);
    }
}
