namespace FlashAttn.Kernels.Reference;

/// <summary>
/// Attention computed the way a naive PyTorch implementation does in a low-precision dtype: every matmul
/// accumulates in fp32 and its result is rounded to the dtype; softmax runs in fp32 and P is rounded to the
/// dtype before P·v. Its distance from <see cref="AttentionReference"/> sets the error budget of the tests
/// (flash-attn's rule: the fused kernel may be at most a small multiple of this error).
/// <code>
/// S  = round((round(q·scale)) kᵀ)          (b, h_q, s_q, s_k)
/// P  = softmax_fp32(S);  L = logsumexp_fp32(S)
/// O  = round(round(P) v)
/// dV = round(round(P)ᵀ dO);  dP = round(dO vᵀ);  dS = round(P ∘ (dP − rowsum(P ∘ dP)))
/// dQ = round(round(dS k) · scale);  dK = round(dSᵀ round(q·scale))
/// </code>
/// </summary>
public static class NaiveAttention
{
    /// <summary>
    /// Forward and backward. Inputs are the dtype's values widened to float; <paramref name="round"/> rounds a
    /// float to the dtype (identity for fp32). Outputs as in <see cref="AttentionReference"/>; lse in fp32.
    /// <paramref name="dOutput"/> null skips the backward.
    /// </summary>
    public static void Run(AttentionShape shape, AttentionSettings settings, Func<float, float> round,
        float[] q, float[] k, float[] v, float[]? dOutput,
        float[] output, float[] lse, float[]? dq, float[]? dk, float[]? dv, ReferenceModifiers? modifiers = null)
    {
        int d = shape.HeadDim, sk = shape.SeqLenK;
        var s = new float[sk];
        var p = new float[sk];
        var pRounded = new float[sk];
        var dp = new float[sk];
        var qs = new float[d];
        var raw = new float[sk];
        if (dq is not null) Array.Clear(dq);
        if (dk is not null) Array.Clear(dk);
        if (dv is not null) Array.Clear(dv);
        // dK and dV are rounded once at the end like a matmul output; accumulate them in fp32 first
        var dkAccum = dk is null ? null : new float[dk.Length];
        var dvAccum = dv is null ? null : new float[dv.Length];
        for (int b = 0; b < shape.Batch; b++)
            for (int h = 0; h < shape.HeadsQ; h++)
                for (int i = 0; i < shape.SeqLenQ; i++)
                {
                    long qi = AttentionReference.QIndex(shape, b, i, h);
                    for (int x = 0; x < d; x++) qs[x] = round(q[qi + x] * settings.Scale);
                    float max = float.NegativeInfinity;
                    for (int j = 0; j < sk; j++)
                    {
                        var at = ReferenceModifiers.At(shape, settings, b, h, i, j);
                        if (!AttentionReference.Visible(shape, settings, i, j) || modifiers?.Visible?.Invoke(at) == false)
                        {
                            s[j] = float.NegativeInfinity;
                            continue;
                        }
                        long kj = AttentionReference.KIndex(shape, b, j, h);
                        float dot = 0;
                        for (int x = 0; x < d; x++) dot += qs[x] * k[kj + x];
                        raw[j] = s[j] = round(dot);
                        if (modifiers?.Score is { } score) s[j] = round(score(s[j], at));
                        max = MathF.Max(max, s[j]);
                    }
                    float sum = 0;
                    for (int j = 0; j < sk; j++) sum += float.IsNegativeInfinity(s[j]) ? 0 : MathF.Exp(s[j] - max);
                    lse[AttentionReference.RowIndex(shape, b, h, i)] = sum > 0 ? max + MathF.Log(sum) : float.PositiveInfinity;
                    for (int j = 0; j < sk; j++)
                    {
                        p[j] = sum > 0 && !float.IsNegativeInfinity(s[j]) ? MathF.Exp(s[j] - max) / sum : 0;
                        pRounded[j] = round(p[j] * (float)AttentionReference.Dropped(modifiers, shape, settings, b, h, i, j));
                    }
                    for (int x = 0; x < d; x++)
                    {
                        float o = 0;
                        for (int j = 0; j < sk; j++)
                            if (pRounded[j] != 0) o += pRounded[j] * v[AttentionReference.KIndex(shape, b, j, h) + x];
                        output[qi + x] = round(o);
                    }
                    if (dOutput is null || dq is null || dkAccum is null || dvAccum is null) continue;

                    float rowDot = 0;
                    for (int j = 0; j < sk; j++)
                    {
                        long vj = AttentionReference.KIndex(shape, b, j, h);
                        float dot = 0;
                        for (int x = 0; x < d; x++)
                        {
                            dvAccum[vj + x] += pRounded[j] * dOutput[qi + x];
                            dot += dOutput[qi + x] * v[vj + x];
                        }
                        dp[j] = round(dot) * (float)AttentionReference.Dropped(modifiers, shape, settings, b, h, i, j);
                        rowDot += p[j] * dp[j];
                    }
                    for (int x = 0; x < d; x++)
                    {
                        float acc = 0;
                        for (int j = 0; j < sk; j++)
                        {
                            float ds = ScoreGradient(p[j], dp[j], rowDot, raw[j], shape, settings, b, h, i, j, round, modifiers);
                            if (ds != 0) acc += ds * k[AttentionReference.KIndex(shape, b, j, h) + x];
                        }
                        dq[qi + x] = round(round(acc) * settings.Scale);
                    }
                    for (int j = 0; j < sk; j++)
                    {
                        float ds = ScoreGradient(p[j], dp[j], rowDot, raw[j], shape, settings, b, h, i, j, round, modifiers);
                        if (ds == 0) continue;
                        long kj = AttentionReference.KIndex(shape, b, j, h);
                        for (int x = 0; x < d; x++) dkAccum[kj + x] += ds * qs[x];
                    }
                }
        if (dk is not null && dkAccum is not null)
            for (int e = 0; e < dk.Length; e++) dk[e] = round(dkAccum[e]);
        if (dv is not null && dvAccum is not null)
            for (int e = 0; e < dv.Length; e++) dv[e] = round(dvAccum[e]);
    }

    /// <summary>dS = P ∘ (dP − rowsum(P ∘ dP)), rounded, times the score modifier's derivative at the raw score.</summary>
    private static float ScoreGradient(float p, float dp, float rowDot, float raw, AttentionShape shape, AttentionSettings settings,
        int b, int h, int i, int j, Func<float, float> round, ReferenceModifiers? modifiers)
    {
        float ds = round(p * (dp - rowDot));
        if (ds != 0 && modifiers?.Derivative is { } derivative) ds = round(ds * derivative(raw, ReferenceModifiers.At(shape, settings, b, h, i, j)));
        return ds;
    }
}
