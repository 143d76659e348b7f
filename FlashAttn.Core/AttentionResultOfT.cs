namespace FlashAttn;

/// <summary>The typed form of <see cref="AttentionResult"/>, returned by the generic <c>FlashAttention.Forward</c>.</summary>
/// <typeparam name="T">The element type of q, k, v and the output.</typeparam>
public sealed class AttentionResult<T> : AttentionResult where T : unmanaged
{
    internal AttentionResult(DeviceTensor<T> output, DeviceTensor<float>? lse) : base(output, lse) => Output = output;

    /// <summary>The attention output: q's shape ((batch, s_q, heads_q, head_dim) in the default <see cref="AttentionOptions.Layout"/>).</summary>
    public new DeviceTensor<T> Output { get; }
}
