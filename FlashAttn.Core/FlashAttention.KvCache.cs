using FlashAttn.Compute;
using FlashAttn.Dispatch;
using FlashAttn.Kernels;

namespace FlashAttn;

public static partial class FlashAttention
{
    /// <summary>
    /// Attention of new queries against a KV cache (flash-attn's <c>flash_attn_with_kvcache</c>), for decoding and
    /// chunked prefill. If <see cref="KvCacheOptions{T}.KNew"/> and <see cref="KvCacheOptions{T}.VNew"/> are given they are
    /// first written into the cache at positions cacheSeqlens[b] … cacheSeqlens[b] + s_new − 1 of each sequence
    /// (cacheSeqlens itself is not changed: add s_new yourself); then sequence b attends over its cacheSeqlens[b] + s_new
    /// keys. Causal masks are bottom-right: query i sees keys up to i + keys − s_q.
    /// </summary>
    /// <param name="q">Queries (batch, s_q, heads_q, head_dim).</param>
    /// <param name="kCache">The key cache: contiguous (batch_cache, seqlen_cache, heads_kv, head_dim), or paged
    /// (num_pages, page_size, heads_kv, head_dim) with <see cref="KvCacheOptions{T}.BlockTable"/>. Written by the call when
    /// new keys are given.</param>
    /// <param name="vCache">The value cache, kCache's shape.</param>
    /// <param name="cacheSeqlens">int32 (batch): keys already cached per sequence.</param>
    /// <param name="cache">New keys and values, batch index or block table, split count; null for none.</param>
    /// <param name="options">Scale, causal mask, log-sum-exp, index validation; null for <see cref="AttentionOptions.Default"/>.</param>
    /// <returns>The output (batch, s_q, heads_q, head_dim) and, with <see cref="AttentionOptions.ReturnLse"/>, the
    /// log-sum-exp (batch, heads_q, s_q) fp32; owned by the caller. A sequence with no keys gets output 0 and
    /// log-sum-exp +∞.</returns>
    /// <exception cref="ArgumentNullException">A required tensor is null.</exception>
    /// <exception cref="ArgumentException">A tensor is disposed, has the wrong rank, shape, dtype or device; kNew and vNew
    /// are not given together; a block table and a batch index are both given; a paged cache's page size is not a power of
    /// two ≥ 16; the new keys do not fit; or (with <see cref="AttentionOptions.ValidateIndexContents"/>) an index is out of range.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The split count is outside [0, 64], or the scale is not finite and positive.</exception>
    public static AttentionResult<T> ForwardWithKvCache<T>(DeviceTensor<T> q, DeviceTensor<T> kCache, DeviceTensor<T> vCache,
        DeviceTensor<int> cacheSeqlens, KvCacheOptions<T>? cache = null, AttentionOptions? options = null) where T : unmanaged
        => ForwardWithKvCache(q, kCache, vCache, cacheSeqlens, Plain, cache, options);

    /// <summary>
    /// <see cref="ForwardWithKvCache{T}"/> with score and mask modifiers (e.g. ALiBi or a relative bias while decoding):
    /// each sequence is <see cref="ScorePosition.Batch"/>, keys are positions in its cache (cached, then new), and the
    /// diagonal is bottom-right. No dropout (inference).
    /// </summary>
    /// <param name="q">Queries (batch, s_q, heads_q, head_dim).</param>
    /// <param name="kCache">The key cache, contiguous or paged (see <see cref="ForwardWithKvCache{T}"/>).</param>
    /// <param name="vCache">The value cache, kCache's shape.</param>
    /// <param name="cacheSeqlens">int32 (batch): keys already cached per sequence.</param>
    /// <param name="modifiers">The score and mask modifiers.</param>
    /// <param name="cache">New keys and values, batch index or block table, split count; null for none.</param>
    /// <param name="options">Scale, masks, built-in modifiers, log-sum-exp, index validation; null for <see cref="AttentionOptions.Default"/>.</param>
    /// <returns>The output (batch, s_q, heads_q, head_dim) and, with <see cref="AttentionOptions.ReturnLse"/>, the log-sum-exp (batch, heads_q, s_q).</returns>
    /// <exception cref="ArgumentNullException">A required tensor is null.</exception>
    /// <exception cref="ArgumentException">As <see cref="ForwardWithKvCache{T}"/>; also when options asks for dropout or the ALiBi slopes do not fit.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The split count or an option value is out of range.</exception>
    public static AttentionResult<T> ForwardWithKvCache<T, TScore, TMask>(DeviceTensor<T> q, DeviceTensor<T> kCache, DeviceTensor<T> vCache,
        DeviceTensor<int> cacheSeqlens, AttentionModifiers<TScore, TMask> modifiers, KvCacheOptions<T>? cache = null, AttentionOptions? options = null)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        cache ??= new KvCacheOptions<T>();
        options ??= AttentionOptions.Default;
        var problem = KvCacheValidator.Validate(q, kCache, vCache, cacheSeqlens, cache, options);
        var device = q.Device;
        var shape = problem.Shape;
        var index = new KvCacheIndex(cacheSeqlens.View, ViewOrEmpty(cache.CacheBatchIndex), ViewOrEmpty(cache.BlockTable));
        return WithOutputs<T>(device, q.GetShape(), [shape.Batch, shape.HeadsQ, shape.SeqLenQ], options.ReturnLse,
            (output, lse) => BuiltInModifiers.Compose(options, shape.HeadsQ, modifiers, new KvCacheForwardCall<T>(device, problem, q.View,
                kCache.View, vCache.View, ViewOrEmpty(cache.KNew), ViewOrEmpty(cache.VNew), index, output.View, lse.View)));
    }

    /// <summary>An optional tensor as a kernel argument: an empty view for none (or for s_new = 0).</summary>
    private static ArrayView<TElement> ViewOrEmpty<TElement>(DeviceTensor<TElement>? tensor) where TElement : unmanaged
        => tensor is null || tensor.Length == 0 ? default : tensor.View;
}
