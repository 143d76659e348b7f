using System.Numerics.Tensors;

namespace FlashAttn;

public abstract partial class DeviceTensor
{
    /// <summary>Copies <paramref name="tensor"/> (any strides; read in row-major order) to <paramref name="device"/>.</summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>; <see cref="int"/> for index tensors (cu_seqlens, cache lengths, block tables).</typeparam>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="tensor"/> has more than int.MaxValue elements, or a dimension does.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="device"/> was disposed.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not a supported element type.</exception>
    public static DeviceTensor<T> Upload<T>(Device device, Tensor<T> tensor) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return Upload(device, tensor.AsReadOnlyTensorSpan());
    }

    /// <summary>
    /// Copies <paramref name="tensor"/> to <paramref name="device"/>: a dense span is copied straight from its memory
    /// (no host copy), a strided one is read in row-major order through one temporary copy.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>; <see cref="int"/> for index tensors (cu_seqlens, cache lengths, block tables).</typeparam>
    /// <exception cref="ArgumentNullException"><paramref name="device"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="tensor"/> has more than int.MaxValue elements, or a dimension does.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="device"/> was disposed.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not a supported element type.</exception>
    public static DeviceTensor<T> Upload<T>(Device device, in ReadOnlyTensorSpan<T> tensor) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(device);
        var lengths = tensor.Lengths;
        var shape = new int[lengths.Length];
        for (int i = 0; i < shape.Length; i++)
        {
            if (lengths[i] > int.MaxValue)
                throw new ArgumentException($"tensor dimension {i} has length {lengths[i]}; at most {int.MaxValue} is supported.", nameof(tensor));
            shape[i] = (int)lengths[i];
        }
        var checkedShape = CheckShape(shape, nameof(tensor), HostElementLimit);
        return DeviceTensor<T>.Create(device, checkedShape, DeviceTensor<T>.DenseOrFlattened(tensor));
    }

    /// <summary>
    /// A tensor over memory the caller owns and frees: <paramref name="address"/> is a device address in
    /// <paramref name="device"/>'s CUDA context, or, on the CPU device, a host address (native or pinned memory). Nothing
    /// is copied or allocated; attention reads and writes the memory in place, and <see cref="Dispose"/> only forgets it.
    /// The memory must hold the shape's elements densely (row-major) and outlive the tensor's use, including work
    /// still queued on the device.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="device"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is negative.</exception>
    /// <exception cref="ArgumentException"><paramref name="address"/> is zero for a non-empty shape, or the shape has more than 2⁵⁹ elements.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="device"/> was disposed.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not a supported element type.</exception>
    public static DeviceTensor<T> Wrap<T>(Device device, nint address, params ReadOnlySpan<int> shape) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(device);
        var checkedShape = CheckShape(shape, nameof(shape));
        if (address == 0 && Product(checkedShape) > 0)
            throw new ArgumentException("address must not be zero for a non-empty tensor.", nameof(address));
        return DeviceTensor<T>.Wrap(device, checkedShape, address);
    }

    /// <summary>Copies row-major <paramref name="values"/> of shape <paramref name="shape"/> to <paramref name="device"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="device"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A dimension of <paramref name="shape"/> is negative.</exception>
    /// <exception cref="ArgumentException"><paramref name="values"/> does not hold exactly the shape's element count, or the shape has more than int.MaxValue elements.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="device"/> was disposed.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not a supported element type.</exception>
    public static DeviceTensor<T> Upload<T>(Device device, ReadOnlySpan<T> values, params ReadOnlySpan<int> shape) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(device);
        var checkedShape = CheckShape(shape, nameof(shape), HostElementLimit);
        long length = Product(checkedShape);
        if (values.Length != length)
            throw new ArgumentException($"values has {values.Length} elements but shape {FormatShape(checkedShape)} needs {length}.", nameof(values));
        return DeviceTensor<T>.Create(device, checkedShape, values);
    }

    /// <summary>A new tensor of shape <paramref name="shape"/> on <paramref name="device"/>, every element zero.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="device"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is negative.</exception>
    /// <exception cref="ArgumentException">The shape has more than 2⁵⁹ elements (device tensors may exceed 2³¹ elements; only host data is limited to int.MaxValue).</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="device"/> was disposed.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not a supported element type.</exception>
    public static DeviceTensor<T> Zeros<T>(Device device, params ReadOnlySpan<int> shape) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(device);
        var tensor = DeviceTensor<T>.Allocate(device, CheckShape(shape, nameof(shape)));
        tensor.Buffer.MemSet(0);
        return tensor;
    }

    /// <summary>A new tensor of shape <paramref name="shape"/> on <paramref name="device"/>; contents undefined.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="device"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is negative.</exception>
    /// <exception cref="ArgumentException">The shape has more than 2⁵⁹ elements (device tensors may exceed 2³¹ elements; only host data is limited to int.MaxValue).</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="device"/> was disposed.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not a supported element type.</exception>
    public static DeviceTensor<T> Empty<T>(Device device, params ReadOnlySpan<int> shape) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(device);
        return DeviceTensor<T>.Allocate(device, CheckShape(shape, nameof(shape)));
    }

    // Device tensors may exceed 2³¹ elements (a long KV cache); data from host spans and arrays cannot (their lengths are int).
    private const long DeviceElementLimit = long.MaxValue / 16, HostElementLimit = int.MaxValue;

    private static int[] CheckShape(ReadOnlySpan<int> shape, string paramName, long limit = DeviceElementLimit)
    {
        long length = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] < 0)
                throw new ArgumentOutOfRangeException(paramName, shape[i], $"{paramName} dimension {i} is negative ({shape[i]}).");
            if (shape[i] != 0 && length > limit / shape[i])
                throw new ArgumentException($"{paramName} {FormatShape(shape)} has more than {limit} elements.", paramName);
            length *= shape[i];
        }
        return shape.ToArray();
    }

    private static long Product(ReadOnlySpan<int> shape)
    {
        long length = 1;
        foreach (int d in shape) length *= d;
        return length;
    }
}
