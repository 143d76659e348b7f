using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// The online softmax (FA2 Algorithm 1, lines 9–10) on accumulator fragments: a lane holds rows g and g + 8 of each m16
/// row tile, two columns per n8 tile; a row's four lanes (a quad) reduce by two shuffles. S (masked to −∞; times
/// scoreScale it is in the log2 domain) becomes P = exp2(S·scoreScale − m_new) in place, one FMA per score; ℓ (each lane's
/// share) and O are rescaled by exp2(m − m_new), O only when a row's max grew. m is in the log2 domain.
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
        var corrections = LocalMemory.Allocate<float>(2 * rowTiles);
        int maxGrew = 0;
        for (int m = 0; m < rowTiles; m++)
            for (int r = 0; r < 2; r++)
            {
                int row = 2 * m + r, sFirst = 4 * m * keyTiles + 2 * r;
                float blockMax = float.NegativeInfinity;
                for (int j = 0; j < keyTiles; j++)
                    blockMax = XMath.Max(blockMax, XMath.Max(s[sFirst + 4 * j], s[sFirst + 4 * j + 1]));
                float newMax = XMath.Max(rowMax[row], RowReduce.Max(blockMax, 4) * scoreScale); // scale > 0: the max commutes with it
                // a row that has seen no key keeps m = −∞; subtract 0 instead so −∞ − (−∞) never appears
                float reference = newMax == float.NegativeInfinity ? 0f : newMax;
                float correction = XMath.FastExp2(rowMax[row] - reference);
                float blockSum = 0f;
                for (int j = 0; j < keyTiles; j++)
                    for (int e = 0; e < 2; e++)
                    {
                        float pij = XMath.FastExp2(XMath.Fma(s[sFirst + 4 * j + e], scoreScale, -reference));
                        s[sFirst + 4 * j + e] = pij;
                        blockSum += pij;
                    }
                rowSum[row] = rowSum[row] * correction + blockSum;
                maxGrew |= newMax > rowMax[row] ? 1 : 0;
                rowMax[row] = newMax;
                corrections[row] = correction;
            }
        // O is rescaled only when some row of the warp has a new max (else every correction is 2^0 = 1): once the maxima
        // settle, most blocks of a long row skip it. The quad's lanes agree already (their max is reduced); the warp's 8
        // quads agree by three shuffles, so the branch is uniform.
        for (int mask = 4; mask < 32; mask *= 2)
            maxGrew |= Warp.ShuffleXor(maxGrew, mask);
        if (maxGrew != 0)
            for (int m = 0; m < rowTiles; m++)
                for (int r = 0; r < 2; r++)
                    for (int j = 0; j < dTiles; j++)
                    {
                        o[4 * (m * dTiles + j) + 2 * r] *= corrections[2 * m + r];
                        o[4 * (m * dTiles + j) + 2 * r + 1] *= corrections[2 * m + r];
                    }
    }
}
