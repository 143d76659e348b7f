using FlashAttn.Kernels;

namespace FlashAttn.Dispatch;

/// <summary>
/// Checks every argument of a variable-length call (<see cref="FlashAttention.ForwardVarlen{T}"/>,
/// <see cref="FlashAttention.BackwardVarlen{T}"/>) before anything is allocated or launched, as
/// <see cref="AttentionValidator"/> does for dense calls; with <see cref="AttentionOptions.ValidateIndexContents"/> it
/// also reads cu_seqlens back and checks their values.
/// </summary>
internal static class VarlenValidator
{
    private const string PackedLayout = "(total_tokens, heads, head_dim)";

    /// <summary>Validates a varlen forward call and returns its problem description.</summary>
    public static VarlenProblem ValidateForward(DeviceTensor? q, DeviceTensor? k, DeviceTensor? v,
        DeviceTensor<int>? cuSeqlensQ, DeviceTensor<int>? cuSeqlensK, int maxSeqlenQ, int maxSeqlenK, AttentionOptions options)
    {
        AttentionValidator.CheckLive(q, nameof(q));
        AttentionValidator.CheckLive(k, nameof(k));
        AttentionValidator.CheckLive(v, nameof(v));
        var problem = CheckPacked(q, k, v, cuSeqlensQ, cuSeqlensK, maxSeqlenQ, maxSeqlenK, options);
        if (options.ValidateIndexContents) CheckContents(problem.Shape, cuSeqlensQ!, cuSeqlensK!, maxSeqlenQ, maxSeqlenK);
        return problem;
    }

    /// <summary>Validates a varlen backward call and returns its problem description.</summary>
    public static VarlenProblem ValidateBackward(DeviceTensor? dOut, DeviceTensor? q, DeviceTensor? k, DeviceTensor? v,
        DeviceTensor? output, DeviceTensor? lse, DeviceTensor<int>? cuSeqlensQ, DeviceTensor<int>? cuSeqlensK,
        int maxSeqlenQ, int maxSeqlenK, AttentionOptions? options)
    {
        ArgumentNullException.ThrowIfNull(options);
        AttentionValidator.CheckLive(dOut, nameof(dOut));
        AttentionValidator.CheckLive(q, nameof(q));
        AttentionValidator.CheckLive(k, nameof(k));
        AttentionValidator.CheckLive(v, nameof(v));
        AttentionValidator.CheckLive(output, nameof(output));
        if (lse is null)
            throw new ArgumentNullException(nameof(lse),
                "lse must not be null: the backward needs the forward's log-sum-exp (ForwardVarlen with AttentionOptions { ReturnLse = true }).");
        AttentionValidator.CheckLive(lse, nameof(lse));
        var problem = CheckPacked(q, k, v, cuSeqlensQ, cuSeqlensK, maxSeqlenQ, maxSeqlenK, options);
        AttentionValidator.CheckDestination(output, q, nameof(q), nameof(output));
        AttentionValidator.CheckDestination(dOut, q, nameof(q), nameof(dOut));
        CheckLse(lse, q, problem.Shape, nameof(lse));
        if (options.ValidateIndexContents) CheckContents(problem.Shape, cuSeqlensQ!, cuSeqlensK!, maxSeqlenQ, maxSeqlenK);
        return problem;
    }

    /// <summary>A varlen log-sum-exp: fp32 (heads_q, total_q) on q's device.</summary>
    public static void CheckLse(DeviceTensor lse, DeviceTensor q, VarlenShape shape, string name)
    {
        AttentionValidator.CheckLive(lse, name);
        AttentionValidator.CheckSameDevice(lse, q, name);
        if (lse.DType != DType.Float32)
            throw new ArgumentException($"{name} must be {DType.Float32}; actual {lse.DType}.", name);
        ReadOnlySpan<int> expected = [shape.HeadsQ, shape.TotalQ];
        if (!lse.Shape.SequenceEqual(expected))
            throw new ArgumentException(
                $"{name} must have shape (heads_q, total_q) = {DeviceTensor.FormatShape(expected)}; actual {lse.ShapeText}.", name);
    }

