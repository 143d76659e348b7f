namespace FlashAttn.Kernels;

/// <summary>
/// Sizes of one attention call. q is (Batch, SeqLenQ, HeadsQ, HeadDim) and k and v are (Batch, SeqLenK, HeadsKV, HeadDim)
/// in the default <see cref="AttentionLayout.BatchSeqHeadDim"/>; with <see cref="AttentionLayout.BatchHeadSeqDim"/> the
/// middle two dimensions of every q-, k-, v-, output- and gradient-like tensor are swapped.
/// </summary>
/// <param name="Batch">Batch size b.</param>
/// <param name="SeqLenQ">Query sequence length s_q.</param>
/// <param name="SeqLenK">Key/value sequence length s_k.</param>
/// <param name="HeadsQ">Query heads h_q (a multiple of <paramref name="HeadsKV"/>).</param>
/// <param name="HeadsKV">Key/value heads h_kv (GQA/MQA when fewer than h_q).</param>
/// <param name="HeadDim">Head dimension d, 1…256.</param>
/// <param name="Layout">Dimension order of q, k, v, the output, dO and the gradients of dense calls (the kernels read them
/// through strides); varlen and KV-cache calls have their own layouts and take the default.</param>
public sealed record AttentionShape(int Batch, int SeqLenQ, int SeqLenK, int HeadsQ, int HeadsKV, int HeadDim,
    AttentionLayout Layout = AttentionLayout.BatchSeqHeadDim);
