namespace FlashAttn;

/// <summary>
/// Where the causal mask's diagonal sits when the query and key lengths differ (with equal lengths both are the
/// usual lower-triangular mask).
/// </summary>
public enum CausalAlignment
{
    /// <summary>
    /// Aligned to the bottom-right corner, as in flash-attn ≥ 2.1: query i may see key j when
    /// j ≤ i + s_k − s_q. Suited to decoding, where the queries are the last s_q positions of the sequence.
    /// </summary>
    BottomRight,
    /// <summary>Aligned to the top-left corner, as PyTorch's <c>is_causal</c>: query i may see key j when j ≤ i.</summary>
    TopLeft,
}
