namespace FlashAttn.Dispatch;

/// <summary>
/// Shape and dtype checks of the int32 index tensors of varlen and KV-cache calls (cu_seqlens, cache lengths, batch
/// indices, block tables), with the conventions of <see cref="AttentionValidator"/>.
/// </summary>
internal static class IndexChecks
{
    /// <summary>Checks that <paramref name="tensor"/> is live, int32, on <paramref name="q"/>'s device, with shape <paramref name="expected"/>.</summary>
    public static void CheckIndexTensor(DeviceTensor? tensor, DeviceTensor q, ReadOnlySpan<int> expected, string meaning, string name)
    {
        AttentionValidator.CheckLive(tensor, name);
        AttentionValidator.CheckSameDevice(tensor, q, name);
        if (tensor.DType != DType.Int32)
            throw new ArgumentException($"{name} must be {DType.Int32}; actual {tensor.DType}.", name);
        if (!tensor.Shape.SequenceEqual(expected))
            throw new ArgumentException(
                $"{name} must have shape {meaning} = {DeviceTensor.FormatShape(expected)}; actual {tensor.ShapeText}.", name);
    }

    /// <summary>Checks that <paramref name="tensor"/> has rank <paramref name="rank"/> (<paramref name="layout"/> names the dimensions).</summary>
    public static void CheckRank(DeviceTensor tensor, int rank, string layout, string name)
    {
        if (tensor.Rank != rank)
            throw new ArgumentException($"{name} must have rank {rank} {layout}; actual rank {tensor.Rank} with shape {tensor.ShapeText}.", name);
    }

    /// <summary>Checks dimension <paramref name="dim"/> of <paramref name="tensor"/> against the <paramref name="expected"/> value of <paramref name="source"/>.</summary>
    public static void CheckDimension(DeviceTensor tensor, int dim, string what, int expected, string source, string name)
    {
        if (tensor.Shape[dim] != expected)
            throw new ArgumentException(
                $"{name} {what} (dimension {dim}) must match {source}: expected {expected}, actual {tensor.Shape[dim]} (shape {tensor.ShapeText}).", name);
    }

    /// <summary>Checks head_dim (last dimension of q) is in [1, <see cref="AttentionValidator.MaxHeadDim"/>].</summary>
    public static void CheckHeadDim(DeviceTensor q, string name)
    {
        int headDim = q.Shape[^1];
        if (headDim < 1 || headDim > AttentionValidator.MaxHeadDim)
            throw new ArgumentException(
                $"{name} head_dim (dimension {q.Rank - 1}) must be in [1, {AttentionValidator.MaxHeadDim}]; actual {headDim} (shape {q.ShapeText}).", name);
    }

    /// <summary>Checks that <paramref name="headsKv"/> divides <paramref name="headsQ"/> (grouped-query attention).</summary>
    public static void CheckGroups(int headsQ, int headsKv, string name)
    {
        if (headsQ % headsKv != 0)
            throw new ArgumentException(
                $"{name} heads must divide q heads ({headsQ}) for grouped-query attention; actual {headsKv}.", name);
    }

    /// <summary>Checks that <paramref name="tensor"/> has <paramref name="like"/>'s shape.</summary>
    public static void CheckSameShape(DeviceTensor tensor, DeviceTensor like, string likeName, string name)
    {
        if (!tensor.Shape.SequenceEqual(like.Shape))
            throw new ArgumentException($"{name} must have {likeName}'s shape {like.ShapeText}; actual {tensor.ShapeText}.", name);
    }

    /// <summary>Reads an int32 index tensor back to the host (waits for the device's queued work).</summary>
    public static int[] Read(DeviceTensor<int> tensor) => tensor.ToArray();
}
