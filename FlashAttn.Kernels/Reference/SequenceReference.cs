namespace FlashAttn.Kernels.Reference;

/// <summary>
/// fp64 ground truth for the sequence kinds (varlen, KV cache, paged KV cache) on host arrays: each sequence is gathered
/// into a dense batch of one, run through <see cref="AttentionReference"/>, and scattered back, so the per-sequence
/// semantics are those of the dense reference by construction.
/// </summary>
public static class SequenceReference
{
    /// <summary>Varlen forward: q (total_q, h_q, d), k and v (total_k, h_kv, d), output like q, lse (h_q, total_q).</summary>
    public static void ForwardVarlen(VarlenShape shape, AttentionSettings settings, int[] cuSeqlensQ, int[] cuSeqlensK,
        double[] q, double[] k, double[] v, double[] output, double[] lse, ReferenceModifiers? modifiers = null)
    {
        for (int i = 0; i < shape.Sequences; i++)
        {
            var (dense, qs, ks) = Sequence(shape, cuSeqlensQ, cuSeqlensK, i);
            if (dense.SeqLenQ == 0) continue;
            var o = new double[Tokens(dense.SeqLenQ, shape.HeadsQ, shape.HeadDim)];
            var l = new double[(long)dense.HeadsQ * dense.SeqLenQ];
            AttentionReference.Forward(dense, settings, Gather(q, qs, dense.SeqLenQ, shape.HeadsQ, shape.HeadDim),
                Gather(k, ks, dense.SeqLenK, shape.HeadsKV, shape.HeadDim), Gather(v, ks, dense.SeqLenK, shape.HeadsKV, shape.HeadDim), o, l, modifiers?.ForSequence(i));
            Scatter(o, output, qs, dense.SeqLenQ, shape.HeadsQ, shape.HeadDim);
            for (int h = 0; h < shape.HeadsQ; h++)
                for (int r = 0; r < dense.SeqLenQ; r++)
                    lse[(long)h * shape.TotalQ + qs + r] = l[(long)h * dense.SeqLenQ + r];
        }
    }

    /// <summary>Varlen backward: gradients like their inputs (tokens outside every sequence get 0).</summary>
    public static void BackwardVarlen(VarlenShape shape, AttentionSettings settings, int[] cuSeqlensQ, int[] cuSeqlensK,
        double[] q, double[] k, double[] v, double[] dOutput, double[] dq, double[] dk, double[] dv, ReferenceModifiers? modifiers = null)
    {
        Array.Clear(dq);
        Array.Clear(dk);
        Array.Clear(dv);
        for (int i = 0; i < shape.Sequences; i++)
        {
            var (dense, qs, ks) = Sequence(shape, cuSeqlensQ, cuSeqlensK, i);
            if (dense.SeqLenQ == 0 || dense.SeqLenK == 0) continue;
            var gq = new double[Tokens(dense.SeqLenQ, shape.HeadsQ, shape.HeadDim)];
            var gk = new double[Tokens(dense.SeqLenK, shape.HeadsKV, shape.HeadDim)];
            var gv = new double[gk.Length];
            AttentionReference.Backward(dense, settings, Gather(q, qs, dense.SeqLenQ, shape.HeadsQ, shape.HeadDim),
                Gather(k, ks, dense.SeqLenK, shape.HeadsKV, shape.HeadDim), Gather(v, ks, dense.SeqLenK, shape.HeadsKV, shape.HeadDim),
                Gather(dOutput, qs, dense.SeqLenQ, shape.HeadsQ, shape.HeadDim), gq, gk, gv, modifiers?.ForSequence(i));
            Scatter(gq, dq, qs, dense.SeqLenQ, shape.HeadsQ, shape.HeadDim);
            Scatter(gk, dk, ks, dense.SeqLenK, shape.HeadsKV, shape.HeadDim);
            Scatter(gv, dv, ks, dense.SeqLenK, shape.HeadsKV, shape.HeadDim);
        }
    }

