using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// Split-KV (flash-decoding) epilogue: split s of a row wrote its normalised partial output O_s and log-sum-exp L_s
/// over its share of the keys (L_s = −∞ when it saw none); the row's result is L = log Σ_s exp(L_s) and
/// O = Σ_s exp(L_s − L) O_s. A row no split saw gets O = 0, L = +∞, as the unsplit kernels give. One warp per (row,
/// 32 head dims), grid-stride: a decode call has few rows (b·h_q), so its work is spread over the columns too, and every
/// load a lane makes is independent of the sums, so that the loads of many splits are in flight at once (ncu, H100,
/// b = 1, 29 splits: the warp-per-row loop, one split after another, took 41 µs beside the decode kernel's 52).
/// </summary>
internal static class SplitCombineKernel
{
    /// <summary>Warps a row's columns take: 32 head dims each.</summary>
    public static int WarpsPerRow(int headDim) => (headDim + Warp.Size - 1) / Warp.Size;

    /// <summary>Splits whose partial outputs one step of a lane loads together.</summary>
    private const int SplitsPerStep = 8;

    /// <summary>
    /// The kernel. partialOutput (splits, b, h_q, s_q, d) and partialLse (splits, b, h_q, s_q) fp32, rows in the order of
    /// <see cref="RowStatisticsLayout"/>; output (b, s_q, h_q, d), lse (b, h_q, s_q).
    /// </summary>
    public static void Combine<T, TStorage>(ArrayView<float> partialOutput, ArrayView<float> partialLse, ArrayView<T> output,
        ArrayView<float> lse, AttentionParams p, int splits)
        where T : unmanaged where TStorage : struct, IStorage<T>
    {
        int gridWarps = Grid.DimX * Group.DimX / Warp.Size, lane = Warp.LaneIdx, warpsPerRow = WarpsPerRow(p.HeadDim);
        var statistics = RowStatisticsLayout.Of(p);
        var layout = TokenLayout.Queries(p);
        long rows = statistics.Elements(p.Batch), jobs = rows * warpsPerRow;
        for (long job = Grid.GlobalIndexX / Warp.Size; job < jobs; job += gridWarps)
        {
            // warp-uniform: row r = (batch · h_q + head) · s_q + i, columns part·32 …
            long r = job / warpsPerRow;
            int part = (int)(job - r * warpsPerRow), x = part * Warp.Size + lane;
            int i = statistics.Locate(r, out int batch, out int head);
            // L = log Σ exp(L_s): a lane per split, then butterflies
            float max = float.NegativeInfinity;
            for (int s = lane; s < splits; s += Warp.Size) max = XMath.Max(max, partialLse[s * rows + r]);
            max = Warp.Max(max);
            float sum = 0f;
            if (max != float.NegativeInfinity)
                for (int s = lane; s < splits; s += Warp.Size) sum += XMath.Exp(partialLse[s * rows + r] - max);
            sum = Warp.Sum(sum);
            float total = sum > 0f ? max + XMath.Log(sum) : float.PositiveInfinity;
            if (x < p.HeadDim)
            {
                float value = 0f;
                if (sum > 0f)
                    for (int s = 0; s < splits; s += SplitsPerStep)
                    {
                        // the step's splits in a fixed order; past the last split the index is clamped and the term is 0, and a
                        // split that saw no keys (weight 0) adds nothing, whatever its partial output holds
                        float step = 0f;
                        for (int u = 0; u < SplitsPerStep; u++)
                        {
                            int t = s + u, c = XMath.Min(t, splits - 1);
                            float weight = XMath.Exp(partialLse[c * rows + r] - total);
                            float o = partialOutput[(c * rows + r) * p.HeadDim + x];
                            step += (t < splits) & (weight > 0f) ? weight * o : 0f;
                        }
                        value += step;
                    }
                output[layout.RowStart(batch, i, head) + x] = TStorage.Store(value);
            }
            if (part == 0 && lane == 0) lse[r] = total;
        }
    }
}
