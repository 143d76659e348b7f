namespace FlashAttn.Kernels;

/// <summary>Numerical and masking options of one attention call.</summary>
/// <param name="Scale">Softmax scale applied to q·k (usually 1/√d; the host decides).</param>
/// <param name="Causal">Mask keys after the query's diagonal.</param>
/// <param name="CausalBottomRight">Diagonal alignment: true → query i sees keys j ≤ i + s_k − s_q (flash-attn);
/// false → j ≤ i (top-left).</param>
/// <param name="Deterministic">Backward without atomics on results: bitwise-identical run after run.</param>
/// <param name="WindowLeft">Sliding window: query i sees keys j ≥ i + offset − WindowLeft (offset as the causal diagonal's);
/// −1: unbounded (flash-attn's window_size[0]).</param>
/// <param name="WindowRight">Sliding window: query i sees keys j ≤ i + offset + WindowRight; −1: unbounded; causal caps it at 0.</param>
/// <param name="Dropout">Dropout on P (default: none); the backward must get the forward's.</param>
/// <param name="Fp32Math">fp32 elements: exact FFMA kernels, 3×TF32 on the tensor cores, or (the default) the faster of the two
/// per pass and head dim (other types ignore it).</param>
public sealed record AttentionSettings(float Scale, bool Causal, bool CausalBottomRight = true, bool Deterministic = false,
    int WindowLeft = -1, int WindowRight = -1, Dropout Dropout = default, Fp32Math Fp32Math = Fp32Math.Auto)
{
    /// <summary>True when a sliding window limits the keys (either edge bounded).</summary>
    public bool Windowed => WindowLeft >= 0 || WindowRight >= 0;
}
