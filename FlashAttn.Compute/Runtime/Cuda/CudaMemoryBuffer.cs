namespace FlashAttn.Compute.Runtime.Cuda;

/// <summary>Device memory from cuMemAlloc_v2, or managed memory (cuMemAllocManaged: one address the host and the device
/// both read and write). Copies are synchronous with respect to the host.</summary>
/// <typeparam name="T">Element type.</typeparam>
public sealed unsafe class CudaMemoryBuffer<T> : MemoryBuffer<T> where T : unmanaged
{
    private readonly CudaAccelerator _accelerator;
    private ulong _pointer;

    internal CudaMemoryBuffer(CudaAccelerator accelerator, long length, bool managed = false) : base(accelerator, length)
    {
        _accelerator = accelerator;
        long bytes;
        try
        {
            bytes = checked(length * sizeof(T));
        }
        catch (OverflowException)
        {
            throw new OutOfMemoryException($"{length} elements of {typeof(T).Name} do not fit a 64-bit size.");
        }
        if (bytes == 0) return; // cuMemAlloc rejects 0 bytes; an empty buffer holds no memory.

        accelerator.MakeCurrent();
        ulong pointer;
        var result = managed ? CudaApi.cuMemAllocManaged(&pointer, (nuint)bytes, CudaApi.MemAttachGlobal) : CudaApi.cuMemAlloc(&pointer, (nuint)bytes);
        if (result == CudaResult.OutOfMemory)
        {
            nuint free = 0, total = 0;
            string freeText = CudaApi.cuMemGetInfo(&free, &total) == CudaResult.Success
                ? $"{(long)free} bytes free of {(long)total}"
                : "free memory unknown";
            throw new OutOfMemoryException(
                $"Allocating {bytes} bytes ({length} × {typeof(T).Name}) on {accelerator.Name} failed: {freeText}; " +
                $"this accelerator holds {accelerator.AllocatedBytes} bytes.");
        }
        CudaApi.Check(result, managed ? "cuMemAllocManaged" : "cuMemAlloc_v2");
        _pointer = pointer;
        accelerator.OnAllocated(bytes);
        accelerator.Track(this);
    }

    /// <summary>The device address of the first element (0 for an empty buffer).</summary>
    public ulong DevicePointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            return _pointer;
        }
    }

    /// <inheritdoc/>
    protected override ArrayView<T> CreateView() => new((T*)_pointer, Length);

    /// <inheritdoc/>
    protected override void CopyFromHostCore(ReadOnlySpan<T> source, long offset)
    {
        if (source.IsEmpty) return;
        _accelerator.ThrowIfDisposed();
        _accelerator.MakeCurrent();
        fixed (T* pointer = source)
            CudaApi.Check(CudaApi.cuMemcpyHtoD(Address(offset), pointer, (nuint)((long)source.Length * sizeof(T))), "cuMemcpyHtoD_v2");
    }

    /// <inheritdoc/>
    protected override void CopyToHostCore(Span<T> destination, long offset)
    {
        if (destination.IsEmpty) return;
        _accelerator.ThrowIfDisposed();
        _accelerator.MakeCurrent();
        fixed (T* pointer = destination)
            CudaApi.Check(CudaApi.cuMemcpyDtoH(pointer, Address(offset), (nuint)((long)destination.Length * sizeof(T))), "cuMemcpyDtoH_v2");
    }

    /// <inheritdoc/>
    protected override void CopyFromDeviceCore(MemoryBuffer<T> source)
    {
        if (Length == 0) return;
        _accelerator.ThrowIfDisposed();
        _accelerator.MakeCurrent();
        var from = (CudaMemoryBuffer<T>)source;
        CudaApi.Check(CudaApi.cuMemcpyDtoD(_pointer, from._pointer, (nuint)LengthInBytes), "cuMemcpyDtoD_v2");
    }

    /// <inheritdoc/>
    protected override void MemSetCore(byte value)
    {
        if (Length == 0) return;
        _accelerator.ThrowIfDisposed();
        _accelerator.MakeCurrent();
        CudaApi.Check(CudaApi.cuMemsetD8(_pointer, value, (nuint)LengthInBytes), "cuMemsetD8_v2");
    }

    /// <inheritdoc/>
    protected override void Free()
    {
        if (_pointer == 0) return;
        var pointer = _pointer;
        _pointer = 0;
        _accelerator.Untrack(this);
        _accelerator.OnFreed(LengthInBytes);
        if (!_accelerator.IsDisposed) _accelerator.MakeCurrent();
        CudaApi.Check(CudaApi.cuMemFree(pointer), "cuMemFree_v2");
    }

    private ulong Address(long offset) => _pointer + (ulong)(offset * sizeof(T));
}
