using FlashAttn.Bench.Engine;

namespace FlashAttn.Bench;

/// <summary>
/// Benchmarks. <c>engine [--json FILE]</c>: compiler-quality benchmarks on the GPU (copy, SGEMM,
/// compile times). <c>ptx TYPE.METHOD [FILE]</c>: a benchmark kernel's PTX.
/// </summary>
internal static class Program
{
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
            default:
                Console.Error.WriteLine("usage: FlashAttn.Bench engine [--json FILE] | ptx TYPE.METHOD [FILE]");
                return 2;
        }
    }
}
