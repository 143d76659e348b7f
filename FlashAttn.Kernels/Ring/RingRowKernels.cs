using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// The element-wise kernels ring attention runs between its attention calls, each over a <see cref="RowSlice"/>:
/// gather a slice into its own tensor, add a slice's gradient into an fp32 accumulator, merge a slice's partial output
/// into the running output by log-sum-exp, and store an fp32 accumulator in the storage dtype. Grid-stride loops; one
/// thread per element, except the merge: one thread per row, which reads and rewrites the row's log-sum-exp itself.
/// </summary>
internal static class RingRowKernels
{
    /// <summary>destination (the slice's own tensor) = the slice of source.</summary>
    public static void Gather<T>(ArrayView<T> source, ArrayView<T> destination, RowSlice slice) where T : unmanaged
    {
        int gridThreads = Grid.DimX * Group.DimX;
        long count = slice.Elements;
        for (long e = Grid.GlobalIndexX; e < count; e += gridThreads)
        {
            long whole = slice.Locate(e, out long part);
            destination[part] = source[whole];
        }
    }

    /// <summary>sum (fp32, the whole tensor) += partial (the slice's own tensor), on the slice's positions.</summary>
    public static void Accumulate<T, TStorage>(ArrayView<T> partial, ArrayView<float> sum, RowSlice slice)
        where T : unmanaged where TStorage : struct, IStorage<T>
    {
        int gridThreads = Grid.DimX * Group.DimX;
        long count = slice.Elements;
        for (long e = Grid.GlobalIndexX; e < count; e += gridThreads)
        {
            long whole = slice.Locate(e, out long part);
            sum[whole] += TStorage.Load(partial[part]);
        }
    }

    /// <summary>
    /// Merges the slice's partial output and log-sum-exp (its own tensors) into output and lse (fp32, the whole
    /// tensors) by <see cref="LseMerge"/>.
    /// </summary>
    public static void Merge<T, TStorage>(ArrayView<T> partialOutput, ArrayView<float> partialLse, ArrayView<float> output,
        ArrayView<float> lse, RowSlice slice) where T : unmanaged where TStorage : struct, IStorage<T>
    {
        int gridThreads = Grid.DimX * Group.DimX;
        var statistics = slice.Statistics;
        long rows = slice.Rows;
        for (long r = Grid.GlobalIndexX; r < rows; r += gridThreads)
        {
            // row r of the (b, count, h) walk is element r of the statistics' (b, count, h, 1) walk
            long first = slice.LocateRow(r, out long partFirst);
            long wholeRow = statistics.Locate(r, out long partRow);
            float merged = LseMerge.Merge(lse[wholeRow], partialLse[partRow], out float keep, out float add);
            for (int x = 0; x < slice.HeadDim; x++)
                output[first + x] = keep * output[first + x] + add * TStorage.Load(partialOutput[partFirst + x]);
            lse[wholeRow] = merged;
        }
    }

    /// <summary>destination[e] = source[e] in the storage dtype, over every element of destination.</summary>
    public static void Store<T, TStorage>(ArrayView<float> source, ArrayView<T> destination)
        where T : unmanaged where TStorage : struct, IStorage<T>
    {
        int gridThreads = Grid.DimX * Group.DimX;
        for (long e = Grid.GlobalIndexX; e < destination.Length; e += gridThreads)
            destination[e] = TStorage.Store(source[e]);
    }
}
