namespace FlashAttn.Dispatch;

/// <summary>
/// Checks every argument of an attention call before anything is allocated or launched. Every failure is an
/// <see cref="ArgumentException"/> (or a subclass) whose ParamName is the offending argument and whose message
/// states the expected and the actual value.
/// </summary>
internal static class AttentionValidator
{
    /// <summary>Largest head dimension the kernels support.</summary>
    public const int MaxHeadDim = 256;

    /// <summary>Validates a forward call and returns its problem description.</summary>
    public static AttentionProblem ValidateForward(DeviceTensor? q, DeviceTensor? k, DeviceTensor? v, AttentionOptions? options)
    {
        ArgumentNullException.ThrowIfNull(options);
        CheckLive(q, nameof(q));
        CheckLive(k, nameof(k));
        CheckLive(v, nameof(v));
        return CheckQkv(q, k, v, options);
    }

    /// <summary>Validates a backward call and returns its problem description.</summary>
    public static AttentionProblem ValidateBackward(
        DeviceTensor? dOut, DeviceTensor? q, DeviceTensor? k, DeviceTensor? v, DeviceTensor? output, DeviceTensor? lse,
        AttentionOptions? options)
    {
        ArgumentNullException.ThrowIfNull(options);
        CheckLive(dOut, nameof(dOut));
        CheckLive(q, nameof(q));
        CheckLive(k, nameof(k));
        CheckLive(v, nameof(v));
        CheckLive(output, nameof(output));
        if (lse is null)
            throw new ArgumentNullException(nameof(lse),
                "lse must not be null: the backward needs the forward's log-sum-exp. Run the forward with " +
                "AttentionOptions { ReturnLse = true } and pass result.Lse, or use FlashAttention.ForwardForTraining, " +
                "whose Backward(dOut) keeps it (and the options) for you.");
        CheckLive(lse, nameof(lse));
        var problem = CheckQkv(q, k, v, options);

        CheckLikeQ(output, q, nameof(output));
        CheckLikeQ(dOut, q, nameof(dOut));
        CheckLse(lse, q, problem, nameof(lse));
        return problem;
    }

    /// <summary>
    /// Checks a caller-provided destination: live, on <paramref name="like"/>'s device, with its dtype and shape
    /// (output and dq like q; dk and dv like k).
    /// </summary>
    public static void CheckDestination(DeviceTensor? tensor, DeviceTensor like, string likeName, string name)
    {
        CheckLive(tensor, name);
        CheckSameDevice(tensor, like, name);
        CheckSameDtype(tensor, like, name);
        IndexChecks.CheckSameShape(tensor, like, likeName, name);
    }

    /// <summary>Checks a log-sum-exp (given to the backward, or as the forward's destination): fp32, (b, h_q, s_q), q's device.</summary>
    public static void CheckLse(DeviceTensor? lse, DeviceTensor q, AttentionProblem problem, string name)
    {
        CheckLive(lse, name);
        CheckSameDevice(lse, q, name);
        if (lse.DType != DType.Float32)
            throw new ArgumentException($"{name} must be {DType.Float32}; actual {lse.DType}.", name);
        ReadOnlySpan<int> expectedLse = [problem.Batch, problem.HeadsQ, problem.SeqLenQ];
        if (!lse.Shape.SequenceEqual(expectedLse))
            throw new ArgumentException(
                $"{name} must have shape (batch, heads_q, s_q) = {DeviceTensor.FormatShape(expectedLse)}; actual {lse.ShapeText}.", name);
    }

