using System.Numerics;
using FlashAttn.Kernels;

namespace FlashAttn.Dispatch;

/// <summary>
/// Checks every argument of <see cref="FlashAttention.ForwardWithKvCache{T}"/> before anything is written or launched,
/// as <see cref="AttentionValidator"/> does for dense calls; with <see cref="AttentionOptions.ValidateIndexContents"/> it
/// also reads the cache lengths, batch indices and block table back and checks their values. Properties of
/// <see cref="KvCacheOptions{T}"/> are named "cache.KNew" etc. in ParamName.
/// </summary>
internal static class KvCacheValidator
{
    /// <summary>Most splits a call may ask for (as many as the automatic choice may pick).</summary>
    public const int MaxSplits = 64;

    /// <summary>Smallest page size of a paged cache (one key block of the kernels).</summary>
    public const int MinPageSize = 16;

    private const string KNew = "cache.KNew", VNew = "cache.VNew", BatchIndex = "cache.CacheBatchIndex", Blocks = "cache.BlockTable",
        Splits = "cache.Splits";

    /// <summary>Validates a KV-cache call and returns its problem description.</summary>
    public static KvCacheProblem Validate<T>(DeviceTensor<T>? q, DeviceTensor<T>? kCache, DeviceTensor<T>? vCache,
        DeviceTensor<int>? cacheSeqlens, KvCacheOptions<T> cache, AttentionOptions options) where T : unmanaged
    {
        AttentionValidator.CheckLive(q, nameof(q));
        AttentionValidator.CheckLive(kCache, nameof(kCache));
        AttentionValidator.CheckLive(vCache, nameof(vCache));
        AttentionValidator.CheckDefaultLayout(options, "KV-cache");
        AttentionValidator.CheckFloatingPoint(q, nameof(q));
        IndexChecks.CheckRank(q, 4, AttentionLayout.BatchSeqHeadDim.Describe(), nameof(q));
        int batch = q.Shape[0], seqQ = q.Shape[1], headsQ = q.Shape[2], headDim = q.Shape[3];
        AttentionValidator.CheckAtLeastOne(q, 0, "batch", nameof(q));
        AttentionValidator.CheckAtLeastOne(q, 1, "seqlen", nameof(q));
        AttentionValidator.CheckAtLeastOne(q, 2, "heads", nameof(q));
        AttentionValidator.CheckAtMost(q, 0, "batch", AttentionValidator.MaxGridDimension, nameof(q));
        AttentionValidator.CheckAtMost(q, 2, "heads", AttentionValidator.MaxGridDimension, nameof(q));
        IndexChecks.CheckHeadDim(q, nameof(q));

        IndexChecks.CheckRank(kCache, 4, "(batch_cache or num_pages, seqlen_cache or page_size, heads_kv, head_dim)", nameof(kCache));
        AttentionValidator.CheckSameDevice(kCache, q, nameof(kCache));
        AttentionValidator.CheckSameDtype(kCache, q, nameof(kCache));
        IndexChecks.CheckDimension(kCache, 3, "head_dim", headDim, "q's", nameof(kCache));
        AttentionValidator.CheckAtLeastOne(kCache, 0, "entries", nameof(kCache));
        AttentionValidator.CheckAtLeastOne(kCache, 1, "seqlen", nameof(kCache));
        AttentionValidator.CheckAtLeastOne(kCache, 2, "heads", nameof(kCache));
        int entries = kCache.Shape[0], cacheLength = kCache.Shape[1], headsKv = kCache.Shape[2];
        IndexChecks.CheckGroups(headsQ, headsKv, nameof(kCache));
        AttentionValidator.CheckSameDevice(vCache, q, nameof(vCache));
        AttentionValidator.CheckSameDtype(vCache, q, nameof(vCache));
        IndexChecks.CheckSameShape(vCache, kCache, nameof(kCache), nameof(vCache));

        IndexChecks.CheckIndexTensor(cacheSeqlens, q, [batch], "(batch)", nameof(cacheSeqlens));

        int newKeys = CheckNewKeys(q, cache, batch, headsKv, headDim);

        if (cache.BlockTable is not null && cache.CacheBatchIndex is not null)
            throw new ArgumentException(
                $"{BatchIndex} applies to contiguous caches only; a paged cache ({Blocks} given) finds each sequence's pages through the block table.",
                BatchIndex);
        bool paged = cache.BlockTable is not null;
        int blocksPerSequence = 0;
        if (paged)
        {
            var table = cache.BlockTable!;
            AttentionValidator.CheckLive(table, Blocks);
            IndexChecks.CheckRank(table, 2, "(batch, max_blocks)", Blocks);
            blocksPerSequence = table.Shape[1];
            IndexChecks.CheckIndexTensor(table, q, [batch, blocksPerSequence], "(batch, max_blocks)", Blocks);
            if (blocksPerSequence < 1)
                throw new ArgumentException($"{Blocks} must have at least one column (max_blocks); actual shape {table.ShapeText}.", Blocks);
            if (cacheLength < MinPageSize || !BitOperations.IsPow2(cacheLength))
                throw new ArgumentException(
                    $"kCache page_size (dimension 1 of a paged cache) must be a power of two ≥ {MinPageSize}; actual {cacheLength} (shape {kCache.ShapeText}).",
                    nameof(kCache));
        }
        else if (cache.CacheBatchIndex is { } index)
            IndexChecks.CheckIndexTensor(index, q, [batch], "(batch)", BatchIndex);
        else if (entries < batch)
            throw new ArgumentException(
                $"kCache batch_cache (dimension 0) must be at least q's batch {batch} without {BatchIndex} (sequence b uses row b); actual {entries} (shape {kCache.ShapeText}).",
                nameof(kCache));

        long capacity = paged ? (long)blocksPerSequence * cacheLength : cacheLength;
        if (capacity > int.MaxValue)
            throw new ArgumentException($"{Blocks}: max_blocks × page_size = {capacity} keys per sequence exceeds {int.MaxValue}.", Blocks);
        if (newKeys > capacity)
            throw new ArgumentException(
                $"{KNew} s_new (dimension 1) must fit a sequence's capacity of {capacity} keys; actual {newKeys}.", KNew);
        if (cache.Splits < 0 || cache.Splits > MaxSplits)
            throw new ArgumentOutOfRangeException(Splits, cache.Splits, $"{Splits} must be in [0, {MaxSplits}] (0: automatic); actual {cache.Splits}.");

        AttentionValidator.CheckOptions(options);
        if ((options.Causal || options.Windowed) && options.CausalAlignment != CausalAlignment.BottomRight)
            throw new ArgumentException(
                "options.CausalAlignment must be BottomRight for causal or windowed KV-cache calls (query i's diagonal is key i + keys − s_q); actual TopLeft.",
                nameof(options));
        if (options.Dropout.Enabled)
            throw new ArgumentException(
                $"options.Dropout must be off for KV-cache calls (inference, as flash-attn's flash_attn_with_kvcache); actual probability {options.Dropout.Probability}.",
                nameof(options));
        AttentionValidator.CheckAlibiSlopes(options, q, batch, headsQ, seqQ, capacity);

        var shape = new KvCacheShape(batch, seqQ, headsQ, headsKv, headDim, entries, cacheLength, paged, blocksPerSequence, newKeys);
        if (options.ValidateIndexContents) CheckContents(shape, cacheSeqlens!, cache);
        var settings = new AttentionSettings(options.ResolveScale(headDim), options.Causal, CausalBottomRight: true, options.Deterministic,
            options.WindowLeft, options.WindowRight, Fp32Math: options.Fp32Math);
        return new KvCacheProblem(shape, settings, cache.Splits);
    }

