using FlashAttn.Bench.Cli;
using FlashAttn.Bench.Memory;
using FlashAttn.Bench.Results;
using FlashAttn.Bench.Timing;
using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;

namespace FlashAttn.Bench.Attention;

/// <summary>
/// The <c>sweep</c> verb: attention throughput over a <see cref="SweepGrid"/> (flash-attn's benchmark grid by
/// default), each configuration and pass timed on preallocated buffers through <see cref="Kernels.AttentionLauncher"/>,
/// median of the runs after warm-up; peak memory beside naive attention's. Writes a markdown table (stdout, --md)
/// and the shared JSON schema (--json, rewritten after every configuration so a killed run keeps what it measured).
/// </summary>
internal sealed class AttentionSweep(SweepOptions options, Accelerator accelerator, ILaunchTimer timer, TextWriter progress)
{
    /// <summary>What the backward timings include today.</summary>
    public const string BackwardNote =
        "bwd and fwd_bwd time AttentionLauncher.Backward as it is: its fp32 workspaces come from the accelerator's buffer " +
        "cache (allocated at the first call, reused after), and the call returns once its four launches are enqueued";

    /// <summary>What peak_bytes measures.</summary>
    public const string PeakNote =
        "peak_bytes = the buffers one call touches (one input set, the outputs) + the most the accelerator's allocation tracker " +
        "(every cuMemAlloc/cuMemFree passes through it) saw above the held buffers during an untimed call made after " +
        "emptying the buffer cache, so workspaces count";

    private int _done;
    private int _total;

