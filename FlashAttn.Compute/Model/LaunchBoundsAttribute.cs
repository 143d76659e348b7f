namespace FlashAttn.Compute;

/// <summary>
/// Tells the GPU compiler the most threads per group a kernel will be launched with and, optionally, how
/// many groups should fit on one multiprocessor (PTX <c>.maxntid</c> / <c>.minnctapersm</c>, CUDA's
/// <c>__launch_bounds__</c>). ptxas then sizes the register budget to match. A launch with more threads
/// per group is rejected before it runs.
/// </summary>
/// <param name="maxThreadsPerGroup">Most threads per group any launch uses.</param>
/// <param name="minGroupsPerMultiprocessor">Groups that should be resident per multiprocessor (0: no request).</param>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class LaunchBoundsAttribute(int maxThreadsPerGroup, int minGroupsPerMultiprocessor = 0) : Attribute
{
    /// <summary>Most threads per group.</summary>
    public int MaxThreadsPerGroup { get; } = maxThreadsPerGroup;

    /// <summary>Requested resident groups per multiprocessor (0: none).</summary>
    public int MinGroupsPerMultiprocessor { get; } = minGroupsPerMultiprocessor;
}