    /// <summary>q, k and v are read in <see cref="AttentionOptions.Layout"/> (checked first): its seqlen and heads dimensions.</summary>
    private static AttentionProblem CheckQkv(DeviceTensor q, DeviceTensor k, DeviceTensor v, AttentionOptions options)
    {
        var layout = options.Layout;
        if (!Enum.IsDefined(layout))
            throw new ArgumentOutOfRangeException(nameof(options), layout,
                $"options.Layout must be {AttentionLayout.BatchSeqHeadDim} or {AttentionLayout.BatchHeadSeqDim}; actual {(int)layout}.");
        int seqDim = layout.SeqDimension(), headsDim = layout.HeadsDimension();
        CheckFloatingPoint(q, nameof(q));
        CheckRank4(q, layout, nameof(q));
        CheckRank4(k, layout, nameof(k));
        CheckRank4(v, layout, nameof(v));

        int batch = q.Shape[0], seqQ = q.Shape[seqDim], headsQ = q.Shape[headsDim], headDim = q.Shape[3];
        CheckAtLeastOne(q, 0, "batch", nameof(q));
        CheckAtLeastOne(q, seqDim, "seqlen", nameof(q));
        CheckAtLeastOne(q, headsDim, "heads", nameof(q));
        CheckAtMost(q, 0, "batch", MaxGridDimension, nameof(q));
        CheckAtMost(q, headsDim, "heads", MaxGridDimension, nameof(q));
        if (headDim < 1 || headDim > MaxHeadDim)
            throw new ArgumentException(
                $"q head_dim (dimension 3) must be in [1, {MaxHeadDim}]; actual {headDim} (shape {q.ShapeText}).", nameof(q));

        CheckSameDevice(k, q, nameof(k));
        CheckSameDtype(k, q, nameof(k));
        CheckDimension(k, 0, "batch", batch, nameof(k));
        CheckDimension(k, 3, "head_dim", headDim, nameof(k));
        CheckAtLeastOne(k, seqDim, "seqlen", nameof(k));
        CheckAtLeastOne(k, headsDim, "heads", nameof(k));

        CheckSameDevice(v, q, nameof(v));
        CheckSameDtype(v, q, nameof(v));
        IndexChecks.CheckSameShape(v, k, nameof(k), nameof(v));

        int seqK = k.Shape[seqDim], headsKv = k.Shape[headsDim];
        if (headsQ % headsKv != 0)
            throw new ArgumentException(
                $"k heads must divide q heads ({headsQ}) for grouped-query attention; actual {headsKv}.", nameof(k));

        CheckOptions(options);
        CheckAlibiSlopes(options, q, batch, headsQ, seqQ, seqK);
        return new AttentionProblem(batch, seqQ, seqK, headsQ, headsKv, headDim,
            options.ResolveScale(headDim), options.Causal,
            options.CausalAlignment == CausalAlignment.BottomRight, options.Deterministic, options.WindowLeft, options.WindowRight,
            options.Dropout, options.Fp32Math, layout);
    }

    /// <summary>Checks the scale, the causal alignment, the fp32 math and the window of <paramref name="options"/>.</summary>
    internal static void CheckOptions(AttentionOptions options)
    {
        if (options.Scale is float scale && (!float.IsFinite(scale) || scale <= 0))
            throw new ArgumentOutOfRangeException(nameof(options), scale,
                $"options.Scale must be finite and positive (or null for 1/sqrt(head_dim)); actual {scale}.");
        if (!Enum.IsDefined(options.CausalAlignment))
            throw new ArgumentOutOfRangeException(nameof(options), options.CausalAlignment,
                $"options.CausalAlignment must be BottomRight or TopLeft; actual {(int)options.CausalAlignment}.");
        if (!Enum.IsDefined(options.Fp32Math))
            throw new ArgumentOutOfRangeException(nameof(options), options.Fp32Math,
                $"options.Fp32Math must be Auto, Exact or TensorCores; actual {(int)options.Fp32Math}.");
        foreach (var (edge, name) in new[] { (options.WindowLeft, nameof(options.WindowLeft)), (options.WindowRight, nameof(options.WindowRight)) })
            if (edge < -1)
                throw new ArgumentOutOfRangeException(nameof(options), edge, $"options.{name} must be -1 (unbounded) or at least 0; actual {edge}.");
        if (options.Softcap is float cap && (!float.IsFinite(cap) || cap <= 0))
            throw new ArgumentOutOfRangeException(nameof(options), cap, $"options.Softcap must be finite and positive (or null for none); actual {cap}.");
        if (!options.Dropout.IsValid)
            throw new ArgumentOutOfRangeException(nameof(options), options.Dropout.Probability,
                Dropout.ProbabilityRule("options.Dropout.Probability", options.Dropout.Probability));
    }

    /// <summary>
    /// Varlen and KV-cache calls have tensors of their own layouts ((total, heads, head_dim) packs, caches):
    /// <see cref="AttentionOptions.Layout"/> must be the default there. Checked before their shapes, which it would misname.
    /// </summary>
    internal static void CheckDefaultLayout(AttentionOptions options, string calls)
    {
        if (options.Layout != AttentionLayout.BatchSeqHeadDim)
            throw new ArgumentException(
                $"options.Layout must be {AttentionLayout.BatchSeqHeadDim} for {calls} calls, whose tensors have layouts of their own " +
                $"(it applies to dense calls); actual {options.Layout}.", nameof(options));
    }

