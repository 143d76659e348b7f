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
    /// <summary>The cap.</summary>
    public float Cap { get; } = cap;

    /// <inheritdoc/>
    public float Apply(float score, ScorePosition at) => Cap * XMath.Tanh(score / Cap);

    /// <inheritdoc/>
    public float Derivative(float score, ScorePosition at)
    {
        float t = XMath.Tanh(score / Cap);
        return 1f - t * t;
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
