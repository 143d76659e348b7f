using FlashAttn.Kernels;

namespace FlashAttn.Distributed;

/// <summary>
/// The temporary tensors of one ring call, allocated once and reused by every step (a GPU allocation would stall the
/// overlap of transfers and compute), disposed together at the end.
/// </summary>
internal sealed class RingBuffers(Device device) : IDisposable
{
    private readonly Dictionary<string, DeviceTensor> _named = [];
    private readonly List<DeviceTensor> _owned = [];

    /// <summary>The tensor named <paramref name="role"/> of <paramref name="shape"/>, allocated at first use (contents undefined).</summary>
    public DeviceTensor<T> Get<T>(string role, int[] shape) where T : unmanaged => Get<T>(role, shape, out _);

    /// <summary>A new zero-filled tensor, freed with the others.</summary>
    public DeviceTensor<T> Zeros<T>(int[] shape) where T : unmanaged => Own(DeviceTensor.Zeros<T>(device, shape));

    /// <summary><paramref name="source"/> itself when <paramref name="slice"/> is whole, else the slice gathered into the
    /// tensor named <paramref name="role"/>.</summary>
    public DeviceTensor<T> Slice<T>(DeviceTensor<T> source, RowSlice slice, string role, int[] shape) where T : unmanaged
    {
        if (slice.IsWhole) return source;
        var part = Get<T>(role, shape);
        new RingRows(device).Gather(source, part, slice);
        return part;
    }

    /// <summary>As <see cref="Slice{T}"/> for a tensor that does not change during the call (this rank's own q-side
    /// tensors): gathered at the first use of <paramref name="role"/> at <paramref name="slice"/>'s start, reused after.</summary>
    public DeviceTensor<T> SliceOnce<T>(DeviceTensor<T> source, RowSlice slice, string role, int[] shape) where T : unmanaged
    {
        if (slice.IsWhole) return source;
        var part = Get<T>($"{role}@{slice.Start}", shape, out bool allocated);
        if (allocated) new RingRows(device).Gather(source, part, slice);
        return part;
    }

    private DeviceTensor<T> Get<T>(string role, int[] shape, out bool allocated) where T : unmanaged
    {
        string key = $"{role} {typeof(T).Name} [{string.Join(",", shape)}]";
        allocated = !_named.TryGetValue(key, out var tensor);
        if (allocated)
        {
            tensor = Own(DeviceTensor.Empty<T>(device, shape));
            _named[key] = tensor;
        }
        return (DeviceTensor<T>)tensor!;
    }

    private TTensor Own<TTensor>(TTensor tensor) where TTensor : DeviceTensor
    {
        _owned.Add(tensor);
        return tensor;
    }

    public void Dispose()
    {
        foreach (var tensor in _owned) tensor.Dispose();
        _owned.Clear();
        _named.Clear();
    }
}
