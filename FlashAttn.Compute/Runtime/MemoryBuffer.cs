namespace FlashAttn.Compute.Runtime;

/// <summary>
/// Device memory holding <see cref="Length"/> elements of <typeparamref name="T"/>, owned by this object:
/// dispose it to free the memory. Pass <see cref="View"/> to kernels.
/// </summary>
public abstract class MemoryBuffer<T> : IDisposable where T : unmanaged
{
    private bool _disposed;

    /// <summary>Creates the buffer record for <paramref name="length"/> elements.</summary>
    protected MemoryBuffer(Accelerator accelerator, long length)
    {
        Accelerator = accelerator;
        Length = length;
    }

    /// <summary>The accelerator that owns the memory.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>Number of elements.</summary>
    public long Length { get; }

    /// <summary>Size in bytes.</summary>
    public unsafe long LengthInBytes => Length * sizeof(T);

    /// <summary>True once disposed.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>The memory as a kernel argument.</summary>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    public ArrayView<T> View
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return CreateView();
        }
    }

    /// <summary>The view over the whole buffer.</summary>
    protected abstract ArrayView<T> CreateView();

    /// <summary>Copies <paramref name="source"/> into the buffer starting at element <paramref name="offset"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The copy does not fit.</exception>
    public void CopyFromHost(ReadOnlySpan<T> source, long offset = 0)
    {
        CheckRange(offset, source.Length);
        CopyFromHostCore(source, offset);
    }

    /// <summary>Copies elements starting at <paramref name="offset"/> into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The copy does not fit.</exception>
    public void CopyToHost(Span<T> destination, long offset = 0)
    {
        CheckRange(offset, destination.Length);
        CopyToHostCore(destination, offset);
    }

    /// <summary>The whole buffer as a new array.</summary>
    public T[] ToArray()
    {
        var result = new T[Length];
        CopyToHost(result);
        return result;
    }

    /// <summary>Copies all of <paramref name="source"/> (same accelerator, same length) into this buffer.</summary>
    public void CopyFrom(MemoryBuffer<T> source)
    {
        ArgumentNullException.ThrowIfNull(source);
        ObjectDisposedException.ThrowIf(_disposed, this);
        ObjectDisposedException.ThrowIf(source._disposed, source);
        if (source.Accelerator != Accelerator)
            throw new ArgumentException("Buffers belong to different accelerators.", nameof(source));
        if (source.Length != Length)
            throw new ArgumentException($"Length mismatch: source has {source.Length} elements, destination {Length}.", nameof(source));
        CopyFromDeviceCore(source);
    }

    /// <summary>Sets every byte of the buffer to <paramref name="value"/>.</summary>
    public void MemSet(byte value)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        MemSetCore(value);
    }

    /// <summary>Device-specific host→device copy.</summary>
    protected abstract void CopyFromHostCore(ReadOnlySpan<T> source, long offset);
    /// <summary>Device-specific device→host copy.</summary>
    protected abstract void CopyToHostCore(Span<T> destination, long offset);
    /// <summary>Device-specific device→device copy.</summary>
    protected abstract void CopyFromDeviceCore(MemoryBuffer<T> source);
    /// <summary>Device-specific memset.</summary>
    protected abstract void MemSetCore(byte value);
    /// <summary>Frees the memory (called once).</summary>
    protected abstract void Free();

    private void CheckRange(long offset, int count)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (offset < 0 || offset + count > Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"Copy of {count} elements at offset {offset} does not fit a buffer of {Length}.");
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Free();
        GC.SuppressFinalize(this);
    }
}
