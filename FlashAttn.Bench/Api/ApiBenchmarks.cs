using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;

namespace FlashAttn.Bench.Api;

/// <summary>
/// The <c>api</c> verb: BenchmarkDotNet over the public API's own costs (<see cref="ValidationBenchmarks"/>,
/// <see cref="CallOverheadBenchmarks"/>, <see cref="EndToEndBenchmarks"/>). The job runs in this process (no SDK needed:
/// the GPU machine has none) and is short (ShortRun: 3 warm-ups, 3 iterations of 250 ms) so the suite takes minutes.
/// </summary>
internal static class ApiBenchmarks
{
    /// <summary>The verb's usage line.</summary>
    public const string Usage = "api [BenchmarkDotNet options, e.g. --filter *Validation* --artifacts DIR; default --filter *]";

    /// <summary>The benchmark classes.</summary>
    public static Type[] Types { get; } = [typeof(ValidationBenchmarks), typeof(CallOverheadBenchmarks), typeof(EndToEndBenchmarks)];

    /// <summary>In-process, ShortRun-like job (Job spelled out: FlashAttn.Job is a namespace too).</summary>
    public static IConfig Config { get; } = DefaultConfig.Instance.AddJob(
        BenchmarkDotNet.Jobs.Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance).WithIterationTime(TimeInterval.FromMilliseconds(250)).WithId("InProcessShort"));

    /// <summary>Runs the verb; <paramref name="args"/> starts with "api". Exit code 0, 1 when a benchmark could not run.</summary>
    public static int Run(IReadOnlyList<string> args)
    {
        // Without a filter the switcher asks on the console which benchmarks to run; scripts have no one to answer.
        string[] options = [.. args.Skip(1)];
        if (!options.Contains("--filter")) options = [.. options, "--filter", "*"];
        var summaries = BenchmarkSwitcher.FromTypes(Types).Run(options, Config);
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }
}
