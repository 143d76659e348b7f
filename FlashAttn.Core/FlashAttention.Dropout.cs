namespace FlashAttn;

public static partial class FlashAttention
{
    /// <summary>
    /// The dropout mask the kernels apply for <paramref name="dropout"/> to a call of these sizes, computed on the host
    /// with <see cref="Dropout.Keep"/> (the same Philox function the kernels run): true where P_ij is kept. For tests and
    /// debugging; varlen and KV-cache sequences use their index as the batch and positions within the sequence.
    /// </summary>
    /// <param name="dropout">The call's <see cref="AttentionOptions.Dropout"/>.</param>
    /// <param name="batch">Batch size (or number of sequences).</param>
    /// <param name="headsQ">Query heads.</param>
    /// <param name="seqLenQ">Queries per sequence.</param>
    /// <param name="seqLenK">Keys per sequence.</param>
    /// <returns>(batch, heads_q, s_q, s_k) row-major; all true when the probability is 0.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, the mask would exceed <see cref="Array.MaxLength"/>
    /// elements, or the probability is neither 0 nor in [1/512, 1).</exception>
    public static bool[] DropoutMask(Dropout dropout, int batch, int headsQ, int seqLenQ, int seqLenK)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        ArgumentOutOfRangeException.ThrowIfNegative(headsQ);
        ArgumentOutOfRangeException.ThrowIfNegative(seqLenQ);
        ArgumentOutOfRangeException.ThrowIfNegative(seqLenK);
        if (!dropout.IsValid)
            throw new ArgumentOutOfRangeException(nameof(dropout), dropout.Probability, Dropout.ProbabilityRule("dropout.Probability", dropout.Probability));
        long length = (long)batch * headsQ * seqLenQ * seqLenK;
        if (length > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(seqLenK), $"the mask would hold {length} elements, more than an array can ({Array.MaxLength}).");
        var mask = new bool[length];
        if (!dropout.Enabled)
        {
            Array.Fill(mask, true);
            return mask;
        }
        // one Philox call per group of 16 entries (query bit 3 × key bits 0, 3 and 4), as the kernels draw them
        uint threshold = dropout.Threshold8;
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < headsQ; h++)
            {
                long first = ((long)b * headsQ + h) * seqLenQ * seqLenK;
                for (int i0 = 0; i0 < seqLenQ; i0 = (i0 & 7) == 7 ? i0 + 9 : i0 + 1)
                    for (int j0 = 0; j0 < seqLenK; j0 = NextGroupKey(j0))
                    {
                        var group = dropout.GroupOf(headsQ, b, h, i0, j0);
                        for (int entry = 0; entry < 16; entry++)
                        {
                            var (di, dj) = Dropout.EntryOffsets(entry);
                            int i = i0 + di, j = j0 + dj;
                            if (i < seqLenQ && j < seqLenK) mask[first + (long)i * seqLenK + j] = Dropout.Kept(group, entry, threshold);
                        }
                    }
            }
        return mask;
    }

    /// <summary>The next key after <paramref name="key"/> with bits 0, 3 and 4 clear: the first key of the next dropout group in a
    /// row.</summary>
    private static int NextGroupKey(int key)
    {
        int next = key + 2;
        return (next & 8) != 0 ? next + 24 : next;
    }
}
