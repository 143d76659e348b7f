using System.Globalization;
using System.Text;
using FlashAttn.Bench.Attention;
using FlashAttn.Bench.Cli;
using FlashAttn.Bench.Results;
using FlashAttn.Compute.Runtime;
using FlashAttn.Compute.Runtime.Cuda;

namespace FlashAttn.Bench.Memory;

/// <summary>
/// The <c>memory</c> verb. (1) For each configuration of the grid, the peak device memory of a forward and of a
/// forward + backward through the public API (allocation tracker), next to the accounting and to naive attention.
/// (2) The largest sequence length whose forward + backward buffers all allocate (binary search over real
/// allocations, freed after each probe). (3) One real forward + backward at a moderate length, its peak measured by
/// the tracker and by polling the driver's free memory, held against the accounting.
/// </summary>
internal sealed class MemoryBenchmark(MemoryOptions options, Accelerator accelerator, TextWriter progress)
{
    /// <summary>How the peaks are measured, for the notes.</summary>
    public const string MethodNote =
        "measured peak = the accelerator's allocation tracker (every cuMemAlloc/cuMemFree passes through it): its peak during a " +
        "forward (+ backward) through FlashAttention.Forward/Backward on fresh tensors, above what was held before; the confirming run " +
        "also polls cuMemGetInfo every millisecond (driver view: includes the 2 MiB allocation granularity)";

