using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;

namespace FlashAttn.Kernels;

public static partial class AttentionLauncher
{
    /// <summary>Ring attention: <paramref name="destination"/> (the slice's own tensor) = the slice of <paramref name="source"/>.</summary>
    public static void GatherRows<T>(Accelerator accelerator, ArrayView<T> source, ArrayView<T> destination, RowSlice slice)
        where T : unmanaged
        => accelerator.Launch(RingRowKernels.Gather<T>, Elementwise(slice.Elements), source, destination, slice);

    /// <summary>Ring attention: <paramref name="sum"/> (fp32, the whole tensor) += <paramref name="partial"/> (the slice's own tensor).</summary>
    public static void AccumulateRows<T>(Accelerator accelerator, ArrayView<T> partial, ArrayView<float> sum, RowSlice slice)
        where T : unmanaged
    {
        var body = new RowBody<T>(accelerator, RowOperation.Accumulate, slice, partial, default, sum, default);
        StorageChoice<T>.Instance.Run(ref body, Fp32Math.Exact);
    }

    /// <summary>Ring attention: merges the slice's partial output and log-sum-exp into <paramref name="output"/> and
    /// <paramref name="lse"/> (fp32, the whole tensors) by their log-sum-exps.</summary>
    public static void MergeRows<T>(Accelerator accelerator, ArrayView<T> partialOutput, ArrayView<float> partialLse,
        ArrayView<float> output, ArrayView<float> lse, RowSlice slice) where T : unmanaged
    {
        var body = new RowBody<T>(accelerator, RowOperation.Merge, slice, partialOutput, partialLse, output, lse);
        StorageChoice<T>.Instance.Run(ref body, Fp32Math.Exact);
    }

    /// <summary>Ring attention: <paramref name="destination"/> = <paramref name="source"/> (fp32) in the storage dtype.</summary>
    public static void StoreRows<T>(Accelerator accelerator, ArrayView<float> source, ArrayView<T> destination) where T : unmanaged
    {
        var body = new RowBody<T>(accelerator, RowOperation.Store, default, destination, default, source, default);
        StorageChoice<T>.Instance.Run(ref body, Fp32Math.Exact);
    }

    private enum RowOperation { Accumulate, Merge, Store }

    /// <summary>One of <see cref="RingRowKernels"/>' storage-typed kernels, launched with the element type's storage.</summary>
    private readonly struct RowBody<T>(Accelerator accelerator, RowOperation operation, RowSlice slice, ArrayView<T> values,
        ArrayView<float> partialLse, ArrayView<float> sums, ArrayView<float> lse) : IStorageBody<T> where T : unmanaged
    {
        public void RunWithTensorCores<TStorage>() where TStorage : struct, ITensorCoreStorage<T> => Run<TStorage>();

        public void Run<TStorage>() where TStorage : struct, IStorage<T>
        {
            switch (operation)
            {
                case RowOperation.Accumulate:
                    accelerator.Launch(RingRowKernels.Accumulate<T, TStorage>, Elementwise(slice.Elements), values, sums, slice);
                    break;
                case RowOperation.Merge:
                    accelerator.Launch(RingRowKernels.Merge<T, TStorage>, Elementwise(slice.Rows), values, partialLse, sums, lse, slice);
                    break;
                default:
                    accelerator.Launch(RingRowKernels.Store<T, TStorage>, Elementwise(values.Length), sums, values);
                    break;
            }
        }
    }
}
