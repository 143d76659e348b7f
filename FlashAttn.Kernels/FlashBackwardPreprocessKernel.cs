using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// Backward step 0 (FA2 Algorithm 2, line 4): D_i = rowsum(dO_i ∘ O_i) in fp32, shape (b, h_q, s_q), and
/// zeroing of the fp32 dQ accumulator (<see cref="TokenLayout.Queries"/>) that the dK/dV kernel adds into.
/// One warp per (batch, head, row): its lanes read the row 32 elements apart, so each load is one coalesced
/// stretch (one thread per row read rows h_q·d apart), and a butterfly sums the lanes. Grid-stride loops,
/// any 1-D launch whose groups are whole warps.
/// </summary>
internal static class FlashBackwardPreprocessKernel
{
    /// <summary>The kernel: fills <paramref name="delta"/> and zeroes <paramref name="dqAccum"/>.</summary>
    public static void Preprocess<T, TStorage>(ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> delta,
        ArrayView<float> dqAccum, AttentionParams p)
        where T : unmanaged where TStorage : struct, IStorage<T>
    {
        int gridThreads = Grid.DimX * Group.DimX;
        int lane = Warp.LaneIdx, gridWarps = gridThreads / Warp.Size;
        var layout = TokenLayout.Queries(p);
        var statistics = RowStatisticsLayout.Of(p);
        long rows = statistics.Elements(p.Batch);
        for (long r = Grid.GlobalIndexX / Warp.Size; r < rows; r += gridWarps)
        {
            // r = (batch · h_q + head) · s_q + i; the loop is warp-uniform, as the butterfly needs
            int i = statistics.Locate(r, out int batch, out int head);
            long first = layout.RowStart(batch, i, head);
            float sum = 0f;
            for (int x = lane; x < p.HeadDim; x += Warp.Size)
                sum += TStorage.Load(dOutput[first + x]) * TStorage.Load(output[first + x]);
            sum = Warp.Sum(sum);
            if (lane == 0) delta[r] = sum;
        }
        // the accumulator is 16-byte aligned (rented, or an fp32 dq the launcher checked): four floats per store
        long accumulators = layout.Elements(p.Batch), whole = accumulators / 4;
        var chunks = dqAccum.Cast<Float4>();
        for (long c = Grid.GlobalIndexX; c < whole; c += gridThreads)
            chunks[c] = new Float4(0f, 0f, 0f, 0f);
        for (long e = 4 * whole + Grid.GlobalIndexX; e < accumulators; e += gridThreads)
            dqAccum[e] = 0f;
    }
}
