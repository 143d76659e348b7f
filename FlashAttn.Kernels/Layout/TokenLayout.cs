namespace FlashAttn.Kernels;

/// <summary>
/// Where element (batch, position, head, column) of a q/k/v/o-like tensor lives: the one place the index arithmetic is
/// written. Strides are in elements; a tensor is (b, s, h, d) or (b, h, s, d) contiguous (<see cref="AttentionLayout"/>),
/// the kernels only ever see the strides.
/// </summary>
internal readonly struct TokenLayout(long batchStride, long positionStride, long headStride)
{
    /// <summary>Elements between batches.</summary>
    public readonly long BatchStride = batchStride;

    /// <summary>Elements between consecutive positions of one head (a "row" of a tile).</summary>
    public readonly long PositionStride = positionStride;

    /// <summary>Elements between heads.</summary>
    public readonly long HeadStride = headStride;

    /// <summary>A contiguous tensor in <paramref name="layout"/> with <paramref name="seqLen"/> positions and
    /// <paramref name="heads"/> heads of <paramref name="headDim"/>.</summary>
    public static TokenLayout Of(AttentionLayout layout, int seqLen, int heads, int headDim)
    {
        long row = headDim, batch = (long)seqLen * heads * headDim;
        return layout == AttentionLayout.BatchHeadSeqDim
            ? new(batch, row, (long)seqLen * headDim)
            : new(batch, (long)heads * headDim, row);
    }

    /// <summary>
    /// q, o, dO and dq of one call, (b, s_q, h_q, d) or (b, h_q, s_q, d) by <see cref="AttentionParams.QueryLayout"/>;
    /// also the fp32 dQ accumulator, which the launcher allocates contiguous in the same order so that an fp32 dq can be
    /// its own accumulator.
    /// </summary>
    public static TokenLayout Queries(AttentionParams p) => Of(p.QueryLayout, p.SeqLenQ, p.HeadsQ, p.HeadDim);

    /// <summary>k, v, dk and dv of one call: (b, s_k, h_kv, d) or (b, h_kv, s_k, d) by <see cref="AttentionParams.KeyLayout"/>.</summary>
    public static TokenLayout KeysValues(AttentionParams p) => Of(p.KeyLayout, p.SeqLenK, p.HeadsKV, p.HeadDim);

    /// <summary>
    /// The per-query-head fp32 dK and dV accumulators of one call: contiguous with h_q heads, in k's dimension order
    /// ((b, s_k, h_q, d) or (b, h_q, s_k, d)), so that without GQA fp32 dk and dv can be their own accumulators.
    /// </summary>
    public static TokenLayout KeyGradientsPerQueryHead(AttentionParams p) => Of(p.KeyLayout, p.SeqLenK, p.HeadsQ, p.HeadDim);

    /// <summary>Elements of <paramref name="batches"/> whole batches (the tensor's size for the batch count b).</summary>
    public long Elements(int batches) => batches * BatchStride;

    /// <summary>
    /// Coordinates of element number <paramref name="element"/> of a (b, s, h, d) walk over <paramref name="seqLen"/>
    /// positions and <paramref name="heads"/> heads of <paramref name="headDim"/> (how the element-wise kernels enumerate
    /// a tensor, whatever its layout); returns the column. 32-bit divisions when the element number fits (a 64-bit
    /// division is a long software sequence on the GPU).
    /// </summary>
    public static int Locate(long element, int seqLen, int heads, int headDim, out int batch, out int position, out int head)
    {
        if (element <= int.MaxValue)
        {
            int small = (int)element, smallRow = small / headDim, bs = smallRow / heads;
            head = smallRow - bs * heads;
            position = bs % seqLen;
            batch = bs / seqLen;
            return small - smallRow * headDim;
        }
        long row = element / headDim;
        head = (int)(row % heads);
        row /= heads;
        position = (int)(row % seqLen);
        batch = (int)(row / seqLen);
        return (int)(element % headDim);
    }

    /// <summary>Index of column 0 of (batch, position, head).</summary>
    public long RowStart(int batch, int position, int head) => batch * BatchStride + position * PositionStride + head * HeadStride;
}
