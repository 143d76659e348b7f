using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;
using FlashAttn.Dispatch;
using FlashAttn.Kernels;

namespace FlashAttn.Cpu;

/// <summary>
/// KV-cache calls on the CPU path: the new keys and values are copied into the cache first, then each sequence is a
/// dense batch of one over its cached and new keys. A contiguous cache row is pointed at in place; a paged sequence's
/// pages are gathered into a temporary (in the storage dtype) first. q, output and the (b, h_q, s_q) log-sum-exp of
/// sequence b are contiguous, so they are pointed at too. The split count is a GPU concern and is ignored.
/// </summary>
internal sealed unsafe partial class CpuAttentionKernels
{
    public void ForwardKvCache<T, TScore, TMask>(Accelerator accelerator, KvCacheProblem problem, AttentionModifiers<TScore, TMask> modifiers,
        ArrayView<T> q, ArrayView<T> kCache, ArrayView<T> vCache, ArrayView<T> kNew, ArrayView<T> vNew, KvCacheIndex index,
        ArrayView<T> output, ArrayView<float> lse)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var shape = problem.Shape;
        int hq = shape.HeadsQ, hkv = shape.HeadsKV, d = shape.HeadDim, sq = shape.SeqLenQ;
        long row = (long)hkv * d;
        var cached = new int[shape.Batch];
        for (int b = 0; b < cached.Length; b++) cached[b] = index.CacheSeqlens[b];
        T* qs = q.Pointer, kc = kCache.Pointer, vc = vCache.Pointer, os = output.Pointer;
        float* ls = lse.Pointer;

        if (shape.NewKeys > 0)
        {
            T* kn = kNew.Pointer, vn = vNew.Pointer;
            Parallel.For(0, shape.Batch, _parallel, b =>
            {
                for (int j = 0; j < shape.NewKeys; j++)
                {
                    // positions past the capacity are dropped, as by the append kernel
                    int position = cached[b] + j;
                    if (position < 0 || position >= shape.Capacity) continue;
                    long source = ((long)b * shape.NewKeys + j) * row, target = CacheRow(shape, index, b, position) * row;
                    new ReadOnlySpan<T>(kn + source, (int)row).CopyTo(new Span<T>(kc + target, (int)row));
                    new ReadOnlySpan<T>(vn + source, (int)row).CopyTo(new Span<T>(vc + target, (int)row));
                }
            });
        }

        int KeysOf(int b) => Clamp(cached[b] + shape.NewKeys, 0, shape.Capacity);
        ForEachSequence(shape.Batch, b => (long)sq * Math.Max(1, KeysOf(b)), (b, parallel) =>
        {
            int keys = KeysOf(b);
            long qOffset = (long)b * sq * hq * d;
            float* sequenceLse = ls + (long)b * hq * sq;
            if (keys == 0)
            {
                new Span<T>(os + qOffset, sq * hq * d).Clear();
                new Span<float>(sequenceLse, hq * sq).Fill(float.PositiveInfinity);
                return;
            }
            var dense = SequenceProblem(problem.Settings, sq, keys, hq, hkv, d);
            var sequenceModifiers = Modifiers(dense, modifiers, sequence: b);
            if (!shape.Paged)
            {
                long first = CacheRow(shape, index, b, 0) * row;
                DenseForward(dense, sequenceModifiers, accelerator, qs + qOffset, kc + first, vc + first, os + qOffset, sequenceLse, parallel);
                return;
            }
            using var keysOfSequence = accelerator.Cache.Rent<T>(keys * row);
            using var valuesOfSequence = accelerator.Cache.Rent<T>(keys * row);
            T* kg = keysOfSequence.View.Pointer, vg = valuesOfSequence.View.Pointer;
            for (int start = 0; start < keys; start += shape.CacheLength)
            {
                int rows = Math.Min(shape.CacheLength, keys - start);
                long source = CacheRow(shape, index, b, start) * row, target = start * row;
                new ReadOnlySpan<T>(kc + source, (int)(rows * row)).CopyTo(new Span<T>(kg + target, (int)(rows * row)));
                new ReadOnlySpan<T>(vc + source, (int)(rows * row)).CopyTo(new Span<T>(vg + target, (int)(rows * row)));
            }
            DenseForward(dense, sequenceModifiers, accelerator, qs + qOffset, kg, vg, os + qOffset, sequenceLse, parallel);
        });
    }

    /// <summary>
    /// The token row (of the cache seen as (rows, h_kv, d)) of key <paramref name="position"/> of sequence <paramref name="b"/>:
    /// in its cache row (<see cref="KvCacheIndex.CacheBatchIndex"/> or b), or through its block table; indices clamped.
    /// </summary>
    private static long CacheRow(KvCacheShape shape, KvCacheIndex index, int b, int position)
    {
        if (shape.Paged)
        {
            int page = Clamp(index.BlockTable[(long)b * shape.BlocksPerSequence + position / shape.CacheLength], 0, shape.CacheEntries - 1);
            return (long)page * shape.CacheLength + position % shape.CacheLength;
        }
        int entry = Clamp(index.CacheBatchIndex.Length > 0 ? index.CacheBatchIndex[b] : b, 0, shape.CacheEntries - 1);
        return (long)entry * shape.CacheLength + position;
    }
}
