using System.Runtime.CompilerServices;
using FlashAttn.Cpu.Simd;

namespace FlashAttn.Cpu;

/// <summary>
/// FlashAttention's online softmax over one 64 × 64 score block, in log2 units (scores arrive multiplied by
/// scale · log₂e, so exp becomes exp2): m_i = rowMax, l_i = rowSum of Algorithm 1. The per-row statistics are updated
/// as 64-lane vectors across rows rather than row by row in scalars, so the block is a few short independent
/// chains per row (row max, row sum) that out-of-order cores overlap, plus whole-vector work.
/// </summary>
internal static unsafe class OnlineSoftmax
{
    /// <summary>
    /// Turns the score block <paramref name="s"/> (row r's entries [<paramref name="first"/>[r], <paramref name="end"/>[r])
    /// unmasked: a causal or sliding window cuts both ends) into
    /// P = exp2(S − m_new) in place, updates <paramref name="rowMax"/> and <paramref name="rowSum"/>, and writes to
    /// <paramref name="alpha"/> the factors exp2(m_old − m_new) by which each row of the output accumulator must be
    /// rescaled. <paramref name="rowStatistic"/> is 64 floats of scratch.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Update<TOps, TVector>(float* s, int* first, int* end, float* rowMax, float* rowSum, float* alpha, float* rowStatistic)
        where TOps : struct, ISimd<TVector> where TVector : struct
    {
        const int n = CpuAttentionLayout.Block;
        int w = TOps.Count;

        // m̃_i = rowmax(S_i), masked entries −∞
        for (int r = 0; r < n; r++)
        {
            float* row = s + r * n;
            for (int j = 0; j < first[r]; j++) row[j] = float.NegativeInfinity;
            for (int j = Math.Max(end[r], 0); j < n; j++) row[j] = float.NegativeInfinity;
            var maxes = TOps.Load(row);
            for (int j = w; j < n; j += w) maxes = TOps.Max(maxes, TOps.Load(row + j));
            rowStatistic[r] = TOps.MaxAcross(maxes);
        }

        // m_new = max(m_old, m̃), at least −float.MaxValue so that a row that has seen no key yet gets
        // exp2(−∞ − m_new) = 0 rather than NaN;  α = exp2(m_old − m_new)
        var floor = TOps.Broadcast(-float.MaxValue);
        for (int r = 0; r < n; r += w)
        {
            var oldMax = TOps.Load(rowMax + r);
            var newMax = TOps.Max(TOps.Max(oldMax, TOps.Load(rowStatistic + r)), floor);
            TOps.Store(alpha + r, VectorExp2.Exp2<TOps, TVector>(TOps.Subtract(oldMax, newMax)));
            TOps.Store(rowMax + r, newMax);
        }

        // P = exp2(S − m_new);  l̃_i = rowsum(P_i)
        for (int r = 0; r < n; r++)
        {
            float* row = s + r * n;
            var shift = TOps.Broadcast(rowMax[r]);
            var sums = TOps.Broadcast(0f);
            for (int j = 0; j < n; j += w)
            {
                var p = VectorExp2.Exp2<TOps, TVector>(TOps.Subtract(TOps.Load(row + j), shift));
                TOps.Store(row + j, p);
                sums = TOps.Add(sums, p);
            }
            rowStatistic[r] = TOps.SumAcross(sums);
        }

        // l_new = α · l_old + l̃
        for (int r = 0; r < n; r += w)
            TOps.Store(rowSum + r, TOps.MultiplyAdd(TOps.Load(alpha + r), TOps.Load(rowSum + r), TOps.Load(rowStatistic + r)));
    }
}
