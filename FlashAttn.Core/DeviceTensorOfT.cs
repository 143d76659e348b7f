using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;

namespace FlashAttn;

/// <summary>
/// A <see cref="DeviceTensor"/> of elements <typeparamref name="T"/>: owns its device memory, or, made by
/// <see cref="DeviceTensor.Wrap{T}(Device, nint, ReadOnlySpan{int})"/>, views memory that the caller owns.
/// </summary>
/// <typeparam name="T"><see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>; <see cref="int"/> for index tensors (cu_seqlens, cache lengths, block tables).</typeparam>
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

    internal static DeviceTensor<T> Wrap(Device device, int[] shape, nint address)
    {
        DTypes.Of<T>();
        device.ThrowIfDisposed();
        long length = 1;
        foreach (int d in shape) length *= d;
        return new DeviceTensor<T>(device, shape, new ExternalMemoryBuffer<T>(device.Accelerator, address, length)) { OwnsMemory = false };
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

    /// <summary>False for a tensor that views memory the caller owns (<see cref="DeviceTensor.Wrap{T}(Device, nint, ReadOnlySpan{int})"/>).</summary>
    public bool OwnsMemory { get; private init; } = true;

    /// <summary>
    /// The address of the first element: a device address on a CUDA device (in the device's context), a host address
    /// on the CPU device. For handing the memory to other GPU code; valid until the tensor is disposed.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The tensor was disposed.</exception>
    public unsafe nint Address => (nint)View.Pointer;

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

    /// <summary>
    /// Copies the elements into <paramref name="destination"/> of the same shape (any strides). A dense destination
    /// is written directly; a strided one goes through one temporary row-major copy.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/>'s shape differs from <see cref="DeviceTensor.Shape"/>.</exception>
    /// <exception cref="ObjectDisposedException">The tensor was disposed.</exception>
    public void CopyTo(in TensorSpan<T> destination)
    {
        CheckSameShape(destination.Lengths, nameof(destination));
        if (destination.IsDense)
        {
            CopyTo(MemoryMarshal.CreateSpan(ref destination.GetPinnableReference(), (int)Length));
            return;
        }
        Download().AsReadOnlyTensorSpan().CopyTo(destination);
    }

    /// <summary>
    /// Overwrites the elements with <paramref name="source"/> of the same shape (any strides). A dense source is read
    /// directly; a strided one goes through one temporary row-major copy.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="source"/>'s shape differs from <see cref="DeviceTensor.Shape"/>.</exception>
    /// <exception cref="ObjectDisposedException">The tensor was disposed.</exception>
    public void CopyFrom(in ReadOnlyTensorSpan<T> source)
    {
        CheckSameShape(source.Lengths, nameof(source));
        CopyFrom(DenseOrFlattened(source));
    }

    /// <summary>The elements of a dense <paramref name="source"/> in place, else a row-major copy of them.</summary>
    internal static ReadOnlySpan<T> DenseOrFlattened(in ReadOnlyTensorSpan<T> source)
    {
        if (source.IsDense)
            return MemoryMarshal.CreateReadOnlySpan(ref Unsafe.AsRef(in source.GetPinnableReference()), checked((int)source.FlattenedLength));
        var values = new T[source.FlattenedLength];
        source.FlattenTo(values);
        return values;
    }

    private void CheckSameShape(ReadOnlySpan<nint> lengths, string name)
    {
        bool same = lengths.Length == Rank;
        for (int i = 0; same && i < lengths.Length; i++) same = lengths[i] == Shape[i];
        if (!same)
            throw new ArgumentException($"{name} has shape [{string.Join(", ", lengths.ToArray())}]; the tensor has {ShapeText}.", name);
    }

    /// <summary>The elements in row-major order as a new array.</summary>
    /// <exception cref="ObjectDisposedException">The tensor was disposed.</exception>
    /// <exception cref="InvalidOperationException">The tensor has more elements than a .NET array holds (<see cref="Array.MaxLength"/>).</exception>
    public T[] ToArray()
    {
        if (Length > Array.MaxLength)
            throw new InvalidOperationException($"The tensor {ShapeText} has {Length} elements; a .NET array holds at most {Array.MaxLength}, so it can be read only on the device.");
        var result = new T[Length];
        CopyTo(result);
        return result;
    }

    /// <summary>
    /// Copies every element into <paramref name="destination"/> (same dtype and length, any device): on the device when
    /// both share an accelerator, memory to memory when both live in host memory, else through a host array.
    /// </summary>
    internal override unsafe void CopyElementsTo(DeviceTensor destination)
    {
        var target = (DeviceTensor<T>)destination;
        var from = Buffer;
        var to = target.Buffer;
        if (from.Accelerator == to.Accelerator)
            to.CopyFrom(from);
        else if (Device.Kind != DeviceKind.Cuda && target.Device.Kind != DeviceKind.Cuda)
        {
            Device.Synchronize();
            target.Device.Synchronize();
            System.Buffer.MemoryCopy(from.View.Pointer, to.View.Pointer, to.LengthInBytes, from.LengthInBytes);
        }
        else
            target.CopyFrom(ToArray());
    }

    /// <summary>Frees the device memory (only forgets it when the caller owns it); later use throws <see cref="ObjectDisposedException"/>.</summary>
    public override void Dispose() => _buffer.Dispose();
}
