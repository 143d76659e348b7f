using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;

namespace FlashAttn.Kernels;

public static partial class AttentionLauncher
{
    /// <summary>
    /// Variable-length forward over packed sequences (<see cref="VarlenShape"/>): sequence i attends from its queries to its
    /// own keys only, causal per sequence (<see cref="AttentionSettings.CausalBottomRight"/>: its own s_k − s_q). lse is
    /// (h_q, total_q); a sequence without keys gets O = 0, L = +∞; one without queries costs a group that exits.
    /// </summary>
    public static void ForwardVarlen<T>(Accelerator accelerator, VarlenShape shape, AttentionSettings settings,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<int> cuSeqlensQ, ArrayView<int> cuSeqlensK,
        ArrayView<T> output, ArrayView<float> lse) where T : unmanaged
        => ForwardVarlen(accelerator, shape, settings, Plain, q, k, v, cuSeqlensQ, cuSeqlensK, output, lse);

    /// <summary><see cref="ForwardVarlen{T}"/> with score and mask modifiers (positions within each sequence; the batch index
    /// of <see cref="ScorePosition"/> is the sequence's).</summary>
    public static void ForwardVarlen<T, TScore, TMask>(Accelerator accelerator, VarlenShape shape, AttentionSettings settings,
        AttentionModifiers<TScore, TMask> modifiers, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<int> cuSeqlensQ,
        ArrayView<int> cuSeqlensK, ArrayView<T> output, ArrayView<float> lse)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var storage = StorageChoice<T>.Instance;
        var flat = shape.Flattened;
        if (shape.Sequences <= 0 || IsEmpty(flat)) return;
        var call = new ForwardCall<T, TScore, TMask>(accelerator, flat, settings, Params(flat, settings),
            Varlen(shape, cuSeqlensQ, cuSeqlensK), 1, modifiers, q, k, v, output, lse);
        storage.Run(ref call, Fp32MathChoice.Resolve(settings.Fp32Math, accelerator, flat.HeadDim, backward: false));
    }

    /// <summary>Variable-length backward: shapes as <see cref="ForwardVarlen{T}"/>, gradients like their inputs.</summary>
    public static void BackwardVarlen<T>(Accelerator accelerator, VarlenShape shape, AttentionSettings settings,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> lse,
        ArrayView<int> cuSeqlensQ, ArrayView<int> cuSeqlensK, ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv) where T : unmanaged
        => BackwardVarlen(accelerator, shape, settings, Plain, q, k, v, output, dOutput, lse, cuSeqlensQ, cuSeqlensK, dq, dk, dv);

    /// <summary>The backward of <see cref="ForwardVarlen{T, TScore, TMask}"/>, with the forward's modifiers.</summary>
    public static void BackwardVarlen<T, TScore, TMask>(Accelerator accelerator, VarlenShape shape, AttentionSettings settings,
        AttentionModifiers<TScore, TMask> modifiers, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<T> dOutput,
        ArrayView<float> lse, ArrayView<int> cuSeqlensQ, ArrayView<int> cuSeqlensK, ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var storage = StorageChoice<T>.Instance;
        var flat = shape.Flattened;
        if (shape.Sequences <= 0 || IsEmpty(flat)) return;
        var call = new BackwardCall<T, TScore, TMask>(accelerator, flat, settings, Params(flat, settings),
            Varlen(shape, cuSeqlensQ, cuSeqlensK), modifiers, q, k, v, output, dOutput, lse, dq, dk, dv);
        storage.Run(ref call, Fp32MathChoice.Resolve(settings.Fp32Math, accelerator, flat.HeadDim, backward: true));
    }

    /// <summary>
    /// Forward against a KV cache (<see cref="KvCacheShape"/>, <see cref="KvCacheIndex"/>). First the new keys and values
    /// (kNew, vNew; empty views for none) are written into the cache after each sequence's cached ones, then each
    /// sequence attends over its cached and new keys (causal: bottom-right, query i sees keys up to i + s_k − s_q). The
    /// cache lengths are not changed: add s_new yourself. On tensor cores the query heads of a kv head share a group
    /// (GQA packing) and the key range is split <paramref name="splits"/> ways (0: <see cref="KvCacheSplits"/> chooses).
    /// </summary>
    public static void ForwardKvCache<T>(Accelerator accelerator, KvCacheShape shape, AttentionSettings settings, int splits,
        ArrayView<T> q, ArrayView<T> kCache, ArrayView<T> vCache, ArrayView<T> kNew, ArrayView<T> vNew, KvCacheIndex index,
        ArrayView<T> output, ArrayView<float> lse) where T : unmanaged
        => ForwardKvCache(accelerator, shape, settings, splits, Plain, q, kCache, vCache, kNew, vNew, index, output, lse);

    /// <summary><see cref="ForwardKvCache{T}"/> with score and mask modifiers (e.g. ALiBi while decoding).</summary>
    public static void ForwardKvCache<T, TScore, TMask>(Accelerator accelerator, KvCacheShape shape, AttentionSettings settings, int splits,
        AttentionModifiers<TScore, TMask> modifiers, ArrayView<T> q, ArrayView<T> kCache, ArrayView<T> vCache, ArrayView<T> kNew,
        ArrayView<T> vNew, KvCacheIndex index, ArrayView<T> output, ArrayView<float> lse)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var storage = StorageChoice<T>.Instance;
        if (settings.Dropout.Enabled)
            throw new NotSupportedException("KV-cache calls take no dropout (inference), as flash-attn's flash_attn_with_kvcache.");
        var flat = shape.Flattened;
        if (IsEmpty(flat)) return;
        var p = Params(flat, settings);
        var sequences = KvCache(shape, index);
        if (shape.NewKeys > 0)
            accelerator.Launch(KvCacheAppendKernel.Append<T>, Elementwise((long)shape.Batch * shape.NewKeys * shape.HeadsKV * shape.HeadDim),
                kNew, vNew, kCache, vCache, p, sequences.Info, Specialize(sequences.Kind));
        var call = new ForwardCall<T, TScore, TMask>(accelerator, flat, settings, p, sequences, splits, modifiers, q, kCache, vCache, output, lse);
        storage.Run(ref call, Fp32MathChoice.Resolve(settings.Fp32Math, accelerator, flat.HeadDim, backward: false));
    }

    /// <summary>
    /// The split-KV count for <paramref name="groups"/> groups of work (sequences × kv heads × row tiles) over
    /// <paramref name="keyBlocks"/> key blocks on <paramref name="multiprocessors"/> SMs. Decoding is bound by the cache's
    /// bytes, and one group's two-stage ring keeps too few of them in flight to saturate an SM's share of HBM: the count
    /// aims at <see cref="GroupsPerSmForBandwidth"/> groups per SM (both kernels' launch bounds keep two resident). None
    /// when the groups already fill those slots; else the fewest splits whose last wave of slots is at least 85% as full as
    /// the best count's, each split streaming at least <see cref="KeyBlocksPerSplit"/> key blocks (fewer only add combine
    /// work), at most 64.
    /// </summary>
    public static int KvCacheSplits(int groups, int keyBlocks, int multiprocessors)
    {
        int slots = multiprocessors * GroupsPerSmForBandwidth;
        if (groups <= 0 || keyBlocks <= 1 || groups >= slots * 8 / 10) return 1;
        int most = Math.Max(1, Math.Min(64, Math.Min(keyBlocks / KeyBlocksPerSplit, slots)));
        double Efficiency(int s)
        {
            double waves = (double)groups * s / slots;
            return waves / Math.Ceiling(waves);
        }
        double best = 0;
        for (int s = 1; s <= most; s++) best = Math.Max(best, Efficiency(s));
        for (int s = 1; s <= most; s++)
        {
            // counts that give the same blocks per split as a smaller one only add combine work
            if (s > 1 && CeilDiv(keyBlocks, s) == CeilDiv(keyBlocks, s - 1)) continue;
            if (Efficiency(s) >= 0.85 * best) return s;
        }
        return 1;
    }

    /// <summary>
    /// Resident groups per SM that decoding needs to reach HBM's bandwidth. Measured on the H200 (2026-12-05, 74db738,
    /// b = 16, h_kv = 8, 32k/128k cache): one group per SM read 3.3 TB/s, two 4.1–4.2, four 4.1–4.2.
    /// </summary>
    public const int GroupsPerSmForBandwidth = 2;

    /// <summary>Fewest key blocks a split streams, so that its pipeline fills and the combine stays small.</summary>
    public const int KeyBlocksPerSplit = 4;

    private static SequenceGrid Varlen(VarlenShape shape, ArrayView<int> cuSeqlensQ, ArrayView<int> cuSeqlensK)
        => new(new SequenceInfo { CuSeqlensQ = cuSeqlensQ, CuSeqlensK = cuSeqlensK }, SequenceKind.Varlen, shape.Sequences,
            shape.MaxSeqLenQ, shape.MaxSeqLenK);

    private static SequenceGrid KvCache(KvCacheShape shape, KvCacheIndex index)
        => new(new SequenceInfo
        {
            CacheSeqlens = index.CacheSeqlens,
            CacheBatchIndex = index.CacheBatchIndex,
            BlockTable = index.BlockTable,
            NewKeys = shape.NewKeys,
            CacheEntries = shape.CacheEntries,
            BlocksPerSequence = shape.BlocksPerSequence,
        }, shape.Paged ? SequenceKind.PagedKvCache : SequenceKind.KvCache, shape.Batch, shape.SeqLenQ, shape.Capacity);
}