    /// <summary>Runs the verb; <paramref name="args"/> starts with "memory". Exit code 0, 1 when a measurement disagrees with the accounting or fails, 2 for bad options.</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        if (!VerbArguments.TryParse(args, MemoryOptions.ValueOptions, MemoryOptions.Flags, MemoryOptions.Parse, MemoryOptions.Usage, error,
                out var options))
            return 2;
        using var accelerator = DeviceOption.Open(options.Cpu, error);
        if (accelerator is null) return 2;
        var benchmark = new MemoryBenchmark(options, accelerator, error);
        var results = options.MeasureGrid ? benchmark.MeasureGrid() : [];
        var limits = options.RunSearch ? benchmark.FindLimits() : null;
        var run = RunHeader.Create(accelerator, options.Commit, args) with
        {
            Results = results,
            MemoryLimits = limits,
            Notes = [MethodNote, MemoryAccounting.OursFormula, MemoryAccounting.NaiveFormula],
        };
        string markdown = Markdown(run, options.Grid, accelerator.Info.TotalMemory);
        output.Write(markdown);
        if (options.MarkdownPath is { } md) File.WriteAllText(md, markdown);
        if (options.JsonPath is { } json) ResultsFile.Write(json, run);
        bool agrees = results.All(r => r.Error is null) && limits?.Confirmation?.Matches != false;
        return agrees ? 0 : 1;
    }

    /// <summary>Forward and forward + backward rows for every (dtype, d, seqlen) of the grid.</summary>
    public IReadOnlyList<BenchResult> MeasureGrid()
    {
        var results = new List<BenchResult>();
        using var device = Device.FromAccelerator(accelerator);
        var grid = options.Grid with { Causals = [false] };
        foreach (var configuration in grid.Configurations())
        foreach (var pass in new[] { AttentionPass.Forward, AttentionPass.ForwardBackward })
        {
            int elementBytes = DTypes.SizeOf(configuration.DType);
            long accounted = MemoryAccounting.Ours(pass, configuration.Shape, configuration.Settings, elementBytes);
            var result = configuration.Result(pass) with { NaiveBytes = MemoryAccounting.Naive(pass, configuration.Shape, elementBytes) };
            try
            {
                long peak = ApiMemoryProbe.Run(device, configuration.DType, configuration.Shape, pass != AttentionPass.Forward).TrackedPeakBytes;
                result = result with
                {
                    PeakBytes = peak,
                    Error = peak == accounted ? null : $"measured peak {peak} B differs from the accounting {accounted} B",
                };
            }
            catch (Exception e)
            {
                result = result with { Error = $"{e.GetType().Name}: {e.Message}" };
            }
            progress.WriteLine($"{configuration} {AttentionPasses.Name(pass),-7} peak {ByteSize.Format(result.PeakBytes)} " +
                $"(accounted {ByteSize.Format(accounted)}, naive {ByteSize.Format(result.NaiveBytes)}){(result.Error is { } e2 ? "   error: " + e2 : "")}");
            results.Add(result);
        }
        return results;
    }

    /// <summary>The largest sequence length of the search problem and, when it fits, the confirming run.</summary>
    public MemoryLimits FindLimits()
    {
        var problem = options.Search;
        bool cuda = accelerator is CudaAccelerator;
        long elementsPerToken = (long)problem.Batch * problem.Heads * problem.HeadDim;
        // A tensor holds at most int.MaxValue elements (DeviceTensor, ArrayView): the API's own limit.
        int apiLimit = (int)Math.Min(int.MaxValue, int.MaxValue / elementsPerToken);
        int bound = Math.Min(apiLimit, options.SearchMaxSeqLen ?? (cuda ? apiLimit : 4096));
        long? free = (accelerator as CudaAccelerator)?.GetMemoryInfo().Free;
        progress.WriteLine($"searching the largest seqlen of {DTypeNames.Of(problem.DType)} fwd+bwd, b={problem.Batch} h={problem.Heads} d={problem.HeadDim}: multiples of {options.SearchStep} up to {bound}");

        int largest = LargestSeqLenSearch.Find(options.SearchStep, bound, seqLen =>
        {
            bool fits = AllBuffersAllocate(problem with { SeqLen = seqLen });
            progress.WriteLine($"  s={seqLen}: {ByteSize.Format(Accounted(problem with { SeqLen = seqLen }))} {(fits ? "fits" : "does not fit")}");
            return fits;
        });
        var limits = new MemoryLimits
        {
            DType = problem.DType,
            Batch = problem.Batch,
            Heads = problem.Heads,
            HeadDim = problem.HeadDim,
            Step = options.SearchStep,
            SearchMaxSeqLen = bound,
            LargestSeqLen = largest,
            LargestSeqLenBytes = largest > 0 ? Accounted(problem with { SeqLen = largest }) : 0,
            Bound = largest + options.SearchStep > bound ? "search bound" : "device memory",
            TotalMemory = accelerator.Info.TotalMemory,
            FreeMemory = free,
        };
        int confirmSeqLen = options.ConfirmSeqLen ?? (cuda ? 32768 : 128);
        if (confirmSeqLen > largest)
        {
            progress.WriteLine($"confirmation at s={confirmSeqLen} skipped: past the largest seqlen {largest}");
            return limits;
        }
        return limits with { Confirmation = Confirm(problem with { SeqLen = confirmSeqLen }) };
    }

    private long Accounted(SweepConfiguration problem)
        => MemoryAccounting.Ours(AttentionPass.ForwardBackward, problem.Shape, problem.Settings, DTypes.SizeOf(problem.DType));

    /// <summary>Whether every forward + backward buffer of <paramref name="problem"/> allocates at once (all freed after).</summary>
    private bool AllBuffersAllocate(SweepConfiguration problem)
    {
        var held = new List<MemoryBuffer<byte>>();
        try
        {
            foreach (var buffer in MemoryAccounting.Buffers(AttentionPass.ForwardBackward, problem.Shape, problem.Settings, DTypes.SizeOf(problem.DType)))
                held.Add(accelerator.Allocate<byte>(buffer.Bytes));
            return true;
        }
        catch (OutOfMemoryException)
        {
            return false;
        }
        finally
        {
            foreach (var buffer in held) buffer.Dispose();
        }
    }

    private MemoryConfirmation Confirm(SweepConfiguration problem)
    {
        using var device = Device.FromAccelerator(accelerator);
        // Load the kernels first (modules and their local memory are the driver's, not ours) so the driver's view sees only buffers.
        ApiMemoryProbe.Run(device, problem.DType, (problem with { SeqLen = Math.Min(problem.SeqLen, 256) }).Shape, backward: true);
        long accounted = Accounted(problem);
        var cuda = accelerator as CudaAccelerator;
        long? freeBefore = cuda?.GetMemoryInfo().Free;
        using var sampler = cuda is null ? null : new FreeMemorySampler(cuda);
        var measurement = ApiMemoryProbe.Run(device, problem.DType, problem.Shape, backward: true);
        sampler?.Dispose();
        long? driverPeak = freeBefore - sampler?.LeastFree;
        progress.WriteLine($"confirmation {problem}: accounted {accounted} B, tracked peak {measurement.TrackedPeakBytes} B, " +
            $"driver peak {(driverPeak is { } p ? p + " B" : "n/a")} ({sampler?.Samples ?? 0} polls), {measurement.Milliseconds:F0} ms");
        return new MemoryConfirmation
        {
            SeqLen = problem.SeqLen,
            AccountedBytes = accounted,
            TrackedPeakBytes = measurement.TrackedPeakBytes,
            DriverPeakBytes = driverPeak,
            Ms = measurement.Milliseconds,
            Matches = measurement.TrackedPeakBytes == accounted,
        };
    }

    /// <summary>The grid table, the limits and the notes as markdown.</summary>
    public static string Markdown(BenchRun run, SweepGrid grid, long totalMemory)
    {
        var text = new StringBuilder($"{run.Device} ({ByteSize.Format(totalMemory)}), {run.Driver}, commit {run.Commit}, {run.Date}\n\n");
        var rows = run.Results.Where(r => r.Backend == Backends.FlashAttn).ToList();
        if (rows.Count > 0)
        {
            var table = new MarkdownTable(["dtype", "d", "seqlen", "b", "h", "fwd: ours", "naive", "naive / ours", "fwd+bwd: ours", "naive", "naive / ours"], labelColumns: 2);
            foreach (var shape in rows.GroupBy(r => (r.DType, r.HeadDim, r.SeqLen, r.Batch, r.Heads)))
            {
                var cells = new List<string>
                {
                    DTypeNames.Of(shape.Key.DType), Invariant(shape.Key.HeadDim), Invariant(shape.Key.SeqLen), Invariant(shape.Key.Batch), Invariant(shape.Key.Heads),
                };
                foreach (var pass in new[] { AttentionPass.Forward, AttentionPass.ForwardBackward })
                {
                    var r = shape.FirstOrDefault(x => x.Pass == pass);
                    cells.Add(r?.Error is null ? ByteSize.Format(r?.PeakBytes) : "error");
                    cells.Add(ByteSize.Format(r?.NaiveBytes));
                    cells.Add(r is { PeakBytes: > 0 and var peak, NaiveBytes: { } naive } ? $"{(double)naive / peak:F1}×" : "—");
                }
                table.AddRow(cells);
            }
            text.Append(table);
            foreach (var r in rows.Where(r => r.Error is not null))
                text.Append($"\n- {DTypeNames.Of(r.DType)} d={r.HeadDim} s={r.SeqLen} {AttentionPasses.Name(r.Pass)}: {r.Error}");
            text.Append('\n');
        }
        if (run.MemoryLimits is { } limits)
        {
            text.Append($"\nLargest sequence length, {DTypeNames.Of(limits.DType)} forward + backward, b={limits.Batch}, h={limits.Heads}, d={limits.HeadDim}: " +
                $"**{limits.LargestSeqLen}** tokens ({ByteSize.Format(limits.LargestSeqLenBytes)} accounted; stopped by the {limits.Bound}). " +
                $"Binary search over multiples of {limits.Step} up to {limits.SearchMaxSeqLen}; each probe allocates every buffer of the accounting " +
                $"through the accelerator and frees it; {ByteSize.Format(limits.FreeMemory)} free of {ByteSize.Format(limits.TotalMemory)} before.\n");
            if (limits.Confirmation is { } c)
                text.Append($"\nConfirmation at s={c.SeqLen}: accounted {c.AccountedBytes} B, tracked peak {c.TrackedPeakBytes} B " +
                    $"({(c.Matches ? "equal" : "**differs**")}), driver-observed peak {(c.DriverPeakBytes is { } d ? d + " B" : "n/a")}; forward + backward {c.Ms:F0} ms.\n");
        }
        text.Append("\nNotes:\n\n");
        foreach (string note in run.Notes ?? []) text.Append($"- {note}\n");
        return text.ToString();
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
