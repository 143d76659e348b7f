namespace FlashAttn;

/// <summary>
/// The gradients returned by <c>FlashAttention.Backward</c>: <see cref="DQ"/> shaped like q, <see cref="DK"/> and
/// <see cref="DV"/> shaped like k and v (summed over the query heads that share a kv head), all in q's dtype.
/// Owns the three tensors: dispose it to free them.
/// </summary>
public class AttentionGradients : IDisposable
{
    internal AttentionGradients(DeviceTensor dq, DeviceTensor dk, DeviceTensor dv)
    {
        DQ = dq;
        DK = dk;
        DV = dv;
    }

    /// <summary>∂loss/∂q: q's shape, (batch, s_q, heads_q, head_dim) in the default <see cref="AttentionOptions.Layout"/>.</summary>
    public DeviceTensor DQ { get; }

    /// <summary>∂loss/∂k: k's shape, (batch, s_k, heads_kv, head_dim) in the default <see cref="AttentionOptions.Layout"/>.</summary>
    public DeviceTensor DK { get; }

    /// <summary>∂loss/∂v: v's shape, as ∂loss/∂k.</summary>
    public DeviceTensor DV { get; }

    /// <summary>Disposes <see cref="DQ"/>, <see cref="DK"/> and <see cref="DV"/>.</summary>
    public void Dispose()
    {
        DQ.Dispose();
        DK.Dispose();
        DV.Dispose();
        GC.SuppressFinalize(this);
    }
}
