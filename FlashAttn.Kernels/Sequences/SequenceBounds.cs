using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// Where one sequence of a call lives and how long it is: its queries are positions [0, <see cref="QueryLength"/>) at
/// (<see cref="QueryBatch"/>, <see cref="QueryOffset"/> + position) of the q layout, its keys [0, <see cref="KeyLength"/>)
/// at (<see cref="KeyBatch"/>, <see cref="KeyOffset"/> + position) of the k layout (paged caches map keys through
/// <see cref="SequenceInfo.KeyRowStart"/>). Built by <see cref="SequenceInfo.Bounds"/>.
/// </summary>
internal readonly struct SequenceBounds(int index, int queryBatch, int queryOffset, int queryLength, int keyBatch, int keyOffset, int keyLength)
{
    /// <summary>The sequence's index in the call (the grid's batch coordinate).</summary>
    public readonly int Index = index;

    /// <summary>Batch coordinate of its queries (and outputs, L and D) in their layouts: 0 for packed tensors.</summary>
    public readonly int QueryBatch = queryBatch;

    /// <summary>Position of its first query in the layout: cu_seqlens_q[i] for packed tensors, else 0.</summary>
    public readonly int QueryOffset = queryOffset;

    /// <summary>Queries of the sequence.</summary>
    public readonly int QueryLength = queryLength;

    /// <summary>Batch coordinate of its keys in the k layout: the cache entry for a KV cache, 0 for packed tensors.</summary>
    public readonly int KeyBatch = keyBatch;

    /// <summary>Position of its first key in the layout: cu_seqlens_k[i] for packed tensors, else 0.</summary>
    public readonly int KeyOffset = keyOffset;

    /// <summary>Keys the sequence attends over (for a KV cache: the cached ones and the appended ones).</summary>
    public readonly int KeyLength = keyLength;

    /// <summary>The sequence's mask: its own key count, causal diagonal and window (bottom-right: s_k − s_q of this sequence).</summary>
    public AttentionMask Mask(AttentionParams p, bool causal)
        => AttentionMask.Of(KeyLength, p.CausalBottomRight ? KeyLength - QueryLength : 0, p, causal);

    /// <summary>Index of column 0 of query <paramref name="position"/>, head <paramref name="head"/> in q-like tensors.</summary>
    public long QueryRowStart(TokenLayout layout, int position, int head) => layout.RowStart(QueryBatch, QueryOffset + position, head);

    /// <summary>Index of the (L or D) statistic of query <paramref name="position"/>, head <paramref name="head"/>.</summary>
    public long StatisticIndex(RowStatisticsLayout layout, int head, int position) => layout.Index(QueryBatch, head, QueryOffset + position);

    /// <summary>The dense bounds: sequence <paramref name="index"/> is batch <paramref name="index"/>, of the call's lengths.</summary>
    public static SequenceBounds Dense(int index, AttentionParams p) => new(index, index, 0, p.SeqLenQ, index, 0, p.SeqLenK);

    /// <summary>Lengths read from device arrays are clamped to what the tensors hold, so a bad index array can give wrong
    /// rows but never an access outside a tensor.</summary>
    public static int Clamp(int value, int low, int high) => XMath.Max(low, XMath.Min(value, high));
}
