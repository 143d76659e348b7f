namespace FlashAttn;

/// <summary>
/// A score modifier compiled into the attention kernels (FlexAttention's score_mod, in C#): each scaled score
/// s = scale · q·k becomes <see cref="Apply"/>(s) before the softmax. Implement it on a struct; its fields (numbers,
/// <see cref="Compute.ArrayView{T}"/>s of device data such as bias tables) travel to the kernel by value, and its methods
/// are inlined there, so they must use only what kernels may (arithmetic, XMath, reads of views; no objects). The
/// kernels call it at positions inside the sequence only, but also where the result is then discarded (masked keys, and
/// padding clamped into the sequence), so it must be a pure function.
/// </summary>
public interface IScoreModifier
{
    /// <summary>The modified score at <paramref name="at"/>.</summary>
    float Apply(float score, ScorePosition at);

    /// <summary>∂Apply/∂score at <paramref name="score"/> (the backward's chain rule; 1 for biases).</summary>
    float Derivative(float score, ScorePosition at);
}

/// <summary>
/// A mask modifier compiled into the attention kernels (FlexAttention's mask_mod, in C#): keys for which
/// <see cref="Visible"/> is false get no weight, on top of the causal and window masks. A struct and a pure function,
/// as <see cref="IScoreModifier"/>.
/// </summary>
public interface IMaskModifier
{
    /// <summary>True when the query at <paramref name="at"/> may attend to its key.</summary>
    bool Visible(ScorePosition at);
}
