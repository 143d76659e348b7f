using System.Runtime.InteropServices;

namespace FlashAttn.Compute.Runtime.Cpu;

/// <summary>
/// Device memory of the CPU accelerator: native memory aligned to 256 bytes (as cudaMalloc), so views
/// hold real addresses that kernels and the IR interpreter dereference directly.
/// </summary>
/// <typeparam name="T">Element type.</typeparam>
public sealed unsafe class CpuMemoryBuffer<T> : MemoryBuffer<T> where T : unmanaged
{
    private readonly CpuAccelerator _accelerator;
    private T* _pointer;

    internal CpuMemoryBuffer(CpuAccelerator accelerator, long length) : base(accelerator, length)
    {
        _accelerator = accelerator;
        long bytes = checked(length * sizeof(T));
        _pointer = (T*)NativeMemory.AlignedAlloc((nuint)Math.Max(1, bytes), 256);
        _accelerator.OnAllocated(bytes);
    }

    /// <summary>Address of the first element.</summary>
    public nint NativePointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            return (nint)_pointer;
        }
    }

    /// <inheritdoc/>
    protected override ArrayView<T> CreateView() => new(_pointer, Length);

    /// <inheritdoc/>
    protected override void CopyFromHostCore(ReadOnlySpan<T> source, long offset)
        => source.CopyTo(new Span<T>(_pointer + offset, source.Length));

    /// <inheritdoc/>
    protected override void CopyToHostCore(Span<T> destination, long offset)
        => new ReadOnlySpan<T>(_pointer + offset, destination.Length).CopyTo(destination);

    /// <inheritdoc/>
    protected override void CopyFromDeviceCore(MemoryBuffer<T> source)
    {
        if (source is not CpuMemoryBuffer<T> cpu)
            throw new ArgumentException("The source buffer is not CPU memory.", nameof(source));
        Buffer.MemoryCopy(cpu._pointer, _pointer, LengthInBytes, LengthInBytes);
    }

    /// <inheritdoc/>
    protected override void MemSetCore(byte value) => NativeMemory.Fill(_pointer, (nuint)LengthInBytes, value);

    /// <inheritdoc/>
    protected override void Free()
    {
        NativeMemory.AlignedFree(_pointer);
        _pointer = null;
        _accelerator.OnFreed(LengthInBytes);
    }
}
