using System.Runtime.CompilerServices;

namespace FlashAttn.Compute;

/// <summary>
/// A view of <see cref="Length"/> elements of <typeparamref name="T"/> in accelerator memory (device, shared
/// or per-thread memory). Kernels take views as parameters and index them; a view owns nothing.
/// </summary>
/// <remarks>On the CPU every index is checked; on the GPU the check compiles to nothing.</remarks>
/// <typeparam name="T">An unmanaged element type.</typeparam>
public readonly unsafe struct ArrayView<T> where T : unmanaged
{
    private readonly T* _pointer;
    private readonly long _length;

    /// <summary>Creates a view of <paramref name="length"/> elements starting at <paramref name="pointer"/>.</summary>
    public ArrayView(T* pointer, long length)
    {
        _pointer = pointer;
        _length = length;
    }

    /// <summary>Number of elements (64-bit: a view may hold more than 2³¹ elements, e.g. a large KV cache).</summary>
    public long Length => _length;

    /// <summary>Address of the first element (a device address for device memory).</summary>
    public T* Pointer => _pointer;

    /// <summary>The element at <paramref name="index"/>.</summary>
    public ref T this[int index]
    {
        get
        {
            Bounds.Check(index, _length);
            return ref _pointer[index];
        }
    }

    /// <summary>The element at <paramref name="index"/> (64-bit index).</summary>
    public ref T this[long index]
    {
        get
        {
            Bounds.Check(index, _length);
            return ref _pointer[index];
        }
    }

    /// <summary>The <paramref name="length"/> elements starting at <paramref name="offset"/> (32-bit arithmetic in kernels).</summary>
    public ArrayView<T> SubView(int offset, int length)
    {
        Bounds.CheckRange(offset, length, _length);
        return new ArrayView<T>(_pointer + offset, length);
    }

    /// <summary>The <paramref name="length"/> elements starting at <paramref name="offset"/>.</summary>
    public ArrayView<T> SubView(long offset, long length)
    {
        Bounds.CheckRange(offset, length, _length);
        return new ArrayView<T>(_pointer + offset, length);
    }

    /// <summary>The same bytes seen as elements of <typeparamref name="TOther"/> (length rounded down).</summary>
    public ArrayView<TOther> Cast<TOther>() where TOther : unmanaged
        => new((TOther*)_pointer, _length * sizeof(T) / sizeof(TOther));
}

/// <summary>Index checks that run on the CPU and compile to nothing on the GPU.</summary>
public static class Bounds
{
    /// <summary>Throws when <paramref name="index"/> is outside [0, <paramref name="length"/>).</summary>
    [Intrinsic(IntrinsicOp.CpuBoundsCheck)]
    public static void Check(long index, long length)
    {
        if ((ulong)index >= (ulong)length)
            throw new IndexOutOfRangeException($"Index {index} is outside the view of length {length}.");
    }

    /// <summary>Throws when [offset, offset + count) is not inside [0, <paramref name="length"/>).</summary>
    [Intrinsic(IntrinsicOp.CpuBoundsCheck)]
    public static void CheckRange(long offset, long count, long length)
    {
        if (offset < 0 || count < 0 || offset + count > length)
            throw new IndexOutOfRangeException($"Range [{offset}, {offset}+{count}) is outside the view of length {length}.");
    }
}
