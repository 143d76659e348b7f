namespace FlashAttn;

/// <summary>Options of <see cref="FlashAttention"/>'s forward and backward passes.</summary>
public sealed record AttentionOptions
{
    /// <summary>The default options: scale 1/√head_dim, no mask, no log-sum-exp returned.</summary>
    public static AttentionOptions Default { get; } = new();

    /// <summary>
    /// Factor applied to q·kᵀ before the softmax; null (the default) means 1/√head_dim.
    /// Must be finite and positive, else the call throws <see cref="ArgumentOutOfRangeException"/>.
    /// </summary>
    public float? Scale { get; init; }

    /// <summary>Apply a causal mask (aligned per <see cref="CausalAlignment"/>).</summary>
    public bool Causal { get; init; }

    /// <summary>Alignment of the causal mask when s_q ≠ s_k; <see cref="FlashAttn.CausalAlignment.BottomRight"/> by default.</summary>
    public CausalAlignment CausalAlignment { get; init; } = CausalAlignment.BottomRight;

    /// <summary>
    /// Sliding window, flash-attn's window_size[0]: query i sees key j only when j ≥ i + offset − WindowLeft, the offset
    /// being the causal diagonal's (s_k − s_q with <see cref="FlashAttn.CausalAlignment.BottomRight"/>, 0 with TopLeft;
    /// per sequence in varlen and KV-cache calls). −1 (the default): unbounded. Combines with <see cref="Causal"/> (local
    /// attention: Causal with WindowLeft = w sees the w keys before the diagonal and the diagonal) and with
    /// <see cref="WindowRight"/>; key blocks outside every row's window are skipped, not masked. Give the backward pass
    /// the same options. Less than −1: the call throws <see cref="ArgumentOutOfRangeException"/>.
    /// </summary>
    public int WindowLeft { get; init; } = -1;

    /// <summary>
    /// Sliding window, flash-attn's window_size[1]: query i sees key j only when j ≤ i + offset + WindowRight (offset as
    /// for <see cref="WindowLeft"/>). −1 (the default): unbounded; with <see cref="Causal"/> the right edge is the
    /// diagonal whatever this is. Less than −1: the call throws <see cref="ArgumentOutOfRangeException"/>.
    /// </summary>
    public int WindowRight { get; init; } = -1;

    /// <summary>True when a sliding window bounds either side.</summary>
    internal bool Windowed => WindowLeft >= 0 || WindowRight >= 0;

    /// <summary>Ask the backward pass for bit-reproducible gradients (may be slower).</summary>
    public bool Deterministic { get; init; }

    /// <summary>Return the log-sum-exp of each query row from the forward pass (needed for the backward pass).</summary>
    public bool ReturnLse { get; init; }

    /// <summary>
    /// Varlen and KV-cache calls: read the small index tensors back before launching (one synchronous read) and check
    /// their contents — cu_seqlens start at 0, never decrease, end at the token totals and each length fits maxSeqlen;
    /// cache lengths are ≥ 0 and, with the appended keys, fit the cache's capacity; batch indices are in range; the
    /// block-table entries a sequence uses are within [0, num_pages). True by default. Set it to false in hot loops
    /// whose indices are known good: the kernels clamp bad indices, so they never read or write outside a tensor, but
    /// without this check the results for bad indices are undefined. Dense calls ignore it.
    /// </summary>
    public bool ValidateIndexContents { get; init; } = true;

    /// <summary>The scale actually used for <paramref name="headDim"/>: <see cref="Scale"/> or 1/√head_dim.</summary>
    public float ResolveScale(int headDim) => Scale ?? 1f / MathF.Sqrt(headDim);
}
