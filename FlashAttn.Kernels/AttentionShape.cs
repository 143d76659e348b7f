namespace FlashAttn.Kernels;

/// <summary>Sizes of one attention call. q is (Batch, SeqLenQ, HeadsQ, HeadDim); k and v are (Batch, SeqLenK, HeadsKV, HeadDim).</summary>
/// <param name="Batch">Batch size b.</param>
/// <param name="SeqLenQ">Query sequence length s_q.</param>
/// <param name="SeqLenK">Key/value sequence length s_k.</param>
/// <param name="HeadsQ">Query heads h_q (a multiple of <paramref name="HeadsKV"/>).</param>
/// <param name="HeadsKV">Key/value heads h_kv (GQA/MQA when fewer than h_q).</param>
/// <param name="HeadDim">Head dimension d, 1…256.</param>
public sealed record AttentionShape(int Batch, int SeqLenQ, int SeqLenK, int HeadsQ, int HeadsKV, int HeadDim);
