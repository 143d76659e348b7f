namespace FlashAttn.Compute.Runtime.Cuda;

/// <summary>
/// Host memory page-locked and mapped for the device by <c>cuMemHostRegister</c> (<see cref="CudaAccelerator.RegisterHostMemory"/>):
/// copies from and to it skip the driver's own staging buffer. Registering costs time of its own (the pages are locked
/// one by one), so it pays for memory that is copied more than once. Dispose unregisters it; the memory must stay
/// allocated until then.
/// </summary>
public sealed unsafe class CudaHostRegistration : IDisposable
{
    private readonly CudaAccelerator _accelerator;
    private void* _pointer;

    internal CudaHostRegistration(CudaAccelerator accelerator, void* pointer, long bytes)
    {
        _accelerator = accelerator;
        _pointer = pointer;
        Bytes = bytes;
    }

    /// <summary>The registered bytes.</summary>
    public long Bytes { get; }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_pointer is null) return;
        // A destroyed context has released its registrations already.
        if (!_accelerator.IsDisposed) _accelerator.UnregisterHostMemory(_pointer);
        _pointer = null;
    }
}