    /// <summary>
    /// Checks <see cref="AttentionOptions.AlibiSlopes"/>, if given: live, fp32, on q's device, shape (h_q) or
    /// (<paramref name="batch"/>, h_q) — batch being the number of sequences of varlen and KV-cache calls; and a sequence's
    /// <paramref name="queries"/> + <paramref name="keys"/> (their maxima) within the distances the kernels convert exactly.
    /// </summary>
    internal static void CheckAlibiSlopes(AttentionOptions options, DeviceTensor q, int batch, int headsQ, long queries, long keys)
    {
        if (options.AlibiSlopes is not { } slopes) return;
        const string name = nameof(options);
        if (slopes.IsDisposed) throw new ArgumentException("options.AlibiSlopes has been disposed.", name);
        if (!ReferenceEquals(slopes.Device, q.Device))
            throw new ArgumentException($"options.AlibiSlopes must be on q's device ({q.Device}); actual {slopes.Device}.", name);
        if (slopes.DType != DType.Float32)
            throw new ArgumentException($"options.AlibiSlopes must be {DType.Float32}; actual {slopes.DType}.", name);
        ReadOnlySpan<int> perHead = [headsQ], perBatch = [batch, headsQ];
        if (!slopes.Shape.SequenceEqual(perHead) && !slopes.Shape.SequenceEqual(perBatch))
            throw new ArgumentException(
                $"options.AlibiSlopes must have shape (heads_q) = {DeviceTensor.FormatShape(perHead)} or (batch, heads_q) = " +
                $"{DeviceTensor.FormatShape(perBatch)}; actual {slopes.ShapeText}.", name);
        // |key − diagonal| < s_q + s_k: the kernels take it to float by XMath.SmallIntToFloat, exact up to its limit
        if (queries + keys > FlashAttn.Compute.XMath.SmallIntLimit)
            throw new ArgumentException(
                $"options.AlibiSlopes supports a sequence's s_q + s_k up to {FlashAttn.Compute.XMath.SmallIntLimit:N0} (its distances are converted " +
                $"exactly up to 2^22); actual s_q = {queries:N0}, s_k = {keys:N0}.", name);
    }

    /// <summary>q, k and v hold fp32, fp16 or bf16: int32 tensors are indices, never attention inputs.</summary>
    internal static void CheckFloatingPoint(DeviceTensor tensor, string name)
    {
        if (!DTypes.IsFloatingPoint(tensor.DType))
            throw new ArgumentException(
                $"{name} must be {DType.Float32}, {DType.Float16} or {DType.BFloat16}; actual {tensor.DType} (shape {tensor.ShapeText}).", name);
    }

    /// <summary>For the dtype switches after validation, which has ruled out every other dtype.</summary>
    internal static Exception UnreachableDtype(DType dtype) =>
        new System.Diagnostics.UnreachableException($"dtype {dtype} passed validation as an attention input.");

    internal static void CheckLive([System.Diagnostics.CodeAnalysis.NotNull] DeviceTensor? tensor, string name)
    {
        if (tensor is null) throw new ArgumentNullException(name, $"{name} must not be null.");
        if (tensor.IsDisposed) throw new ArgumentException($"{name} has been disposed.", name);
        if (tensor.Device.IsDisposed) throw new ArgumentException($"{name} lives on a device that has been disposed ({tensor.Device}).", name);
    }

    private static void CheckRank4(DeviceTensor tensor, AttentionLayout layout, string name)
        => IndexChecks.CheckRank(tensor, 4, layout.Describe(), name);

    internal static void CheckAtLeastOne(DeviceTensor tensor, int dim, string what, string name)
    {
        if (tensor.Shape[dim] < 1)
            throw new ArgumentException($"{name} {what} (dimension {dim}) must be at least 1; actual {tensor.Shape[dim]} (shape {tensor.ShapeText}).", name);
    }

    /// <summary>Batch and heads index the launch grid's y/z dimensions, which CUDA caps at 65535.</summary>
    internal const int MaxGridDimension = Kernels.AttentionLauncher.MaxGridYZ;

    internal static void CheckAtMost(DeviceTensor tensor, int dim, string what, int limit, string name)
    {
        if (tensor.Shape[dim] > limit)
            throw new ArgumentException($"{name} {what} (dimension {dim}) must be at most {limit} (a launch grid dimension); actual {tensor.Shape[dim]} (shape {tensor.ShapeText}).", name);
    }

    internal static void CheckDimension(DeviceTensor tensor, int dim, string what, int expected, string name)
    {
        if (tensor.Shape[dim] != expected)
            throw new ArgumentException(
                $"{name} {what} (dimension {dim}) must match q's: expected {expected}, actual {tensor.Shape[dim]} (shape {tensor.ShapeText}).", name);
    }

    internal static void CheckSameDevice(DeviceTensor tensor, DeviceTensor q, string name)
    {
        if (!ReferenceEquals(tensor.Device, q.Device))
            throw new ArgumentException($"{name} must be on q's device ({q.Device}); actual {tensor.Device}.", name);
    }

    internal static void CheckSameDtype(DeviceTensor tensor, DeviceTensor q, string name)
    {
        if (tensor.DType != q.DType)
            throw new ArgumentException($"{name} must have q's dtype {q.DType}; actual {tensor.DType}.", name);
    }

    private static void CheckLikeQ(DeviceTensor tensor, DeviceTensor q, string name) => CheckDestination(tensor, q, "q", name);
}
