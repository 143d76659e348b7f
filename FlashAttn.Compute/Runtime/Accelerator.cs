using System.Reflection;

namespace FlashAttn.Compute.Runtime;

/// <summary>Which kind of device an <see cref="Accelerator"/> drives.</summary>
public enum AcceleratorKind
{
    /// <summary>Runs kernels' managed code on CPU threads, one OS thread per group thread.</summary>
    Cpu,
    /// <summary>An NVIDIA GPU through the CUDA driver API; kernels compiled to PTX.</summary>
    Cuda,
}

/// <summary>Properties of a device that kernels and hosts size themselves by.</summary>
/// <param name="Name">Device name.</param>
/// <param name="WarpSize">Threads per warp (32).</param>
/// <param name="MaxGroupSize">Most threads a group may have.</param>
/// <param name="MaxSharedMemoryPerGroup">Most shared memory in bytes a group may use (opt-in limit, above 48 KB on recent GPUs).</param>
/// <param name="MultiprocessorCount">Streaming multiprocessors (CPU: logical cores).</param>
/// <param name="ComputeCapability">Compute capability as major·10 + minor (0 on the CPU).</param>
/// <param name="TotalMemory">Device memory in bytes.</param>
public sealed record AcceleratorInfo(
    string Name, int WarpSize, int MaxGroupSize, int MaxSharedMemoryPerGroup,
    int MultiprocessorCount, int ComputeCapability, long TotalMemory)
{
    /// <summary>True where kernels may use <see cref="BulkCopy"/>: sm_90 and newer, and the CPU (which runs them with a check
    /// of their ordering).</summary>
    public bool HasBulkCopies => ComputeCapability is 0 or >= 90;

    /// <summary>True where kernels may use <see cref="WarpGroupMma"/>: sm_90 exactly (its <c>sm_90a</c> features are not carried
    /// forward to later architectures), and the CPU.</summary>
    public bool HasWarpGroupMma => ComputeCapability is 0 or 90;
}

/// <summary>
/// A device that allocates memory and runs kernels. Create one with <c>Accelerators.CreateDefault()</c> (CUDA when
/// a driver and GPU are present, else the CPU) or explicitly; dispose it to release the device.
/// </summary>
public abstract class Accelerator : IDisposable
{
    private readonly Dictionary<MethodInfo, Kernel> _kernels = [];
    private BufferCache? _cache;
    private bool _disposed;

    /// <summary>The kind of device.</summary>
    public abstract AcceleratorKind Kind { get; }

    /// <summary>The device's properties.</summary>
    public abstract AcceleratorInfo Info { get; }

    /// <summary>Name of the device.</summary>
    public string Name => Info.Name;

    /// <summary>True once disposed.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>Allocates <paramref name="length"/> elements of device memory (contents undefined).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative.</exception>
    /// <exception cref="OutOfMemoryException">The device has not enough free memory.</exception>
    public abstract MemoryBuffer<T> Allocate<T>(long length) where T : unmanaged;

    /// <summary>Bytes of device memory currently allocated through this accelerator.</summary>
    public abstract long AllocatedBytes { get; }

    /// <summary>Largest <see cref="AllocatedBytes"/> seen since the last <see cref="ResetPeakAllocatedBytes"/>.</summary>
    public abstract long PeakAllocatedBytes { get; }

    /// <summary>Restarts the peak count from the current allocation.</summary>
    public abstract void ResetPeakAllocatedBytes();

    /// <summary>
    /// The queue launches go to now: work given to one queue runs in issue order (<see cref="BufferCache"/> reuses a
    /// buffer only on the queue it was given back on). The accelerator itself unless it has several (CUDA: the current stream).
    /// </summary>
    public virtual object WorkQueue => this;

    /// <summary>Device buffers kept for reuse between calls (scratch space, see <see cref="BufferCache"/>).</summary>
    public BufferCache Cache
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_cache is null) Interlocked.CompareExchange(ref _cache, new BufferCache(this), null);
            return _cache;
        }
    }

    /// <summary>Waits until every launch and copy issued so far has finished.</summary>
    public abstract void Synchronize();

    /// <summary>
    /// The kernel for <paramref name="method"/>, a static void method whose parameters are
    /// <see cref="ArrayView{T}"/>s, scalars, structs of those, or <see cref="SpecializedValue{T}"/>s.
    /// Compilation happens at the first launch of each specialization.
    /// </summary>
    public Kernel LoadKernel(MethodInfo method)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(method);
        if (!method.IsStatic || method.ReturnType != typeof(void))
            throw new ArgumentException($"A kernel must be a static void method; {method.Name} is not.", nameof(method));
        if (method.ContainsGenericParameters)
            throw new ArgumentException($"Kernel {method.Name} has open generic parameters: instantiate it with MakeGenericMethod first.", nameof(method));
        lock (_kernels)
        {
            if (!_kernels.TryGetValue(method, out var kernel))
                _kernels[method] = kernel = CreateKernel(method);
            return kernel;
        }
    }

    /// <summary>The kernel methods loaded on this accelerator so far (diagnostics: which kernels a call used).</summary>
    public IReadOnlyList<MethodInfo> LoadedKernels
    {
        get
        {
            lock (_kernels) return [.. _kernels.Keys];
        }
    }

    /// <summary>The kernel for a static method given as a delegate.</summary>
    public Kernel LoadKernel(Delegate method) => LoadKernel(method.Method);

    /// <summary>Creates the device-specific kernel object.</summary>
    protected abstract Kernel CreateKernel(MethodInfo method);

    /// <summary>Releases device resources.</summary>
    protected virtual void Dispose(bool disposing) { }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed) return;
        _cache?.ReleaseIdle(close: true);
        _disposed = true;
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Kind}: {Name}";
}
