using FlashAttn.Compute.Runtime.Cuda;

namespace FlashAttn.Tests.Support;

/// <summary>
/// Sources for tests that need an NVIDIA GPU. Without a CUDA device they yield nothing, so such tests are not
/// generated at all rather than each reported as skipped (dozens of skip blocks would bury the run's summary).
/// </summary>
internal static class CudaOnly
{
    /// <summary>True when a CUDA driver and GPU are present (checked once per run).</summary>
    public static bool IsAvailable => s_available.Value;

    private static readonly Lazy<bool> s_available = new(CudaAccelerator.IsAvailable);

    /// <summary><paramref name="cases"/> when CUDA is present, else nothing.</summary>
    public static IEnumerable<T> Cases<T>(IEnumerable<T> cases) => IsAvailable ? cases : [];

    /// <summary>For <c>[TestFixtureSource]</c>: one parameterless fixture when CUDA is present, else none.</summary>
    public static IEnumerable<TestFixtureData> Fixture => IsAvailable ? [new TestFixtureData()] : [];
}
