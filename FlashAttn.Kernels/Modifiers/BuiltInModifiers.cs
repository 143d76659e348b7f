using FlashAttn.Compute;

namespace FlashAttn;

/// <summary>No score modifier: plain attention (the kernels skip the modifier step entirely).</summary>
public readonly struct NoScoreModifier : IScoreModifier
{
    /// <inheritdoc/>
    public float Apply(float score, ScorePosition at) => score;

    /// <inheritdoc/>
    public float Derivative(float score, ScorePosition at) => 1f;
}

/// <summary>No mask modifier (the kernels skip the test entirely).</summary>
public readonly struct NoMaskModifier : IMaskModifier
{
    /// <inheritdoc/>
    public bool Visible(ScorePosition at) => true;
}

/// <summary>Logit soft-capping (Gemma 2, flash-attn's softcap): s ↦ cap · tanh(s / cap), derivative 1 − tanh²(s / cap).</summary>
/// <param name="cap">The cap, positive.</param>
public readonly struct Softcap(float cap) : IScoreModifier
{
    // 2·log₂ e: e^{2|x|} = 2^{2|x|·log₂ e}
    private const float TwoLog2E = 2.88539008f;

    /// <summary>The cap.</summary>
    public float Cap { get; } = cap;

    // 1/cap, so the kernels' per-score step is a multiply, not a division
    private readonly float _inverseCap = 1f / cap;

    /// <inheritdoc/>
    public float Apply(float score, ScorePosition at) => Cap * Tanh(score * _inverseCap);

    /// <inheritdoc/>
    public float Derivative(float score, ScorePosition at)
    {
        float t = Tanh(score * _inverseCap);
        return 1f - t * t;
    }

    /// <summary>
    /// tanh x to a few fp32 ulps in about a dozen instructions (it runs once per score): 1 − 2/(e^{2|x|} + 1) with the
    /// sign of x, from the approximate 2^x and 1/x (one special-function op each, ~2 ulps); below |x| = 1/4, where that
    /// form cancels, the odd Taylor polynomial to x⁹ (error &lt; 1e-8 relative). ±∞ gives ±1, NaN stays NaN.
    /// </summary>
    private static float Tanh(float x)
    {
        float magnitude = XMath.Abs(x), x2 = x * x;
        float small = x + x * x2 * (-1f / 3f + x2 * (2f / 15f + x2 * (-17f / 315f + x2 * (62f / 2835f))));
        float large = 1f - 2f * XMath.FastReciprocal(XMath.FastExp2(magnitude * TwoLog2E) + 1f);
        return magnitude < 0.25f ? small : XMath.CopySign(large, x);
    }
}

/// <summary>
/// ALiBi (Press et al. 2022) as flash-attn applies it: s ↦ s − slope · |key − diagonal|, the slope per query head
/// (<see cref="Slopes"/> of h_q floats) or per batch and head ((b, h_q) floats, <see cref="PerBatch"/>).
/// </summary>
/// <param name="slopes">Slopes on the attention's device, h_q or b·h_q floats.</param>
/// <param name="headsQ">h_q.</param>
/// <param name="perBatch">True when <paramref name="slopes"/> is (b, h_q).</param>
public readonly struct Alibi(ArrayView<float> slopes, int headsQ, bool perBatch) : IScoreModifier
{
    /// <summary>The slopes.</summary>
    public ArrayView<float> Slopes { get; } = slopes;

    /// <summary>h_q.</summary>
    public int HeadsQ { get; } = headsQ;

    /// <summary>True when the slopes are (b, h_q).</summary>
    public bool PerBatch { get; } = perBatch;

    /// <inheritdoc/>
    public float Apply(float score, ScorePosition at)
    {
        float slope = Slopes[PerBatch ? at.Batch * HeadsQ + at.Head : at.Head];
        return score - slope * XMath.Abs(at.Key - at.Diagonal);
    }

    /// <inheritdoc/>
    public float Derivative(float score, ScorePosition at) => 1f;
}

/// <summary>Two score modifiers in turn: <typeparamref name="TSecond"/>(<typeparamref name="TFirst"/>(s)), e.g. a softcap then
/// ALiBi (flash-attn's order); the derivative by the chain rule.</summary>
public readonly struct ComposedScoreModifier<TFirst, TSecond>(TFirst first, TSecond second) : IScoreModifier
    where TFirst : struct, IScoreModifier where TSecond : struct, IScoreModifier
{
    /// <summary>The inner modifier.</summary>
    public TFirst First { get; } = first;

    /// <summary>The outer modifier.</summary>
    public TSecond Second { get; } = second;

    /// <inheritdoc/>
    public float Apply(float score, ScorePosition at) => Second.Apply(First.Apply(score, at), at);

    /// <inheritdoc/>
    public float Derivative(float score, ScorePosition at) => Second.Derivative(First.Apply(score, at), at) * First.Derivative(score, at);
}
