namespace FlashAttn.Kernels;

/// <summary>
/// Sizes of an attention call against a KV cache. q is (Batch, SeqLenQ, HeadsQ, HeadDim); the cache is
/// (CacheEntries, CacheLength, HeadsKV, HeadDim) when contiguous, or (pages = CacheEntries, PageSize, HeadsKV, HeadDim)
/// read through a block table (Batch, BlocksPerSequence) when paged; new keys and values, if any, are
/// (Batch, NewKeys, HeadsKV, HeadDim).
/// </summary>
/// <param name="Batch">Sequences b.</param>
/// <param name="SeqLenQ">Queries per sequence s_q (1 for decoding).</param>
/// <param name="HeadsQ">Query heads h_q (a multiple of <paramref name="HeadsKV"/>).</param>
/// <param name="HeadsKV">Key/value heads h_kv.</param>
/// <param name="HeadDim">Head dimension d, 1…256.</param>
/// <param name="CacheEntries">Contiguous: cache rows b_cache; paged: pages in the pool.</param>
/// <param name="CacheLength">Contiguous: s_cache, the keys a row holds; paged: the page size.</param>
/// <param name="Paged">True when the cache is paged.</param>
/// <param name="BlocksPerSequence">Paged: columns of the block table; 0 otherwise.</param>
/// <param name="NewKeys">Keys appended by the call (s_new; 0 for none).</param>
public sealed record KvCacheShape(int Batch, int SeqLenQ, int HeadsQ, int HeadsKV, int HeadDim,
    int CacheEntries, int CacheLength, bool Paged, int BlocksPerSequence, int NewKeys)
{
    /// <summary>Keys a sequence can hold: s_cache, or pages per sequence × page size.</summary>
    public int Capacity => Paged ? BlocksPerSequence * CacheLength : CacheLength;

    /// <summary>The layouts: q as (b, s_q, h_q, d), the cache as (entries, s_cache or page size, h_kv, d).</summary>
    public AttentionShape Flattened => new(Batch, SeqLenQ, CacheLength, HeadsQ, HeadsKV, HeadDim);
}

/// <summary>
/// The int32 device arrays of a KV-cache call. <paramref name="CacheSeqlens"/> (b): keys already cached per sequence (the
/// call appends after them and attends over them plus the new ones); <paramref name="CacheBatchIndex"/> (b) or empty:
/// the cache row of each sequence (contiguous caches only); <paramref name="BlockTable"/> (b, blocks) or empty: the pages
/// of each sequence, in order.
/// </summary>
public readonly record struct KvCacheIndex(Compute.ArrayView<int> CacheSeqlens, Compute.ArrayView<int> CacheBatchIndex, Compute.ArrayView<int> BlockTable);
