using System.Diagnostics;
using System.Runtime.InteropServices;
using FlashAttn.Bench.Cli;
using FlashAttn.Bench.Timing;
using FlashAttn.Compute.Runtime.Cuda;

namespace FlashAttn.Bench.Memory;

/// <summary>
/// The <c>upload</c> verb (issue 18, "pinned or registered memory where it pays"): host → device and device → host
/// copies of each size from pageable memory (the driver stages it through its own pinned buffer), from memory registered
/// for that one copy (cuMemHostRegister + copy + unregister: what a library could do per call), and from memory
/// registered once (the copy alone: what a caller that keeps its buffers registered gets). GB/s, median of --runs.
/// </summary>
internal static unsafe class UploadBenchmark
{
    /// <summary>The verb's usage line.</summary>
    public const string Usage = "upload [--mib 1,16,256,1024] [--runs 10]";

    private static readonly string[] ValueOptions = ["--mib", "--runs"];

    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        if (!VerbArguments.TryParse(args, ValueOptions, null, line => (Sizes: line.Positives("--mib", [1, 16, 256, 1024]),
                Runs: line.Positive("--runs", 10)), "FlashAttn.Bench " + Usage, error, out var o))
            return 2;
        if (!CudaAccelerator.IsAvailable())
        {
            error.WriteLine("upload needs a CUDA device (the driver is missing, fails to initialize or reports no GPU).");
            return 2;
        }
        using var accelerator = new CudaAccelerator(0);
        output.WriteLine($"# {accelerator.Info.Name}; GB/s, median of {o.Runs}");
        output.WriteLine("| MiB | direction | pageable | registered per copy | registered once |");
        output.WriteLine("|---:|---|---:|---:|---:|");
        foreach (int mib in o.Sizes)
        {
            long bytes = (long)mib << 20;
            var host = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 4096);
            try
            {
                new Span<byte>(host, (int)bytes).Fill(1); // fault the pages in before timing
                using var device = accelerator.Allocate<byte>(bytes);
                foreach (bool up in new[] { true, false })
                {
                    void Copy()
                    {
                        if (up) device.CopyFromHost(new ReadOnlySpan<byte>(host, (int)bytes));
                        else device.CopyToHost(new Span<byte>(host, (int)bytes));
                    }
                    double pageable = GigabytesPerSecond(bytes, o.Runs, Copy);
                    double perCopy = GigabytesPerSecond(bytes, o.Runs, () =>
                    {
                        using var registration = accelerator.RegisterHostMemory(host, bytes);
                        Copy();
                    });
                    double once;
                    using (accelerator.RegisterHostMemory(host, bytes)) once = GigabytesPerSecond(bytes, o.Runs, Copy);
                    output.WriteLine($"| {mib} | {(up ? "host → device" : "device → host")} | {pageable:F1} | {perCopy:F1} | {once:F1} |");
                }
            }
            finally
            {
                NativeMemory.AlignedFree(host);
            }
        }
        return 0;
    }

    /// <summary>Median GB/s of <paramref name="runs"/> calls of <paramref name="copy"/> (synchronous copies) after one warm-up.</summary>
    private static double GigabytesPerSecond(long bytes, int runs, Action copy)
    {
        copy();
        var seconds = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            var watch = Stopwatch.StartNew();
            copy();
            seconds[i] = watch.Elapsed.TotalSeconds;
        }
        return bytes / Median.Of(seconds) / 1e9;
    }
}
