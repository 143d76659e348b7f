using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using FlashAttn.Compute.Backends.Ptx;

namespace FlashAttn.Compute.Runtime.Cuda;

/// <summary>
/// An NVIDIA GPU driven through the CUDA driver API (no toolkit needed). Uses the device's primary
/// context (or, through <see cref="Adopt"/>, another library's context and stream), made current on whichever thread
/// calls in. Kernels are compiled to PTX by the <see cref="IKernelCompiler"/> of its <see cref="KernelCache"/> at their
/// first launch.
/// </summary>
public sealed unsafe class CudaAccelerator : Accelerator
{
    // The context made current on this thread, valid while t_epoch equals s_epoch (bumped at every dispose,
    // since a released and re-retained primary context keeps its handle but must be made current again).
    [ThreadStatic] private static nint t_currentContext;
    [ThreadStatic] private static int t_epoch;
    private static int s_epoch;

    private readonly nint _context;
    private readonly bool _primaryContext;
    private readonly HashSet<IDisposable> _resources = new(ReferenceEqualityComparer.Instance);
    private long _allocatedBytes;
    private long _peakAllocatedBytes;
    private CudaStream _stream;

    /// <summary>The compiler used by accelerators created without a cache: the engine's own IL → PTX pipeline.</summary>
    public static IKernelCompiler? DefaultKernelCompiler { get; set; } = KernelCompiler.Instance;

    /// <summary>Opens device <paramref name="ordinal"/>.</summary>
    /// <param name="ordinal">Device index, 0 ≤ ordinal &lt; <see cref="DeviceCount"/>.</param>
    /// <param name="cache">
    /// Compiled-kernel cache; by default one over <see cref="DefaultKernelCompiler"/> with the disk
    /// directory from FLASHATTN_KERNEL_CACHE, by default the user's cache folder (<see cref="KernelCache.CreateDefault"/>;
    /// none when no default compiler is set: launches then fail).
    /// </param>
    /// <exception cref="DllNotFoundException">No CUDA driver is installed.</exception>
    /// <exception cref="CudaException">The driver failed (no device, bad ordinal, ...).</exception>
    public CudaAccelerator(int ordinal = 0, KernelCache? cache = null) : this(ordinal, PrimaryContext(ordinal, out int device), device, primary: true, 0, cache)
    {
    }

    private CudaAccelerator(int ordinal, nint context, int device, bool primary, nint stream, KernelCache? cache)
    {
        int version;
        CudaApi.Check(CudaApi.cuDriverGetVersion(&version), "cuDriverGetVersion");
        Ordinal = ordinal;
        Device = device;
        DriverVersion = version;
        _context = context;
        _primaryContext = primary;
        try
        {
            MakeCurrent();
            Info = QueryInfo(device);
            Target = PtxTarget.For(DriverVersion, Info.ComputeCapability);
        }
        catch
        {
            if (primary) CudaApi.cuDevicePrimaryCtxRelease(device);
            throw;
        }
        DefaultStream = new CudaStream(this, 0, owned: false);
        _stream = stream == 0 ? DefaultStream : new CudaStream(this, stream, owned: false);
        KernelCache = cache ?? (DefaultKernelCompiler is { } compiler ? KernelCache.CreateDefault(compiler) : null);
    }

