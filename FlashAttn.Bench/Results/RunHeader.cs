using FlashAttn.Compute.Runtime;
using FlashAttn.Compute.Runtime.Cuda;

namespace FlashAttn.Bench.Results;

/// <summary>The header of a results file: device, driver, commit, date and command of this run.</summary>
internal static class RunHeader
{
    /// <summary>Where the GPU bundle records its commit (scripts/build-gpu-bundle.sh), relative to the working directory.</summary>
    private static readonly string[] CommitFiles = ["bundle/COMMIT", "COMMIT"];

    /// <summary>A run without results on <paramref name="accelerator"/>.</summary>
    /// <param name="accelerator">The device measured.</param>
    /// <param name="commit">--commit, or null to read bundle/COMMIT.</param>
    /// <param name="args">The full command line (verb included).</param>
    public static BenchRun Create(Accelerator accelerator, string? commit, IEnumerable<string> args) => new()
    {
        Device = accelerator.Name,
        Driver = accelerator is CudaAccelerator cuda ? $"CUDA {cuda.DriverVersion / 1000}.{cuda.DriverVersion % 1000 / 10} ({cuda.DriverVersion})" : "none (CPU)",
        Commit = commit ?? ReadCommit(),
        Date = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"),
        Command = Cli.VerbArguments.Describe(args),
        Results = [],
    };

    private static string ReadCommit()
    {
        foreach (string file in CommitFiles)
            if (File.Exists(file)) return File.ReadAllText(file).Trim();
        return "unknown";
    }
}
