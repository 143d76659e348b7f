using FlashAttn.Compute.Runtime.Cpu;
using FlashAttn.Compute.Runtime.Cuda;

namespace FlashAttn.Compute.Runtime;

/// <summary>Creates accelerators: the GPU when one can be used, otherwise the CPU.</summary>
public static class Accelerators
{
    /// <summary>True when the CUDA driver loads, initializes and reports at least one device.</summary>
    public static bool IsCudaAvailable => CudaAccelerator.IsAvailable();

    /// <summary>
    /// CUDA device 0 when <see cref="IsCudaAvailable"/>, otherwise the CPU accelerator. Setting the
    /// environment variable <c>FLASHATTN_DEVICE</c> to <c>cpu</c> or <c>cuda</c> forces one.
    /// </summary>
    /// <exception cref="InvalidOperationException"><c>FLASHATTN_DEVICE=cuda</c> but no CUDA device can be used.</exception>
    public static Accelerator CreateDefault()
    {
        string? forced = Environment.GetEnvironmentVariable("FLASHATTN_DEVICE");
        if (string.Equals(forced, "cpu", StringComparison.OrdinalIgnoreCase)) return CreateCpu();
        if (string.Equals(forced, "cuda", StringComparison.OrdinalIgnoreCase)) return CreateCuda();
        return IsCudaAvailable ? CreateCuda() : CreateCpu();
    }

    /// <summary>The CPU accelerator (runs kernels' managed code on CPU threads).</summary>
    public static Accelerator CreateCpu() => new CpuAccelerator();

    /// <summary>CUDA device <paramref name="ordinal"/>.</summary>
    /// <exception cref="InvalidOperationException">No CUDA driver or no such device.</exception>
    public static Accelerator CreateCuda(int ordinal = 0)
    {
        if (!IsCudaAvailable)
            throw new InvalidOperationException("No CUDA device can be used: the CUDA driver (libcuda) is missing, fails to initialize, or reports no GPU.");
        int count = CudaAccelerator.DeviceCount();
        if (ordinal < 0 || ordinal >= count)
            throw new ArgumentOutOfRangeException(nameof(ordinal), ordinal, $"CUDA device ordinal must be in [0, {count}).");
        return new CudaAccelerator(ordinal);
    }
}
