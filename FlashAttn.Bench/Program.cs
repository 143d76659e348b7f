using FlashAttn.Bench.Engine;

namespace FlashAttn.Bench;

/// <summary>
/// Benchmarks. <c>engine [--json FILE]</c>: compiler-quality benchmarks on the GPU (copy, SGEMM,
/// compile times).
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
            default:
                Console.Error.WriteLine("usage: FlashAttn.Bench engine [--json FILE]");
                return 2;
        }
    }
}
