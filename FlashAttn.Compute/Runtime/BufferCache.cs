namespace FlashAttn.Compute.Runtime;

/// <summary>
/// Device buffers kept for reuse between calls, for scratch space such as the attention backward's fp32 workspaces,
/// so a call does not pay an allocation and a free (cuMemAlloc/cuMemFree, and the device-wide wait a free implies)
/// each time; PyTorch's caching allocator does the same. <see cref="Rent{T}"/> hands out an idle buffer of the same
/// element type that is at least as long (and at most twice as long) or allocates one; disposing the rented buffer
/// gives it back. A buffer may be handed out again at once, but only to work on the queue it was given back on
/// (<see cref="Accelerator.WorkQueue"/>: the CUDA stream current then): work on one queue runs in issue order, so the
/// next renter's work starts after the previous renter's, while work on another stream could overlap it. Idle buffers
/// count in <see cref="Accelerator.AllocatedBytes"/>; <see cref="Release"/> frees them, and so does an allocation that
/// fails for want of memory before it is retried. Thread-safe.
/// </summary>
public sealed class BufferCache
{
    private readonly Accelerator _accelerator;
    private readonly List<(object Buffer, object Queue)> _idle = []; // guards itself, _idleBytes and _closed
    private long _idleBytes;
    private bool _closed;

    internal BufferCache(Accelerator accelerator) => _accelerator = accelerator;

    /// <summary>Bytes held by idle buffers.</summary>
    public long IdleBytes
    {
        get { lock (_idle) return _idleBytes; }
    }

    /// <summary>A buffer of at least <paramref name="length"/> elements (contents undefined); dispose it to give it back.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative.</exception>
    public RentedBuffer<T> Rent<T>(long length) where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        object queue = _accelerator.WorkQueue;
        lock (_idle)
        {
            int best = -1;
            for (int i = 0; i < _idle.Count; i++)
                if (_idle[i].Buffer is MemoryBuffer<T> b && _idle[i].Queue == queue && b.Length >= length && b.Length <= 2 * length
                    && (best < 0 || b.Length < ((MemoryBuffer<T>)_idle[best].Buffer).Length))
                    best = i;
            if (best >= 0)
            {
                var buffer = (MemoryBuffer<T>)_idle[best].Buffer;
                _idle.RemoveAt(best);
                _idleBytes -= buffer.LengthInBytes;
                return new RentedBuffer<T>(this, buffer, length);
            }
        }
        MemoryBuffer<T> fresh;
        try
        {
            fresh = _accelerator.Allocate<T>(length);
        }
        catch (OutOfMemoryException) when (IdleBytes > 0)
        {
            Release();
            fresh = _accelerator.Allocate<T>(length);
        }
        return new RentedBuffer<T>(this, fresh, length);
    }

    /// <summary>Waits for the accelerator's work, then frees every idle buffer.</summary>
    public void Release()
    {
        _accelerator.Synchronize();
        ReleaseIdle(close: false);
    }

    /// <summary>
    /// Frees the idle buffers without waiting; with <paramref name="close"/> (the accelerator is being disposed) buffers
    /// given back later are freed at once instead of kept.
    /// </summary>
    internal void ReleaseIdle(bool close)
    {
        object[] idle;
        lock (_idle)
        {
            idle = [.. _idle.Select(entry => entry.Buffer)];
            _idle.Clear();
            _idleBytes = 0;
            _closed |= close;
        }
        foreach (var buffer in idle) ((IDisposable)buffer).Dispose();
    }

    internal void Return<T>(MemoryBuffer<T> buffer) where T : unmanaged
    {
        if (buffer.IsDisposed) return;
        lock (_idle)
        {
            if (!_closed)
            {
                _idle.Add((buffer, _accelerator.WorkQueue));
                _idleBytes += buffer.LengthInBytes;
                return;
            }
        }
        buffer.Dispose();
    }
}

/// <summary>A buffer rented from a <see cref="BufferCache"/>; <see cref="Dispose"/> gives it back.</summary>
public sealed class RentedBuffer<T> : IDisposable where T : unmanaged
{
    private readonly BufferCache _cache;
    private MemoryBuffer<T>? _buffer;

    internal RentedBuffer(BufferCache cache, MemoryBuffer<T> buffer, long length)
    {
        _cache = cache;
        _buffer = buffer;
        Length = length;
    }

    /// <summary>Elements asked for (the buffer underneath may be longer).</summary>
    public long Length { get; }

    /// <summary>The first <see cref="Length"/> elements.</summary>
    public ArrayView<T> View
    {
        get
        {
            ObjectDisposedException.ThrowIf(_buffer is null, this);
            var whole = _buffer.View;
            return Length == whole.Length ? whole : whole.SubView(0, checked((int)Length));
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null) _cache.Return(buffer);
    }
}
