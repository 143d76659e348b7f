namespace FlashAttn.Kernels.Reference;

/// <summary>
/// Plain fp64 attention and its analytic gradients on host arrays: the ground truth the kernels are tested
/// against. Same semantics as <see cref="AttentionLauncher"/> (layouts, masks, both causal alignments,
/// scale, GQA/MQA, fully masked rows → O = 0, L = +∞, gradients 0). O(s_q·s_k) memory per row at most.
/// </summary>
public static class AttentionReference
{
    /// <summary>
    /// Forward. q: (b, s_q, h_q, d); k, v: (b, s_k, h_kv, d); output: (b, s_q, h_q, d) — (b, h, s, d) each with
    /// <see cref="AttentionShape.Layout"/> = <see cref="AttentionLayout.BatchHeadSeqDim"/>; lse: (b, h_q, s_q), natural log.
    /// </summary>
    public static void Forward(AttentionShape shape, AttentionSettings settings, double[] q, double[] k, double[] v,
        double[] output, double[] lse, ReferenceModifiers? modifiers = null)
    {
        int d = shape.HeadDim;
        var s = new double[shape.SeqLenK];
        for (int b = 0; b < shape.Batch; b++)
            for (int h = 0; h < shape.HeadsQ; h++)
                for (int i = 0; i < shape.SeqLenQ; i++)
                {
                    long qi = QIndex(shape, b, i, h);
                    // S_ij = scale · q_i · k_j   (−∞ where masked)
                    double max = Scores(shape, settings, q, k, b, h, i, s, modifiers);
                    // L_i = log Σ_j exp(S_ij);  P_ij = exp(S_ij − L_i);  O_i = Σ_j P_ij v_j
                    double sum = 0;
                    for (int j = 0; j < shape.SeqLenK; j++) sum += double.IsNegativeInfinity(s[j]) ? 0 : Math.Exp(s[j] - max);
                    double l = sum > 0 ? max + Math.Log(sum) : double.PositiveInfinity;
                    lse[RowIndex(shape, b, h, i)] = l;
                    for (int x = 0; x < d; x++) output[qi + x] = 0;
                    if (sum == 0) continue;
                    for (int j = 0; j < shape.SeqLenK; j++)
                    {
                        if (double.IsNegativeInfinity(s[j])) continue;
                        double pij = Math.Exp(s[j] - l) * Dropped(modifiers, shape, settings, b, h, i, j);
                        long vj = KIndex(shape, b, j, h);
                        for (int x = 0; x < d; x++) output[qi + x] += pij * v[vj + x];
                    }
                }
    }

    /// <summary>
    /// Backward (recomputes the forward). dOutput like output; dq like q; dk, dv like k, v (kv heads shared by
    /// several query heads receive the sum over those heads).
    /// </summary>
    public static void Backward(AttentionShape shape, AttentionSettings settings, double[] q, double[] k, double[] v,
        double[] dOutput, double[] dq, double[] dk, double[] dv, ReferenceModifiers? modifiers = null)
    {
        int d = shape.HeadDim, sk = shape.SeqLenK;
        var output = new double[q.Length];
        var lse = new double[new RowStatisticsLayout(shape.SeqLenQ, shape.HeadsQ).Elements(shape.Batch)];
        Forward(shape, settings, q, k, v, output, lse, modifiers);
        Array.Clear(dq);
        Array.Clear(dk);
        Array.Clear(dv);
        var s = new double[sk];
        var p = new double[sk];
        var dp = new double[sk];
        for (int b = 0; b < shape.Batch; b++)
            for (int h = 0; h < shape.HeadsQ; h++)
                for (int i = 0; i < shape.SeqLenQ; i++)
                {
                    double l = lse[RowIndex(shape, b, h, i)];
                    if (double.IsPositiveInfinity(l)) continue; // no visible key: every gradient of the row is 0
                    long qi = QIndex(shape, b, i, h);
                    Scores(shape, settings, q, k, b, h, i, s, modifiers);
                    // forward: P_ij = exp(S_ij − L_i)
                    for (int j = 0; j < sk; j++) p[j] = double.IsNegativeInfinity(s[j]) ? 0 : Math.Exp(s[j] - l);
                    // forward: O_i = Σ_j P_ij v_j   ⇒   dv_j += P_ij dO_i,   dP_ij = dO_i · v_j
                    for (int j = 0; j < sk; j++)
                    {
                        long vj = KIndex(shape, b, j, h);
                        double dot = 0;
                        for (int x = 0; x < d; x++)
                        {
                            dv[vj + x] += p[j] * Dropped(modifiers, shape, settings, b, h, i, j) * dOutput[qi + x];
                            dot += dOutput[qi + x] * v[vj + x];
                        }
                        dp[j] = dot * Dropped(modifiers, shape, settings, b, h, i, j);
                    }
                    // forward: P = softmax(S)   ⇒   dS_ij = P_ij (dP_ij − Σ_l P_il dP_il)   (Σ_l P_il dP_il = dO_i · O_i = D_i)
                    double rowDot = 0;
                    for (int j = 0; j < sk; j++) rowDot += p[j] * dp[j];
                    // forward: S_ij = scale · q_i · k_j   ⇒   dq_i += scale dS_ij k_j,   dk_j += scale dS_ij q_i
                    for (int j = 0; j < sk; j++)
                    {
                        double ds = p[j] * (dp[j] - rowDot) * settings.Scale;
                        if (modifiers?.Derivative is { } derivative && ds != 0)
                            ds *= derivative((float)RawScore(shape, settings, q, k, b, h, i, j), ReferenceModifiers.At(shape, settings, b, h, i, j));
                        if (ds == 0) continue;
                        long kj = KIndex(shape, b, j, h);
                        for (int x = 0; x < d; x++)
                        {
                            dq[qi + x] += ds * k[kj + x];
                            dk[kj + x] += ds * q[qi + x];
                        }
                    }
                }
    }

