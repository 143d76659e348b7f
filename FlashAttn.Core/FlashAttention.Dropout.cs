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
    /// elements, or the probability is outside [0, 1).</exception>
    public static bool[] DropoutMask(Dropout dropout, int batch, int headsQ, int seqLenQ, int seqLenK)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        ArgumentOutOfRangeException.ThrowIfNegative(headsQ);
        ArgumentOutOfRangeException.ThrowIfNegative(seqLenQ);
        ArgumentOutOfRangeException.ThrowIfNegative(seqLenK);
        if (!(dropout.Probability >= 0 && dropout.Probability < 1))
            throw new ArgumentOutOfRangeException(nameof(dropout), dropout.Probability, $"dropout.Probability must be in [0, 1); actual {dropout.Probability}.");
        long length = (long)batch * headsQ * seqLenQ * seqLenK;
        if (length > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(seqLenK), $"the mask would hold {length} elements, more than an array can ({Array.MaxLength}).");
        var mask = new bool[length];
        int index = 0;
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < headsQ; h++)
                for (int i = 0; i < seqLenQ; i++)
                    for (int j = 0; j < seqLenK; j++)
                        mask[index++] = !dropout.Enabled || dropout.Keep(headsQ, b, h, i, j);
        return mask;
    }
}
