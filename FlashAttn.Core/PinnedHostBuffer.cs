using System.Buffers;
using System.Runtime.InteropServices;
using FlashAttn.Compute.Runtime;
using FlashAttn.Compute.Runtime.Cuda;

namespace FlashAttn;

/// <summary>
/// Host memory for repeated copies to and from one <see cref="Device"/> (<see cref="Device.AllocatePinnedHost{T}"/>):
/// page-aligned native memory that, on a CUDA device, stays page-locked (cuMemHostRegister) from allocation to
/// <see cref="IDisposable.Dispose"/>, so uploads from <see cref="Span"/> and downloads into it skip the driver's staging
/// copy. Locking costs time of its own, which is why it happens once here and never per copy: on an H100 (2026-12-05,
/// commit 5b60c69, <c>Bench upload</c>) copies from memory locked once ran at 39–55 GB/s against 8–15 GB/s from pageable
/// memory, while locking for a single copy was no faster than pageable (6–16 GB/s). On the CPU devices it is plain
/// aligned memory. Not thread-safe to dispose while in use; dispose it before its device.
/// </summary>
/// <typeparam name="T">Element type.</typeparam>
public sealed unsafe class PinnedHostBuffer<T> : MemoryManager<T> where T : unmanaged
{
    private const int PageBytes = 4096;
    private T* _pointer;
    private CudaHostRegistration? _registration;

    internal PinnedHostBuffer(Accelerator accelerator, int length)
    {
        Length = length;
        // Whole pages: a registration never shares a page with other memory (the driver refuses overlapping ranges).
        nuint bytes = ((nuint)length * (nuint)sizeof(T) + PageBytes - 1) / PageBytes * PageBytes;
        _pointer = (T*)NativeMemory.AlignedAlloc(bytes, PageBytes);
        try
        {
            if (accelerator is CudaAccelerator cuda) _registration = cuda.RegisterHostMemory(_pointer, (long)bytes);
        }
        catch
        {
            NativeMemory.AlignedFree(_pointer);
            _pointer = null;
            throw;
        }
    }

    /// <summary>Elements in the buffer.</summary>
    public int Length { get; }

    /// <summary>True when the memory is page-locked for the device's copies (CUDA devices).</summary>
    public bool IsPageLocked => _registration is not null;

    /// <summary>True once disposed.</summary>
    public bool IsDisposed => _pointer is null;

    /// <summary>The buffer's elements (contents undefined until written).</summary>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    public Span<T> Span => GetSpan();

    /// <inheritdoc/>
    public override Span<T> GetSpan()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        return new Span<T>(_pointer, Length);
    }

    /// <summary>The address of element <paramref name="elementIndex"/>; the buffer never moves, so there is nothing to pin.</summary>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="elementIndex"/> is outside 0…<see cref="Length"/>.</exception>
    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(elementIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(elementIndex, Length);
        return new MemoryHandle(_pointer + elementIndex);
    }

    /// <inheritdoc/>
    public override void Unpin() { }

    /// <summary>Unlocks (when locked) and frees the memory; spans taken from it must not be used afterwards.</summary>
    protected override void Dispose(bool disposing)
    {
        if (_pointer is null) return;
        _registration?.Dispose();
        _registration = null;
        NativeMemory.AlignedFree(_pointer);
        _pointer = null;
    }
}
