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

/// <summary>Logit soft-capping (Gemma 2, flash-attn's softcap): s ↦ cap · tanh(s / cap), derivative 1 − tanh²(s / cap) (the tanh
/// and its derivative are <see cref="AccurateTanhInCapUnits"/>'s, at s / cap).</summary>
/// <param name="cap">The cap, positive.</param>
public readonly struct Softcap(float cap) : IScoreModifier
{
    // Beyond |x| = 9, tanh x is within 3.1e-8 of ±1 (about half an fp32 ulp).
    private const float Saturation = 9f;

    // tanh x = x·P(x²)/Q(x²) on |x| ≤ 9: a rational fit to tanh(x)/x (weighted least squares, Sanathanan–Koerner iteration,
    // in 60-digit arithmetic; relative error 7e-9 before fp32 rounding, under 5 fp32 ulps after)
    private const float P0 = 0.99999999758258484325f, P1 = 0.13086042463023233552f, P2 = 0.0031061796439210256576f,
        P3 = 0.000011176227906280703108f, P4 = -2.0306062901406405167e-8f, P5 = 5.3125744115347253003e-11f, P6 = -8.5671843206558626626e-14f;
    private const float Q1 = 0.46419371476287404939f, Q2 = 0.024504162180542297364f, Q3 = 0.00025493047660321155144f;

    /// <summary>The cap.</summary>
    public float Cap { get; } = cap;

    // 1/cap, so the kernels' per-score step is a multiply, not a division
    private readonly float _inverseCap = 1f / cap;

    /// <inheritdoc/>
    public float Apply(float score, ScorePosition at) => Cap * default(AccurateTanhInCapUnits).Apply(score * _inverseCap, at);

    /// <inheritdoc/>
    public float Derivative(float score, ScorePosition at) => default(AccurateTanhInCapUnits).Derivative(score * _inverseCap, at);

    /// <summary>
    /// tanh x to a few fp32 ulps in about a dozen multiply-adds and one special-function op (the approximate 1/x), as it runs
    /// once per score and the softmax's 2^x already takes one: x·P(x²)/Q(x²), ±1 beyond |x| = 9 (±∞ included); NaN stays
    /// NaN. (The form 1 − 2/(e^{2|x|} + 1) took two such ops and a polynomial near 0.)
    /// </summary>
    internal static float Tanh(float x)
    {
        float y = x * x;
        float p = P0 + y * (P1 + y * (P2 + y * (P3 + y * (P4 + y * (P5 + y * P6)))));
        float q = 1f + y * (Q1 + y * (Q2 + y * Q3));
        float rational = x * p * XMath.FastReciprocal(q);
        return XMath.Abs(x) > Saturation ? XMath.CopySign(1f, x) : rational;
    }
}

/// <summary>
/// <see cref="Softcap"/> with the GPU's own tanh (<c>tanh.approx.f32</c>: one special-function op, relative error about
/// 2⁻¹¹), as flash-attn computes it: what fp16 and bf16 calls take (<c>BuiltInModifiers.Compose</c>), since the scores'
/// own rounding in those dtypes is as large (an fp16 score near the cap of 30 is a multiple of 2⁻⁶, the approximate tanh
/// moves it by up to about 30 · 2⁻¹¹), while the rational fit of <see cref="Softcap"/> costs a dozen multiply-adds a
/// score more. On the CPU it is the exact tanh. The tanh and its derivative are <see cref="TanhInCapUnits"/>'s, at s / cap.
/// </summary>
/// <param name="cap">The cap, positive.</param>
internal readonly struct HardwareTanhSoftcap(float cap) : IScoreModifier
{
    /// <summary>The cap.</summary>
    public float Cap { get; } = cap;

    private readonly float _inverseCap = 1f / cap;

    /// <inheritdoc/>
    public float Apply(float score, ScorePosition at) => Cap * default(TanhInCapUnits).Apply(score * _inverseCap, at);

    /// <inheritdoc/>
    public float Derivative(float score, ScorePosition at) => default(TanhInCapUnits).Derivative(score * _inverseCap, at);
}

/// <summary>
/// The softcap in units of its cap (<see cref="SoftcapInCapUnits"/>): x ↦ tanh x with the hardware's tanh, as
/// <see cref="HardwareTanhSoftcap"/>. The kernels fold 1/cap into the score's scale and the cap into the softmax's
/// (<see cref="AttentionModifiers{TScore, TMask}.ScoreUnit"/>), so a score costs the tanh alone, not a multiply before and two
/// after it: what a softcap without ALiBi or a user modifier after it runs.
/// </summary>
internal readonly struct TanhInCapUnits : IScoreModifier
{
    /// <inheritdoc/>
    public float Apply(float score, ScorePosition at) => XMath.FastTanh(score);

    /// <inheritdoc/>
    public float Derivative(float score, ScorePosition at)
    {
        float t = XMath.FastTanh(score);
        return 1f - t * t;
    }
}

/// <summary><see cref="TanhInCapUnits"/> with <see cref="Softcap"/>'s accurate tanh (fp32 calls).</summary>
internal readonly struct AccurateTanhInCapUnits : IScoreModifier
{
    /// <inheritdoc/>
    public float Apply(float score, ScorePosition at) => Softcap.Tanh(score);

    /// <inheritdoc/>
    public float Derivative(float score, ScorePosition at)
    {
        float t = Softcap.Tanh(score);
        return 1f - t * t;
    }
}

/// <summary>A softcap alone (no ALiBi, no user score modifier after it) as the kernels run it: in units of its cap.</summary>
internal static class SoftcapInCapUnits
{
    /// <summary>The softcap with the hardware's tanh (fp16/bf16 calls), beside <paramref name="mask"/> and its <paramref name="blocks"/>.</summary>
    public static AttentionModifiers<TanhInCapUnits, TMask> Hardware<TMask>(float cap, TMask mask, BlockMask blocks = default)
        where TMask : struct, IMaskModifier
        => new AttentionModifiers<TanhInCapUnits, TMask>(default, mask, blocks).InUnitsOf(cap);

    /// <summary>The softcap with the accurate tanh (fp32 calls), beside <paramref name="mask"/> and its <paramref name="blocks"/>.</summary>
    public static AttentionModifiers<AccurateTanhInCapUnits, TMask> Accurate<TMask>(float cap, TMask mask, BlockMask blocks = default)
        where TMask : struct, IMaskModifier
        => new AttentionModifiers<AccurateTanhInCapUnits, TMask>(default, mask, blocks).InUnitsOf(cap);
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
        // the distance converted without the conversion pipe (callers bound s_q + s_k by XMath.SmallIntLimit), key and diagonal
        // each on its own: a kernel converts a lane's keys once for all its rows and its rows once for all its keys, leaving a
        // score one subtraction (exact: both are integers below 2^22) before the multiply-add
        return score - slope * XMath.Abs(XMath.SmallIntToFloat(at.Key) - XMath.SmallIntToFloat(at.Diagonal));
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
