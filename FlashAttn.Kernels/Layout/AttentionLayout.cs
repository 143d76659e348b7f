namespace FlashAttn;

/// <summary>
/// How q, k, v, the output, ∂loss/∂output and the gradients of a dense call order their dimensions in memory (dense,
/// row-major either way). The kernels read and write both through strides: choosing one costs no permute copy.
/// </summary>
public enum AttentionLayout
{
    /// <summary>(batch, seqlen, heads, head_dim): flash-attn's layout, the default.</summary>
    BatchSeqHeadDim,

    /// <summary>(batch, heads, seqlen, head_dim): PyTorch's, as <c>scaled_dot_product_attention</c> takes its tensors.</summary>
    BatchHeadSeqDim,
}
