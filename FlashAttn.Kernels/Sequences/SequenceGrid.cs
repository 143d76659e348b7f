namespace FlashAttn.Kernels;

/// <summary>
/// The sequences of one launch as the host sees them: the device arrays (<see cref="Info"/>), their kind, how many
/// (the grid's z) and the longest query and key ranges (the grid's x covers <see cref="MaxQueries"/>).
/// </summary>
internal readonly record struct SequenceGrid(SequenceInfo Info, int Kind, int Count, int MaxQueries, int MaxKeys)
{
    /// <summary>A dense call: b sequences of s_q queries and s_k keys.</summary>
    public static SequenceGrid Dense(AttentionShape shape) => new(SequenceInfo.Dense, SequenceKind.Dense, shape.Batch, shape.SeqLenQ, shape.SeqLenK);

    /// <summary>True for the dense kind (the register-tiled fp32 kernels take only it).</summary>
    public bool IsDense => Kind == SequenceKind.Dense;
}
