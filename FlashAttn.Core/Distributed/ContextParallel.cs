namespace FlashAttn.Distributed;

/// <summary>
/// Context parallelism (ring attention) for one attention call: the query, key and value sequences are sharded over
/// the ranks of <see cref="Group"/> by <see cref="Sharding"/>; each rank passes its own shards (same shapes on every
/// rank), key/value shards travel around the ring while each rank attends its queries to them, and partial results are
/// merged by log-sum-exp. The result equals single-device attention over the whole sequence (self-attention: the
/// global query and key sequences are the same length).
/// </summary>
/// <param name="Group">This rank's process group.</param>
/// <param name="Sharding">How the global sequence is split among the ranks; <see cref="SequenceSharding.ZigZag"/> by default.</param>
public sealed record ContextParallel(ProcessGroup Group, SequenceSharding Sharding = SequenceSharding.ZigZag)
{
    /// <summary>Chunks of the global sequence each rank holds (2 for zig-zag, 1 for contiguous).</summary>
    public int ChunksPerRank => Sharding == SequenceSharding.ZigZag ? 2 : 1;

    /// <summary>
    /// The global positions of this rank's shard in the order the shard holds them, for a global sequence of
    /// <paramref name="globalLength"/>: gather rows of the global q, k and v (and scatter the output) by these.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="globalLength"/> is not a positive multiple of the chunk count.</exception>
    public int[] LocalPositions(int globalLength) => Positions(globalLength, Group.Rank, Group.Size, Sharding);

    /// <summary>The global positions held by rank <paramref name="rank"/> of <paramref name="size"/> (see <see cref="LocalPositions"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range, or <paramref name="globalLength"/> is not a positive multiple of the chunk count.</exception>
    public static int[] Positions(int globalLength, int rank, int size, SequenceSharding sharding)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, size);
        int chunks = size * (sharding == SequenceSharding.ZigZag ? 2 : 1);
        if (globalLength < chunks || globalLength % chunks != 0)
            throw new ArgumentOutOfRangeException(nameof(globalLength), globalLength,
                $"The global sequence length must be a positive multiple of {chunks} ({size} ranks, {sharding} sharding).");
        int chunk = globalLength / chunks;
        var positions = new List<int>(globalLength / size);
        foreach (int c in sharding == SequenceSharding.ZigZag ? [rank, chunks - 1 - rank] : new[] { rank })
            for (int i = 0; i < chunk; i++) positions.Add(c * chunk + i);
        return positions.ToArray();
    }
}
