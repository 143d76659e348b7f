namespace FlashAttn.Kernels;

/// <summary>
/// Where the statistic of query row (batch, head, row) lives in the per-row tensors L (log-sum-exp) and D
/// (rowsum(dO ∘ O)): (b, h_q, s_q) contiguous. The one place that index is written.
/// </summary>
internal readonly struct RowStatisticsLayout(int seqLen, int heads)
{
    /// <summary>Rows per (batch, head): s_q.</summary>
    public readonly int SeqLen = seqLen;

    /// <summary>Heads per batch: h_q.</summary>
    public readonly int Heads = heads;

    /// <summary>The layout of L and D for one call's query rows.</summary>
    public static RowStatisticsLayout Of(AttentionParams p) => new(p.SeqLenQ, p.HeadsQ);

    /// <summary>Rows of <paramref name="batches"/> whole batches (the tensor's size for the batch count b).</summary>
    public long Elements(int batches) => (long)batches * Heads * SeqLen;

    /// <summary>Index of row 0 of (batch, head); its rows follow contiguously.</summary>
    public long RowStart(int batch, int head) => ((long)batch * Heads + head) * SeqLen;

    /// <summary>Index of (batch, head, row).</summary>
    public long Index(int batch, int head, int row) => RowStart(batch, head) + row;

    /// <summary>Coordinates of row statistic number <paramref name="index"/>; returns the row. 32-bit divisions when the
    /// index fits (a 64-bit division is a long software sequence on the GPU).</summary>
    public int Locate(long index, out int batch, out int head)
    {
        if (index <= int.MaxValue)
        {
            int small = (int)index, bh = small / SeqLen;
            head = bh % Heads;
            batch = bh / Heads;
            return small - bh * SeqLen;
        }
        long wide = index / SeqLen;
        head = (int)(wide % Heads);
        batch = (int)(wide / Heads);
        return (int)(index - wide * SeqLen);
    }
}
