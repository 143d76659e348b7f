using FlashAttn.Bench.Timing;
using FlashAttn.Compute.Runtime;
using FlashAttn.Compute.Runtime.Cuda;

namespace FlashAttn.Bench.Cli;

/// <summary>The <c>--device cuda|cpu</c> option: CUDA device 0 by default; the CPU accelerator to check the code path at tiny sizes.</summary>
internal static class DeviceOption
{
    /// <summary>The option's name.</summary>
    public const string Name = "--device";

    /// <summary>True for <c>--device cpu</c>, false for cuda (the default).</summary>
    /// <exception cref="FormatException">Neither cuda nor cpu.</exception>
    public static bool ParseCpu(VerbArguments line) => line.Choice(Name, "cuda", "cuda", "cpu") == "cpu";

    /// <summary>Opens the CPU accelerator or CUDA device 0; null (after saying why on <paramref name="error"/>) when CUDA is absent.</summary>
    public static Accelerator? Open(bool cpu, TextWriter error)
    {
        if (cpu) return Accelerators.CreateCpu();
        if (CudaAccelerator.IsAvailable()) return new CudaAccelerator(0);
        error.WriteLine("no CUDA device (the driver is missing, fails to initialize or reports no GPU); " +
            "--device cpu runs the same code path on the CPU accelerator at tiny sizes.");
        return null;
    }

    /// <summary>CUDA events on a GPU, a stopwatch elsewhere.</summary>
    public static ILaunchTimer Timer(Accelerator accelerator)
        => accelerator is CudaAccelerator cuda ? new CudaEventTimer(cuda) : new StopwatchTimer(accelerator);
}
