using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>The one place a raw score q·k becomes the kernels' log2-domain score: scaled, through the score modifier,
/// masked (the causal/window test, then the mask modifier) — shared by every kernel's element loop.</summary>
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
}
