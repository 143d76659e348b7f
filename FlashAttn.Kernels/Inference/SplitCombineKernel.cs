using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// Split-KV (flash-decoding) epilogue: split s of a row wrote its normalised partial output O_s and log-sum-exp L_s
/// over its share of the keys (L_s = −∞ when it saw none); the row's result is L = log Σ_s exp(L_s) and
/// O = Σ_s exp(L_s − L) O_s. A row no split saw gets O = 0, L = +∞, as the unsplit kernels give. One warp per row
/// (its lanes take the head dims), grid-stride.
/// </summary>
internal static class SplitCombineKernel
{
    /// <summary>
    /// The kernel. partialOutput (splits, b, h_q, s_q, d) and partialLse (splits, b, h_q, s_q) fp32, rows in the order of
    /// <see cref="RowStatisticsLayout"/>; output (b, s_q, h_q, d), lse (b, h_q, s_q).
    /// </summary>
    public static void Combine<T, TStorage>(ArrayView<float> partialOutput, ArrayView<float> partialLse, ArrayView<T> output,
        ArrayView<float> lse, AttentionParams p, int splits)
        where T : unmanaged where TStorage : struct, IStorage<T>
    {
        int gridWarps = Grid.DimX * Group.DimX / Warp.Size, lane = Warp.LaneIdx;
        var statistics = RowStatisticsLayout.Of(p);
        var layout = TokenLayout.Queries(p);
        long rows = statistics.Elements(p.Batch);
        for (long r = Grid.GlobalIndexX / Warp.Size; r < rows; r += gridWarps)
        {
            // r = (batch · h_q + head) · s_q + i, warp-uniform
            int i = (int)(r % p.SeqLenQ);
            long bh = r / p.SeqLenQ;
            int head = (int)(bh % p.HeadsQ), batch = (int)(bh / p.HeadsQ);
            float max = float.NegativeInfinity;
            for (int s = 0; s < splits; s++) max = XMath.Max(max, partialLse[s * rows + r]);
            float sum = 0f;
            if (max != float.NegativeInfinity)
                for (int s = 0; s < splits; s++) sum += XMath.Exp(partialLse[s * rows + r] - max);
            float total = sum > 0f ? max + XMath.Log(sum) : float.PositiveInfinity;
            long first = layout.RowStart(batch, i, head);
            for (int x = lane; x < p.HeadDim; x += Warp.Size)
            {
                float value = 0f;
                if (sum > 0f)
                    for (int s = 0; s < splits; s++)
                    {
                        float weight = XMath.Exp(partialLse[s * rows + r] - total);
                        if (weight > 0f) value += weight * partialOutput[(s * rows + r) * p.HeadDim + x];
                    }
                output[first + x] = TStorage.Store(value);
            }
            if (lane == 0) lse[r] = total;
        }
    }
}
