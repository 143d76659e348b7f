namespace FlashAttn.Distributed;

/// <summary>
/// One attention call of a ring step: local query positions [QueryStart, QueryStart + QueryCount) against local
/// key positions [KeyStart, KeyStart + KeyCount) of the visiting shard, with or without the causal mask.
/// </summary>
internal readonly record struct RingBlock(int QueryStart, int QueryCount, int KeyStart, int KeyCount, bool Causal);

/// <summary>
/// What a rank computes against the key/value shard of each source rank: the one place the sharding's geometry is
/// written. A shard's chunks ascend in global position and are of equal length, so a rank against its own shard is
/// causal attention over the shard itself (its diagonal blocks causal, the zig-zag's later chunk seeing the earlier one
/// whole). Every rank computes its own shard first (step 0), over the whole shard, and at most one block per step.
/// </summary>
internal static class RingSchedule
{
    /// <summary>The block rank <paramref name="rank"/> computes against the shard of <paramref name="source"/>, or null
    /// when the causal mask hides that shard entirely.</summary>
    public static RingBlock? Block(SequenceSharding sharding, bool causal, int rank, int source, int localLength)
    {
        if (!causal) return new(0, localLength, 0, localLength, false);
        if (source == rank) return new(0, localLength, 0, localLength, true);
        if (sharding == SequenceSharding.Contiguous)
            return source < rank ? new(0, localLength, 0, localLength, false) : null;
        // zig-zag: rank r holds chunks r and 2n−1−r, the source s chunks s and 2n−1−s
        int half = localLength / 2;
        return source < rank
            ? new(0, localLength, 0, half, false)   // both query chunks follow chunk s, and precede chunk 2n−1−s
            : new(half, half, 0, localLength, false); // only chunk 2n−1−r follows either of the source's chunks
    }

    /// <summary>The rank whose shard rank <paramref name="rank"/> holds at ring step <paramref name="step"/> (shards move to the next rank each step).</summary>
    public static int Source(int rank, int step, int size) => ((rank - step) % size + size) % size;
}
