using System.Reflection;

namespace FlashAttn.Compute.Runtime.Cpu;

/// <summary>
/// Runs kernels' managed code on CPU threads: every group's threads run concurrently as OS threads, so
/// barriers, shared memory and warp shuffles behave as on a GPU. Its limits mirror an H100 (warp 32,
/// 1024 threads per group, 227 KB of shared memory per group) so tests exercise the GPU's configurations.
/// Launches are synchronous.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Barriers: every thread of a group must reach every <c>Group.Barrier</c> (every lane of a warp every
/// warp barrier and shuffle). A thread that returns while others wait, reaches a barrier after another
/// returned, or leaves the group stuck at barriers that cannot complete fails the launch with an
/// <see cref="InvalidOperationException"/> naming the group and thread; it never hangs.</item>
/// <item>An exception in any kernel thread aborts the launch and is rethrown by <c>Launch</c>.</item>
/// <item>Shared memory (static and dynamic) starts filled with 0xFF bytes (NaN floats, −1 integers) so
/// reads before writes show up; local memory starts zeroed.</item>
/// <item>In a partial last warp (group size not a multiple of 32) a shuffle from a lane that does not
/// exist returns the caller's own value.</item>
/// </list>
/// </remarks>
public sealed class CpuAccelerator : Accelerator
{
    private long _allocated;
    private long _peak;

    /// <summary>Creates the CPU accelerator.</summary>
    public CpuAccelerator() : this(CpuGroupExecutor.MaxSharedBytes) { }

    /// <summary>Creates a CPU accelerator that reports <paramref name="maxSharedMemoryPerGroup"/> bytes of shared memory per
    /// group, as a device with less than an H100 (an A100's 163 KB): launchers then choose that device's tiles, and a launch
    /// asking for more is refused as on it.</summary>
    public CpuAccelerator(int maxSharedMemoryPerGroup)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxSharedMemoryPerGroup);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxSharedMemoryPerGroup, CpuGroupExecutor.MaxSharedBytes);
        Info = new AcceleratorInfo(
            Name: $"CPU ({Environment.ProcessorCount} cores)",
            WarpSize: 32,
            MaxGroupSize: 1024,
            MaxSharedMemoryPerGroup: maxSharedMemoryPerGroup,
            MultiprocessorCount: Environment.ProcessorCount,
            ComputeCapability: 0,
            TotalMemory: GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);
    }

    /// <inheritdoc/>
    public override AcceleratorKind Kind => AcceleratorKind.Cpu;

    /// <inheritdoc/>
    public override AcceleratorInfo Info { get; }

    /// <inheritdoc/>
    public override MemoryBuffer<T> Allocate<T>(long length)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return new CpuMemoryBuffer<T>(this, length);
    }

    /// <inheritdoc/>
    public override long AllocatedBytes => Interlocked.Read(ref _allocated);

    /// <inheritdoc/>
    public override long PeakAllocatedBytes => Interlocked.Read(ref _peak);

    /// <inheritdoc/>
    public override void ResetPeakAllocatedBytes() => Interlocked.Exchange(ref _peak, Interlocked.Read(ref _allocated));

    /// <inheritdoc/>
    public override void Synchronize() => ObjectDisposedException.ThrowIf(IsDisposed, this);

    /// <inheritdoc/>
    protected override Kernel CreateKernel(MethodInfo method) => new CpuKernel(this, method);

    internal void OnAllocated(long bytes)
    {
        long now = Interlocked.Add(ref _allocated, bytes);
        long peak;
        while (now > (peak = Interlocked.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, now, peak) != peak) { }
    }

    internal void OnFreed(long bytes) => Interlocked.Add(ref _allocated, -bytes);
}