    /// <summary>True when query <paramref name="i"/> sees key <paramref name="j"/>: causal diagonal and sliding window.</summary>
    public static bool Visible(AttentionShape shape, AttentionSettings settings, int i, int j)
    {
        long diagonal = i + (settings.CausalBottomRight ? shape.SeqLenK - shape.SeqLenQ : 0); // long: any window width
        if (settings.Causal && j > diagonal) return false;
        if (settings.WindowRight >= 0 && j > diagonal + settings.WindowRight) return false;
        return settings.WindowLeft < 0 || j >= diagonal - settings.WindowLeft;
    }

    /// <summary>Row i of S = scale · q kᵀ into <paramref name="s"/> (−∞ where masked); returns its max.</summary>
    private static double Scores(AttentionShape shape, AttentionSettings settings, double[] q, double[] k, int b, int h, int i, double[] s,
        ReferenceModifiers? modifiers)
    {
        double max = double.NegativeInfinity;
        for (int j = 0; j < shape.SeqLenK; j++)
        {
            var at = ReferenceModifiers.At(shape, settings, b, h, i, j);
            if (!Visible(shape, settings, i, j) || modifiers?.Visible?.Invoke(at) == false) { s[j] = double.NegativeInfinity; continue; }
            s[j] = RawScore(shape, settings, q, k, b, h, i, j);
            if (modifiers?.Score is { } score) s[j] = score((float)s[j], at);
            max = Math.Max(max, s[j]);
        }
        return max;
    }

    /// <summary>Dropout's factor on P_ij (1 without dropout).</summary>
    internal static double Dropped(ReferenceModifiers? modifiers, AttentionShape shape, AttentionSettings settings, int b, int h, int i, int j)
        => modifiers?.DropoutFactor is { } factor ? factor(ReferenceModifiers.At(shape, settings, b, h, i, j)) : 1;

    /// <summary>scale · q_i · k_j.</summary>
    private static double RawScore(AttentionShape shape, AttentionSettings settings, double[] q, double[] k, int b, int h, int i, int j)
    {
        long qi = QIndex(shape, b, i, h), kj = KIndex(shape, b, j, h);
        double dot = 0;
        for (int x = 0; x < shape.HeadDim; x++) dot += q[qi + x] * k[kj + x];
        return dot * settings.Scale;
    }

    /// <summary>Offset of q[b, i, h, 0] in the shape's layout (also of output, dq).</summary>
    internal static long QIndex(AttentionShape shape, int b, int i, int h)
        => TokenLayout.Of(shape.Layout, shape.SeqLenQ, shape.HeadsQ, shape.HeadDim).RowStart(b, i, h);

    /// <summary>Offset of k[b, j, h / (h_q / h_kv), 0] for query head h in the shape's layout (also of v, dk, dv).</summary>
    internal static long KIndex(AttentionShape shape, int b, int j, int h)
        => TokenLayout.Of(shape.Layout, shape.SeqLenK, shape.HeadsKV, shape.HeadDim).RowStart(b, j, h / (shape.HeadsQ / shape.HeadsKV));

    /// <summary>Offset of lse[b, h, i] (also of D).</summary>
    internal static long RowIndex(AttentionShape shape, int b, int h, int i)
        => new RowStatisticsLayout(shape.SeqLenQ, shape.HeadsQ).Index(b, h, i);
}
