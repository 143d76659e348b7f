using FlashAttn.Kernels;

namespace FlashAttn.Distributed;

/// <summary>
/// The ring's element-wise operations on one device: <see cref="AttentionLauncher"/>'s kernels on a GPU (and on the
/// emulator, which exists to run them), host loops on the CPU path (<see cref="RingRowsOnHost"/>), where emulating GPU
/// threads would cost more than the attention itself.
/// </summary>
internal readonly struct RingRows(Device device)
{
    private bool OnHost => device.Kind == DeviceKind.Cpu;

    /// <summary><paramref name="destination"/> (the slice's own tensor) = the slice of <paramref name="source"/>.</summary>
    public void Gather<T>(DeviceTensor<T> source, DeviceTensor<T> destination, RowSlice slice) where T : unmanaged
    {
        if (OnHost) RingRowsOnHost.GatherRows(source.View, destination.View, slice);
        else AttentionLauncher.GatherRows(device.Accelerator, source.View, destination.View, slice);
    }

    /// <summary><paramref name="sum"/> += <paramref name="partial"/> on the slice's positions.</summary>
    public void Accumulate<T>(DeviceTensor<T> partial, DeviceTensor<float> sum, RowSlice slice) where T : unmanaged
    {
        if (OnHost) RingRowsOnHost.AccumulateRows(partial.View, sum.View, slice);
        else AttentionLauncher.AccumulateRows(device.Accelerator, partial.View, sum.View, slice);
    }

    /// <summary>Merges a slice's partial output and log-sum-exp into the running ones.</summary>
    public void Merge<T>(DeviceTensor<T> partialOutput, DeviceTensor<float> partialLse, DeviceTensor<float> output,
        DeviceTensor<float> lse, RowSlice slice) where T : unmanaged
    {
        if (OnHost) RingRowsOnHost.MergeRows(partialOutput.View, partialLse.View, output.View, lse.View, slice);
        else AttentionLauncher.MergeRows(device.Accelerator, partialOutput.View, partialLse.View, output.View, lse.View, slice);
    }

    /// <summary><paramref name="destination"/> = <paramref name="source"/> in the storage dtype.</summary>
    public void Store<T>(DeviceTensor<float> source, DeviceTensor<T> destination) where T : unmanaged
    {
        if (OnHost) RingRowsOnHost.StoreRows(source.View, destination.View);
        else AttentionLauncher.StoreRows(device.Accelerator, source.View, destination.View);
    }
}
