using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// Backward epilogue: fp32 accumulators → storage dtype. dQ is converted element-wise; dK and dV of kv head
/// h are the sum of the per-query-head buffers of query heads h·G … h·G + G − 1 (G = h_q / h_kv), added in
/// that fixed order so the result does not depend on scheduling. One thread per element, grid-stride.
/// </summary>
internal static class FlashBackwardConvertKernel
{
    /// <summary>
    /// The kernel: dqAccum → dq, both in <see cref="TokenLayout.Queries"/>; dkAccum, dvAccum
    /// (<see cref="TokenLayout.KeyGradientsPerQueryHead"/>) → dk, dv (<see cref="TokenLayout.KeysValues"/>).
    /// </summary>
    public static void Convert<T, TStorage>(ArrayView<float> dqAccum, ArrayView<float> dkAccum, ArrayView<float> dvAccum,
        ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv, AttentionParams p)
        where T : unmanaged where TStorage : struct, IStorage<T>
    {
        int gridThreads = Grid.DimX * Group.DimX;
        // the dQ accumulator is contiguous in dq's own order: element e of one is element e of the other
        long dqCount = TokenLayout.Queries(p).Elements(p.Batch);
        for (long e = Grid.GlobalIndexX; e < dqCount; e += gridThreads)
            dq[e] = TStorage.Store(dqAccum[e]);

        int group = p.QueriesPerKvHead;
        var perQueryHead = TokenLayout.KeyGradientsPerQueryHead(p);
        var keys = TokenLayout.KeysValues(p);
        long dkCount = keys.Elements(p.Batch);
        for (long e = Grid.GlobalIndexX; e < dkCount; e += gridThreads)
        {
            // each thread finds its element through the layouts; consecutive threads still take consecutive columns of a row
            int x = TokenLayout.Locate(e, p.SeqLenK, p.HeadsKV, p.HeadDim, out int batch, out int key, out int kvHead);
            long first = perQueryHead.RowStart(batch, key, kvHead * group) + x;
            float sumK = 0f, sumV = 0f;
            for (int g = 0; g < group; g++)
            {
                sumK += dkAccum[first + g * perQueryHead.HeadStride];
                sumV += dvAccum[first + g * perQueryHead.HeadStride];
            }
            long target = keys.RowStart(batch, key, kvHead) + x;
            dk[target] = TStorage.Store(sumK);
            dv[target] = TStorage.Store(sumV);
        }
    }
}
