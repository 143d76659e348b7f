using System.Runtime.CompilerServices;
using FlashAttn.Cpu.Simd;

namespace FlashAttn.Cpu;

/// <summary>
/// One row of FlashAttention's online softmax over one key block, in log2 units (scores arrive multiplied by
/// scale · log₂e, so exp becomes exp2): m_i = rowMax, l_i = rowSum of Algorithm 1.
/// </summary>
internal static unsafe class OnlineSoftmax
{
    /// <summary>
    /// Turns the score row <paramref name="s"/> (<see cref="CpuAttentionLayout.Block"/> entries, the first
    /// <paramref name="visible"/> of them unmasked) into P = exp2(s − m_new) in place, updates
    /// <paramref name="rowMax"/> and <paramref name="rowSum"/>, and returns the factor exp2(m_old − m_new) by which the
    /// row's output accumulator must be rescaled.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Update<TOps, TVector>(float* s, int visible, ref float rowMax, ref float rowSum)
        where TOps : struct, ISimd<TVector> where TVector : struct
    {
        const int n = CpuAttentionLayout.Block;
        int w = TOps.Count;
        for (int j = Math.Max(visible, 0); j < n; j++) s[j] = float.NegativeInfinity;

        // m_new = max(m_old, rowmax(S))
        var maxes = TOps.Load(s);
        for (int j = w; j < n; j += w) maxes = TOps.Max(maxes, TOps.Load(s + j));
        float newMax = MathF.Max(rowMax, TOps.MaxAcross(maxes));
        if (float.IsNegativeInfinity(newMax))
        {
            // nothing visible yet: P = 0, and the accumulator (still 0) needs no rescaling
            new Span<float>(s, n).Clear();
            return 1f;
        }

        // P = exp2(S − m_new);  l_new = l_old · exp2(m_old − m_new) + rowsum(P)
        var shift = TOps.Broadcast(newMax);
        var sums = TOps.Broadcast(0f);
        for (int j = 0; j < n; j += w)
        {
            var p = VectorExp2.Exp2<TOps, TVector>(TOps.Subtract(TOps.Load(s + j), shift));
            TOps.Store(s + j, p);
            sums = TOps.Add(sums, p);
        }
        float alpha = float.Exp2(rowMax - newMax);
        rowSum = rowSum * alpha + TOps.SumAcross(sums);
        rowMax = newMax;
        return alpha;
    }
}
