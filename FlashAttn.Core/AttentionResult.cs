namespace FlashAttn;

/// <summary>
/// What <see cref="FlashAttention.Forward(DeviceTensor, DeviceTensor, DeviceTensor, AttentionOptions)"/> returns:
/// the output and, when <see cref="AttentionOptions.ReturnLse"/> was set, the log-sum-exp. Owns both tensors:
/// dispose the result, or take the tensors and dispose them yourself.
/// </summary>
public class AttentionResult : IDisposable
{
    internal AttentionResult(DeviceTensor output, DeviceTensor<float>? lse)
    {
        Output = output;
        Lse = lse;
    }

    /// <summary>The attention output: q's shape ((batch, s_q, heads_q, head_dim) in the default <see cref="AttentionOptions.Layout"/>) and dtype.</summary>
    public DeviceTensor Output { get; }

    /// <summary>
    /// Log-sum-exp of the scaled scores of each query row, shape (batch, heads_q, s_q), fp32, in natural log:
    /// L = log Σⱼ exp(scale·q·kⱼ) over the keys the row may see (+∞ for a fully masked row).
    /// Null unless <see cref="AttentionOptions.ReturnLse"/> was set.
    /// </summary>
    public DeviceTensor<float>? Lse { get; }

    /// <summary>Disposes <see cref="Output"/> and <see cref="Lse"/>.</summary>
    public void Dispose()
    {
        Output.Dispose();
        Lse?.Dispose();
        GC.SuppressFinalize(this);
    }
}
