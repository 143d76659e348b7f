using FlashAttn.Bench.Api;
using FlashAttn.Bench.Attention;
using FlashAttn.Bench.Cpu;
using FlashAttn.Bench.Engine;
using FlashAttn.Bench.Inference;
using FlashAttn.Bench.Memory;
using FlashAttn.Bench.Plot;

namespace FlashAttn.Bench;

/// <summary>
/// Benchmarks. <c>engine [--json FILE]</c>: compiler-quality benchmarks on the GPU (copy, SGEMM,
/// compile times). <c>ptx TYPE.METHOD [FILE]</c>: a benchmark kernel's PTX. Attention: <c>sweep</c> (throughput over
/// flash-attn's grid, <see cref="AttentionSweep"/>), <c>cpu</c> (the CPU path against the FMA peak, <see cref="CpuBenchmark"/>), <c>memory</c> (<see cref="MemoryBenchmark"/>), <c>plot</c> and
/// <c>report</c> (<see cref="PlotCommand"/>), <c>api</c> (<see cref="ApiBenchmarks"/>), <c>inference</c> (decode and varlen, <see cref="InferenceBenchmark"/>), <c>modifiers</c> (variants, modifiers, block sparsity, <see cref="ModifierBenchmark"/>).
/// </summary>
internal static class Program
{
    /// <summary>The attention benchmark verbs' usage lines.</summary>
    private static readonly string[] AttentionUsages =
        [SweepOptions.Usage, CpuBenchOptions.Usage, MemoryOptions.Usage, PlotCommand.PlotUsage, PlotCommand.ReportUsage, ApiBenchmarks.Usage, InferenceBenchmark.Usage, ModifierBenchmark.Usage, UploadBenchmark.Usage, Ring.RingOptions.Usage];

    private static int Main(string[] args)
    {
        string command = args.Length > 0 ? args[0] : "engine";
        string? json = null;
        for (int i = 1; i < args.Length - 1; i++)
            if (args[i] == "--json") json = args[i + 1];
        switch (command)
        {
            case "engine":
                return EngineBenchmarks.Run(json);
            case "oracle": return Oracle.OracleCommand.Run(args[1..]);
            case "ptx" when args.Length > 1:
                return PtxDump.Run(args[1], args.Length > 2 ? args[2] : null);
            case "sweep":
                return AttentionSweep.Run(args, Console.Out, Console.Error);
            case "cpu":
                return CpuBenchmark.Run(args, Console.Out, Console.Error);
            case "memory":
                return MemoryBenchmark.Run(args, Console.Out, Console.Error);
            case "plot":
                return PlotCommand.Plot(args, Console.Out, Console.Error);
            case "report":
                return PlotCommand.Report(args, Console.Out, Console.Error);
            case "modifiers":
                return ModifierBenchmark.Run(args, Console.Out, Console.Error);
            case "inference":
                return InferenceBenchmark.Run(args, Console.Out, Console.Error);
            case "api":
                return ApiBenchmarks.Run(args);
            case "ring":
                return Ring.RingBenchmark.Run(args, Console.Out, Console.Error);
            case "upload":
                return UploadBenchmark.Run(args, Console.Out, Console.Error);
            default:
                Console.Error.WriteLine("usage: FlashAttn.Bench engine [--json FILE] | ptx TYPE.METHOD [FILE]");
                foreach (string usage in AttentionUsages) Console.Error.WriteLine("       FlashAttn.Bench " + usage);
                return 2;
        }
    }
}
