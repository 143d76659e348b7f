using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>The one place a raw score q·k becomes the kernels' log2-domain score: scaled, through the score modifier,
/// masked (the causal/window test, then the mask modifier) — shared by every kernel's element loop; with the backward's
/// derivative and the dropout decision beside it.</summary>
internal static class ModifiedScores
{
    /// <summary>
    /// The position at which the kernels evaluate the modifiers for the score of (<paramref name="query"/>, <paramref name="key"/>):
    /// the indices clamped into the sequence's <paramref name="queryLength"/> × <paramref name="keyLength"/> (the diagonal
    /// moving with the query), so a padding row or a key past s_k reads the modifiers' data in range. Their results there
    /// are discarded (<see cref="Score"/>'s <c>inside</c>), which lets every element run the same straight code. A caller
    /// that knows its whole block lies inside passes <paramref name="inBounds"/> (a constant at the call): no clamp.
    /// </summary>
    public static ScorePosition Position(int sequence, int head, int query, int key, int diagonalOffset, int queryLength, int keyLength,
        bool inBounds = false)
    {
        if (inBounds) return new ScorePosition(sequence, head, query, key, query + diagonalOffset);
        int clampedQuery = XMath.Max(0, XMath.Min(query, queryLength - 1)), clampedKey = XMath.Max(0, XMath.Min(key, keyLength - 1));
        return new ScorePosition(sequence, head, clampedQuery, clampedKey, clampedQuery + diagonalOffset);
    }

    /// <summary>
    /// log2 e · f(scale · <paramref name="raw"/>) at <paramref name="at"/>, or −∞ when <paramref name="hidden"/> (the causal or
    /// window test failed) or the mask modifier hides it: <see cref="Score"/> taken into the log2 domain.
    /// </summary>
    public static float Log2Score<TScore, TMask>(float raw, ScorePosition at, bool inside, bool hidden, AttentionParams p,
        AttentionModifiers<TScore, TMask> modifiers, bool scoreModified, bool maskModified)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => Score(raw, at, inside, hidden, p, modifiers, scoreModified, maskModified) * SoftmaxScale(p, modifiers, scoreModified);

    /// <summary>
    /// The score of <paramref name="raw"/> at <paramref name="at"/> in the units <see cref="SoftmaxScale"/> takes into the log2
    /// domain (the softmax scales it as it exponentiates, one FMA): <paramref name="raw"/> itself without a score modifier,
    /// f(scale · raw / u) with one, in its unit u (<see cref="AttentionModifiers{TScore, TMask}.ScoreUnit"/>, usually 1); −∞
    /// when <paramref name="hidden"/> (the causal or window test failed) or the mask modifier hides it. The modifiers count
    /// only <paramref name="inside"/> the sequence; outside, the plain score is kept.
    /// Branch-free: the modifiers run at every element (<paramref name="at"/> from <see cref="Position"/>, always in range)
    /// and their results are selected, so the element loop stays one block in which the engine merges the modifiers'
    /// repeated loads of one address (CommonSubexpressionElimination); behind a branch each element loaded its own (ALiBi's
    /// slope: 64 loads per key block and thread).
    /// </summary>
    public static float Score<TScore, TMask>(float raw, ScorePosition at, bool inside, bool hidden, AttentionParams p,
        AttentionModifiers<TScore, TMask> modifiers, bool scoreModified, bool maskModified)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        float score = raw;
        if (scoreModified)
        {
            float input = raw * ModifierInputScale(p, modifiers), modified = modifiers.Score.Apply(input, at);
            score = inside ? modified : input;
        }
        bool visible = !hidden;
        if (maskModified) visible &= !inside | modifiers.Mask.Visible(at);
        return visible ? score : float.NegativeInfinity;
    }

    /// <summary>What takes <see cref="Score"/>'s values into the log2 domain: scale · log2 e for raw scores, u · log2 e for
    /// modified ones (positive, so a row's max may be taken before it).</summary>
    public static float SoftmaxScale<TScore, TMask>(AttentionParams p, AttentionModifiers<TScore, TMask> modifiers, bool scoreModified)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => scoreModified ? SoftmaxConstants.Log2E * modifiers.ScoreUnit : p.ScaleLog2;

    /// <summary>What takes a raw score q·k to the score modifier's input: scale / u (a per-call constant).</summary>
    private static float ModifierInputScale<TScore, TMask>(AttentionParams p, AttentionModifiers<TScore, TMask> modifiers)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => p.Scale * modifiers.InverseScoreUnit;

    /// <summary>P = 2^(<paramref name="score"/> · <paramref name="softmaxScale"/> − <paramref name="log2Reference"/>) by one FMA:
    /// <see cref="Score"/>'s value, <see cref="SoftmaxScale"/>, and the row's max (the forward's online softmax) or its L · log2 e
    /// (the backward's recomputation). Both passes take P from here, so a tile rounds alike in either, with or without the
    /// modifiers' tests (written as a multiply and a subtract, ptxas contracted them in some paths and not in others).</summary>
    public static float Probability(float score, float softmaxScale, float log2Reference)
        => XMath.FastExp2(XMath.Fma(score, softmaxScale, -log2Reference));

    /// <summary>∂f/∂s at scale · <paramref name="raw"/> (the factor the scores' gradient dS takes through the score modifier): the
    /// modifier's derivative at its input, as ∂(u · f(s/u))/∂s = f′(s/u); 1 with none, or outside the sequence. Branch-free as
    /// <see cref="Score"/>.</summary>
    public static float Derivative<TScore, TMask>(float raw, ScorePosition at, bool inside, AttentionParams p,
        AttentionModifiers<TScore, TMask> modifiers, bool scoreModified)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        if (!scoreModified) return 1f;
        float derivative = modifiers.Score.Derivative(raw * ModifierInputScale(p, modifiers), at);
        return inside ? derivative : 1f;
    }

    /// <summary>True when dropout keeps entry <paramref name="index"/> (<see cref="Dropout.IndexInGroup"/>) of the group whose
    /// words (<see cref="AttentionParams.DropoutGroup"/>, computed once for all the entries of the group a loop touches) are
    /// <paramref name="group"/>; outside the sequence nothing is kept (P is 0 there anyway).</summary>
    public static bool Kept(PhiloxBlock group, int index, bool inside, AttentionParams p)
        => inside && Dropout.Kept(group, index, p.DropoutThreshold);

    /// <summary>How many consecutive keys of a SIMT thread (keys k0 + tx + j · <paramref name="keyStride"/>, k0 a multiple of 32,
    /// tx &lt; stride) share one dropout group, for j a multiple of it: 4 when the stride is 8 (keys j … j + 3 then differ in
    /// key bits 3 and 4 alone, which pick the entry inside the group), 2 when it is 16 (key bit 4), else 1.</summary>
    public static int KeysPerDropoutGroup(int keyStride) => keyStride == 8 ? 4 : keyStride == 16 ? 2 : 1;
}
