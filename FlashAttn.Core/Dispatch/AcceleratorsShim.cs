using FlashAttn.Compute.Runtime;
using FlashAttn.Compute.Runtime.Cpu;

namespace FlashAttn.Dispatch;

/// <summary>
/// Stand-in for <c>FlashAttn.Compute.Runtime.Accelerators</c> until that factory is merged; same member names.
/// Delete once the real factory lands.
/// </summary>
internal static class AcceleratorsShim
{
    public static bool IsCudaAvailable => false;

    public static Accelerator CreateDefault() => CreateCpu();

    public static Accelerator CreateCpu() => new CpuAccelerator();

    public static Accelerator CreateCuda(int ordinal = 0) =>
        throw new NotSupportedException($"No CUDA device {ordinal}: the CUDA accelerator is not part of this build yet.");
}