    /// <summary>
    /// Runs on a CUDA context and stream that another library created (for example ILGPU's <c>CudaAccelerator.NativePtr</c>
    /// and its stream's <c>StreamPtr</c>): kernels are loaded into that context and launched on that stream, so they read
    /// and write that library's memory in place and run in order with its work. Both stay the caller's: disposing the
    /// accelerator frees what it allocated and loaded, never the context or the stream, which must outlive it.
    /// </summary>
    /// <param name="context">A live <c>CUcontext</c>.</param>
    /// <param name="stream">A <c>CUstream</c> of that context, or 0 for its NULL stream.</param>
    /// <param name="cache">As the public constructor's.</param>
    /// <exception cref="ArgumentException"><paramref name="context"/> is 0.</exception>
    /// <exception cref="DllNotFoundException">No CUDA driver is installed.</exception>
    /// <exception cref="CudaException">The driver refused the context (destroyed, or of another process).</exception>
    public static CudaAccelerator Adopt(nint context, nint stream = 0, KernelCache? cache = null)
    {
        if (context == 0) throw new ArgumentException("context must be a CUcontext handle, not 0.", nameof(context));
        CudaApi.EnsureLoaded();
        CudaApi.Check(CudaApi.cuInit(0), "cuInit");
        CudaApi.Check(CudaApi.cuCtxSetCurrent(context), "cuCtxSetCurrent");
        int device, count;
        CudaApi.Check(CudaApi.cuCtxGetDevice(&device), "cuCtxGetDevice");
        CudaApi.Check(CudaApi.cuDeviceGetCount(&count), "cuDeviceGetCount");
        int ordinal = 0;
        for (int candidate = 0; candidate < count; candidate++)
        {
            int handle;
            CudaApi.Check(CudaApi.cuDeviceGet(&handle, candidate), "cuDeviceGet");
            if (handle == device) ordinal = candidate;
        }
        return new CudaAccelerator(ordinal, context, device, primary: false, stream, cache);
    }

    /// <summary>Retains device <paramref name="ordinal"/>'s primary context.</summary>
    private static nint PrimaryContext(int ordinal, out int device)
    {
        CudaApi.EnsureLoaded();
        CudaApi.Check(CudaApi.cuInit(0), "cuInit");
        int count, handle;
        CudaApi.Check(CudaApi.cuDeviceGetCount(&count), "cuDeviceGetCount");
        if (ordinal < 0 || ordinal >= count)
            throw new ArgumentOutOfRangeException(nameof(ordinal), $"Device ordinal {ordinal} is outside [0, {count}).");
        CudaApi.Check(CudaApi.cuDeviceGet(&handle, ordinal), "cuDeviceGet");
        nint context;
        CudaApi.Check(CudaApi.cuDevicePrimaryCtxRetain(&context, handle), "cuDevicePrimaryCtxRetain");
        device = handle;
        return context;
    }

    /// <summary>
    /// True when the CUDA driver loads, initializes and reports at least one device. Never throws.
    /// </summary>
    public static bool IsAvailable()
    {
        try
        {
            return DeviceCount() > 0;
        }
        catch
        {
            return false;
        }
    }

    /// <summary>Number of CUDA devices, 0 when there is no driver or it fails to initialize. Never throws.</summary>
    public static int DeviceCount()
    {
        try
        {
            if (!CudaApi.TryLoad(out _) || CudaApi.cuInit(0) != CudaResult.Success) return 0;
            int count;
            return CudaApi.cuDeviceGetCount(&count) == CudaResult.Success ? count : 0;
        }
        catch
        {
            return 0;
        }
    }

    /// <inheritdoc/>
    public override AcceleratorKind Kind => AcceleratorKind.Cuda;

    /// <inheritdoc/>
    public override AcceleratorInfo Info { get; }

    /// <summary>The device's index among the CUDA devices.</summary>
    public int Ordinal { get; }

    /// <summary>The driver's <c>CUdevice</c> handle.</summary>
    internal int Device { get; }

    /// <summary>The context kernels run in: the primary context, or the adopted one.</summary>
    internal nint Context => _context;

    /// <summary>True when the context is another library's (<see cref="Adopt"/>).</summary>
    public bool IsAdopted => !_primaryContext;

    /// <summary>The driver's CUDA version (cuDriverGetVersion), e.g. 12040 for CUDA 12.4.</summary>
    public int DriverVersion { get; }

    /// <summary>The PTX ISA and architecture kernels are compiled for on this device.</summary>
    public PtxTarget Target { get; }

    /// <summary>The compiled-kernel cache, or null when no compiler was configured.</summary>
    public KernelCache? KernelCache { get; }

    /// <summary>The device's default (NULL) stream.</summary>
    public CudaStream DefaultStream { get; }