    /// <summary>Runs the verb; <paramref name="args"/> starts with "sweep". Exit code 0, 1 when a configuration failed, 2 for bad options or no device.</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        if (!VerbArguments.TryParse(args, SweepOptions.ValueOptions, null, SweepOptions.Parse, SweepOptions.Usage, error, out var options))
            return 2;
        using var accelerator = DeviceOption.Open(options.Cpu, error);
        if (accelerator is null) return 2;
        using var timer = DeviceOption.Timer(accelerator);
        var header = RunHeader.Create(accelerator, options.Commit, args) with
        {
            Notes =
            [
                AttentionFlops.Formula,
                $"{timer.Method}; median of {options.Runs} runs after {options.Warmup} warm-up runs" +
                    (options.WarmupMs > 0 ? $" and more for {options.WarmupMs} ms" : "") +
                    (options.SettleMs > 0 ? $", {options.SettleMs} ms idle before each configuration and pass" : "") + "; random inputs in [-1, 1) " +
                    $"rotated over {options.BufferSets} buffer sets; no allocation in the timed forward (AttentionLauncher on preallocated buffers)",
                BackwardNote,
                PeakNote,
                MemoryAccounting.NaiveFormula,
            ],
        };
        error.WriteLine($"sweep on {accelerator}: {options.Grid.Configurations().Count} configurations × {options.Grid.Passes.Count} passes");
        var sweep = new AttentionSweep(options, accelerator, timer, error);
        var results = sweep.RunAll(partial =>
        {
            if (options.JsonPath is { } path) ResultsFile.Write(path, header with { Results = partial });
        });
        var run = header with { Results = results };
        string markdown = SweepTable.Markdown(run);
        output.Write(markdown);
        if (options.MarkdownPath is { } md) File.WriteAllText(md, markdown);
        return results.Any(r => r.Error is not null) ? 1 : 0;
    }

    /// <summary>Every configuration and pass; <paramref name="afterEachShape"/> gets the results so far after each shape.</summary>
    public IReadOnlyList<BenchResult> RunAll(Action<IReadOnlyList<BenchResult>>? afterEachShape = null)
    {
        var configurations = options.Grid.Configurations();
        _total = configurations.Count * options.Grid.Passes.Count;
        _done = 0;
        var results = new List<BenchResult>();
        // Configurations of one shape differ only in the mask: they share one set of buffers.
        foreach (var shape in configurations.GroupBy(c => (c.DType, c.HeadDim, c.SeqLen)))
        {
            var block = shape.ToList();
            results.AddRange(shape.Key.DType switch
            {
                DType.Float32 => RunShape<float>(block),
                DType.Float16 => RunShape<Half>(block),
                _ => RunShape<BFloat16>(block),
            });
            afterEachShape?.Invoke(results);
        }
        return results;
    }

    private List<BenchResult> RunShape<T>(IReadOnlyList<SweepConfiguration> block) where T : unmanaged
    {
        var results = new List<BenchResult>();
        bool backward = options.Grid.Passes.Any(p => p != AttentionPass.Forward);
        AttentionBuffers<T> buffers;
        try
        {
            buffers = new AttentionBuffers<T>(accelerator, block[0].Shape, options.BufferSets, backward, seed: block[0].SeqLen);
        }
        catch (Exception e)
        {
            foreach (var configuration in block)
            foreach (var pass in options.Grid.Passes)
                results.Add(Report(configuration, Naive(configuration, pass) with { Error = $"allocating the buffers: {Describe(e)}" }));
            return results;
        }
        using (buffers)
        {
            foreach (var configuration in block)
            foreach (var pass in options.Grid.Passes)
                results.Add(Report(configuration, Measure(buffers, configuration, pass)));
        }
        return results;
    }

    private BenchResult Measure<T>(AttentionBuffers<T> buffers, SweepConfiguration configuration, AttentionPass pass) where T : unmanaged
    {
        var result = Naive(configuration, pass);
        var settings = configuration.Settings;
        Action<int> launch = pass switch
        {
            AttentionPass.Forward => run => buffers.Forward(run % buffers.Sets, settings),
            AttentionPass.Backward => run => buffers.Backward(run % buffers.Sets, settings),
            _ => run =>
            {
                buffers.Forward(run % buffers.Sets, settings);
                buffers.Backward(run % buffers.Sets, settings);
            },
        };
        try
        {
            if (options.SettleMs > 0) Thread.Sleep(options.SettleMs);
            if (pass == AttentionPass.Backward)
                for (int set = 0; set < buffers.Sets; set++) buffers.Forward(set, settings); // the saved forward each backward reads
            long peak = buffers.BytesOfOneCall(pass) + TransientPeak(() => launch(0));
            for (int run = 1; run <= options.Warmup; run++) launch(run);
            accelerator.Synchronize();
            if (options.WarmupMs > 0)
            {
                // the load of this pass long enough for the clocks to settle to it (each run synchronised: the time is the GPU's)
                var warm = System.Diagnostics.Stopwatch.StartNew();
                for (int run = options.Warmup + 1; warm.ElapsedMilliseconds < options.WarmupMs; run++)
                {
                    launch(run);
                    accelerator.Synchronize();
                }
            }
            double ms = Median.Of(timer.TimeEach(options.Runs, launch));
            string? wrong = buffers.CheckResults(pass);
            return result with
            {
                Ms = ms,
                Tflops = AttentionFlops.Tflops(configuration.Flops(pass), ms),
                PeakBytes = peak,
                Error = wrong is null ? null : $"results check failed: {wrong}",
            };
        }
        catch (Exception e)
        {
            return result with { Error = Describe(e) };
        }
    }

    /// <summary>The most the allocation tracker saw above what was held before <paramref name="call"/>.</summary>
    private long TransientPeak(Action call)
    {
        accelerator.Cache.Release(); // idle workspaces from earlier configurations would hide this call's
        accelerator.Synchronize();
        long held = accelerator.AllocatedBytes;
        accelerator.ResetPeakAllocatedBytes();
        call();
        accelerator.Synchronize();
        return accelerator.PeakAllocatedBytes - held;
    }

    private static BenchResult Naive(SweepConfiguration configuration, AttentionPass pass)
        => configuration.Result(pass) with { NaiveBytes = MemoryAccounting.Naive(pass, configuration.Shape, DTypes.SizeOf(configuration.DType)) };

    private BenchResult Report(SweepConfiguration configuration, BenchResult result)
    {
        _done++;
        string width = new('0', _total.ToString().Length);
        string measured = result.Ms is { } ms
            ? $"{ms,10:F3} ms {result.Tflops,8:F2} TFLOP/s   peak {ByteSize.Format(result.PeakBytes)} (naive {ByteSize.Format(result.NaiveBytes)})"
            : "";
        string error = result.Error is null ? "" : $"   error: {result.Error}";
        progress.WriteLine($"[{_done.ToString(width)}/{_total}] {configuration} {AttentionPasses.Name(result.Pass),-7}{measured}{error}");
        progress.Flush();
        return result;
    }

    private static string Describe(Exception e) => $"{e.GetType().Name}: {e.Message}";
}
