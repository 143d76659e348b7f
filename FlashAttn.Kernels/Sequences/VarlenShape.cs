namespace FlashAttn.Kernels;

/// <summary>
/// Sizes of a variable-length (packed) attention call: q is (TotalQ, HeadsQ, HeadDim), k and v are (TotalK, HeadsKV,
/// HeadDim); sequence i owns queries [cu_seqlens_q[i], cu_seqlens_q[i + 1]) and keys [cu_seqlens_k[i], cu_seqlens_k[i + 1]).
/// </summary>
/// <param name="Sequences">Number of sequences b (cu_seqlens have b + 1 entries).</param>
/// <param name="TotalQ">Query tokens of all sequences.</param>
/// <param name="TotalK">Key tokens of all sequences.</param>
/// <param name="MaxSeqLenQ">Longest query range (sizes the launch grid).</param>
/// <param name="MaxSeqLenK">Longest key range (sizes the backward's grid).</param>
/// <param name="HeadsQ">Query heads h_q (a multiple of <paramref name="HeadsKV"/>).</param>
/// <param name="HeadsKV">Key/value heads h_kv.</param>
/// <param name="HeadDim">Head dimension d, 1…256.</param>
public sealed record VarlenShape(int Sequences, int TotalQ, int TotalK, int MaxSeqLenQ, int MaxSeqLenK, int HeadsQ, int HeadsKV, int HeadDim)
{
    /// <summary>The packed tensors seen as one dense batch of the token totals: the layouts of q, k, v, L and D.</summary>
    public AttentionShape Flattened => new(1, TotalQ, TotalK, HeadsQ, HeadsKV, HeadDim);
}