    /// <summary>The stream launches and event records go to (initially <see cref="DefaultStream"/>).</summary>
    public CudaStream Stream
    {
        get => _stream;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (value.Accelerator != this) throw new ArgumentException("The stream belongs to another accelerator.", nameof(value));
            _stream = value;
        }
    }

    /// <inheritdoc/>
    public override object WorkQueue => _stream;

    /// <inheritdoc/>
    public override long AllocatedBytes => Interlocked.Read(ref _allocatedBytes);

    /// <inheritdoc/>
    public override long PeakAllocatedBytes => Interlocked.Read(ref _peakAllocatedBytes);

    /// <inheritdoc/>
    public override void ResetPeakAllocatedBytes() => Interlocked.Exchange(ref _peakAllocatedBytes, AllocatedBytes);

    /// <summary>Page-locks <paramref name="bytes"/> of host memory at <paramref name="pointer"/> for copies (cuMemHostRegister);
    /// dispose the result to unlock it, before freeing the memory.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="pointer"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bytes"/> is not positive.</exception>
    /// <exception cref="CudaException">The driver refused (its message says why, e.g. the range is already registered).</exception>
    public CudaHostRegistration RegisterHostMemory(void* pointer, long bytes)
    {
        ThrowIfDisposed();
        if (pointer is null) throw new ArgumentNullException(nameof(pointer));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        MakeCurrent();
        CudaApi.Check(CudaApi.cuMemHostRegister(pointer, (nuint)bytes, 0), "cuMemHostRegister_v2");
        return new CudaHostRegistration(this, pointer, bytes);
    }

    internal void UnregisterHostMemory(void* pointer)
    {
        MakeCurrent();
        CudaApi.Check(CudaApi.cuMemHostUnregister(pointer), "cuMemHostUnregister");
    }

    /// <summary>Free and total device memory in bytes (cuMemGetInfo).</summary>
    public (long Free, long Total) GetMemoryInfo()
    {
        ThrowIfDisposed();
        MakeCurrent();
        nuint free, total;
        CudaApi.Check(CudaApi.cuMemGetInfo(&free, &total), "cuMemGetInfo_v2");
        return ((long)free, (long)total);
    }

    /// <inheritdoc/>
    public override MemoryBuffer<T> Allocate<T>(long length)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return new CudaMemoryBuffer<T>(this, length);
    }

    /// <summary>
    /// Managed memory (cuMemAllocManaged): its <see cref="MemoryBuffer{T}.View"/> is one address that kernels and the host
    /// both dereference (the host once the kernels that write it have finished). For small tables that both sides read,
    /// such as a modifier's data that a host-side reference also evaluates.
    /// </summary>
    public MemoryBuffer<T> AllocateManaged<T>(long length) where T : unmanaged
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return new CudaMemoryBuffer<T>(this, length, managed: true);
    }

    /// <inheritdoc/>
    public override void Synchronize()
    {
        ThrowIfDisposed();
        MakeCurrent();
        CudaApi.Check(CudaApi.cuCtxSynchronize(), "cuCtxSynchronize");
    }

    /// <summary>Creates a new stream (synchronizing with the NULL stream); dispose it when done.</summary>
    public CudaStream CreateStream() => CreateStream(nonBlocking: false);

    /// <summary>Creates a new stream; dispose it when done.</summary>
    /// <param name="nonBlocking">True for a stream that does not synchronize with the NULL stream (CU_STREAM_NON_BLOCKING):
    /// its work may run concurrently with work on <see cref="DefaultStream"/>, so order the two explicitly with events
    /// (<see cref="CudaStream.WaitFor"/>).</param>
    public CudaStream CreateStream(bool nonBlocking)
    {
        ThrowIfDisposed();
        MakeCurrent();
        nint handle;
        CudaApi.Check(CudaApi.cuStreamCreate(&handle, nonBlocking ? CudaApi.StreamNonBlocking : CudaApi.StreamDefault), "cuStreamCreate");
        return new CudaStream(this, handle, owned: true);
    }

    /// <summary>Creates a timing event; dispose it when done.</summary>
    public CudaEvent CreateEvent() => new(this);

    /// <summary>Creates an event, with timing or (<paramref name="timing"/> false) for ordering only; dispose it when done.</summary>
    public CudaEvent CreateEvent(bool timing) => new(this, timing);

    /// <summary>Loads a PTX module (see <see cref="CudaModule.Load"/>); it is unloaded with the accelerator at the latest.</summary>
    public CudaModule LoadModule(string ptx, string? name = null) => CudaModule.Load(this, ptx, name);

    /// <inheritdoc/>
    protected override Kernel CreateKernel(MethodInfo method) => new CudaKernel(this, method);

    /// <summary>Makes the context current on the calling thread (cheap when it already is). The driver is asked which
    /// context is current, not only the cache: another library on the thread (ILGPU binds its own) may have changed it.</summary>
    internal void MakeCurrent()
    {
        int epoch = Volatile.Read(ref s_epoch);
        nint current;
        if (t_currentContext == _context && t_epoch == epoch
            && CudaApi.cuCtxGetCurrent(&current) == CudaResult.Success && current == _context) return;
        CudaApi.Check(CudaApi.cuCtxSetCurrent(_context), "cuCtxSetCurrent");
        t_currentContext = _context;
        t_epoch = epoch;
    }

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, this);

    internal void OnAllocated(long bytes)
    {
        long now = Interlocked.Add(ref _allocatedBytes, bytes);
        long peak;
        while (now > (peak = Interlocked.Read(ref _peakAllocatedBytes)) &&
               Interlocked.CompareExchange(ref _peakAllocatedBytes, now, peak) != peak)
        {
        }
    }

    internal void OnFreed(long bytes) => Interlocked.Add(ref _allocatedBytes, -bytes);

    /// <summary>Registers something to dispose (before the context goes) when the accelerator is disposed.</summary>
    internal void Track(IDisposable resource)
    {
        lock (_resources) _resources.Add(resource);
    }

    internal void Untrack(IDisposable resource)
    {
        lock (_resources) _resources.Remove(resource);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        IDisposable[] resources;
        lock (_resources)
        {
            resources = [.. _resources];
            _resources.Clear();
        }
        try
        {
            MakeCurrentForDispose();
            foreach (var resource in resources)
            {
                try { resource.Dispose(); }
                catch (CudaException) { /* the context may be broken already; keep releasing */ }
            }
        }
        finally
        {
            Interlocked.Increment(ref s_epoch);
            t_currentContext = 0;
            if (_primaryContext) CudaApi.cuDevicePrimaryCtxRelease(Device);
        }
    }

    private void MakeCurrentForDispose()
    {
        CudaApi.cuCtxSetCurrent(_context);
        t_currentContext = 0;
    }

    private static AcceleratorInfo QueryInfo(int device)
    {
        int Attribute(int attribute)
        {
            int value;
            CudaApi.Check(CudaApi.cuDeviceGetAttribute(&value, attribute, device), "cuDeviceGetAttribute");
            return value;
        }

        var nameBytes = stackalloc byte[256];
        CudaApi.Check(CudaApi.cuDeviceGetName(nameBytes, 256, device), "cuDeviceGetName");
        string name = Marshal.PtrToStringUTF8((nint)nameBytes) ?? "CUDA device";
        nuint total;
        CudaApi.Check(CudaApi.cuDeviceTotalMem(&total, device), "cuDeviceTotalMem_v2");
        int optin = Attribute(CudaApi.DeviceAttributeMaxSharedMemoryPerBlockOptin);
        int shared = optin > 0 ? optin : Attribute(CudaApi.DeviceAttributeMaxSharedMemoryPerBlock);
        int cc = Attribute(CudaApi.DeviceAttributeComputeCapabilityMajor) * 10 + Attribute(CudaApi.DeviceAttributeComputeCapabilityMinor);
        return new AcceleratorInfo(
            name,
            Attribute(CudaApi.DeviceAttributeWarpSize),
            Attribute(CudaApi.DeviceAttributeMaxThreadsPerBlock),
            shared,
            Attribute(CudaApi.DeviceAttributeMultiprocessorCount),
            cc,
            (long)total);
    }

    /// <inheritdoc/>
    public override string ToString()
    {
        var text = new StringBuilder(base.ToString());
        text.Append($" (sm_{Info.ComputeCapability}, CUDA {DriverVersion / 1000}.{DriverVersion % 1000 / 10})");
        return text.ToString();
    }
}
