using System.Runtime.InteropServices;
using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;
using FlashAttn.Compute.Runtime.Cuda;

namespace FlashAttn;

/// <summary>
/// Memory that someone else allocated and frees (a caller's device pointer, an ILGPU buffer, pinned host memory on the
/// CPU device), seen as a buffer of the engine: kernels read and write it in place, and disposing only forgets it.
/// </summary>
/// <typeparam name="T">Element type.</typeparam>
internal sealed unsafe class ExternalMemoryBuffer<T> : MemoryBuffer<T> where T : unmanaged
{
    private readonly nint _address;

    /// <summary>Wraps <paramref name="length"/> elements at <paramref name="address"/> in <paramref name="accelerator"/>'s memory.</summary>
    public ExternalMemoryBuffer(Accelerator accelerator, nint address, long length) : base(accelerator, length)
        => _address = address;

    private bool IsCuda => Accelerator.Kind == AcceleratorKind.Cuda;

    /// <inheritdoc/>
    protected override ArrayView<T> CreateView() => new((T*)_address, Length);

    /// <inheritdoc/>
    protected override void CopyFromHostCore(ReadOnlySpan<T> source, long offset)
    {
        if (source.IsEmpty) return;
        if (!IsCuda)
        {
            source.CopyTo(new Span<T>((T*)_address + offset, source.Length));
            return;
        }
        MakeCurrent();
        fixed (T* pointer = source)
            CudaApi.Check(CudaApi.cuMemcpyHtoD(DeviceAddress(offset), pointer, Bytes(source.Length)), "cuMemcpyHtoD_v2");
    }

    /// <inheritdoc/>
    protected override void CopyToHostCore(Span<T> destination, long offset)
    {
        if (destination.IsEmpty) return;
        if (!IsCuda)
        {
            new ReadOnlySpan<T>((T*)_address + offset, destination.Length).CopyTo(destination);
            return;
        }
        MakeCurrent();
        fixed (T* pointer = destination)
            CudaApi.Check(CudaApi.cuMemcpyDtoH(pointer, DeviceAddress(offset), Bytes(destination.Length)), "cuMemcpyDtoH_v2");
    }

    /// <inheritdoc/>
    protected override void CopyFromDeviceCore(MemoryBuffer<T> source)
    {
        if (Length == 0) return;
        var from = (nint)source.View.Pointer;
        if (!IsCuda)
        {
            Buffer.MemoryCopy((void*)from, (void*)_address, LengthInBytes, LengthInBytes);
            return;
        }
        MakeCurrent();
        CudaApi.Check(CudaApi.cuMemcpyDtoD((ulong)_address, (ulong)from, (nuint)LengthInBytes), "cuMemcpyDtoD_v2");
    }

    /// <inheritdoc/>
    protected override void MemSetCore(byte value)
    {
        if (Length == 0) return;
        if (!IsCuda)
        {
            NativeMemory.Fill((void*)_address, (nuint)LengthInBytes, value);
            return;
        }
        MakeCurrent();
        CudaApi.Check(CudaApi.cuMemsetD8((ulong)_address, value, (nuint)LengthInBytes), "cuMemsetD8_v2");
    }

    /// <summary>Nothing to free: the memory belongs to the caller.</summary>
    protected override void Free() { }

    private void MakeCurrent() => ((CudaAccelerator)Accelerator).MakeCurrent();

    private ulong DeviceAddress(long offset) => (ulong)_address + (ulong)(offset * sizeof(T));

    private static nuint Bytes(int count) => (nuint)((long)count * sizeof(T));
}
