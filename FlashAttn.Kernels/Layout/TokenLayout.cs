namespace FlashAttn.Kernels;

/// <summary>
/// Where element (batch, position, head, column) of a q/k/v/o-like tensor lives: the one place the index arithmetic is
/// written. Strides are in elements; today's tensors are (b, s, h, d) contiguous (<see cref="Contiguous"/>), and a
/// (b, h, s, d) view is only another set of strides.
/// </summary>
internal readonly struct TokenLayout(long batchStride, long positionStride, long headStride)
{
    /// <summary>Elements between batches.</summary>
    public readonly long BatchStride = batchStride;

    /// <summary>Elements between consecutive positions of one head (a "row" of a tile).</summary>
    public readonly long PositionStride = positionStride;

    /// <summary>Elements between heads.</summary>
    public readonly long HeadStride = headStride;

    /// <summary>(b, s, h, d) contiguous with <paramref name="seqLen"/> positions, <paramref name="heads"/> heads of <paramref name="headDim"/>.</summary>
    public static TokenLayout Contiguous(int seqLen, int heads, int headDim)
        => new((long)seqLen * heads * headDim, (long)heads * headDim, headDim);

    /// <summary>q, o, dO and the dQ accumulator of one call: (b, s_q, h_q, d).</summary>
    public static TokenLayout Queries(AttentionParams p) => Contiguous(p.SeqLenQ, p.HeadsQ, p.HeadDim);

    /// <summary>k and v (and dk, dv) of one call: (b, s_k, h_kv, d).</summary>
    public static TokenLayout KeysValues(AttentionParams p) => Contiguous(p.SeqLenK, p.HeadsKV, p.HeadDim);

    /// <summary>The per-query-head dK and dV accumulators of one call: (b, s_k, h_q, d).</summary>
    public static TokenLayout KeyGradientsPerQueryHead(AttentionParams p) => Contiguous(p.SeqLenK, p.HeadsQ, p.HeadDim);

    /// <summary>Elements of <paramref name="batches"/> whole batches (the tensor's size for the batch count b).</summary>
    public long Elements(int batches) => batches * BatchStride;

    /// <summary>Index of column 0 of (batch, position, head).</summary>
    public long RowStart(int batch, int position, int head) => batch * BatchStride + position * PositionStride + head * HeadStride;
}
