using System.Runtime.InteropServices;

namespace FlashAttn.Compute;

/// <summary>
/// A tiled view of a tensor in device memory for the tensor memory accelerator (TMA, sm_90): the tensor's dimensions and
/// strides, the box one copy moves, and how the box is swizzled in shared memory. A kernel takes it as a parameter (by
/// value) and passes it with <c>in</c> to <see cref="TensorCopy"/>; on the GPU it becomes the 128-byte grid-constant
/// <c>CUtensorMap</c> the driver encodes at each launch (<c>cuTensorMapEncodeTiled</c>), on the CPU and in the interpreter
/// this description is read as it is.
/// </summary>
/// <remarks>
/// Dimension 0 is the innermost (contiguous) one. A box lands in shared memory densely, dimension 0 fastest, then each
/// 16-byte chunk is moved by the swizzle as <see cref="WarpGroupMma"/> reads it (<see cref="SharedSwizzle"/>): the chunk
/// index within a <i>w</i>-byte row XOR the row's index within its 8-row atom, on shared-window addresses. Elements outside
/// the tensor (a coordinate below 0 or past a dimension) read as zero, and a copy always completes the box's full bytes.
/// </remarks>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct TensorMap
{
    /// <summary>Most dimensions a tensor map has.</summary>
    public const int MaxRank = 5;

    /// <summary>Bytes of a map as a kernel parameter on the GPU: the driver's <c>CUtensorMap</c>, 64-byte aligned.</summary>
    public const int DeviceBytes = 128;

    private ulong _address;
    private int _rank;
    private int _elementBytes;
    private TensorMapElement _element;
    private SharedSwizzle _swizzle;
    private fixed long _dimensions[MaxRank];
    private fixed long _strides[MaxRank];
    private fixed int _box[MaxRank];

    /// <summary>The device address of element (0, …, 0).</summary>
    public readonly ulong Address => _address;

    /// <summary>Number of dimensions (1 … 5).</summary>
    public readonly int Rank => _rank;

    /// <summary>Bytes of one element.</summary>
    public readonly int ElementBytes => _elementBytes;

    /// <summary>The element type as the driver names it.</summary>
    public readonly TensorMapElement Element => _element;

    /// <summary>How a box is swizzled in shared memory.</summary>
    public readonly SharedSwizzle Swizzle => _swizzle;

    /// <summary>Elements along dimension <paramref name="d"/>.</summary>
    public readonly long Dimension(int d) => _dimensions[d];

    /// <summary>Bytes between consecutive elements along dimension <paramref name="d"/> (dimension 0: the element size).</summary>
    public readonly long ByteStride(int d) => _strides[d];

    /// <summary>Elements of the box along dimension <paramref name="d"/>.</summary>
    public readonly int Box(int d) => _box[d];

    /// <summary>Bytes one copy of the box moves (and completes on its barrier).</summary>
    public readonly int BoxBytes
    {
        get
        {
            int bytes = _elementBytes;
            for (int d = 0; d < _rank; d++) bytes *= _box[d];
            return bytes;
        }
    }

    /// <summary>
    /// A tiled map of <paramref name="data"/> as a tensor of <paramref name="dimensions"/> (innermost first) whose dimension
    /// d ≥ 1 advances <paramref name="strides"/>[d − 1] elements, copied a box of <paramref name="box"/> elements at a time
    /// and swizzled by <paramref name="swizzle"/>. The rules are the driver's, checked here so that every accelerator
    /// refuses the same maps: 1 to 5 dimensions, each from 1 to 2³²; the address 16-byte aligned; strides in bytes
    /// multiples of 16 below 2⁴⁰; box sides 1 to 256, its innermost side a multiple of 16 bytes, and with a swizzle exactly
    /// the swizzle's row (32, 64 or 128 bytes); the tensor inside the view.
    /// </summary>
    /// <exception cref="ArgumentException">An argument outside those rules, named.</exception>
    public static TensorMap Tiled<T>(ArrayView<T> data, ReadOnlySpan<long> dimensions, ReadOnlySpan<long> strides, ReadOnlySpan<int> box,
        SharedSwizzle swizzle = SharedSwizzle.None) where T : unmanaged
    {
        var element = ElementOf<T>();
        int rank = dimensions.Length, size = sizeof(T);
        if (rank is < 1 or > MaxRank)
            throw new ArgumentException($"A tensor map has 1 to {MaxRank} dimensions, not {rank}.", nameof(dimensions));
        if (strides.Length != rank - 1)
            throw new ArgumentException($"A tensor map of {rank} dimensions takes {rank - 1} strides (dimensions 1 and up), not {strides.Length}.", nameof(strides));
        if (box.Length != rank)
            throw new ArgumentException($"The box needs one side per dimension ({rank}), not {box.Length}.", nameof(box));
        if ((ulong)data.Pointer % 16 != 0)
            throw new ArgumentException("A tensor map's data must start 16-byte aligned.", nameof(data));
        var map = new TensorMap { _address = (ulong)data.Pointer, _rank = rank, _elementBytes = size, _element = element, _swizzle = swizzle };
        long last = 0; // the offset of the tensor's last element, in elements
        for (int d = 0; d < rank; d++)
        {
            if (dimensions[d] is < 1 or > 1L << 32)
                throw new ArgumentException($"Dimension {d} is {dimensions[d]}; each is from 1 to 2^32.", nameof(dimensions));
            long stride = d == 0 ? 1 : strides[d - 1];
            if (d > 0 && (stride < 1 || stride * size % 16 != 0 || stride * size >= 1L << 40))
                throw new ArgumentException($"Stride {d - 1} is {stride} elements ({stride * size} bytes); strides are positive multiples of 16 bytes below 2^40.", nameof(strides));
            if (box[d] is < 1 or > 256)
                throw new ArgumentException($"Box side {d} is {box[d]}; each is from 1 to 256.", nameof(box));
            map._dimensions[d] = dimensions[d];
            map._strides[d] = stride * size;
            map._box[d] = box[d];
            last += (dimensions[d] - 1) * stride;
        }
        int rowBytes = box[0] * size;
        if (rowBytes % 16 != 0)
            throw new ArgumentException($"The box's innermost side is {rowBytes} bytes; it must be a multiple of 16.", nameof(box));
        int swizzleBytes = SharedSwizzles.RowBytes(swizzle);
        if (swizzleBytes > 0 && rowBytes != swizzleBytes)
            throw new ArgumentException($"With a {swizzleBytes}-byte swizzle the box's innermost side must be {swizzleBytes} bytes, not {rowBytes}.", nameof(box));
        if (last >= data.Length)
            throw new ArgumentException($"The tensor reaches element {last} but the view holds {data.Length}.", nameof(data));
        return map;
    }

    private static TensorMapElement ElementOf<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(Half)) return TensorMapElement.Float16;
        if (typeof(T) == typeof(BFloat16)) return TensorMapElement.BFloat16;
        if (typeof(T) == typeof(float)) return TensorMapElement.Float32;
        if (typeof(T) == typeof(double)) return TensorMapElement.Float64;
        if (typeof(T) == typeof(byte) || typeof(T) == typeof(sbyte)) return TensorMapElement.UInt8;
        if (typeof(T) == typeof(ushort) || typeof(T) == typeof(short)) return TensorMapElement.UInt16;
        if (typeof(T) == typeof(uint)) return TensorMapElement.UInt32;
        if (typeof(T) == typeof(int)) return TensorMapElement.Int32;
        if (typeof(T) == typeof(ulong)) return TensorMapElement.UInt64;
        if (typeof(T) == typeof(long)) return TensorMapElement.Int64;
        throw new ArgumentException($"A tensor map holds 8- to 64-bit integers, Half, BFloat16, float or double, not {typeof(T).Name}.", "data");
    }
}

/// <summary>A tensor map's element type, numbered as the driver's <c>CUtensorMapDataType</c>.</summary>
public enum TensorMapElement
{
    /// <summary>8-bit.</summary>
    UInt8 = 0,
    /// <summary>16-bit integer.</summary>
    UInt16 = 1,
    /// <summary>32-bit unsigned.</summary>
    UInt32 = 2,
    /// <summary>32-bit signed.</summary>
    Int32 = 3,
    /// <summary>64-bit unsigned.</summary>
    UInt64 = 4,
    /// <summary>64-bit signed.</summary>
    Int64 = 5,
    /// <summary>IEEE half.</summary>
    Float16 = 6,
    /// <summary>IEEE single.</summary>
    Float32 = 7,
    /// <summary>IEEE double.</summary>
    Float64 = 8,
    /// <summary>bfloat16.</summary>
    BFloat16 = 9,
}
