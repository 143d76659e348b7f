using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// Backward step 0 (FA2 Algorithm 2, line 4): D_i = rowsum(dO_i ∘ O_i) in fp32, shape (b, h_q, s_q), and
/// zeroing of the fp32 dQ accumulator (b, s_q, h_q, d) that the dK/dV kernel adds into.
/// One thread per (batch, head, row); grid-stride loops, any 1-D launch size.
/// </summary>
internal static class FlashBackwardPreprocessKernel
{
    /// <summary>The kernel: fills <paramref name="delta"/> and zeroes <paramref name="dqAccum"/>.</summary>
    public static void Preprocess<T, TStorage>(ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> delta,
        ArrayView<float> dqAccum, AttentionParams p)
        where T : unmanaged where TStorage : struct, IStorage<T>
    {
        int gridThreads = Grid.DimX * Group.DimX;
        long rows = (long)p.Batch * p.HeadsQ * p.SeqLenQ;
        for (long r = Grid.GlobalIndexX; r < rows; r += gridThreads)
        {
            // r = (batch · h_q + head) · s_q + i
            long i = r % p.SeqLenQ, bh = r / p.SeqLenQ;
            long head = bh % p.HeadsQ, batch = bh / p.HeadsQ;
            long first = ((batch * p.SeqLenQ + i) * p.HeadsQ + head) * p.HeadDim;
            float sum = 0f;
            for (int x = 0; x < p.HeadDim; x++)
                sum += TStorage.Load(dOutput[first + x]) * TStorage.Load(output[first + x]);
            delta[r] = sum;
        }
        long accumulators = (long)p.Batch * p.SeqLenQ * p.HeadsQ * p.HeadDim;
        for (long e = Grid.GlobalIndexX; e < accumulators; e += gridThreads)
            dqAccum[e] = 0f;
    }
}