    private static VarlenProblem CheckPacked(DeviceTensor q, DeviceTensor k, DeviceTensor v,
        DeviceTensor<int>? cuSeqlensQ, DeviceTensor<int>? cuSeqlensK, int maxSeqlenQ, int maxSeqlenK, AttentionOptions options)
    {
        AttentionValidator.CheckDefaultLayout(options, "varlen");
        AttentionValidator.CheckFloatingPoint(q, nameof(q));
        IndexChecks.CheckRank(q, 3, PackedLayout, nameof(q));
        IndexChecks.CheckRank(k, 3, PackedLayout, nameof(k));
        IndexChecks.CheckRank(v, 3, PackedLayout, nameof(v));
        int totalQ = q.Shape[0], headsQ = q.Shape[1], headDim = q.Shape[2];
        AttentionValidator.CheckAtLeastOne(q, 1, "heads", nameof(q));
        AttentionValidator.CheckAtMost(q, 1, "heads", AttentionValidator.MaxGridDimension, nameof(q));
        IndexChecks.CheckHeadDim(q, nameof(q));

        AttentionValidator.CheckSameDevice(k, q, nameof(k));
        AttentionValidator.CheckSameDtype(k, q, nameof(k));
        IndexChecks.CheckDimension(k, 2, "head_dim", headDim, "q's", nameof(k));
        AttentionValidator.CheckAtLeastOne(k, 1, "heads", nameof(k));
        IndexChecks.CheckGroups(headsQ, k.Shape[1], nameof(k));
        AttentionValidator.CheckSameDevice(v, q, nameof(v));
        AttentionValidator.CheckSameDtype(v, q, nameof(v));
        IndexChecks.CheckSameShape(v, k, nameof(k), nameof(v));
        int totalK = k.Shape[0], headsKv = k.Shape[1];

        AttentionValidator.CheckLive(cuSeqlensQ, nameof(cuSeqlensQ));
        IndexChecks.CheckRank(cuSeqlensQ, 1, "(batch + 1)", nameof(cuSeqlensQ));
        int batch = cuSeqlensQ.Shape[0] - 1;
        if (batch < 1 || batch > AttentionValidator.MaxGridDimension)
            throw new ArgumentException(
                $"{nameof(cuSeqlensQ)} must have batch + 1 entries with batch in [1, {AttentionValidator.MaxGridDimension}]; actual {cuSeqlensQ.Shape[0]} entries.",
                nameof(cuSeqlensQ));
        IndexChecks.CheckIndexTensor(cuSeqlensQ, q, [batch + 1], "(batch + 1)", nameof(cuSeqlensQ));
        IndexChecks.CheckIndexTensor(cuSeqlensK, q, [batch + 1], "(batch + 1), cuSeqlensQ's", nameof(cuSeqlensK));
        if (maxSeqlenQ < 0)
            throw new ArgumentOutOfRangeException(nameof(maxSeqlenQ), maxSeqlenQ, $"maxSeqlenQ must be at least 0; actual {maxSeqlenQ}.");
        if (maxSeqlenK < 0)
            throw new ArgumentOutOfRangeException(nameof(maxSeqlenK), maxSeqlenK, $"maxSeqlenK must be at least 0; actual {maxSeqlenK}.");

        AttentionValidator.CheckOptions(options);
        AttentionValidator.CheckAlibiSlopes(options, q, batch, headsQ, Math.Min(maxSeqlenQ, totalQ), Math.Min(maxSeqlenK, totalK));
        // a maximum beyond the totals only widens the launch grid with groups that exit
        var shape = new VarlenShape(batch, totalQ, totalK, Math.Min(maxSeqlenQ, totalQ), Math.Min(maxSeqlenK, totalK), headsQ, headsKv, headDim);
        var settings = new AttentionSettings(options.ResolveScale(headDim), options.Causal,
            options.CausalAlignment == CausalAlignment.BottomRight, options.Deterministic, options.WindowLeft, options.WindowRight,
            options.Dropout, options.Fp32Math);
        return new VarlenProblem(shape, settings);
    }

    /// <summary>Reads cu_seqlens back (waiting for queued work) and checks them against the totals and the maxima.</summary>
    private static void CheckContents(VarlenShape shape, DeviceTensor<int> cuSeqlensQ, DeviceTensor<int> cuSeqlensK,
        int maxSeqlenQ, int maxSeqlenK)
    {
        CheckCumulative(IndexChecks.Read(cuSeqlensQ), shape.TotalQ, "total_q (q dimension 0)", nameof(cuSeqlensQ), maxSeqlenQ, nameof(maxSeqlenQ));
        CheckCumulative(IndexChecks.Read(cuSeqlensK), shape.TotalK, "total_k (k dimension 0)", nameof(cuSeqlensK), maxSeqlenK, nameof(maxSeqlenK));
    }

    private static void CheckCumulative(int[] cu, int total, string totalName, string name, int max, string maxName)
    {
        if (cu[0] != 0)
            throw new ArgumentException($"{name}[0] must be 0; actual {cu[0]}.", name);
        for (int i = 0; i + 1 < cu.Length; i++)
        {
            int length = cu[i + 1] - cu[i];
            if (length < 0)
                throw new ArgumentException(
                    $"{name} must not decrease; actual {name}[{i}] = {cu[i]} > {name}[{i + 1}] = {cu[i + 1]}.", name);
            if (length > max)
                throw new ArgumentOutOfRangeException(maxName, max,
                    $"{maxName} must be at least the longest sequence; sequence {i} has {length} tokens ({name}[{i + 1}] − {name}[{i}]), {maxName} is {max}.");
        }
        if (cu[^1] != total)
            throw new ArgumentException($"{name}[{cu.Length - 1}] must equal {totalName} = {total}; actual {cu[^1]}.", name);
    }
}
