namespace FlashAttn.Kernels.Reference;

/// <summary>
/// Score and mask modifiers as the host references apply them (delegates around the very structs the kernels inline):
/// scores s = scale·q·k become <see cref="Score"/>(s), gradients pass through <see cref="Derivative"/>, and keys for which
/// <see cref="Visible"/> is false are masked, on top of the causal and window masks.
/// </summary>
public sealed record ReferenceModifiers(Func<float, ScorePosition, float>? Score, Func<float, ScorePosition, float>? Derivative,
    Func<ScorePosition, bool>? Visible)
{
    /// <summary>Dropout's factor on P at a position (0 dropped, 1/(1 − p) kept); null without dropout.</summary>
    public Func<ScorePosition, float>? DropoutFactor { get; init; }

    /// <summary>The references' view of a call's modifiers and dropout (null when neither acts).</summary>
    public static ReferenceModifiers? Of<TScore, TMask>(AttentionModifiers<TScore, TMask> modifiers, AttentionSettings settings, int headsQ)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var plain = Of(modifiers);
        if (!settings.Dropout.Enabled) return plain;
        var dropout = settings.Dropout;
        float scale = dropout.KeptScale;
        return (plain ?? new ReferenceModifiers(null, null, null)) with
        {
            DropoutFactor = at => dropout.Keep(headsQ, at.Batch, at.Head, at.Query, at.Key) ? scale : 0f,
        };
    }

    /// <summary>The references' view of the modifiers the kernels get.</summary>
    public static ReferenceModifiers? Of<TScore, TMask>(AttentionModifiers<TScore, TMask> modifiers)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        int flags = AttentionModifiers<TScore, TMask>.Flags;
        if (flags == 0) return null;
        var score = modifiers.Score;
        var mask = modifiers.Mask;
        bool scores = (flags & AttentionModifiers<TScore, TMask>.ScoreFlag) != 0, masks = (flags & AttentionModifiers<TScore, TMask>.MaskFlag) != 0;
        // a modifier in units of u: u · f(s/u), derivative f′(s/u) (AttentionModifiers.ScoreUnit)
        float unit = modifiers.ScoreUnit, inverseUnit = modifiers.InverseScoreUnit;
        return new ReferenceModifiers(scores ? (s, at) => unit * score.Apply(s * inverseUnit, at) : null,
            scores ? (s, at) => score.Derivative(s * inverseUnit, at) : null, masks ? at => mask.Visible(at) : null);
    }

    /// <summary>The position of (b, h, i, j) for the call's shape and alignment.</summary>
    public static ScorePosition At(AttentionShape shape, AttentionSettings settings, int b, int h, int i, int j)
        => new(b, h, i, j, i + (settings.CausalBottomRight ? shape.SeqLenK - shape.SeqLenQ : 0));

    /// <summary>These modifiers as seen by one sequence run as a dense batch of one: positions get the sequence's index as their batch.</summary>
    public ReferenceModifiers ForSequence(int index)
    {
        ScorePosition Remap(ScorePosition at) => new(index, at.Head, at.Query, at.Key, at.Diagonal);
        return new ReferenceModifiers(Score is { } score ? (s, at) => score(s, Remap(at)) : null,
            Derivative is { } derivative ? (s, at) => derivative(s, Remap(at)) : null,
            Visible is { } visible ? at => visible(Remap(at)) : null)
        {
            DropoutFactor = DropoutFactor is { } factor ? at => factor(Remap(at)) : null,
        };
    }
}
