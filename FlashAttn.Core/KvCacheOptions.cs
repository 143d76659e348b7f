namespace FlashAttn;

/// <summary>
/// The optional tensors of <see cref="FlashAttention.ForwardWithKvCache{T}"/>: keys and values to append, how sequences
/// find their cache rows or pages, and the split-KV count.
/// </summary>
/// <typeparam name="T">The element type of q and the cache.</typeparam>
public sealed record KvCacheOptions<T> where T : unmanaged
{
    /// <summary>
    /// Keys to append, (batch, s_new, heads_kv, head_dim): written into the cache at positions cacheSeqlens[b] …
    /// cacheSeqlens[b] + s_new − 1 of each sequence before it attends. Give <see cref="VNew"/> with it; null for none.
    /// </summary>
    public DeviceTensor<T>? KNew { get; init; }

    /// <summary>Values to append, <see cref="KNew"/>'s shape; null for none.</summary>
    public DeviceTensor<T>? VNew { get; init; }

    /// <summary>
    /// Contiguous caches only: int32 (batch), the cache row (dimension 0 of the cache) of each sequence; null means
    /// row b for sequence b.
    /// </summary>
    public DeviceTensor<int>? CacheBatchIndex { get; init; }

    /// <summary>
    /// Paged caches: int32 (batch, max_blocks), the pages of each sequence in order. With it the cache tensors are
    /// (num_pages, page_size, heads_kv, head_dim) and page_size must be a power of two ≥ 16.
    /// </summary>
    public DeviceTensor<int>? BlockTable { get; init; }

    /// <summary>
    /// How many ways the GPU kernels split each sequence's keys (flash-decoding), 1…64; 0 (the default) lets them
    /// choose from the work and the multiprocessors. Results do not depend on it beyond rounding; the CPU path ignores it.
    /// </summary>
    public int Splits { get; init; }
}
