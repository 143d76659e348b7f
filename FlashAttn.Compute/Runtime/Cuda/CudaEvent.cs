namespace FlashAttn.Compute.Runtime.Cuda;

/// <summary>
/// A CUDA event for timing and ordering: <see cref="Record"/> it on a stream, <see cref="Synchronize"/> to wait
/// for it, make another stream wait for it (<see cref="CudaStream.WaitFor"/>), and measure the time between two recorded
/// events with <see cref="ElapsedMilliseconds"/> (events created with timing only).
/// </summary>
public sealed unsafe class CudaEvent : IDisposable
{
    private nint _handle;

    /// <summary>Creates an event (with timing) on <paramref name="accelerator"/>.</summary>
    public CudaEvent(CudaAccelerator accelerator) : this(accelerator, timing: true)
    {
    }

    /// <summary>Creates an event on <paramref name="accelerator"/>.</summary>
    /// <param name="accelerator">The accelerator whose streams record the event.</param>
    /// <param name="timing">False for an event that only orders work (CU_EVENT_DISABLE_TIMING): cheaper to record and wait
    /// on, but <see cref="ElapsedMilliseconds"/> refuses it.</param>
    public CudaEvent(CudaAccelerator accelerator, bool timing)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        accelerator.ThrowIfDisposed();
        accelerator.MakeCurrent();
        nint handle;
        CudaApi.Check(CudaApi.cuEventCreate(&handle, timing ? CudaApi.EventDefault : CudaApi.EventDisableTiming), "cuEventCreate");
        _handle = handle;
        Accelerator = accelerator;
        HasTiming = timing;
        accelerator.Track(this);
    }

    /// <summary>The accelerator the event belongs to.</summary>
    public CudaAccelerator Accelerator { get; }

    /// <summary>False for an ordering-only event (created with timing disabled).</summary>
    public bool HasTiming { get; }

    /// <summary>The driver's <c>CUevent</c> handle.</summary>
    internal nint Handle
    {
        get
        {
            ThrowIfDisposed();
            return _handle;
        }
    }

    /// <summary>True once disposed.</summary>
    public bool IsDisposed => _handle == 0;

    /// <summary>Records the event on <paramref name="stream"/> (default: the accelerator's current <see cref="CudaAccelerator.Stream"/>).</summary>
    public void Record(CudaStream? stream = null)
    {
        ThrowIfDisposed();
        stream ??= Accelerator.Stream;
        if (stream.Accelerator != Accelerator) throw new ArgumentException("The stream belongs to another accelerator.", nameof(stream));
        Accelerator.MakeCurrent();
        CudaApi.Check(CudaApi.cuEventRecord(_handle, stream.Handle), "cuEventRecord");
    }

    /// <summary>Waits until the work before the last <see cref="Record"/> has finished.</summary>
    public void Synchronize()
    {
        ThrowIfDisposed();
        Accelerator.MakeCurrent();
        CudaApi.Check(CudaApi.cuEventSynchronize(_handle), "cuEventSynchronize");
    }

    /// <summary>
    /// Milliseconds between two recorded events (resolution about 0.5 µs). Waits for <paramref name="end"/> first.
    /// </summary>
    /// <exception cref="ArgumentException">The events belong to different accelerators, or one was created without timing.</exception>
    public static float ElapsedMilliseconds(CudaEvent start, CudaEvent end)
    {
        ArgumentNullException.ThrowIfNull(start);
        ArgumentNullException.ThrowIfNull(end);
        start.ThrowIfDisposed();
        if (start.Accelerator != end.Accelerator) throw new ArgumentException("The events belong to different accelerators.", nameof(end));
        if (!start.HasTiming) throw new ArgumentException("The event was created without timing.", nameof(start));
        if (!end.HasTiming) throw new ArgumentException("The event was created without timing.", nameof(end));
        end.Synchronize();
        float milliseconds;
        CudaApi.Check(CudaApi.cuEventElapsedTime(&milliseconds, start._handle, end._handle), "cuEventElapsedTime");
        return milliseconds;
    }

    /// <summary>Milliseconds from <paramref name="start"/> to this event (see <see cref="ElapsedMilliseconds"/>).</summary>
    public float ElapsedMillisecondsSince(CudaEvent start) => ElapsedMilliseconds(start, this);

    private void ThrowIfDisposed()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        Accelerator.ThrowIfDisposed();
    }

    /// <summary>Destroys the event.</summary>
    public void Dispose()
    {
        if (_handle == 0) return;
        var handle = _handle;
        _handle = 0;
        Accelerator.Untrack(this);
        if (!Accelerator.IsDisposed) Accelerator.MakeCurrent();
        CudaApi.Check(CudaApi.cuEventDestroy(handle), "cuEventDestroy_v2");
    }
}
