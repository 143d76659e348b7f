using System.Numerics.Tensors;

namespace FlashAttn;

/// <summary>
/// A dense, row-major tensor in a <see cref="Device"/>'s memory, of element type <see cref="DType"/>. The object
/// owns its memory: dispose it to free the memory. Create one with <see cref="Upload{T}(Device, Tensor{T})"/>,
/// <see cref="Upload{T}(Device, ReadOnlySpan{T}, ReadOnlySpan{int})"/>, <see cref="Zeros{T}"/> or
/// <see cref="Empty{T}"/>; attention's q, k and v have shape (batch, seqlen, heads, head_dim).
/// </summary>
public abstract partial class DeviceTensor : IDisposable
{
    private readonly int[] _shape;

    /// <summary>Creates the tensor record; <paramref name="shape"/> has been checked and is not copied.</summary>
    private protected DeviceTensor(Device device, int[] shape, DType dtype)
    {
        Device = device;
        _shape = shape;
        DType = dtype;
        long length = 1;
        foreach (int d in shape) length *= d;
        Length = length;
    }

    /// <summary>The lengths of the dimensions, outermost first.</summary>
    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>Number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>Number of elements (the product of <see cref="Shape"/>).</summary>
    public long Length { get; }

    /// <summary>Element type.</summary>
    public DType DType { get; }

    /// <summary>Bytes of device memory the elements occupy.</summary>
    public long SizeInBytes => Length * DTypes.SizeOf(DType);

    /// <summary>The device holding the memory.</summary>
    public Device Device { get; }

    /// <summary>True once disposed; a disposed tensor cannot be read or passed to attention.</summary>
    public abstract bool IsDisposed { get; }

    /// <summary>A copy of <see cref="Shape"/>.</summary>
    public int[] GetShape() => (int[])_shape.Clone();

    /// <summary>The shape as text, e.g. "[2, 128, 8, 64]".</summary>
    internal string ShapeText => FormatShape(_shape);

    internal static string FormatShape(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    /// <summary>Frees the device memory; later use throws <see cref="ObjectDisposedException"/>.</summary>
    public abstract void Dispose();

    /// <summary>Copies every element into <paramref name="destination"/>: same dtype and length, on any device (ring
    /// transports between devices of one process).</summary>
    internal abstract void CopyElementsTo(DeviceTensor destination);

    /// <inheritdoc/>
    public override string ToString() => $"DeviceTensor<{DType}>{ShapeText} on {Device}{(IsDisposed ? " (disposed)" : "")}";
}
