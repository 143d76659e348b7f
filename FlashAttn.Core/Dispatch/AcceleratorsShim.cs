using FlashAttn.Compute.Runtime;

namespace FlashAttn.Dispatch;

/// <summary>
/// Stand-in for <c>FlashAttn.Compute.Runtime.Accelerators</c> until that factory is merged; same member names.
/// Delete once the real factory lands.
/// </summary>
internal static class AcceleratorsShim
{
    public static bool IsCudaAvailable => false;

    public static Accelerator CreateDefault() => CreateCpu();

    public static Accelerator CreateCpu() =>
        throw new NotSupportedException("The CPU accelerator is not part of this build yet.");

    public static Accelerator CreateCuda(int ordinal = 0) =>
        throw new NotSupportedException($"No CUDA device {ordinal}: the CUDA accelerator is not part of this build yet.");
}
