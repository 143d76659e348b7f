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

    /// <summary>
    /// Logit soft-capping (Gemma 2; flash-attn's softcap): each scaled score s becomes Softcap · tanh(s / Softcap) before
    /// the softmax, and the backward multiplies by its derivative. Null (the default): none. Applied before
    /// <see cref="AlibiSlopes"/> and before a caller's score modifier (the order flash-attn uses for softcap and ALiBi).
    /// fp16 and bf16 calls compute tanh with the GPU's <c>tanh.approx</c> as flash-attn does (about 2⁻¹¹ relative, the
    /// size of those dtypes' own rounding of the scores); fp32 calls, and the CPU, with an accurate tanh.
    /// Give the backward pass the same options. Not finite and positive: the call throws <see cref="ArgumentOutOfRangeException"/>
    /// naming options.
    /// </summary>
    public float? Softcap { get; init; }

    /// <summary>
    /// ALiBi (Press et al. 2022) as flash-attn applies it: the score of query i and key j loses slope · |j − diagonal(i)|,
    /// the diagonal being the causal one (i + s_k − s_q bottom-right, i top-left; per sequence in varlen and KV-cache calls).
    /// fp32 slopes on q's device, one per query head, shape (heads_q), or per batch entry and head, shape (batch, heads_q)
    /// (batch = the number of sequences in varlen calls). Null (the default): none. Applied after <see cref="Softcap"/> and
    /// before a caller's score modifier. A wrong shape or device, a disposed tensor, or a sequence whose s_q + s_k exceeds 2²²
    /// (4,194,304: the kernels convert the distance to float exactly up to there) throws <see cref="ArgumentException"/>
    /// naming options. The tensor is read by the kernels: leave it unchanged until the calls that use it are done.
    /// </summary>
    public DeviceTensor<float>? AlibiSlopes { get; init; }

    /// <summary>
    /// Dropout on the attention probabilities (training): each P_ij is kept with probability 1 − p and scaled by 1/(1 − p);
    /// the mask is a function of (seed, offset, batch, head, query, key), so the backward regenerates it — give the backward
    /// the same options (same seed and offset), and advance the offset (or change the seed) between steps that need fresh
    /// masks. <see cref="FlashAttention.DropoutMask"/> gives the mask on the host, for tests. The default (p = 0): none.
    /// p outside [0, 1) throws <see cref="ArgumentOutOfRangeException"/> naming options; KV-cache calls (inference) refuse
    /// dropout with an <see cref="ArgumentException"/>.
    /// </summary>
    public Dropout Dropout { get; init; }

    /// <summary>
    /// Dimension order of the dense calls' q, k, v, output, dOut and gradients: <see cref="AttentionLayout.BatchSeqHeadDim"/>
    /// (the default, flash-attn's: q (batch, s_q, heads_q, head_dim)) or <see cref="AttentionLayout.BatchHeadSeqDim"/>
    /// (PyTorch's, as scaled_dot_product_attention takes them: q (batch, heads_q, s_q, head_dim), k and v
    /// (batch, heads_kv, s_k, head_dim)). Shapes are read in it, outputs and gradients are allocated in it, and the kernels
    /// read and write it in place through strides (no permute copy). The log-sum-exp is (batch, heads_q, s_q) in both.
    /// Give the backward pass the forward's. Varlen and KV-cache calls have layouts of their own: anything but the default
    /// there throws <see cref="ArgumentException"/> naming options, as does a value outside the enum anywhere
    /// (<see cref="ArgumentOutOfRangeException"/>).
    /// </summary>
    public AttentionLayout Layout { get; init; }

    /// <summary>True when a sliding window bounds either side.</summary>
    internal bool Windowed => WindowLeft >= 0 || WindowRight >= 0;

    /// <summary>
    /// How fp32 calls multiply on a GPU: <see cref="Fp32Math.Auto"/> (the default: the faster of the two below per pass and
    /// head dim), <see cref="Fp32Math.Exact"/> (FFMA) or <see cref="Fp32Math.TensorCores"/> (3×TF32: fp32-accurate products
    /// from three tensor-core products each). fp16 and bf16 calls always use the tensor cores; the CPU path always computes
    /// exact fp32. docs/performance.md gives the measured accuracy and speed of both.
    /// </summary>
    public Fp32Math Fp32Math { get; init; }

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
