using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// Appends a KV-cache call's new keys and values: element (b, j, h, x) of kNew (b, s_new, h_kv, d) goes to key position
/// cache_seqlens[b] + j of sequence b (its cache row, or its page through the block table). Positions past the
/// sequence's capacity are dropped (the validator refuses them when it reads the lengths). One thread per element,
/// grid-stride.
/// </summary>
internal static class KvCacheAppendKernel
{
    /// <summary>The kernel: <paramref name="p"/> has the cache's layout (s_k = s_cache or the page size).</summary>
    public static void Append<T>(ArrayView<T> kNew, ArrayView<T> vNew, ArrayView<T> kCache, ArrayView<T> vCache,
        AttentionParams p, SequenceInfo sequences, SpecializedValue<int> sequenceKind) where T : unmanaged
    {
        int gridThreads = Grid.DimX * Group.DimX, newKeys = sequences.NewKeys;
        var cacheLayout = TokenLayout.KeysValues(p);
        int capacity = sequenceKind.Value == SequenceKind.PagedKvCache ? sequences.BlocksPerSequence * p.SeqLenK : p.SeqLenK;
        long count = TokenLayout.Of(AttentionLayout.BatchSeqHeadDim, newKeys, p.HeadsKV, p.HeadDim).Elements(p.Batch);
        for (long e = Grid.GlobalIndexX; e < count; e += gridThreads)
        {
            // kNew is (b, s_new, h_kv, d): element e is (batch, j, head, x) of the walk
            int x = TokenLayout.Locate(e, newKeys, p.HeadsKV, p.HeadDim, out int batch, out int j, out int head);
            int position = sequences.CacheSeqlens[batch] + j;
            if (position < 0 || position >= capacity) continue;
            var bounds = sequences.Bounds(batch, p, sequenceKind.Value);
            long target = sequences.KeyRowStart(cacheLayout, bounds, position, head, p, sequenceKind.Value) + x;
            kCache[target] = kNew[e];
            vCache[target] = vNew[e];
        }
    }
}
