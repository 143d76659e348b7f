using System.Reflection;

namespace FlashAttn.Compute.Runtime.Cpu;

/// <summary>
/// Runs kernels' managed code on CPU threads: every group's threads run concurrently as OS threads, so
/// barriers, shared memory and warp shuffles behave as on a GPU. Its limits mirror an H100 (warp 32,
/// 1024 threads per group, 227 KB of shared memory per group) so tests exercise the GPU's configurations.
/// Launches are synchronous.
/// </summary>
public sealed class CpuAccelerator : Accelerator
{
    private long _allocated;
    private long _peak;

    /// <summary>Creates the CPU accelerator.</summary>
    public CpuAccelerator()
    {
        Info = new AcceleratorInfo(
            Name: $"CPU ({Environment.ProcessorCount} cores)",
            WarpSize: 32,
            MaxGroupSize: 1024,
            MaxSharedMemoryPerGroup: CpuGroupExecutor.MaxSharedBytes,
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
