using FlashAttn.Bench.Attention;
using FlashAttn.Bench.Cli;
using FlashAttn.Bench.Results;
using FlashAttn.Compute.Runtime.Cuda;
using FlashAttn.Distributed;

namespace FlashAttn.Bench.Ring;

/// <summary>
/// The <c>ring</c> verb (issue "Context parallelism: ring attention across GPUs over NCCL"): on N GPUs, one process
/// driving a rank per GPU from a thread each, (1) the ring against single-GPU attention at a length one GPU holds
/// (<see cref="RingCorrectness"/>), (2) weak scaling at 1M tokens against one GPU at S / N (<see cref="RingScalingBenchmark"/>),
/// (3) with --largest, the largest sequence whose forward + backward runs (<see cref="RingLargestSearch"/>). Progress on
/// stderr; the results JSON (rewritten after each part) and the markdown report go to --out; the report is printed last.
/// </summary>
internal static class RingBenchmark
{
    /// <summary>Runs the verb; <paramref name="args"/> starts with "ring". Exit code 0; 1 when the check fails or a part
    /// fails; 2 for bad options, or when CUDA, enough GPUs or NCCL are missing (the message says which).</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        if (!VerbArguments.TryParse(args, RingOptions.ValueOptions, RingOptions.Flags, RingOptions.Parse, "FlashAttn.Bench " + RingOptions.Usage, error,
                out var options))
            return 2;
        int gpuCount = CudaAccelerator.DeviceCount();
        if (gpuCount == 0)
        {
            error.WriteLine("ring: no CUDA device (the CUDA driver is missing, fails to initialize or reports no GPU); the ring benchmark needs GPUs.");
            return 2;
        }
        int ranks = options.Ranks ?? (options.Nccl ? gpuCount : Math.Max(2, gpuCount));
        if (options.Nccl && Unavailable(gpuCount, ranks) is { } why)
        {
            error.WriteLine($"ring: {why}");
            return 2;
        }
        if (options.Check(ranks) is { } bad)
        {
            error.WriteLine($"ring: {bad}");
            return 2;
        }

        using var opened = RingRanks.Open(ranks, gpuCount, options.Nccl);
        var header = RunHeader.Create(opened.Gpus[0].Accelerator, options.Commit, args);
        var run = new RingRun
        {
            Device = header.Device,
            Driver = header.Driver,
            Commit = header.Commit,
            Date = header.Date,
            Command = header.Command,
            Gpus = [.. opened.Gpus.Select(g => g.Name)],
            Transport = options.Transport,
            Ranks = ranks,
            DType = options.DType,
            Batch = RingOptions.Batch,
            Heads = options.Heads,
            HeadDim = options.HeadDim,
            Notes = Notes(options),
        };
        string stem = Path.Combine(options.OutDirectory, $"ring-{DateTime.UtcNow:yyyy-MM-ddTHHmmssZ}");
        error.WriteLine($"ring: {ranks} ranks over {options.Transport} on {string.Join(", ", run.Gpus)}; results {stem}.json");
        run = options.DType == DType.Float16
            ? Measure<Half>(opened, options, run, stem + ".json", error)
            : Measure<BFloat16>(opened, options, run, stem + ".json", error);

        string markdown = RingReport.Markdown(run);
        Directory.CreateDirectory(options.OutDirectory);
        File.WriteAllText(stem + ".md", markdown);
        output.Write(markdown);
        if (run.Check is { Passed: false } check)
            error.WriteLine("ring: FAILED: the ring does not match single-GPU attention: " + string.Join("; ", check.Tensors.Where(t => !t.Passed)
                .Select(t => $"{t.Name} {(t.Relative ? "relative " : "")}error {t.Error:0.00E+0} (bound {t.Bound:0E+0})")));
        if (opened.Stuck)
            error.WriteLine("ring: a rank hung (NCCL waiting on a peer that gave up); the GPUs and communicators are left as they are and the process exits.");
        return run.Errors.Count == 0 && run.Check?.Passed != false ? 0 : 1;
    }

    /// <summary>Why NCCL over <paramref name="ranks"/> GPUs cannot run here, or null.</summary>
    private static string? Unavailable(int gpuCount, int ranks)
    {
        if (gpuCount < 2)
            return $"--transport nccl needs at least 2 GPUs (a rank per GPU); this machine has {gpuCount}. For a one-GPU smoke run use " +
                "--transport inprocess (virtual ranks that exchange through host memory: correct, not fast).";
        if (ranks < 2 || ranks > gpuCount)
            return $"--gpus {ranks} with --transport nccl: a rank per GPU, 2 to {gpuCount} on this machine.";
        if (!NcclProcessGroup.IsAvailable)
            return NcclLibrary.TryLoad(Environment.GetEnvironmentVariable(NcclLibrary.LibraryVariable), out _, out string? reason)
                ? null
                : reason;
        return null;
    }

    /// <summary>The parts asked for, in order; the results file is rewritten after each. A part that fails is recorded
    /// and the next one runs, unless a rank hung.</summary>
    private static RingRun Measure<T>(RingRanks ranks, RingOptions options, RingRun run, string json, TextWriter progress) where T : unmanaged
    {
        var errors = new List<string>();
        RingRun Save(RingRun current)
        {
            current = current with { Nccl = ranks.NcclVersion, Errors = [.. errors] };
            current.Write(json);
            return current;
        }

        void Part(string name, Func<RingRun, RingRun> measure)
        {
            if (ranks.Stuck) return;
            try
            {
                run = Save(measure(run));
            }
            catch (Exception e)
            {
                errors.Add($"{name}: {(e is RankFailure ? "" : e.GetType().Name + ": ")}{e.Message}");
                progress.WriteLine($"ring: {errors[^1]}");
                run = Save(run);
            }
        }

        if (options.CheckTokens > 0) Part("check", r => r with { Check = RingCorrectness.Run<T>(ranks, options, progress) });
        if (options.Tokens > 0) Part("scaling", r => r with { Scaling = RingScalingBenchmark.Run<T>(ranks, options, progress) });
        if (options.Largest)
            Part("largest", r =>
            {
                var largest = RingLargestSearch.Run<T>(ranks, options, progress, partial => run = Save(run with { Largest = partial }));
                if (largest.StoppedBy == "error") errors.Add($"largest: {largest.Probes[^1].Error}");
                return r with { Largest = largest };
            });
        return run;
    }

    private static IReadOnlyList<string> Notes(RingOptions options)
    {
        var notes = new List<string> { AttentionFlops.Formula, RingCorrectness.BoundsNote, RingScalingBenchmark.MethodNote };
        if (options.Largest) notes.Add(RingLargestSearch.MethodNote);
        notes.Add(options.Nccl
            ? "transport: NCCL, one process driving every GPU (ncclCommInitAll), a thread per rank"
            : "transport: in process (InProcessGroup): each ring shift copies through host memory, ranks may share a GPU; timings are not NCCL's");
        return notes;
    }
}
