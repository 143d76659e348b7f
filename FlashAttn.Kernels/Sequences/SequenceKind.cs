namespace FlashAttn.Kernels;

/// <summary>
/// How a call's sequences are laid out, compiled into the kernels (a <see cref="Compute.SpecializedValue{T}"/>), so a
/// dense call pays nothing for the others.
/// </summary>
internal static class SequenceKind
{
    /// <summary>(b, s, h, d) tensors, every sequence of the same lengths s_q and s_k.</summary>
    public const int Dense = 0;

    /// <summary>Packed (total, h, d) tensors with cumulative lengths cu_seqlens_q and cu_seqlens_k (b + 1 each).</summary>
    public const int Varlen = 1;

    /// <summary>Dense queries against a KV cache (b_cache, s_cache, h_kv, d): per-sequence lengths, an optional batch index.</summary>
    public const int KvCache = 2;

    /// <summary>Dense queries against a paged KV cache (pages, page_size, h_kv, d) through a block table.</summary>
    public const int PagedKvCache = 3;
}
