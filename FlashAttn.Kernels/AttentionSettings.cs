namespace FlashAttn.Kernels;

/// <summary>Numerical and masking options of one attention call.</summary>
/// <param name="Scale">Softmax scale applied to q·k (usually 1/√d; the host decides).</param>
/// <param name="Causal">Mask keys after the query's diagonal.</param>
/// <param name="CausalBottomRight">Diagonal alignment: true → query i sees keys j ≤ i + s_k − s_q (flash-attn);
/// false → j ≤ i (top-left).</param>
/// <param name="Deterministic">Backward without atomics on results: bitwise-identical run after run.</param>
public sealed record AttentionSettings(float Scale, bool Causal, bool CausalBottomRight = true, bool Deterministic = false);
