using System.Runtime.CompilerServices;
using FlashAttn.Cpu.Simd;

namespace FlashAttn.Cpu;

/// <summary>
/// FlashAttention's online softmax over one 64 × 64 score block held transposed, Sᵀ (keys × queries: the forward
/// computes it as K_j·Q_iᵀ, as the backward does), in log2 units (scores arrive multiplied by scale · log₂e, so exp
/// becomes exp2): m_i = rowMax, l_i = rowSum of Algorithm 1. Each query is a vector lane, so its row max and row sum are
/// vertical maxima and sums over the block's key rows and the statistics update as whole vectors: no reduction across
/// lanes anywhere.
/// </summary>
internal static unsafe class OnlineSoftmax
{
    /// <summary>
    /// Turns the transposed score block <paramref name="scoresT"/> (query i's keys [<paramref name="first"/>[i],
    /// <paramref name="end"/>[i]) unmasked: a causal or sliding window cuts both ends) into Pᵀ = exp2(Sᵀ − m_new) in place,
    /// updates <paramref name="rowMax"/> and <paramref name="rowSum"/>, and writes to <paramref name="alpha"/> the factors
    /// exp2(m_old − m_new) by which each row of the output accumulator must be rescaled.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Update<TOps, TVector>(float* scoresT, int* first, int* end, float* rowMax, float* rowSum, float* alpha)
        where TOps : struct, ISimd<TVector> where TVector : struct
    {
        const int n = CpuAttentionLayout.Block;
        int w = TOps.Count;

        // masked entries −∞: in query i's column, the keys before first[i] and from end[i] on
        for (int i = 0; i < n; i++)
        {
            for (int x = 0; x < first[i]; x++) scoresT[x * n + i] = float.NegativeInfinity;
            for (int x = Math.Max(end[i], 0); x < n; x++) scoresT[x * n + i] = float.NegativeInfinity;
        }

        // m_new = max(m_old, m̃), at least −float.MaxValue so that a query that has seen no key yet gets
        // exp2(−∞ − m_new) = 0 rather than NaN;  α = exp2(m_old − m_new);  Pᵀ = exp2(Sᵀ − m_new);  l_new = α · l_old + l̃
        var floor = TOps.Broadcast(-float.MaxValue);
        for (int c = 0; c < n; c += w)
        {
            float* column = scoresT + c;
            // m̃ = the column's max over the key rows, in four chains
            var max0 = TOps.Load(column);
            var max1 = TOps.Load(column + n);
            var max2 = TOps.Load(column + 2 * n);
            var max3 = TOps.Load(column + 3 * n);
            for (int x = 4; x < n; x += 4)
            {
                max0 = TOps.Max(max0, TOps.Load(column + x * n));
                max1 = TOps.Max(max1, TOps.Load(column + (x + 1) * n));
                max2 = TOps.Max(max2, TOps.Load(column + (x + 2) * n));
                max3 = TOps.Max(max3, TOps.Load(column + (x + 3) * n));
            }
            var oldMax = TOps.Load(rowMax + c);
            var newMax = TOps.Max(TOps.Max(oldMax, TOps.Max(TOps.Max(max0, max1), TOps.Max(max2, max3))), floor);
            var rescale = VectorExp2.Exp2<TOps, TVector>(TOps.Subtract(oldMax, newMax));
            TOps.Store(alpha + c, rescale);
            TOps.Store(rowMax + c, newMax);
            // l̃ = the column's sum of P, in two chains
            var sum0 = TOps.Broadcast(0f);
            var sum1 = TOps.Broadcast(0f);
            for (int x = 0; x < n; x += 2)
            {
                var p0 = VectorExp2.Exp2<TOps, TVector>(TOps.Subtract(TOps.Load(column + x * n), newMax));
                var p1 = VectorExp2.Exp2<TOps, TVector>(TOps.Subtract(TOps.Load(column + (x + 1) * n), newMax));
                TOps.Store(column + x * n, p0);
                TOps.Store(column + (x + 1) * n, p1);
                sum0 = TOps.Add(sum0, p0);
                sum1 = TOps.Add(sum1, p1);
            }
            TOps.Store(rowSum + c, TOps.MultiplyAdd(rescale, TOps.Load(rowSum + c), TOps.Add(sum0, sum1)));
        }
    }
}
