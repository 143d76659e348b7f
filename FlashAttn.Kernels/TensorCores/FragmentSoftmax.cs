using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// The online softmax (FA2 Algorithm 1, lines 9–10) on accumulator fragments: a lane holds rows g and g + 8 of each m16
/// row tile, two columns per n8 tile; a row's four lanes (a quad) reduce by two shuffles. S (masked to −∞; times
/// scoreScale it is in the log2 domain) becomes P = exp2(S·scoreScale − m_new) in place, one FMA per score; ℓ (each lane's
/// share) and O are rescaled by exp2(m − m_new). m is in the log2 domain.
/// </summary>
internal static class FragmentSoftmax
{
    /// <summary>
    /// One key block: <paramref name="s"/> holds <paramref name="rowTiles"/> × <paramref name="keyTiles"/> accumulator
    /// tiles, <paramref name="o"/> <paramref name="rowTiles"/> × <paramref name="dTiles"/>; rowMax and rowSum two rows per
    /// row tile. <paramref name="scoreScale"/> &gt; 0 takes S into the log2 domain: the softmax scale · log2 e for raw
    /// scores (the max is taken on them and scaled once per row), 1 for scores a modifier already scaled. Every lane of the
    /// warp calls (shuffles).
    /// </summary>
    public static void Update(ArrayView<float> s, ArrayView<float> o, ArrayView<float> rowMax, ArrayView<float> rowSum,
        int rowTiles, int keyTiles, int dTiles, float scoreScale)
    {
        for (int m = 0; m < rowTiles; m++)
            for (int r = 0; r < 2; r++)
            {
                float correction = UpdateRow(s, rowMax, rowSum, 4 * m * keyTiles + 2 * r, 2 * m + r, keyTiles, scoreScale);
                RescaleRow(o, 4 * m * dTiles + 2 * r, dTiles, correction);
            }
    }

    /// <summary>
    /// <see cref="Update"/> without O: P, m and ℓ as there, and each row's factor exp2(m − m_new) into
    /// <paramref name="corrections"/> (two per row tile) for <see cref="Rescale"/>, for a kernel whose O is still being
    /// written by the previous block's P·V (the Hopper forward's overlap).
    /// </summary>
    public static void UpdateScores(ArrayView<float> s, ArrayView<float> rowMax, ArrayView<float> rowSum, ArrayView<float> corrections,
        int rowTiles, int keyTiles, float scoreScale)
    {
        for (int m = 0; m < rowTiles; m++)
            for (int r = 0; r < 2; r++)
                corrections[2 * m + r] = UpdateRow(s, rowMax, rowSum, 4 * m * keyTiles + 2 * r, 2 * m + r, keyTiles, scoreScale);
    }

    /// <summary>O's rows times <see cref="UpdateScores"/>'s factors.</summary>
    public static void Rescale(ArrayView<float> o, ArrayView<float> corrections, int rowTiles, int dTiles)
    {
        for (int m = 0; m < rowTiles; m++)
            for (int r = 0; r < 2; r++)
                RescaleRow(o, 4 * m * dTiles + 2 * r, dTiles, corrections[2 * m + r]);
    }

    /// <summary>One row: P in place from its scores (the lane's pairs at sFirst + 4j), m and ℓ updated; returns exp2(m − m_new).</summary>
    private static float UpdateRow(ArrayView<float> s, ArrayView<float> rowMax, ArrayView<float> rowSum, int sFirst, int row, int keyTiles, float scoreScale)
    {
        // seeded with the first tile's pair, not −∞, and ℓ's block share with the first P, not 0: no max with −∞ or
        // add to 0 per row (identical results: max/+ with the identity)
        float blockMax = XMath.Max(s[sFirst], s[sFirst + 1]);
        for (int j = 1; j < keyTiles; j++)
            blockMax = XMath.Max(blockMax, XMath.Max(s[sFirst + 4 * j], s[sFirst + 4 * j + 1]));
        float newMax = XMath.Max(rowMax[row], RowReduce.Max(blockMax, 4) * scoreScale); // scale > 0: the max commutes with it
        // a row that has seen no key keeps m = −∞; subtract 0 instead so −∞ − (−∞) never appears
        float reference = newMax == float.NegativeInfinity ? 0f : newMax;
        float correction = XMath.FastExp2(rowMax[row] - reference);
        float blockSum = 0f;
        for (int j = 0; j < keyTiles; j++)
            for (int e = 0; e < 2; e++)
            {
                float pij = ModifiedScores.Probability(s[sFirst + 4 * j + e], scoreScale, reference);
                s[sFirst + 4 * j + e] = pij;
                blockSum = j == 0 && e == 0 ? pij : blockSum + pij;
            }
        rowSum[row] = rowSum[row] * correction + blockSum;
        rowMax[row] = newMax;
        return correction;
    }

    private static void RescaleRow(ArrayView<float> o, int oFirst, int dTiles, float correction)
    {
        for (int j = 0; j < dTiles; j++)
        {
            o[oFirst + 4 * j] *= correction;
            o[oFirst + 4 * j + 1] *= correction;
        }
    }
}
