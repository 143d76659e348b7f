namespace FlashAttn;

/// <summary>The typed form of <see cref="AttentionGradients"/>, returned by the generic <c>FlashAttention.Backward</c>.</summary>
/// <typeparam name="T">The element type of q, k, v and the gradients.</typeparam>
public sealed class AttentionGradients<T> : AttentionGradients where T : unmanaged
{
    internal AttentionGradients(DeviceTensor<T> dq, DeviceTensor<T> dk, DeviceTensor<T> dv) : base(dq, dk, dv)
    {
        DQ = dq;
        DK = dk;
        DV = dv;
    }

    /// <summary>∂loss/∂q: q's shape, (batch, s_q, heads_q, head_dim) in the default <see cref="AttentionOptions.Layout"/>.</summary>
    public new DeviceTensor<T> DQ { get; }

    /// <summary>∂loss/∂k: k's shape, (batch, s_k, heads_kv, head_dim) in the default <see cref="AttentionOptions.Layout"/>.</summary>
    public new DeviceTensor<T> DK { get; }

    /// <summary>∂loss/∂v: v's shape, as ∂loss/∂k.</summary>
    public new DeviceTensor<T> DV { get; }
}
