namespace FlashAttn.Compute.Runtime.Cuda;

/// <summary>
/// A CUDA stream: an ordered queue of launches, copies and event records. Create with
/// <see cref="CudaAccelerator.CreateStream()"/>; set <see cref="CudaAccelerator.Stream"/> to launch on it.
/// </summary>
public sealed class CudaStream : IDisposable
{
    private readonly bool _owned;
    private nint _handle;

    internal CudaStream(CudaAccelerator accelerator, nint handle, bool owned)
    {
        Accelerator = accelerator;
        _handle = handle;
        _owned = owned;
        if (owned) accelerator.Track(this);
    }

    /// <summary>The accelerator the stream belongs to.</summary>
    public CudaAccelerator Accelerator { get; }

    /// <summary>The driver's <c>CUstream</c> handle (0 for the NULL stream).</summary>
    public nint Handle
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            return _handle;
        }
    }

    /// <summary>True for the device's default (NULL) stream.</summary>
    public bool IsDefault => _handle == 0 && !IsDisposed;

    /// <summary>True once disposed.</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>Waits until all work queued on the stream has finished.</summary>
    public void Synchronize()
    {
        Accelerator.ThrowIfDisposed();
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        Accelerator.MakeCurrent();
        CudaApi.Check(CudaApi.cuStreamSynchronize(_handle), "cuStreamSynchronize");
    }

    /// <summary>
    /// Makes work queued on this stream after the call wait until the work before <paramref name="evt"/>'s most recent
    /// <see cref="CudaEvent.Record"/> has finished (cuStreamWaitEvent), without blocking the host: this is how one stream
    /// orders itself after another. Recording the event again later does not affect this wait. An event that was never
    /// recorded is complete at once.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="evt"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="evt"/> belongs to another accelerator.</exception>
    /// <exception cref="ObjectDisposedException">The stream, the event or the accelerator was disposed.</exception>
    /// <exception cref="CudaException">The driver refused.</exception>
    public void WaitFor(CudaEvent evt)
    {
        ArgumentNullException.ThrowIfNull(evt);
        Accelerator.ThrowIfDisposed();
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (evt.Accelerator != Accelerator) throw new ArgumentException("The event belongs to another accelerator.", nameof(evt));
        var eventHandle = evt.Handle;
        Accelerator.MakeCurrent();
        CudaApi.Check(CudaApi.cuStreamWaitEvent(_handle, eventHandle, 0), "cuStreamWaitEvent");
    }

    /// <summary>Destroys the stream (the default stream is never destroyed).</summary>
    public void Dispose()
    {
        if (IsDisposed || !_owned) return;
        IsDisposed = true;
        Accelerator.Untrack(this);
        if (Accelerator.Stream == this) Accelerator.Stream = Accelerator.DefaultStream;
        if (!Accelerator.IsDisposed) Accelerator.MakeCurrent();
        var handle = _handle;
        _handle = 0;
        CudaApi.Check(CudaApi.cuStreamDestroy(handle), "cuStreamDestroy_v2");
    }
}
