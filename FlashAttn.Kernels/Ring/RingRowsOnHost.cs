using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// <see cref="RingRowKernels"/>' operations as host loops, for tensors in host memory (the CPU path, where launching the
/// kernels would emulate GPU threads): row by row (a row's head_dim elements are contiguous), rows in parallel, with the
/// same index arithmetic (<see cref="RowSlice"/>) and merge (<see cref="LseMerge"/>).
/// </summary>
public static class RingRowsOnHost
{
    private const int RowsPerChunk = 64;

    /// <summary>As <see cref="AttentionLauncher.GatherRows{T}"/>.</summary>
    public static unsafe void GatherRows<T>(ArrayView<T> source, ArrayView<T> destination, RowSlice slice) where T : unmanaged
    {
        T* from = source.Pointer, to = destination.Pointer;
        int d = slice.HeadDim;
        ForEachRow(slice, row =>
        {
            long whole = slice.LocateRow(row, out long part);
            new ReadOnlySpan<T>(from + whole, d).CopyTo(new Span<T>(to + part, d));
        });
    }

    /// <summary>As <see cref="AttentionLauncher.AccumulateRows{T}"/>.</summary>
    public static void AccumulateRows<T>(ArrayView<T> partial, ArrayView<float> sum, RowSlice slice) where T : unmanaged
    {
        var body = new Body<T>(Operation.Accumulate, slice, partial, default, sum, default);
        StorageChoice<T>.Instance.Run(ref body, Fp32Math.Exact);
    }

    /// <summary>As <see cref="AttentionLauncher.MergeRows{T}"/>.</summary>
    public static void MergeRows<T>(ArrayView<T> partialOutput, ArrayView<float> partialLse, ArrayView<float> output,
        ArrayView<float> lse, RowSlice slice) where T : unmanaged
    {
        var body = new Body<T>(Operation.Merge, slice, partialOutput, partialLse, output, lse);
        StorageChoice<T>.Instance.Run(ref body, Fp32Math.Exact);
    }

    /// <summary>As <see cref="AttentionLauncher.StoreRows{T}"/>.</summary>
    public static void StoreRows<T>(ArrayView<float> source, ArrayView<T> destination) where T : unmanaged
    {
        var body = new Body<T>(Operation.Store, default, destination, default, source, default);
        StorageChoice<T>.Instance.Run(ref body, Fp32Math.Exact);
    }

    private static void ForEachRow(RowSlice slice, Action<long> row)
    {
        long rows = slice.Rows;
        Parallel.For(0, (rows + RowsPerChunk - 1) / RowsPerChunk, chunk =>
        {
            for (long r = chunk * RowsPerChunk, end = Math.Min(rows, r + RowsPerChunk); r < end; r++) row(r);
        });
    }

    private enum Operation { Accumulate, Merge, Store }

    private readonly unsafe struct Body<T>(Operation operation, RowSlice slice, ArrayView<T> values, ArrayView<float> partialLse,
        ArrayView<float> sums, ArrayView<float> lse) : IStorageBody<T> where T : unmanaged
    {
        public void RunWithTensorCores<TStorage>() where TStorage : struct, ITensorCoreStorage<T> => Run<TStorage>();

        public void Run<TStorage>() where TStorage : struct, IStorage<T>
        {
            T* part = values.Pointer;
            float* sum = sums.Pointer, partLse = partialLse.Pointer, wholeLse = lse.Pointer;
            var rows = slice;
            int d = rows.HeadDim;
            switch (operation)
            {
                case Operation.Accumulate:
                    ForEachRow(rows, row =>
                    {
                        long whole = rows.LocateRow(row, out long first);
                        for (int x = 0; x < d; x++) sum[whole + x] += TStorage.Load(part[first + x]);
                    });
                    break;
                case Operation.Merge:
                    var statistics = rows.Statistics;
                    ForEachRow(rows, row =>
                    {
                        long whole = rows.LocateRow(row, out long first);
                        long wholeRow = statistics.Locate(row, out long partRow);
                        float merged = LseMerge.Merge(wholeLse[wholeRow], partLse[partRow], out float keep, out float add);
                        for (int x = 0; x < d; x++) sum[whole + x] = keep * sum[whole + x] + add * TStorage.Load(part[first + x]);
                        wholeLse[wholeRow] = merged;
                    });
                    break;
                default:
                    long length = values.Length;
                    Parallel.For(0, (length + 4095) / 4096, chunk =>
                    {
                        for (long e = chunk * 4096, end = Math.Min(length, e + 4096); e < end; e++) part[e] = TStorage.Store(sum[e]);
                    });
                    break;
            }
        }
    }
}
