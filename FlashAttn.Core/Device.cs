using FlashAttn.Compute.Runtime;
using FlashAttn.Cpu;
using FlashAttn.Dispatch;

namespace FlashAttn;

/// <summary>
/// A device that holds <see cref="DeviceTensor"/>s and runs attention: an NVIDIA GPU through CUDA, or the CPU.
/// Tensors of one call must all live on the same device. Dispose a device you created to release it
/// (after its tensors); <see cref="Default"/> is shared by the process and ignores <see cref="Dispose"/>.
/// </summary>
public sealed class Device : IDisposable
{
    private static readonly Lazy<Device> s_default = new(() => CreateDefault(shared: true));
    private static int s_lastId;

    private readonly Accelerator _accelerator;
    private readonly bool _ownsAccelerator;
    private readonly bool _shared;
    private bool _disposed;

    private Device(Accelerator accelerator, bool ownsAccelerator, bool shared, int cpuThreads = 0)
    {
        _accelerator = accelerator;
        _ownsAccelerator = ownsAccelerator;
        _shared = shared;
        // A CPU accelerator created here holds the memory of the CPU path; one handed in (FromAccelerator) is there to
        // run kernels, so it emulates.
        Kind = accelerator.Kind == AcceleratorKind.Cuda ? DeviceKind.Cuda
            : cpuThreads > 0 ? DeviceKind.Cpu : DeviceKind.CpuEmulator;
        Id = Interlocked.Increment(ref s_lastId);
        AttentionKernels = Kind == DeviceKind.Cpu ? new CpuAttentionKernels(cpuThreads) : LauncherAttentionKernels.Instance;
    }

    /// <summary>The CPU path's device (its accelerator only holds the memory) with <paramref name="threads"/> workers.</summary>
    private static Device CreateCpu(int threads, bool shared) => new(Accelerators.CreateCpu(), ownsAccelerator: true, shared, threads);

    /// <summary>CUDA device 0 when present, else the CPU path; FLASHATTN_DEVICE=cpu|cuda forces one (Accelerators.CreateDefault).</summary>
    private static Device CreateDefault(bool shared)
    {
        var accelerator = CreateDefaultAccelerator();
        return new Device(accelerator, ownsAccelerator: true, shared,
            cpuThreads: accelerator.Kind == AcceleratorKind.Cpu ? Environment.ProcessorCount : 0);
    }

    /// <summary>
    /// The process-wide default device, created at first use: CUDA device 0 when a CUDA driver and GPU are
    /// present, else the CPU path (<see cref="DeviceKind.Cpu"/>); <c>FLASHATTN_DEVICE=cpu|cuda</c> forces one.
    /// <see cref="Dispose"/> on it does nothing.
    /// </summary>
    /// <exception cref="DeviceUnavailableException"><c>FLASHATTN_DEVICE=cuda</c> but no CUDA driver with a GPU was found.</exception>
    public static Device Default => s_default.Value;

    /// <summary>True when a CUDA driver and at least one GPU are present.</summary>
    public static bool IsCudaAvailable => Accelerators.IsCudaAvailable;

    /// <summary>
    /// A new device like <see cref="Default"/> (CUDA when present, else the CPU path; <c>FLASHATTN_DEVICE=cpu|cuda</c>
    /// forces one), owned by the caller.
    /// </summary>
    /// <exception cref="DeviceUnavailableException"><c>FLASHATTN_DEVICE=cuda</c> but no CUDA driver with a GPU was found.</exception>
    public static Device CreateDefault() => CreateDefault(shared: false);

    /// <summary>
    /// A new CPU device (<see cref="DeviceKind.Cpu"/>), owned by the caller: attention runs the dedicated CPU code on
    /// all logical cores.
    /// </summary>
    public static Device Cpu() => CreateCpu(Environment.ProcessorCount, shared: false);

    /// <summary>A new CPU device whose attention calls use at most <paramref name="threads"/> worker threads.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threads"/> is less than 1.</exception>
    public static Device Cpu(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        return CreateCpu(threads, shared: false);
    }

    /// <summary>
    /// A new device that runs the GPU kernels on the CPU accelerator, which emulates a GPU (one OS thread per GPU
    /// thread; <see cref="DeviceKind.CpuEmulator"/>): slow, for testing the kernels without a GPU. Owned by the caller.
    /// </summary>
    public static Device CpuEmulator() => new(Accelerators.CreateCpu(), ownsAccelerator: true, shared: false);

