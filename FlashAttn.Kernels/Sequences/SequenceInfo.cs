using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// The device arrays that describe a call's sequences (<see cref="SequenceKind"/>), passed to the kernels beside
/// <see cref="AttentionParams"/>; the views a kind does not use are empty. The one place the per-sequence offsets,
/// lengths, cache entries and pages are read.
/// </summary>
/// <remarks>
/// Packed (varlen) calls run with <see cref="AttentionParams"/> of one batch whose s_q and s_k are the token totals, so
/// the (b, s, h, d) layouts become (total, h, d) and L, D become (h_q, total_q); every element-wise kernel then works
/// unchanged. KV-cache calls run with s_k = s_cache (contiguous) or page_size (paged: the cache is (pages, page_size,
/// h_kv, d), a page being one "batch" of the k layout).
/// </remarks>
internal struct SequenceInfo
{
    /// <summary>Varlen: cumulative query counts, sequences + 1 entries, from 0.</summary>
    public ArrayView<int> CuSeqlensQ;

    /// <summary>Varlen: cumulative key counts, sequences + 1 entries, from 0.</summary>
    public ArrayView<int> CuSeqlensK;

    /// <summary>KV cache: keys already cached per sequence (before this call's appended ones).</summary>
    public ArrayView<int> CacheSeqlens;

    /// <summary>KV cache: the cache entry of each sequence; empty for entry = sequence.</summary>
    public ArrayView<int> CacheBatchIndex;

    /// <summary>Paged KV cache: (sequences, <see cref="BlocksPerSequence"/>) page indices.</summary>
    public ArrayView<int> BlockTable;

    /// <summary>KV cache: keys this call appends after the cached ones (s_new), and attends over.</summary>
    public int NewKeys;

    /// <summary>KV cache: entries of the cache (b_cache), or pages of a paged cache.</summary>
    public int CacheEntries;

    /// <summary>Paged KV cache: columns of the block table.</summary>
    public int BlocksPerSequence;

    /// <summary>A dense call's (all views empty).</summary>
    public static SequenceInfo Dense => default;

    /// <summary>Where sequence <paramref name="index"/> lives and its lengths, for a call of kind <paramref name="kind"/>.</summary>
    public readonly SequenceBounds Bounds(int index, AttentionParams p, int kind)
    {
        if (kind == SequenceKind.Varlen)
        {
            // p.SeqLenQ, p.SeqLenK are the token totals
            int qStart = SequenceBounds.Clamp(CuSeqlensQ[index], 0, p.SeqLenQ);
            int qEnd = SequenceBounds.Clamp(CuSeqlensQ[index + 1], qStart, p.SeqLenQ);
            int kStart = SequenceBounds.Clamp(CuSeqlensK[index], 0, p.SeqLenK);
            int kEnd = SequenceBounds.Clamp(CuSeqlensK[index + 1], kStart, p.SeqLenK);
            return new SequenceBounds(index, 0, qStart, qEnd - qStart, 0, kStart, kEnd - kStart);
        }
        if (kind == SequenceKind.KvCache || kind == SequenceKind.PagedKvCache)
        {
            int capacity = kind == SequenceKind.PagedKvCache ? BlocksPerSequence * p.SeqLenK : p.SeqLenK;
            int keys = SequenceBounds.Clamp(CacheSeqlens[index] + NewKeys, 0, capacity);
            int entry = kind == SequenceKind.KvCache && CacheBatchIndex.Length > 0
                ? SequenceBounds.Clamp(CacheBatchIndex[index], 0, CacheEntries - 1) : index;
            return new SequenceBounds(index, index, 0, p.SeqLenQ, entry, 0, keys);
        }
        return SequenceBounds.Dense(index, p);
    }

    /// <summary>
    /// Index of column 0 of key <paramref name="position"/> of sequence <paramref name="bounds"/>, kv head
    /// <paramref name="kvHead"/>, in k-like tensors: through the block table for a paged cache (page_size = p.SeqLenK).
    /// </summary>
    public readonly long KeyRowStart(TokenLayout layout, SequenceBounds bounds, int position, int kvHead, AttentionParams p, int kind)
    {
        if (kind != SequenceKind.PagedKvCache)
            return layout.RowStart(bounds.KeyBatch, bounds.KeyOffset + position, kvHead);
        int page = SequenceBounds.Clamp(BlockTable[(long)bounds.Index * BlocksPerSequence + position / p.SeqLenK], 0, CacheEntries - 1);
        return layout.RowStart(page, position % p.SeqLenK, kvHead);
    }
}
