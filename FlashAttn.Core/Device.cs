using FlashAttn.Compute.Runtime;
using FlashAttn.Dispatch;

namespace FlashAttn;

/// <summary>
/// A device that holds <see cref="DeviceTensor"/>s and runs attention: an NVIDIA GPU through CUDA, or the CPU.
/// Tensors of one call must all live on the same device. Dispose a device you created to release it
/// (after its tensors); <see cref="Default"/> is shared by the process and ignores <see cref="Dispose"/>.
/// </summary>
public sealed class Device : IDisposable
{
    private static readonly Lazy<Device> s_default = new(() => new Device(CreateDefaultAccelerator(), ownsAccelerator: true, shared: true));
    private static int s_lastId;

    private readonly Accelerator _accelerator;
    private readonly bool _ownsAccelerator;
    private readonly bool _shared;
    private bool _disposed;

    private Device(Accelerator accelerator, bool ownsAccelerator, bool shared)
    {
        _accelerator = accelerator;
        _ownsAccelerator = ownsAccelerator;
        _shared = shared;
        Kind = accelerator.Kind == AcceleratorKind.Cuda ? DeviceKind.Cuda : DeviceKind.Cpu;
        Id = Interlocked.Increment(ref s_lastId);
    }

    /// <summary>
    /// The process-wide default device, created at first use: CUDA device 0 when a CUDA driver and GPU are
    /// present, else the CPU. <see cref="Dispose"/> on it does nothing.
    /// </summary>
    /// <exception cref="DeviceUnavailableException"><c>FLASHATTN_DEVICE=cuda</c> but no CUDA driver with a GPU was found.</exception>
    public static Device Default => s_default.Value;

    /// <summary>True when a CUDA driver and at least one GPU are present.</summary>
    public static bool IsCudaAvailable => Accelerators.IsCudaAvailable;

    /// <summary>A new device like <see cref="Default"/> (CUDA when present, else the CPU), owned by the caller.</summary>
    /// <exception cref="DeviceUnavailableException"><c>FLASHATTN_DEVICE=cuda</c> but no CUDA driver with a GPU was found.</exception>
    public static Device CreateDefault() => new(CreateDefaultAccelerator(), ownsAccelerator: true, shared: false);

    /// <summary>A new CPU device, owned by the caller.</summary>
    public static Device Cpu() => new(Accelerators.CreateCpu(), ownsAccelerator: true, shared: false);

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
    /// Wraps an existing <paramref name="accelerator"/>. With <paramref name="ownsAccelerator"/> the device disposes
    /// it on <see cref="Dispose"/>.
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

    /// <summary>The device's name (the GPU's name, or the CPU's).</summary>
    public string Name => _accelerator.Name;

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

    /// <summary>The underlying accelerator, for running custom kernels next to attention.</summary>
    public Accelerator Accelerator => _accelerator;

    /// <summary>True once disposed (never for <see cref="Default"/>).</summary>
    public bool IsDisposed => _disposed || _accelerator.IsDisposed;

    /// <summary>The kernels attention runs; tests substitute their own.</summary>
    internal IAttentionKernels AttentionKernels { get; set; } = LauncherAttentionKernels.Instance;

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
