namespace FlashAttn.Distributed;

/// <summary>
/// Host-side sharding of a global sequence for context parallelism: the rows of a global q/k/v-like array at a rank's
/// positions (<see cref="ContextParallel.LocalPositions"/>), in that order, and back. The log-sum-exp (b, h, s) is
/// sharded as the <see cref="AttentionLayout.BatchHeadSeqDim"/> layout with head_dim 1.
/// </summary>
public static class SequenceShards
{
    /// <summary>The shard: (batch, positions, heads, headDim) in <paramref name="layout"/>, row i from global position positions[i].</summary>
    /// <param name="global">The whole sequence: (batch, s, heads, headDim) in <paramref name="layout"/>.</param>
    /// <param name="positions">The shard's global positions, in the shard's order.</param>
    /// <param name="batch">Batch size.</param>
    /// <param name="heads">Heads.</param>
    /// <param name="headDim">Elements per (batch, position, head).</param>
    /// <param name="layout">Dimension order of both arrays.</param>
    /// <exception cref="ArgumentException">The sizes do not divide <paramref name="global"/>, or a position is outside it.</exception>
    public static T[] Gather<T>(ReadOnlySpan<T> global, ReadOnlySpan<int> positions, int batch, int heads, int headDim,
        AttentionLayout layout = AttentionLayout.BatchSeqHeadDim)
    {
        int length = GlobalLength(global.Length, positions, batch, heads, headDim);
        var shard = new T[(long)batch * positions.Length * heads * headDim];
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < positions.Length; i++)
                for (int h = 0; h < heads; h++)
                    global.Slice((int)layout.RowStart(length, heads, headDim, b, positions[i], h), headDim)
                        .CopyTo(shard.AsSpan((int)layout.RowStart(positions.Length, heads, headDim, b, i, h), headDim));
        return shard;
    }

    /// <summary>Writes a shard's rows back to their global positions (the inverse of <see cref="Gather{T}"/>).</summary>
    /// <param name="shard">(batch, positions, heads, headDim) in <paramref name="layout"/>.</param>
    /// <param name="global">The whole sequence, written at <paramref name="positions"/> only.</param>
    /// <param name="positions">The shard's global positions, in the shard's order.</param>
    /// <param name="batch">Batch size.</param>
    /// <param name="heads">Heads.</param>
    /// <param name="headDim">Elements per (batch, position, head).</param>
    /// <param name="layout">Dimension order of both arrays.</param>
    /// <exception cref="ArgumentException">The sizes do not divide the arrays, or a position is outside the sequence.</exception>
    public static void Scatter<T>(ReadOnlySpan<T> shard, Span<T> global, ReadOnlySpan<int> positions, int batch, int heads, int headDim,
        AttentionLayout layout = AttentionLayout.BatchSeqHeadDim)
    {
        int length = GlobalLength(global.Length, positions, batch, heads, headDim);
        if (shard.Length != (long)batch * positions.Length * heads * headDim)
            throw new ArgumentException($"shard has {shard.Length} elements; {batch} × {positions.Length} × {heads} × {headDim} expected.", nameof(shard));
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < positions.Length; i++)
                for (int h = 0; h < heads; h++)
                    shard.Slice((int)layout.RowStart(positions.Length, heads, headDim, b, i, h), headDim)
                        .CopyTo(global.Slice((int)layout.RowStart(length, heads, headDim, b, positions[i], h), headDim));
    }

    private static int GlobalLength(int elements, ReadOnlySpan<int> positions, int batch, int heads, int headDim)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(heads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(headDim, 1);
        long row = (long)batch * heads * headDim;
        if (elements % row != 0)
            throw new ArgumentException($"global has {elements} elements, not a multiple of batch × heads × headDim = {row}.", "global");
        int length = (int)(elements / row);
        foreach (int position in positions)
            if (position < 0 || position >= length)
                throw new ArgumentException($"Position {position} is outside the global sequence of {length}.", nameof(positions));
        return length;
    }
}
