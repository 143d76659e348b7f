namespace FlashAttn.Diagnostics;

/// <summary>
/// fp64 attention for a few query rows only, from host copies of q, k and v (row-major (b, s, h, d)): checks a
/// large run without the O(s²) cost of the full reference.
/// </summary>
internal static class SampledReference
{
    /// <summary>One query row: batch <paramref name="Batch"/>, query head <paramref name="Head"/>, position <paramref name="Row"/>.</summary>
    public readonly record struct RowIndex(int Batch, int Head, int Row);

    /// <summary>The output row (head_dim values) and log-sum-exp of one query row.</summary>
    /// <param name="shape">(b, s_q, s_k, h_q, h_kv, d).</param>
    /// <param name="q">q as doubles, (b, s_q, h_q, d).</param>
    /// <param name="k">k as doubles, (b, s_k, h_kv, d).</param>
    /// <param name="v">v as doubles, (b, s_k, h_kv, d).</param>
    /// <param name="row">Which row.</param>
    /// <param name="scale">Softmax scale.</param>
    /// <param name="causal">Causal mask.</param>
    /// <param name="bottomRight">Bottom-right alignment of the mask.</param>
    public static (double[] Output, double Lse) Row(
        (int Batch, int SeqQ, int SeqK, int HeadsQ, int HeadsKv, int HeadDim) shape,
        Func<long, double> q, Func<long, double> k, Func<long, double> v,
        RowIndex row, double scale, bool causal, bool bottomRight)
    {
        int d = shape.HeadDim, kvHead = row.Head / (shape.HeadsQ / shape.HeadsKv);
        long qBase = (((long)row.Batch * shape.SeqQ + row.Row) * shape.HeadsQ + row.Head) * d;
        int last = shape.SeqK - 1;
        if (causal) last = Math.Min(last, row.Row + (bottomRight ? shape.SeqK - shape.SeqQ : 0));
        var output = new double[d];
        if (last < 0) return (output, double.PositiveInfinity);

        var qRow = new double[d];
        for (int c = 0; c < d; c++) qRow[c] = q(qBase + c);
        var scores = new double[last + 1];
        double max = double.NegativeInfinity;
        for (int j = 0; j <= last; j++)
        {
            long kBase = (((long)row.Batch * shape.SeqK + j) * shape.HeadsKv + kvHead) * d;
            double dot = 0;
            for (int c = 0; c < d; c++) dot += qRow[c] * k(kBase + c);
            scores[j] = dot * scale;
            max = Math.Max(max, scores[j]);
        }
        double sum = 0;
        for (int j = 0; j <= last; j++)
        {
            double p = Math.Exp(scores[j] - max);
            sum += p;
            long vBase = (((long)row.Batch * shape.SeqK + j) * shape.HeadsKv + kvHead) * d;
            for (int c = 0; c < d; c++) output[c] += p * v(vBase + c);
        }
        for (int c = 0; c < d; c++) output[c] /= sum;
        return (output, max + Math.Log(sum));
    }

    /// <summary>
    /// <paramref name="count"/> distinct rows spread over the problem: the first and last row of the first and last
    /// (batch, head), the rest drawn with a fixed seed.
    /// </summary>
    public static List<RowIndex> PickRows(int batch, int heads, int seqLen, int count, int seed = 12345)
    {
        var rows = new HashSet<RowIndex>
        {
            new(0, 0, 0), new(0, 0, seqLen - 1), new(batch - 1, heads - 1, 0), new(batch - 1, heads - 1, seqLen - 1),
        };
        long total = (long)batch * heads * seqLen;
        var random = new Random(seed);
        while (rows.Count < Math.Min(count, total))
            rows.Add(new RowIndex(random.Next(batch), random.Next(heads), random.Next(seqLen)));
        return [.. rows];
    }
}
