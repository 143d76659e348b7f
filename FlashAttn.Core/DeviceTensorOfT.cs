using System.Numerics.Tensors;
using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;

namespace FlashAttn;

/// <summary>A <see cref="DeviceTensor"/> of elements <typeparamref name="T"/>; owns its device memory.</summary>
/// <typeparam name="T"><see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>.</typeparam>
public sealed class DeviceTensor<T> : DeviceTensor where T : unmanaged
{
    private readonly MemoryBuffer<T> _buffer;

    private DeviceTensor(Device device, int[] shape, MemoryBuffer<T> buffer)
        : base(device, shape, DTypes.Of<T>())
        => _buffer = buffer;

    internal static DeviceTensor<T> Allocate(Device device, int[] shape)
    {
        DTypes.Of<T>(); // throws NotSupportedException for other element types
        device.ThrowIfDisposed();
        long length = 1;
        foreach (int d in shape) length *= d;
        return new DeviceTensor<T>(device, shape, device.Accelerator.Allocate<T>(length));
    }

    internal static DeviceTensor<T> Create(Device device, int[] shape, ReadOnlySpan<T> values)
    {
        var tensor = Allocate(device, shape);
        try
        {
            tensor._buffer.CopyFromHost(values);
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
        return tensor;
    }

    /// <summary>The device memory (for the dispatcher).</summary>
    internal MemoryBuffer<T> Buffer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_buffer.IsDisposed, this);
            return _buffer;
        }
    }

    /// <summary>The memory as a kernel argument.</summary>
    internal ArrayView<T> View => Buffer.View;

    /// <inheritdoc/>
    public override bool IsDisposed => _buffer.IsDisposed;

    /// <summary>Copies the elements to a new host tensor of the same shape.</summary>
    /// <exception cref="ObjectDisposedException">The tensor was disposed.</exception>
    public Tensor<T> Download()
    {
        var lengths = new nint[Rank];
        for (int i = 0; i < lengths.Length; i++) lengths[i] = Shape[i];
        return Tensor.Create(ToArray(), lengths);
    }

    /// <summary>Copies the elements in row-major order into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="DeviceTensor.Length"/>.</exception>
    /// <exception cref="ObjectDisposedException">The tensor was disposed.</exception>
    public void CopyTo(Span<T> destination)
    {
        var buffer = Buffer;
        if (destination.Length < Length)
            throw new ArgumentException($"destination has {destination.Length} elements; the tensor has {Length}.", nameof(destination));
        Device.Synchronize();
        buffer.CopyToHost(destination[..(int)Length]);
    }

    /// <summary>Overwrites the elements with row-major <paramref name="source"/> of exactly <see cref="DeviceTensor.Length"/> elements.</summary>
    /// <exception cref="ArgumentException"><paramref name="source"/> has a different length.</exception>
    /// <exception cref="ObjectDisposedException">The tensor was disposed.</exception>
    public void CopyFrom(ReadOnlySpan<T> source)
    {
        var buffer = Buffer;
        if (source.Length != Length)
            throw new ArgumentException($"source has {source.Length} elements; the tensor has {Length}.", nameof(source));
        buffer.CopyFromHost(source);
    }

    /// <summary>The elements in row-major order as a new array.</summary>
    /// <exception cref="ObjectDisposedException">The tensor was disposed.</exception>
    public T[] ToArray()
    {
        var result = new T[Length];
        CopyTo(result);
        return result;
    }

    /// <inheritdoc/>
    public override void Dispose() => _buffer.Dispose();
}