    /// <summary>
    /// What a KV-cache call does to the cache: new keys and values (b, s_new, h_kv, d) written at positions
    /// cache_seqlens[b] … of each sequence (its cache row, or its pages through the block table).
    /// </summary>
    public static void Append(KvCacheShape shape, int[] cacheSeqlens, int[]? cacheBatchIndex, int[]? blockTable,
        double[] kCache, double[] vCache, double[] kNew, double[] vNew)
    {
        int rowElements = shape.HeadsKV * shape.HeadDim;
        for (int b = 0; b < shape.Batch; b++)
            for (int j = 0; j < shape.NewKeys; j++)
            {
                long source = ((long)b * shape.NewKeys + j) * rowElements;
                long target = CacheRow(shape, cacheBatchIndex, blockTable, b, cacheSeqlens[b] + j) * rowElements;
                Array.Copy(kNew, source, kCache, target, rowElements);
                Array.Copy(vNew, source, vCache, target, rowElements);
            }
    }

    /// <summary>
    /// KV-cache forward over a cache that already holds the call's new keys (<see cref="Append"/>): sequence b attends over
    /// its cache_seqlens[b] + s_new keys. q (b, s_q, h_q, d), output like q, lse (b, h_q, s_q).
    /// </summary>
    public static void ForwardKvCache(KvCacheShape shape, AttentionSettings settings, int[] cacheSeqlens, int[]? cacheBatchIndex,
        int[]? blockTable, double[] q, double[] kCache, double[] vCache, double[] output, double[] lse, ReferenceModifiers? modifiers = null)
    {
        int rowElements = shape.HeadsKV * shape.HeadDim;
        long qElements = Tokens(shape.SeqLenQ, shape.HeadsQ, shape.HeadDim);
        for (int b = 0; b < shape.Batch; b++)
        {
            int keys = cacheSeqlens[b] + shape.NewKeys;
            var dense = new AttentionShape(1, shape.SeqLenQ, keys, shape.HeadsQ, shape.HeadsKV, shape.HeadDim);
            var kb = new double[(long)keys * rowElements];
            var vb = new double[kb.Length];
            for (int j = 0; j < keys; j++)
            {
                long row = CacheRow(shape, cacheBatchIndex, blockTable, b, j) * rowElements;
                Array.Copy(kCache, row, kb, (long)j * rowElements, rowElements);
                Array.Copy(vCache, row, vb, (long)j * rowElements, rowElements);
            }
            var o = new double[qElements];
            var l = new double[(long)shape.HeadsQ * shape.SeqLenQ];
            AttentionReference.Forward(dense, settings, q.AsSpan((int)(b * qElements), (int)qElements).ToArray(), kb, vb, o, l, modifiers?.ForSequence(b));
            Array.Copy(o, 0, output, b * qElements, qElements);
            Array.Copy(l, 0, lse, (long)b * l.Length, l.Length);
        }
    }

    /// <summary>The token row of key <paramref name="position"/> of sequence <paramref name="b"/> in the cache seen as (rows, h_kv, d).</summary>
    public static long CacheRow(KvCacheShape shape, int[]? cacheBatchIndex, int[]? blockTable, int b, int position)
    {
        if (shape.Paged)
            return (long)blockTable![b * shape.BlocksPerSequence + position / shape.CacheLength] * shape.CacheLength + position % shape.CacheLength;
        int entry = cacheBatchIndex is null ? b : cacheBatchIndex[b];
        return (long)entry * shape.CacheLength + position;
    }

    private static (AttentionShape Dense, int QueryStart, int KeyStart) Sequence(VarlenShape shape, int[] cuQ, int[] cuK, int i)
        => (new AttentionShape(1, cuQ[i + 1] - cuQ[i], cuK[i + 1] - cuK[i], shape.HeadsQ, shape.HeadsKV, shape.HeadDim), cuQ[i], cuK[i]);

    private static long Tokens(int tokens, int heads, int headDim) => (long)tokens * heads * headDim;

    private static double[] Gather(double[] source, int firstToken, int tokens, int heads, int headDim)
        => source.AsSpan((int)Tokens(firstToken, heads, headDim), (int)Tokens(tokens, heads, headDim)).ToArray();

    private static void Scatter(double[] values, double[] target, int firstToken, int tokens, int heads, int headDim)
        => Array.Copy(values, 0, target, Tokens(firstToken, heads, headDim), Tokens(tokens, heads, headDim));
}
