using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>The online-softmax step of the forward kernels (FA2 Algorithm 1, lines 9–10), one query row, one K/V block.</summary>
internal static class OnlineSoftmax
{
    /// <summary>
    /// m_new = max(m, rowmax S) over the row's <paramref name="threadsPerRow"/> threads; P = exp2(S − m_new) for this
    /// thread's <paramref name="keys"/> scores (log2 domain, masked to −∞), written to pTile[pFirst + j·keyStride];
    /// ℓ = ℓ·exp2(m − m_new) + rowsum P; m = m_new. Returns the correction exp2(m − m_new) for the caller's O row.
    /// </summary>
    /// <remarks>
    /// ℓ stays this thread's share of the row sum (its own keys only): the correction is the same in every thread of
    /// the row, so the shares add up at the end (<see cref="RowSum"/>), and each block saves a butterfly.
    /// </remarks>
    public static float Update(ArrayView<float> scores, int first, int keys, ArrayView<float> pTile, int pFirst, int keyStride,
        ArrayView<float> rowMax, ArrayView<float> rowSum, int row, int threadsPerRow)
    {
        float blockMax = float.NegativeInfinity;
        for (int j = 0; j < keys; j++) blockMax = XMath.Max(blockMax, scores[first + j]);
        float newMax = XMath.Max(rowMax[row], RowReduce.Max(blockMax, threadsPerRow));
        // a row with nothing visible yet keeps m = −∞; subtract 0 instead so −∞ − (−∞) never appears
        float reference = newMax == float.NegativeInfinity ? 0f : newMax;
        float correction = XMath.FastExp2(rowMax[row] - reference);
        float blockSum = 0f;
        for (int j = 0; j < keys; j++)
        {
            float pij = XMath.FastExp2(scores[first + j] - reference);
            blockSum += pij;
            pTile[pFirst + j * keyStride] = pij;
        }
        rowSum[row] = rowSum[row] * correction + blockSum;
        rowMax[row] = newMax;
        return correction;
    }

    /// <summary>ℓ of the row: the sum of the shares <see cref="Update"/> left in its threads (every thread of the warp calls).</summary>
    public static float RowSum(float share, int threadsPerRow) => RowReduce.Sum(share, threadsPerRow);
}
