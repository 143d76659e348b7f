namespace FlashAttn.Tests.Core;

/// <summary>Plain fp64 attention, forward and backward, over row-major (b, s, h, d) arrays.</summary>
internal static class ReferenceAttention
{
    public sealed record Sizes(int Batch, int SeqQ, int SeqK, int HeadsQ, int HeadsKv, int HeadDim);

    private static bool Visible(int i, int j, Sizes s, bool causal, bool bottomRight) =>
        !causal || j <= i + (bottomRight ? s.SeqK - s.SeqQ : 0);

    /// <summary>Output (b, s_q, h_q, d) and log-sum-exp (b, h_q, s_q).</summary>
    public static (double[] Output, double[] Lse) Forward(Sizes s, double[] q, double[] k, double[] v,
        double scale, bool causal, bool bottomRight)
    {
        var o = new double[(long)s.Batch * s.SeqQ * s.HeadsQ * s.HeadDim];
        var lse = new double[(long)s.Batch * s.HeadsQ * s.SeqQ];
        var p = new double[s.SeqK];
        int group = s.HeadsQ / s.HeadsKv, d = s.HeadDim;
        for (int b = 0; b < s.Batch; b++)
        for (int h = 0; h < s.HeadsQ; h++)
        for (int i = 0; i < s.SeqQ; i++)
        {
            long qi = (((long)b * s.SeqQ + i) * s.HeadsQ + h) * d;
            double max = double.NegativeInfinity;
            for (int j = 0; j < s.SeqK; j++)
            {
                if (!Visible(i, j, s, causal, bottomRight)) { p[j] = double.NegativeInfinity; continue; }
                long kj = (((long)b * s.SeqK + j) * s.HeadsKv + h / group) * d;
                double dot = 0;
                for (int c = 0; c < d; c++) dot += q[qi + c] * k[kj + c];
                p[j] = dot * scale;
                max = Math.Max(max, p[j]);
            }
            long li = ((long)b * s.HeadsQ + h) * s.SeqQ + i;
            if (double.IsNegativeInfinity(max)) { lse[li] = double.PositiveInfinity; continue; }
            double sum = 0;
            for (int j = 0; j < s.SeqK; j++) sum += p[j] = Math.Exp(p[j] - max);
            lse[li] = max + Math.Log(sum);
            for (int j = 0; j < s.SeqK; j++)
            {
                if (p[j] == 0) continue;
                long vj = (((long)b * s.SeqK + j) * s.HeadsKv + h / group) * d;
                for (int c = 0; c < d; c++) o[qi + c] += p[j] / sum * v[vj + c];
            }
        }
        return (o, lse);
    }

    /// <summary>dq (q's shape), dk and dv (k's shape).</summary>
    public static (double[] Dq, double[] Dk, double[] Dv) Backward(Sizes s, double[] q, double[] k, double[] v, double[] dOut,
        double scale, bool causal, bool bottomRight)
    {
        var (o, lse) = Forward(s, q, k, v, scale, causal, bottomRight);
        var dq = new double[q.Length];
        var dk = new double[k.Length];
        var dv = new double[v.Length];
        int group = s.HeadsQ / s.HeadsKv, d = s.HeadDim;
        for (int b = 0; b < s.Batch; b++)
        for (int h = 0; h < s.HeadsQ; h++)
        for (int i = 0; i < s.SeqQ; i++)
        {
            long qi = (((long)b * s.SeqQ + i) * s.HeadsQ + h) * d;
            double l = lse[((long)b * s.HeadsQ + h) * s.SeqQ + i];
            if (double.IsPositiveInfinity(l)) continue;
            double di = 0;
            for (int c = 0; c < d; c++) di += dOut[qi + c] * o[qi + c];
            for (int j = 0; j < s.SeqK; j++)
            {
                if (!Visible(i, j, s, causal, bottomRight)) continue;
                long kj = (((long)b * s.SeqK + j) * s.HeadsKv + h / group) * d;
                double dot = 0, dp = 0;
                for (int c = 0; c < d; c++) { dot += q[qi + c] * k[kj + c]; dp += dOut[qi + c] * v[kj + c]; }
                double p = Math.Exp(dot * scale - l);
                double ds = p * (dp - di);
                for (int c = 0; c < d; c++)
                {
                    dv[kj + c] += p * dOut[qi + c];
                    dq[qi + c] += scale * ds * k[kj + c];
                    dk[kj + c] += scale * ds * q[qi + c];
                }
            }
        }
        return (dq, dk, dv);
    }
}
