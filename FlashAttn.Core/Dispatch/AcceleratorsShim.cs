using FlashAttn.Compute.Runtime;
using FlashAttn.Compute.Runtime.Cpu;
using FlashAttn.Compute.Runtime.Cuda;

namespace FlashAttn.Dispatch;

/// <summary>
/// Stand-in for <c>FlashAttn.Compute.Runtime.Accelerators</c> until that factory is merged; same member names.
/// Delete once the real factory lands.
/// </summary>
internal static class AcceleratorsShim
{
    /// <summary>A CUDA driver with at least one GPU is present.</summary>
    public static bool IsCudaAvailable => CudaAccelerator.IsAvailable();

    /// <summary>CUDA when a GPU is present and a kernel compiler is registered, else the CPU.</summary>
    public static Accelerator CreateDefault() =>
        IsCudaAvailable && CudaAccelerator.DefaultKernelCompiler is not null ? CreateCuda() : CreateCpu();

    public static Accelerator CreateCpu() => new CpuAccelerator();

    public static Accelerator CreateCuda(int ordinal = 0) => new CudaAccelerator(ordinal);
}
