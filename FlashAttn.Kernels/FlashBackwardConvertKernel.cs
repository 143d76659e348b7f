using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// Backward epilogue: fp32 accumulators → storage dtype. dQ is converted element-wise; dK and dV of kv head
/// h are the sum of the per-query-head buffers of query heads h·G … h·G + G − 1 (G = h_q / h_kv), added in
/// that fixed order so the result does not depend on scheduling. One thread per element, grid-stride.
/// </summary>
internal static class FlashBackwardConvertKernel
{
    /// <summary>The kernel: dqAccum (b, s_q, h_q, d) → dq; dkAccum, dvAccum (b, s_k, h_q, d) → dk, dv (b, s_k, h_kv, d).</summary>
    public static void Convert<T, TStorage>(ArrayView<float> dqAccum, ArrayView<float> dkAccum, ArrayView<float> dvAccum,
        ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv, AttentionParams p)
        where T : unmanaged where TStorage : struct, IStorage<T>
    {
        int gridThreads = Grid.DimX * Group.DimX;
        long dqCount = TokenLayout.Queries(p).Elements(p.Batch);
        for (long e = Grid.GlobalIndexX; e < dqCount; e += gridThreads)
            dq[e] = TStorage.Store(dqAccum[e]);

        int group = p.QueriesPerKvHead;
        var perQueryHead = TokenLayout.KeyGradientsPerQueryHead(p);
        long dkCount = TokenLayout.KeysValues(p).Elements(p.Batch);
        for (long e = Grid.GlobalIndexX; e < dkCount; e += gridThreads)
        {
            // e = ((batch · s_k + key) · h_kv + kvHead) · d + x
            long x = e % p.HeadDim, rest = e / p.HeadDim;
            long kvHead = rest % p.HeadsKV, batchKey = rest / p.HeadsKV;
            // (batch, key) flattened: both tensors are contiguous, so batchKey steps whole positions
            long first = batchKey * perQueryHead.PositionStride + kvHead * group * perQueryHead.HeadStride + x;
            float sumK = 0f, sumV = 0f;
            for (int g = 0; g < group; g++)
            {
                sumK += dkAccum[first + g * perQueryHead.HeadStride];
                sumV += dvAccum[first + g * perQueryHead.HeadStride];
            }
            dk[e] = TStorage.Store(sumK);
            dv[e] = TStorage.Store(sumV);
        }
    }
}
