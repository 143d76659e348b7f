using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// Backward epilogue: fp32 accumulators → storage dtype. dQ is converted element-wise; with GQA, dK and dV of kv head
/// h are the sum of the per-query-head buffers of query heads h·G … h·G + G − 1 (G = h_q / h_kv), added in
/// that fixed order so the result does not depend on scheduling (without GQA the backward kernels write dk and dv
/// themselves). Each thread takes <see cref="ElementsPerThread"/> consecutive elements per step (one 16-byte load of
/// each accumulator), grid-stride.
/// </summary>
internal static class FlashBackwardConvertKernel
{
    /// <summary>Consecutive elements a thread converts per step.</summary>
    public const int ElementsPerThread = 4;

    /// <summary>
    /// The kernel: dqAccum → dq, both in <see cref="TokenLayout.Queries"/>; with <paramref name="sumKeyGradients"/>,
    /// dkAccum, dvAccum (<see cref="TokenLayout.KeyGradientsPerQueryHead"/>) → dk, dv (<see cref="TokenLayout.KeysValues"/>).
    /// The accumulators are 16-byte aligned (rented).
    /// </summary>
    public static void Convert<T, TStorage>(ArrayView<float> dqAccum, ArrayView<float> dkAccum, ArrayView<float> dvAccum,
        ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv, AttentionParams p, SpecializedValue<bool> sumKeyGradients)
        where T : unmanaged where TStorage : struct, IStorage<T>
    {
        int gridThreads = Grid.DimX * Group.DimX;
        // the dQ accumulator is contiguous in dq's own order: element e of one is element e of the other
        long dqCount = TokenLayout.Queries(p).Elements(p.Batch), dqWhole = dqCount / ElementsPerThread;
        var dqChunks = dqAccum.Cast<Float4>();
        for (long c = Grid.GlobalIndexX; c < dqWhole; c += gridThreads)
        {
            var x = dqChunks[c];
            long e = ElementsPerThread * c;
            dq[e] = TStorage.Store(x.X);
            dq[e + 1] = TStorage.Store(x.Y);
            dq[e + 2] = TStorage.Store(x.Z);
            dq[e + 3] = TStorage.Store(x.W);
        }
        for (long e = ElementsPerThread * dqWhole + Grid.GlobalIndexX; e < dqCount; e += gridThreads)
            dq[e] = TStorage.Store(dqAccum[e]);
        if (!sumKeyGradients.Value) return;

        int group = p.QueriesPerKvHead;
        var perQueryHead = TokenLayout.KeyGradientsPerQueryHead(p);
        var keys = TokenLayout.KeysValues(p);
        long dkCount = keys.Elements(p.Batch);
        // four columns of one row per step when rows are whole chunks (d % 4 == 0: the chunks stay 16-byte aligned), else one
        int step = p.HeadDim % ElementsPerThread == 0 ? ElementsPerThread : 1;
        var dkChunks = dkAccum.Cast<Float4>();
        var dvChunks = dvAccum.Cast<Float4>();
        for (long e = (long)step * Grid.GlobalIndexX; e < dkCount; e += (long)step * gridThreads)
        {
            // each thread finds its element through the layouts; consecutive threads still take consecutive columns of a row
            int x = TokenLayout.Locate(e, p.SeqLenK, p.HeadsKV, p.HeadDim, out int batch, out int key, out int kvHead);
            long first = perQueryHead.RowStart(batch, key, kvHead * group) + x;
            long target = keys.RowStart(batch, key, kvHead) + x;
            if (step == ElementsPerThread)
            {
                var sumK = new Float4(0f, 0f, 0f, 0f);
                var sumV = new Float4(0f, 0f, 0f, 0f);
                for (int g = 0; g < group; g++)
                {
                    var k = dkChunks[(first + g * perQueryHead.HeadStride) / ElementsPerThread];
                    var v = dvChunks[(first + g * perQueryHead.HeadStride) / ElementsPerThread];
                    sumK = new Float4(sumK.X + k.X, sumK.Y + k.Y, sumK.Z + k.Z, sumK.W + k.W);
                    sumV = new Float4(sumV.X + v.X, sumV.Y + v.Y, sumV.Z + v.Z, sumV.W + v.W);
                }
                dk[target] = TStorage.Store(sumK.X);
                dk[target + 1] = TStorage.Store(sumK.Y);
                dk[target + 2] = TStorage.Store(sumK.Z);
                dk[target + 3] = TStorage.Store(sumK.W);
                dv[target] = TStorage.Store(sumV.X);
                dv[target + 1] = TStorage.Store(sumV.Y);
                dv[target + 2] = TStorage.Store(sumV.Z);
                dv[target + 3] = TStorage.Store(sumV.W);
            }
            else
            {
                float sumK = 0f, sumV = 0f;
                for (int g = 0; g < group; g++)
                {
                    sumK += dkAccum[first + g * perQueryHead.HeadStride];
                    sumV += dvAccum[first + g * perQueryHead.HeadStride];
                }
                dk[target] = TStorage.Store(sumK);
                dv[target] = TStorage.Store(sumV);
            }
        }
    }
}