    /// <summary>kNew and vNew: both or neither, (batch, s_new, heads_kv, head_dim) like the cache; returns s_new (0 for none).</summary>
    private static int CheckNewKeys<T>(DeviceTensor<T> q, KvCacheOptions<T> cache, int batch, int headsKv, int headDim) where T : unmanaged
    {
        if (cache.KNew is null && cache.VNew is null) return 0;
        if (cache.KNew is null || cache.VNew is null)
        {
            string missing = cache.KNew is null ? KNew : VNew, given = cache.KNew is null ? VNew : KNew;
            throw new ArgumentException($"{missing} must be given together with {given} (both or neither); actual null.", missing);
        }
        var kNew = cache.KNew;
        AttentionValidator.CheckLive(kNew, KNew);
        AttentionValidator.CheckLive(cache.VNew, VNew);
        IndexChecks.CheckRank(kNew, 4, AttentionLayout.BatchSeqHeadDim.Describe(), KNew);
        AttentionValidator.CheckSameDevice(kNew, q, KNew);
        IndexChecks.CheckDimension(kNew, 0, "batch", batch, "q's", KNew);
        IndexChecks.CheckDimension(kNew, 2, "heads", headsKv, "kCache's", KNew);
        IndexChecks.CheckDimension(kNew, 3, "head_dim", headDim, "q's", KNew);
        AttentionValidator.CheckSameDevice(cache.VNew, q, VNew);
        IndexChecks.CheckSameShape(cache.VNew, kNew, KNew, VNew);
        return kNew.Shape[1];
    }

    /// <summary>Reads the index tensors back (waiting for queued work) and checks their values against the cache.</summary>
    private static void CheckContents<T>(KvCacheShape shape, DeviceTensor<int> cacheSeqlens, KvCacheOptions<T> cache) where T : unmanaged
    {
        int[] lengths = IndexChecks.Read(cacheSeqlens);
        for (int b = 0; b < lengths.Length; b++)
        {
            if (lengths[b] < 0)
                throw new ArgumentException($"{nameof(cacheSeqlens)}[{b}] must be at least 0; actual {lengths[b]}.", nameof(cacheSeqlens));
            if ((long)lengths[b] + shape.NewKeys > shape.Capacity)
                throw new ArgumentException(
                    $"{nameof(cacheSeqlens)}[{b}] + s_new must fit the capacity of {shape.Capacity} keys; actual {lengths[b]} + {shape.NewKeys}.",
                    nameof(cacheSeqlens));
        }
        if (cache.CacheBatchIndex is { } batchIndex)
        {
            int[] rows = IndexChecks.Read(batchIndex);
            for (int b = 0; b < rows.Length; b++)
                if (rows[b] < 0 || rows[b] >= shape.CacheEntries)
                    throw new ArgumentException(
                        $"{BatchIndex}[{b}] must be in [0, {shape.CacheEntries}) (kCache dimension 0); actual {rows[b]}.", BatchIndex);
        }
        if (cache.BlockTable is { } blockTable)
        {
            int[] pages = IndexChecks.Read(blockTable);
            for (int b = 0; b < shape.Batch; b++)
            {
                int used = (lengths[b] + shape.NewKeys + shape.CacheLength - 1) / shape.CacheLength;
                for (int column = 0; column < used; column++)
                {
                    int page = pages[b * shape.BlocksPerSequence + column];
                    if (page < 0 || page >= shape.CacheEntries)
                        throw new ArgumentException(
                            $"{Blocks}[{b}, {column}] must be a page in [0, {shape.CacheEntries}) (kCache dimension 0); actual {page}.", Blocks);
                }
            }
        }
    }
}
