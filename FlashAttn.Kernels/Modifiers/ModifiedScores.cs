using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>The one place a raw score q·k becomes the kernels' log2-domain score: scaled, through the score modifier,
/// masked (the causal/window test, then the mask modifier) — shared by every kernel's element loop; with the backward's
/// derivative and the dropout decision beside it.</summary>
internal static class ModifiedScores
{
    /// <summary>
    /// log2 e · f(scale · <paramref name="raw"/>) at <paramref name="at"/>, or −∞ when <paramref name="hidden"/> (the causal or
    /// window test failed) or the mask modifier hides it. The modifiers run only <paramref name="inside"/> the sequence
    /// (padding rows and keys past s_k would index their data out of range); outside, the plain score is kept.
    /// </summary>
    public static float Log2Score<TScore, TMask>(float raw, ScorePosition at, bool inside, bool hidden, AttentionParams p,
        AttentionModifiers<TScore, TMask> modifiers, bool scoreModified, bool maskModified)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        if (hidden) return float.NegativeInfinity;
        if (maskModified && inside && !modifiers.Mask.Visible(at)) return float.NegativeInfinity;
        if (scoreModified && inside) return modifiers.Score.Apply(raw * p.Scale, at) * SoftmaxConstants.Log2E;
        return raw * p.ScaleLog2;
    }

    /// <summary>∂f/∂s at scale · <paramref name="raw"/> (the factor the scores' gradient dS takes through the score modifier); 1
    /// with none, or outside the sequence.</summary>
    public static float Derivative<TScore, TMask>(float raw, ScorePosition at, bool inside, AttentionParams p,
        AttentionModifiers<TScore, TMask> modifiers, bool scoreModified)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => scoreModified && inside ? modifiers.Score.Derivative(raw * p.Scale, at) : 1f;

    /// <summary>True when dropout keeps entry <paramref name="index"/> (<see cref="Dropout.IndexInGroup"/>) of the group whose
    /// words (<see cref="AttentionParams.DropoutGroup"/>, computed once for all the entries of the group a loop touches) are
    /// <paramref name="group"/>; outside the sequence nothing is kept (P is 0 there anyway).</summary>
    public static bool Kept(PhiloxBlock group, int index, bool inside, AttentionParams p)
        => inside && Dropout.Kept(group, index, p.DropoutThreshold);

    /// <summary>How many consecutive keys of a SIMT thread (keys k0 + tx + j · <paramref name="keyStride"/>, k0 a multiple of 16,
    /// tx &lt; stride) share one dropout group: 2 when the stride is 8 (keys j, j + 1 then differ in key bit 3 alone, which
    /// picks the entry inside the group, for even j), else 1.</summary>
    public static int KeysPerDropoutGroup(int keyStride) => keyStride == 8 ? 2 : 1;
}
