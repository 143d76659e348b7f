namespace FlashAttn.ILGPU;

/// <summary>
/// The sizes of an attention call on flat ILGPU views, which carry no shape: q, output and dOut are
/// (batch, s_q, heads_q, head_dim), k and v (batch, s_k, heads_kv, head_dim) — heads before seqlen in each with
/// <see cref="AttentionOptions.Layout"/> = <see cref="AttentionLayout.BatchHeadSeqDim"/> —, the log-sum-exp
/// (batch, heads_q, s_q), all dense and row-major.
/// </summary>
/// <param name="Batch">Batch size.</param>
/// <param name="SeqLenQ">Query sequence length s_q.</param>
/// <param name="SeqLenK">Key/value sequence length s_k.</param>
/// <param name="HeadsQ">Query heads.</param>
/// <param name="HeadsKV">Key/value heads (divides <paramref name="HeadsQ"/>).</param>
/// <param name="HeadDim">Head dimension, at most 256.</param>
public readonly record struct AttentionSizes(int Batch, int SeqLenQ, int SeqLenK, int HeadsQ, int HeadsKV, int HeadDim)
{
    /// <summary>Shape of q, output and dOut in the default layout.</summary>
    public int[] QShape => QShapeIn(AttentionLayout.BatchSeqHeadDim);

    /// <summary>Shape of k and v in the default layout.</summary>
    public int[] KvShape => KvShapeIn(AttentionLayout.BatchSeqHeadDim);

    /// <summary>Shape of q, output and dOut in <paramref name="layout"/>.</summary>
    public int[] QShapeIn(AttentionLayout layout) => layout.Shape(Batch, SeqLenQ, HeadsQ, HeadDim);

    /// <summary>Shape of k and v in <paramref name="layout"/>.</summary>
    public int[] KvShapeIn(AttentionLayout layout) => layout.Shape(Batch, SeqLenK, HeadsKV, HeadDim);

    /// <summary>Shape of the log-sum-exp.</summary>
    public int[] LseShape => [Batch, HeadsQ, SeqLenQ];
}
