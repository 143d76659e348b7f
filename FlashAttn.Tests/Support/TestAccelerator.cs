using FlashAttn.Compute.Runtime;

namespace FlashAttn.Tests.Support;

/// <summary>
/// The accelerator that device-generic tests (the attention table) run on: the CPU by default, CUDA when
/// <c>FLASHATTN_TEST_DEVICE=cuda</c> (how the published test executable runs the same table on a GPU).
/// </summary>
internal static class TestAccelerator
{
    public const string EnvironmentVariable = "FLASHATTN_TEST_DEVICE";

    public static bool IsCuda => string.Equals(Environment.GetEnvironmentVariable(EnvironmentVariable), "cuda", StringComparison.OrdinalIgnoreCase);

    public static Accelerator Create() => IsCuda ? Accelerators.CreateCuda() : Accelerators.CreateCpu();
}
