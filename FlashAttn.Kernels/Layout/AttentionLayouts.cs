namespace FlashAttn;

/// <summary>The dimensions of <see cref="AttentionLayout"/>: which index is which, and the shape of a tensor.</summary>
public static class AttentionLayouts
{
    /// <summary>Index of the seqlen dimension of a rank-4 tensor in <paramref name="layout"/>: 1 or 2.</summary>
    public static int SeqDimension(this AttentionLayout layout) => layout == AttentionLayout.BatchHeadSeqDim ? 2 : 1;

    /// <summary>Index of the heads dimension of a rank-4 tensor in <paramref name="layout"/>: 2 or 1.</summary>
    public static int HeadsDimension(this AttentionLayout layout) => layout == AttentionLayout.BatchHeadSeqDim ? 1 : 2;

    /// <summary>The shape of a tensor of <paramref name="seqLen"/> positions and <paramref name="heads"/> heads in
    /// <paramref name="layout"/>: (batch, seqLen, heads, headDim) or (batch, heads, seqLen, headDim).</summary>
    public static int[] Shape(this AttentionLayout layout, int batch, int seqLen, int heads, int headDim)
        => layout == AttentionLayout.BatchHeadSeqDim ? [batch, heads, seqLen, headDim] : [batch, seqLen, heads, headDim];

    /// <summary>The index of element 0 of (batch, position, head) in a dense tensor of <paramref name="seqLen"/> positions,
    /// <paramref name="heads"/> heads of <paramref name="headDim"/> in <paramref name="layout"/> (its head_dim elements follow).
    /// The per-row statistics (b, h, s) are the (b, h, s, d) layout with head_dim 1.</summary>
    public static long RowStart(this AttentionLayout layout, int seqLen, int heads, int headDim, int batch, int position, int head)
        => Kernels.TokenLayout.Of(layout, seqLen, heads, headDim).RowStart(batch, position, head);

    /// <summary>The dimension names of <paramref name="layout"/>, e.g. "(batch, seqlen, heads, head_dim)", for messages.</summary>
    public static string Describe(this AttentionLayout layout)
        => layout == AttentionLayout.BatchHeadSeqDim ? "(batch, heads, seqlen, head_dim)" : "(batch, seqlen, heads, head_dim)";
}