    /// <summary>A new device for CUDA GPU <paramref name="ordinal"/>, owned by the caller.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="ordinal"/> is negative.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="ordinal"/> is not below the number of GPUs.</exception>
    /// <exception cref="DeviceUnavailableException">No CUDA driver with a GPU was found.</exception>
    public static Device Cuda(int ordinal = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ordinal);
        if (!Accelerators.IsCudaAvailable) throw DeviceUnavailableException.NoCuda($"CUDA device {ordinal}");
        return new(Accelerators.CreateCuda(ordinal), ownsAccelerator: true, shared: false);
    }

    private static Accelerator CreateDefaultAccelerator()
    {
        try
        {
            return Accelerators.CreateDefault();
        }
        catch (InvalidOperationException e) when (!Accelerators.IsCudaAvailable)
        {
            // The engine's "no CUDA" error, raised only when FLASHATTN_DEVICE forces CUDA.
            throw DeviceUnavailableException.NoCuda("CUDA (FLASHATTN_DEVICE=cuda)", e);
        }
    }

    /// <summary>
    /// Wraps an existing <paramref name="accelerator"/>; attention runs the GPU kernels on it (on a CPU accelerator
    /// that is <see cref="DeviceKind.CpuEmulator"/>). With <paramref name="ownsAccelerator"/> the device disposes it on
    /// <see cref="Dispose"/>.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="accelerator"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="accelerator"/> is disposed.</exception>
    public static Device FromAccelerator(Accelerator accelerator, bool ownsAccelerator = false)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        if (accelerator.IsDisposed)
            throw new ArgumentException("accelerator has been disposed.", nameof(accelerator));
        return new Device(accelerator, ownsAccelerator, shared: false);
    }

    /// <summary>A number unique to this device object in the process (from 1, in creation order), so that messages tell
    /// two devices on the same hardware apart.</summary>
    public int Id { get; }

    /// <summary>The kind of hardware.</summary>
    public DeviceKind Kind { get; }

    /// <summary>The device's name (the GPU's name, or the CPU's with the path's SIMD width and threads).</summary>
    public string Name => AttentionKernels is CpuAttentionKernels cpu ? cpu.Describe() : _accelerator.Name;

    /// <summary>Total device memory in bytes as the driver reports it.</summary>
    public long TotalMemory => _accelerator.Info.TotalMemory;

    /// <summary>Bytes of device memory currently held by tensors and workspaces on this device.</summary>
    public long AllocatedBytes => _accelerator.AllocatedBytes;

    /// <summary>Largest <see cref="AllocatedBytes"/> since creation or the last <see cref="ResetPeakAllocatedBytes"/>.</summary>
    public long PeakAllocatedBytes => _accelerator.PeakAllocatedBytes;

    /// <summary>Restarts <see cref="PeakAllocatedBytes"/> from the current allocation.</summary>
    public void ResetPeakAllocatedBytes() => _accelerator.ResetPeakAllocatedBytes();

    /// <summary>
    /// Bytes of idle workspace the device keeps between calls (part of <see cref="AllocatedBytes"/>), so that repeated
    /// backward calls neither allocate nor free device memory; <see cref="ReleaseCachedMemory"/> frees them.
    /// </summary>
    public long CachedBytes
    {
        get
        {
            ThrowIfDisposed();
            return _accelerator.Cache.IdleBytes;
        }
    }

    /// <summary>Waits for the device, then frees the idle workspaces counted in <see cref="CachedBytes"/>.</summary>
    /// <exception cref="ObjectDisposedException">The device was disposed.</exception>
    public void ReleaseCachedMemory()
    {
        ThrowIfDisposed();
        _accelerator.Cache.Release();
    }

    /// <summary>Waits until all work issued to the device has finished.</summary>
    /// <exception cref="ObjectDisposedException">The device was disposed.</exception>
    public void Synchronize()
    {
        ThrowIfDisposed();
        _accelerator.Synchronize();
    }

    /// <summary>
    /// Allocates <paramref name="length"/> elements of host memory for repeated copies to and from this device: on a CUDA
    /// device page-locked once, so <see cref="DeviceTensor.Upload{T}(Device, ReadOnlySpan{T}, ReadOnlySpan{int})"/> from its
    /// <see cref="PinnedHostBuffer{T}.Span"/> and <see cref="DeviceTensor{T}.CopyTo(Span{T})"/> into it run at the bus's speed
    /// (<see cref="PinnedHostBuffer{T}"/> has the measurements). Dispose it, before the device.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is not positive.</exception>
    /// <exception cref="ObjectDisposedException">The device was disposed.</exception>
    /// <exception cref="OutOfMemoryException">The host has not enough memory.</exception>
    public PinnedHostBuffer<T> AllocatePinnedHost<T>(int length) where T : unmanaged
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        return new PinnedHostBuffer<T>(_accelerator, length);
    }

    /// <summary>The underlying accelerator, for running custom kernels next to attention.</summary>
    public Accelerator Accelerator => _accelerator;

    /// <summary>True once disposed (never for <see cref="Default"/>).</summary>
    public bool IsDisposed => _disposed || _accelerator.IsDisposed;

    /// <summary>The kernels attention runs; tests substitute their own.</summary>
    internal IAttentionKernels AttentionKernels { get; set; }

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, this);

    /// <summary>Releases the device (and its accelerator when owned). Does nothing on <see cref="Default"/>.</summary>
    public void Dispose()
    {
        if (_shared || _disposed) return;
        _disposed = true;
        if (_ownsAccelerator) _accelerator.Dispose();
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Kind} device #{Id} ({Name})";
}
